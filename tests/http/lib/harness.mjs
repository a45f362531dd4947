// Shared test plumbing: one bookd per test file, a test wrapper that fails a
// test on OpenAPI contract violations, fixtures (organizations, contacts,
// providers, services, bookings) and assertion helpers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { startServer } from './server.mjs';
import { makeApi, takeViolations } from './client.mjs';

export { assert, randomUUID };

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function rnd(n = 4) {
  return randomBytes(n).toString('hex');
}

/** Random digits, for unique phone numbers. */
export function digits(n) {
  let s = '';
  for (const b of randomBytes(n)) s += String(b % 10);
  return s;
}

function violationError(list, prior) {
  const msg = `OpenAPI contract violations (${list.length}):\n  - ${list.slice(0, 20).join('\n  - ')}${list.length > 20 ? `\n  - ... ${list.length - 20} more` : ''}`;
  if (prior) {
    prior.message = `${prior.message}\n${msg}`;
    return prior;
  }
  return new assert.AssertionError({ message: msg });
}

/** Throws if any response so far broke the OpenAPI document. */
export function assertContract(where = '') {
  const v = takeViolations();
  if (v.length) throw violationError(where ? v.map((x) => `[${where}] ${x}`) : v);
}

/**
 * A test whose every response must also match openapi.json. `fn` gets the
 * node:test context. Options: timeout (ms, default 30 s).
 */
export function ctest(name, fn, { timeout = 30_000 } = {}) {
  return test(name, { timeout }, async (t) => {
    const leftovers = takeViolations().map((x) => `[before this test] ${x}`);
    let err = null;
    try {
      await fn(t);
    } catch (e) {
      err = e;
    }
    const v = leftovers.concat(takeViolations());
    if (v.length) throw violationError(v, err);
    if (err) throw err;
  });
}

/**
 * Starts one bookd for the file (before) and stops it (after). Returns a
 * context filled in by the time the tests run: {server, api, adminToken}.
 * `setup(ctx)` runs after the server is up (e.g. to create organizations).
 */
export function useServer({ env = {}, setup } = {}) {
  const ctx = { server: null, api: null, adminToken: null, stopped: null };
  before(
    async () => {
      ctx.server = await startServer({ env });
      ctx.api = makeApi(ctx.server.url);
      ctx.adminToken = ctx.server.adminToken;
      if (setup) await setup(ctx);
      assertContract('setup');
    },
    { timeout: 60_000 },
  );
  after(async () => {
    if (!ctx.server) return;
    const crashed = ctx.server.crashed;
    const info = await ctx.server.stop();
    if (crashed) throw new Error(`bookd exited on its own during the tests: ${JSON.stringify(crashed)}`);
    if (info.killed) throw new Error('bookd did not exit within 10 s of SIGTERM');
    if (!(info.code === 0 || info.signal === 'SIGTERM')) throw new Error(`bookd exited uncleanly after SIGTERM: ${JSON.stringify(info)}`);
  });
  return ctx;
}

/**
 * Like useServer, with `count` bookd processes on the one database (each
 * with `env`, all with one admin token). `ctx.api` sends each request to
 * the next server in turn, so requests sent together are split across
 * them; `ctx.apis[i]` reaches server i alone, and `ctx.answered[i]` counts
 * the answers server i gave, by status.
 */
export function useServers({ count = 2, env = {}, setup } = {}) {
  const ctx = { servers: [], apis: [], answered: [], server: null, api: null, adminToken: null };
  const adminToken = randomBytes(24).toString('hex');
  before(
    async () => {
      ctx.servers = await Promise.all(
        Array.from({ length: count }, () => startServer({ env: { ...env, BOOKD_ADMIN_TOKEN: adminToken } })),
      );
      ctx.server = ctx.servers[0];
      ctx.adminToken = adminToken;
      ctx.apis = ctx.servers.map((s, i) => {
        const api = makeApi(s.url);
        ctx.answered[i] = {};
        return async (...args) => {
          const res = await api(...args);
          ctx.answered[i][res.status] = (ctx.answered[i][res.status] || 0) + 1;
          return res;
        };
      });
      let next = 0;
      ctx.api = (...args) => ctx.apis[next++ % count](...args);
      if (setup) await setup(ctx);
      assertContract('setup');
    },
    { timeout: 60_000 },
  );
  after(async () => {
    const problems = [];
    for (const [i, server] of ctx.servers.entries()) {
      const crashed = server.crashed;
      const info = await server.stop();
      if (crashed) problems.push(`bookd ${i} exited on its own during the tests: ${JSON.stringify(crashed)}`);
      else if (info.killed) problems.push(`bookd ${i} did not exit within 10 s of SIGTERM`);
      else if (!(info.code === 0 || info.signal === 'SIGTERM')) problems.push(`bookd ${i} exited uncleanly after SIGTERM: ${JSON.stringify(info)}`);
    }
    if (problems.length) throw new Error(problems.join('\n'));
  });
  return ctx;
}

