// Booking policies (API.md, "Booking policies", with "Book", "Slot holds",
// "Free slots" and "Vapi"): GET and PATCH /api/orgs/me (shape, defaults,
// scopes, validation naming policies.<name>, a failed PATCH changes nothing,
// the audit entry), and the policies at work: a public booking or hold
// sooner than minimumNoticeMinutes or further ahead than bookingHorizonDays
// is 400 naming scheduledAt and saying why, free slots leave those times out
// for the public key, the voice agent books nothing too soon; admin keys are
// bound by none of it.
//
// Every test makes its own organization. The coarse cases use an
// organization in UTC and its default provider (Monday-Friday 09:00-17:00):
// a 30-day notice against a weekday one to two weeks ahead, a 10-day horizon
// against one three weeks ahead. The cases to the minute need "now" inside
// working hours whatever the hour of the run: their organization is in the
// Etc/GMT±N zone where it is 09:xx now, with a provider open every day
// 00:00-23:45, so now + a few hours (and now + one day ± an hour) is always
// open. Nothing waits.

import {
  assert, ctest, useServer, createOrg, createContact, createProvider, expectStatus, expectError,
  book, bookOk, listAll, auditEntries, stopAndCheckLogs, rnd, digits, randomUUID, UUID_RE,
} from './lib/harness.mjs';
import { zonedToUtc, localParts, nextWeekday, todayIn, addDays, weekdayOf, MINUTE, iso } from './lib/time.mjs';

const UTC = 'UTC';
const DAY_MS = 24 * 60 * MINUTE;
const ORG_KEYS = ['defaultProviderId', 'id', 'name', 'policies', 'timezone'];
const POLICY_KEYS = ['bookingHorizonDays', 'cancellationNoticeHours', 'minimumNoticeMinutes'];
const DEFAULTS = { minimumNoticeMinutes: 0, bookingHorizonDays: 0, cancellationNoticeHours: 0 };
const MAX = { minimumNoticeMinutes: 43200, bookingHorizonDays: 3650, cancellationNoticeHours: 168 };
const WEEK = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const ALL_DAY = [['00:00', '23:45']];
const HOURLY = ['09:00', '10:00', '11:00', '12:00', '13:00', '14:00', '15:00', '16:00'];
const secrets = [];
const ctx = useServer({ setup: async (c) => secrets.push(c.adminToken) });

// ------------------------------------------------------------------ helpers

/** A new organization (UTC unless told); its keys go on the list the log must not contain. */
async function newOrg(timezone = UTC) {
  const org = await createOrg(ctx, { name: `Policy Clinic ${rnd()}`, timezone });
  secrets.push(org.adminKey, org.publicKey, org.vapiSecret);
  return org;
}

/** A contact made with the public key, as the booking page makes one. */
async function pageContact(org) {
  const c = await createContact(ctx, org.publicKey, { name: `Page Patient ${rnd()}`, email: `patient.${rnd()}@example.com` });
  secrets.push(c.name, c.email);
  return c;
}

/** A provider open every day 00:00-23:45 in the organization's zone. */
function openEveryDay(org) {
  return createProvider(ctx, org.adminKey, { workingHours: Object.fromEntries(WEEK.map((d) => [d, ALL_DAY])) });
}

async function getOrg(key, what = 'GET /api/orgs/me') {
  return expectStatus(await ctx.api('GET', '/api/orgs/me', { key }), 200, what);
}

function patchOrg(key, body, opts = {}) {
  return ctx.api('PATCH', '/api/orgs/me', { key, body, ...opts });
}

async function patchOk(org, body, what = `PATCH ${JSON.stringify(body)}`) {
  return expectStatus(await patchOrg(org.adminKey, body), 200, what);
}

async function setPolicies(org, policies) {
  const o = await patchOk(org, { policies }, `set ${JSON.stringify(policies)}`);
  for (const [k, v] of Object.entries(policies)) assert.equal(o.policies[k], v, `${k} is set`);
  return o;
}

/** The shape GET and PATCH answer with: exactly these fields, the policies integers. */
function assertOrgShape(o, what) {
  assert.deepEqual(Object.keys(o).sort(), ORG_KEYS, `${what}: fields`);
  assert.deepEqual(Object.keys(o.policies).sort(), POLICY_KEYS, `${what}: policies`);
  for (const k of POLICY_KEYS) assert.ok(Number.isInteger(o.policies[k]), `${what}: ${k} is an integer`);
}

/** The organization as its own creation said it is, with these policies. */
const orgView = (org, policies = DEFAULTS, name = org.name) => ({
  id: org.id, name, timezone: org.timezone, defaultProviderId: org.defaultProviderId, policies: { ...DEFAULTS, ...policies },
});

