// Outbound webhooks, deliveries and circuit breakers (API.md, "Outbound
// webhooks", "Circuit breakers", "Health and operations"; DESIGN.md,
// "Outbox, webhooks, integrations", "Deliveries"), against fake receivers
// on 127.0.0.1 (lib/receiver.mjs). Signatures are checked with the
// reference `standardwebhooks` package and by hand.
//
// The file's server runs the in-process worker with a retry schedule in
// seconds ("0,1,2": three attempts, 1 s then 2 s apart, ±20 % jitter), a
// 1 s send timeout, a 100 ms poll, and breakers that open after 3 failures
// in a row for 3 s. Every test has its own organization (so its own
// deliveries and breakers) and its own receiver, and deletes its endpoints
// at the end (which also deletes their deliveries and breakers, so that
// /ready's aggregated breaker state is only ever about the running test).
// The last test stops that server and runs others on the same database:
// with --no-worker, as `bookd worker`, and without BOOKD_WEBHOOK_ALLOW_PRIVATE.

import { after } from 'node:test';
import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import {
  assert, ctest, useServer, createOrg, createContact, expectStatus, expectError, bookOk, book, auditEntries,
  stopAndCheckLogs, waitUntil, sleep, rnd, UUID_RE, randomUUID,
} from './lib/harness.mjs';
import { startServer, TEST_SECRET_KEY } from './lib/server.mjs';
import { makeApi } from './lib/client.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { schemaProblems } from './lib/openapi.mjs';
import { parseMetrics, sumOf, samplesOf } from './lib/metrics.mjs';
import { ISO_MS_Z } from './lib/time.mjs';

// The run's one BOOKD_SECRET_KEY (scripts/test.sh exports it): a server
// refuses to start when the database holds secrets sealed under another.
const SECRET_KEY = process.env.BOOKD_SECRET_KEY || TEST_SECRET_KEY;
const EVENTS = ['appointment.booked', 'appointment.cancelled', 'appointment.rescheduled'];
const OPEN_MS = 3000;
const BASE_ENV = {
  BOOKD_SECRET_KEY: SECRET_KEY,
  BOOKD_WEBHOOK_RETRY_SCHEDULE: '0,1,2',
  BOOKD_WEBHOOK_TIMEOUT_MS: '1000',
  BOOKD_OUTBOX_POLL_MS: '100',
  BOOKD_BREAKER_CONSECUTIVE_FAILURES: '3',
  BOOKD_BREAKER_OPEN_MS: String(OPEN_MS),
  BOOKD_BREAKER_HALF_OPEN_TRIALS: '3',
};
const secrets = [SECRET_KEY];
const ctx = useServer({
  env: { ...BASE_ENV, BOOKD_WEBHOOK_ALLOW_PRIVATE: 'true' },
  setup: async (c) => {
    secrets.push(c.adminToken);
  },
});

const receivers = new Set();
after(async () => {
  for (const r of receivers) await r.close();
});

async function receiver(opts) {
  const r = await startReceiver(opts);
  receivers.add(r);
  return r;
}

// ------------------------------------------------------------------ helpers

/** A fresh organization with a contact, a receiver and endpoints that are deleted at the end. */
async function fixture(c = ctx) {
  const org = await createOrg(c, { timezone: 'UTC' });
  secrets.push(org.adminKey, org.publicKey);
  const contact = await createContact(c, org.adminKey, { name: `Webhook Person ${rnd()}` });
  const rx = await receiver();
  let n = 0;
  const f = {
    org,
    key: org.adminKey,
    contact,
    rx,
    endpoints: [],
    async endpoint(path, events = EVENTS) {
      const res = await c.api('POST', '/api/webhook-endpoints', { key: org.adminKey, body: { url: rx.urlFor(path), events } });
      const e = expectStatus(res, 201, `create webhook endpoint ${path}`);
      secrets.push(e.secret, e.secret.slice('whsec_'.length));
      f.endpoints.push(e);
      return e;
    },
    /** Books the next free hour of the default provider (admin key: any time is fine). */
    async book() {
      const at = new Date(Date.UTC(2036, 5, 2, 0, 0) + n++ * 3_600_000).toISOString();
      return bookOk(c, org.adminKey, { contactId: contact.id, scheduledAt: at, durationMinutes: 30 });
    },
    async cleanup() {
      for (const e of f.endpoints) await c.api('DELETE', `/api/webhook-endpoints/${e.id}`, { key: org.adminKey });
      f.endpoints = [];
      await rx.close();
      receivers.delete(rx);
    },
  };
  return f;
}

async function deliveries(key, query = {}, c = ctx) {
  const res = await c.api('GET', '/api/webhook-deliveries', { key, query });
  expectStatus(res, 200, `GET /api/webhook-deliveries ${JSON.stringify(query)}`);
  assert.ok(Array.isArray(res.body.deliveries), 'deliveries is an array');
  return res.body.deliveries;
}

/** Polls the deliveries of one endpoint until pred(list) holds; returns the list. */
async function waitDeliveries(key, endpointId, pred, what, { timeoutMs = 8000, intervalMs = 100, c = ctx } = {}) {
  return waitUntil(
    async () => {
      const ds = await deliveries(key, { endpointId }, c);
      return pred(ds) ? ds : { ok: false, seen: ds };
    },
    { timeoutMs, intervalMs, what },
  );
}

async function breakers(key, c = ctx) {
  const res = await c.api('GET', '/api/breakers', { key });
  expectStatus(res, 200, 'GET /api/breakers');
  assert.ok(Array.isArray(res.body.breakers), `breakers is an array: ${res.raw}`);
  return res.body.breakers;
}

async function breakerOf(key, endpointId, c = ctx) {
  return (await breakers(key, c)).find((b) => b.target === `webhook:${endpointId}`) || null;
}

async function ready(c = ctx) {
  const res = await c.api('GET', '/ready');
  return expectStatus(res, 200, 'GET /ready');
}

async function scrape(c = ctx) {
  const res = await c.api('GET', '/metrics');
  expectStatus(res, 200, 'GET /metrics');
  return parseMetrics(res.raw);
}

/** Polls /ready until breakers.webhook is `want` (it may lag the breakers by up to a second). */
async function readyShows(want, timeoutMs) {
  return waitUntil(async () => {
    const r = await ready();
    return r.breakers.webhook === want ? r : { ok: false, seen: r.breakers };
  }, { timeoutMs: Math.max(timeoutMs, 200), intervalMs: 100, what: `/ready breakers.webhook = ${want}` });
}

/** The value of bookd_circuit_breaker_state{target="webhook"} (undefined when absent). */
function breakerMetric(m) {
  const v = samplesOf(m.samples, 'bookd_circuit_breaker_state', { target: 'webhook' });
  assert.equal(v.length, 1, `one bookd_circuit_breaker_state{target="webhook"} sample: ${JSON.stringify(v)}`);
  return v[0].value;
}

const delivered = (ds, n) => ds.length === n && ds.every((d) => d.status === 'delivered');

/** Checks the Standard Webhooks headers and signature of one received request; returns the parsed body. */
function verifySigned(secret, r, what = 'webhook') {
  assert.equal(r.method, 'POST', `${what}: method`);
  assert.equal(r.headers['content-type'], 'application/json', `${what}: Content-Type`);
  const id = r.headers['webhook-id'];
  const ts = r.headers['webhook-timestamp'];
  const sig = r.headers['webhook-signature'];
  assert.match(String(id), /^msg_[0-9a-f]{32}$/, `${what}: webhook-id`);
  assert.match(String(ts), /^[0-9]+$/, `${what}: webhook-timestamp is Unix seconds`);
  assert.ok(Math.abs(Number(ts) - r.receivedAt / 1000) <= 5, `${what}: webhook-timestamp ${ts} is the time of the attempt (received at ${r.receivedAt / 1000})`);
  assert.match(String(sig), /^v1,[A-Za-z0-9+/]{43}=$/, `${what}: one v1 signature, base64 of 32 bytes`);
  // By hand: base64(HMAC-SHA256(key, "id.timestamp.body")) over the exact bytes sent.
  const keyBytes = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const mac = createHmac('sha256', keyBytes).update(`${id}.${ts}.`).update(r.rawBody).digest('base64');
  assert.equal(sig, `v1,${mac}`, `${what}: HMAC-SHA256 of "id.timestamp.body"`);
  // And with the reference implementation.
  const payload = new Webhook(secret).verify(r.rawBody, r.headers);
  assert.deepEqual(payload, JSON.parse(r.body), `${what}: verified payload`);
  return payload;
}

/** What a lastError refusing a private address at connect time says, in some words. */
const NOT_ALLOWED = /not allowed|refused|private|loopback|ALLOW_PRIVATE/i;

