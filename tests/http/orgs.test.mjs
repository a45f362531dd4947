// Organizations and authentication: POST /api/orgs with the server admin
// token, its validation, and which key is accepted where (API.md,
// "Authentication" and "Organizations").

import { assert, ctest, useServer, createOrg, expectStatus, expectError, stopAndCheckLogs, rnd, UUID_RE } from './lib/harness.mjs';

const secrets = [];
const ctx = useServer({
  setup: async (c) => {
    c.org = await createOrg(c, { name: `Smile Dental ${rnd()}`, timezone: 'Europe/London' });
    secrets.push(c.adminToken, c.org.adminKey, c.org.publicKey, c.org.vapiSecret);
  },
});

ctest('POST /api/orgs with the server admin token → 201 with keys, secret and default provider', async () => {
  const name = `Smile Dental ${rnd()}`;
  const res = await ctx.api('POST', '/api/orgs', { key: ctx.adminToken, body: { name, timezone: 'Europe/London' } });
  const org = expectStatus(res, 201);
  assert.match(org.id, UUID_RE, 'id is a lower-case UUID');
  assert.equal(org.name, name);
  assert.equal(org.timezone, 'Europe/London');
  for (const k of ['adminKey', 'publicKey', 'vapiSecret']) {
    assert.equal(typeof org[k], 'string', `${k} is a string`);
    assert.ok(org[k].length >= 16, `${k} is long enough to be unguessable (${org[k].length} chars)`);
  }
  assert.equal(new Set([org.adminKey, org.publicKey, org.vapiSecret]).size, 3, 'the three secrets differ');
  assert.notEqual(org.adminKey, ctx.org.adminKey, 'a new organization gets new keys');
  assert.match(org.defaultProviderId, UUID_RE);
  secrets.push(org.adminKey, org.publicKey, org.vapiSecret);

  // The keys work at once and the default provider is there, Mon-Fri 09:00-17:00.
  const prov = await ctx.api('GET', '/api/providers', { key: org.adminKey });
  expectStatus(prov, 200, 'admin key lists providers');
  assert.equal(prov.body.providers.length, 1, 'a new organization has exactly one provider');
  const p = prov.body.providers[0];
  assert.equal(p.id, org.defaultProviderId);
  assert.equal(p.name, 'default');
  const wh = Object.fromEntries(Object.entries(p.workingHours).filter(([, v]) => v.length));
  const day = [['09:00', '17:00']];
  assert.deepEqual(wh, { mon: day, tue: day, wed: day, thu: day, fri: day });
  const pub = await ctx.api('GET', '/api/providers', { key: org.publicKey });
  expectStatus(pub, 200, 'public key lists providers');
});

ctest('two organizations never see each other’s providers', async () => {
  const a = await ctx.api('GET', '/api/providers', { key: ctx.org.adminKey });
  expectStatus(a, 200);
  assert.deepEqual(
    a.body.providers.map((p) => p.id),
    [ctx.org.defaultProviderId],
    'only its own default provider',
  );
});

ctest('invalid IANA time zone → 400 invalid_request, field timezone', async () => {
  for (const timezone of ['Mars/Olympus_Mons', 'Europe/Londn', '', 'GMT+25']) {
    const res = await ctx.api('POST', '/api/orgs', { key: ctx.adminToken, body: { name: `Bad TZ ${rnd()}`, timezone } });
    expectError(res, 400, 'invalid_request', 'timezone', `timezone ${JSON.stringify(timezone)}`);
  }
  const res = await ctx.api('POST', '/api/orgs', { key: ctx.adminToken, body: { name: `Bad TZ ${rnd()}`, timezone: 42 } });
  expectError(res, 400, 'invalid_request', 'timezone', 'timezone as a number');
});

