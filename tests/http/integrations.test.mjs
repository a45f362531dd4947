// Integrations (API.md, "Integrations (Google Calendar, Twilio SMS, Vapi
// outbound calls)", "Circuit breakers", "Conflicts with holds and external
// busy times") against fakes of Google, Twilio and Vapi on 127.0.0.1
// (lib/fakes.mjs, each a lib/receiver.mjs receiver): the settings
// (GET/PUT/DELETE /api/integrations…, write-only secrets), linking a
// provider's calendar, the requests bookd makes (token grant, event insert
// and delete, events.list paged, SMS, reminder calls) exactly as the fakes
// recorded them, busy times imported from Google in conflicts, the check and
// free slots, reminders at their time (and not for cancelled or moved
// appointments), outages (retries, the breaker, nothing lost, nothing sent
// twice), refused credentials kept until fixed, and breakers per organization.
//
// The fakes start before the file's server (top-level await) so that its
// BOOKD_*_API_BASE settings can point at them. The server imports busy
// times every 2 s for 60 days, retries a second apart (eight attempts), gives
// up on an answer after 1 s, looks for due deliveries every 100 ms, and opens
// a breaker after 3 failures in a row for 2 s. Every test has its own
// organization (so its own integrations, tokens and breakers), providers and
// contacts with phone numbers of their own, and unlinks the calendars it
// linked. Every answer of the server is checked for the write-only secrets
// (client secrets, refresh tokens, access tokens, auth tokens, API keys).

import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import {
  assert, ctest, useServer, createOrg, createContact, createProvider, expectStatus, expectError, book, bookOk, auditEntries,
  stopAndCheckLogs, waitUntil, sleep, rnd, digits, randomUUID,
} from './lib/harness.mjs';
import { TEST_SECRET_KEY } from './lib/server.mjs';
import { startFakes, fakeEnv, basicHeader } from './lib/fakes.mjs';
import { ISO_MS_Z, localParts, nextWeekday, zonedToUtc, tzOffsetMs } from './lib/time.mjs';

// The error code of a 400 (API.md, "Conventions").
const BAD = 'invalid_request';
const OPEN_MS = 2000;
const SYNC_DAYS = 60;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** RFC 3339 with seconds and an offset or Z, as Google's dateTime, timeMin and timeMax are. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

const fakes = await startFakes({ google: { pageSize: 2 } });
const { google, twilio, vapi } = fakes;
// Registered before the server's hook: node skips the later after-hooks
// once one throws (a server that died), and the fakes would keep the file
// running.
after(() => fakes.close());

const secrets = [process.env.BOOKD_SECRET_KEY || TEST_SECRET_KEY];
/** Secrets put into integrations: never in any answer (nor in the log). */
const writeOnly = [];
const everyWriteOnly = () => writeOnly.concat(google.tokens.map((t) => t.token));

const ctx = useServer({
  env: {
    ...fakeEnv(fakes),
    BOOKD_GOOGLE_SYNC_SECONDS: '2',
    BOOKD_GOOGLE_SYNC_DAYS: String(SYNC_DAYS),
    BOOKD_WEBHOOK_RETRY_SCHEDULE: '0,1,1,1,1,1,1,1',
    BOOKD_WEBHOOK_TIMEOUT_MS: '1000',
    BOOKD_OUTBOX_POLL_MS: '100',
    BOOKD_BREAKER_CONSECUTIVE_FAILURES: '3',
    BOOKD_BREAKER_OPEN_MS: String(OPEN_MS),
  },
  setup: async (c) => {
    secrets.push(c.adminToken);
    // Every answer of this file is searched for the write-only secrets.
    const api = c.api;
    c.api = async (method, path, opts) => {
      const res = await api(method, path, opts);
      const leaked = everyWriteOnly().filter((s) => res.raw.includes(s));
      assert.equal(leaked.length, 0, `${method} ${path} → ${res.status}: the answer contains ${leaked.length} write-only secret(s) (an access token, client secret, refresh token, auth token or API key)`);
      return res;
    };
  },
});

// ------------------------------------------------------------------ helpers

const pad = (n) => String(n).padStart(2, '0');
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const letters = (n) => [...randomBytes(n)].map((b) => LETTERS[b % 26]).join('');
const FIRST = ['Ada', 'Grace', 'Maya', 'Noor', 'Iris', 'Olive'];

/** A new organization (its keys go on the list the log must not contain). */
const orgs = [];
async function newOrg(timezone = 'Europe/London') {
  const org = await createOrg(ctx, { name: `Smile Dental ${rnd()}`, timezone });
  secrets.push(org.adminKey, org.publicKey, org.vapiSecret);
  orgs.push(org);
  return org;
}

/** A UK mobile number of its own, E.164. */
function phone() {
  const p = `+4479${digits(8)}`;
  secrets.push(p);
  return p;
}

/** A contact with a first name of its own, an e-mail address and (unless told) a phone; `first` is the first name. */
async function person(org, { withPhone = true } = {}) {
  const first = `${FIRST[randomBytes(1)[0] % FIRST.length]}${letters(5)}`;
  const name = `${first} Lovelace${letters(4)}`;
  const email = `${first.toLowerCase()}.${rnd()}@example.com`;
  const body = { name, email };
  if (withPhone) body.phone = phone();
  const c = await createContact(ctx, org.adminKey, body);
  secrets.push(name, first, email);
  return { ...c, first };
}

function googleCreds(extra = {}) {
  const g = {
    clientId: `${digits(12)}-${rnd(8)}.apps.googleusercontent.com`,
    clientSecret: `GOCSPX-${rnd(14)}`,
    refreshToken: `1//0g${rnd(24)}`,
    ...extra,
  };
  secrets.push(g.clientSecret, g.refreshToken);
  writeOnly.push(g.clientSecret, g.refreshToken);
  return g;
}

function twilioCreds(extra = {}) {
  const t = { accountSid: `AC${rnd(16)}`, authToken: rnd(16), fromNumber: `+4470${digits(8)}`, ...extra };
  secrets.push(t.authToken);
  writeOnly.push(t.authToken);
  return t;
}

function vapiCreds(extra = {}) {
  const v = { apiKey: randomUUID(), assistantId: randomUUID(), phoneNumberId: randomUUID(), reminderCallHoursBefore: 1, ...extra };
  secrets.push(v.apiKey);
  writeOnly.push(v.apiKey);
  return v;
}

async function connectGoogle(org, extra) {
  const g = googleCreds(extra);
  const res = await ctx.api('PUT', '/api/integrations/google', { key: org.adminKey, body: g });
  assert.deepEqual(expectStatus(res, 200, 'PUT /api/integrations/google'), { connected: true, clientId: g.clientId });
  return g;
}

async function connectTwilio(org, extra = {}, t = twilioCreds(extra)) {
  const res = await ctx.api('PUT', '/api/integrations/twilio', { key: org.adminKey, body: t });
  assert.deepEqual(
    expectStatus(res, 200, 'PUT /api/integrations/twilio'),
    { connected: true, accountSid: t.accountSid, fromNumber: t.fromNumber, reminderHoursBefore: t.reminderHoursBefore ?? 24 },
  );
  return t;
}

async function connectVapi(org, extra) {
  const v = vapiCreds(extra);
  const res = await ctx.api('PUT', '/api/integrations/vapi', { key: org.adminKey, body: v });
  assert.deepEqual(
    expectStatus(res, 200, 'PUT /api/integrations/vapi'),
    { connected: true, assistantId: v.assistantId, phoneNumberId: v.phoneNumberId, reminderCallHoursBefore: v.reminderCallHoursBefore },
  );
  return v;
}

async function integrations(org) {
  const res = await ctx.api('GET', '/api/integrations', { key: org.adminKey });
  return expectStatus(res, 200, 'GET /api/integrations');
}

/** One integration of GET /api/integrations: exactly `want`'s keys plus lastError and lastSuccessAt, with want's values. */
function assertIntegration(x, want, what) {
  assert.deepEqual(Object.keys(x).sort(), [...Object.keys(want), 'lastError', 'lastSuccessAt'].sort(), `${what}: keys of ${JSON.stringify(x)}`);
  for (const [k, v] of Object.entries(want)) assert.deepEqual(x[k], v, `${what}: ${k}`);
  assert.ok(x.lastError === null || (typeof x.lastError === 'string' && x.lastError.length > 0), `${what}: lastError null or a sentence: ${JSON.stringify(x.lastError)}`);
  assert.ok(x.lastSuccessAt === null || ISO_MS_Z.test(x.lastSuccessAt), `${what}: lastSuccessAt null or toISOString form: ${JSON.stringify(x.lastSuccessAt)}`);
}