function hold(key, body) {
  return ctx.api('POST', '/api/holds', { key, body });
}

async function releaseOk(key, id, what = 'release') {
  expectStatus(await ctx.api('DELETE', `/api/holds/${id}`, { key }), 204, what);
}

async function slots(key, query, what) {
  const res = await ctx.api('GET', '/api/availability', { key, query });
  return expectStatus(res, 200, what || `slots ${JSON.stringify(query)}`).slots.map((s) => s.scheduledAt);
}

async function appts(org, query = {}) {
  return (await listAll(ctx, org.adminKey, query)).all;
}

/** Asserts a policy refusal: 400 invalid_request naming scheduledAt, the message saying why. */
function expectRefused(res, why, what) {
  const e = expectError(res, 400, 'invalid_request', 'scheduledAt', what);
  assert.match(e.message, why, `${what}: the message says why: ${e.message}`);
  return e;
}
const TOO_SOON = /too soon/i;
const TOO_FAR = /too far ahead/i;

/** The first Monday-Friday date at least minDaysAhead days after today in tz. */
function workdayAhead(tz, minDaysAhead) {
  let d = addDays(todayIn(tz), minDaysAhead);
  while (['sat', 'sun'].includes(weekdayOf(d))) d = addDays(d, 1);
  return d;
}

/**
 * The Etc/GMT±N zone (or UTC) whose wall clock shows 09:xx now. Etc names
 * have the POSIX sign: Etc/GMT-9 is nine hours ahead of UTC. Offsets from
 * -12 to +14 exist, so one always fits.
 */
function morningZone() {
  const now = new Date();
  let off = (9 - now.getUTCHours() + 24) % 24;
  if (off > 14) off -= 24;
  const tz = off === 0 ? UTC : `Etc/GMT${off > 0 ? '-' : '+'}${Math.abs(off)}`;
  assert.equal(localParts(now, tz).hour, 9, `${tz} shows 09:xx now`);
  return tz;
}

/** The wall-clock grid of `step` minutes over windows on a local date: [{ms, at}]. */
function grid(date, tz, windows = ALL_DAY, step = 15, dur = 15) {
  const toMin = (t) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));
  const fmt = (m) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  const out = [];
  for (const [ws, we] of windows) {
    for (let m = toMin(ws); m + dur <= toMin(we); m += step) {
      const at = zonedToUtc(date, fmt(m), tz);
      out.push({ ms: at.getTime(), at: at.toISOString() });
    }
  }
  return out;
}

/** An instant n minutes from now, on the whole minute. */
const minutesFromNow = (n) => new Date(Math.floor((Date.now() + n * MINUTE) / MINUTE) * MINUTE).toISOString();

// ------------------------------------------------------------------ GET /api/orgs/me

ctest('GET /api/orgs/me (admin key) → 200 {id, name, timezone, defaultProviderId, policies}, every policy 0 by default; each organization sees itself', async () => {
  const org = await newOrg('Europe/Berlin');
  const other = await newOrg();
  const res = await ctx.api('GET', '/api/orgs/me', { key: org.adminKey });
  const o = expectStatus(res, 200);
  assert.match(String(res.headers['content-type']), /^application\/json;\s*charset=utf-8$/i);
  assertOrgShape(o, 'GET');
  assert.match(o.id, UUID_RE);
  assert.deepEqual(o, orgView(org), 'the organization as created, default policies');
  assert.deepEqual(await getOrg(other.adminKey), orgView(other), 'another organization’s admin key sees its own');
  for (const k of ['adminKey', 'publicKey', 'vapiSecret']) {
    assert.ok(!res.raw.includes(org[k]), `no ${k} in the answer`);
  }
});

ctest('GET and PATCH /api/orgs/me: public key → 403 forbidden; no key, a wrong key, the Vapi secret, the server admin token → 401 unauthorized', async () => {
  const org = await newOrg();
  const body = { policies: { minimumNoticeMinutes: 60 } };
  expectError(await ctx.api('GET', '/api/orgs/me', { key: org.publicKey }), 403, 'forbidden', undefined, 'GET with the public key');
  expectError(await patchOrg(org.publicKey, body), 403, 'forbidden', undefined, 'PATCH with the public key');
  for (const [what, key] of [
    ['no key', undefined],
    ['a wrong key', `nope-${rnd(16)}`],
    ['the Vapi secret as Bearer', org.vapiSecret],
    ['the server admin token', ctx.adminToken],
  ]) {
    expectError(await ctx.api('GET', '/api/orgs/me', { key }), 401, 'unauthorized', undefined, `GET, ${what}`);
    expectError(await patchOrg(key, body), 401, 'unauthorized', undefined, `PATCH, ${what}`);
  }
  expectError(await ctx.api('GET', '/api/orgs/me', { headers: { 'x-vapi-secret': org.vapiSecret } }), 401, 'unauthorized', undefined, 'GET with x-vapi-secret');
  assert.deepEqual(await getOrg(org.adminKey), orgView(org), 'nothing changed');
});

