// Shared pieces of the interface: notices, confirmation dialogs, form fields,
// status badges and the like.
import { h, icon, replace } from './dom.js';

let toastRegion = null;

/** toast shows a short message in a polite live region, so screen readers hear it too. */
export function toast(message, kind = 'info') {
  if (!toastRegion) {
    toastRegion = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(toastRegion);
  }
  const t = h('div', { class: ['toast', `toast-${kind}`], text: message });
  toastRegion.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

/** fail reports an error from an API call. */
export function fail(err) {
  const ref = err?.correlationId ? ` (ref ${err.correlationId})` : '';
  toast(`${err?.message || err}${ref}`, 'error');
}

/** button makes a button with an optional icon. */
export function button(label, onClick, { kind = '', iconName = '', title = '', type = 'button', disabled = false, iconOnly = false } = {}) {
  return h('button', {
    type, class: ['btn', kind && `btn-${kind}`, iconOnly && 'btn-icon'], onclick: onClick, disabled,
    title: title || (iconOnly ? label : null), 'aria-label': iconOnly ? label : null,
  }, iconName ? icon(iconName) : null, iconOnly ? null : h('span', { text: label }));
}

/** dialog opens a modal <dialog>; build(close) returns its content. */
export function dialog(title, build) {
  const d = h('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title' });
  const close = (value) => { d.close(value ?? ''); };
  d.addEventListener('close', () => d.remove());
  replace(d, h('div', { class: 'dialog-head' },
    h('h2', { id: 'dialog-title', text: title }),
    button('Close', () => close(), { iconName: 'x', iconOnly: true, kind: 'ghost' })),
  build(close));
  document.body.append(d);
  d.showModal();
  return d;
}

/** confirmAction asks before something that cannot be undone. */
export function confirmAction(title, message, actionLabel = 'Delete') {
  return new Promise((resolve) => {
    const d = dialog(title, (close) => h('div', null,
      h('p', { text: message }),
      h('div', { class: 'row end' },
        button('Cancel', () => close('no'), { kind: 'ghost' }),
        button(actionLabel, () => close('yes'), { kind: 'danger' }))));
    d.addEventListener('close', () => resolve(d.returnValue === 'yes'));
  });
}

let fieldSeq = 0;
/** field wraps a control with its label (and an optional hint). */
export function field(label, control, hint) {
  const id = control.id || `f${++fieldSeq}`;
  control.id = id;
  const hintEl = hint ? h('small', { class: 'hint', id: `${id}-hint`, text: hint }) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), control, hintEl);
}

/** select builds a <select> from [value, label] pairs. */
export function select(options, value, props = {}) {
  const el = h('select', props);
  setOptions(el, options, value);
  return el;
}

/** setOptions replaces a <select>'s options and keeps (or sets) its value. */
export function setOptions(sel, options, value) {
  sel.replaceChildren(...options.map(([v, l]) => h('option', { value: v, text: l })));
  sel.value = options.some(([v]) => v === value) ? value : options[0]?.[0] ?? '';
}

/** badge shows a status word with a color that follows its meaning. */
export function badge(status, text) {
  return h('span', { class: ['badge', `badge-${status}`], text: text || status });
}

/** copyText puts text on the clipboard (with a fallback for non-secure origins) and says so. */
export async function copyText(text, message = 'Copied to the clipboard') {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = h('textarea', { class: 'offscreen', 'aria-hidden': 'true' });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
  toast(message);
}

/** copyButton copies text to the clipboard. */
export function copyButton(text, label = 'Copy') {
  return button(label, () => copyText(text), { iconName: 'copy' });
}

/** secretOnce shows a freshly made API key with a copy button and a warning. */
export function secretOnce(title, key) {
  dialog(title, (close) => h('div', { class: 'stack' },
    h('p', { text: 'Copy this key now: it is shown only once and cannot be recovered.' }),
    h('code', { class: 'secret', 'data-testid': 'new-key', text: key }),
    h('div', { class: 'row end' }, copyButton(key), button('Done', () => close(), { kind: 'primary' }))));
}

/** pageHead is a page's title row with optional actions. */
export function pageHead(title, ...actions) {
  return h('div', { class: 'page-head' }, h('h1', { text: title }), h('div', { class: 'row' }, actions));
}

/** empty is what a list shows when it has nothing yet. */
export function empty(text) {
  return h('p', { class: 'empty', text });
}
