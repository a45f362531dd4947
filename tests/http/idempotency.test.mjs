// Idempotency-Key on POST /api/appointments and on reschedule (API.md,
// "Book", "Reschedule"): byte-identical replays, 422 on a different body,
// stored conflicts, unstored 400s, keys per organization and per kind of
// key, concurrent twins.

import {
  assert, ctest, useServer, createOrg, createContact, createProvider, expectStatus, expectError, bookOk, listAll,
  auditEntries, rnd,
} from './lib/harness.mjs';
import { nextWeekday, zonedToUtc, iso } from './lib/time.mjs';

const ctx = useServer({
  setup: async (c) => {
    c.org = await createOrg(c, { timezone: 'UTC' });
    c.other = await createOrg(c, { timezone: 'UTC' });
    c.contact = await createContact(c, c.org.adminKey, { name: `Idem Potent ${rnd()}` });
    c.otherContact = await createContact(c, c.other.adminKey, { name: `Idem Other ${rnd()}` });
  },
});
const admin = () => ctx.org.adminKey;

function post(key, raw, idemKey, path = '/api/appointments') {
  const headers = idemKey === undefined ? {} : { 'Idempotency-Key': idemKey };
  return ctx.api('POST', path, { key, rawBody: raw, headers });
}
const replayed = (res) => String(res.headers['idempotent-replayed'] || '').toLowerCase() === 'true';

ctest('same key, same JSON value (other key order and white space) → same status, byte-identical body, Idempotent-Replayed: true', async () => {
  const p = await createProvider(ctx, admin());
  const key = `book-${rnd(8)}`;
  const at = '2032-02-02T10:00:00Z';
  const raw1 = JSON.stringify({ contactId: ctx.contact.id, providerId: p.id, scheduledAt: at, durationMinutes: 30, notes: 'n', metadata: { a: 1, b: [1, 2] } });
  const raw2 = `{\n  "metadata" : { "b" : [ 1 , 2 ], "a" : 1 },\t"notes":"n", "durationMinutes": 30,\r\n "scheduledAt":"${at}", "providerId":"${p.id}", "contactId": "${ctx.contact.id}" }  `;
  const r1 = await post(admin(), raw1, key);
  expectStatus(r1, 201);
  assert.ok(!replayed(r1), 'the first answer is not marked as a replay');
  const r2 = await post(admin(), raw2, key);
  expectStatus(r2, 201, 'replay');
  assert.ok(replayed(r2), `Idempotent-Replayed: true on the replay (headers ${JSON.stringify(r2.headers)})`);
  assert.equal(r2.raw, r1.raw, 'byte-identical body');
  const r3 = await post(admin(), raw1, key);
  assert.equal(r3.status, 201);
  assert.equal(r3.raw, r1.raw, 'third time too');
  assert.ok(replayed(r3));
  const { all } = await listAll(ctx, admin(), { providerId: p.id });
  assert.deepEqual(all.map((a) => a.id), [r1.body.appointmentId], 'one appointment only');
  const audit = await auditEntries(ctx, admin(), { entityId: r1.body.appointmentId });
  assert.equal(audit.filter((e) => e.action === 'appointment.booked').length, 1, 'one audit entry');
});