// ------------------------------------------------------------------ PATCH /api/orgs/me

ctest('PATCH /api/orgs/me → 200 the same shape; only what is given changes, the rest stays; bounds 0 and the maxima accepted; other organizations untouched', async () => {
  const org = await newOrg();
  const other = await newOrg();
  let o = await patchOk(org, { policies: { minimumNoticeMinutes: 90 } });
  assertOrgShape(o, 'PATCH');
  assert.deepEqual(o, orgView(org, { minimumNoticeMinutes: 90 }), 'one policy changed');
  assert.deepEqual(await getOrg(org.adminKey), o, 'GET agrees');

  o = await patchOk(org, { policies: { bookingHorizonDays: 60 } });
  assert.deepEqual(o, orgView(org, { minimumNoticeMinutes: 90, bookingHorizonDays: 60 }), 'the notice stays');
  o = await patchOk(org, { policies: { cancellationNoticeHours: 24 } });
  const three = { minimumNoticeMinutes: 90, bookingHorizonDays: 60, cancellationNoticeHours: 24 };
  assert.deepEqual(o, orgView(org, three));

  const name = `Renamed Clinic ${rnd()}`;
  o = await patchOk(org, { name });
  assert.deepEqual(o, orgView(org, three, name), 'the name alone: the policies stay');
  assert.deepEqual(await patchOk(org, {}), o, 'an empty object changes nothing');
  assert.deepEqual(await patchOk(org, { policies: {} }), o, 'empty policies change nothing');
  assert.deepEqual(await patchOk(org, { orgId: org.id, policies: { bookingHorizonDays: 60 } }), o, 'its own orgId; the same value again');

  o = await patchOk(org, { policies: MAX });
  assert.deepEqual(o, orgView(org, MAX, name), 'the maxima');
  o = await patchOk(org, { name: org.name, policies: DEFAULTS });
  assert.deepEqual(o, orgView(org), 'back to 0 and the first name, in one request');
  o = await patchOk(org, { policies: { minimumNoticeMinutes: 1, bookingHorizonDays: 1, cancellationNoticeHours: 1 } });
  assert.deepEqual(o.policies, { minimumNoticeMinutes: 1, bookingHorizonDays: 1, cancellationNoticeHours: 1 });
  assert.deepEqual(await getOrg(org.adminKey), o, 'GET agrees');
  assert.deepEqual(await getOrg(other.adminKey), orgView(other), 'the other organization is untouched');
});

ctest('PATCH /api/orgs/me: bad values → 400 invalid_request naming name, policies or policies.<name>; unknown fields; another orgId → 403; text/plain → 415; nothing changes, no audit entry', async () => {
  const org = await newOrg();
  const other = await newOrg();
  const set = { minimumNoticeMinutes: 30, bookingHorizonDays: 90, cancellationNoticeHours: 12 };
  const before = await setPolicies(org, set);
  const audit0 = await auditEntries(ctx, org.adminKey);
  const cases = [
    [{ name: '' }, 'name'],
    [{ name: 7 }, 'name'],
    [{ name: ['Clinic'] }, 'name'],
    [{ policies: 'strict' }, 'policies'],
    [{ policies: 5 }, 'policies'],
    [{ policies: true }, 'policies'],
    [{ policies: [{ minimumNoticeMinutes: 5 }] }, 'policies'],
    [{ timezone: 'Europe/London' }, 'timezone'],
    [{ id: randomUUID() }, 'id'],
    [{ defaultProviderId: org.defaultProviderId }, 'defaultProviderId'],
    [{ minimumNoticeMinutes: 5 }, 'minimumNoticeMinutes'],
    [{ policies: { maximumNoticeMinutes: 5 } }, 'policies.maximumNoticeMinutes'],
    [{ policies: { minimumNoticeMinutes: 5, cancelNoticeHours: 2 } }, 'policies.cancelNoticeHours'],
  ];
  for (const [k, max] of Object.entries(MAX)) {
    for (const bad of [-1, max + 1, 1.5, '5', true, null, [5], { value: 5 }]) {
      cases.push([{ policies: { [k]: bad } }, `policies.${k}`]);
    }
  }
  cases.push([{ policies: { minimumNoticeMinutes: 2147483648 } }, 'policies.minimumNoticeMinutes']);
  // One bad value spoils the whole request: the good parts do not change either.
  cases.push([{ name: `Half Renamed ${rnd()}`, policies: { bookingHorizonDays: 3651 } }, 'policies.bookingHorizonDays']);
  cases.push([{ policies: { minimumNoticeMinutes: 0, cancellationNoticeHours: 169 } }, 'policies.cancellationNoticeHours']);
  cases.push([{ name: '', policies: { minimumNoticeMinutes: 0 } }, 'name']);
  for (const [body, field] of cases) {
    expectError(await patchOrg(org.adminKey, body), 400, 'invalid_request', field, JSON.stringify(body));
  }
  expectError(await ctx.api('PATCH', '/api/orgs/me', { key: org.adminKey, rawBody: '{"policies":{"minimumNoticeMinutes":' }), 400, 'invalid_request', undefined, 'malformed JSON');
  expectError(await ctx.api('PATCH', '/api/orgs/me', { key: org.adminKey, body: [{ policies: {} }] }), 400, 'invalid_request', undefined, 'an array body');
  expectError(await ctx.api('PATCH', '/api/orgs/me', { key: org.adminKey, rawBody: JSON.stringify({ policies: DEFAULTS }), contentType: 'text/plain' }), 415, 'unsupported_media_type', undefined, 'text/plain');
  expectError(await patchOrg(org.adminKey, { orgId: other.id, policies: DEFAULTS }), 403, 'forbidden', undefined, 'orgId of another organization');

  assert.deepEqual(await getOrg(org.adminKey), before, 'nothing changed');
  assert.deepEqual(before, orgView(org, set));
  assert.deepEqual(await getOrg(other.adminKey), orgView(other), 'nor in the other organization');
  assert.deepEqual(await auditEntries(ctx, org.adminKey), audit0, 'no audit entry');
});

