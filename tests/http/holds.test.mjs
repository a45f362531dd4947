// Slot holds (API.md, "Slot holds", "Conflicts with holds and external busy
// times"; DESIGN.md, "Slot holds", "Metrics"): POST /api/holds, DELETE
// /api/holds/{id}, "holdId" on POST /api/appointments, holds in the check
// and the free-slot grid, the public key's rules and its cap
// (BOOKD_PUBLIC_HOLDS_MAX, on a second server started with
// --public-holds-max 2), the audit log, bookd_holds_total, webhooks and
// Idempotency-Key.
//
// Every hold a test makes is released or converted before the test ends,
// except the ones the expiry test lets run out: a hold left to expire would
// be purged by the worker at some later time and move the "expired" counter
// under another test. Only the expiry test waits (about 31 s, the shortest
// ttlSeconds).

import {
  assert, ctest, useServer, createOrg, createContact, createProvider, createService, expectStatus, expectError,
  book, bookOk, listAll, auditEntries, stopAndCheckLogs, waitUntil, sleep, rnd, digits, UUID_RE, randomUUID,
} from './lib/harness.mjs';
import { startServer } from './lib/server.mjs';
import { makeApi } from './lib/client.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { parseMetrics, sumOf } from './lib/metrics.mjs';
import { ISO_MS_Z, zonedToUtc, nextWeekday, previousWeekday } from './lib/time.mjs';

const TZ = 'America/Chicago';
const HOLD_KEYS = ['durationMinutes', 'expiresAt', 'holdId', 'providerId', 'scheduledAt', 'serviceId'];
const HOLD_RESULTS = ['held', 'converted', 'expired', 'released', 'conflict'];
const EVENTS = ['appointment.booked', 'appointment.cancelled', 'appointment.rescheduled'];
const secrets = [];
const ctx = useServer({
  // The webhook test delivers to a receiver on 127.0.0.1.
  env: { BOOKD_WEBHOOK_ALLOW_PRIVATE: 'true', BOOKD_OUTBOX_POLL_MS: '100' },
  setup: async (c) => {
    c.org = await createOrg(c, { timezone: TZ });
    c.other = await createOrg(c, { timezone: 'UTC' });
    secrets.push(c.adminToken, c.org.adminKey, c.org.publicKey, c.org.vapiSecret, c.other.adminKey, c.other.publicKey, c.other.vapiSecret);
    c.contact = await createContact(c, c.org.adminKey, { name: `Hedy Lamarr ${rnd()}`, phone: `+1312555${digits(4)}` });
    c.pubContact = await createContact(c, c.org.publicKey, { name: `Page Visitor ${rnd()}`, email: `visitor.${rnd()}@example.com` });
    c.otherContact = await createContact(c, c.other.adminKey, { name: `Other Holder ${rnd()}` });
    secrets.push(c.contact.name, c.contact.phone, c.pubContact.name, c.pubContact.email, c.otherContact.name);
  },
});
const admin = () => ctx.org.adminKey;
const pub = () => ctx.org.publicKey;
const local = (date, time) => zonedToUtc(date, time, TZ).toISOString();
const contactFor = (key) => (key === pub() ? ctx.pubContact.id : ctx.contact.id);

// ------------------------------------------------------------------ helpers

function hold(key, body, c = ctx) {
  return c.api('POST', '/api/holds', { key, body });
}

async function holdOk(key, body, what = 'hold', c = ctx) {
  const res = await hold(key, body, c);
  return expectStatus(res, 201, what);
}

function release(key, id, c = ctx) {
  return c.api('DELETE', `/api/holds/${id}`, { key });
}

async function releaseOk(key, id, what = 'release', c = ctx) {
  const res = await release(key, id, c);
  expectStatus(res, 204, what);
  assert.equal(res.raw, '', `${what}: 204 has no body`);
}

async function check(key, query, what) {
  const res = await ctx.api('GET', '/api/availability/check', { key, query });
  return expectStatus(res, 200, what || `check ${JSON.stringify(query)}`);
}

async function slotTimes(key, query, what) {
  const res = await ctx.api('GET', '/api/availability', { key, query });
  return expectStatus(res, 200, what || `slots ${JSON.stringify(query)}`).slots.map((s) => s.scheduledAt);
}

async function scrape() {
  const res = await ctx.api('GET', '/metrics');
  expectStatus(res, 200, 'GET /metrics');
  return parseMetrics(res.raw);
}

function holdDeltas(before, after) {
  const d = {};
  for (const r of HOLD_RESULTS) d[r] = sumOf(after.samples, 'bookd_holds_total', { result: r }) - sumOf(before.samples, 'bookd_holds_total', { result: r });
  return d;
}

/** The conflictingHold a 409 or a check must name for hold h: times only. */
const conflictOf = (h) => ({ scheduledAt: h.scheduledAt, durationMinutes: h.durationMinutes, expiresAt: h.expiresAt });

/** expiresAt is ttl seconds after the request (t0..t1 around it, a few seconds of slack). */
function assertExpiresAbout(h, ttl, t0, t1) {
  assert.match(h.expiresAt, ISO_MS_Z);
  const e = Date.parse(h.expiresAt);
  assert.ok(e >= t0 + ttl * 1000 - 5000 && e <= t1 + ttl * 1000 + 5000, `expiresAt ${h.expiresAt} is about now + ${ttl} s (request at ${new Date(t0).toISOString()})`);
}

const replayed = (res) => String(res.headers['idempotent-replayed'] || '').toLowerCase() === 'true';

async function provider(body = {}) {
  return createProvider(ctx, admin(), body);
}

// ------------------------------------------------------------------ create

ctest('POST /api/holds → 201 {holdId, scheduledAt, durationMinutes, providerId, serviceId, expiresAt}; ttlSeconds defaults to 300, 30 and 900 accepted', async () => {
  const p = await provider();
  const t0 = Date.now();
  const res = await hold(admin(), { scheduledAt: '2031-03-04T15:00:00+02:00', durationMinutes: 30, providerId: p.id });
  const t1 = Date.now();
  const h = expectStatus(res, 201);
  assert.match(String(res.headers['content-type']), /^application\/json;\s*charset=utf-8$/i);
  assert.deepEqual(Object.keys(h).sort(), HOLD_KEYS);
  assert.match(h.holdId, UUID_RE);
  assert.equal(h.scheduledAt, '2031-03-04T13:00:00.000Z', 'offset converted to UTC, toISOString form');
  assert.equal(h.durationMinutes, 30);
  assert.equal(h.providerId, p.id);
  assert.equal(h.serviceId, null);
  assertExpiresAbout(h, 300, t0, t1);

  const frac = await holdOk(admin(), { scheduledAt: '2031-03-04T17:00:00.5Z', durationMinutes: 1, providerId: p.id }, 'fractional seconds');
  assert.equal(frac.scheduledAt, '2031-03-04T17:00:00.500Z');
  assert.equal(frac.durationMinutes, 1);
  const day = await holdOk(admin(), { scheduledAt: '2031-03-05T00:00:00Z', durationMinutes: 1440, providerId: p.id }, '1440 minutes');
  assert.equal(day.durationMinutes, 1440);

  const dflt = await holdOk(admin(), { scheduledAt: '2031-03-06T18:00:00Z', durationMinutes: 15 }, 'no providerId');
  assert.equal(dflt.providerId, ctx.org.defaultProviderId, 'providerId defaults to the default provider');
  const own = await holdOk(admin(), { orgId: ctx.org.id, scheduledAt: '2031-03-04T19:00:00Z', durationMinutes: 15, providerId: p.id }, 'own orgId');
  assert.notEqual(own.holdId, h.holdId);

  for (const ttl of [30, 900, 300]) {
    const a = Date.now();
    const x = await holdOk(admin(), { scheduledAt: '2031-03-04T20:00:00Z', durationMinutes: 15, providerId: p.id, ttlSeconds: ttl }, `ttlSeconds ${ttl}`);
    const b = Date.now();
    assertExpiresAbout(x, ttl, a, b);
    await releaseOk(admin(), x.holdId, `release the ${ttl} s hold`);
  }
  for (const x of [h, frac, day, dflt, own]) await releaseOk(admin(), x.holdId);
});