const calendarName = () => `bookd-${rnd(6)}@group.calendar.google.com`;

async function linkCalendar(org, providerId, calendarId) {
  const res = await ctx.api('PUT', `/api/providers/${providerId}/calendar`, { key: org.adminKey, body: { calendarId } });
  assert.deepEqual(expectStatus(res, 200, `link ${calendarId}`), { providerId, calendarId });
}

async function unlinkCalendar(org, providerId) {
  const res = await ctx.api('DELETE', `/api/providers/${providerId}/calendar`, { key: org.adminKey });
  expectStatus(res, 204, 'unlink the calendar');
  assert.equal(res.raw, '', '204 has no body');
}

async function breakers(org) {
  const res = await ctx.api('GET', '/api/breakers', { key: org.adminKey });
  const b = expectStatus(res, 200, 'GET /api/breakers');
  assert.ok(Array.isArray(b.breakers), `breakers is an array: ${res.raw}`);
  return b.breakers;
}

async function cancel(org, id) {
  return expectStatus(await ctx.api('POST', `/api/appointments/${id}/cancel`, { key: org.adminKey, body: {} }), 200, `cancel ${id}`);
}

async function reschedule(org, id, body) {
  return expectStatus(await ctx.api('POST', `/api/appointments/${id}/reschedule`, { key: org.adminKey, body }), 200, `reschedule ${id}`).appointment;
}

/** Google's event id for an appointment: "bk" + its 32 hex digits. */
const bkId = (appointmentId) => `bk${appointmentId.replace(/-/g, '')}`;

/** The instant (toISOString) at which the clock in tz shows date time. */
const at = (date, time, tz) => zonedToUtc(date, time, tz).toISOString();

/** An instant as Google writes dateTime: local time in `zone` with its offset. */
function withOffset(instant, zone) {
  const ms = Date.parse(instant);
  const p = localParts(new Date(ms), zone);
  const off = tzOffsetMs(ms, zone) / 60_000;
  const a = Math.abs(off);
  return `${p.date}T${p.time}:${pad(p.second)}${off < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

/** A local time as the SMS must say it: "2:00 pm", "9:30 am". */
function smsTime(instant, tz) {
  const p = localParts(new Date(instant), tz);
  return `${p.hour % 12 || 12}:${pad(p.minute)} ${p.hour < 12 ? 'am' : 'pm'}`;
}

/** About ms from now, on a whole second. */
const soon = (ms) => new Date(Math.ceil((Date.now() + ms) / 1000) * 1000).toISOString();

const mins = (hm) => Number(hm.slice(0, 2)) * 60 + Number(hm.slice(3, 5));
const hhmm = (m) => `${pad(Math.floor(m / 60))}:${pad(m % 60)}`;

/** The SMS to `to` of Twilio account `sid` that were answered 2xx, in order. */
const smsTo = (sid, to) => twilio.sent((r) => r.params.sid === sid && r.form && r.form.To === to);

/** One SMS request as Twilio must get it. */
function assertSms(r, tw, to, what) {
  assert.equal(r.method, 'POST', `${what}: method`);
  assert.equal(r.path, `/2010-04-01/Accounts/${tw.accountSid}/Messages.json`, `${what}: path`);
  assert.equal(r.contentType, 'application/x-www-form-urlencoded', `${what}: Content-Type`);
  assert.equal(r.headers.authorization, basicHeader(tw.accountSid, tw.authToken), `${what}: HTTP Basic AccountSid:AuthToken`);
  assert.deepEqual([...r.formKeys].sort(), ['Body', 'From', 'To'], `${what}: form fields exactly To, From, Body, each once`);
  assert.equal(r.form.To, to, `${what}: To is the contact's phone`);
  assert.equal(r.form.From, tw.fromNumber, `${what}: From is fromNumber`);
  const body = r.form.Body;
  assert.ok(body.length > 0 && body.length <= 160, `${what}: a Body of 1..160 characters (${body.length}): ${JSON.stringify(body)}`);
}

/** One event insert as Google must get it. */
function assertInsert(r, appt, contact, cal, token, what) {
  assert.equal(r.method, 'POST', `${what}: method`);
  assert.equal(r.path, `/calendar/v3/calendars/${encodeURIComponent(cal)}/events`, `${what}: path, the calendar id percent-encoded`);
  assert.equal(r.contentType, 'application/json', `${what}: Content-Type`);
  assert.equal(r.headers.authorization, `Bearer ${token}`, `${what}: the access token (Bearer ${token.slice(0, 5)}…)`);
  const e = r.json;
  assert.ok(e && typeof e === 'object' && !Array.isArray(e), `${what}: a JSON object: ${r.body.slice(0, 300)}`);
  assert.deepEqual(Object.keys(e).sort(), ['description', 'end', 'id', 'start', 'summary'], `${what}: exactly id, summary, description, start, end: ${r.body.slice(0, 300)}`);
  assert.equal(e.id, bkId(appt.id), `${what}: id is "bk" + the appointment id's hex digits`);
  assert.match(e.id, /^bk[0-9a-f]{32}$/);
  assert.equal(typeof e.summary, 'string');
  assert.equal(typeof e.description, 'string');
  assert.ok(e.summary.includes(contact.name), `${what}: the summary names the contact: ${JSON.stringify(e.summary)}`);
  for (const s of [contact.phone, contact.phone.slice(1), contact.email]) {
    assert.ok(!e.summary.includes(s) && !e.description.includes(s), `${what}: no phone or e-mail in the event text: ${JSON.stringify([e.summary, e.description])}`);
  }
  for (const k of ['start', 'end']) {
    assert.deepEqual(Object.keys(e[k] || {}), ['dateTime'], `${what}: ${k} is {dateTime}: ${JSON.stringify(e[k])}`);
    assert.match(String(e[k].dateTime), RFC3339, `${what}: ${k}.dateTime is RFC 3339 with an offset`);
  }
  assert.equal(Date.parse(e.start.dateTime), Date.parse(appt.scheduledAt), `${what}: start is the appointment's start`);
  assert.equal(Date.parse(e.end.dateTime), Date.parse(appt.scheduledAt) + appt.durationMinutes * 60_000, `${what}: end is start + durationMinutes`);
}

// ------------------------------------------------------------------ settings

ctest('GET /api/integrations: all disconnected at first; PUT google/twilio/vapi → 200 with the public settings only; GET shows them; PUT again replaces; DELETE → 204 and disconnected', async () => {
  const org = await newOrg();
  const other = await newOrg();
  const key = org.adminKey;
  const off = { connected: false, lastError: null, lastSuccessAt: null };
  assert.deepEqual(await integrations(org), { google: off, twilio: off, vapi: off }, 'a new organization has nothing connected');

  const g = await connectGoogle(org);
  const t = await connectTwilio(org); // reminderHoursBefore left out: 24
  const v = await connectVapi(org, { reminderCallHoursBefore: 3 });
  let got = await integrations(org);
  assert.deepEqual(Object.keys(got).sort(), ['google', 'twilio', 'vapi']);
  assertIntegration(got.google, { connected: true, clientId: g.clientId }, 'google');
  assertIntegration(got.twilio, { connected: true, accountSid: t.accountSid, fromNumber: t.fromNumber, reminderHoursBefore: 24 }, 'twilio');
  assertIntegration(got.vapi, { connected: true, assistantId: v.assistantId, phoneNumberId: v.phoneNumberId, reminderCallHoursBefore: 3 }, 'vapi');
  for (const k of ['google', 'twilio', 'vapi']) assert.equal(got[k].lastError, null, `${k}: no error yet`);
  assert.deepEqual(await integrations(other), { google: off, twilio: off, vapi: off }, 'another organization sees none of it');

  // PUT again replaces the settings (and the secrets); 0 and 168 are in range.
  const t2 = await connectTwilio(org, { reminderHoursBefore: 0 });
  const t3 = await connectTwilio(org, { reminderHoursBefore: 168 });
  const v2 = await connectVapi(org, { reminderCallHoursBefore: 168 });
  const g2 = await connectGoogle(org);
  got = await integrations(org);
  assertIntegration(got.google, { connected: true, clientId: g2.clientId }, 'google replaced');
  assertIntegration(got.twilio, { connected: true, accountSid: t3.accountSid, fromNumber: t3.fromNumber, reminderHoursBefore: 168 }, 'twilio replaced');
  assertIntegration(got.vapi, { connected: true, assistantId: v2.assistantId, phoneNumberId: v2.phoneNumberId, reminderCallHoursBefore: 168 }, 'vapi replaced');
  assert.notEqual(t2.accountSid, t3.accountSid);
  await auditEntries(ctx, key); // the audit log, like every answer here, holds no secret

  for (const kind of ['google', 'twilio', 'vapi']) {
    const res = await ctx.api('DELETE', `/api/integrations/${kind}`, { key });
    expectStatus(res, 204, `DELETE ${kind}`);
    assert.equal(res.raw, '', '204 has no body');
  }
  assert.deepEqual(await integrations(org), { google: off, twilio: off, vapi: off }, 'all disconnected after DELETE');
  for (const kind of ['google', 'twilio', 'vapi']) {
    const again = await ctx.api('DELETE', `/api/integrations/${kind}`, { key });
    assert.ok(again.status === 204 || again.status === 404, `DELETE ${kind} twice: 204 or 404, got ${again.status}`);
    if (again.status === 404) expectError(again, 404, 'not_found');
  }
  // And it can be connected again.
  const g3 = await connectGoogle(org);
  assertIntegration((await integrations(org)).google, { connected: true, clientId: g3.clientId }, 'google again');
  expectStatus(await ctx.api('DELETE', '/api/integrations/google', { key }), 204);
});

