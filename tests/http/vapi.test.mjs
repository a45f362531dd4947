// The voice agent (API.md, "Vapi (AI voice agent) tool calls", "Slot holds",
// "Conflicts with holds"): POST /api/webhooks/vapi with the organization's
// Vapi secret, every payload shape Vapi sends (the recorded payloads in
// fixtures/vapi/*.json, with their {{…}} placeholders filled in), the four
// tools and the holds they keep for a call, the retry of a toolCallId,
// races, POST /api/orgs/me/vapi-secret, the metrics, and vapi-tools.json
// (the tool definitions an assistant is given) against what the handler
// accepts.
//
// Every test makes its own organization in Europe/London (default provider,
// Monday-Friday 09:00-17:00), so the holds a call keeps (5 minutes) never
// reach another test. The sentences are checked for what the contract says
// they carry (the time said in the organization's zone, computed here with
// Intl; the opening hours; up to three nearest free times), not word for word,
// except "Booked for <Weekday D Month> at <h:mm am/pm>.".

import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import {
  assert, ctest, useServer, createOrg, createContact, createProvider, createService, expectStatus, expectError,
  book, bookOk, listAll, auditEntries, stopAndCheckLogs, rnd, digits, randomUUID,
} from './lib/harness.mjs';
import { REPO_ROOT } from './lib/openapi.mjs';
import { parseMetrics, sumOf, samplesOf } from './lib/metrics.mjs';
import { zonedToUtc, localParts, nextWeekday, previousWeekday, addDays, tzOffsetMs, ISO_MS_Z } from './lib/time.mjs';

const TZ = 'Europe/London';
const VAPI = '/api/webhooks/vapi';
const HOURS = 'Monday to Friday from 9:00 am to 5:00 pm';
const TOOLS = ['bookAppointment', 'cancelAppointment', 'checkAvailability', 'rescheduleAppointment'];
const FIXTURES = path.join(REPO_ROOT, 'tests/http/fixtures/vapi');
const FIXTURE_NAME = 'Jordan Avery'; // in the recorded payloads
const FIXTURE_NOTES = 'First visit, lower back pain after running.';
const CLOCK_RE = /\b(1[0-2]|[1-9]):[0-5]\d (am|pm)\b/g;
const secrets = [FIXTURE_NAME, FIXTURE_NOTES];
const ctx = useServer({ setup: async (c) => secrets.push(c.adminToken) });

// ------------------------------------------------------------------ helpers

/** A new organization in Europe/London; its keys go on the list the log must not contain. */
async function newOrg() {
  const org = await createOrg(ctx, { name: `Harbour Physio ${rnd()}`, timezone: TZ });
  secrets.push(org.adminKey, org.publicKey, org.vapiSecret);
  return org;
}

/** A caller's number, E.164 (UK drama range plus random digits). */
function phone() {
  const p = `+4477009${digits(5)}`;
  secrets.push(p);
  return p;
}

function personName() {
  const n = `Robin Caller ${rnd(3)}`;
  secrets.push(n);
  return n;
}

const tcid = () => `call_${rnd(12)}`;

/** The instant (toISOString form) at which London's wall clock shows date time. */
const local = (date, time) => zonedToUtc(date, time, TZ).toISOString();