ctest('PATCH /api/orgs/me is audited: organization.updated, entityType organization, entityId the organization, actor the admin key’s id', async () => {
  const org = await newOrg();
  const audit0 = await auditEntries(ctx, org.adminKey);
  await setPolicies(org, { minimumNoticeMinutes: 120, bookingHorizonDays: 30 });
  const name = `Audited Clinic ${rnd()}`;
  await patchOk(org, { name });
  const added = (await auditEntries(ctx, org.adminKey)).filter((e) => !audit0.some((x) => x.id === e.id));
  assert.deepEqual(added.map((e) => e.action), ['organization.updated', 'organization.updated'], `two entries, newest first: ${JSON.stringify(added)}`);
  for (const e of added) {
    assert.equal(e.entityType, 'organization');
    assert.equal(e.entityId, org.id);
    assert.match(e.actor, /^admin_key:.+/);
    assert.ok(!e.actor.includes(org.adminKey), 'the actor is a key id, not the key');
    assert.equal(typeof e.details, 'object');
  }
  const byId = await auditEntries(ctx, org.adminKey, { entityId: org.id });
  assert.deepEqual(byId.filter((e) => e.action === 'organization.updated').map((e) => e.id), added.map((e) => e.id), 'found by entityId');
});

// ------------------------------------------------------------------ minimum notice

