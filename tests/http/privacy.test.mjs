// Data protection end to end (API.md, "Contacts" (right to erasure),
// "Authentication" (public keys never see other contacts' personal data),
// "Audit log" (no personal data in details), "Self-service links", "Vapi"
// (calls recorded without personal data), "Integrations"; DESIGN.md,
// "Running it": logs never hold a key, a secret or personal data).
//
// One patient with unmistakable personal data (a made-up name, a phone
// number in the UK drama range, an example.org address, notes, metadata and
// a cancel reason each with a random token of their own) goes through every
// channel: the booking page (public key, with an Idempotency-Key), the voice
// agent (a bookAppointment tool call and an end-of-call report that carries
// her name and number), an admin booking in the past, a reschedule through
// her manage link, and an admin cancel with a reason. Twilio (fake) texts
// her; two webhook endpoints receive the events: /live answers 200,
// /late answers 503 until the erasure is over (so its deliveries are still
// pending when she is erased, and are delivered afterwards).
//
// Then it looks, first where the data must be (the admin's GET of the
// contact, the appointment's notes, the SMS recipient, the webhook
// payloads, the database rows of contacts and appointments: so each search
// below demonstrably finds what it looks for), then where it must not be:
//   (a) every answer given to someone who should not see it: the public key
//       (409 conflicts, the availability check and free slots, holds, a
//       contact made with her phone, 403s), another organization's keys
//       (404s, its audit log, its deliveries, its calls), the manage link
//       (no phone, e-mail or notes), another caller of the voice agent;
//   (b) the organization's audit log, call log and deliveries, and every
//       table but the four that erasure cleans (contacts, appointments,
//       outbox payloads, stored idempotent answers); no secret in clear;
//   (c) every line bookd wrote (and no key, secret, token either);
//   (d) after DELETE /api/contacts/{id}: the API, and every row of every
//       table of the organization read directly with psql (outbox events,
//       deliveries, audit logs, idempotency keys, Vapi calls and answers...),
//       the pending deliveries' payloads in particular;
//   (e) what the webhook endpoints and Twilio received after the erasure.
// Finally the same search runs once more over every answer collected in (a).
//
// Needs DATABASE_URL (read directly with `psql -X -A -t`) and BOOKD_BIN,
// like every file here. About 5 s.

import { after } from 'node:test';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  assert, ctest, useServer, createOrg, createContact, expectStatus, expectError, listAll, auditEntries,
  stopAndCheckLogs, waitUntil, sleep, rnd, digits, randomUUID, UUID_RE,
} from './lib/harness.mjs';
import { TEST_SECRET_KEY } from './lib/server.mjs';
import { startFakes, fakeEnv } from './lib/fakes.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { REPO_ROOT } from './lib/openapi.mjs';
import { zonedToUtc, nextWeekday, previousWeekday } from './lib/time.mjs';

const TZ = 'Europe/London';
const PUBLIC_URL = 'https://book.example.test';
const LINK_RE = /https:\/\/book\.example\.test\/manage\/([A-Za-z0-9_-]{43})/g;
const VAPI = '/api/webhooks/vapi';
const EVENTS = ['appointment.booked', 'appointment.cancelled', 'appointment.rescheduled'];
/** The attempts of a delivery, a second apart: /late keeps failing until the erasure is over. */
const RETRY = ['0', ...Array(29).fill('1')].join(','); // 30: the most bookd takes

// ------------------------------------------------------------------ the patient

const R = rnd(4);
const FIRST = 'Zephyrine';
const SURNAME = `Quillfeather-${R}`;
const NAME = `${FIRST} ${SURNAME}`;
const PHONE = `+4477009${digits(6)}`;
const EMAIL = `zephyrine.${R}@example.org`;
// Free text: a phrase with a token of its own (a form-encoded or re-wrapped
// phrase still shows its token).
const NOTES_TOKEN = `quillwort${rnd(3)}`;
const NOTES = `Allergic to ${NOTES_TOKEN} pollen, prefers a quiet waiting room`;
const VAPI_NOTES_TOKEN = `migraineaura${rnd(3)}`;
const VAPI_NOTES = `Said on the phone: recurring ${VAPI_NOTES_TOKEN} since March`;
const PAST_NOTES_TOKEN = `tinnitusleft${rnd(3)}`;
const PAST_NOTES = `Last visit: ${PAST_NOTES_TOKEN} ear, referred to ENT`;
const META_VALUE = `ZQ-${rnd(5)}`;
const META = { insuranceMemberNo: META_VALUE };
const REASON_TOKEN = `hospitalstay${rnd(3)}`;
const REASON = `Cannot come: ${REASON_TOKEN} after surgery`;

/** Everything that identifies her or is about her, in the forms it could take. */
const PERSONAL = {
  name: NAME,
  surname: SURNAME,
  firstName: FIRST,
  phone: PHONE,
  phoneDigits: PHONE.slice(1),
  email: EMAIL,
  emailLocal: EMAIL.split('@')[0],
  notes: NOTES,
  notesToken: NOTES_TOKEN,
  vapiNotes: VAPI_NOTES,
  vapiNotesToken: VAPI_NOTES_TOKEN,
  pastNotes: PAST_NOTES,
  pastNotesToken: PAST_NOTES_TOKEN,
  metadata: META_VALUE,
  reason: REASON,
  reasonToken: REASON_TOKEN,
};
const NAME_KEYS = ['name', 'surname', 'firstName'];
const CONTACT_KEYS = ['name', 'surname', 'firstName', 'phone', 'phoneDigits', 'email', 'emailLocal'];

/** Keys, secrets and tokens: in no log line, no foreign answer, and never in clear in the database. */
const SECRETS = {};
const secret = (label, value) => {
  if (typeof value === 'string' && value.length >= 8) SECRETS[label] = value;
  return value;
};
secret('BOOKD_SECRET_KEY', process.env.BOOKD_SECRET_KEY || TEST_SECRET_KEY);

const hex = (s) => Buffer.from(s, 'utf8').toString('hex');

/**
 * The labels of `values` ({label: string}) that occur in `text`,
 * case-insensitively, as text or (for bytea columns read as text) as hex.
 */
