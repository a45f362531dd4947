// HEAD wherever GET works (load balancers probe with it): the same status
// and headers as GET, no body; Allow lists HEAD beside GET; 405 where there
// is no GET. Every exchange is also checked against openapi.json's head
// operations (lib/openapi.mjs: a HEAD answer must have no body).

import { assert, ctest, useServer, createOrg, createContact, expectStatus, expectError } from './lib/harness.mjs';

const ctx = useServer({
  setup: async (c) => {
    c.org = await createOrg(c, { timezone: 'UTC' });
    c.contact = await createContact(c, c.org.adminKey);
  },
});

// Headers that differ between any two answers.
const VOLATILE = new Set(['date', 'x-request-id', 'connection', 'keep-alive']);

/** GET and HEAD of the same request: same status and headers, HEAD without a body. */
async function sameAsGet(path, opts = {}, what = path) {
  const get = await ctx.api('GET', path, opts);
  const head = await ctx.api('HEAD', path, opts);
  assert.equal(head.status, get.status, `${what}: HEAD status ${head.status}, GET ${get.status}`);
  assert.equal(head.rawBuffer.length, 0, `${what}: HEAD has no body`);
  const strip = (h) => Object.fromEntries(Object.entries(h).filter(([k]) => !VOLATILE.has(k)));
  assert.deepEqual(strip(head.headers), strip(get.headers), `${what}: HEAD headers are GET's`);
  assert.equal(Number(head.headers['content-length']), get.rawBuffer.length, `${what}: Content-Length is the GET body's length`);
  return { get, head };
}

ctest('HEAD /health → 200, the headers of GET, no body', async () => {
  const { head } = await sameAsGet('/health');
  expectStatus(head, 200);
  assert.match(String(head.headers['content-type']), /^application\/json/);
});

ctest('HEAD /ready → 200 like GET, no body', async () => {
  const { head } = await sameAsGet('/ready');
  expectStatus(head, 200);
});

ctest('HEAD /metrics and /openapi.json → 200 like GET, no body', async () => {
  const { head } = await sameAsGet('/openapi.json');
  expectStatus(head, 200);
  // /metrics' body changes between two scrapes (the requests are counted),
  // so only the status and the type are compared.
  const metrics = await ctx.api('HEAD', '/metrics');
  expectStatus(metrics, 200);
  assert.equal(metrics.rawBuffer.length, 0);
  assert.match(String(metrics.headers['content-type']), /^text\/plain/);
});

ctest('HEAD on authenticated GET routes: same status and headers as GET, key rules included', async () => {
  const key = ctx.org.adminKey;
  expectStatus((await sameAsGet('/api/providers', { key }, 'providers (admin key)')).head, 200);
  expectStatus((await sameAsGet('/api/providers', { key: ctx.org.publicKey }, 'providers (public key)')).head, 200);
  expectStatus((await sameAsGet(`/api/contacts/${ctx.contact.id}`, { key }, 'a contact')).head, 200);
  expectStatus((await sameAsGet('/api/appointments', { key, query: { limit: 5 } }, 'appointments')).head, 200);
  // Refusals are the same as well.
  expectStatus((await sameAsGet('/api/providers', {}, 'no key')).head, 401);
  expectStatus((await sameAsGet(`/api/contacts/${ctx.contact.id}`, { key: ctx.org.publicKey }, 'public key on an admin route')).head, 403);
  expectStatus((await sameAsGet('/api/contacts/00000000-0000-4000-8000-000000000000', { key }, 'unknown contact')).head, 404);
  expectStatus((await sameAsGet('/api/appointments', { key, query: { limit: 0 } }, 'bad parameter')).head, 400);
  expectStatus((await sameAsGet('/api/nope', { key }, 'unknown route')).head, 404);
});

ctest('Allow lists HEAD beside GET; HEAD where there is no GET → 405 without a body', async () => {
  const post = await ctx.api('POST', '/health', { body: {} });
  expectError(post, 405, 'method_not_allowed');
  assert.equal(post.headers.allow, 'GET, HEAD');
  const del = await ctx.api('DELETE', '/api/appointments', { key: ctx.org.adminKey });
  expectError(del, 405, 'method_not_allowed');
  assert.equal(del.headers.allow, 'GET, HEAD, POST');
  const head = await ctx.api('HEAD', '/api/orgs', { key: ctx.adminToken });
  assert.equal(head.status, 405);
  assert.equal(head.headers.allow, 'POST', 'no GET there, so no HEAD either');
  assert.equal(head.rawBuffer.length, 0);
});

ctest('HEAD requests are counted in the metrics with method="HEAD"', async () => {
  await ctx.api('HEAD', '/health');
  const res = await ctx.api('GET', '/metrics');
  expectStatus(res, 200);
  assert.match(res.raw, /^bookd_http_requests_total\{route="\/health",method="HEAD",code="200"\} [1-9]/m);
});
