// The usage report (GET /v1/admin/analytics, GET /v1/me/usage) as tiles, charts and
// tables, shared by the admin page and the account page.
import { h, when } from './dom.js';
import { count, dayChart, meter, sum } from './chart.js';

/** lastDays is the query of a report over the last n UTC days, today included. */
export function lastDays(n) {
  const day = (d) => d.toISOString().slice(0, 10);
  const to = new Date();
  const from = new Date(to.getTime() - (n - 1) * 86400000);
  return `?from=${day(from)}&to=${day(to)}`;
}

function tile(label, value, testid) {
  return h('div', { class: 'usage-tile', 'data-testid': testid },
    h('div', { class: 'value', text: value }), h('div', { class: 'label', text: label }));
}

/** usageTiles are the totals of a report at a glance. */
export function usageTiles(rep, { everybody = false } = {}) {
  const peak = Math.max(0, ...rep.days.map((d) => d.active_users));
  return h('div', { class: 'usage-tiles' },
    tile('Chat turns', count(sum(rep.days, 'turns')), 'usage-turns'),
    everybody ? tile('Most active users in a day', count(peak), 'usage-peak-users') : null,
    tile('Tokens', count(sum(rep.days, 'prompt_tokens') + sum(rep.days, 'completion_tokens')), 'usage-tokens'),
    tile('Documents uploaded', count(sum(rep.days, 'documents_ingested')), 'usage-documents'),
    tile('Documents failed', count(sum(rep.days, 'documents_failed')), 'usage-failed'));
}

/** turnsChart: chat turns per day, and for the platform the users active that day. */
export function turnsChart(rep, { everybody = false, compact = false } = {}) {
  const series = [{ key: 'turns', label: 'Turns' }];
  if (everybody) series.push({ key: 'active_users', label: 'Active users' });
  return dayChart({ title: everybody ? 'Turns and active users per day' : 'Turns per day', days: rep.days, series, compact, testid: 'chart-turns' });
}

/** tokensChart: prompt and completion tokens per day, stacked. */
export function tokensChart(rep) {
  return dayChart({ title: 'Tokens per day', days: rep.days, stacked: true, testid: 'chart-tokens',
    series: [{ key: 'prompt_tokens', label: 'Prompt' }, { key: 'completion_tokens', label: 'Completion' }] });
}

/** documentsChart: uploads per day beside the failed ones. */
export function documentsChart(rep) {
  return dayChart({ title: 'Documents per day', days: rep.days, testid: 'chart-documents',
    series: [{ key: 'documents_ingested', label: 'Uploaded' }, { key: 'documents_failed', label: 'Failed', tone: 3 }] });
}

const percent = (part, whole) => (whole ? `${((part / whole) * 100).toFixed(part === whole || part === 0 ? 0 : 1)}%` : '—');

/** table lists rows with a heading row; a bar shows each row's share of the largest. */
function table(testid, heads, rows, emptyText) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-testid': testid },
    h('thead', null, h('tr', null, heads.map((t, i) => h('th', { scope: 'col', class: i ? 'num' : null, text: t })))),
    h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: heads.length, class: 'muted', text: emptyText })))));
}

/** modelsTable: turns and tokens by chat model. */
export function modelsTable(rep) {
  const most = Math.max(0, ...rep.models.map((m) => m.turns));
  return table('usage-models', ['Model', 'Turns', '', 'Prompt tokens', 'Completion tokens'], rep.models.map((m) => h('tr', null,
    h('th', { scope: 'row', text: m.name || '(default)' }), h('td', { class: 'num', text: count(m.turns) }),
    h('td', null, meter(m.turns, most)), h('td', { class: 'num', text: count(m.prompt_tokens) }),
    h('td', { class: 'num', text: count(m.completion_tokens) }))), 'No turns in this period.');
}

/** toolsTable: calls, failure rate and median latency by tool. */
export function toolsTable(rep) {
  const most = Math.max(0, ...rep.tools.map((t) => t.calls));
  return table('usage-tools', ['Tool', 'Calls', '', 'Failed', 'Failure rate', 'Median'], rep.tools.map((t) => h('tr', null,
    h('th', { scope: 'row' }, h('code', { text: t.name })), h('td', { class: 'num', text: count(t.calls) }),
    h('td', null, meter(t.calls, most)), h('td', { class: 'num', text: count(t.failures) }),
    h('td', { class: ['num', t.failures && 'error-text'], text: percent(t.failures, t.calls) }),
    h('td', { class: 'num', text: `${count(Math.round(t.p50_ms))} ms` }))), 'No tool calls in this period.');
}

/** formatsTable: uploads and failures by media type. */
export function formatsTable(rep) {
  const most = Math.max(0, ...rep.formats.map((f) => f.documents));
  return table('usage-formats', ['Format', 'Documents', '', 'Failed', 'Failure rate'], rep.formats.map((f) => h('tr', null,
    h('th', { scope: 'row' }, h('code', { text: f.mime })), h('td', { class: 'num', text: count(f.documents) }),
    h('td', null, meter(f.documents, most)), h('td', { class: 'num', text: count(f.failed) }),
    h('td', { class: ['num', f.failed && 'error-text'], text: percent(f.failed, f.documents) }))), 'No uploads in this period.');
}

/** routesTable: the slowest API routes by 95th percentile, with their volume and server errors. */
export function routesTable(rep) {
  const most = Math.max(0, ...rep.routes.map((r) => r.p95_ms));
  const ms = (v) => `${count(Math.round(v))} ms`;
  return table('usage-routes', ['Route', 'Requests', 'Server errors', 'Median', '95th percentile', ''], rep.routes.map((r) => h('tr', null,
    h('th', { scope: 'row' }, h('code', { text: `${r.method} ${r.route}` })), h('td', { class: 'num', text: count(r.requests) }),
    h('td', { class: ['num', r.errors && 'error-text'], text: percent(r.errors, r.requests) }),
    h('td', { class: 'num', text: ms(r.p50_ms) }), h('td', { class: 'num', text: ms(r.p95_ms) }),
    h('td', null, meter(r.p95_ms, most)))), 'No requests counted in this period yet.');
}

/** feedbackTable: thumbs up and down on the answers, by model (or by tool called). */
export function feedbackTable(rows, { testid, first, emptyText }) {
  return table(testid, [first, 'Good', 'Bad', 'Good share', 'Comments'], rows.map((f) => h('tr', null,
    h('th', { scope: 'row' }, first === 'Tool' ? h('code', { text: f.name }) : (f.name || '(default)')),
    h('td', { class: 'num', text: count(f.up) }), h('td', { class: ['num', f.down && 'error-text'], text: count(f.down) }),
    h('td', { class: 'num', text: percent(f.up, f.up + f.down) }), h('td', { class: 'num', text: count(f.comments) }))),
  emptyText);
}

/** feedbackComments: the latest comments on answers, newest first. */
export function feedbackComments(rep) {
  const comments = rep.feedback.comments;
  if (!comments.length) return h('p', { class: 'muted small', text: 'No comments in this period.' });
  return h('ul', { class: 'feedback-comments', 'data-testid': 'usage-feedback-comments' }, comments.map((c) => h('li', null,
    h('span', { class: ['badge', c.rating === 'up' ? 'badge-ok' : 'badge-failed'], text: c.rating === 'up' ? 'Good' : 'Bad' }),
    h('span', { class: 'feedback-text', text: c.comment }),
    h('span', { class: 'small muted', text: ` · ${c.model || '(default)'} · ` }), when(c.at))));
}
