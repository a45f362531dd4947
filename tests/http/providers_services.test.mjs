// Providers (calendars) with working hours, and services with durations and
// buffers (API.md, "Providers (calendars) and services").

import { assert, ctest, useServer, createOrg, createProvider, expectStatus, expectError, rnd, UUID_RE, randomUUID } from './lib/harness.mjs';
import { nextWeekday, zonedToUtc } from './lib/time.mjs';

const ctx = useServer({
  setup: async (c) => {
    c.org = await createOrg(c, { timezone: 'Europe/Paris' });
    c.other = await createOrg(c, { timezone: 'UTC' });
  },
});
const admin = () => ctx.org.adminKey;

/** Working hours with closed days (missing or []) removed, for comparison. */
function openDays(wh) {
  assert.ok(wh && typeof wh === 'object' && !Array.isArray(wh), `workingHours is an object: ${JSON.stringify(wh)}`);
  return Object.fromEntries(Object.entries(wh).filter(([, v]) => Array.isArray(v) && v.length));
}
const NINE_TO_FIVE = [['09:00', '17:00']];
const DEFAULT_HOURS = { mon: NINE_TO_FIVE, tue: NINE_TO_FIVE, wed: NINE_TO_FIVE, thu: NINE_TO_FIVE, fri: NINE_TO_FIVE };

ctest('POST /api/providers without workingHours → 201, Monday–Friday 09:00–17:00', async () => {
  const name = `Dr Default ${rnd()}`;
  const res = await ctx.api('POST', '/api/providers', { key: admin(), body: { name } });
  const p = expectStatus(res, 201);
  assert.match(p.id, UUID_RE);
  assert.equal(p.name, name);
  assert.deepEqual(openDays(p.workingHours), DEFAULT_HOURS);
});

ctest('POST /api/providers with workingHours → 201 with exactly those hours; GET lists it', async () => {
  const workingHours = { mon: [['09:00', '12:00'], ['13:00', '17:00']], sat: [['10:00', '14:00']], sun: [['00:00', '23:59']] };
  const p = await createProvider(ctx, admin(), { name: `Dr Split ${rnd()}`, workingHours });
  assert.deepEqual(openDays(p.workingHours), workingHours);
  const list = await ctx.api('GET', '/api/providers', { key: admin() });
  expectStatus(list, 200);
  const found = list.body.providers.find((x) => x.id === p.id);
  assert.ok(found, 'the new provider is listed');
  assert.deepEqual(found, p, 'listed exactly as created');
  assert.ok(list.body.providers.some((x) => x.id === ctx.org.defaultProviderId), 'the default provider is listed too');
  const ids = list.body.providers.map((x) => x.id);
  assert.equal(new Set(ids).size, ids.length, 'no duplicates');
});

ctest('GET /api/providers of one organization does not show another organization’s providers', async () => {
  const p = await createProvider(ctx, ctx.other.adminKey, { name: `Other ${rnd()}` });
  const list = await ctx.api('GET', '/api/providers', { key: admin() });
  expectStatus(list, 200);
  assert.ok(!list.body.providers.some((x) => x.id === p.id || x.id === ctx.other.defaultProviderId));
});

ctest('PUT /api/providers/{id}/working-hours replaces the hours → 200 provider', async () => {
  const p = await createProvider(ctx, admin(), { name: `Dr Put ${rnd()}` });
  const workingHours = { tue: [['08:30', '11:45']], thu: [['14:00', '18:00'], ['19:00', '20:00']] };
  const res = await ctx.api('PUT', `/api/providers/${p.id}/working-hours`, { key: admin(), body: { workingHours } });
  const updated = expectStatus(res, 200);
  assert.equal(updated.id, p.id);
  assert.equal(updated.name, p.name);
  assert.deepEqual(openDays(updated.workingHours), workingHours, 'replaced, not merged');
  const list = await ctx.api('GET', '/api/providers', { key: admin() });
  expectStatus(list, 200);
  assert.deepEqual(openDays(list.body.providers.find((x) => x.id === p.id).workingHours), workingHours);
  // An empty object closes every day.
  const closed = await ctx.api('PUT', `/api/providers/${p.id}/working-hours`, { key: admin(), body: { workingHours: {} } });
  expectStatus(closed, 200, 'all days closed');
  assert.deepEqual(openDays(closed.body.workingHours), {});
});

const BAD_HOURS = [
  ['unknown day key', { monday: [['09:00', '17:00']] }],
  ['hour 25', { mon: [['09:00', '25:00']] }],
  ['minute 60', { mon: [['09:60', '17:00']] }],
  ['not HH:MM', { mon: [['9:00', '17:00']] }],
  ['start equals end', { tue: [['10:00', '10:00']] }],
  ['start after end', { tue: [['12:00', '09:00']] }],
  ['overlapping windows', { wed: [['09:00', '12:00'], ['11:00', '13:00']] }],
  ['day not an array', { thu: '09:00-17:00' }],
  ['window not a pair', { fri: [['09:00']] }],
  ['window of numbers', { fri: [[9, 17]] }],
  ['workingHours an array', [['09:00', '17:00']]],
  ['workingHours a string', 'mon-fri 9-5'],
];

