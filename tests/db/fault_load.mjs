// A booking load for the fault tests (tests/db/db_faults_test.sh,
// tests/db/process_faults_test.sh, scripts/soak.sh), and the checker that
// holds what it was told against the database afterwards.
//
//   node fault_load.mjs load  --base URL --key ADMIN_KEY --contact ID --providers ID,ID,...
//        --start ISO --out RECORDS.jsonl [--progress FILE] [--stop-file FILE]
//        [--clients 6] [--seconds 60] [--contested 0.5] [--window 400]
//        [--timeout-ms 10000] [--backoff-ms 100] [--think-ms 0] [--tag TAG] [--no-keepalive]
//
// N clients, each booking in a closed loop: half (--contested) of the
// requests ask for a 30-minute slot on a 15-minute grid of a small shared
// window (--window buckets per provider, from START), so they collide with
// each other (overlapping, not only equal, ranges); the others ask for
// slots of their own (30 days after START, never overlapping). Every
// request is POST /api/appointments with the admin key, an Idempotency-Key
// of its own and that key in `metadata.k` too (so a row in the database
// names the request that wrote it). A client waits --backoff-ms after a 503
// or an error before its next request. It runs --seconds at most, or until
// STOP_FILE exists or it gets SIGTERM/SIGINT; then it waits for the
// requests in flight (at most --timeout-ms) and writes RECORDS: one JSON
// object a line per request:
//   {k, c (client), kind ("d" distinct | "c" contested), p (provider id),
//    at (scheduledAt), body (the exact JSON sent), t0, t1 (ms since the
//    epoch: started, ended), st (HTTP status, 0 without an answer),
//    err (the error code of the body), ra (Retry-After present), id
//    (appointmentId of a 201), rid (X-Request-Id), rp (Idempotent-Replayed),
//    ek (without an answer: refused | reset | timeout | <code>)}
// PROGRESS, rewritten every 200 ms: {"requests","answered","s201","s409",
// "s503","other","noAnswer","last201Start","last201End","now"}.
//
//   node fault_load.mjs check --db CONNINFO --org ORG_ID --records FILE[,FILE...]
//        --base URL --key ADMIN_KEY [--faults FILE] [--summary FILE] [--ids-out FILE]
//        [--outbox] [--label TEXT] [--rids-out FILE]
//
// What the client was told against the database:
//   1. The requests without an answer (in doubt) are looked up in the
//      database by their key, then sent again with the same key and body
//      (as a careful client would; each at most 20 times while it gets 503,
//      slot_busy or no answer): a request that was stored must come back as
//      a replay of its 201 with the same appointment id, one that was not
//      must book now (201, not a replay) or get 409 slot_unavailable.
//   2. Every 201 (first answers and replays) names an appointment that
//      exists, is confirmed, and carries its request's key, provider and
//      time: otherwise it is lost.
//   3. Every confirmed appointment of the organization was answered 201 or
//      was in doubt: otherwise it is a phantom (and a lie, when its request
//      was answered 409, 503 or anything else that says nothing was written).
//   4. No two confirmed appointments of one provider overlap (SQL, tstzrange &&).
//   5. With --outbox: every confirmed appointment has its appointment.booked
//      event in the outbox, exactly once.
// FAULTS, one fault a line, "KIND DOWN_MS UP_MS" (ms since the epoch: the
// fault began; the database or bookd was back): for each, the recovery,
// from UP_MS to the end of the first request started after it that was
// answered 201.
// Prints the counts as TAP comments ("# ..."); SUMMARY gets them as
// shell assignments (name=value, one a line) for the test to assert on;
// IDS_OUT the confirmed appointments' ids, one a line; RIDS_OUT the
// X-Request-Id of every request the checker itself sent (its replays).
// Only Node built-ins, and psql.
import http from 'node:http';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const name = a.slice(2);
    if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) o[name] = argv[++i];
    else o[name] = true;
  }
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One POST with a total deadline. Resolves with the record's outcome fields.
function post(agent, base, key, body, idem, timeoutMs) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r) => { if (!done) { done = true; clearTimeout(timer); resolve(r); } };
    const url = new URL('/api/appointments', base);
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json',
                 'content-length': Buffer.byteLength(body), 'idempotency-key': idem },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (e) => finish({ st: 0, ek: kindOf(e) }));
      res.on('aborted', () => finish({ st: 0, ek: 'reset' }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch {}
        finish({
          st: res.statusCode,
          err: json && typeof json.error === 'string' ? json.error : undefined,
          id: json && typeof json.appointmentId === 'string' ? json.appointmentId : undefined,
          ra: res.headers['retry-after'] !== undefined,
          rid: res.headers['x-request-id'],
          rp: res.headers['idempotent-replayed'] === 'true',
          bad: json ? undefined : text.slice(0, 100),
        });
      });
    });
    const timer = setTimeout(() => {
      finish({ st: 0, ek: 'timeout' });
      req.destroy(new Error('timeout'));
    }, timeoutMs);
    req.on('error', (e) => finish({ st: 0, ek: kindOf(e) }));
    req.end(body);
  });
}