/** Readable summary of a response for assertion messages. */
export function show(res) {
  if (!res) return String(res);
  const body = res.raw.length > 600 ? `${res.raw.slice(0, 600)}…` : res.raw;
  return `${res.status} ${body}`;
}

export function expectStatus(res, status, what = '') {
  assert.equal(res.status, status, `${what ? what + ': ' : ''}expected ${status}, got ${show(res)}`);
  return res.body;
}

/**
 * Asserts an error response: status, `error` code, a message, and for
 * invalid_request with `field` given, the field (a string: exact; a RegExp: matched;
 * an array: one of).
 */
export function expectError(res, status, code, field, what = '') {
  const pre = what ? `${what}: ` : '';
  assert.equal(res.status, status, `${pre}expected ${status} ${code}, got ${show(res)}`);
  assert.ok(res.body && typeof res.body === 'object', `${pre}error body is not a JSON object: ${show(res)}`);
  assert.equal(res.body.error, code, `${pre}error code: ${show(res)}`);
  assert.equal(typeof res.body.message, 'string', `${pre}error without message: ${show(res)}`);
  assert.ok(res.body.message.length > 0, `${pre}empty error message`);
  if (field !== undefined) {
    const f = res.body.field;
    if (field instanceof RegExp) assert.match(String(f), field, `${pre}field: ${show(res)}`);
    else if (Array.isArray(field)) assert.ok(field.includes(f), `${pre}field ${JSON.stringify(f)} not one of ${JSON.stringify(field)}: ${show(res)}`);
    else assert.equal(f, field, `${pre}field: ${show(res)}`);
  }
  return res.body;
}

// ---------------------------------------------------------------- fixtures

/** POST /api/orgs with the server admin token; returns the 201 body. */
export async function createOrg(ctx, { name = `Org ${rnd()}`, timezone = 'UTC' } = {}) {
  const res = await ctx.api('POST', '/api/orgs', { key: ctx.adminToken, body: { name, timezone } });
  expectStatus(res, 201, `create organization ${name} (${timezone})`);
  return res.body;
}

export async function createContact(ctx, key, body = {}) {
  const b = { name: `Test Person ${rnd()}`, ...body };
  const res = await ctx.api('POST', '/api/contacts', { key, body: b });
  expectStatus(res, 201, 'create contact');
  return res.body;
}

export async function createProvider(ctx, key, body = {}) {
  const res = await ctx.api('POST', '/api/providers', { key, body: { name: `Provider ${rnd()}`, ...body } });
  expectStatus(res, 201, 'create provider');
  return res.body;
}

export async function createService(ctx, key, body = {}) {
  const res = await ctx.api('POST', '/api/services', {
    key,
    body: { name: `Service ${rnd()}`, durationMinutes: 30, ...body },
  });
  expectStatus(res, 201, 'create service');
  return res.body;
}

/** POST /api/appointments; returns the raw response (no status assertion). */
export function book(ctx, key, body, headers = {}) {
  return ctx.api('POST', '/api/appointments', { key, body, headers });
}

/** Books and asserts 201; returns the appointment. */
export async function bookOk(ctx, key, body, what = 'book') {
  const res = await book(ctx, key, body);
  expectStatus(res, 201, what);
  return res.body.appointment;
}

