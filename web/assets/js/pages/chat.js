// Chat: sessions, streamed answers with live tool calls and citations, stop, and a
// stream that resumes by itself after a reload or a dropped connection; search across
// chats, copy, highlighted code, feedback, export and keyboard shortcuts.
import { api, followTurn, qs } from '../api.js';
import { h, icon, replace, when, safeURL } from '../dom.js';
import { highlightAll } from '../highlight.js';
import { renderMarkdown } from '../markdown.js';
import { badge, button, confirmAction, copyText, dialog, empty, fail, field, toast } from '../ui.js';
import { scopeControl } from './chatscope.js';

const LIVE = new Set(['queued', 'running']);
const snapshotKey = (turnId) => `yw.turn.${turnId}`;
const modelKey = (sessionId) => `yw.model.${sessionId}`;
const MOD = /Mac|iPhone|iPad/.test(navigator.platform) ? '⌘' : 'Ctrl';

/** SHORTCUTS are the chat's keyboard shortcuts, as the help lists them. */
const SHORTCUTS = [
  [`${MOD}+Shift+O`, 'New chat'],
  [`${MOD}+K`, 'Search chats'],
  ['/ or Shift+Esc', 'Focus the message box'],
  ['Esc', 'Stop the answer'],
  ['Enter · Shift+Enter', 'Send · new line'],
];