const apptIdOf = (r) => r.json && r.json.data && r.json.data.appointment && r.json.data.appointment.id;

// ------------------------------------------------------------------ endpoints

ctest('webhook endpoints: create → 201 {id,url,events,secret}, listed without the secret, audited, deleted → 204', async () => {
  const org = await createOrg(ctx);
  const other = await createOrg(ctx);
  secrets.push(org.adminKey, org.publicKey, other.adminKey, other.publicKey);
  const key = org.adminKey;
  const url = 'http://127.0.0.1:9/hooks/crud';
  const res = await ctx.api('POST', '/api/webhook-endpoints', { key, body: { url, events: ['appointment.cancelled', 'appointment.booked'] } });
  const e = expectStatus(res, 201, 'create');
  secrets.push(e.secret, e.secret.slice(6));
  assert.deepEqual(Object.keys(e).sort(), ['events', 'id', 'secret', 'url']);
  assert.match(e.id, UUID_RE);
  assert.equal(e.url, url);
  assert.deepEqual([...e.events].sort(), ['appointment.booked', 'appointment.cancelled']);
  assert.match(e.secret, /^whsec_[A-Za-z0-9+/]+={0,2}$/);
  const keyBytes = Buffer.from(e.secret.slice(6), 'base64');
  assert.ok(keyBytes.length >= 24 && keyBytes.length <= 64, `a 24..64-byte signing key (Standard Webhooks), got ${keyBytes.length}`);
  assert.doesNotThrow(() => new Webhook(e.secret), 'the reference library accepts the secret');

  const e2 = expectStatus(await ctx.api('POST', '/api/webhook-endpoints', { key, body: { url: `${url}/2`, events: EVENTS } }), 201);
  secrets.push(e2.secret, e2.secret.slice(6));
  assert.notEqual(e2.secret, e.secret, 'each endpoint has its own secret');
  assert.deepEqual([...e2.events].sort(), [...EVENTS].sort());

  const list = await ctx.api('GET', '/api/webhook-endpoints', { key });
  expectStatus(list, 200, 'list');
  const mine = list.body.endpoints.filter((x) => x.id === e.id || x.id === e2.id);
  assert.equal(mine.length, 2, `both endpoints listed: ${list.raw}`);
  const got = list.body.endpoints.find((x) => x.id === e.id);
  assert.deepEqual({ ...got, events: [...got.events].sort() }, { id: e.id, url, events: ['appointment.booked', 'appointment.cancelled'], disabled: false });
  for (const s of [e.secret.slice(6), e2.secret.slice(6)]) assert.ok(!list.raw.includes(s), 'no secret in GET /api/webhook-endpoints');

  const entries = await auditEntries(ctx, key, { entityId: e.id });
  const created = entries.find((x) => x.action === 'webhook_endpoint.created');
  assert.ok(created, `audit entry webhook_endpoint.created: ${JSON.stringify(entries)}`);
  assert.equal(created.entityType, 'webhook_endpoint');
  assert.equal(created.entityId, e.id);
  assert.match(created.actor, /^admin_key:/);
  assert.ok(!JSON.stringify(entries).includes(e.secret.slice(6)), 'no secret in the audit log');

  // Scopes and other organizations.
  for (const [m, p, body] of [
    ['GET', '/api/webhook-endpoints'],
    ['POST', '/api/webhook-endpoints', { url, events: EVENTS }],
    ['DELETE', `/api/webhook-endpoints/${e.id}`],
    ['GET', '/api/webhook-deliveries'],
    ['POST', `/api/webhook-deliveries/${randomUUID()}/retry`],
    ['GET', '/api/breakers'],
  ]) {
    expectError(await ctx.api(m, p, { key: org.publicKey, body }), 403, 'forbidden', undefined, `public key ${m} ${p}`);
    expectError(await ctx.api(m, p, { body }), 401, 'unauthorized', undefined, `no key ${m} ${p}`);
  }
  const otherList = expectStatus(await ctx.api('GET', '/api/webhook-endpoints', { key: other.adminKey }), 200);
  assert.ok(!otherList.endpoints.some((x) => x.id === e.id), 'another organization does not see the endpoint');
  expectError(await ctx.api('DELETE', `/api/webhook-endpoints/${e.id}`, { key: other.adminKey }), 404, 'not_found', undefined, 'delete from another organization');
  expectError(
    await ctx.api('POST', '/api/webhook-endpoints', { key, body: { url, events: EVENTS, orgId: other.id } }),
    403, 'forbidden', undefined, 'orgId of another organization',
  );

  // Delete.
  const del = await ctx.api('DELETE', `/api/webhook-endpoints/${e.id}`, { key });
  expectStatus(del, 204, 'delete');
  assert.equal(del.raw, '', '204 has no body');
  const after1 = expectStatus(await ctx.api('GET', '/api/webhook-endpoints', { key }), 200);
  assert.deepEqual(after1.endpoints.map((x) => x.id), [e2.id], 'only the other endpoint remains');
  expectError(await ctx.api('DELETE', `/api/webhook-endpoints/${e.id}`, { key }), 404, 'not_found', undefined, 'delete twice');
  expectError(await ctx.api('DELETE', `/api/webhook-endpoints/${randomUUID()}`, { key }), 404, 'not_found', undefined, 'unknown id');
  expectError(await ctx.api('DELETE', '/api/webhook-endpoints/not-a-uuid', { key }), 404, 'not_found', undefined, 'malformed id');
  expectStatus(await ctx.api('DELETE', `/api/webhook-endpoints/${e2.id}`, { key }), 204);
});

ctest('webhook endpoints: invalid url or events → 400 naming the field, and nothing is created', async () => {
  const org = await createOrg(ctx);
  secrets.push(org.adminKey, org.publicKey);
  const key = org.adminKey;
  const good = 'https://hooks.example.com/bookd';
  const cases = [
    [{ events: EVENTS }, 'url'],
    [{ url: 42, events: EVENTS }, 'url'],
    [{ url: null, events: EVENTS }, 'url'],
    [{ url: '', events: EVENTS }, 'url'],
    [{ url: 'not a url', events: EVENTS }, 'url'],
    [{ url: 'ftp://example.com/hook', events: EVENTS }, 'url'],
    [{ url: 'file:///etc/passwd', events: EVENTS }, 'url'],
    [{ url: 'javascript:alert(1)', events: EVENTS }, 'url'],
    [{ url: 'gopher://127.0.0.1:25/', events: EVENTS }, 'url'],
    [{ url: 'http://', events: EVENTS }, 'url'],
    [{ url: '//example.com/hook', events: EVENTS }, 'url'],
    [{ url: 'http://exa mple.com/hook', events: EVENTS }, 'url'],
    [{ url: 'http://example.com/ho\u0000ok', events: EVENTS }, 'url'],
    [{ url: 'http://example.com:99999/hook', events: EVENTS }, 'url'],
    [{ url: good }, 'events'],
    [{ url: good, events: [] }, 'events'],
    [{ url: good, events: 'appointment.booked' }, 'events'],
    [{ url: good, events: ['appointment.exploded'] }, 'events'],
    [{ url: good, events: ['appointment.booked', 'contact.erased2'] }, 'events'],
    [{ url: good, events: [42] }, 'events'],
    [{ url: good, events: null }, 'events'],
    [{ url: good, events: EVENTS, colour: 'red' }, 'colour'],
  ];
  for (const [body, field] of cases) {
    expectError(await ctx.api('POST', '/api/webhook-endpoints', { key, body }), 400, 'invalid_request', field, JSON.stringify(body));
  }
  expectError(await ctx.api('POST', '/api/webhook-endpoints', { key, rawBody: '{"url":' }), 400, 'invalid_request', undefined, 'malformed JSON');
  expectError(await ctx.api('POST', '/api/webhook-endpoints', { key, body: [good] }), 400, 'invalid_request', undefined, 'an array body');
  expectError(
    await ctx.api('POST', '/api/webhook-endpoints', { key, rawBody: JSON.stringify({ url: good, events: EVENTS }), contentType: 'text/plain' }),
    415, 'unsupported_media_type', undefined, 'text/plain',
  );
  const list = expectStatus(await ctx.api('GET', '/api/webhook-endpoints', { key }), 200);
  assert.deepEqual(list.endpoints, [], 'no endpoint was created by the failed requests');
  const audit = await auditEntries(ctx, key);
  assert.ok(!audit.some((x) => x.action === 'webhook_endpoint.created'), 'no audit entry from failed requests');
});

