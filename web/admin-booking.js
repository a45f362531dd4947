// The calendar's two forms: booking by hand (a contact, then the
// appointment) and moving an appointment. Times are typed as a date and a
// wall-clock time in the organization's zone; API errors go next to the
// field they are about; a 409 explains kindly what is in the way.

import { el, zonedInstant, localDate, formatTime, formatDateTime, ApiError } from '/static/common.js';
import { field, formMessage, showApiError, clearErrors, announce, nextId, timeRange, errorText } from '/static/admin-ui.js';

/** A random Idempotency-Key (crypto.randomUUID needs a secure context; this does not). */
export function idempotencyKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return 'dash-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** A kind sentence for a 409 slot_unavailable answer. */
export function conflictText(err, zone) {
  const b = err.body || {};
  if (b.conflictingAppointment) {
    const c = b.conflictingAppointment;
    return `That time overlaps another appointment (${timeRange(c.scheduledAt, c.durationMinutes, zone)} on ${formatDateTime(c.scheduledAt, zone).replace(/,.*$/, '')}). Choose another time or another provider.`;
  }
  if (b.conflictingHold) {
    const h = b.conflictingHold;
    return `That time is held for someone who is booking it right now (until ${formatTime(h.expiresAt, zone)}). Choose another time, or try again after that.`;
  }
  if (b.conflictingBusy) {
    const x = b.conflictingBusy;
    return `The provider is busy then in their linked calendar (${formatTime(x.start, zone)}–${formatTime(x.end, zone)}). Choose another time.`;
  }
  return 'That time is no longer free. Choose another time.';
}

function errorFor(err, zone) {
  if (err instanceof ApiError && err.code === 'slot_unavailable') return conflictText(err, zone);
  if (err instanceof ApiError && err.code === 'invalid_state') return err.message || 'This appointment can no longer be changed.';
  return null;
}

/** A 409 about the time goes next to the time field; anything else where it belongs. */
function timeError(err, timeField, fields, msg, zone) {
  if (err.code === 'slot_unavailable' || err.code === 'slot_busy') {
    const text = errorFor(err, zone) || errorText(err);
    msg.clear();
    timeField.setError(text);
    timeField.input.focus();
    announce(text);
  } else {
    showApiError(err, fields, msg, errorFor(err, zone));
  }
}

function panel(title, form, onClose) {
  const hId = nextId('panel');
  const close = el('button', { type: 'button', class: 'secondary' }, 'Close');
  close.addEventListener('click', onClose);
  const heading = el('h3', { id: hId, tabindex: '-1' }, title);
  const node = el('section', { class: 'card panel', 'aria-labelledby': hId }, el('div', { class: 'panel-head' }, heading, close), form);
  node.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') onClose();
  });
  return { node, heading };
}

function providerOptions(providers) {
  return providers.map((p) => ({ value: p.id, label: p.name }));
}

/**
 * The "Book an appointment" panel. opts: {providers, services, date,
 * providerId, onBooked(appointment), onClose()}.
 */