ctest('minimumNoticeMinutes: a public booking or hold sooner than the notice → 400 scheduledAt "too soon", nothing written; later is fine; the admin key books any time; 0 lifts it', async () => {
  const org = await newOrg();
  const c = await pageContact(org);
  const soonDay = nextWeekday(UTC, 'wed', 7); // 7-13 days ahead
  const lateDay = nextWeekday(UTC, 'wed', 35); // 35-41 days ahead
  const soon = zonedToUtc(soonDay, '10:00', UTC).toISOString();
  const late = zonedToUtc(lateDay, '10:00', UTC).toISOString();
  // Without a policy the public key may book the early time (checked with a hold, released).
  const h0 = expectStatus(await hold(org.publicKey, { scheduledAt: soon, durationMinutes: 30 }), 201, 'public hold, no policy yet');
  await releaseOk(org.publicKey, h0.holdId);

  const p = await createProvider(ctx, org.adminKey);
  await setPolicies(org, { minimumNoticeMinutes: 43200 }); // 30 days
  const audit0 = await auditEntries(ctx, org.adminKey);
  expectRefused(await book(ctx, org.publicKey, { contactId: c.id, scheduledAt: soon, durationMinutes: 30 }), TOO_SOON, 'public booking 1-2 weeks ahead');
  expectRefused(await hold(org.publicKey, { scheduledAt: soon, durationMinutes: 30 }), TOO_SOON, 'public hold 1-2 weeks ahead');
  const tomorrow = zonedToUtc(workdayAhead(UTC, 1), '09:00', UTC).toISOString();
  expectRefused(await book(ctx, org.publicKey, { contactId: c.id, scheduledAt: tomorrow, durationMinutes: 30 }), TOO_SOON, 'public booking the next working day');
  // The last working day that starts at most 29 days from today: its 16:30 is inside the 30 days.
  let edgeDay = addDays(todayIn(UTC), 29);
  while (['sat', 'sun'].includes(weekdayOf(edgeDay))) edgeDay = addDays(edgeDay, -1);
  const edge = zonedToUtc(edgeDay, '16:30', UTC).toISOString();
  expectRefused(await book(ctx, org.publicKey, { contactId: c.id, scheduledAt: edge, durationMinutes: 30 }), TOO_SOON, `public booking at ${edge}, just inside 30 days`);
  // The same request with the offset form and a provider given is refused the same way.
  expectRefused(await book(ctx, org.publicKey, { contactId: c.id, providerId: p.id, scheduledAt: `${soonDay}T11:00:00+01:00`, durationMinutes: 30 }), TOO_SOON, 'another provider, an offset');
  assert.deepEqual(await appts(org), [], 'the refused bookings booked nothing');
  assert.deepEqual(await auditEntries(ctx, org.adminKey), audit0, 'and audited nothing (no hold either)');

  // Past the notice: fine for the public key.
  const A = await bookOk(ctx, org.publicKey, { contactId: c.id, scheduledAt: late, durationMinutes: 30 }, 'public booking 35+ days ahead');
  assert.equal(A.scheduledAt, late);
  const H = expectStatus(await hold(org.publicKey, { scheduledAt: zonedToUtc(lateDay, '11:00', UTC).toISOString(), durationMinutes: 30 }), 201, 'public hold 35+ days ahead');
  await releaseOk(org.publicKey, H.holdId);

  // The admin key is not bound: the refused time, a hold, a reschedule into the notice.
  const B = await bookOk(ctx, org.adminKey, { contactId: c.id, scheduledAt: soon, durationMinutes: 30 }, 'admin booking 1-2 weeks ahead');
  assert.equal(B.scheduledAt, soon);
  const AH = expectStatus(await hold(org.adminKey, { scheduledAt: tomorrow, durationMinutes: 30 }), 201, 'admin hold the next working day');
  await releaseOk(org.adminKey, AH.holdId);
  const moved = await ctx.api('POST', `/api/appointments/${A.id}/reschedule`, { key: org.adminKey, body: { scheduledAt: tomorrow } });
  assert.equal(expectStatus(moved, 200, 'admin reschedule into the notice').appointment.scheduledAt, tomorrow);
  const all = await appts(org);
  assert.deepEqual(all.filter((a) => a.status === 'confirmed').map((a) => a.scheduledAt).sort(), [tomorrow, soon].sort());

  // Back to 0: the early time is bookable by the public key again, at once.
  await setPolicies(org, { minimumNoticeMinutes: 0 });
  const C = await bookOk(ctx, org.publicKey, { contactId: c.id, scheduledAt: zonedToUtc(soonDay, '14:00', UTC).toISOString(), durationMinutes: 30 }, 'public booking once the notice is 0');
  assert.equal(C.status, 'confirmed');
});

ctest('minimumNoticeMinutes to the minute (organization where it is 09:xx now, provider open every day): now + 90 min refused, now + 150 min booked, with a 120-minute notice', async () => {
  const tz = morningZone();
  const org = await newOrg(tz);
  const c = await pageContact(org);
  const p = await openEveryDay(org);
  await setPolicies(org, { minimumNoticeMinutes: 120 });
  const t90 = minutesFromNow(90);
  const t115 = minutesFromNow(115);
  expectRefused(await book(ctx, org.publicKey, { contactId: c.id, providerId: p.id, scheduledAt: t90, durationMinutes: 15 }), TOO_SOON, `public booking at ${t90}`);
  expectRefused(await hold(org.publicKey, { providerId: p.id, scheduledAt: t90, durationMinutes: 15 }), TOO_SOON, `public hold at ${t90}`);
  expectRefused(await book(ctx, org.publicKey, { contactId: c.id, providerId: p.id, scheduledAt: t115, durationMinutes: 15 }), TOO_SOON, `public booking at ${t115}`);
  const e = expectRefused(await book(ctx, org.publicKey, { contactId: c.id, providerId: p.id, scheduledAt: minutesFromNow(5), durationMinutes: 15 }), TOO_SOON, 'five minutes from now');
  assert.match(e.message, /2 hours|120 minutes/, `the message names the notice: ${e.message}`);
  assert.deepEqual(await appts(org), [], 'nothing booked');
  const t150 = minutesFromNow(150);
  const A = await bookOk(ctx, org.publicKey, { contactId: c.id, providerId: p.id, scheduledAt: t150, durationMinutes: 15 }, `public booking at ${t150}`);
  assert.equal(A.scheduledAt, t150);
  const H = expectStatus(await hold(org.publicKey, { providerId: p.id, scheduledAt: minutesFromNow(180), durationMinutes: 15 }), 201, 'public hold at now + 180 min');
  await releaseOk(org.publicKey, H.holdId);
  await bookOk(ctx, org.adminKey, { contactId: c.id, providerId: p.id, scheduledAt: t90, durationMinutes: 15 }, 'admin booking at now + 90 min');
});

