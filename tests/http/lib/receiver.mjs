// A fake webhook receiver for the delivery tests: a node:http server on
// 127.0.0.1 with a kernel-picked port that records every request (method,
// path, headers, raw body, arrival time, when its connection closed) and
// answers as it is told, per path or globally, changeable at any time.
//
// A mode is one of:
//   200, 500, 429, 410, 404, ...      answer that status (a small JSON body)
//   {status, body?, headers?}         the same, spelled out
//   {redirect: '/other', status?}     302 (or status) with Location: <this receiver>/other
//   'hang'                            never answer (until the client gives up or close())
//   'drop'                            read the request, then destroy the socket (no answer)
//   {slow: ms, status?}               answer status (default 200) after ms milliseconds
//   [m1, m2, ...]                     the n-th request to the path gets m_n; the last repeats
//   (record, nth) => mode             decided per request (record as below, nth from 1 per path)
// Every wait is bounded.

import http from 'node:http';
import { EventEmitter } from 'node:events';

const DEFAULT_WAIT_MS = 10_000;

function describe(mode) {
  if (typeof mode === 'function') return 'fn';
  return typeof mode === 'object' ? JSON.stringify(mode) : String(mode);
}

/**
 * Starts a receiver. Resolves {url, port, requests, urlFor(path), setMode(...),
 * requestsFor(path), waitFor(n, opts), quiet(ms, opts), down(), up(), close()}.
 */
export async function startReceiver({ mode = 200 } = {}) {
  const requests = [];
  const perPath = new Map(); // path -> mode
  const countByPath = new Map();
  let globalMode = mode;
  const sockets = new Set();
  const timers = new Set();
  const events = new EventEmitter();
  events.setMaxListeners(100);
  let port = 0;
  let server = null;

  function resolveMode(record) {
    const n = (countByPath.get(record.path) || 0) + 1;
    countByPath.set(record.path, n);
    let m = perPath.has(record.path) ? perPath.get(record.path) : globalMode;
    if (typeof m === 'function') m = m(record, n);
    if (Array.isArray(m)) m = m.length ? m[Math.min(n, m.length) - 1] : 200;
    return m;
  }

  function answer(res, status, body, headers = {}) {
    if (res.destroyed || res.writableEnded) return;
    const payload = body === undefined ? JSON.stringify({ received: true }) : body;
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload), ...headers });
    res.end(payload);
  }

  function handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      const text = rawBody.toString('utf8');
      let json = null;
      try {
        json = JSON.parse(text);
      } catch {
        /* not JSON: kept raw */
      }
      const u = new URL(req.url, 'http://127.0.0.1');
      const record = {
        index: requests.length,
        method: req.method,
        path: u.pathname,
        url: req.url,
        headers: { ...req.headers },
        rawBody,
        body: text,
        json,
        receivedAt: Date.now(),
        closedAt: null,
        answered: null,
      };
      req.socket.once('close', () => {
        record.closedAt = Date.now();
      });
      const m = resolveMode(record);
      record.answered = describe(m);
      requests.push(record);
      events.emit('request', record);

      if (m === 'hang') return; // the socket stays open until the client or close() ends it
      if (m === 'drop') {
        req.socket.destroy();
        return;
      }
      if (typeof m === 'number') return answer(res, m);
      if (m && typeof m === 'object' && m.redirect) {
        return answer(res, m.status || 302, '', { Location: `http://127.0.0.1:${port}${m.redirect}` });
      }
      if (m && typeof m === 'object' && typeof m.slow === 'number') {
        const t = setTimeout(() => {
          timers.delete(t);
          answer(res, m.status || 200);
        }, m.slow);
        timers.add(t);
        return;
      }
      if (m && typeof m === 'object' && typeof m.status === 'number') return answer(res, m.status, m.body, m.headers);
      answer(res, 500, JSON.stringify({ error: `receiver: unknown mode ${describe(m)}` }));
    });
  }

  function listen(p) {
    return new Promise((resolve, reject) => {
      server = http.createServer(handle);
      server.keepAliveTimeout = 1000;
      server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.once('error', reject);
      server.listen(p, '127.0.0.1', () => {
        server.off('error', reject);
        port = server.address().port;
        resolve();
      });
    });
  }

  function stopListening() {
    if (!server) return Promise.resolve();
    const s = server;
    server = null;
    return new Promise((resolve) => {
      s.close(() => resolve());
      for (const sock of sockets) sock.destroy();
      s.closeAllConnections?.();
    });
  }

  await listen(0);
  const base = `http://127.0.0.1:${port}`;

  const matches = (r, { path, where } = {}) => (path === undefined || r.path === path) && (!where || where(r));

  const self = {
    url: base,
    port,
    requests,
    urlFor: (path) => `${base}${path}`,
    /** setMode(mode): every path without its own mode; setMode(path, mode): one path. */
    setMode(pathOrMode, maybeMode) {
      if (maybeMode === undefined) globalMode = pathOrMode;
      else {
        perPath.set(pathOrMode, maybeMode);
        countByPath.delete(pathOrMode);
      }
    },
    requestsFor: (path) => requests.filter((r) => r.path === path),
    /**
     * Resolves the matching requests once at least n have arrived; rejects
     * after timeoutMs with what did arrive.
     */
    waitFor(n, { path, where, timeoutMs = DEFAULT_WAIT_MS } = {}) {
      const have = () => requests.filter((r) => matches(r, { path, where }));
      if (have().length >= n) return Promise.resolve(have());
      return new Promise((resolve, reject) => {
        const onReq = () => {
          const h = have();
          if (h.length >= n) {
            clearTimeout(t);
            events.off('request', onReq);
            resolve(h);
          }
        };
        const t = setTimeout(() => {
          events.off('request', onReq);
          const h = have();
          reject(new Error(`receiver: ${h.length} of ${n} requests${path ? ` to ${path}` : ''} within ${timeoutMs} ms (all: ${requests.map((r) => `${r.path}→${r.answered}`).join(', ') || 'none'})`));
        }, timeoutMs);
        events.on('request', onReq);
      });
    },
    /** Waits ms and returns the matching requests that arrived meanwhile. */
    async quiet(ms, { path, where } = {}) {
      const from = requests.length;
      await new Promise((r) => setTimeout(r, ms));
      return requests.slice(from).filter((r) => matches(r, { path, where }));
    },
    /** Stops listening (connections refused) and cuts open connections. */
    down: () => stopListening(),
    /** Listens again on the same port. */
    up: () => listen(port),
    get listening() {
      return server !== null;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await stopListening();
    },
  };
  return self;
}
