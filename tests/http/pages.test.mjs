// The web pages and what was added for them (docs/web.md; API.md, "Web
// pages", "Self-service links for patients", "Booking policies", "Free
// slots"): GET /book/{orgId} and GET /manage/{token} with the server's config
// spliced in at the page's <!--bookd-config--> line (one page key per
// organization, `<`, `>` and `&` escaped), the 404 page, GET /admin, the
// /static/ files (ETag, 304, names that cannot leave web/), the headers of
// every page and asset (Content-Security-Policy without 'unsafe-inline',
// framing, nosniff, no-referrer, caching), HEAD; the page key as a public key
// limited per client address; GET /api/availability/days against GET
// /api/availability (bookings, holds, closed days, services, daylight saving,
// the policies for public keys, errors); GET /metrics/history.
//
// Three servers on one database: the file's own one reads its pages from a
// temporary BOOKD_WEB_DIR holding minimal pages with the marker line, so the
// config tests do not depend on the real pages' content; a second one serves
// the pages built into the binary, against which only what holds for any page
// is checked (status, headers, one config element); the rate-limit test
// starts a third with BOOKD_RATE_LIMIT_PUBLIC=2/3. Organizations whose
// weekday hours matter use the default provider (Monday-Friday 09:00-17:00)
// two or more weeks ahead; the daylight-saving test a provider open every
// day 00:00-23:45 in Europe/London on the next change dates.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import {
  assert, ctest, useServer, createOrg, createContact, createProvider, createService, expectStatus, expectError,
  book, bookOk, auditEntries, rnd, digits, randomUUID, UUID_RE,
} from './lib/harness.mjs';
import { startServer } from './lib/server.mjs';
import { makeApi } from './lib/client.mjs';
import { zonedToUtc, nextWeekday, todayIn, addDays, weekdayOf, lastSundayOfMarch, ISO_MS_Z } from './lib/time.mjs';

const UTC = 'UTC';
const LONDON = 'Europe/London';
const PUBLIC_URL = 'https://book.example.test';
const MARKER = '<!--bookd-config-->';
const OPEN = '<script type="application/json" id="bookd-config">';
const CLOSE = '</script>';
const PAGE_KEY_RE = /^bk_page_[A-Za-z0-9_-]{20,}$/;
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;
const BOOK_KEYS = ['defaultProviderId', 'name', 'orgId', 'publicKey', 'timezone'];
const MANAGE_KEYS = [...BOOK_KEYS, 'durationMinutes', 'providerId', 'serviceId', 'token'].sort();
const WEEK = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const MINUTE = 60_000;
const fileStart = Date.now();

// ------------------------------------------------------------------ the test pages

/** A minimal page: the marker on a line of its own between fixed text. */
const page = (title) =>
  `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${title}</title>\n${MARKER}\n` +
  `<script type="module" src="/static/test.js"></script>\n</head>\n<body><main>${title} &amp; more</main></body>\n</html>\n`;
const TEST_PAGES = {
  'book.html': page('TEST BOOK PAGE'),
  'manage.html': page('TEST MANAGE PAGE'),
  'admin.html': page('TEST ADMIN PAGE'),
  'notfound.html': '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>TEST NOT FOUND</title></head><body>TEST NOT FOUND</body></html>\n',
  'unavailable.html': '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>TEST UNAVAILABLE</title></head><body>TEST UNAVAILABLE</body></html>\n',
  'test.js': 'export const x = 1;\n',
};
const WEB_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'bookd-pages-test-'));
for (const [name, text] of Object.entries(TEST_PAGES)) fs.writeFileSync(path.join(WEB_DIR, name), text);
after(() => fs.rmSync(WEB_DIR, { recursive: true, force: true }));

/** The file's server: the test pages, manage links under PUBLIC_URL. */
const ctx = useServer({
  env: { BOOKD_WEB_DIR: WEB_DIR, BOOKD_PUBLIC_URL: PUBLIC_URL },
  setup: async (c) => {
    c.org = await createOrg(c, { name: `Pages Clinic ${rnd()}`, timezone: LONDON });
  },
});
/** A second server on the same database with the pages built into the binary. */
const real = useServer({ env: { BOOKD_PUBLIC_URL: PUBLIC_URL } });

// ------------------------------------------------------------------ helpers

const at = (date, time, tz = UTC) => zonedToUtc(date, time, tz).toISOString();
const randomToken = () => randomBytes(32).toString('base64url');

function expectHtml(res, status, what) {
  expectStatus(res, status, what);
  assert.match(String(res.headers['content-type']), /^text\/html;\s*charset=utf-8$/i, `${what}: Content-Type ${res.headers['content-type']}`);
}

/**
 * The config element of a page: exactly one `<script type="application/json"
 * id="bookd-config">`, its text without a raw '<', '>' or '&'. Returns
 * {text, config}.
 */
function configOf(res, what) {
  const body = res.raw;
  const parts = body.split(OPEN);
  assert.equal(parts.length, 2, `${what}: exactly one config element (found ${parts.length - 1}): ${body.slice(0, 600)}`);
  const end = parts[1].indexOf(CLOSE);
  assert.ok(end >= 0, `${what}: the config element is closed`);
  const text = parts[1].slice(0, end);
  assert.ok(!/[<>&]/.test(text), `${what}: no raw '<', '>' or '&' in the config: ${text}`);
  let config;
  try {
    config = JSON.parse(text);
  } catch (e) {
    assert.fail(`${what}: the config is not JSON (${e.message}): ${text}`);
  }
  return { text, config };
}

/** A test page as served: the file with its marker line replaced by the config element, nothing else changed. */
function assertSpliced(res, file, text, what) {
  assert.equal(res.raw, TEST_PAGES[file].replace(MARKER, `${OPEN}${text}${CLOSE}`), `${what}: the page is ${file} with the config at its marker`);
}

/** GET /book/{id} on a server → 200 page; returns its config (checked for shape). */
async function bookPage(orgId, c = ctx, what = `GET /book/${orgId}`) {
  const res = await c.api('GET', `/book/${orgId}`);
  expectHtml(res, 200, what);
  const { text, config } = configOf(res, what);
  if (c === ctx) assertSpliced(res, 'book.html', text, what);
  assert.deepEqual(Object.keys(config).sort(), BOOK_KEYS, `${what}: config fields: ${text}`);
  assert.match(String(config.publicKey), PAGE_KEY_RE, `${what}: publicKey is a page key`);
  return config;
}

/** GET /manage/{token} on the file's server → 200 page; returns {config, res}. */
async function managePage(token, what = `GET /manage/{token}`) {
  const res = await ctx.api('GET', `/manage/${token}`);
  expectHtml(res, 200, what);
  const { text, config } = configOf(res, what);
  assertSpliced(res, 'manage.html', text, what);
  return { config, res };
}

/** A token that works no more (or never did): the page is served with only {token, publicKey: null}. */
async function manageGone(token, orgs, what) {
  const { config, res } = await managePage(token, what);
  assert.deepEqual(config, { token, publicKey: null }, `${what}: only the token and a null key`);
  for (const o of orgs) {
    for (const s of [o.id, o.name, o.defaultProviderId]) assert.ok(!res.raw.includes(s), `${what}: nothing about the organization (${s})`);
  }
}