export function bookingPanel(app, { providers, services, date, providerId, onBooked, onClose }) {
  const zone = app.zone;
  const f = {
    providerId: field({ label: 'Provider', name: 'providerId', type: 'select', value: providerId, options: providerOptions(providers) }),
    serviceId: field({
      label: 'Service',
      name: 'serviceId',
      type: 'select',
      value: '',
      options: [{ value: '', label: 'No service (type a duration)' }].concat(
        services.map((s) => ({ value: s.id, label: `${s.name} (${s.durationMinutes} min)` })),
      ),
    }),
    durationMinutes: field({ label: 'Duration (minutes)', name: 'durationMinutes', type: 'number', value: 30, hint: '1 to 1,440. Filled in from the service when you choose one.', attrs: { min: 1, max: 1440, step: 1, inputmode: 'numeric' } }),
    date: field({ label: 'Date', name: 'date', type: 'date', value: date, required: true }),
    scheduledAt: field({ label: 'Time', name: 'time', type: 'time', value: '09:00', required: true, hint: `Wall-clock time in ${zone}.` }),
    name: field({ label: 'Patient\u2019s name', name: 'name', required: true, attrs: { autocomplete: 'off', maxlength: 200 } }),
    phone: field({ label: 'Phone (optional)', name: 'phone', type: 'tel', hint: 'International format, e.g. +447700900123.', attrs: { autocomplete: 'off' } }),
    email: field({ label: 'Email (optional)', name: 'email', type: 'email', attrs: { autocomplete: 'off' } }),
    notes: field({ label: 'Notes (optional)', name: 'notes', type: 'textarea', hint: 'Up to 2,000 characters. Avoid medical details.', attrs: { maxlength: 2000, rows: 2 } }),
  };
  f.serviceId.input.addEventListener('change', () => {
    const s = services.find((x) => x.id === f.serviceId.input.value);
    if (s) f.durationMinutes.input.value = String(s.durationMinutes);
  });
  const msg = formMessage();
  const submit = el('button', { type: 'submit', class: 'primary' }, 'Book appointment');
  const form = el(
    'form',
    { novalidate: true, class: 'grid-form' },
    el('fieldset', {}, el('legend', {}, 'When and with whom'), f.providerId.node, f.serviceId.node, f.durationMinutes.node, f.date.node, f.scheduledAt.node),
    el('fieldset', {}, el('legend', {}, 'Patient'), f.name.node, f.phone.node, f.email.node, f.notes.node),
    el('div', { class: 'actions' }, submit),
    msg.node,
  );

  let lastContact = null; // {name, phone, email, id}: reused when the patient fields did not change
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(f, msg);
    const name = f.name.value();
    const phone = f.phone.value();
    const email = f.email.value();
    const day = f.date.value();
    const time = f.scheduledAt.input.value;
    const duration = Number(f.durationMinutes.value());
    const serviceId = f.serviceId.input.value || null;
    let bad = null;
    const fail = (fld, text) => {
      fld.setError(text);
      bad = bad || fld;
    };
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) fail(f.date, 'Choose a date.');
    if (!/^\d{2}:\d{2}/.test(time)) fail(f.scheduledAt, 'Choose a time.');
    if (!serviceId && !(Number.isInteger(duration) && duration >= 1 && duration <= 1440)) fail(f.durationMinutes, 'Type a whole number of minutes from 1 to 1,440.');
    if (!name) fail(f.name, 'Type the patient\u2019s name.');
    if (bad) {
      bad.input.focus();
      announce('Some fields need attention.');
      return;
    }
    submit.disabled = true;
    msg.ok('Booking…');
    try {
      let contactId;
      if (lastContact && lastContact.name === name && lastContact.phone === phone && lastContact.email === email) {
        contactId = lastContact.id;
      } else {
        const body = { name };
        if (phone) body.phone = phone;
        if (email) body.email = email;
        let c;
        try {
          c = await app.call('/api/contacts', { method: 'POST', body });
        } catch (err) {
          showApiError(err, { name: f.name, phone: f.phone, email: f.email }, msg);
          return;
        }
        lastContact = { name, phone, email, id: c.id };
        contactId = c.id;
      }
      const body = {
        contactId,
        providerId: f.providerId.input.value,
        scheduledAt: zonedInstant(day, time.slice(0, 5), zone),
      };
      if (serviceId) body.serviceId = serviceId;
      if (Number.isInteger(duration) && duration > 0) body.durationMinutes = duration;
      const notes = f.notes.value();
      if (notes) body.notes = notes;
      try {
        const r = await app.call('/api/appointments', { method: 'POST', body, headers: { 'Idempotency-Key': idempotencyKey() } });
        msg.clear();
        announce(`Booked ${name} on ${formatDateTime(r.appointment.scheduledAt, zone)}.`);
        onBooked(r.appointment);
      } catch (err) {
        const fields = { scheduledAt: f.scheduledAt, durationMinutes: f.durationMinutes, providerId: f.providerId, serviceId: f.serviceId, notes: f.notes };
        timeError(err, f.scheduledAt, fields, msg, zone);
      }
    } finally {
      submit.disabled = false;
    }
  });

  const p = panel('Book an appointment', form, onClose);
  return { node: p.node, focus: () => p.heading.focus() };
}

