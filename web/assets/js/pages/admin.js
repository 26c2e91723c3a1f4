// Admin: users, their keys and quotas, re-index jobs with live progress, the audit log,
// usage analytics, and the tools of chat with the MCP servers behind them.
import { api, qs } from '../api.js';
import { bytes, h, replace, when } from '../dom.js';
import { badge, button, confirmAction, dialog, empty, fail, field, pageHead, secretOnce, select, toast } from '../ui.js';
import { documentsChart, feedbackComments, feedbackTable, formatsTable, lastDays, modelsTable, routesTable, tokensChart, toolsTable, turnsChart, usageTiles } from '../usage.js';

const KINDS = [
  ['group-migration', 'Group migration', 'Give every user a personal group and move ungrouped documents into it.'],
  ['acl-sync', 'ACL sync', 'Rewrite the access fields of every vector from the database.'],
  ['re-embed', 'Re-embed', 'Embed every passage again into a new collection, then switch search to it.'],
  ['verify', 'Verify and repair', 'Compare the database and the vector index; repair what differs.'],
];
const TABS = [['users', 'Users'], ['jobs', 'Re-index jobs'], ['audit', 'Audit log'], ['analytics', 'Analytics'], ['tools', 'Tools']];
const PERIODS = [['7', 'Last 7 days'], ['30', 'Last 30 days'], ['90', 'Last 90 days'], ['365', 'Last 365 days']];

