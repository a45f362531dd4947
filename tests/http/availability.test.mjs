// Availability: the advisory check and the free-slot grid, including time
// zones and a daylight-saving gap (API.md, "Check" and "Free slots").

import {
  assert, ctest, useServer, createOrg, createContact, createProvider, createService, expectStatus, expectError,
  bookOk, listAll, rnd,
} from './lib/harness.mjs';
import { zonedToUtc, localParts, nextWeekday, todayIn, addDays, lastSundayOfMarch, weekdayOf, MINUTE } from './lib/time.mjs';

const TZ = 'Asia/Tokyo'; // +09:00, no daylight saving
const LONDON = 'Europe/London';
const ctx = useServer({
  setup: async (c) => {
    c.org = await createOrg(c, { timezone: TZ });
    c.london = await createOrg(c, { timezone: LONDON });
    c.contact = await createContact(c, c.org.adminKey, { name: `Slot Seeker ${rnd()}` });
    c.londonContact = await createContact(c, c.london.adminKey, { name: `Londoner ${rnd()}` });
  },
});
const admin = () => ctx.org.adminKey;
const pub = () => ctx.org.publicKey;
const local = (date, time, tz = TZ) => zonedToUtc(date, time, tz).toISOString();

const toMin = (hhmm) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
const fmt = (m) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

/**
 * Independent oracle for GET /api/availability: wall-clock grid of `step`
 * from each window's start; the appointment must end inside its window; its
 * buffered range must not overlap `busy` ([startMs, endMs) buffered ranges);
 * nonexistent local times are skipped; starts before notBefore are dropped.
 */
function expectedSlots({ date, tz, windows, step, dur, bb = 0, ba = 0, busy = [], notBefore = -Infinity }) {
  const out = [];
  for (const [ws, we] of windows) {
    const windowEnd = zonedToUtc(date, we, tz).getTime();
    for (let m = toMin(ws); m < toMin(we); m += step) {
      const start = zonedToUtc(date, fmt(m), tz);
      const lp = localParts(start, tz);
      if (lp.time !== fmt(m) || lp.date !== date) continue; // daylight-saving gap
      const s = start.getTime();
      if (s + dur * MINUTE > windowEnd) continue;
      if (s < notBefore) continue;
      const bs = s - bb * MINUTE;
      const be = s + (dur + ba) * MINUTE;
      if (busy.some(([x, y]) => bs < y && x < be)) continue;
      out.push({ scheduledAt: start.toISOString(), durationMinutes: dur });
    }
  }
  return out.sort((a, b) => (a.scheduledAt < b.scheduledAt ? -1 : a.scheduledAt > b.scheduledAt ? 1 : 0));
}

async function slots(key, query, what) {
  const res = await ctx.api('GET', '/api/availability', { key, query });
  expectStatus(res, 200, what || `slots ${JSON.stringify(query)}`);
  return res.body;
}

