// Webhook endpoints (list, add with URL and events: the signing secret is
// shown once; delete after a confirmation step) and their deliveries
// (filtered by status, with attempts, last answer and next attempt; a
// Retry button for dead and failed ones).

import { el, replace, query } from '/static/common.js';
import {
  viewHeading, section, field, formMessage, showApiError, clearErrors, announce, tableBox, badge, when, confirmStep,
  errorText, secretOnce, nextId,
} from '/static/admin-ui.js';

const EVENTS = [
  ['appointment.booked', 'Appointment booked'],
  ['appointment.cancelled', 'Appointment cancelled'],
  ['appointment.rescheduled', 'Appointment moved'],
];

export async function renderWebhooks(app, root) {
  const endpointsSection = section('Endpoints');
  const deliveriesSection = section('Deliveries');
  const endpointsBox = el('div');
  const secretSlot = el('div', { class: 'secret-slot' });
  let endpoints = [];

  async function loadEndpoints() {
    endpoints = (await app.call('/api/webhook-endpoints')).endpoints;
    replace(
      endpointsBox,
      endpoints.length
        ? tableBox('Webhook endpoints', ['URL', 'Events', 'State', ''], endpoints.map(endpointRow), { captionHidden: true })
        : el('p', { class: 'empty' }, 'No endpoints yet.'),
    );
  }

  function endpointRow(ep) {
    const actions = el('div', { class: 'actions' });
    const del = el('button', { type: 'button', class: 'danger-outline small', 'aria-label': `Delete endpoint ${ep.url}` }, 'Delete');
    actions.append(del);
    del.addEventListener('click', () =>
      confirmStep(actions, {
        question: 'Delete this endpoint?',
        detail: 'It receives nothing more; its pending deliveries are dropped.',
        confirmLabel: 'Yes, delete it',
        keepLabel: 'Keep it',
        onConfirm: async () => {
          await app.call('/api/webhook-endpoints/' + ep.id, { method: 'DELETE' });
          announce('Endpoint deleted.');
          await loadEndpoints();
          await loadDeliveries();
          endpointsSection.node.querySelector('h3').focus();
        },
        onKeep: () => del.focus(),
      }),
    );
    return el(
      'tr',
      {},
      el('td', { class: 'wrap-anywhere' }, el('code', {}, ep.url)),
      el('td', {}, ep.events.map((e) => el('span', { class: 'tag' }, e))),
      el('td', {}, ep.disabled ? el('span', { class: 'badge badge-dead' }, 'Disabled (answered 410)') : el('span', { class: 'badge badge-delivered' }, 'Active')),
      el('td', {}, actions),
    );
  }

  // ------------------------------------------------------------ add form
  const url = field({ label: 'URL', name: 'url', type: 'url', required: true, hint: 'http or https; it receives signed POST requests (Standard Webhooks).', attrs: { autocomplete: 'off', spellcheck: 'false' } });
  const boxes = EVENTS.map(([v, label]) => {
    const f = field({ label, name: 'event-' + v, type: 'checkbox' });
    f.input.checked = true;
    f.input.value = v;
    return f;
  });
  const eventsErrId = nextId('events-error');
  const eventsErr = el('p', { class: 'error', id: eventsErrId, 'aria-live': 'polite' });
  const eventsFs = el('fieldset', { 'aria-describedby': eventsErrId }, el('legend', {}, 'Events'), boxes.map((b) => b.node), eventsErr);
  const msg = formMessage();
  const addForm = el('form', { novalidate: true, class: 'add-form' }, el('h4', {}, 'Add an endpoint'), url.node, eventsFs, el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Add endpoint')), msg.node);
  addForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors({ url }, msg);
    eventsErr.textContent = '';
    replace(secretSlot);
    const events = boxes.filter((b) => b.input.checked).map((b) => b.input.value);
    if (!url.value()) {
      url.setError('Type the URL that should receive the events.');
      url.input.focus();
      return;
    }
    if (!events.length) {
      eventsErr.textContent = 'Choose at least one event.';
      boxes[0].input.focus();
      return;
    }
    try {
      const created = await app.call('/api/webhook-endpoints', { method: 'POST', body: { url: url.value(), events } });
      url.input.value = '';
      replace(
        secretSlot,
        secretOnce(
          'Signing secret',
          created.secret,
          'Copy this signing secret now and store it with the receiver: it is shown only this once. Receivers use it to check the webhook-signature header.',
        ),
      );
      announce('Endpoint added. Its signing secret is shown once; copy it now.');
      await loadEndpoints();
      secretSlot.querySelector('input').focus();
    } catch (err) {
      if (err.field === 'events') {
        eventsErr.textContent = errorText(err);
        announce(errorText(err));
      } else showApiError(err, { url }, msg);
    }
  });

  replace(endpointsSection.body, endpointsBox, secretSlot, addForm);

  // ------------------------------------------------------------ deliveries
  const statusFilter = field({
    label: 'Status',
    name: 'status',
    type: 'select',
    value: '',
    options: [
      { value: '', label: 'All' },
      { value: 'pending', label: 'Pending' },
      { value: 'failed', label: 'Failed' },
      { value: 'dead', label: 'Dead' },
      { value: 'delivered', label: 'Delivered' },
    ],
  });
  const refreshBtn = el('button', { type: 'button', class: 'secondary' }, 'Refresh');
  const deliveriesBox = el('div');
  const deliveriesMsg = formMessage();

  async function loadDeliveries() {
    try {
      const r = await app.call('/api/webhook-deliveries' + query({ status: statusFilter.input.value, limit: 100 }));
      const urlOf = (id) => (endpoints.find((x) => x.id === id) || {}).url || id;
      replace(
        deliveriesBox,
        r.deliveries.length
          ? tableBox('Webhook deliveries, newest first', ['Event', 'Endpoint', 'Status', 'Attempts', 'Last answer', 'Next attempt', 'Delivered', ''], r.deliveries.map((d) => deliveryRow(d, urlOf(d.endpointId))), { captionHidden: true })
          : el('p', { class: 'empty' }, statusFilter.input.value ? 'No deliveries with this status.' : 'No deliveries yet.'),
      );
    } catch (err) {
      deliveriesMsg.error(errorText(err));
    }
  }

  function deliveryRow(d, epUrl) {
    const cell = el('td', {});
    if (d.status === 'dead' || d.status === 'failed') {
      const retry = el('button', { type: 'button', class: 'secondary small', 'aria-label': `Retry ${d.eventType} to ${epUrl}` }, 'Retry');
      retry.addEventListener('click', async () => {
        retry.disabled = true;
        try {
          await app.call(`/api/webhook-deliveries/${d.id}/retry`, { method: 'POST' });
          deliveriesMsg.ok('Queued again; it is sent shortly.');
          announce('Delivery queued again.');
          await loadDeliveries();
        } catch (err) {
          deliveriesMsg.error(errorText(err));
          retry.disabled = false;
        }
      });
      cell.append(retry);
    }
    const code = d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : null;
    const last = [code, d.lastError && d.lastError !== code ? d.lastError : null].filter(Boolean).join(' · ') || '—';
    return el(
      'tr',
      { 'data-delivery': d.id },
      el('td', {}, d.eventType),
      el('td', { class: 'wrap-anywhere' }, el('code', {}, epUrl)),
      el('td', {}, badge(d.status)),
      el('td', { class: 'num' }, String(d.attempts)),
      el('td', { class: 'wrap-anywhere' }, last),
      el('td', {}, when(d.nextAttemptAt, app.zone)),
      el('td', {}, when(d.deliveredAt, app.zone)),
      cell,
    );
  }

  statusFilter.input.addEventListener('change', loadDeliveries);
  refreshBtn.addEventListener('click', async () => {
    deliveriesMsg.clear();
    await loadDeliveries();
    announce('Deliveries refreshed.');
  });
  replace(
    deliveriesSection.body,
    el('div', { class: 'toolbar' }, statusFilter.node, refreshBtn),
    deliveriesMsg.node,
    deliveriesBox,
  );

  await loadEndpoints();
  await loadDeliveries();
  replace(root, viewHeading('Webhooks'), el('p', { class: 'lead' }, 'Other systems can be told when appointments are booked, cancelled or moved.'), endpointsSection.node, deliveriesSection.node);
}
