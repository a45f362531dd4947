// The self-service page of a patient's link, /manage/{token} (docs/web.md,
// API.md "Self-service links for patients"): the appointment, Cancel (with
// a confirmation step) and Move (the booking page's calendar and times, then
// POST /api/manage/{token}/reschedule). A link that no longer works (used,
// cancelled, moved, past) says so plainly.

import { pageConfig, api, el, replace, formatTime, localDate } from './common.js';
import { createPicker, longDate, problemText } from './patient-picker.js';
import { announce, clearAlert, sentence, whenNodes, durationText, summaryList, providerLabel, icsLink } from './patient-ui.js';

const cfg = pageConfig();
const key = cfg.publicKey || null;
const app = document.getElementById('app');
const title = document.getElementById('page-title');
const orgNameEl = document.getElementById('org-name');

const s = {
  token: cfg.token || tokenFromPath(),
  view: null, // {appointment, organization}
  manageUrl: null, // the newest link, after a move
  picker: null,
  chosen: null, // the slot chosen for a move
  busy: false,
  moved: false,
};

function tokenFromPath() {
  const parts = location.pathname.split('/').filter(Boolean);
  return parts.length ? decodeURIComponent(parts[parts.length - 1]) : '';
}

const zone = () => (s.view && s.view.organization.timezone) || 'UTC';
const orgName = () => (s.view && s.view.organization.name) || '';
const shortWhen = (iso) => `${formatTime(iso, zone())} on ${longDate(localDate(iso, zone()))}`;

function setTitle(h1, doc) {
  title.textContent = h1;
  document.title = orgName() ? `${doc || h1} – ${orgName()}` : doc || h1;
}

function focusTitle() {
  title.focus({ preventScroll: true });
  title.scrollIntoView({ block: 'start' });
}

// ------------------------------------------------------------------ loading

async function load({ after } = {}) {
  if (!key || !s.token) return dead();
  try {
    s.view = await api('/api/manage/' + encodeURIComponent(s.token));
  } catch (e) {
    if (e.status === 404) return dead();
    replace(app, el('p', { class: 'problem' }, problemText(e)), el('button', { type: 'button', class: 'secondary', onclick: () => load() }, 'Try again'));
    return;
  }
  orgNameEl.textContent = orgName();
  if (s.view.appointment.status !== 'confirmed') return dead();
  show(after);
}

/** The link no longer works: say so, and what may have happened. */
function dead(extra) {
  s.view = s.view || null;
  setTitle('This link no longer works', 'This link no longer works');
  replace(
    app,
    el(
      'section',
      { class: 'step', 'aria-labelledby': 'dead-h', id: 'dead' },
      el('h2', { id: 'dead-h' }, 'Why this can happen'),
      extra ? el('p', { class: 'lead' }, extra) : null,
      el('p', {}, 'A link to change or cancel an appointment stops working when the appointment has been cancelled or moved, or once its time has passed.'),
      el('p', {}, 'If you moved your appointment, use the newest link you were given. If you need help, please contact the practice.'),
    ),
  );
}

// ------------------------------------------------------------------ the appointment

function appointmentSummary(a) {
  const service = a.serviceName ? `${a.serviceName} (${durationText(a.durationMinutes)})` : `Appointment (${durationText(a.durationMinutes)})`;
  return summaryList(
    [
      ['What', service],
      ['When', ...whenNodes(a.scheduledAt, a.durationMinutes, zone())],
      ['With', providerLabel(a.providerName)],
      ['Where', orgName() || null],
      ['Status', el('span', { class: 'status-badge' }, a.status === 'confirmed' ? 'Confirmed' : a.status)],
    ],
    { id: 'appointment-summary' },
  );
}

function calendarEvent(a) {
  return {
    id: a.id,
    start: a.scheduledAt,
    minutes: a.durationMinutes,
    summary: `${a.serviceName || 'Appointment'}${orgName() ? ' at ' + orgName() : ''}`,
    description: [
      providerLabel(a.providerName) ? `With ${a.providerName}` : null,
      s.manageUrl || location.href ? `To change or cancel: ${s.manageUrl || location.href}` : null,
    ].filter(Boolean).join('\n'),
    location: orgName() || null,
    url: s.manageUrl || location.href,
  };
}

