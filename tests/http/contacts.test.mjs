// Contacts and the right to erasure (API.md, "Contacts").

import {
  assert, ctest, useServer, createOrg, createContact, expectStatus, expectError, bookOk, listAll, auditEntries,
  stopAndCheckLogs, rnd, digits, UUID_RE, randomUUID,
} from './lib/harness.mjs';
import { ISO_MS_Z } from './lib/time.mjs';

const secrets = [];
const ctx = useServer({
  setup: async (c) => {
    c.org = await createOrg(c, { timezone: 'Europe/London' });
    c.other = await createOrg(c, { timezone: 'Europe/London' });
    secrets.push(c.adminToken, c.org.adminKey, c.org.publicKey, c.org.vapiSecret, c.other.adminKey, c.other.publicKey);
  },
});
const admin = () => ctx.org.adminKey;

function person() {
  const tag = rnd();
  const p = { name: `Ada Quixote-${tag}`, phone: `+4477009${digits(5)}`, email: `ada.${tag}@example.org` };
  secrets.push(p.name, p.phone, p.email);
  return p;
}

ctest('POST /api/contacts → 201 {id,name,phone,email}; GET by admin returns it', async () => {
  const p = person();
  const res = await ctx.api('POST', '/api/contacts', { key: admin(), body: p });
  const c = expectStatus(res, 201);
  assert.match(c.id, UUID_RE);
  assert.deepEqual(c, { id: c.id, ...p });
  const got = await ctx.api('GET', `/api/contacts/${c.id}`, { key: admin() });
  expectStatus(got, 200);
  assert.deepEqual(got.body, c);
});

ctest('a contact with only a name has phone and email null', async () => {
  const name = `Only Name ${rnd()}`;
  secrets.push(name);
  const c = await createContact(ctx, admin(), { name });
  assert.deepEqual(c, { id: c.id, name, phone: null, email: null });
});

ctest('the public key may create a contact (booking page) but not read one → 403', async () => {
  const p = person();
  const res = await ctx.api('POST', '/api/contacts', { key: ctx.org.publicKey, body: p });
  const c = expectStatus(res, 201, 'public POST /api/contacts');
  assert.equal(c.name, p.name);
  const got = await ctx.api('GET', `/api/contacts/${c.id}`, { key: ctx.org.publicKey });
  expectError(got, 403, 'forbidden');
  assert.ok(!got.raw.includes(p.phone) && !got.raw.includes(p.email), 'the 403 reveals no personal data');
  const del = await ctx.api('DELETE', `/api/contacts/${c.id}`, { key: ctx.org.publicKey });
  expectError(del, 403, 'forbidden');
  const still = await ctx.api('GET', `/api/contacts/${c.id}`, { key: admin() });
  expectStatus(still, 200, 'the public DELETE erased nothing');
  assert.equal(still.body.phone, p.phone);
});

ctest('invalid phone → 400 field phone', async () => {
  for (const phone of ['07700900123', '+44 7700 900123', '+44-7700-900123', '+0447700900123', '+1234567890123456', '+', 447700900123, 'tel:+447700900123']) {
    const res = await ctx.api('POST', '/api/contacts', { key: admin(), body: { name: 'Bad Phone', phone } });
    expectError(res, 400, 'invalid_request', 'phone', JSON.stringify(phone));
  }
});

ctest('invalid email → 400 field email', async () => {
  for (const email of ['not-an-email', 'a@', '@example.org', 'ada.example.org', 'a b@example.org', 'a@@example.org', 'ada@', 42]) {
    const res = await ctx.api('POST', '/api/contacts', { key: admin(), body: { name: 'Bad Mail', email } });
    expectError(res, 400, 'invalid_request', 'email', JSON.stringify(email));
  }
});

ctest('missing or invalid name → 400 field name', async () => {
  for (const body of [{}, { phone: '+447700900123' }, { name: '' }, { name: 5 }, { name: ['x'] }]) {
    const res = await ctx.api('POST', '/api/contacts', { key: admin(), body });
    expectError(res, 400, 'invalid_request', 'name', JSON.stringify(body));
  }
});

