// The public booking page, /book/{orgId} (docs/web.md). A patient chooses a
// service (and a provider when there are several), a day on the month
// calendar and a free time; the time is held for five minutes (POST
// /api/holds) while they type their name, phone and e-mail; Book creates the
// contact and the appointment (with the hold and an Idempotency-Key) and
// shows the confirmation with an .ics file and the link to change or cancel.

import { pageConfig, api, el, replace, formatTime, localDate } from './common.js';
import { createPicker, longDate, problemText } from './patient-picker.js';
import {
  announce, clearAlert, uuid, sentence, whenNodes, durationText, summaryList, providerLabel, icsLink, timeRange,
} from './patient-ui.js';

const HOLD_SECONDS = 300;
const DEFAULT_MINUTES = 30;
const PHONE_RE = /^\+[1-9][0-9]{6,14}$/;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const cfg = pageConfig();
const key = cfg.publicKey;
const zone = cfg.timezone || 'UTC';
const app = document.getElementById('app');

const s = {
  services: [],
  providers: [],
  providerId: cfg.defaultProviderId || null,
  serviceId: null,
  hold: null, // {id, slot, deadline}
  timer: null,
  warned: false,
  contact: null, // {fields, id}: the contact made for these exact details
  attempt: null, // {body, key}: the Idempotency-Key of this exact booking
  busy: false,
  picker: null,
};

const orgName = cfg.name || '';
document.getElementById('org-name').textContent = orgName;
if (orgName) document.title = `Book an appointment – ${orgName}`;

// ------------------------------------------------------------------ helpers

const service = () => s.services.find((x) => x.id === s.serviceId) || null;
const minutes = () => (service() ? service().durationMinutes : DEFAULT_MINUTES);
const provider = () => s.providers.find((x) => x.id === s.providerId) || null;
const params = () => ({ providerId: s.providerId, serviceId: s.serviceId, durationMinutes: s.serviceId ? undefined : DEFAULT_MINUTES });
/** The appointment's length or service, as a body needs it. */
const what = () => (s.serviceId ? { serviceId: s.serviceId } : { durationMinutes: DEFAULT_MINUTES });
const shortWhen = (iso) => `${formatTime(iso, zone)} on ${longDate(localDate(iso, zone))}`;

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Normalizes what a patient types as a phone number: spaces, dashes, dots and brackets out; 00 → +. */
export function normalizePhone(raw) {
  let p = raw.trim().replace(/[\s\-().\u00a0]/g, '');
  if (p.startsWith('00')) p = '+' + p.slice(2);
  return p;
}

// ------------------------------------------------------------------ start

async function start() {
  if (!key || !cfg.orgId) {
    replace(app, el('p', { class: 'problem' }, 'Online booking is not available at the moment. Please contact the practice to book.'));
    return;
  }
  replace(app, el('p', { class: 'loading' }, 'Loading the booking page…'));
  try {
    const [sv, pv] = await Promise.all([api('/api/services', { key }), api('/api/providers', { key })]);
    s.services = sv.services || [];
    s.providers = pv.providers || [];
  } catch (e) {
    replace(app, el('p', { class: 'problem' }, problemText(e)), el('button', { type: 'button', class: 'secondary', onclick: start }, 'Try again'));
    return;
  }
  if (!s.providers.some((p) => p.id === s.providerId)) s.providerId = s.providers.length ? s.providers[0].id : s.providerId;
  s.serviceId = s.services.length ? s.services[0].id : null;
  build();
}

// ------------------------------------------------------------------ the steps

let els = {};