ctest('the stored answer is replayed as it was, even after the appointment was cancelled', async () => {
  const p = await createProvider(ctx, admin());
  const key = `later-${rnd(8)}`;
  const raw = JSON.stringify({ contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2032-02-10T10:00:00Z', durationMinutes: 30 });
  const r1 = await post(admin(), raw, key);
  expectStatus(r1, 201);
  expectStatus(await ctx.api('POST', `/api/appointments/${r1.body.appointmentId}/cancel`, { key: admin(), body: {} }), 200);
  const r2 = await post(admin(), raw, key);
  assert.equal(r2.status, 201);
  assert.equal(r2.raw, r1.raw, 'the first answer, byte for byte (status confirmed as it was then)');
  assert.ok(replayed(r2));
  const { all } = await listAll(ctx, admin(), { providerId: p.id });
  assert.equal(all.length, 1, 'no second booking of the freed slot');
  assert.equal(all[0].status, 'cancelled');
});

ctest('same key with a different body → 422 idempotency_key_reused, nothing booked', async () => {
  const p = await createProvider(ctx, admin());
  const key = `reuse-${rnd(8)}`;
  const body = { contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2032-02-03T10:00:00Z', durationMinutes: 30 };
  expectStatus(await post(admin(), JSON.stringify(body), key), 201);
  for (const changed of [
    { ...body, scheduledAt: '2032-02-03T12:00:00Z' },
    { ...body, durationMinutes: 31 },
    { ...body, notes: 'x' },
  ]) {
    const res = await post(admin(), JSON.stringify(changed), key);
    expectError(res, 422, 'idempotency_key_reused', undefined, JSON.stringify(changed));
  }
  const { all } = await listAll(ctx, admin(), { providerId: p.id });
  assert.equal(all.length, 1);
});

ctest('a 409 slot_unavailable outcome is stored and replayed, even after the slot frees up', async () => {
  const p = await createProvider(ctx, admin());
  const X = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2032-02-04T10:00:00Z', durationMinutes: 60 });
  const key = `conflict-${rnd(8)}`;
  const raw = JSON.stringify({ contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2032-02-04T10:30:00Z', durationMinutes: 30 });
  const r1 = await post(admin(), raw, key);
  expectError(r1, 409, 'slot_unavailable');
  expectStatus(await ctx.api('POST', `/api/appointments/${X.id}/cancel`, { key: admin(), body: {} }), 200);
  const r2 = await post(admin(), raw, key);
  assert.equal(r2.status, 409, `replayed conflict, got ${r2.status} ${r2.raw}`);
  assert.equal(r2.raw, r1.raw, 'byte-identical');
  assert.ok(replayed(r2), 'Idempotent-Replayed: true');
  const { all } = await listAll(ctx, admin(), { providerId: p.id, status: 'confirmed' });
  assert.deepEqual(all, [], 'the replay booked nothing');
});

ctest('a 400 is not stored: the same key may then be used with a corrected body', async () => {
  const p = await createProvider(ctx, admin());
  const key = `fixme-${rnd(8)}`;
  const bad = { contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2032-02-05T10:00:00Z', durationMinutes: 0 };
  expectError(await post(admin(), JSON.stringify(bad), key), 400, 'invalid_request', 'durationMinutes');
  const good = { ...bad, durationMinutes: 30 };
  const r = await post(admin(), JSON.stringify(good), key);
  expectStatus(r, 201, 'corrected body with the same key');
  assert.ok(!replayed(r));
});

ctest('Idempotency-Key: empty, 256 characters or a control character → 400; 255 characters → accepted', async () => {
  const p = await createProvider(ctx, admin());
  const raw = JSON.stringify({ contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2032-02-06T10:00:00Z', durationMinutes: 30 });
  for (const [label, k] of [['empty', ''], ['256 chars', 'k'.repeat(256)], ['tab inside', 'ab\tcd']]) {
    expectError(await post(admin(), raw, k), 400, 'invalid_request', undefined, label);
  }
  const { all } = await listAll(ctx, admin(), { providerId: p.id });
  assert.equal(all.length, 0, 'refused keys booked nothing');
  const k255 = `${rnd(8)}${'x'.repeat(239)}`;
  assert.equal(k255.length, 255);
  const r = await post(admin(), raw, k255);
  expectStatus(r, 201, '255-character key');
  const again = await post(admin(), raw, k255);
  assert.equal(again.raw, r.raw);
  assert.ok(replayed(again));
});

ctest('keys are per organization: the same key in another organization books there', async () => {
  const key = `shared-${rnd(8)}`;
  const p = await createProvider(ctx, admin());
  const r1 = await post(admin(), JSON.stringify({ contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2032-02-07T10:00:00Z', durationMinutes: 30 }), key);
  expectStatus(r1, 201);
  const r2 = await post(ctx.other.adminKey, JSON.stringify({ contactId: ctx.otherContact.id, scheduledAt: '2032-02-07T10:00:00Z', durationMinutes: 45 }), key);
  expectStatus(r2, 201, 'other organization, same key, other body');
  assert.ok(!replayed(r2));
  assert.notEqual(r2.body.appointmentId, r1.body.appointmentId);
  assert.equal(r2.body.appointment.durationMinutes, 45);
});

ctest('20 concurrent requests with one key → 20 identical answers, 19 replays, one appointment', async () => {
  const p = await createProvider(ctx, admin());
  const key = `storm-${rnd(8)}`;
  const raw = JSON.stringify({ contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2032-02-08T10:00:00Z', durationMinutes: 30 });
  const results = await Promise.all(Array.from({ length: 20 }, () => post(admin(), raw, key)));
  const statuses = results.map((r) => r.status);
  assert.ok(statuses.every((s) => s === 201), `all 201: ${statuses}`);
  const bodies = new Set(results.map((r) => r.raw));
  assert.equal(bodies.size, 1, `identical bodies, got ${bodies.size} different`);
  assert.equal(results.filter(replayed).length, 19, 'exactly one original answer');
  const { all } = await listAll(ctx, admin(), { providerId: p.id });
  assert.equal(all.length, 1, 'exactly one appointment');
  assert.equal(all[0].id, results[0].body.appointmentId);
}, { timeout: 60_000 });

ctest('reschedule accepts Idempotency-Key: the replay moves nothing twice', async () => {
  const p = await createProvider(ctx, admin());
  const A = await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: '2032-02-09T10:00:00Z', durationMinutes: 30 });
  const key = `move-${rnd(8)}`;
  const raw = JSON.stringify({ scheduledAt: '2032-02-09T11:00:00Z' });
  const r1 = await post(admin(), raw, key, `/api/appointments/${A.id}/reschedule`);
  expectStatus(r1, 200);
  const r2 = await post(admin(), ' { "scheduledAt" : "2032-02-09T11:00:00Z" } ', key, `/api/appointments/${A.id}/reschedule`);
  assert.equal(r2.status, 200, `replay, not 409 invalid_state: ${r2.status} ${r2.raw}`);
  assert.equal(r2.raw, r1.raw);
  assert.ok(replayed(r2));
  const { all } = await listAll(ctx, admin(), { providerId: p.id });
  assert.equal(all.length, 2, 'old (rescheduled) + one new');
  assert.deepEqual(all.map((a) => a.status).sort(), ['confirmed', 'rescheduled']);
});

ctest('keys are scoped to the kind of key too: a public key never replays the admin key\'s answer, each kind replays its own byte for byte', async () => {
  const key = `kind-${rnd(8)}`;
  const day = nextWeekday('UTC', 'tue'); // a Tuesday ahead, inside 09:00-17:00 UTC
  const raw = JSON.stringify({ contactId: ctx.contact.id, scheduledAt: iso(zonedToUtc(day, '10:00', 'UTC')), durationMinutes: 30 });
  const a1 = await post(admin(), raw, key);
  expectStatus(a1, 201, 'admin books');
  const p1 = await post(ctx.org.publicKey, raw, key);
  assert.ok(!replayed(p1), 'the public key is not given the admin key\'s stored answer');
  expectError(p1, 409, 'slot_unavailable', undefined, 'the public request was a booking attempt of its own');
  assert.ok(!('id' in p1.body.conflictingAppointment), 'and it is answered as a public key is: no ids');
  const p2 = await post(ctx.org.publicKey, raw, key);
  assert.ok(replayed(p2), 'the public key replays its own answer');
  assert.equal(p2.status, 409);
  assert.equal(p2.raw, p1.raw, 'byte for byte');
  const a2 = await post(admin(), raw, key);
  assert.ok(replayed(a2), 'the admin key still replays its own');
  assert.equal(a2.status, 201);
  assert.equal(a2.raw, a1.raw, 'byte for byte');
});
