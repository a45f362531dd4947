// Concurrency over HTTP (bounded): overlapping bookings racing each other
// must never both succeed, and a storm on one slot has exactly one winner
// (DESIGN.md, "The booking protocol"). Every request has a timeout and
// every loop a fixed count.
//
// The same races run across several bookd processes on one database
// (tests/db/instances_test.sh, pgbouncer_test.sh): RACE_INSTANCES=N starts
// N servers and sends each request to the next in turn, so the two sides of
// a race reach different processes; RACE_SERVER_ENV (JSON) adds settings to
// every server; RACE_SCALE multiplies the counts; RACE_RECORD names a file
// that gets, once the tests are done, the organization's id, the ids
// answered 201 and each server's answers, for the caller to hold against
// the database.

import { writeFileSync } from 'node:fs';
import { after } from 'node:test';
import {
  assert, ctest, useServer, useServers, createOrg, createContact, createProvider, book, listAll, assertNoOverlaps, rnd,
} from './lib/harness.mjs';

// RACE_SCALE (default 1) multiplies the counts of pairs and rounds.
const SCALE = Math.max(1, Math.min(10, Number(process.env.RACE_SCALE || 1)));
const PAIRS = 200 * SCALE;
const PAIRS_IN_FLIGHT = 10;
const STORM_SIZE = 50;
const STORM_ROUNDS = 10 * SCALE;
const HOLD_PAIRS = 100 * SCALE;
const HOUR = 3_600_000;

const instances = Number(process.env.RACE_INSTANCES || 1);
const serverEnv = JSON.parse(process.env.RACE_SERVER_ENV || '{}');
const setup = async (c) => {
  c.org = await createOrg(c, { timezone: 'UTC' });
  c.contact = await createContact(c, c.org.adminKey, { name: `Racer ${rnd()}` });
  // Each server has looked the new key up before the races' bursts: a
  // burst with a key a server has not seen yet queues for its few key
  // lookups and may get 503 (src/http/auth.c, bounded_lookup), which is
  // not what these tests are about.
  for (const api of c.apis || []) {
    const res = await api('GET', `/api/contacts/${c.contact.id}`, { key: c.org.adminKey });
    assert.equal(res.status, 200, 'each server knows the key before the races');
  }
};
const ctx = instances > 1 ? useServers({ count: instances, env: serverEnv, setup }) : useServer({ env: serverEnv, setup });
const admin = () => ctx.org.adminKey;

// What was answered 201, for RACE_RECORD.
const stored = { appointments: [], holds: [] };
after(() => {
  if (!process.env.RACE_RECORD || !ctx.org) return;
  writeFileSync(process.env.RACE_RECORD, JSON.stringify({ orgId: ctx.org.id, ...stored, answered: ctx.answered || null }));
});

function describeRes(r) {
  return r.status === 201 ? '201' : `${r.status} ${r.body && r.body.error}`;
}

function isLoser(r) {
  return r.status === 409 && r.body && (r.body.error === 'slot_unavailable' || r.body.error === 'slot_busy');
}

