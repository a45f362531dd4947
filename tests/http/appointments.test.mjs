// Booking, conflicts, buffers, reading, listing, cancelling and
// rescheduling appointments (API.md, "Appointments"), key scopes, other
// organizations' ids, and the audit trail of all of it.

import {
  assert, ctest, useServer, createOrg, createContact, createProvider, createService, expectStatus, expectError,
  book, bookOk, listAll, auditEntries, stopAndCheckLogs, byTimeThenId, rnd, UUID_RE, randomUUID,
} from './lib/harness.mjs';
import { ISO_MS_Z, zonedToUtc, nextWeekday, previousWeekday } from './lib/time.mjs';

const TZ = 'America/New_York';
const secrets = [];
const ctx = useServer({
  setup: async (c) => {
    c.org = await createOrg(c, { timezone: TZ });
    c.other = await createOrg(c, { timezone: 'UTC' });
    secrets.push(c.adminToken, c.org.adminKey, c.org.publicKey, c.org.vapiSecret, c.other.adminKey, c.other.publicKey);
    c.contact = await createContact(c, c.org.adminKey, { name: `Grace Hopper ${rnd()}`, phone: '+12025550123' });
    c.otherContact = await createContact(c, c.other.adminKey, { name: `Other Person ${rnd()}` });
    secrets.push(c.contact.name, c.otherContact.name);
  },
});
const admin = () => ctx.org.adminKey;
const pub = () => ctx.org.publicKey;
const local = (date, time) => zonedToUtc(date, time, TZ).toISOString();

async function provider(body = {}) {
  return createProvider(ctx, admin(), body);
}

ctest('metadata numbers come back as written (0.1 stays 0.1, 2^53 - 1 stays exact)', async () => {
  const metadata = { price: 0.1, ratio: 12.5, big: 9007199254740991, nested: { a: [1, -2.75, 'x'] } };
  const res = await book(ctx, admin(), {
    contactId: ctx.contact.id, scheduledAt: '2031-07-07T10:00:00Z', durationMinutes: 15, metadata,
  });
  const b = expectStatus(res, 201);
  assert.deepEqual(b.appointment.metadata, metadata);
  assert.ok(!res.raw.includes('0.10000000000000001'), `no float noise: ${res.raw}`);
  const got = await ctx.api('GET', `/api/appointments/${b.appointmentId}`, { key: admin() });
  assert.deepEqual(expectStatus(got, 200).metadata, metadata);
  assert.ok(got.raw.includes('"price":0.1') && got.raw.includes('9007199254740991'), got.raw);
});

ctest('book → 201 {appointmentId, appointment} with the documented shape and toISOString times', async () => {
  const p = await provider();
  const before = Date.now();
  const res = await book(ctx, admin(), {
    contactId: ctx.contact.id,
    providerId: p.id,
    scheduledAt: '2031-03-04T15:00:00+02:00',
    durationMinutes: 30,
  });
  const b = expectStatus(res, 201);
  assert.match(b.appointmentId, UUID_RE);
  const a = b.appointment;
  assert.equal(a.id, b.appointmentId);
  assert.equal(a.providerId, p.id);
  assert.equal(a.contactId, ctx.contact.id);
  assert.equal(a.serviceId, null);
  assert.equal(a.scheduledAt, '2031-03-04T13:00:00.000Z', 'offset converted to UTC, toISOString form');
  assert.equal(a.durationMinutes, 30);
  assert.equal(a.status, 'confirmed');
  assert.equal(a.notes, null);
  assert.deepEqual(a.metadata, {});
  assert.match(a.createdAt, ISO_MS_Z);
  assert.ok(Math.abs(Date.parse(a.createdAt) - before) < 120_000, `createdAt ${a.createdAt} is now`);
  assert.equal(a.cancelledAt, null);
  assert.equal(a.rescheduledTo, null);
  for (const [input, expected] of [
    ['2031-03-04T10:30:00.000-05:00', '2031-03-04T15:30:00.000Z'],
    ['2031-03-04T17:00:00.5Z', '2031-03-04T17:00:00.500Z'],
  ]) {
    const r = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: input, durationMinutes: 15 }, input);
    assert.equal(r.scheduledAt, expected, `scheduledAt ${input}`);
  }
});

