// Small building blocks every dashboard view uses: labelled fields whose
// errors sit next to them (and are announced), API errors mapped onto those
// fields, inline confirmation steps, scrollable table boxes, status badges.
// Everything user-supplied goes in as text (el() never parses HTML).

import { el, replace, formatDateTime, formatTime } from '/static/common.js';

let uid = 0;
/** A fresh id for wiring labels, hints and errors together. */
export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

const announcer = () => document.getElementById('announcer');

/** Says `msg` to screen readers (the page's polite live region). */
export function announce(msg) {
  const node = announcer();
  if (!node) return;
  node.textContent = '';
  // A new text node after a tick, so the same sentence twice is read twice.
  setTimeout(() => {
    node.textContent = msg;
  }, 50);
}

/**
 * A labelled field: {label, name, type, value, hint, required, options,
 * attrs}. `options` (for type 'select') is [{value, label}]. Returns
 * {node, input, setError(msg), clearError(), value()}. The error paragraph
 * sits right under the input, is referenced by aria-describedby and is a
 * live region, so a message put there is also read out.
 */
export function field({ label, name, type = 'text', value, hint, required, options, attrs = {}, hiddenLabel }) {
  const id = nextId(name || 'field');
  const hintId = hint ? id + '-hint' : null;
  const errId = id + '-error';
  let input;
  const common = {
    id,
    name,
    required: required || null,
    'aria-describedby': [hintId, errId].filter(Boolean).join(' '),
    ...attrs,
  };
  if (type === 'select') {
    input = el(
      'select',
      common,
      (options || []).map((o) => el('option', { value: o.value, selected: String(o.value) === String(value ?? '') || null }, o.label)),
    );
  } else if (type === 'textarea') {
    input = el('textarea', common);
    if (value !== undefined && value !== null) input.value = String(value);
  } else {
    input = el('input', { type, ...common });
    if (value !== undefined && value !== null) input.value = String(value);
  }
  const labelNode = el('label', { for: id }, hiddenLabel ? el('span', { class: 'visually-hidden' }, hiddenLabel) : null, label);
  const hintNode = hint ? el('p', { class: 'hint', id: hintId }, hint) : null;
  const errNode = el('p', { class: 'error', id: errId, 'aria-live': 'polite' });
  const node = el('div', { class: 'field' + (type === 'checkbox' ? ' field-check' : '') },
    type === 'checkbox' ? [input, labelNode] : [labelNode, input], hintNode, errNode);
  return {
    node,
    input,
    name,
    setError(msg) {
      errNode.textContent = msg || '';
      if (msg) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    },
    clearError() {
      this.setError('');
    },
    value() {
      return type === 'checkbox' ? input.checked : input.value.trim();
    },
  };
}

/** A form-level message area (role=alert for errors, status for success). */
export function formMessage() {
  const node = el('div', { class: 'form-message', 'aria-live': 'polite' });
  return {
    node,
    error(msg) {
      node.className = 'form-message is-error';
      node.setAttribute('role', 'alert');
      replace(node, msg);
    },
    ok(msg) {
      node.className = 'form-message is-ok';
      node.setAttribute('role', 'status');
      replace(node, msg);
    },
    clear() {
      node.className = 'form-message';
      node.removeAttribute('role');
      replace(node);
    },
  };
}

/** A human sentence for an error of api(). */
export function errorText(err) {
  if (!err) return 'Something went wrong.';
  if (err.status === 0) return err.message;
  if (err.code === 'rate_limited') return `Too many requests just now; try again in ${err.retryAfter || 'a few'} seconds.`;
  if (err.code === 'unavailable') return 'The booking service is busy or its database is unreachable; try again in a moment.';
  if (err.code === 'slot_busy') return 'Someone else is booking around that time right now; try again in a moment.';
  return err.message || `The server answered ${err.status}.`;
}

/**
 * Puts an API error next to the field it is about: `fields` maps API field
 * names (e.g. "scheduledAt") to field() objects; anything else goes to the
 * form message. Focuses the offending input.
 */
