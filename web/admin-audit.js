// The audit log (GET /api/audit-log), newest first: who did what to which
// entity. Filter by one entity's ID (asked of the API) and by kind of
// entity (on the entries shown). Contacts and appointments are links.

import { el, replace, query } from '/static/common.js';
import { showAppointment } from '/static/admin-calendar.js';
import { viewHeading, tableBox, when, errorText, field, announce, formMessage } from '/static/admin-ui.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TYPES = ['appointment', 'contact', 'provider', 'service', 'webhook_endpoint'];

function actorText(actor) {
  const a = String(actor || '');
  if (a.startsWith('admin_key:')) return 'Staff (admin key)';
  if (a.startsWith('public_key:')) return 'Patient (booking page)';
  if (a === 'vapi') return 'Voice agent';
  if (a === 'manage_link') return 'Patient (manage link)';
  if (a === 'system') return 'System';
  return a;
}

export async function renderAudit(app, root, { params }) {
  const entity = field({ label: 'Entity ID', name: 'entityId', value: params.get('entityId') || '', attrs: { autocomplete: 'off', spellcheck: 'false' } });
  entity.node.classList.add('field-wide');
  const providers = await app.providers().catch(() => []);
  const providerName = (id) => (providers.find((p) => p.id === id) || {}).name;

  /** The details as "key: value" lines: instants in the org zone, provider ids as names. */
  const detailsList = (d) => {
    if (!d || typeof d !== 'object' || !Object.keys(d).length) return '—';
    return el('ul', { class: 'kv' }, Object.entries(d).map(([k, v]) => {
      let text;
      if (typeof v === 'string' && /At$/.test(k) && !Number.isNaN(Date.parse(v))) text = when(v, app.zone);
      else if (k === 'providerId' && providerName(v)) text = providerName(v);
      else text = typeof v === 'string' ? v : JSON.stringify(v);
      return el('li', {}, el('span', { class: 'k' }, k.replace(/Id$/, '') + ': '), text);
    }));
  };
  const type = field({
    label: 'Kind',
    name: 'entityType',
    type: 'select',
    value: params.get('type') || '',
    options: [{ value: '', label: 'All kinds' }].concat(TYPES.map((t) => ({ value: t, label: t.replace('_', ' ') }))),
  });
  const limit = field({
    label: 'Show',
    name: 'limit',
    type: 'select',
    value: '100',
    options: [{ value: '50', label: 'Latest 50' }, { value: '100', label: 'Latest 100' }, { value: '500', label: 'Latest 500' }],
  });
  const msg = formMessage();
  const box = el('div');
  const form = el('form', { novalidate: true, class: 'toolbar filters' }, entity.node, type.node, limit.node, el('button', { type: 'submit', class: 'primary' }, 'Filter'));

  const entityLink = (e) => {
    if (e.entityType === 'contact') return el('a', { href: '#/contacts/' + e.entityId }, el('code', {}, e.entityId));
    if (e.entityType === 'appointment') {
      const b = el('button', { type: 'button', class: 'linkish', 'aria-label': `${e.entityId}: show in the calendar` }, el('code', {}, e.entityId));
      b.addEventListener('click', () => showAppointment(app, e.entityId).catch((err) => msg.error(errorText(err))));
      return b;
    }
    return el('code', {}, e.entityId);
  };

  async function load() {
    msg.clear();
    entity.clearError();
    const id = entity.value().toLowerCase();
    if (id && !UUID.test(id)) {
      entity.setError('An ID is 32 hexadecimal digits in five groups, like 3f2a6c1e-…');
      entity.input.focus();
      return;
    }
    app.setParams('audit', { entityId: id, type: type.input.value });
    let r;
    try {
      r = await app.call('/api/audit-log' + query({ entityId: id, limit: limit.input.value }));
    } catch (e) {
      if (e.field === 'entityId') entity.setError(errorText(e));
      else msg.error(errorText(e));
      return;
    }
    const entries = r.entries.filter((e) => !type.input.value || e.entityType === type.input.value);
    replace(
      box,
      entries.length
        ? tableBox('Audit log, newest first', ['When', 'Who', 'Action', 'Kind', 'Entity', 'Details'], entries.map((e) =>
          el(
            'tr',
            {},
            el('td', {}, when(e.at, app.zone)),
            el('td', { title: e.actor }, actorText(e.actor)),
            el('td', {}, el('code', {}, e.action)),
            el('td', {}, e.entityType),
            el('td', { class: 'wrap-anywhere' }, entityLink(e)),
            el('td', { class: 'wrap-anywhere details-cell' }, detailsList(e.details)),
          )), { captionHidden: true })
        : el('p', { class: 'empty' }, 'No entries match.'),
    );
    announce(`${entries.length} audit entries.`);
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  type.input.addEventListener('change', load);
  limit.input.addEventListener('change', load);
  replace(root, viewHeading('Audit log'), el('p', { class: 'lead' }, `Every change, newest first. Times in ${app.zone}. No personal data is kept here. Filter by the ID of an appointment, contact, provider, service or webhook endpoint.`), form, msg.node, box);
  await load();
}