/** A new organization of the file's server. */
const newOrg = (timezone = UTC, name = `Pages Org ${rnd()}`) => createOrg(ctx, { name, timezone });

function parseCsp(csp) {
  const d = {};
  for (const part of String(csp).split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) d[name.toLowerCase()] = values;
  }
  return d;
}

/**
 * The headers of a page or asset: a CSP with default-src 'none' and
 * script-src 'self' and no 'unsafe-inline'; nosniff; no-referrer; framing
 * (frameable: frame-ancestors * and no X-Frame-Options; false: 'none' and
 * X-Frame-Options DENY; undefined: not checked); pages no-store.
 */
function assertPageHeaders(res, { frameable, page: isPage = true }, what) {
  const h = res.headers;
  const csp = h['content-security-policy'];
  assert.equal(typeof csp, 'string', `${what}: Content-Security-Policy is set`);
  const d = parseCsp(csp);
  assert.deepEqual(d['default-src'], ["'none'"], `${what}: default-src 'none': ${csp}`);
  assert.ok(d['script-src'] && d['script-src'].includes("'self'"), `${what}: script-src 'self': ${csp}`);
  assert.ok(!csp.includes("'unsafe-inline'"), `${what}: no 'unsafe-inline': ${csp}`);
  assert.ok(!csp.includes("'unsafe-eval'"), `${what}: no 'unsafe-eval': ${csp}`);
  if (frameable === true) {
    assert.deepEqual(d['frame-ancestors'], ['*'], `${what}: frame-ancestors *: ${csp}`);
    assert.equal(h['x-frame-options'], undefined, `${what}: no X-Frame-Options (the page may be framed)`);
  } else if (frameable === false) {
    assert.deepEqual(d['frame-ancestors'], ["'none'"], `${what}: frame-ancestors 'none': ${csp}`);
    assert.equal(h['x-frame-options'], 'DENY', `${what}: X-Frame-Options: DENY`);
  }
  assert.equal(h['x-content-type-options'], 'nosniff', `${what}: X-Content-Type-Options: nosniff`);
  assert.equal(h['referrer-policy'], 'no-referrer', `${what}: Referrer-Policy: no-referrer`);
  if (isPage) assert.equal(h['cache-control'], 'no-store', `${what}: Cache-Control: no-store`);
}

/** HEAD answers GET's status and headers (type, length, CSP, framing), without a body. */
async function assertHeadLikeGet(c, p, get, what) {
  const head = await c.api('HEAD', p);
  assert.equal(head.status, get.status, `${what}: HEAD status`);
  assert.equal(head.rawBuffer.length, 0, `${what}: HEAD has no body`);
  for (const k of ['content-type', 'content-security-policy', 'x-frame-options', 'x-content-type-options', 'referrer-policy', 'cache-control', 'etag']) {
    assert.equal(head.headers[k], get.headers[k], `${what}: HEAD ${k}`);
  }
  assert.equal(head.headers['content-length'], String(get.rawBuffer.length), `${what}: HEAD Content-Length is GET's body length`);
}