/** What an assistant sends: "2027-01-12T14:00:00+00:00", with London's offset then. */
function rfc(date, time) {
  const off = tzOffsetMs(zonedToUtc(date, time, TZ).getTime(), TZ) / 60_000;
  const a = Math.abs(off);
  return `${date}T${time}:00${off < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/** "2:00 pm" of an instant in London. */
function clockOf(instant) {
  const p = localParts(instant, TZ);
  return `${p.hour % 12 || 12}:${String(p.minute).padStart(2, '0')} ${p.hour < 12 ? 'am' : 'pm'}`;
}

const dayFormat = new Intl.DateTimeFormat('en-GB', { timeZone: TZ, weekday: 'long', day: 'numeric', month: 'long' });
/** "Tuesday 27 January" of an instant in London. */
function dayOf(instant) {
  const p = {};
  for (const { type, value } of dayFormat.formatToParts(new Date(instant))) p[type] = value;
  return `${p.weekday} ${p.day} ${p.month}`;
}
const dayWords = (date) => dayOf(zonedToUtc(date, '12:00', TZ));
/** "Tuesday 27 January at 2:00 pm". */
const spoken = (instant) => `${dayOf(instant)} at ${clockOf(instant)}`;

/** The clock times a sentence names, in order of first mention. */
function clocksIn(text) {
  return [...new Set(text.match(CLOCK_RE) || [])];
}

/** A working day at least a week ahead on which London is `offsetMinutes` ahead of UTC (0: winter, 60: summer). */
function dayWithOffset(offsetMinutes, wd = 'tue') {
  let d = nextWeekday(TZ, wd, 7);
  for (let i = 0; i < 60; i++, d = addDays(d, 7)) {
    if (tzOffsetMs(zonedToUtc(d, '12:00', TZ).getTime(), TZ) === offsetMinutes * 60_000) return d;
  }
  assert.fail(`no ${wd} with offset ${offsetMinutes} min within 60 weeks`);
}

/** A sentence for a voice: one line, not JSON, not a trace. */
function assertSentence(text, what) {
  assert.equal(typeof text, 'string', `${what}: a string`);
  assert.ok(text.trim().length > 0, `${what}: not empty`);
  assert.doesNotMatch(text, /[\r\n]/, `${what}: one line: ${JSON.stringify(text)}`);
  assert.doesNotMatch(text.trim(), /^[[{"]/, `${what}: not JSON: ${text}`);
  assert.doesNotMatch(text, /\.(c|js|mjs):\d+|Traceback|Exception|SQLSTATE|ERROR:|\bnull\b|\bundefined\b|%[sd]/, `${what}: no internals: ${text}`);
}

/** POST /api/webhooks/vapi with the secret in x-vapi-secret (or as Bearer). */
function vapi(secret, body, { bearer = false, raw, headers = {} } = {}) {
  const opts = raw !== undefined ? { rawBody: raw } : { body };
  if (bearer) opts.key = secret;
  else if (secret !== null && secret !== undefined) opts.headers = { 'x-vapi-secret': secret, ...headers };
  else opts.headers = headers;
  return ctx.api('POST', VAPI, opts);
}

const fnCall = (name, args, id = tcid()) => ({ id, type: 'function', function: { name, arguments: args } });

/**
 * A tool-calls message. callId null: no message.call; caller null: no
 * number; callerAt 'call' (message.call.customer) or 'message' (message.customer).
 */
function toolCalls(calls, { callId = randomUUID(), caller = null, callerAt = 'call' } = {}) {
  const message = { timestamp: Date.now(), type: 'tool-calls', toolCallList: calls };
  if (callId !== null) message.call = { id: callId, type: 'inboundPhoneCall', status: 'in-progress' };
  if (caller) {
    if (callerAt === 'call' && message.call) message.call.customer = { number: caller };
    else message.customer = { number: caller };
  }
  return { message };
}

/** Asserts a 200 {results} with one entry per id, in order, each a sentence; returns the entries. */
function resultsOf(res, ids, what) {
  const body = expectStatus(res, 200, what);
  assert.match(String(res.headers['content-type']), /^application\/json/i, `${what}: JSON`);
  assert.deepEqual(Object.keys(body), ['results'], `${what}: {results}: ${res.raw.slice(0, 300)}`);
  assert.equal(body.results.length, ids.length, `${what}: one result per call: ${res.raw.slice(0, 600)}`);
  body.results.forEach((r, i) => {
    assert.equal(r.toolCallId, ids[i], `${what}: result ${i} echoes its toolCallId`);
    const keys = Object.keys(r).sort();
    assert.ok(JSON.stringify(keys) === '["result","toolCallId"]' || JSON.stringify(keys) === '["error","toolCallId"]', `${what}: result ${i} is {toolCallId, result|error}: ${JSON.stringify(r)}`);
    assertSentence(r.result ?? r.error, `${what}: result ${i}`);
  });
  return body.results;
}

/**
 * One phone call: `ask(tool, args)` sends one tool call in a message of this
 * call and resolves {text, error, res, toolCallId}; `ok` expects a result,
 * `err` an error entry.
 */
function phoneCall(org, { caller = phone(), callerAt = 'call', callId = randomUUID(), bearer = false } = {}) {
  const ask = async (name, args, { toolCallId = tcid() } = {}) => {
    const res = await vapi(org.vapiSecret, toolCalls([fnCall(name, args, toolCallId)], { callId, caller, callerAt }), { bearer });
    const [r] = resultsOf(res, [toolCallId], `${name} ${JSON.stringify(args)}`);
    return { text: r.result ?? r.error, error: 'error' in r, res, toolCallId };
  };
  const ok = async (name, args, opts) => {
    const r = await ask(name, args, opts);
    assert.equal(r.error, false, `${name} ${JSON.stringify(args)}: expected a result, got an error: ${r.text}`);
    return r.text;
  };
  const err = async (name, args, opts) => {
    const r = await ask(name, args, opts);
    assert.equal(r.error, true, `${name} ${JSON.stringify(args)}: expected an error entry, got a result: ${r.text}`);
    return r.text;
  };
  return { id: callId, caller, ask, ok, err };
}

async function slots(org, date, durationMinutes = 30) {
  const res = await ctx.api('GET', '/api/availability', { key: org.publicKey, query: { date, durationMinutes } });
  return expectStatus(res, 200, `free slots ${date}`).slots.map((s) => s.scheduledAt);
}

async function appts(org, query = {}) {
  return (await listAll(ctx, org.adminKey, query)).all;
}

/** An appointment booked with the admin key (a contact of its own). */
async function adminBook(org, date, time, durationMinutes = 30) {
  const c = await createContact(ctx, org.adminKey, { name: personName() });
  return bookOk(ctx, org.adminKey, { contactId: c.id, scheduledAt: local(date, time), durationMinutes }, `admin booking ${date} ${time}`);
}

/** A public hold attempt at a time; resolves the response. */
function publicHold(org, scheduledAt, durationMinutes = 30) {
  return ctx.api('POST', '/api/holds', { key: org.publicKey, body: { scheduledAt, durationMinutes } });
}

/** Asserts that a time is held by someone (409 conflictingHold) for a public hold and a public booking. */
async function assertHeld(org, scheduledAt, what, durationMinutes = 30) {
  const e = expectError(await publicHold(org, scheduledAt, durationMinutes), 409, 'slot_unavailable', undefined, `${what}: a public hold`);
  assert.ok(e.conflictingHold, `${what}: conflictingHold in ${JSON.stringify(e)}`);
  const pc = await createContact(ctx, org.publicKey, { name: personName() });
  const e2 = expectError(await book(ctx, org.publicKey, { contactId: pc.id, scheduledAt, durationMinutes }), 409, 'slot_unavailable', undefined, `${what}: a public booking`);
  assert.ok(e2.conflictingHold, `${what}: conflictingHold in ${JSON.stringify(e2)}`);
  return e.conflictingHold;
}

/** Asserts a time can be held by others, and releases that hold again. */
async function assertFree(org, scheduledAt, what, durationMinutes = 30) {
  const h = expectStatus(await publicHold(org, scheduledAt, durationMinutes), 201, `${what}: a public hold`);
  expectStatus(await ctx.api('DELETE', `/api/holds/${h.holdId}`, { key: org.publicKey }), 204, `${what}: release it`);
}

async function scrape() {
  const res = await ctx.api('GET', '/metrics');
  expectStatus(res, 200, 'GET /metrics');
  return parseMetrics(res.raw);
}

/** A fixture's text with its placeholders filled in. */
function fixture(file, values) {
  let text = fs.readFileSync(path.join(FIXTURES, file), 'utf8');
  for (const [k, v] of Object.entries(values)) text = text.split(`{{${k}}}`).join(v);
  const left = text.match(/\{\{[A-Z_0-9]+\}\}/);
  assert.equal(left, null, `${file}: placeholder ${left && left[0]} left unfilled`);
  JSON.parse(text);
  return text;
}

// ------------------------------------------------------------------ auth

ctest('auth: x-vapi-secret and Authorization: Bearer both open the webhook; missing, wrong, admin, public and server keys → 401; the Vapi secret opens no other route', async () => {
  const org = await newOrg();
  const other = await newOrg();
  const past = previousWeekday(TZ, 'wed', 7);
  const msg = () => toolCalls([fnCall('checkAvailability', { date: past })]);
  const status = { message: { type: 'status-update', status: 'in-progress', call: { id: randomUUID() } } };

  for (const bearer of [false, true]) {
    const m = msg();
    const [r] = resultsOf(await vapi(org.vapiSecret, m, { bearer }), [m.message.toolCallList[0].id], bearer ? 'Bearer' : 'x-vapi-secret');
    assert.match(r.result, /in the past/);
    assert.deepEqual(expectStatus(await vapi(org.vapiSecret, status, { bearer }), 200), {}, 'status-update');
  }
  const refused = [
    ['no secret', null, {}],
    ['empty x-vapi-secret', '', {}],
    ['wrong vapi_ secret', `vapi_${rnd(32)}`, {}],
    ['garbage', `nope-${rnd()}`, {}],
    ['admin key in x-vapi-secret', org.adminKey, {}],
    ['public key in x-vapi-secret', org.publicKey, {}],
    ['server admin token in x-vapi-secret', ctx.adminToken, {}],
  ];
  for (const [what, secret] of refused) {
    expectError(await vapi(secret, msg()), 401, 'unauthorized', undefined, what);
  }
  for (const [what, key] of [['admin key as Bearer', org.adminKey], ['public key as Bearer', org.publicKey], ['server admin token as Bearer', ctx.adminToken], ['wrong vapi_ Bearer', `vapi_${rnd(32)}`]]) {
    expectError(await vapi(key, msg(), { bearer: true }), 401, 'unauthorized', undefined, what);
  }
  expectError(await ctx.api('POST', VAPI, { headers: { Authorization: `Basic ${Buffer.from(`x:${org.vapiSecret}`).toString('base64')}` }, body: msg() }), 401, 'unauthorized', undefined, 'Basic auth');

  // The Vapi secret on other routes: as Bearer, and as x-vapi-secret alone.
  const pc = await createContact(ctx, org.publicKey, { name: personName() });
  const day = nextWeekday(TZ, 'tue', 7);
  const body = { contactId: pc.id, scheduledAt: local(day, '10:00'), durationMinutes: 30 };
  expectError(await ctx.api('GET', '/api/providers', { key: org.vapiSecret }), 401, 'unauthorized', undefined, 'GET /api/providers, Bearer vapi');
  expectError(await ctx.api('GET', '/api/providers', { headers: { 'x-vapi-secret': org.vapiSecret } }), 401, 'unauthorized', undefined, 'GET /api/providers, x-vapi-secret');
  expectError(await ctx.api('POST', '/api/appointments', { key: org.vapiSecret, body }), 401, 'unauthorized', undefined, 'POST /api/appointments, Bearer vapi');
  expectError(await ctx.api('POST', '/api/appointments', { headers: { 'x-vapi-secret': org.vapiSecret }, body }), 401, 'unauthorized', undefined, 'POST /api/appointments, x-vapi-secret');
  expectError(await ctx.api('POST', '/api/holds', { key: org.vapiSecret, body }), 401, 'unauthorized', undefined, 'POST /api/holds, Bearer vapi');
  expectError(await ctx.api('GET', '/api/appointments', { key: org.vapiSecret }), 401, 'unauthorized', undefined, 'GET /api/appointments, Bearer vapi');
  expectError(await ctx.api('POST', '/api/orgs/me/vapi-secret', { key: org.vapiSecret }), 401, 'unauthorized', undefined, 'rotate with the vapi secret');
  expectError(await ctx.api('POST', '/api/orgs', { key: org.vapiSecret, body: { name: 'x', timezone: 'UTC' } }), 401, 'unauthorized', undefined, 'POST /api/orgs, Bearer vapi');
  assert.deepEqual(await appts(org), [], 'nothing was booked');

  // Each organization's secret is its own: other's secret works, for other.
  const m = msg();
  resultsOf(await vapi(other.vapiSecret, m), [m.message.toolCallList[0].id], 'the other organization');
});

ctest('POST /api/orgs/me/vapi-secret (admin) → 200 a new secret: the old one is refused at once, the new one works; public key → 403; audited as organization.vapi_secret_rotated', async () => {
  const org = await newOrg();
  const past = previousWeekday(TZ, 'wed', 7);
  const msg = () => toolCalls([fnCall('checkAvailability', { date: past })]);
  const old = org.vapiSecret;
  expectStatus(await vapi(old, msg()), 200, 'the old secret before rotation');

  expectError(await ctx.api('POST', '/api/orgs/me/vapi-secret', { key: org.publicKey }), 403, 'forbidden', undefined, 'public key');
  expectError(await ctx.api('POST', '/api/orgs/me/vapi-secret', {}), 401, 'unauthorized', undefined, 'no key');
  expectError(await ctx.api('POST', '/api/orgs/me/vapi-secret', { key: ctx.adminToken }), 401, 'unauthorized', undefined, 'server admin token');
  expectStatus(await vapi(old, msg()), 200, 'the refused rotations changed nothing');

  const res = await ctx.api('POST', '/api/orgs/me/vapi-secret', { key: org.adminKey });
  const body = expectStatus(res, 200, 'rotate');
  assert.deepEqual(Object.keys(body), ['vapiSecret']);
  assert.match(body.vapiSecret, /^vapi_/);
  assert.notEqual(body.vapiSecret, old);
  secrets.push(body.vapiSecret);

  expectError(await vapi(old, msg()), 401, 'unauthorized', undefined, 'old secret, x-vapi-secret, at once');
  expectError(await vapi(old, msg(), { bearer: true }), 401, 'unauthorized', undefined, 'old secret, Bearer, at once');
  for (const bearer of [false, true]) {
    const m = msg();
    resultsOf(await vapi(body.vapiSecret, m, { bearer }), [m.message.toolCallList[0].id], `new secret${bearer ? ', Bearer' : ''}`);
  }

  const entries = await auditEntries(ctx, org.adminKey, { entityId: org.id });
  const rotated = entries.filter((e) => e.action === 'organization.vapi_secret_rotated');
  assert.equal(rotated.length, 1, `one organization.vapi_secret_rotated entry: ${JSON.stringify(entries)}`);
  assert.equal(rotated[0].entityType, 'organization');
  assert.equal(rotated[0].entityId, org.id);
  assert.match(rotated[0].actor, /^admin_key:/);
  const raw = JSON.stringify(entries);
  for (const s of [old, body.vapiSecret, org.adminKey]) assert.ok(!raw.includes(s), 'no secret in the audit log');

  // Rotating again: the second secret stops too.
  const again = expectStatus(await ctx.api('POST', '/api/orgs/me/vapi-secret', { key: org.adminKey }), 200, 'rotate again');
  secrets.push(again.vapiSecret);
  assert.notEqual(again.vapiSecret, body.vapiSecret);
  expectError(await vapi(body.vapiSecret, msg()), 401, 'unauthorized', undefined, 'the second secret after the third');
  expectStatus(await vapi(again.vapiSecret, msg()), 200, 'the third secret');
});

ctest('a secret bookd knows from an earlier request stops at once after a rotation, whatever the request comes first: a booking (checked in its own transaction), a booking refused before it reaches the database, a check that would hold, status-update, a tool call without id, an empty toolCallList → 401; nothing is booked, held, stored or recorded', async () => {
  const day = nextWeekday(TZ, 'thu', 7);
  const booking = (time) => toolCalls([fnCall('bookAppointment', { scheduledAt: rfc(day, time), durationMinutes: 30, name: personName(), phone: phone() })]);
  const lookups = async () => sumOf((await scrape()).samples, 'bookd_key_lookups_total', { kind: 'vapi_secret' });
  const firsts = {
    booking: () => booking('11:00'),
    // A time whose lock range ends past the year 9999: refused by bookd before vapi_book runs.
    'a booking never sent to the database': () => toolCalls([fnCall('bookAppointment', { scheduledAt: '9999-12-31T23:45:00Z', name: personName(), phone: phone() })]),
    'a check that would hold': () => toolCalls([fnCall('checkAvailability', { scheduledAt: rfc(day, '11:00'), durationMinutes: 30 })]),
    'status-update': () => ({ message: { type: 'status-update', status: 'in-progress', call: { id: randomUUID() } } }),
    'a call without id': () => toolCalls([{ type: 'function', function: { name: 'checkAvailability', arguments: { date: day } } }]),
    'no calls': () => toolCalls([]),
  };
  for (const [what, make] of Object.entries(firsts)) {
    const org = await newOrg();
    const old = org.vapiSecret;
    // Known (so remembered) from a check and a booking that books.
    const check = toolCalls([fnCall('checkAvailability', { date: day })]);
    resultsOf(await vapi(old, check), [check.message.toolCallList[0].id], `${what}: a check with the secret`);
    const first = booking('10:00');
    const before = await lookups();
    const [booked] = resultsOf(await vapi(old, first), [first.message.toolCallList[0].id], `${what}: a booking with the secret`);
    assert.equal(booked.result, `Booked for ${spoken(local(day, '10:00'))}.`, what);
    assert.equal(await lookups(), before, `${what}: the known secret was not looked up again (vapi_book checked it)`);

    const fresh = expectStatus(await ctx.api('POST', '/api/orgs/me/vapi-secret', { key: org.adminKey }), 200, 'rotate');
    secrets.push(fresh.vapiSecret);
    const msg = make();
    expectError(await vapi(old, msg), 401, 'unauthorized', undefined, `${what} with the old secret`);
    expectError(await vapi(old, msg, { bearer: true }), 401, 'unauthorized', undefined, `${what} with the old secret again, Bearer`);

    assert.deepEqual((await appts(org)).map((a) => a.scheduledAt), [local(day, '10:00')], `${what}: only the booking made before the rotation`);
    await assertFree(org, local(day, '11:00'), `${what}: nothing held at 11:00`);
    const calls = expectStatus(await ctx.api('GET', '/api/calls', { key: org.adminKey }), 200, 'calls').calls;
    if (msg.message.call) assert.ok(!calls.some((c) => c.id === msg.message.call.id), `${what}: the refused call is not recorded: ${JSON.stringify(calls)}`);
    if (what === 'booking') {
      // The new secret books that time, with an answer of its own: nothing was stored under the tool call's id.
      const [again] = resultsOf(await vapi(fresh.vapiSecret, msg), [msg.message.toolCallList[0].id], 'the same booking with the new secret');
      assert.equal(again.result, `Booked for ${spoken(local(day, '11:00'))}.`);
    }
  }
});

// ------------------------------------------------------------------ payload shapes

ctest('every recorded tool-calls payload (fixtures/vapi) → 200, one result per call in order, toolCallId echoed, a single-line sentence; the two-call payload checks then books', async () => {
  const org = await newOrg();
  const day = nextWeekday(TZ, 'tue', 7);
  const day2 = addDays(day, 1);
  const day3 = addDays(day, 2);
  const files = fs.readdirSync(FIXTURES).filter((f) => f.startsWith('tool-calls-') && f.endsWith('.json')).sort();
  assert.deepEqual(files, [
    'tool-calls-arguments-string.json', 'tool-calls-name-arguments.json', 'tool-calls-name-parameters.json',
    'tool-calls-toolCallList-function.json', 'tool-calls-toolWithToolCallList-only.json', 'tool-calls-two-calls.json',
  ], 'the fixtures this test knows');
  const times = { 'tool-calls-arguments-string.json': '09:00', 'tool-calls-name-arguments.json': '10:00', 'tool-calls-toolCallList-function.json': '11:00', 'tool-calls-toolWithToolCallList-only.json': '12:00', 'tool-calls-two-calls.json': '13:00' };
  let twoCalls = null;
  for (const file of files) {
    const v = { CALL_ID: randomUUID(), TOOL_CALL_ID: tcid(), TOOL_CALL_ID_2: tcid(), CUSTOMER_NUMBER: phone(), SCHEDULED_AT: rfc(day, times[file] || '15:00'), DATE: day2 };
    const text = fixture(file, v);
    const n = JSON.parse(text).message.toolCallList?.length ?? JSON.parse(text).message.toolWithToolCallList.length;
    const ids = [v.TOOL_CALL_ID, v.TOOL_CALL_ID_2].slice(0, n);
    const results = resultsOf(await vapi(org.vapiSecret, null, { raw: text }), ids, file);
    for (const r of results) assert.ok('result' in r, `${file}: a result, not an error: ${JSON.stringify(r)}`);
    const at = local(day, times[file] || '15:00');
    if (file === 'tool-calls-name-parameters.json') {
      assert.ok(results[0].result.includes(dayWords(day2)), `${file}: names the day: ${results[0].result}`);
      assert.deepEqual(clocksIn(results[0].result), ['9:00 am', '9:15 am', '9:30 am'], `${file}: the first three times of an empty day: ${results[0].result}`);
    } else {
      assert.ok(results[0].result.startsWith(`${spoken(at)} is free`), `${file}: "${spoken(at)} is free…": ${results[0].result}`);
    }
    if (file === 'tool-calls-two-calls.json') {
      assert.equal(results[1].result, `Booked for ${spoken(at)}.`, `${file}: the second call books`);
      twoCalls = { at, caller: v.CUSTOMER_NUMBER };
    }
  }

  // toolWithToolCallList items whose toolCall has no name (it stands beside it), without toolCallList.
  {
    const v = { CALL_ID: randomUUID(), TOOL_CALL_ID: tcid(), CUSTOMER_NUMBER: phone(), DATE: day3 };
    const m = JSON.parse(fixture('tool-calls-name-parameters.json', v));
    delete m.message.toolCallList;
    assert.equal(m.message.toolWithToolCallList[0].toolCall.name, undefined, 'the fixture names the tool beside the call');
    const [r] = resultsOf(await vapi(org.vapiSecret, m), [v.TOOL_CALL_ID], 'toolWithToolCallList {name, toolCall:{id, parameters}}');
    assert.ok('result' in r && r.result.includes(dayWords(day3)), JSON.stringify(r));
  }

  // What was written: the two-call payload's one appointment, for the caller's number and the name said.
  const all = await appts(org);
  assert.equal(all.length, 1, `one appointment: ${JSON.stringify(all)}`);
  assert.equal(all[0].scheduledAt, twoCalls.at);
  assert.equal(all[0].durationMinutes, 30);
  assert.equal(all[0].status, 'confirmed');
  assert.equal(all[0].notes, FIXTURE_NOTES);
  const contact = expectStatus(await ctx.api('GET', `/api/contacts/${all[0].contactId}`, { key: org.adminKey }), 200);
  assert.equal(contact.name, FIXTURE_NAME);
  assert.equal(contact.phone, twoCalls.caller, "the caller's number from message.call.customer.number");
  // Each check held its time for its call (the one converted aside).
  for (const f of ['tool-calls-arguments-string.json', 'tool-calls-name-arguments.json', 'tool-calls-toolCallList-function.json', 'tool-calls-toolWithToolCallList-only.json']) {
    await assertHeld(org, local(day, times[f]), `held by ${f}`);
  }
  await assertHeld(org, local(day2, '09:00'), 'the first time offered by the date-only payload');
});

ctest('status-update and end-of-call-report payloads → 200 {}; nothing booked, held or audited', async () => {
  const org = await newOrg();
  const day = nextWeekday(TZ, 'tue', 7);
  const audit0 = await auditEntries(ctx, org.adminKey);
  for (const file of ['status-update.json', 'status-update-ended.json', 'end-of-call-report.json']) {
    const text = fixture(file, { CALL_ID: randomUUID(), CUSTOMER_NUMBER: phone(), SCHEDULED_AT: rfc(day, '14:00') });
    for (const bearer of [false, true]) {
      const res = await vapi(org.vapiSecret, null, { raw: text, bearer });
      assert.deepEqual(expectStatus(res, 200, file), {}, `${file}: {}`);
    }
  }
  const other = await vapi(org.vapiSecret, { message: { type: 'conversation-update', messages: [] } });
  assert.deepEqual(expectStatus(other, 200, 'another type'), {});
  assert.deepEqual(await auditEntries(ctx, org.adminKey), audit0, 'no audit entry');
  assert.deepEqual(await appts(org), [], 'no appointment');
  await assertFree(org, local(day, '14:00'), 'the reported time is not held');
});

ctest('GET /api/calls?limit: status-update and end-of-call-report are recorded as calls (status, times, reason), each listing the appointments booked in it, most recently updated first; a bad limit → 400 naming limit; other keys refused', async () => {
  const org = await newOrg();
  const day = nextWeekday(TZ, 'tue', 7);
  const list = async (query = {}) =>
    expectStatus(await ctx.api('GET', '/api/calls', { key: org.adminKey, query }), 200, `GET /api/calls ${JSON.stringify(query)}`).calls;
  const report = async (file, callId) => {
    const raw = fixture(file, { CALL_ID: callId, CUSTOMER_NUMBER: phone(), SCHEDULED_AT: rfc(day, '14:00') });
    assert.deepEqual(expectStatus(await vapi(org.vapiSecret, null, { raw }), 200, file), {}, `${file}: {}`);
  };
  assert.deepEqual(await list(), [], 'no call yet');

  // A call starts (status-update: the message's timestamp is its start), books, ends.
  const call = phoneCall(org);
  await report('status-update.json', call.id);
  assert.deepEqual(await list(), [{ id: call.id, status: 'in-progress', startedAt: '2026-01-27T13:58:01.117Z',
                                    endedAt: null, endedReason: null, appointmentIds: [] }], 'in progress');
  await call.ok('bookAppointment', { scheduledAt: rfc(day, '10:00'), durationMinutes: 30, name: personName() });
  const [booked] = await appts(org);
  await report('end-of-call-report.json', call.id);
  const ended = { id: call.id, status: 'ended', startedAt: '2026-01-27T13:58:01.117Z', endedAt: '2026-01-27T14:00:12.530Z',
                  endedReason: 'customer-ended-call', appointmentIds: [booked.id] };
  assert.deepEqual(await list(), [ended], 'ended, with its booking');
  await report('status-update.json', call.id);
  assert.deepEqual(await list(), [ended], 'a late status-update does not reopen an ended call');

  // A second call, updated last, comes first; limit keeps the newest.
  const second = randomUUID();
  await report('status-update.json', second);
  assert.deepEqual((await list()).map((c) => c.id), [second, call.id], 'most recently updated first');
  assert.deepEqual((await list({ limit: 1 })).map((c) => c.id), [second], 'limit=1');
  assert.deepEqual((await list({ limit: 500 })).length, 2, 'limit=500');

  for (const limit of ['0', '501', 'abc', '1.5', '-1', '']) {
    expectError(await ctx.api('GET', '/api/calls', { key: org.adminKey, query: { limit } }), 400, 'invalid_request', 'limit', `limit=${JSON.stringify(limit)}`);
  }
  expectError(await ctx.api('GET', '/api/calls', { key: org.publicKey }), 403, 'forbidden', undefined, 'the public key');
  expectError(await ctx.api('GET', '/api/calls', { key: org.vapiSecret }), 401, 'unauthorized', undefined, 'the Vapi secret');
  expectError(await ctx.api('GET', '/api/calls', {}), 401, 'unauthorized', undefined, 'no key');
  assert.equal((await list()).length, 2, 'the refused requests changed nothing');
});

ctest('message shapes: arguments as a JSON string, {name, parameters}, two calls answered in order, 17 calls → 16 run and the 17th an error, unknown tool, bad arguments, missing id; nothing written', async () => {
  const org = await newOrg();
  const day = nextWeekday(TZ, 'wed', 7);
  const past = previousWeekday(TZ, 'wed', 7);
  const audit0 = await auditEntries(ctx, org.adminKey);
  const send = (calls, opts) => vapi(org.vapiSecret, toolCalls(calls, opts));

  // {id, name, arguments: "<JSON>"} and {id, name, parameters}.
  {
    const a = tcid();
    const b = tcid();
    const c = tcid();
    const r = resultsOf(await send([
      { id: a, name: 'checkAvailability', arguments: JSON.stringify({ date: past }) },
      { id: b, name: 'checkAvailability', parameters: { scheduledAt: rfc(past, '10:00') } },
      { id: c, type: 'function', function: { name: 'checkAvailability', arguments: JSON.stringify({ scheduledAt: rfc(past, '11:00') }) } },
    ]), [a, b, c], 'three shapes');
    for (const x of r) assert.match(x.result, /in the past/, JSON.stringify(x));
    assert.ok(r[1].result.includes(spoken(local(past, '10:00'))), `in order: ${r[1].result}`);
    assert.ok(r[2].result.includes(spoken(local(past, '11:00'))), `in order: ${r[2].result}`);
  }

  // Two calls, answered in order (an unknown tool, then a check).
  {
    const a = tcid();
    const b = tcid();
    const r = resultsOf(await send([fnCall('orderPizza', { size: 'large' }, a), fnCall('checkAvailability', { date: past }, b)]), [a, b], 'two calls');
    assert.ok('error' in r[0], `unknown tool → error entry: ${JSON.stringify(r[0])}`);
    assert.ok('result' in r[1], JSON.stringify(r[1]));
    const r2 = resultsOf(await send([fnCall('checkAvailability', { date: past }, b), fnCall('orderPizza', {}, a)]), [b, a], 'the same two, the other way round');
    assert.deepEqual(r2, [r[1], r[0]], 'each answer follows its call');
  }

  // 17 calls: 16 run, the 17th (a booking that would succeed) is refused unrun.
  {
    const calls = Array.from({ length: 16 }, (_, i) => fnCall('checkAvailability', { scheduledAt: rfc(past, `${String(9 + Math.floor(i / 4)).padStart(2, '0')}:${String((i % 4) * 15).padStart(2, '0')}`) }));
    const last = fnCall('bookAppointment', { scheduledAt: rfc(day, '10:00'), durationMinutes: 30, name: personName(), phone: phone() });
    calls.push(last);
    const r = resultsOf(await send(calls), calls.map((c) => c.id), '17 calls');
    for (let i = 0; i < 16; i++) assert.match(r[i].result ?? '', /in the past/, `call ${i + 1} ran: ${JSON.stringify(r[i])}`);
    assert.ok('error' in r[16], `the 17th is an error entry: ${JSON.stringify(r[16])}`);
    assert.deepEqual(await appts(org), [], 'the 17th did not run');
  }

  // An unknown tool, non-object arguments, unreadable JSON, missing ids.
  const bad = [
    ['unknown tool', fnCall('deleteEverything', {})],
    ['a name of the wrong case', fnCall('CheckAvailability', { date: past })],
    ['arguments an array', fnCall('checkAvailability', [past])],
    ['arguments a number', fnCall('checkAvailability', 42)],
    ['arguments a JSON string of an array', fnCall('checkAvailability', JSON.stringify([past]))],
    ['arguments a JSON string of a number', fnCall('checkAvailability', '42')],
    ['arguments a JSON string of null', fnCall('checkAvailability', 'null')],
    ['arguments unparsable', fnCall('checkAvailability', `{"date": "${past}"`)],
    ['arguments plain text', fnCall('checkAvailability', 'tomorrow at ten')],
    ['bookAppointment with unparsable arguments', fnCall('bookAppointment', `{scheduledAt: ${rfc(day, '11:00')}}`)],
  ];
  for (const [what, call] of bad) {
    const [r] = resultsOf(await send([call]), [call.id], what);
    assert.ok('error' in r, `${what}: an error entry: ${JSON.stringify(r)}`);
  }
  for (const [what, call] of [
    ['no id', { type: 'function', function: { name: 'checkAvailability', arguments: { date: past } } }],
    ['empty id', { id: '', type: 'function', function: { name: 'checkAvailability', arguments: { date: past } } }],
    ['no id, a booking', { name: 'bookAppointment', arguments: { scheduledAt: rfc(day, '12:00'), durationMinutes: 30, name: personName(), phone: phone() } }],
  ]) {
    const [r] = resultsOf(await send([call]), [''], what);
    assert.ok('error' in r, `${what}: an error entry: ${JSON.stringify(r)}`);
  }
  // A list with no calls.
  assert.deepEqual(expectStatus(await send([]), 200, 'empty toolCallList'), { results: [] });

  assert.deepEqual(await appts(org), [], 'no appointment');
  assert.deepEqual(await auditEntries(ctx, org.adminKey), audit0, 'no audit entry');
});

ctest('malformed messages → 400 invalid_request naming message / message.type; non-JSON → 400; wrong Content-Type → 415; nothing written', async () => {
  const org = await newOrg();
  const audit0 = await auditEntries(ctx, org.adminKey);
  const cases = [
    ['no message', {}, 'message'],
    ['message a string', { message: 'tool-calls' }, 'message'],
    ['message null', { message: null }, 'message'],
    ['message an array', { message: [{ type: 'tool-calls' }] }, 'message'],
    ['type at the top level', { type: 'tool-calls', toolCallList: [] }, 'message'],
    ['message without type', { message: { toolCallList: [] } }, 'message.type'],
    ['message.type a number', { message: { type: 7 } }, 'message.type'],
    ['message.type null', { message: { type: null } }, 'message.type'],
  ];
  for (const [what, body, field] of cases) {
    expectError(await vapi(org.vapiSecret, body), 400, 'invalid_request', field, what);
  }
  expectError(await vapi(org.vapiSecret, null, { raw: 'not json at all' }), 400, 'invalid_request', undefined, 'non-JSON body');
  expectError(await vapi(org.vapiSecret, null, { raw: '{"message": {"type": "tool-calls"' }), 400, 'invalid_request', undefined, 'truncated JSON');
  expectError(await vapi(org.vapiSecret, null, { raw: '' }), 400, 'invalid_request', undefined, 'empty body');
  expectError(await vapi(org.vapiSecret, [{ message: { type: 'tool-calls' } }]), 400, 'invalid_request', undefined, 'a JSON array');
  expectError(await ctx.api('POST', VAPI, { headers: { 'x-vapi-secret': org.vapiSecret }, rawBody: JSON.stringify({ message: { type: 'status-update' } }), contentType: 'text/plain' }), 415, 'unsupported_media_type', undefined, 'text/plain');
  assert.deepEqual(await auditEntries(ctx, org.adminKey), audit0, 'no audit entry');
  assert.deepEqual(await appts(org), []);
});

// ------------------------------------------------------------------ checkAvailability

ctest('checkAvailability, a free time: "<time> is free", held for the call (409 conflictingHold to others); a second check in the call releases the first time', async () => {
  const org = await newOrg();
  const day = nextWeekday(TZ, 'tue', 7);
  const call = phoneCall(org);
  const at10 = local(day, '10:00');
  const t0 = Date.now();
  const text = await call.ok('checkAvailability', { scheduledAt: rfc(day, '10:00'), durationMinutes: 30 });
  assert.ok(text.startsWith(`${spoken(at10)} is free`), `"${spoken(at10)} is free…": ${text}`);
  assert.match(text, /\?$/, 'asks whether to book it');
  const held = await assertHeld(org, at10, '10:00 after the check');
  assert.equal(held.scheduledAt, at10);
  assert.equal(held.durationMinutes, 30);
  assert.match(held.expiresAt, ISO_MS_Z);
  const left = Date.parse(held.expiresAt) - t0;
  assert.ok(left > 4 * 60_000 && left <= 6 * 60_000, `held for about 5 minutes: expiresAt ${held.expiresAt}`);
  // Overlapping ranges are refused too; the times around it are not.
  await assertHeld(org, local(day, '10:15'), '10:15 overlaps the held 10:00-10:30');
  await assertFree(org, local(day, '10:30'), '10:30 touches it');
  assert.ok(!(await slots(org, day)).includes(at10), 'free slots leave the held time out');

  // The same call asks about 11:00: 10:00 is given back at once, 11:00 held.
  const at11 = local(day, '11:00');
  const text2 = await call.ok('checkAvailability', { scheduledAt: rfc(day, '11:00') });
  assert.ok(text2.startsWith(`${spoken(at11)} is free`), text2);
  await assertHeld(org, at11, '11:00 after the second check');
  const pc = await createContact(ctx, org.publicKey, { name: personName() });
  await bookOk(ctx, org.publicKey, { contactId: pc.id, scheduledAt: at10, durationMinutes: 30 }, 'another caller books the released 10:00');

  // Another call's hold is not released by this call.
  const call2 = phoneCall(org);
  await call2.ok('checkAvailability', { scheduledAt: rfc(day, '14:00') });
  await call.ok('checkAvailability', { scheduledAt: rfc(day, '15:00') });
  await assertHeld(org, local(day, '14:00'), 'the other call still holds 14:00');
  await assertFree(org, at11, '11:00 given back by the first call');
  assert.equal((await appts(org)).length, 1, 'checks book nothing');
});

ctest('checkAvailability, a taken time: names up to three nearest free times of that day (h:mm am/pm) and holds the first; a date alone: the first three', async () => {
  const org = await newOrg();
  const day = nextWeekday(TZ, 'tue', 7);
  await adminBook(org, day, '14:00', 30);
  const free = await slots(org, day);
  const asked = local(day, '14:00');
  const call = phoneCall(org);
  const text = await call.ok('checkAvailability', { scheduledAt: rfc(day, '14:00'), durationMinutes: 30 });
  assert.ok(text.startsWith(spoken(asked)), `names the time asked for: ${text}`);
  assert.match(text, /taken/, text);
  const named = clocksIn(text).filter((c) => c !== clockOf(asked));
  assert.ok(named.length >= 1 && named.length <= 3, `one to three times: ${text}`);
  for (const c of clocksIn(text)) assert.match(c, /^(1[0-2]|[1-9]):[0-5]\d (am|pm)$/);
  const freeByClock = new Map(free.map((s) => [clockOf(s), s]));
  const offered = named.map((c) => {
    assert.ok(freeByClock.has(c), `${c} is a free time of that day: ${text}`);
    return freeByClock.get(c);
  });
  assert.equal(offered.length, Math.min(3, free.length), `three times: ${text}`);
  // Nearest: no free time left out is nearer than one offered.
  const dist = (s) => Math.abs(Date.parse(s) - Date.parse(asked));
  const worst = Math.max(...offered.map(dist));
  for (const s of free.filter((x) => !offered.includes(x))) assert.ok(dist(s) >= worst, `${clockOf(s)} is nearer than an offered time: ${text}`);
  // The first one named is held for the call, the others are not (they meet that hold at most).
  const h = await assertHeld(org, offered[0], `the first time named (${named[0]})`);
  assert.equal(h.scheduledAt, offered[0]);
  for (const s of offered.slice(1)) {
    const r = await publicHold(org, s);
    if (r.status === 201) expectStatus(await ctx.api('DELETE', `/api/holds/${r.body.holdId}`, { key: org.publicKey }), 204);
    else assert.equal(expectError(r, 409, 'slot_unavailable', undefined, clockOf(s)).conflictingHold?.scheduledAt, offered[0], `${clockOf(s)} is not held itself: ${r.raw}`);
  }

  // A date alone: the day's first three free times, the first held.
  const day2 = addDays(day, 1);
  await adminBook(org, day2, '09:00', 30);
  const free2 = await slots(org, day2);
  const call2 = phoneCall(org);
  const text2 = await call2.ok('checkAvailability', { date: day2 });
  assert.ok(text2.includes(dayWords(day2)), `names the day: ${text2}`);
  assert.deepEqual(clocksIn(text2), free2.slice(0, 3).map(clockOf), `the first three free times: ${text2}`);
  await assertHeld(org, free2[0], 'the first of them');

  // durationMinutes: with 14:30-15:00 booked too, 13:45 fits 15 minutes, not 30.
  await adminBook(org, day, '14:30', 30);
  const call3 = phoneCall(org);
  const at1345 = local(day, '13:45');
  assert.ok((await call3.ok('checkAvailability', { scheduledAt: rfc(day, '13:45'), durationMinutes: 15 })).startsWith(`${spoken(at1345)} is free`), '15 minutes at 13:45');
  await assertHeld(org, at1345, '13:45 for 15 minutes', 15);
  const call4 = phoneCall(org);
  const t4 = await call4.ok('checkAvailability', { scheduledAt: rfc(day, '13:30'), durationMinutes: 60 });
  assert.match(t4, /taken/, `60 minutes at 13:30 meets 13:45 and 14:00: ${t4}`);
});

ctest('checkAvailability: past → "in the past"; outside working hours → names the opening hours; nothing held there', async () => {
  const org = await newOrg();
  const past = previousWeekday(TZ, 'tue', 7);
  const day = nextWeekday(TZ, 'tue', 7);
  const sat = nextWeekday(TZ, 'sat', 7);
  const call = phoneCall(org);
  for (const args of [{ scheduledAt: rfc(past, '10:00') }, { date: past }, { scheduledAt: rfc(past, '10:00'), durationMinutes: 45 }]) {
    const t = await call.ok('checkAvailability', args);
    assert.match(t, /in the past/, `${JSON.stringify(args)}: ${t}`);
    assert.deepEqual(clocksIn(t).filter((c) => c !== '10:00 am'), [], `offers no time: ${t}`);
  }
  for (const [what, args] of [
    ['7:00 am on a weekday', { scheduledAt: rfc(day, '07:00') }],
    ['4:45 pm for an hour', { scheduledAt: rfc(day, '16:45'), durationMinutes: 60 }],
    ['6:00 pm', { scheduledAt: rfc(day, '18:00') }],
    ['a Saturday', { scheduledAt: rfc(sat, '10:00') }],
    ['a Saturday, date alone', { date: sat }],
  ]) {
    const t = await call.ok('checkAvailability', args);
    assert.ok(t.includes(HOURS), `${what}: names the opening hours "${HOURS}": ${t}`);
  }
  const audit = await auditEntries(ctx, org.adminKey);
  assert.ok(!audit.some((e) => e.entityType === 'appointment' || e.entityType === 'contact'), 'no appointment or contact');
  // Invalid arguments are error entries.
  for (const args of [{}, { durationMinutes: 30 }, { date: '27/01/2027' }, { date: 20270127 }, { scheduledAt: `${day}T10:00:00` }, { scheduledAt: 'next tuesday' }, { date: day, durationMinutes: 0 }, { date: day, durationMinutes: 1441 }, { date: day, durationMinutes: '30' }]) {
    await call.err('checkAvailability', args);
  }
});

ctest('checkAvailability: serviceName uses the service (unknown name → error sentence); providerId picks the provider (malformed, unknown or another organization’s → error sentence)', async () => {
  const org = await newOrg();
  const other = await newOrg();
  const day = nextWeekday(TZ, 'thu', 7);
  const svc = await createService(ctx, org.adminKey, { name: `Initial consultation ${rnd(2)}`, durationMinutes: 60 });
  await adminBook(org, day, '10:30', 30);
  const call = phoneCall(org);
  // 10:00 for 30 minutes is free; for the 60-minute service it is not.
  const t1 = await call.ok('checkAvailability', { scheduledAt: rfc(day, '10:00'), serviceName: svc.name });
  assert.match(t1, /taken/, `a 60-minute service at 10:00 meets 10:30: ${t1}`);
  const t2 = await phoneCall(org).ok('checkAvailability', { scheduledAt: rfc(day, '14:00'), serviceName: svc.name });
  assert.ok(t2.startsWith(`${spoken(local(day, '14:00'))} is free`), t2);
  const h = await assertHeld(org, local(day, '14:45'), 'the held 60 minutes reach 14:45', 15);
  assert.equal(h.durationMinutes, 60, 'the hold has the service’s length');
  await assertFree(org, local(day, '15:00'), '15:00 after the service');
  const err = await call.err('checkAvailability', { scheduledAt: rfc(day, '16:00'), serviceName: `No such service ${rnd()}` });
  assert.match(err, /service/i, err);

  // providerId: a second provider is free while the default one is booked.
  const p2 = await createProvider(ctx, org.adminKey);
  const t3 = await phoneCall(org).ok('checkAvailability', { scheduledAt: rfc(day, '10:30'), providerId: p2.id });
  assert.ok(t3.startsWith(`${spoken(local(day, '10:30'))} is free`), `the second provider at 10:30: ${t3}`);
  const otherProvider = await createProvider(ctx, other.adminKey);
  for (const providerId of ['not-a-uuid', randomUUID(), otherProvider.id, other.defaultProviderId, 42]) {
    const e = await call.err('checkAvailability', { scheduledAt: rfc(day, '12:00'), providerId });
    assert.match(e, /provider/i, `${providerId}: ${e}`);
  }
});

// ------------------------------------------------------------------ bookAppointment

ctest('bookAppointment: the caller’s number when phone is absent, "Booked for <Weekday D Month> at <h:mm am/pm>." in London time (winter and summer); the contact is created once and found by phone again; the call’s hold is converted', async () => {
  const org = await newOrg();
  const winter = dayWithOffset(0, 'tue');
  const summer = dayWithOffset(60, 'wed');
  const caller = phone();
  const name = personName();
  const audit0 = await auditEntries(ctx, org.adminKey);

  // Winter: check, then book the held time.
  const call1 = phoneCall(org, { caller });
  const w = local(winter, '14:00');
  await call1.ok('checkAvailability', { scheduledAt: rfc(winter, '14:00'), durationMinutes: 30 });
  const b1 = await call1.ok('bookAppointment', { scheduledAt: rfc(winter, '14:00'), durationMinutes: 30, name });
  assert.equal(b1, `Booked for ${spoken(w)}.`);
  assert.equal(b1, `Booked for ${dayWords(winter)} at 2:00 pm.`);

  // Summer (BST): 2:00 pm London is 13:00Z; the time sent in UTC.
  const call2 = phoneCall(org, { caller, callerAt: 'message' });
  const s = local(summer, '14:00');
  assert.equal(s.slice(11, 16), '13:00', 'BST');
  const b2 = await call2.ok('bookAppointment', { scheduledAt: s, durationMinutes: 45, name: personName() });
  assert.equal(b2, `Booked for ${dayWords(summer)} at 2:00 pm.`, 'message.customer.number as the phone; the time said in London');

  const all = await appts(org);
  assert.deepEqual(all.map((a) => [a.scheduledAt, a.durationMinutes, a.status]), [[w, 30, 'confirmed'], [s, 45, 'confirmed']]);
  assert.equal(all[0].contactId, all[1].contactId, 'the second booking found the contact by phone');
  const contact = expectStatus(await ctx.api('GET', `/api/contacts/${all[0].contactId}`, { key: org.adminKey }), 200);
  assert.equal(contact.phone, caller, "the caller's number");
  assert.equal(contact.name, name, 'the name given first');
  const created = (await auditEntries(ctx, org.adminKey)).filter((e) => e.action === 'contact.created' && !audit0.some((x) => x.id === e.id));
  assert.equal(created.length, 1, 'one contact created');
  assert.equal(created[0].actor, 'vapi');

  // The hold became the appointment: the same id in the audit trail, and it no longer blocks.
  const trail = await auditEntries(ctx, org.adminKey, { entityId: all[0].id });
  assert.deepEqual(trail.map((e) => e.action).sort(), ['appointment.booked', 'hold.converted', 'hold.created'], `the hold is the appointment: ${JSON.stringify(trail)}`);
  for (const e of trail) assert.equal(e.actor, 'vapi');
  const e = expectError(await publicHold(org, w), 409, 'slot_unavailable', undefined, 'the booked time');
  assert.ok(e.conflictingAppointment && !e.conflictingHold, `an appointment, not a hold, is in the way: ${JSON.stringify(e)}`);
  expectStatus(await ctx.api('POST', `/api/appointments/${all[0].id}/cancel`, { key: org.adminKey, body: {} }), 200, 'cancel it');
  await assertFree(org, w, 'after the cancel, no hold is left at 14:00');
  assert.equal((await appts(org, { from: w, to: local(winter, '14:30') })).length, 1, 'one appointment at that time');

  // An explicit phone wins over the caller's number: another contact.
  const other = phone();
  const email = `robin.${rnd()}@example.com`;
  secrets.push(email);
  const b3 = await phoneCall(org, { caller }).ok('bookAppointment', { scheduledAt: rfc(winter, '15:00'), name: personName(), phone: other, email });
  assert.equal(b3, `Booked for ${dayWords(winter)} at 3:00 pm.`);
  const third = (await appts(org, { from: local(winter, '15:00'), to: local(winter, '15:01') }))[0];
  assert.equal(third.durationMinutes, 30, 'default 30 minutes');
  const c3 = expectStatus(await ctx.api('GET', `/api/contacts/${third.contactId}`, { key: org.adminKey }), 200);
  assert.equal(c3.phone, other);
  assert.notEqual(third.contactId, all[0].contactId);
});

ctest('bookAppointment with serviceName and a different time than the one held: the hold is given back; with the held time but a longer length it still books', async () => {
  const org = await newOrg();
  const day = nextWeekday(TZ, 'thu', 7);
  const svc = await createService(ctx, org.adminKey, { name: `Sports massage ${rnd(2)}`, durationMinutes: 60 });
  const call = phoneCall(org);
  await call.ok('checkAvailability', { scheduledAt: rfc(day, '10:00'), durationMinutes: 30 });
  const b = await call.ok('bookAppointment', { scheduledAt: rfc(day, '11:00'), serviceName: svc.name, name: personName() });
  assert.equal(b, `Booked for ${spoken(local(day, '11:00'))}.`);
  await assertFree(org, local(day, '10:00'), 'the 10:00 the call held');
  const [a] = await appts(org);
  assert.equal(a.serviceId, svc.id);
  assert.equal(a.durationMinutes, 60);

  // Held 30 minutes at 14:00, booked for 60 at 14:00 (14:30-15:00 is free too).
  const call2 = phoneCall(org);
  await call2.ok('checkAvailability', { scheduledAt: rfc(day, '14:00'), durationMinutes: 30 });
  const b2 = await call2.ok('bookAppointment', { scheduledAt: rfc(day, '14:00'), durationMinutes: 60, name: personName() });
  assert.equal(b2, `Booked for ${spoken(local(day, '14:00'))}.`, 'the held time, booked for longer than held');
  const at14 = await appts(org, { from: local(day, '14:00'), to: local(day, '14:01') });
  assert.deepEqual(at14.map((x) => [x.durationMinutes, x.status]), [[60, 'confirmed']]);
});

ctest('bookAppointment: missing name / scheduledAt / phone, bad phone / email / time → error sentences naming what is wrong; past and closed times → a sentence; nothing written', async () => {
  const org = await newOrg();
  const day = nextWeekday(TZ, 'tue', 7);
  const past = previousWeekday(TZ, 'tue', 7);
  const sat = nextWeekday(TZ, 'sat', 7);
  const at = rfc(day, '10:00');
  const audit0 = await auditEntries(ctx, org.adminKey);
  const cases = [
    ['no name', { scheduledAt: at, durationMinutes: 30 }, /name/i],
    ['empty name', { scheduledAt: at, durationMinutes: 30, name: '' }, /name/i],
    ['name not text', { scheduledAt: at, durationMinutes: 30, name: 42 }, /name/i],
    ['no scheduledAt', { durationMinutes: 30, name: personName() }, /date|time/i],
    ['scheduledAt without offset', { scheduledAt: `${day}T10:00:00`, durationMinutes: 30, name: personName() }, /date|time/i],
    ['scheduledAt not a time', { scheduledAt: 'Tuesday at ten', durationMinutes: 30, name: personName() }, /date|time/i],
    ['bad phone', { scheduledAt: at, durationMinutes: 30, name: personName(), phone: '07700 900123' }, /phone|number/i],
    ['phone not text', { scheduledAt: at, durationMinutes: 30, name: personName(), phone: 447700900123 }, /phone|number/i],
    ['bad email', { scheduledAt: at, durationMinutes: 30, name: personName(), email: 'robin at example' }, /e-?mail/i],
    ['unknown service', { scheduledAt: at, serviceName: `Nope ${rnd()}`, name: personName() }, /service/i],
    ['bad duration', { scheduledAt: at, durationMinutes: 0, name: personName() }, /minutes|length/i],
  ];
  for (const [what, args, re] of cases) {
    const t = await phoneCall(org).err('bookAppointment', args);
    assert.match(t, re, `${what}: ${t}`);
  }
  const noCaller = await phoneCall(org, { caller: null }).err('bookAppointment', { scheduledAt: at, durationMinutes: 30, name: personName() });
  assert.match(noCaller, /phone|number/i, `no phone and no caller: ${noCaller}`);
  assert.deepEqual(await appts(org), [], 'no appointment');
  assert.deepEqual(await auditEntries(ctx, org.adminKey), audit0, 'no contact, no audit entry');

  // Refused times (past, a closed day, before opening): a sentence (a result), and still nothing written.
  const pastText = await phoneCall(org).ok('bookAppointment', { scheduledAt: rfc(past, '10:00'), durationMinutes: 30, name: personName() });
  assert.match(pastText, /in the past/, pastText);
  const satText = await phoneCall(org).ok('bookAppointment', { scheduledAt: rfc(sat, '10:00'), durationMinutes: 30, name: personName() });
  assert.ok(satText.includes(HOURS), `Saturday: the opening hours: ${satText}`);
  const early = await phoneCall(org).ok('bookAppointment', { scheduledAt: rfc(day, '07:30'), durationMinutes: 30, name: personName() });
  assert.ok(early.includes(HOURS), `7:30 am: the opening hours: ${early}`);
  assert.ok(!/Booked/.test(pastText + satText + early));
  assert.deepEqual(await appts(org), [], 'no appointment for refused times');
  const added = (await auditEntries(ctx, org.adminKey)).filter((e) => !audit0.some((x) => x.id === e.id));
  // (7:30 am offers the day's first free time and holds it, as a check would.)
  assert.deepEqual(added.filter((e) => e.entityType !== 'hold').map((e) => e.action), [], 'no contact (or anything else) is written for a refused time');
});

ctest('bookAppointment retried with the same toolCallId → the same answer byte for byte and one appointment; sent twice concurrently → one appointment, identical answers', async () => {
  const org = await newOrg();
  const day = nextWeekday(TZ, 'wed', 7);
  const caller = phone();
  const body = toolCalls([fnCall('bookAppointment', { scheduledAt: rfc(day, '10:00'), durationMinutes: 30, name: personName() })], { caller });
  const r1 = await vapi(org.vapiSecret, body);
  const [x] = resultsOf(r1, [body.message.toolCallList[0].id], 'first');
  assert.equal(x.result, `Booked for ${spoken(local(day, '10:00'))}.`);
  const r2 = await vapi(org.vapiSecret, body);
  assert.equal(r2.status, 200);
  assert.equal(r2.raw, r1.raw, 'the retry gets the same bytes');
  // A retry in another message shape, by Bearer, still the same answer.
  const tc = body.message.toolCallList[0];
  const r3 = await vapi(org.vapiSecret, { message: { ...body.message, toolCallList: [{ id: tc.id, name: tc.function.name, arguments: JSON.stringify(tc.function.arguments) }] } }, { bearer: true });
  assert.equal(r3.raw, r1.raw, 'the same answer for the same toolCallId in another shape');
  let all = await appts(org);
  assert.equal(all.length, 1, 'one appointment');
  // Cancelled meanwhile: the retry still replays, and books nothing.
  expectStatus(await ctx.api('POST', `/api/appointments/${all[0].id}/cancel`, { key: org.adminKey, body: {} }), 200);
  assert.equal((await vapi(org.vapiSecret, body)).raw, r1.raw, 'replayed after a cancel');
  all = await appts(org);
  assert.deepEqual(all.map((a) => a.status), ['cancelled'], 'still one appointment');

  // Answers are kept per organization: the same toolCallId in another one is a call of its own.
  const org2 = await newOrg();
  resultsOf(await vapi(org2.vapiSecret, body), [tc.id], 'the same toolCallId in another organization');
  const theirs = await appts(org2);
  assert.equal(theirs.length, 1, 'it booked there');
  assert.equal(theirs[0].scheduledAt, local(day, '10:00'));

  // Concurrent twins (a new phone, so the contact is new too).
  const caller2 = phone();
  const twin = toolCalls([fnCall('bookAppointment', { scheduledAt: rfc(day, '11:00'), durationMinutes: 30, name: personName() })], { caller: caller2 });
  const audit0 = await auditEntries(ctx, org.adminKey);
  const [t1, t2] = await Promise.all([vapi(org.vapiSecret, twin), vapi(org.vapiSecret, twin)]);
  const [y1] = resultsOf(t1, [twin.message.toolCallList[0].id], 'twin 1');
  resultsOf(t2, [twin.message.toolCallList[0].id], 'twin 2');
  assert.equal(t2.raw, t1.raw, 'identical answers');
  assert.equal(y1.result, `Booked for ${spoken(local(day, '11:00'))}.`);
  const at11 = await appts(org, { from: local(day, '11:00'), to: local(day, '11:01') });
  assert.equal(at11.length, 1, `one appointment: ${JSON.stringify(at11)}`);
  const added = (await auditEntries(ctx, org.adminKey)).filter((e) => !audit0.some((x) => x.id === e.id));
  assert.equal(added.filter((e) => e.action === 'appointment.booked').length, 1, 'one appointment.booked');
  assert.equal(added.filter((e) => e.action === 'contact.created').length, 1, `one contact for the twins: ${JSON.stringify(added.map((e) => e.action))}`);
});

ctest('two callers book the same time at once → exactly one "Booked for", the other is offered other times; one appointment, and no contact for the caller who lost', async () => {
  const org = await newOrg();
  const day = nextWeekday(TZ, 'thu', 7);
  const audit0 = await auditEntries(ctx, org.adminKey);
  for (let round = 0; round < 3; round++) {
    const time = ['10:00', '12:00', '15:00'][round];
    const at = local(day, time);
    const callers = [phoneCall(org), phoneCall(org)];
    const answers = await Promise.all(callers.map((c) => c.ok('bookAppointment', { scheduledAt: rfc(day, time), durationMinutes: 30, name: personName() })));
    const booked = answers.filter((t) => t === `Booked for ${spoken(at)}.`);
    assert.equal(booked.length, 1, `round ${round}: exactly one booked: ${JSON.stringify(answers)}`);
    const lost = answers.find((t) => t !== booked[0]);
    assert.match(lost, /taken|someone else/i, `round ${round}: the other hears the time is gone: ${lost}`);
    if (/taken/.test(lost)) assert.ok(clocksIn(lost).filter((c) => c !== clockOf(at)).length >= 1, `round ${round}: other times offered: ${lost}`);
    const there = await appts(org, { from: at, to: local(day, `${time.slice(0, 2)}:01`) });
    assert.equal(there.length, 1, `round ${round}: one appointment at ${time}`);
  }
  // Every caller was new: the three who booked have a contact, the three refused none.
  const added = (await auditEntries(ctx, org.adminKey)).filter((e) => !audit0.some((x) => x.id === e.id));
  assert.equal(added.filter((e) => e.action === 'contact.created').length, 3, `a contact for each booking only: ${JSON.stringify(added.map((e) => e.action))}`);
});

// ------------------------------------------------------------------ cancel and reschedule

ctest('cancelAppointment by appointmentId, and by phone + scheduledAt (none found → a sentence; one → cancelled); another organization’s appointment is not found', async () => {
  const org = await newOrg();
  const other = await newOrg();
  const day = nextWeekday(TZ, 'tue', 7);
  const caller = phone();
  const call = phoneCall(org, { caller });
  await call.ok('bookAppointment', { scheduledAt: rfc(day, '10:00'), durationMinutes: 30, name: personName() });
  await call.ok('bookAppointment', { scheduledAt: rfc(day, '11:00'), durationMinutes: 30, name: personName() });
  const [a10, a11] = await appts(org);

  const c1 = await phoneCall(org).ok('cancelAppointment', { appointmentId: a10.id });
  assert.match(c1, /cancelled/, c1);
  assert.equal(c1, `Your appointment on ${spoken(a10.scheduledAt)} is cancelled.`, 'names the time, day first');
  assert.equal(expectStatus(await ctx.api('GET', `/api/appointments/${a10.id}`, { key: org.adminKey }), 200).status, 'cancelled');
  await assertFree(org, a10.scheduledAt, 'the cancelled time is free');
  const again = await phoneCall(org).ask('cancelAppointment', { appointmentId: a10.id });
  assert.equal(again.text, `Your appointment on ${spoken(a10.scheduledAt)} was already cancelled.`, `again: ${again.text}`);

  // By phone (the caller's number) and time: the wrong time finds nothing and changes nothing.
  const none = await phoneCall(org, { caller }).ok('cancelAppointment', { scheduledAt: rfc(day, '11:30') });
  assert.match(none, /could not find|no appointment|not find/i, none);
  const none2 = await phoneCall(org).ok('cancelAppointment', { scheduledAt: rfc(day, '11:00') });
  assert.match(none2, /could not find|no appointment|not find/i, `another caller's number: ${none2}`);
  assert.equal(expectStatus(await ctx.api('GET', `/api/appointments/${a11.id}`, { key: org.adminKey }), 200).status, 'confirmed', 'unchanged');
  const c2 = await phoneCall(org, { caller: null }).ok('cancelAppointment', { phone: caller, scheduledAt: rfc(day, '11:00') });
  assert.match(c2, /cancelled/, c2);
  assert.equal(c2, `Your appointment on ${spoken(a11.scheduledAt)} is cancelled.`, c2);
  assert.equal(expectStatus(await ctx.api('GET', `/api/appointments/${a11.id}`, { key: org.adminKey }), 200).status, 'cancelled');

  // Another organization's appointment, and ids that are not ids.
  const theirs = await adminBook(other, day, '10:00');
  const t = await phoneCall(org).ask('cancelAppointment', { appointmentId: theirs.id });
  assert.match(t.text, /could not find|not find/i, t.text);
  assert.equal(expectStatus(await ctx.api('GET', `/api/appointments/${theirs.id}`, { key: other.adminKey }), 200).status, 'confirmed', 'untouched');
  for (const appointmentId of ['APT-123', 42]) await phoneCall(org).err('cancelAppointment', { appointmentId });
  const missing = await phoneCall(org, { caller }).err('cancelAppointment', {});
  assert.match(missing, /date|time/i, missing);
});