// ------------------------------------------------------------------ horizon

ctest('bookingHorizonDays: a public booking or hold further ahead → 400 scheduledAt "too far ahead", nothing written; within it is fine; the admin key books beyond; 0 means no limit', async () => {
  const org = await newOrg();
  const c = await pageContact(org);
  await setPolicies(org, { bookingHorizonDays: 10 });
  const farDay = nextWeekday(UTC, 'wed', 20); // 20-26 days ahead
  const nearDay = workdayAhead(UTC, 3); // 3-5 days ahead
  const far = zonedToUtc(farDay, '10:00', UTC).toISOString();
  const near = zonedToUtc(nearDay, '10:00', UTC).toISOString();
  const years = zonedToUtc(nextWeekday(UTC, 'wed', 400), '10:00', UTC).toISOString();
  const audit0 = await auditEntries(ctx, org.adminKey);
  expectRefused(await book(ctx, org.publicKey, { contactId: c.id, scheduledAt: far, durationMinutes: 30 }), TOO_FAR, 'public booking ~3 weeks ahead');
  expectRefused(await hold(org.publicKey, { scheduledAt: far, durationMinutes: 30 }), TOO_FAR, 'public hold ~3 weeks ahead');
  expectRefused(await book(ctx, org.publicKey, { contactId: c.id, scheduledAt: years, durationMinutes: 30 }), TOO_FAR, 'public booking over a year ahead');
  assert.deepEqual(await appts(org), [], 'nothing booked');
  assert.deepEqual(await auditEntries(ctx, org.adminKey), audit0, 'nothing audited');

  const A = await bookOk(ctx, org.publicKey, { contactId: c.id, scheduledAt: near, durationMinutes: 30 }, 'public booking 3-5 days ahead');
  assert.equal(A.scheduledAt, near);
  const H = expectStatus(await hold(org.publicKey, { scheduledAt: zonedToUtc(nearDay, '11:00', UTC).toISOString(), durationMinutes: 30 }), 201, 'public hold 3-5 days ahead');
  await releaseOk(org.publicKey, H.holdId);
  const B = await bookOk(ctx, org.adminKey, { contactId: c.id, scheduledAt: far, durationMinutes: 30 }, 'admin booking ~3 weeks ahead');
  assert.equal(B.scheduledAt, far);
  const AH = expectStatus(await hold(org.adminKey, { scheduledAt: years, durationMinutes: 30 }), 201, 'admin hold over a year ahead');
  await releaseOk(org.adminKey, AH.holdId);

  // Both policies at once: only the window between them is open to the public.
  await setPolicies(org, { minimumNoticeMinutes: 7 * 24 * 60, bookingHorizonDays: 28 });
  expectRefused(await book(ctx, org.publicKey, { contactId: c.id, scheduledAt: zonedToUtc(nearDay, '12:00', UTC).toISOString(), durationMinutes: 30 }), TOO_SOON, 'inside the notice');
  expectRefused(await book(ctx, org.publicKey, { contactId: c.id, scheduledAt: zonedToUtc(nextWeekday(UTC, 'wed', 35), '10:00', UTC).toISOString(), durationMinutes: 30 }), TOO_FAR, 'beyond the horizon');
  await bookOk(ctx, org.publicKey, { contactId: c.id, scheduledAt: zonedToUtc(farDay, '12:00', UTC).toISOString(), durationMinutes: 30 }, 'between notice and horizon');

  await setPolicies(org, { minimumNoticeMinutes: 0, bookingHorizonDays: 0 });
  await bookOk(ctx, org.publicKey, { contactId: c.id, scheduledAt: years, durationMinutes: 30 }, 'no limit once the horizon is 0');
});

ctest('bookingHorizonDays to the minute (organization where it is 09:xx now): with 1 day, now + 1 day − 60 min booked, now + 1 day + 60 min refused', async () => {
  const tz = morningZone();
  const org = await newOrg(tz);
  const c = await pageContact(org);
  const p = await openEveryDay(org);
  await setPolicies(org, { bookingHorizonDays: 1 });
  const inside = minutesFromNow(24 * 60 - 60);
  const outside = minutesFromNow(24 * 60 + 60);
  const justOutside = minutesFromNow(24 * 60 + 5);
  expectRefused(await book(ctx, org.publicKey, { contactId: c.id, providerId: p.id, scheduledAt: outside, durationMinutes: 15 }), TOO_FAR, `public booking at ${outside}`);
  expectRefused(await hold(org.publicKey, { providerId: p.id, scheduledAt: justOutside, durationMinutes: 15 }), TOO_FAR, `public hold at ${justOutside}`);
  assert.deepEqual(await appts(org), [], 'nothing booked');
  const A = await bookOk(ctx, org.publicKey, { contactId: c.id, providerId: p.id, scheduledAt: inside, durationMinutes: 15 }, `public booking at ${inside}`);
  assert.equal(A.scheduledAt, inside);
  await bookOk(ctx, org.adminKey, { contactId: c.id, providerId: p.id, scheduledAt: outside, durationMinutes: 15 }, 'admin booking beyond the horizon');
});