export function showApiError(err, fields, message, text) {
  const sentence = text || errorText(err);
  const f = err && err.field ? fields[err.field] || fields[String(err.field).split(/[.[]/)[0]] : null;
  if (f) {
    f.setError(sentence);
    f.input.focus();
    if (message) message.clear();
  } else if (message) {
    message.error(sentence);
  }
  announce(sentence);
}

/** Clears every field's error and the form message. */
export function clearErrors(fields, message) {
  for (const f of Object.values(fields)) f.clearError();
  if (message) message.clear();
}

/**
 * An inline confirmation step rendered into `slot` (its previous children
 * are restored when the step is dismissed): a question, an optional extra
 * node, a confirm button and a keep button. `onConfirm` may throw an
 * ApiError; its message is shown in the step.
 */
export function confirmStep(slot, { question, detail, extra, confirmLabel, keepLabel = 'Keep it', danger = true, onConfirm, onKeep }) {
  const before = [...slot.childNodes];
  const qId = nextId('confirm');
  const msg = formMessage();
  const yes = el('button', { type: 'button', class: danger ? 'danger' : 'primary' }, confirmLabel);
  const no = el('button', { type: 'button', class: 'secondary' }, keepLabel);
  const q = el('p', { id: qId, class: 'confirm-question', tabindex: '-1' }, question);
  const box = el(
    'div',
    { class: 'confirm', role: 'group', 'aria-labelledby': qId },
    q,
    detail ? el('p', { class: 'hint' }, detail) : null,
    extra || null,
    el('div', { class: 'actions' }, yes, no),
    msg.node,
  );
  const restore = () => {
    replace(slot, before);
  };
  no.addEventListener('click', () => {
    restore();
    if (onKeep) onKeep();
  });
  yes.addEventListener('click', async () => {
    yes.disabled = true;
    no.disabled = true;
    try {
      await onConfirm();
    } catch (e) {
      msg.error(errorText(e));
      announce(errorText(e));
      yes.disabled = false;
      no.disabled = false;
    }
  });
  replace(slot, box);
  q.focus();
  return { restore };
}

/**
 * A table inside its own horizontally scrollable, keyboard-focusable box
 * (so a wide table never widens the page). `caption` names both.
 */
export function tableBox(caption, headers, rows, { captionHidden = false } = {}) {
  const table = el(
    'table',
    {},
    el('caption', { class: captionHidden ? 'visually-hidden' : null }, caption),
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows),
  );
  return el('div', { class: 'table-box', tabindex: '0', role: 'region', 'aria-label': caption }, table);
}

const STATUS_WORDS = {
  confirmed: 'Confirmed',
  cancelled: 'Cancelled',
  rescheduled: 'Moved',
  pending: 'Pending',
  delivered: 'Delivered',
  failed: 'Failed',
  dead: 'Dead',
  closed: 'Closed',
  open: 'Open',
  half_open: 'Half-open',
  ready: 'Ready',
  unavailable: 'Unavailable',
  up: 'Up',
  down: 'Down',
  unknown: 'Unknown',
};

/** A small coloured label for a status word (the word itself is the text). */
export function badge(status) {
  const s = String(status || 'unknown');
  return el('span', { class: 'badge badge-' + s.replace(/[^a-z_]/g, '') }, STATUS_WORDS[s] || s);
}

/** "Tue 27 Jan 2026, 14:00 GMT" or an em dash for null. */
export function when(iso, zone) {
  return iso ? formatDateTime(iso, zone) : '—';
}

/** "in 25 s", "3 min ago", … relative to now. */
export function relative(iso) {
  if (!iso) return '';
  const d = Math.round((Date.parse(iso) - Date.now()) / 1000);
  const a = Math.abs(d);
  const t = a < 90 ? `${a} s` : a < 5400 ? `${Math.round(a / 60)} min` : a < 129600 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} days`;
  return d >= 0 ? `in ${t}` : `${t} ago`;
}

/** "14:00–14:30" of an appointment. */
export function timeRange(iso, minutes, zone) {
  const end = new Date(Date.parse(iso) + minutes * 60000).toISOString();
  return `${formatTime(iso, zone)}–${formatTime(end, zone)}`;
}

/** A heading that takes focus when a view opens (tabindex -1). */
export function viewHeading(text) {
  return el('h2', { class: 'view-title', tabindex: '-1' }, text);
}

/** A section with its own h3 heading; returns {node, body}. */
export function section(title, { cls = '' } = {}) {
  const id = nextId('sec');
  const body = el('div', { class: 'section-body' });
  const node = el('section', { class: 'card ' + cls, 'aria-labelledby': id }, el('h3', { id, tabindex: '-1' }, title), body);
  return { node, body };
}

/** A <dl> of [term, value] pairs. */
export function details(pairs) {
  return el('dl', { class: 'details' }, pairs.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v ?? '—')]));
}

/** Copies text to the clipboard; resolves true when it worked. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** A read-only box showing a secret once, with a copy button and a warning. */
export function secretOnce(label, secret, warning) {
  const f = field({ label, name: 'secret', value: secret, attrs: { readonly: true, spellcheck: 'false', autocomplete: 'off' } });
  f.input.classList.add('mono');
  const status = el('p', { class: 'hint', 'aria-live': 'polite' });
  const copy = el('button', { type: 'button', class: 'secondary' }, 'Copy');
  copy.addEventListener('click', async () => {
    f.input.select();
    status.textContent = (await copyText(secret)) ? 'Copied to the clipboard.' : 'Select the text and copy it (Ctrl+C or ⌘C).';
  });
  return el('div', { class: 'secret-once' }, el('p', { class: 'secret-warning' }, warning), f.node, el('div', { class: 'actions' }, copy), status);
}