ctest('PUT /api/integrations/google: credentials of the largest allowed size (1,024 characters each) are stored; one character more is 400', async () => {
  const org = await newOrg();
  const clientSecret = `cs-${'s'.repeat(1021)}`;
  const refreshToken = `rt-${'r'.repeat(1021)}`;
  writeOnly.push(clientSecret, refreshToken);
  const ok = await ctx.api('PUT', '/api/integrations/google', {
    key: org.adminKey, body: { clientId: 'big.apps.googleusercontent.com', clientSecret, refreshToken },
  });
  expectStatus(ok, 200, 'the largest credentials');
  const tooBig = await ctx.api('PUT', '/api/integrations/google', {
    key: org.adminKey, body: { clientId: 'big.apps.googleusercontent.com', clientSecret: `${clientSecret}x`, refreshToken },
  });
  expectError(tooBig, 400, BAD, 'clientSecret');
  const del = await ctx.api('DELETE', '/api/integrations/google', { key: org.adminKey });
  expectStatus(del, 204);
});

ctest('PUT /api/integrations/{google,twilio,vapi}: a missing, empty, mistyped, out-of-range or unknown field → 400 naming it and nothing changes; an unknown kind → 404; public key 403, no key or the server token 401', async () => {
  const org = await newOrg();
  const key = org.adminKey;
  const g = googleCreds();
  const t = twilioCreds();
  const v = vapiCreds();
  const without = (o, k) => {
    const c = { ...o };
    delete c[k];
    return c;
  };
  const cases = [];
  for (const f of ['clientId', 'clientSecret', 'refreshToken']) {
    cases.push(['google', without(g, f), f, `${f} missing`], ['google', { ...g, [f]: '' }, f, `${f} empty`], ['google', { ...g, [f]: 42 }, f, `${f} a number`], ['google', { ...g, [f]: null }, f, `${f} null`]);
  }
  cases.push(['google', { ...g, colour: 'red' }, 'colour', 'an unknown field']);
  for (const f of ['accountSid', 'authToken', 'fromNumber']) {
    cases.push(['twilio', without(t, f), f, `${f} missing`], ['twilio', { ...t, [f]: '' }, f, `${f} empty`], ['twilio', { ...t, [f]: 7 }, f, `${f} a number`]);
  }
  for (const bad of [169, -1, 1.5, '24', true, 1000]) cases.push(['twilio', { ...t, reminderHoursBefore: bad }, 'reminderHoursBefore', `reminderHoursBefore ${JSON.stringify(bad)}`]);
  cases.push(['twilio', { ...t, colour: 'red' }, 'colour', 'an unknown field']);
  for (const f of ['apiKey', 'assistantId', 'phoneNumberId']) {
    cases.push(['vapi', without(v, f), f, `${f} missing`], ['vapi', { ...v, [f]: '' }, f, `${f} empty`], ['vapi', { ...v, [f]: 5 }, f, `${f} a number`]);
  }
  cases.push(['vapi', without(v, 'reminderCallHoursBefore'), 'reminderCallHoursBefore', 'reminderCallHoursBefore missing (it is required)']);
  for (const bad of [0, 169, -1, 2.5, '1', null]) cases.push(['vapi', { ...v, reminderCallHoursBefore: bad }, 'reminderCallHoursBefore', `reminderCallHoursBefore ${JSON.stringify(bad)}`]);
  cases.push(['vapi', { ...v, colour: 'red' }, 'colour', 'an unknown field']);
  for (const [kind, body, field, what] of cases) {
    expectError(await ctx.api('PUT', `/api/integrations/${kind}`, { key, body }), 400, BAD, field, `PUT ${kind}: ${what}`);
  }
  for (const kind of ['google', 'twilio', 'vapi']) {
    expectError(await ctx.api('PUT', `/api/integrations/${kind}`, { key, rawBody: '{"clientId":' }), 400, BAD, undefined, `${kind}: malformed JSON`);
    expectError(await ctx.api('PUT', `/api/integrations/${kind}`, { key, body: [] }), 400, BAD, undefined, `${kind}: an array body`);
    expectError(
      await ctx.api('PUT', `/api/integrations/${kind}`, { key, rawBody: JSON.stringify(kind === 'google' ? g : kind === 'twilio' ? t : v), contentType: 'text/plain' }),
      415, 'unsupported_media_type', undefined, `${kind}: text/plain`,
    );
  }
  const off = { connected: false, lastError: null, lastSuccessAt: null };
  assert.deepEqual(await integrations(org), { google: off, twilio: off, vapi: off }, 'no failed PUT connected anything');

  // A failed PUT leaves a connected integration as it was.
  await connectTwilio(org, {}, t);
  await connectVapi(org, { ...v });
  expectError(await ctx.api('PUT', '/api/integrations/twilio', { key, body: { ...twilioCreds(), reminderHoursBefore: 169 } }), 400, BAD, 'reminderHoursBefore');
  expectError(await ctx.api('PUT', '/api/integrations/vapi', { key, body: { ...vapiCreds(), reminderCallHoursBefore: 0 } }), 400, BAD, 'reminderCallHoursBefore');
  let got = await integrations(org);
  assertIntegration(got.twilio, { connected: true, accountSid: t.accountSid, fromNumber: t.fromNumber, reminderHoursBefore: 24 }, 'twilio unchanged');
  assertIntegration(got.vapi, { connected: true, assistantId: v.assistantId, phoneNumberId: v.phoneNumberId, reminderCallHoursBefore: 1 }, 'vapi unchanged');

  // Unknown kinds.
  for (const kind of ['nope', 'slack']) {
    expectError(await ctx.api('PUT', `/api/integrations/${kind}`, { key, body: g }), 404, 'not_found', undefined, `PUT ${kind}`);
    expectError(await ctx.api('DELETE', `/api/integrations/${kind}`, { key }), 404, 'not_found', undefined, `DELETE ${kind}`);
  }

  // Admin key only.
  const routes = [
    ['GET', '/api/integrations'],
    ['PUT', '/api/integrations/google', googleCreds()],
    ['PUT', '/api/integrations/twilio', twilioCreds()],
    ['PUT', '/api/integrations/vapi', vapiCreds()],
    ['DELETE', '/api/integrations/google'],
    ['DELETE', '/api/integrations/twilio'],
    ['DELETE', '/api/integrations/vapi'],
  ];
  for (const [m, p, body] of routes) {
    expectError(await ctx.api(m, p, { key: org.publicKey, body }), 403, 'forbidden', undefined, `public key ${m} ${p}`);
    expectError(await ctx.api(m, p, { body }), 401, 'unauthorized', undefined, `no key ${m} ${p}`);
    expectError(await ctx.api(m, p, { key: ctx.adminToken, body }), 401, 'unauthorized', undefined, `server admin token ${m} ${p}`);
  }
  got = await integrations(org);
  assert.equal(got.google.connected, false, 'nothing was connected by the refused requests');
  assertIntegration(got.twilio, { connected: true, accountSid: t.accountSid, fromNumber: t.fromNumber, reminderHoursBefore: 24 }, 'twilio still as it was');
  assert.equal(got.vapi.connected, true, 'nothing was disconnected by the refused requests');
});

