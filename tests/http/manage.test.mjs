// Self-service links for patients (API.md, "Self-service links for
// patients", "Booking policies"): the manageUrl of a public-key booking
// (BOOKD_PUBLIC_URL + /manage/ + a 43-character base64url token; none for the
// admin key; a new one on an Idempotency-Key replay), GET /api/manage/{token}
// without a key (the appointment, its provider's and service's names, the
// organization; nothing about the contact), cancel and reschedule through
// the link (the token stops working, the new appointment gets a new one, the
// audit actor is manage_link), the public rules and the policies on them
// (working hours, the past, conflicts with appointments and holds, unknown
// fields; cancellationNoticeHours → 409 invalid_state, minimumNoticeMinutes
// and bookingHorizonDays on the new time), tokens ended by the admin API
// (cancel, reschedule, erasure), unknown and malformed tokens (404), the
// per-address rate limit (a second server with BOOKD_RATE_LIMIT_PUBLIC=2/3),
// the link in the confirmation SMS of a public-key or voice-agent booking
// (Twilio against lib/fakes.mjs) and not in an admin-key booking's, and no
// token in the server's log.
//
// The organizations are in UTC with the default working hours (Monday-Friday
// 09:00-17:00); most tests have a provider of their own, the policy tests an
// organization of their own (the policies are per organization). Times are
// one to three weeks ahead, except the cancellation-notice test's appointment,
// which has to be less than 168 hours (the largest notice) away: a working
// day two to four days ahead. Nothing waits longer than a Retry-After (about
// a second) or an SMS (a few seconds at most).

import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import {
  assert, ctest, useServer, createOrg, createContact, createProvider, createService, expectStatus, expectError,
  book, bookOk, listAll, auditEntries, stopAndCheckLogs, rnd, digits, randomUUID, UUID_RE,
} from './lib/harness.mjs';
import { startServer } from './lib/server.mjs';
import { makeApi } from './lib/client.mjs';
import { startFakes, fakeEnv } from './lib/fakes.mjs';
import { ISO_MS_Z, zonedToUtc, nextWeekday, previousWeekday, todayIn, addDays, weekdayOf } from './lib/time.mjs';

const UTC = 'UTC';
const PUBLIC_URL = 'https://book.example.test';
const LINK_PREFIX = `${PUBLIC_URL}/manage/`;
/** A manage token: 32 random bytes, base64url without padding. */
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;
const LINK_IN_TEXT = /https:\/\/book\.example\.test\/manage\/([A-Za-z0-9_-]+)/;
const VIEW_KEYS = ['appointment', 'organization'];
const VIEW_APPT_KEYS = ['durationMinutes', 'id', 'providerName', 'scheduledAt', 'serviceName', 'status'];
const TOO_SOON = /too soon/i;
const TOO_FAR = /too far ahead/i;

const fakes = await startFakes();
const { twilio } = fakes;

const secrets = [];
/** Every token seen (answers, SMS): none may be in the log. */
const tokens = [];
/** Organizations with Twilio connected: disconnected before the log check. */
const smsOrgs = [];

// Registered before useServer's: a failing after hook (bookd crashed) skips
// the ones registered after it, and fakes left listening would keep the
// file from ending.
after(() => fakes.close());
const ctx = useServer({
  env: {
    ...fakeEnv(fakes),
    BOOKD_PUBLIC_URL: PUBLIC_URL,
    BOOKD_OUTBOX_POLL_MS: '100',
    BOOKD_WEBHOOK_RETRY_SCHEDULE: '0,1,1,1',
    BOOKD_WEBHOOK_TIMEOUT_MS: '1000',
  },
  setup: async (c) => {
    c.org = await createOrg(c, { name: `Riverside Clinic ${rnd()}`, timezone: UTC });
    secrets.push(c.adminToken, c.org.adminKey, c.org.publicKey, c.org.vapiSecret);
    c.contact = await pageContact(c.org, c);
  },
});

const admin = () => ctx.org.adminKey;
const pub = () => ctx.org.publicKey;

// ------------------------------------------------------------------ helpers

/** The instant (toISOString form) at which the clock in UTC shows date time. */
const at = (date, time) => zonedToUtc(date, time, UTC).toISOString();

/** The first Monday-Friday date at least minDaysAhead days after today (UTC). */
function workdayAhead(minDaysAhead) {
  let d = addDays(todayIn(UTC), minDaysAhead);
  while (['sat', 'sun'].includes(weekdayOf(d))) d = addDays(d, 1);
  return d;
}

/** 43 random base64url characters: a well-formed token nobody was given. */
const randomToken = () => randomBytes(32).toString('base64url');

/** A new organization in UTC; its keys go on the list the log must not contain. */
async function newOrg() {
  const org = await createOrg(ctx, { name: `Hillside Surgery ${rnd()}`, timezone: UTC });
  secrets.push(org.adminKey, org.publicKey, org.vapiSecret);
  return org;
}

/** A contact made with the public key, as the booking page makes one: name, phone and e-mail. */
async function pageContact(org, c = ctx) {
  const contact = await createContact(c, org.publicKey, {
    name: `Page Patient ${rnd()}`, phone: `+4479${digits(8)}`, email: `patient.${rnd()}@example.com`,
  });
  secrets.push(contact.name, contact.phone, contact.email);
  return contact;
}

/** A provider of its own (default hours: Monday-Friday 09:00-17:00). */
async function provider(org = ctx.org) {
  return createProvider(ctx, org.adminKey, { name: `Dr Provider ${rnd()}` });
}

/** The token of a manageUrl: exactly <BOOKD_PUBLIC_URL>/manage/<43 base64url>; remembered for the log check. */
function tokenOf(manageUrl, what) {
  assert.equal(typeof manageUrl, 'string', `${what}: manageUrl is a string: ${JSON.stringify(manageUrl)}`);
  assert.ok(manageUrl.startsWith(LINK_PREFIX), `${what}: manageUrl starts with ${LINK_PREFIX}: ${manageUrl}`);
  const token = manageUrl.slice(LINK_PREFIX.length);
  assert.match(token, TOKEN_RE, `${what}: the token is 43 base64url characters: ${JSON.stringify(token)}`);
  tokens.push(token);
  return token;
}