ctest('rescheduleAppointment by phone + scheduledAt: to a free time → moved; to a taken time → alternatives; outside hours → the opening hours; nothing changes when refused', async () => {
  const org = await newOrg();
  const day = nextWeekday(TZ, 'wed', 7);
  const caller = phone();
  await phoneCall(org, { caller }).ok('bookAppointment', { scheduledAt: rfc(day, '13:00'), durationMinutes: 30, name: personName() });
  await adminBook(org, day, '15:00', 30);
  const [orig] = await appts(org, { from: local(day, '13:00'), to: local(day, '13:01') });

  const call = phoneCall(org, { caller });
  const m = await call.ok('rescheduleAppointment', { scheduledAt: rfc(day, '13:00'), newScheduledAt: rfc(day, '14:00') });
  assert.match(m, /moved/, m);
  assert.ok(m.includes(spoken(local(day, '14:00'))), `names the new time: ${m}`);
  const old = expectStatus(await ctx.api('GET', `/api/appointments/${orig.id}`, { key: org.adminKey }), 200);
  assert.equal(old.status, 'rescheduled');
  const moved = expectStatus(await ctx.api('GET', `/api/appointments/${old.rescheduledTo}`, { key: org.adminKey }), 200);
  assert.deepEqual([moved.scheduledAt, moved.durationMinutes, moved.status, moved.contactId], [local(day, '14:00'), 30, 'confirmed', orig.contactId]);
  await assertFree(org, local(day, '13:00'), 'the old time is free');

  const snapshot = async () => (await appts(org)).map((a) => [a.id, a.scheduledAt, a.status]);
  const before = await snapshot();
  const taken = await call.ok('rescheduleAppointment', { scheduledAt: rfc(day, '14:00'), newScheduledAt: rfc(day, '15:00') });
  assert.ok(taken.startsWith(`Sorry, ${spoken(local(day, '15:00'))} is already taken. The nearest free times that day are `), taken);
  const alts = clocksIn(taken).filter((c) => c !== '3:00 pm');
  assert.ok(alts.length >= 1 && alts.length <= 3, `alternatives: ${taken}`);
  const closed = await call.ok('rescheduleAppointment', { scheduledAt: rfc(day, '14:00'), newScheduledAt: rfc(day, '19:00') });
  assert.ok(closed.includes(HOURS), `outside hours: ${closed}`);
  const past = await call.ok('rescheduleAppointment', { scheduledAt: rfc(day, '14:00'), newScheduledAt: rfc(previousWeekday(TZ, 'wed', 7), '14:00') });
  assert.match(past, /in the past/, past);
  const none = await call.ok('rescheduleAppointment', { scheduledAt: rfc(day, '13:00'), newScheduledAt: rfc(day, '16:00') });
  assert.match(none, /could not find|not find/i, `the old time no longer has it: ${none}`);
  assert.deepEqual(await snapshot(), before, 'nothing changed');
  const noNew = await call.err('rescheduleAppointment', { scheduledAt: rfc(day, '14:00') });
  assert.match(noNew, /new|date|time/i, noNew);

  // By appointmentId.
  const byId = await phoneCall(org).ok('rescheduleAppointment', { appointmentId: moved.id, newScheduledAt: rfc(day, '16:00') });
  assert.ok(byId.includes(spoken(local(day, '16:00'))), byId);
  assert.equal(expectStatus(await ctx.api('GET', `/api/appointments/${moved.id}`, { key: org.adminKey }), 200).status, 'rescheduled');
});