ctest('PUT /api/providers/{id}/calendar → 200 {providerId, calendarId}; 409 invalid_state without Google; 404 unknown or foreign provider; 400 calendarId; POST …/calendar/sync → 202 (409 unlinked); DELETE → 204 then 404, and the imports stop; admin key only', async () => {
  const org = await newOrg('UTC');
  const other = await newOrg('UTC');
  const key = org.adminKey;
  const p = await createProvider(ctx, key);
  const p2 = await createProvider(ctx, key);
  const cal = calendarName();
  const calPath = `/api/providers/${p.id}/calendar`;

  expectError(await ctx.api('PUT', calPath, { key, body: { calendarId: cal } }), 409, 'invalid_state', undefined, 'link while Google is not connected');
  expectError(await ctx.api('POST', `${calPath}/sync`, { key }), 409, 'invalid_state', undefined, 'sync of an unlinked provider');
  expectError(await ctx.api('DELETE', calPath, { key }), 404, 'not_found', undefined, 'unlink an unlinked provider');

  const g = await connectGoogle(org);
  for (const [body, field, what] of [
    [{}, 'calendarId', 'missing'],
    [{ calendarId: '' }, 'calendarId', 'empty'],
    [{ calendarId: 42 }, 'calendarId', 'a number'],
    [{ calendarId: null }, 'calendarId', 'null'],
    [{ calendarId: cal, colour: 'red' }, 'colour', 'an unknown field'],
  ]) {
    expectError(await ctx.api('PUT', calPath, { key, body }), 400, BAD, field, `calendarId ${what}`);
  }
  // The other organization has Google too, so that only the provider's organization is at fault.
  await connectGoogle(other);
  const theirs = await createProvider(ctx, other.adminKey);
  for (const id of [randomUUID(), 'not-a-uuid', theirs.id]) {
    expectError(await ctx.api('PUT', `/api/providers/${id}/calendar`, { key, body: { calendarId: cal } }), 404, 'not_found', undefined, `link provider ${id}`);
    expectError(await ctx.api('DELETE', `/api/providers/${id}/calendar`, { key }), 404, 'not_found', undefined, `unlink provider ${id}`);
    expectError(await ctx.api('POST', `/api/providers/${id}/calendar/sync`, { key }), 404, 'not_found', undefined, `sync provider ${id}`);
  }
  for (const [m, path, body] of [['PUT', calPath, { calendarId: cal }], ['DELETE', calPath], ['POST', `${calPath}/sync`]]) {
    expectError(await ctx.api(m, path, { key: org.publicKey, body }), 403, 'forbidden', undefined, `public key ${m} ${path}`);
    expectError(await ctx.api(m, path, { body }), 401, 'unauthorized', undefined, `no key ${m} ${path}`);
    expectError(await ctx.api(m, path, { key: other.adminKey, body }), 404, 'not_found', undefined, `another organization ${m} ${path}`);
  }

  await linkCalendar(org, p.id, cal);
  await linkCalendar(org, p2.id, 'primary');
  const s = await ctx.api('POST', `${calPath}/sync`, { key });
  expectStatus(s, 202, 'sync on demand');
  const [list] = await google.waitFor(1, { kind: 'list', where: (r) => r.params.calendarId === cal, timeoutMs: 5000 });
  assert.ok(google.tokensFor(g.clientId).some((x) => x.token === list.bearer), 'the import uses a token granted to this organization\'s client');

  await unlinkCalendar(org, p.id);
  await unlinkCalendar(org, p2.id);
  const unlinkedAt = Date.now();
  expectError(await ctx.api('DELETE', calPath, { key }), 404, 'not_found', undefined, 'unlink twice');
  expectError(await ctx.api('POST', `${calPath}/sync`, { key }), 409, 'invalid_state', undefined, 'sync after unlinking');
  await sleep(2500);
  const late = google.of('list', (r) => r.params.calendarId === cal && r.receivedAt > unlinkedAt + 500);
  assert.equal(late.length, 0, `no import of an unlinked calendar (${late.length} after unlinking)`);
}, { timeout: 20_000 });

// ------------------------------------------------------------------ Google out