/** A booking with the public key → 201 {appointmentId, appointment, manageUrl}; returns {appt, token, res}. */
async function publicBook(body, { org = ctx.org, contact = ctx.contact, headers = {}, what = 'public booking' } = {}) {
  const res = await book(ctx, org.publicKey, { contactId: contact.id, durationMinutes: 30, ...body }, headers);
  const b = expectStatus(res, 201, what);
  assert.deepEqual(Object.keys(b).sort(), ['appointment', 'appointmentId', 'manageUrl'], `${what}: fields: ${res.raw.slice(0, 300)}`);
  assert.equal(b.appointment.id, b.appointmentId);
  return { appt: b.appointment, token: tokenOf(b.manageUrl, what), res };
}

const view = (token) => ctx.api('GET', `/api/manage/${token}`);
/** Cancel through the link: no body unless one is given. */
const manageCancel = (token, opts = {}) => ctx.api('POST', `/api/manage/${token}/cancel`, opts);
const manageMove = (token, body, opts = {}) => ctx.api('POST', `/api/manage/${token}/reschedule`, { body, ...opts });

/** Nothing about the contact in an answer: not the name, phone (with or without +), e-mail or id. */
function assertNoContact(res, contact, what) {
  for (const [s, k] of [[contact.name, 'name'], [contact.phone, 'phone'], [contact.phone && contact.phone.slice(1), 'phone digits'], [contact.email, 'e-mail'], [contact.id, 'contact id']]) {
    if (s) assert.ok(!res.raw.includes(s), `${what}: the answer has the contact's ${k}: ${res.raw.slice(0, 400)}`);
  }
}

/**
 * GET /api/manage/{token} → 200 exactly {appointment: {id, scheduledAt,
 * durationMinutes, status, providerName, serviceName}, organization: {name,
 * timezone}} with the values given; nothing about the contact.
 */
async function viewOk(token, want, what = 'GET /api/manage/{token}') {
  const res = await view(token);
  const v = expectStatus(res, 200, what);
  assert.match(String(res.headers['content-type']), /^application\/json;\s*charset=utf-8$/i, `${what}: JSON`);
  assert.deepEqual(Object.keys(v).sort(), VIEW_KEYS, `${what}: fields: ${res.raw.slice(0, 400)}`);
  assert.deepEqual(Object.keys(v.appointment).sort(), VIEW_APPT_KEYS, `${what}: appointment fields: ${res.raw.slice(0, 400)}`);
  assert.match(v.appointment.scheduledAt, ISO_MS_Z, `${what}: scheduledAt in toISOString form`);
  const org = want.org || ctx.org;
  assert.deepEqual(v.organization, { name: org.name, timezone: org.timezone }, `${what}: the organization`);
  for (const k of ['id', 'scheduledAt', 'durationMinutes', 'status', 'providerName', 'serviceName']) {
    if (k in want) assert.deepEqual(v.appointment[k], want[k], `${what}: appointment.${k}`);
  }
  assertNoContact(res, want.contact || ctx.contact, what);
  for (const k of [org.adminKey, org.publicKey, org.vapiSecret]) assert.ok(!res.raw.includes(k), `${what}: no key in the answer`);
  return v;
}

/** The token no longer works: GET, cancel and reschedule → 404 not_found. */
async function expectGone(token, what, moveTo) {
  expectError(await view(token), 404, 'not_found', undefined, `${what}: GET`);
  expectError(await manageCancel(token), 404, 'not_found', undefined, `${what}: cancel`);
  expectError(await manageCancel(token, { body: {} }), 404, 'not_found', undefined, `${what}: cancel with {}`);
  if (moveTo) expectError(await manageMove(token, { scheduledAt: moveTo }), 404, 'not_found', undefined, `${what}: reschedule`);
}

async function getAppt(id, org = ctx.org) {
  return expectStatus(await ctx.api('GET', `/api/appointments/${id}`, { key: org.adminKey }), 200, `GET /api/appointments/${id}`);
}

async function patchPolicies(org, policies) {
  const res = await ctx.api('PATCH', '/api/orgs/me', { key: org.adminKey, body: { policies } });
  const o = expectStatus(res, 200, `PATCH policies ${JSON.stringify(policies)}`);
  for (const [k, v] of Object.entries(policies)) assert.equal(o.policies[k], v, `${k} is set`);
}

function expectRefused(res, why, what) {
  const e = expectError(res, 400, 'invalid_request', 'scheduledAt', what);
  assert.match(e.message, why, `${what}: the message says why: ${e.message}`);
  return e;
}

/** The audit trail of an appointment, newest first, checked for keys, tokens and personal data. */
async function trailOf(id, org = ctx.org, contact = ctx.contact) {
  const entries = await auditEntries(ctx, org.adminKey, { entityId: id });
  const text = JSON.stringify(entries);
  for (const t of tokens) assert.ok(!text.includes(t), 'a manage token in the audit log');
  for (const s of [contact.name, contact.phone, contact.email, org.adminKey, org.publicKey]) assert.ok(!text.includes(s), 'a key or personal data in the audit log');
  return entries;
}

function twilioCreds() {
  const t = { accountSid: `AC${rnd(16)}`, authToken: rnd(16), fromNumber: `+4470${digits(8)}` };
  secrets.push(t.authToken);
  return t;
}

async function connectTwilio(org) {
  const t = twilioCreds();
  const res = await ctx.api('PUT', '/api/integrations/twilio', { key: org.adminKey, body: t });
  assert.deepEqual(
    expectStatus(res, 200, 'PUT /api/integrations/twilio'),
    { connected: true, accountSid: t.accountSid, fromNumber: t.fromNumber, reminderHoursBefore: 24 },
  );
  smsOrgs.push(org);
  return t;
}

/** Waits for the n-th SMS to `to` of Twilio account `sid`; returns them all. */
function smsTo(tw, to, n) {
  return twilio.waitFor(n, { kind: 'message', where: (r) => r.params.sid === tw.accountSid && r.form && r.form.To === to, timeoutMs: 8000 });
}

// ------------------------------------------------------------------ the link and the view