ctest('invalid holds → 400 naming the field (ttlSeconds, durationMinutes, scheduledAt, providerId, serviceId, unknown fields), 401, 403, 415; nothing is written', async () => {
  const p = await provider();
  const otherProvider = await createProvider(ctx, ctx.other.adminKey);
  const otherService = await createService(ctx, ctx.other.adminKey, { durationMinutes: 30 });
  const at = '2031-05-05T10:00:00Z';
  const base = { scheduledAt: at, durationMinutes: 30, providerId: p.id };
  const auditBefore = await auditEntries(ctx, admin());
  const m0 = await scrape();
  const cases = [
    [{ ...base, ttlSeconds: 29 }, 'ttlSeconds'],
    [{ ...base, ttlSeconds: 901 }, 'ttlSeconds'],
    [{ ...base, ttlSeconds: 0 }, 'ttlSeconds'],
    [{ ...base, ttlSeconds: -300 }, 'ttlSeconds'],
    [{ ...base, ttlSeconds: 300.5 }, 'ttlSeconds'],
    [{ ...base, ttlSeconds: '300' }, 'ttlSeconds'],
    [{ ...base, ttlSeconds: true }, 'ttlSeconds'],
    [{ ...base, ttlSeconds: [300] }, 'ttlSeconds'],
    [{ scheduledAt: at, providerId: p.id }, 'durationMinutes'],
    [{ scheduledAt: at, providerId: p.id, ttlSeconds: 60 }, 'durationMinutes'],
    [{ ...base, durationMinutes: 0 }, 'durationMinutes'],
    [{ ...base, durationMinutes: 1441 }, 'durationMinutes'],
    [{ ...base, durationMinutes: 30.5 }, 'durationMinutes'],
    [{ ...base, durationMinutes: '30' }, 'durationMinutes'],
    [{ durationMinutes: 30, providerId: p.id }, 'scheduledAt'],
    [{ ...base, scheduledAt: '2031-05-05T10:00:00' }, 'scheduledAt'],
    [{ ...base, scheduledAt: 'tomorrow at ten' }, 'scheduledAt'],
    [{ ...base, scheduledAt: '2031-02-30T10:00:00Z' }, 'scheduledAt'],
    [{ ...base, scheduledAt: 1936000000 }, 'scheduledAt'],
    [{ ...base, providerId: randomUUID() }, 'providerId'],
    [{ ...base, providerId: 'not-a-uuid' }, 'providerId'],
    [{ ...base, providerId: otherProvider.id }, 'providerId'],
    [{ ...base, serviceId: randomUUID() }, 'serviceId'],
    [{ ...base, serviceId: 'nope' }, 'serviceId'],
    [{ scheduledAt: at, providerId: p.id, serviceId: randomUUID() }, 'serviceId'],
    [{ scheduledAt: at, providerId: p.id, serviceId: otherService.id }, 'serviceId'],
    [{ ...base, contactId: ctx.contact.id }, 'contactId'],
    [{ ...base, holdId: randomUUID() }, 'holdId'],
    [{ ...base, notes: 'call me' }, 'notes'],
    [{ ...base, ttl: 300 }, 'ttl'],
    [{ ...base, expiresAt: '2031-05-05T10:05:00Z' }, 'expiresAt'],
  ];
  for (const key of [admin(), pub()]) {
    for (const [body, field] of cases) {
      expectError(await hold(key, body), 400, 'invalid_request', field, `${key === pub() ? 'public' : 'admin'} ${JSON.stringify(body)}`);
    }
  }
  expectError(await hold(admin(), {}), 400, 'invalid_request', ['scheduledAt', 'durationMinutes'], 'empty object');
  expectError(await ctx.api('POST', '/api/holds', { key: admin(), rawBody: '{"scheduledAt":' }), 400, 'invalid_request', undefined, 'malformed JSON');
  expectError(await ctx.api('POST', '/api/holds', { key: admin(), body: [base] }), 400, 'invalid_request', undefined, 'an array body');
  expectError(await ctx.api('POST', '/api/holds', { key: admin(), rawBody: JSON.stringify(base), contentType: 'text/plain' }), 415, 'unsupported_media_type', undefined, 'text/plain');
  expectError(await ctx.api('POST', '/api/holds', { body: base }), 401, 'unauthorized', undefined, 'no key');
  expectError(await hold('not-a-key', base), 401, 'unauthorized', undefined, 'unknown key');
  expectError(await hold(ctx.adminToken, base), 401, 'unauthorized', undefined, 'the server admin token');
  expectError(await hold(admin(), { ...base, orgId: ctx.other.id }), 403, 'forbidden', undefined, 'orgId of another organization');

  assert.deepEqual(await auditEntries(ctx, admin()), auditBefore, 'no audit entry');
  assert.deepEqual(await check(admin(), { scheduledAt: at, durationMinutes: 30, providerId: p.id }), { available: true }, 'nothing was held');
  const d = holdDeltas(m0, await scrape());
  assert.deepEqual(d, { held: 0, converted: 0, expired: 0, released: 0, conflict: 0 }, 'bookd_holds_total did not move');
});