ctest(`overlap race: ${PAIRS} pairs (T+60 min vs T+30 for 30 min) sent together never both succeed`, async (t) => {
  const p = await createProvider(ctx, admin());
  const base = Date.UTC(2034, 0, 2, 0, 0);
  const problems = [];
  let wins = 0;
  let busy = 0;
  for (let batch = 0; batch < PAIRS / PAIRS_IN_FLIGHT; batch++) {
    await Promise.all(
      Array.from({ length: PAIRS_IN_FLIGHT }, async (_, j) => {
        const i = batch * PAIRS_IN_FLIGHT + j;
        const T = base + i * 3 * HOUR;
        const [a, b] = await Promise.all([
          book(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: new Date(T).toISOString(), durationMinutes: 60 }),
          book(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: new Date(T + HOUR / 2).toISOString(), durationMinutes: 30 }),
        ]);
        const ok = [a, b].filter((r) => r.status === 201);
        wins += ok.length;
        stored.appointments.push(...ok.map((r) => r.body.appointmentId));
        busy += [a, b].filter((r) => r.status === 409 && r.body && r.body.error === 'slot_busy').length;
        if (ok.length === 2) problems.push(`pair ${i}: both booked (${a.body.appointmentId}, ${b.body.appointmentId})`);
        for (const [r, other] of [[a, b], [b, a]]) {
          if (r.status !== 201 && !isLoser(r)) problems.push(`pair ${i}: unexpected ${describeRes(r)} ${r.raw.slice(0, 200)}`);
          if (r.status === 409 && r.body.error === 'slot_unavailable') {
            const winner = other.status === 201 ? other.body.appointmentId : null;
            if (!r.body.conflictingAppointment || r.body.conflictingAppointment.id !== winner) {
              problems.push(`pair ${i}: conflict names ${JSON.stringify(r.body.conflictingAppointment)} but the winner is ${winner}`);
            }
          }
        }
        if (ok.length === 0 && ![a, b].some((r) => r.body && r.body.error === 'slot_busy')) {
          problems.push(`pair ${i}: nobody booked (${describeRes(a)}, ${describeRes(b)})`);
        }
      }),
    );
  }
  t.diagnostic(`pairs: ${PAIRS}, bookings: ${wins}, slot_busy: ${busy}`);
  assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problems in ${PAIRS} pairs`);
  const { all } = await listAll(ctx, admin(), { providerId: p.id, limit: 500 });
  const confirmed = all.filter((a) => a.status === 'confirmed');
  assert.equal(confirmed.length, wins, 'every 201 is stored, nothing else');
  assert.ok(wins >= PAIRS - busy, `${wins} bookings for ${PAIRS} pairs (${busy} slot_busy)`);
  assertNoOverlaps(all);
}, { timeout: 180_000 });

ctest(`slot storm: ${STORM_ROUNDS} rounds of ${STORM_SIZE} concurrent bookings of one slot → exactly one 201 each`, async (t) => {
  const p = await createProvider(ctx, admin());
  const base = Date.UTC(2034, 6, 1, 9, 0);
  const problems = [];
  const winners = [];
  const tally = {};
  for (let round = 0; round < STORM_ROUNDS; round++) {
    const at = new Date(base + round * 2 * HOUR).toISOString();
    const results = await Promise.all(
      Array.from({ length: STORM_SIZE }, () =>
        book(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: at, durationMinutes: 60 }, {}),
      ),
    );
    const ok = results.filter((r) => r.status === 201);
    if (ok.length !== 1) problems.push(`round ${round}: ${ok.length} bookings succeeded`);
    const winner = ok.length ? ok[0].body.appointmentId : null;
    if (winner) winners.push(winner);
    stored.appointments.push(...ok.map((r) => r.body.appointmentId));
    for (const r of results) {
      const k = describeRes(r);
      tally[k] = (tally[k] || 0) + 1;
      if (r.status === 201) continue;
      if (!isLoser(r)) {
        problems.push(`round ${round}: unexpected ${describeRes(r)} ${r.raw.slice(0, 200)}`);
        continue;
      }
      if (r.body.error === 'slot_unavailable' && (!r.body.conflictingAppointment || r.body.conflictingAppointment.id !== winner)) {
        problems.push(`round ${round}: conflict names ${JSON.stringify(r.body.conflictingAppointment)}, winner ${winner}`);
      }
      if (r.body.error === 'slot_busy' && !r.headers['retry-after']) problems.push(`round ${round}: slot_busy without Retry-After`);
    }
  }
  t.diagnostic(`storm outcomes: ${JSON.stringify(tally)}`);
  assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problems`);
  const { all } = await listAll(ctx, admin(), { providerId: p.id, limit: 500 });
  assert.deepEqual(all.map((a) => a.id).sort(), winners.slice().sort(), 'exactly the winners are stored');
  assertNoOverlaps(all);
}, { timeout: 180_000 });