export function mount(main, ctx) {
  let sessions = [];
  let current = ctx.params[0] || '';
  let live = null; // { turnId, view, follower }
  let focusMessage = ctx.params[1] || '';
  let disposed = false;
  let loadSeq = 0;

  const sessionList = h('ul', { class: 'list sessions-list', 'aria-label': 'Conversations', 'data-testid': 'sessions' });
  const search = h('input', {
    type: 'search', placeholder: `Search chats (${MOD}+K)`, 'aria-label': 'Search chats', 'data-testid': 'chat-search',
    maxlength: 200, autocomplete: 'off', spellcheck: 'false',
  });
  const results = h('ul', { class: 'list search-results', 'aria-label': 'Chats found', 'data-testid': 'search-results', hidden: true });
  const moreResults = button('More results', () => runSearch(true), { kind: 'ghost' });
  moreResults.hidden = true;
  const newButton = button('New chat', () => newChat(), { kind: 'primary', iconName: 'plus', title: `New chat (${MOD}+Shift+O)` });
  newButton.dataset.testid = 'new-chat';
  const aside = h('aside', { class: 'chat-sessions', 'aria-label': 'Conversations' },
    newButton, h('div', { class: 'chat-search', role: 'search' }, icon('search'), search), results, moreResults, sessionList);
  const title = h('h1', { class: 'chat-title', text: 'New chat' });
  const exportLink = h('a', { class: 'btn btn-ghost', 'data-testid': 'export-chat', download: '', hidden: true, title: 'Download this chat as a Markdown file' },
    icon('download'), h('span', { text: 'Export' }));
  const help = h('details', { class: 'shortcuts', 'data-testid': 'shortcuts-help' },
    h('summary', { class: 'btn btn-ghost btn-icon', title: 'Keyboard shortcuts', 'aria-label': 'Keyboard shortcuts' }, icon('keyboard')),
    h('div', { class: 'shortcuts-panel', role: 'note' }, h('h2', { class: 'small', text: 'Keyboard shortcuts' }),
      h('dl', null, SHORTCUTS.map(([keys, what]) => [h('dt', null, h('kbd', { text: keys })), h('dd', { text: what })]))));
  const log = h('div', { class: 'messages', role: 'log', 'aria-label': 'Messages', 'data-testid': 'messages' });
  const announcer = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });
  const input = h('textarea', { rows: 1, placeholder: 'Ask about your documents…', 'aria-label': 'Message', 'data-testid': 'composer', maxlength: 32000, title: 'Focus with / or Shift+Esc' });
  const tools = h('input', { type: 'checkbox', checked: true, 'data-testid': 'tools-toggle' });
  // The chat model of this chat: among those the operator allows, kept per chat.
  const picker = h('select', { class: 'model-picker small', 'aria-label': 'Model', title: 'The model that answers in this chat', 'data-testid': 'model-picker', hidden: true });
  let models = []; // [{name, default, available}]
  let pendingModel = ''; // chosen before a new chat has a session
  let lastTurnModel = ''; // the model of the open chat's last answer
  picker.addEventListener('change', () => {
    if (current) rememberModel(current, picker.value); else pendingModel = picker.value;
  });
  const send = button('Send', null, { kind: 'primary', iconName: 'send', iconOnly: true, type: 'submit' });
  const stop = button('Stop', () => cancelLive(), { kind: 'danger', iconName: 'stop', iconOnly: true, title: 'Stop (Esc)' });
  stop.hidden = true;
  stop.dataset.testid = 'stop';
  // The chat's grounding: chips above the message box, attach and choose beside Tools.
  const scope = scopeControl({
    groups: () => ctx.me.groups || [],
    async save(next) {
      if (!current) return; // a new chat starts with it
      const s = await api('PATCH', `/v1/chat/sessions/${current}`, { scope: next });
      const known = sessions.find((x) => x.id === s.id);
      if (known) Object.assign(known, s);
    },
  });
  const toggleAside = button('Conversations', () => aside.classList.toggle('open'), { kind: 'ghost', iconName: 'menu', iconOnly: true });
  toggleAside.classList.add('only-narrow');
  const form = h('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); submit(); } },
    scope.bar,
    input,
    h('div', { class: 'composer-bar' },
      h('label', { class: 'check small', title: 'Let the assistant call tools (search, MCP servers) for this message' }, tools, ' Tools'),
      scope.buttons,
      picker,
      h('span', { class: 'grow' }), stop, send));
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
  });
  input.addEventListener('input', autosize);

  replace(main, h('div', { class: 'chat' }, aside,
    h('section', { class: 'conversation', 'aria-labelledby': 'chat-title' },
      h('div', { class: 'chat-head' }, toggleAside, title, h('span', { class: 'grow' }), exportLink, help), log, announcer, form)));
  title.id = 'chat-title';

  // Keyboard shortcuts, for the page while the chat is shown.
  const editable = (el) => el instanceof HTMLElement && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
  function onKey(e) {
    if (e.defaultPrevented || e.isComposing || document.querySelector('dialog[open]')) return;
    const mod = e.ctrlKey || e.metaKey;
    const key = e.key.toLowerCase();
    if (mod && e.shiftKey && key === 'o') {
      e.preventDefault();
      newChat();
    } else if (mod && !e.shiftKey && key === 'k') {
      e.preventDefault();
      aside.classList.add('open');
      search.focus();
      search.select();
    } else if ((e.key === 'Escape' && e.shiftKey) || (e.key === '/' && !mod && !editable(e.target))) {
      e.preventDefault();
      input.focus();
    } else if (e.key === 'Escape' && help.open) {
      help.open = false;
    } else if (e.key === 'Escape' && live) {
      e.preventDefault();
      cancelLive();
    }
  }
  document.addEventListener('keydown', onKey);
  const closeHelp = (e) => { if (help.open && !help.contains(e.target)) help.open = false; };
  document.addEventListener('click', closeHelp);

  // Search across chats: results replace the list of chats while there is a query.
  let searchSeq = 0;
  let searchTimer = 0;
  let searchCursor = null;
  search.addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => runSearch(false), 250); });
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && search.value) {
      e.preventDefault();
      search.value = '';
      runSearch(false);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      clearTimeout(searchTimer);
      runSearch(false).then(() => results.querySelector('a')?.click());
    }
  });

  async function runSearch(more) {
    const q = search.value.trim();
    const seq = ++searchSeq;
    const showResults = (on) => { results.hidden = !on; sessionList.hidden = on; if (!on) moreResults.hidden = true; };
    if (!q) { showResults(false); return; }
    let res;
    try {
      res = await api('GET', `/v1/chat/search${qs({ q, limit: 30, cursor: more ? searchCursor : '' })}`);
    } catch (err) {
      if (seq !== searchSeq || disposed) return;
      replace(results, h('li', { class: 'small error-text', text: err.message }));
      showResults(true);
      return;
    }
    if (seq !== searchSeq || disposed) return;
    searchCursor = res.next_cursor;
    const terms = searchTerms(q);
    const items = res.results.map((r) => h('li', null, h('a', {
      href: `#/chat/${r.session_id}${r.message_id ? `/${r.message_id}` : ''}`, class: 'list-item search-hit', 'data-testid': 'search-hit',
      onclick: () => aside.classList.remove('open'),
    }, h('span', { class: 'session-text' },
      h('span', { class: 'ellipsis hit-title' }, marked(r.title || 'Untitled', terms)),
      r.message_id ? h('span', { class: 'small hit-snippet' }, marked(r.snippet, terms)) : null,
      h('span', { class: 'small muted' }, when(r.created_at))))));
    if (more) results.append(...items);
    else replace(results, items.length ? items : h('li', null, empty(`No chat of yours contains “${q}”.`)));
    moreResults.hidden = !searchCursor;
    showResults(true);
  }

  function autosize() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 240)}px`;
  }

  function setBusy(busy) {
    stop.hidden = !busy;
    send.hidden = busy;
    log.parentElement.classList.toggle('busy', busy);
  }

  // Models: the picker lists the allowed ones; one not installed cannot be chosen.
  async function loadModels() {
    try {
      models = (await api('GET', '/v1/models')).models;
    } catch {
      models = [];
    }
    if (disposed) return;
    picker.replaceChildren(...models.map((m) => h('option', {
      value: m.name, disabled: !m.available,
      text: `${m.name}${m.default ? ' (default)' : ''}${m.available ? '' : ' — not installed'}`,
    })));
    picker.hidden = models.length < 2;
    showModel();
  }

  const defaultModel = () => models.find((m) => m.default)?.name || '';
  const usable = (name) => models.some((m) => m.name === name && m.available);

  /**
   * showModel selects the open chat's model in the picker: the one chosen for it
   * in this browser, else the one its last answer came from; the default when
   * that cannot be used.
   */
  function showModel() {
    const name = current ? storedModel(current) || lastTurnModel : pendingModel;
    picker.value = usable(name) ? name : defaultModel();
  }

  function storedModel(sessionId) {
    try { return localStorage.getItem(modelKey(sessionId)) || ''; } catch { return ''; }
  }

  function rememberModel(sessionId, name) {
    try { localStorage.setItem(modelKey(sessionId), name); } catch { /* full or denied: the picker still works */ }
  }

  /** chosenModel is what a message names: the picker's model, when there is a choice. */
  const chosenModel = () => (picker.hidden || !picker.value ? {} : { model: picker.value });

  // Sessions.
  async function loadSessions() {
    try {
      sessions = (await api('GET', '/v1/chat/sessions?limit=200')).sessions;
    } catch (err) {
      return fail(err);
    }
    paintSessions();
  }

  function paintSessions() {
    replace(sessionList, sessions.length ? sessions.map((s) => h('li', { class: 'session' },
      h('a', { href: `#/chat/${s.id}`, class: ['list-item', s.id === current && 'active'], 'aria-current': s.id === current ? 'page' : null, onclick: () => aside.classList.remove('open') },
        h('span', { class: 'session-text' }, h('span', { class: 'ellipsis', text: s.title || 'Untitled' }), h('span', { class: 'small muted' }, when(s.updated_at)))),
      h('div', { class: 'session-actions' },
        exportButton(s),
        button(`Rename ${s.title || 'chat'}`, () => rename(s), { kind: 'ghost', iconName: 'edit', iconOnly: true }),
        button(`Delete ${s.title || 'chat'}`, () => remove(s), { kind: 'ghost', iconName: 'trash', iconOnly: true })))) : empty('No conversations yet.'));
  }

  function exportButton(s) {
    const label = `Export ${s.title || 'chat'} as Markdown`;
    return h('a', { class: 'btn btn-ghost btn-icon', href: exportURL(s.id), download: '', title: label, 'aria-label': label, 'data-testid': 'export-session' }, icon('download'));
  }

  function newChat() {
    current = '';
    focusMessage = '';
    if (location.hash !== '#/chat') ctx.navigate('chat'); else open();
    input.focus();
  }

  function rename(s) {
    const name = h('input', { value: s.title || '', required: true, maxlength: 200 });
    dialog('Rename chat', (close) => h('form', {
      class: 'stack',
      async onsubmit(e) {
        e.preventDefault();
        try {
          const upd = await api('PATCH', `/v1/chat/sessions/${s.id}`, { title: name.value.trim() });
          Object.assign(s, upd);
          if (s.id === current) title.textContent = upd.title;
          paintSessions();
          close();
        } catch (err) { fail(err); }
      },
    }, field('Title', name), h('div', { class: 'row end' }, button('Cancel', () => close(), { kind: 'ghost' }), button('Save', null, { kind: 'primary', type: 'submit' }))));
    name.select();
  }

  async function remove(s) {
    if (!await confirmAction('Delete chat', `Delete “${s.title || 'Untitled'}” and all its messages?`)) return;
    try {
      await api('DELETE', `/v1/chat/sessions/${s.id}`);
      try { localStorage.removeItem(modelKey(s.id)); } catch { /* nothing kept */ }
      sessions = sessions.filter((x) => x.id !== s.id);
      if (s.id === current) newChat(); else paintSessions();
    } catch (err) { fail(err); }
  }

  // One conversation.
  async function open() {
    const seq = ++loadSeq;
    stopLive();
    paintSessions();
    exportLink.hidden = !current;
    if (current) exportLink.href = exportURL(current);
    lastTurnModel = '';
    showModel();
    if (!current) {
      scope.set(null, { pending: true });
      title.textContent = 'New chat';
      replace(log, h('div', { class: 'welcome' }, h('h2', { text: 'What would you like to know?' }),
        h('p', { class: 'muted', text: `Answers come from the documents you can see, with citations. Press Enter to send, Shift+Enter for a new line; ${MOD}+K searches your chats.` })));
      return;
    }
    let data;
    try { data = await api('GET', `/v1/chat/sessions/${current}`); } catch (err) {
      if (err.status === 404) { toast('That conversation no longer exists'); return newChat(); }
      return fail(err);
    }
    if (seq !== loadSeq || disposed) return;
    title.textContent = data.session.title || 'Untitled';
    scope.set(data.session.scope);
    replace(log);
    // Messages by place: a place asked again (regenerated, or its question edited)
    // holds every question and answer given there, the newest shown.
    const places = [];
    const byTurn = new Map();
    for (const m of data.messages) {
      if (m.role === 'user') {
        const key = m.regenerate_of || m.turn_id || m.id;
        let place = places.at(-1);
        if (!place || place.key !== key) { place = { key, asks: [] }; places.push(place); }
        const ask = { question: m, answer: null };
        place.asks.push(ask);
        if (m.turn_id) byTurn.set(m.turn_id, ask);
      } else if (byTurn.has(m.turn_id)) {
        byTurn.get(m.turn_id).answer = m;
      }
    }
    for (const { asks } of places) {
      const place = placeView();
      log.append(place.node);
      for (const { question: m, answer } of asks) {
        const bubble = userBubble(m.content, { at: m.created_at, id: m.id });
        if (!answer) {
          if (m.turn_id) await resumeOrShow(place, bubble, m.turn_id, m.content, seq);
          else place.add(bubble, null);
          if (seq !== loadSeq) return;
          continue;
        }
        const view = turnView(m.content, m.turn_id);
        view.node.dataset.messageId = answer.id;
        view.state.text = answer.content;
        view.state.status = 'completed';
        view.state.at = answer.created_at;
        place.add(bubble, view);
        view.paint();
        if (m.turn_id) {
          const last = m === data.messages.findLast((x) => x.role === 'user');
          api('GET', `/v1/chat/turns/${m.turn_id}`).then((t) => {
            view.fromTurn(t, true);
            // A chat this browser has no choice for goes on with its last model.
            if (last && seq === loadSeq) { lastTurnModel = t.model; showModel(); }
          }).catch(() => {});
        }
      }
    }
    const found = focusMessage && log.querySelector(`[data-message-id="${CSS.escape(focusMessage)}"]`);
    if (found) {
      found.closest('.place')?.place?.showAsk(found.closest('.ask'));
      found.scrollIntoView({ block: 'center' });
      found.classList.add('found');
      // Found once: a reload shows the chat as it is, not that message again.
      focusMessage = '';
      history.replaceState(null, '', `#/chat/${current}`);
    } else {
      scrollDown(true);
    }
  }

  // A turn without an answer message is still running (resume it) or ended without one.
  async function resumeOrShow(place, bubble, turnId, question, seq) {
    let turn;
    try { turn = await api('GET', `/v1/chat/turns/${turnId}`); } catch { return; }
    if (seq !== loadSeq) return;
    const view = turnView(question, turnId);
    place.add(bubble, view);
    if (LIVE.has(turn.status)) {
      const snap = readSnapshot(turnId);
      if (snap) Object.assign(view.state, snap.state);
      view.state.status = 'running';
      view.paint();
      follow(turnId, view, snap ? snap.last : 0);
    } else {
      view.fromTurn(turn, false);
    }
  }

  /**
   * placeView is one place in the chat: a question and its answer, or, once asked
   * again, every question and answer given there with a switcher between them.
   */
  function placeView() {
    const node = h('div', { class: 'place', 'data-testid': 'place' });
    const asks = [];
    const place = {
      node,
      add(bubble, view) {
        const ask = h('div', { class: 'ask' }, bubble, h('div', { class: 'ask-switch small muted', 'data-testid': 'ask-switch' }));
        ask.bubble = bubble;
        asks.push(ask);
        node.append(ask);
        place.show(asks.length - 1);
        if (view) place.attach(ask, view);
        return ask;
      },
      // attach puts the answer under its question, with what can be done to them.
      attach(ask, view) {
        ask.view = view;
        ask.bubble.after(view.node);
        view.onRegenerate = () => askAgain(place, ask, '');
        ask.bubble.querySelector('[data-testid=edit-question]').addEventListener('click', () => editQuestion(place, ask));
      },
      show(i) {
        asks.forEach((a, k) => {
          a.hidden = k !== i;
          const bar = a.querySelector('.ask-switch');
          if (asks.length < 2) { replace(bar); return; }
          replace(bar,
            button('Previous answer', () => place.show(k - 1), { kind: 'ghost', iconName: 'left', iconOnly: true, disabled: k === 0 }),
            h('span', { 'data-testid': 'ask-position', text: `${k + 1}/${asks.length}` }),
            button('Next answer', () => place.show(k + 1), { kind: 'ghost', iconName: 'right', iconOnly: true, disabled: k === asks.length - 1 }));
        });
      },
      showAsk(ask) { const i = asks.indexOf(ask); if (i >= 0) place.show(i); },
    };
    node.place = place;
    return place;
  }

  /** askAgain asks a place again: the same question (content '') or content, edited. */
  async function askAgain(place, ask, content) {
    if (live) return;
    const question = content || ask.bubble.querySelector('.bubble').textContent;
    const useTools = tools.checked;
    try {
      const res = await api('POST', `/v1/chat/sessions/${current}/messages`, { regenerate_of: ask.view.turnId, content, tools: useTools, ...chosenModel() });
      const view = turnView(question, res.turn.id);
      view.state.status = 'queued';
      view.state.tools = useTools;
      view.state.model = res.turn.model || '';
      place.add(userBubble(question, { tools: useTools, at: res.message.created_at, id: res.message.id }), view);
      view.paint();
      scrollDown(true);
      follow(res.turn.id, view, 0);
    } catch (err) { fail(err); }
  }

  /** editQuestion turns the question into a form that asks the place again. */
  function editQuestion(place, ask) {
    if (live || ask.querySelector('.edit-form')) return;
    const text = ask.bubble.querySelector('.bubble');
    const area = h('textarea', { rows: 3, maxlength: 32000, 'aria-label': 'Edit the question', 'data-testid': 'edit-input' });
    area.value = text.textContent;
    const close = () => { form.remove(); ask.bubble.hidden = false; };
    const form = h('form', {
      class: 'edit-form stack', 'data-testid': 'edit-form',
      onsubmit: (e) => {
        e.preventDefault();
        const content = area.value.trim();
        if (!content) return;
        close();
        askAgain(place, ask, content);
      },
    }, area, h('div', { class: 'row end' },
      button('Cancel', close, { kind: 'ghost' }), button('Send', null, { kind: 'primary', type: 'submit' })));
    area.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { e.preventDefault(); close(); }
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
    });
    ask.bubble.hidden = true;
    ask.bubble.after(form);
    area.focus();
  }

  async function submit() {
    const content = input.value.trim();
    if (!content || live) return;
    const wait = scope.busy();
    if (wait) { toast(wait); return; }
    loadSeq++; // a chat still loading must not paint over this question
    const useTools = tools.checked;
    input.value = '';
    autosize();
    try {
      if (!current) {
        const s = await api('POST', '/v1/chat/sessions', { title: content.replace(/\s+/g, ' ').slice(0, 60), scope: scope.get() });
        sessions.unshift(s);
        current = s.id;
        if (!picker.hidden) rememberModel(s.id, picker.value);
        pendingModel = '';
        title.textContent = s.title;
        replace(log);
        history.replaceState(null, '', `#/chat/${s.id}`);
        paintSessions();
      }
      log.querySelector('.welcome')?.remove();
      exportLink.hidden = false;
      exportLink.href = exportURL(current);
      const place = placeView();
      const bubble = userBubble(content, { tools: useTools, at: new Date().toISOString() });
      const ask = place.add(bubble, null);
      log.append(place.node);
      let res;
      try {
        res = await api('POST', `/v1/chat/sessions/${current}/messages`, { content, tools: useTools, ...chosenModel() });
      } catch (err) {
        place.node.remove();
        throw err;
      }
      bubble.dataset.messageId = res.message.id;
      const view = turnView(content, res.turn.id);
      view.state.status = 'queued';
      view.state.tools = useTools;
      view.state.model = res.turn.model || '';
      place.attach(ask, view);
      view.paint();
      scrollDown(true);
      follow(res.turn.id, view, 0);
    } catch (err) {
      input.value = content;
      fail(err);
    }
  }

  function follow(turnId, view, after) {
    setBusy(true);
    let saveTimer = 0;
    const save = () => {
      saveTimer = 0;
      try { sessionStorage.setItem(snapshotKey(turnId), JSON.stringify({ last: follower.lastEventId(), state: view.state })); } catch { /* full: resume replays */ }
    };
    const follower = followTurn(turnId, after, (type, data) => {
      view.event(type, data);
      if (type === 'turn.completed' || type === 'turn.failed' || type === 'turn.cancelled') {
        clearTimeout(saveTimer);
        sessionStorage.removeItem(snapshotKey(turnId));
        announcer.textContent = type === 'turn.completed' ? 'Answer complete.' : type === 'turn.failed' ? 'The answer failed.' : 'Stopped.';
        if (live?.turnId === turnId) { live = null; setBusy(false); }
        const s = sessions.find((x) => x.id === current);
        if (s) { s.updated_at = new Date().toISOString(); sessions = [s, ...sessions.filter((x) => x !== s)]; paintSessions(); }
      } else if (!saveTimer) {
        saveTimer = setTimeout(save, 150);
      }
      scrollDown(false);
    }, (state) => {
      view.connection(state);
      if (state === 'reconnecting') checkGone(turnId);
    });
    live = { turnId, view, follower };
  }

  // A stream that keeps failing may be for a turn that is gone or already over.
  async function checkGone(turnId) {
    try {
      const t = await api('GET', `/v1/chat/turns/${turnId}`);
      if (!LIVE.has(t.status) && live?.turnId === turnId) {
        const { view } = live;
        stopLive();
        view.fromTurn(t, false);
        sessionStorage.removeItem(snapshotKey(turnId));
      }
    } catch (err) {
      if (err.status === 404 && live?.turnId === turnId) stopLive();
    }
  }

  function stopLive() {
    if (live) live.follower.stop();
    live = null;
    setBusy(false);
  }

  async function cancelLive() {
    if (!live) return;
    try { await api('POST', `/v1/chat/turns/${live.turnId}/cancel`); } catch (err) { fail(err); }
  }

  function scrollDown(force) {
    const near = log.scrollHeight - log.scrollTop - log.clientHeight < 120;
    if (force || near) log.scrollTop = log.scrollHeight;
  }

  // The chat opens at once, not after the list: a question asked before the list
  // arrives must not be wiped by a late first paint.
  open();
  loadSessions();
  loadModels();
  input.focus();

  return {
    update(params) { current = params[0] || ''; focusMessage = params[1] || ''; open(); },
    dispose() {
      disposed = true;
      scope.dispose();
      stopLive();
      clearTimeout(searchTimer);
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('click', closeHelp);
    },
  };
}