function build() {
  s.picker = createPicker({ key, zone, ...params(), idPrefix: 'book', onPick: pick });

  const choose = el('section', { class: 'step', 'aria-labelledby': 'step-what' }, el('h2', { id: 'step-what' }, 'What would you like to book?'));
  if (s.services.length > 1) {
    choose.append(
      field('f-service', 'Service',
        el('select', { id: 'f-service', onchange: (e) => changeParams({ serviceId: e.target.value }) },
          s.services.map((x) => el('option', { value: x.id, selected: x.id === s.serviceId }, `${x.name} (${durationText(x.durationMinutes)})`)))),
    );
  } else if (s.services.length === 1) {
    choose.append(el('p', { class: 'fact' }, `${s.services[0].name}, ${durationText(s.services[0].durationMinutes)}`));
  } else {
    choose.append(el('p', { class: 'fact' }, `An appointment of ${durationText(DEFAULT_MINUTES)}`));
  }
  if (s.providers.length > 1) {
    choose.append(
      field('f-provider', 'Who would you like to see?',
        el('select', { id: 'f-provider', onchange: (e) => changeParams({ providerId: e.target.value }) },
          s.providers.map((p) => el('option', { value: p.id, selected: p.id === s.providerId }, p.name)))),
    );
  }

  const when = el('section', { class: 'step', 'aria-labelledby': 'step-when' }, el('h2', { id: 'step-when' }, 'Choose a day and time'), s.picker.root);

  els.heldText = el('p', { class: 'held-text' });
  els.countdown = el('span', { class: 'countdown', role: 'timer' });
  els.held = el('div', { class: 'held', id: 'held' }, els.heldText);
  els.submit = el('button', { type: 'submit', class: 'primary', id: 'book-button' }, 'Book this appointment');
  els.form = el(
    'form',
    { id: 'details', novalidate: true, onsubmit: submit, 'aria-labelledby': 'step-details' },
    els.held,
    inputField('name', 'Full name', { type: 'text', autocomplete: 'name', required: true, maxlength: '200' }),
    inputField('phone', 'Mobile phone number', { type: 'tel', autocomplete: 'tel', inputmode: 'tel', required: true, maxlength: '40' },
      'Start with + and your country code, without the first 0 of the number: for example +447700900123. The practice uses it to contact you about this appointment.'),
    inputField('email', 'Email address', { type: 'email', autocomplete: 'email', maxlength: '254', optional: true }),
    el('div', { class: 'form-actions' }, els.submit),
  );
  els.details = el('section', { class: 'step', id: 'step-details-section', 'aria-labelledby': 'step-details', hidden: true },
    el('h2', { id: 'step-details', tabindex: '-1' }, 'Your details'), els.form);
  els.flow = el('div', { class: 'flow' }, choose, when, els.details);
  els.done = el('section', { class: 'step done', id: 'done', 'aria-labelledby': 'done-h', hidden: true });
  replace(app, els.flow, els.done);
  updateHeld();
  s.picker.start();
}

function field(id, label, control, hint) {
  return el('div', { class: 'field' }, el('label', { for: id }, label), hint ? el('p', { class: 'hint', id: id + '-hint' }, hint) : null, control);
}

/** A labelled input with its hint and the place for its error. */
function inputField(name, label, { optional, ...attrs }, hint) {
  const id = 'f-' + name;
  const input = el('input', { id, name, ...attrs, 'aria-describedby': hint ? id + '-hint' : null, oninput: () => clearFieldError(name) });
  return el(
    'div',
    { class: 'field', id: id + '-field' },
    el('label', { for: id }, label, optional ? el('span', { class: 'optional' }, ' (optional)') : null),
    hint ? el('p', { class: 'hint', id: id + '-hint' }, hint) : null,
    input,
    el('p', { class: 'field-error', id: id + '-error' }),
  );
}

function setFieldError(name, text) {
  const input = document.getElementById('f-' + name);
  const err = document.getElementById('f-' + name + '-error');
  if (!input || !err) return false;
  err.textContent = text;
  input.setAttribute('aria-invalid', 'true');
  const hint = document.getElementById('f-' + name + '-hint');
  input.setAttribute('aria-describedby', [hint ? hint.id : null, err.id].filter(Boolean).join(' '));
  return true;
}

function clearFieldError(name) {
  const input = document.getElementById('f-' + name);
  const err = document.getElementById('f-' + name + '-error');
  if (!input || !err || !input.hasAttribute('aria-invalid')) return;
  err.textContent = '';
  input.removeAttribute('aria-invalid');
  const hint = document.getElementById('f-' + name + '-hint');
  if (hint) input.setAttribute('aria-describedby', hint.id);
  else input.removeAttribute('aria-describedby');
}

// ------------------------------------------------------------------ service / provider

async function changeParams(p) {
  if (p.serviceId !== undefined) s.serviceId = p.serviceId;
  if (p.providerId !== undefined) s.providerId = p.providerId;
  const released = releaseHold();
  s.picker.clearMessage();
  updateHeld();
  await released;
  await s.picker.setParams(params());
}

// ------------------------------------------------------------------ holds

