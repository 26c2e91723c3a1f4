// Documents: drag-and-drop upload with progress, documents from web addresses,
// live ingestion status, filters, sharing, retry, re-fetch, download and delete;
// and "Ask about these", which opens a chat grounded in the documents chosen.
import { api, qs, upload } from '../api.js';
import { PENDING_SCOPE_KEY } from './chatscope.js';
import { h, icon, replace, when, bytes, safeURL } from '../dom.js';
import { badge, button, confirmAction, dialog, fail, field, pageHead, select, setOptions, toast, empty } from '../ui.js';

const ACTIVE = new Set(['queued', 'processing', 'deleting']);
const STATUSES = [['', 'Any status'], ['queued', 'Queued'], ['processing', 'Processing'], ['ready', 'Ready'], ['failed', 'Failed']];

export function mount(main, ctx) {
  let groups = ctx.me.groups || [];
  let docs = [];
  let timer = 0;
  let disposed = false;
  const filter = { status: '', group_id: '' };
  const rows = new Map(); // id -> { sig, tr }
  const chosen = new Map(); // id -> filename: the documents to ask about

  const groupName = (id) => groups.find((g) => g.id === id)?.name || 'a group you left';
  const groupOptions = (first) => [['', first], ...groups.map((g) => [g.id, g.name])];

  // Upload panel.
  const fileInput = h('input', { type: 'file', multiple: true, id: 'upload-input', class: 'visually-hidden', 'data-testid': 'upload-input' });
  const uploadGroup = select(groupOptions('Only me'), '', { id: 'upload-group' });
  const uploadPrivate = h('input', { type: 'checkbox', id: 'upload-private' });
  const uploads = h('ul', { class: 'uploads', 'aria-label': 'Uploads', 'aria-live': 'polite' });
  const drop = h('div', { class: 'dropzone', 'data-testid': 'dropzone' },
    icon('upload'),
    h('p', null, h('strong', { text: 'Drop files here' }), ' or '),
    fileInput,
    h('label', { for: 'upload-input', class: 'btn btn-primary' }, 'Choose files'),
    h('p', { class: 'muted small', text: 'PDF, Word, PowerPoint, Excel, OpenDocument, EPUB, HTML, e-mail, text, Markdown, CSV, RTF; pictures (PNG, JPEG, WebP, TIFF) and scans when OCR is set up.' }));
  // Documents from web addresses: the server fetches them, so they go through the
  // same stages, and the same rules, as the files above.
  const urlInput = h('textarea', { id: 'upload-urls', rows: 2, 'data-testid': 'url-input', spellcheck: 'false',
    placeholder: 'https://intranet.example.com/handbook.pdf', autocomplete: 'off' });
  const urlForm = h('form', { class: 'url-form', 'data-testid': 'url-form', onsubmit: (e) => { e.preventDefault(); addURLs(); } },
    field('Add from web addresses', urlInput, 'One address per line: web pages and any file type above. The server fetches them.'),
    h('div', { class: 'row end' }, button('Add', null, { kind: 'primary', type: 'submit', iconName: 'link' })));
  urlInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); addURLs(); }
  });
  const uploadPanel = h('section', { class: 'card', 'aria-labelledby': 'upload-title' },
    h('h2', { id: 'upload-title', text: 'Upload' }),
    drop,
    urlForm,
    h('div', { class: 'row wrap' },
      field('Share with', uploadGroup),
      h('label', { class: 'check' }, uploadPrivate, ' Keep private even in the group')),
    uploads);

  fileInput.addEventListener('change', () => { send([...fileInput.files]); fileInput.value = ''; });
  for (const type of ['dragenter', 'dragover']) drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add('over'); });
  for (const type of ['dragleave', 'drop']) drop.addEventListener(type, () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); send([...e.dataTransfer.files]); });

  function send(files) {
    if (!files.length) return;
    const bar = h('progress', { max: 1, value: 0, 'aria-label': 'Upload progress' });
    const state = h('span', { class: 'small', text: 'Uploading…' });
    const item = h('li', { class: 'upload' },
      h('span', { class: 'upload-names', text: files.map((f) => f.name).join(', ') }), bar, state);
    uploads.prepend(item);
    const { promise } = upload(files, { group_id: uploadGroup.value, private: uploadPrivate.checked ? 'true' : '' },
      (frac) => { bar.value = frac; state.textContent = `${Math.round(frac * 100)}%`; });
    promise.then((res) => {
      const dup = res.documents.filter((d) => d.duplicate).length;
      state.textContent = dup ? `Uploaded (${dup} already here)` : 'Uploaded';
      item.classList.add('done');
      setTimeout(() => item.remove(), 6000);
      refresh();
    }).catch((err) => {
      item.classList.add('failed');
      state.textContent = err.message;
      fail(err);
    });
  }

  async function addURLs() {
    const urls = urlInput.value.split(/\s+/).map((u) => u.trim()).filter(Boolean);
    if (!urls.length) { urlInput.focus(); return; }
    const state = h('span', { class: 'small', text: 'Adding…' });
    const item = h('li', { class: 'upload' }, h('span', { class: 'upload-names', text: urls.join(', ') }), state);
    uploads.prepend(item);
    const body = { urls, private: uploadPrivate.checked };
    if (uploadGroup.value) body.group_id = uploadGroup.value;
    try {
      const res = await api('POST', '/v1/documents', body);
      const dup = res.documents.filter((d) => d.duplicate).length;
      state.textContent = dup ? `Added, being fetched (${dup} already here)` : 'Added, being fetched';
      item.classList.add('done');
      urlInput.value = '';
      setTimeout(() => item.remove(), 6000);
      refresh();
    } catch (err) {
      item.classList.add('failed');
      state.textContent = err.fields?.length ? err.fields.map((f) => `${f.field}: ${f.message}`).join('; ') : err.message;
      fail(err);
    }
  }

  // Filters and the table.
  const statusFilter = select(STATUSES, '', { id: 'filter-status', 'data-testid': 'filter-status', onchange: (e) => { filter.status = e.target.value; refresh(); } });
  const groupFilter = select(groupOptions('Any group'), '', { id: 'filter-group', onchange: (e) => { filter.group_id = e.target.value; refresh(); } });
  const tbody = h('tbody');
  const table = h('table', { class: 'table cards', 'data-testid': 'documents' },
    h('caption', { class: 'visually-hidden', text: 'Your documents and the documents shared with you' }),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, h('span', { class: 'visually-hidden', text: 'Ask about' })),
      ['Name', 'Status', 'Sharing', 'Size', 'Added', 'Actions'].map((t) => h('th', { scope: 'col', text: t })))),
    tbody);
  const emptyNote = empty('No documents yet. Upload some above.');
  // Ask about these: the documents chosen open a chat grounded in them alone.
  const askButton = button('Ask about these', () => askAbout(), { kind: 'primary', iconName: 'chat' });
  askButton.dataset.testid = 'ask-about';
  const chosenNote = h('span', { class: 'small muted', 'aria-live': 'polite', 'data-testid': 'chosen-count' });
  const clearChosen = button('Clear', () => { chosen.clear(); paintChosen(); }, { kind: 'ghost' });
  const askBar = h('div', { class: 'row wrap ask-bar', 'data-testid': 'ask-bar' }, askButton, chosenNote, clearChosen);
  const listPanel = h('section', { class: 'card', 'aria-labelledby': 'list-title' },
    h('div', { class: 'row between wrap' }, h('h2', { id: 'list-title', text: 'Library' }),
      h('div', { class: 'row wrap' }, field('Status', statusFilter), field('Group', groupFilter))),
    askBar,
    h('div', { class: 'table-wrap' }, table), emptyNote);

  function paintChosen() {
    const n = chosen.size;
    askButton.disabled = n === 0;
    clearChosen.hidden = n === 0;
    chosenNote.textContent = n ? `${n} ${n === 1 ? 'document' : 'documents'} chosen` : 'Choose documents to ask about them';
    for (const box of tbody.querySelectorAll('input[data-testid=choose-doc]')) box.checked = chosen.has(box.value);
  }

  function askAbout() {
    if (!chosen.size) return;
    const scope = { document_ids: [...chosen.keys()], group_ids: [], names: Object.fromEntries(chosen) };
    try { sessionStorage.setItem(PENDING_SCOPE_KEY, JSON.stringify(scope)); } catch { /* full: the chat opens unscoped */ }
    ctx.navigate('chat');
  }

  replace(main, h('div', { class: 'page' }, pageHead('Documents'), uploadPanel, listPanel));

  function statusCell(d) {
    const parts = [badge(d.status)];
    if (d.status === 'processing') {
      const { chunks_done: done, chunks_total: total, pages_done: pagesDone, pages_total: pages } = d.progress || {};
      if (d.stage === 'parsing' && pages) {
        // OCR reads scanned pages and pictures one by one.
        parts.push(h('span', { class: 'small muted', text: ' reading pages' }),
          h('progress', { max: pages, value: pagesDone, 'aria-label': `${d.filename}: ${pagesDone} of ${pages} pages read` }),
          h('span', { class: 'small muted', 'data-testid': 'doc-pages', text: ` ${pagesDone}/${pages} pages` }));
        return parts;
      }
      parts.push(h('span', { class: 'small muted', text: ` ${d.stage || ''}` }));
      if (total) parts.push(h('progress', { max: total, value: done, 'aria-label': `${d.filename}: ${done} of ${total} chunks` }),
        h('span', { class: 'small muted', text: ` ${done}/${total}` }));
      else parts.push(h('progress', { 'aria-label': `${d.filename}: ${d.stage || 'working'}` }));
    }
    if (d.status === 'ready') parts.push(h('span', { class: 'small muted', text: ` ${d.chunk_count} ${d.chunk_count === 1 ? 'passage' : 'passages'}` }));
    if (d.original_available === false) parts.push(h('div', { class: 'small muted', 'data-testid': 'doc-text-only', text: 'Imported as text: the original file was not available' }));
    if (d.status === 'failed' && d.error) parts.push(h('div', { class: 'small error-text', 'data-testid': 'doc-error', text: d.error.message }));
    return parts;
  }

  function sharingText(d) {
    if (!d.group_id) return 'Only me';
    return d.private ? `${groupName(d.group_id)} (private)` : groupName(d.group_id);
  }

  function row(d) {
    const own = d.owner_id === ctx.me.id;
    const key = (a) => `${d.id}:${a}`;
    // A document imported from the previous deployment without its file has only its text.
    // Nothing to download: imported as text only, or not fetched from its address yet.
    const actions = d.original_available === false || !d.sha256 ? [] : [
      h('a', { class: 'btn btn-ghost btn-icon', href: `/v1/documents/${d.id}/content`, download: d.filename, title: `Download ${d.filename}`, 'aria-label': `Download ${d.filename}`, dataset: { key: key('download') } }, icon('download')),
    ];
    if (own && d.status !== 'deleting') {
      actions.push(withKey(button(`Sharing of ${d.filename}`, () => share(d), { iconName: 'group', iconOnly: true, kind: 'ghost' }), key('share')));
      if (d.status === 'failed' && !d.source_url) actions.push(withKey(button('Retry', () => retry(d), { iconName: 'retry', kind: 'ghost' }), key('retry')));
      if (d.source_url && (d.status === 'ready' || d.status === 'failed')) {
        const b = withKey(button('Re-fetch', () => refetch(d), { iconName: 'retry', kind: 'ghost', title: `Fetch ${d.source_url} again` }), key('refetch'));
        b.dataset.testid = 'refetch';
        actions.push(b);
      }
      actions.push(withKey(button(`Delete ${d.filename}`, () => remove(d), { iconName: 'trash', iconOnly: true, kind: 'ghost' }), key('delete')));
    }
    const choose = h('input', {
      type: 'checkbox', value: d.id, checked: chosen.has(d.id), disabled: d.status === 'deleting', 'data-testid': 'choose-doc',
      'aria-label': `Ask about ${d.filename}`, dataset: { key: key('choose') },
      onchange: (e) => { if (e.target.checked) chosen.set(d.id, d.filename); else chosen.delete(d.id); paintChosen(); },
    });
    return h('tr', { dataset: { id: d.id, status: d.status }, 'data-testid': 'doc-row' },
      h('td', { class: 'choose' }, choose),
      h('th', { scope: 'row', class: 'name' }, h('span', { class: 'filename', text: d.filename }),
        own ? null : h('span', { class: 'small muted', text: ' · shared with you' }),
        d.source_url ? h('a', { class: 'source-url small muted', href: safeURL(d.source_url), target: '_blank', rel: 'noopener noreferrer',
          'data-testid': 'source-url', title: d.source_url, text: d.source_url }) : null),
      h('td', { class: 'status', 'data-label': 'Status' }, statusCell(d)),
      h('td', { class: 'sharing', 'data-label': 'Sharing', text: own ? sharingText(d) : groupName(d.group_id) }),
      h('td', { class: 'num', 'data-label': 'Size', text: bytes(d.size_bytes) }),
      h('td', { 'data-label': 'Added' }, when(d.created_at)),
      h('td', { class: 'actions' }, h('div', { class: 'row' }, actions)));
  }

  function withKey(el, key) { el.dataset.key = key; return el; }

  function paint() {
    const focused = document.activeElement?.dataset?.key;
    const seen = new Set();
    let prev = null;
    for (const d of docs) {
      seen.add(d.id);
      const sig = JSON.stringify([d.status, d.stage, d.progress, d.group_id, d.private, d.error, d.chunk_count, d.filename, d.size_bytes, groups.length]);
      let entry = rows.get(d.id);
      if (!entry || entry.sig !== sig) {
        const tr = row(d);
        if (entry) entry.tr.replaceWith(tr);
        entry = { sig, tr };
        rows.set(d.id, entry);
      }
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== entry.tr) tbody.insertBefore(entry.tr, want);
      prev = entry.tr;
    }
    for (const [id, entry] of rows) if (!seen.has(id)) { entry.tr.remove(); rows.delete(id); }
    for (const d of docs) if (d.status === 'deleting') chosen.delete(d.id);
    paintChosen();
    emptyNote.hidden = docs.length > 0;
    if (focused && document.activeElement === document.body) tbody.querySelector(`[data-key="${CSS.escape(focused)}"]`)?.focus();
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const res = await api('GET', `/v1/documents${qs({ ...filter, limit: 200 })}`);
      if (disposed) return;
      docs = res.documents;
      paint();
    } catch (err) {
      if (!disposed) fail(err);
    }
    if (!disposed) timer = setTimeout(refresh, docs.some((d) => ACTIVE.has(d.status)) ? 1200 : 8000);
  }

  async function retry(d) {
    try { await api('POST', `/v1/documents/${d.id}/retry`); toast(`${d.filename} queued again`); refresh(); } catch (err) { fail(err); }
  }

  async function refetch(d) {
    try { await api('POST', `/v1/documents/${d.id}/refetch`); toast(`${d.filename} will be fetched again`); refresh(); } catch (err) { fail(err); }
  }

  async function remove(d) {
    if (!await confirmAction('Delete document', `Delete “${d.filename}”? It disappears from search and chat at once.`)) return;
    try { await api('DELETE', `/v1/documents/${d.id}`); chosen.delete(d.id); toast(`${d.filename} deleted`); refresh(); } catch (err) { fail(err); }
  }

  function share(d) {
    const group = select(groupOptions('Nobody (only me)'), d.group_id || '', { 'data-testid': 'share-group' });
    const priv = h('input', { type: 'checkbox', checked: d.private });
    dialog(`Sharing: ${d.filename}`, (close) => h('form', {
      class: 'stack',
      async onsubmit(e) {
        e.preventDefault();
        const body = group.value ? { group_id: group.value, private: priv.checked } : { group_id: null };
        try {
          await api('PATCH', `/v1/documents/${d.id}`, body);
          toast(group.value ? (priv.checked ? 'Kept private in the group' : `Shared with ${groupName(group.value)}`) : 'No longer shared');
          close();
          refresh();
        } catch (err) { fail(err); }
      },
    },
    groups.length ? null : h('p', { class: 'muted', text: 'You are in no group yet. Create one on the Groups page.' }),
    field('Group', group, 'Members of the group can find this document in search and chat.'),
    h('label', { class: 'check' }, priv, ' Private: keep it in the group but visible only to me'),
    h('div', { class: 'row end' }, button('Cancel', () => close(), { kind: 'ghost' }), button('Save', null, { kind: 'primary', type: 'submit' }))));
  }

  ctx.refreshMe().then((me) => {
    groups = me.groups || [];
    setOptions(uploadGroup, groupOptions('Only me'), uploadGroup.value);
    setOptions(groupFilter, groupOptions('Any group'), filter.group_id);
    rows.clear();
    replace(tbody);
    paint();
  }).catch(fail);
  refresh();

  return { dispose() { disposed = true; clearTimeout(timer); } };
}