const exportURL = (sessionId) => `/v1/chat/sessions/${encodeURIComponent(sessionId)}/export`;

/**
 * searchTerms are the words of a search query that the chats found contain, as
 * the server reads them: no quotes, no "or", no excluded -words.
 */
function searchTerms(q) {
  return q.replaceAll('"', ' ').split(/\s+/).filter((w) => w && !w.startsWith('-') && w.toLowerCase() !== 'or')
    .flatMap((w) => w.split(/[^\p{L}\p{N}]+/u)).filter(Boolean);
}

/** marked shows text with the places where terms occur (ignoring case) marked. */
function marked(text, terms) {
  if (!terms.length) return text;
  const re = new RegExp(terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'giu');
  const out = [];
  let at = 0;
  for (const m of text.matchAll(re)) {
    if (!m[0]) continue;
    out.push(text.slice(at, m.index), h('mark', { text: m[0] }));
    at = m.index + m[0].length;
  }
  out.push(text.slice(at));
  return out;
}

function readSnapshot(turnId) {
  try { return JSON.parse(sessionStorage.getItem(snapshotKey(turnId)) || 'null'); } catch { return null; }
}

function userBubble(text, { tools = true, at = '', id = '' } = {}) {
  const edit = button('Edit the question and ask again', null, { kind: 'ghost', iconName: 'edit', iconOnly: true });
  edit.classList.add('only-last');
  edit.dataset.testid = 'edit-question';
  return h('div', { class: 'msg msg-user', 'data-testid': 'msg-user', dataset: id ? { messageId: id } : null },
    h('div', { class: 'bubble', text }),
    h('div', { class: 'small muted msg-meta', 'data-testid': 'msg-time' }, edit, at ? when(at) : null, tools ? null : (at ? ' · tools off' : 'tools off')));
}