/** A request whose path is sent exactly as given (no URL normalization): {status, headers, raw}. */
function rawPathRequest(baseUrl, rawPath, method = 'GET') {
  return new Promise((resolve, reject) => {
    const u = new URL(baseUrl);
    const req = http.request({ host: u.hostname, port: u.port, path: rawPath, method, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, raw: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${rawPath}: no answer within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** A contact and a booking made with a public-scope key → {appt, token, contact}. */
async function publicBooking(key, body, what = 'public booking') {
  const contact = await createContact(ctx, key, { name: `Page Patient ${rnd()}`, phone: `+4479${digits(8)}` });
  const res = await book(ctx, key, { contactId: contact.id, durationMinutes: 30, ...body });
  const b = expectStatus(res, 201, what);
  assert.deepEqual(Object.keys(b).sort(), ['appointment', 'appointmentId', 'manageUrl'], `${what}: fields`);
  assert.ok(b.manageUrl.startsWith(`${PUBLIC_URL}/manage/`), `${what}: manageUrl under BOOKD_PUBLIC_URL: ${b.manageUrl}`);
  const token = b.manageUrl.slice(`${PUBLIC_URL}/manage/`.length);
  assert.match(token, TOKEN_RE, `${what}: a 43-character token`);
  return { appt: b.appointment, token, contact };
}

/** The first Monday-Friday date at least n days after today in tz. */
function workdayAhead(tz, n) {
  let d = addDays(todayIn(tz), n);
  while (['sat', 'sun'].includes(weekdayOf(d))) d = addDays(d, 1);
  return d;
}

/** The dates from..to inclusive. */
function datesFrom(from, to) {
  const out = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}

/** GET /api/availability/days → 200 (shape checked: one entry per date, in order); returns {date: freeSlots}. */
async function daysOf(key, query, what = `days ${JSON.stringify(query)}`, c = ctx) {
  const res = await c.api('GET', '/api/availability/days', { key, query });
  const b = expectStatus(res, 200, what);
  assert.match(String(res.headers['content-type']), /^application\/json;\s*charset=utf-8$/i, `${what}: JSON`);
  assert.deepEqual(Object.keys(b).sort(), ['days', 'timezone'], `${what}: fields`);
  assert.deepEqual(b.days.map((x) => x.date), datesFrom(query.from, query.to), `${what}: one entry per date, from to to inclusive, in order`);
  const out = {};
  for (const x of b.days) {
    assert.deepEqual(Object.keys(x).sort(), ['date', 'freeSlots'], `${what}: day fields`);
    assert.ok(Number.isInteger(x.freeSlots) && x.freeSlots >= 0, `${what}: freeSlots a count`);
    out[x.date] = x.freeSlots;
  }
  out.timezone = b.timezone;
  return out;
}

/** The number of slots GET /api/availability offers on a date with the same parameters. */
async function slotCount(key, date, query, c = ctx) {
  const { from, to, ...rest } = query;
  const res = await c.api('GET', '/api/availability', { key, query: { date, ...rest } });
  return expectStatus(res, 200, `GET /api/availability ${date} ${JSON.stringify(rest)}`).slots.length;
}

/** Days and slots agree for every date of the range; returns the days. */
async function daysMatchSlots(key, query, what) {
  const days = await daysOf(key, query, what);
  for (const date of datesFrom(query.from, query.to)) {
    assert.equal(days[date], await slotCount(key, date, query), `${what}: ${date} (${weekdayOf(date)}) has as many free slots as GET /api/availability offers`);
  }
  return days;
}

/** The last Sunday of October of `year` (Europe/London falls back). */
function lastSundayOfOctober(year) {
  let d = `${year}-10-31`;
  while (weekdayOf(d) !== 'sun') d = addDays(d, -1);
  return d;
}

/** The first date given by f(year) (this year or next) at least two days after today (UTC). */
function nextOf(f) {
  const y = Number(todayIn(UTC).slice(0, 4));
  const soon = addDays(todayIn(UTC), 2);
  return f(y) >= soon ? f(y) : f(y + 1);
}

async function setPolicies(org, policies) {
  const res = await ctx.api('PATCH', '/api/orgs/me', { key: org.adminKey, body: { policies } });
  const o = expectStatus(res, 200, `PATCH policies ${JSON.stringify(policies)}`);
  for (const [k, v] of Object.entries(policies)) assert.equal(o.policies[k], v, `${k} is set`);
}

// ------------------------------------------------------------------ the booking page

ctest('GET /book/{orgId} → 200 text/html: the page with one bookd-config element {orgId, name, timezone, defaultProviderId, publicKey "bk_page_…"} at its marker; the same key on every visit; other organizations have other keys; a page key is not the public key', async () => {
  const org = ctx.org;
  const c1 = await bookPage(org.id);
  assert.deepEqual(
    { ...c1, publicKey: undefined },
    { orgId: org.id, name: org.name, timezone: LONDON, defaultProviderId: org.defaultProviderId, publicKey: undefined },
    'the organization in the config',
  );
  assert.notEqual(c1.publicKey, org.publicKey, 'the page key is its own key, not the public key shown at creation');
  assert.notEqual(c1.publicKey, org.adminKey);
  const c2 = await bookPage(org.id, ctx, 'a second visit');
  assert.equal(c2.publicKey, c1.publicKey, 'one page key per organization: the same key on a second visit');
  const other = await newOrg(UTC);
  const c3 = await bookPage(other.id, ctx, 'another organization');
  assert.equal(c3.orgId, other.id);
  assert.equal(c3.timezone, UTC);
  assert.notEqual(c3.publicKey, c1.publicKey, 'two organizations get different page keys');
  // Many first visits at once still make one key.
  const fresh = await newOrg(UTC);
  const all = await Promise.all(Array.from({ length: 6 }, () => bookPage(fresh.id, ctx, 'concurrent first visits')));
  assert.equal(new Set(all.map((c) => c.publicKey)).size, 1, `concurrent first visits agree on one key: ${all.map((c) => c.publicKey).join(', ')}`);
  assert.equal((await bookPage(fresh.id)).publicKey, all[0].publicKey, 'and it stays');
  // The other server (same database) hands out the same key.
  const r = await real.api('GET', `/book/${org.id}`);
  expectHtml(r, 200, 'the built-in booking page');
  assert.equal(configOf(r, 'the built-in booking page').config.publicKey, c1.publicKey, 'the built-in page carries the same page key');
});

ctest('an organization named "</script><script>alert(1)</script> & <!--": its config has no raw <, > or & (escaped \\u003c, \\u003e, \\u0026) and parses back to the exact name; the page around it is unchanged', async () => {
  const name = `</script><script>alert(1)</script> & <!-- ${rnd()}`;
  const org = await newOrg(UTC, name);
  assert.equal(org.name, name, 'the name is stored as given');
  const res = await ctx.api('GET', `/book/${org.id}`);
  expectHtml(res, 200, 'the booking page');
  const { text, config } = configOf(res, 'the booking page');
  assert.equal(config.name, name, 'JSON.parse gives back the exact name');
  assert.ok(text.includes('\\u003c/script\\u003e'), `'<' and '>' are written \\u003c and \\u003e: ${text}`);
  assert.ok(text.includes('\\u0026'), `'&' is written \\u0026: ${text}`);
  assert.ok(!res.raw.includes('<script>alert(1)'), 'no script element from the name');
  assert.ok(!res.raw.includes('<!-- '), 'no comment opened by the name');
  assertSpliced(res, 'book.html', text, 'the booking page');
  // Quotes, backslashes, line separators and characters beyond ASCII come back exactly too.
  const intl = `Zahnärzte "Müller" \\ O'Brien \u2028 \u2029 😀 ${rnd()}`;
  const org2 = await newOrg(UTC, intl);
  const c2 = configOf(await ctx.api('GET', `/book/${org2.id}`), 'a name beyond ASCII').config;
  assert.equal(c2.name, intl, 'JSON.parse gives back the exact name');
  // The manage page of a booking there escapes it the same way.
  const { token } = await publicBooking(config.publicKey, { scheduledAt: at(workdayAhead(UTC, 14), '10:00') }, 'a booking there');
  const m = await managePage(token, 'its manage page');
  assert.equal(m.config.name, name, 'the manage page\'s config gives back the exact name');
});

ctest('GET /book/{unknown organization id} → 404 text/html page (notfound.html) with the page headers, no config; a malformed id → 404', async () => {
  const res = await ctx.api('GET', `/book/${randomUUID()}`);
  expectHtml(res, 404, 'an unknown organization');
  assert.equal(res.raw, TEST_PAGES['notfound.html'], 'the not-found page is served');
  assert.ok(!res.raw.includes(OPEN), 'no config');
  assertPageHeaders(res, { frameable: true }, 'the 404 page');
  const r = await real.api('GET', `/book/${randomUUID()}`);
  expectHtml(r, 404, 'an unknown organization, built-in pages');
  assert.ok(!r.raw.includes(OPEN), 'no config on the built-in 404 page');
  for (const bad of ['not-a-uuid', '12345', `${randomUUID()}x`]) {
    const b = await rawPathRequest(ctx.server.url, `/book/${bad}`);
    assert.equal(b.status, 404, `/book/${bad}: ${b.status} ${b.raw.slice(0, 200)}`);
    assert.ok(!b.raw.includes(OPEN), `/book/${bad}: no config`);
  }
});

ctest('GET /book/{malformed id} is the 404 page too (docs/web.md: "An unknown organization (or a malformed id) is a 404 page"; openapi.json: 404 text/html)', async () => {
  const res = await ctx.api('GET', '/book/not-a-uuid');
  expectHtml(res, 404, 'a malformed id');
  assert.equal(res.raw, TEST_PAGES['notfound.html'], 'the not-found page is served');
});

// ------------------------------------------------------------------ headers, static files

ctest('headers of the built-in pages and assets: CSP with script-src \'self\' and no \'unsafe-inline\'; book and manage frame-ancestors * without X-Frame-Options; /admin frame-ancestors \'none\' and X-Frame-Options DENY; nosniff and no-referrer everywhere (JSON answers too); pages no-store; HEAD like GET without a body', async () => {
  const org = await newOrg(UTC);
  const cases = [
    [`/book/${org.id}`, true, 'the booking page'],
    [`/manage/${randomToken()}`, true, 'the manage page'],
    ['/admin', false, 'the dashboard'],
  ];
  for (const [p, frameable, what] of cases) {
    const res = await real.api('GET', p);
    expectHtml(res, 200, what);
    assertPageHeaders(res, { frameable }, what);
    configOf(res, what); // one config element, escaped
    await assertHeadLikeGet(real, p, res, what);
  }
  const adminConfig = configOf(await real.api('GET', '/admin'), 'the dashboard').config;
  assert.deepEqual(adminConfig, {}, 'the dashboard\'s config is {}');
  const js = await real.api('GET', '/static/common.js');
  expectStatus(js, 200, '/static/common.js');
  assert.match(String(js.headers['content-type']), /^text\/javascript/, 'a script is text/javascript');
  assertPageHeaders(js, { page: false }, '/static/common.js');
  // A JSON answer of the API carries nosniff and no-referrer as well.
  for (const [c, p, key] of [[real, '/health'], [ctx, '/api/providers', org.adminKey]]) {
    const j = await c.api('GET', p, { key });
    expectStatus(j, 200, p);
    assert.equal(j.headers['x-content-type-options'], 'nosniff', `${p}: nosniff`);
    assert.equal(j.headers['referrer-policy'], 'no-referrer', `${p}: no-referrer`);
  }
  // The test pages (BOOKD_WEB_DIR) get the same headers.
  for (const [p, frameable, what] of [[`/book/${org.id}`, true, 'test booking page'], [`/manage/${randomToken()}`, true, 'test manage page'], ['/admin', false, 'test dashboard']]) {
    const res = await ctx.api('GET', p);
    expectHtml(res, 200, what);
    assertPageHeaders(res, { frameable }, what);
    await assertHeadLikeGet(ctx, p, res, what);
  }
  const a = await ctx.api('GET', '/admin');
  assert.deepEqual(configOf(a, 'test dashboard').config, {}, 'the dashboard\'s config is {}');
  assertSpliced(a, 'admin.html', '{}', 'test dashboard');
});

ctest('/static/: no-cache with an ETag; If-None-Match with it → 304 without a body; another tag → 200; HEAD like GET; ../, hidden, upper-case and unknown names → 404; POST /admin → 405 with Allow', async () => {
  const js = await real.api('GET', '/static/common.js');
  expectStatus(js, 200, 'GET /static/common.js');
  assert.ok(js.rawBuffer.length > 0, 'a body');
  assert.equal(js.headers['cache-control'], 'no-cache', 'Cache-Control: no-cache');
  const etag = js.headers.etag;
  assert.match(String(etag), /^(W\/)?"[^"]+"$/, `an ETag: ${etag}`);
  const again = await real.api('GET', '/static/common.js');
  assert.equal(again.headers.etag, etag, 'the same ETag for the same file');
  const nm = await real.api('GET', '/static/common.js', { headers: { 'If-None-Match': etag } });
  assert.equal(nm.status, 304, `If-None-Match with the ETag → 304, got ${nm.status}`);
  assert.equal(nm.rawBuffer.length, 0, '304 has no body');
  assert.equal(nm.headers.etag, etag, '304 repeats the ETag');
  const other = await real.api('GET', '/static/common.js', { headers: { 'If-None-Match': '"not-this-one"' } });
  expectStatus(other, 200, 'If-None-Match with another tag');
  assert.equal(other.raw, js.raw, 'the whole file again');
  await assertHeadLikeGet(real, '/static/common.js', js, 'HEAD /static/common.js');

  for (const p of ['/static/../x', '/static/..%2fopenapi.json', '/static/.hidden', '/static/UPPER.js', '/static/nope.js', '/static/', '/static/common.js/x']) {
    for (const c of [real, ctx]) {
      const r = await rawPathRequest(c.server.url, p);
      assert.equal(r.status, 404, `${p} → 404, got ${r.status} ${r.raw.slice(0, 200)}`);
      assert.ok(!r.raw.includes('bookd-config') && !r.raw.includes('export'), `${p}: no file served`);
    }
  }
  // A page is not a static file of another name, and the test dir's file is not served by the built-in server.
  expectError(await real.api('GET', '/static/nope.js'), 404, 'not_found', undefined, 'an unknown file');
  expectError(await real.api('GET', '/static/test.js'), 404, 'not_found', undefined, 'a file only in BOOKD_WEB_DIR');
  const served = await ctx.api('GET', '/static/test.js');
  expectStatus(served, 200, 'a file of BOOKD_WEB_DIR');
  assert.equal(served.raw, TEST_PAGES['test.js']);

  for (const c of [real, ctx]) {
    const post = await c.api('POST', '/admin', { body: {} });
    expectError(post, 405, 'method_not_allowed', undefined, 'POST /admin');
    assert.match(String(post.headers.allow), /\bGET\b/, `Allow names GET: ${post.headers.allow}`);
    const put = await c.api('PUT', `/book/${randomUUID()}`, { body: {} });
    expectError(put, 405, 'method_not_allowed', undefined, 'PUT /book/{id}');
  }
});

// ------------------------------------------------------------------ the manage page

ctest('GET /manage/{token} of a page-key booking → 200 with {token, publicKey (the booking page\'s key), orgId, name, timezone, defaultProviderId, providerId, serviceId, durationMinutes}; without a service serviceId is null', async () => {
  const org = ctx.org;
  const cfg = await bookPage(org.id);
  const p = await createProvider(ctx, org.adminKey, { name: `Dr Page ${rnd()}` });
  const s = await createService(ctx, org.adminKey, { name: `Check-up ${rnd()}`, durationMinutes: 45 });
  const day = nextWeekday(LONDON, 'tue', 14);
  const A = await publicBooking(cfg.publicKey, { providerId: p.id, serviceId: s.id, durationMinutes: undefined, scheduledAt: at(day, '10:00', LONDON) }, 'with a service');
  assert.equal(A.appt.durationMinutes, 45);
  const { config, res } = await managePage(A.token, 'with a service');
  assert.deepEqual(Object.keys(config).sort(), MANAGE_KEYS, `the manage config fields: ${JSON.stringify(config)}`);
  assert.deepEqual(config, {
    token: A.token, publicKey: cfg.publicKey, orgId: org.id, name: org.name, timezone: LONDON,
    defaultProviderId: org.defaultProviderId, providerId: p.id, serviceId: s.id, durationMinutes: 45,
  }, 'the manage config');
  assert.ok(!res.raw.includes(A.contact.name) && !res.raw.includes(A.contact.phone) && !res.raw.includes(A.contact.id), 'nothing about the contact');
  assert.ok(!res.raw.includes(A.appt.id), 'not the appointment id either');
  // The ordinary public key makes manage links too; the page key is the same.
  const B = await publicBooking(org.publicKey, { scheduledAt: at(day, '14:00', LONDON), durationMinutes: 20 }, 'the public key, no service');
  const b = (await managePage(B.token, 'without a service')).config;
  assert.deepEqual(b, {
    token: B.token, publicKey: cfg.publicKey, orgId: org.id, name: org.name, timezone: LONDON,
    defaultProviderId: org.defaultProviderId, providerId: org.defaultProviderId, serviceId: null, durationMinutes: 20,
  }, 'the manage config without a service');
});

ctest('the manage page of an organization nobody opened the booking page of makes its page key; the booking page then shows the same one', async () => {
  const org = await newOrg(UTC);
  const A = await publicBooking(org.publicKey, { scheduledAt: at(workdayAhead(UTC, 14), '11:00') });
  const m = (await managePage(A.token, 'first the manage page')).config;
  assert.match(String(m.publicKey), PAGE_KEY_RE, 'a page key');
  assert.equal((await bookPage(org.id)).publicKey, m.publicKey, 'the booking page has the same key');
  assert.equal((await managePage(A.token, 'again')).config.publicKey, m.publicKey, 'and the manage page keeps it');
});

ctest('GET /manage/{token} for a token that does not work → 200 with only {token, publicKey: null}: a random 43-character token, after a cancel through the link, after the appointment was moved (by the admin and through the link), after the admin cancelled; a malformed token → 404', async () => {
  const org = await newOrg(UTC);
  const key = (await bookPage(org.id)).publicKey;
  const orgs = [org, ctx.org];
  await manageGone(randomToken(), orgs, 'a random token');
  const day = workdayAhead(UTC, 14);

  const A = await publicBooking(key, { scheduledAt: at(day, '09:00') }, 'A');
  await managePage(A.token, 'A works');
  expectStatus(await ctx.api('POST', `/api/manage/${A.token}/cancel`), 200, 'cancel through the link');
  await manageGone(A.token, orgs, 'after a cancel through the link');

  const B = await publicBooking(key, { scheduledAt: at(day, '10:00') }, 'B');
  const moved = await ctx.api('POST', `/api/appointments/${B.appt.id}/reschedule`, { key: org.adminKey, body: { scheduledAt: at(day, '11:00') } });
  expectStatus(moved, 200, 'the admin moves it');
  await manageGone(B.token, orgs, 'after the admin moved it');

  const C = await publicBooking(key, { scheduledAt: at(day, '13:00') }, 'C');
  const r = await ctx.api('POST', `/api/manage/${C.token}/reschedule`, { body: { scheduledAt: at(day, '15:00') } });
  const rb = expectStatus(r, 200, 'moved through the link');
  await manageGone(C.token, orgs, 'after it was moved through the link');
  const newToken = rb.manageUrl.slice(`${PUBLIC_URL}/manage/`.length);
  const n = (await managePage(newToken, 'the new link')).config;
  assert.equal(n.token, newToken);
  assert.equal(n.publicKey, key, 'the new link\'s page has the key');
  assert.equal(n.durationMinutes, 30);

  const D = await publicBooking(key, { scheduledAt: at(day, '16:00') }, 'D');
  expectStatus(await ctx.api('POST', `/api/appointments/${D.appt.id}/cancel`, { key: org.adminKey, body: {} }), 200, 'the admin cancels');
  await manageGone(D.token, orgs, 'after the admin cancelled');

  // Well-formed but never issued (links carry 16 to 63 base64url characters): the page, saying so.
  for (const t of [randomToken().slice(0, 16), `${randomToken()}x`, randomToken().slice(0, 42)]) await manageGone(t, orgs, `an unknown ${t.length}-character token`);
  // Malformed (a link cut short, or run into the text around it): the not-found page, no config.
  for (const bad of ['short', 'a'.repeat(64), 'a'.repeat(300), `${randomToken().slice(0, 20)}.${randomToken().slice(0, 20)}`, `${randomToken().slice(0, 20)}%21`, `${randomToken()})`]) {
    const res = await rawPathRequest(ctx.server.url, `/manage/${bad}`);
    assert.equal(res.status, 404, `/manage/${bad} → 404, got ${res.status}`);
    assert.match(res.headers['content-type'] ?? '', /^text\/html/, `/manage/${bad}: an HTML page`);
    assert.equal(res.raw, TEST_PAGES['notfound.html'], `/manage/${bad}: the not-found page`);
    assert.ok(!res.raw.includes(OPEN), 'no page');
  }
});

// ------------------------------------------------------------------ the page key

ctest('the page key is a public key: providers, services, availability (slots, check, days), contacts, holds and bookings (201 with manageUrl) work; admin routes → 403; POST /api/orgs → 401; another organization\'s ids are unknown to it', async () => {
  const org = await newOrg(UTC);
  const key = (await bookPage(org.id)).publicKey;
  const s = await createService(ctx, org.adminKey, { name: `Service ${rnd()}`, durationMinutes: 30 });
  const day = workdayAhead(UTC, 14);
  const provs = expectStatus(await ctx.api('GET', '/api/providers', { key }), 200, 'GET /api/providers');
  assert.ok(provs.providers.some((p) => p.id === org.defaultProviderId), 'its own providers');
  const svcs = expectStatus(await ctx.api('GET', '/api/services', { key }), 200, 'GET /api/services');
  assert.deepEqual(svcs.services.map((x) => x.id), [s.id], 'its own services');
  const slots = expectStatus(await ctx.api('GET', '/api/availability', { key, query: { date: day, durationMinutes: 30 } }), 200, 'GET /api/availability');
  assert.equal(slots.slots.length, 31, 'Monday-Friday 09:00-17:00: 31 half-hour starts every 15 minutes');
  expectStatus(await ctx.api('GET', '/api/availability/check', { key, query: { scheduledAt: at(day, '10:00'), durationMinutes: 30 } }), 200, 'GET /api/availability/check');
  await daysOf(key, { from: day, to: addDays(day, 2), durationMinutes: 30 }, 'GET /api/availability/days');
  const contact = await createContact(ctx, key, { name: `Page Patient ${rnd()}`, email: `p.${rnd()}@example.com` });

  const h = await ctx.api('POST', '/api/holds', { key, body: { scheduledAt: at(day, '10:00'), durationMinutes: 30 } });
  const hold = expectStatus(h, 201, 'POST /api/holds');
  const hold2 = expectStatus(await ctx.api('POST', '/api/holds', { key, body: { scheduledAt: at(day, '12:00'), durationMinutes: 30 } }), 201, 'a second hold');
  assert.equal((await ctx.api('DELETE', `/api/holds/${hold2.holdId}`, { key })).status, 204, 'DELETE /api/holds/{id}');
  const res = await book(ctx, key, { contactId: contact.id, scheduledAt: at(day, '10:00'), durationMinutes: 30, holdId: hold.holdId });
  const b = expectStatus(res, 201, 'POST /api/appointments with the hold');
  assert.ok(b.manageUrl.startsWith(`${PUBLIC_URL}/manage/`), `manageUrl: ${b.manageUrl}`);
  assert.ok(!res.raw.includes(key), 'the key is not in the answer');
  // The public rules: a conflict shows times only; outside working hours → 400.
  const conflict = await book(ctx, key, { contactId: contact.id, scheduledAt: at(day, '10:00'), durationMinutes: 30 });
  expectError(conflict, 409, 'slot_unavailable');
  assert.ok(!('id' in (conflict.body.conflictingAppointment || {})), 'no id in the conflict for a public-scope key');
  expectError(await book(ctx, key, { contactId: contact.id, scheduledAt: at(day, '20:00'), durationMinutes: 30 }), 400, 'invalid_request', undefined, 'outside working hours');
  // The audit log names a public key id, never the key.
  const trail = await auditEntries(ctx, org.adminKey, { entityId: b.appointmentId });
  const booked = trail.find((e) => e.action === 'appointment.booked');
  assert.ok(booked, 'the booking is audited');
  assert.match(booked.actor, /^public_key:/, `actor: ${booked.actor}`);
  assert.match(booked.actor.slice('public_key:'.length), UUID_RE, 'a key id');
  assert.ok(!JSON.stringify(trail).includes(key), 'not the key');

  for (const [m, p, body] of [
    ['GET', '/api/appointments'], ['GET', `/api/appointments/${b.appointmentId}`], ['GET', '/api/orgs/me'],
    ['PATCH', '/api/orgs/me', { name: 'x' }], ['POST', '/api/providers', { name: 'x' }], ['GET', `/api/contacts/${contact.id}`],
    ['GET', '/api/audit-log'], ['POST', `/api/appointments/${b.appointmentId}/cancel`, {}], ['GET', '/api/webhook-endpoints'],
  ]) {
    expectError(await ctx.api(m, p, { key, body }), 403, 'forbidden', undefined, `${m} ${p} with the page key`);
  }
  expectError(await ctx.api('POST', '/api/orgs', { key, body: { name: 'x', timezone: UTC } }), 401, 'unauthorized', undefined, 'POST /api/orgs with the page key');
  expectStatus(await ctx.api('GET', `/api/appointments/${b.appointmentId}`, { key: org.adminKey }), 200, 'the booking is there for the admin');
  // Another organization's provider is unknown to it.
  expectError(await ctx.api('GET', '/api/availability', { key, query: { date: day, durationMinutes: 30, providerId: ctx.org.defaultProviderId } }), 400, 'invalid_request', 'providerId', 'another organization\'s provider');
});

ctest('the page key is limited per client address, not per key (BOOKD_RATE_LIMIT_PUBLIC=2/3): after the burst it gets 429 rate_limited with Retry-After, so does another organization\'s page key, a manage route and the booking page from the same address; the public key (per key) still works; after Retry-After the page key works again', async () => {
  const A = await newOrg(UTC);
  const B = await newOrg(UTC);
  const keyA = (await bookPage(A.id)).publicKey;
  const keyB = (await bookPage(B.id)).publicKey;
  const server = await startServer({ env: { BOOKD_RATE_LIMIT_PUBLIC: '2/3', BOOKD_WEB_DIR: WEB_DIR } });
  const own = { server, api: makeApi(server.url), adminToken: server.adminToken };
  try {
    const seen = [];
    let limited = null;
    for (let i = 0; i < 8 && !limited; i++) {
      const res = await own.api('GET', '/api/providers', { key: keyA });
      seen.push(res.status);
      if (res.status === 429) limited = res;
      else expectStatus(res, 200, `quick request ${i + 1} with the page key`);
    }
    assert.deepEqual(seen.slice(0, 3), [200, 200, 200], `the burst of 3 is allowed: ${seen}`);
    assert.ok(limited, `no 429 within 8 quick requests at 2/s with burst 3: ${seen}`);
    assert.ok(seen.length <= 5, `the 429 came late (the 4th or 5th should be): ${seen}`);
    expectError(limited, 429, 'rate_limited');
    const ra = limited.headers['retry-after'];
    assert.match(String(ra), /^\d+$/, `Retry-After is delta-seconds: ${ra}`);
    assert.ok(Number(ra) >= 1 && Number(ra) <= 5, `Retry-After ${ra} fits 2/s`);
    expectError(await own.api('GET', '/api/providers', { key: keyB }), 429, 'rate_limited', undefined, 'another organization\'s page key, never used before, from the same address');
    expectError(await own.api('GET', `/api/manage/${randomToken()}`), 429, 'rate_limited', undefined, 'a manage route from the same address');
    const page = await own.api('GET', `/book/${A.id}`);
    assert.equal(page.status, 429, `the booking page from the same address → 429, got ${page.status}`);
    // The ordinary public key and the admin key have buckets of their own.
    expectStatus(await own.api('GET', '/api/providers', { key: A.publicKey }), 200, 'the public key (per key) still works');
    expectStatus(await own.api('GET', '/api/providers', { key: B.publicKey }), 200, 'the other organization\'s public key too');
    expectStatus(await own.api('GET', '/api/orgs/me', { key: A.adminKey }), 200, 'the admin key too');
    await new Promise((r) => setTimeout(r, Number(ra) * 1000 + 150));
    expectStatus(await own.api('GET', '/api/providers', { key: keyA }), 200, 'after Retry-After the page key works again');
  } finally {
    await server.stop();
  }
}, { timeout: 30_000 });

// ------------------------------------------------------------------ GET /api/availability/days

ctest('GET /api/availability/days: {timezone, days:[{date, freeSlots}]}, one entry per date; each count is what GET /api/availability offers that date (default hours: Saturday and Sunday 0); a booking, a hold, a closed weekday, a service with buffers and stepMinutes change the counts as they change the slots; a cancelled booking frees its times', async () => {
  const org = await newOrg(LONDON);
  const pageKey = (await bookPage(org.id)).publicKey;
  const contact = await createContact(ctx, org.adminKey, { name: `Days Person ${rnd()}` });
  const mon = nextWeekday(LONDON, 'mon', 14);
  const q = { from: mon, to: addDays(mon, 6), durationMinutes: 30 };
  const [tue, wed, thu, fri, sat, sun] = [1, 2, 3, 4, 5, 6].map((n) => addDays(mon, n));
  const expectWeek = (days, want, what) => {
    assert.equal(days.timezone, LONDON, `${what}: the organization's time zone`);
    assert.deepEqual(datesFrom(mon, sun).map((d) => days[d]), want, `${what}: Monday..Sunday`);
  };
  const before = await daysMatchSlots(org.adminKey, q, 'empty week, admin key');
  expectWeek(before, [31, 31, 31, 31, 31, 0, 0], 'empty week: 31 half-hour starts on weekdays, none at the weekend');
  expectWeek(await daysOf(pageKey, q, 'empty week, page key'), [31, 31, 31, 31, 31, 0, 0], 'the page key sees the same');

  await bookOk(ctx, org.adminKey, { contactId: contact.id, scheduledAt: at(tue, '10:00', LONDON), durationMinutes: 30 }, 'Tuesday 10:00-10:30');
  await bookOk(ctx, org.adminKey, { contactId: contact.id, scheduledAt: at(wed, '09:00', LONDON), durationMinutes: 60 }, 'Wednesday 09:00-10:00');
  const h = await ctx.api('POST', '/api/holds', { key: pageKey, body: { scheduledAt: at(thu, '14:00', LONDON), durationMinutes: 30 } });
  expectStatus(h, 201, 'a hold Thursday 14:00-14:30');
  const gone = await bookOk(ctx, org.adminKey, { contactId: contact.id, scheduledAt: at(fri, '11:00', LONDON), durationMinutes: 30 }, 'Friday 11:00');
  expectStatus(await ctx.api('POST', `/api/appointments/${gone.id}/cancel`, { key: org.adminKey, body: {} }), 200, 'cancelled');
  const after1 = await daysMatchSlots(org.adminKey, q, 'after bookings, admin key');
  // 10:00-10:30 takes the starts 09:45, 10:00 and 10:15; 09:00-10:00 takes 09:00..09:45; the hold as a booking.
  expectWeek(after1, [31, 28, 27, 28, 31, 0, 0], 'a booking, a longer one and a hold take exactly their overlapping starts');
  await daysMatchSlots(pageKey, q, 'after bookings, page key');

  // stepMinutes.
  const step = await daysMatchSlots(pageKey, { ...q, stepMinutes: 30 }, 'stepMinutes 30');
  assert.equal(step[mon], 16, 'half-hour steps: 09:00..16:30');
  // A service with buffers.
  const svc = await createService(ctx, org.adminKey, { durationMinutes: 45, bufferAfterMinutes: 15 });
  const withSvc = await daysMatchSlots(pageKey, { from: mon, to: sun, serviceId: svc.id }, 'a service of 45 minutes with 15 after');
  assert.ok(withSvc[mon] < 31 && withSvc[mon] > 0, `a longer service has fewer starts: ${withSvc[mon]}`);
  // A provider closed on Wednesday.
  const p = await createProvider(ctx, org.adminKey, { workingHours: { mon: [['09:00', '12:00']], tue: [['09:00', '17:00']], thu: [['13:00', '17:00']], fri: [['09:00', '17:00']] } });
  const gap = await daysMatchSlots(pageKey, { ...q, providerId: p.id }, 'a provider closed on Wednesday');
  assert.deepEqual(datesFrom(mon, sun).map((d) => gap[d]), [11, 31, 0, 15, 31, 0, 0], 'its own hours: Monday 09:00-12:00, Wednesday closed, Thursday 13:00-17:00');
});

ctest('GET /api/availability/days across daylight-saving changes (Europe/London, provider open every day 00:00-23:45): each date\'s count is GET /api/availability\'s: 94 a day, 90 when the clocks go forward, 98 when they go back', async () => {
  const org = await newOrg(LONDON);
  const p = await createProvider(ctx, org.adminKey, { workingHours: Object.fromEntries(WEEK.map((d) => [d, [['00:00', '23:45']]])) });
  const spring = nextOf(lastSundayOfMarch);
  const autumn = nextOf(lastSundayOfOctober);
  for (const [day, what] of [[spring, 'spring forward'], [autumn, 'fall back']]) {
    const q = { from: addDays(day, -1), to: addDays(day, 1), durationMinutes: 30, providerId: p.id };
    const admin = await daysMatchSlots(org.adminKey, q, `${what} ${day}, admin key`);
    const pub = await daysMatchSlots(org.publicKey, q, `${what} ${day}, public key`);
    assert.deepEqual(pub, admin, `${what}: the same for both keys`);
    assert.equal(admin[addDays(day, -1)], 94, `${what}: the day before has 00:00..23:15 = 94 starts`);
    assert.equal(admin[addDays(day, 1)], 94, `${what}: the day after too`);
    // API.md: local times that do not exist are skipped (01:00-01:45), those that happen twice offered at both instants.
    if (day === spring) assert.equal(admin[day], 90, `spring forward: 01:00..01:45 do not exist on ${day}: 94 - 4`);
    else assert.equal(admin[day], 98, `fall back: 01:00..01:45 happen twice on ${day}: 94 + 4`);
  }
});

ctest('GET /api/availability/days with the policies: for a public-scope key (page key, public key) minimumNoticeMinutes and bookingHorizonDays cut the days as they cut free slots; the admin key is not bound', async () => {
  const org = await newOrg(UTC);
  const pageKey = (await bookPage(org.id)).publicKey;
  await setPolicies(org, { minimumNoticeMinutes: 2880, bookingHorizonDays: 10 });
  const today = todayIn(UTC);
  const q = { from: today, to: addDays(today, 20), durationMinutes: 30 };
  const pub = await daysMatchSlots(pageKey, q, 'page key with policies');
  const pub2 = await daysOf(org.publicKey, q, 'public key with policies');
  const adm = await daysMatchSlots(org.adminKey, q, 'admin key with policies');
  for (let n = 0; n <= 20; n++) {
    const d = addDays(today, n);
    const weekend = ['sat', 'sun'].includes(weekdayOf(d));
    assert.equal(pub2[d], pub[d], `${d}: the public key and the page key agree`);
    if (n >= 1) assert.equal(adm[d], weekend ? 0 : 31, `${d}: the admin key is bound by neither policy`);
    if (n <= 1) assert.equal(pub[d], 0, `${d}: sooner than the 2-day notice: nothing for a public key`);
    else if (n >= 3 && n <= 9) assert.equal(pub[d], adm[d], `${d}: inside notice and horizon: as the admin sees`);
    else if (n >= 11) assert.equal(pub[d], 0, `${d}: past the 10-day horizon: nothing for a public key`);
  }
  await setPolicies(org, { minimumNoticeMinutes: 0, bookingHorizonDays: 0 });
  const open = await daysOf(pageKey, { from: addDays(today, 11), to: addDays(today, 20), durationMinutes: 30 }, 'without policies');
  for (let n = 11; n <= 20; n++) {
    const d = addDays(today, n);
    assert.equal(open[d], adm[d], `${d}: without the policies the public key sees the days again`);
  }
});

ctest('GET /api/availability/days errors: from/to missing or malformed → 400 naming it; to before from → 400 to; 62 dates → 200 with 62 days, 63 → 400 to; neither serviceId nor durationMinutes → 400 durationMinutes; unknown serviceId/providerId → 400; bad stepMinutes → 400; no key or a wrong key → 401', async () => {
  const org = await newOrg(UTC);
  const key = org.publicKey;
  const from = addDays(todayIn(UTC), 7);
  const days = (query, k = key) => ctx.api('GET', '/api/availability/days', { key: k, query });
  const base = { from, to: addDays(from, 6), durationMinutes: 30 };
  expectError(await days({ to: base.to, durationMinutes: 30 }), 400, 'invalid_request', 'from', 'from missing');
  expectError(await days({ from, durationMinutes: 30 }), 400, 'invalid_request', 'to', 'to missing');
  for (const bad of ['2026-02-30', '2027-13-01', '20270101', 'tomorrow', '2027-1-05', '']) {
    expectError(await days({ ...base, from: bad }), 400, 'invalid_request', 'from', `from=${JSON.stringify(bad)}`);
    expectError(await days({ ...base, to: bad }), 400, 'invalid_request', 'to', `to=${JSON.stringify(bad)}`);
  }
  expectError(await days({ ...base, to: addDays(from, -1) }), 400, 'invalid_request', 'to', 'to the day before from');
  const one = await daysOf(key, { ...base, to: from }, 'a single date');
  assert.equal(Object.keys(one).filter((k) => k !== 'timezone').length, 1);
  const max = await daysOf(key, { ...base, to: addDays(from, 61) }, '62 dates');
  assert.equal(Object.keys(max).filter((k) => k !== 'timezone').length, 62, '62 dates → 62 days');
  expectError(await days({ ...base, to: addDays(from, 62) }), 400, 'invalid_request', 'to', '63 dates');
  expectError(await days({ from, to: base.to }), 400, 'invalid_request', 'durationMinutes', 'neither serviceId nor durationMinutes');
  for (const d of [0, 1441, 'x', 1.5]) expectError(await days({ ...base, durationMinutes: d }), 400, 'invalid_request', 'durationMinutes', `durationMinutes=${d}`);
  for (const s of [4, 241, 'x']) expectError(await days({ ...base, stepMinutes: s }), 400, 'invalid_request', 'stepMinutes', `stepMinutes=${s}`);
  expectError(await days({ from, to: base.to, serviceId: randomUUID() }), 400, 'invalid_request', 'serviceId', 'an unknown serviceId');
  expectError(await days({ from, to: base.to, serviceId: 'nope' }), 400, 'invalid_request', 'serviceId', 'a malformed serviceId');
  expectError(await days({ ...base, providerId: randomUUID() }), 400, 'invalid_request', 'providerId', 'an unknown providerId');
  expectError(await days({ ...base, providerId: ctx.org.defaultProviderId }), 400, 'invalid_request', 'providerId', 'another organization\'s provider');
  const otherSvc = await createService(ctx, ctx.org.adminKey, {});
  expectError(await days({ from, to: base.to, serviceId: otherSvc.id }), 400, 'invalid_request', 'serviceId', 'another organization\'s service');
  expectError(await days(base, null), 401, 'unauthorized', undefined, 'no key');
  expectError(await days(base, 'bk_public_nope'), 401, 'unauthorized', undefined, 'an unknown key');
});

// ------------------------------------------------------------------ GET /metrics/history

/** GET /metrics/history (no key) → 200, checked; returns {minutes, before, after} (the clock around the request). */
async function history() {
  const before = Date.now();
  const res = await ctx.api('GET', '/metrics/history');
  const after = Date.now();
  const b = expectStatus(res, 200, 'GET /metrics/history');
  assert.match(String(res.headers['content-type']), /^application\/json/, 'JSON');
  assert.deepEqual(Object.keys(b), ['minutes'], 'fields');
  const m = b.minutes;
  assert.equal(m.length, 60, 'sixty minutes');
  for (let i = 0; i < m.length; i++) {
    const e = m[i];
    assert.match(e.at, ISO_MS_Z, `minute ${i}: at in toISOString form`);
    assert.ok(e.at.endsWith(':00.000Z'), `minute ${i}: at is the start of a minute: ${e.at}`);
    if (i > 0) assert.equal(Date.parse(e.at) - Date.parse(m[i - 1].at), MINUTE, `minute ${i}: oldest first, one minute apart`);
    const k = e.bookings;
    for (const n of ['booked', 'conflict', 'busy', 'invalid', 'error']) assert.ok(Number.isInteger(k[n]) && k[n] >= 0, `minute ${i}: bookings.${n}`);
    const decided = k.booked + k.conflict + k.busy + k.error;
    if (decided === 0) {
      for (const r of ['successRate', 'conflictRate', 'lockTimeoutRate']) assert.equal(e[r], null, `minute ${i} (${e.at}) without bookings: ${r} null`);
    } else {
      const near = (x, y, what) => assert.ok(typeof x === 'number' && Math.abs(x - y) < 1e-9, `minute ${i}: ${what} ${x}, expected ${y} (${JSON.stringify(e)})`);
      near(e.successRate, k.booked / decided, 'successRate = booked / (booked + conflict + busy + error)');
      near(e.conflictRate, k.conflict / decided, 'conflictRate');
      near(e.lockTimeoutRate, k.busy / decided, 'lockTimeoutRate');
    }
    if (k.booked + k.conflict === 0) {
      assert.equal(e.lockWaitP50Ms, null, `minute ${i}: no lock waits → lockWaitP50Ms null`);
      assert.equal(e.lockWaitP99Ms, null, `minute ${i}: no lock waits → lockWaitP99Ms null`);
    } else {
      assert.ok(typeof e.lockWaitP50Ms === 'number' && e.lockWaitP50Ms >= 0, `minute ${i}: lockWaitP50Ms a number ≥ 0: ${e.lockWaitP50Ms}`);
      assert.ok(typeof e.lockWaitP99Ms === 'number' && e.lockWaitP99Ms >= 0, `minute ${i}: lockWaitP99Ms a number ≥ 0: ${e.lockWaitP99Ms}`);
      assert.ok(e.lockWaitP50Ms <= e.lockWaitP99Ms, `minute ${i}: p50 ≤ p99 (${e.lockWaitP50Ms}, ${e.lockWaitP99Ms})`);
    }
    // Minutes before this file's server started saw no bookings.
    if (Date.parse(e.at) + MINUTE <= fileStart) {
      assert.deepEqual(k, { booked: 0, conflict: 0, busy: 0, invalid: 0, error: 0 }, `minute ${i} (${e.at}) before the server started: nothing`);
    }
  }
  const last = Date.parse(m[59].at);
  const floor = (t) => Math.floor(t / MINUTE) * MINUTE;
  assert.ok(last === floor(before) || last === floor(after), `the last entry is the current minute: ${m[59].at} (clock ${new Date(before).toISOString()}..${new Date(after).toISOString()})`);
  return { minutes: m, last: m[59] };
}

ctest('GET /metrics/history (no key): 60 minutes, oldest first, the current minute last; N bookings, one conflict and one invalid booking in one minute grow the last minute by exactly those; the rates follow the counters (invalid left out); lock-wait p50 ≤ p99; minutes without bookings have null rates', async () => {
  const org = await newOrg(UTC);
  const contact = await createContact(ctx, org.adminKey, { name: `History Person ${rnd()}` });
  const p = await createProvider(ctx, org.adminKey, {});
  const N = 4;
  let tries = 0;
  for (;;) {
    tries++;
    const h0 = await history();
    const day = workdayAhead(UTC, 14 + tries * 7);
    for (let i = 0; i < N; i++) {
      await bookOk(ctx, org.adminKey, { contactId: contact.id, providerId: p.id, scheduledAt: at(day, `1${i}:00`), durationMinutes: 30 }, `booking ${i + 1}`);
    }
    expectError(await book(ctx, org.adminKey, { contactId: contact.id, providerId: p.id, scheduledAt: at(day, '10:15'), durationMinutes: 30 }), 409, 'slot_unavailable', undefined, 'a conflict');
    expectError(await book(ctx, org.adminKey, { contactId: randomUUID(), providerId: p.id, scheduledAt: at(day, '16:00'), durationMinutes: 30 }), 400, 'invalid_request', 'contactId', 'an invalid booking (unknown contact)');
    const h1 = await history();
    if (h0.last.at !== h1.last.at) {
      assert.ok(tries < 2, `the minute changed during both tries (${h0.last.at} → ${h1.last.at})`);
      continue; // the minute turned meanwhile: once more, in the new one
    }
    const a = h0.last.bookings;
    const b = h1.last.bookings;
    assert.deepEqual(
      { booked: b.booked - a.booked, conflict: b.conflict - a.conflict, busy: b.busy - a.busy, invalid: b.invalid - a.invalid, error: b.error - a.error },
      { booked: N, conflict: 1, busy: 0, invalid: 1, error: 0 },
      `the current minute grew by exactly the bookings made (${JSON.stringify(a)} → ${JSON.stringify(b)})`,
    );
    const decided = b.booked + b.conflict + b.busy + b.error;
    assert.ok(Math.abs(h1.last.successRate - b.booked / decided) < 1e-9, `successRate ${h1.last.successRate} = booked / (booked + conflict + busy + error), invalid left out`);
    assert.ok(Math.abs(h1.last.conflictRate - b.conflict / decided) < 1e-9, `conflictRate ${h1.last.conflictRate}`);
    assert.ok(h1.last.successRate < 1 && h1.last.conflictRate > 0, 'a conflict shows in the rates');
    assert.equal(typeof h1.last.lockWaitP50Ms, 'number', 'lock waits recorded');
    // The earlier minutes are as they were (only the current one grows).
    assert.deepEqual(h1.minutes.slice(0, 59), h0.minutes.slice(0, 59), 'the earlier minutes did not change');
    break;
  }
  // Not an API key route: with a key it is the same, HEAD has no body.
  const head = await ctx.api('HEAD', '/metrics/history');
  assert.equal(head.status, 200);
  assert.equal(head.rawBuffer.length, 0, 'HEAD without a body');
});
