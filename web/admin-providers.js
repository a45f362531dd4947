// Providers and services: each provider's working hours edited per day as
// windows (PUT /api/providers/{id}/working-hours), adding a provider, and
// the list of services with a form to add one.

import { el, replace } from '/static/common.js';
import {
  viewHeading, section, field, formMessage, showApiError, clearErrors, announce, tableBox, nextId, errorText,
} from '/static/admin-ui.js';

const DAYS = [
  ['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'],
  ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday'],
];

export async function renderProviders(app, root) {
  const [providers, services] = await Promise.all([app.providers(true), app.services(true)]);
  const provSection = section('Providers and their working hours');
  const list = el('div', { class: 'provider-list' });
  for (const p of providers) list.append(hoursEditor(app, p));
  replace(
    provSection.body,
    el('p', { class: 'hint' }, `Hours are wall-clock times in ${app.zone}. A day without hours is closed. Patients can book only inside these hours; staff can book outside them.`),
    list,
    addProviderForm(app, list),
  );

  const svcSection = section('Services');
  const svcTable = el('div');
  const drawServices = (items) =>
    replace(
      svcTable,
      items.length
        ? tableBox('Services', ['Name', 'Duration', 'Buffer before', 'Buffer after'], items.map((s) =>
          el('tr', {}, el('td', {}, s.name), el('td', {}, `${s.durationMinutes} min`), el('td', {}, `${s.bufferBeforeMinutes} min`), el('td', {}, `${s.bufferAfterMinutes} min`))), { captionHidden: true })
        : el('p', { class: 'empty' }, 'No services yet. Bookings then need a duration.'),
    );
  drawServices(services);
  replace(svcSection.body, svcTable, addServiceForm(app, drawServices));

  replace(root, viewHeading('Providers & services'), provSection.node, svcSection.node);
}

/** One provider's card: its name and a per-day editor of its windows. */
function hoursEditor(app, provider) {
  const hId = nextId('prov');
  const rows = el('div', { class: 'hours-days' });
  const state = {};
  for (const [key] of DAYS) state[key] = ((provider.workingHours || {})[key] || []).map(([a, b]) => ({ from: a, until: b }));
  const msg = formMessage();

  const drawDay = (key, label, box) => {
    const windows = state[key];
    const items = windows.map((w, i) => {
      const from = field({ label: 'From', hiddenLabel: `${label}, hours ${i + 1}, `, name: 'from', type: 'time', value: w.from });
      const until = field({ label: 'Until', hiddenLabel: `${label}, hours ${i + 1}, `, name: 'until', type: 'time', value: w.until });
      from.input.addEventListener('input', () => (w.from = from.input.value));
      until.input.addEventListener('input', () => (w.until = until.input.value));
      const remove = el('button', { type: 'button', class: 'secondary small', 'aria-label': `Remove ${label} hours ${i + 1}` }, 'Remove');
      remove.addEventListener('click', () => {
        windows.splice(i, 1);
        drawDay(key, label, box);
        box.querySelector('button').focus();
      });
      return el('div', { class: 'window' }, from.node, until.node, remove);
    });
    const add = el('button', { type: 'button', class: 'secondary small', 'aria-label': `Add hours on ${label}` }, 'Add hours');
    add.addEventListener('click', () => {
      const lastEnd = windows.length ? windows[windows.length - 1].until : '09:00';
      windows.push({ from: lastEnd, until: lastEnd < '17:00' ? '17:00' : '23:59' });
      drawDay(key, label, box);
      const inputs = box.querySelectorAll('input');
      if (inputs.length) inputs[inputs.length - 2].focus();
    });
    replace(box, items.length ? items : el('p', { class: 'closed' }, 'Closed'), add);
  };

  for (const [key, label] of DAYS) {
    const box = el('div', { class: 'day-windows' });
    drawDay(key, label, box);
    rows.append(el('fieldset', { class: 'hours-day' }, el('legend', {}, label), box));
  }

  const save = el('button', { type: 'submit', class: 'primary' }, 'Save working hours');
  const form = el('form', { novalidate: true }, rows, el('div', { class: 'actions' }, save), msg.node);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    msg.clear();
    const workingHours = {};
    for (const [key, label] of DAYS) {
      const ws = state[key].filter((w) => w.from || w.until);
      for (const w of ws) {
        if (!/^\d{2}:\d{2}$/.test(w.from) || !/^\d{2}:\d{2}$/.test(w.until) || w.from >= w.until) {
          msg.error(`${label}: each window needs a start before its end.`);
          announce(`${label}: each window needs a start before its end.`);
          return;
        }
      }
      if (ws.length) workingHours[key] = ws.map((w) => [w.from, w.until]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    }
    save.disabled = true;
    try {
      const p = await app.call(`/api/providers/${provider.id}/working-hours`, { method: 'PUT', body: { workingHours } });
      provider.workingHours = p.workingHours;
      app.cache.providers = null;
      msg.ok(`Saved ${provider.name}\u2019s working hours.`);
      announce(`Saved ${provider.name}\u2019s working hours.`);
    } catch (err) {
      msg.error(errorText(err));
      announce(errorText(err));
    } finally {
      save.disabled = false;
    }
  });

  return el(
    'section',
    { class: 'provider', 'aria-labelledby': hId },
    el('h4', { id: hId }, provider.name, el('span', { class: 'muted small-text' }, provider.id === app.org.defaultProviderId ? ' (default provider)' : '')),
    form,
  );
}