function kindOf(e) {
  if (!e) return 'error';
  if (e.code === 'ECONNREFUSED') return 'refused';
  if (e.code === 'ECONNRESET' || e.code === 'EPIPE' || /socket hang up/.test(e.message)) return 'reset';
  return e.code || 'error';
}

// ---------------------------------------------------------------------------
async function load(o) {
  for (const need of ['base', 'key', 'contact', 'providers', 'start', 'out']) {
    if (!o[need]) { console.error(`fault_load load: --${need} is required`); process.exit(2); }
  }
  const clients = Number(o.clients || 6);
  const seconds = Number(o.seconds || 60);
  const contested = Number(o.contested ?? 0.5);
  const window = Number(o.window || 400);
  const timeoutMs = Number(o['timeout-ms'] || 10000);
  const backoffMs = Number(o['backoff-ms'] || 100);
  const thinkMs = Number(o['think-ms'] || 0);
  const tag = o.tag || Math.random().toString(36).slice(2, 10);
  const providers = o.providers.split(',').filter(Boolean);
  const t0 = Date.parse(o.start);
  const distinctStart = t0 + 30 * 86400000;
  const agent = new http.Agent({ keepAlive: !o['no-keepalive'], maxSockets: clients });
  const started = Date.now();
  const records = [];
  const counts = { requests: 0, answered: 0, s201: 0, s409: 0, s503: 0, other: 0, noAnswer: 0,
                   last201Start: 0, last201End: 0 };
  let distinct = 0;
  let stopping = false;
  const stop = () => { stopping = true; };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const shouldStop = () => stopping || Date.now() - started >= seconds * 1000 ||
                           (o['stop-file'] && fs.existsSync(o['stop-file']));
  const writeProgress = () => {
    if (!o.progress) return;
    fs.writeFileSync(o.progress + '.tmp', JSON.stringify({ ...counts, now: Date.now() }));
    fs.renameSync(o.progress + '.tmp', o.progress);
  };
  const ticker = setInterval(() => { writeProgress(); if (shouldStop()) stopping = true; }, 200);

  async function client(c) {
    for (let seq = 0; !shouldStop(); seq++) {
      let kind, p, at;
      if (Math.random() < contested) {
        kind = 'c';
        p = providers[Math.floor(Math.random() * providers.length)];
        at = t0 + Math.floor(Math.random() * window) * 15 * 60000;
      } else {
        kind = 'd';
        const i = distinct++;
        p = providers[i % providers.length];
        at = distinctStart + Math.floor(i / providers.length) * 30 * 60000;
      }
      const k = `${tag}-${c}-${seq}`;
      const body = JSON.stringify({ contactId: o.contact, providerId: p,
                                    scheduledAt: new Date(at).toISOString(),
                                    durationMinutes: 30, metadata: { k } });
      const rec = { k, c, kind, p, at: new Date(at).toISOString(), body, t0: Date.now() };
      counts.requests++;
      Object.assign(rec, await post(agent, o.base, o.key, body, k, timeoutMs));
      rec.t1 = Date.now();
      records.push(rec);
      if (rec.st) counts.answered++; else counts.noAnswer++;
      if (rec.st === 201) {
        counts.s201++;
        counts.last201Start = Math.max(counts.last201Start, rec.t0);
        counts.last201End = Math.max(counts.last201End, rec.t1);
      } else if (rec.st === 409) counts.s409++;
      else if (rec.st === 503) counts.s503++;
      else if (rec.st) counts.other++;
      if (rec.st === 0 || rec.st === 503) await sleep(backoffMs);
      else if (thinkMs) await sleep(thinkMs);
    }
  }
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  clearInterval(ticker);
  writeProgress();
  agent.destroy();
  fs.writeFileSync(o.out, records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : ''));
}