ctest('webhook endpoints: loopback, private and link-local hosts → 400 url unless BOOKD_WEBHOOK_ALLOW_PRIVATE=true', async () => {
  // A second server on the same database, with the default (private hosts
  // refused) and no worker, so it delivers nothing for the other tests.
  const srv = await startServer({ env: { BOOKD_SECRET_KEY: SECRET_KEY }, args: ['serve', '--no-worker'] });
  try {
    const c = { api: makeApi(srv.url), adminToken: srv.adminToken };
    const org = await createOrg(c);
    secrets.push(srv.adminToken, org.adminKey, org.publicKey);
    const key = org.adminKey;
    const refused = [
      'http://127.0.0.1:9/x', 'https://127.0.0.1/', 'http://127.10.20.30/', 'http://10.0.0.1/', 'http://10.255.255.254:8443/x',
      'http://172.16.0.5/', 'http://172.31.255.1/', 'http://192.168.1.20/hook', 'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/', 'http://[::1]:8080/x', 'http://[fe80::1]/', 'http://[fd00::1]/', 'http://[fc00::abcd]/',
      'http://localhost/', 'http://localhost:8080/hook', 'http://LOCALHOST/', 'http://0.0.0.0/', 'http://[::]/',
      'http://[::ffff:127.0.0.1]/', 'http://[::ffff:10.0.0.1]/',
      // Other spellings of 127.0.0.1 that resolvers accept.
      'http://127.1/', 'http://2130706433/', 'http://0177.0.0.1/', 'http://0x7f.0.0.1/', 'http://localhost./', 'http://api.localhost/',
    ];
    const wrong = [];
    for (const url of refused) {
      const res = await c.api('POST', '/api/webhook-endpoints', { key, body: { url, events: EVENTS } });
      if (!(res.status === 400 && res.body && res.body.error === 'invalid_request' && res.body.field === 'url')) {
        wrong.push(`${url} → ${res.status} ${res.raw.slice(0, 120)}`);
        if (res.status === 201) await c.api('DELETE', `/api/webhook-endpoints/${res.body.id}`, { key });
      }
    }
    assert.deepEqual(wrong, [], 'every loopback/private/link-local URL is refused with 400 invalid_request field url');
    // A public address is fine (never delivered to: nothing happens in this organization).
    const ok = await c.api('POST', '/api/webhook-endpoints', { key, body: { url: 'https://93.184.215.14/hooks', events: ['appointment.booked'] } });
    const e = expectStatus(ok, 201, 'public address');
    secrets.push(e.secret, e.secret.slice(6));
    expectStatus(await c.api('DELETE', `/api/webhook-endpoints/${e.id}`, { key }), 204);
    const list = expectStatus(await c.api('GET', '/api/webhook-endpoints', { key }), 200);
    assert.deepEqual(list.endpoints, [], 'nothing left behind');
    // The file's server allows private hosts: the same URL is accepted there.
    const org2 = await createOrg(ctx);
    secrets.push(org2.adminKey, org2.publicKey);
    const e2 = expectStatus(
      await ctx.api('POST', '/api/webhook-endpoints', { key: org2.adminKey, body: { url: 'http://127.0.0.1:9/x', events: EVENTS } }),
      201, 'BOOKD_WEBHOOK_ALLOW_PRIVATE=true',
    );
    secrets.push(e2.secret, e2.secret.slice(6));
    expectStatus(await ctx.api('DELETE', `/api/webhook-endpoints/${e2.id}`, { key: org2.adminKey }), 204);
  } finally {
    await stopAndCheckLogs({ server: srv }, secrets);
  }
});

// ------------------------------------------------------------------ deliveries

ctest('booked, cancelled, rescheduled: each delivered once, signed (Standard Webhooks), exact headers and body', async () => {
  const f = await fixture();
  try {
    const e = await f.endpoint('/events');
    const t0 = Date.now();
    const a = await f.book();
    const t1 = Date.now();
    const [r1] = await f.rx.waitFor(1, { path: '/events', timeoutMs: 5000 });
    const p1 = verifySigned(e.secret, r1, 'booked');
    assert.deepEqual(Object.keys(p1).sort(), ['data', 'timestamp', 'type'], 'body keys');
    assert.equal(p1.type, 'appointment.booked');
    assert.match(p1.timestamp, ISO_MS_Z, 'timestamp in toISOString form');
    const evAt = Date.parse(p1.timestamp);
    assert.ok(evAt >= t0 - 1000 && evAt <= t1 + 1000, `event time ${p1.timestamp} is the booking's (${new Date(t0).toISOString()}..${new Date(t1).toISOString()})`);
    assert.deepEqual(p1.data, { appointment: a }, 'data.appointment is the API appointment object');
    assert.deepEqual(schemaProblems('WebhookEvent', p1), [], 'body matches components.schemas.WebhookEvent');
    // The signature covers the exact bytes, under this endpoint's secret only.
    assert.throws(() => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(r1.rawBody, r1.headers), /signature/i, 'another secret does not verify');
    const tampered = Buffer.from(r1.body.replace(a.id, a.id.replace(/^./, (ch) => (ch === 'a' ? 'b' : 'a'))));
    assert.throws(() => new Webhook(e.secret).verify(tampered, r1.headers), /signature/i, 'a changed body does not verify');

    let ds = await waitDeliveries(f.key, e.id, (l) => delivered(l, 1), 'the booked delivery is delivered');
    const d1 = ds[0];
    assert.match(d1.id, UUID_RE);
    assert.equal(d1.endpointId, e.id);
    assert.equal(d1.eventType, 'appointment.booked');
    assert.equal(d1.attempts, 1);
    assert.equal(d1.lastStatusCode, 200);
    assert.equal(d1.lastError, null);
    assert.equal(d1.nextAttemptAt, null, 'nothing further is due');
    assert.match(String(d1.deliveredAt), ISO_MS_Z);
    assert.ok(Math.abs(Date.parse(d1.deliveredAt) - r1.receivedAt) < 3000, 'deliveredAt is when the receiver answered');

    // Cancel.
    const cres = await ctx.api('POST', `/api/appointments/${a.id}/cancel`, { key: f.key, body: { reason: 'webhook test' } });
    const cancelled = expectStatus(cres, 200, 'cancel');
    const [, r2] = await f.rx.waitFor(2, { path: '/events', timeoutMs: 5000 });
    const p2 = verifySigned(e.secret, r2, 'cancelled');
    assert.deepEqual(Object.keys(p2).sort(), ['data', 'timestamp', 'type']);
    assert.equal(p2.type, 'appointment.cancelled');
    assert.match(p2.timestamp, ISO_MS_Z);
    assert.deepEqual(p2.data, { appointment: cancelled }, 'data.appointment is the cancelled appointment');
    assert.equal(p2.data.appointment.status, 'cancelled');
    assert.notEqual(r2.headers['webhook-id'], r1.headers['webhook-id'], 'another event, another webhook-id');
    assert.ok(Date.parse(p2.timestamp) >= evAt, 'event times in order');
    assert.deepEqual(schemaProblems('WebhookEvent', p2), []);

    // Reschedule.
    const b = await f.book();
    await f.rx.waitFor(1, { path: '/events', where: (r) => apptIdOf(r) === b.id, timeoutMs: 5000 });
    const rres = await ctx.api('POST', `/api/appointments/${b.id}/reschedule`, { key: f.key, body: { scheduledAt: '2036-07-01T09:00:00Z' } });
    const moved = expectStatus(rres, 200, 'reschedule');
    const [r3] = await f.rx.waitFor(1, { path: '/events', where: (r) => r.json && r.json.type === 'appointment.rescheduled', timeoutMs: 5000 });
    const p3 = verifySigned(e.secret, r3, 'rescheduled');
    assert.deepEqual(Object.keys(p3).sort(), ['data', 'timestamp', 'type']);
    assert.match(p3.timestamp, ISO_MS_Z);
    assert.deepEqual(p3.data, { appointment: moved.appointment, previousAppointmentId: b.id }, 'data: the new appointment and previousAppointmentId');
    assert.equal(p3.data.appointment.id, moved.appointmentId);
    assert.equal(p3.data.appointment.scheduledAt, '2036-07-01T09:00:00.000Z');
    assert.deepEqual(schemaProblems('WebhookEvent', p3), []);

    // Every event exactly once, each with its own webhook-id.
    await f.rx.quiet(600);
    const all = f.rx.requestsFor('/events');
    const seen = all.map((r) => `${r.json.type} ${apptIdOf(r)}`);
    for (const want of [`appointment.booked ${a.id}`, `appointment.cancelled ${a.id}`, `appointment.booked ${b.id}`, `appointment.rescheduled ${moved.appointmentId}`]) {
      assert.equal(seen.filter((s) => s === want).length, 1, `exactly one ${want}; received ${JSON.stringify(seen)}`);
    }
    const ids = all.map((r) => r.headers['webhook-id']);
    assert.equal(new Set(ids).size, ids.length, `distinct webhook-ids: ${ids}`);
    ds = await waitDeliveries(f.key, e.id, (l) => delivered(l, all.length), 'all delivered');
    assert.deepEqual(ds.map((d) => d.eventType).sort(), all.map((r) => r.json.type).sort(), 'one delivery per event, with its type');
  } finally {
    await f.cleanup();
  }
});

