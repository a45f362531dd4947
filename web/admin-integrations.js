// Integrations: Google Calendar, Twilio SMS and Vapi reminder calls
// (settings forms whose secrets are write-only: never shown back, typed
// again on every save), their connected state, last error and last
// success; disconnecting; linking, unlinking and syncing provider
// calendars; and a new secret for the voice agent's tool calls.

import { el, replace } from '/static/common.js';
import {
  viewHeading, section, field, formMessage, showApiError, clearErrors, announce, when, confirmStep, details, secretOnce, errorText,
} from '/static/admin-ui.js';

const KINDS = [
  {
    kind: 'google',
    title: 'Google Calendar',
    about: 'Appointments are written to each linked provider\u2019s calendar, and its busy times block booking.',
    fields: [
      { name: 'clientId', label: 'OAuth client ID' },
      { name: 'clientSecret', label: 'OAuth client secret', secret: true },
      { name: 'refreshToken', label: 'Refresh token', secret: true },
    ],
    shown: [['clientId', 'Client ID']],
  },
  {
    kind: 'twilio',
    title: 'Twilio SMS',
    about: 'Patients with a phone number get a text when they book, move or cancel, and a reminder.',
    fields: [
      { name: 'accountSid', label: 'Account SID' },
      { name: 'authToken', label: 'Auth token', secret: true },
      { name: 'fromNumber', label: 'From number', hint: 'E.164, e.g. +447700900123.' },
      { name: 'reminderHoursBefore', label: 'Reminder (hours before)', number: [0, 168], hint: '0 to 168; 0 sends no reminder. Default 24.' },
    ],
    shown: [['accountSid', 'Account SID'], ['fromNumber', 'From number'], ['reminderHoursBefore', 'Reminder (hours before)']],
  },
  {
    kind: 'vapi',
    title: 'Vapi reminder calls',
    about: 'Patients with a phone number get a reminder call from the voice agent.',
    fields: [
      { name: 'apiKey', label: 'API key', secret: true },
      { name: 'assistantId', label: 'Assistant ID' },
      { name: 'phoneNumberId', label: 'Phone number ID' },
      { name: 'reminderCallHoursBefore', label: 'Reminder call (hours before)', number: [1, 168], hint: '1 to 168.', required: true },
    ],
    shown: [['assistantId', 'Assistant ID'], ['phoneNumberId', 'Phone number ID'], ['reminderCallHoursBefore', 'Reminder call (hours before)']],
  },
];

export async function renderIntegrations(app, root) {
  const [state, providers] = await Promise.all([app.call('/api/integrations'), app.providers()]);
  const cards = KINDS.map((k) => integrationCard(app, k, state[k.kind] || { connected: false }, root));
  replace(
    root,
    viewHeading('Integrations'),
    el('p', { class: 'lead' }, 'Secrets are write-only: once saved they are never shown again, here or anywhere. Type them again whenever you change a setting.'),
    el('div', { class: 'cards-2' }, cards),
    calendarsCard(app, providers, state.google && state.google.connected),
    vapiSecretCard(app),
  );
}

function integrationCard(app, k, s, root) {
  const sec = section(k.title, { cls: 'integration' });
  const status = el(
    'div',
    { class: 'integration-status' },
    el('p', {}, s.connected ? el('span', { class: 'badge badge-connected' }, 'Connected') : el('span', { class: 'badge badge-off' }, 'Not connected')),
    details([
      ...(s.connected ? k.shown.map(([name, label]) => [label, s[name] === undefined || s[name] === null ? '—' : String(s[name])]) : []),
      ['Last success', when(s.lastSuccessAt, app.zone)],
      ['Last error', s.lastError ? el('span', { class: 'error-text' }, s.lastError) : 'None'],
    ]),
  );
  const f = {};
  for (const d of k.fields) {
    const current = s[d.name];
    f[d.name] = field({
      label: d.label,
      name: d.name,
      type: d.secret ? 'password' : d.number ? 'number' : 'text',
      value: d.secret ? '' : current ?? (d.name === 'reminderHoursBefore' ? 24 : d.name === 'reminderCallHoursBefore' ? 24 : ''),
      hint: d.secret ? (s.connected ? 'Stored, never shown. Type it again to save.' : 'Write-only: never shown after saving.') : d.hint,
      attrs: {
        autocomplete: d.secret ? 'new-password' : 'off',
        spellcheck: 'false',
        ...(d.number ? { min: d.number[0], max: d.number[1], step: 1, inputmode: 'numeric' } : {}),
      },
    });
  }
  const msg = formMessage();
  const save = el('button', { type: 'submit', class: 'primary' }, s.connected ? 'Save settings' : 'Connect');
  const actions = el('div', { class: 'actions' }, save);
  const form = el('form', { novalidate: true }, Object.values(f).map((x) => x.node), actions, msg.node);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(f, msg);
    const body = {};
    for (const d of k.fields) {
      const v = f[d.name].value();
      if (v === '') {
        if (d.number && !d.required) continue;
        f[d.name].setError(d.secret ? 'Type it (secrets are never kept in this page).' : 'Fill this in.');
        f[d.name].input.focus();
        announce('Some fields need attention.');
        return;
      }
      if (d.number) {
        const n = Number(v);
        if (!Number.isInteger(n) || n < d.number[0] || n > d.number[1]) {
          f[d.name].setError(`Type a whole number from ${d.number[0]} to ${d.number[1]}.`);
          f[d.name].input.focus();
          return;
        }
        body[d.name] = n;
      } else body[d.name] = v;
    }
    save.disabled = true;
    try {
      await app.call('/api/integrations/' + k.kind, { method: 'PUT', body });
      for (const d of k.fields) if (d.secret) f[d.name].input.value = '';
      announce(`${k.title} connected.`);
      await renderIntegrations(app, root);
      const h = [...root.querySelectorAll('h3')].find((x) => x.textContent === k.title);
      if (h) h.focus();
    } catch (err) {
      showApiError(err, f, msg);
    } finally {
      save.disabled = false;
    }
  });
  if (s.connected) {
    const disconnect = el('button', { type: 'button', class: 'danger-outline' }, 'Disconnect');
    actions.append(disconnect);
    disconnect.addEventListener('click', () =>
      confirmStep(actions, {
        question: `Disconnect ${k.title}?`,
        detail: 'Its stored secrets are deleted; nothing more is sent to it.',
        confirmLabel: 'Yes, disconnect',
        keepLabel: 'Stay connected',
        onConfirm: async () => {
          await app.call('/api/integrations/' + k.kind, { method: 'DELETE' });
          announce(`${k.title} disconnected.`);
          await renderIntegrations(app, root);
        },
        onKeep: () => disconnect.focus(),
      }),
    );
  }
  replace(sec.body, el('p', { class: 'hint' }, k.about), status, form);
  return sec.node;
}