ctest('new working hours apply at once to public bookings', async () => {
  const p = await createProvider(ctx, admin(), { name: `Dr Weekend ${rnd()}` });
  const contact = await ctx.api('POST', '/api/contacts', { key: ctx.org.publicKey, body: { name: `Weekend Patient ${rnd()}` } });
  expectStatus(contact, 201);
  const sat = nextWeekday('Europe/Paris', 'sat', 14);
  const body = { contactId: contact.body.id, providerId: p.id, scheduledAt: zonedToUtc(sat, '10:00', 'Europe/Paris').toISOString(), durationMinutes: 30 };
  expectError(await ctx.api('POST', '/api/appointments', { key: ctx.org.publicKey, body }), 400, 'invalid_request', undefined, 'Saturday is closed');
  const put = await ctx.api('PUT', `/api/providers/${p.id}/working-hours`, { key: admin(), body: { workingHours: { sat: [['09:30', '12:00']] } } });
  expectStatus(put, 200);
  expectStatus(await ctx.api('POST', '/api/appointments', { key: ctx.org.publicKey, body }), 201, 'Saturday 10:00 is open now');
  const mon = nextWeekday('Europe/Paris', 'mon', 14);
  const monBody = { ...body, scheduledAt: zonedToUtc(mon, '10:00', 'Europe/Paris').toISOString() };
  expectError(await ctx.api('POST', '/api/appointments', { key: ctx.org.publicKey, body: monBody }), 400, 'invalid_request', undefined, 'Monday is closed now');
});

ctest('invalid working hours on POST /api/providers → 400 naming workingHours', async () => {
  for (const [label, workingHours] of BAD_HOURS) {
    const res = await ctx.api('POST', '/api/providers', { key: admin(), body: { name: `Bad ${rnd()}`, workingHours } });
    expectError(res, 400, 'invalid_request', /^workingHours/, label);
  }
});

ctest('invalid working hours on PUT → 400 naming workingHours, and the hours are unchanged', async () => {
  const hours = { mon: [['10:00', '11:00']] };
  const p = await createProvider(ctx, admin(), { name: `Dr Keep ${rnd()}`, workingHours: hours });
  for (const [label, workingHours] of BAD_HOURS) {
    const res = await ctx.api('PUT', `/api/providers/${p.id}/working-hours`, { key: admin(), body: { workingHours } });
    expectError(res, 400, 'invalid_request', /^workingHours/, label);
  }
  const missing = await ctx.api('PUT', `/api/providers/${p.id}/working-hours`, { key: admin(), body: {} });
  expectError(missing, 400, 'invalid_request', /^workingHours/, 'workingHours missing');
  const list = await ctx.api('GET', '/api/providers', { key: admin() });
  assert.deepEqual(openDays(list.body.providers.find((x) => x.id === p.id).workingHours), hours);
});

ctest('PUT with the bare hours object, not inside workingHours → 400: workingHours is required', async () => {
  const hours = { mon: [['10:00', '11:00']] };
  const p = await createProvider(ctx, admin(), { name: `Dr Bare ${rnd()}`, workingHours: hours });
  const path = `/api/providers/${p.id}/working-hours`;
  for (const body of [{ mon: [['09:00', '12:00']] }, { tue: NINE_TO_FIVE, sat: [] }]) {
    const err = expectError(await ctx.api('PUT', path, { key: admin(), body }), 400, 'invalid_request', 'workingHours', JSON.stringify(body));
    assert.match(err.message, /^workingHours is required/, `the message names what is missing: ${err.message}`);
  }
  // With workingHours there, an unknown field beside it is still the one named.
  const extra = await ctx.api('PUT', path, { key: admin(), body: { workingHours: hours, mon: NINE_TO_FIVE } });
  expectError(extra, 400, 'invalid_request', 'mon', 'unknown field beside workingHours');
  const list = await ctx.api('GET', '/api/providers', { key: admin() });
  assert.deepEqual(openDays(list.body.providers.find((x) => x.id === p.id).workingHours), hours, 'unchanged');
});

ctest('PUT working hours of an unknown, malformed or foreign provider → 404', async () => {
  const body = { workingHours: { mon: [['09:00', '10:00']] } };
  for (const id of [randomUUID(), 'not-a-uuid', ctx.other.defaultProviderId]) {
    const res = await ctx.api('PUT', `/api/providers/${id}/working-hours`, { key: admin(), body });
    expectError(res, 404, 'not_found', undefined, id);
  }
  // The other organization's provider is untouched.
  const list = await ctx.api('GET', '/api/providers', { key: ctx.other.adminKey });
  const d = list.body.providers.find((x) => x.id === ctx.other.defaultProviderId);
  assert.deepEqual(openDays(d.workingHours), DEFAULT_HOURS);
});

