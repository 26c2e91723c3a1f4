// Account: who I am, my groups, my storage quota, my usage over the last 30 days, my
// API keys (create named, scoped, limited to some groups and expiring; copy once;
// list with last use; revoke).
import { api } from '../api.js';
import { bytes, h, replace, when } from '../dom.js';
import { badge, button, confirmAction, dialog, empty, fail, field, pageHead, secretOnce, select, toast } from '../ui.js';
import { lastDays, turnsChart, usageTiles } from '../usage.js';

/** quotaLine shows one limit as "used of limit", with a meter when there is a limit. */
export function quotaLine(label, used, limit, format) {
  const text = limit === null || limit === undefined ? `${format(used)} used · no limit` : `${format(used)} of ${format(limit)} used`;
  return h('div', { class: 'quota-line' },
    h('span', { class: 'quota-label', text: label }),
    limit ? h('progress', { max: limit, value: Math.min(used, limit), 'aria-label': `${label}: ${text}` }) : null,
    h('span', { class: 'quota-text', text }));
}

const count = (n) => n.toLocaleString();

const SCOPES = [
  ['documents:read', 'Read documents and groups, search'],
  ['documents:write', 'Upload and change documents and groups'],
  ['chat', 'Chat'],
  ['admin', 'Administration'],
];
const EXPIRY = [['', 'Never'], ['7', 'In 7 days'], ['30', 'In 30 days'], ['90', 'In 90 days'], ['365', 'In a year']];

/** limitsText says what a key is limited to, in words; null limits are none. */
function limitsText(k, groupName) {
  const scopes = k.scopes ? (k.scopes.length ? k.scopes.join(', ') : 'none') : 'all';
  const groups = k.group_ids ? k.group_ids.map(groupName).join(', ') || 'none' : 'all';
  const parts = [`scopes: ${scopes}`, `groups: ${groups}`];
  if (k.allowed_ips) parts.push(`from: ${k.allowed_ips.join(', ')}`);
  return parts.join(' · ');
}

