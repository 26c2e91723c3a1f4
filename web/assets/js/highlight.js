// Syntax highlighting of code blocks with highlight.js, vendored under
// /assets/vendor/highlight (see its README): the core and each language are loaded
// the first time a block needs them. highlight.js answers with HTML; it is parsed
// into an inert document (nothing in it loads or runs) and rebuilt from its text and
// its <span class="hljs-…"> elements alone, so a highlighted block holds nothing but
// text and styled spans, like everything markdown.js makes.

const VENDOR = '/assets/vendor/highlight';

/** LANGUAGES are the vendored languages, each with the fence names that mean it. */
const LANGUAGES = {
  bash: ['sh', 'zsh'], c: ['h'], cpp: ['c++', 'cc', 'cxx', 'hpp'], csharp: ['cs', 'c#'], css: [], diff: ['patch'],
  dockerfile: ['docker'], go: ['golang'], ini: ['toml'], java: [], javascript: ['js', 'jsx', 'mjs', 'cjs'], json: [],
  kotlin: ['kt'], markdown: ['md'], php: [], plaintext: ['text', 'txt'], python: ['py'], ruby: ['rb'], rust: ['rs'],
  shell: ['console', 'shellsession'], sql: [], swift: [], typescript: ['ts', 'tsx'], xml: ['html', 'xhtml', 'svg'],
  yaml: ['yml'],
};
const NAMES = new Map(Object.entries(LANGUAGES).flatMap(([name, aliases]) => [[name, name], ...aliases.map((a) => [a, name])]));

/** languageOf names the vendored language of a fence label, or '' when there is none. */
export function languageOf(label) {
  return NAMES.get(String(label || '').toLowerCase()) || '';
}

let core = null;
const loaded = new Map();

async function hljs() {
  core ??= import(`${VENDOR}/core.min.js`).then((m) => m.default);
  return core;
}

async function use(name) {
  const hl = await hljs();
  if (!loaded.has(name)) {
    loaded.set(name, import(`${VENDOR}/languages/${name}.min.js`).then((m) => hl.registerLanguage(name, m.default)));
  }
  await loaded.get(name);
  return hl;
}

// Classes highlight.js gives its spans: "hljs-keyword", and for nested scopes names
// like "function_" after "hljs-title".
const CLASS = /^(hljs-[\w-]+|[\w-]+_)$/;

/** rebuild copies the text and hljs spans of a parsed node, and nothing else. */
function rebuild(node) {
  const out = [];
  for (const n of node.childNodes) {
    if (n.nodeType === Node.TEXT_NODE) {
      out.push(document.createTextNode(n.data));
    } else if (n.nodeType === Node.ELEMENT_NODE) {
      const kids = rebuild(n);
      const classes = n.tagName === 'SPAN' ? (n.getAttribute('class') || '').split(/\s+/).filter((c) => CLASS.test(c)) : [];
      if (classes.length) {
        const span = document.createElement('span');
        span.className = classes.join(' ');
        span.append(...kids);
        out.push(span);
      } else {
        out.push(...kids);
      }
    }
  }
  return out;
}

/**
 * highlightCode highlights one <code> element in place, in the language of its
 * data-lang (the fence's label), or the likeliest language when it has none. A label
 * for a language that is not vendored leaves the block as it is. It resolves to the
 * language used, or '' when the block was left alone.
 */
export async function highlightCode(code) {
  if (code.dataset.highlighted !== undefined) return code.dataset.highlighted;
  const label = code.dataset.lang;
  const text = code.textContent;
  let result;
  if (label) {
    const name = languageOf(label);
    if (!name) return '';
    result = (await use(name)).highlight(text, { language: name, ignoreIllegals: true });
  } else {
    const names = Object.keys(LANGUAGES).filter((n) => n !== 'plaintext');
    const hl = (await Promise.all(names.map(use)))[0];
    result = hl.highlightAuto(text, names);
    if (!result.language || result.relevance < 5) return '';
  }
  // The block may have been painted again meanwhile; leave the new one to its own call.
  if (!code.isConnected || code.textContent !== text || code.dataset.highlighted !== undefined) return '';
  const parsed = new DOMParser().parseFromString(`<pre><code>${result.value}</code></pre>`, 'text/html').querySelector('code');
  const nodes = rebuild(parsed);
  const rebuilt = document.createElement('code');
  rebuilt.append(...nodes);
  if (rebuilt.textContent !== text) return ''; // never change what the block says
  code.replaceChildren(...rebuilt.childNodes);
  code.classList.add('hljs');
  code.dataset.highlighted = result.language;
  return result.language;
}

/** highlightAll highlights every code block under root. */
export function highlightAll(root) {
  return Promise.all([...root.querySelectorAll('pre > code')].map((c) => highlightCode(c).catch(() => '')));
}