ctest('POST /api/providers without a name → 400 field name', async () => {
  for (const body of [{}, { name: '' }, { name: 12 }]) {
    const res = await ctx.api('POST', '/api/providers', { key: admin(), body });
    expectError(res, 400, 'invalid_request', 'name', JSON.stringify(body));
  }
});

ctest('POST /api/services: buffers default to 0; GET /api/services lists it', async () => {
  const name = `Check-up ${rnd()}`;
  const res = await ctx.api('POST', '/api/services', { key: admin(), body: { name, durationMinutes: 45 } });
  const s = expectStatus(res, 201);
  assert.match(s.id, UUID_RE);
  assert.deepEqual(s, { id: s.id, name, durationMinutes: 45, bufferBeforeMinutes: 0, bufferAfterMinutes: 0 });
  const list = await ctx.api('GET', '/api/services', { key: admin() });
  expectStatus(list, 200);
  assert.deepEqual(list.body.services.find((x) => x.id === s.id), s);
});

ctest('POST /api/services with buffers at the bounds 0 and 240 → 201', async () => {
  const body = { name: `Surgery ${rnd()}`, durationMinutes: 1440, bufferBeforeMinutes: 240, bufferAfterMinutes: 0 };
  const res = await ctx.api('POST', '/api/services', { key: admin(), body });
  const s = expectStatus(res, 201);
  assert.deepEqual({ ...s, id: undefined }, { ...body, id: undefined });
  const res2 = await ctx.api('POST', '/api/services', {
    key: admin(),
    body: { name: `Quick ${rnd()}`, durationMinutes: 1, bufferBeforeMinutes: 10, bufferAfterMinutes: 15 },
  });
  const s2 = expectStatus(res2, 201);
  assert.equal(s2.durationMinutes, 1);
  assert.equal(s2.bufferBeforeMinutes, 10);
  assert.equal(s2.bufferAfterMinutes, 15);
});

ctest('invalid services → 400 naming the field; nothing is created', async () => {
  const before = await ctx.api('GET', '/api/services', { key: admin() });
  expectStatus(before, 200);
  const cases = [
    [{ durationMinutes: 30 }, 'name'],
    [{ name: `S ${rnd()}` }, 'durationMinutes'],
    [{ name: `S ${rnd()}`, durationMinutes: 0 }, 'durationMinutes'],
    [{ name: `S ${rnd()}`, durationMinutes: 1441 }, 'durationMinutes'],
    [{ name: `S ${rnd()}`, durationMinutes: 30.5 }, 'durationMinutes'],
    [{ name: `S ${rnd()}`, durationMinutes: '30' }, 'durationMinutes'],
    [{ name: `S ${rnd()}`, durationMinutes: 30, bufferBeforeMinutes: 241 }, 'bufferBeforeMinutes'],
    [{ name: `S ${rnd()}`, durationMinutes: 30, bufferBeforeMinutes: -1 }, 'bufferBeforeMinutes'],
    [{ name: `S ${rnd()}`, durationMinutes: 30, bufferAfterMinutes: 241 }, 'bufferAfterMinutes'],
    [{ name: `S ${rnd()}`, durationMinutes: 30, bufferAfterMinutes: '5' }, 'bufferAfterMinutes'],
  ];
  for (const [body, field] of cases) {
    const res = await ctx.api('POST', '/api/services', { key: admin(), body });
    expectError(res, 400, 'invalid_request', field, JSON.stringify(body));
  }
  const after = await ctx.api('GET', '/api/services', { key: admin() });
  assert.equal(after.body.services.length, before.body.services.length, 'no service was created by a failed request');
});

ctest('public key: GET providers and services → 200; POST/PUT → 403 forbidden', async () => {
  const pub = ctx.org.publicKey;
  const p = await ctx.api('GET', '/api/providers', { key: pub });
  expectStatus(p, 200, 'public GET providers');
  assert.ok(p.body.providers.some((x) => x.id === ctx.org.defaultProviderId));
  const s = await ctx.api('GET', '/api/services', { key: pub });
  expectStatus(s, 200, 'public GET services');
  assert.ok(Array.isArray(s.body.services));
  const count = p.body.providers.length;
  const writes = [
    ['POST', '/api/providers', { name: `Pub ${rnd()}` }],
    ['POST', '/api/services', { name: `Pub ${rnd()}`, durationMinutes: 30 }],
    ['PUT', `/api/providers/${ctx.org.defaultProviderId}/working-hours`, { workingHours: {} }],
  ];
  for (const [method, path, body] of writes) {
    const res = await ctx.api(method, path, { key: pub, body });
    expectError(res, 403, 'forbidden', undefined, `${method} ${path} with the public key`);
  }
  const p2 = await ctx.api('GET', '/api/providers', { key: pub });
  assert.equal(p2.body.providers.length, count, 'no provider was created');
  assert.deepEqual(openDays(p2.body.providers.find((x) => x.id === ctx.org.defaultProviderId).workingHours), DEFAULT_HOURS);
});
