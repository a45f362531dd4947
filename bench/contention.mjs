// Same-slot contention over HTTP: ROUNDS rounds of CONCURRENCY simultaneous
// requests for one slot (a new slot each round). Prints one line:
//   CONTENTION rounds=50 exact_one=50 losers=3150 loser_p50_ms=.. loser_p99_ms=.. errors=0
// Usage: node contention.mjs BASE_URL ADMIN_KEY CONTACT_ID
import http from 'node:http';

const [base, key, contact] = process.argv.slice(2);
const ROUNDS = Number(process.env.ROUNDS || 50);
const CONCURRENCY = Number(process.env.CONCURRENCY || 64);
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const url = new URL('/api/appointments', base);

function book(at) {
  const body = JSON.stringify({ contactId: contact, scheduledAt: at, durationMinutes: 30 });
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = http.request(url, {
      method: 'POST', agent, timeout: 10000,
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json',
                 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode,
                                    ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, ms: 0 }));
    req.end(body);
  });
}

// Early 2039: before the HTTP runs' slots (2040 on) and months from the
// availability benchmark's busy day (2039-06-06), so no round meets a slot
// another part of the benchmark booked.
const slot = (r) => new Date(Date.UTC(2039, 0, 1) + r * 3600e3).toISOString();
await Promise.all(Array.from({ length: CONCURRENCY }, () => book(slot(-1)))); // open sockets
let exactOne = 0, errors = 0;
const losers = [];
for (let r = 0; r < ROUNDS; r++) {
  const answers = await Promise.all(Array.from({ length: CONCURRENCY }, () => book(slot(r))));
  const won = answers.filter((a) => a.status === 201).length;
  if (won === 1) exactOne++;
  for (const a of answers) {
    if (a.status === 409) losers.push(a.ms);
    else if (a.status !== 201) errors++;
  }
}
losers.sort((a, b) => a - b);
const pct = (p) => (losers.length ? losers[Math.min(losers.length - 1, Math.floor(losers.length * p))] : 0);
console.log(`CONTENTION rounds=${ROUNDS} exact_one=${exactOne} losers=${losers.length} ` +
            `loser_p50_ms=${pct(0.5).toFixed(1)} loser_p99_ms=${pct(0.99).toFixed(1)} errors=${errors}`);
agent.destroy();
