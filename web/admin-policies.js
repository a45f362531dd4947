// Booking policies (PATCH /api/orgs/me): how soon and how far ahead
// patients may book, and how late they may cancel or move through their
// link. The ranges the API accepts are explained next to each field.

import { el, replace } from '/static/common.js';
import { viewHeading, field, formMessage, showApiError, clearErrors, announce } from '/static/admin-ui.js';

const LIMITS = {
  minimumNoticeMinutes: [0, 43200],
  bookingHorizonDays: [0, 3650],
  cancellationNoticeHours: [0, 168],
};

export async function renderPolicies(app, root) {
  const org = await app.call('/api/orgs/me');
  app.setOrg(org);
  const p = org.policies || {};
  const f = {
    name: field({ label: 'Organization name', name: 'name', value: org.name, required: true, hint: 'Shown on the booking page and in messages to patients.', attrs: { maxlength: 200, autocomplete: 'organization' } }),
    minimumNoticeMinutes: field({
      label: 'Minimum notice (minutes)',
      name: 'minimumNoticeMinutes',
      type: 'number',
      value: p.minimumNoticeMinutes ?? 0,
      hint: 'How long before the start a patient must book or move: 0 to 43,200 minutes (30 days). 0 means any time in the future. Example: 120 = at least two hours ahead.',
      attrs: { min: 0, max: 43200, step: 1, inputmode: 'numeric' },
    }),
    bookingHorizonDays: field({
      label: 'Booking horizon (days)',
      name: 'bookingHorizonDays',
      type: 'number',
      value: p.bookingHorizonDays ?? 0,
      hint: 'How far ahead patients may book: 0 to 3,650 days. 0 means no limit.',
      attrs: { min: 0, max: 3650, step: 1, inputmode: 'numeric' },
    }),
    cancellationNoticeHours: field({
      label: 'Cancellation notice (hours)',
      name: 'cancellationNoticeHours',
      type: 'number',
      value: p.cancellationNoticeHours ?? 0,
      hint: 'Patients cannot cancel or move through their link later than this before the start: 0 to 168 hours (a week). 0 means until the appointment starts.',
      attrs: { min: 0, max: 168, step: 1, inputmode: 'numeric' },
    }),
  };
  const msg = formMessage();
  const save = el('button', { type: 'submit', class: 'primary' }, 'Save policies');
  const form = el(
    'form',
    { novalidate: true, class: 'card policies-form' },
    f.name.node,
    el('fieldset', {}, el('legend', {}, 'Rules for patients'), f.minimumNoticeMinutes.node, f.bookingHorizonDays.node, f.cancellationNoticeHours.node),
    el('p', { class: 'hint' }, 'These apply to the booking page, manage links and the voice agent. Staff using this dashboard are not bound by them.'),
    el('div', { class: 'actions' }, save),
    msg.node,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(f, msg);
    const policies = {};
    for (const [k, [lo, hi]] of Object.entries(LIMITS)) {
      const v = f[k].value();
      const n = Number(v);
      if (v === '' || !Number.isInteger(n) || n < lo || n > hi) {
        f[k].setError(`Type a whole number from ${lo.toLocaleString()} to ${hi.toLocaleString()}.`);
        f[k].input.focus();
        announce('Some fields need attention.');
        return;
      }
      policies[k] = n;
    }
    const name = f.name.value();
    if (!name) {
      f.name.setError('Type the organization\u2019s name.');
      f.name.input.focus();
      return;
    }
    save.disabled = true;
    try {
      const fields = { name: f.name, ...Object.fromEntries(Object.keys(LIMITS).map((k) => [k, f[k]])) };
      const updated = await app.call('/api/orgs/me', { method: 'PATCH', body: { name, policies } }).catch((err) => {
        if (err.field) err.field = String(err.field).replace(/^policies\./, '');
        showApiError(err, fields, msg);
        return null;
      });
      if (updated) {
        app.setOrg(updated);
        msg.ok('Policies saved.');
        announce('Policies saved.');
      }
    } finally {
      save.disabled = false;
    }
  });
  replace(root, viewHeading('Booking policies'), el('p', { class: 'lead' }, 'When patients may book, and how late they may change their mind.'), form);
}