ctest('GET/DELETE of an unknown, malformed or foreign contact → 404', async () => {
  const foreign = await createContact(ctx, ctx.other.adminKey, person());
  for (const id of [randomUUID(), 'abc', '12345678-1234-1234-1234-12345678901z', foreign.id]) {
    expectError(await ctx.api('GET', `/api/contacts/${id}`, { key: admin() }), 404, 'not_found', undefined, `GET ${id}`);
    expectError(await ctx.api('DELETE', `/api/contacts/${id}`, { key: admin() }), 404, 'not_found', undefined, `DELETE ${id}`);
  }
  const still = await ctx.api('GET', `/api/contacts/${foreign.id}`, { key: ctx.other.adminKey });
  expectStatus(still, 200, 'the foreign contact was not erased by another organization');
  assert.equal(still.body.name, foreign.name);
});

ctest('creating a contact is audited (contact.created) without personal data', async () => {
  const p = person();
  const c = await createContact(ctx, admin(), p);
  const entries = await auditEntries(ctx, admin(), { entityId: c.id });
  const created = entries.filter((e) => e.action === 'contact.created');
  assert.equal(created.length, 1, `one contact.created entry: ${JSON.stringify(entries)}`);
  assert.equal(created[0].entityType, 'contact');
  assert.equal(created[0].entityId, c.id);
  assert.match(created[0].actor, /^admin_key:[0-9a-f-]{36}$/);
  const text = JSON.stringify(entries);
  for (const s of [p.name, p.phone, p.email]) assert.ok(!text.includes(s), `audit contains ${s}`);
});

ctest('DELETE /api/contacts/{id}: erasure keeps the calendar, drops personal data, cancels future appointments', async () => {
  const p = person();
  const c = await createContact(ctx, admin(), p);
  const note1 = `allergic to penicillin ${rnd()}`;
  const note2 = `prefers mornings ${rnd()}`;
  const meta1 = { insurer: `Acme-${rnd()}`, member: `M-${rnd()}` };
  const meta2 = { nextOfKin: `Bob ${rnd()}` };
  secrets.push(note1, note2, ...Object.values(meta1), ...Object.values(meta2));

  // One in the past (admin may book it), one in the future, one future cancelled already.
  const past = await bookOk(ctx, admin(), { contactId: c.id, scheduledAt: '2021-03-02T10:00:00Z', durationMinutes: 30, notes: note1, metadata: meta1 }, 'past');
  const future = await bookOk(ctx, admin(), { contactId: c.id, scheduledAt: '2035-05-07T10:00:00Z', durationMinutes: 45, notes: note2, metadata: meta2 }, 'future');
  assert.equal(past.notes, note1);
  assert.deepEqual(future.metadata, meta2);
  // Another contact's appointment must be untouched.
  const bystanderPerson = person();
  const bystander = await createContact(ctx, admin(), bystanderPerson);
  const bNote = `bystander note ${rnd()}`;
  const bAppt = await bookOk(ctx, admin(), { contactId: bystander.id, scheduledAt: '2035-05-07T12:00:00Z', durationMinutes: 30, notes: bNote });

  const del = await ctx.api('DELETE', `/api/contacts/${c.id}`, { key: admin() });
  assert.equal(del.status, 204, `DELETE → 204, got ${del.status} ${del.raw}`);
  assert.equal(del.raw, '', '204 has no body');

  expectError(await ctx.api('GET', `/api/contacts/${c.id}`, { key: admin() }), 404, 'not_found', undefined, 'GET after erasure');
  expectError(await ctx.api('DELETE', `/api/contacts/${c.id}`, { key: admin() }), 404, 'not_found', undefined, 'erasing again');

  const gp = await ctx.api('GET', `/api/appointments/${past.id}`, { key: admin() });
  expectStatus(gp, 200);
  assert.deepEqual(gp.body, { ...past, notes: null, metadata: {} }, 'the past appointment keeps times, status and contactId; notes/metadata erased');

  const gf = await ctx.api('GET', `/api/appointments/${future.id}`, { key: admin() });
  expectStatus(gf, 200);
  assert.equal(gf.body.status, 'cancelled', 'future appointment cancelled');
  assert.match(String(gf.body.cancelledAt), ISO_MS_Z);
  assert.deepEqual(
    { ...gf.body, status: future.status, cancelledAt: null },
    { ...future, notes: null, metadata: {} },
    'the future appointment keeps its times and contactId',
  );

  const gb = await ctx.api('GET', `/api/appointments/${bAppt.id}`, { key: admin() });
  assert.deepEqual(gb.body, bAppt, 'another contact’s appointment is unchanged');
  const gbc = await ctx.api('GET', `/api/contacts/${bystander.id}`, { key: admin() });
  assert.deepEqual(gbc.body, bystander, 'another contact is unchanged');

  // The cancelled future slot is free again.
  await bookOk(ctx, admin(), { contactId: bystander.id, scheduledAt: '2035-05-07T10:00:00Z', durationMinutes: 45 }, 'rebook the freed slot');

  // The audit log records the erasure, without personal data.
  const entries = await auditEntries(ctx, admin(), { entityId: c.id });
  const erased = entries.filter((e) => e.action === 'contact.erased');
  assert.equal(erased.length, 1, `one contact.erased entry: ${JSON.stringify(entries)}`);
  assert.equal(erased[0].entityType, 'contact');
  assert.match(erased[0].actor, /^admin_key:[0-9a-f-]{36}$/);

  const erasedStrings = [p.name, p.phone, p.email, note1, note2, ...Object.values(meta1), ...Object.values(meta2)];
  const all = await ctx.api('GET', '/api/audit-log', { key: admin(), query: { limit: 500 } });
  expectStatus(all, 200);
  const appts = await listAll(ctx, admin(), { limit: 500 });
  const apptText = JSON.stringify(appts.all);
  assert.ok(appts.all.some((a) => a.id === past.id), 'the erased contact’s appointments are still listed');
  for (const s of erasedStrings) {
    assert.ok(!all.raw.includes(s), `GET /api/audit-log still contains ${JSON.stringify(s)}`);
    assert.ok(!apptText.includes(s), `GET /api/appointments still contains ${JSON.stringify(s)}`);
  }
  assert.ok(apptText.includes(bNote), 'the bystander’s notes are still there');
});