ctest('a public-key booking → 201 with manageUrl "<BOOKD_PUBLIC_URL>/manage/<43 base64url>", a new token each time; an admin-key booking has none; GET /api/manage/{token} (no key) → 200 the appointment, provider and service names and the organization, nothing about the contact', async () => {
  const p = await provider();
  const s = await createService(ctx, admin(), { name: `Check-up ${rnd()}`, durationMinutes: 45 });
  const day = nextWeekday(UTC, 'tue', 7);
  const A = await publicBook({ providerId: p.id, serviceId: s.id, scheduledAt: at(day, '10:00'), durationMinutes: undefined, notes: 'private note' }, { what: 'with a service' });
  assert.equal(A.appt.durationMinutes, 45);
  assert.ok(!A.res.raw.includes(ctx.org.publicKey), 'no key in the answer');
  const B = await publicBook({ providerId: p.id, scheduledAt: at(day, '13:00') }, { what: 'without a service' });
  const C = await publicBook({ scheduledAt: at(day, '14:00') }, { what: 'the default provider' });
  assert.equal(new Set([A.token, B.token, C.token]).size, 3, 'every booking has its own token');

  await viewOk(A.token, { id: A.appt.id, scheduledAt: at(day, '10:00'), durationMinutes: 45, status: 'confirmed', providerName: p.name, serviceName: s.name }, 'with a service');
  const vb = await viewOk(B.token, { id: B.appt.id, scheduledAt: at(day, '13:00'), durationMinutes: 30, status: 'confirmed', providerName: p.name, serviceName: null }, 'without a service');
  assert.ok(!JSON.stringify(vb).includes('private note'));
  const vc = await viewOk(C.token, { id: C.appt.id, scheduledAt: at(day, '14:00'), status: 'confirmed', serviceName: null }, 'the default provider');
  assert.equal(typeof vc.appointment.providerName, 'string', 'the default provider has a name');
  assert.ok(vc.appointment.providerName.length > 0);
  // The view does not depend on a key: with one it is the same.
  assert.deepEqual(expectStatus(await ctx.api('GET', `/api/manage/${B.token}`, { key: admin() }), 200, 'with an admin key as well'), vb);
  assert.ok(!(await view(A.token)).raw.includes('private note'), 'no notes in the view');
  // HEAD: GET's status and headers, no body.
  const get = await view(B.token);
  const head = await ctx.api('HEAD', `/api/manage/${B.token}`);
  assert.equal(head.status, 200, `HEAD: ${head.status}`);
  assert.equal(head.raw, '', 'HEAD has no body');
  assert.equal(head.headers['content-type'], get.headers['content-type'], 'HEAD: GET\'s Content-Type');
  assert.equal(head.headers['content-length'], get.headers['content-length'], 'HEAD: GET\'s Content-Length');
  expectError(await ctx.api('GET', `/api/manage/${randomToken()}`), 404, 'not_found', undefined, 'GET of an unknown token');
  assert.equal((await ctx.api('HEAD', `/api/manage/${randomToken()}`)).status, 404, 'HEAD of an unknown token');

  // The admin key books without a link.
  const res = await book(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: at(day, '15:00'), durationMinutes: 30 });
  const b = expectStatus(res, 201, 'admin booking');
  assert.deepEqual(Object.keys(b).sort(), ['appointment', 'appointmentId'], `an admin-key booking has no manageUrl: ${res.raw.slice(0, 300)}`);
  assert.ok(!res.raw.includes('/manage/'), 'no link anywhere in the admin answer');
});

ctest('unknown tokens (43 random base64url characters, a real one with a character or the case changed) and malformed ones (too short, too long, other characters, empty) → 404 not_found on GET, cancel and reschedule; nothing changes; wrong methods → 405', async () => {
  const p = await provider();
  const day = nextWeekday(UTC, 'wed', 7);
  const A = await publicBook({ providerId: p.id, scheduledAt: at(day, '10:00') });
  const t = A.token;
  const moveTo = at(day, '14:00');
  const flip = (c) => (c === 'A' ? 'B' : 'A');
  const swapCase = t.replace(/[A-Za-z]/g, (c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()));
  const unknown = [
    ['43 random characters', randomToken()],
    ['43 random characters again', randomToken()],
    ['the token with its last character changed', t.slice(0, 42) + flip(t[42])],
    ['the token with its first character changed', flip(t[0]) + t.slice(1)],
  ];
  if (swapCase !== t) unknown.push(['the token with its letters\' case swapped', swapCase]);
  const malformed = [
    ['too short', 'abc'],
    ['42 characters', t.slice(0, 42)],
    ['44 characters', `${t}A`],
    ['the token twice', t + t],
    ['300 characters', 'a'.repeat(300)],
    ['a dot', `${t.slice(0, 42)}.`],
    ['a tilde', `${t.slice(0, 42)}~`],
    ['a plus', `${t.slice(0, 42)}+`],
    ['padding', `${t}=`],
    ['percent-encoded slash', `${t.slice(0, 40)}%2F`],
    ['percent-encoded space', `${t.slice(0, 40)}%20`],
    ['a UUID', A.appt.id],
  ];
  for (const [what, x] of [...unknown, ...malformed]) {
    expectError(await view(x), 404, 'not_found', undefined, `${what}: GET`);
    expectError(await manageCancel(x), 404, 'not_found', undefined, `${what}: cancel`);
    expectError(await manageMove(x, { scheduledAt: moveTo }), 404, 'not_found', undefined, `${what}: reschedule`);
  }
  for (const path of ['/api/manage/', '/api/manage//cancel', '/api/manage//reschedule']) {
    expectError(await ctx.api('GET', path), 404, 'not_found', undefined, `GET ${path}`);
    expectError(await ctx.api('POST', path, { body: { scheduledAt: moveTo } }), 404, 'not_found', undefined, `POST ${path}`);
  }
  // Known paths, wrong methods.
  for (const [method, path] of [['DELETE', `/api/manage/${t}`], ['PUT', `/api/manage/${t}`], ['POST', `/api/manage/${t}`], ['GET', `/api/manage/${t}/cancel`], ['GET', `/api/manage/${t}/reschedule`]]) {
    const res = await ctx.api(method, path, method === 'GET' ? {} : { body: {} });
    expectError(res, 405, 'method_not_allowed', undefined, `${method} ${path.replace(t, '{token}')}`);
    assert.ok(res.headers.allow, `${method} ${path.replace(t, '{token}')}: 405 has Allow`);
  }
  // None of it touched the appointment or its link.
  await viewOk(t, { id: A.appt.id, scheduledAt: at(day, '10:00'), status: 'confirmed' }, 'the real token still works');
  assert.equal((await getAppt(A.appt.id)).status, 'confirmed');
  assert.deepEqual((await trailOf(A.appt.id)).map((e) => e.action), ['appointment.booked'], 'no audit entry');
  assert.deepEqual((await listAll(ctx, admin(), { providerId: p.id })).all.map((x) => x.id), [A.appt.id], 'nothing booked');
});

// ------------------------------------------------------------------ cancel