ctest('durationMinutes bounds: 1 and 1440 are accepted', async () => {
  const p = await provider();
  const one = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2031-03-10T00:00:00Z', durationMinutes: 1 });
  assert.equal(one.durationMinutes, 1);
  const day = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2031-03-10T00:01:00Z', durationMinutes: 1440 });
  assert.equal(day.durationMinutes, 1440);
  const e = expectError(await book(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2031-03-11T00:00:00Z', durationMinutes: 1 }), 409, 'slot_unavailable', undefined, 'the last minute of the 1440');
  assert.equal(e.conflictingAppointment.id, day.id);
  await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2031-03-11T00:01:00Z', durationMinutes: 1 }, 'right after it');
});

ctest('Content-Type parameters and case do not matter; a chunked body is read', async () => {
  const p = await provider();
  let minute = 0;
  const body = () => ({ contactId: ctx.contact.id, providerId: p.id, scheduledAt: `2031-03-12T10:${String((minute += 10)).padStart(2, '0')}:00Z`, durationMinutes: 5 });
  for (const contentType of ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'Application/JSON']) {
    const res = await ctx.api('POST', '/api/appointments', { key: admin(), body: body(), contentType });
    expectStatus(res, 201, `Content-Type: ${contentType}`);
  }
  const res = await ctx.api('POST', '/api/appointments', { key: admin(), body: { ...body(), notes: 'x'.repeat(1500) }, chunked: true });
  expectStatus(res, 201, 'Transfer-Encoding: chunked');
  assert.equal(res.body.appointment.notes.length, 1500);
});

ctest('the default provider is used when providerId is omitted', async () => {
  const a = await bookOk(ctx, admin(), { contactId: ctx.contact.id, scheduledAt: '2031-03-05T02:00:00Z', durationMinutes: 20 });
  assert.equal(a.providerId, ctx.org.defaultProviderId);
});

ctest('notes and metadata are stored as given (2000 characters of notes, counted as characters)', async () => {
  const p = await provider();
  const notes = 'é'.repeat(2000); // 2000 characters, 4000 bytes of UTF-8
  const metadata = { source: 'web', n: 1, nested: { list: [1, 'two', null, true] }, emoji: 'café ☕' };
  const a = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2031-03-06T10:00:00Z', durationMinutes: 30, notes, metadata });
  assert.equal(a.notes, notes);
  assert.deepEqual(a.metadata, metadata);
  const got = await ctx.api('GET', `/api/appointments/${a.id}`, { key: admin() });
  expectStatus(got, 200);
  assert.deepEqual(got.body, a);
});

ctest('durationMinutes defaults to the service’s; an explicit one wins; without either → 400', async () => {
  const p = await provider();
  const s = await createService(ctx, admin(), { durationMinutes: 45 });
  const a = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, serviceId: s.id, scheduledAt: '2031-03-07T10:00:00Z' });
  assert.equal(a.durationMinutes, 45);
  assert.equal(a.serviceId, s.id);
  const b = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, serviceId: s.id, scheduledAt: '2031-03-07T12:00:00Z', durationMinutes: 20 });
  assert.equal(b.durationMinutes, 20);
  const res = await book(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2031-03-07T14:00:00Z' });
  expectError(res, 400, 'invalid_request', 'durationMinutes');
});

ctest('overlap → 409 slot_unavailable with conflictingAppointment {id, scheduledAt, durationMinutes}; touching is fine', async () => {
  const p = await provider();
  const p2 = await provider();
  const c = ctx.contact.id;
  const A = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-04-01T10:00:00Z', durationMinutes: 60 });
  for (const [at, dur] of [['2031-04-01T10:30:00Z', 30], ['2031-04-01T09:30:00Z', 60], ['2031-04-01T10:00:00Z', 60], ['2031-04-01T09:00:00Z', 180], ['2031-04-01T10:59:00Z', 1]]) {
    const res = await book(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: at, durationMinutes: dur });
    const e = expectError(res, 409, 'slot_unavailable', undefined, `${at} +${dur}`);
    assert.deepEqual(e.conflictingAppointment, { id: A.id, scheduledAt: A.scheduledAt, durationMinutes: 60 });
  }
  // Touching ranges do not conflict; another provider is another calendar.
  await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-04-01T11:00:00Z', durationMinutes: 30 }, 'touching after');
  await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-04-01T09:00:00Z', durationMinutes: 60 }, 'touching before');
  await bookOk(ctx, admin(), { contactId: c, providerId: p2.id, scheduledAt: '2031-04-01T10:00:00Z', durationMinutes: 60 }, 'other provider');
  const { all } = await listAll(ctx, admin(), { providerId: p.id });
  assert.equal(all.length, 3, 'the 409s booked nothing');
  const audit = await auditEntries(ctx, admin(), { entityId: A.id });
  assert.deepEqual(audit.map((e) => e.action), ['appointment.booked'], 'conflicts add no audit entry');
});

ctest('public key: conflictingAppointment carries times only, no ids', async () => {
  const p = await provider(); // default hours Mon-Fri 09:00-17:00
  const day = nextWeekday(TZ, 'tue', 14);
  const X = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: local(day, '10:00'), durationMinutes: 60 });
  const pc = await createContact(ctx, pub(), { name: `Walk In ${rnd()}` });
  secrets.push(pc.name);
  const res = await book(ctx, pub(), { contactId: pc.id, providerId: p.id, scheduledAt: local(day, '10:30'), durationMinutes: 30 });
  const e = expectError(res, 409, 'slot_unavailable');
  assert.deepEqual(e.conflictingAppointment, { scheduledAt: X.scheduledAt, durationMinutes: 60 });
  assert.ok(!res.raw.includes(X.id), 'no appointment id in the answer');
  assert.ok(!res.raw.includes(ctx.contact.id) && !res.raw.includes(ctx.contact.name), 'nothing about the other contact');
});

