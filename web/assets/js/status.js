// The service status banner. While the chat model, the embedding model or a tool
// server is down the platform keeps serving with less, and the banner says what
// works differently, in the server's own words (GET /v1/status). It asks on
// sign-in, every 30 seconds, and when the tab becomes visible again; it is hidden
// while everything works.
import { api } from './api.js';
import { h, icon, replace } from './dom.js';

const POLL_MS = 30000;

let active = null; // the banner of the signed-in shell

/** sentence makes a detail from the server read as a sentence. */
function sentence(s) {
  const t = String(s || '').trim();
  if (!t) return '';
  return t[0].toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
}

/** degradedParts lists the details of the components that are not ok. */
function degradedParts(report) {
  const c = report?.components || {};
  const parts = [c.llm, c.embedder, ...Object.keys(c.mcp || {}).sort().map((name) => c.mcp[name])];
  return parts.filter((p) => p && p.ok === false).map((p) => sentence(p.detail)).filter(Boolean);
}

/**
 * statusBanner builds the banner of a signed-in shell and starts polling; the
 * previous banner, if any, stops. The page's height-bound layouts (the chat) make
 * room for it through the --banner-h CSS variable.
 */
export function statusBanner() {
  stopStatus();
  const el = h('div', { class: 'status-banner', role: 'status', 'aria-live': 'polite', 'data-testid': 'status-banner', hidden: true });
  const rootStyle = document.documentElement.style;
  const resized = new ResizeObserver(() => rootStyle.setProperty('--banner-h', `${el.hidden ? 0 : el.offsetHeight}px`));
  resized.observe(el);
  let timer = 0;
  let inflight = null;
  let stopped = false;

  const show = (report) => {
    const parts = degradedParts(report);
    el.dataset.status = report?.status || '';
    if (report?.status !== 'degraded' || parts.length === 0) {
      el.hidden = true;
      replace(el);
      return;
    }
    replace(el, icon('alert'),
      h('strong', { text: 'Some features are limited right now.' }),
      parts.map((text) => h('span', { class: 'status-detail', text })));
    el.hidden = false;
  };

  const poll = () => {
    clearTimeout(timer);
    if (!inflight) {
      inflight = api('GET', '/v1/status')
        .then(show, () => { /* keep what is shown; the next poll asks again */ })
        .finally(() => {
          inflight = null;
          if (!stopped) timer = setTimeout(poll, POLL_MS);
        });
    }
    return inflight.then(() => el.dataset.status || '');
  };

  const onVisible = () => { if (document.visibilityState === 'visible') poll(); };
  document.addEventListener('visibilitychange', onVisible);

  active = {
    poll,
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
      resized.disconnect();
      rootStyle.removeProperty('--banner-h');
    },
  };
  poll();
  return el;
}

/** stopStatus stops polling (on sign-out, or when the session ends). */
export function stopStatus() {
  if (active) active.stop();
  active = null;
}

/** refreshStatus asks the server now and resolves to the status shown ('' when signed out). */
export function refreshStatus() {
  return active ? active.poll() : Promise.resolve('');
}