ctest('GET /api/manage/{token}/availability(/days): the free times to move to, for the appointment\'s provider, length and service buffers, the appointment itself left out (a quarter of an hour later is offered); public rules; a dead or unknown token → 404; bad dates → 400', async () => {
  const p = await provider();
  const s = await createService(ctx, admin(), { name: `Check-up ${rnd()}`, durationMinutes: 30, bufferAfterMinutes: 15 });
  const day = nextWeekday(UTC, 'tue', 7);
  const A = await publicBook({ providerId: p.id, serviceId: s.id, scheduledAt: at(day, '10:00'), durationMinutes: undefined });
  // Another appointment of the provider at 12:00 stays busy.
  await bookOk(ctx, admin(), { contactId: ctx.contact.id, providerId: p.id, scheduledAt: at(day, '12:00'), durationMinutes: 30 });
  const slots = expectStatus(await ctx.api('GET', `/api/manage/${A.token}/availability`, { query: { date: day } }), 200, 'slots');
  assert.equal(slots.date, day);
  assert.equal(slots.timezone, UTC);
  const starts = slots.slots.map((x) => x.scheduledAt);
  assert.ok(slots.slots.every((x) => x.durationMinutes === 30), 'the appointment\'s length');
  assert.ok(starts.includes(at(day, '10:00')) && starts.includes(at(day, '10:15')), `its own time and 15 minutes later are offered: ${starts.slice(0, 8)}`);
  // 30 minutes + 15 of buffer after: 11:15 would end its buffer at 12:00, 11:30 overlaps 12:00.
  assert.ok(starts.includes(at(day, '11:15')) && !starts.includes(at(day, '11:30')) && !starts.includes(at(day, '12:00')), `the service's buffer and the other appointment count: ${starts}`);
  // The same as an admin's free slots for that provider and service, with the appointment gone.
  const adminView = expectStatus(await ctx.api('GET', '/api/availability', { key: admin(), query: { date: day, providerId: p.id, serviceId: s.id } }), 200);
  assert.ok(!adminView.slots.map((x) => x.scheduledAt).includes(at(day, '10:15')), 'for everyone else 10:15 is taken');
  const days = expectStatus(await ctx.api('GET', `/api/manage/${A.token}/availability/days`, { query: { from: day, to: addDays(day, 6) } }), 200, 'days');
  assert.equal(days.days.length, 7);
  assert.equal(days.days[0].freeSlots, slots.slots.length, 'the day\'s count is the day\'s slots');
  assert.equal(days.days[4].freeSlots, 0, 'Saturday is closed');
  // Moving to 10:15 works (the reschedule leaves the old appointment out too).
  const moved = expectStatus(await manageMove(A.token, { scheduledAt: at(day, '10:15') }), 200, 'move by a quarter of an hour');
  assert.equal(moved.appointment.scheduledAt, at(day, '10:15'));
  expectError(await ctx.api('GET', `/api/manage/${A.token}/availability`, { query: { date: day } }), 404, 'not_found', undefined, 'the old token');
  const t2 = tokenOf(moved.manageUrl, 'the new link');
  expectError(await ctx.api('GET', `/api/manage/${t2}/availability`, { query: {} }), 400, 'invalid_request', 'date');
  expectError(await ctx.api('GET', `/api/manage/${t2}/availability`, { query: { date: '2026-02-30' } }), 400, 'invalid_request', 'date');
  expectError(await ctx.api('GET', `/api/manage/${t2}/availability/days`, { query: { from: day, to: addDays(day, 62) } }), 400, 'invalid_request', 'to');
  expectError(await ctx.api('GET', `/api/manage/${randomBytes(32).toString('base64url')}/availability`, { query: { date: day } }), 404, 'not_found');
});

ctest('POST /api/manage/{token}/cancel → 200 {appointment} status cancelled; the token then 404 on GET, cancel and reschedule; the slot is free; audit appointment.cancelled by manage_link', async () => {
  const p = await provider();
  const day = nextWeekday(UTC, 'thu', 7);
  const A = await publicBook({ providerId: p.id, scheduledAt: at(day, '11:00') });
  const res = await manageCancel(A.token);
  const b = expectStatus(res, 200, 'cancel through the link');
  assert.deepEqual(Object.keys(b), ['appointment'], `{appointment}: ${res.raw.slice(0, 300)}`);
  assert.equal(b.appointment.id, A.appt.id);
  assert.equal(b.appointment.status, 'cancelled');
  assert.equal(b.appointment.scheduledAt, at(day, '11:00'));
  assert.equal(b.appointment.durationMinutes, 30);
  assertNoContact(res, ctx.contact, 'the cancel answer');

  await expectGone(A.token, 'after the cancel', at(day, '14:00'));
  const got = await getAppt(A.appt.id);
  assert.equal(got.status, 'cancelled');
  assert.match(String(got.cancelledAt), ISO_MS_Z, 'cancelledAt is set');

  // The slot is free at once; the new booking has a link of its own.
  const B = await publicBook({ providerId: p.id, scheduledAt: at(day, '11:00') }, { what: 'the freed slot' });
  assert.notEqual(B.token, A.token);
  await viewOk(B.token, { id: B.appt.id, status: 'confirmed' });
  // A cancel with a JSON body works the same.
  const c = expectStatus(await manageCancel(B.token, { body: {} }), 200, 'cancel with {}');
  assert.equal(c.appointment.status, 'cancelled');
  await expectGone(B.token, 'the second link after its cancel');

  const trail = await trailOf(A.appt.id);
  assert.deepEqual(trail.map((e) => e.action), ['appointment.cancelled', 'appointment.booked'], 'booked, then cancelled, newest first');
  assert.equal(trail[0].actor, 'manage_link', 'cancelled by the patient through the link');
  assert.match(trail[1].actor, /^public_key:/);
  for (const e of trail) assert.equal(e.entityType, 'appointment');
  assert.equal((await trailOf(B.appt.id))[0].actor, 'manage_link');
});

// ------------------------------------------------------------------ reschedule