ctest('buffers: [scheduledAt - before, end + after) must not overlap, both ways', async () => {
  const p = await provider();
  const c = ctx.contact.id;
  const s = await createService(ctx, admin(), { durationMinutes: 30, bufferBeforeMinutes: 15, bufferAfterMinutes: 10 });
  const S = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, serviceId: s.id, scheduledAt: '2031-05-01T12:00:00Z' });
  assert.equal(S.durationMinutes, 30);
  // S occupies [11:45, 12:40).
  let e = expectError(await book(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-05-01T12:35:00Z', durationMinutes: 10 }), 409, 'slot_unavailable', undefined, 'inside the after-buffer');
  assert.equal(e.conflictingAppointment.id, S.id);
  e = expectError(await book(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-05-01T11:20:00Z', durationMinutes: 30 }), 409, 'slot_unavailable', undefined, 'into the before-buffer');
  assert.equal(e.conflictingAppointment.id, S.id);
  await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-05-01T12:40:00Z', durationMinutes: 20 }, 'touching the after-buffer');
  await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-05-01T11:15:00Z', durationMinutes: 30 }, 'touching the before-buffer');
  // The new booking's own buffers count too: plain 14:00-14:30 then a buffered one.
  const plain = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-05-01T14:00:00Z', durationMinutes: 30 });
  e = expectError(await book(ctx, admin(), { contactId: c, providerId: p.id, serviceId: s.id, scheduledAt: '2031-05-01T14:40:00Z' }), 409, 'slot_unavailable', undefined, 'own before-buffer overlaps');
  assert.equal(e.conflictingAppointment.id, plain.id);
  e = expectError(await book(ctx, admin(), { contactId: c, providerId: p.id, serviceId: s.id, scheduledAt: '2031-05-01T13:25:00Z' }), 409, 'slot_unavailable', undefined, 'own after-buffer overlaps');
  assert.equal(e.conflictingAppointment.id, plain.id);
  await bookOk(ctx, admin(), { contactId: c, providerId: p.id, serviceId: s.id, scheduledAt: '2031-05-01T14:45:00Z' }, 'own before-buffer touches');
});

ctest('GET /api/appointments/{id} → 200; unknown or malformed id → 404', async () => {
  const p = await provider();
  const a = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2031-05-02T10:00:00Z', durationMinutes: 30 });
  const res = await ctx.api('GET', `/api/appointments/${a.id}`, { key: admin() });
  expectStatus(res, 200);
  assert.deepEqual(res.body, a);
  for (const id of [randomUUID(), 'nope', a.id.toUpperCase().replace(/-/g, ''), `${a.id}x`]) {
    expectError(await ctx.api('GET', `/api/appointments/${id}`, { key: admin() }), 404, 'not_found', undefined, id);
  }
});

ctest('list: from ≤ scheduledAt < to, status, providerId, and cursor pages ordered by (scheduledAt, id)', async () => {
  const L1 = await provider();
  const L2 = await provider();
  const c = ctx.contact.id;
  const mk = (p, t, d = 30) => bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: `2033-01-10T${t}:00Z`, durationMinutes: d });
  const a = {};
  for (const t of ['09:00', '10:00', '11:00', '12:00', '13:00']) a[`1-${t}`] = await mk(L1, t);
  for (const t of ['09:00', '10:00', '11:30', '14:00']) a[`2-${t}`] = await mk(L2, t);
  const cancel = await ctx.api('POST', `/api/appointments/${a['1-12:00'].id}/cancel`, { key: admin(), body: {} });
  expectStatus(cancel, 200);
  a['1-12:00'] = cancel.body;
  const rs = await ctx.api('POST', `/api/appointments/${a['2-14:00'].id}/reschedule`, { key: admin(), body: { scheduledAt: '2033-01-10T15:00:00Z' } });
  expectStatus(rs, 200);
  a['2-15:00'] = rs.body.appointment;
  a['2-14:00'] = (await ctx.api('GET', `/api/appointments/${a['2-14:00'].id}`, { key: admin() })).body;
  const everything = Object.values(a).sort(byTimeThenId);
  const window = { from: '2033-01-10T00:00:00Z', to: '2033-01-11T00:00:00Z' };

  // Walk with a small page size.
  const { all, pages } = await listAll(ctx, admin(), { ...window, limit: 3 });
  assert.ok(pages.every((pg) => pg.length <= 3), `pages of at most 3: ${pages.map((p) => p.length)}`);
  assert.equal(pages.length, 4, `10 rows in pages of 3 → 4 pages, got ${pages.map((p) => p.length)}`);
  assert.equal(new Set(all.map((x) => x.id)).size, all.length, 'no duplicates across pages');
  assert.deepEqual(all, everything, 'every appointment once, ordered by scheduledAt then id, as stored');

  // One page with everything, and limit=1 walking.
  const one = await ctx.api('GET', '/api/appointments', { key: admin(), query: { ...window } });
  expectStatus(one, 200);
  assert.deepEqual(one.body.appointments, everything);
  assert.equal(one.body.nextCursor, null);
  const walk1 = await listAll(ctx, admin(), { ...window, limit: 1 });
  assert.deepEqual(walk1.all.map((x) => x.id), everything.map((x) => x.id));

  // from inclusive, to exclusive; offsets accepted.
  const ids = (list) => list.map((x) => x.id);
  const r1 = await listAll(ctx, admin(), { from: '2033-01-10T10:00:00Z', to: '2033-01-10T12:00:00Z' });
  assert.deepEqual(ids(r1.all), ids([a['1-10:00'], a['2-10:00'], a['1-11:00'], a['2-11:30']].sort(byTimeThenId)));
  const r2 = await listAll(ctx, admin(), { from: '2033-01-10T11:00:00+01:00', to: '2033-01-10T07:00:00-05:00' });
  assert.deepEqual(ids(r2.all), ids(r1.all), 'from/to with offsets');

  // status and providerId filters.
  const st = async (status) => ids((await listAll(ctx, admin(), { ...window, status })).all);
  assert.deepEqual(await st('cancelled'), [a['1-12:00'].id]);
  assert.deepEqual(await st('rescheduled'), [a['2-14:00'].id]);
  assert.deepEqual(await st('confirmed'), ids(everything.filter((x) => x.status === 'confirmed')));
  assert.equal((await st('confirmed')).length, 8);
  const byProv = await listAll(ctx, admin(), { ...window, providerId: L2.id, limit: 2 });
  assert.deepEqual(ids(byProv.all), ids(everything.filter((x) => x.providerId === L2.id)));
  assert.equal(byProv.all.length, 5);
  const combo = await listAll(ctx, admin(), { ...window, providerId: L1.id, status: 'confirmed', limit: 2 });
  assert.deepEqual(ids(combo.all), ids(everything.filter((x) => x.providerId === L1.id && x.status === 'confirmed')));

  // The cursor marks a position, not an offset: a booking inserted before it
  // mid-walk causes no duplicate and no gap.
  const first = await ctx.api('GET', '/api/appointments', { key: admin(), query: { ...window, limit: 4 } });
  expectStatus(first, 200);
  assert.deepEqual(ids(first.body.appointments), ids(everything.slice(0, 4)));
  assert.match(first.body.nextCursor, /^[A-Za-z0-9_-]+$/, 'the cursor is base64url without padding: nothing to encode in a URL');
  const qs = Object.entries({ ...window, limit: 4 }).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  const pasted = await ctx.api('GET', `/api/appointments?${qs}&cursor=${first.body.nextCursor}`, { key: admin() });
  expectStatus(pasted, 200, 'the cursor pasted into the URL unencoded');
  assert.deepEqual(ids(pasted.body.appointments), ids(everything.slice(4, 8)));
  expectError(await ctx.api('GET', `/api/appointments?cursor=${first.body.nextCursor}%2B`, { key: admin() }), 400, 'invalid_request', 'cursor');
  const early = await mk(L2, '08:00');
  const rest = await listAll(ctx, admin(), { ...window, limit: 4, cursor: first.body.nextCursor });
  assert.deepEqual(ids(rest.all), ids(everything.slice(4)), 'the remaining pages after the cursor are exactly the rest');
  assert.ok(!ids(rest.all).includes(early.id));
});