ctest('serviceId: the hold takes the service’s duration (an explicit durationMinutes wins), and its buffers count in conflicts both ways', async () => {
  const p = await provider();
  const c = ctx.contact.id;
  const s = await createService(ctx, admin(), { durationMinutes: 30, bufferBeforeMinutes: 15, bufferAfterMinutes: 10 });
  const H = await holdOk(admin(), { providerId: p.id, serviceId: s.id, scheduledAt: '2031-05-01T12:00:00Z' });
  assert.equal(H.durationMinutes, 30, 'the service’s duration');
  assert.equal(H.serviceId, s.id);
  // H occupies [11:45, 12:40).
  let e = expectError(await book(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-05-01T12:35:00Z', durationMinutes: 10 }), 409, 'slot_unavailable', undefined, 'inside the hold’s after-buffer');
  assert.deepEqual(e.conflictingHold, conflictOf(H));
  e = expectError(await book(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-05-01T11:20:00Z', durationMinutes: 30 }), 409, 'slot_unavailable', undefined, 'into the hold’s before-buffer');
  assert.deepEqual(e.conflictingHold, conflictOf(H));
  e = expectError(await hold(admin(), { providerId: p.id, scheduledAt: '2031-05-01T12:39:00Z', durationMinutes: 5 }), 409, 'slot_unavailable', undefined, 'a hold inside the after-buffer');
  assert.deepEqual(e.conflictingHold, conflictOf(H));
  const after = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-05-01T12:40:00Z', durationMinutes: 20 }, 'touching the after-buffer');
  const before = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-05-01T11:15:00Z', durationMinutes: 30 }, 'touching the before-buffer');

  const H2 = await holdOk(admin(), { providerId: p.id, serviceId: s.id, durationMinutes: 50, scheduledAt: '2031-05-01T15:00:00Z' });
  assert.equal(H2.durationMinutes, 50, 'an explicit durationMinutes wins');
  assert.equal(H2.serviceId, s.id);

  // The hold's own buffers meet an appointment.
  const plain = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-05-01T17:00:00Z', durationMinutes: 30 });
  e = expectError(await hold(admin(), { providerId: p.id, serviceId: s.id, scheduledAt: '2031-05-01T17:40:00Z' }), 409, 'slot_unavailable', undefined, 'the hold’s before-buffer overlaps');
  assert.deepEqual(e.conflictingAppointment, { id: plain.id, scheduledAt: plain.scheduledAt, durationMinutes: 30 });
  e = expectError(await hold(admin(), { providerId: p.id, serviceId: s.id, scheduledAt: '2031-05-01T16:25:00Z' }), 409, 'slot_unavailable', undefined, 'the hold’s after-buffer overlaps');
  assert.deepEqual(e.conflictingAppointment, { id: plain.id, scheduledAt: plain.scheduledAt, durationMinutes: 30 });
  const H3 = await holdOk(admin(), { providerId: p.id, serviceId: s.id, scheduledAt: '2031-05-01T17:45:00Z' }, 'the before-buffer touches');

  const { all } = await listAll(ctx, admin(), { providerId: p.id });
  assert.deepEqual(all.map((x) => x.id).sort(), [after.id, before.id, plain.id].sort(), 'the refused requests booked nothing');
  for (const x of [H, H2, H3]) await releaseOk(admin(), x.holdId);
});

ctest('public key: a hold must be in the future and inside working hours (400 scheduledAt), like a booking; admin may hold any time', async () => {
  const p = await provider(); // Mon-Fri 09:00-17:00 America/Chicago
  const wed = nextWeekday(TZ, 'wed', 14);
  const sat = nextWeekday(TZ, 'sat', 14);
  const pastTue = previousWeekday(TZ, 'tue', 7);
  const open = await holdOk(pub(), { providerId: p.id, scheduledAt: local(wed, '09:00'), durationMinutes: 30 }, 'public at opening time');
  assert.equal(open.scheduledAt, local(wed, '09:00'));
  const close = await holdOk(pub(), { providerId: p.id, scheduledAt: local(wed, '16:30'), durationMinutes: 30 }, 'public ending at closing time');
  const third = await holdOk(pub(), { providerId: p.id, scheduledAt: local(wed, '12:00'), durationMinutes: 30 }, 'a third public hold (the default cap is 100)');
  const auditBefore = await auditEntries(ctx, admin());
  const refused = [
    [local(wed, '18:00'), 30, 'after hours', 'scheduledAt'],
    [local(wed, '07:00'), 30, 'before opening', 'scheduledAt'],
    [local(wed, '16:45'), 30, 'running past closing time', ['scheduledAt', 'durationMinutes']],
    [local(wed, '08:45'), 30, 'starting before opening, ending inside', 'scheduledAt'],
    [local(sat, '10:00'), 30, 'on a closed day', 'scheduledAt'],
    [local(pastTue, '10:00'), 30, 'in the past', 'scheduledAt'],
    [new Date(Date.now() - 60_000).toISOString(), 5, 'a minute ago', 'scheduledAt'],
  ];
  for (const [at, dur, what, field] of refused) {
    expectError(await hold(pub(), { providerId: p.id, scheduledAt: at, durationMinutes: dur }), 400, 'invalid_request', field, `public ${what}`);
  }
  assert.deepEqual(await auditEntries(ctx, admin()), auditBefore, 'the refused holds wrote nothing');
  const p2 = await provider(); // same hours, nothing held
  for (const [at, dur, what] of refused) {
    const h = await holdOk(admin(), { providerId: p2.id, scheduledAt: at, durationMinutes: dur }, `admin ${what}`);
    await releaseOk(admin(), h.holdId);
  }
  for (const h of [open, close, third]) await releaseOk(pub(), h.holdId, 'the public key releases its hold');
});

ctest('public key: 429 rate_limited with Retry-After once the organization has --public-holds-max unexpired holds; admin keys are not capped', async () => {
  const server = await startServer({ args: ['serve', '--public-holds-max', '2'] });
  const own = { server, api: makeApi(server.url), adminToken: server.adminToken };
  const api = own.api;
  let stopped = false;
  try {
    const org = await createOrg(own, { timezone: TZ });
    const org2 = await createOrg(own, { timezone: TZ });
    const contact = await createContact(own, org.publicKey, { name: `Capped ${rnd()}` });
    const mine = [server.adminToken, org.adminKey, org.publicKey, org.vapiSecret, org2.adminKey, org2.publicKey, org2.vapiSecret, contact.name];
    const day = nextWeekday(TZ, 'thu', 14);
    const at = (t) => ({ scheduledAt: local(day, t), durationMinutes: 30 });
    const h1 = await holdOk(org.publicKey, at('09:00'), 'public 1 of 2', own);
    const idem = { 'Idempotency-Key': `cap-${rnd(8)}` };
    const r2 = await api('POST', '/api/holds', { key: org.publicKey, body: at('10:00'), headers: idem });
    const h2 = expectStatus(r2, 201, 'public 2 of 2');
    const auditBefore = await auditEntries(own, org.adminKey);
    const limited = await hold(org.publicKey, at('11:00'), own);
    expectError(limited, 429, 'rate_limited', undefined, 'the third public hold');
    const ra = limited.headers['retry-after'];
    assert.match(String(ra), /^\d+$/, `Retry-After is delta-seconds: ${ra}`);
    assert.ok(Number(ra) >= 1, `Retry-After ${ra} ≥ 1`);
    assert.deepEqual(await auditEntries(own, org.adminKey), auditBefore, 'the 429 wrote nothing');
    // At the cap, a retry of a hold already made replays it (it holds nothing new).
    const again = await api('POST', '/api/holds', { key: org.publicKey, body: at('10:00'), headers: idem });
    expectStatus(again, 201, 'a retry at the cap');
    assert.equal(again.raw, r2.raw, 'the same hold');
    assert.equal(String(again.headers['idempotent-replayed']), 'true');
    // A 429 is not stored: after a release the same key holds.
    const idem3 = { 'Idempotency-Key': `cap-${rnd(8)}` };
    expectError(await api('POST', '/api/holds', { key: org.publicKey, body: at('15:00'), headers: idem3 }), 429, 'rate_limited', undefined, 'at the cap, with a key');
    const free = await api('GET', '/api/availability/check', { key: org.publicKey, query: at('11:00') });
    assert.deepEqual(expectStatus(free, 200), { available: true }, 'the 429 held nothing');

    // Admin keys are not capped; other organizations have their own count.
    const a1 = await holdOk(org.adminKey, at('11:00'), 'admin past the cap', own);
    const a2 = await holdOk(org.adminKey, at('12:00'), 'admin again', own);
    const o1 = await holdOk(org2.publicKey, at('09:00'), 'another organization’s public key', own);
    // The count is of the organization's unexpired holds, whoever made them.
    expectError(await hold(org.publicKey, at('13:00'), own), 429, 'rate_limited', undefined, 'still 4 held');
    await releaseOk(org.publicKey, h1.holdId, 'release 1', own);
    expectError(await hold(org.publicKey, at('13:00'), own), 429, 'rate_limited', undefined, '3 held');
    await releaseOk(org.adminKey, a1.holdId, 'release 2', own);
    await releaseOk(org.adminKey, a2.holdId, 'release 3', own);
    const h3 = await holdOk(org.publicKey, at('13:00'), 'room again after releases', own);
    expectError(await hold(org.publicKey, at('14:00'), own), 429, 'rate_limited', undefined, 'full again');
    await releaseOk(org.publicKey, h3.holdId, 'release 4', own);
    const r3 = await api('POST', '/api/holds', { key: org.publicKey, body: at('15:00'), headers: idem3 });
    expectStatus(r3, 201, 'the key of the 429, once there is room');
    assert.notEqual(String(r3.headers['idempotent-replayed']), 'true', 'not a replay: the 429 was not stored');
    const h3b = r3.body;
    expectError(await hold(org.publicKey, at('14:00'), own), 429, 'rate_limited', undefined, 'full again');
    // A converted hold no longer counts.
    const conv = await api('POST', '/api/appointments', { key: org.publicKey, body: { contactId: contact.id, ...at('10:00'), holdId: h2.holdId } });
    assert.equal(expectStatus(conv, 201, 'convert with the public key').appointmentId, h2.holdId);
    const h4 = await holdOk(org.publicKey, at('14:00'), 'room after a conversion', own);
    for (const [k, h] of [[org.publicKey, h3b], [org.publicKey, h4], [org2.publicKey, o1]]) await releaseOk(k, h.holdId, 'cleanup', own);
    stopped = true;
    await stopAndCheckLogs(own, mine);
  } finally {
    if (!stopped) await server.stop();
  }
}, { timeout: 60_000 });

// ------------------------------------------------------------------ conflicts

ctest('an unexpired hold blocks bookings, holds and reschedules: 409 slot_unavailable + conflictingHold {scheduledAt, durationMinutes, expiresAt}, never whose, for admin and public keys', async () => {
  const p = await provider();
  const p2 = await provider();
  const day = nextWeekday(TZ, 'tue', 14);
  const H = await holdOk(pub(), { providerId: p.id, scheduledAt: local(day, '10:00'), durationMinutes: 60 });
  const want = conflictOf(H);
  const overlapping = [['10:30', 30], ['09:30', 60], ['10:00', 60], ['09:00', 180], ['10:59', 1], ['10:00', 1]];
  for (const key of [admin(), pub()]) {
    const who = key === pub() ? 'public' : 'admin';
    for (const [t, dur] of overlapping) {
      for (const [what, res] of [
        ['booking', await book(ctx, key, { contactId: contactFor(key), providerId: p.id, scheduledAt: local(day, t), durationMinutes: dur })],
        ['hold', await hold(key, { providerId: p.id, scheduledAt: local(day, t), durationMinutes: dur })],
      ]) {
        const e = expectError(res, 409, 'slot_unavailable', undefined, `${who} ${what} ${t} +${dur}`);
        assert.deepEqual(e.conflictingHold, want, `${who} ${what} ${t}: conflictingHold`);
        assert.equal(e.conflictingAppointment, undefined, 'no conflictingAppointment');
        assert.ok(!res.raw.includes(H.holdId), `${who} ${what}: the hold’s id is not revealed`);
      }
    }
  }
  // Touching ranges do not conflict; another provider is another calendar.
  const A = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: local(day, '11:00'), durationMinutes: 30 }, 'touching after');
  const T = await holdOk(pub(), { providerId: p.id, scheduledAt: local(day, '09:30'), durationMinutes: 30 }, 'a hold touching before');
  const B = await bookOk(ctx, pub(), { contactId: ctx.pubContact.id, providerId: p2.id, scheduledAt: local(day, '10:00'), durationMinutes: 60 }, 'other provider');
  // An appointment blocks a hold: with its id for the admin key, times only for the public key.
  let e = expectError(await hold(admin(), { providerId: p.id, scheduledAt: local(day, '11:15'), durationMinutes: 15 }), 409, 'slot_unavailable', undefined, 'admin hold over an appointment');
  assert.deepEqual(e.conflictingAppointment, { id: A.id, scheduledAt: A.scheduledAt, durationMinutes: 30 });
  assert.equal(e.conflictingHold, undefined);
  const pr = await hold(pub(), { providerId: p.id, scheduledAt: local(day, '11:15'), durationMinutes: 15 });
  e = expectError(pr, 409, 'slot_unavailable', undefined, 'public hold over an appointment');
  assert.deepEqual(e.conflictingAppointment, { scheduledAt: A.scheduledAt, durationMinutes: 30 });
  assert.ok(!pr.raw.includes(A.id) && !pr.raw.includes(ctx.contact.name), 'nothing about the other booking');
  // A reschedule onto the hold is refused the same way, and changes nothing.
  const R = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: local(day, '14:00'), durationMinutes: 30 });
  const rs = await ctx.api('POST', `/api/appointments/${R.id}/reschedule`, { key: admin(), body: { scheduledAt: local(day, '10:15') } });
  e = expectError(rs, 409, 'slot_unavailable', undefined, 'reschedule onto the hold');
  assert.deepEqual(e.conflictingHold, want);
  assert.deepEqual((await ctx.api('GET', `/api/appointments/${R.id}`, { key: admin() })).body, R, 'R unchanged');
  // The 409s wrote nothing.
  const { all } = await listAll(ctx, admin(), { providerId: p.id });
  assert.deepEqual(all.map((x) => x.id).sort(), [A.id, R.id].sort(), 'only the two bookings');
  const audit = await auditEntries(ctx, admin(), { entityId: H.holdId });
  assert.deepEqual(audit.map((x) => x.action), ['hold.created'], 'the hold has only its creation audited');
  // Released, the time is free at once.
  await releaseOk(pub(), H.holdId);
  await releaseOk(pub(), T.holdId);
  await bookOk(ctx, pub(), { contactId: ctx.pubContact.id, providerId: p.id, scheduledAt: local(day, '09:00'), durationMinutes: 120 }, 'the released time');
  assert.ok(B.id);
});

ctest('availability: the check reports conflictingHold with available:false; free slots leave the held time out and offer it again after DELETE', async () => {
  const p = await provider();
  const day = nextWeekday(TZ, 'wed', 21);
  const q = { date: day, providerId: p.id, durationMinutes: 30, stepMinutes: 30 };
  const grid = ['09:00', '09:30', '10:00', '10:30', '11:00', '11:30', '12:00', '12:30', '13:00', '13:30', '14:00', '14:30', '15:00', '15:30', '16:00', '16:30'].map((t) => local(day, t));
  assert.deepEqual(await slotTimes(pub(), q, 'empty day'), grid);

  const H = await holdOk(pub(), { providerId: p.id, scheduledAt: local(day, '10:00'), durationMinutes: 60 });
  for (const key of [admin(), pub()]) {
    assert.deepEqual(
      await check(key, { scheduledAt: local(day, '10:30'), durationMinutes: 30, providerId: p.id }),
      { available: false, conflictingHold: conflictOf(H) },
      `${key === pub() ? 'public' : 'admin'} check over the hold`,
    );
  }
  assert.deepEqual(await check(pub(), { scheduledAt: local(day, '09:00'), durationMinutes: 120, providerId: p.id }), { available: false, conflictingHold: conflictOf(H) }, 'around it');
  assert.deepEqual(await check(pub(), { scheduledAt: local(day, '11:00'), durationMinutes: 30, providerId: p.id }), { available: true }, 'touching after');
  assert.deepEqual(await check(pub(), { scheduledAt: local(day, '09:30'), durationMinutes: 30, providerId: p.id }), { available: true }, 'touching before');
  const held = grid.filter((s) => s !== local(day, '10:00') && s !== local(day, '10:30'));
  assert.deepEqual(await slotTimes(pub(), q, 'public, with the hold'), held);
  assert.deepEqual(await slotTimes(admin(), q, 'admin, with the hold'), held);
  // A service's buffers keep the neighbours out too.
  const s = await createService(ctx, admin(), { durationMinutes: 30, bufferAfterMinutes: 15 });
  const withSvc = await slotTimes(pub(), { date: day, providerId: p.id, serviceId: s.id, stepMinutes: 30 }, 'with a buffered service');
  assert.deepEqual(withSvc, held.filter((x) => x !== local(day, '09:30')), '09:30 + 30 + 15 reaches the hold; a buffer past closing time is fine');

  await releaseOk(pub(), H.holdId);
  assert.deepEqual(await check(pub(), { scheduledAt: local(day, '10:30'), durationMinutes: 30, providerId: p.id }), { available: true }, 'after DELETE');
  assert.deepEqual(await slotTimes(pub(), q, 'after DELETE'), grid, 'the time is offered again');
});

