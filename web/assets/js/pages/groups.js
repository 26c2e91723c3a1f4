// Groups: create, members with roles, invite by name (or add, where adds are
// direct), change role, remove, leave; answer one's own invitations, and see and
// withdraw a group's pending ones as its admin.
import { api } from '../api.js';
import { h, replace, when } from '../dom.js';
import { badge, button, confirmAction, empty, fail, field, pageHead, select, toast } from '../ui.js';

const ROLES = [['member', 'Member'], ['admin', 'Admin']];

export function mount(main, ctx) {
  let groups = [];
  let selected = ctx.params[0] || '';
  let disposed = false;
  const list = h('ul', { class: 'list', 'aria-label': 'Your groups', 'data-testid': 'group-list' });
  // Invitations waiting for me; the card shows only while there are some.
  const inbox = h('ul', { class: 'list', 'data-testid': 'my-invitations' });
  const inboxCard = h('section', { class: 'card', 'aria-labelledby': 'inbox-title', hidden: true },
    h('h2', { id: 'inbox-title', text: 'Invitations' }),
    h('p', { class: 'muted small', text: 'You join a group, and see what its members share, only if you accept.' }), inbox);
  const detail = h('section', { class: 'card grow', 'aria-live': 'polite', 'aria-labelledby': 'group-title' });

  const name = h('input', { name: 'name', required: true, maxlength: 64, autocomplete: 'off' });
  const description = h('input', { name: 'description', maxlength: 500, autocomplete: 'off' });
  const createForm = h('form', {
    class: 'stack',
    async onsubmit(e) {
      e.preventDefault();
      try {
        const g = await api('POST', '/v1/groups', { name: name.value.trim(), description: description.value.trim() });
        name.value = '';
        description.value = '';
        toast(`Group ${g.name} created`);
        await ctx.refreshMe();
        // The route change reloads the list and shows the new group.
        if (location.hash === `#/groups/${g.id}`) await load(); else ctx.navigate(`groups/${g.id}`);
      } catch (err) { fail(err); }
    },
  }, h('h2', { text: 'New group' }), field('Name', name), field('Description', description),
  button('Create group', null, { kind: 'primary', type: 'submit', iconName: 'plus' }));

  // A line while the list loads keeps the form below it from moving under the pointer.
  replace(list, empty('Loading your groups…'));
  replace(main, h('div', { class: 'page' }, pageHead('Groups'),
    h('div', { class: 'split' },
      h('div', { class: 'stack side' }, inboxCard, h('section', { class: 'card', 'aria-label': 'Your groups' }, h('h2', { text: 'Your groups' }), list), h('section', { class: 'card' }, createForm)),
      detail)));

  function paintList() {
    replace(list, groups.length ? groups.map((g) => h('li', null,
      h('a', { href: `#/groups/${g.id}`, class: ['list-item', g.id === selected && 'active'], 'aria-current': g.id === selected ? 'true' : null },
        h('span', { class: 'grow', text: g.name }), h('span', { class: 'small muted', text: `${g.member_count}` }),
        g.managed ? badge('managed', 'SSO') : badge(g.role)))) : empty('You are in no group yet.'));
  }

  async function loadInvitations() {
    try {
      const { invitations } = await api('GET', '/v1/me/invitations');
      if (disposed) return;
      inboxCard.hidden = invitations.length === 0;
      replace(inbox, invitations.map((inv) => h('li', { class: 'stack invitation', 'data-testid': 'invitation' },
        h('span', null, h('strong', { text: inv.group_name }), h('span', { class: 'muted small', text: ` · ${inv.role}` })),
        h('span', { class: 'muted small', text: inv.invited_by_name ? `Invited by ${inv.invited_by_name}, ${new Date(inv.created_at).toLocaleString()}` : 'Invited' }),
        h('span', { class: 'row' },
          button(`Accept`, () => answer(inv, 'accept'), { kind: 'primary', title: `Join ${inv.group_name}` }),
          button(`Decline`, () => answer(inv, 'decline'), { kind: 'ghost', title: `Decline ${inv.group_name}` })))));
    } catch (err) { fail(err); }
  }

  async function answer(inv, verb) {
    try {
      await api('POST', `/v1/me/invitations/${inv.id}/${verb}`);
      toast(verb === 'accept' ? `You joined ${inv.group_name}` : `Invitation to ${inv.group_name} declined`);
      await loadInvitations();
      if (verb === 'accept') {
        await ctx.refreshMe();
        if (location.hash === `#/groups/${inv.group_id}`) { selected = inv.group_id; await load(); } else ctx.navigate(`groups/${inv.group_id}`);
      }
    } catch (err) { fail(err); loadInvitations(); }
  }

  async function load() {
    try {
      groups = (await api('GET', '/v1/groups')).groups;
      if (disposed) return;
      if (!selected && groups.length) selected = groups[0].id;
      paintList();
      await showGroup();
    } catch (err) { fail(err); }
  }

  let showSeq = 0;
  async function showGroup() {
    const seq = ++showSeq;
    if (!selected) { replace(detail, h('h2', { id: 'group-title', text: 'No group selected' }), empty('Create a group to share documents with its members.')); return; }
    let g;
    try { g = await api('GET', `/v1/groups/${selected}`); } catch (err) {
      if (err.status === 404) { selected = ''; paintList(); return showGroup(); }
      return fail(err);
    }
    if (disposed || seq !== showSeq) return; // a later request owns the panel
    // A group of the identity provider changes only there: no controls here.
    const managed = !!g.managed;
    const isAdmin = g.role === 'admin' && !managed;
    const addName = h('input', { name: 'member', required: true, autocomplete: 'off', 'data-testid': 'member-name' });
    const addRole = select(ROLES, 'member');
    const members = h('table', { class: 'table', 'data-testid': 'members' },
      h('caption', { class: 'visually-hidden', text: `Members of ${g.name}` }),
      h('thead', null, h('tr', null, ['Name', 'Role', 'Joined', ''].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', null, g.members.map((m) => {
        const self = m.user_id === ctx.me.id;
        const role = isAdmin ? select(ROLES, m.role, { 'aria-label': `Role of ${m.name}`, onchange: (e) => setRole(m, e.target.value, e.target) }) : badge(m.role);
        return h('tr', null,
          h('th', { scope: 'row', text: m.name + (self ? ' (you)' : '') }),
          h('td', null, role), h('td', null, when(m.joined_at)),
          h('td', { class: 'actions' }, self && !managed ? button('Leave', () => leave(g), { kind: 'ghost' })
            : isAdmin ? button(`Remove ${m.name}`, () => removeMember(g, m), { kind: 'ghost', iconName: 'trash', iconOnly: true }) : null));
      })));
    const addForm = isAdmin ? h('form', {
      class: 'row wrap end-align',
      async onsubmit(e) {
        e.preventDefault();
        const who = addName.value.trim();
        try {
          const res = await api('POST', `/v1/groups/${g.id}/members`, { name: who, role: addRole.value });
          // By default the user is invited and joins by accepting; some deployments add at once.
          toast(res?.invitation ? `${who} is invited; they join when they accept` : `${who} added`);
          addName.value = '';
          await load();
        } catch (err) { fail(err.status === 404 ? new Error(`No user named ${who}`) : err); }
      },
    }, field('Add member by name', addName), field('Role', addRole), button('Add', null, { kind: 'primary', type: 'submit', iconName: 'plus' })) : null;
    let pendingInvites = null;
    if (isAdmin) {
      try {
        const { invitations } = await api('GET', `/v1/groups/${g.id}/invitations`);
        if (disposed || seq !== showSeq) return;
        pendingInvites = invitations.length ? h('div', { class: 'stack' }, h('h3', { text: 'Pending invitations' }),
          h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-testid': 'pending-invitations' },
            h('caption', { class: 'visually-hidden', text: `Pending invitations to ${g.name}` }),
            h('thead', null, h('tr', null, ['Name', 'Role', 'Invited', ''].map((t) => h('th', { scope: 'col', text: t })))),
            h('tbody', null, invitations.map((inv) => h('tr', null,
              h('th', { scope: 'row', text: inv.user_name }), h('td', null, badge(inv.role)), h('td', null, when(inv.created_at)),
              h('td', { class: 'actions' }, button(`Withdraw the invitation of ${inv.user_name}`, () => withdraw(g, inv), { kind: 'ghost', iconName: 'x', iconOnly: true })))))))) : null;
      } catch (err) { fail(err); }
    }
    replace(detail,
      h('div', { class: 'row between wrap' }, h('h2', { id: 'group-title', text: g.name }),
        isAdmin ? button('Delete group', () => removeGroup(g), { kind: 'danger', iconName: 'trash' }) : null),
      g.description ? h('p', { class: 'muted', text: g.description }) : null,
      managed ? h('p', { class: 'notice', 'data-testid': 'managed', text: 'Managed by your identity provider: its members follow the provider’s groups at each sign-in, and change only there.' }) : null,
      h('div', { class: 'table-wrap' }, members), pendingInvites, addForm);
  }

  async function withdraw(g, inv) {
    if (!await confirmAction('Withdraw invitation', `Withdraw the invitation of ${inv.user_name} to ${g.name}?`, 'Withdraw')) return;
    try { await api('DELETE', `/v1/groups/${g.id}/invitations/${inv.id}`); toast('Invitation withdrawn'); await load(); } catch (err) { fail(err); }
  }

  async function setRole(m, role, control) {
    try { await api('PATCH', `/v1/groups/${selected}/members/${m.user_id}`, { role }); toast(`${m.name} is now ${role}`); } catch (err) {
      control.value = m.role;
      fail(err);
    }
  }

  async function removeMember(g, m) {
    if (!await confirmAction('Remove member', `Remove ${m.name} from ${g.name}?`, 'Remove')) return;
    try { await api('DELETE', `/v1/groups/${g.id}/members/${m.user_id}`); await load(); } catch (err) { fail(err); }
  }

  async function leave(g) {
    if (!await confirmAction('Leave group', `Leave ${g.name}? Its shared documents will no longer be visible to you.`, 'Leave')) return;
    try {
      await api('DELETE', `/v1/groups/${g.id}/members/${ctx.me.id}`);
      selected = '';
      await ctx.refreshMe();
      await load();
    } catch (err) { fail(err); }
  }

  async function removeGroup(g) {
    if (!await confirmAction('Delete group', `Delete ${g.name}? Its documents go back to their owners only.`)) return;
    try {
      await api('DELETE', `/v1/groups/${g.id}`);
      selected = '';
      await ctx.refreshMe();
      await load();
    } catch (err) { fail(err); }
  }

  loadInvitations();
  load();
  return {
    update(params) { selected = params[0] || ''; loadInvitations(); load(); },
    dispose() { disposed = true; },
  };
}
