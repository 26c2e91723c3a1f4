// Small SVG charts for the usage reports, drawn with DOM calls like the rest of the
// UI (no library, no inline styles: colours come from CSS classes, so both themes
// apply). Every chart is an image with a title and a summary for screen readers,
// and its numbers are also in a table that can be opened under it.
import { h } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
const WIDTH = 640;
const PAD = { top: 12, right: 8, bottom: 22, left: 44 };

/** svg builds an SVG element with attributes and children. */
function svg(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'text') el.textContent = v;
    else if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) if (c) el.append(c);
  return el;
}

/** count formats a whole number for people: 12,345. */
export function count(n) { return Number(n || 0).toLocaleString(); }

/** short formats a big number compactly for axis labels: 12.3k. */
function short(n) {
  return Number(n).toLocaleString(undefined, { notation: 'compact', maximumFractionDigits: 1 });
}

/** sum adds field key over rows. */
export function sum(rows, key) { return rows.reduce((t, r) => t + (r[key] || 0), 0); }

/** niceMax rounds a maximum up to 1, 2 or 5 times a power of ten, so the axis reads well. */
function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= v);
}

/** dayLabel shows a YYYY-MM-DD day as "Jan 31", read in UTC like the report. */
function dayLabel(date) {
  return new Date(`${date}T00:00:00Z`).toLocaleDateString([], { month: 'short', day: 'numeric', timeZone: 'UTC' });
}

/**
 * dayChart draws one column per day. series are { key, label, tone } drawn side by
 * side, or stacked (for parts of one whole, like prompt and completion tokens); tone
 * picks the colour (1 accent, 2 success, 3 danger), by default the series' place.
 * A compact chart is shorter, for a page where it is not the main content.
 */
export function dayChart({ title, days, series, stacked = false, compact = false, testid }) {
  const HEIGHT = compact ? 110 : 170;
  const tone = (s, j) => s.tone || j + 1;
  const id = `chart-${Math.random().toString(36).slice(2, 9)}`;
  const totals = days.map((d) => (stacked ? sum(series.map((s) => ({ v: d[s.key] })), 'v') : Math.max(...series.map((s) => d[s.key] || 0))));
  const max = niceMax(Math.max(0, ...totals));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(days.length, 1);
  const gap = Math.min(slot * 0.2, 6);
  const barW = stacked ? slot - gap : (slot - gap) / series.length;
  const y = (v) => PAD.top + plotH - (v / max) * plotH;

  // Counts are whole numbers: a middle line only where it is one too.
  const lines = Number.isInteger(max / 2) ? [0, max / 2, max] : [0, max];
  const grid = lines.map((v) => svg('g', null,
    svg('line', { class: 'chart-grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v) }),
    svg('text', { class: 'chart-axis', x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end', text: short(v) })));
  const bars = days.map((d, i) => {
    let base = 0;
    return series.map((s, j) => {
      const v = d[s.key] || 0;
      const x = PAD.left + i * slot + gap / 2 + (stacked ? 0 : j * barW);
      const top = stacked ? base + v : v;
      const rect = svg('rect', { class: `chart-bar chart-tone-${tone(s, j)}`, x, width: Math.max(barW, 1), y: y(top), height: Math.max(y(base) - y(top), 0) },
        svg('title', { text: `${d.date}: ${count(v)} ${s.label.toLowerCase()}` }));
      if (stacked) base = top;
      return v ? rect : null;
    });
  });
  const ticks = [0, Math.floor((days.length - 1) / 2), days.length - 1].filter((v, i, a) => days.length && a.indexOf(v) === i)
    .map((i) => svg('text', { class: 'chart-axis', x: PAD.left + i * slot + slot / 2, y: HEIGHT - 6, 'text-anchor': 'middle', text: dayLabel(days[i].date) }));
  const summary = series.map((s) => `${s.label}: ${count(sum(days, s.key))} in all`).join('; ');
  const image = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-labelledby': `${id}-t ${id}-d`, class: 'chart' },
    svg('title', { id: `${id}-t`, text: title }),
    svg('desc', { id: `${id}-d`, text: days.length ? `${dayLabel(days[0].date)} to ${dayLabel(days[days.length - 1].date)}. ${summary}.` : 'No days.' }),
    grid, bars, ticks);

  return h('figure', { class: 'chart-figure', 'data-testid': testid },
    h('figcaption', { class: 'chart-head' }, h('h3', { text: title }),
      h('ul', { class: 'chart-legend' }, series.map((s, j) => h('li', null,
        h('span', { class: `chart-swatch chart-tone-${tone(s, j)}`, 'aria-hidden': 'true' }),
        `${s.label} `, h('strong', { text: count(sum(days, s.key)) }))))),
    image,
    h('details', { class: 'chart-data' }, h('summary', { text: 'Numbers by day' }),
      h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
        h('thead', null, h('tr', null, h('th', { scope: 'col', text: 'Day (UTC)' }), series.map((s) => h('th', { scope: 'col', class: 'num', text: s.label })))),
        h('tbody', null, days.map((d) => h('tr', null, h('th', { scope: 'row', text: d.date }),
          series.map((s) => h('td', { class: 'num', text: count(d[s.key]) })))))))));
}

/** meter is a small horizontal bar for a share of max, beside the number it shows. */
export function meter(value, max, tone = 1) {
  const w = max > 0 ? Math.max((value / max) * 100, value > 0 ? 2 : 0) : 0;
  return svg('svg', { viewBox: '0 0 100 8', class: 'chart-meter', 'aria-hidden': 'true', preserveAspectRatio: 'none' },
    svg('rect', { class: 'chart-track', x: 0, y: 0, width: 100, height: 8, rx: 2 }),
    svg('rect', { class: `chart-bar chart-tone-${tone}`, x: 0, y: 0, width: w, height: 8, rx: 2 }));
}