export function mount(main, ctx) {
  let tab = TABS.some(([t]) => t === ctx.params[0]) ? ctx.params[0] : 'users';
  let timer = 0;
  let disposed = false;
  const panel = h('div', { class: 'tab-panel', role: 'tabpanel', tabindex: '0' });
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Admin sections' });

  function paintTabs() {
    replace(tabs, TABS.map(([t, label]) => h('button', {
      type: 'button', role: 'tab', class: 'tab', id: `tab-${t}`, 'aria-selected': String(t === tab), tabindex: t === tab ? '0' : '-1',
      onclick: () => ctx.navigate(`admin/${t}`),
      onkeydown: (e) => {
        const i = TABS.findIndex(([x]) => x === tab);
        const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
        if (step) { ctx.navigate(`admin/${TABS[(i + step + TABS.length) % TABS.length][0]}`); setTimeout(() => tabs.querySelector('[aria-selected="true"]')?.focus()); }
      },
    }, label)));
    panel.setAttribute('aria-labelledby', `tab-${tab}`);
  }

  replace(main, h('div', { class: 'page' }, pageHead('Administration'), tabs, panel));

  function show() {
    clearTimeout(timer);
    paintTabs();
    replace(panel);
    ({ users, jobs, audit, analytics, tools })[tab]();
  }

  // Users and their keys.
  async function users() {
    const name = h('input', { required: true, maxlength: 64, pattern: '[A-Za-z0-9._\\-]{1,64}', autocomplete: 'off', 'data-testid': 'new-user-name' });
    const isAdmin = h('input', { type: 'checkbox' });
    const body = h('tbody');
    replace(panel,
      h('section', { class: 'card' }, h('h2', { text: 'New user' }), h('form', {
        class: 'row wrap end-align',
        async onsubmit(e) {
          e.preventDefault();
          try {
            const res = await api('POST', '/v1/admin/users', { name: name.value.trim(), is_admin: isAdmin.checked });
            name.value = '';
            isAdmin.checked = false;
            secretOnce(`API key for ${res.user.name}`, res.key);
            load();
          } catch (err) { fail(err); }
        },
      }, field('Name', name, 'Letters, digits, “.”, “_” and “-”.'), h('label', { class: 'check' }, isAdmin, ' Administrator'),
      button('Create user', null, { kind: 'primary', type: 'submit', iconName: 'plus' }))),
      h('section', { class: 'card' }, h('h2', { text: 'Users' }), h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-testid': 'users' },
        h('thead', null, h('tr', null, ['Name', 'Role', 'Storage', 'Created', ''].map((t) => h('th', { scope: 'col', text: t })))), body))));
    async function load() {
      try {
        const res = await api('GET', '/v1/admin/users?limit=200');
        replace(body, res.users.map((u) => h('tr', null,
          h('th', { scope: 'row', text: u.name }), h('td', null, u.is_admin ? badge('admin') : badge('member', 'user')),
          h('td', { class: 'small', 'data-testid': 'user-quota', text: quotaSummary(u.quota) }),
          h('td', null, when(u.created_at)),
          h('td', { class: 'actions' }, h('div', { class: 'row' },
            button(`Keys of ${u.name}`, () => userKeys(u), { kind: 'ghost' }),
            button(`Quota of ${u.name}`, () => userQuota(u, load), { kind: 'ghost' }),
            u.id === ctx.me.id ? null : button(`Delete ${u.name}`, () => removeUser(u), { kind: 'ghost', iconName: 'trash', iconOnly: true }))))));
      } catch (err) { fail(err); }
    }
    async function removeUser(u) {
      if (!await confirmAction('Delete user', `Delete ${u.name}? Their documents, vectors and chats are deleted too.`)) return;
      try { await api('DELETE', `/v1/admin/users/${u.id}`); toast(`${u.name} deleted`); load(); } catch (err) { fail(err); }
    }
    load();
  }

  function userQuota(u, reload) {
    const GiB = 1024 ** 3;
    const space = h('input', { type: 'number', min: '0', step: 'any', inputmode: 'decimal', 'data-testid': 'quota-gib',
      value: u.quota_bytes === null || u.quota_bytes === undefined ? '' : String(u.quota_bytes / GiB) });
    const docs = h('input', { type: 'number', min: '0', step: '1', inputmode: 'numeric', 'data-testid': 'quota-documents',
      value: u.quota_documents === null || u.quota_documents === undefined ? '' : String(u.quota_documents) });
    dialog(`Quota of ${u.name}`, (close) => h('form', {
      async onsubmit(e) {
        e.preventDefault();
        const body = {
          quota_bytes: space.value.trim() === '' ? null : Math.round(Number(space.value) * GiB),
          quota_documents: docs.value.trim() === '' ? null : Math.round(Number(docs.value)),
        };
        try { await api('PATCH', `/v1/admin/users/${u.id}`, body); toast(`Quota of ${u.name} saved`); close(); reload(); } catch (err) { fail(err); }
      },
    }, h('p', { class: 'muted', text: `Uses ${quotaSummary(u.quota)}.` }),
    field('Storage limit (GiB)', space, 'Empty: the default for everyone. 0: unlimited.'),
    field('Document limit', docs, 'Empty: the default for everyone. 0: unlimited.'),
    h('div', { class: 'row end' }, button('Cancel', () => close(), { kind: 'ghost' }), button('Save', null, { kind: 'primary', type: 'submit' }))));
  }

  function userKeys(u) {
    const body = h('tbody');
    const load = async () => {
      try {
        const res = await api('GET', `/v1/admin/users/${u.id}/keys`);
        replace(body, res.keys.length ? res.keys.map((k) => h('tr', null,
          h('th', { scope: 'row' }, h('code', { text: `${k.prefix}…` })), h('td', null, when(k.created_at)), h('td', null, when(k.last_used_at)),
          h('td', null, button(`Revoke ${k.prefix}`, async () => {
            if (!await confirmAction('Revoke key', `Revoke ${u.name}'s key ${k.prefix}…?`, 'Revoke')) return;
            try { await api('DELETE', `/v1/admin/users/${u.id}/keys/${k.id}`); toast('Key revoked'); load(); } catch (err) { fail(err); }
          }, { kind: 'ghost', iconName: 'trash', iconOnly: true })))) : h('tr', null, h('td', { colspan: 4, text: 'No keys.' })));
      } catch (err) { fail(err); }
    };
    dialog(`Keys of ${u.name}`, () => h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', null, h('tr', null, ['Key', 'Created', 'Last used', ''].map((t) => h('th', { scope: 'col', text: t })))), body)));
    load();
  }

  // Re-index jobs.
  async function jobs() {
    const model = h('input', { placeholder: 'configured model', autocomplete: 'off' });
    const list = h('tbody');
    replace(panel,
      h('section', { class: 'card' }, h('h2', { text: 'Start a job' }),
        h('div', { class: 'grid' }, KINDS.map(([kind, label, text]) => h('div', { class: 'job-kind' },
          h('h3', { text: label }), h('p', { class: 'small muted', text }),
          kind === 're-embed' ? field('Embedding model', model) : null,
          button(`Start ${label.toLowerCase()}`, () => start(kind), { kind: 'primary' }))))),
      h('section', { class: 'card' }, h('h2', { text: 'Jobs' }), h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-testid': 'jobs' },
        h('thead', null, h('tr', null, ['Kind', 'Status', 'Progress', 'Started', 'Finished', ''].map((t) => h('th', { scope: 'col', text: t })))), list))));
    async function start(kind) {
      const body = { kind };
      if (kind === 're-embed' && model.value.trim()) body.embed_model = model.value.trim();
      try { await api('POST', '/v1/admin/reindex', body); toast(`${kind} started`); load(); } catch (err) { fail(err); }
    }
    async function cancel(j) {
      try { await api('POST', `/v1/admin/reindex/${j.id}/cancel`); toast('Cancelling…'); load(); } catch (err) { fail(err); }
    }
    async function load() {
      clearTimeout(timer);
      let res;
      try { res = await api('GET', '/v1/admin/reindex?limit=50'); } catch (err) {
        fail(err);
      }
      if (disposed || tab !== 'jobs') return;
      const items = res?.jobs || [];
      replace(list, items.length ? items.map((j) => {
        const p = j.progress || { total: 0, done: 0, failed: 0 };
        return h('tr', { dataset: { status: j.status } },
          h('th', { scope: 'row', text: j.kind }), h('td', null, badge(j.status), j.error ? h('div', { class: 'small error-text', text: j.error.message || String(j.error) }) : null),
          h('td', null, h('progress', { max: p.total || 1, value: p.total ? p.done : (j.status === 'completed' ? 1 : 0), 'aria-label': `${j.kind} progress` }),
            h('span', { class: 'small muted', text: ` ${p.done}/${p.total}${p.failed ? `, ${p.failed} failed` : ''}` })),
          h('td', null, when(j.started_at)), h('td', null, when(j.finished_at)),
          h('td', null, ['queued', 'running'].includes(j.status) ? button('Cancel', () => cancel(j), { kind: 'ghost' }) : null));
      }) : h('tr', null, h('td', { colspan: 6, text: 'No jobs yet.' })));
      const active = items.some((j) => ['queued', 'running'].includes(j.status));
      timer = setTimeout(load, active ? 1000 : 5000);
    }
    load();
  }

  // Audit log.
  async function audit() {
    const action = h('input', { placeholder: 'e.g. document.share', autocomplete: 'off' });
    const body = h('tbody');
    const more = button('Load more', () => load(true), { kind: 'ghost' });
    let cursor = null;
    replace(panel, h('section', { class: 'card' },
      h('form', { class: 'row wrap end-align', onsubmit: (e) => { e.preventDefault(); load(false); } },
        field('Action', action), button('Filter', null, { type: 'submit' })),
      h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-testid': 'audit' },
        h('thead', null, h('tr', null, ['When', 'Who', 'Action', 'Target', 'Outcome', 'From'].map((t) => h('th', { scope: 'col', text: t })))), body)),
      more));
    async function load(append) {
      try {
        const res = await api('GET', `/v1/admin/audit${qs({ action: action.value.trim(), cursor: append ? cursor : '', limit: 100 })}`);
        cursor = res.next_cursor;
        more.hidden = !cursor;
        const rows = res.entries.map((e) => h('tr', null,
          h('td', null, when(e.at)), h('td', { text: e.actor_name }), h('td', null, h('code', { text: e.action })),
          h('td', { class: 'small', text: `${e.target_type} ${e.target_id}` }), h('td', null, badge(e.outcome)), h('td', { class: 'small muted', text: e.client_ip })));
        if (append) body.append(...rows); else replace(body, rows.length ? rows : h('tr', null, h('td', { colspan: 6, text: 'Nothing recorded.' })));
      } catch (err) { fail(err); }
    }
    load(false);
  }

  // Usage analytics: everybody's activity over a period, in UTC days.
  async function analytics() {
    const period = select(PERIODS, '30', { 'data-testid': 'usage-period', onchange: () => load() });
    const body = h('div', { class: 'stack', 'aria-live': 'polite', 'aria-busy': 'true' }, h('p', { class: 'muted', text: 'Loading…' }));
    replace(panel, h('section', { class: 'card stack', 'data-testid': 'analytics' },
      h('div', { class: 'row between wrap end-align' }, h('h2', { text: 'Usage' }), field('Period', period)),
      h('p', { class: 'small muted', text: 'Days are UTC days. Route latencies are counted by every API replica and saved every 30 seconds; the metrics dashboards show them live.' }),
      body));
    async function load() {
      body.setAttribute('aria-busy', 'true');
      try {
        const rep = await api('GET', `/v1/admin/analytics${lastDays(Number(period.value))}`);
        if (disposed || tab !== 'analytics') return;
        replace(body, usageTiles(rep, { everybody: true }),
          turnsChart(rep, { everybody: true }), tokensChart(rep), documentsChart(rep),
          h('h3', { text: 'Models' }), modelsTable(rep),
          h('h3', { text: 'Tools' }), toolsTable(rep),
          h('h3', { text: 'Feedback on answers, by model' }), feedbackTable(rep.feedback.models, { testid: 'usage-feedback', first: 'Model', emptyText: 'No answers were rated in this period.' }),
          h('h3', { text: 'Feedback on answers, by tool they called' }), feedbackTable(rep.feedback.tools, { testid: 'usage-feedback-tools', first: 'Tool', emptyText: 'No rated answer called a tool in this period.' }),
          h('h3', { text: 'Latest comments' }), feedbackComments(rep),
          h('h3', { text: 'Document formats' }), formatsTable(rep),
          h('h3', { text: 'Slowest routes' }), routesTable(rep));
      } catch (err) { fail(err); }
      body.setAttribute('aria-busy', 'false');
    }
    load();
  }

  // Tools: the MCP servers with their health and last error, and every tool chat
  // may call. Looking refreshes the servers' state for the next look.
  async function tools() {
    const servers = h('tbody');
    const list = h('tbody');
    replace(panel,
      h('section', { class: 'card' }, h('h2', { text: 'MCP servers' }),
        h('p', { class: 'small muted', text: 'As this API server sees them; tool lists are refreshed every minute. URLs lose their credentials and query.' }),
        h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-testid': 'mcp-servers' },
          h('thead', null, h('tr', null, ['Server', 'State', 'Tools', 'Last error', 'Checked'].map((t) => h('th', { scope: 'col', text: t })))), servers))),
      h('section', { class: 'card' }, h('h2', { text: 'Tools of chat' }),
        h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-testid': 'tools' },
          h('thead', null, h('tr', null, ['Tool', 'From', 'State', 'What it does'].map((t) => h('th', { scope: 'col', text: t })))), list))));
    async function load() {
      clearTimeout(timer);
      let srv, tl;
      try {
        [srv, tl] = await Promise.all([api('GET', '/v1/admin/mcp/servers'), api('GET', '/v1/tools')]);
      } catch (err) { fail(err); }
      if (disposed || tab !== 'tools') return;
      const state = (ok) => (ok ? badge('ok', 'healthy') : badge('error', 'failing'));
      replace(servers, srv?.servers.length ? srv.servers.map((m) => h('tr', { dataset: { server: m.name } },
        h('th', { scope: 'row' }, h('div', { text: m.name }), h('div', { class: 'small muted', text: m.url })),
        // A failing server's error now is its last one, shown beside.
        h('td', null, state(m.healthy), m.error && m.error !== m.last_error ? h('div', { class: 'small error-text', text: m.error }) : null),
        h('td', { text: String(m.tools) }),
        h('td', { 'data-testid': 'mcp-last-error' }, m.last_error ? [h('div', { class: 'small', text: m.last_error }), h('div', { class: 'small muted' }, when(m.last_error_at))] : h('span', { class: 'muted', text: 'none' })),
        h('td', null, m.checked_at ? when(m.checked_at) : h('span', { class: 'muted', text: 'not yet' })))) :
        h('tr', null, h('td', { colspan: 5, text: 'No MCP server is configured (YW_MCP_SERVERS).' })));
      replace(list, (tl?.tools || []).map((t) => h('tr', null,
        h('th', { scope: 'row' }, h('code', { text: t.name })),
        h('td', { text: t.server ? `MCP: ${t.server}` : 'built in' }),
        h('td', null, state(t.healthy)),
        h('td', { class: 'small', text: t.description }))));
      timer = setTimeout(load, 15000);
    }
    load();
  }

  show();
  return {
    update(params) { tab = TABS.some(([t]) => t === params[0]) ? params[0] : 'users'; show(); },
    dispose() { disposed = true; clearTimeout(timer); },
  };
}

/** quotaSummary is a user's storage use against their limits, in one line. */
function quotaSummary(q) {
  if (!q) return '—';
  const unlimited = (v) => v === null || v === undefined;
  const count = (n) => n.toLocaleString();
  const space = unlimited(q.bytes_limit) ? `${bytes(q.bytes_used)} (no limit)` : `${bytes(q.bytes_used)} of ${bytes(q.bytes_limit)}`;
  const docs = unlimited(q.documents_limit) ? `${count(q.documents_used)} documents (no limit)` : `${count(q.documents_used)} of ${count(q.documents_limit)} documents`;
  return `${space} · ${docs}`;
}