// ------------------------------------------------------------------ release

ctest('DELETE /api/holds/{id} → 204 then 404; unknown, malformed or appointment ids → 404; another organization’s hold → 404 and it still blocks there', async () => {
  const p = await provider();
  const at = '2031-06-01T10:00:00Z';
  const H = await holdOk(admin(), { providerId: p.id, scheduledAt: at, durationMinutes: 30 });
  await releaseOk(admin(), H.holdId, 'release');
  expectError(await release(admin(), H.holdId), 404, 'not_found', undefined, 'release twice');
  expectError(await release(pub(), H.holdId), 404, 'not_found', undefined, 'release twice with the public key');
  const A = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: at, durationMinutes: 30 }, 'the released time, at once');
  for (const id of [randomUUID(), 'nope', H.holdId.replace(/-/g, ''), `${H.holdId}x`, A.id]) {
    expectError(await release(admin(), id), 404, 'not_found', undefined, `DELETE /api/holds/${id}`);
  }
  assert.deepEqual((await ctx.api('GET', `/api/appointments/${A.id}`, { key: admin() })).body, A, 'an appointment id is no hold id: A unchanged');

  // A hold made with one key of the organization may be released with the other.
  const P = await holdOk(admin(), { providerId: p.id, scheduledAt: '2031-06-01T12:00:00Z', durationMinutes: 30 });
  await releaseOk(pub(), P.holdId, 'public key releases an admin-made hold');

  // Another organization's hold: unknown here, untouched there.
  const HB = await holdOk(ctx.other.adminKey, { scheduledAt: '2031-06-02T10:00:00Z', durationMinutes: 30 });
  expectError(await release(admin(), HB.holdId), 404, 'not_found', undefined, 'admin key of another organization');
  expectError(await release(pub(), HB.holdId), 404, 'not_found', undefined, 'public key of another organization');
  expectError(await ctx.api('DELETE', `/api/holds/${HB.holdId}`), 401, 'unauthorized', undefined, 'no key');
  expectError(await release(ctx.adminToken, HB.holdId), 401, 'unauthorized', undefined, 'server admin token');
  const e = expectError(await book(ctx, ctx.other.adminKey, { contactId: ctx.otherContact.id, scheduledAt: '2031-06-02T10:00:00Z', durationMinutes: 30 }), 409, 'slot_unavailable', undefined, 'the hold still blocks in its organization');
  assert.deepEqual(e.conflictingHold, conflictOf(HB));
  assert.ok(!JSON.stringify(await auditEntries(ctx, admin())).includes(HB.holdId), 'nothing about it in this organization’s audit log');
  await releaseOk(ctx.other.adminKey, HB.holdId, 'its own organization releases it');
  const auditB = await auditEntries(ctx, ctx.other.adminKey, { entityId: HB.holdId });
  assert.deepEqual(auditB.map((x) => x.action), ['hold.released', 'hold.created'], 'released once, by its own organization');

  // Wrong methods.
  const g = await ctx.api('GET', `/api/holds/${HB.holdId}`, { key: admin() });
  expectError(g, 405, 'method_not_allowed', undefined, 'GET /api/holds/{id}');
  assert.match(String(g.headers.allow), /\bDELETE\b/);
  const l = await ctx.api('GET', '/api/holds', { key: admin() });
  expectError(l, 405, 'method_not_allowed', undefined, 'GET /api/holds');
  assert.match(String(l.headers.allow), /\bPOST\b/);
});

// ------------------------------------------------------------------ convert

ctest('holdId, same range: the hold becomes the appointment with the same id; the hold is gone and the time is a confirmed appointment', async () => {
  const p = await provider();
  const day = nextWeekday(TZ, 'thu', 14);
  const H = await holdOk(pub(), { providerId: p.id, scheduledAt: local(day, '10:00'), durationMinutes: 30 });
  const t0 = Date.now();
  const res = await book(ctx, pub(), {
    contactId: ctx.pubContact.id, providerId: p.id, scheduledAt: local(day, '10:00'), durationMinutes: 30,
    holdId: H.holdId, notes: 'from the booking page', metadata: { via: 'hold' },
  });
  const b = expectStatus(res, 201, 'convert with the public key');
  assert.equal(b.appointmentId, H.holdId, 'the appointment id is the hold id');
  const a = b.appointment;
  assert.deepEqual(
    { ...a, createdAt: 'x' },
    {
      id: H.holdId, providerId: p.id, contactId: ctx.pubContact.id, serviceId: null, scheduledAt: H.scheduledAt, durationMinutes: 30,
      status: 'confirmed', notes: 'from the booking page', metadata: { via: 'hold' }, createdAt: 'x', cancelledAt: null, rescheduledTo: null,
    },
  );
  assert.match(a.createdAt, ISO_MS_Z);
  assert.ok(Math.abs(Date.parse(a.createdAt) - t0) < 120_000, 'createdAt is now');
  const got = await ctx.api('GET', `/api/appointments/${H.holdId}`, { key: admin() });
  assert.deepEqual(expectStatus(got, 200), a, 'readable as an appointment');
  expectError(await release(pub(), H.holdId), 404, 'not_found', undefined, 'a consumed hold is gone (public)');
  expectError(await release(admin(), H.holdId), 404, 'not_found', undefined, 'a consumed hold is gone (admin)');
  // A third party now meets an appointment, not a hold.
  let e = expectError(await book(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: local(day, '10:15'), durationMinutes: 30 }), 409, 'slot_unavailable', undefined, 'admin over it');
  assert.deepEqual(e.conflictingAppointment, { id: H.holdId, scheduledAt: H.scheduledAt, durationMinutes: 30 });
  assert.equal(e.conflictingHold, undefined);
  e = expectError(await hold(pub(), { providerId: p.id, scheduledAt: local(day, '10:00'), durationMinutes: 30 }), 409, 'slot_unavailable', undefined, 'public hold over it');
  assert.deepEqual(e.conflictingAppointment, { scheduledAt: H.scheduledAt, durationMinutes: 30 });
  assert.deepEqual(await check(pub(), { scheduledAt: local(day, '10:00'), durationMinutes: 30, providerId: p.id }), { available: false, conflictingAppointment: { scheduledAt: H.scheduledAt, durationMinutes: 30 } });
  // Converting again: the hold is unknown now, and the time is taken.
  e = expectError(await book(ctx, pub(), { contactId: ctx.pubContact.id, providerId: p.id, scheduledAt: local(day, '10:00'), durationMinutes: 30, holdId: H.holdId }), 409, 'slot_unavailable', undefined, 'the same holdId again');
  assert.deepEqual(e.conflictingAppointment, { scheduledAt: H.scheduledAt, durationMinutes: 30 });

  // With the admin key, and a service: same id, the service's values.
  const s = await createService(ctx, admin(), { durationMinutes: 45 });
  const H2 = await holdOk(admin(), { providerId: p.id, serviceId: s.id, scheduledAt: local(day, '13:00') });
  const a2 = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, serviceId: s.id, scheduledAt: local(day, '13:00'), holdId: H2.holdId }, 'convert with the admin key');
  assert.equal(a2.id, H2.holdId);
  assert.equal(a2.serviceId, s.id);
  assert.equal(a2.durationMinutes, 45);
  const { all } = await listAll(ctx, admin(), { providerId: p.id });
  assert.deepEqual(all.map((x) => x.id), [H.holdId, H2.holdId], 'two appointments, nothing else');
  // It is an appointment like any other: cancelling frees the time.
  expectStatus(await ctx.api('POST', `/api/appointments/${a2.id}/cancel`, { key: admin(), body: {} }), 200, 'cancel the converted appointment');
  expectError(await release(admin(), a2.id), 404, 'not_found', undefined, 'a cancelled converted hold');
  await bookOk(ctx, pub(), { contactId: ctx.pubContact.id, providerId: p.id, scheduledAt: local(day, '13:00'), durationMinutes: 45 }, 'the freed time');
});