ctest('list: contactId → only that contact\'s appointments (with the other filters and pages); another organization\'s contact → none; malformed → 400', async () => {
  const p = await provider();
  const c2 = await createContact(ctx, admin(), { name: `Second Patient ${rnd()}` });
  const mk = (c, t) => bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: `2033-02-14T${t}:00Z`, durationMinutes: 30 });
  const mine = [await mk(ctx.contact.id, '09:00'), await mk(ctx.contact.id, '11:00'), await mk(ctx.contact.id, '13:00')];
  const theirs = [await mk(c2.id, '10:00'), await mk(c2.id, '12:00')];
  const window = { from: '2033-02-14T00:00:00Z', to: '2033-02-15T00:00:00Z' };
  const ids = (list) => list.map((x) => x.id);
  const of = async (contactId, extra = {}) => ids((await listAll(ctx, admin(), { ...window, contactId, ...extra })).all);
  assert.deepEqual(await of(c2.id), ids(theirs));
  assert.deepEqual(await of(ctx.contact.id, { limit: 1 }), ids(mine), 'pages of one, the cursor keeps the filter');
  assert.deepEqual(await of(ctx.contact.id, { providerId: p.id, status: 'confirmed' }), ids(mine));
  assert.deepEqual(await of(ctx.otherContact.id), [], 'another organization\'s contact: nothing');
  expectError(await ctx.api('GET', '/api/appointments', { key: admin(), query: { contactId: 'nope' } }), 400, 'invalid_request', 'contactId');
});