async function pick(slot) {
  if (s.busy) return;
  if (s.hold && s.hold.slot.scheduledAt === slot.scheduledAt) {
    showDetails();
    return;
  }
  s.busy = true;
  s.picker.setBusy(true);
  s.picker.clearMessage();
  clearAlert();
  // The earlier hold goes first: a time next to it would overlap it.
  const old = s.hold;
  if (old) {
    stopTimer();
    s.hold = null;
    await api('/api/holds/' + encodeURIComponent(old.id), { method: 'DELETE', key }).catch(() => {});
  }
  let err = null;
  try {
    s.hold = await createHold(slot);
  } catch (e) {
    err = e;
    if (old) {
      // Keep the earlier choice if it is still free.
      s.hold = await createHold(old.slot).catch(() => null);
      if (!s.hold) {
        s.picker.setPinned(null);
        s.picker.setSelected(null);
      } else startTimer();
    }
  }
  s.busy = false;
  s.picker.setBusy(false);
  if (err) {
    updateHeld();
    if (err.status === 409 && (err.code === 'slot_unavailable' || err.code === 'slot_busy')) return taken(slot, false);
    if (err.status === 400 && err.field === 'scheduledAt') return refused(err.message, false);
    s.picker.setMessage(problemText(err));
    announce(problemText(err), { alert: true });
    return;
  }
  s.warned = false;
  s.picker.setPinned(s.hold.slot);
  s.picker.setSelected(slot.scheduledAt);
  startTimer();
  updateHeld();
  showDetails();
  announce(`${shortWhen(slot.scheduledAt)} is held for you for 5 minutes while you enter your details.`);
}

/** POST /api/holds for `slot`: {id, slot, deadline} (the deadline on this browser's clock). */
async function createHold(slot) {
  const sent = Date.now();
  const h = await api('/api/holds', {
    method: 'POST',
    key,
    body: { scheduledAt: slot.scheduledAt, providerId: s.providerId, ...what(), ttlSeconds: HOLD_SECONDS },
  });
  return { id: h.holdId, slot: { scheduledAt: slot.scheduledAt, durationMinutes: slot.durationMinutes }, deadline: sent + HOLD_SECONDS * 1000 };
}

/** DELETE /api/holds/{id}; resolves when done (or failed: an expired hold is gone anyway). */
function deleteHold(id, keepalive = false) {
  if (keepalive) {
    try {
      fetch('/api/holds/' + encodeURIComponent(id), { method: 'DELETE', headers: { Authorization: 'Bearer ' + key }, keepalive: true, credentials: 'omit' }).catch(() => {});
    } catch {
      /* leaving the page: nothing more to do */
    }
    return Promise.resolve();
  }
  return api('/api/holds/' + encodeURIComponent(id), { method: 'DELETE', key }).then(() => {}, () => {});
}

/**
 * Lets go of the current hold (if any) and forgets the chosen time; resolves
 * once the server has let go too, so that times asked for after it include it.
 */
function releaseHold() {
  const done = s.hold ? deleteHold(s.hold.id) : Promise.resolve();
  s.hold = null;
  stopTimer();
  if (s.picker) {
    s.picker.setPinned(null);
    s.picker.setSelected(null);
  }
  return done;
}

function startTimer() {
  stopTimer();
  s.timer = setInterval(tick, 1000);
  tick();
}

function stopTimer() {
  if (s.timer) clearInterval(s.timer);
  s.timer = null;
}

const mmss = (sec) => `${Math.floor(sec / 60)}:${String(sec % 60).padStart(2, '0')}`;

function tick() {
  if (!s.hold) return stopTimer();
  const left = Math.max(0, Math.ceil((s.hold.deadline - Date.now()) / 1000));
  els.countdown.textContent = mmss(left);
  els.held.classList.toggle('urgent', left <= 60);
  if (left <= 60 && !s.warned) {
    s.warned = true;
    announce(`One minute left to finish booking ${shortWhen(s.hold.slot.scheduledAt)}.`);
  }
  if (left === 0) expire();
}

async function expire() {
  const slot = s.hold.slot;
  const released = releaseHold();
  updateHeld();
  const text = `We held ${shortWhen(slot.scheduledAt)} for 5 minutes, and it has now been released. Please choose a time again; the free times have been updated.`;
  s.picker.setMessage(text, 'info');
  announce(text, { alert: true });
  await released;
  await s.picker.refresh();
}

/** The time was just taken by someone else: say so kindly and show fresh times. */
async function taken(slot, wasHeld) {
  if (wasHeld) await releaseHold();
  updateHeld();
  const still = s.hold ? ` Your earlier choice, ${shortWhen(s.hold.slot.scheduledAt)}, is still held for you.` : '';
  const text = `Sorry, ${shortWhen(slot.scheduledAt)} was just taken by someone else. Please choose another time.${still}`;
  s.picker.setMessage(text, 'error');
  announce(text, { alert: true });
  await s.picker.refresh();
  s.picker.focusTimes();
}

