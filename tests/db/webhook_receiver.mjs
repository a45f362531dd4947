// A webhook receiver for tests/db/outbox_faults_test.sh: it records every
// delivery bookd sends, checks its Standard Webhooks signature, and can be
// made slow, refuse connections or answer 503, and kill a worker by PID at
// the Nth request (so that the kill lands while sends are in flight).
//
//   node webhook_receiver.mjs PORT_FILE
//
// Two listeners on 127.0.0.1, both on free ports: the hook (what the webhook
// endpoint points at, closed while the receiver is "down") and the control
// port (always up), whose ports are written to PORT_FILE as
// "HOOK_PORT CONTROL_PORT" once both listen. Control requests (JSON bodies):
//   POST /config {"path","secret","delayMinMs","delayMaxMs","workers":[pid...]}
//                only requests to `path` are recorded; others (deliveries
//                of an earlier step still on their way) are answered 200
//                and counted as stray
//   POST /mode   {"mode":"ok"|"503"|"closed"}
//   POST /kill   {"pid","at"}   SIGKILL pid when request number `at` arrives
//                (or the next one, if `at` has passed already)
//   POST /reset                forget what was received
//   POST /stats  {"expect":FILE?,"ids":FILE?}  the counts (see stats() below);
//                with `expect`, a file of appointment ids one a line, also
//                which of them never arrived; with `ids`, writes the
//                webhook-ids received to that file, one a line
// Only Node built-ins.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';

const portFile = process.argv[2];
if (!portFile) {
  console.error('usage: node webhook_receiver.mjs PORT_FILE');
  process.exit(2);
}

let config = { path: '/hook', secret: null, delayMinMs: 0, delayMaxMs: 0, workers: [] };
let mode = 'ok';
let kill = null; // {pid, at}
let killedAt = null; // requests seen when the kill was sent
let inFlightAtKill = null; // requests not yet answered then
let unanswered = 0;
let state;
function reset() {
  state = {
    requests: 0, // every POST to the hook
    accepted: 0, // answered 2xx
    rejected: 0, // answered 503 (mode "503")
    byId: new Map(), // webhook-id -> {appointmentId, requests, accepted}
    byAppointment: new Map(), // appointment id -> first webhook-id
    idsForAppointment: new Map(), // appointment id -> Set of webhook-ids
    appointmentsForId: new Map(), // webhook-id -> Set of appointment ids
    badSignature: 0,
    badBody: 0,
    stray: 0,
    noId: 0,
    byWorker: new Map(), // worker pid (or "unknown") -> requests
    firstSignatureProblem: null,
  };
}
reset();

function keyOf(secret) {
  if (!secret || !secret.startsWith('whsec_')) return null;
  return Buffer.from(secret.slice('whsec_'.length), 'base64');
}

function signatureOk(id, ts, body, header) {
  const key = keyOf(config.secret);
  if (!key || !id || !ts || !header) return false;
  const expected = crypto.createHmac('sha256', key).update(`${id}.${ts}.`).update(body).digest();
  for (const entry of header.split(' ')) {
    const [version, sig] = entry.split(',', 2);
    if (version !== 'v1' || !sig) continue;
    const got = Buffer.from(sig, 'base64');
    if (got.length === expected.length && crypto.timingSafeEqual(got, expected)) return true;
  }
  return false;
}

// Which worker process owns the client end of a connection: the socket's
// inode from /proc/net/tcp, then the worker whose file descriptors hold it.
function ownerOf(socket) {
  if (config.workers.length === 0) return 'unknown';
  const hex = (n) => n.toString(16).toUpperCase().padStart(4, '0');
  const local = `0100007F:${hex(socket.remotePort)}`;
  const remote = `0100007F:${hex(socket.localPort)}`;
  let inode = null;
  try {
    for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1] === local && f[2] === remote) { inode = f[9]; break; }
    }
  } catch { return 'unknown'; }
  if (!inode) return 'unknown';
  const want = `socket:[${inode}]`;
  for (const pid of config.workers) {
    try {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        try { if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === want) return String(pid); } catch {}
      }
    } catch {}
  }
  return 'unknown';
}

function addTo(map, key, value) {
  let s = map.get(key);
  if (!s) { s = new Set(); map.set(key, s); }
  s.add(value);
}

function onHook(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (req.url !== config.path) {
      state.stray += 1;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    state.requests += 1;
    const n = state.requests;
    unanswered += 1;
    if (kill && n >= kill.at) {
      killedAt = n;
      inFlightAtKill = unanswered;
      try { process.kill(kill.pid, 'SIGKILL'); } catch {}
      kill = null;
    }
    if (!req.socket.bookdOwner || req.socket.bookdOwner === 'unknown') {
      req.socket.bookdOwner = ownerOf(req.socket);
    }
    const owner = req.socket.bookdOwner;
    state.byWorker.set(owner, (state.byWorker.get(owner) || 0) + 1);

    const id = req.headers['webhook-id'];
    const ts = req.headers['webhook-timestamp'];
    if (!signatureOk(id, ts, body, req.headers['webhook-signature'])) {
      state.badSignature += 1;
      if (!state.firstSignatureProblem) {
        state.firstSignatureProblem = { id, ts, signature: req.headers['webhook-signature'] };
      }
    }
    let appointmentId = null;
    try {
      const event = JSON.parse(body.toString('utf8'));
      appointmentId = event?.data?.appointment?.id ?? null;
      if (typeof event.type !== 'string' || typeof event.timestamp !== 'string' || !appointmentId) {
        state.badBody += 1;
      }
    } catch { state.badBody += 1; }
    if (!id) state.noId += 1;

    const answer = () => {
      const status = mode === '503' ? 503 : 200;
      if (id) {
        let r = state.byId.get(id);
        if (!r) { r = { requests: 0, accepted: 0 }; state.byId.set(id, r); }
        r.requests += 1;
        if (status === 200) r.accepted += 1;
        if (appointmentId) {
          addTo(state.appointmentsForId, id, appointmentId);
          addTo(state.idsForAppointment, appointmentId, id);
        }
      }
      if (status === 200) state.accepted += 1; else state.rejected += 1;
      unanswered -= 1;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok' : 'unavailable');
    };
    const { delayMinMs: lo, delayMaxMs: hi } = config;
    const delay = hi > 0 ? lo + Math.random() * (hi - lo) : 0;
    if (delay > 0) setTimeout(answer, delay); else answer();
  });
}