ctest('POST /api/manage/{token}/reschedule {scheduledAt} → 200 {appointment (the new one), manageUrl (a new token)}; the old token 404, the new one shows the new time; the old appointment rescheduled → new; audit by manage_link', async () => {
  const p = await provider();
  const s = await createService(ctx, admin(), { name: `Cleaning ${rnd()}`, durationMinutes: 60 });
  const day = nextWeekday(UTC, 'mon', 7);
  const day2 = nextWeekday(UTC, 'thu', 14);
  const A = await publicBook({ providerId: p.id, serviceId: s.id, scheduledAt: at(day, '10:00'), durationMinutes: undefined, notes: 'kept', metadata: { src: 'page' } });

  // An offset is accepted; the answer is in UTC.
  const res = await manageMove(A.token, { scheduledAt: `${day2}T15:30:00+02:00` });
  const b = expectStatus(res, 200, 'reschedule through the link');
  assert.deepEqual(Object.keys(b).sort(), ['appointment', 'manageUrl'], `{appointment, manageUrl}: ${res.raw.slice(0, 300)}`);
  const t2 = tokenOf(b.manageUrl, 'the new link');
  assert.notEqual(t2, A.token, 'a new token');
  const n = b.appointment;
  assert.match(n.id, UUID_RE);
  assert.notEqual(n.id, A.appt.id, 'a new appointment');
  assert.equal(n.scheduledAt, at(day2, '13:30'));
  assert.equal(n.durationMinutes, 60, 'the length carries over');
  assert.equal(n.status, 'confirmed');
  assertNoContact(res, ctx.contact, 'the reschedule answer');

  await expectGone(A.token, 'the old token', at(day2, '09:00'));
  await viewOk(t2, { id: n.id, scheduledAt: at(day2, '13:30'), durationMinutes: 60, status: 'confirmed', providerName: p.name, serviceName: s.name }, 'the new token');

  const old = await getAppt(A.appt.id);
  assert.equal(old.status, 'rescheduled');
  assert.equal(old.rescheduledTo, n.id);
  const neu = await getAppt(n.id);
  for (const k of ['providerId', 'contactId', 'serviceId', 'notes', 'metadata']) assert.deepEqual(neu[k], A.appt[k], `${k} carries over`);

  // The old time is free again: a public booking takes it.
  await publicBook({ providerId: p.id, scheduledAt: at(day, '10:00') }, { what: 'the old time' });

  // Again with the new link, to a range overlapping its own: allowed (it does not conflict with itself).
  const r2 = expectStatus(await manageMove(t2, { scheduledAt: at(day2, '14:00') }), 200, 'a second move, overlapping itself');
  const t3 = tokenOf(r2.manageUrl, 'the third link');
  assert.equal(r2.appointment.scheduledAt, at(day2, '14:00'));
  await expectGone(t2, 'the second token');
  await viewOk(t3, { id: r2.appointment.id, scheduledAt: at(day2, '14:00'), status: 'confirmed' }, 'the third token');
  assert.deepEqual(
    (await listAll(ctx, admin(), { providerId: p.id, status: 'confirmed', from: at(day2, '00:00'), to: at(addDays(day2, 1), '00:00') })).all.map((x) => x.id),
    [r2.appointment.id],
    'one confirmed appointment left of the chain',
  );

  const trail = await trailOf(A.appt.id);
  assert.deepEqual(trail.map((e) => e.action), ['appointment.rescheduled', 'appointment.booked']);
  assert.equal(trail[0].actor, 'manage_link', 'rescheduled by the patient through the link');
  assert.ok(JSON.stringify(trail[0].details).includes(n.id), `the details name the new id: ${JSON.stringify(trail[0].details)}`);
  const nt = await trailOf(n.id);
  const booked = nt.find((e) => e.action === 'appointment.booked');
  assert.ok(booked, `appointment.booked under the new id: ${JSON.stringify(nt)}`);
  assert.equal(booked.actor, 'manage_link', 'the new appointment booked by manage_link');
  assert.equal(nt[0].action, 'appointment.rescheduled', 'the new one moved on too');
  assert.equal(nt[0].actor, 'manage_link');
});

ctest('a reschedule through the link follows the public rules: outside working hours, at the weekend, in the past → 400 scheduledAt; over another appointment → 409 slot_unavailable (times only, no id), over a hold → conflictingHold; unknown fields (durationMinutes, providerId too) and bad scheduledAt → 400 naming them; 415; nothing changes', async () => {
  const p = await provider();
  const q = await provider();
  const day = nextWeekday(UTC, 'tue', 14);
  const A = await publicBook({ providerId: p.id, scheduledAt: at(day, '10:00') });
  const other = await createContact(ctx, admin(), { name: `Other Patient ${rnd()}`, phone: `+4479${digits(8)}` });
  secrets.push(other.name, other.phone);
  const X = await bookOk(ctx, admin(), { contactId: other.id, providerId: p.id, scheduledAt: at(day, '11:00'), durationMinutes: 30 }, 'the appointment in the way');
  const free = at(day, '15:00');

  for (const [what, scheduledAt] of [
    ['before opening', at(day, '08:00')],
    ['ending after closing', at(day, '16:45')],
    ['at closing', at(day, '17:00')],
    ['at night', at(day, '22:00')],
    ['on a Saturday', at(nextWeekday(UTC, 'sat', 14), '10:00')],
    ['on a Sunday', at(nextWeekday(UTC, 'sun', 14), '10:00')],
    ['in the past, in working hours', at(previousWeekday(UTC, 'tue', 7), '10:00')],
  ]) {
    expectError(await manageMove(A.token, { scheduledAt }), 400, 'invalid_request', 'scheduledAt', what);
  }

  for (const [what, scheduledAt] of [['starting inside it', at(day, '11:15')], ['ending inside it', at(day, '10:45')], ['the same time', at(day, '11:00')]]) {
    const e = expectError(await manageMove(A.token, { scheduledAt }), 409, 'slot_unavailable', undefined, `over another appointment, ${what}`);
    assert.ok(e.conflictingAppointment, `${what}: conflictingAppointment: ${JSON.stringify(e)}`);
    assert.deepEqual(e.conflictingAppointment, { scheduledAt: X.scheduledAt, durationMinutes: 30 }, `${what}: times only, no id`);
    assert.ok(!JSON.stringify(e).includes(X.id) && !JSON.stringify(e).includes(other.name), `${what}: nothing of the other appointment but its times`);
  }
  const hres = await ctx.api('POST', '/api/holds', { key: admin(), body: { providerId: p.id, scheduledAt: at(day, '13:00'), durationMinutes: 30 } });
  const h = expectStatus(hres, 201, 'a hold');
  const eh = expectError(await manageMove(A.token, { scheduledAt: at(day, '13:00') }), 409, 'slot_unavailable', undefined, 'over a hold');
  assert.deepEqual(eh.conflictingHold, { scheduledAt: h.scheduledAt, durationMinutes: 30, expiresAt: h.expiresAt }, `conflictingHold, times only: ${JSON.stringify(eh)}`);
  expectStatus(await ctx.api('DELETE', `/api/holds/${h.holdId}`, { key: admin() }), 204, 'release the hold');

  const cases = [
    [{}, 'scheduledAt'],
    [{ scheduledAt: null }, 'scheduledAt'],
    [{ scheduledAt: `${day}T15:00:00` }, 'scheduledAt'],
    [{ scheduledAt: 'next tuesday at three' }, 'scheduledAt'],
    [{ scheduledAt: `${day}T25:00:00Z` }, 'scheduledAt'],
    [{ scheduledAt: 1936000000 }, 'scheduledAt'],
    [{ scheduledAt: free, durationMinutes: 120 }, 'durationMinutes'],
    [{ scheduledAt: free, providerId: q.id }, 'providerId'],
    [{ scheduledAt: free, contactId: other.id }, 'contactId'],
    [{ scheduledAt: free, notes: 'changed' }, 'notes'],
    [{ scheduledAt: free, colour: 'red' }, 'colour'],
  ];
  for (const [body, field] of cases) {
    expectError(await manageMove(A.token, body), 400, 'invalid_request', field, JSON.stringify(body));
  }
  expectError(await ctx.api('POST', `/api/manage/${A.token}/reschedule`, { rawBody: '{"scheduledAt":' }), 400, 'invalid_request', undefined, 'malformed JSON');
  expectError(await ctx.api('POST', `/api/manage/${A.token}/reschedule`, { body: [{ scheduledAt: free }] }), 400, 'invalid_request', undefined, 'an array body');
  expectError(await ctx.api('POST', `/api/manage/${A.token}/reschedule`, { rawBody: JSON.stringify({ scheduledAt: free }), contentType: 'text/plain' }), 415, 'unsupported_media_type', undefined, 'text/plain');

  // Nothing changed: the link, the appointment, the calendar, the audit log.
  await viewOk(A.token, { id: A.appt.id, scheduledAt: at(day, '10:00'), durationMinutes: 30, status: 'confirmed' }, 'after the refusals');
  assert.equal((await getAppt(A.appt.id)).status, 'confirmed');
  assert.deepEqual((await listAll(ctx, admin(), { providerId: p.id })).all.map((x) => x.id), [A.appt.id, X.id], 'nothing booked or moved');
  assert.deepEqual((await listAll(ctx, admin(), { providerId: q.id })).all, [], 'nothing on the other provider');
  assert.deepEqual((await trailOf(A.appt.id)).map((e) => e.action), ['appointment.booked'], 'no audit entry');
  // And the link still moves it to a free time.
  const ok = expectStatus(await manageMove(A.token, { scheduledAt: free }), 200, 'a free time');
  tokenOf(ok.manageUrl, 'after the refusals');
  assert.equal(ok.appointment.scheduledAt, free);
});