/** The appointment with its actions; `after` is a notice to put on top (after a move). */
function show(after) {
  const a = s.view.appointment;
  setTitle(s.moved ? 'Your appointment has moved' : 'Your appointment', 'Your appointment');
  s.actions = el(
    'div',
    { class: 'actions', id: 'actions' },
    el('button', { type: 'button', class: 'primary', id: 'move-button', onclick: openMove }, 'Move to another time'),
    el('button', { type: 'button', class: 'secondary', id: 'cancel-button', onclick: askCancel }, 'Cancel appointment'),
  );
  s.panel = el('div', { id: 'panel' });
  replace(
    app,
    after || null,
    el(
      'section',
      { class: 'step', 'aria-labelledby': 'appt-h', id: 'appointment' },
      el('h2', { id: 'appt-h' }, s.moved ? 'Your new appointment' : 'Appointment details'),
      appointmentSummary(a),
      el('div', { class: 'actions' }, icsLink(calendarEvent(a))),
      s.actions,
    ),
    s.panel,
  );
}

// ------------------------------------------------------------------ cancel

function askCancel() {
  clearAlert();
  closeMove();
  s.actions.hidden = true;
  const a = s.view.appointment;
  replace(
    s.panel,
    el(
      'section',
      { class: 'step', 'aria-labelledby': 'cancel-h', id: 'cancel-confirm' },
      el('h2', { id: 'cancel-h', tabindex: '-1' }, 'Cancel this appointment?'),
      el('p', {}, `Your appointment at ${shortWhen(a.scheduledAt)} (${zone()} time) will be cancelled, and this link will stop working. This cannot be undone.`),
      el('p', { class: 'times-msg', id: 'cancel-msg' }),
      el(
        'div',
        { class: 'actions' },
        el('button', { type: 'button', class: 'danger', id: 'cancel-yes', onclick: doCancel }, 'Yes, cancel it'),
        el('button', { type: 'button', class: 'secondary', id: 'cancel-no', onclick: keep }, 'No, keep it'),
      ),
    ),
  );
  document.getElementById('cancel-h').focus();
}

function keep() {
  clearAlert();
  replace(s.panel);
  s.actions.hidden = false;
  document.getElementById('cancel-button').focus();
}

async function doCancel() {
  if (s.busy) return;
  s.busy = true;
  const yes = document.getElementById('cancel-yes');
  yes.setAttribute('aria-disabled', 'true');
  yes.textContent = 'Cancelling…';
  try {
    await api('/api/manage/' + encodeURIComponent(s.token) + '/cancel', { method: 'POST' });
  } catch (e) {
    s.busy = false;
    yes.removeAttribute('aria-disabled');
    yes.textContent = 'Yes, cancel it';
    if (e.status === 404) return dead('This appointment can no longer be changed through this link.');
    // 409 invalid_state: the practice's cancellation notice, in its own words.
    const text = e.status === 409 ? sentence(e.message) : problemText(e);
    const msg = document.getElementById('cancel-msg');
    msg.className = 'times-msg error';
    msg.textContent = text;
    announce(text, { alert: true });
    return;
  }
  s.busy = false;
  const a = s.view.appointment;
  setTitle('Your appointment is cancelled');
  replace(
    app,
    el(
      'section',
      { class: 'step', 'aria-labelledby': 'cancelled-h', id: 'cancelled' },
      el('h2', { id: 'cancelled-h', class: 'ok-mark' }, 'Cancelled'),
      el('p', { class: 'lead' }, `Your appointment at ${shortWhen(a.scheduledAt)} (${zone()} time) is cancelled. The time is free for someone else.`),
      el('p', { class: 'notice' }, 'This link no longer works now. If you would like a new appointment, please book again or contact the practice.'),
      cfg.orgId ? el('p', {}, el('a', { href: '/book/' + encodeURIComponent(cfg.orgId), id: 'book-again' }, 'Book a new appointment')) : null,
    ),
  );
  announce('Your appointment is cancelled.');
  focusTitle();
}

// ------------------------------------------------------------------ move

function openMove() {
  clearAlert();
  s.actions.hidden = true;
  const a = s.view.appointment;
  s.chosen = null;
  s.picker = createPicker({
    zone: zone(),
    availabilityPath: '/api/manage/' + encodeURIComponent(s.token) + '/availability',
    idPrefix: 'move',
    onPick: choose,
  });
  s.confirmBox = el('div', { class: 'move-confirm', id: 'move-confirm' });
  replace(
    s.panel,
    el(
      'section',
      { class: 'step', 'aria-labelledby': 'move-h', id: 'move' },
      el('h2', { id: 'move-h', tabindex: '-1' }, 'Choose a new day and time'),
      el('p', { class: 'hint' }, `Your current time stays booked until you confirm the new one.`),
      s.picker.root,
      s.confirmBox,
      el('div', { class: 'actions' }, el('button', { type: 'button', class: 'link', id: 'move-close', onclick: () => { closeMove(); s.actions.hidden = false; document.getElementById('move-button').focus(); } }, 'Keep the current time')),
    ),
  );
  document.getElementById('move-h').focus();
  s.picker.start(localDate(a.scheduledAt, zone()));
}