function findIn(text, values, { skip = [] } = {}) {
  const lower = String(text).toLowerCase();
  return Object.entries(values)
    .filter(([label, v]) => !skip.includes(label) && (lower.includes(v.toLowerCase()) || lower.includes(hex(v))))
    .map(([label]) => label);
}

// ------------------------------------------------------------------ servers

const fakes = await startFakes();
const { twilio } = fakes;
const rx = await startReceiver();
// Registered before useServer's: a failing after hook skips those
// registered after it, and listening fakes would keep the file running.
after(async () => {
  await fakes.close();
  await rx.close();
});

// /late answers 503 until this instant (set a second after the erasure),
// echoing what it got, as some receivers do in their error bodies (bookd
// must not keep such an answer: erasure would not find it there). Each
// answer closes its connection (a reused one would pile up the receiver's
// per-request listeners on one socket).
let lateOpensAt = Infinity;
const answer = (status, body = JSON.stringify({ status })) => ({ status, body, headers: { Connection: 'close' } });
rx.setMode('/late', (r) => (r.receivedAt >= lateOpensAt ? answer(200) : answer(503, JSON.stringify({ error: 'not yet', received: r.json }))));
rx.setMode('/live', () => answer(200));

const ctx = useServer({
  env: {
    ...fakeEnv(fakes),
    BOOKD_PUBLIC_URL: PUBLIC_URL,
    BOOKD_WEBHOOK_ALLOW_PRIVATE: 'true',
    BOOKD_WEBHOOK_RETRY_SCHEDULE: RETRY,
    BOOKD_WEBHOOK_TIMEOUT_MS: '1000',
    BOOKD_OUTBOX_POLL_MS: '100',
    // /late fails on purpose: its breaker must not hold deliveries back long.
    BOOKD_BREAKER_CONSECUTIVE_FAILURES: '0',
    BOOKD_BREAKER_OPEN_MS: '100',
  },
  setup: async (c) => secret('serverAdminToken', c.adminToken),
});

// ------------------------------------------------------------------ answers to those who should not see her data

/** Every answer given to a key (or link, or caller) that must not see her data. */
const foreign = [];

/**
 * A request whose answer must carry none of her personal data (except the
 * labels in `allow`) and none of the secrets: checked now, and kept for the
 * final sweep.
 */
async function probe(who, method, p, opts = {}, { allow = [], allowSecrets = [] } = {}) {
  const res = await ctx.api(method, p, opts);
  const text = `${JSON.stringify(res.headers)}\n${res.raw}`;
  const entry = { who, what: `${method} ${p.replace(/[A-Za-z0-9_-]{43}/, '<token>')}${opts.query ? ` ${JSON.stringify(opts.query)}` : ''} → ${res.status}`, text, allow, allowSecrets };
  foreign.push(entry);
  const leaked = findIn(text, PERSONAL, { skip: allow });
  assert.deepEqual(leaked, [], `${who}: ${entry.what} carries her personal data (${leaked.join(', ')}): ${res.raw.slice(0, 600)}`);
  const secretLeaks = findIn(text, SECRETS, { skip: allowSecrets });
  assert.deepEqual(secretLeaks, [], `${who}: ${entry.what} carries a secret (${secretLeaks.join(', ')})`);
  return res;
}

/** Asserts that none of `ids` (contact and appointment ids) is in an answer. */
function assertNoIds(res, ids, what) {
  const found = Object.entries(ids).filter(([, id]) => res.raw.includes(id)).map(([k]) => k);
  assert.deepEqual(found, [], `${what}: the answer names ${found.join(', ')}: ${res.raw.slice(0, 600)}`);
}

// ------------------------------------------------------------------ the database, read directly

/**
 * Runs SQL (stdin) with psql variables; resolves the rows, fields split.
 * (Unaligned output: fields end with \x1f, rows with \x1e; a result's last
 * row ends with a newline instead, which matters only where one call runs
 * several queries: orgRows.)
 */
function psql(sql, vars = {}) {
  const args = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-F', '\x1f', '-R', '\x1e'];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  args.push(process.env.DATABASE_URL);
  return new Promise((resolve, reject) => {
    const child = execFile('psql', args, { encoding: 'utf8', timeout: 20_000, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`psql: ${err.message}\n${stderr}`));
      resolve(stdout.split('\x1e').map((r) => r.replace(/^\n+|\n+$/g, '')).filter((r) => r.length).map((r) => r.split('\x1f')));
    });
    child.stdin.end(sql);
  });
}

/**
 * Every row of every table of the public schema that belongs to the
 * organization (org_id, or its id, or its providers'), as text (the row's
 * composite text form: bytea columns as \\x hex): [{table, row}]. Tables
 * without any of those (the migration bookkeeping) are read whole.
 */
async function orgRows(orgId) {
  assert.match(orgId, UUID_RE);
  const rows = await psql(
    `SELECT format('SELECT %L, translate(encode(convert_to(t::text, ''UTF8''), ''base64''), chr(10), '''') FROM public.%I t WHERE %s',
                   c.table_name, c.table_name,
              CASE WHEN EXISTS (SELECT 1 FROM information_schema.columns x
                                 WHERE x.table_schema = 'public' AND x.table_name = c.table_name
                                   AND x.column_name = 'org_id')
                   THEN format('org_id = %L', :'org')
                   WHEN c.table_name = 'organizations' THEN format('id = %L', :'org')
                   WHEN EXISTS (SELECT 1 FROM information_schema.columns x
                                 WHERE x.table_schema = 'public' AND x.table_name = c.table_name
                                   AND x.column_name = 'provider_id')
                   THEN format('provider_id IN (SELECT id FROM public.providers WHERE org_id = %L)', :'org')
                   ELSE 'true' END)
       FROM information_schema.tables c
      WHERE c.table_schema = 'public' AND c.table_type = 'BASE TABLE'
      ORDER BY c.table_name
     \\gexec
`,
    { org: orgId },
  );
  // Rows as base64 (no newline in them), so the newline that ends each
  // table's result separates rows too.
  return rows
    .flatMap((fields) => fields.join('\x1f').split('\n'))
    .filter((r) => r.length)
    .map((r) => {
      const [table, b64] = r.split('\x1f');
      return { table, row: Buffer.from(b64 || '', 'base64').toString('utf8') };
    });
}