// ------------------------------------------------------------------ policies

ctest('cancellationNoticeHours: a cancel or reschedule through the link less than that before the start → 409 invalid_state saying so, nothing changes; under a smaller notice both work, and the notice counts from each appointment\'s own start', async () => {
  const org = await newOrg();
  const contact = await pageContact(org);
  const near = workdayAhead(2); // 36 h to 5 days ahead: inside a 168 h notice, outside a 24 h one
  const far = nextWeekday(UTC, 'wed', 15); // more than 168 h ahead
  const A = await publicBook({ scheduledAt: at(near, '12:00') }, { org, contact });
  await patchPolicies(org, { cancellationNoticeHours: 168 });

  const c = expectError(await manageCancel(A.token), 409, 'invalid_state', undefined, 'cancel inside the notice');
  assert.match(c.message, /notice|hours?|too late|before/i, `the message says why: ${c.message}`);
  const r = expectError(await manageMove(A.token, { scheduledAt: at(far, '10:00') }), 409, 'invalid_state', undefined, 'reschedule inside the notice');
  assert.match(r.message, /notice|hours?|too late|before/i, `the message says why: ${r.message}`);

  const want = { id: A.appt.id, scheduledAt: at(near, '12:00'), status: 'confirmed', org, contact };
  await viewOk(A.token, want, 'still there after the refusals');
  assert.equal((await getAppt(A.appt.id, org)).status, 'confirmed');
  assert.deepEqual((await trailOf(A.appt.id, org, contact)).map((e) => e.action), ['appointment.booked'], 'no audit entry');
  assert.deepEqual((await listAll(ctx, org.adminKey, {})).all.map((x) => x.id), [A.appt.id], 'nothing booked at the new time');

  // 24 h: this appointment is further away than that.
  await patchPolicies(org, { cancellationNoticeHours: 24 });
  const m = expectStatus(await manageMove(A.token, { scheduledAt: at(far, '10:00') }), 200, 'reschedule outside a 24 h notice');
  const t2 = tokenOf(m.manageUrl, 'after the move');
  // 168 h again: the new appointment is more than that away, so its link cancels it.
  await patchPolicies(org, { cancellationNoticeHours: 168 });
  const x = expectStatus(await manageCancel(t2), 200, 'cancel of the new appointment, outside the notice');
  assert.equal(x.appointment.status, 'cancelled');
  await expectGone(t2, 'after the cancel');
});