ctest('cancel → 200 cancelled with cancelledAt; again → 200 unchanged; the slot is free at once', async () => {
  const p = await provider();
  const c = ctx.contact.id;
  const a = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-07-01T10:00:00Z', durationMinutes: 60, notes: 'keep me' });
  const t0 = Date.now();
  const r1 = await ctx.api('POST', `/api/appointments/${a.id}/cancel`, { key: admin(), body: { reason: 'patient called' } });
  const x = expectStatus(r1, 200);
  assert.equal(x.status, 'cancelled');
  assert.match(x.cancelledAt, ISO_MS_Z);
  assert.ok(Math.abs(Date.parse(x.cancelledAt) - t0) < 120_000, 'cancelledAt is now');
  assert.deepEqual({ ...x, status: 'confirmed', cancelledAt: null }, a, 'nothing else changes');
  const r2 = await ctx.api('POST', `/api/appointments/${a.id}/cancel`, { key: admin(), body: {} });
  expectStatus(r2, 200, 'cancelling again');
  assert.deepEqual(r2.body, x, 'cancelling again changes nothing (same cancelledAt)');
  const got = await ctx.api('GET', `/api/appointments/${a.id}`, { key: admin() });
  assert.deepEqual(got.body, x);
  await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-07-01T10:00:00Z', durationMinutes: 60 }, 'the freed slot');
  const audit = await auditEntries(ctx, admin(), { entityId: a.id });
  assert.equal(audit.filter((e) => e.action === 'appointment.cancelled').length, 1, `one appointment.cancelled entry: ${JSON.stringify(audit)}`);
  expectError(await ctx.api('POST', `/api/appointments/${randomUUID()}/cancel`, { key: admin(), body: {} }), 404, 'not_found');
});

ctest('cancel with an invalid body → 400 and the appointment stays confirmed', async () => {
  const p = await provider();
  const a = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2031-07-02T10:00:00Z', durationMinutes: 30 });
  expectError(await ctx.api('POST', `/api/appointments/${a.id}/cancel`, { key: admin(), body: { reason: 'r'.repeat(2001) } }), 400, 'invalid_request', 'reason', 'reason of 2001 characters');
  expectError(await ctx.api('POST', `/api/appointments/${a.id}/cancel`, { key: admin(), body: { reason: 7 } }), 400, 'invalid_request', 'reason', 'reason as a number');
  expectError(await ctx.api('POST', `/api/appointments/${a.id}/cancel`, { key: admin(), rawBody: '{"reason":' }), 400, 'invalid_request', undefined, 'malformed JSON');
  const got = await ctx.api('GET', `/api/appointments/${a.id}`, { key: admin() });
  assert.deepEqual(got.body, a, 'still confirmed');
  const audit = await auditEntries(ctx, admin(), { entityId: a.id });
  assert.ok(!audit.some((e) => e.action === 'appointment.cancelled'), 'no cancel audited');
});

ctest('reschedule → 200 {appointmentId, previousAppointmentId, appointment}; the old one becomes rescheduled', async () => {
  const p = await provider();
  const c = ctx.contact.id;
  const s = await createService(ctx, admin(), { durationMinutes: 60 });
  const meta = { ref: `R-${rnd()}` };
  const R = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, serviceId: s.id, scheduledAt: '2031-06-02T10:00:00Z', notes: 'bring x-rays', metadata: meta });
  // Overlapping its own old range is fine.
  const res = await ctx.api('POST', `/api/appointments/${R.id}/reschedule`, { key: admin(), body: { scheduledAt: '2031-06-02T10:30:00Z' } });
  const b = expectStatus(res, 200);
  assert.match(b.appointmentId, UUID_RE);
  assert.notEqual(b.appointmentId, R.id);
  assert.equal(b.previousAppointmentId, R.id);
  const N = b.appointment;
  assert.equal(N.id, b.appointmentId);
  assert.deepEqual(
    { ...N, id: R.id, createdAt: R.createdAt },
    { ...R, scheduledAt: '2031-06-02T10:30:00.000Z' },
    'contact, provider, service, duration, notes and metadata carry over; status confirmed',
  );
  const old = await ctx.api('GET', `/api/appointments/${R.id}`, { key: admin() });
  expectStatus(old, 200);
  assert.deepEqual(old.body, { ...R, status: 'rescheduled', rescheduledTo: N.id });

  // The old range is free (apart from the new appointment's part of it).
  await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-06-02T09:30:00Z', durationMinutes: 60 }, 'old range, touching the new one');

  // Audit: rescheduled under the old id (naming the new id), booked under the new id.
  const ao = await auditEntries(ctx, admin(), { entityId: R.id });
  const re = ao.filter((e) => e.action === 'appointment.rescheduled');
  assert.equal(re.length, 1, `appointment.rescheduled under the old id: ${JSON.stringify(ao)}`);
  assert.ok(JSON.stringify(re[0].details).includes(N.id), 'its details name the new id');
  const an = await auditEntries(ctx, admin(), { entityId: N.id });
  assert.equal(an.filter((e) => e.action === 'appointment.booked').length, 1, `appointment.booked under the new id: ${JSON.stringify(an)}`);

  // A rescheduled appointment can be neither rescheduled nor cancelled.
  expectError(await ctx.api('POST', `/api/appointments/${R.id}/reschedule`, { key: admin(), body: { scheduledAt: '2031-06-02T16:00:00Z' } }), 409, 'invalid_state', undefined, 'reschedule a rescheduled one');
  expectError(await ctx.api('POST', `/api/appointments/${R.id}/cancel`, { key: admin(), body: {} }), 409, 'invalid_state', undefined, 'cancel a rescheduled one');
  const again = await ctx.api('GET', `/api/appointments/${R.id}`, { key: admin() });
  assert.deepEqual(again.body, old.body, 'the failed requests changed nothing');
});