ctest('holdId, a range inside the hold converts it (the rest of the held time is free again); outside, partly outside or another provider → 409 invalid_state and the hold stays', async () => {
  const p = await provider();
  const p2 = await provider();
  const c = ctx.contact.id;
  const H = await holdOk(admin(), { providerId: p.id, scheduledAt: '2031-07-01T10:00:00Z', durationMinutes: 60 });
  const auditBefore = await auditEntries(ctx, admin());
  const bad = [
    ['2031-07-01T09:30:00Z', 30, 'before it, touching'],
    ['2031-07-01T09:45:00Z', 30, 'starting before it'],
    ['2031-07-01T10:45:00Z', 30, 'running past its end'],
    ['2031-07-01T11:00:00Z', 30, 'after it, touching'],
    ['2031-07-01T09:00:00Z', 180, 'around it'],
    ['2031-07-01T14:00:00Z', 30, 'elsewhere that day'],
  ];
  for (const [at, dur, what] of bad) {
    expectError(await book(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: at, durationMinutes: dur, holdId: H.holdId }), 409, 'invalid_state', undefined, what);
  }
  expectError(await book(ctx, admin(), { contactId: c, providerId: p2.id, scheduledAt: H.scheduledAt, durationMinutes: 60, holdId: H.holdId }), 409, 'invalid_state', undefined, 'another provider');
  expectError(await book(ctx, admin(), { contactId: c, scheduledAt: H.scheduledAt, durationMinutes: 60, holdId: H.holdId }), 409, 'invalid_state', undefined, 'the default provider');
  // Nothing changed: the hold still blocks, nothing was booked or audited.
  const e = expectError(await book(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-07-01T10:15:00Z', durationMinutes: 15 }), 409, 'slot_unavailable', undefined, 'the hold still holds');
  assert.deepEqual(e.conflictingHold, conflictOf(H));
  for (const prov of [p, p2]) assert.deepEqual((await listAll(ctx, admin(), { providerId: prov.id })).all, [], 'nothing booked');
  assert.deepEqual(await auditEntries(ctx, admin()), auditBefore, 'no audit entry');

  // A sub-range converts.
  const a = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-07-01T10:15:00Z', durationMinutes: 30, holdId: H.holdId }, 'inside the hold');
  assert.equal(a.scheduledAt, '2031-07-01T10:15:00.000Z');
  assert.equal(a.durationMinutes, 30);
  assert.equal(a.status, 'confirmed');
  expectError(await release(admin(), H.holdId), 404, 'not_found', undefined, 'the hold is consumed');
  const conv = (await auditEntries(ctx, admin(), { entityId: H.holdId })).filter((x) => x.action === 'hold.converted');
  assert.equal(conv.length, 1, 'one hold.converted entry');
  assert.equal(conv[0].details.appointmentId, a.id, 'it names the appointment');
  // The rest of the held time is free.
  const r1 = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-07-01T10:00:00Z', durationMinutes: 15 }, 'the held time before it');
  const r2 = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-07-01T10:45:00Z', durationMinutes: 15 }, 'the held time after it');
  assert.deepEqual((await listAll(ctx, admin(), { providerId: p.id })).all.map((x) => x.id), [r1.id, a.id, r2.id]);

  // The time inside, the booking's buffers reaching past the hold onto an appointment → slot_unavailable, the hold stays.
  const s = await createService(ctx, admin(), { durationMinutes: 30, bufferAfterMinutes: 15 });
  const H2 = await holdOk(admin(), { providerId: p.id, scheduledAt: '2031-07-02T10:00:00Z', durationMinutes: 30 });
  const X = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-07-02T10:30:00Z', durationMinutes: 30 });
  const e2 = expectError(await book(ctx, admin(), { contactId: c, providerId: p.id, serviceId: s.id, scheduledAt: '2031-07-02T10:00:00Z', holdId: H2.holdId }), 409, 'slot_unavailable', undefined, 'the buffer reaches an appointment');
  assert.deepEqual(e2.conflictingAppointment, { id: X.id, scheduledAt: X.scheduledAt, durationMinutes: 30 });
  const e3 = expectError(await book(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-07-02T10:00:00Z', durationMinutes: 30 }), 409, 'slot_unavailable', undefined, 'H2 still holds');
  assert.deepEqual(e3.conflictingHold, conflictOf(H2));
  expectStatus(await ctx.api('POST', `/api/appointments/${X.id}/cancel`, { key: admin(), body: {} }), 200);
  const a2 = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, serviceId: s.id, scheduledAt: '2031-07-02T10:00:00Z', holdId: H2.holdId }, 'the buffer is free now');
  assert.equal(a2.serviceId, s.id);
  expectError(await release(admin(), H2.holdId), 404, 'not_found', undefined, 'H2 consumed');
});

ctest('holdId unknown, released or of another organization: the booking goes ahead as if none was named; that organization’s hold stays untouched', async () => {
  const p = await provider();
  const c = ctx.contact.id;
  const at = (hm) => `2031-08-01T${hm}:00.000Z`;
  const unknown = randomUUID();
  const a1 = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: at('09:00'), durationMinutes: 30, holdId: unknown }, 'unknown holdId');
  assert.notEqual(a1.id, unknown);
  const taken = await book(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: at('09:00'), durationMinutes: 30, holdId: randomUUID() });
  assert.deepEqual(expectError(taken, 409, 'slot_unavailable', undefined, 'unknown holdId on a taken time').conflictingAppointment, { id: a1.id, scheduledAt: at('09:00'), durationMinutes: 30 });
  for (const bad of ['nope', 42, `${unknown}x`, unknown.replace(/-/g, '')]) {
    expectError(await book(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: at('09:30'), durationMinutes: 30, holdId: bad }), 400, 'invalid_request', 'holdId', `holdId ${JSON.stringify(bad)}`);
  }

  const R = await holdOk(admin(), { providerId: p.id, scheduledAt: at('10:00'), durationMinutes: 30 });
  await releaseOk(admin(), R.holdId);
  const a2 = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: at('10:00'), durationMinutes: 30, holdId: R.holdId }, 'released holdId');
  assert.notEqual(a2.id, R.holdId, 'a new appointment, not the released hold');
  const a2b = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: at('12:00'), durationMinutes: 30, holdId: R.holdId }, 'released holdId, another time');
  assert.notEqual(a2b.id, R.holdId);

  const HB = await holdOk(ctx.other.adminKey, { scheduledAt: at('11:00'), durationMinutes: 30 });
  const auditB = await auditEntries(ctx, ctx.other.adminKey);
  const a3 = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: at('11:00'), durationMinutes: 30, holdId: HB.holdId }, 'another organization’s holdId, same time');
  assert.notEqual(a3.id, HB.holdId);
  const a4 = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: at('13:00'), durationMinutes: 60, holdId: HB.holdId }, 'another organization’s holdId, outside its range (not invalid_state: unknown here)');
  assert.notEqual(a4.id, HB.holdId);
  const e = expectError(await book(ctx, ctx.other.adminKey, { contactId: ctx.otherContact.id, scheduledAt: at('11:00'), durationMinutes: 30 }), 409, 'slot_unavailable', undefined, 'the other organization’s hold still holds');
  assert.deepEqual(e.conflictingHold, conflictOf(HB));
  assert.deepEqual(await auditEntries(ctx, ctx.other.adminKey), auditB, 'nothing happened in the other organization');
  for (const x of [a1, a2, a2b, a3, a4]) {
    const trail = await auditEntries(ctx, admin(), { entityId: x.id });
    assert.deepEqual(trail.map((y) => y.action), ['appointment.booked'], `a plain booking, no conversion: ${JSON.stringify(trail)}`);
  }
  await releaseOk(ctx.other.adminKey, HB.holdId);
});

ctest('holds are not appointments: never in GET /api/appointments (any filter); GET, cancel and reschedule of a hold id → 404', async () => {
  const p = await provider();
  const H = await holdOk(admin(), { providerId: p.id, scheduledAt: '2031-09-01T10:00:00Z', durationMinutes: 30 });
  const A = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2031-09-01T12:00:00Z', durationMinutes: 30 });
  const window = { from: '2031-09-01T00:00:00Z', to: '2031-09-02T00:00:00Z' };
  assert.deepEqual((await listAll(ctx, admin(), { providerId: p.id })).all.map((x) => x.id), [A.id], 'by provider');
  assert.deepEqual((await listAll(ctx, admin(), { ...window, providerId: p.id })).all.map((x) => x.id), [A.id], 'by provider and time');
  for (const status of ['confirmed', 'cancelled', 'rescheduled']) {
    const ids = (await listAll(ctx, admin(), { providerId: p.id, status })).all.map((x) => x.id);
    assert.ok(!ids.includes(H.holdId), `status=${status}`);
  }
  const everything = await listAll(ctx, admin(), { ...window, limit: 1 });
  assert.ok(!everything.all.some((x) => x.id === H.holdId), 'not on any page');
  expectError(await ctx.api('GET', `/api/appointments/${H.holdId}`, { key: admin() }), 404, 'not_found', undefined, 'GET');
  expectError(await ctx.api('POST', `/api/appointments/${H.holdId}/cancel`, { key: admin(), body: {} }), 404, 'not_found', undefined, 'cancel');
  expectError(await ctx.api('POST', `/api/appointments/${H.holdId}/reschedule`, { key: admin(), body: { scheduledAt: '2031-09-01T15:00:00Z' } }), 404, 'not_found', undefined, 'reschedule');
  // The failed cancel and reschedule left the hold as it was.
  const e = expectError(await hold(admin(), { providerId: p.id, scheduledAt: '2031-09-01T10:00:00Z', durationMinutes: 30 }), 409, 'slot_unavailable');
  assert.deepEqual(e.conflictingHold, conflictOf(H));
  await releaseOk(admin(), H.holdId);
});

