// Malformed requests: each gets its documented status, error code and (for
// invalid_request) the offending field, and none of them writes anything
// (API.md, "Conventions": "Nothing is written when a request fails").
// Also the rate limit (429 with Retry-After) on a server of its own.

import {
  assert, ctest, useServer, createOrg, createContact, expectError, expectStatus, auditEntries, listAll, rnd, randomUUID,
} from './lib/harness.mjs';
import { startServer } from './lib/server.mjs';
import { makeApi } from './lib/client.mjs';

const ctx = useServer({
  setup: async (c) => {
    c.org = await createOrg(c, { timezone: 'UTC' });
    c.other = await createOrg(c, { timezone: 'UTC' });
    c.contact = await createContact(c, c.org.adminKey, { name: `Err Or ${rnd()}` });
    c.otherContact = (await createContact(c, c.other.adminKey, { name: `Other Err ${rnd()}` })).id;
    c.auditBefore = await auditEntries(c, c.org.adminKey);
  },
});

const FUT = '2036-03-03T10:00:00Z';
const valid = () => ({ contactId: ctx.contact.id, scheduledAt: FUT, durationMinutes: 30 });
const withBody = (patch) => ({ method: 'POST', path: '/api/appointments', body: { ...valid(), ...patch } });
const without = (field) => {
  const b = valid();
  delete b[field];
  return { method: 'POST', path: '/api/appointments', body: b };
};
const raw = (text, extra = {}) => ({ method: 'POST', path: '/api/appointments', rawBody: text, ...extra });
/** A valid-JSON booking body of exactly n bytes (its notes are far too long). */
const sized = (n) => {
  const head = `{"contactId":"${ctx.contact.id}","scheduledAt":"${FUT}","durationMinutes":30,"notes":"`;
  const text = head + 'z'.repeat(n - head.length - 2) + '"}';
  assert.equal(Buffer.byteLength(text), n);
  return text;
};
const list = (query) => ({ method: 'GET', path: '/api/appointments', query });
const allowOf = (res) => new Set(String(res.headers.allow || '').split(',').map((s) => s.trim().toUpperCase()).filter(Boolean));
const expectAllow = (...methods) => (res, method) => {
  const allow = allowOf(res);
  for (const m of methods) assert.ok(allow.has(m), `Allow ${JSON.stringify(res.headers.allow)} lacks ${m}`);
  assert.ok(!allow.has(method), `Allow ${JSON.stringify(res.headers.allow)} lists the refused ${method}`);
};