function closeMove() {
  s.picker = null;
  s.chosen = null;
  if (s.panel) replace(s.panel);
}

function choose(slot) {
  if (s.busy) return;
  clearAlert();
  s.picker.clearMessage();
  if (Date.parse(slot.scheduledAt) === Date.parse(s.view.appointment.scheduledAt)) {
    s.chosen = null;
    replace(s.confirmBox, el('p', { class: 'notice', id: 'move-summary' }, 'That is the time of your appointment now. Choose another time to move it.'));
    return;
  }
  s.chosen = slot;
  s.picker.setSelected(slot.scheduledAt);
  replace(
    s.confirmBox,
    el('p', { class: 'notice', id: 'move-summary' }, 'Move your appointment to ', el('strong', {}, shortWhen(slot.scheduledAt)), ` (${zone()} time)?`),
    el('div', { class: 'actions' }, el('button', { type: 'button', class: 'primary', id: 'move-yes', onclick: doMove }, `Move to ${formatTime(slot.scheduledAt, zone())}`)),
  );
  document.getElementById('move-yes').focus();
}

async function doMove() {
  if (s.busy || !s.chosen) return;
  s.busy = true;
  const slot = s.chosen;
  const btn = document.getElementById('move-yes');
  btn.setAttribute('aria-disabled', 'true');
  btn.textContent = 'Moving…';
  let res;
  try {
    res = await api('/api/manage/' + encodeURIComponent(s.token) + '/reschedule', { method: 'POST', body: { scheduledAt: slot.scheduledAt } });
  } catch (e) {
    s.busy = false;
    if (e.status === 404) return dead('This appointment can no longer be changed through this link.');
    btn.removeAttribute('aria-disabled');
    btn.textContent = `Move to ${formatTime(slot.scheduledAt, zone())}`;
    if (e.status === 409 && (e.code === 'slot_unavailable' || e.code === 'slot_busy')) {
      s.chosen = null;
      replace(s.confirmBox);
      const text = `Sorry, ${shortWhen(slot.scheduledAt)} was just taken by someone else. Please choose another time. Your appointment has not changed.`;
      s.picker.setMessage(text);
      s.picker.setSelected(null);
      announce(text, { alert: true });
      await s.picker.refresh();
      s.picker.focusTimes();
      return;
    }
    if (e.status === 400 && e.field === 'scheduledAt') {
      s.chosen = null;
      replace(s.confirmBox);
      const text = `${sentence(e.message)} Please choose another time.`;
      s.picker.setMessage(text);
      s.picker.setSelected(null);
      announce(text, { alert: true });
      await s.picker.refresh();
      s.picker.focusTimes();
      return;
    }
    // 409 invalid_state (the practice's notice period) and anything else: the API's words.
    const text = e.status === 409 ? sentence(e.message) : problemText(e);
    s.picker.setMessage(text);
    announce(text, { alert: true });
    return;
  }
  s.busy = false;
  // The old link has stopped working; the new one takes its place, in the address bar too.
  s.manageUrl = res.manageUrl || null;
  let newToken = null;
  if (s.manageUrl) {
    try {
      const u = new URL(s.manageUrl, location.href);
      newToken = decodeURIComponent(u.pathname.split('/').filter(Boolean).pop() || '');
      const path = location.pathname.replace(/[^/]*$/, encodeURIComponent(newToken));
      history.replaceState(null, '', path);
    } catch {
      newToken = null;
    }
  }
  const oldView = s.view;
  s.picker = null;
  s.moved = true;
  const notice = el(
    'div',
    { class: 'step notice ok', id: 'moved', role: 'group', 'aria-labelledby': 'moved-h' },
    el('h2', { id: 'moved-h', class: 'ok-mark' }, 'Moved'),
    el('p', {}, `Your appointment is now at ${shortWhen(res.appointment.scheduledAt)} (${zone()} time).`),
    s.manageUrl
      ? el('p', {}, 'The link you used before no longer works. Your new link to change or cancel this appointment: ', el('a', { href: s.manageUrl, id: 'new-manage-link' }, 'Change or cancel this appointment'), '.')
      : null,
  );
  if (newToken) {
    s.token = newToken;
    try {
      s.view = await api('/api/manage/' + encodeURIComponent(newToken));
    } catch {
      s.view = { appointment: { ...oldView.appointment, ...res.appointment }, organization: oldView.organization };
    }
  } else {
    s.view = { appointment: { ...oldView.appointment, ...res.appointment }, organization: oldView.organization };
  }
  show(notice);
  announce(`Your appointment is moved to ${shortWhen(res.appointment.scheduledAt)}.`);
  focusTitle();
}

load();
