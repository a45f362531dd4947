// Operations endpoints: /health, /ready, /metrics, /openapi.json (API.md,
// "Health and operations"; DESIGN.md, "Metrics").

import fs from 'node:fs';
import { assert, ctest, useServer, createOrg, createContact, expectStatus, expectError, bookOk, book, rnd } from './lib/harness.mjs';
import { parseMetrics as parsePrometheus } from './lib/metrics.mjs';
import { OPENAPI_PATH } from './lib/openapi.mjs';

const ctx = useServer({
  setup: async (c) => {
    c.org = await createOrg(c, { timezone: 'UTC' });
    c.contact = await createContact(c, c.org.adminKey, { name: `Ops Person ${rnd()}` });
  },
});

/** The samples of Prometheus text exposition: [{name, labels, value}]. */
const parseMetrics = (text) => parsePrometheus(text).samples;

/** Sum of the samples named `name` whose labels include `want`. */
function sum(samples, name, want = {}) {
  return samples
    .filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

async function scrape() {
  const res = await ctx.api('GET', '/metrics');
  expectStatus(res, 200, 'GET /metrics');
  assert.match(String(res.headers['content-type']), /^text\/plain/, 'Prometheus text format');
  return { text: res.raw, samples: parseMetrics(res.raw) };
}

ctest('GET /health → 200 {"status":"ok"} without a key', async () => {
  const res = await ctx.api('GET', '/health');
  expectStatus(res, 200);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.deepEqual(res.body, { status: 'ok' });
});

ctest('GET /ready → 200 ready, database up, pool numbers, breakers', async () => {
  const res = await ctx.api('GET', '/ready');
  const b = expectStatus(res, 200);
  assert.equal(b.status, 'ready');
  assert.equal(b.database, 'up');
  for (const k of ['size', 'idle', 'inUse', 'waiting']) {
    assert.ok(Number.isInteger(b.pool[k]) && b.pool[k] >= 0, `pool.${k} is a non-negative integer: ${JSON.stringify(b.pool)}`);
  }
  assert.ok(b.pool.size >= 1, 'a pool of at least one connection');
  assert.ok(b.pool.idle + b.pool.inUse <= b.pool.size, `idle + inUse ≤ size: ${JSON.stringify(b.pool)}`);
  assert.ok(b.breakers && typeof b.breakers === 'object' && !Array.isArray(b.breakers), 'breakers is an object');
  for (const [k, v] of Object.entries(b.breakers)) assert.ok(['closed', 'open', 'half_open'].includes(v), `breaker ${k}: ${v}`);
});

ctest('GET /metrics: the documented metric families are there', async () => {
  const { text, samples } = await scrape();
  for (const family of ['bookd_bookings_total', 'bookd_http_requests_total', 'bookd_db_pool_connections']) {
    assert.match(text, new RegExp(`^# TYPE ${family} `, 'm'), `# TYPE line for ${family}`);
  }
  assert.match(text, /^# TYPE bookd_bookings_total counter$/m);
  assert.match(text, /^# TYPE bookd_advisory_lock_wait_seconds histogram$/m);
  assert.ok(samples.some((s) => s.name === 'bookd_db_pool_connections' && s.labels.state === 'idle'), 'pool idle gauge');
  assert.ok(samples.some((s) => s.name === 'bookd_db_pool_connections' && s.labels.state === 'in_use'), 'pool in_use gauge');
  assert.ok(samples.some((s) => s.name === 'bookd_http_requests_total'), 'http request counter has samples');
  for (const k of [ctx.org.adminKey, ctx.org.publicKey, ctx.adminToken]) assert.ok(!text.includes(k), 'a key in /metrics');
});

ctest('GET /metrics: counters go up after bookings, conflicts and replays', async () => {
  const before = await scrape();
  const at = '2037-01-05T10:00:00Z';
  await bookOk(ctx, ctx.org.adminKey, { contactId: ctx.contact.id, scheduledAt: at, durationMinutes: 30 });
  expectError(await book(ctx, ctx.org.adminKey, { contactId: ctx.contact.id, scheduledAt: at, durationMinutes: 30 }), 409, 'slot_unavailable');
  const idem = { 'Idempotency-Key': `ops-${rnd(6)}` };
  const body = { contactId: ctx.contact.id, scheduledAt: '2037-01-05T12:00:00Z', durationMinutes: 30 };
  expectStatus(await book(ctx, ctx.org.adminKey, body, idem), 201);
  const mid = await scrape();
  const d = (a, b, name, labels) => sum(b.samples, name, labels) - sum(a.samples, name, labels);
  assert.equal(d(before, mid, 'bookd_bookings_total', { result: 'booked' }), 2, 'two bookings');
  assert.equal(d(before, mid, 'bookd_bookings_total', { result: 'conflict' }), 1, 'one conflict');
  assert.ok(d(before, mid, 'bookd_http_requests_total', {}) >= 4, `http requests counted: +${d(before, mid, 'bookd_http_requests_total', {})}`);
  assert.ok(d(before, mid, 'bookd_http_requests_total', { method: 'POST', code: '201' }) >= 2, 'POST 201 counted with method and code labels');
  assert.ok(d(before, mid, 'bookd_http_requests_total', { method: 'POST', code: '409' }) >= 1, 'POST 409 counted');
  assert.ok(mid.samples.some((s) => s.name === 'bookd_advisory_lock_wait_seconds_bucket' && s.labels.le === '+Inf'), 'histogram has a +Inf bucket');
  assert.ok(d(before, mid, 'bookd_advisory_lock_wait_seconds_count', {}) >= 2, 'lock waits observed for both booking attempts');
  assert.equal(
    sum(mid.samples, 'bookd_advisory_lock_wait_seconds_bucket', { le: '+Inf' }),
    sum(mid.samples, 'bookd_advisory_lock_wait_seconds_count', {}),
    '+Inf bucket equals _count',
  );
  // A replay is counted as a replay.
  expectStatus(await book(ctx, ctx.org.adminKey, body, idem), 201, 'replay');
  const after = await scrape();
  assert.equal(d(mid, after, 'bookd_idempotent_replays_total', {}), 1, 'one idempotent replay');
});

ctest('GET /openapi.json → the OpenAPI 3 document, the same as the repository’s openapi.json', async () => {
  const res = await ctx.api('GET', '/openapi.json');
  const doc = expectStatus(res, 200);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.equal(typeof doc.openapi, 'string');
  assert.match(doc.openapi, /^3\./);
  assert.ok(doc.paths && doc.paths['/api/appointments'], 'documents /api/appointments');
  const file = JSON.parse(fs.readFileSync(OPENAPI_PATH, 'utf8'));
  assert.deepEqual(doc, file, 'served document equals the repository file');
});

ctest('JSON answers carry Content-Type: application/json; charset=utf-8', async () => {
  const answers = [
    await ctx.api('GET', '/health'),
    await ctx.api('GET', '/api/providers', { key: ctx.org.adminKey }),
    await ctx.api('GET', '/api/providers'),
    await ctx.api('GET', '/api/nope', { key: ctx.org.adminKey }),
    await book(ctx, ctx.org.adminKey, { contactId: ctx.contact.id, scheduledAt: 'never', durationMinutes: 30 }),
  ];
  for (const res of answers) {
    assert.match(String(res.headers['content-type']), /^application\/json;\s*charset=utf-8$/i, `${res.status} ${res.raw.slice(0, 80)}`);
  }
});

ctest('ops endpoints: wrong method → 405 with Allow: GET', async () => {
  for (const path of ['/health', '/ready', '/metrics']) {
    const res = await ctx.api('POST', path, { body: {} });
    expectError(res, 405, 'method_not_allowed', undefined, `POST ${path}`);
    assert.match(String(res.headers.allow), /\bGET\b/, `Allow on ${path}: ${res.headers.allow}`);
  }
});
