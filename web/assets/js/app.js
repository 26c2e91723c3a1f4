// The application shell: sign-in, navigation, theme, and the hash router that
// mounts one page at a time.
import { api, setCSRF, onUnauthenticated } from './api.js';
import { h, icon, replace } from './dom.js';
import { button, fail, field } from './ui.js';
import { statusBanner, stopStatus } from './status.js';
import * as chat from './pages/chat.js';
import * as documents from './pages/documents.js';
import * as groups from './pages/groups.js';
import * as admin from './pages/admin.js';
import * as account from './pages/account.js';

const PAGES = [
  { path: 'chat', label: 'Chat', icon: 'chat', page: chat },
  { path: 'documents', label: 'Documents', icon: 'doc', page: documents },
  { path: 'groups', label: 'Groups', icon: 'group', page: groups },
  { path: 'admin', label: 'Admin', icon: 'shield', page: admin, admin: true },
  { path: 'account', label: 'Account', icon: 'user', page: account },
];

const root = document.getElementById('app');
let current = null; // { dispose }
let me = null;
// signOutURL is where the browser goes after signing out here, to end the identity
// provider's session too (null for a key session); methods are the ways to sign in
// besides a key, asked once at start.
let signOutURL = null;
let methods = { oidc: null };

function route() {
  const hash = location.hash;
  if (!hash.startsWith('#/')) return null;
  const [path, ...rest] = hash.slice(2).split('/');
  return { path, params: rest.map(decodeURIComponent) };
}

/** navigate changes the page; pages call it for links within the app. */
export function navigate(path) { location.hash = `#/${path}`; }

function themeToggle() {
  const dark = () => (document.documentElement.dataset.theme || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light')) === 'dark';
  const btn = button('', () => {
    const next = dark() ? 'light' : 'dark';
    document.documentElement.dataset.theme = next;
    try { localStorage.setItem('yw.theme', next); } catch { /* not kept */ }
    paint();
  }, { kind: 'ghost', iconOnly: true });
  const paint = () => {
    const label = dark() ? 'Switch to light theme' : 'Switch to dark theme';
    replace(btn, icon(dark() ? 'sun' : 'moon'));
    btn.setAttribute('aria-label', label);
    btn.title = label;
  };
  paint();
  return btn;
}

async function signOut() {
  try { await api('DELETE', '/ui/session'); } catch (err) { fail(err); }
  setCSRF('');
  me = null;
  location.hash = '';
  const next = signOutURL;
  signOutURL = null;
  if (next) { location.assign(next); return; }
  showSignIn();
}

function showSignIn(message) {
  if (current) current.dispose?.();
  current = null;
  stopStatus();
  const input = h('input', { type: 'password', name: 'key', autocomplete: 'current-password', required: true, spellcheck: 'false' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  if (message) error.textContent = message;
  const submit = button('Sign in', null, { kind: 'primary', type: 'submit' });
  const form = h('form', {
    class: 'signin-card stack', 'aria-labelledby': 'signin-title',
    async onsubmit(e) {
      e.preventDefault();
      submit.disabled = true;
      error.textContent = '';
      try {
        const sess = await api('POST', '/ui/session', { key: input.value.trim() });
        input.value = '';
        start(sess);
      } catch (err) {
        error.textContent = err.status === 401 ? 'That API key is not valid.' : err.message;
        submit.disabled = false;
        input.focus();
      }
    },
  },
  h('div', { class: 'brand big' }, h('img', { src: '/assets/icon.svg', alt: '', width: 40, height: 40 }), h('span', { text: 'YouWorker' })),
  h('h1', { id: 'signin-title', text: 'Sign in' }),
  methods.oidc ? h('a', { class: 'btn btn-primary signin-sso', href: methods.oidc.login_url, 'data-testid': 'sign-in-sso' },
    icon('user'), h('span', { text: `Sign in with ${methods.oidc.name}` })) : null,
  methods.oidc ? h('p', { class: 'signin-or muted', text: 'or with an API key' }) : null,
  h('p', { class: 'muted', text: 'Use your API key. Ask an administrator for one, or create one with `api users create`.' }),
  field('API key', input, 'Kept in a secure, HTTP-only cookie for this browser; never in page storage.'),
  error, submit,
  h('div', { class: 'row end' }, themeToggle()));
  replace(root, h('main', { id: 'main', class: 'signin', tabindex: '-1' }, form));
  input.focus();
}

function shell() {
  const nav = h('nav', { class: 'nav', 'aria-label': 'Main' },
    PAGES.filter((p) => !p.admin || me.is_admin).map((p) => h('a', { href: `#/${p.path}`, class: 'nav-link', dataset: { path: p.path } }, icon(p.icon), h('span', { text: p.label }))));
  const header = h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: '#/chat', 'aria-label': 'YouWorker home' }, h('img', { src: '/assets/icon.svg', alt: '', width: 28, height: 28 }), h('span', { text: 'YouWorker' })),
    nav,
    h('div', { class: 'row topbar-end' },
      h('span', { class: 'who', 'data-testid': 'who', text: me.name + (me.is_admin ? ' · admin' : '') }),
      themeToggle(),
      button('Sign out', signOut, { kind: 'ghost', iconName: 'logout', iconOnly: true })));
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  replace(root, header, statusBanner(), main);
  return { nav, main };
}

let frame = null;

function render() {
  if (!me) return;
  const r = route();
  if (!r || !PAGES.some((p) => p.path === r.path && (!p.admin || me.is_admin))) {
    if (!r || r.path !== '') navigate('chat');
    else navigate('chat');
    return;
  }
  const entry = PAGES.find((p) => p.path === r.path);
  if (!frame) frame = shell();
  for (const a of frame.nav.querySelectorAll('a')) {
    if (a.dataset.path === r.path) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  // The same page with other parameters updates in place (a chat session, a group).
  if (current && current.path === r.path && current.update) { current.update(r.params); return; }
  if (current) current.dispose?.();
  replace(frame.main);
  document.title = `${entry.label} · YouWorker`;
  const ctx = { me, params: r.params, navigate, refreshMe };
  current = { path: r.path, ...entry.page.mount(frame.main, ctx) };
}

async function refreshMe() {
  // In place, so every page holding ctx.me sees the change.
  Object.assign(me, await api('GET', '/v1/me'));
  return me;
}

function start(sess) {
  setCSRF(sess.csrf_token);
  signOutURL = sess.sign_out_url || null;
  me = sess.me;
  frame = null;
  current = null;
  render();
}

async function boot() {
  onUnauthenticated(() => showSignIn('Your session ended. Sign in again.'));
  window.addEventListener('hashchange', render);
  document.querySelector('.skip-link')?.addEventListener('click', (e) => {
    e.preventDefault();
    document.getElementById('main')?.focus();
  });
  try { methods = await api('GET', '/ui/auth'); } catch { /* the key form still works */ }
  try {
    start(await api('GET', '/ui/session'));
  } catch (err) {
    if (err.status === 401) showSignIn(); else showSignIn(`The server did not answer: ${err.message}`);
  }
}

boot();