// ---------------------------------------------------------------------------
function psql(db, sql) {
  return execFileSync('psql', ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', db, '-c', sql],
                      { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }).trim();
}

const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function rowsOf(db, org) {
  const text = psql(db, `SELECT coalesce(json_agg(json_build_object('id', id, 'k', metadata->>'k',
      's', status, 'p', provider_id, 'at', to_char(scheduled_at AT TIME ZONE 'UTC',
      'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))), '[]') FROM appointments WHERE org_id = '${org}'`);
  return JSON.parse(text);
}

function median(xs) {
  if (!xs.length) return -1;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

async function check(o) {
  for (const need of ['db', 'org', 'records', 'base', 'key']) {
    if (!o[need]) { console.error(`fault_load check: --${need} is required`); process.exit(2); }
  }
  if (!uuidRe.test(o.org)) { console.error('fault_load check: --org is not a UUID'); process.exit(2); }
  const label = o.label ? `${o.label}: ` : '';
  const records = [];
  for (const f of o.records.split(',').filter(Boolean)) {
    for (const line of fs.readFileSync(f, 'utf8').split('\n')) if (line) records.push(JSON.parse(line));
  }
  const S = {}; // the summary
  const out = (line) => console.log(`# ${label}${line}`);
  const by = (pred) => records.filter(pred).length;
  S.requests = records.length;
  S.answered = by((r) => r.st > 0);
  S.s201 = by((r) => r.st === 201);
  S.s409 = by((r) => r.st === 409);
  S.s409_unavailable = by((r) => r.st === 409 && r.err === 'slot_unavailable');
  S.s409_busy = by((r) => r.st === 409 && r.err === 'slot_busy');
  S.s409_other = by((r) => r.st === 409 && r.err !== 'slot_unavailable' && r.err !== 'slot_busy');
  S.s503 = by((r) => r.st === 503);
  S.s503_unavailable = by((r) => r.st === 503 && r.err === 'unavailable');
  S.s503_no_retry_after = by((r) => r.st === 503 && !r.ra);
  S.s409_busy_no_retry_after = by((r) => r.st === 409 && r.err === 'slot_busy' && !r.ra);
  S.s500 = by((r) => r.st >= 500 && r.st !== 503);
  S.other = by((r) => r.st > 0 && r.st !== 201 && r.st !== 409 && r.st !== 503);
  S.no_answer = by((r) => r.st === 0);
  S.refused = by((r) => r.st === 0 && r.ek === 'refused');
  S.reset = by((r) => r.st === 0 && r.ek === 'reset');
  S.timeout = by((r) => r.st === 0 && r.ek === 'timeout');
  S.replayed_in_load = by((r) => r.rp);
  const t0s = records.map((r) => r.t0), t1s = records.map((r) => r.t1);
  S.seconds = records.length ? ((Math.max(...t1s) - Math.min(...t0s)) / 1000).toFixed(1) : 0;
  S.rate = S.seconds > 0 ? Math.round(S.answered / S.seconds) : 0;
  S.rate201 = S.seconds > 0 ? Math.round(S.s201 / S.seconds) : 0;
  const lat = (pred) => records.filter(pred).reduce((m, r) => Math.max(m, r.t1 - r.t0), 0);
  S.max_ms_503 = lat((r) => r.st === 503);
  S.max_ms_answer = lat((r) => r.st > 0);
  out(`${S.requests} requests in ${S.seconds} s (${S.rate} answered/s, ${S.rate201} booked/s): ` +
      `201 ${S.s201}, 409 slot_unavailable ${S.s409_unavailable}, 409 slot_busy ${S.s409_busy}, ` +
      `503 ${S.s503} (${S.s503_no_retry_after} without Retry-After), 500 and other 5xx ${S.s500}, ` +
      `other ${S.other}, no answer ${S.no_answer} (refused ${S.refused}, reset ${S.reset}, ` +
      `timeout ${S.timeout})`);
  out(`slowest answer ${S.max_ms_answer} ms, slowest 503 ${S.max_ms_503} ms`);
  const odd = records.filter((r) => r.st > 0 && r.st !== 201 && r.st !== 409 && r.st !== 503);
  for (const r of odd.slice(0, 5)) {
    out(`unexpected answer: ${r.st} ${r.err ?? r.bad ?? ''} at ${new Date(r.t1).toISOString()} ` +
        `(request id ${r.rid ?? 'none'}, key ${r.k})`);
  }

  // Fresh statistics for the queries below (a crash recovery forgets what
  // autovacuum knew, and a bad plan of the overlap query takes minutes).
  psql(o.db, 'ANALYZE appointments; ANALYZE audit_logs');
  // 1. The requests in doubt: what the database holds for them, then a replay.
  const before = rowsOf(o.db, o.org);
  const byKey = new Map();
  for (const row of before) if (row.k) byKey.set(row.k, row);
  const doubt = records.filter((r) => r.st === 0);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  S.in_doubt = doubt.length;
  S.in_doubt_stored = 0;
  S.in_doubt_not_stored = 0;
  S.in_doubt_booked_on_replay = 0;
  S.in_doubt_unresolved = 0;
  S.replay_mismatch = 0;
  const replayed = new Map(); // key -> final 201 appointment id
  const ownRids = []; // the checker's own requests
  const deadline = Date.now() + 60000;
  const queue = [...doubt];
  async function replayer() {
    while (queue.length) {
      const r = queue.shift();
      const had = byKey.get(r.k);
      let a = null;
      for (let i = 0; i < 20 && Date.now() < deadline; i++) {
        a = await post(agent, o.base, o.key, r.body, r.k, 10000);
        if (a.rid) ownRids.push(a.rid);
        if (a.st !== 0 && a.st !== 503 && !(a.st === 409 && a.err === 'slot_busy')) break;
        await sleep(250);
      }
      r.replay = a;
      if (!a || a.st === 0 || a.st === 503 || (a.st === 409 && a.err === 'slot_busy')) {
        S.in_doubt_unresolved++;
        out(`in doubt, unresolved: key ${r.k}: replay answered ${a ? a.st : 'nothing'}`);
        continue;
      }
      if (had) {
        S.in_doubt_stored++;
        if (!(a.st === 201 && a.rp && a.id === had.id)) {
          S.replay_mismatch++;
          out(`replay mismatch: key ${r.k} was stored as ${had.id}, its replay answered ` +
              `${a.st} ${a.err ?? ''} replayed=${a.rp} id=${a.id ?? 'none'}`);
        }
      } else {
        S.in_doubt_not_stored++;
        if (a.st === 201 && !a.rp) S.in_doubt_booked_on_replay++;
        else if (!((a.st === 409 && a.err === 'slot_unavailable') ||
                   (a.st === 409 && a.rp))) {
          // A replayed 409 is the stored outcome of a first attempt that was
          // refused; a replayed 201 for a key with no row would be a lie.
          S.replay_mismatch++;
          out(`replay mismatch: key ${r.k} had no row, its replay answered ${a.st} ` +
              `${a.err ?? ''} replayed=${a.rp} id=${a.id ?? 'none'}`);
        }
      }
      if (a.st === 201) replayed.set(r.k, a.id);
    }
  }
  await Promise.all(Array.from({ length: 4 }, replayer));
  agent.destroy();
  out(`in doubt ${S.in_doubt} (no answer: refused ${S.refused}, reset ${S.reset}, timeout ` +
      `${S.timeout}): stored ${S.in_doubt_stored}, not stored ${S.in_doubt_not_stored} ` +
      `(booked by the replay ${S.in_doubt_booked_on_replay}), unresolved ${S.in_doubt_unresolved}; ` +
      `replays that contradict the database ${S.replay_mismatch}`);

  // 2 and 3: every 201 stored; nothing stored that was not answered 201 or in doubt.
  const rows = rowsOf(o.db, o.org);
  const rowById = new Map(rows.map((row) => [row.id, row]));
  const recByKey = new Map(records.map((r) => [r.k, r]));
  S.lost = 0;
  const told = new Map(); // key -> appointment id answered 201
  for (const r of records) if (r.st === 201) told.set(r.k, r.id);
  for (const [k, id] of replayed) told.set(k, id);
  for (const [k, id] of told) {
    const row = rowById.get(id);
    const r = recByKey.get(k);
    if (!row || row.s !== 'confirmed' || row.k !== k || row.p !== r.p || row.at !== r.at) {
      S.lost++;
      if (S.lost <= 5) {
        out(`lost: key ${k} was answered 201 ${id}; the database has ` +
            (row ? `status ${row.s}, key ${row.k}, provider ${row.p}, at ${row.at}` : 'no such appointment'));
      }
    }
  }
  S.confirmed = rows.filter((row) => row.s === 'confirmed').length;
  S.phantom = 0;
  S.lies = 0;
  S.foreign_rows = 0;
  for (const row of rows) {
    if (row.s !== 'confirmed') continue;
    const r = recByKey.get(row.k);
    if (!r) { S.foreign_rows++; continue; } // written by someone else (the test's own probes)
    if (told.get(row.k) === row.id) continue;
    S.phantom++;
    if (r.st !== 0) S.lies++;
    if (S.phantom <= 5) {
      out(`stored without a 201: appointment ${row.id} of key ${row.k}, whose request was ` +
          `answered ${r.st || 'nothing'} ${r.err ?? r.ek ?? ''} (request id ${r.rid ?? 'none'})`);
    }
  }
  // What a client that retries such an answer with the same key (as API.md
  // invites for a 503) is told then.
  S.lies_retry_201 = 0;
  const lied = rows.filter((row) => row.s === 'confirmed' && recByKey.get(row.k) &&
                                    told.get(row.k) !== row.id && recByKey.get(row.k).st !== 0);
  if (lied.length) {
    const retryAgent = new http.Agent({ keepAlive: false });
    for (const row of lied.slice(0, 50)) {
      const r = recByKey.get(row.k);
      let a = null;
      for (let i = 0; i < 10; i++) {
        a = await post(retryAgent, o.base, o.key, r.body, r.k, 10000);
        if (a.rid) ownRids.push(a.rid);
        if (a.st !== 0 && a.st !== 503) break;
        await sleep(250);
      }
      if (a && a.st === 201 && a.id === row.id) S.lies_retry_201++;
      out(`answered ${r.st} ${r.err ?? ''} at ${new Date(r.t1).toISOString()} yet stored as ${row.id} ` +
          `(key ${r.k}, request id ${r.rid ?? 'none'}); a retry with the same key answered ` +
          `${a ? a.st : 'nothing'}${a && a.rp ? ' (replayed)' : ''} ${a && a.id ? a.id : ''}`);
    }
    retryAgent.destroy();
  }
  S.suspects = lied.map((row) => recByKey.get(row.k).rid).filter(Boolean).slice(0, 10).join(',');
  S.double = Number(psql(o.db, `SELECT count(*) FROM appointments a JOIN appointments b
      ON b.org_id = a.org_id AND b.provider_id = a.provider_id AND a.id < b.id
     AND tstzrange(a.buffered_start, a.buffered_end, '[)') && tstzrange(b.buffered_start, b.buffered_end, '[)')
   WHERE a.org_id = '${o.org}' AND a.status = 'confirmed' AND b.status = 'confirmed'`));
  out(`confirmed in the database ${S.confirmed} (${S.foreign_rows} not from this load); ` +
      `answered 201 ${told.size} (${replayed.size} of them on a replay); lost ${S.lost}; ` +
      `stored without a 201 ${S.phantom} (of which answered otherwise ${S.lies}); ` +
      `double bookings ${S.double}`);

  // 5. The outbox.
  if (o.outbox) {
    S.missing_events = Number(psql(o.db, `SELECT count(*) FROM appointments a WHERE a.org_id = '${o.org}'
        AND a.status = 'confirmed' AND NOT EXISTS (SELECT 1 FROM outbox_events e
        WHERE e.org_id = a.org_id AND e.entity_id = a.id AND e.event_type = 'appointment.booked')`));
    S.duplicate_events = Number(psql(o.db, `SELECT count(*) FROM (SELECT entity_id FROM outbox_events
        WHERE org_id = '${o.org}' AND event_type = 'appointment.booked' GROUP BY entity_id
        HAVING count(*) > 1) s`));
    S.events_without_row = Number(psql(o.db, `SELECT count(*) FROM outbox_events e WHERE e.org_id = '${o.org}'
        AND e.event_type = 'appointment.booked' AND NOT EXISTS (SELECT 1 FROM appointments a
        WHERE a.id = e.entity_id)`));
    out(`outbox: confirmed appointments without their appointment.booked event ${S.missing_events}, ` +
        `with it twice ${S.duplicate_events}, events of no appointment ${S.events_without_row}`);
  }
  if (o['rids-out']) fs.writeFileSync(o['rids-out'], ownRids.join('\n') + (ownRids.length ? '\n' : ''));
  if (o['ids-out']) {
    fs.writeFileSync(o['ids-out'], rows.filter((row) => row.s === 'confirmed').map((row) => row.id).join('\n') + '\n');
  }

  // Recovery after each fault.
  if (o.faults && fs.existsSync(o.faults)) {
    const faults = fs.readFileSync(o.faults, 'utf8').split('\n').filter(Boolean).map((l) => {
      const [kind, down, up] = l.trim().split(/\s+/);
      return { kind, down: Number(down), up: Number(up) };
    });
    const recs = {};
    faults.forEach((f, i) => {
      const first = records.filter((r) => r.st === 201 && r.t0 >= f.up)
        .reduce((m, r) => (m === null || r.t1 < m ? r.t1 : m), null);
      const rec = first === null ? -1 : first - f.up;
      const next = faults[i + 1] ? faults[i + 1].down : Infinity;
      const win = records.filter((r) => r.t1 >= f.down && r.t0 < f.up);
      const during = {};
      for (const r of win) {
        const s = r.st ? `${r.st}${r.err ? ' ' + r.err : ''}` : `no answer (${r.ek})`;
        during[s] = (during[s] || 0) + 1;
      }
      S[`recovery_${i + 1}`] = rec;
      S[`kind_${i + 1}`] = f.kind;
      (recs[f.kind] ||= []).push(rec);
      out(`fault ${i + 1} (${f.kind}): down ${f.up - f.down} ms; answers while down: ` +
          (Object.entries(during).map(([s, n]) => `${s}: ${n}`).join(', ') || 'none') +
          `; first booking after the return answered 201 ${rec < 0 ? 'never' : `after ${rec} ms`}` +
          (next !== Infinity && first !== null && first > next ? ' (after the next fault began)' : ''));
    });
    S.faults = faults.length;
    for (const [kind, xs] of Object.entries(recs)) {
      const k = kind.replace(/[^a-z0-9_]/gi, '_');
      S[`faults_${k}`] = xs.length;
      S[`recovery_max_${k}`] = xs.some((x) => x < 0) ? -1 : Math.max(...xs);
      S[`recovery_median_${k}`] = median(xs.filter((x) => x >= 0));
    }
  }
  if (o.summary) {
    fs.writeFileSync(o.summary, Object.entries(S).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  }
}

const [mode, ...rest] = process.argv.slice(2);
const opts = parseArgs(rest);
if (mode === 'load') await load(opts);
else if (mode === 'check') await check(opts);
else {
  console.error('usage: node fault_load.mjs load|check --help (see the head of this file)');
  process.exit(2);
}