ctest('an endpoint gets only the events it subscribed to; a failed request or an idempotent replay emits nothing', async () => {
  const f = await fixture();
  try {
    const eb = await f.endpoint('/booked-only', ['appointment.booked']);
    const ec = await f.endpoint('/cancelled-only', ['appointment.cancelled']);
    const body = { contactId: f.contact.id, scheduledAt: '2036-08-03T10:00:00Z', durationMinutes: 30 };
    const idem = { 'Idempotency-Key': `wh-${rnd(8)}` };
    const first = await book(ctx, f.key, body, idem);
    const a = expectStatus(first, 201, 'book with an Idempotency-Key').appointment;
    const again = await book(ctx, f.key, body, idem);
    expectStatus(again, 201, 'replay');
    assert.equal(again.headers['idempotent-replayed'], 'true', 'a replay');
    // A refused booking (the same slot) and an invalid one write no event.
    expectError(await book(ctx, f.key, { contactId: f.contact.id, scheduledAt: a.scheduledAt, durationMinutes: 30 }), 409, 'slot_unavailable');
    expectError(await book(ctx, f.key, { contactId: f.contact.id, scheduledAt: 'tomorrow', durationMinutes: 30 }), 400, 'invalid_request');
    expectStatus(await ctx.api('POST', `/api/appointments/${a.id}/cancel`, { key: f.key, body: {} }), 200);
    await f.rx.waitFor(1, { path: '/booked-only', timeoutMs: 5000 });
    await f.rx.waitFor(1, { path: '/cancelled-only', timeoutMs: 5000 });
    await f.rx.quiet(700);
    assert.deepEqual(f.rx.requestsFor('/booked-only').map((r) => [r.json.type, apptIdOf(r)]), [['appointment.booked', a.id]]);
    assert.deepEqual(f.rx.requestsFor('/cancelled-only').map((r) => [r.json.type, apptIdOf(r)]), [['appointment.cancelled', a.id]]);
    const db = await waitDeliveries(f.key, eb.id, (l) => delivered(l, 1), 'booked-only delivered');
    assert.equal(db[0].eventType, 'appointment.booked');
    const dc = await waitDeliveries(f.key, ec.id, (l) => delivered(l, 1), 'cancelled-only delivered');
    assert.equal(dc[0].eventType, 'appointment.cancelled');
    assert.equal((await deliveries(f.key)).length, 2, 'two deliveries in the organization, nothing from the failed requests or the replay');
  } finally {
    await f.cleanup();
  }
});

ctest('/metrics: delivery counters move by exactly what happened; latency histogram; outbox gauge', async () => {
  const f = await fixture();
  try {
    f.rx.setMode('/m-ok', 200);
    f.rx.setMode('/m-404', 404);
    f.rx.setMode('/m-410', 410);
    const ok = await f.endpoint('/m-ok');
    const nf = await f.endpoint('/m-404');
    const gone = await f.endpoint('/m-410');
    const m0 = await scrape();
    for (const fam of ['bookd_webhook_deliveries_total', 'bookd_outbox_pending', 'bookd_delivery_latency_seconds', 'bookd_circuit_breaker_state']) {
      assert.ok(m0.types[fam], `# TYPE line for ${fam}`);
    }
    assert.equal(m0.types.bookd_webhook_deliveries_total, 'counter');
    assert.equal(m0.types.bookd_delivery_latency_seconds, 'histogram');
    assert.equal(m0.types.bookd_outbox_pending, 'gauge');
    assert.equal(m0.types.bookd_circuit_breaker_state, 'gauge');

    await f.book(); // ok: delivered; 404: retry, retry, dead; 410: gone (endpoint disabled)
    await waitDeliveries(f.key, gone.id, (l) => l.length === 1 && l[0].status === 'dead', '410 → dead');
    await f.book(); // ok: delivered; 404: retry, retry, dead; 410: disabled, no delivery
    await waitDeliveries(f.key, ok.id, (l) => delivered(l, 2), '2 delivered');
    await waitDeliveries(f.key, nf.id, (l) => l.length === 2 && l.every((d) => d.status === 'dead' && d.attempts === 3), '404 ×3 → dead', { timeoutMs: 10_000 });
    await sleep(200);
    const m1 = await scrape();
    const d = (name, labels) => sumOf(m1.samples, name, labels) - sumOf(m0.samples, name, labels);
    const got = {};
    for (const result of ['delivered', 'retry', 'dead', 'gone', 'deferred']) got[result] = d('bookd_webhook_deliveries_total', { result });
    assert.deepEqual(got, { delivered: 2, retry: 4, dead: 2, gone: 1, deferred: 0 }, 'bookd_webhook_deliveries_total{result} deltas');
    assert.equal(d('bookd_delivery_latency_seconds_count', {}), 2, 'two latencies observed (event → 2xx)');
    const sum = d('bookd_delivery_latency_seconds_sum', {});
    assert.ok(sum > 0 && sum < 10, `latency sum of two prompt deliveries: ${sum} s`);
    const buckets = samplesOf(m1.samples, 'bookd_delivery_latency_seconds_bucket').sort((x, y) => Number(x.labels.le) - Number(y.labels.le));
    assert.ok(buckets.some((b) => b.labels.le === '+Inf'), 'a +Inf bucket');
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value, 'cumulative buckets');
    assert.equal(sumOf(m1.samples, 'bookd_delivery_latency_seconds_bucket', { le: '+Inf' }), sumOf(m1.samples, 'bookd_delivery_latency_seconds_count'), '+Inf bucket = count');
    // Now there are webhook breakers; the 404s and the 410 tripped none.
    assert.deepEqual(samplesOf(m1.samples, 'bookd_circuit_breaker_state', { target: 'webhook' }).map((x) => x.value), [0], 'bookd_circuit_breaker_state{target="webhook"} 0');
    const pending = samplesOf(m1.samples, 'bookd_outbox_pending');
    assert.ok(pending.length === 1 && Number.isInteger(pending[0].value) && pending[0].value >= 0, `bookd_outbox_pending: ${JSON.stringify(pending)}`);
  } finally {
    await f.cleanup();
  }
});

