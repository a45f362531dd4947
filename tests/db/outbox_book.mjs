// Books COUNT appointments at distinct times, 30 minutes apart from START,
// over a few keep-alive connections, and writes the appointment ids, one a
// line, to OUT_FILE. A 503, a slot_busy or a broken connection is retried
// with the same Idempotency-Key (so a retry never books twice); anything
// else that is not a 201 makes it exit 1. For tests/db/outbox_faults_test.sh.
//
//   node outbox_book.mjs BASE_URL ADMIN_KEY CONTACT_ID COUNT START OUT_FILE
// Only Node built-ins.
import http from 'node:http';
import fs from 'node:fs';

const [base, key, contact, countArg, start, outFile] = process.argv.slice(2);
if (!outFile) {
  console.error('usage: node outbox_book.mjs BASE_URL ADMIN_KEY CONTACT_ID COUNT START OUT_FILE');
  process.exit(2);
}
const count = Number(countArg);
const concurrency = 8;
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const t0 = Date.parse(start);
const run = Math.random().toString(36).slice(2, 10);

function post(body, idem) {
  return new Promise((resolve) => {
    const data = JSON.stringify(body);
    const req = http.request(`${base}/api/appointments`, {
      method: 'POST', agent, timeout: 15000,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json',
                 'content-length': Buffer.byteLength(data), 'idempotency-key': idem },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: String(e) }));
    req.end(data);
  });
}

const ids = new Array(count);
let next = 0;
let failure = null;
async function lane() {
  while (!failure) {
    const i = next++;
    if (i >= count) return;
    const body = { contactId: contact, scheduledAt: new Date(t0 + i * 30 * 60000).toISOString(),
                   durationMinutes: 30 };
    let r;
    for (let attempt = 0; attempt < 5; attempt++) {
      r = await post(body, `outbox-faults-${run}-${i}`);
      const retriable = r.status === 0 || r.status === 503 ||
                        (r.status === 409 && r.body.includes('slot_busy'));
      if (!retriable) break;
      await new Promise((res) => setTimeout(res, 200 * (attempt + 1)));
    }
    if (r.status !== 201) { failure = `booking ${i}: ${r.status} ${r.body.slice(0, 200)}`; return; }
    ids[i] = JSON.parse(r.body).appointmentId;
  }
}
await Promise.all(Array.from({ length: concurrency }, lane));
agent.destroy();
if (failure) {
  console.error(failure);
  process.exit(1);
}
fs.writeFileSync(outFile, ids.join('\n') + '\n');
