// Contacts: a per-session cache of GET /api/contacts/{id} (an erased or
// unknown contact is remembered as erased), and the contact page: details,
// their appointments, and erasure behind a confirmation step.

import { el, replace, localDate, query } from '/static/common.js';
import {
  viewHeading, section, details, tableBox, badge, when, errorText, confirmStep, announce, field,
} from '/static/admin-ui.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const cache = new Map(); // id -> Promise<{id, name, phone, email} | {id, erased: true}>

/** Forgets every cached contact (at sign-out). */
export function forgetContacts() {
  cache.clear();
}

/** The contact, from the cache when it was read before. Erased → {id, erased: true}. */
export function getContact(app, id, { fresh = false } = {}) {
  if (fresh || !cache.has(id)) {
    const p = app.call('/api/contacts/' + encodeURIComponent(id)).catch((e) => {
      if (e.status === 404) return { id, erased: true };
      cache.delete(id);
      throw e;
    });
    cache.set(id, p);
  }
  return cache.get(id);
}

/** The name to show for a contact: their name or "(erased)". */
export async function contactName(app, id) {
  try {
    const c = await getContact(app, id);
    return c.erased ? '(erased)' : c.name;
  } catch {
    return '(name unavailable)';
  }
}

/** Every appointment from `from` on (pages of 500, at most `maxPages`). */
export async function listAppointments(app, params, maxPages = 10) {
  const out = [];
  let cursor = null;
  for (let i = 0; i < maxPages; i++) {
    const r = await app.call('/api/appointments' + query({ ...params, limit: 500, cursor }));
    out.push(...r.appointments);
    cursor = r.nextCursor;
    if (!cursor) return { appointments: out, complete: true };
  }
  return { appointments: out, complete: false };
}

export async function renderContacts(app, root, { segments }) {
  const id = segments[0];
  if (!id) return renderIndex(app, root);
  return renderContact(app, root, id);
}

/** #/contacts without an id: how to reach a contact, and the ones seen this session. */
async function renderIndex(app, root) {
  const f = field({ label: 'Contact ID', name: 'contactId', hint: 'The ID shown on an appointment or in the audit log.', attrs: { spellcheck: 'false', autocomplete: 'off' } });
  const form = el('form', { class: 'inline-form', novalidate: true }, f.node, el('button', { type: 'submit', class: 'primary' }, 'Open contact'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = f.value().toLowerCase();
    if (!UUID.test(v)) {
      f.setError('A contact ID looks like 3f2a…-…: 32 hexadecimal digits in five groups.');
      f.input.focus();
      return;
    }
    app.go('#/contacts/' + v);
  });
  const seen = [];
  for (const [cid, p] of cache) {
    try {
      const c = await p;
      seen.push(el('li', {}, el('a', { href: '#/contacts/' + cid }, c.erased ? '(erased)' : c.name)));
    } catch {
      /* not readable: not listed */
    }
  }
  replace(
    root,
    viewHeading('Contacts'),
    el('p', { class: 'lead' }, 'Open a contact from an appointment in the Calendar (select the name), or type their ID.'),
    el('div', { class: 'card' }, form),
    seen.length ? el('section', { class: 'card', 'aria-labelledby': 'seen-h' }, el('h3', { id: 'seen-h' }, 'Seen in this session'), el('ul', { class: 'plain-list' }, seen)) : null,
  );
}

async function renderContact(app, root, id) {
  if (!UUID.test(id)) {
    replace(root, viewHeading('Contact'), el('p', { class: 'form-message is-error', role: 'alert' }, 'That is not a contact ID.'));
    return;
  }
  const zone = app.zone;
  const [contact, providers, services] = await Promise.all([getContact(app, id, { fresh: true }), app.providers(), app.services()]);
  const erased = !!contact.erased;

  const title = viewHeading(erased ? '(erased)' : contact.name);
  const info = section('Details');
  replace(
    info.body,
    erased
      ? el('p', {}, 'This contact\u2019s personal data has been erased (or there is no such contact). Their appointments keep their times.')
      : details([
        ['Name', contact.name],
        ['Phone', contact.phone || '—'],
        ['Email', contact.email || '—'],
        ['Contact ID', el('code', {}, contact.id)],
      ]),
  );

  const appts = section('Appointments');
  replace(appts.body, el('p', { role: 'status' }, 'Loading appointments…'));

  const erase = section('Erase personal data', { cls: 'danger-zone' });
  if (!erased) {
    const slot = el('div', { class: 'actions' });
    const button = el('button', { type: 'button', class: 'danger' }, 'Erase this contact\u2019s personal data');
    slot.append(button);
    button.addEventListener('click', () => {
      confirmStep(slot, {
        question: `Erase ${contact.name}\u2019s personal data for good?`,
        detail: 'Their name, phone and email and the notes of their appointments are deleted and cannot be recovered. Their future appointments are cancelled; past ones keep their times. The audit log records the erasure without personal data.',
        confirmLabel: 'Yes, erase for good',
        keepLabel: 'Keep the data',
        onConfirm: async () => {
          await app.call('/api/contacts/' + encodeURIComponent(id), { method: 'DELETE' });
          cache.set(id, Promise.resolve({ id, erased: true }));
          announce('The contact\u2019s personal data was erased.');
          await renderContact(app, root, id);
          const m = root.querySelector('.erased-note');
          if (m) m.focus();
        },
      });
    });
    replace(
      erase.body,
      el('p', {}, 'Right to erasure: deletes the name, phone, email and appointment notes of this contact. The calendar keeps the appointment times.'),
      slot,
    );
  } else {
    replace(erase.body, el('p', { class: 'erased-note', tabindex: '-1', role: 'status' }, 'This contact\u2019s personal data is erased.'));
  }

  replace(root, el('p', { class: 'breadcrumb' }, el('a', { href: '#/calendar' }, 'Calendar'), ' › Contact'), title, info.node, appts.node, erase.node);

  // Their appointments, every one (the list filters by contact).
  try {
    const { appointments, complete } = await listAppointments(app, { contactId: id }, 20);
    const mine = appointments.reverse();
    const pname = (pid) => (providers.find((p) => p.id === pid) || {}).name || 'Unknown provider';
    const sname = (sid) => (sid ? (services.find((s) => s.id === sid) || {}).name || 'Unknown service' : '—');
    const rows = mine.map((a) =>
      el(
        'tr',
        {},
        el('td', {}, el('a', { href: '#/calendar' + query({ view: 'day', date: localDate(a.scheduledAt, zone) }) }, when(a.scheduledAt, zone))),
        el('td', {}, `${a.durationMinutes} min`),
        el('td', {}, pname(a.providerId)),
        el('td', {}, sname(a.serviceId)),
        el('td', {}, badge(a.status)),
      ),
    );
    replace(
      appts.body,
      mine.length
        ? tableBox('Appointments of this contact, newest first', ['When', 'Duration', 'Provider', 'Service', 'Status'], rows, { captionHidden: true })
        : el('p', {}, 'No appointments.'),
      complete ? null : el('p', { class: 'hint' }, 'Only the first 10,000 appointments are shown.'),
    );
  } catch (e) {
    if (e.status !== 401) replace(appts.body, el('p', { class: 'form-message is-error', role: 'alert' }, errorText(e)));
  }
}

