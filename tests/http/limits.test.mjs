// Slow and numerous clients: a stalled client costs a socket, not a worker,
// is dropped after the connection timeout, and the connection cap holds.
import net from 'node:net';
import { after, before } from 'node:test';
import { assert, ctest, expectStatus } from './lib/harness.mjs';
import { makeApi } from './lib/client.mjs';
import { startServer } from './lib/server.mjs';

let server;
let api;
const MAX_CONNECTIONS = 24;

before(async () => {
  // One worker thread: if a stalled client could hold a worker, nothing
  // else would be served.
  server = await startServer({
    env: {
      BOOKD_HTTP_THREADS: '1',
      BOOKD_CONNECTION_TIMEOUT_S: '2',
      BOOKD_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
    },
  });
  api = makeApi(server.url);
});

after(async () => {
  const info = await server.stop();
  assert.ok(info.code === 0 || info.signal === 'SIGTERM', `clean exit: ${JSON.stringify(info)}`);
});

/* Opens a socket that sends half a request and then says nothing more.
 * Resolves {socket, closed} where `closed` resolves when the server hangs up. */
function stall(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => {
      socket.write('POST /api/appointments HTTP/1.1\r\nHost: bookd\r\nContent-Length: 100\r\n\r\n{"contactId":');
      const closed = new Promise((res) => socket.on('close', () => res(true)));
      resolve({ socket, closed });
    });
    socket.on('error', () => {}); // a reset by the server is an answer too
    socket.setTimeout(15_000, () => reject(new Error('connect timed out')));
  });
}

ctest('stalled clients do not keep others from being served, and are dropped after the timeout', async () => {
  const stalled = await Promise.all(Array.from({ length: 8 }, () => stall(server.url)));
  // With the only worker thread "busy" with eight half-sent requests:
  expectStatus(await api('GET', '/health'), 200, 'health while clients stall');
  // The server closes each stalled connection (BOOKD_CONNECTION_TIMEOUT_S=2);
  // the bound here only keeps the test from hanging if it never does.
  const outcome = await Promise.race([
    Promise.all(stalled.map((s) => s.closed)).then(() => 'all closed'),
    new Promise((res) => setTimeout(() => res('still open after 12 s'), 12_000)),
  ]);
  assert.equal(outcome, 'all closed');
  expectStatus(await api('GET', '/health'), 200, 'health after the stalled clients were dropped');
}, { timeout: 30_000 });

/* Sends a whole GET /health on a raw socket; resolves with the first bytes
 * of the answer, or null if none came within `ms`. */
function healthOn(url, ms) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () =>
      socket.write('GET /health HTTP/1.1\r\nHost: bookd\r\nConnection: close\r\n\r\n'));
    const timer = setTimeout(() => resolve({ socket, answer: null }), ms);
    socket.once('data', (d) => {
      clearTimeout(timer);
      resolve({ socket, answer: d.toString() });
    });
    socket.on('error', () => {});
  });
}

ctest('no more than BOOKD_MAX_CONNECTIONS are served at once; the next waits its turn', async () => {
  const stalled = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => stall(server.url)));
  // The cap is full: one more connection is not taken up (it waits in the
  // listen queue), so its request gets no answer while the stalled ones stay.
  const waiting = healthOn(server.url, 1_000);
  const early = await waiting;
  assert.equal(early.answer, null, 'a connection over the cap was served');
  // Free the cap: the waiting connection is accepted and answered.
  const late = new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 10_000);
    early.socket.once('data', (d) => {
      clearTimeout(timer);
      resolve(d.toString());
    });
  });
  for (const s of stalled) s.socket.destroy();
  const answer = await late;
  early.socket.destroy();
  assert.ok(answer && answer.startsWith('HTTP/1.1 200'), `served once the cap was released: ${answer}`);
}, { timeout: 30_000 });