ctest(`hold against booking: ${HOLD_PAIRS} pairs (a hold T+60 min vs a booking T+30 for 30 min) sent together never both succeed`, async (t) => {
  const p = await createProvider(ctx, admin());
  const base = Date.UTC(2035, 0, 2, 0, 0);
  const problems = [];
  const tally = { hold: 0, booking: 0, busy: 0 };
  const booked = [];
  // Only times in the answers about a hold (never whose).
  const timesOf = (h) => ({ scheduledAt: h.scheduledAt, durationMinutes: h.durationMinutes, expiresAt: h.expiresAt });
  for (let batch = 0; batch < HOLD_PAIRS / PAIRS_IN_FLIGHT; batch++) {
    await Promise.all(
      Array.from({ length: PAIRS_IN_FLIGHT }, async (_, j) => {
        const i = batch * PAIRS_IN_FLIGHT + j;
        const T = base + i * 3 * HOUR;
        // The longest hold, so that none expires before the checks.
        const [h, b] = await Promise.all([
          ctx.api('POST', '/api/holds', { key: admin(), body: { providerId: p.id, scheduledAt: new Date(T).toISOString(), durationMinutes: 60, ttlSeconds: 900 } }),
          book(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: new Date(T + HOUR / 2).toISOString(), durationMinutes: 30 }),
        ]);
        if (h.status === 201 && b.status === 201) problems.push(`pair ${i}: both succeeded (hold ${h.body.holdId}, booking ${b.body.appointmentId})`);
        for (const r of [h, b]) {
          if (r.status !== 201 && !isLoser(r)) problems.push(`pair ${i}: unexpected ${describeRes(r)} ${r.raw.slice(0, 200)}`);
          if (r.status === 409 && r.body.error === 'slot_busy') tally.busy++;
        }
        if (h.status === 201) {
          tally.hold++;
          stored.holds.push(h.body.holdId);
          if (b.status === 409 && b.body.error === 'slot_unavailable' && JSON.stringify(b.body.conflictingHold) !== JSON.stringify(timesOf(h.body))) {
            problems.push(`pair ${i}: the booking's conflict names ${JSON.stringify(b.body.conflictingHold)}, the hold is ${JSON.stringify(timesOf(h.body))}`);
          }
        }
        if (b.status === 201) {
          tally.booking++;
          booked.push(b.body.appointmentId);
          stored.appointments.push(b.body.appointmentId);
          if (h.status === 409 && h.body.error === 'slot_unavailable' && !(h.body.conflictingAppointment && h.body.conflictingAppointment.id === b.body.appointmentId)) {
            problems.push(`pair ${i}: the hold's conflict names ${h.raw.slice(0, 200)}, the booking is ${b.body.appointmentId}`);
          }
        }
        if (h.status !== 201 && b.status !== 201 && ![h, b].some((r) => r.body && r.body.error === 'slot_busy')) {
          problems.push(`pair ${i}: neither succeeded (${describeRes(h)}, ${describeRes(b)})`);
        }
      }),
    );
  }
  t.diagnostic(`pairs: ${HOLD_PAIRS}, outcomes: ${JSON.stringify(tally)}`);
  assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problems in ${HOLD_PAIRS} pairs`);
  const { all } = await listAll(ctx, admin(), { providerId: p.id, limit: 500 });
  assert.deepEqual(all.map((a) => a.id).sort(), booked.slice().sort(), 'exactly the bookings answered 201 are stored');
  assert.ok(tally.hold + tally.booking >= HOLD_PAIRS - tally.busy, `${tally.hold + tally.booking} winners for ${HOLD_PAIRS} pairs (${tally.busy} slot_busy)`);
}, { timeout: 180_000 });
