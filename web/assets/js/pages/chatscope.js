// The grounding of a chat, in the chat box: the documents and groups its answers
// come from, as removable chips; a picker to choose them; and a button that
// attaches files (uploaded like any document, then added to the chat's scope).
// The server decides what a scope may name and only ever narrows what the user
// may see with it; this only shows and edits the choice.
import { api, upload } from '../api.js';
import { h, icon, replace } from '../dom.js';
import { badge, button, dialog, empty, fail, toast } from '../ui.js';

/** PENDING_SCOPE_KEY is where the documents page leaves the scope of the chat it opens. */
export const PENDING_SCOPE_KEY = 'yw.pendingScope';

const INDEXING = new Set(['queued', 'processing']);

/** takePendingScope returns, once, the scope the documents page left for a new chat. */
function takePendingScope() {
  let scope = null;
  try {
    scope = JSON.parse(sessionStorage.getItem(PENDING_SCOPE_KEY) || 'null');
    sessionStorage.removeItem(PENDING_SCOPE_KEY);
  } catch { /* nothing usable: no scope */ }
  return scope;
}

/**
 * scopeControl builds the chat box's scope: bar (the chips) and buttons (attach,
 * choose). groups() lists the user's groups; save(scope) stores a changed scope
 * (null for none) and may throw, which keeps the old one.
 */
