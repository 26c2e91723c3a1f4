// A small Markdown renderer for model answers, built on an allow-list: it creates
// only the elements below, with textContent for all text, so no input can produce
// markup, script or event handlers. Links are kept only for http, https and mailto
// and open with rel="noopener noreferrer"; images are never loaded — they become
// links, so an answer cannot make the browser fetch anything on its own.

const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

/** safeURL returns the absolute URL when its protocol is allowed, else null. */
export function safeURL(raw) {
  let u;
  try { u = new URL(String(raw).trim()); } catch { return null; }
  return SAFE_PROTOCOLS.has(u.protocol) ? u.href : null;
}

function el(tag, text) {
  const n = document.createElement(tag);
  if (text !== undefined) n.textContent = text;
  return n;
}

function link(href, label) {
  const url = safeURL(href);
  if (!url) return null;
  const a = el('a');
  a.href = url;
  a.rel = 'noopener noreferrer nofollow';
  a.target = '_blank';
  a.append(...(typeof label === 'string' ? [document.createTextNode(label)] : label));
  return a;
}

// One pass over inline syntax; the first alternative that matches at a position wins.
const INLINE = new RegExp([
  '(`+)([^`][\\s\\S]*?)\\1(?!`)', // 1,2 code span
  '!\\[([^\\]]*)\\]\\(\\s*<?([^)\\s>]*)>?(?:\\s+"[^"]*")?\\s*\\)', // 3,4 image
  '\\[([^\\]]+)\\]\\(\\s*<?([^)\\s>]*)>?(?:\\s+"[^"]*")?\\s*\\)', // 5,6 link
  '\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*', // 7 strong
  '__(?=\\S)([\\s\\S]*?\\S)__', // 8 strong
  '~~(?=\\S)([\\s\\S]*?\\S)~~', // 9 strikethrough
  '\\*(?=[^\\s*])([^*]*?[^\\s*])\\*', // 10 emphasis
  '(?<![\\w])_(?=[^\\s_])([^_]*?[^\\s_])_(?![\\w])', // 11 emphasis
  '<((?:https?:\\/\\/|mailto:)[^>\\s]+)>', // 12 autolink
  '((?:https?:\\/\\/)[^\\s<>]*[^\\s<>.,;:!?)\\]\'"])', // 13 bare URL
  '\\[(\\d{1,3})\\](?!\\()', // 14 citation marker
].join('|'), 'g');

/** inline renders one run of inline Markdown into nodes. */
function inline(text, opts) {
  const out = [];
  let at = 0;
  const re = new RegExp(INLINE.source, 'g');
  let m;
  while ((m = re.exec(text)) !== null) {
    if (m.index > at) out.push(document.createTextNode(text.slice(at, m.index)));
    at = m.index + m[0].length;
    let node = null;
    if (m[2] !== undefined) node = el('code', m[2].replace(/^ (.*) $/s, '$1'));
    else if (m[4] !== undefined) {
      // An image is shown as a link to it, never loaded.
      const label = `Image: ${m[3] || m[4]}`;
      node = link(m[4], label);
      if (node) node.className = 'md-image-link';
      else node = document.createTextNode(m[3] ? `[image: ${m[3]}]` : '[image]');
    } else if (m[6] !== undefined) {
      node = link(m[6], inline(m[5], opts)) || document.createTextNode(m[5]);
    } else if (m[7] !== undefined || m[8] !== undefined) {
      node = el('strong');
      node.append(...inline(m[7] ?? m[8], opts));
    } else if (m[9] !== undefined) {
      node = el('del');
      node.append(...inline(m[9], opts));
    } else if (m[10] !== undefined || m[11] !== undefined) {
      node = el('em');
      node.append(...inline(m[10] ?? m[11], opts));
    } else if (m[12] !== undefined || m[13] !== undefined) {
      const href = m[12] ?? m[13];
      node = link(href, href) || document.createTextNode(m[0]);
    } else if (m[14] !== undefined) {
      node = opts.citation ? opts.citation(Number(m[14])) : null;
      if (!node) node = document.createTextNode(m[0]);
    }
    out.push(node);
  }
  if (at < text.length) out.push(document.createTextNode(text.slice(at)));
  return out;
}

/** paragraph renders inline text keeping the writer's line breaks. */
function withBreaks(text, opts) {
  const nodes = [];
  text.split('\n').forEach((line, i) => {
    if (i > 0) nodes.push(el('br'));
    nodes.push(...inline(line, opts));
  });
  return nodes;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}>\s?/;