/** answerMarkdown is an answer as Markdown: its text, then the sources it cites. */
function answerMarkdown(state) {
  const sources = [...state.citations].sort((a, b) => a.index - b.index)
    .map((c) => (c.url ? `- [${c.index}] ${c.filename.split(/\s+/).join(' ')}, <${c.url}>`
      : `- [${c.index}] ${c.filename.split(/\s+/).join(' ')}, passage ${c.chunk_index + 1}`));
  return state.text.trim() + (sources.length ? `\n\nSources:\n\n${sources.join('\n')}\n` : '\n');
}

/** decorateCode gives every code block a button that copies its code. */
function decorateCode(root) {
  for (const pre of root.querySelectorAll('pre')) {
    const code = pre.querySelector('code');
    if (!code) continue;
    const copy = button('Copy code', () => copyText(code.textContent, 'Code copied'), { kind: 'ghost', iconName: 'copy', iconOnly: true });
    copy.classList.add('code-copy');
    copy.dataset.testid = 'copy-code';
    const block = h('div', { class: 'code-block', dataset: code.dataset.lang ? { lang: code.dataset.lang } : null });
    pre.replaceWith(block);
    block.append(pre, copy);
  }
}

/**
 * turnView renders one answer as it streams: text, thinking, tool calls, citations;
 * once it has ended, highlighted code and the actions on it (copy, feedback).
 */