ctest('reschedule into a conflict → 409 slot_unavailable and nothing changes', async () => {
  const p = await provider();
  const c = ctx.contact.id;
  const A = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-06-03T10:00:00Z', durationMinutes: 60 });
  const Q = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-06-03T13:00:00Z', durationMinutes: 60 });
  const before = await listAll(ctx, admin(), { providerId: p.id });
  const auditBefore = await auditEntries(ctx, admin());
  const res = await ctx.api('POST', `/api/appointments/${A.id}/reschedule`, { key: admin(), body: { scheduledAt: '2031-06-03T12:30:00Z' } });
  const e = expectError(res, 409, 'slot_unavailable');
  assert.deepEqual(e.conflictingAppointment, { id: Q.id, scheduledAt: Q.scheduledAt, durationMinutes: 60 });
  const after = await listAll(ctx, admin(), { providerId: p.id });
  assert.deepEqual(after.all, before.all, 'no appointment changed or appeared');
  assert.deepEqual(await auditEntries(ctx, admin()), auditBefore, 'no audit entry');
});

ctest('reschedule keeps the service’s buffers: the new buffered range must fit', async () => {
  const p = await provider();
  const c = ctx.contact.id;
  const s = await createService(ctx, admin(), { durationMinutes: 30, bufferAfterMinutes: 30 });
  const A = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, serviceId: s.id, scheduledAt: '2031-06-05T10:00:00Z' });
  const B = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-06-05T11:00:00Z', durationMinutes: 30 }, 'touching A’s after-buffer');
  // Moving A to 10:15 makes its buffered range [10:15, 11:15) overlap B.
  const res = await ctx.api('POST', `/api/appointments/${A.id}/reschedule`, { key: admin(), body: { scheduledAt: '2031-06-05T10:15:00Z' } });
  const e = expectError(res, 409, 'slot_unavailable');
  assert.equal(e.conflictingAppointment.id, B.id);
  assert.deepEqual((await ctx.api('GET', `/api/appointments/${A.id}`, { key: admin() })).body, A, 'A unchanged');
  const ok = await ctx.api('POST', `/api/appointments/${A.id}/reschedule`, { key: admin(), body: { scheduledAt: '2031-06-05T09:45:00Z' } });
  expectStatus(ok, 200, 'earlier, the buffer ends 10:45');
  assert.equal(ok.body.appointment.serviceId, s.id);
});

ctest('reschedule with durationMinutes and providerId; cancelled → 409 invalid_state; bad input → 400/404', async () => {
  const p = await provider();
  const p2 = await provider();
  const c = ctx.contact.id;
  const A = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-06-04T10:00:00Z', durationMinutes: 60 });
  const res = await ctx.api('POST', `/api/appointments/${A.id}/reschedule`, { key: admin(), body: { scheduledAt: '2031-06-04T10:00:00Z', durationMinutes: 15, providerId: p2.id } });
  const b = expectStatus(res, 200);
  assert.equal(b.appointment.providerId, p2.id);
  assert.equal(b.appointment.durationMinutes, 15);
  assert.equal(b.appointment.scheduledAt, '2031-06-04T10:00:00.000Z');
  // The old provider's slot is free.
  await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-06-04T10:00:00Z', durationMinutes: 60 }, 'old provider free');

  const C = await bookOk(ctx, admin(), { contactId: c, providerId: p.id, scheduledAt: '2031-06-04T14:00:00Z', durationMinutes: 30 });
  expectStatus(await ctx.api('POST', `/api/appointments/${C.id}/cancel`, { key: admin(), body: {} }), 200);
  expectError(await ctx.api('POST', `/api/appointments/${C.id}/reschedule`, { key: admin(), body: { scheduledAt: '2031-06-04T15:00:00Z' } }), 409, 'invalid_state', undefined, 'reschedule a cancelled one');

  const N = b.appointment;
  expectError(await ctx.api('POST', `/api/appointments/${N.id}/reschedule`, { key: admin(), body: {} }), 400, 'invalid_request', 'scheduledAt', 'missing scheduledAt');
  expectError(await ctx.api('POST', `/api/appointments/${N.id}/reschedule`, { key: admin(), body: { scheduledAt: '2031-06-04T15:00:00' } }), 400, 'invalid_request', 'scheduledAt', 'no offset');
  expectError(await ctx.api('POST', `/api/appointments/${N.id}/reschedule`, { key: admin(), body: { scheduledAt: '2031-06-04T15:00:00Z', durationMinutes: 0 } }), 400, 'invalid_request', 'durationMinutes');
  expectError(await ctx.api('POST', `/api/appointments/${N.id}/reschedule`, { key: admin(), body: { scheduledAt: '2031-06-04T15:00:00Z', providerId: randomUUID() } }), 400, 'invalid_request', 'providerId');
  expectError(await ctx.api('POST', `/api/appointments/${randomUUID()}/reschedule`, { key: admin(), body: { scheduledAt: '2031-06-04T15:00:00Z' } }), 404, 'not_found');
  const still = await ctx.api('GET', `/api/appointments/${N.id}`, { key: admin() });
  assert.deepEqual(still.body, N, 'failed reschedules changed nothing');
});