ctest('check: available true/false; conflictingAppointment has no id for the public key, has it for admin', async () => {
  const p = await createProvider(ctx, admin());
  const p2 = await createProvider(ctx, admin());
  const day = nextWeekday(TZ, 'mon', 14);
  const A = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: local(day, '10:00'), durationMinutes: 60 });
  const check = async (key, query, what) => {
    const res = await ctx.api('GET', '/api/availability/check', { key, query });
    expectStatus(res, 200, what);
    return res.body;
  };
  assert.deepEqual(
    await check(pub(), { scheduledAt: local(day, '10:30'), durationMinutes: 30, providerId: p.id }, 'public, overlapping'),
    { available: false, conflictingAppointment: { scheduledAt: A.scheduledAt, durationMinutes: 60 } },
  );
  assert.deepEqual(
    await check(admin(), { scheduledAt: local(day, '10:30'), durationMinutes: 30, providerId: p.id }, 'admin, overlapping'),
    { available: false, conflictingAppointment: { id: A.id, scheduledAt: A.scheduledAt, durationMinutes: 60 } },
  );
  // Offsets in the query, touching ranges, other providers, the default provider.
  // Existing appointments' buffers count.
  const svc = await createService(ctx, admin(), { durationMinutes: 30, bufferAfterMinutes: 30 });
  const S = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p2.id, serviceId: svc.id, scheduledAt: local(day, '13:00') });
  assert.deepEqual(
    await check(pub(), { scheduledAt: local(day, '13:45'), durationMinutes: 15, providerId: p2.id }, 'inside the after-buffer'),
    { available: false, conflictingAppointment: { scheduledAt: S.scheduledAt, durationMinutes: 30 } },
  );
  assert.deepEqual(await check(pub(), { scheduledAt: local(day, '14:00'), durationMinutes: 15, providerId: p2.id }), { available: true }, 'after the buffer');
  const off = await check(pub(), { scheduledAt: `${day}T10:15:00+09:00`, durationMinutes: 5, providerId: p.id }, 'offset form');
  assert.equal(off.available, false);
  assert.deepEqual(await check(pub(), { scheduledAt: local(day, '11:00'), durationMinutes: 30, providerId: p.id }), { available: true });
  assert.deepEqual(await check(pub(), { scheduledAt: local(day, '09:30'), durationMinutes: 30, providerId: p.id }), { available: true });
  assert.deepEqual(await check(pub(), { scheduledAt: local(day, '10:30'), durationMinutes: 30, providerId: p2.id }), { available: true });
  assert.deepEqual(await check(pub(), { scheduledAt: local(day, '10:30'), durationMinutes: 30 }), { available: true }, 'default provider is free');
  const dflt = await bookOk(ctx, admin(), { contactId: ctx.contact.id, scheduledAt: local(day, '15:00'), durationMinutes: 30 });
  assert.deepEqual(
    await check(pub(), { scheduledAt: local(day, '15:15'), durationMinutes: 30 }),
    { available: false, conflictingAppointment: { scheduledAt: dflt.scheduledAt, durationMinutes: 30 } },
    'providerId defaults to the default provider',
  );
  // Advisory only: nothing was booked by checking; cancelling frees the slot.
  const { all } = await listAll(ctx, admin(), { providerId: p.id });
  assert.equal(all.length, 1);
  expectStatus(await ctx.api('POST', `/api/appointments/${A.id}/cancel`, { key: admin(), body: {} }), 200);
  assert.deepEqual(await check(pub(), { scheduledAt: local(day, '10:30'), durationMinutes: 30, providerId: p.id }), { available: true }, 'after cancel');
});

ctest('check: bad or missing parameters → 400 naming the parameter; no key → 401', async () => {
  const at = local(nextWeekday(TZ, 'mon', 14), '10:00');
  const cases = [
    [{ durationMinutes: 30 }, 'scheduledAt'],
    [{ scheduledAt: at }, 'durationMinutes'],
    [{ scheduledAt: at, durationMinutes: 0 }, 'durationMinutes'],
    [{ scheduledAt: at, durationMinutes: 1441 }, 'durationMinutes'],
    [{ scheduledAt: at, durationMinutes: 'x' }, 'durationMinutes'],
    [{ scheduledAt: '2031-01-01T10:00:00', durationMinutes: 30 }, 'scheduledAt'],
    [{ scheduledAt: 'soon', durationMinutes: 30 }, 'scheduledAt'],
    [{ scheduledAt: at, durationMinutes: 30, providerId: 'abc' }, 'providerId'],
  ];
  for (const [query, field] of cases) {
    expectError(await ctx.api('GET', '/api/availability/check', { key: pub(), query }), 400, 'invalid_request', field, JSON.stringify(query));
  }
  expectError(await ctx.api('GET', '/api/availability/check', { query: { scheduledAt: at, durationMinutes: 30 } }), 401, 'unauthorized');
});