ctest('Google out: a booking of a linked provider inserts its event (refresh-token grant, Bearer, exact body); the token is cached and renewed after a 401; a 409 is done; cancel deletes (404/410 done); reschedule deletes and inserts; an unlinked provider sends nothing', async () => {
  const TZ = 'Europe/London';
  const org = await newOrg(TZ);
  const key = org.adminKey;
  const p = await createProvider(ctx, key);
  const who = await person(org);
  const g = await connectGoogle(org);
  const cal = calendarName();
  const day = nextWeekday(TZ, 'tue', 7);
  const t = (hm) => at(day, hm, TZ);
  const mine = (r) => r.params.calendarId === cal;
  const withId = (id) => (r) => mine(r) && r.json && r.json.id === id;
  const inserts = (id) => google.of('insert', withId(id));
  const deletes = (id) => google.of('delete', (r) => mine(r) && r.params.eventId === id);
  const waitInsert = (id, n = 1) => google.waitFor(n, { kind: 'insert', where: withId(id), timeoutMs: 8000 });
  const waitDelete = (id) => google.waitFor(1, { kind: 'delete', where: (r) => mine(r) && r.params.eventId === id, timeoutMs: 8000 });
  const tokens = () => google.tokensFor(g.clientId);
  const grants = () => google.of('token', (r) => r.form && r.form.client_id === g.clientId);

  // The insert of the 11:00 booking is answered 401 once; the 12:00 one 409
  // (by their start: the ids are not known before booking).
  let refused = false;
  google.setMode('insert', (r) => {
    if (!mine(r) || !r.json || !r.json.start) return 'default';
    const s = Date.parse(r.json.start.dateTime);
    if (s === Date.parse(t('11:00')) && !refused) {
      refused = true;
      return 401;
    }
    return s === Date.parse(t('12:00')) ? 409 : 'default';
  });
  try {
    await linkCalendar(org, p.id, cal);

    // The first booking: one token grant, one insert.
    const a1 = await bookOk(ctx, key, { contactId: who.id, providerId: p.id, scheduledAt: t('09:00'), durationMinutes: 30 });
    const [i1] = await waitInsert(bkId(a1.id));
    assert.equal(tokens().length, 1, 'one token grant so far');
    const T1 = tokens()[0].token;
    const [grant] = grants();
    assert.ok(grant, `a form-encoded token request with this client_id: ${google.of('token').map((r) => r.contentType).join(', ')}`);
    assert.equal(grant.method, 'POST');
    assert.equal(grant.path, '/token');
    assert.equal(grant.contentType, 'application/x-www-form-urlencoded', 'the grant is form-encoded');
    assert.deepEqual([...grant.formKeys].sort(), ['client_id', 'client_secret', 'grant_type', 'refresh_token'], 'exactly the four fields, each once');
    assert.ok(
      grant.form.grant_type === 'refresh_token' && grant.form.client_id === g.clientId && grant.form.client_secret === g.clientSecret && grant.form.refresh_token === g.refreshToken,
      'grant_type=refresh_token and the organization\'s client id, client secret and refresh token',
    );
    assertInsert(i1, a1, who, cal, T1, 'first insert');
    assert.equal(i1.status, 200);

    // The second booking: the cached token.
    const a2 = await bookOk(ctx, key, { contactId: who.id, providerId: p.id, scheduledAt: t('10:00'), durationMinutes: 45 });
    const [i2] = await waitInsert(bkId(a2.id));
    assertInsert(i2, a2, who, cal, T1, 'second insert');
    assert.equal(tokens().length, 1, 'the token is cached: no second grant');

    // 401: a new token, and the insert again with it.
    const a3 = await bookOk(ctx, key, { contactId: who.id, providerId: p.id, scheduledAt: t('11:00'), durationMinutes: 30 });
    const [x401, i3] = await waitInsert(bkId(a3.id), 2);
    assert.equal(x401.status, 401);
    assert.equal(x401.headers.authorization, `Bearer ${T1}`, 'the refused insert carried the cached token');
    assert.equal(tokens().length, 2, 'one new grant after the 401');
    const T2 = tokens()[1].token;
    assert.notEqual(T2, T1);
    assert.ok(grants()[1].receivedAt >= x401.receivedAt, 'the new grant came after the 401');
    assert.deepEqual(grants()[1].form, grant.form, 'the same refresh-token grant');
    assertInsert(i3, a3, who, cal, T2, 'the insert retried after the 401');
    assert.equal(i3.status, 200);

    // 409: the event is there already; done.
    const a4 = await bookOk(ctx, key, { contactId: who.id, providerId: p.id, scheduledAt: t('12:00'), durationMinutes: 30 });
    const [c409] = await waitInsert(bkId(a4.id));
    assert.equal(c409.status, 409);

    // Cancel: DELETE of the event; 404 and 410 are done too.
    google.setMode('delete', (r) => {
      if (!mine(r)) return 'default';
      if (r.params.eventId === bkId(a2.id)) return 404;
      return r.params.eventId === bkId(a4.id) ? 410 : 'default';
    });
    await cancel(org, a1.id);
    const [d1] = await waitDelete(bkId(a1.id));
    assert.equal(d1.method, 'DELETE');
    assert.equal(d1.path, `/calendar/v3/calendars/${encodeURIComponent(cal)}/events/${bkId(a1.id)}`);
    assert.equal(d1.headers.authorization, `Bearer ${T2}`, 'the delete carries the current token');
    assert.equal(d1.status, 204);
    await cancel(org, a2.id);
    await cancel(org, a4.id);
    assert.equal((await waitDelete(bkId(a2.id)))[0].status, 404);
    assert.equal((await waitDelete(bkId(a4.id)))[0].status, 410);

    // Reschedule: the old event deleted, the new appointment's inserted.
    const n3 = await reschedule(org, a3.id, { scheduledAt: t('13:00'), durationMinutes: 60 });
    const [d3] = await waitDelete(bkId(a3.id));
    assert.equal(d3.headers.authorization, `Bearer ${T2}`);
    assert.equal(d3.status, 204);
    const [i5] = await waitInsert(bkId(n3.id));
    assertInsert(i5, n3, who, cal, T2, 'the rescheduled appointment\'s insert');

    // A provider without a calendar (the default one): nothing goes to Google.
    const u = await bookOk(ctx, key, { contactId: who.id, scheduledAt: t('09:00'), durationMinutes: 30 });
    await cancel(org, u.id);

    // Nothing more: no retry of what is done, nothing for the unlinked provider.
    await sleep(2500);
    const counts = (f) => Object.fromEntries([['a1', a1], ['a2', a2], ['a3', a3], ['a4', a4], ['n3', n3]].map(([k, a]) => [k, f(bkId(a.id)).length]));
    assert.deepEqual(counts(inserts), { a1: 1, a2: 1, a3: 2, a4: 1, n3: 1 }, 'inserts per event: once each, the 401 one twice, the 409 one not again');
    assert.deepEqual(counts(deletes), { a1: 1, a2: 1, a3: 1, a4: 1, n3: 0 }, 'deletes per event: once each, 404 and 410 not again');
    const about = google.of(undefined, (r) => r.path.includes(bkId(u.id)) || (r.json && r.json.id === bkId(u.id)));
    assert.deepEqual(about.map((r) => `${r.method} ${r.path}`), [], 'no Google request about the unlinked provider\'s appointment');
    const elsewhere = google.of(undefined, (r) => r.kind !== 'token' && [T1, T2].includes(r.bearer) && !mine(r));
    assert.deepEqual(elsewhere.map((r) => `${r.method} ${r.path}`), [], 'this organization\'s tokens went to its linked calendar only');
    assert.equal(tokens().length, 2, 'no further grant');
  } finally {
    google.setMode('insert', null);
    google.setMode('delete', null);
    await unlinkCalendar(org, p.id);
  }
}, { timeout: 40_000 });

// ------------------------------------------------------------------ Google in

