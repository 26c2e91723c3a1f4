// Inline Markdown as CommonMark reads it (code spans, emphasis by delimiter runs,
// inline links, autolinks, backslash escapes, entities) plus GitHub's
// strikethrough and bare URLs, and the answer's citation markers [n]. It builds
// DOM nodes only, with textContent for all text: raw HTML is shown as text.
// Links are kept only for http, https and mailto; any other link shows its text.
// Images are never loaded: they become links to the image.

const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

/** safeURL returns the absolute URL when its protocol is allowed, else null. */
export function safeURL(raw) {
  let u;
  try { u = new URL(String(raw).trim()); } catch { return null; }
  return SAFE_PROTOCOLS.has(u.protocol) ? u.href : null;
}

export function el(tag, text) {
  const n = document.createElement(tag);
  if (text !== undefined) n.textContent = text;
  return n;
}

/** link returns an <a> for a safe URL holding the label nodes, else null. */
function link(href, label, title) {
  const url = safeURL(href);
  if (!url) return null;
  const a = el('a');
  a.href = url;
  if (title) a.title = title;
  a.rel = 'noopener noreferrer nofollow';
  a.target = '_blank';
  a.append(...label);
  return a;
}

const PUNCT = /[\p{P}\p{S}]/u;
const SPACE = /\s/u;
const ESCAPABLE = /[!-/:-@[-`{-~]/;
const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', copy: '©', reg: '®',
  hellip: '…', mdash: '—', ndash: '–', laquo: '«', raquo: '»', euro: '€', ouml: 'ö', auml: 'ä', uuml: 'ü', szlig: 'ß' };
const ENTITY = /^&(?:#[xX]([0-9a-fA-F]{1,6})|#([0-9]{1,7})|([A-Za-z][A-Za-z0-9]{1,31}));/;
const URI_AUTOLINK = /^<([A-Za-z][A-Za-z0-9.+-]{1,31}:[^<>\x00-\x20]*)>/;
const EMAIL_AUTOLINK = /^<([a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*)>/;
const BARE_URL = /^https?:\/\/[^\s<>]*[^\s<>.,;:!?)\]'"*_~]/;
const CITATION = /^\[(\d{1,3})\](?!\()/;
// A paragraph with more delimiter runs than this keeps the rest as text, so
// that hostile input cannot make emphasis matching slow.
const MAX_DELIMITERS = 1000;

/**
 * inline renders one paragraph, heading or cell of inline Markdown into nodes.
 * A line break in text (soft or hard) becomes <br>: answers keep their lines.
 */
export function inline(text, opts = {}) {
  return new InlineParser(String(text), opts).parse();
}

// Items are what the scan yields, in order: text, finished nodes, delimiter runs
// (* _ ~) that may become emphasis, and the brackets that may open links.
class InlineParser {
  constructor(src, opts) {
    this.src = src;
    this.opts = opts;
    this.pos = 0;
    this.items = [];
    this.buf = '';
    this.delims = 0;
  }

  text(s) { this.buf += s; }

  push(item) {
    if (this.buf) { this.items.push({ text: this.buf }); this.buf = ''; }
    this.items.push(item);
  }

  parse() {
    const s = this.src;
    while (this.pos < s.length) {
      const c = s[this.pos];
      const rest = s.slice(this.pos);
      let m;
      if (c === '\\') {
        const next = s[this.pos + 1];
        if (next === '\n') { this.lineBreak(); this.pos += 2; continue; }
        if (next !== undefined && ESCAPABLE.test(next)) { this.text(next); this.pos += 2; continue; }
        this.text(c); this.pos++;
      } else if (c === '\n') {
        this.lineBreak(); this.pos++;
        while (s[this.pos] === ' ') this.pos++;
      } else if (c === '`') {
        this.codeSpan();
      } else if (c === '&' && (m = rest.match(ENTITY))) {
        this.text(entity(m)); this.pos += m[0].length;
      } else if (c === '<' && (m = rest.match(URI_AUTOLINK) || rest.match(EMAIL_AUTOLINK))) {
        const href = m[1].includes(':') ? m[1] : `mailto:${m[1]}`;
        const a = link(href, [document.createTextNode(m[1])]);
        if (a) this.push({ node: a }); else this.text(m[1]);
        this.pos += m[0].length;
      } else if ((c === 'h') && isWordStart(s, this.pos) && (m = rest.match(BARE_URL))) {
        const a = link(m[0], [document.createTextNode(m[0])]);
        if (a) this.push({ node: a }); else this.text(m[0]);
        this.pos += m[0].length;
      } else if (c === '*' || c === '_' || c === '~') {
        this.delimiterRun(c);
      } else if (c === '[' && (m = rest.match(CITATION))) {
        const node = this.opts.citation ? this.opts.citation(Number(m[1])) : null;
        if (node) this.push({ node }); else this.text(m[0]);
        this.pos += m[0].length;
      } else if (c === '[' || (c === '!' && s[this.pos + 1] === '[')) {
        const image = c === '!';
        this.push({ bracket: true, image, active: true, raw: image ? '![' : '[' });
        this.pos += image ? 2 : 1;
      } else if (c === ']') {
        this.closeBracket();
      } else {
        this.text(c); this.pos++;
      }
    }
    if (this.buf) this.items.push({ text: this.buf });
    processEmphasis(this.items, -1);
    return toNodes(this.items);
  }

  /** lineBreak ends a line: spaces before it are dropped. */
  lineBreak() {
    this.buf = this.buf.replace(/ +$/, '');
    this.push({ node: el('br') });
  }

  /** codeSpan reads a backtick run and its closing run of the same length. */
  codeSpan() {
    const s = this.src;
    let n = 0;
    while (s[this.pos + n] === '`') n++;
    const open = '`'.repeat(n);
    let at = this.pos + n;
    for (;;) {
      const close = s.indexOf(open, at);
      if (close < 0) break;
      let end = close + n;
      if (s[end] === '`') { while (s[end] === '`') end++; at = end; continue; }
      let code = s.slice(this.pos + n, close).replace(/\n/g, ' ');
      if (/^ .* $/s.test(code) && code.trim() !== '') code = code.slice(1, -1);
      this.push({ node: el('code', code) });
      this.pos = end;
      return;
    }
    this.text(open);
    this.pos += n;
  }

  /** delimiterRun records a run of * _ or ~ with what it may open and close. */
  delimiterRun(c) {
    const s = this.src;
    let n = 0;
    while (s[this.pos + n] === c) n++;
    const before = this.pos > 0 ? s[this.pos - 1] : '\n';
    const after = this.pos + n < s.length ? s[this.pos + n] : '\n';
    this.pos += n;
    if ((c === '~' && n > 2) || this.delims >= MAX_DELIMITERS) { this.text(c.repeat(n)); return; }
    this.delims++;
    const spaceBefore = SPACE.test(before);
    const spaceAfter = SPACE.test(after);
    const punctBefore = PUNCT.test(before);
    const punctAfter = PUNCT.test(after);
    const left = !spaceAfter && (!punctAfter || spaceBefore || punctBefore);
    const right = !spaceBefore && (!punctBefore || spaceAfter || punctAfter);
    let canOpen = left;
    let canClose = right;
    if (c === '_') {
      // Intraword underscores never make emphasis: snake_case, __init__, window.__x.
      canOpen = left && (!right || punctBefore);
      canClose = right && (!left || punctAfter);
    }
    this.push({ delim: c, count: n, orig: n, canOpen, canClose });
  }

  /** closeBracket ends a link or image when an inline destination follows. */
  closeBracket() {
    this.pos++;
    let o = this.items.length - 1;
    while (o >= 0 && !this.items[o].bracket) o--;
    if (this.buf) { this.items.push({ text: this.buf }); this.buf = ''; }
    if (o < 0) { this.text(']'); return; }
    const opener = this.items[o];
    const dest = opener.active ? linkDestination(this.src, this.pos) : null;
    if (!dest) {
      this.items[o] = { text: opener.raw };
      this.text(']');
      return;
    }
    this.pos = dest.end;
    const inner = this.items.splice(o + 1);
    this.items.pop();
    processEmphasis(inner, -1);
    const label = toNodes(inner);
    let node;
    if (opener.image) {
      // An image is shown as a link to it, never loaded.
      const alt = label.map((n) => n.textContent).join('');
      node = link(dest.href, [document.createTextNode(`Image: ${alt || dest.href}`)]);
      if (node) node.className = 'md-image-link';
      else node = document.createTextNode(alt ? `[image: ${alt}]` : '[image]');
    } else {
      node = link(dest.href, label, dest.title);
      // Links hold no links: earlier brackets can no longer open one.
      for (const it of this.items) if (it.bracket && !it.image) it.active = false;
    }
    if (node) this.items.push({ node });
    else this.items.push({ nodes: label });
  }
}