ctest('retries follow BOOKD_WEBHOOK_RETRY_SCHEDULE, then dead; manual retry → 202 and delivers the same webhook-id', async () => {
  const f = await fixture();
  try {
    f.rx.setMode('/r500', 500);
    f.rx.setMode('/f500', 500);
    const e = await f.endpoint('/r500');
    const fe = await f.endpoint('/f500');
    const a = await f.book();
    const [first] = await f.rx.waitFor(1, { path: '/r500', timeoutMs: 5000 });
    // Between attempts: failed, one attempt made, the next due about 1 s after the first.
    const [mid] = await waitDeliveries(f.key, e.id, (l) => l.length === 1 && l[0].status === 'failed', 'failed after the first attempt', { intervalMs: 50, timeoutMs: 3000 });
    assert.equal(mid.attempts, 1);
    assert.equal(mid.lastStatusCode, 500);
    assert.match(String(mid.nextAttemptAt), ISO_MS_Z, 'a failed delivery has nextAttemptAt');
    const due = Date.parse(mid.nextAttemptAt) - first.receivedAt;
    assert.ok(due >= 600 && due <= 1600, `second attempt due ~1 s (±20 %) after the first: ${due} ms`);
    assert.equal(mid.deliveredAt, null);

    // A failed delivery can be queued again by hand (/f500): due at once.
    const [ff] = await f.rx.waitFor(1, { path: '/f500', timeoutMs: 5000 });
    await waitDeliveries(f.key, fe.id, (l) => l.length === 1 && l[0].status === 'failed', '/f500 failed', { intervalMs: 50, timeoutMs: 3000 });
    f.rx.setMode('/f500', 200);
    const [fd] = await deliveries(f.key, { endpointId: fe.id });
    const tRetry = Date.now();
    const fr = await ctx.api('POST', `/api/webhook-deliveries/${fd.id}/retry`, { key: f.key });
    const frb = expectStatus(fr, 202, 'retry a failed delivery');
    assert.equal(frb.status, 'pending', 'queued again: pending');
    assert.equal(frb.id, fd.id);
    const [, fr2] = await f.rx.waitFor(2, { path: '/f500', timeoutMs: 5000 });
    assert.ok(fr2.receivedAt - tRetry < 700, `sent at once after the manual retry, not at the scheduled time (${fr2.receivedAt - tRetry} ms after it, ${fr2.receivedAt - ff.receivedAt} ms after the first attempt)`);
    assert.equal(fr2.headers['webhook-id'], ff.headers['webhook-id'], 'same webhook-id after a manual retry');
    await waitDeliveries(f.key, fe.id, (l) => delivered(l, 1), '/f500 delivered after the manual retry');

    // /r500: three attempts in all, ~1 s then ~2 s apart, then dead.
    const reqs = await f.rx.waitFor(3, { path: '/r500', timeoutMs: 8000 });
    const gap1 = reqs[1].receivedAt - reqs[0].receivedAt;
    const gap2 = reqs[2].receivedAt - reqs[1].receivedAt;
    assert.ok(gap1 >= 750 && gap1 <= 2500, `attempt 2 ~1 s after attempt 1: ${gap1} ms`);
    assert.ok(gap2 >= 1550 && gap2 <= 3500, `attempt 3 ~2 s after attempt 2: ${gap2} ms`);
    for (const r of reqs) verifySigned(e.secret, r, `attempt ${r.index}`);
    assert.equal(new Set(reqs.map((r) => r.headers['webhook-id'])).size, 1, 'one webhook-id across the retries of one delivery');
    assert.ok(Number(reqs[2].headers['webhook-timestamp']) > Number(reqs[0].headers['webhook-timestamp']), 'webhook-timestamp is each attempt\'s');
    for (const r of reqs) assert.equal(apptIdOf(r), a.id);
    const [dead] = await waitDeliveries(f.key, e.id, (l) => l.length === 1 && l[0].status === 'dead', 'dead after the last attempt', { timeoutMs: 3000 });
    assert.equal(dead.attempts, 3);
    assert.equal(dead.lastStatusCode, 500);
    assert.equal(dead.nextAttemptAt, null, 'nothing is due for a dead delivery');
    assert.equal(dead.deliveredAt, null);
    assert.deepEqual(await f.rx.quiet(700, { path: '/r500' }), [], 'no attempt after the last one');

    // Manual retry of the dead delivery: 202 with the delivery, then delivered.
    f.rx.setMode('/r500', 200);
    const rr = await ctx.api('POST', `/api/webhook-deliveries/${dead.id}/retry`, { key: f.key });
    const rb = expectStatus(rr, 202, 'retry a dead delivery');
    assert.equal(rb.id, dead.id);
    assert.equal(rb.endpointId, e.id);
    assert.equal(rb.eventType, 'appointment.booked');
    assert.equal(rb.status, 'pending', 'queued again: pending');
    // Retrying what is pending (or already delivered) is 409 invalid_state.
    expectError(await ctx.api('POST', `/api/webhook-deliveries/${dead.id}/retry`, { key: f.key }), 409, 'invalid_state', undefined, 'retry a pending delivery');
    const r4 = (await f.rx.waitFor(4, { path: '/r500', timeoutMs: OPEN_MS + 5000 }))[3];
    verifySigned(e.secret, r4, 'manual retry');
    assert.equal(r4.headers['webhook-id'], reqs[0].headers['webhook-id'], 'the manual retry is the same message (same webhook-id)');
    const [done] = await waitDeliveries(f.key, e.id, (l) => delivered(l, 1), 'delivered after the manual retry', { timeoutMs: 3000 });
    assert.equal(done.lastStatusCode, 200);
    assert.match(String(done.deliveredAt), ISO_MS_Z);
    expectError(await ctx.api('POST', `/api/webhook-deliveries/${dead.id}/retry`, { key: f.key }), 409, 'invalid_state', undefined, 'retry a delivered delivery');
    expectError(await ctx.api('POST', `/api/webhook-deliveries/${randomUUID()}/retry`, { key: f.key }), 404, 'not_found', undefined, 'unknown delivery');
    expectError(await ctx.api('POST', '/api/webhook-deliveries/nope/retry', { key: f.key }), 404, 'not_found', undefined, 'malformed id');
    const other = await createOrg(ctx);
    secrets.push(other.adminKey, other.publicKey);
    expectError(await ctx.api('POST', `/api/webhook-deliveries/${dead.id}/retry`, { key: other.adminKey }), 404, 'not_found', undefined, 'another organization\'s delivery');
  } finally {
    await f.cleanup();
  }
}, { timeout: 30_000 });

ctest('410 Gone disables the endpoint; its waiting deliveries become dead; later events are not sent to it', async () => {
  const f = await fixture();
  try {
    // The first appointment's delivery fails (500) and waits for its retry;
    // any other is answered 410.
    let firstId = null;
    f.rx.setMode('/gone', (r) => {
      if (firstId === null) firstId = apptIdOf(r);
      return apptIdOf(r) === firstId ? 500 : 410;
    });
    const g = await f.endpoint('/gone');
    const live = await f.endpoint('/live');
    const first = await f.book();
    await f.rx.waitFor(1, { path: '/gone', timeoutMs: 5000 });
    assert.equal(firstId, first.id);
    await waitDeliveries(f.key, g.id, (l) => l.length === 1 && l[0].status === 'failed', 'first delivery failed, waiting', { intervalMs: 50, timeoutMs: 3000 });
    const second = await f.book();
    await f.rx.waitFor(2, { path: '/gone', timeoutMs: 5000 });
    const ends = await waitDeliveries(f.key, g.id, (l) => l.length === 2 && l.every((d) => d.status === 'dead'), 'both deliveries of the disabled endpoint dead', { timeoutMs: 3000 });
    const byCode = Object.fromEntries(ends.map((d) => [d.lastStatusCode, d]));
    assert.ok(byCode[410], `one delivery dead with 410: ${JSON.stringify(ends)}`);
    assert.equal(byCode[410].attempts, 1, 'a 410 is final at once');
    assert.ok(byCode[500], `the waiting one dead without another attempt: ${JSON.stringify(ends)}`);
    assert.equal(byCode[500].attempts, 1, 'the waiting delivery made no further attempt');
    const list = expectStatus(await ctx.api('GET', '/api/webhook-endpoints', { key: f.key }), 200);
    assert.equal(list.endpoints.find((x) => x.id === g.id)?.disabled, true, `disabled: true — ${JSON.stringify(list)}`);
    assert.equal(list.endpoints.find((x) => x.id === live.id)?.disabled, false, 'the other endpoint stays enabled');
    const third = await f.book();
    await f.rx.waitFor(3, { path: '/live', timeoutMs: 5000 });
    await f.rx.quiet(1200);
    assert.deepEqual(f.rx.requestsFor('/gone').map(apptIdOf), [first.id, second.id], 'nothing more to the disabled endpoint (no retry of the first, nothing of the third)');
    assert.deepEqual(f.rx.requestsFor('/live').map(apptIdOf).sort(), [first.id, second.id, third.id].sort(), 'the enabled endpoint got all three');
    assert.equal((await deliveries(f.key, { endpointId: g.id })).length, 2, 'no delivery to a disabled endpoint');
  } finally {
    await f.cleanup();
  }
});

ctest('manual retry of a delivery that died because its endpoint answered 410 → 202 (API.md: a dead delivery is queued again)', async () => {
  const f = await fixture();
  try {
    f.rx.setMode('/gone-retry', 410);
    const g = await f.endpoint('/gone-retry');
    await f.book();
    const [d] = await waitDeliveries(f.key, g.id, (l) => l.length === 1 && l[0].status === 'dead', '410 → dead', { timeoutMs: 5000 });
    const res = await ctx.api('POST', `/api/webhook-deliveries/${d.id}/retry`, { key: f.key });
    assert.equal(res.status, 202, `API.md: "POST /api/webhook-deliveries/{id}/retry → 202: a dead or failed delivery is queued again"; got ${res.status} ${res.raw}`);
  } finally {
    await f.cleanup();
  }
});

