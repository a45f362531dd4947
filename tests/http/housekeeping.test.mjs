// The worker's housekeeping (docs/design.md, "Deliveries"): every worker
// purges, at its start and then every minute, idempotency keys past 24 h,
// deliveries finished longer ago than the retention and expired holds; and
// it does so on a database session of its own, so that a purge held up
// (here: by a lock another session holds) delays no delivery.
//
// The file's server is a front end (--no-worker); each test starts the
// `bookd worker` it watches, so no other worker purges or delivers first.

import { after } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';

import { assert, ctest, useServer, createOrg, createContact, createProvider, expectStatus, waitUntil, rnd, stopAndCheckLogs } from './lib/harness.mjs';
import { startServer } from './lib/server.mjs';
import { startReceiver } from './lib/receiver.mjs';

const ENV = { BOOKD_WEBHOOK_ALLOW_PRIVATE: 'true', BOOKD_OUTBOX_POLL_MS: '100' };
const secrets = [];
const ctx = useServer({
  env: { ...ENV, BOOKD_NO_WORKER: 'true' },
  setup: async (c) => {
    c.org = await createOrg(c, { timezone: 'UTC' });
    c.contact = await createContact(c, c.org.adminKey, { name: `Housekeeping Person ${rnd()}` });
    c.provider = await createProvider(c, c.org.adminKey, { name: `Dr Sweep ${rnd()}` });
    secrets.push(c.adminToken, c.org.adminKey, c.org.publicKey, c.contact.name);
  },
});

const started = [];
after(async () => {
  for (const s of started) await s.stop();
});

/** A `bookd worker` on the test database; stopped at the end of the file. */
async function worker() {
  const w = await startServer({ env: ENV, args: ['worker'] });
  started.push(w);
  return w;
}

function psql(sql) {
  const r = spawnSync('psql', ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', process.env.DATABASE_URL, '-c', sql], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `psql: ${r.stderr}`);
  return r.stdout.trim();
}

/** Holds `table` in SHARE mode (reads pass, deletes wait) for `seconds`,
 * from a psql of its own; resolves once granted, to {done}: its exit. */
async function lockTable(table, seconds) {
  const child = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', process.env.DATABASE_URL, '-c',
    `BEGIN; LOCK TABLE ${table} IN SHARE MODE; SELECT pg_sleep(${seconds}); COMMIT;`], { stdio: 'ignore' });
  let exited = false;
  const done = new Promise((resolve) => child.on('exit', () => resolve((exited = true))));
  await waitUntil(() => psql(`SELECT count(*) FROM pg_locks WHERE relation = '${table}'::regclass `
    + "AND mode = 'ShareLock' AND granted") === '1', { what: `${table} is locked` });
  return { done, held: () => !exited };
}

const logEvents = (server, event) => server.logs.map((l) => {
  try {
    return JSON.parse(l);
  } catch {
    return null;
  }
}).filter((o) => o && o.event === event);