/** isWordStart reports a position where a bare URL may begin: not inside a word. */
function isWordStart(s, pos) {
  return pos === 0 || !/[\p{L}\p{N}]/u.test(s[pos - 1]);
}

/** entity decodes a character reference; unknown names stay as written. */
function entity(m) {
  if (m[1] || m[2]) {
    const cp = parseInt(m[1] || m[2], m[1] ? 16 : 10);
    return cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? '\ufffd' : String.fromCodePoint(cp);
  }
  return ENTITIES[m[3]] ?? m[0];
}

/**
 * linkDestination reads "(destination "title")" at pos, right after "]", and
 * returns { href, title, end } or null.
 */
function linkDestination(s, pos) {
  if (s[pos] !== '(') return null;
  let i = pos + 1;
  const skip = () => { while (i < s.length && /[ \t\n]/.test(s[i])) i++; };
  skip();
  let href = '';
  if (s[i] === '<') {
    const end = s.slice(i + 1).search(/[<>\n]/);
    if (end < 0 || s[i + 1 + end] !== '>') return null;
    href = s.slice(i + 1, i + 1 + end);
    i += end + 2;
  } else {
    let depth = 0;
    const start = i;
    while (i < s.length && !/[\x00-\x20]/.test(s[i])) {
      if (s[i] === '\\' && ESCAPABLE.test(s[i + 1] ?? '')) { i += 2; continue; }
      if (s[i] === '(') depth++;
      if (s[i] === ')') { if (depth === 0) break; depth--; }
      i++;
    }
    if (depth !== 0) return null;
    href = s.slice(start, i);
  }
  const afterDest = i;
  skip();
  let title = '';
  const q = s[i];
  if (i > afterDest && (q === '"' || q === "'" || q === '(')) {
    const closeQ = q === '(' ? ')' : q;
    let j = i + 1;
    while (j < s.length && s[j] !== closeQ) { if (s[j] === '\\') j++; j++; }
    if (j >= s.length) return null;
    title = unescape(s.slice(i + 1, j));
    i = j + 1;
    skip();
  }
  if (s[i] !== ')') return null;
  return { href: unescape(href), title, end: i + 1 };
}

