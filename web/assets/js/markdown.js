// A small Markdown renderer for model answers, built on an allow-list: it creates
// only the elements below, with textContent for all text, so no input can produce
// markup, script or event handlers. Links are kept only for http, https and mailto
// and open with rel="noopener noreferrer"; images are never loaded — they become
// links, so an answer cannot make the browser fetch anything on its own. Inline
// syntax (markdown-inline.js) follows CommonMark; the blocks here are its common
// subset. Both are held to examples of the CommonMark spec by a browser test
// (cmd/api/testdata/commonmark-examples.json).

import { el, inline, safeURL } from './markdown-inline.js';

export { safeURL };

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}>\s?/;
const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

/** cells splits a table row on pipes that are not escaped (GitHub tables). */
function cells(row) {
  return row.trim().replace(/^\|/, '').replace(/(?<!\\)\|$/, '').split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, '|'));
}

/** interruptsParagraph reports a list item that may end a paragraph: a bullet,
 * or an ordered item numbered 1, with text. */
function interruptsParagraph(line) {
  const m = line.match(ITEM);
  return !!m && m[3].trim() !== '' && (!/\d/.test(m[2]) || parseInt(m[2], 10) === 1);
}

/** continuesParagraph reports whether line, which has no quote marker, goes on
 * the paragraph that prev (the quote's last line) is in: a lazy continuation. */
function continuesParagraph(prev, line) {
  if (prev === undefined || !prev.trim() || /^ {4}/.test(prev) || FENCE.test(prev) || HEADING.test(prev) || RULE.test(prev)) return false;
  return !FENCE.test(line) && !HEADING.test(line) && !RULE.test(line) && !ITEM.test(line);
}

/** startsBlock reports a line that opens a block other than a paragraph. */
function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line);
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
      while (i < lines.length && lines[i].trim()) {
        if (QUOTE.test(lines[i])) inner.push(lines[i++].replace(QUOTE, ''));
        else if (continuesParagraph(inner[inner.length - 1], lines[i])) inner.push(lines[i++]); // a lazy line
        else break;
      }
      const bq = el('blockquote');
      bq.append(...blocks(inner, opts, depth + 1));
      out.push(bq);
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1]) && lines[i + 1].includes('-') &&
      cells(line).length === cells(lines[i + 1]).length) {
      // A GitHub table: rows run to a blank line or another block, each padded
      // or cut to the header's width.
      const header = cells(line);
      const table = el('table');
      const thead = el('thead');
      const tr = el('tr');
      for (const c of header) { const th = el('th'); th.append(...inline(c, opts)); tr.append(th); }
      thead.append(tr);
      table.append(thead);
      const tbody = el('tbody');
      i += 2;
      while (i < lines.length && lines[i].trim() && !startsBlock(lines[i])) {
        const row = el('tr');
        const values = cells(lines[i]);
        header.forEach((_, k) => { const td = el('td'); td.append(...inline(values[k] ?? '', opts)); row.append(td); });
        tbody.append(row);
        i++;
      }
      if (tbody.childNodes.length > 0) table.append(tbody);
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
        // A list's items share their marker: another bullet or delimiter starts a new list.
        if (!im || im[1].length !== indent || im[2].slice(-1) !== m[2].slice(-1) || /\d/.test(im[2]) !== ordered) break;
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
          li.append(...inline(body.slice(0, nested).join('\n'), opts));
          li.append(...blocks(body.slice(nested), opts, depth + 1));
        } else {
          li.append(...inline(body.join('\n'), opts));
        }
        list.append(li);
        if (i < lines.length && !lines[i].trim() && lines[i + 1]?.match(ITEM)?.[1].length === indent) i++;
      }
      out.push(list);
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !FENCE.test(lines[i]) && !HEADING.test(lines[i]) &&
      !RULE.test(lines[i]) && !QUOTE.test(lines[i]) && !(para.length > 0 && interruptsParagraph(lines[i]))) {
      para.push(lines[i++].trim());
    }
    if (para.length === 0) { para.push(lines[i++].trim()); }
    const p = el('p');
    p.append(...inline(para.join('\n'), opts));
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