ctest('free slots: wall-clock grid per window, durations fit, booked ranges excluded, sorted, timezone echoed', async () => {
  const date = nextWeekday(TZ, 'wed', 14);
  const windows = [['09:00', '12:00'], ['13:00', '15:00']];
  const p = await createProvider(ctx, admin(), { workingHours: { wed: windows } });
  const B = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: local(date, '10:00'), durationMinutes: 30 });
  const busy = [[Date.parse(B.scheduledAt), Date.parse(B.scheduledAt) + 30 * MINUTE]];

  const body = await slots(pub(), { date, providerId: p.id, durationMinutes: 30 });
  assert.equal(body.date, date);
  assert.equal(body.timezone, TZ);
  // Written out by hand once (09:45, 10:00 and 10:15 overlap 10:00-10:30; 11:30 is the last start that fits).
  const hand = ['09:00', '09:15', '09:30', '10:30', '10:45', '11:00', '11:15', '11:30', '13:00', '13:15', '13:30', '13:45', '14:00', '14:15', '14:30'];
  assert.deepEqual(body.slots, hand.map((t) => ({ scheduledAt: local(date, t), durationMinutes: 30 })));
  assert.deepEqual(body.slots, expectedSlots({ date, tz: TZ, windows, step: 15, dur: 30, busy }), 'the oracle agrees');

  for (const step of [5, 60, 240]) {
    const b = await slots(pub(), { date, providerId: p.id, durationMinutes: 30, stepMinutes: step });
    assert.deepEqual(b.slots, expectedSlots({ date, tz: TZ, windows, step, dur: 30, busy }), `stepMinutes ${step}`);
  }
  const s60 = await slots(pub(), { date, providerId: p.id, durationMinutes: 30, stepMinutes: 60 });
  assert.deepEqual(s60.slots.map((s) => localParts(s.scheduledAt, TZ).time), ['09:00', '11:00', '13:00', '14:00']);

  // With a service: its duration and buffers count.
  const svc = await createService(ctx, admin(), { durationMinutes: 30, bufferBeforeMinutes: 15, bufferAfterMinutes: 15 });
  const withSvc = await slots(admin(), { date, providerId: p.id, serviceId: svc.id });
  const hand2 = ['09:00', '09:15', '10:45', '11:00', '11:15', '11:30', '13:00', '13:15', '13:30', '13:45', '14:00', '14:15', '14:30'];
  assert.deepEqual(withSvc.slots, hand2.map((t) => ({ scheduledAt: local(date, t), durationMinutes: 30 })));
  assert.deepEqual(withSvc.slots, expectedSlots({ date, tz: TZ, windows, step: 15, dur: 30, bb: 15, ba: 15, busy }));

  // The grid starts at each window's start, not on the hour.
  const q = await createProvider(ctx, admin(), { workingHours: { wed: [['09:10', '10:00'], ['10:20', '10:50']] } });
  const qs = await slots(pub(), { date, providerId: q.id, durationMinutes: 15 });
  assert.deepEqual(qs.slots.map((x) => localParts(x.scheduledAt, TZ).time), ['09:10', '09:25', '09:40', '10:20', '10:35']);

  // A day without working hours has no slots; a long duration fits nowhere.
  assert.deepEqual((await slots(pub(), { date: addDays(date, 1), providerId: p.id, durationMinutes: 30 })).slots, []);
  assert.deepEqual((await slots(pub(), { date, providerId: p.id, durationMinutes: 181 })).slots, []);
  const whole = await slots(pub(), { date, providerId: p.id, durationMinutes: 120, stepMinutes: 60 });
  assert.deepEqual(whole.slots, [{ scheduledAt: local(date, '13:00'), durationMinutes: 120 }], 'only the afternoon window holds 120 min');
});