ctest('302 is not followed and 404 is retried, neither trips the breaker; 429 does', async () => {
  const f = await fixture();
  try {
    f.rx.setMode('/redir', { redirect: '/landed', status: 302 });
    f.rx.setMode('/nf', 404);
    f.rx.setMode('/tmr', 429);
    const rd = await f.endpoint('/redir');
    const nf = await f.endpoint('/nf');
    const tm = await f.endpoint('/tmr');
    await f.book();
    const allDead = (l) => l.length === 1 && l[0].status === 'dead';
    const [dRd] = await waitDeliveries(f.key, rd.id, allDead, '302 ×3 → dead', { timeoutMs: 9000 });
    const [dNf] = await waitDeliveries(f.key, nf.id, allDead, '404 ×3 → dead', { timeoutMs: 3000 });
    const [dTm] = await waitDeliveries(f.key, tm.id, allDead, '429 ×3 → dead', { timeoutMs: 3000 });
    for (const [d, code] of [[dRd, 302], [dNf, 404], [dTm, 429]]) {
      assert.equal(d.attempts, 3, `${code}: every attempt of the schedule made`);
      assert.equal(d.lastStatusCode, code);
      assert.equal(d.deliveredAt, null);
    }
    assert.equal(f.rx.requestsFor('/redir').length, 3, 'three attempts at the redirecting URL');
    assert.deepEqual(f.rx.requestsFor('/landed'), [], 'the redirect was never followed');
    const nfReqs = f.rx.requestsFor('/nf');
    assert.equal(nfReqs.length, 3);
    const g1 = nfReqs[1].receivedAt - nfReqs[0].receivedAt;
    const g2 = nfReqs[2].receivedAt - nfReqs[1].receivedAt;
    assert.ok(g1 >= 750 && g1 <= 2500 && g2 >= 1550 && g2 <= 3500, `a 4xx is retried per the schedule: gaps ${g1} ms, ${g2} ms`);
    const bNf = await breakerOf(f.key, nf.id);
    assert.ok(bNf === null || bNf.state === 'closed', `404s leave the breaker closed: ${JSON.stringify(bNf)}`);
    if (bNf) assert.equal(bNf.failures, 0, `404s are not breaker failures: ${JSON.stringify(bNf)}`);
    const bTm = await breakerOf(f.key, tm.id);
    assert.ok(bTm, 'a breaker for the 429 endpoint');
    assert.equal(bTm.state === 'half_open' ? 'open' : bTm.state, 'open', `three 429s in a row open the breaker: ${JSON.stringify(bTm)}`);
    assert.equal(bTm.failures, 3, `three failures: ${JSON.stringify(bTm)}`);
    assert.equal(bTm.calls, 3, `three calls: ${JSON.stringify(bTm)}`);
  } finally {
    await f.cleanup();
  }
}, { timeout: 20_000 });

ctest('no answer within BOOKD_WEBHOOK_TIMEOUT_MS and a dropped connection are failures, retried; a slow answer in time is fine', async () => {
  const f = await fixture();
  try {
    f.rx.setMode('/hang', ['hang', 200]);
    f.rx.setMode('/drop', ['drop', 200]);
    f.rx.setMode('/slow', { slow: 400, status: 200 });
    const h = await f.endpoint('/hang');
    const dr = await f.endpoint('/drop');
    const sl = await f.endpoint('/slow');
    const a = await f.book();
    const failedOnce = (l) => l.length === 1 && l[0].status === 'failed' && l[0].attempts === 1;
    const [dDrop] = await waitDeliveries(f.key, dr.id, failedOnce, 'dropped connection → failed', { intervalMs: 50, timeoutMs: 4000 });
    assert.equal(dDrop.lastStatusCode, null, 'no status without an answer');
    assert.ok(typeof dDrop.lastError === 'string' && dDrop.lastError.length > 0, `lastError says why: ${JSON.stringify(dDrop)}`);
    const [dHang] = await waitDeliveries(f.key, h.id, failedOnce, 'timeout → failed', { intervalMs: 50, timeoutMs: 4000 });
    assert.equal(dHang.lastStatusCode, null, 'no status without an answer');
    assert.match(String(dHang.lastError), /tim(e|ed|ing) ?out|no answer|within \d+ ?ms/i, 'lastError says no answer came in time');
    const [hung] = f.rx.requestsFor('/hang');
    assert.ok(hung.closedAt !== null, 'bookd gave up on the hung request');
    const waited = hung.closedAt - hung.receivedAt;
    assert.ok(waited >= 600 && waited <= 2500, `gave up after ~BOOKD_WEBHOOK_TIMEOUT_MS=1000: ${waited} ms`);

    const [dSlow] = await waitDeliveries(f.key, sl.id, (l) => delivered(l, 1), 'slow answer within the timeout → delivered', { timeoutMs: 4000 });
    assert.equal(dSlow.attempts, 1);
    assert.equal(f.rx.requestsFor('/slow').length, 1);
    const bSlow = await breakerOf(f.key, sl.id);
    assert.ok(bSlow && bSlow.state === 'closed' && bSlow.failures === 0 && bSlow.calls === 1, `a slow answer in time is no breaker failure: ${JSON.stringify(bSlow)}`);

    for (const [e, path] of [[h, '/hang'], [dr, '/drop']]) {
      const [d] = await waitDeliveries(f.key, e.id, (l) => delivered(l, 1), `${path}: delivered on the second attempt`, { timeoutMs: 5000 });
      const b = await breakerOf(f.key, e.id);
      assert.ok(b && b.state === 'closed' && b.failures === 1 && b.calls === 2, `${path}: one breaker failure in two calls: ${JSON.stringify(b)}`);
      assert.equal(d.attempts, 2);
      assert.equal(d.lastStatusCode, 200);
      const reqs = f.rx.requestsFor(path);
      assert.equal(reqs.length, 2, `${path}: two attempts`);
      for (const r of reqs) verifySigned(e.secret, r, path);
      assert.equal(reqs[0].headers['webhook-id'], reqs[1].headers['webhook-id'], `${path}: same webhook-id on the retry`);
      assert.ok(reqs.every((r) => apptIdOf(r) === a.id));
    }
  } finally {
    await f.cleanup();
  }
}, { timeout: 20_000 });

ctest('receiver down for a while, then back: every event delivered, none lost, repeats only under one webhook-id', async () => {
  const f = await fixture();
  try {
    const e = await f.endpoint('/flaky');
    await f.rx.down();
    const appts = [];
    for (let i = 0; i < 4; i++) appts.push(await f.book());
    await waitDeliveries(f.key, e.id, (l) => l.length === 4 && l.some((d) => d.attempts >= 1), 'attempts fail while the receiver is down', { timeoutMs: 5000 });
    const whileDown = await deliveries(f.key, { endpointId: e.id });
    assert.ok(whileDown.every((d) => d.status === 'failed' || d.status === 'pending'), `waiting, not lost: ${JSON.stringify(whileDown)}`);
    for (const d of whileDown.filter((x) => x.attempts > 0)) {
      assert.equal(d.lastStatusCode, null);
      assert.ok(typeof d.lastError === 'string' && d.lastError.length > 0, `a connection error is recorded: ${JSON.stringify(d)}`);
    }
    await sleep(800);
    await f.rx.up();
    // Four failures in a row opened the breaker; its trials (3) succeed and
    // close it. Then nothing may stay held back: what the breaker deferred is
    // due at once, not at some later probe time.
    await waitUntil(async () => {
      const b = await breakerOf(f.key, e.id);
      return b && b.state === 'closed' && f.rx.requestsFor('/flaky').length >= 3 ? b : { ok: false, seen: b };
    }, { timeoutMs: OPEN_MS + 5000, what: 'breaker closed again after the receiver came back' });
    const closedAt = Date.now();
    const held = (await deliveries(f.key, { endpointId: e.id }))
      .filter((d) => d.status !== 'delivered' && Date.parse(d.nextAttemptAt) > closedAt + 2000)
      .map((d) => `${d.id} ${d.status} attempts=${d.attempts} nextAttemptAt=${d.nextAttemptAt} (+${((Date.parse(d.nextAttemptAt) - closedAt) / 1000).toFixed(1)} s)`);
    assert.deepEqual(held, [], `deliveries still deferred after the breaker closed at ${new Date(closedAt).toISOString()}`);
    const ds = await waitDeliveries(f.key, e.id, (l) => delivered(l, 4), 'all four delivered after the receiver came back', { timeoutMs: 5000 });
    assert.ok(ds.every((d) => d.attempts >= 1 && d.attempts <= 3), `attempts within the schedule: ${JSON.stringify(ds.map((d) => d.attempts))}`);
    const reqs = f.rx.requestsFor('/flaky');
    const idsByAppt = new Map();
    for (const r of reqs) {
      verifySigned(e.secret, r, 'after recovery');
      const id = apptIdOf(r);
      if (!idsByAppt.has(id)) idsByAppt.set(id, new Set());
      idsByAppt.get(id).add(r.headers['webhook-id']);
    }
    assert.deepEqual([...idsByAppt.keys()].sort(), appts.map((x) => x.id).sort(), 'every booking arrived');
    for (const [id, s] of idsByAppt) assert.equal(s.size, 1, `appointment ${id}: one webhook-id for all its attempts`);
    const allIds = [...idsByAppt.values()].map((s) => [...s][0]);
    assert.equal(new Set(allIds).size, 4, 'distinct events have distinct webhook-ids');
  } finally {
    await f.cleanup();
  }
}, { timeout: 30_000 });