ctest('public key: inside working hours and in the future only (400 otherwise); admin may book anything', async () => {
  const p = await provider(); // Mon-Fri 09:00-17:00 America/New_York
  const pc = await createContact(ctx, pub(), { name: `Patient ${rnd()}` });
  secrets.push(pc.name);
  const wed = nextWeekday(TZ, 'wed', 14);
  const sat = nextWeekday(TZ, 'sat', 14);
  const pastTue = previousWeekday(TZ, 'tue', 7);
  const ok = async (at, dur, what) => bookOk(ctx, pub(), { contactId: pc.id, providerId: p.id, scheduledAt: at, durationMinutes: dur }, what);
  const a1 = await ok(local(wed, '09:00'), 30, 'public at opening time');
  assert.equal(a1.scheduledAt, local(wed, '09:00'));
  await ok(local(wed, '16:30'), 30, 'public ending exactly at closing time');
  const refused = [
    [local(wed, '18:00'), 30, 'after hours', 'scheduledAt'],
    [local(wed, '07:00'), 30, 'before opening', 'scheduledAt'],
    [local(wed, '16:45'), 30, 'running past closing time', ['scheduledAt', 'durationMinutes']],
    [local(wed, '08:45'), 30, 'starting before opening, ending inside', 'scheduledAt'],
    [local(sat, '10:00'), 30, 'on a closed day', 'scheduledAt'],
    [local(pastTue, '10:00'), 30, 'in the past', 'scheduledAt'],
  ];
  for (const [at, dur, what, field] of refused) {
    expectError(await book(ctx, pub(), { contactId: pc.id, providerId: p.id, scheduledAt: at, durationMinutes: dur }), 400, 'invalid_request', field, `public ${what}`);
  }
  const { all } = await listAll(ctx, admin(), { providerId: p.id });
  assert.equal(all.length, 2, 'the refused public requests booked nothing');
  const p2 = await provider(); // same hours, empty calendar
  for (const [at, dur, what] of refused) {
    await bookOk(ctx, admin(), { contactId: pc.id, providerId: p2.id, scheduledAt: at, durationMinutes: dur }, `admin ${what}`);
  }
});

ctest('public key on list, read, cancel, reschedule and audit log → 403 forbidden', async () => {
  const p = await provider();
  const a = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2031-08-01T10:00:00Z', durationMinutes: 30 });
  const cases = [
    ['GET', '/api/appointments'],
    ['GET', `/api/appointments/${a.id}`],
    ['POST', `/api/appointments/${a.id}/cancel`, {}],
    ['POST', `/api/appointments/${a.id}/reschedule`, { scheduledAt: '2031-08-01T12:00:00Z' }],
    ['GET', '/api/audit-log'],
    ['GET', `/api/contacts/${ctx.contact.id}`],
  ];
  for (const [method, path, body] of cases) {
    const res = await ctx.api(method, path, { key: pub(), body });
    expectError(res, 403, 'forbidden', undefined, `${method} ${path}`);
    assert.ok(!res.raw.includes(ctx.contact.name), 'no personal data in a 403');
  }
  const got = await ctx.api('GET', `/api/appointments/${a.id}`, { key: admin() });
  assert.deepEqual(got.body, a, 'unchanged');
});

ctest('another organization’s ids: 404 in paths, 400 in bodies; nothing leaks or changes', async () => {
  const p = await provider();
  const s = await createService(ctx, admin(), { durationMinutes: 30 });
  const A = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2031-09-01T10:00:00Z', durationMinutes: 30 });
  const B = ctx.other.adminKey;
  expectError(await ctx.api('GET', `/api/appointments/${A.id}`, { key: B }), 404, 'not_found', undefined, 'GET foreign appointment');
  expectError(await ctx.api('POST', `/api/appointments/${A.id}/cancel`, { key: B, body: {} }), 404, 'not_found', undefined, 'cancel foreign');
  expectError(await ctx.api('POST', `/api/appointments/${A.id}/reschedule`, { key: B, body: { scheduledAt: '2031-09-01T11:00:00Z' } }), 404, 'not_found', undefined, 'reschedule foreign');
  expectError(await ctx.api('GET', `/api/contacts/${ctx.contact.id}`, { key: B }), 404, 'not_found', undefined, 'GET foreign contact');
  const at = '2031-09-02T10:00:00Z';
  expectError(await book(ctx, B, { contactId: ctx.contact.id, scheduledAt: at, durationMinutes: 30 }), 400, 'invalid_request', 'contactId', 'foreign contactId');
  expectError(await book(ctx, B, { contactId: ctx.otherContact.id, providerId: p.id, scheduledAt: at, durationMinutes: 30 }), 400, 'invalid_request', 'providerId', 'foreign providerId');
  expectError(await book(ctx, B, { contactId: ctx.otherContact.id, serviceId: s.id, scheduledAt: at }), 400, 'invalid_request', 'serviceId', 'foreign serviceId');
  const own = await bookOk(ctx, B, { contactId: ctx.otherContact.id, scheduledAt: at, durationMinutes: 30 }, 'org B books for itself');
  expectError(await ctx.api('POST', `/api/appointments/${own.id}/reschedule`, { key: B, body: { scheduledAt: '2031-09-02T12:00:00Z', providerId: p.id } }), 400, 'invalid_request', 'providerId', 'reschedule onto a foreign provider');
  assert.deepEqual((await ctx.api('GET', `/api/appointments/${A.id}`, { key: admin() })).body, A, 'A unchanged');
  const listB = await listAll(ctx, B, {});
  assert.deepEqual(listB.all.map((x) => x.id), [own.id], 'B sees only its own appointment');
  const listA = await listAll(ctx, admin(), { from: '2031-09-02T00:00:00Z', to: '2031-09-03T00:00:00Z' });
  assert.deepEqual(listA.all, [], 'A does not see B’s appointment');
  const auditB = await auditEntries(ctx, B);
  assert.ok(!JSON.stringify(auditB).includes(A.id), 'B’s audit log knows nothing of A');
});