ctest('races: overlapping holds sent together have one winner; two conversions of one hold convert it once; a conversion racing DELETE ends one way or the other, never both', async () => {
  const p = await provider();
  const c = ctx.contact.id;
  const ROUNDS = 15;
  const base = Date.UTC(2034, 2, 6, 0, 0);
  const at = (i, min = 0) => new Date(base + i * 3 * 3_600_000 + min * 60_000).toISOString();
  const loser = (r) => r.status === 409 && r.body && (r.body.error === 'slot_unavailable' || r.body.error === 'slot_busy');
  const problems = [];
  const winners = [];
  for (let i = 0; i < ROUNDS; i++) {
    const [a, b] = await Promise.all([
      hold(admin(), { providerId: p.id, scheduledAt: at(i), durationMinutes: 60 }),
      hold(admin(), { providerId: p.id, scheduledAt: at(i, 30), durationMinutes: 60 }),
    ]);
    const ok = [a, b].filter((r) => r.status === 201);
    if (ok.length > 1) problems.push(`holds ${i}: both held`);
    for (const [r, other] of [[a, b], [b, a]]) {
      if (r.status !== 201 && !loser(r)) problems.push(`holds ${i}: unexpected ${r.status} ${r.raw.slice(0, 200)}`);
      if (r.status === 409 && r.body.error === 'slot_unavailable' && other.status === 201) {
        if (JSON.stringify(r.body.conflictingHold) !== JSON.stringify(conflictOf(other.body))) problems.push(`holds ${i}: names ${JSON.stringify(r.body.conflictingHold)}, the winner is ${JSON.stringify(conflictOf(other.body))}`);
      }
    }
    winners.push(...ok.map((r) => r.body));
  }
  assert.ok(winners.length >= 1, 'some hold won');
  for (const w of winners) await releaseOk(admin(), w.holdId);

  const base2 = base + ROUNDS * 3 * 3_600_000;
  for (let i = 0; i < ROUNDS; i++) {
    const when = new Date(base2 + i * 3_600_000).toISOString();
    const H = await holdOk(admin(), { providerId: p.id, scheduledAt: when, durationMinutes: 30 });
    const body = { contactId: c, providerId: p.id, scheduledAt: when, durationMinutes: 30, holdId: H.holdId };
    const [a, b] = await Promise.all([book(ctx, admin(), body), book(ctx, admin(), body)]);
    const ok = [a, b].filter((r) => r.status === 201);
    if (ok.length !== 1 && !(ok.length === 0 && [a, b].some((r) => r.body && r.body.error === 'slot_busy'))) problems.push(`convert twice ${i}: ${a.status} ${b.status}`);
    if (ok.length === 1 && ok[0].body.appointmentId !== H.holdId) problems.push(`convert twice ${i}: the winner ${ok[0].body.appointmentId} is not the hold ${H.holdId}`);
    for (const r of [a, b]) {
      if (r.status !== 201 && !loser(r)) problems.push(`convert twice ${i}: unexpected ${r.status} ${r.raw.slice(0, 200)}`);
      if (r.status === 409 && r.body.error === 'slot_unavailable' && !(r.body.conflictingAppointment && r.body.conflictingAppointment.id === H.holdId)) problems.push(`convert twice ${i}: the loser names ${r.raw.slice(0, 200)}`);
    }
    if (ok.length === 0) await release(admin(), H.holdId);
  }

  const base3 = base2 + ROUNDS * 3_600_000;
  const outcomes = { converted: 0, released: 0 };
  for (let i = 0; i < ROUNDS; i++) {
    const when = new Date(base3 + i * 3_600_000).toISOString();
    const H = await holdOk(admin(), { providerId: p.id, scheduledAt: when, durationMinutes: 30 });
    const [b, d] = await Promise.all([
      book(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: when, durationMinutes: 30, holdId: H.holdId }),
      release(admin(), H.holdId),
    ]);
    if (b.status === 201 && d.status === 404 && b.body.appointmentId === H.holdId) outcomes.converted++;
    else if (b.status === 201 && d.status === 204 && b.body.appointmentId !== H.holdId) outcomes.released++;
    else if (!(b.status === 409 && b.body.error === 'slot_busy')) problems.push(`convert vs DELETE ${i}: booking ${b.status} ${b.raw.slice(0, 120)}, DELETE ${d.status}`);
    if (b.status !== 201) await release(admin(), H.holdId);
  }
  assert.deepEqual(problems, [], problems.join('\n'));
  const { all } = await listAll(ctx, admin(), { providerId: p.id });
  assert.ok(all.every((x) => x.status === 'confirmed'));
  const ids = new Set(all.map((x) => x.id));
  assert.equal(ids.size, all.length);
  const check3 = all.filter((x) => Date.parse(x.scheduledAt) >= base3);
  assert.equal(check3.length, outcomes.converted + outcomes.released, `one appointment per round that booked: ${JSON.stringify(outcomes)}`);
}, { timeout: 60_000 });

// ------------------------------------------------------------------ audit, metrics, webhooks, idempotency

ctest('audit log: hold.created / hold.released / hold.converted with entityType "hold", the key’s actor, no personal data; failed requests add nothing', async () => {
  const p = await provider();
  const day = nextWeekday(TZ, 'fri', 14);
  const pc = await createContact(ctx, pub(), { name: `Audit Holder ${rnd()}`, phone: `+1773555${digits(4)}`, email: `holder.${rnd()}@example.org` });
  secrets.push(pc.name, pc.phone, pc.email);
  const notes = `allergic to ${rnd()}`;
  secrets.push(notes);

  const H1 = await holdOk(pub(), { providerId: p.id, scheduledAt: local(day, '09:00'), durationMinutes: 30 });
  await releaseOk(pub(), H1.holdId);
  const H2 = await holdOk(admin(), { providerId: p.id, scheduledAt: local(day, '10:00'), durationMinutes: 30 });
  const a = await bookOk(ctx, pub(), { contactId: pc.id, providerId: p.id, scheduledAt: local(day, '10:00'), durationMinutes: 30, holdId: H2.holdId, notes }, 'convert');

  const e1 = await auditEntries(ctx, admin(), { entityId: H1.holdId });
  assert.deepEqual(e1.map((x) => x.action), ['hold.released', 'hold.created'], 'newest first');
  for (const x of e1) {
    assert.equal(x.entityType, 'hold');
    assert.equal(x.entityId, H1.holdId);
    assert.match(x.actor, /^public_key:[0-9a-f-]{36}$/);
    assert.match(x.at, ISO_MS_Z);
  }
  const e2 = await auditEntries(ctx, admin(), { entityId: H2.holdId });
  assert.deepEqual(e2.map((x) => x.action).sort(), ['appointment.booked', 'hold.converted', 'hold.created'], JSON.stringify(e2));
  const created = e2.find((x) => x.action === 'hold.created');
  const converted = e2.find((x) => x.action === 'hold.converted');
  const booked = e2.find((x) => x.action === 'appointment.booked');
  assert.equal(created.entityType, 'hold');
  assert.match(created.actor, /^admin_key:[0-9a-f-]{36}$/);
  assert.equal(converted.entityType, 'hold');
  assert.equal(converted.entityId, H2.holdId);
  assert.equal(converted.actor, booked.actor, 'converted by the key that booked');
  assert.match(converted.actor, /^public_key:/);
  assert.equal(converted.details.appointmentId, a.id);
  assert.equal(booked.entityType, 'appointment');
  assert.equal(booked.entityId, a.id);
  assert.equal(e2[e2.length - 1].action, 'hold.created', 'the creation is the oldest');
  const raw = JSON.stringify(e1.concat(e2));
  for (const s of [pc.name, pc.phone, pc.email, notes, ctx.org.adminKey, ctx.org.publicKey]) assert.ok(!raw.includes(s), `no personal data or key in the audit log: ${s.slice(0, 12)}…`);

  // Failed hold requests add no entry.
  const before = await auditEntries(ctx, admin());
  expectError(await hold(pub(), { providerId: p.id, scheduledAt: local(day, '10:00'), durationMinutes: 30 }), 409, 'slot_unavailable', undefined, '409');
  expectError(await hold(pub(), { providerId: p.id, scheduledAt: local(day, '20:00'), durationMinutes: 30 }), 400, 'invalid_request', 'scheduledAt', '400');
  expectError(await release(pub(), H1.holdId), 404, 'not_found', undefined, '404');
  const H3 = await holdOk(admin(), { providerId: p.id, scheduledAt: local(day, '14:00'), durationMinutes: 30 });
  const afterH3 = await auditEntries(ctx, admin());
  expectError(await book(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: local(day, '15:00'), durationMinutes: 30, holdId: H3.holdId }), 409, 'invalid_state', undefined, 'invalid_state');
  assert.deepEqual(await auditEntries(ctx, admin()), afterH3, 'invalid_state added nothing');
  assert.deepEqual(afterH3.slice(1), before.slice(0, afterH3.length - 1), 'only hold.created for H3 was added');
  assert.equal(afterH3[0].action, 'hold.created');
  await releaseOk(admin(), H3.holdId);
});