ctest('breaker: opens after 3 failures, defers (attempts stay, nextAttemptAt = probe time), half-opens, closes on recovery', async () => {
  const f = await fixture();
  try {
    f.rx.setMode('/brk', 503);
    const e = await f.endpoint('/brk');
    const m0 = await scrape();
    for (let i = 0; i < 3; i++) await f.book();
    await f.rx.waitFor(3, { path: '/brk', timeoutMs: 5000 });
    const open = await waitUntil(async () => {
      const b = await breakerOf(f.key, e.id);
      return b && b.state === 'open' ? b : { ok: false, seen: b };
    }, { timeoutMs: 3000, intervalMs: 50, what: 'breaker open after three 503s' });
    assert.equal(open.target, `webhook:${e.id}`);
    assert.match(String(open.openedAt), ISO_MS_Z);
    assert.match(String(open.nextProbeAt), ISO_MS_Z);
    const probeAt = Date.parse(open.nextProbeAt);
    const openFor = probeAt - Date.parse(open.openedAt);
    assert.ok(Math.abs(openFor - OPEN_MS) <= 100, `nextProbeAt = openedAt + BOOKD_BREAKER_OPEN_MS: ${openFor} ms`);
    assert.ok(open.failures >= 3 && open.calls >= 3, `failures and calls counted: ${JSON.stringify(open)}`);
    const other = await createOrg(ctx);
    secrets.push(other.adminKey, other.publicKey);
    assert.ok(!(await breakers(other.adminKey)).some((b) => b.target === `webhook:${e.id}`), 'another organization does not see the breaker');

    // Deferred: the retries due ~1 s after the first attempts are not sent;
    // they wait for the probe time without counting an attempt.
    const deferred = await waitDeliveries(
      f.key, e.id,
      (l) => l.length === 3 && l.every((d) => d.status === 'failed' && d.attempts === 1 && Math.abs(Date.parse(d.nextAttemptAt) - probeAt) <= 250),
      'all three deferred to the probe time', { intervalMs: 50, timeoutMs: Math.max(500, probeAt - Date.now() - 100) },
    );
    assert.equal(deferred.length, 3);
    assert.equal(f.rx.requestsFor('/brk').length, 3, 'nothing sent while open');
    assert.ok(Date.now() < probeAt, 'seen before the probe time');
    // /ready and /metrics show it too (they may read the breakers a moment late).
    await readyShows('open', probeAt - Date.now() - 50);
    assert.equal(breakerMetric(await scrape()), 1, 'bookd_circuit_breaker_state{target="webhook"} 1');
    assert.equal(f.rx.requestsFor('/brk').length, 3, 'still nothing sent while open');

    // Recovery: trials answer slowly (so the half-open state can be seen), then 200.
    f.rx.setMode('/brk', { slow: 600, status: 200 });
    const half = await waitUntil(async () => {
      const b = await breakerOf(f.key, e.id);
      return b && b.state === 'half_open' ? b : { ok: false, seen: b };
    }, { timeoutMs: probeAt - Date.now() + 2000, intervalMs: 40, what: 'half_open at the probe time' });
    assert.ok(Date.now() >= probeAt - 50, 'half-open only from the probe time');
    assert.equal(half.target, `webhook:${e.id}`);
    await readyShows('half_open', 1000);
    assert.equal(breakerMetric(await scrape()), 2, 'bookd_circuit_breaker_state{target="webhook"} 2 while half-open');

    const ds = await waitDeliveries(f.key, e.id, (l) => delivered(l, 3), 'the three deferred deliveries delivered by the trials', { timeoutMs: 6000 });
    assert.ok(ds.every((d) => d.attempts === 2), `deferrals counted no attempt: ${JSON.stringify(ds.map((d) => d.attempts))}`);
    const reqs = f.rx.requestsFor('/brk');
    assert.equal(reqs.length, 6, 'three failures, three trials');
    assert.ok(reqs.slice(3).every((r) => r.receivedAt >= probeAt - 50), 'the trials came at the probe time, not before');
    const closed = await waitUntil(async () => {
      const b = await breakerOf(f.key, e.id);
      return b && b.state === 'closed' ? b : { ok: false, seen: b };
    }, { timeoutMs: 3000, what: 'breaker closed after successful trials' });
    assert.equal(closed.failures, 0, `a closed breaker starts a fresh window: ${JSON.stringify(closed)}`);
    await readyShows('closed', 2500);
    const m1 = await scrape();
    assert.equal(breakerMetric(m1), 0, 'bookd_circuit_breaker_state{target="webhook"} back to 0');
    const d = (name, labels) => sumOf(m1.samples, name, labels) - sumOf(m0.samples, name, labels);
    assert.ok(d('bookd_webhook_deliveries_total', { result: 'deferred' }) >= 3, `deferrals counted: +${d('bookd_webhook_deliveries_total', { result: 'deferred' })}`);
    assert.equal(d('bookd_webhook_deliveries_total', { result: 'delivered' }), 3);
    assert.equal(d('bookd_webhook_deliveries_total', { result: 'retry' }), 3);
  } finally {
    await f.cleanup();
  }
}, { timeout: 25_000 });

ctest('a deleted endpoint gets no further attempt and no new event', async () => {
  const f = await fixture();
  try {
    f.rx.setMode('/deleted', 500);
    const e = await f.endpoint('/deleted');
    await f.book();
    await f.rx.waitFor(1, { path: '/deleted', timeoutMs: 5000 });
    await waitDeliveries(f.key, e.id, (l) => l.length === 1 && l[0].status === 'failed', 'failed, a retry scheduled', { intervalMs: 50, timeoutMs: 3000 });
    expectStatus(await ctx.api('DELETE', `/api/webhook-endpoints/${e.id}`, { key: f.key }), 204);
    f.endpoints = [];
    await f.book();
    assert.deepEqual(await f.rx.quiet(1800, { path: '/deleted' }), [], 'no retry and no new event after DELETE');
    assert.ok(!(await deliveries(f.key)).some((d) => d.status === 'pending' || d.status === 'failed'), 'nothing left waiting for the deleted endpoint');
  } finally {
    await f.cleanup();
  }
});

ctest('GET /api/webhook-deliveries: status and endpointId filters, limit, newest first, bad parameters, other organizations', async () => {
  const f = await fixture();
  try {
    f.rx.setMode('/l-ok', 200);
    f.rx.setMode('/l-410', 410);
    f.rx.setMode('/l-404', 404);
    const ok = await f.endpoint('/l-ok');
    const gone = await f.endpoint('/l-410');
    const nf = await f.endpoint('/l-404');
    await f.book();
    await waitDeliveries(f.key, ok.id, (l) => delivered(l, 1), 'first delivered');
    await f.book();
    await waitDeliveries(f.key, ok.id, (l) => delivered(l, 2), 'second delivered');
    await waitDeliveries(f.key, gone.id, (l) => l.length === 1 && l[0].status === 'dead', '410 → dead');
    // The 404 endpoint's deliveries are failed between attempts.
    const failed = await waitUntil(async () => {
      const l = await deliveries(f.key, { status: 'failed' });
      return l.some((d) => d.endpointId === nf.id) ? l : { ok: false, seen: l };
    }, { intervalMs: 50, timeoutMs: 4000, what: 'status=failed lists a failed delivery' });
    assert.ok(failed.every((d) => d.status === 'failed' && d.endpointId === nf.id), `status=failed: ${JSON.stringify(failed)}`);

    const mine = new Set([ok.id, gone.id, nf.id]);
    const all = await deliveries(f.key);
    assert.equal(all.length, 5, `2 + 1 + 2 deliveries: ${JSON.stringify(all)}`);
    assert.ok(all.every((d) => mine.has(d.endpointId)), 'only this organization\'s');
    const okList = await deliveries(f.key, { endpointId: ok.id });
    assert.equal(okList.length, 2);
    assert.ok(okList.every((d) => d.endpointId === ok.id && d.status === 'delivered'));
    assert.ok(okList[0].deliveredAt > okList[1].deliveredAt, `newest first: ${okList.map((d) => d.deliveredAt)}`);
    const deliveredList = await deliveries(f.key, { status: 'delivered' });
    assert.deepEqual(deliveredList.map((d) => d.id).sort(), okList.map((d) => d.id).sort(), 'status=delivered');
    assert.deepEqual((await deliveries(f.key, { status: 'dead', endpointId: gone.id })).map((d) => d.lastStatusCode), [410], 'status=dead&endpointId');
    assert.deepEqual(await deliveries(f.key, { status: 'delivered', endpointId: gone.id }), [], 'both filters at once');
    for (const d of await deliveries(f.key, { status: 'pending' })) assert.equal(d.status, 'pending');
    // Newest first: the second booking's two deliveries (ok, 404) before the first's three.
    assert.deepEqual(all.slice(0, 2).map((d) => d.endpointId).sort(), [ok.id, nf.id].sort(), `newest first: ${JSON.stringify(all)}`);
    assert.ok(all.slice(0, 2).some((d) => d.id === okList[0].id), 'the newest ok delivery is among the newest two');
    assert.ok(all.slice(2).some((d) => d.endpointId === gone.id), 'the first booking\'s deliveries come last');
    const one = await deliveries(f.key, { limit: 1 });
    assert.equal(one.length, 1, 'limit=1');
    assert.equal(one[0].id, (await deliveries(f.key))[0].id, 'limit=1 gives the newest');
    assert.equal((await deliveries(f.key, { limit: 2 })).length, 2, 'limit=2');
    assert.equal((await deliveries(f.key, { limit: 500 })).length, 5, 'limit=500');
    assert.equal((await deliveries(f.key, { endpointId: randomUUID() })).length, 0, 'an unknown endpoint has no deliveries');

    for (const [query, field] of [
      [{ status: 'bogus' }, 'status'],
      [{ status: 'DELIVERED' }, 'status'],
      [{ endpointId: 'not-a-uuid' }, 'endpointId'],
      [{ limit: 0 }, 'limit'],
      [{ limit: 501 }, 'limit'],
      [{ limit: 'ten' }, 'limit'],
      [{ limit: -1 }, 'limit'],
      [{ limit: '1.5' }, 'limit'],
    ]) {
      expectError(await ctx.api('GET', '/api/webhook-deliveries', { key: f.key, query }), 400, 'invalid_request', field, JSON.stringify(query));
    }

    const other = await createOrg(ctx);
    secrets.push(other.adminKey, other.publicKey);
    const theirs = await deliveries(other.adminKey);
    assert.ok(!theirs.some((d) => mine.has(d.endpointId)), 'another organization sees none of these deliveries');
    const cross = await ctx.api('GET', '/api/webhook-deliveries', { key: other.adminKey, query: { endpointId: ok.id } });
    if (cross.status === 200) assert.deepEqual(cross.body.deliveries, [], 'another organization\'s endpointId: nothing');
    else expectError(cross, 404, 'not_found', undefined, 'another organization\'s endpointId');
  } finally {
    await f.cleanup();
  }
}, { timeout: 20_000 });