function turnView(question, turnId) {
  const state = { status: 'queued', text: '', thinking: '', tools: true, calls: [], citations: [], error: null, model: '', usage: null, at: '', feedback: null };
  const body = h('div', { class: 'md answer', 'data-testid': 'answer' });
  const thinking = h('details', { class: 'thinking', hidden: true }, h('summary', { text: 'Reasoning' }), h('div', { class: 'small pre' }));
  const calls = h('ul', { class: 'tool-calls', 'aria-label': 'Tool calls', 'data-testid': 'tool-calls' });
  const cites = h('ol', { class: 'citations', 'aria-label': 'Sources', 'data-testid': 'citations' });
  const meta = h('div', { class: 'msg-meta small muted' });

  // Actions on an ended answer: built once, so a comment being typed survives repaints.
  const copy = button('Copy answer as Markdown', () => copyText(answerMarkdown(state), 'Answer copied as Markdown'), { kind: 'ghost', iconName: 'copy', iconOnly: true });
  copy.dataset.testid = 'copy-answer';
  const up = button('Good answer', () => rate('up'), { kind: 'ghost', iconName: 'up', iconOnly: true });
  up.dataset.testid = 'feedback-up';
  const down = button('Bad answer', () => rate('down'), { kind: 'ghost', iconName: 'down', iconOnly: true });
  down.dataset.testid = 'feedback-down';
  const comment = h('textarea', { rows: 2, maxlength: 2000, 'aria-label': 'Comment on this answer', 'data-testid': 'feedback-comment', placeholder: 'What was good or bad about it? (optional)' });
  const commentForm = h('form', {
    class: 'feedback-form stack', hidden: true, 'data-testid': 'feedback-form',
    onsubmit: (e) => { e.preventDefault(); sendFeedback(state.feedback.rating, comment.value); },
  }, comment, h('div', { class: 'row end' },
    button('Skip', () => { commentForm.hidden = true; }, { kind: 'ghost' }),
    button('Send feedback', null, { kind: 'primary', type: 'submit' })));
  const again = button('Ask again for another answer', () => view.onRegenerate?.(), { kind: 'ghost', iconName: 'retry', iconOnly: true });
  again.classList.add('only-last');
  again.dataset.testid = 'regenerate';
  const actions = h('div', { class: 'msg-actions', 'data-testid': 'answer-actions', hidden: true }, copy, up, down, again);

  const node = h('article', { class: 'msg msg-assistant', 'data-testid': 'msg-assistant' },
    h('div', { class: 'avatar', 'aria-hidden': 'true' }, icon('chat')),
    h('div', { class: 'msg-body' }, thinking, calls, body, cites, meta, actions, commentForm));
  let frame = 0;

  async function sendFeedback(rating, text) {
    try {
      await api('POST', `/v1/chat/turns/${turnId}/feedback`, text === undefined ? { rating } : { rating, comment: text });
    } catch (err) { fail(err); return false; }
    state.feedback = { rating, comment: text ?? state.feedback?.comment ?? null };
    paintActions();
    if (text !== undefined) {
      commentForm.hidden = true;
      toast('Thank you for your feedback');
    }
    return true;
  }

  async function rate(rating) {
    if (!await sendFeedback(rating)) return;
    commentForm.hidden = false;
    comment.value = state.feedback.comment || '';
    comment.focus();
  }

  function paintActions() {
    const ended = !LIVE.has(state.status);
    actions.hidden = !ended || !turnId;
    for (const b of [copy, up, down]) b.hidden = !state.text;
    for (const [b, r] of [[up, 'up'], [down, 'down']]) {
      b.setAttribute('aria-pressed', String(state.feedback?.rating === r));
      b.classList.toggle('pressed', state.feedback?.rating === r);
    }
  }

  const citation = (n) => {
    const c = state.citations.find((x) => x.index === n);
    if (!c) return null;
    if (c.url) {
      return h('a', { class: 'cite-ref', href: safeURL(c.url), target: '_blank', rel: 'noopener noreferrer', title: `${c.filename} · ${c.url}`, 'aria-label': `Source ${n}: ${c.filename} (web page)` }, String(n));
    }
    return h('button', { type: 'button', class: 'cite-ref', title: c.filename, 'aria-label': `Source ${n}: ${c.filename}`, onclick: () => openCitation(c, question) }, String(n));
  };

  function paintNow() {
    frame = 0;
    node.dataset.status = state.status;
    replace(body, renderMarkdown(state.text, { citation }));
    if (LIVE.has(state.status)) {
      // The cursor sits at the end of the last line of text, not on a line of its own.
      let at = body.lastElementChild;
      while (at && ['UL', 'OL', 'BLOCKQUOTE'].includes(at.tagName) && at.lastElementChild) at = at.lastElementChild;
      (at && at.tagName !== 'PRE' && at.tagName !== 'HR' ? at : body).append(h('span', { class: 'cursor', 'aria-hidden': 'true' }));
    }
    decorateCode(body);
    if (!LIVE.has(state.status)) highlightAll(body);
    if (!state.text && LIVE.has(state.status)) body.prepend(h('span', { class: 'muted small', 'data-testid': 'turn-waiting', text: waitingText(state) }));
    thinking.hidden = !state.thinking;
    thinking.lastChild.textContent = state.thinking;
    replace(calls, state.calls.map((c) => h('li', null, h('details', { class: ['tool', `tool-${c.status}`], dataset: { status: c.status } },
      h('summary', null, icon('tool'), h('span', { class: 'tool-name', text: c.name }),
        c.status === 'running' ? h('span', { class: 'spinner', role: 'img', 'aria-label': 'running' }) : badge(c.status === 'ok' ? 'ready' : 'failed', c.status),
        c.latency_ms !== undefined && c.latency_ms !== null ? h('span', { class: 'small muted', text: `${c.latency_ms} ms` }) : null),
      h('pre', { class: 'small', text: typeof c.args === 'string' ? c.args : JSON.stringify(c.args, null, 2) }),
      c.preview ? h('div', { class: 'small pre', text: c.preview }) : null))));
    replace(cites, state.citations.map((c) => h('li', null, c.url
      ? h('a', { class: 'chip cite', 'data-testid': 'citation', href: safeURL(c.url), target: '_blank', rel: 'noopener noreferrer', title: c.url },
        h('span', { class: 'cite-n', text: String(c.index) }), h('span', { class: 'ellipsis', text: c.filename }),
        h('span', { class: 'muted', text: ` · ${hostOf(c.url)}` }))
      : h('button', {
        type: 'button', class: 'chip cite', 'data-testid': 'citation', onclick: () => openCitation(c, question),
      }, h('span', { class: 'cite-n', text: String(c.index) }), h('span', { class: 'ellipsis', text: c.filename }),
      h('span', { class: 'muted', text: ` · passage ${c.chunk_index + 1}` })))));
    const bits = [];
    if (state.status === 'failed') bits.push(h('span', { class: 'error-text', 'data-testid': 'turn-error', text: `Failed: ${state.error?.message || 'unknown error'}` }));
    if (state.status === 'cancelled') bits.push(h('span', { text: 'Stopped' }));
    if (state.connection === 'reconnecting') bits.push(h('span', { text: 'Reconnecting…' }));
    if (state.at && !LIVE.has(state.status)) bits.push(h('span', { 'data-testid': 'msg-time' }, when(state.at)));
    if (state.model) bits.push(h('span', { text: state.model }));
    if (state.usage && (state.usage.prompt_tokens || state.usage.completion_tokens)) bits.push(h('span', { text: `${state.usage.prompt_tokens} + ${state.usage.completion_tokens} tokens` }));
    if (!state.tools) bits.push(h('span', { text: 'tools off' }));
    if (state.trimmed) bits.push(h('span', { class: 'context-note', 'data-testid': 'context-note', text: trimmedText(state.trimmed) }));
    replace(meta, bits.flatMap((b, i) => (i ? [' · ', b] : [b])));
    paintActions();
  }

  const view = {
    node,
    state,
    turnId,
    // onRegenerate asks this answer's place again; its place sets it.
    onRegenerate: null,
    paint() { if (!frame) frame = requestAnimationFrame(paintNow); },
    connection(s) { state.connection = s; view.paint(); },
    event(type, d) {
      switch (type) {
        case 'turn.queued': state.position = d.position; break;
        case 'turn.started': state.status = 'running'; state.position = 0; break;
        case 'token': state.status = 'running'; state.text += d.text || ''; break;
        case 'thinking': state.thinking += d.text || ''; break;
        case 'tool.started': state.calls.push({ id: d.call_id, name: d.name, args: d.args, status: 'running' }); break;
        case 'tool.finished': {
          let c = state.calls.find((x) => x.id === d.call_id);
          if (!c) { c = { id: d.call_id, name: d.name, args: {} }; state.calls.push(c); }
          Object.assign(c, { status: d.status, latency_ms: d.latency_ms, preview: d.preview });
          break;
        }
        case 'context.trimmed': state.trimmed = d; break;
        case 'turn.restarted': state.text = ''; state.thinking = ''; state.calls = []; state.trimmed = null; break;
        case 'turn.completed':
          state.status = 'completed';
          state.at = new Date().toISOString();
          if (d.message_id) node.dataset.messageId = d.message_id;
          if (typeof d.answer === 'string') state.text = d.answer;
          state.citations = d.citations || [];
          state.usage = d.usage || null;
          break;
        case 'turn.failed': state.status = 'failed'; state.error = d.error; state.at = new Date().toISOString(); break;
        case 'turn.cancelled': state.status = 'cancelled'; state.at = new Date().toISOString(); if (typeof d.answer === 'string') state.text = d.answer; break;
        default:
      }
      view.paint();
    },
    fromTurn(t, keepText) {
      state.status = t.status;
      if (!keepText || !state.text) state.text = t.answer || '';
      state.citations = t.citations || [];
      state.calls = (t.tool_calls || []).map((c) => ({ ...c }));
      state.error = t.error;
      state.model = t.model || '';
      state.usage = t.usage;
      state.at = t.finished_at || state.at || t.created_at;
      state.feedback = t.feedback || null;
      view.paint();
    },
  };
  return view;
}