ctest('minimumNoticeMinutes and bookingHorizonDays bound the new time of a reschedule through the link (400 scheduledAt, "too soon" / "too far ahead"); nothing changes; a time within them works', async () => {
  const org = await newOrg();
  const contact = await pageContact(org);
  const day = nextWeekday(UTC, 'wed', 7); // 7-13 days ahead
  const day21 = nextWeekday(UTC, 'wed', 21); // 21-27 days ahead
  const day35 = nextWeekday(UTC, 'wed', 35); // 35-41 days ahead
  const A = await publicBook({ scheduledAt: at(day, '10:00') }, { org, contact });

  await patchPolicies(org, { bookingHorizonDays: 10 });
  expectRefused(await manageMove(A.token, { scheduledAt: at(day21, '10:00') }), TOO_FAR, 'beyond a 10-day horizon');
  expectRefused(await manageMove(A.token, { scheduledAt: at(day35, '10:00') }), TOO_FAR, 'far beyond a 10-day horizon');

  await patchPolicies(org, { bookingHorizonDays: 0, minimumNoticeMinutes: 43200 });
  expectRefused(await manageMove(A.token, { scheduledAt: at(day, '15:00') }), TOO_SOON, 'inside a 30-day notice, the same day');
  expectRefused(await manageMove(A.token, { scheduledAt: at(day21, '10:00') }), TOO_SOON, 'inside a 30-day notice, three weeks ahead');

  await viewOk(A.token, { id: A.appt.id, scheduledAt: at(day, '10:00'), status: 'confirmed', org, contact }, 'after the refusals');
  assert.deepEqual((await trailOf(A.appt.id, org, contact)).map((e) => e.action), ['appointment.booked'], 'no audit entry');
  assert.deepEqual((await listAll(ctx, org.adminKey, {})).all.map((x) => x.id), [A.appt.id], 'nothing booked');

  // Beyond the notice, no horizon: allowed.
  const m = expectStatus(await manageMove(A.token, { scheduledAt: at(day35, '10:00') }), 200, 'beyond a 30-day notice');
  assert.equal(m.appointment.scheduledAt, at(day35, '10:00'));
  const t2 = tokenOf(m.manageUrl, 'after the move');
  // Both at once: the notice and the horizon.
  await patchPolicies(org, { bookingHorizonDays: 40, minimumNoticeMinutes: 20160 }); // 14 days .. 40 days
  expectRefused(await manageMove(t2, { scheduledAt: at(day, '11:00') }), TOO_SOON, 'both set, too soon');
  expectRefused(await manageMove(t2, { scheduledAt: at(addDays(day35, 14), '10:00') }), TOO_FAR, 'both set, too far ahead');
  const m2 = expectStatus(await manageMove(t2, { scheduledAt: at(day21, '11:00') }), 200, 'between the two');
  tokenOf(m2.manageUrl, 'between the two');
  await patchPolicies(org, { bookingHorizonDays: 0, minimumNoticeMinutes: 0 });
});

// ------------------------------------------------------------------ the admin API ends links

ctest('a token stops working when the admin API cancels or moves its appointment, or erases its contact', async () => {
  const p = await provider();
  const day = nextWeekday(UTC, 'fri', 7);
  const A = await publicBook({ providerId: p.id, scheduledAt: at(day, '09:00') });
  const B = await publicBook({ providerId: p.id, scheduledAt: at(day, '10:00') });
  await viewOk(A.token, { id: A.appt.id });
  await viewOk(B.token, { id: B.appt.id });

  expectStatus(await ctx.api('POST', `/api/appointments/${A.appt.id}/cancel`, { key: admin(), body: {} }), 200, 'admin cancel');
  await expectGone(A.token, 'cancelled by the admin key', at(day, '14:00'));
  assert.equal((await getAppt(A.appt.id)).status, 'cancelled');

  const mv = await ctx.api('POST', `/api/appointments/${B.appt.id}/reschedule`, { key: admin(), body: { scheduledAt: at(day, '11:00') } });
  const moved = expectStatus(mv, 200, 'admin reschedule').appointment;
  await expectGone(B.token, 'moved by the admin key', at(day, '14:00'));
  assert.equal((await getAppt(moved.id)).status, 'confirmed', 'the moved appointment stands');
  assert.equal((await getAppt(B.appt.id)).status, 'rescheduled', 'and the link did not move it again');

  // Erasure cancels the contact's future appointments, so their links end.
  const gone = await pageContact(ctx.org);
  const C = await publicBook({ providerId: p.id, scheduledAt: at(day, '13:00') }, { contact: gone });
  await viewOk(C.token, { id: C.appt.id, contact: gone });
  expectStatus(await ctx.api('DELETE', `/api/contacts/${gone.id}`, { key: admin() }), 204, 'erase the contact');
  await expectGone(C.token, 'after the erasure', at(day, '15:00'));
  assert.equal((await getAppt(C.appt.id)).status, 'cancelled');
});

// ------------------------------------------------------------------ Idempotency-Key

ctest('Idempotency-Key: the replay of a public booking carries a manageUrl with a new token, everything else as first answered; both tokens work until the appointment is cancelled through either', async () => {
  const p = await provider();
  const day = nextWeekday(UTC, 'mon', 14);
  const key = `manage-${rnd(8)}`;
  const body = { providerId: p.id, scheduledAt: at(day, '10:00') };
  const first = await publicBook(body, { headers: { 'Idempotency-Key': key }, what: 'first' });
  const again = await publicBook(body, { headers: { 'Idempotency-Key': key }, what: 'replay' });
  assert.equal(String(again.res.headers['idempotent-replayed']).toLowerCase(), 'true', 'Idempotent-Replayed: true');
  const strip = (b) => Object.fromEntries(Object.entries(b).filter(([k]) => k !== 'manageUrl'));
  assert.deepEqual(strip(again.res.body), strip(first.res.body), 'the same booking');
  assert.notEqual(again.token, first.token, 'a new token (the first is stored hashed only)');
  assert.deepEqual((await listAll(ctx, admin(), { providerId: p.id })).all.map((x) => x.id), [first.appt.id], 'booked once');

  const v1 = await viewOk(first.token, { id: first.appt.id, status: 'confirmed' }, 'the first token');
  const v2 = await viewOk(again.token, { id: first.appt.id, status: 'confirmed' }, 'the replay\'s token');
  assert.deepEqual(v2, v1);
  expectStatus(await manageCancel(again.token), 200, 'cancel through the replay\'s token');
  await expectGone(again.token, 'the replay\'s token after the cancel');
  await expectGone(first.token, 'the first token after the cancel');

  // An admin-key replay has no link either.
  const akey = `manage-admin-${rnd(8)}`;
  const ab = { contactId: ctx.contact.id, providerId: p.id, scheduledAt: at(day, '14:00'), durationMinutes: 30 };
  for (const what of ['admin first', 'admin replay']) {
    const res = await book(ctx, admin(), ab, { 'Idempotency-Key': akey });
    assert.deepEqual(Object.keys(expectStatus(res, 201, what)).sort(), ['appointment', 'appointmentId'], `${what}: no manageUrl`);
  }
});

// ------------------------------------------------------------------ rate limit