// [name, request (a function, since ids exist only after setup), status, error, field]
// field: undefined = not checked; a string / RegExp / array as in expectError.
const CASES = [
  ['malformed JSON', () => raw('{"contactId": '), 400, 'invalid_request'],
  ['JSON array instead of an object', () => raw(JSON.stringify([valid()])), 400, 'invalid_request'],
  ['JSON null', () => raw('null'), 400, 'invalid_request'],
  ['JSON string', () => raw('"book me"'), 400, 'invalid_request'],
  ['trailing data after the object', () => raw(`${JSON.stringify(valid())} {}`), 400, 'invalid_request'],
  ['empty body with Content-Type: application/json', () => raw(''), 400, 'invalid_request'],
  ['durationMinutes as a string "30"', () => withBody({ durationMinutes: '30' }), 400, 'invalid_request', 'durationMinutes'],
  ['durationMinutes 30.5', () => withBody({ durationMinutes: 30.5 }), 400, 'invalid_request', 'durationMinutes'],
  ['durationMinutes true', () => withBody({ durationMinutes: true }), 400, 'invalid_request', 'durationMinutes'],
  ['durationMinutes null', () => withBody({ durationMinutes: null }), 400, 'invalid_request', 'durationMinutes'],
  ['durationMinutes 0', () => withBody({ durationMinutes: 0 }), 400, 'invalid_request', 'durationMinutes'],
  ['durationMinutes 1441', () => withBody({ durationMinutes: 1441 }), 400, 'invalid_request', 'durationMinutes'],
  ['durationMinutes -30', () => withBody({ durationMinutes: -30 }), 400, 'invalid_request', 'durationMinutes'],
  ['durationMinutes 2^32+30 (no integer truncation)', () => withBody({ durationMinutes: 4294967326 }), 400, 'invalid_request', 'durationMinutes'],
  ['missing scheduledAt', () => without('scheduledAt'), 400, 'invalid_request', 'scheduledAt'],
  ['scheduledAt without offset', () => withBody({ scheduledAt: '2036-03-03T10:00:00' }), 400, 'invalid_request', 'scheduledAt'],
  ['scheduledAt 2026-02-30', () => withBody({ scheduledAt: '2026-02-30T10:00:00Z' }), 400, 'invalid_request', 'scheduledAt'],
  ['scheduledAt at 24:00', () => withBody({ scheduledAt: '2036-03-03T24:00:00Z' }), 400, 'invalid_request', 'scheduledAt'],
  ['scheduledAt with a leap second', () => withBody({ scheduledAt: '2036-06-30T23:59:60Z' }), 400, 'invalid_request', 'scheduledAt'],
  ['scheduledAt offset +25:00', () => withBody({ scheduledAt: '2036-03-03T10:00:00+25:00' }), 400, 'invalid_request', 'scheduledAt'],
  ['scheduledAt as a number', () => withBody({ scheduledAt: 2088230400 }), 400, 'invalid_request', 'scheduledAt'],
  ['scheduledAt empty', () => withBody({ scheduledAt: '' }), 400, 'invalid_request', 'scheduledAt'],
  ['scheduledAt date only', () => withBody({ scheduledAt: '2036-03-03' }), 400, 'invalid_request', 'scheduledAt'],
  ['missing contactId', () => without('contactId'), 400, 'invalid_request', 'contactId'],
  ['unknown contactId', () => withBody({ contactId: randomUUID() }), 400, 'invalid_request', 'contactId'],
  ['malformed contactId', () => withBody({ contactId: 'abc' }), 400, 'invalid_request', 'contactId'],
  ['contactId of another organization', () => withBody({ contactId: ctx.otherContact }), 400, 'invalid_request', 'contactId'],
  ['contactId as a number', () => withBody({ contactId: 42 }), 400, 'invalid_request', 'contactId'],
  ['unknown providerId', () => withBody({ providerId: randomUUID() }), 400, 'invalid_request', 'providerId'],
  ['malformed providerId', () => withBody({ providerId: 'prov-1' }), 400, 'invalid_request', 'providerId'],
  ['providerId of another organization', () => withBody({ providerId: ctx.other.defaultProviderId }), 400, 'invalid_request', 'providerId'],
  ['unknown serviceId', () => withBody({ serviceId: randomUUID() }), 400, 'invalid_request', 'serviceId'],
  ['notes of 2001 characters', () => withBody({ notes: 'n'.repeat(2001) }), 400, 'invalid_request', 'notes'],
  ['notes as a number', () => withBody({ notes: 5 }), 400, 'invalid_request', 'notes'],
  ['metadata an array', () => withBody({ metadata: [1, 2] }), 400, 'invalid_request', 'metadata'],
  ['metadata a string', () => withBody({ metadata: 'x' }), 400, 'invalid_request', 'metadata'],
  ['metadata over 8 KiB', () => withBody({ metadata: { blob: 'm'.repeat(8300) } }), 400, 'invalid_request', 'metadata'],
  ['metadata with an integer past 2^53', () => raw(`{"contactId":"${ctx.contact.id}","scheduledAt":"${FUT}","durationMinutes":30,"metadata":{"n":9007199254740993}}`), 400, 'invalid_request', 'metadata'],
  ['metadata with 1e19 (stored as a 20-digit integer)', () => raw(`{"contactId":"${ctx.contact.id}","scheduledAt":"${FUT}","durationMinutes":30,"metadata":{"n":1e19}}`), 400, 'invalid_request', 'metadata'],
  ['metadata with a real past 2^53 (1e300)', () => raw(`{"contactId":"${ctx.contact.id}","scheduledAt":"${FUT}","durationMinutes":30,"metadata":{"n":1e300}}`), 400, 'invalid_request', 'metadata'],
  ['NUL character inside metadata', () => raw(JSON.stringify({ ...valid(), metadata: { a: ['x\u0000y'] } })), 400, 'invalid_request', 'metadata'],
  ['orgId with a NUL after the right id', () => raw(JSON.stringify({ ...valid(), orgId: `${ctx.org.id}\u0000zz` })), 400, 'invalid_request', 'orgId'],
  ['scheduledAt in year 0 once in UTC', () => withBody({ scheduledAt: '0001-01-01T00:30:00+01:00' }), 400, 'invalid_request', 'scheduledAt'],
  ['NUL character in notes', () => raw(JSON.stringify({ ...valid(), notes: 'a\u0000b' })), 400, 'invalid_request', 'notes'],
  ['lone surrogate in notes', () => raw(`{"contactId":"${ctx.contact.id}","scheduledAt":"${FUT}","durationMinutes":30,"notes":"x\\ud800y"}`), 400, 'invalid_request', 'notes'],
  ['lone low surrogate in notes, another field after it', () => raw(`{"contactId":"${ctx.contact.id}","notes":"\\udc00","scheduledAt":"${FUT}","durationMinutes":30}`), 400, 'invalid_request', 'notes'],
  ['high surrogate followed by a non-surrogate escape', () => raw(`{"contactId":"${ctx.contact.id}","scheduledAt":"${FUT}","durationMinutes":30,"notes":"\\ud800\\u0041"}`), 400, 'invalid_request', 'notes'],
  ['lone surrogate deep inside metadata names metadata', () => raw(`{"contactId":"${ctx.contact.id}","scheduledAt":"${FUT}","durationMinutes":30,"metadata":{"a":[{"b":"\\ud800"}]}}`), 400, 'invalid_request', 'metadata'],
  ['lone surrogate in a metadata key names metadata', () => raw(`{"contactId":"${ctx.contact.id}","scheduledAt":"${FUT}","durationMinutes":30,"metadata":{"\\udfff":1}}`), 400, 'invalid_request', 'metadata'],
  ['invalid UTF-8 in notes', () => raw(Buffer.concat([Buffer.from(`{"contactId":"${ctx.contact.id}","scheduledAt":"${FUT}","durationMinutes":30,"notes":"`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')])), 400, 'invalid_request', 'notes'],
  ['a surrogate encoded as UTF-8 bytes (CESU) in notes', () => raw(Buffer.concat([Buffer.from(`{"contactId":"${ctx.contact.id}","scheduledAt":"${FUT}","durationMinutes":30,"notes":"`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')])), 400, 'invalid_request', 'notes'],
  ['body over 64 KiB', () => withBody({ notes: 'p'.repeat(70 * 1024) }), 413, 'payload_too_large'],
  ['body of exactly 65536 bytes is read (then notes are too long)', () => raw(sized(65536)), 400, 'invalid_request', 'notes'],
  ['body of 65537 bytes', () => raw(sized(65537)), 413, 'payload_too_large'],
  ['chunked body over 64 KiB (no Content-Length)', () => ({ ...withBody({ notes: 'c'.repeat(70 * 1024) }), chunked: true }), 413, 'payload_too_large'],
  ['JSON nested 20000 deep', () => raw(`{"contactId":"${ctx.contact.id}","scheduledAt":"${FUT}","durationMinutes":30,"metadata":{"a":${'['.repeat(20000)}${']'.repeat(20000)}}}`), 400, 'invalid_request'],
  ['body without Content-Type', () => raw(JSON.stringify(valid()), { contentType: null }), 415, 'unsupported_media_type'],
  ['body as text/plain', () => raw(JSON.stringify(valid()), { contentType: 'text/plain' }), 415, 'unsupported_media_type'],
  ['body as application/jsonx', () => raw(JSON.stringify(valid()), { contentType: 'application/jsonx' }), 415, 'unsupported_media_type'],
  ['body as application/x-www-form-urlencoded', () => raw('contactId=x&durationMinutes=30', { contentType: 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type'],
  ['orgId of another organization', () => withBody({ orgId: ctx.other.id }), 403, 'forbidden'],
  ['Idempotency-Key of 256 characters', () => ({ ...withBody({}), headers: { 'Idempotency-Key': 'i'.repeat(256) } }), 400, 'invalid_request'],
  ['no key', () => ({ ...withBody({}), key: null }), 401, 'unauthorized'],
  ['public key on GET /api/appointments', () => ({ ...list({}), key: ctx.org.publicKey }), 403, 'forbidden'],
  ['unknown body field (rejected per openapi.json)', () => withBody({ colour: 'red' }), 400, 'invalid_request', 'colour'],
  ['unknown route /api/nope', () => ({ method: 'GET', path: '/api/nope' }), 404, 'not_found'],
  ['unknown route /nope without a key', () => ({ method: 'GET', path: '/nope', key: null }), 404, 'not_found'],
  ['unknown sub-route of an appointment', () => ({ method: 'POST', path: `/api/appointments/${randomUUID()}/teleport`, body: {} }), 404, 'not_found'],
  ['trailing slash is another (unknown) route', () => ({ method: 'GET', path: '/api/appointments/' }), 404, 'not_found'],
  ['malformed UUID in a path', () => ({ method: 'GET', path: '/api/appointments/not-a-uuid' }), 404, 'not_found'],
  ['malformed UUID in a cancel path', () => ({ method: 'POST', path: '/api/appointments/123/cancel', body: {} }), 404, 'not_found'],
  ['malformed UUID in a contact path', () => ({ method: 'GET', path: '/api/contacts/zzz' }), 404, 'not_found'],
  ['DELETE /api/appointments', () => ({ method: 'DELETE', path: '/api/appointments' }), 405, 'method_not_allowed', undefined, expectAllow('GET', 'POST')],
  ['PATCH /api/appointments/{id}', () => ({ method: 'PATCH', path: `/api/appointments/${randomUUID()}`, body: {} }), 405, 'method_not_allowed', undefined, expectAllow('GET')],
  ['GET /api/appointments/{id}/cancel', () => ({ method: 'GET', path: `/api/appointments/${randomUUID()}/cancel` }), 405, 'method_not_allowed', undefined, expectAllow('POST')],
  ['GET /api/orgs', () => ({ method: 'GET', path: '/api/orgs', key: ctx.adminToken }), 405, 'method_not_allowed', undefined, expectAllow('POST')],
  ['list: limit=0', () => list({ limit: 0 }), 400, 'invalid_request', 'limit'],
  ['list: limit=501', () => list({ limit: 501 }), 400, 'invalid_request', 'limit'],
  ['list: limit=abc', () => list({ limit: 'abc' }), 400, 'invalid_request', 'limit'],
  ['list: limit=1.5', () => list({ limit: '1.5' }), 400, 'invalid_request', 'limit'],
  ['list: status=x', () => list({ status: 'x' }), 400, 'invalid_request', 'status'],
  ['list: from without offset', () => list({ from: '2036-01-01T00:00:00' }), 400, 'invalid_request', 'from'],
  ['list: to garbage', () => list({ to: 'tomorrow' }), 400, 'invalid_request', 'to'],
  ['list: cursor garbage', () => list({ cursor: 'garbage' }), 400, 'invalid_request', 'cursor'],
  ['list: providerId malformed', () => list({ providerId: 'p1' }), 400, 'invalid_request', 'providerId'],
  ['contact: invalid phone', () => ({ method: 'POST', path: '/api/contacts', body: { name: 'Bad Phone', phone: '07700 900123' } }), 400, 'invalid_request', 'phone'],
  ['contact: invalid email', () => ({ method: 'POST', path: '/api/contacts', body: { name: 'Bad Mail', email: 'nobody-at-example.org' } }), 400, 'invalid_request', 'email'],
  ['contact: missing name', () => ({ method: 'POST', path: '/api/contacts', body: { phone: '+447700900123' } }), 400, 'invalid_request', 'name'],
  ['contact: NUL in the name', () => ({ method: 'POST', path: '/api/contacts', body: { name: 'Nul\u0000Name' } }), 400, 'invalid_request', 'name'],
  ['contact: lone surrogate in the name', () => ({ method: 'POST', path: '/api/contacts', rawBody: '{"name":"\\ud800"}' }), 400, 'invalid_request', 'name'],
  ['contact: lone surrogate in the email, after a valid name', () => ({ method: 'POST', path: '/api/contacts', rawBody: '{"name":"Sur Rogate", "email" : "a\\udbffb@example.org"}' }), 400, 'invalid_request', 'email'],
];

for (const [name, mk, status, error, field, check] of CASES) {
  ctest(`${status} ${error}: ${name}`, async () => {
    const r = mk();
    const key = 'key' in r ? r.key : ctx.org.adminKey;
    const opts = { key, headers: r.headers, query: r.query };
    if ('rawBody' in r) opts.rawBody = r.rawBody;
    else if ('body' in r) opts.body = r.body;
    if ('contentType' in r) opts.contentType = r.contentType;
    if (r.chunked) opts.chunked = true;
    const res = await ctx.api(r.method, r.path, opts);
    expectError(res, status, error, field);
    if (check) check(res, r.method);
    // An error never echoes a key back.
    for (const k of [ctx.org.adminKey, ctx.org.publicKey, ctx.adminToken]) assert.ok(!res.raw.includes(k), 'a key in the error body');
  });
}

ctest('400 invalid_request without a field: a lone surrogate in a key of the body itself', async () => {
  // The key cannot be named (it is not a character string), so no field is.
  const res = await ctx.api('POST', '/api/contacts', { key: ctx.org.adminKey, rawBody: '{"name":"Key Fault","\\ud800":1}' });
  expectError(res, 400, 'invalid_request');
  assert.equal(res.body.field, undefined, `no field for a bad key: ${res.raw}`);
  assert.match(res.body.message, /surrogate|Unicode/i, res.raw);
});

ctest('after all of the above: no appointment, contact or audit entry was created', async () => {
  const { all } = await listAll(ctx, ctx.org.adminKey, {});
  assert.deepEqual(all, [], 'no appointment');
  const after = await auditEntries(ctx, ctx.org.adminKey);
  assert.deepEqual(after, ctx.auditBefore, 'no audit entry (so no contact.created either)');
  const health = await ctx.api('GET', '/health');
  expectStatus(health, 200, 'the server is still healthy');
});

ctest('rate limit: a small public limit gives 429 rate_limited with Retry-After, per key, then recovers', async () => {
  const server = await startServer({ env: { BOOKD_RATE_LIMIT_PUBLIC: '2/3', BOOKD_RATE_LIMIT_ADMIN: '1000/2000' } });
  try {
    const api = makeApi(server.url);
    const own = { api, adminToken: server.adminToken };
    const org = await createOrg(own, { timezone: 'UTC' });
    const org2 = await createOrg(own, { timezone: 'UTC' });
    const seen = [];
    let limited = null;
    for (let i = 0; i < 8 && !limited; i++) {
      const res = await api('GET', '/api/providers', { key: org.publicKey });
      seen.push(res.status);
      if (res.status === 429) limited = res;
    }
    assert.deepEqual(seen.slice(0, 3), [200, 200, 200], `the burst of 3 is allowed: ${seen}`);
    assert.ok(limited, `no 429 within 8 quick requests at 2/s with burst 3: ${seen}`);
    assert.ok(seen.length <= 5, `429 came late: ${seen}`);
    expectError(limited, 429, 'rate_limited');
    const ra = limited.headers['retry-after'];
    assert.match(String(ra), /^\d+$/, `Retry-After is delta-seconds: ${ra}`);
    assert.ok(Number(ra) >= 1 && Number(ra) <= 5, `Retry-After ${ra} fits 2/s`);
    // Other keys have their own buckets.
    expectStatus(await api('GET', '/api/providers', { key: org.adminKey }), 200, 'admin key of the same organization');
    expectStatus(await api('GET', '/api/providers', { key: org2.publicKey }), 200, 'public key of another organization');
    // A rate-limited booking writes nothing.
    const c = await api('POST', '/api/contacts', { key: org.publicKey, body: { name: 'Too Fast' } });
    expectError(c, 429, 'rate_limited', undefined, 'still limited');
    const audit = await api('GET', '/api/audit-log', { key: org.adminKey });
    expectStatus(audit, 200);
    assert.ok(!audit.body.entries.some((e) => e.action === 'contact.created'), 'the 429 created no contact');
    // After Retry-After the key works again.
    await new Promise((r) => setTimeout(r, Number(ra) * 1000 + 100));
    expectStatus(await api('GET', '/api/providers', { key: org.publicKey }), 200, 'after Retry-After');
  } finally {
    await server.stop();
  }
}, { timeout: 40_000 });