export function mount(main, ctx) {
  const keys = h('tbody');
  const sharedChoice = select([['transfer', 'Hand them to an admin of their group'], ['delete', 'Delete them too']], 'transfer', { name: 'shared_documents' });
  // The placeholder lines have the loaded lines' shape, so nothing below moves
  // when the quota arrives (a click aimed at "New key" must not land elsewhere).
  const pending = (label) => h('div', { class: 'quota-line' }, h('span', { class: 'quota-label', text: label }), h('span', { class: 'quota-text muted', text: 'Loading…' }));
  const storage = h('div', { 'data-testid': 'quota' }, pending('Space'), pending('Documents'));
  const usage = h('div', { class: 'stack', 'data-testid': 'usage', 'aria-live': 'polite' }, h('p', { class: 'muted', text: 'Loading…' }));
  const me = ctx.me;
  replace(main, h('div', { class: 'page' }, pageHead('Account'),
    h('section', { class: 'card', 'aria-labelledby': 'me-title' },
      h('h2', { id: 'me-title', text: me.name }),
      h('p', null, me.is_admin ? badge('admin', 'Administrator') : badge('member', 'User')),
      h('h3', { text: 'Groups' }),
      me.groups?.length ? h('ul', { class: 'chips' }, me.groups.map((g) => h('li', null, h('a', { href: `#/groups/${g.id}`, class: 'chip', text: `${g.name} · ${g.role}` })))) : empty('No groups.')),
    h('section', { class: 'card', 'aria-labelledby': 'quota-title' },
      h('h2', { id: 'quota-title', text: 'Storage' }), storage,
      h('p', { class: 'muted small', text: 'Your documents count from upload until you delete them; the same file uploaded twice counts once.' })),
    h('section', { class: 'card', 'aria-labelledby': 'keys-title' },
      h('div', { class: 'row between' }, h('h2', { id: 'keys-title', text: 'API keys' }),
        button('New key', create, { kind: 'primary', iconName: 'plus' })),
      h('p', { class: 'muted', text: 'Keys let scripts and other clients act as you. Revoking a key also signs out every browser that signed in with it.' }),
      h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-testid': 'keys' },
        h('thead', null, h('tr', null, ['Key', 'Limits', 'Expires', 'Created', 'Last used', ''].map((t) => h('th', { scope: 'col', text: t })))), keys))),
    h('section', { class: 'card stack', 'aria-labelledby': 'data-title', 'data-testid': 'my-data' },
      h('h2', { id: 'data-title', text: 'Your data' }),
      h('p', { class: 'muted', text: 'Download everything you own as a zip: your documents as uploaded, your chats with their sources, and the groups you administer.' }),
      h('div', { class: 'row wrap' },
        h('a', { class: 'btn', href: '/v1/me/export', download: '', 'data-testid': 'export-link', text: 'Download my data' }),
        button('Delete my chat history', purgeChats, { kind: 'danger', iconName: 'trash' })),
      h('h3', { text: 'Delete my account' }),
      h('p', { class: 'muted', text: 'Your keys, chats and private documents go at once. Choose what becomes of the documents you shared with a group.' }),
      h('div', { class: 'row wrap end-align' }, field('Documents shared with a group', sharedChoice),
        button('Delete my account', deleteAccount, { kind: 'danger', iconName: 'trash' }))),
    // Last, so that nothing above moves when the report arrives.
    h('section', { class: 'card stack', 'aria-labelledby': 'usage-title' },
      h('h2', { id: 'usage-title', text: 'My usage, last 30 days' }), usage)));

  async function loadQuota() {
    try {
      const { quota: q } = await api('GET', '/v1/me');
      replace(storage, quotaLine('Space', q.bytes_used, q.bytes_limit, bytes), quotaLine('Documents', q.documents_used, q.documents_limit, count));
    } catch (err) { fail(err); }
  }

  async function loadUsage() {
    try {
      const rep = await api('GET', `/v1/me/usage${lastDays(30)}`);
      replace(usage, usageTiles(rep), turnsChart(rep, { compact: true }));
    } catch (err) { fail(err); }
  }

  async function load() {
    try {
      const res = await api('GET', '/v1/me/keys');
      const groupName = (id) => me.groups?.find((g) => g.id === id)?.name || 'a group you left';
      const expired = (k) => k.expires_at && new Date(k.expires_at) <= new Date();
      replace(keys, res.keys.map((k) => h('tr', { 'data-testid': 'key-row' },
        h('th', { scope: 'row' }, k.name ? h('span', { text: `${k.name} ` }) : null, h('code', { text: `${k.prefix}…` })),
        h('td', { class: 'small', text: limitsText(k, groupName) }),
        h('td', null, k.expires_at ? (expired(k) ? badge('failed', 'expired') : when(k.expires_at)) : h('span', { class: 'muted', text: 'never' })),
        h('td', null, when(k.created_at)), h('td', null, when(k.last_used_at)),
        h('td', { class: 'actions' }, button(`Revoke key ${k.prefix}`, () => revoke(k), { kind: 'ghost', iconName: 'trash', iconOnly: true })))));
    } catch (err) { fail(err); }
  }

  // create asks what the key may do: a name, its scopes, the groups it reaches and
  // when it expires; nothing ticked is no limit.
  function create() {
    const name = h('input', { name: 'key-name', maxlength: 100, autocomplete: 'off', placeholder: 'e.g. nightly import' });
    const scopeBoxes = SCOPES.filter(([v]) => v !== 'admin' || me.is_admin).map(([v, label]) =>
      h('label', { class: 'row' }, h('input', { type: 'checkbox', name: 'scope', value: v }), h('span', { text: label })));
    const groupBoxes = (me.groups || []).map((g) =>
      h('label', { class: 'row' }, h('input', { type: 'checkbox', name: 'group', value: g.id }), h('span', { text: g.name })));
    const expiry = select(EXPIRY, '', { name: 'expires' });
    const ticked = (boxes) => boxes.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
    dialog('New API key', (close) => h('form', {
      class: 'stack', 'data-testid': 'new-key-form',
      async onsubmit(e) {
        e.preventDefault();
        const body = { name: name.value.trim() };
        const scopes = ticked(scopeBoxes);
        const groups = ticked(groupBoxes);
        if (scopes.length) body.scopes = scopes;
        if (groups.length) body.group_ids = groups;
        if (expiry.value) body.expires_at = new Date(Date.now() + Number(expiry.value) * 86400e3).toISOString().replace(/\.\d+Z$/, 'Z');
        try {
          const k = await api('POST', '/v1/me/keys', body);
          close();
          secretOnce('Your new API key', k.key);
          load();
        } catch (err) { fail(err); }
      },
    }, field('Name', name),
    h('fieldset', { class: 'stack' }, h('legend', { text: 'May (none ticked: everything you may)' }), scopeBoxes),
    groupBoxes.length ? h('fieldset', { class: 'stack' }, h('legend', { text: 'Only documents of (none ticked: all your groups)' }), groupBoxes) : null,
    field('Expires', expiry),
    h('div', { class: 'row end' }, button('Cancel', () => close(), { kind: 'ghost' }),
      button('Create key', null, { kind: 'primary', type: 'submit', iconName: 'plus' }))));
  }

  async function revoke(k) {
    if (!await confirmAction('Revoke key', `Revoke the key ${k.prefix}…? Clients using it stop working at once — including this browser, if you signed in with it.`, 'Revoke')) return;
    try { await api('DELETE', `/v1/me/keys/${k.id}`); toast('Key revoked'); load(); } catch (err) { fail(err); }
  }

  async function purgeChats() {
    if (!await confirmAction('Delete chat history', 'Delete every chat of yours, with its messages and answers? This cannot be undone.', 'Delete all chats')) return;
    try { await api('DELETE', '/v1/me/chat/sessions'); toast('Chat history deleted'); } catch (err) { fail(err); }
  }

  async function deleteAccount() {
    if (!await confirmAction('Delete my account', `Delete the account ${me.name} for good? This cannot be undone.`, 'Delete my account')) return;
    try {
      await api('DELETE', '/v1/me', { shared_documents: sharedChoice.value });
      location.hash = '';
      location.reload(); // the account is gone: back to the sign-in page
    } catch (err) { fail(err); }
  }

  loadQuota();
  loadUsage();
  load();
  return {};
}