/** ordinal spells 1 as "1st", 2 as "2nd", 3 as "3rd", 11 as "11th". */
function ordinal(n) {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] || 'th');
  return `${n}${suffix}`;
}

/** waitingText says what a turn with no text yet is waiting for. */
function waitingText(state) {
  if (state.position > 0) return state.position === 1 ? 'Next in line for the model…' : `${ordinal(state.position)} in line for the model…`;
  return state.status === 'queued' ? 'Waiting for a worker…' : 'Thinking…';
}

/** trimmedText says what was left out of the prompt to fit the model's context window. */
function trimmedText(d) {
  const parts = [];
  const n = (k, one, many) => { if (d[k]) parts.push(`${d[k]} ${d[k] === 1 ? one : many}`); };
  n('dropped_turns', 'earlier question', 'earlier questions');
  n('dropped_passages', 'passage', 'passages');
  n('dropped_results', 'tool result', 'tool results');
  const window = d.context_window ? ` (${d.context_window.toLocaleString('en')} tokens)` : '';
  return `Left out to fit the model's context window${window}: ${parts.join(', ')}`;
}

/**
 * matchedText says why search chose a passage: which retrievers found it and at
 * what rank ("keywords" is the lexical one, "meaning" the embedding model's).
 */
function matchedText(m) {
  if (!m) return '';
  const parts = [];
  if (m.lexical != null) parts.push(`keywords (rank ${m.lexical})`);
  if (m.dense != null) parts.push(`meaning (rank ${m.dense})`);
  return parts.length ? `Found by ${parts.join(' and ')}` : '';
}

