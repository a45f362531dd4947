// The HTTP client of the tests. Every request has a timeout, goes over its
// own TCP connection (so concurrent requests never share a socket), and its
// response is checked against openapi.json; contract violations are
// collected here and turned into a test failure by lib/harness.mjs.

import http from 'node:http';
import { checkExchange } from './openapi.mjs';

const violations = [];

/** Takes (and clears) the contract violations collected so far. */
export function takeViolations() {
  return violations.splice(0, violations.length);
}

export const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * One HTTP exchange. Resolves {status, headers, buffer}; rejects on a
 * network error or after timeoutMs. A response that arrives before the
 * request body was fully sent (e.g. an early 413) still counts.
 */
export function rawRequest(url, { method = 'GET', headers = {}, body = null, timeoutMs = DEFAULT_TIMEOUT_MS, chunked = false } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    let settled = false;
    let gotResponse = false;
    const finish = (fn, v) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn(v);
    };
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        headers,
        agent: false,
      },
      (res) => {
        gotResponse = true;
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => finish(resolve, { status: res.statusCode, headers: res.headers, buffer: Buffer.concat(chunks) }));
        res.on('error', (e) => finish(reject, e));
        res.on('aborted', () => finish(reject, new Error('response aborted')));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish(reject, new Error(`${method} ${u.pathname}${u.search}: no complete answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (e) => {
      if (gotResponse) return; // e.g. EPIPE after an early answer
      finish(reject, new Error(`${method} ${u.pathname}${u.search}: ${e.message}`));
    });
    if (body !== null && body !== undefined && chunked) {
      // Transfer-Encoding: chunked (no Content-Length), sent in 8 KiB pieces.
      for (let i = 0; i < body.length; i += 8192) req.write(body.subarray(i, i + 8192));
      req.end();
    } else if (body !== null && body !== undefined) req.end(body);
    else req.end();
  });
}

/**
 * Makes `api(method, path, opts)` for a server at baseUrl.
 * opts: key (Bearer), body (JSON-serialized), rawBody (string/Buffer sent as is),
 * headers, contentType (default application/json when there is a body; null = no
 * Content-Type header), query (object → query string), timeoutMs, validate (default true),
 * chunked (send the body with Transfer-Encoding: chunked instead of Content-Length).
 * Returns {status, headers, body, raw, rawBuffer, jsonError}.
 */
export function makeApi(baseUrl) {
  return async function api(method, path, opts = {}) {
    const { key, body, rawBody, headers = {}, query, timeoutMs, validate = true, chunked = false } = opts;
    let target = path;
    if (query) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.append(k, String(v));
      const s = qs.toString();
      if (s) target += (target.includes('?') ? '&' : '?') + s;
    }
    const h = {};
    if (key !== undefined && key !== null) h.Authorization = `Bearer ${key}`;
    let payload = null;
    if (rawBody !== undefined) payload = Buffer.isBuffer(rawBody) ? rawBody : Buffer.from(rawBody, 'utf8');
    else if (body !== undefined) payload = Buffer.from(JSON.stringify(body), 'utf8');
    if (payload !== null) {
      const ct = 'contentType' in opts ? opts.contentType : 'application/json';
      if (ct !== null) h['Content-Type'] = ct;
      if (!chunked) h['Content-Length'] = String(payload.length);
    }
    Object.assign(h, headers);
    const url = new URL(target, baseUrl);
    const r = await rawRequest(url.href, { method, headers: h, body: payload, timeoutMs, chunked });
    const res = {
      status: r.status,
      headers: r.headers,
      rawBuffer: r.buffer,
      raw: r.buffer.toString('utf8'),
      body: undefined,
      jsonError: null,
    };
    const ct = (r.headers['content-type'] || '').toLowerCase();
    if (ct.includes('json')) {
      try {
        res.body = res.raw.length ? JSON.parse(res.raw) : undefined;
      } catch (e) {
        res.jsonError = e.message;
        res.body = res.raw;
      }
    } else {
      res.body = res.raw;
    }
    if (validate) {
      for (const p of checkExchange(method, url.pathname, res)) {
        violations.push(`${method} ${url.pathname}${url.search} → ${res.status}: ${p}`);
      }
    }
    return res;
  };
}