ctest('orgId in the body: the own id is accepted, another one → 403 and nothing is booked', async () => {
  const p = await provider();
  const ok = await bookOk(ctx, admin(), { orgId: ctx.org.id, contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2031-10-01T10:00:00Z', durationMinutes: 30 });
  assert.equal(ok.providerId, p.id);
  const res = await book(ctx, admin(), { orgId: ctx.other.id, contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2031-10-01T12:00:00Z', durationMinutes: 30 });
  expectError(res, 403, 'forbidden');
  const c = await ctx.api('POST', '/api/contacts', { key: admin(), body: { orgId: ctx.other.id, name: 'Wrong Org' } });
  expectError(c, 403, 'forbidden', undefined, 'contact with another orgId');
  const { all } = await listAll(ctx, admin(), { providerId: p.id });
  assert.deepEqual(all.map((x) => x.id), [ok.id]);
  const listB = await listAll(ctx, ctx.other.adminKey, { from: '2031-10-01T00:00:00Z', to: '2031-10-02T00:00:00Z' });
  assert.deepEqual(listB.all, []);
});

ctest('audit log: booked/cancelled with actor admin_key:<id> or public_key:<id>, never the key; newest first', async () => {
  const p = await provider();
  const day = nextWeekday(TZ, 'thu', 14);
  const pc = await createContact(ctx, pub(), { name: `Audited ${rnd()}` });
  secrets.push(pc.name);
  const A1 = await bookOk(ctx, admin(), { contactId: pc.id, providerId: p.id, scheduledAt: local(day, '09:00'), durationMinutes: 30 });
  const A2 = await bookOk(ctx, pub(), { contactId: pc.id, providerId: p.id, scheduledAt: local(day, '11:00'), durationMinutes: 30 });
  expectStatus(await ctx.api('POST', `/api/appointments/${A1.id}/cancel`, { key: admin(), body: {} }), 200);

  const e1 = await auditEntries(ctx, admin(), { entityId: A1.id });
  const booked1 = e1.find((e) => e.action === 'appointment.booked');
  const cancelled1 = e1.find((e) => e.action === 'appointment.cancelled');
  assert.ok(booked1 && cancelled1, `booked and cancelled entries for A1: ${JSON.stringify(e1)}`);
  assert.equal(e1[0].action, 'appointment.cancelled', 'newest first');
  const m1 = /^admin_key:([0-9a-f-]{36})$/.exec(booked1.actor);
  assert.ok(m1, `admin actor: ${booked1.actor}`);
  assert.equal(cancelled1.actor, booked1.actor);
  for (const e of e1) {
    assert.equal(e.entityType, 'appointment');
    assert.equal(e.entityId, A1.id);
    assert.match(e.at, ISO_MS_Z);
  }
  const e2 = await auditEntries(ctx, admin(), { entityId: A2.id });
  const booked2 = e2.find((e) => e.action === 'appointment.booked');
  assert.ok(booked2, `booked entry for A2: ${JSON.stringify(e2)}`);
  const m2 = /^public_key:([0-9a-f-]{36})$/.exec(booked2.actor);
  assert.ok(m2, `public actor: ${booked2.actor}`);
  assert.notEqual(m1[1], m2[1], 'two keys, two ids');

  const all = await ctx.api('GET', '/api/audit-log', { key: admin(), query: { limit: 500 } });
  expectStatus(all, 200);
  for (const k of [ctx.org.adminKey, ctx.org.publicKey, ctx.org.vapiSecret]) assert.ok(!all.raw.includes(k), 'a key in the audit log');
  assert.ok(!all.raw.includes(pc.name) && !all.raw.includes(ctx.contact.phone), 'personal data in the audit log');
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  for (const e of all.body.entries) assert.match(e.id, UUID, 'audit entry ids are lower-case UUIDs');
  assert.equal(new Set(all.body.entries.map((e) => e.id)).size, all.body.entries.length, 'audit ids are unique');
  const ats = all.body.entries.map((e) => Date.parse(e.at));
  for (let i = 1; i < ats.length; i++) assert.ok(ats[i - 1] >= ats[i], 'entries are newest first');
  const lim = await ctx.api('GET', '/api/audit-log', { key: admin(), query: { limit: 2 } });
  expectStatus(lim, 200);
  assert.equal(lim.body.entries.length, 2, 'limit is applied');
  assert.deepEqual(lim.body.entries, all.body.entries.slice(0, 2));
});

ctest('SIGTERM stops bookd; its log holds no keys and no personal data', async () => {
  await stopAndCheckLogs(ctx, secrets);
});