ctest('free slots: the default provider (Mon–Fri 09:00–17:00) is used when providerId is omitted', async () => {
  const mon = nextWeekday(TZ, 'mon', 21);
  const b = await slots(pub(), { date: mon, durationMinutes: 60, stepMinutes: 60 });
  assert.deepEqual(
    b.slots.map((s) => localParts(s.scheduledAt, TZ).time),
    ['09:00', '10:00', '11:00', '12:00', '13:00', '14:00', '15:00', '16:00'],
  );
  const noon = await bookOk(ctx, admin(), { contactId: ctx.contact.id, scheduledAt: local(mon, '12:00'), durationMinutes: 60 });
  const b2 = await slots(pub(), { date: mon, durationMinutes: 60, stepMinutes: 60 });
  assert.ok(!b2.slots.some((s) => s.scheduledAt === local(mon, '12:00')), 'the booked hour is gone');
  assert.equal(b2.slots.length, 7);
  expectStatus(await ctx.api('POST', `/api/appointments/${noon.id}/cancel`, { key: admin(), body: {} }), 200);
  const b3 = await slots(pub(), { date: mon, durationMinutes: 60, stepMinutes: 60 });
  assert.deepEqual(b3.slots, b.slots, 'a cancelled appointment frees its slot');
  const sat = nextWeekday(TZ, 'sat', 21);
  assert.deepEqual((await slots(pub(), { date: sat, durationMinutes: 30 })).slots, []);
});

ctest('free slots: times in the past are left out', async () => {
  const windows = [['00:00', '23:45']];
  const all7 = Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, windows]));
  const p = await createProvider(ctx, admin(), { workingHours: all7 });
  const today = todayIn(TZ);
  const tBefore = Date.now();
  const b = await slots(pub(), { date: today, providerId: p.id, durationMinutes: 15 });
  const tAfter = Date.now();
  const grid = expectedSlots({ date: today, tz: TZ, windows, step: 15, dur: 15 });
  const got = new Set(b.slots.map((s) => s.scheduledAt));
  for (const s of b.slots) {
    assert.ok(grid.some((g) => g.scheduledAt === s.scheduledAt), `${s.scheduledAt} is on the grid`);
    assert.ok(Date.parse(s.scheduledAt) >= tBefore - 1000, `${s.scheduledAt} is in the past`);
  }
  for (const g of grid) {
    if (Date.parse(g.scheduledAt) > tAfter + 1000) assert.ok(got.has(g.scheduledAt), `future slot ${g.scheduledAt} missing`);
  }
  assert.deepEqual((await slots(pub(), { date: addDays(today, -1), providerId: p.id, durationMinutes: 15 })).slots, [], 'yesterday');
  const tomorrow = addDays(today, 1);
  const tb = await slots(pub(), { date: tomorrow, providerId: p.id, durationMinutes: 15 });
  assert.equal(tb.slots.length, 95, 'tomorrow: 00:00 to 23:30 every 15 min');
  assert.deepEqual(tb.slots, expectedSlots({ date: tomorrow, tz: TZ, windows, step: 15, dur: 15 }));
});

ctest('free slots: bad or missing parameters → 400 naming the parameter', async () => {
  const date = nextWeekday(TZ, 'wed', 14);
  const cases = [
    [{ providerId: ctx.org.defaultProviderId, durationMinutes: 30 }, 'date'],
    [{ date: '2031-02-30', durationMinutes: 30 }, 'date'],
    [{ date: '2031/03/05', durationMinutes: 30 }, 'date'],
    [{ date: `${date}T00:00:00Z`, durationMinutes: 30 }, 'date'],
    [{ date }, ['durationMinutes', 'serviceId']],
    [{ date, durationMinutes: 0 }, 'durationMinutes'],
    [{ date, durationMinutes: 'long' }, 'durationMinutes'],
    [{ date, durationMinutes: 30, stepMinutes: 4 }, 'stepMinutes'],
    [{ date, durationMinutes: 30, stepMinutes: 241 }, 'stepMinutes'],
    [{ date, durationMinutes: 30, stepMinutes: 'x' }, 'stepMinutes'],
    [{ date, durationMinutes: 30, providerId: 'not-a-uuid' }, 'providerId'],
    [{ date, serviceId: 'not-a-uuid' }, 'serviceId'],
  ];
  for (const [query, field] of cases) {
    expectError(await ctx.api('GET', '/api/availability', { key: pub(), query }), 400, 'invalid_request', field, JSON.stringify(query));
  }
});