/** unescape resolves backslash escapes and entities in a destination or title. */
function unescape(s) {
  return s.replace(/\\([!-/:-@[-`{-~])/g, '$1').replace(/&(?:#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[A-Za-z][A-Za-z0-9]{1,31});/g,
    (e) => entity(e.match(ENTITY)));
}

/**
 * processEmphasis matches delimiter runs after index bottom into <em>, <strong>
 * and <del>, by CommonMark's rules: a closer takes the nearest opener of its
 * character; a run that both opens and closes cannot pair with one whose
 * length makes a multiple of three, unless both are; two each side make strong.
 */
function processEmphasis(items, bottom) {
  const openersBottom = new Map();
  let c = bottom + 1;
  while (c < items.length) {
    const closer = items[c];
    if (!closer.delim || !closer.canClose) { c++; continue; }
    const key = `${closer.delim}${closer.canOpen}${closer.orig % 3}`;
    const floor = openersBottom.has(key) ? items.indexOf(openersBottom.get(key)) : bottom;
    let o = c - 1;
    for (; o > Math.max(floor, bottom); o--) {
      const op = items[o];
      if (op.delim !== closer.delim || !op.canOpen) continue;
      if (op.delim === '~') { if (op.count === closer.count) break; continue; }
      const odd = (closer.canOpen || op.canClose) && closer.orig % 3 !== 0 && (op.orig + closer.orig) % 3 === 0;
      if (!odd) break;
    }
    if (o <= Math.max(floor, bottom)) {
      openersBottom.set(key, items[c - 1] ?? null);
      if (!closer.canOpen) closer.canClose = false;
      c++;
      continue;
    }
    const opener = items[o];
    const use = opener.delim === '~' ? opener.count : (closer.count >= 2 && opener.count >= 2 ? 2 : 1);
    const tag = opener.delim === '~' ? 'del' : use === 2 ? 'strong' : 'em';
    const wrap = el(tag);
    wrap.append(...toNodes(items.slice(o + 1, c)));
    opener.count -= use;
    closer.count -= use;
    items.splice(o + 1, c - o - 1, { node: wrap });
    c = o + 2;
    if (opener.count === 0) { items.splice(o, 1); c--; }
    if (closer.count === 0) items.splice(c, 1);
  }
}

/** toNodes turns items into DOM nodes; unmatched delimiters are text. */
function toNodes(items) {
  const out = [];
  let text = '';
  const flush = () => { if (text) { out.push(document.createTextNode(text)); text = ''; } };
  for (const it of items) {
    if (it.text !== undefined) text += it.text;
    else if (it.delim) text += it.delim.repeat(it.count);
    else if (it.bracket) text += it.raw;
    else if (it.nodes) { flush(); out.push(...it.nodes); } else { flush(); out.push(it.node); }
  }
  flush();
  return out;
}