const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function cells(row) {
  return row.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
}

/** blocks renders a list of lines into block nodes. */
function blocks(lines, opts, depth = 0) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) { i++; continue; }
    let m;
    if ((m = line.match(FENCE))) {
      const close = m[1];
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(close)) body.push(lines[i++]);
      i++; // the closing fence (or the end while still streaming)
      const pre = el('pre');
      const code = el('code', body.join('\n'));
      if (m[2]) code.dataset.lang = m[2];
      pre.append(code);
      out.push(pre);
      continue;
    }
    if ((m = line.match(HEADING))) {
      const hd = el(`h${Math.min(m[1].length + 2, 6)}`);
      hd.append(...inline(m[2], opts));
      out.push(hd);
      i++;
      continue;
    }
    if (RULE.test(line)) { out.push(el('hr')); i++; continue; }
    if (QUOTE.test(line) && depth < 8) {
      const inner = [];
      while (i < lines.length && lines[i].trim() && QUOTE.test(lines[i])) inner.push(lines[i++].replace(QUOTE, ''));
      const bq = el('blockquote');
      bq.append(...blocks(inner, opts, depth + 1));
      out.push(bq);
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1]) && lines[i + 1].includes('-')) {
      const table = el('table');
      const thead = el('thead');
      const tr = el('tr');
      for (const c of cells(line)) { const th = el('th'); th.append(...inline(c, opts)); tr.append(th); }
      thead.append(tr);
      table.append(thead);
      const tbody = el('tbody');
      i += 2;
      while (i < lines.length && lines[i].includes('|') && lines[i].trim()) {
        const row = el('tr');
        for (const c of cells(lines[i])) { const td = el('td'); td.append(...inline(c, opts)); row.append(td); }
        tbody.append(row);
        i++;
      }
      table.append(tbody);
      const wrap = el('div');
      wrap.className = 'md-table';
      wrap.append(table);
      out.push(wrap);
      continue;
    }
    if ((m = line.match(ITEM)) && depth < 8) {
      const ordered = /\d/.test(m[2]);
      const list = el(ordered ? 'ol' : 'ul');
      if (ordered && parseInt(m[2], 10) !== 1) list.start = parseInt(m[2], 10);
      const indent = m[1].length;
      while (i < lines.length) {
        const im = lines[i].match(ITEM);
        if (!im || im[1].length !== indent || /\d/.test(im[2]) !== ordered) break;
        const body = [im[3]];
        i++;
        // Continuation lines and nested lists belong to the item.
        while (i < lines.length && lines[i].trim() && !(lines[i].match(ITEM) && lines[i].match(ITEM)[1].length <= indent)) {
          body.push(lines[i].replace(/^\s{0,4}/, ''));
          i++;
        }
        while (i < lines.length && !lines[i].trim() && i + 1 < lines.length && (lines[i + 1].match(ITEM)?.[1].length ?? -1) > indent) i++;
        const li = el('li');
        const nested = body.findIndex((b, k) => k > 0 && ITEM.test(b));
        if (nested > 0) {
          li.append(...withBreaks(body.slice(0, nested).join('\n'), opts));
          li.append(...blocks(body.slice(nested), opts, depth + 1));
        } else {
          li.append(...withBreaks(body.join('\n'), opts));
        }
        list.append(li);
        if (i < lines.length && !lines[i].trim() && lines[i + 1]?.match(ITEM)?.[1].length === indent) i++;
      }
      out.push(list);
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !FENCE.test(lines[i]) && !HEADING.test(lines[i]) &&
      !RULE.test(lines[i]) && !QUOTE.test(lines[i]) && !(para.length === 0 ? false : ITEM.test(lines[i]))) {
      para.push(lines[i++].trim());
    }
    if (para.length === 0) { para.push(lines[i++].trim()); }
    const p = el('p');
    p.append(...withBreaks(para.join('\n'), opts));
    out.push(p);
  }
  return out;
}

/**
 * renderMarkdown returns a fragment for the Markdown source. opts.citation(n), when
 * given, returns the node that stands for the citation marker [n] (or null to keep
 * it as text).
 */
export function renderMarkdown(source, opts = {}) {
  const frag = document.createDocumentFragment();
  const lines = String(source ?? '').replace(/\r\n?/g, '\n').split('\n');
  frag.append(...blocks(lines, opts));
  return frag;
}