ctest('/metrics: bookd_holds_total{result} moves by exactly what happened (held, conflict, released, converted; expired stays)', async () => {
  const m0 = await scrape();
  assert.equal(m0.types.bookd_holds_total, 'counter', 'bookd_holds_total is a counter');
  const p = await provider();
  const c = ctx.contact.id;
  const H1 = await holdOk(admin(), { providerId: p.id, scheduledAt: '2031-10-06T10:00:00Z', durationMinutes: 30 }); // held 1
  const H2 = await holdOk(pub(), { providerId: p.id, scheduledAt: local(nextWeekday(TZ, 'mon', 14), '10:00'), durationMinutes: 30 }); // held 2
  const A = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-10-06T12:00:00Z', durationMinutes: 30 });
  expectError(await hold(admin(), { providerId: p.id, scheduledAt: '2031-10-06T10:15:00Z', durationMinutes: 30 }), 409, 'slot_unavailable'); // conflict 1
  expectError(await hold(pub(), { providerId: p.id, scheduledAt: H2.scheduledAt, durationMinutes: 30 }), 409, 'slot_unavailable'); // conflict 2
  expectError(await hold(admin(), { providerId: p.id, scheduledAt: A.scheduledAt, durationMinutes: 30 }), 409, 'slot_unavailable'); // conflict 3
  expectError(await book(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-10-06T10:00:00Z', durationMinutes: 30 }), 409, 'slot_unavailable'); // a booking's conflict: not a hold's
  expectError(await hold(admin(), { providerId: p.id, scheduledAt: '2031-10-06T15:00:00Z', durationMinutes: 30, ttlSeconds: 5 }), 400, 'invalid_request', 'ttlSeconds'); // nothing
  await releaseOk(admin(), H1.holdId); // released 1
  expectError(await release(admin(), H1.holdId), 404, 'not_found'); // nothing
  expectError(await release(admin(), randomUUID()), 404, 'not_found'); // nothing
  const H3 = await holdOk(admin(), { providerId: p.id, scheduledAt: '2031-10-06T16:00:00Z', durationMinutes: 30 }); // held 3
  expectError(await book(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-10-06T17:00:00Z', durationMinutes: 30, holdId: H3.holdId }), 409, 'invalid_state'); // nothing
  const conv = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-10-06T16:00:00Z', durationMinutes: 30, holdId: H3.holdId }); // converted 1
  assert.equal(conv.id, H3.holdId);
  await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-10-06T18:00:00Z', durationMinutes: 30, holdId: randomUUID() }); // unknown holdId: nothing
  await releaseOk(pub(), H2.holdId); // released 2
  const m1 = await scrape();
  assert.deepEqual(holdDeltas(m0, m1), { held: 3, converted: 1, expired: 0, released: 2, conflict: 3 });
  for (const r of HOLD_RESULTS) {
    assert.equal(m1.samples.filter((s) => s.name === 'bookd_holds_total' && s.labels.result === r).length, 1, `one bookd_holds_total{result="${r}"} sample`);
  }
  assert.equal(
    sumOf(m1.samples, 'bookd_bookings_total', { result: 'booked' }) - sumOf(m0.samples, 'bookd_bookings_total', { result: 'booked' }),
    3,
    'bookings: A, the conversion and the plain booking with an unknown holdId',
  );
});

ctest('webhooks: holds and their release send nothing; a conversion sends one appointment.booked for the appointment (the hold’s id)', async () => {
  const org = await createOrg(ctx, { timezone: 'UTC' });
  secrets.push(org.adminKey, org.publicKey, org.vapiSecret);
  const contact = await createContact(ctx, org.adminKey, { name: `Webhook Holder ${rnd()}` });
  secrets.push(contact.name);
  const rx = await startReceiver();
  let endpoint = null;
  try {
    const res = await ctx.api('POST', '/api/webhook-endpoints', { key: org.adminKey, body: { url: rx.urlFor('/events'), events: EVENTS } });
    endpoint = expectStatus(res, 201, 'create webhook endpoint');
    secrets.push(endpoint.secret, endpoint.secret.slice('whsec_'.length));
    const H1 = await holdOk(org.adminKey, { scheduledAt: '2031-10-01T10:00:00Z', durationMinutes: 30 });
    await releaseOk(org.adminKey, H1.holdId);
    const H2 = await holdOk(org.adminKey, { scheduledAt: '2031-10-01T11:00:00Z', durationMinutes: 30 });
    expectError(await hold(org.adminKey, { scheduledAt: '2031-10-01T11:00:00Z', durationMinutes: 30 }), 409, 'slot_unavailable');
    const a = await bookOk(ctx, org.adminKey, { contactId: contact.id, scheduledAt: H2.scheduledAt, durationMinutes: 30, holdId: H2.holdId }, 'convert');
    assert.equal(a.id, H2.holdId);
    const [first] = await rx.waitFor(1, { path: '/events', timeoutMs: 10_000 });
    assert.equal(first.json && first.json.type, 'appointment.booked', `the event: ${first.body.slice(0, 300)}`);
    assert.equal(first.json.data.appointment.id, a.id);
    // Nothing else comes (holds write no event).
    const late = await rx.quiet(1500);
    assert.deepEqual(late.map((r) => r.body.slice(0, 200)), [], 'no further request');
    assert.equal(rx.requests.length, 1, 'one request in all');
    const ds = await ctx.api('GET', '/api/webhook-deliveries', { key: org.adminKey, query: { endpointId: endpoint.id } });
    const list = expectStatus(ds, 200).deliveries;
    assert.deepEqual(list.map((d) => d.eventType), ['appointment.booked'], 'one delivery');
  } finally {
    if (endpoint) await ctx.api('DELETE', `/api/webhook-endpoints/${endpoint.id}`, { key: org.adminKey });
    await rx.close();
  }
});

ctest('Idempotency-Key with holdId: the conversion is stored and replayed byte for byte without converting twice; invalid_state is not stored; a conflictingHold 409 is replayed', async () => {
  const p = await provider();
  const c = ctx.contact.id;
  const H = await holdOk(admin(), { providerId: p.id, scheduledAt: '2031-11-03T10:00:00Z', durationMinutes: 30 });
  const m0 = await scrape();
  const body = { contactId: c, providerId: p.id, scheduledAt: H.scheduledAt, durationMinutes: 30, holdId: H.holdId };
  const key = `hold-${rnd(8)}`;
  const r1 = await book(ctx, admin(), body, { 'Idempotency-Key': key });
  assert.equal(expectStatus(r1, 201).appointmentId, H.holdId);
  assert.ok(!replayed(r1), 'the first answer is no replay');
  const r2 = await book(ctx, admin(), { durationMinutes: 30, holdId: H.holdId, scheduledAt: H.scheduledAt, providerId: p.id, contactId: c }, { 'Idempotency-Key': key });
  expectStatus(r2, 201, 'replay');
  assert.ok(replayed(r2), 'Idempotent-Replayed: true');
  assert.equal(r2.raw, r1.raw, 'byte-identical');
  expectError(await book(ctx, admin(), { ...body, notes: 'changed' }, { 'Idempotency-Key': key }), 422, 'idempotency_key_reused');
  const m1 = await scrape();
  assert.equal(holdDeltas(m0, m1).converted, 1, 'converted once');
  assert.equal(sumOf(m1.samples, 'bookd_idempotent_replays_total') - sumOf(m0.samples, 'bookd_idempotent_replays_total'), 1, 'one replay');
  assert.deepEqual((await listAll(ctx, admin(), { providerId: p.id })).all.map((x) => x.id), [H.holdId], 'one appointment');
  const trail = await auditEntries(ctx, admin(), { entityId: H.holdId });
  assert.deepEqual(trail.map((x) => x.action).sort(), ['appointment.booked', 'hold.converted', 'hold.created'], 'converted once');

  // invalid_state is not stored: after the hold is gone, the same key and body book normally.
  const H2 = await holdOk(admin(), { providerId: p.id, scheduledAt: '2031-11-03T13:00:00Z', durationMinutes: 30 });
  const body2 = { contactId: c, providerId: p.id, scheduledAt: '2031-11-03T14:00:00Z', durationMinutes: 30, holdId: H2.holdId };
  const key2 = `hold-${rnd(8)}`;
  expectError(await book(ctx, admin(), body2, { 'Idempotency-Key': key2 }), 409, 'invalid_state', undefined, 'outside the hold');
  await releaseOk(admin(), H2.holdId);
  const r4 = await book(ctx, admin(), body2, { 'Idempotency-Key': key2 });
  expectStatus(r4, 201, 'the same key after the hold is gone');
  assert.ok(!replayed(r4), 'not a replay: the 409 invalid_state was not stored');
  assert.notEqual(r4.body.appointmentId, H2.holdId);

  // A 409 with conflictingHold is stored and replayed as it was, even after the hold is released.
  const H3 = await holdOk(admin(), { providerId: p.id, scheduledAt: '2031-11-03T16:00:00Z', durationMinutes: 30 });
  const body3 = { contactId: c, providerId: p.id, scheduledAt: '2031-11-03T16:00:00Z', durationMinutes: 30 };
  const key3 = `hold-${rnd(8)}`;
  const r5 = await book(ctx, admin(), body3, { 'Idempotency-Key': key3 });
  assert.deepEqual(expectError(r5, 409, 'slot_unavailable').conflictingHold, conflictOf(H3));
  await releaseOk(admin(), H3.holdId);
  const r6 = await book(ctx, admin(), body3, { 'Idempotency-Key': key3 });
  assert.equal(r6.status, 409);
  assert.ok(replayed(r6), 'the stored 409 is replayed');
  assert.equal(r6.raw, r5.raw, 'byte-identical 409');
});

ctest('Idempotency-Key on POST /api/holds: a retry gets its own hold back byte for byte (not a conflict with it); a 409 is stored, a 400 is not; per kind of key; 422 for another body or another endpoint', async () => {
  const p = await provider();
  const day = nextWeekday(TZ, 'tue', 21);
  const body = { providerId: p.id, scheduledAt: local(day, '10:00'), durationMinutes: 30 };
  const post = (key, b, idem) => ctx.api('POST', '/api/holds', { key, body: b, headers: { 'Idempotency-Key': idem } });
  const key = `hold-${rnd(8)}`;
  const m0 = await scrape();
  const auditBefore = await auditEntries(ctx, admin());
  const r1 = await post(pub(), body, key);
  const H = expectStatus(r1, 201, 'first');
  assert.ok(!replayed(r1), 'the first answer is no replay');
  const r2 = await post(pub(), { durationMinutes: 30, scheduledAt: body.scheduledAt, providerId: p.id }, key);
  expectStatus(r2, 201, 'the retry');
  assert.ok(replayed(r2), 'Idempotent-Replayed: true');
  assert.equal(r2.raw, r1.raw, 'byte-identical: the same hold');
  // Without the key the same request meets the hold.
  assert.deepEqual(expectError(await hold(pub(), body), 409, 'slot_unavailable', undefined, 'no key').conflictingHold, conflictOf(H));
  expectError(await post(pub(), { ...body, ttlSeconds: 60 }, key), 422, 'idempotency_key_reused', undefined, 'another body');
  expectError(await book(ctx, pub(), { contactId: ctx.pubContact.id, ...body }, { 'Idempotency-Key': key }), 422, 'idempotency_key_reused', undefined, 'the key of a hold on POST /api/appointments');
  // The admin key's keys are apart from the public key's: no replay, a conflict with the public hold.
  const ra = await post(admin(), body, key);
  assert.deepEqual(expectError(ra, 409, 'slot_unavailable', undefined, 'admin key, same key').conflictingHold, conflictOf(H));
  assert.ok(!replayed(ra), 'not replayed across kinds of key');
  const m1 = await scrape();
  assert.deepEqual(holdDeltas(m0, m1), { held: 1, converted: 0, expired: 0, released: 0, conflict: 2 }, 'the replay holds nothing');
  assert.equal(sumOf(m1.samples, 'bookd_idempotent_replays_total') - sumOf(m0.samples, 'bookd_idempotent_replays_total'), 1, 'one replay counted');
  const auditAfter = await auditEntries(ctx, admin());
  assert.deepEqual([auditAfter[0].action, auditAfter[0].entityId], ['hold.created', H.holdId]);
  assert.deepEqual(auditAfter.slice(1), auditBefore.slice(0, auditAfter.length - 1), 'one audit entry in all');

  // A stored 409 is replayed as it was, even once the hold is gone; the stored 201 too.
  const key2 = `hold-${rnd(8)}`;
  const r3 = await post(admin(), body, key2);
  expectError(r3, 409, 'slot_unavailable', undefined, 'a conflict, stored');
  await releaseOk(pub(), H.holdId);
  const r4 = await post(admin(), body, key2);
  assert.equal(r4.status, 409, 'the stored conflict');
  assert.ok(replayed(r4));
  assert.equal(r4.raw, r3.raw);
  const r5 = await post(pub(), body, key);
  assert.equal(r5.status, 201);
  assert.ok(replayed(r5), 'the stored hold, although released');
  assert.equal(r5.raw, r1.raw);
  assert.deepEqual(await check(pub(), { scheduledAt: body.scheduledAt, durationMinutes: 30, providerId: p.id }), { available: true }, 'the replay held nothing again');

  // A 400 is not stored: the corrected request with the same key is a new one.
  const key3 = `hold-${rnd(8)}`;
  expectError(await post(admin(), { ...body, ttlSeconds: 5 }, key3), 400, 'invalid_request', 'ttlSeconds');
  const r6 = await post(admin(), body, key3);
  expectStatus(r6, 201, 'the corrected request');
  assert.ok(!replayed(r6));
  await releaseOk(admin(), r6.body.holdId);
  for (const [label, k] of [['empty', ''], ['256 characters', 'k'.repeat(256)], ['a tab inside', 'ab\tcd']]) {
    expectError(await post(admin(), body, k), 400, 'invalid_request', undefined, `Idempotency-Key ${label}`);
  }
  assert.deepEqual(await check(pub(), { scheduledAt: body.scheduledAt, durationMinutes: 30, providerId: p.id }), { available: true }, 'the refused keys held nothing');
});

// ------------------------------------------------------------------ expiry (the one wait)

ctest('an expired hold conflicts with nothing at once: bookings and holds go over it, DELETE → 404, its holdId books anew, free slots offer it, the public cap no longer counts it (one wait of ~31 s)', async () => {
  // A second server with --public-holds-max 2 on the same database, for the
  // cap. Each expired hold is counted once, by whichever server removed it
  // (a request, or either server's worker): the two counts add up exactly.
  const capped = await startServer({ args: ['serve', '--public-holds-max', '2'] });
  const own = { server: capped, api: makeApi(capped.url), adminToken: capped.adminToken };
  const scrapeCapped = async () => {
    const res = await own.api('GET', '/metrics');
    expectStatus(res, 200, 'GET /metrics of the capped server');
    return parseMetrics(res.raw);
  };
  let stopped = false;
  try {
    const org = await createOrg(own, { timezone: TZ });
    const mine = [capped.adminToken, org.adminKey, org.publicKey, org.vapiSecret];
    const p = await provider();
    const day = nextWeekday(TZ, 'mon', 14);
    const m0 = await scrape();
    const c0 = await scrapeCapped();
    const H1 = await holdOk(pub(), { providerId: p.id, scheduledAt: local(day, '10:00'), durationMinutes: 60, ttlSeconds: 30 });
    const H2 = await holdOk(pub(), { providerId: p.id, scheduledAt: local(day, '13:00'), durationMinutes: 30, ttlSeconds: 30 });
    const H3 = await holdOk(admin(), { providerId: p.id, scheduledAt: local(day, '15:00'), durationMinutes: 30, ttlSeconds: 30 });
    const H4 = await holdOk(pub(), { providerId: p.id, scheduledAt: local(day, '16:00'), durationMinutes: 30, ttlSeconds: 30 });
    const H6 = await holdOk(admin(), { providerId: p.id, scheduledAt: local(day, '14:00'), durationMinutes: 60, ttlSeconds: 30 });
    const R = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: local(day, '11:30'), durationMinutes: 30 }, 'to be rescheduled onto H6');
    const C1 = await holdOk(org.publicKey, { scheduledAt: local(day, '09:00'), durationMinutes: 30, ttlSeconds: 30 }, 'capped 1 of 2', own);
    const C2 = await holdOk(org.publicKey, { scheduledAt: local(day, '09:30'), durationMinutes: 30, ttlSeconds: 30 }, 'capped 2 of 2', own);
    expectError(await hold(org.publicKey, { scheduledAt: local(day, '11:00'), durationMinutes: 30 }, own), 429, 'rate_limited', undefined, 'at the cap before expiry');
    const e = expectError(await hold(pub(), { providerId: p.id, scheduledAt: local(day, '10:30'), durationMinutes: 30 }), 409, 'slot_unavailable', undefined, 'before expiry');
    assert.deepEqual(e.conflictingHold, conflictOf(H1));
    const q = { date: day, providerId: p.id, durationMinutes: 30, stepMinutes: 30 };
    const grid = ['09:00', '09:30', '10:00', '10:30', '11:00', '11:30', '12:00', '12:30', '13:00', '13:30', '14:00', '14:30', '15:00', '15:30', '16:00', '16:30'].map((t) => local(day, t));
    const heldAt = ['10:00', '10:30', '11:30', '13:00', '14:00', '14:30', '15:00', '16:00'].map((t) => local(day, t));
    assert.deepEqual(await slotTimes(pub(), q, 'before expiry'), grid.filter((s) => !heldAt.includes(s)));

    const last = Math.max(...[H1, H2, H3, H4, H6, C1, C2].map((h) => Date.parse(h.expiresAt)));
    await sleep(Math.max(0, last - Date.now() + 1000));

    // The check and the grid see through them (whether or not a worker purged them yet).
    assert.deepEqual(await check(pub(), { scheduledAt: local(day, '10:30'), durationMinutes: 30, providerId: p.id }), { available: true }, 'check after expiry');
    assert.deepEqual(await slotTimes(pub(), q, 'after expiry'), grid.filter((s) => s !== R.scheduledAt), 'free slots offer every held time again');
    // A booking goes over H1 at once.
    const A = await bookOk(ctx, pub(), { contactId: ctx.pubContact.id, providerId: p.id, scheduledAt: local(day, '10:00'), durationMinutes: 30 }, 'booking over an expired hold');
    // DELETE of an expired hold → 404.
    expectError(await release(pub(), H2.holdId), 404, 'not_found', undefined, 'DELETE an expired hold');
    // Its holdId: books normally, a new appointment.
    const B = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: local(day, '15:00'), durationMinutes: 30, holdId: H3.holdId }, 'booking with an expired holdId');
    assert.notEqual(B.id, H3.holdId, 'not a conversion');
    // A hold goes over H4, a reschedule over H6.
    const H5 = await holdOk(pub(), { providerId: p.id, scheduledAt: local(day, '16:00'), durationMinutes: 30 }, 'a hold over an expired hold');
    const rs = await ctx.api('POST', `/api/appointments/${R.id}/reschedule`, { key: admin(), body: { scheduledAt: local(day, '14:00') } });
    const R2 = expectStatus(rs, 200, 'a reschedule over an expired hold').appointment;
    assert.deepEqual(await slotTimes(pub(), q, 'at the end'), grid.filter((s) => !['10:00', '14:00', '15:00', '16:00'].map((t) => local(day, t)).includes(s)));
    await releaseOk(pub(), H5.holdId);
    for (const h of [H1, H2, H3, H4, H6]) {
      const trail = await auditEntries(ctx, admin(), { entityId: h.holdId });
      assert.deepEqual(trail.map((x) => x.action), ['hold.created'], 'expiry is not audited, and nothing was converted or released');
    }
    assert.deepEqual((await listAll(ctx, admin(), { providerId: p.id, status: 'confirmed' })).all.map((x) => x.id), [A.id, R2.id, B.id]);

    // Expired holds no longer count toward the public cap: one hold over both, and one more.
    const C3 = await holdOk(org.publicKey, { scheduledAt: local(day, '09:00'), durationMinutes: 60 }, 'a public hold over both expired ones', own);
    const C4 = await holdOk(org.publicKey, { scheduledAt: local(day, '11:00'), durationMinutes: 30 }, 'a second unexpired one', own);
    expectError(await hold(org.publicKey, { scheduledAt: local(day, '12:00'), durationMinutes: 30 }, own), 429, 'rate_limited', undefined, 'at the cap again');
    for (const h of [C3, C4]) await releaseOk(org.publicKey, h.holdId, 'release', own);

    // Each expired hold counted once.
    const seen = await waitUntil(async () => {
      const d = holdDeltas(m0, await scrape());
      const dc = holdDeltas(c0, await scrapeCapped());
      return d.expired + dc.expired >= 7 ? { d, dc } : { ok: false, seen: { d, dc } };
    }, { timeoutMs: 5000, what: 'seven expired holds counted' });
    assert.equal(seen.d.expired + seen.dc.expired, 7, `seven expired holds in all: ${JSON.stringify(seen)}`);
    assert.deepEqual({ ...seen.d, expired: 0 }, { held: 6, converted: 0, expired: 0, released: 1, conflict: 1 }, 'this server');
    assert.deepEqual({ ...seen.dc, expired: 0 }, { held: 4, converted: 0, expired: 0, released: 2, conflict: 0 }, 'the capped server (a 429 is no conflict)');
    stopped = true;
    await stopAndCheckLogs(own, mine);
  } finally {
    if (!stopped) await capped.stop();
  }
}, { timeout: 90_000 });

ctest('SIGTERM stops bookd; its log holds no keys and no personal data', async () => {
  await stopAndCheckLogs(ctx, secrets);
});