ctest('Google in: events imported page by page block bookings, holds, reschedules, the check and free slots (409 conflictingBusy {start, end, source:"google"}); cancelled, transparent and bookd\'s own events do not; sync on demand; a failing calendar keeps the last busy times and shows lastError', async () => {
  const TZ = 'Europe/London';
  const org = await newOrg(TZ);
  const key = org.adminKey;
  const p = await createProvider(ctx, key);
  const who = await person(org);
  const g = await connectGoogle(org);
  const cal = calendarName();
  const day = nextWeekday(TZ, 'wed', 7);
  const t = (hm) => at(day, hm, TZ);
  const ev = (id, from, to, extra = {}, zone = TZ) => ({
    id, summary: `Busy ${rnd(2)}`,
    start: { dateTime: withOffset(t(from), zone), timeZone: zone },
    end: { dateTime: withOffset(t(to), zone), timeZone: zone },
    ...extra,
  });
  // Five events, two a page: [cancelled, transparent], [bookd's own, 10-11], [15:00-15:30].
  const events = [
    ev(`c${rnd(8)}`, '12:00', '13:00', { status: 'cancelled' }),
    ev(`t${rnd(8)}`, '13:00', '14:00', { status: 'confirmed', transparency: 'transparent' }),
    ev(`bk${rnd(16)}`, '14:00', '15:00', { status: 'confirmed' }),
    ev(`b${rnd(8)}`, '10:00', '11:00', { status: 'confirmed' }, 'America/New_York'), // written in another zone's offset
    ev(`e${rnd(8)}`, '15:00', '15:30', { status: 'confirmed', transparency: 'opaque' }),
  ];
  google.setEvents(cal, events);
  const busy = (from, to) => ({ start: t(from), end: t(to), source: 'google' });
  const check = async (from, minutes, k = key) => {
    const res = await ctx.api('GET', '/api/availability/check', { key: k, query: { scheduledAt: t(from), durationMinutes: minutes, providerId: p.id } });
    return expectStatus(res, 200, `check ${from} + ${minutes} min`);
  };
  const waitCheck = (from, minutes, available, what) => waitUntil(async () => {
    const c = await check(from, minutes);
    return c.available === available ? c : { ok: false, seen: c };
  }, { timeoutMs: 6000, intervalMs: 200, what });

  await linkCalendar(org, p.id, cal);
  try {
    // The first import is in effect once the event of the last page is.
    await waitCheck('15:00', 30, false, 'the imported busy times in effect (the event on page 3)');
    assert.deepEqual(await check('10:30', 30), { available: false, conflictingBusy: busy('10:00', '11:00') }, 'inside the Google event');
    assert.deepEqual(await check('09:00', 120), { available: false, conflictingBusy: busy('10:00', '11:00') }, 'around it');
    assert.deepEqual(await check('15:00', 30), { available: false, conflictingBusy: busy('15:00', '15:30') }, 'the event of page 3');
    assert.deepEqual(await check('10:30', 30, org.publicKey), { available: false, conflictingBusy: busy('10:00', '11:00') }, 'public key: the same times');
    for (const [from, minutes, why] of [
      ['12:00', 60, 'a cancelled event is not busy'],
      ['13:00', 60, 'a transparent event is not busy'],
      ['14:00', 60, 'bookd\'s own event (id bk…) is not busy'],
      ['09:30', 30, 'touching the event\'s start'],
      ['11:00', 60, 'touching the event\'s end'],
    ]) {
      assert.deepEqual(await check(from, minutes), { available: true }, why);
    }

    // Bookings, holds and reschedules over it: 409 with conflictingBusy.
    const refused = expectError(await book(ctx, key, { contactId: who.id, providerId: p.id, scheduledAt: t('10:30'), durationMinutes: 30 }), 409, 'slot_unavailable', undefined, 'booking over a Google event');
    assert.deepEqual(refused.conflictingBusy, busy('10:00', '11:00'));
    assert.equal(refused.conflictingAppointment, undefined, 'no conflictingAppointment for a busy time');
    const held = expectError(await ctx.api('POST', '/api/holds', { key, body: { providerId: p.id, scheduledAt: t('10:45'), durationMinutes: 30 } }), 409, 'slot_unavailable', undefined, 'hold over a Google event');
    assert.deepEqual(held.conflictingBusy, busy('10:00', '11:00'));
    const a = await bookOk(ctx, key, { contactId: who.id, providerId: p.id, scheduledAt: t('11:00'), durationMinutes: 30 }, 'booking right after the event');
    const moved = expectError(await ctx.api('POST', `/api/appointments/${a.id}/reschedule`, { key, body: { scheduledAt: t('15:15') } }), 409, 'slot_unavailable', undefined, 'reschedule onto a Google event');
    assert.deepEqual(moved.conflictingBusy, busy('15:00', '15:30'));
    await bookOk(ctx, key, { contactId: who.id, providerId: p.id, scheduledAt: t('14:00'), durationMinutes: 30 }, 'booking over bookd\'s own event');

    // Free slots leave the busy times out (and the two bookings).
    const blocked = [['10:00', '11:00'], ['11:00', '11:30'], ['14:00', '14:30'], ['15:00', '15:30']].map(([x, y]) => [mins(x), mins(y)]);
    const want = [];
    for (let m = 9 * 60; m + 30 <= 17 * 60; m += 15) if (!blocked.some(([b0, b1]) => m < b1 && m + 30 > b0)) want.push(t(hhmm(m)));
    const slots = expectStatus(await ctx.api('GET', '/api/availability', { key, query: { date: day, providerId: p.id, durationMinutes: 30 } }), 200, 'free slots').slots;
    assert.deepEqual(slots.map((s) => s.scheduledAt), want, 'free slots without the busy times');

    // The events.list requests: singleEvents, timeMin ≈ now, timeMax ≈ now + 60 days, paged.
    const tokenSet = new Set(google.tokensFor(g.clientId).map((x) => x.token));
    const lists = google.of('list', (r) => r.params.calendarId === cal && r.status === 200);
    const firstPages = lists.filter((r) => !r.searchParams.has('pageToken'));
    assert.ok(firstPages.length >= 1, 'a first page was asked for');
    for (const r of lists) {
      assert.equal(r.path, `/calendar/v3/calendars/${encodeURIComponent(cal)}/events`, 'path, the calendar id percent-encoded');
      assert.ok(tokenSet.has(r.bearer), `Bearer with a token granted to this client: ${String(r.headers.authorization).slice(0, 12)}…`);
      assert.equal(r.query.singleEvents, 'true', `singleEvents=true: ${r.url}`);
      for (const k of ['timeMin', 'timeMax']) assert.match(String(r.query[k]), RFC3339, `${k} is RFC 3339: ${r.url}`);
      const min = Date.parse(r.query.timeMin);
      const max = Date.parse(r.query.timeMax);
      assert.ok(min >= r.receivedAt - DAY_MS && min <= r.receivedAt + 60_000, `timeMin ${r.query.timeMin} is about now`);
      assert.ok(max - r.receivedAt >= (SYNC_DAYS - 1) * DAY_MS && max - r.receivedAt <= (SYNC_DAYS + 1) * DAY_MS, `timeMax ${r.query.timeMax} is about now + ${SYNC_DAYS} days`);
    }
    const second = lists.find((r) => r.query.pageToken === 'p2');
    const third = lists.find((r) => r.query.pageToken === 'p3');
    assert.ok(second && third, `the second and third pages asked for with pageToken: ${lists.map((r) => r.url).join(' ')}`);
    assert.equal(google.of('list', (r) => r.params.calendarId === cal && r.status === 400).length, 0, 'no page token that Google did not give');
    let gi = (await integrations(org)).google;
    assert.equal(gi.lastError, null, 'no error so far');
    assert.match(String(gi.lastSuccessAt), ISO_MS_Z, 'lastSuccessAt after the imports');

    // Sync on demand: a new event blocks within a few seconds; a removed one stops blocking.
    const extra = ev(`n${rnd(8)}`, '16:00', '16:30', { status: 'confirmed' });
    google.setEvents(cal, [...events, extra]);
    expectStatus(await ctx.api('POST', `/api/providers/${p.id}/calendar/sync`, { key }), 202, 'sync on demand');
    assert.deepEqual(await waitCheck('16:00', 30, false, 'the new event in effect after the sync'), { available: false, conflictingBusy: busy('16:00', '16:30') });
    google.setEvents(cal, [...events.slice(0, 4), extra]);
    expectStatus(await ctx.api('POST', `/api/providers/${p.id}/calendar/sync`, { key }), 202, 'sync on demand');
    await waitCheck('15:00', 30, true, 'an event removed from the calendar no longer blocks');

    // Google failing: the last busy times stand, lastError says so, /ready stays 200.
    google.setMode('list', (r) => (r.params.calendarId === cal ? 500 : 'default'));
    const failFrom = Date.now();
    expectStatus(await ctx.api('POST', `/api/providers/${p.id}/calendar/sync`, { key }), 202, 'sync on demand while Google fails');
    await google.waitFor(1, { kind: 'list', where: (r) => r.params.calendarId === cal && r.status === 500 && r.receivedAt >= failFrom, timeoutMs: 5000 });
    gi = await waitUntil(async () => {
      const x = (await integrations(org)).google;
      return typeof x.lastError === 'string' && x.lastError.length > 0 ? x : { ok: false, seen: x };
    }, { timeoutMs: 5000, intervalMs: 100, what: 'google.lastError set while the calendar answers 500' });
    assert.equal(gi.connected, true);
    assert.equal(gi.clientId, g.clientId);
    await sleep(2200); // another import due meanwhile, failing too
    assert.deepEqual(await check('10:30', 30), { available: false, conflictingBusy: busy('10:00', '11:00') }, 'the last busy times stand');
    assert.deepEqual(await check('16:00', 30), { available: false, conflictingBusy: busy('16:00', '16:30') }, 'the last busy times stand');
    assert.deepEqual(await check('15:00', 30), { available: true });
    expectStatus(await ctx.api('GET', '/ready'), 200, '/ready while Google fails');
  } finally {
    google.setMode('list', null);
    await unlinkCalendar(org, p.id);
  }
}, { timeout: 40_000 });

// ------------------------------------------------------------------ Twilio

ctest('Twilio: an SMS on booking, reschedule and cancel (HTTP Basic, exactly To/From/Body, ≤ 160 characters, first name, organization, local time like "2:00 pm", no e-mail); no phone, no SMS', async () => {
  const TZ = 'Europe/London';
  const org = await newOrg(TZ);
  const key = org.adminKey;
  const tw = await connectTwilio(org);
  const who = await person(org);
  const nophone = await person(org, { withPhone: false });
  // A summer day: 14:00 in London is 13:00 UTC.
  const day = `${new Date().getUTCFullYear() + 1}-07-15`;
  const mineTo = (r) => r.params.sid === tw.accountSid && r.form && r.form.To === who.phone;

  const a = await bookOk(ctx, key, { contactId: who.id, scheduledAt: at(day, '14:00', TZ), durationMinutes: 30 });
  const [m1] = await twilio.waitFor(1, { kind: 'message', where: mineTo, timeoutMs: 8000 });
  assertSms(m1, tw, who.phone, 'booked');
  assert.equal(m1.status, 201);
  const b1 = m1.form.Body;
  assert.equal(smsTime(a.scheduledAt, TZ), '2:00 pm');
  for (const [s, what] of [[who.first, 'the first name'], [org.name, 'the organization'], ['2:00 pm', 'the local time']]) {
    assert.ok(b1.includes(s), `booked: the text has ${what} (${JSON.stringify(s)}): ${JSON.stringify(b1)}`);
  }
  assert.ok(!b1.includes(who.email), 'booked: no e-mail address in the text');

  const n = await reschedule(org, a.id, { scheduledAt: at(day, '09:30', TZ) });
  const [, m2] = await twilio.waitFor(2, { kind: 'message', where: mineTo, timeoutMs: 8000 });
  assertSms(m2, tw, who.phone, 'rescheduled');
  assert.match(m2.form.Body, /moved/i, `rescheduled: the text says "moved": ${JSON.stringify(m2.form.Body)}`);
  assert.ok(m2.form.Body.includes('9:30 am'), `rescheduled: the new local time "9:30 am": ${JSON.stringify(m2.form.Body)}`);
  assert.ok(!m2.form.Body.includes(who.email));

  await cancel(org, n.id);
  const [, , m3] = await twilio.waitFor(3, { kind: 'message', where: mineTo, timeoutMs: 8000 });
  assertSms(m3, tw, who.phone, 'cancelled');
  assert.match(m3.form.Body, /cancel/i, `cancelled: the text says so: ${JSON.stringify(m3.form.Body)}`);
  assert.ok(!m3.form.Body.includes(who.email));

  // A contact without a phone gets nothing, on booking or on cancel.
  const x = await bookOk(ctx, key, { contactId: nophone.id, scheduledAt: at(day, '11:00', TZ), durationMinutes: 30 });
  await cancel(org, x.id);
  await sleep(1500);
  const all = twilio.of('message', (r) => r.params.sid === tw.accountSid);
  assert.deepEqual(all.map((r) => r.form && r.form.To), [who.phone, who.phone, who.phone], 'three SMS, all to the contact with a phone');
  const ti = (await integrations(org)).twilio;
  assert.equal(ti.lastError, null);
  assert.match(String(ti.lastSuccessAt), ISO_MS_Z, 'twilio.lastSuccessAt after the SMS');
});