ctest('a worker purges at its start: an idempotency key past 24 h, a delivery delivered past the retention, an expired hold; what is younger stays', async () => {
  const key = ctx.org.adminKey;
  const at = (h) => new Date(Date.UTC(2037, 2, 2, h)).toISOString();
  const idem = (k, h) => ctx.api('POST', '/api/appointments', {
    key, headers: { 'Idempotency-Key': k }, body: { contactId: ctx.contact.id, providerId: ctx.provider.id, scheduledAt: at(h), durationMinutes: 30 },
  });
  const oldKey = `old-${rnd()}`, newKey = `new-${rnd()}`;
  expectStatus(await idem(oldKey, 9), 201, 'booking with the old key');
  expectStatus(await idem(newKey, 10), 201, 'booking with the young key');
  const org = ctx.org.id;
  psql(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE org_id = '${org}' AND key = '${oldKey}'`);
  psql(`UPDATE idempotency_keys SET created_at = now() - interval '23 hours' WHERE org_id = '${org}' AND key = '${newKey}'`);

  const oldHold = expectStatus(await ctx.api('POST', '/api/holds', { key, body: { scheduledAt: at(12), durationMinutes: 30, providerId: ctx.provider.id } }), 201);
  const liveHold = expectStatus(await ctx.api('POST', '/api/holds', { key, body: { scheduledAt: at(13), durationMinutes: 30, providerId: ctx.provider.id } }), 201);
  psql(`UPDATE appointments SET expires_at = now() - interval '1 second' WHERE id = '${oldHold.holdId}'`);

  // Deliveries marked delivered: one 31 days ago (past the default 30
  // days' retention), the others (the endpoint's deliveries of every event
  // not yet fanned out, the two below at least) 29.
  const rx = await startReceiver();
  try {
    const ep = expectStatus(await ctx.api('POST', '/api/webhook-endpoints', { key, body: { url: rx.urlFor('/h'), events: ['appointment.booked'] } }), 201);
    secrets.push(ep.secret);
    await idem(`x-${rnd()}`, 14);
    await idem(`y-${rnd()}`, 15);
    // The front end has no worker: fan the events out here, as a worker would.
    await waitUntil(() => psql(`SELECT outbox_fan_out(100, 0) = 0 AND (SELECT count(*) FROM deliveries WHERE endpoint_id = '${ep.id}') >= 2`) === 't',
      { what: 'the deliveries exist' });
    const ids = psql(`SELECT string_agg(id::text, ',' ORDER BY id) FROM deliveries WHERE endpoint_id = '${ep.id}'`).split(',');
    const [old, ...young] = ids;
    psql(`UPDATE deliveries SET status = 'delivered', attempts = 1, delivered_at = now() - interval '31 days' WHERE id = '${old}'`);
    psql(`UPDATE deliveries SET status = 'delivered', attempts = 1, delivered_at = now() - interval '29 days' WHERE endpoint_id = '${ep.id}' AND id <> '${old}'`);

    // Positive control: all there before the worker starts.
    assert.equal(psql(`SELECT count(*) FROM idempotency_keys WHERE org_id = '${org}' AND key IN ('${oldKey}', '${newKey}')`), '2');
    assert.equal(psql(`SELECT count(*) FROM appointments WHERE id IN ('${oldHold.holdId}', '${liveHold.holdId}')`), '2');

    const w = await worker();
    await waitUntil(() => psql(`SELECT count(*) FROM idempotency_keys WHERE org_id = '${org}' AND key = '${oldKey}'`) === '0'
      && psql(`SELECT count(*) FROM deliveries WHERE id = '${old}'`) === '0'
      && psql(`SELECT count(*) FROM appointments WHERE id = '${oldHold.holdId}'`) === '0', { what: 'the old rows purged' });
    assert.equal(psql(`SELECT count(*) FROM idempotency_keys WHERE org_id = '${org}' AND key = '${newKey}'`), '1', 'a key of 23 hours stays');
    assert.equal(psql(`SELECT count(*) FROM deliveries WHERE endpoint_id = '${ep.id}'`), String(young.length), 'deliveries of 29 days stay');
    assert.equal(psql(`SELECT count(*) FROM appointments WHERE id = '${liveHold.holdId}'`), '1', 'a live hold stays');
    // The replay of the young key still answers from its stored result.
    expectStatus(await idem(newKey, 10), 201, 'the young key replays');
    assert.deepEqual(logEvents(w, 'worker.db_failed'), [], 'no failed statement');
    await stopAndCheckLogs({ server: w }, secrets);
    started.splice(started.indexOf(w), 1);
    expectStatus(await ctx.api('DELETE', `/api/webhook-endpoints/${ep.id}`, { key }), 204);
  } finally {
    await rx.close();
  }
});

ctest('a purge held up by a lock delays no delivery: the webhook arrives while the purge waits; the purge gives up at its lock timeout and says where it waited', async () => {
  const key = ctx.org.adminKey;
  const rx = await startReceiver();
  try {
    const ep = expectStatus(await ctx.api('POST', '/api/webhook-endpoints', { key, body: { url: rx.urlFor('/lock'), events: ['appointment.booked'] } }), 201);
    secrets.push(ep.secret);
    // vapi_calls: the last table a purge round deletes from, and one that
    // booking and delivering never write. Held for longer than the purge's
    // lock timeout (5 s).
    const lock = await lockTable('vapi_calls', 9);
    const w = await worker();
    // The worker's first round is under way and waits for the lock.
    await waitUntil(() => psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
      + "AND query LIKE '%vapi_purge%'") === '1', { what: 'the purge waits for the lock' });
    const appt = expectStatus(await ctx.api('POST', '/api/appointments', {
      key, body: { contactId: ctx.contact.id, providerId: ctx.provider.id, scheduledAt: '2037-03-03T09:00:00Z', durationMinutes: 30 },
    }), 201).appointment;
    const [r] = await rx.waitFor(1, { path: '/lock' });
    assert.equal(r.json.data.appointment.id, appt.id, 'the booking\'s webhook');
    // Order, not time: the delivery came while the purge still waited (its
    // lock timeout not yet logged) and the lock was still held.
    assert.ok(lock.held(), 'the lock was still held when the webhook arrived');
    assert.deepEqual(logEvents(w, 'worker.db_failed'), [], 'the purge had not given up yet when the webhook arrived');

    await waitUntil(() => logEvents(w, 'worker.db_failed').length === 1, { what: 'the purge gives up', timeoutMs: 15_000 });
    const [failed] = logEvents(w, 'worker.db_failed');
    assert.match(failed.msg, /^vapi_purge: canceling statement due to lock timeout/, failed.msg);
    // The function and line of the statement that waited (its third DELETE).
    assert.match(failed.msg, /\| PL\/pgSQL function vapi_purge\(integer,integer\) line \d+ at SQL statement$/, failed.msg);
    await lock.done;
    await stopAndCheckLogs({ server: w }, secrets);
    started.splice(started.indexOf(w), 1);
  } finally {
    await rx.close();
  }
}, { timeout: 40_000 });