/** hostOf is the host of a web address, shown beside a web page's title. */
function hostOf(u) {
  try { return new URL(u).hostname; } catch { return u; }
}

/** openCitation shows the cited passage, found again by searching for the question. */
async function openCitation(c, question) {
  const passage = h('div', { class: 'passage', 'data-testid': 'passage' }, h('p', { class: 'muted', text: 'Finding the passage…' }));
  const why = matchedText(c.matched);
  dialog(c.filename, (close) => h('div', { class: 'stack', 'data-testid': 'citation-dialog' },
    h('p', { class: 'muted small', text: `Source ${c.index} · passage ${c.chunk_index + 1}` }),
    why ? h('p', { class: 'muted small', 'data-testid': 'citation-matched', text: why }) : null,
    passage,
    h('div', { class: 'row end' },
      h('a', { class: 'btn btn-ghost', href: '#/documents', text: 'All documents', onclick: () => close() }),
      h('a', { class: 'btn btn-primary', href: `/v1/documents/${c.document_id}/content`, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'open-document' }, icon('doc'), h('span', { text: 'Open document' })))));
  try {
    const res = await api('POST', '/v1/search', { query: question.slice(0, 2000) || c.filename, limit: 50 });
    const hit = res.hits.find((x) => x.document_id === c.document_id && x.chunk_index === c.chunk_index);
    if (!hit) { replace(passage, h('p', { class: 'muted', text: 'This passage is not among the best matches any more; open the document to read it.' })); return; }
    replace(passage,
      hit.heading ? h('h3', { text: hit.heading }) : null,
      hit.page ? h('p', { class: 'small muted', text: `Page ${hit.page}` }) : null,
      h('blockquote', { class: 'pre', text: hit.text }));
  } catch (err) {
    replace(passage, h('p', { class: 'error-text', text: err.message }));
  }
}