ctest('availability never answers for another organization’s provider', async () => {
  const date = nextWeekday(TZ, 'wed', 14);
  const foreign = ctx.london.defaultProviderId;
  const at = local(date, '10:00');
  const s = await ctx.api('GET', '/api/availability', { key: pub(), query: { date, providerId: foreign, durationMinutes: 30 } });
  assert.ok([400, 404].includes(s.status), `slots of a foreign provider: expected 400 or 404, got ${s.status} ${s.raw.slice(0, 200)}`);
  const c = await ctx.api('GET', '/api/availability/check', { key: pub(), query: { scheduledAt: at, durationMinutes: 30, providerId: foreign } });
  assert.ok([400, 404].includes(c.status), `check of a foreign provider: expected 400 or 404, got ${c.status} ${c.raw.slice(0, 200)}`);
});

ctest('daylight saving (Europe/London spring forward): no slot at the missing 01:00–01:59', async () => {
  // The next last Sunday of March that is still ahead (2026-03-29 has passed on some clocks).
  let year = new Date().getUTCFullYear();
  let day = lastSundayOfMarch(year);
  if (day <= todayIn(LONDON)) day = lastSundayOfMarch(++year);
  assert.equal(weekdayOf(day), 'sun');
  // Sanity of the test's own clock data: 00:59 is GMT and 02:00 is BST that day.
  assert.equal(local(day, '00:30', LONDON), `${day}T00:30:00.000Z`);
  assert.equal(local(day, '02:00', LONDON), `${day}T01:00:00.000Z`);

  const windows = [['00:00', '04:00']];
  const p = await createProvider(ctx, ctx.london.adminKey, { workingHours: { sun: windows } });
  const b = await slots(ctx.london.publicKey, { date: day, providerId: p.id, durationMinutes: 30, stepMinutes: 30 });
  assert.equal(b.timezone, LONDON);
  assert.equal(b.date, day);
  // Local 00:00, 00:30 (GMT) then 02:00..03:30 (BST): 00:00Z 00:30Z 01:00Z 01:30Z 02:00Z 02:30Z.
  assert.deepEqual(
    b.slots.map((s) => s.scheduledAt),
    ['00:00', '00:30', '01:00', '01:30', '02:00', '02:30'].map((t) => `${day}T${t}:00.000Z`),
  );
  for (const s of b.slots) assert.notEqual(localParts(s.scheduledAt, LONDON).hour, 1, `${s.scheduledAt} is a local 01:xx that does not exist`);
  assert.deepEqual(b.slots, expectedSlots({ date: day, tz: LONDON, windows, step: 30, dur: 30 }), 'the oracle agrees');
  const hourly = await slots(ctx.london.publicKey, { date: day, providerId: p.id, durationMinutes: 60, stepMinutes: 60 });
  assert.deepEqual(hourly.slots.map((s) => s.scheduledAt), ['00:00', '01:00', '02:00'].map((t) => `${day}T${t}:00.000Z`));

  // A summer Sunday (BST all day): local 00:00 is 23:00Z the day before.
  let july = `${year}-07-01`;
  while (weekdayOf(july) !== 'sun') july = addDays(july, 1);
  const summer = await slots(ctx.london.publicKey, { date: july, providerId: p.id, durationMinutes: 60, stepMinutes: 60 });
  const expectSummer = expectedSlots({ date: july, tz: LONDON, windows, step: 60, dur: 60 });
  assert.equal(expectSummer.length, 4);
  assert.deepEqual(summer.slots, expectSummer);
  assert.equal(summer.slots[0].scheduledAt, `${addDays(july, -1)}T23:00:00.000Z`, 'local midnight in BST is 23:00Z the day before');
});