/**
 * The "Move appointment" panel for a confirmed appointment `appt` (with
 * its contact's display name). opts: {providers, onMoved(newAppointment), onClose()}.
 */
export function reschedulePanel(app, appt, who, { providers, onMoved, onClose }) {
  const zone = app.zone;
  const f = {
    date: field({ label: 'New date', name: 'date', type: 'date', value: localDate(appt.scheduledAt, zone), required: true }),
    scheduledAt: field({
      label: 'New time',
      name: 'time',
      type: 'time',
      value: formatClock(appt.scheduledAt, zone),
      required: true,
      hint: `Wall-clock time in ${zone}.`,
    }),
    durationMinutes: field({ label: 'Duration (minutes)', name: 'durationMinutes', type: 'number', value: appt.durationMinutes, attrs: { min: 1, max: 1440, step: 1, inputmode: 'numeric' } }),
    providerId: field({ label: 'Provider', name: 'providerId', type: 'select', value: appt.providerId, options: providerOptions(providers) }),
  };
  const msg = formMessage();
  const submit = el('button', { type: 'submit', class: 'primary' }, 'Move appointment');
  const form = el(
    'form',
    { novalidate: true, class: 'grid-form' },
    el('p', { class: 'lead' }, `${who}: now ${formatDateTime(appt.scheduledAt, zone)}, ${appt.durationMinutes} min.`),
    el('fieldset', {}, el('legend', {}, 'Move to'), f.date.node, f.scheduledAt.node, f.durationMinutes.node, f.providerId.node),
    el('div', { class: 'actions' }, submit),
    msg.node,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(f, msg);
    const day = f.date.value();
    const time = f.scheduledAt.input.value;
    const duration = Number(f.durationMinutes.value());
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return f.date.setError('Choose a date.'), f.date.input.focus();
    if (!/^\d{2}:\d{2}/.test(time)) return f.scheduledAt.setError('Choose a time.'), f.scheduledAt.input.focus();
    if (!(Number.isInteger(duration) && duration >= 1 && duration <= 1440)) {
      f.durationMinutes.setError('Type a whole number of minutes from 1 to 1,440.');
      f.durationMinutes.input.focus();
      return;
    }
    const body = { scheduledAt: zonedInstant(day, time.slice(0, 5), zone) };
    if (duration !== appt.durationMinutes) body.durationMinutes = duration;
    if (f.providerId.input.value !== appt.providerId) body.providerId = f.providerId.input.value;
    submit.disabled = true;
    try {
      const r = await app.call(`/api/appointments/${appt.id}/reschedule`, { method: 'POST', body, headers: { 'Idempotency-Key': idempotencyKey() } });
      announce(`Moved to ${formatDateTime(r.appointment.scheduledAt, zone)}.`);
      onMoved(r.appointment);
    } catch (err) {
      timeError(err, f.scheduledAt, { scheduledAt: f.scheduledAt, durationMinutes: f.durationMinutes, providerId: f.providerId }, msg, zone);
    } finally {
      submit.disabled = false;
    }
  });
  const p = panel('Move an appointment', form, onClose);
  return { node: p.node, focus: () => p.heading.focus() };
}

/** "14:05" (24-hour, for a time input) of an instant in `zone`. */
export function formatClock(iso, zone) {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(iso))
      .map((x) => [x.type, x.value]),
  );
  return `${p.hour}:${p.minute}`;
}