ctest('erasure also scrubs rescheduled and cancelled appointments; the erased contact cannot be booked again', async () => {
  const p = person();
  const c = await createContact(ctx, admin(), p);
  const notes = `moved once ${rnd()}`;
  const cnotes = `cancelled one ${rnd()}`;
  const meta = { secretCode: `S-${rnd()}` };
  secrets.push(notes, cnotes, meta.secretCode);
  const a = await bookOk(ctx, admin(), { contactId: c.id, scheduledAt: '2035-06-04T10:00:00Z', durationMinutes: 30, notes, metadata: meta });
  const rs = await ctx.api('POST', `/api/appointments/${a.id}/reschedule`, { key: admin(), body: { scheduledAt: '2035-06-04T11:00:00Z' } });
  expectStatus(rs, 200);
  const moved = rs.body.appointment;
  assert.equal(moved.notes, notes, 'notes carried over');
  const x = await bookOk(ctx, admin(), { contactId: c.id, scheduledAt: '2035-06-04T14:00:00Z', durationMinutes: 30, notes: cnotes, metadata: meta });
  const xc = await ctx.api('POST', `/api/appointments/${x.id}/cancel`, { key: admin(), body: {} });
  expectStatus(xc, 200);

  expectStatus(await ctx.api('DELETE', `/api/contacts/${c.id}`, { key: admin() }), 204);
  const get = async (id) => (await ctx.api('GET', `/api/appointments/${id}`, { key: admin() })).body;
  const old = await get(a.id);
  assert.equal(old.status, 'rescheduled', 'the old row stays rescheduled');
  assert.equal(old.rescheduledTo, moved.id);
  assert.equal(old.notes, null);
  assert.deepEqual(old.metadata, {});
  const now = await get(moved.id);
  assert.equal(now.status, 'cancelled', 'the future (new) appointment is cancelled');
  assert.equal(now.notes, null);
  assert.deepEqual(now.metadata, {});
  const cancelled = await get(x.id);
  assert.deepEqual(cancelled, { ...xc.body, notes: null, metadata: {} }, 'the cancelled one keeps its cancelledAt, loses its notes');

  const again = await ctx.api('POST', '/api/appointments', { key: admin(), body: { contactId: c.id, scheduledAt: '2035-06-05T10:00:00Z', durationMinutes: 30 } });
  expectError(again, 400, 'invalid_request', 'contactId', 'booking for an erased contact');
});

ctest('SIGTERM stops bookd; its log holds no keys and no personal data', async () => {
  await stopAndCheckLogs(ctx, secrets);
});