/** Every appointment of a GET /api/appointments query, walking all pages. */
export async function listAll(ctx, key, query = {}, { maxPages = 200 } = {}) {
  const all = [];
  const pages = [];
  let cursor = query.cursor; // a walk may start from a given cursor
  for (let i = 0; i < maxPages; i++) {
    const res = await ctx.api('GET', '/api/appointments', { key, query: { ...query, cursor } });
    expectStatus(res, 200, `list appointments ${JSON.stringify({ ...query, cursor })}`);
    pages.push(res.body.appointments);
    all.push(...res.body.appointments);
    if (res.body.nextCursor === null || res.body.nextCursor === undefined) return { all, pages };
    assert.equal(typeof res.body.nextCursor, 'string', 'nextCursor is a string or null');
    cursor = res.body.nextCursor;
  }
  assert.fail(`more than ${maxPages} pages of appointments`);
}

export async function auditEntries(ctx, key, query = {}) {
  const res = await ctx.api('GET', '/api/audit-log', { key, query: { limit: 500, ...query } });
  expectStatus(res, 200, 'audit log');
  return res.body.entries;
}

/**
 * Stops the server and checks its log: every line is a JSON object, and no
 * line contains any of `secrets` (keys, tokens, personal data).
 */
export async function stopAndCheckLogs(ctx, secrets) {
  assert.equal(ctx.server.crashed, null, 'bookd exited on its own before SIGTERM');
  const info = await ctx.server.stop();
  assert.equal(info.killed, false, 'bookd did not exit within 10 s of SIGTERM');
  assert.ok(info.code === 0 || info.signal === 'SIGTERM', `clean exit after SIGTERM: ${JSON.stringify(info)}`);
  const lines = ctx.server.logs.filter((l) => l.trim().length);
  assert.ok(lines.length > 0, 'bookd logged nothing');
  for (const line of lines) {
    let obj;
    try {
      obj = JSON.parse(line);
    } catch {
      assert.fail(`log line is not JSON: ${line.slice(0, 300)}`);
    }
    assert.ok(obj && typeof obj === 'object' && !Array.isArray(obj), `log line is not a JSON object: ${line.slice(0, 300)}`);
  }
  const everything = lines.concat(ctx.server.stdoutLines).join('\n');
  const lower = everything.toLowerCase();
  const leaked = secrets.filter((s) => typeof s === 'string' && s.length >= 4 && lower.includes(s.toLowerCase()));
  assert.deepEqual(
    leaked,
    [],
    `the log contains secrets or personal data: ${leaked.map((s) => JSON.stringify(s.slice(0, 40))).join(', ')}`,
  );
}

/** Sorts appointments by (scheduledAt, id), as the list endpoint must. */
export function byTimeThenId(a, b) {
  return a.scheduledAt < b.scheduledAt ? -1 : a.scheduledAt > b.scheduledAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Asserts no two confirmed appointments of one provider overlap (buffers ignored unless given). */
export function assertNoOverlaps(appts, bufferOf = () => [0, 0]) {
  const confirmed = appts.filter((a) => a.status === 'confirmed');
  const byProvider = new Map();
  for (const a of confirmed) {
    if (!byProvider.has(a.providerId)) byProvider.set(a.providerId, []);
    const [bb, ba] = bufferOf(a);
    const start = Date.parse(a.scheduledAt) - bb * 60_000;
    const end = Date.parse(a.scheduledAt) + (a.durationMinutes + ba) * 60_000;
    byProvider.get(a.providerId).push({ start, end, a });
  }
  for (const list of byProvider.values()) {
    list.sort((x, y) => x.start - y.start);
    for (let i = 1; i < list.length; i++) {
      assert.ok(
        list[i].start >= list[i - 1].end,
        `double booking: ${list[i - 1].a.id} ${list[i - 1].a.scheduledAt}+${list[i - 1].a.durationMinutes} overlaps ${list[i].a.id} ${list[i].a.scheduledAt}+${list[i].a.durationMinutes}`,
      );
    }
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Calls `fn` every intervalMs until it returns a truthy value, which is
 * returned; fails after timeoutMs with `what` and the last value seen.
 */
export async function waitUntil(fn, { timeoutMs = 10_000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last && !(typeof last === 'object' && 'ok' in last && !last.ok)) return last;
    if (Date.now() >= deadline) break;
    await sleep(intervalMs);
  }
  const seen = last && typeof last === 'object' && 'seen' in last ? last.seen : last;
  assert.fail(`${what}: not within ${timeoutMs} ms (last seen: ${JSON.stringify(seen)?.slice(0, 1500)})`);
}