function calendarsCard(app, providers, googleConnected) {
  const sec = section('Provider calendars');
  const links = app.cache.calendarLinks || (app.cache.calendarLinks = {});
  const rows = providers.map((p) => {
    const cal = field({ label: `Calendar ID for ${p.name}`, name: 'calendarId', value: links[p.id] || 'primary', hint: '"primary" or the calendar\u2019s ID from Google Calendar settings.', attrs: { autocomplete: 'off', spellcheck: 'false' } });
    const msg = formMessage();
    const link = el('button', { type: 'button', class: 'primary small' }, 'Link');
    const unlink = el('button', { type: 'button', class: 'secondary small' }, 'Unlink');
    const sync = el('button', { type: 'button', class: 'secondary small' }, 'Sync now');
    const run = async (button, fn) => {
      button.disabled = true;
      msg.clear();
      cal.clearError();
      try {
        await fn();
      } catch (err) {
        if (err.field === 'calendarId') {
          cal.setError(errorText(err));
          cal.input.focus();
        } else msg.error(errorText(err));
        announce(errorText(err));
      } finally {
        button.disabled = false;
      }
    };
    link.addEventListener('click', () =>
      run(link, async () => {
        const r = await app.call(`/api/providers/${p.id}/calendar`, { method: 'PUT', body: { calendarId: cal.value() || 'primary' } });
        links[p.id] = r.calendarId;
        msg.ok(`Linked to ${r.calendarId}.`);
        announce(`${p.name} linked to ${r.calendarId}.`);
      }),
    );
    unlink.addEventListener('click', () =>
      run(unlink, async () => {
        await app.call(`/api/providers/${p.id}/calendar`, { method: 'DELETE' });
        delete links[p.id];
        msg.ok('Unlinked.');
        announce(`${p.name} unlinked.`);
      }),
    );
    sync.addEventListener('click', () =>
      run(sync, async () => {
        await app.call(`/api/providers/${p.id}/calendar/sync`, { method: 'POST' });
        msg.ok('Busy times are being imported now.');
        announce('Sync started.');
      }),
    );
    return el('div', { class: 'calendar-row' }, el('h4', {}, p.name), cal.node, el('div', { class: 'actions' }, link, unlink, sync), msg.node);
  });
  replace(
    sec.body,
    el('p', { class: 'hint' }, googleConnected ? 'Link a provider to a Google calendar: bookd adds its appointments there and imports busy times (every few minutes, or now with Sync now).' : 'Connect Google Calendar above first; then link providers here.'),
    rows,
  );
  return sec.node;
}

function vapiSecretCard(app) {
  const sec = section('Voice agent secret');
  const slot = el('div', { class: 'actions' });
  const out = el('div');
  const button = el('button', { type: 'button', class: 'secondary' }, 'Make a new voice agent secret');
  slot.append(button);
  button.addEventListener('click', () =>
    confirmStep(slot, {
      question: 'Make a new secret for the voice agent?',
      detail: 'The old secret stops working at once: paste the new one into Vapi\u2019s server settings straight away.',
      confirmLabel: 'Yes, make a new one',
      keepLabel: 'Keep the current one',
      onConfirm: async () => {
        const r = await app.call('/api/orgs/me/vapi-secret', { method: 'POST' });
        replace(slot, button);
        replace(out, secretOnce('New voice agent secret', r.vapiSecret, 'Copy this secret into Vapi now: it is shown only this once.'));
        announce('New voice agent secret made. It is shown once; copy it now.');
        out.querySelector('input').focus();
      },
      onKeep: () => button.focus(),
    }),
  );
  replace(sec.body, el('p', { class: 'hint' }, 'Vapi sends the voice agent\u2019s tool calls with this secret (header x-vapi-secret).'), slot, out);
  return sec.node;
}