ctest('missing, empty or non-string name → 400 invalid_request, field name', async () => {
  const cases = [{ timezone: 'UTC' }, { name: '', timezone: 'UTC' }, { name: 7, timezone: 'UTC' }, { name: null, timezone: 'UTC' }];
  for (const body of cases) {
    const res = await ctx.api('POST', '/api/orgs', { key: ctx.adminToken, body });
    expectError(res, 400, 'invalid_request', 'name', JSON.stringify(body));
  }
});

ctest('organization keys on POST /api/orgs → 401 unauthorized', async () => {
  for (const [label, key] of [
    ['admin key', ctx.org.adminKey],
    ['public key', ctx.org.publicKey],
    ['vapi secret', ctx.org.vapiSecret],
  ]) {
    const res = await ctx.api('POST', '/api/orgs', { key, body: { name: `Nope ${rnd()}`, timezone: 'UTC' } });
    expectError(res, 401, 'unauthorized', undefined, label);
  }
});

ctest('the server admin token on organization routes → 401 unauthorized', async () => {
  const k = ctx.adminToken;
  const cases = [
    ['GET', '/api/providers'],
    ['GET', '/api/services'],
    ['GET', '/api/appointments'],
    ['GET', '/api/audit-log'],
    ['POST', '/api/contacts', { name: 'X' }],
    ['POST', '/api/appointments', { contactId: '00000000-0000-4000-8000-000000000000', scheduledAt: '2030-01-01T10:00:00Z', durationMinutes: 30 }],
    ['GET', `/api/availability/check?scheduledAt=2030-01-01T10:00:00Z&durationMinutes=30`],
  ];
  for (const [method, path, body] of cases) {
    const res = await ctx.api(method, path, { key: k, body });
    expectError(res, 401, 'unauthorized', undefined, `${method} ${path} with the admin token`);
  }
});

ctest('no key → 401 unauthorized', async () => {
  for (const [method, path, body] of [
    ['POST', '/api/orgs', { name: 'X', timezone: 'UTC' }],
    ['GET', '/api/providers'],
    ['GET', '/api/appointments'],
    ['POST', '/api/appointments', { contactId: '00000000-0000-4000-8000-000000000000', scheduledAt: '2030-01-01T10:00:00Z', durationMinutes: 30 }],
  ]) {
    const res = await ctx.api(method, path, { body });
    expectError(res, 401, 'unauthorized', undefined, `${method} ${path} without a key`);
  }
});

ctest('garbage or malformed keys → 401 unauthorized', async () => {
  const cases = [
    { key: 'garbage' },
    { key: `${ctx.org.adminKey}x` },
    { key: ctx.org.adminKey.slice(0, -1) },
    { headers: { Authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } },
    { headers: { Authorization: 'Bearer' } },
    { headers: { Authorization: ctx.org.adminKey } }, // no scheme
  ];
  for (const c of cases) {
    const res = await ctx.api('GET', '/api/providers', c);
    expectError(res, 401, 'unauthorized', undefined, `Authorization ${JSON.stringify(c)}`);
  }
  const res = await ctx.api('POST', '/api/orgs', { key: `${ctx.adminToken}0`, body: { name: 'X', timezone: 'UTC' } });
  expectError(res, 401, 'unauthorized', undefined, 'admin token with an extra character');
});

ctest('a failed organization creation creates nothing: a new org still has only its own default provider', async () => {
  const bad = await ctx.api('POST', '/api/orgs', { key: ctx.adminToken, body: { name: `Ghost ${rnd()}`, timezone: 'Nowhere/Land' } });
  expectError(bad, 400, 'invalid_request', 'timezone');
  const org = await createOrg(ctx, { timezone: 'America/New_York' });
  secrets.push(org.adminKey, org.publicKey, org.vapiSecret);
  assert.equal(org.timezone, 'America/New_York');
  const prov = await ctx.api('GET', '/api/providers', { key: org.adminKey });
  expectStatus(prov, 200);
  assert.equal(prov.body.providers.length, 1);
});

ctest('SIGTERM stops bookd; its log is JSON lines without keys or secrets', async () => {
  await stopAndCheckLogs(ctx, secrets);
});