// ------------------------------------------------------------------ other processes

ctest('the log holds no secret; --no-worker sends nothing; a worker without ALLOW_PRIVATE refuses private addresses at connect time; `bookd worker` delivers', async () => {
  // Stop the file's server first: it is the only process here that would
  // deliver to 127.0.0.1.
  const main = ctx.server;
  ctx.server = null;
  await stopAndCheckLogs({ server: main }, secrets);

  const rx = await receiver();
  const procs = [];
  const start = async (env, args) => {
    const p = await startServer({ env: { ...BASE_ENV, ...env }, args });
    procs.push(p);
    secrets.push(p.adminToken);
    return p;
  };
  const stopIt = async (p) => {
    procs.splice(procs.indexOf(p), 1);
    await stopAndCheckLogs({ server: p }, secrets);
  };
  try {
    // A: may register private URLs, no worker.
    const A = await start({ BOOKD_WEBHOOK_ALLOW_PRIVATE: 'true' }, ['serve', '--no-worker']);
    const a = { api: makeApi(A.url), adminToken: A.adminToken };
    const org = await createOrg(a);
    secrets.push(org.adminKey, org.publicKey);
    const key = org.adminKey;
    const contact = await createContact(a, key, { name: `Rebind Person ${rnd()}` });
    const created = await a.api('POST', '/api/webhook-endpoints', { key, body: { url: rx.urlFor('/rebind'), events: EVENTS } });
    const e = expectStatus(created, 201, 'endpoint on 127.0.0.1 while allowed');
    secrets.push(e.secret, e.secret.slice(6));
    const x1 = await bookOk(a, key, { contactId: contact.id, scheduledAt: '2036-09-01T10:00:00Z', durationMinutes: 30 });
    await sleep(1200);
    assert.deepEqual(rx.requests, [], '--no-worker: nothing is delivered');
    for (const d of await deliveries(key, {}, a)) assert.equal(d.attempts, 0, `--no-worker: no attempt: ${JSON.stringify(d)}`);
    const backlog = samplesOf((await scrape(a)).samples, 'bookd_outbox_pending');
    assert.ok(backlog.length === 1 && backlog[0].value >= 1, `bookd_outbox_pending counts the waiting event: ${JSON.stringify(backlog)}`);
    await stopIt(A);

    // B: private addresses not allowed, with its worker: the endpoint's
    // address is refused when connecting.
    const B = await start({ BOOKD_NO_WORKER: 'false' }, ['serve']);
    const b = { api: makeApi(B.url), adminToken: B.adminToken };
    const x2 = await bookOk(b, key, { contactId: contact.id, scheduledAt: '2036-09-01T12:00:00Z', durationMinutes: 30 });
    const refused = await waitDeliveries(key, e.id, (l) => l.length === 2 && l.every((d) => d.attempts >= 1 && NOT_ALLOWED.test(String(d.lastError))),
      'both deliveries refused at connect time, lastError saying the address is not allowed', { timeoutMs: 6000, c: b });
    for (const d of refused) {
      assert.equal(d.lastStatusCode, null, 'no HTTP status: nothing was sent');
      assert.ok(d.status === 'failed' || d.status === 'dead', d.status);
    }
    assert.deepEqual(rx.requests, [], 'the receiver got nothing');
    await stopIt(B);

    // C (API only) queues them again; W (`bookd worker`, private allowed) delivers.
    const C = await start({ BOOKD_WEBHOOK_ALLOW_PRIVATE: 'true', BOOKD_NO_WORKER: 'true' }, ['serve']);
    const c = { api: makeApi(C.url), adminToken: C.adminToken };
    for (const d of await deliveries(key, { endpointId: e.id }, c)) {
      expectStatus(await c.api('POST', `/api/webhook-deliveries/${d.id}/retry`, { key }), 202, `retry ${d.status}`);
    }
    await sleep(400);
    assert.deepEqual(rx.requests, [], 'BOOKD_NO_WORKER=true: nothing is delivered');
    const W = await start({ BOOKD_WEBHOOK_ALLOW_PRIVATE: 'true' }, ['worker']);
    const reqs = await rx.waitFor(2, { path: '/rebind', timeoutMs: OPEN_MS + 8000 });
    assert.deepEqual(reqs.map(apptIdOf).sort(), [x1.id, x2.id].sort(), 'both events delivered by `bookd worker`');
    for (const r of reqs) verifySigned(e.secret, r, 'bookd worker');
    await waitDeliveries(key, e.id, (l) => delivered(l, 2), 'both delivered', { timeoutMs: 4000, c });
    await waitUntil(async () => {
      const v = samplesOf((await scrape(c)).samples, 'bookd_outbox_pending');
      return v.length === 1 && v[0].value === 0 ? true : { ok: false, seen: v };
    }, { timeoutMs: 7000, intervalMs: 250, what: 'bookd_outbox_pending back to 0 once everything is delivered' });

    // Two workers at once (`bookd worker` twice) on one database: each event
    // is claimed by one of them and, answered 200, delivered exactly once.
    const W2 = await start({ BOOKD_WEBHOOK_ALLOW_PRIVATE: 'true' }, ['worker']);
    const more = [];
    for (let i = 0; i < 10; i++) {
      more.push(await bookOk(c, key, { contactId: contact.id, scheduledAt: new Date(Date.UTC(2036, 9, 1, 8) + i * 3_600_000).toISOString(), durationMinutes: 30 }));
    }
    await rx.waitFor(12, { path: '/rebind', timeoutMs: 8000 });
    await waitDeliveries(key, e.id, (l) => delivered(l, 12), 'all twelve delivered', { timeoutMs: 4000, c });
    await rx.quiet(500);
    const byAppt = new Map();
    for (const r of rx.requestsFor('/rebind')) byAppt.set(apptIdOf(r), (byAppt.get(apptIdOf(r)) || 0) + 1);
    for (const x of more) assert.equal(byAppt.get(x.id), 1, `appointment ${x.id} delivered once with two workers: ${byAppt.get(x.id)}`);
    await stopIt(W2);
    await stopIt(W);
    expectStatus(await c.api('DELETE', `/api/webhook-endpoints/${e.id}`, { key }), 204);
    await stopIt(C);
  } finally {
    for (const p of procs.splice(0)) await p.stop();
    await rx.close();
    receivers.delete(rx);
  }
}, { timeout: 45_000 });