ctest('the manage routes are rate-limited per client address at the public rate: with BOOKD_RATE_LIMIT_PUBLIC=2/3 the 4th or 5th quick GET of an unknown token → 429 rate_limited with Retry-After; cancel too; the public key keeps its own bucket; after Retry-After it answers again', async () => {
  const server = await startServer({ env: { BOOKD_RATE_LIMIT_PUBLIC: '2/3', BOOKD_PUBLIC_URL: PUBLIC_URL } });
  const own = { server, api: makeApi(server.url), adminToken: server.adminToken };
  let stopped = false;
  try {
    const org = await createOrg(own, { timezone: UTC });
    const mine = [own.adminToken, org.adminKey, org.publicKey, org.vapiSecret];
    const seen = [];
    let limited = null;
    for (let i = 0; i < 8 && !limited; i++) {
      const res = await own.api('GET', `/api/manage/${randomToken()}`);
      seen.push(res.status);
      if (res.status === 429) limited = res;
      else expectError(res, 404, 'not_found', undefined, `quick GET ${i + 1}`);
    }
    assert.deepEqual(seen.slice(0, 3), [404, 404, 404], `the burst of 3 is allowed: ${seen}`);
    assert.ok(limited, `no 429 within 8 quick requests at 2/s with burst 3: ${seen}`);
    assert.ok(seen.length <= 5, `429 came late (the 4th or 5th should be): ${seen}`);
    expectError(limited, 429, 'rate_limited');
    const ra = limited.headers['retry-after'];
    assert.match(String(ra), /^\d+$/, `Retry-After is delta-seconds: ${ra}`);
    assert.ok(Number(ra) >= 1 && Number(ra) <= 5, `Retry-After ${ra} fits 2/s`);
    expectError(await own.api('POST', `/api/manage/${randomToken()}/cancel`), 429, 'rate_limited', undefined, 'cancel from the same address, still limited');
    // The public key is limited per key, not by this address's manage bucket.
    expectStatus(await own.api('GET', '/api/providers', { key: org.publicKey }), 200, 'the public key has its own bucket');
    await new Promise((r) => setTimeout(r, Number(ra) * 1000 + 100));
    expectError(await own.api('GET', `/api/manage/${randomToken()}`), 404, 'not_found', undefined, 'after Retry-After');
    stopped = true;
    await stopAndCheckLogs(own, mine);
  } finally {
    if (!stopped) await server.stop();
  }
}, { timeout: 40_000 });

// ------------------------------------------------------------------ SMS

ctest('SMS: with Twilio connected, the confirmation of a public-key booking carries "<BOOKD_PUBLIC_URL>/manage/<token>" and that link works; an admin-key booking\'s SMS has no link', async () => {
  const org = await newOrg();
  const tw = await connectTwilio(org);
  const contact = await pageContact(org);
  const day = nextWeekday(UTC, 'tue', 7);
  const A = await publicBook({ scheduledAt: at(day, '10:00') }, { org, contact });
  const [m1] = await smsTo(tw, contact.phone, 1);
  const text = m1.form.Body;
  const link = LINK_IN_TEXT.exec(text);
  assert.ok(link, `the SMS has a manage link under ${PUBLIC_URL}: ${JSON.stringify(text)}`);
  const s = link[1];
  assert.match(s, TOKEN_RE, `the SMS link's token is 43 base64url characters: ${JSON.stringify(text)}`);
  tokens.push(s);
  await viewOk(s, { id: A.appt.id, scheduledAt: at(day, '10:00'), status: 'confirmed', org, contact }, 'the link of the SMS');
  await viewOk(A.token, { id: A.appt.id, org, contact }, 'the link of the answer');
  assert.ok(!text.includes(contact.email), 'no e-mail address in the SMS');

  const B = await bookOk(ctx, org.adminKey, { contactId: contact.id, scheduledAt: at(day, '14:00'), durationMinutes: 30 }, 'admin booking');
  const [, m2] = await smsTo(tw, contact.phone, 2);
  assert.ok(!m2.form.Body.includes('/manage/') && !m2.form.Body.includes(PUBLIC_URL), `an admin-key booking's SMS has no link: ${JSON.stringify(m2.form.Body)}`);
  assert.ok(B.id);
  // Last, as integrations.test.mjs asks of every SMS: one segment, link included.
  assert.ok(text.length <= 306, `the confirmation with its link fits two SMS segments (≤ 306 characters, ${text.length}): ${JSON.stringify(text)}`);
});

ctest('SMS: a booking by the voice agent gets a manage link too, in its confirmation SMS, and that link works', async () => {
  const org = await newOrg();
  const tw = await connectTwilio(org);
  const phone = `+4479${digits(8)}`;
  const name = `Voice Caller ${rnd()}`;
  secrets.push(phone, name);
  const day = nextWeekday(UTC, 'wed', 7);
  const toolCallId = `call_${rnd(12)}`;
  const message = {
    timestamp: Date.now(),
    type: 'tool-calls',
    call: { id: randomUUID(), type: 'inboundPhoneCall', status: 'in-progress', customer: { number: phone } },
    toolCallList: [{ id: toolCallId, type: 'function', function: { name: 'bookAppointment', arguments: { scheduledAt: at(day, '11:00'), durationMinutes: 30, name, phone } } }],
  };
  const res = await ctx.api('POST', '/api/webhooks/vapi', { body: { message }, headers: { 'x-vapi-secret': org.vapiSecret } });
  const b = expectStatus(res, 200, 'bookAppointment');
  assert.ok(Array.isArray(b.results) && b.results.length === 1 && typeof b.results[0].result === 'string', `a result, not an error: ${res.raw.slice(0, 300)}`);
  const [a] = (await listAll(ctx, org.adminKey, {})).all;
  assert.ok(a && a.scheduledAt === at(day, '11:00') && a.status === 'confirmed', `the voice agent booked: ${JSON.stringify(a)}`);

  const [m] = await smsTo(tw, phone, 1);
  const link = LINK_IN_TEXT.exec(m.form.Body);
  assert.ok(link, `the SMS has a manage link under ${PUBLIC_URL}: ${JSON.stringify(m.form.Body)}`);
  assert.match(link[1], TOKEN_RE);
  tokens.push(link[1]);
  await viewOk(link[1], { id: a.id, scheduledAt: at(day, '11:00'), status: 'confirmed', org, contact: { name, phone } }, 'the voice booking\'s link');
  assert.ok(m.form.Body.length <= 306, `the confirmation with its link fits two SMS segments (≤ 306 characters, ${m.form.Body.length}): ${JSON.stringify(m.form.Body)}`);
});

// ------------------------------------------------------------------ log

ctest('SIGTERM stops bookd; its log holds no manage token, key or personal data', async () => {
  // Twilio is disconnected first: the reminders waiting for this file's
  // appointments become dead and leave no backlog to the files after it.
  for (const org of smsOrgs) {
    const res = await ctx.api('DELETE', '/api/integrations/twilio', { key: org.adminKey });
    assert.ok([204, 404].includes(res.status), `DELETE /api/integrations/twilio: ${res.status}`);
  }
  assert.ok(tokens.length >= 10, `the file saw its tokens (${tokens.length})`);
  await stopAndCheckLogs(ctx, [...secrets, ...tokens]);
});