ctest('Twilio reminders: reminderHoursBefore before the start, once; none for an appointment cancelled meanwhile, none for the old time of a moved one, none when that time has passed', async () => {
  const TZ = 'America/New_York';
  const org = await newOrg(TZ);
  const key = org.adminKey;
  const tw = await connectTwilio(org, { reminderHoursBefore: 1 });
  const [p2, p3, p4] = [await createProvider(ctx, key), await createProvider(ctx, key), await createProvider(ctx, key)];
  const [c1, c2, c3, c4] = [await person(org), await person(org), await person(org), await person(org)];
  const start = soon(HOUR_MS + 4000); // its reminder is due in about 4 s
  const a1 = await bookOk(ctx, key, { contactId: c1.id, scheduledAt: start, durationMinutes: 30 });
  const a2 = await bookOk(ctx, key, { contactId: c2.id, providerId: p2.id, scheduledAt: start, durationMinutes: 30 });
  await cancel(org, a2.id);
  await bookOk(ctx, key, { contactId: c3.id, providerId: p3.id, scheduledAt: soon(30 * 60_000), durationMinutes: 30 }); // its reminder time is past
  const a4 = await bookOk(ctx, key, { contactId: c4.id, providerId: p4.id, scheduledAt: start, durationMinutes: 30 });
  const n4 = await reschedule(org, a4.id, { scheduledAt: new Date(Date.parse(start) + 3000).toISOString() });
  const to = (c) => (r) => r.params.sid === tw.accountSid && r.form && r.form.To === c.phone && r.status === 201;

  const due1 = Date.parse(start) - HOUR_MS;
  const [, rem] = await twilio.waitFor(2, { kind: 'message', where: to(c1), timeoutMs: 15_000 });
  assertSms(rem, tw, c1.phone, 'reminder');
  assert.match(rem.form.Body, /reminder/i, `the reminder says so: ${JSON.stringify(rem.form.Body)}`);
  assert.ok(rem.receivedAt >= due1 - 1000, `the reminder came at its time, not ${due1 - rem.receivedAt} ms before`);
  assert.ok(rem.form.Body.includes(smsTime(start, TZ)), `the reminder has the local time ${smsTime(start, TZ)}: ${JSON.stringify(rem.form.Body)}`);
  assert.ok(rem.form.Body.includes(c1.first), 'the reminder has the first name');

  const due4 = Date.parse(n4.scheduledAt) - HOUR_MS;
  const m4 = await twilio.waitFor(3, { kind: 'message', where: to(c4), timeoutMs: Math.max(3000, due4 - Date.now() + 10_000) });
  // Booked and moved (sent at once, in either order), then the reminder.
  assert.equal(m4.slice(0, 2).filter((r) => /moved/i.test(r.form.Body)).length, 1, `the moved appointment: booked and moved first: ${JSON.stringify(m4.map((r) => r.form.Body))}`);
  assert.match(m4[2].form.Body, /reminder/i, 'then its reminder');
  assert.ok(m4[2].receivedAt >= due4 - 1000, 'at the new time\'s reminder time');

  await sleep(3000); // past every reminder time
  assert.equal(twilio.sent(to(c1)).length, 2, 'booked and one reminder');
  const s2 = twilio.sent(to(c2));
  assert.equal(s2.length, 2, `cancelled meanwhile: booked and cancelled, no reminder: ${JSON.stringify(s2.map((r) => r.form.Body))}`);
  assert.equal(s2.filter((r) => /cancel/i.test(r.form.Body)).length, 1, 'one of them says cancelled (they may come in either order)');
  assert.equal(twilio.sent(to(c3)).length, 1, 'reminder time already past: only the confirmation');
  assert.equal(twilio.sent(to(c4)).length, 3, 'moved: one reminder, for the new time only');
}, { timeout: 35_000 });

// ------------------------------------------------------------------ Vapi

ctest('Vapi: a reminder call reminderCallHoursBefore before the start (Bearer apiKey, exact JSON), once; none for an appointment cancelled meanwhile', async () => {
  const TZ = 'Europe/London';
  const org = await newOrg(TZ);
  const key = org.adminKey;
  const v = await connectVapi(org, { reminderCallHoursBefore: 1 });
  const p2 = await createProvider(ctx, key);
  const c1 = await person(org);
  const c2 = await person(org);
  const start = soon(HOUR_MS + 4000);
  const a1 = await bookOk(ctx, key, { contactId: c1.id, scheduledAt: start, durationMinutes: 30 });
  const a2 = await bookOk(ctx, key, { contactId: c2.id, providerId: p2.id, scheduledAt: start, durationMinutes: 30 });
  await cancel(org, a2.id);
  const to = (c) => (r) => r.json && r.json.customer && r.json.customer.number === c.phone;

  const due = Date.parse(start) - HOUR_MS;
  const [call] = await vapi.waitFor(1, { kind: 'call', where: to(c1), timeoutMs: 15_000 });
  assert.ok(call.receivedAt >= due - 1000, `the call came at its time, not ${due - call.receivedAt} ms before`);
  assert.equal(call.method, 'POST');
  assert.equal(call.path, '/call');
  assert.equal(call.contentType, 'application/json');
  assert.equal(call.headers.authorization, `Bearer ${v.apiKey}`, 'Authorization: Bearer <apiKey>');
  const b = call.json;
  const localTime = b && b.assistantOverrides && b.assistantOverrides.variableValues && b.assistantOverrides.variableValues.localTime;
  assert.ok(typeof localTime === 'string' && localTime.length > 0, `variableValues.localTime is a non-empty string: ${call.body}`);
  assert.deepEqual(b, {
    assistantId: v.assistantId,
    phoneNumberId: v.phoneNumberId,
    customer: { number: c1.phone },
    assistantOverrides: { variableValues: { appointmentId: a1.id, scheduledAt: a1.scheduledAt, localTime } },
  }, 'exactly the documented body');
  assert.equal(call.status, 201);

  await sleep(2500);
  assert.equal(vapi.of('call', to(c1)).length, 1, 'one reminder call');
  assert.equal(vapi.of('call', to(c2)).length, 0, 'no call for the appointment cancelled meanwhile');
  assert.equal(twilio.of('message', (r) => r.form && [c1.phone, c2.phone].includes(r.form.To)).length, 0, 'no SMS: Twilio is not connected here');
  const vi = (await integrations(org)).vapi;
  assert.equal(vi.lastError, null);
  assert.match(String(vi.lastSuccessAt), ISO_MS_Z, 'vapi.lastSuccessAt after the call');
}, { timeout: 30_000 });

// ------------------------------------------------------------------ outages