export function scopeControl({ groups, save }) {
  let scope = { document_ids: [], group_ids: [] };
  const docs = new Map(); // id -> { filename, status }
  let timer = 0;
  let disposed = false;
  let uploading = 0;

  const chips = h('ul', { class: 'chips', 'aria-label': 'Answers only from' });
  const bar = h('div', { class: 'scope-bar', 'data-testid': 'scope-bar', hidden: true },
    h('span', { class: 'small muted', text: 'Answers only from' }), chips);
  const fileInput = h('input', { type: 'file', multiple: true, class: 'visually-hidden', 'data-testid': 'attach-input', tabindex: '-1', 'aria-hidden': 'true' });
  const attach = button('Attach files: they are uploaded to your documents and this chat answers from them', () => fileInput.click(),
    { kind: 'ghost', iconName: 'attach', iconOnly: true });
  attach.dataset.testid = 'attach';
  const choose = button('Choose the documents and groups this chat answers from', () => openPicker(), { kind: 'ghost', iconName: 'doc', iconOnly: true });
  choose.dataset.testid = 'scope-pick';
  fileInput.addEventListener('change', () => { const files = [...fileInput.files]; fileInput.value = ''; attachFiles(files); });

  const isEmpty = (s) => !s || (!(s.document_ids || []).length && !(s.group_ids || []).length);
  const groupName = (id) => groups().find((g) => g.id === id)?.name;

  function paint() {
    const items = [];
    for (const id of scope.document_ids) {
      const d = docs.get(id);
      const name = d?.filename || 'Loading…';
      const state = d && INDEXING.has(d.status) ? badge('processing', 'indexing…')
        : d?.status === 'failed' ? badge('failed', 'failed') : d?.status === 'gone' ? badge('failed', 'unavailable') : null;
      items.push(chip('doc', name, id, state, () => remove('document_ids', id)));
    }
    for (const id of scope.group_ids) {
      items.push(chip('group', groupName(id) || 'A group you left', id, null, () => remove('group_ids', id)));
    }
    if (uploading) items.push(h('li', { class: 'chip chip-static', 'data-testid': 'scope-uploading' }, h('span', { class: 'spinner', role: 'img', 'aria-label': 'uploading' }), `Uploading ${uploading} ${uploading === 1 ? 'file' : 'files'}…`));
    replace(chips, items);
    bar.hidden = items.length === 0;
  }

  function chip(kind, name, id, state, onRemove) {
    return h('li', { class: 'chip chip-static', 'data-testid': 'scope-chip', dataset: { id, kind } },
      icon(kind), h('span', { class: 'ellipsis', text: name }), state,
      h('button', { type: 'button', class: 'chip-remove', title: `Stop answering from ${name}`, 'aria-label': `Stop answering from ${name}`, 'data-testid': 'scope-remove', onclick: onRemove }, icon('x')));
  }

  async function change(next) {
    const clean = { document_ids: [...new Set(next.document_ids)], group_ids: [...new Set(next.group_ids)] };
    const before = scope;
    scope = clean;
    paint();
    try {
      await save(isEmpty(clean) ? null : clean);
    } catch (err) {
      scope = before;
      paint();
      fail(err);
      return false;
    }
    return true;
  }

  function remove(field, id) {
    change({ ...scope, [field]: scope[field].filter((x) => x !== id) });
  }

  // Documents still being indexed are looked at again until they are ready.
  async function resolve() {
    clearTimeout(timer);
    const wanted = scope.document_ids.filter((id) => !docs.has(id) || INDEXING.has(docs.get(id).status) || docs.get(id).status === 'unknown');
    await Promise.all(wanted.map(async (id) => {
      try {
        const d = await api('GET', `/v1/documents/${encodeURIComponent(id)}`);
        docs.set(id, { filename: d.filename, status: d.status });
      } catch (err) {
        if (err.status === 404) docs.set(id, { filename: 'A document no longer available', status: 'gone' });
      }
    }));
    if (disposed) return;
    paint();
    if (scope.document_ids.some((id) => INDEXING.has(docs.get(id)?.status))) timer = setTimeout(resolve, 1000);
  }

  async function attachFiles(files) {
    if (!files.length) return;
    uploading += files.length;
    paint();
    let res;
    try {
      res = await upload(files, {}, () => {}).promise;
    } catch (err) {
      fail(err);
      return;
    } finally {
      uploading -= files.length;
      paint();
    }
    for (const d of res.documents) docs.set(d.id, { filename: d.filename, status: d.status });
    if (await change({ ...scope, document_ids: [...scope.document_ids, ...res.documents.map((d) => d.id)] })) {
      toast(files.length === 1 ? `${files[0].name} attached: answers come from it once it is indexed` : `${files.length} files attached`);
    }
    resolve();
  }

  async function openPicker() {
    const filter = h('input', { type: 'search', placeholder: 'Filter by name', 'aria-label': 'Filter documents by name', 'data-testid': 'scope-filter' });
    const list = h('ul', { class: 'list scope-list', 'aria-label': 'Documents' }, h('li', { class: 'muted', text: 'Loading…' }));
    const chosenDocs = new Set(scope.document_ids);
    const chosenGroups = new Set(scope.group_ids);
    const groupList = h('ul', { class: 'list scope-list', 'aria-label': 'Groups' }, groups().length ? groups().map((g) => h('li', null, h('label', { class: 'check' },
      h('input', { type: 'checkbox', value: g.id, checked: chosenGroups.has(g.id), 'data-testid': 'scope-group', onchange: (e) => toggle(chosenGroups, g.id, e.target.checked) }),
      icon('group'), h('span', { text: g.name })))) : h('li', null, empty('You are in no group.')));
    let all = [];
    const paintList = () => {
      const q = filter.value.trim().toLowerCase();
      const shown = all.filter((d) => d.status !== 'deleting' && (!q || d.filename.toLowerCase().includes(q)));
      replace(list, shown.length ? shown.map((d) => h('li', null, h('label', { class: 'check' },
        h('input', { type: 'checkbox', value: d.id, checked: chosenDocs.has(d.id), 'data-testid': 'scope-doc', onchange: (e) => toggle(chosenDocs, d.id, e.target.checked) }),
        icon('doc'), h('span', { class: 'ellipsis', text: d.filename }), d.status === 'ready' ? null : badge(d.status)))) : h('li', null, empty('No document matches.')));
    };
    filter.addEventListener('input', paintList);
    dialog('Answer only from', (close) => h('form', {
      class: 'stack scope-dialog', 'data-testid': 'scope-dialog',
      async onsubmit(e) {
        e.preventDefault();
        for (const d of all) if (chosenDocs.has(d.id)) docs.set(d.id, { filename: d.filename, status: d.status });
        if (await change({ document_ids: [...chosenDocs], group_ids: [...chosenGroups] })) { close(); resolve(); }
      },
    },
    h('p', { class: 'muted small', text: 'Answers in this chat come only from what you choose here. Choose nothing to use every document you can see.' }),
    h('h3', { class: 'small', text: 'Documents' }), filter, list,
    h('h3', { class: 'small', text: 'Groups (every document shared in them)' }), groupList,
    h('div', { class: 'row end' },
      button('Everything I can see', () => { chosenDocs.clear(); chosenGroups.clear(); for (const b of document.querySelectorAll('.scope-dialog input[type=checkbox]')) b.checked = false; }, { kind: 'ghost' }),
      button('Save', null, { kind: 'primary', type: 'submit' }))));
    try {
      all = (await api('GET', '/v1/documents?limit=200')).documents;
    } catch (err) { fail(err); }
    paintList();
  }

  function toggle(set, id, on) { if (on) set.add(id); else set.delete(id); }

  return {
    bar,
    buttons: [fileInput, attach, choose],
    /** set shows a chat's scope (null: none); pending takes the one the documents page left. */
    set(next, { pending = false } = {}) {
      let s = next;
      if (pending) {
        const left = takePendingScope();
        if (left) {
          for (const [id, filename] of Object.entries(left.names || {})) if (!docs.has(id)) docs.set(id, { filename, status: 'unknown' });
          s = left;
        }
      }
      scope = { document_ids: [...(s?.document_ids || [])], group_ids: [...(s?.group_ids || [])] };
      paint();
      resolve();
    },
    /** get is the scope to start a chat with, or null. */
    get: () => (isEmpty(scope) ? null : { document_ids: [...scope.document_ids], group_ids: [...scope.group_ids] }),
    /** busy names what the next question must wait for (an upload, indexing), or ''. */
    busy() {
      if (uploading) return 'Wait until the attached files are uploaded.';
      const d = scope.document_ids.map((id) => docs.get(id)).find((x) => x && INDEXING.has(x.status));
      return d ? `Wait until ${d.filename} is indexed: answers come from it once it is.` : '';
    },
    dispose() { disposed = true; clearTimeout(timer); },
  };
}