async function tablesOfSchema() {
  return (await psql(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`)).map((r) => r[0]);
}

/** {table: [labels found]} of `values` in the rows. */
function whereFound(rows, values) {
  const out = {};
  for (const { table, row } of rows) {
    const found = findIn(row, values);
    if (found.length) out[table] = [...new Set([...(out[table] || []), ...found])].sort();
  }
  return out;
}

// ------------------------------------------------------------------ the scenario's state

const S = {
  ready: false,
  org: null,
  other: null,
  twilio: null,
  live: null,
  late: null,
  contact: null,
  a0: null, // admin, in the past
  a1: null, // public key, later rescheduled through the manage link
  a2: null, // voice agent, later cancelled by the admin with a reason
  a3: null, // a1's new time (future, confirmed until the erasure)
  day: null,
  m1: null, // the manage token of a1 (201 answer)
  m3: null, // the manage token of a3 (reschedule answer)
  callId: null,
  smsTokens: [],
  erasedAt: null,
};

const at = (date, time) => zonedToUtc(date, time, TZ).toISOString();
const tokenOf = (url) => {
  LINK_RE.lastIndex = 0;
  const m = LINK_RE.exec(String(url));
  assert.ok(m, `a manage link: ${url}`);
  return m[1];
};

/** All of the organization's outbox events fanned out and its due deliveries settled (except /late's). */
async function settled() {
  const [[n]] = await psql(
    `SELECT (SELECT count(*) FROM outbox_events WHERE org_id = :'org' AND NOT fanned_out)
          + (SELECT count(*) FROM deliveries WHERE org_id = :'org' AND status IN ('pending', 'failed')
                AND next_attempt_at < now() + interval '1 hour'
                AND endpoint_id IS DISTINCT FROM :'late'::uuid)`,
    { org: S.org.id, late: S.late.id },
  );
  return Number(n) === 0;
}

function vapiMessage(calls, { callId, caller }) {
  return { message: { timestamp: Date.now(), type: 'tool-calls', toolCallList: calls, call: { id: callId, type: 'inboundPhoneCall', status: 'in-progress', customer: { number: caller } } } };
}
const fnCall = (name, args, id = `call_${rnd(12)}`) => ({ id, type: 'function', function: { name, arguments: args } });

// ------------------------------------------------------------------ 1. the scenario

ctest('scenario: her data goes in through the booking page, the voice agent, the admin and her manage link; SMS and webhooks go out', async () => {
  const org = (S.org = await createOrg(ctx, { name: `Harbour Clinic ${rnd()}`, timezone: TZ }));
  const other = (S.other = await createOrg(ctx, { name: `Other Clinic ${rnd()}`, timezone: TZ }));
  for (const [who, o] of [['org', org], ['other', other]]) {
    secret(`${who}.adminKey`, o.adminKey);
    secret(`${who}.publicKey`, o.publicKey);
    secret(`${who}.vapiSecret`, o.vapiSecret);
  }

  // Twilio, with credentials the fake insists on.
  const tw = (S.twilio = { accountSid: `AC${rnd(16)}`, authToken: secret('twilio.authToken', rnd(16)), fromNumber: `+4470${digits(8)}` });
  twilio.setCredentials(tw.accountSid, tw.authToken);
  expectStatus(await ctx.api('PUT', '/api/integrations/twilio', { key: org.adminKey, body: tw }), 200, 'connect Twilio');

  // Two webhook endpoints.
  for (const name of ['live', 'late']) {
    const res = await ctx.api('POST', '/api/webhook-endpoints', { key: org.adminKey, body: { url: rx.urlFor(`/${name}`), events: EVENTS } });
    const e = expectStatus(res, 201, `webhook endpoint /${name}`);
    secret(`webhook.${name}.secret`, e.secret);
    secret(`webhook.${name}.key`, e.secret.replace(/^whsec_/, ''));
    S[name] = e;
  }

  // The booking page: her contact, then her booking (with an Idempotency-Key).
  const cr = await ctx.api('POST', '/api/contacts', { key: org.publicKey, body: { name: NAME, phone: PHONE, email: EMAIL } });
  const contact = (S.contact = expectStatus(cr, 201, 'her contact, made with the public key'));
  assert.deepEqual(findIn(cr.raw, PERSONAL).filter((l) => CONTACT_KEYS.includes(l)).sort(), [...CONTACT_KEYS].sort(), 'positive control: the search finds her in the answer she was given');

  S.day = nextWeekday(TZ, 'tue', 8);
  const b1 = await ctx.api('POST', '/api/appointments', {
    key: org.publicKey,
    headers: { 'Idempotency-Key': `privacy-${R}` },
    body: { contactId: contact.id, scheduledAt: at(S.day, '10:00'), durationMinutes: 30, notes: NOTES, metadata: META },
  });
  expectStatus(b1, 201, 'her booking through the booking page');
  S.a1 = b1.body.appointment;
  S.m1 = secret('manage.m1', tokenOf(b1.body.manageUrl));
  assert.equal(S.a1.notes, NOTES);

  // The admin books a past appointment for her, with notes.
  const b0 = await ctx.api('POST', '/api/appointments', {
    key: org.adminKey,
    body: { contactId: contact.id, scheduledAt: at(previousWeekday(TZ, 'wed', 7), '10:00'), durationMinutes: 30, notes: PAST_NOTES },
  });
  S.a0 = expectStatus(b0, 201, 'a past appointment booked by the admin').appointment;

  // The voice agent: she calls and books, giving her name, number, e-mail and notes.
  S.callId = randomUUID();
  const tc = fnCall('bookAppointment', { scheduledAt: at(S.day, '11:00'), durationMinutes: 30, name: NAME, phone: PHONE, email: EMAIL, notes: VAPI_NOTES });
  const vr = await ctx.api('POST', VAPI, { headers: { 'x-vapi-secret': org.vapiSecret }, body: vapiMessage([tc], { callId: S.callId, caller: PHONE }) });
  const vb = expectStatus(vr, 200, 'bookAppointment');
  assert.equal(vb.results?.[0]?.toolCallId, tc.id, `one result: ${vr.raw}`);
  assert.ok(typeof vb.results[0].result === 'string' && /^Booked for /.test(vb.results[0].result), `booked: ${vr.raw}`);
  const mine = (await listAll(ctx, org.adminKey)).all;
  S.a2 = mine.find((a) => a.scheduledAt === at(S.day, '11:00'));
  assert.ok(S.a2, `the voice agent's appointment is listed: ${JSON.stringify(mine)}`);
  assert.equal(S.a2.contactId, contact.id, 'the voice agent found her contact by her phone');
  assert.equal(S.a2.notes, VAPI_NOTES);

  // The end-of-call report of that call: her name in the summary and the
  // transcript, her number as the customer (recorded without either).
  const report = fs.readFileSync(path.join(REPO_ROOT, 'tests/http/fixtures/vapi/end-of-call-report.json'), 'utf8')
    .split('Jordan Avery').join(NAME).split('Jordan').join(FIRST)
    .split('{{CALL_ID}}').join(S.callId).split('{{CUSTOMER_NUMBER}}').join(PHONE)
    .split('{{SCHEDULED_AT}}').join(at(S.day, '11:00'));
  assert.ok(report.includes(NAME) && report.includes(PHONE), 'the report carries her name and number');
  const er = await ctx.api('POST', VAPI, { headers: { 'x-vapi-secret': org.vapiSecret }, rawBody: report });
  assert.deepEqual(expectStatus(er, 200, 'end-of-call-report'), {});

  // Her manage link: she moves the booking to 14:00.
  // (Its answer carries the new link, so that one token is no leak there.)
  const mv = await probe('the manage link', 'POST', `/api/manage/${S.m1}/reschedule`, { body: { scheduledAt: at(S.day, '14:00') } }, { allow: NAME_KEYS, allowSecrets: ['manage.m3'] });
  expectStatus(mv, 200, 'reschedule through the manage link');
  S.m3 = secret('manage.m3', tokenOf(mv.body.manageUrl));
  S.a3 = mv.body.appointment;

  // The admin cancels the voice agent's appointment, with a reason.
  const cx = await ctx.api('POST', `/api/appointments/${S.a2.id}/cancel`, { key: org.adminKey, body: { reason: REASON } });
  expectStatus(cx, 200, 'cancel with a reason');

  // Everything sent (SMS, /live), /late still failing.
  await waitUntil(settled, { timeoutMs: 15_000, intervalMs: 200, what: 'the outbox and the deliveries settle (SMS, /live)' });

  // The SMS: to her number, from the clinic's, with Basic auth; a manage
  // link in the confirmations of her own bookings; nothing of her notes,
  // metadata, e-mail or the cancel reason.
  const sms = twilio.sent((r) => r.params.sid === tw.accountSid);
  assert.ok(sms.length >= 4, `at least 4 SMS (booked ×2, moved, cancelled): ${sms.map((r) => r.form?.Body).join(' | ')}`);
  for (const r of sms) {
    assert.equal(r.form.To, PHONE, 'positive control: the SMS goes to her number');
    assert.equal(r.form.From, tw.fromNumber);
    assert.deepEqual(r.basic, { user: tw.accountSid, password: tw.authToken });
    const leaked = findIn(r.form.Body, PERSONAL, { skip: ['name', 'surname', 'firstName', 'phone', 'phoneDigits'] });
    assert.deepEqual(leaked, [], `an SMS carries ${leaked.join(', ')}: ${r.form.Body}`);
    LINK_RE.lastIndex = 0;
    for (const m of r.form.Body.matchAll(LINK_RE)) S.smsTokens.push(secret(`manage.sms${S.smsTokens.length}`, m[1]));
  }
  assert.ok(S.smsTokens.length >= 3, `manage links in the SMS of her page booking, her phone booking and her move: ${sms.map((r) => r.form.Body).join(' | ')}`);

  // /live: each event once, her notes and metadata in the appointment
  // objects (her clinic's own endpoint), never her name, number or e-mail.
  const live = rx.requestsFor('/live');
  const liveTypes = live.map((r) => r.json?.type);
  for (const t of EVENTS) assert.ok(liveTypes.includes(t), `/live got ${t}: ${liveTypes.join(', ')}`);
  const liveText = live.map((r) => r.body).join('\n');
  assert.ok(liveText.includes(NOTES) && liveText.includes(META_VALUE) && liveText.includes(VAPI_NOTES), 'positive control: the webhook payloads carry the notes and metadata');
  const contactLeaks = findIn(liveText, PERSONAL).filter((l) => CONTACT_KEYS.includes(l));
  assert.deepEqual(contactLeaks, [], 'no webhook payload names her, her number or her address');
  // /late: tried, and answered 503 so far.
  assert.ok(rx.requestsFor('/late').length >= 1, '/late was tried');
  S.ready = true;
});

// ------------------------------------------------------------------ 2. (a) answers to those who should not see

ctest('(a) the public key: conflicts, the check, free slots, holds, a contact with her phone and the 403s carry nothing of hers', async () => {
  assert.ok(S.ready, 'the scenario ran');
  const { org } = S;
  const ids = { contactId: S.contact.id, a0: S.a0.id, a1: S.a1.id, a2: S.a2.id, a3: S.a3.id };

  // Another visitor of the booking page, over her 14:00.
  const other = await createContact(ctx, org.publicKey, { name: `Bystander ${rnd()}`, phone: `+4479${digits(8)}` });
  const c409 = await probe('public key', 'POST', '/api/appointments', { key: org.publicKey, body: { contactId: other.id, scheduledAt: at(S.day, '14:00'), durationMinutes: 30 } });
  const e = expectError(c409, 409, 'slot_unavailable', undefined, 'a public booking over her time');
  assert.deepEqual(Object.keys(e.conflictingAppointment || {}).sort(), ['durationMinutes', 'scheduledAt'], `times only: ${c409.raw}`);
  assertNoIds(c409, ids, 'public 409');
  const c409b = await probe('public key', 'POST', '/api/appointments', { key: org.publicKey, body: { contactId: other.id, scheduledAt: at(S.day, '14:15'), durationMinutes: 30, notes: 'overlapping' } });
  expectError(c409b, 409, 'slot_unavailable');
  assertNoIds(c409b, ids, 'public 409 (overlap)');

  const chk = await probe('public key', 'GET', '/api/availability/check', { key: org.publicKey, query: { scheduledAt: at(S.day, '14:00'), durationMinutes: 30 } });
  assert.equal(expectStatus(chk, 200).available, false);
  assertNoIds(chk, ids, 'public check');
  const slots = await probe('public key', 'GET', '/api/availability', { key: org.publicKey, query: { date: S.day, durationMinutes: 30 } });
  expectStatus(slots, 200);
  assert.ok(!slots.body.slots.some((s) => s.scheduledAt === at(S.day, '14:00')), 'her time is not offered');

  const h409 = await probe('public key', 'POST', '/api/holds', { key: org.publicKey, body: { scheduledAt: at(S.day, '14:00'), durationMinutes: 30 } });
  expectError(h409, 409, 'slot_unavailable');
  assertNoIds(h409, ids, 'public hold 409');
  const h = await probe('public key', 'POST', '/api/holds', { key: org.publicKey, body: { scheduledAt: at(S.day, '15:00'), durationMinutes: 30 } });
  expectStatus(h, 201);
  // A hold over a hold tells the time, never who holds it.
  const hh = await probe('public key', 'POST', '/api/holds', { key: org.publicKey, body: { scheduledAt: at(S.day, '15:00'), durationMinutes: 30 } });
  expectError(hh, 409, 'slot_unavailable');
  assert.ok(!hh.raw.includes(h.body.holdId), 'a conflicting hold is not named');
  expectStatus(await probe('public key', 'DELETE', `/api/holds/${h.body.holdId}`, { key: org.publicKey }), 204);

  for (const p of ['/api/providers', '/api/services']) expectStatus(await probe('public key', 'GET', p, { key: org.publicKey }), 200);
  // What anyone may read without a key.
  for (const p of ['/metrics', '/ready', '/health', `/book/${org.id}`]) expectStatus(await probe('no key', 'GET', p), 200, `GET ${p}`);

  // Someone types her phone number on the booking page: a contact of its
  // own, nothing of hers in the answer.
  const dup = await probe('public key', 'POST', '/api/contacts', { key: org.publicKey, body: { name: `Someone Else ${rnd()}`, phone: PHONE } }, { allow: ['phone', 'phoneDigits'] });
  expectStatus(dup, 201, 'a contact with her phone');
  assert.notEqual(dup.body.id, S.contact.id, 'not her contact (that would tell who has this number, and let them book as her)');
  // It is erased again at once (its phone is hers: the checks after her erasure look for it).
  expectStatus(await ctx.api('DELETE', `/api/contacts/${dup.body.id}`, { key: org.adminKey }), 204, 'erase the look-alike');

  // An Idempotency-Key of hers reused with another body: 422, nothing of the first.
  const idem = await probe('public key', 'POST', '/api/appointments', {
    key: org.publicKey,
    headers: { 'Idempotency-Key': `privacy-${R}` },
    body: { contactId: other.id, scheduledAt: at(S.day, '16:00'), durationMinutes: 30 },
  });
  expectError(idem, 422, 'idempotency_key_reused');
  assertNoIds(idem, ids, 'public 422');

  // Admin routes: 403, nothing more.
  for (const p of [`/api/contacts/${S.contact.id}`, `/api/appointments/${S.a1.id}`, '/api/appointments', '/api/audit-log', '/api/webhook-deliveries', '/api/calls']) {
    const r = await probe('public key', 'GET', p, { key: org.publicKey });
    expectError(r, 403, 'forbidden', undefined, `public GET ${p}`);
  }
  const del = await probe('public key', 'DELETE', `/api/contacts/${S.contact.id}`, { key: org.publicKey });
  expectError(del, 403, 'forbidden');
});

ctest('(a) another organization: her contact, appointments, audit entries, deliveries and calls are 404 or absent', async () => {
  assert.ok(S.ready, 'the scenario ran');
  const { other } = S;
  const ids = { contactId: S.contact.id, a0: S.a0.id, a1: S.a1.id, a2: S.a2.id, a3: S.a3.id, live: S.live.id, late: S.late.id, callId: S.callId };
  const k = other.adminKey;
  expectError(await probe('other org', 'GET', `/api/contacts/${S.contact.id}`, { key: k }), 404, 'not_found');
  for (const a of [S.a0, S.a1, S.a2, S.a3]) {
    expectError(await probe('other org', 'GET', `/api/appointments/${a.id}`, { key: k }), 404, 'not_found');
  }
  expectError(await probe('other org', 'POST', `/api/appointments/${S.a3.id}/cancel`, { key: k, body: {} }), 404, 'not_found');
  expectError(await probe('other org', 'DELETE', `/api/contacts/${S.contact.id}`, { key: k }), 404, 'not_found');

  for (const [p, query, field] of [
    ['/api/appointments', {}, 'appointments'],
    ['/api/audit-log', { limit: 500 }, 'entries'],
    ['/api/audit-log', { entityId: S.contact.id }, 'entries'],
    ['/api/audit-log', { entityId: S.a3.id }, 'entries'],
    ['/api/webhook-deliveries', {}, 'deliveries'],
    ['/api/webhook-endpoints', {}, 'endpoints'],
    ['/api/calls', {}, 'calls'],
  ]) {
    const r = await probe('other org', 'GET', p, { key: k, query });
    const b = expectStatus(r, 200, `other org GET ${p}`);
    assertNoIds(r, ids, `other org GET ${p} ${JSON.stringify(query)}`);
    if (query.entityId) assert.deepEqual(b[field], [], 'no entry about her contact');
  }
  const dl = await probe('other org', 'GET', '/api/webhook-deliveries', { key: k, query: { endpointId: S.live.id } });
  assert.ok([200, 400, 404].includes(dl.status), `deliveries of her clinic's endpoint: ${dl.status}`);
  if (dl.status === 200) assert.deepEqual(dl.body.deliveries, [], 'none of her clinic\'s deliveries');

  // The other clinic's public key books her contact id: unknown here.
  const b = await probe('other org public key', 'POST', '/api/appointments', { key: other.publicKey, body: { contactId: S.contact.id, scheduledAt: at(S.day, '09:00'), durationMinutes: 30 } });
  expectError(b, 400, 'invalid_request', 'contactId');
  // Its voice agent, called from her number: nothing of her.
  const tc = fnCall('checkAvailability', { scheduledAt: at(S.day, '14:00'), durationMinutes: 30 });
  const v = await probe('other org voice agent', 'POST', VAPI, { headers: { 'x-vapi-secret': other.vapiSecret }, body: vapiMessage([tc], { callId: randomUUID(), caller: PHONE }) }, { allow: [] });
  expectStatus(v, 200);
});

ctest('(a) her manage link shows no phone, e-mail, notes or metadata; used links are gone; another caller of her clinic hears nothing of her', async () => {
  assert.ok(S.ready, 'the scenario ran');
  const g = await probe('the manage link', 'GET', `/api/manage/${S.m3}`, {}, { allow: NAME_KEYS });
  const b = expectStatus(g, 200, 'GET /api/manage/{token}');
  assert.equal(b.appointment.id, S.a3.id);
  assert.ok(!g.raw.includes(S.contact.id), 'no contact id');
  assert.ok(!('notes' in b.appointment) && !('metadata' in b.appointment), `no notes or metadata: ${g.raw}`);
  const page = await probe('the manage link', 'GET', `/manage/${S.m3}`, {}, { allow: NAME_KEYS, allowSecrets: ['manage.m3'] });
  expectStatus(page, 200, 'the manage page');
  expectError(await probe('the manage link', 'GET', `/api/manage/${S.m1}`), 404, 'not_found', undefined, 'the used link');
  for (const t of S.smsTokens) {
    const r = await probe('an SMS manage link', 'GET', `/api/manage/${t}`, {}, { allow: NAME_KEYS });
    assert.ok(r.status === 200 || r.status === 404, `GET /api/manage/<sms token> → ${r.status}`);
  }

  // Another caller (another number) asks for her time and tries to cancel
  // it by her number: answers name nothing of her.
  const caller = `+4477009${digits(6)}`;
  const tc1 = fnCall('checkAvailability', { scheduledAt: at(S.day, '14:00'), durationMinutes: 30 });
  expectStatus(await probe('another caller', 'POST', VAPI, { headers: { 'x-vapi-secret': S.org.vapiSecret }, body: vapiMessage([tc1], { callId: randomUUID(), caller }) }), 200);
  const tc2 = fnCall('bookAppointment', { scheduledAt: at(S.day, '14:00'), durationMinutes: 30, name: `Caller ${rnd()}`, phone: caller });
  expectStatus(await probe('another caller', 'POST', VAPI, { headers: { 'x-vapi-secret': S.org.vapiSecret }, body: vapiMessage([tc2], { callId: randomUUID(), caller }) }), 200);
});

// ------------------------------------------------------------------ 3. (b) the audit log and the records that never hold personal data

ctest('(b) the audit log, the call log, the deliveries and every table but contacts, appointments, outbox and idempotency hold nothing of hers', async (t) => {
  assert.ok(S.ready, 'the scenario ran');
  const { org } = S;
  const entries = await auditEntries(ctx, org.adminKey);
  const actions = new Set(entries.map((x) => x.action));
  for (const a of ['contact.created', 'appointment.booked', 'appointment.rescheduled', 'appointment.cancelled', 'webhook_endpoint.created']) {
    assert.ok(actions.has(a), `the audit log has ${a}: ${[...actions].join(', ')}`);
  }
  assert.ok(entries.some((x) => x.actor === 'vapi'), 'the voice agent is an actor');
  assert.ok(entries.some((x) => x.actor === 'manage_link'), 'the manage link is an actor');
  for (const x of entries) {
    const found = findIn(JSON.stringify(x), PERSONAL);
    assert.deepEqual(found, [], `audit entry ${x.action} ${x.entityId} carries ${found.join(', ')}: ${JSON.stringify(x)}`);
  }
  const raw = await ctx.api('GET', '/api/audit-log', { key: org.adminKey, query: { limit: 500 } });
  assert.deepEqual(findIn(raw.raw, PERSONAL), [], 'the whole audit answer');

  const calls = await ctx.api('GET', '/api/calls', { key: org.adminKey });
  const cb = expectStatus(calls, 200, 'GET /api/calls');
  assert.ok(cb.calls.some((c) => c.id === S.callId), `her call is recorded: ${calls.raw}`);
  assert.deepEqual(findIn(calls.raw, PERSONAL), [], `the call log carries nothing of hers: ${calls.raw.slice(0, 600)}`);
  assert.ok(!/storage\.vapi\.ai|transcript|summary/i.test(calls.raw), 'no recording or transcript');

  const dl = await ctx.api('GET', '/api/webhook-deliveries', { key: org.adminKey });
  expectStatus(dl, 200);
  assert.ok(dl.body.deliveries.length > 0, 'there are deliveries');
  assert.deepEqual(findIn(dl.raw, PERSONAL), [], 'the deliveries carry nothing of hers');
  const integ = await ctx.api('GET', '/api/integrations', { key: org.adminKey });
  assert.deepEqual(findIn(integ.raw, SECRETS), [], 'GET /api/integrations shows no secret');

  // The database, before the erasure. Positive control: her contact row and
  // her appointments' notes are found. Nowhere else but the copies erasure
  // knows about (stored idempotent answers): events carry no copy, their
  // payloads are read from the appointment when sent.
  const tables = await tablesOfSchema();
  for (const t of ['contacts', 'appointments', 'deliveries', 'audit_logs', 'idempotency_keys', 'vapi_calls', 'vapi_tool_results']) {
    assert.ok(tables.includes(t), `table ${t} exists (the checks below read it): ${tables.join(', ')}`);
  }
  const rows = await orgRows(org.id);
  const found = whereFound(rows, PERSONAL);
  t.diagnostic(`before the erasure, her data is in: ${JSON.stringify(found)}`);
  assert.ok(found.contacts?.includes('name') && found.contacts?.includes('email'), `positive control: her contact row is found: ${JSON.stringify(found)}`);
  assert.ok(found.appointments?.includes('notesToken') && found.appointments?.includes('metadata'), `positive control: her notes are found: ${JSON.stringify(found)}`);
  const allowed = ['contacts', 'appointments', 'idempotency_keys'];
  const elsewhere = Object.fromEntries(Object.entries(found).filter(([table]) => !allowed.includes(table)));
  assert.deepEqual(elsewhere, {}, `personal data in tables erasure does not clean: ${JSON.stringify(elsewhere)}`);

  // Secrets at rest: hashed or sealed, never in clear (nor as the hex of bytea).
  const atRest = whereFound(rows, SECRETS);
  assert.deepEqual(atRest, {}, `secrets stored in clear: ${JSON.stringify(atRest)}`);
});

// ------------------------------------------------------------------ 4. (d) erasure

ctest('(d) DELETE /api/contacts/{id}: the API forgets her, every row of the organization is clean, the pending deliveries\' payloads are scrubbed', async (t) => {
  assert.ok(S.ready, 'the scenario ran');
  const { org } = S;

  // Positive control: the admin sees her, and the search finds her there.
  const before = await ctx.api('GET', `/api/contacts/${S.contact.id}`, { key: org.adminKey });
  expectStatus(before, 200);
  assert.deepEqual(findIn(before.raw, PERSONAL).sort(), [...CONTACT_KEYS].sort(), `the search finds her in the admin's GET: ${before.raw}`);
  const a1 = expectStatus(await ctx.api('GET', `/api/appointments/${S.a1.id}`, { key: org.adminKey }), 200);
  assert.equal(a1.notes, NOTES);
  // /late has deliveries waiting, whose payloads hold her notes now.
  const pendingBefore = await psql(
    `SELECT e.payload::text FROM deliveries d JOIN outbox_events e ON e.id = d.event_id
      WHERE d.org_id = :'org' AND d.endpoint_id = :'late'::uuid AND d.status IN ('pending', 'failed')`,
    { org: org.id, late: S.late.id },
  );
  assert.ok(pendingBefore.length >= 4, `/late has deliveries waiting: ${pendingBefore.length}`);
  assert.ok(pendingBefore.some(([p]) => p.includes(NOTES_TOKEN)), 'positive control: a waiting payload holds her notes');

  const del = await ctx.api('DELETE', `/api/contacts/${S.contact.id}`, { key: org.adminKey });
  assert.equal(del.status, 204, `erasure → 204: ${del.status} ${del.raw}`);
  S.erasedAt = Date.now();
  try {
    await checkErased(t, org, pendingBefore);
  } finally {
    // From a second on, /late is answered: its deliveries go out (test e).
    lateOpensAt = Date.now() + 1000;
  }
});

/** (d) after the erasure: the API, then the database. */
async function checkErased(t, org, pendingBefore) {

  expectError(await ctx.api('GET', `/api/contacts/${S.contact.id}`, { key: org.adminKey }), 404, 'not_found', undefined, 'GET after erasure');
  expectError(await ctx.api('DELETE', `/api/contacts/${S.contact.id}`, { key: org.adminKey }), 404, 'not_found', undefined, 'erasing again');

  const get = async (id) => expectStatus(await ctx.api('GET', `/api/appointments/${id}`, { key: org.adminKey }), 200, `GET appointment ${id}`);
  const want = { a0: 'confirmed', a1: 'rescheduled', a2: 'cancelled', a3: 'cancelled' };
  for (const [k, status] of Object.entries(want)) {
    const a = await get(S[k].id);
    assert.equal(a.status, status, `${k} status`);
    assert.equal(a.notes, null, `${k}: notes erased`);
    assert.deepEqual(a.metadata, {}, `${k}: metadata erased`);
    assert.equal(a.contactId, S.contact.id, `${k}: contactId kept`);
    assert.equal(a.scheduledAt, S[k].scheduledAt, `${k}: time kept`);
  }
  const list = await ctx.api('GET', '/api/appointments', { key: org.adminKey, query: { limit: 500 } });
  assert.deepEqual(findIn(list.raw, PERSONAL), [], 'GET /api/appointments');
  const entries = await auditEntries(ctx, org.adminKey, { entityId: S.contact.id });
  assert.ok(entries.some((x) => x.action === 'contact.erased'), 'the erasure is audited');
  const audit = await ctx.api('GET', '/api/audit-log', { key: org.adminKey, query: { limit: 500 } });
  assert.deepEqual(findIn(audit.raw, PERSONAL), [], 'the audit log after the erasure');

  // Her page booking retried with its Idempotency-Key and the very same
  // body: the stored answer (her notes, her metadata) went with her; the
  // retry meets an erased contact and books nothing.
  const replay = await probe('public key after the erasure', 'POST', '/api/appointments', {
    key: org.publicKey,
    headers: { 'Idempotency-Key': `privacy-${R}` },
    body: { contactId: S.contact.id, scheduledAt: at(S.day, '10:00'), durationMinutes: 30, notes: NOTES, metadata: META },
  });
  assert.equal(replay.headers['idempotent-replayed'], undefined, `no replay of her booking: ${replay.status} ${replay.raw}`);
  expectError(replay, 400, 'invalid_request', 'contactId', 'her booking retried after the erasure');
  // Her number calls the voice agent to cancel by time: nothing of hers is found or said.
  const tc = fnCall('cancelAppointment', { phone: PHONE, scheduledAt: at(S.day, '14:00') });
  const vc = await probe('her number after the erasure', 'POST', VAPI, { headers: { 'x-vapi-secret': org.vapiSecret }, body: vapiMessage([tc], { callId: randomUUID(), caller: PHONE }) });
  expectStatus(vc, 200);

  // The database: the pending deliveries' payloads first, then every row of
  // every table of the organization.
  const pending = await psql(
    `SELECT d.id, d.status, e.event_type, e.payload::text FROM deliveries d JOIN outbox_events e ON e.id = d.event_id
      WHERE d.org_id = :'org' AND d.endpoint_id = :'late'::uuid AND d.status IN ('pending', 'failed')`,
    { org: org.id, late: S.late.id },
  );
  assert.ok(pending.length >= pendingBefore.length, `/late's deliveries still wait: ${pending.length}`);
  for (const [id, status, type, payload] of pending) {
    const found = findIn(payload, PERSONAL);
    assert.deepEqual(found, [], `pending delivery ${id} (${status}, ${type}) still carries ${found.join(', ')}: ${payload.slice(0, 400)}`);
  }
  const rows = await orgRows(org.id);
  assert.ok(rows.some((r) => r.table === 'audit_logs') && rows.some((r) => r.table === 'deliveries'), 'the rows were read');
  const found = whereFound(rows, PERSONAL);
  const detail = Object.entries(found).map(([t, labels]) => {
    const sample = rows.find((r) => r.table === t && findIn(r.row, PERSONAL).length)?.row || '';
    return `${t}: ${labels.join(', ')} in ${sample.slice(0, 300)}`;
  });
  assert.deepEqual(found, {}, `her data is still stored after the erasure:\n  ${detail.join('\n  ')}`);
  t.diagnostic(`after the erasure: ${rows.length} rows of ${new Set(rows.map((r) => r.table)).size} tables read, ${pending.length} deliveries to /late waiting, none holds her data`);
}

// ------------------------------------------------------------------ 5. (e) what went out after the erasure

ctest('(e) after the erasure: the waiting webhooks arrive without her notes or metadata, the cancel of her future appointment too; no SMS goes to her', async (t) => {
  assert.ok(S.erasedAt, 'the erasure ran');
  const { org } = S;
  const lateIds = new Set(rx.requestsFor('/late').map((r) => r.headers['webhook-id']));
  await waitUntil(
    async () => {
      const res = await ctx.api('GET', '/api/webhook-deliveries', { key: org.adminKey, query: { endpointId: S.late.id } });
      const ds = expectStatus(res, 200).deliveries;
      return ds.length > 0 && ds.every((d) => d.status === 'delivered') ? ds : { ok: false, seen: ds.map((d) => `${d.eventType}:${d.status}:${d.attempts}`) };
    },
    { timeoutMs: 12_000, intervalMs: 200, what: "/late's deliveries delivered after the erasure" },
  );
  await waitUntil(settled, { timeoutMs: 10_000, intervalMs: 200, what: 'the outbox and the deliveries settle' });

  // Everything received since the erasure answered; for /late, whose
  // deliveries were being retried all along, since it answers 200 (an
  // attempt claimed just before the erasure may still arrive a moment
  // after it). /live had nothing pending when she was erased.
  const after = rx.requests.filter((r) => r.receivedAt >= S.erasedAt && (r.path !== '/late' || r.receivedAt >= lateOpensAt));
  const ok200 = after.filter((r) => r.path === '/late'); // answered 200 from lateOpensAt on
  const delivered = new Set(ok200.map((r) => r.headers['webhook-id']));
  for (const id of lateIds) assert.ok(delivered.has(id), `the event /late failed before the erasure (${id}) arrived after it`);
  for (const r of after) {
    const found = findIn(`${JSON.stringify(r.headers)}\n${r.body}`, PERSONAL);
    assert.deepEqual(found, [], `${r.path} received after the erasure ${r.json?.type}: ${found.join(', ')}: ${r.body.slice(0, 400)}`);
    const a = r.json?.data?.appointment;
    if (a && a.contactId === S.contact.id) {
      assert.equal(a.notes, null, `${r.path} ${r.json.type}: notes null`);
      assert.deepEqual(a.metadata, {}, `${r.path} ${r.json.type}: metadata {}`);
    }
  }
  t.diagnostic(`${lateIds.size} events that /late refused before the erasure arrived after it (${ok200.length} requests), scrubbed; ${after.length} requests in all after the erasure`);
  const cancelA3 = rx.requests.filter((r) => r.path === '/live' && r.json?.type === 'appointment.cancelled' && r.json?.data?.appointment?.id === S.a3.id);
  assert.ok(cancelA3.length >= 1, 'the erasure cancelled her future appointment, and said so');
  for (const r of cancelA3) assert.equal(r.json.data.appointment.notes, null, 'the cancel event carries no notes');

  const sms = twilio.requests.filter((r) => r.receivedAt >= S.erasedAt);
  const toHer = sms.filter((r) => findIn(`${r.url}\n${r.body}`, PERSONAL).length > 0);
  assert.deepEqual(toHer.map((r) => r.body), [], 'no SMS to or about her after the erasure');
});

// ------------------------------------------------------------------ 6. (c) the final sweep: answers and logs

ctest('(c) every answer given to those who should not see her data, and every line bookd logged, holds none of it, nor a key or secret', async (t) => {
  assert.ok(foreign.length >= 30, `answers collected: ${foreign.length}`);
  const leaks = [];
  for (const f of foreign) {
    const p = findIn(f.text, PERSONAL, { skip: f.allow });
    const s = findIn(f.text, SECRETS, { skip: f.allowSecrets });
    if (p.length || s.length) leaks.push(`${f.who}: ${f.what}: ${[...p, ...s].join(', ')}`);
  }
  assert.deepEqual(leaks, [], `answers that carry her data or a secret:\n  ${leaks.join('\n  ')}`);

  // The log: the admin token, every key, secret and token, every form of
  // her data (stopAndCheckLogs compares case-insensitively). Positive
  // control: the requests that carried her data, a manage token or the
  // Vapi secret were logged (so their absence from the log means something).
  expectStatus(await ctx.api('DELETE', '/api/integrations/twilio', { key: S.org.adminKey }), 204, 'disconnect Twilio');
  await sleep(200);
  const routes = new Set(ctx.server.logs.map((l) => {
    try {
      return JSON.parse(l).route;
    } catch {
      return undefined;
    }
  }));
  for (const r of ['/api/contacts', '/api/webhooks/vapi', '/api/manage/{token}', '/api/manage/{token}/reschedule', '/api/contacts/{id}']) {
    assert.ok(routes.has(r), `the log has a request line for ${r}: ${[...routes].join(', ')}`);
  }
  t.diagnostic(`${foreign.length} answers to those who should not see her data, ${ctx.server.logs.length} log lines, searched for ${Object.keys(PERSONAL).length} forms of her data and ${Object.keys(SECRETS).length} secrets`);
  await stopAndCheckLogs(ctx, [...Object.values(PERSONAL), ...Object.values(SECRETS)]);
});