ctest('rescheduleAppointment keeps the appointment’s length and provider, and the public rules apply to them: a 60-minute appointment moved to 4:30 pm would end after closing, a morning provider’s moved to the afternoon → their opening hours, nothing moved', async () => {
  const org = await newOrg();
  const day = nextWeekday(TZ, 'thu', 7);
  const caller = phone();
  await phoneCall(org, { caller }).ok('bookAppointment', { scheduledAt: rfc(day, '10:00'), durationMinutes: 60, name: personName() });
  const [a] = await appts(org);
  assert.equal(a.durationMinutes, 60);
  const ok = await phoneCall(org, { caller }).ok('rescheduleAppointment', { scheduledAt: rfc(day, '10:00'), newScheduledAt: rfc(day, '15:00') });
  assert.match(ok, /moved/, ok);
  const moved = (await appts(org, { status: 'confirmed' }))[0];
  assert.deepEqual([moved.scheduledAt, moved.durationMinutes], [local(day, '15:00'), 60], 'the length is kept');
  const late = await phoneCall(org, { caller }).ok('rescheduleAppointment', { scheduledAt: rfc(day, '15:00'), newScheduledAt: rfc(day, '16:30') });
  const now = (await appts(org, { status: 'confirmed' })).map((x) => [x.scheduledAt, x.durationMinutes]);
  assert.deepEqual(now, [[local(day, '15:00'), 60]], `not moved to 4:30-5:30 pm (the practice closes at 5:00 pm); answer: ${late}`);
  assert.ok(late.includes(HOURS), `the opening hours: ${late}`);

  // A provider who works mornings only: the new time is judged by that provider's hours
  // (the default provider is free at 2:00 pm), and the appointment stays with the provider.
  const morning = await createProvider(ctx, org.adminKey, { workingHours: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri'].map((d) => [d, [['09:00', '12:00']]])) });
  const caller2 = phone();
  await phoneCall(org, { caller: caller2 }).ok('bookAppointment', { scheduledAt: rfc(day, '09:00'), durationMinutes: 30, name: personName(), providerId: morning.id });
  const [m] = await appts(org, { from: local(day, '09:00'), to: local(day, '09:01') });
  assert.equal(m.providerId, morning.id);
  const call2 = phoneCall(org, { caller: caller2 });
  const mornings = 'Monday to Friday from 9:00 am to 12:00 pm';
  const afternoon = await call2.ok('rescheduleAppointment', { scheduledAt: rfc(day, '09:00'), newScheduledAt: rfc(day, '14:00') });
  assert.ok(afternoon.includes(mornings), `the provider's own hours: ${afternoon}`);
  assert.equal(expectStatus(await ctx.api('GET', `/api/appointments/${m.id}`, { key: org.adminKey }), 200).status, 'confirmed', 'not moved to 2:00 pm');
  // The times offered are the provider's nearest (the first held for this call); the caller takes that one.
  const offered = clocksIn(afternoon.slice(afternoon.indexOf(mornings) + mornings.length));
  assert.deepEqual(offered, ['11:00 am', '11:15 am', '11:30 am'], `the provider's last morning times: ${afternoon}`);
  const later = await call2.ok('rescheduleAppointment', { scheduledAt: rfc(day, '09:00'), newScheduledAt: rfc(day, '11:00') });
  assert.match(later, /moved/, later);
  const mv = (await appts(org, { from: local(day, '11:00'), to: local(day, '11:01') }))[0];
  assert.deepEqual([mv?.providerId, mv?.durationMinutes, mv?.status], [morning.id, 30, 'confirmed'], 'moved within the provider’s morning, still theirs');
});

// ------------------------------------------------------------------ metrics

ctest('/metrics: bookd_vapi_tool_calls_total{tool,result} moves by ok, error and replayed as answered; the duration histogram counts each call', async () => {
  const org = await newOrg();
  const day = nextWeekday(TZ, 'fri', 7);
  const call = phoneCall(org);
  const m0 = await scrape();
  assert.equal(m0.types.bookd_vapi_tool_calls_total, 'counter');
  assert.equal(m0.types.bookd_vapi_tool_call_duration_seconds, 'histogram');

  const checkId = tcid();
  await call.ok('checkAvailability', { scheduledAt: rfc(day, '10:00') }, { toolCallId: checkId }); // check ok
  await call.ok('checkAvailability', { scheduledAt: rfc(day, '10:00') }, { toolCallId: checkId }); // check replayed
  await call.ok('bookAppointment', { scheduledAt: rfc(day, '10:00'), durationMinutes: 30, name: personName() }); // book ok
  await call.err('bookAppointment', { scheduledAt: rfc(day, '11:00') }); // book error
  await call.err('cancelAppointment', { appointmentId: 'nope' }); // cancel error
  await call.ok('rescheduleAppointment', { scheduledAt: rfc(day, '12:00'), newScheduledAt: rfc(day, '13:00') }); // reschedule ok (not found)
  await call.err('someOtherTool', {}); // unknown error
  const m1 = await scrape();

  const delta = {};
  for (const s of samplesOf(m1.samples, 'bookd_vapi_tool_calls_total')) {
    const d = s.value - sumOf(m0.samples, 'bookd_vapi_tool_calls_total', s.labels);
    if (d) delta[`${s.labels.tool}/${s.labels.result}`] = d;
  }
  assert.deepEqual(delta, {
    'checkAvailability/ok': 1, 'checkAvailability/replayed': 1, 'bookAppointment/ok': 1, 'bookAppointment/error': 1,
    'cancelAppointment/error': 1, 'rescheduleAppointment/ok': 1, 'unknown/error': 1,
  });
  const count = (m) => sumOf(m.samples, 'bookd_vapi_tool_call_duration_seconds_count');
  assert.equal(count(m1) - count(m0), 7, 'seven calls timed');
  const inf = (m) => sumOf(m.samples, 'bookd_vapi_tool_call_duration_seconds_bucket', { le: '+Inf' });
  assert.equal(inf(m1) - inf(m0), 7, 'the +Inf bucket too');
  // The handler's tools are the metric's tool labels.
  const labels = [...new Set(samplesOf(m1.samples, 'bookd_vapi_tool_calls_total').map((s) => s.labels.tool))].filter((t) => t !== 'unknown').sort();
  assert.deepEqual(labels, TOOLS);
});

// ------------------------------------------------------------------ vapi-tools.json

ctest('vapi-tools.json: the four tool names are the handler’s; every listed property (valid values) is accepted and answered with a result; each required property left out → an error sentence', async () => {
  const tools = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'vapi-tools.json'), 'utf8'));
  assert.ok(Array.isArray(tools));
  assert.deepEqual(tools.map((t) => t.function.name).sort(), TOOLS, 'exactly the four tools');
  for (const t of tools) {
    assert.equal(t.type, 'function');
    assert.match(t.server.url, /\/api\/webhooks\/vapi$/, `${t.function.name}: server.url`);
    assert.equal(t.function.parameters.type, 'object');
  }
  const org = await newOrg();
  const day = nextWeekday(TZ, 'tue', 7);
  const svc = await createService(ctx, org.adminKey, { name: `Initial consultation ${rnd(2)}`, durationMinutes: 30 });
  const caller = phone();
  // Appointments for cancel and reschedule to find.
  await phoneCall(org, { caller }).ok('bookAppointment', { scheduledAt: rfc(day, '09:00'), name: personName() });
  await phoneCall(org, { caller }).ok('bookAppointment', { scheduledAt: rfc(day, '11:00'), name: personName() });
  const [forCancel, forMove] = await appts(org);
  const name = personName();
  const valid = {
    checkAvailability: { date: day, scheduledAt: rfc(day, '15:00'), durationMinutes: 30, serviceName: svc.name, providerId: org.defaultProviderId },
    bookAppointment: { scheduledAt: rfc(day, '13:00'), durationMinutes: 30, serviceName: svc.name, name, phone: caller, email: `robin.${rnd()}@example.com`, notes: `Knee pain ${rnd()}`, providerId: org.defaultProviderId },
    cancelAppointment: { appointmentId: forCancel.id, phone: caller, scheduledAt: forCancel.scheduledAt },
    rescheduleAppointment: { appointmentId: forMove.id, phone: caller, scheduledAt: forMove.scheduledAt, newScheduledAt: rfc(day, '16:00') },
  };
  secrets.push(valid.bookAppointment.email, valid.bookAppointment.notes);
  const expect = { checkAvailability: /is free/, bookAppointment: /^Booked for /, cancelAppointment: /cancelled/, rescheduleAppointment: /moved/ };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const t of tools) {
    const tool = t.function.name;
    const schema = t.function.parameters;
    const props = Object.keys(schema.properties).sort();
    assert.deepEqual(Object.keys(valid[tool]).sort(), props, `${tool}: this test has a valid value for each listed property`);
    assert.ok(ajv.validate(schema, valid[tool]), `${tool}: the values are valid for the file's schema: ${ajv.errorsText()}`);
    for (const r of schema.required || []) assert.ok(props.includes(r), `${tool}: required ${r} is a listed property`);

    // Each required property left out → an error sentence (before anything is done).
    for (const r of schema.required || []) {
      const args = { ...valid[tool] };
      delete args[r];
      const e = await phoneCall(org, { caller }).err(tool, args);
      assert.ok(e.length > 0, `${tool} without ${r}: ${e}`);
    }
    const text = await phoneCall(org, { caller }).ok(tool, valid[tool]);
    assert.match(text, expect[tool], `${tool} with every property: ${text}`);
  }
  const all = await appts(org);
  assert.equal(all.find((a) => a.id === forCancel.id).status, 'cancelled');
  assert.equal(all.find((a) => a.id === forMove.id).status, 'rescheduled');
  const booked = all.find((a) => a.scheduledAt === local(day, '13:00'));
  assert.ok(booked, 'booked at 13:00');
  assert.deepEqual([booked.serviceId, booked.durationMinutes, booked.notes], [svc.id, 30, valid.bookAppointment.notes]);
  const contact = expectStatus(await ctx.api('GET', `/api/contacts/${booked.contactId}`, { key: org.adminKey }), 200);
  assert.equal(contact.phone, caller);
  // A name the file does not list is not a tool.
  await phoneCall(org).err('listAppointments', {});
});

// ------------------------------------------------------------------ the log

ctest('SIGTERM stops bookd; its log holds no keys, secrets, caller names or phone numbers', async () => {
  assert.ok(secrets.length > 20, 'the tests used names and numbers');
  await stopAndCheckLogs(ctx, secrets);
});
