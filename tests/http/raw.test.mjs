// Requests that are not valid HTTP, or too large to read, sent on raw
// sockets (node:net), since an HTTP client would refuse to send them. bookd's
// HTTP library answers these before any route is known; every answer must
// still be one well-formed response with the API's JSON error body
// (API.md, "Conventions"), never HTML, never two responses in one.

import net from 'node:net';
import { assert, ctest, useServer, expectStatus } from './lib/harness.mjs';
import { loadSpec } from './lib/openapi.mjs';

const ctx = useServer();

/**
 * Writes `bytes` on a new connection and collects everything until the
 * server closes it (or `ms` pass). Resolves the bytes received.
 */
function exchange(bytes, ms = 5_000) {
  const { hostname, port } = new URL(ctx.server.url);
  return new Promise((resolve) => {
    const chunks = [];
    const socket = net.connect({ host: hostname, port: Number(port) }, () => socket.write(bytes));
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(done, ms);
    socket.on('data', (d) => chunks.push(d));
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', () => {}); // a reset after the answer (unread request bytes) is fine
  });
}

/** Parses exactly one HTTP response out of `buf`; fails if anything follows it. */
function parseOne(buf, what) {
  const text = buf.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  assert.ok(end > 0, `${what}: no complete response head in ${JSON.stringify(text.slice(0, 300))}`);
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(statusLine);
  assert.ok(m, `${what}: bad status line ${JSON.stringify(statusLine)}`);
  const headers = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const body = buf.subarray(end + 4);
  assert.ok('content-length' in headers, `${what}: no Content-Length`);
  assert.equal(body.length, Number(headers['content-length']), `${what}: the body is not the announced length (a second response after it?): ${JSON.stringify(text.slice(0, 600))}`);
  return { status: Number(m[1]), headers, body };
}

/** Asserts one JSON error answer with status and code, valid against components.schemas.Error. */
function expectJsonError(buf, status, code, what) {
  const res = parseOne(buf, what);
  assert.equal(res.status, status, `${what}: status`);
  assert.match(String(res.headers['content-type']), /^application\/json;\s*charset=utf-8$/i, `${what}: Content-Type`);
  assert.ok(res.headers['x-request-id'], `${what}: X-Request-Id`);
  let body;
  try {
    body = JSON.parse(res.body.toString('utf8'));
  } catch (e) {
    assert.fail(`${what}: the body is not JSON (${e.message}): ${JSON.stringify(res.body.toString('utf8').slice(0, 200))}`);
  }
  assert.equal(body.error, code, `${what}: error code in ${JSON.stringify(body)}`);
  const problems = [];
  loadSpec().spec.checkErrorShape(problems, { body, raw: res.body.toString('utf8') }, code);
  assert.deepEqual(problems, [], `${what}: the body matches the documented Error schema`);
  return body;
}

const big = (n) => 'a'.repeat(n);
// [name, request bytes, status, error code]
const CASES = [
  ['a header section past the connection memory (one 40 KB header)', `GET /health HTTP/1.1\r\nHost: bookd\r\nX-Big: ${big(40_000)}\r\n\r\n`, 431, 'request_header_fields_too_large'],
  ['many headers past the connection memory', `GET /health HTTP/1.1\r\nHost: bookd\r\n${Array.from({ length: 800 }, (_, i) => `X-H${i}: ${big(50)}\r\n`).join('')}\r\n`, 431, 'request_header_fields_too_large'],
  ['a Cookie header too large to be copied', `GET /health HTTP/1.1\r\nHost: bookd\r\nCookie: a=${big(20_000)}\r\n\r\n`, 431, 'request_header_fields_too_large'],
  ['a request line past the connection memory', `GET /${big(40_000)} HTTP/1.1\r\nHost: bookd\r\n\r\n`, 414, 'uri_too_long'],
  ['a malformed request line (bad HTTP version token)', 'GET /health HTTQ/1.1\r\nHost: bookd\r\n\r\n', 400, 'invalid_request'],
  ['a request line with a version but no path', 'GET HTTP/1.1\r\nHost: bookd\r\n\r\n', 400, 'invalid_request'],
  ['a header line without a colon', 'GET /health HTTP/1.1\r\nHost: bookd\r\nNoColonHere\r\n\r\n', 400, 'invalid_request'],
  ['HTTP/2.0 in the request line', 'GET /health HTTP/2.0\r\nHost: bookd\r\n\r\n', 505, 'http_version_not_supported'],
  ['a Content-Length that is not a number', 'POST /api/contacts HTTP/1.1\r\nHost: bookd\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n', 400, 'invalid_request'],
  ['a Content-Length past 2^64', 'POST /api/contacts HTTP/1.1\r\nHost: bookd\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999999\r\n\r\n', 413, 'payload_too_large'],
  ['a malformed chunk size', 'POST /api/contacts HTTP/1.1\r\nHost: bookd\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400, 'invalid_request'],
  ['a chunk size past 2^64', 'POST /api/contacts HTTP/1.1\r\nHost: bookd\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n', 413, 'payload_too_large'],
];

for (const [name, request, status, code] of CASES) {
  ctest(`${status} ${code} as JSON: ${name}`, async () => {
    expectJsonError(await exchange(request), status, code, name);
    expectStatus(await ctx.api('GET', '/health'), 200, 'the server still serves');
  });
}

ctest('a header section that fits (30 KB) is served normally', async () => {
  const res = parseOne(await exchange(`GET /health HTTP/1.1\r\nHost: bookd\r\nConnection: close\r\nX-Big: ${big(30_000)}\r\n\r\n`), 'a 30 KB header');
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body.toString('utf8')), { status: 'ok' });
});

ctest('a first line without a single space is not HTTP: the connection is closed without an answer', async () => {
  const answer = await exchange('GARBAGE\r\n\r\n');
  assert.equal(answer.length, 0, `no bytes, and no HTML, for a line that is not a request: ${JSON.stringify(answer.toString('latin1').slice(0, 200))}`);
});

ctest('HEAD on a raw socket: the GET head with its Content-Length, and not one byte of body', async () => {
  const get = parseOne(await exchange('GET /health HTTP/1.1\r\nHost: bookd\r\nConnection: close\r\n\r\n'), 'GET /health');
  const raw = await exchange('HEAD /health HTTP/1.1\r\nHost: bookd\r\nConnection: close\r\n\r\n');
  const text = raw.toString('latin1');
  assert.ok(text.endsWith('\r\n\r\n'), `nothing after the head of the HEAD answer: ${JSON.stringify(text)}`);
  assert.match(text, /^HTTP\/1\.1 200 /);
  assert.match(text, new RegExp(`\r\nContent-Length: ${get.body.length}\r\n`, 'i'), `HEAD announces the GET body's length: ${JSON.stringify(text)}`);
});