// ------------------------------------------------------------------ free slots

ctest('free slots: the public key gets no start sooner than the notice or beyond the horizon; the admin key gets every slot', async () => {
  const org = await newOrg();
  const soonDay = nextWeekday(UTC, 'wed', 7);
  const lateDay = nextWeekday(UTC, 'wed', 35);
  const q = (date) => ({ date, durationMinutes: 60, stepMinutes: 60 });
  const hourly = (date) => HOURLY.map((t) => zonedToUtc(date, t, UTC).toISOString());
  assert.deepEqual(await slots(org.publicKey, q(soonDay)), hourly(soonDay), 'no policy: the whole day');

  await setPolicies(org, { minimumNoticeMinutes: 43200 });
  assert.deepEqual(await slots(org.publicKey, q(soonDay)), [], 'public, inside the 30-day notice: none');
  assert.deepEqual(await slots(org.adminKey, q(soonDay)), hourly(soonDay), 'admin, inside the notice: all');
  assert.deepEqual(await slots(org.publicKey, q(lateDay)), hourly(lateDay), 'public, past the notice: all');

  await setPolicies(org, { minimumNoticeMinutes: 0, bookingHorizonDays: 10 });
  const nearDay = workdayAhead(UTC, 3);
  const farDay = nextWeekday(UTC, 'wed', 20);
  assert.deepEqual(await slots(org.publicKey, q(nearDay)), hourly(nearDay), 'public, within the horizon: all');
  assert.deepEqual(await slots(org.publicKey, q(farDay)), [], 'public, beyond the horizon: none');
  assert.deepEqual(await slots(org.adminKey, q(farDay)), hourly(farDay), 'admin, beyond the horizon: all');
  assert.deepEqual(await slots(org.publicKey, { ...q(farDay), providerId: org.defaultProviderId }), [], 'public, beyond the horizon, providerId given: none');
});

ctest('free slots to the minute (organization where it is 09:xx now, provider open every day): today starts at now + notice for the public key; tomorrow ends at now + 1 day with a 1-day horizon', async () => {
  const tz = morningZone();
  const org = await newOrg(tz);
  const p = await openEveryDay(org);
  const today = todayIn(tz);
  const tomorrow = addDays(today, 1);
  const q = (date) => ({ date, providerId: p.id, durationMinutes: 15 });

  await setPolicies(org, { minimumNoticeMinutes: 120 });
  let t0 = Date.now();
  let pub = await slots(org.publicKey, q(today), 'public, today');
  let t1 = Date.now();
  const onGrid = new Set(grid(today, tz).map((g) => g.at));
  for (const s of pub) {
    assert.ok(onGrid.has(s), `${s} is on the grid`);
    assert.ok(Date.parse(s) >= t0 + 120 * MINUTE - 1000, `${s} is sooner than the 120-minute notice (asked at ${iso(t0)})`);
  }
  const want = grid(today, tz).filter((g) => g.ms > t1 + 120 * MINUTE + 1000).map((g) => g.at);
  assert.ok(want.length > 40, 'most of the day is ahead');
  for (const w of want) assert.ok(pub.includes(w), `public slot ${w} missing`);
  const admin = await slots(org.adminKey, q(today), 'admin, today');
  const soon = admin.filter((s) => Date.parse(s) < t0 + 120 * MINUTE - 1000);
  assert.ok(soon.length >= 6, `the admin key gets the next two hours too: ${JSON.stringify(soon)}`);
  for (const s of soon) assert.ok(Date.parse(s) >= t0 - 1000, `${s} is not in the past`);

  await setPolicies(org, { minimumNoticeMinutes: 0, bookingHorizonDays: 1 });
  t0 = Date.now();
  pub = await slots(org.publicKey, q(tomorrow), 'public, tomorrow');
  t1 = Date.now();
  const tomorrowGrid = new Set(grid(tomorrow, tz).map((g) => g.at));
  for (const s of pub) {
    assert.ok(tomorrowGrid.has(s), `${s} is on the grid`);
    assert.ok(Date.parse(s) <= t1 + DAY_MS + 1000, `${s} is beyond the 1-day horizon (asked at ${iso(t1)})`);
  }
  const within = grid(tomorrow, tz).filter((g) => g.ms < t0 + DAY_MS - 1000).map((g) => g.at);
  for (const w of within) assert.ok(pub.includes(w), `public slot ${w} (before now + 1 day) missing`);
  assert.ok(pub.length >= 36 && pub.length <= 41, `09:xx tomorrow is the cut: ${pub.length} slots`);
  assert.deepEqual(await slots(org.adminKey, q(tomorrow), 'admin, tomorrow'), grid(tomorrow, tz).map((g) => g.at), 'admin, tomorrow: the whole day');
  assert.deepEqual(await slots(org.publicKey, q(addDays(today, 2))), [], 'public, the day after: none');
});

