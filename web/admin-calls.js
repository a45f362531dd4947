// Calls from the voice agent (GET /api/calls): status, start and end, why
// it ended, and the appointments booked during it (each opens that day in
// the calendar). No transcript or phone number is kept by bookd.

import { el, replace, query } from '/static/common.js';
import { showAppointment } from '/static/admin-calendar.js';
import { viewHeading, tableBox, when, errorText, field, announce, formMessage } from '/static/admin-ui.js';

export async function renderCalls(app, root) {
  const limit = field({
    label: 'Show',
    name: 'limit',
    type: 'select',
    value: '50',
    options: [{ value: '20', label: 'Latest 20' }, { value: '50', label: 'Latest 50' }, { value: '200', label: 'Latest 200' }],
  });
  const refresh = el('button', { type: 'button', class: 'secondary' }, 'Refresh');
  const box = el('div');
  const msg = formMessage();

  const openAppointment = (id) => showAppointment(app, id).catch((e) => msg.error(errorText(e)));

  async function load() {
    msg.clear();
    const r = await app.call('/api/calls' + query({ limit: limit.input.value }));
    replace(
      box,
      r.calls.length
        ? tableBox('Voice agent calls', ['Call', 'Status', 'Started', 'Ended', 'Ended because', 'Appointments booked'], r.calls.map((c) =>
          el(
            'tr',
            {},
            el('td', { class: 'wrap-anywhere' }, el('code', {}, c.id)),
            el('td', {}, c.status),
            el('td', {}, when(c.startedAt, app.zone)),
            el('td', {}, when(c.endedAt, app.zone)),
            el('td', {}, c.endedReason || '—'),
            el('td', {}, c.appointmentIds.length
              ? c.appointmentIds.map((id, i) => {
                const b = el('button', { type: 'button', class: 'linkish', 'aria-label': `Open appointment ${i + 1} of call ${c.id} in the calendar` }, `Appointment ${i + 1}`);
                b.addEventListener('click', () => openAppointment(id));
                return b;
              })
              : 'None'),
          )), { captionHidden: true })
        : el('p', { class: 'empty' }, 'No calls yet. Calls appear here when the voice agent (Vapi) reports them.'),
    );
  }
  limit.input.addEventListener('change', () => load().catch((e) => msg.error(errorText(e))));
  refresh.addEventListener('click', async () => {
    try {
      await load();
      announce('Calls refreshed.');
    } catch (e) {
      msg.error(errorText(e));
    }
  });
  await load();
  replace(
    root,
    viewHeading('Calls'),
    el('p', { class: 'lead' }, `Calls the voice agent handled, newest first. Times in ${app.zone}.`),
    el('div', { class: 'toolbar' }, limit.node, refresh),
    msg.node,
    box,
  );
}