function addProviderForm(app, list) {
  const name = field({ label: 'New provider\u2019s name', name: 'name', required: true, hint: 'Starts with Monday–Friday 09:00–17:00; change the hours after adding.', attrs: { maxlength: 200, autocomplete: 'off' } });
  const msg = formMessage();
  const form = el('form', { novalidate: true, class: 'inline-form add-form' }, name.node, el('button', { type: 'submit', class: 'primary' }, 'Add provider'), msg.node);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors({ name }, msg);
    if (!name.value()) {
      name.setError('Type a name.');
      name.input.focus();
      return;
    }
    try {
      const p = await app.call('/api/providers', { method: 'POST', body: { name: name.value() } });
      app.cache.providers = null;
      const card = hoursEditor(app, p);
      list.append(card);
      name.input.value = '';
      msg.ok(`Added ${p.name}.`);
      announce(`Added provider ${p.name}.`);
    } catch (err) {
      showApiError(err, { name }, msg);
    }
  });
  return form;
}

function addServiceForm(app, draw) {
  const f = {
    name: field({ label: 'Service name', name: 'name', required: true, attrs: { maxlength: 200, autocomplete: 'off' } }),
    durationMinutes: field({ label: 'Duration (minutes)', name: 'durationMinutes', type: 'number', value: 30, hint: '1 to 1,440.', attrs: { min: 1, max: 1440, step: 1, inputmode: 'numeric' } }),
    bufferBeforeMinutes: field({ label: 'Buffer before (minutes)', name: 'bufferBeforeMinutes', type: 'number', value: 0, hint: '0 to 240: kept free before.', attrs: { min: 0, max: 240, step: 1, inputmode: 'numeric' } }),
    bufferAfterMinutes: field({ label: 'Buffer after (minutes)', name: 'bufferAfterMinutes', type: 'number', value: 0, hint: '0 to 240: kept free after.', attrs: { min: 0, max: 240, step: 1, inputmode: 'numeric' } }),
  };
  const msg = formMessage();
  const form = el(
    'form',
    { novalidate: true, class: 'add-form' },
    el('fieldset', {}, el('legend', {}, 'Add a service'), el('div', { class: 'fields-row' }, Object.values(f).map((x) => x.node))),
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Add service')),
    msg.node,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(f, msg);
    const body = { name: f.name.value() };
    if (!body.name) {
      f.name.setError('Type a name.');
      f.name.input.focus();
      return;
    }
    for (const k of ['durationMinutes', 'bufferBeforeMinutes', 'bufferAfterMinutes']) {
      const v = f[k].value();
      if (v === '') continue;
      const n = Number(v);
      if (!Number.isInteger(n)) {
        f[k].setError('Type a whole number of minutes.');
        f[k].input.focus();
        return;
      }
      body[k] = n;
    }
    try {
      const s = await app.call('/api/services', { method: 'POST', body });
      const all = await app.services(true);
      draw(all);
      f.name.input.value = '';
      msg.ok(`Added ${s.name}.`);
      announce(`Added service ${s.name}.`);
    } catch (err) {
      showApiError(err, f, msg);
    }
  });
  return form;
}