// ------------------------------------------------------------------ the voice agent

ctest('Vapi: checkAvailability and bookAppointment for a time inside the notice → 200 with one result saying why (not "taken"), nothing booked or held, no contact; past the notice it books', async () => {
  const org = await newOrg();
  await setPolicies(org, { minimumNoticeMinutes: 43200 });
  const soonDay = nextWeekday(UTC, 'tue', 7);
  const lateDay = nextWeekday(UTC, 'tue', 35);
  const soon = zonedToUtc(soonDay, '10:00', UTC).toISOString();
  const late = zonedToUtc(lateDay, '10:00', UTC).toISOString();
  const caller = `+4477009${digits(5)}`;
  const name = `Voice Caller ${rnd(3)}`;
  secrets.push(caller, name);
  const audit0 = await auditEntries(ctx, org.adminKey);
  /** One tool call in a call of its own from the caller's number; resolves its sentence. */
  const answer = async (tool, args) => {
    const id = `call_${rnd(12)}`;
    const message = {
      timestamp: Date.now(),
      type: 'tool-calls',
      call: { id: randomUUID(), type: 'inboundPhoneCall', status: 'in-progress', customer: { number: caller } },
      toolCallList: [{ id, type: 'function', function: { name: tool, arguments: args } }],
    };
    const r = await ctx.api('POST', '/api/webhooks/vapi', { headers: { 'x-vapi-secret': org.vapiSecret }, body: { message } });
    const b = expectStatus(r, 200, `${tool} ${JSON.stringify(args)}`);
    assert.equal(b.results?.length, 1, `one result: ${r.raw.slice(0, 400)}`);
    assert.equal(b.results[0].toolCallId, id);
    const text = b.results[0].result ?? b.results[0].error;
    assert.equal(typeof text, 'string', `a sentence: ${r.raw.slice(0, 400)}`);
    return text;
  };

  const checked = await answer('checkAvailability', { scheduledAt: soon, durationMinutes: 30 });
  assert.doesNotMatch(checked, /is free/i, `checkAvailability does not offer the time: ${checked}`);
  const text = await answer('bookAppointment', { scheduledAt: soon, durationMinutes: 30, name });
  assert.doesNotMatch(text, /^Booked/, `not booked: ${text}`);
  assert.deepEqual(await appts(org), [], 'no appointment at the refused time');
  const added = (await auditEntries(ctx, org.adminKey)).filter((e) => !audit0.some((x) => x.id === e.id));
  assert.deepEqual(added.map((e) => e.action), [], 'no contact, no hold, nothing written');

  // Nothing was held for the call either: the admin key can hold that very time.
  const h = expectStatus(await hold(org.adminKey, { scheduledAt: soon, durationMinutes: 30 }), 201, 'admin hold at the refused time');
  await releaseOk(org.adminKey, h.holdId);

  const ok = await answer('bookAppointment', { scheduledAt: late, durationMinutes: 30, name });
  assert.match(ok, /^Booked for /, `past the notice: booked: ${ok}`);
  const all = await appts(org);
  assert.deepEqual(all.map((a) => a.scheduledAt), [late], 'one appointment, at the later time');

  // The refusal says why, as the 400 to the public key does ("the message says why"),
  // and does not claim the time is taken: nothing is booked or held there.
  for (const [tool, t] of [['checkAvailability', checked], ['bookAppointment', text]]) {
    assert.doesNotMatch(t, /taken/i, `${tool}: the time is not taken (nothing is booked there): ${t}`);
    assert.match(t, /too soon|notice|in advance|ahead/i, `${tool}: the sentence says why the time cannot be booked: ${t}`);
  }
});

// ------------------------------------------------------------------ the log

ctest('SIGTERM stops bookd; its log holds no keys, secrets, names or contact details', async () => {
  assert.ok(secrets.length > 20, 'the tests used keys, names and numbers');
  await stopAndCheckLogs(ctx, secrets);
});