/** The API refused the time (the practice's booking rules): the reason goes next to the times. */
async function refused(reason, wasHeld = true) {
  if (wasHeld) await releaseHold();
  updateHeld();
  const still = s.hold ? ` Your earlier choice, ${shortWhen(s.hold.slot.scheduledAt)}, is still held for you.` : '';
  const text = `${sentence(reason)} Please choose another time.${still}`;
  s.picker.setMessage(text, 'error');
  announce(text, { alert: true });
  await s.picker.refresh();
  s.picker.focusTimes();
}

function updateHeld() {
  if (!els.heldText) return;
  if (s.hold) {
    const slot = s.hold.slot;
    replace(
      els.heldText,
      el('strong', {}, shortWhen(slot.scheduledAt)),
      ` (${zone} time) is held for you for `,
      els.countdown,
      '. Enter your details to book it, or choose another time above.',
    );
    els.held.classList.remove('none');
    els.submit.textContent = `Book ${formatTime(slot.scheduledAt, zone)}`;
  } else {
    replace(els.heldText, 'No time chosen yet. Choose a day and a time above.');
    els.held.classList.add('none');
    els.held.classList.remove('urgent');
    els.submit.textContent = 'Book this appointment';
  }
}

function showDetails() {
  els.details.hidden = false;
  const heading = document.getElementById('step-details');
  heading.focus({ preventScroll: true });
  els.details.scrollIntoView({ block: 'start', behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' });
}

// ------------------------------------------------------------------ booking

function readForm() {
  return {
    name: document.getElementById('f-name').value.trim(),
    phone: normalizePhone(document.getElementById('f-phone').value),
    email: document.getElementById('f-email').value.trim(),
  };
}

function validate(f) {
  const errors = [];
  if (!f.name) errors.push(['name', 'Enter your full name.']);
  if (!f.phone) errors.push(['phone', 'Enter your mobile phone number, for example +447700900123.']);
  else if (!PHONE_RE.test(f.phone))
    errors.push(['phone', 'Enter the number in international format: + and your country code, then the number without its first 0, for example +447700900123.']);
  if (f.email && !EMAIL_RE.test(f.email)) errors.push(['email', 'Enter an email address like name@example.com, or leave it empty.']);
  return errors;
}

function showErrors(errors) {
  for (const [name, text] of errors) setFieldError(name, text);
  const said = errors.length === 1 ? errors[0][1] : `There are ${errors.length} problems: ${errors.map((e) => e[1]).join(' ')}`;
  announce(said, { alert: true });
  const first = document.getElementById('f-' + errors[0][0]);
  if (first) first.focus();
}

function setBusy(b, label) {
  s.busy = b;
  els.submit.setAttribute('aria-disabled', b ? 'true' : 'false');
  if (b) els.submit.textContent = label;
  else updateHeld();
  els.form.setAttribute('aria-busy', b ? 'true' : 'false');
}

async function submit(ev) {
  ev.preventDefault();
  if (s.busy) return;
  clearAlert();
  for (const n of ['name', 'phone', 'email']) clearFieldError(n);
  const f = readForm();
  const errors = validate(f);
  if (errors.length) return showErrors(errors);
  if (!s.hold) {
    const text = 'Please choose a day and a time first.';
    s.picker.setMessage(text);
    announce(text, { alert: true });
    s.picker.focusTimes();
    return;
  }
  const slot = s.hold.slot;
  setBusy(true, 'Booking…');
  try {
    const contactId = await contactFor(f);
    if (!contactId) return;
    await bookAt(contactId, slot, f);
  } finally {
    if (s.busy) setBusy(false);
  }
}

/** The contact for these details: the one made before when they are unchanged. */
async function contactFor(f) {
  const fields = JSON.stringify([f.name, f.phone, f.email]);
  if (s.contact && s.contact.fields === fields) return s.contact.id;
  const body = { name: f.name, phone: f.phone };
  if (f.email) body.email = f.email;
  try {
    const c = await api('/api/contacts', { method: 'POST', key, body });
    s.contact = { fields, id: c.id };
    return c.id;
  } catch (e) {
    if (e.status === 400 && ['name', 'phone', 'email'].includes(e.field)) showErrors([[e.field, sentence(e.message)]]);
    else announce(problemText(e), { alert: true, show: true });
    return null;
  }
}

async function bookAt(contactId, slot, f) {
  const body = { contactId, providerId: s.providerId, ...what(), scheduledAt: slot.scheduledAt, holdId: s.hold.id };
  const text = JSON.stringify(body);
  // The same attempt (same body) keeps its key, so a retry after a lost
  // answer cannot book twice; anything different is a new attempt.
  if (!s.attempt || s.attempt.body !== text) s.attempt = { body: text, key: uuid() };
  const headers = { 'Idempotency-Key': s.attempt.key };
  let res;
  for (let round = 0; ; round++) {
    try {
      res = await api('/api/appointments', { method: 'POST', key, body, headers });
      break;
    } catch (e) {
      if (e.code === 'slot_busy' && round < 2) {
        await sleep(Math.min(3, e.retryAfter || 1) * 1000);
        continue;
      }
      setBusy(false);
      if (e.status === 409 && (e.code === 'slot_unavailable' || e.code === 'slot_busy')) {
        s.attempt = null;
        return taken(slot, true);
      }
      if (e.status === 400 && e.field === 'scheduledAt') return refused(e.message);
      if (e.status === 400 && ['name', 'phone', 'email'].includes(e.field)) return showErrors([[e.field, sentence(e.message)]]);
      if (e.status === 409) {
        // invalid_state: the hold and the time no longer match; start the time again.
        await releaseHold();
        updateHeld();
        s.picker.setMessage(sentence(e.message));
        announce(sentence(e.message), { alert: true });
        await s.picker.refresh();
        return;
      }
      announce(problemText(e) + ' Your details are kept: press Book again to retry.', { alert: true, show: true });
      return;
    }
  }
  // The hold became the appointment.
  s.hold = null;
  stopTimer();
  s.attempt = null;
  setBusy(false);
  confirmation(res, f);
}

// ------------------------------------------------------------------ confirmation

function confirmation(res, f) {
  const a = res.appointment;
  const svc = service();
  const prov = provider();
  const withName = prov ? (s.providers.length > 1 ? prov.name : providerLabel(prov.name)) : null;
  const whatText = svc ? `${svc.name} (${durationText(a.durationMinutes)})` : `Appointment (${durationText(a.durationMinutes)})`;
  const description = [
    withName ? `With ${withName}` : null,
    orgName ? `At ${orgName}` : null,
    res.manageUrl ? `To change or cancel: ${res.manageUrl}` : null,
  ].filter(Boolean).join('\n');
  replace(
    els.done,
    el('h2', { id: 'done-h', tabindex: '-1' }, 'You’re booked'),
    el('p', { class: 'lead' }, `Thank you, ${f.name}. Your appointment is confirmed.`),
    summaryList([
      ['What', whatText],
      ['When', ...whenNodes(a.scheduledAt, a.durationMinutes, zone)],
      ['With', withName],
      ['Where', orgName || null],
    ], { id: 'done-summary' }),
    el(
      'div',
      { class: 'actions' },
      icsLink({
        id: a.id,
        start: a.scheduledAt,
        minutes: a.durationMinutes,
        summary: `${svc ? svc.name : 'Appointment'}${orgName ? ' at ' + orgName : ''}`,
        description,
        location: orgName || null,
        url: res.manageUrl || null,
      }),
      res.manageUrl ? el('a', { class: 'button secondary', href: res.manageUrl, id: 'manage-link' }, 'Change or cancel this appointment') : null,
    ),
    res.manageUrl ? el('p', { class: 'hint' }, 'Keep the “Change or cancel this appointment” link (bookmark it, or add the appointment to your calendar, which includes it). It works until the appointment starts.') : null,
    el('div', { class: 'actions' }, el('button', { type: 'button', class: 'link', id: 'book-another', onclick: bookAnother }, 'Book another appointment')),
  );
  els.flow.hidden = true;
  els.done.hidden = false;
  document.title = `Booked: ${timeRange(a.scheduledAt, a.durationMinutes, zone)} – ${orgName || 'Book an appointment'}`;
  announce(`You’re booked for ${shortWhen(a.scheduledAt)}.`);
  const h = document.getElementById('done-h');
  h.focus({ preventScroll: true });
  els.done.scrollIntoView({ block: 'start' });
}

async function bookAnother() {
  clearAlert();
  els.form.reset();
  for (const n of ['name', 'phone', 'email']) clearFieldError(n);
  s.contact = null;
  s.attempt = null;
  await releaseHold();
  updateHeld();
  s.picker.clearMessage();
  els.details.hidden = true;
  els.done.hidden = true;
  els.flow.hidden = false;
  document.title = orgName ? `Book an appointment – ${orgName}` : 'Book an appointment';
  s.picker.refresh();
  const h = document.getElementById('step-when');
  h.setAttribute('tabindex', '-1');
  h.focus();
  h.scrollIntoView({ block: 'start' });
}

// Leaving the page lets go of the held time at once, for the next patient.
window.addEventListener('pagehide', () => {
  if (s.hold) deleteHold(s.hold.id, true);
});

start();