function stats(expectFile, idsFile) {
  let duplicates = 0; // requests beyond the first per webhook-id
  let acceptedTwice = 0; // webhook-ids answered 2xx more than once
  let delivered = 0; // webhook-ids answered 2xx at least once
  for (const r of state.byId.values()) {
    duplicates += r.requests - 1;
    if (r.accepted > 1) acceptedTwice += 1;
    if (r.accepted > 0) delivered += 1;
  }
  let appointmentsUnderSeveralIds = 0; // one event sent under two webhook-ids
  for (const s of state.idsForAppointment.values()) if (s.size > 1) appointmentsUnderSeveralIds += 1;
  let idsWithSeveralAppointments = 0; // one webhook-id reused for another event
  for (const s of state.appointmentsForId.values()) if (s.size > 1) idsWithSeveralAppointments += 1;
  const acceptedAppointments = new Set();
  for (const [id, r] of state.byId) {
    if (r.accepted > 0) for (const a of state.appointmentsForId.get(id) || []) acceptedAppointments.add(a);
  }
  const out = {
    requests: state.requests,
    accepted: state.accepted,
    rejected: state.rejected,
    webhookIds: state.byId.size,
    delivered,
    appointments: state.idsForAppointment.size,
    acceptedAppointments: acceptedAppointments.size,
    duplicates,
    acceptedTwice,
    appointmentsUnderSeveralIds,
    idsWithSeveralAppointments,
    badSignature: state.badSignature,
    firstSignatureProblem: state.firstSignatureProblem,
    badBody: state.badBody,
    noId: state.noId,
    stray: state.stray,
    // "PID:N,..." (and "unknown:N" for requests from no listed worker);
    // workersSeen: how many of the listed workers sent something.
    byWorker: [...state.byWorker].map(([w, k]) => `${w}:${k}`).join(',') || 'none',
    workersSeen: config.workers.filter((p) => state.byWorker.get(String(p)) > 0).length,
    unattributed: state.byWorker.get('unknown') || 0,
    killedAt,
    inFlightAtKill,
    mode,
  };
  if (expectFile) {
    const expected = fs.readFileSync(expectFile, 'utf8').split('\n').filter(Boolean);
    const missing = expected.filter((a) => !acceptedAppointments.has(a));
    const known = new Set(expected);
    out.expected = expected.length;
    out.lost = missing.length;
    out.lostSample = missing.slice(0, 5);
    out.unexpected = [...state.idsForAppointment.keys()].filter((a) => !known.has(a)).length;
  }
  if (idsFile) fs.writeFileSync(idsFile, [...state.byId.keys()].join('\n') + '\n');
  return out;
}

// The hook listener: closed and opened again on the same port for "closed".
const hook = http.createServer(onHook);
hook.keepAliveTimeout = 30000;
let hookPort = 0;
function listenHook(port) {
  return new Promise((resolve, reject) => {
    hook.once('error', reject);
    hook.listen(port, '127.0.0.1', () => {
      hook.off('error', reject);
      hookPort = hook.address().port;
      resolve();
    });
  });
}
async function setMode(m) {
  if (m === 'closed' && mode !== 'closed') {
    mode = 'closed';
    await new Promise((resolve) => {
      hook.close(() => resolve());
      hook.closeAllConnections();
    });
  } else if (m !== 'closed') {
    if (mode === 'closed') {
      // The port was ours a moment ago; try a few times if something else
      // holds it in between.
      for (let i = 0; ; i++) {
        try { await listenHook(hookPort); break; } catch (e) {
          if (i >= 50) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
    mode = m;
  }
}

function readJson(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try { resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {}); }
      catch { resolve({}); }
    });
  });
}

const control = http.createServer(async (req, res) => {
  const body = await readJson(req);
  let answer = { ok: true };
  try {
    if (req.url === '/config') {
      config = { ...config, ...body };
      config.workers = (config.workers || []).map(Number);
    } else if (req.url === '/mode') {
      await setMode(body.mode);
    } else if (req.url === '/kill') {
      kill = { pid: Number(body.pid), at: Number(body.at) };
      killedAt = null;
      inFlightAtKill = null;
    } else if (req.url === '/reset') {
      reset();
    } else if (req.url === '/stats') {
      answer = stats(body.expect, body.ids);
    } else {
      res.writeHead(404).end();
      return;
    }
  } catch (e) {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: String(e) }));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(answer));
});

await listenHook(0);
await new Promise((resolve) => control.listen(0, '127.0.0.1', resolve));
fs.writeFileSync(portFile + '.tmp', `${hookPort} ${control.address().port}\n`);
fs.renameSync(portFile + '.tmp', portFile);
process.on('SIGTERM', () => process.exit(0));
