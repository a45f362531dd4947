// bench/peer.sh's helpers, over HTTP (Node, no packages).
//
//   node bench/peer.mjs orgs BASE ADMIN_TOKEN N ORGS_TXT ORGS_CSV
//     makes N organizations in bookd, each with a contact (8 at a time);
//     writes "adminKey contactId" a line (bench/book.lua's BENCH_DATA) and
//     "n,org_id,provider_id,contact_id" a line (bench_orgs, for pgbench).
//
//   node bench/peer.mjs race peer|bookd BASE PAIRS FIRST_DAY [ORGS_TXT]
//     the overlap race: PAIRS pairs, each two bookings sent at the same
//     moment on two open connections for the same organization (and, in
//     bookd, its default provider) on its own day from FIRST_DAY
//     (YYYY-MM-DD) on: 14:00 for 60 minutes and 14:30 for 30 minutes, which
//     overlap. Prints
//       RACE pairs=200 both=.. one=.. none=.. errors=..
//     (both: the two answered as booked, a double booking; the SQL count of
//     overlapping rows is bench/peer.sh's). The peer's organizations are its
//     seed's fixed ids (pair % 1000); bookd's come from ORGS_TXT.
//
//   node bench/peer.mjs cpu POSTMASTER_PID USER DATABASE
//     the CPU of one database's PostgreSQL backends (the postmaster's
//     children whose title is "postgres: USER DATABASE ..."), read from /proc
//     (the known ones every 20 ms, a look for new ones every 100 ms) from
//     when it prints "ready" until SIGTERM, when it prints the clock ticks
//     they used meanwhile: those alive at the start from their figure then,
//     those started since (pgbench's connections) from zero; a backend that
//     exits loses at most its last 20 ms (and one that lives less than
//     100 ms may be missed).
import http from 'node:http';
import fs from 'node:fs';

const [cmd, ...args] = process.argv.slice(2);

function request(agent, base, method, path, headers, body) {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(new URL(path, base), {
      method, agent, timeout: 10000,
      headers: { ...headers, ...(data ? { 'Content-Type': 'application/json',
                                          'Content-Length': Buffer.byteLength(data) } : {}) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, json: null }));
    req.end(data);
  });
}

async function orgs(base, token, n, txtPath, csvPath) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const out = new Array(n);
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      const org = await request(agent, base, 'POST', '/api/orgs',
        { Authorization: `Bearer ${token}` }, { name: `Side by side ${i + 1}`, timezone: 'UTC' });
      if (org.status !== 201 || !org.json) throw new Error(`POST /api/orgs: ${org.status}`);
      const key = org.json.adminKey;
      const contact = await request(agent, base, 'POST', '/api/contacts',
        { Authorization: `Bearer ${key}` }, { name: 'Bench Patient' });
      if (contact.status !== 201 || !contact.json) throw new Error(`POST /api/contacts: ${contact.status}`);
      out[i] = { key, org: org.json.id, provider: org.json.defaultProviderId, contact: contact.json.id };
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker));
  fs.writeFileSync(txtPath, out.map((o) => `${o.key} ${o.contact}\n`).join(''));
  fs.writeFileSync(csvPath, out.map((o, i) => `${i + 1},${o.org},${o.provider},${o.contact}\n`).join(''));
  agent.destroy();
}

async function race(kind, base, pairs, firstDay, orgsPath) {
  // Two sockets, opened before the race, so that both bookings of a pair
  // are written in the same turn of the event loop, each on its own
  // connection.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const probe = kind === 'peer' ? '/healthz' : '/health';
  await Promise.all([0, 1].map(() => request(agent, base, 'GET', probe, {})));
  const bookdOrgs = kind === 'bookd'
    ? fs.readFileSync(orgsPath, 'utf8').trim().split('\n').map((l) => l.split(' '))
    : null;
  const hex12 = (i) => i.toString(16).padStart(12, '0');
  const day0 = Date.parse(`${firstDay}T00:00:00Z`);
  const ok = kind === 'peer' ? 200 : 201;
  let both = 0, one = 0, none = 0, errors = 0;
  for (let p = 0; p < pairs; p++) {
    const day = day0 + p * 86400e3;
    const at = (h, m) => new Date(day + (h * 60 + m) * 60e3).toISOString();
    const wide = { scheduledAt: at(14, 0), durationMinutes: 60 };
    const narrow = { scheduledAt: at(14, 30), durationMinutes: 30 };
    let headers = {}, who;
    if (kind === 'peer') {
      const o = p % 1000;
      who = { orgId: `00000000-0000-4000-8000-${hex12(o)}`, contactId: `00000000-0000-4000-9000-${hex12(o)}` };
    } else {
      const [key, contact] = bookdOrgs[p % bookdOrgs.length];
      headers = { Authorization: `Bearer ${key}` };
      who = { contactId: contact };
    }
    // Which of the two is written first alternates from pair to pair.
    const bodies = p % 2 ? [narrow, wide] : [wide, narrow];
    const answers = await Promise.all(bodies.map((b) =>
      request(agent, base, 'POST', '/api/appointments', headers, { ...who, ...b })));
    const booked = answers.filter((a) => a.status === ok).length;
    errors += answers.filter((a) => a.status !== ok && a.status !== 409).length;
    if (booked === 2) both++;
    else if (booked === 1) one++;
    else none++;
  }
  console.log(`RACE pairs=${pairs} both=${both} one=${one} none=${none} errors=${errors}`);
  agent.destroy();
}

function cpu(postmaster, user, db) {
  // "postgres: USER DATABASE ...", or with cluster_name "postgres: NAME: USER DATABASE ...".
  const title = new RegExp(`^postgres: (\\S+: )?${user} ${db} `);
  const first = new Map(), last = new Map();
  let started = false, round = 0;
  // ticks PID: utime + stime, or null once it has exited; parent: its parent's id.
  function read(pid) {
    let stat;
    try { stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return null; }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { parent: f[1], ticks: Number(f[11]) + Number(f[12]) };
  }
  function sample() {
    // The known backends every time; a look for new ones every fifth.
    const pids = round++ % 5 === 0 ? fs.readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n)) : [...last.keys()];
    for (const pid of pids) {
      const known = last.has(pid);
      const s = read(pid);
      if (!s || s.parent !== postmaster) continue;
      if (!known) {
        let cmdline = '';
        try { cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
        if (!title.test(cmdline)) continue;
      }
      if (!started) first.set(pid, s.ticks);
      last.set(pid, s.ticks);
    }
  }
  sample();
  started = true;
  const timer = setInterval(sample, 20);
  process.on('SIGTERM', () => {
    clearInterval(timer);
    round = 0;
    sample();
    let total = 0;
    for (const [pid, t] of last) total += t - (first.get(pid) ?? 0);
    console.log(total);
    process.exit(0);
  });
  console.log('ready');
}

if (cmd === 'orgs') {
  await orgs(args[0], args[1], Number(args[2]), args[3], args[4]);
} else if (cmd === 'race') {
  await race(args[0], args[1], Number(args[2]), args[3], args[4]);
} else if (cmd === 'cpu') {
  cpu(args[0], args[1], args[2]);
} else {
  console.error('usage: node bench/peer.mjs orgs|race ...');
  process.exit(2);
}