ctest('Twilio down for a while (500, dropped connections, 503): five bookings\' SMS wait, and each arrives exactly once when it is back', async () => {
  const org = await newOrg('UTC');
  const key = org.adminKey;
  const tw = await connectTwilio(org);
  const path = twilio.messagesPath(tw.accountSid);
  const down = [500, 'drop', 503];
  twilio.setMode(path, (r, n) => down[(n - 1) % down.length]);
  try {
    const people = [];
    for (let i = 0; i < 5; i++) people.push(await person(org));
    const t0 = Date.now();
    for (const [i, c] of people.entries()) {
      await bookOk(ctx, key, { contactId: c.id, scheduledAt: new Date(Date.UTC(2036, 2, 3, 8 + i)).toISOString(), durationMinutes: 30 });
    }
    await twilio.waitFor(3, { kind: 'message', where: (r) => r.params.sid === tw.accountSid, timeoutMs: 5000 });
    await sleep(Math.max(0, t0 + 3000 - Date.now()));
    assert.equal(twilio.sent((r) => r.params.sid === tw.accountSid).length, 0, 'nothing sent while down');
    const ti = (await integrations(org)).twilio;
    assert.ok(typeof ti.lastError === 'string' && ti.lastError.length > 0, `twilio.lastError while down: ${JSON.stringify(ti.lastError)}`);
    twilio.setMode(path, null);

    const count = () => people.map((c) => smsTo(tw.accountSid, c.phone).length);
    await waitUntil(() => (count().every((k) => k >= 1) ? true : { ok: false, seen: count() }), { timeoutMs: 12_000, intervalMs: 100, what: 'every confirmation sent once Twilio is back' });
    await sleep(2000);
    assert.deepEqual(count(), [1, 1, 1, 1, 1], 'each booking\'s SMS exactly once');
    for (const c of people) {
      const [m] = smsTo(tw.accountSid, c.phone);
      assertSms(m, tw, c.phone, 'after the outage');
      assert.ok(m.form.Body.includes(c.first), 'each SMS is its own contact\'s');
    }
  } finally {
    twilio.setMode(path, null);
  }
}, { timeout: 35_000 });

ctest('Twilio refusing the credentials (401): lastError shows it, the SMS are kept, and sent once the settings are put again with the right token', async () => {
  const org = await newOrg('UTC');
  const key = org.adminKey;
  const tw = twilioCreds(); // the wrong token
  const good = rnd(16);
  secrets.push(good);
  writeOnly.push(good);
  twilio.setCredentials(tw.accountSid, good);
  try {
    await connectTwilio(org, {}, tw);
    const people = [await person(org), await person(org)];
    for (const [i, c] of people.entries()) {
      await bookOk(ctx, key, { contactId: c.id, scheduledAt: new Date(Date.UTC(2036, 3, 7, 9 + i)).toISOString(), durationMinutes: 30 });
    }
    await twilio.waitFor(1, { kind: 'message', where: (r) => r.params.sid === tw.accountSid && r.status === 401, timeoutMs: 5000 });
    await waitUntil(async () => {
      const x = (await integrations(org)).twilio;
      return typeof x.lastError === 'string' && x.lastError.length > 0 ? x : { ok: false, seen: x };
    }, { timeoutMs: 5000, intervalMs: 100, what: 'twilio.lastError after a 401' });
    await sleep(1500);
    assert.equal(twilio.sent((r) => r.params.sid === tw.accountSid).length, 0, 'nothing sent with the wrong token');

    const fixed = { ...tw, authToken: good };
    await connectTwilio(org, {}, fixed);
    const count = () => people.map((c) => smsTo(tw.accountSid, c.phone).length);
    await waitUntil(() => (count().every((k) => k >= 1) ? true : { ok: false, seen: count() }), { timeoutMs: 10_000, intervalMs: 100, what: 'the kept SMS sent after the fix' });
    await sleep(1500);
    assert.deepEqual(count(), [1, 1], 'each exactly once');
    for (const c of people) assertSms(smsTo(tw.accountSid, c.phone)[0], fixed, c.phone, 'after the fix');
  } finally {
    twilio.setCredentials(tw.accountSid, null);
  }
}, { timeout: 30_000 });

ctest('breakers are per organization: A\'s Twilio failing opens A\'s "twilio" breaker (nothing sent while open, deferred not dropped) while B\'s SMS go out and B\'s breaker stays closed', async () => {
  const A = await newOrg('UTC');
  const B = await newOrg('UTC');
  const ta = await connectTwilio(A);
  const tb = await connectTwilio(B);
  const pathA = twilio.messagesPath(ta.accountSid);
  twilio.setMode(pathA, 500);
  try {
    const pa = [await person(A), await person(A), await person(A)];
    const pb = [await person(B), await person(B)];
    for (const [i, c] of pa.entries()) await bookOk(ctx, A.adminKey, { contactId: c.id, scheduledAt: new Date(Date.UTC(2036, 4, 5, 9 + i)).toISOString(), durationMinutes: 30 });
    const open = await waitUntil(async () => {
      const b = (await breakers(A)).find((x) => x.target === 'twilio');
      return b && b.state === 'open' ? b : { ok: false, seen: b };
    }, { timeoutMs: 6000, intervalMs: 50, what: 'A\'s twilio breaker open after three 500s' });
    const seenOpen = Date.now();
    assert.ok(open.failures >= 3, `failures counted: ${JSON.stringify(open)}`);
    assert.match(String(open.openedAt), ISO_MS_Z);
    assert.match(String(open.nextProbeAt), ISO_MS_Z);
    const probeAt = Date.parse(open.nextProbeAt);
    assert.ok(Math.abs(probeAt - Date.parse(open.openedAt) - OPEN_MS) <= 200, `nextProbeAt = openedAt + BOOKD_BREAKER_OPEN_MS: ${JSON.stringify(open)}`);
    assert.ok(twilio.of('message', (r) => r.params.sid === ta.accountSid && r.status === 500).length >= 3, 'three failures at least');

    // B is not held up.
    for (const [i, c] of pb.entries()) await bookOk(ctx, B.adminKey, { contactId: c.id, scheduledAt: new Date(Date.UTC(2036, 4, 5, 9 + i)).toISOString(), durationMinutes: 30 });
    const countB = () => pb.map((c) => smsTo(tb.accountSid, c.phone).length);
    await waitUntil(() => (countB().every((k) => k === 1) ? true : { ok: false, seen: countB() }), { timeoutMs: 5000, intervalMs: 50, what: 'B\'s SMS sent while A\'s breaker is open' });
    const bb = await breakers(B);
    const bt = bb.find((x) => x.target === 'twilio');
    if (bt) assert.equal(bt.state, 'closed', `B's twilio breaker: ${JSON.stringify(bt)}`);
    assert.ok(!bb.some((x) => x.state !== 'closed'), `B has no open breaker: ${JSON.stringify(bb)}`);
    const stillOpen = (await breakers(A)).find((x) => x.target === 'twilio');
    if (Date.now() < probeAt - 100) assert.equal(stillOpen.state, 'open', 'A\'s stays open until its probe time');
    const whileOpen = twilio.of('message', (r) => r.params.sid === ta.accountSid && r.receivedAt > seenOpen && r.receivedAt < probeAt - 100);
    assert.equal(whileOpen.length, 0, 'nothing sent to A\'s Twilio while its breaker is open');

    // A back: its deferred SMS go out, each once, and the breaker closes.
    twilio.setMode(pathA, null);
    const countA = () => pa.map((c) => smsTo(ta.accountSid, c.phone).length);
    await waitUntil(() => (countA().every((k) => k >= 1) ? true : { ok: false, seen: countA() }), { timeoutMs: 12_000, intervalMs: 100, what: 'A\'s deferred SMS sent once its Twilio is back' });
    await waitUntil(async () => {
      const b = (await breakers(A)).find((x) => x.target === 'twilio');
      return b && b.state === 'closed' ? b : { ok: false, seen: b };
    }, { timeoutMs: 5000, intervalMs: 100, what: 'A\'s twilio breaker closed again' });
    await sleep(1000);
    assert.deepEqual(countA(), [1, 1, 1], 'A\'s SMS each exactly once');
    assert.deepEqual(countB(), [1, 1], 'B\'s SMS each exactly once');
  } finally {
    twilio.setMode(pathA, null);
  }
}, { timeout: 35_000 });

// ------------------------------------------------------------------ log

ctest('SIGTERM stops bookd; its log holds no integration secret, access token, key, name, phone number or e-mail address', async () => {
  // The file's integrations are disconnected first: their waiting
  // deliveries (reminders due later, retries) become dead and leave no
  // backlog to the files after this one, which share the database.
  for (const org of orgs) {
    for (const kind of ['google', 'twilio', 'vapi']) {
      const res = await ctx.api('DELETE', `/api/integrations/${kind}`, { key: org.adminKey });
      assert.ok([204, 404].includes(res.status), `DELETE /api/integrations/${kind}: ${res.status}`);
    }
  }
  await stopAndCheckLogs(ctx, [...secrets, ...everyWriteOnly()]);
});
