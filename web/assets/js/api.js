// The HTTP client of the UI: same-origin requests authenticated by the session
// cookie, with the CSRF token on every write and problem+json turned into errors.

let csrfToken = '';

/** setCSRF keeps the session's CSRF token in page memory (never in storage). */
export function setCSRF(token) { csrfToken = token || ''; }

/** APIError is a failed request, carrying the problem document's fields. */
export class APIError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `request failed with status ${status}`);
    this.status = status;
    this.code = problem?.code || '';
    this.fields = problem?.errors || [];
    this.correlationId = problem?.correlation_id || '';
  }
}

/** onUnauthenticated is called when a request finds the session gone. */
let unauthenticated = () => {};
export function onUnauthenticated(fn) { unauthenticated = fn; }

function headers(method, hasBody) {
  const hs = { Accept: 'application/json' };
  if (hasBody) hs['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') hs['X-CSRF-Token'] = csrfToken;
  return hs;
}

async function failure(resp) {
  let problem = null;
  try { problem = await resp.json(); } catch { /* not JSON: keep the status */ }
  return new APIError(resp.status, problem);
}

/** api sends one JSON request and returns the decoded body (null for 204/202 without one). */
export async function api(method, path, body) {
  const resp = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: headers(method, body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!resp.ok) {
    const err = await failure(resp);
    if (resp.status === 401 && !path.startsWith('/ui/session')) unauthenticated();
    throw err;
  }
  if (resp.status === 204) return null;
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

/** qs builds a query string from the set values of an object. */
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * upload sends files as one multipart request with XHR, the only browser API that
 * reports upload progress. onProgress gets a fraction from 0 to 1.
 */
export function upload(files, fields, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) if (v !== '' && v !== null && v !== undefined) form.append(k, v);
    for (const f of files) form.append('file', f, f.name);
    xhr.open('POST', '/v1/documents');
    xhr.setRequestHeader('X-CSRF-Token', csrfToken);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
    xhr.addEventListener('load', () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* keep null */ }
      if (xhr.status >= 200 && xhr.status < 300) { onProgress(1); resolve(body); } else reject(new APIError(xhr.status, body));
    });
    xhr.addEventListener('error', () => reject(new APIError(0, { detail: 'the connection failed during the upload' })));
    xhr.addEventListener('abort', () => reject(new APIError(0, { detail: 'upload cancelled' })));
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

const TERMINAL = new Set(['turn.completed', 'turn.failed', 'turn.cancelled']);
const TURN_EVENTS = ['turn.queued', 'turn.started', 'token', 'thinking', 'tool.started', 'tool.finished', 'turn.restarted', ...TERMINAL];

/**
 * followTurn streams a turn's events from after `after`, calling onEvent(type, data,
 * id) once per event. It resumes by itself when the connection drops, asking only
 * for events after the last one it saw (and dropping any it has seen), and stops
 * after a terminal event. onState reports 'live', 'reconnecting' or 'closed'.
 */
export function followTurn(turnId, after, onEvent, onState = () => {}) {
  let last = Number(after) || 0;
  let source = null;
  let stopped = false;
  let retry = 500;
  let timer = 0;

  const open = () => {
    if (stopped) return;
    source = new EventSource(`/v1/chat/turns/${encodeURIComponent(turnId)}/events?after=${last}`);
    source.addEventListener('open', () => { retry = 500; onState('live'); });
    for (const type of TURN_EVENTS) {
      source.addEventListener(type, (e) => {
        const id = Number(e.lastEventId);
        if (id && id <= last) return; // already seen before a reconnect
        if (id) last = id;
        let data = {};
        try { data = JSON.parse(e.data); } catch { /* an event without JSON data */ }
        onEvent(type, data, last);
        if (TERMINAL.has(type)) stop();
      });
    }
    // The browser's own reconnect would reuse the first URL; reconnect ourselves instead.
    source.addEventListener('error', () => {
      if (stopped) return;
      source.close();
      onState('reconnecting');
      timer = setTimeout(open, retry);
      retry = Math.min(retry * 2, 8000);
    });
  };
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    if (source) source.close();
    onState('closed');
  };
  open();
  return { stop, lastEventId: () => last };
}
