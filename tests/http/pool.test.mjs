// The outbox count behind bookd_outbox_pending is kept in the process and
// taken at most every 5 s, not on every scrape. And /ready and /metrics
// while every pool connection is busy: they wait for a
// connection a short while of their own (not BOOKD_POOL_WAIT_MS), so an
// operator's probe answers at once; /ready says 503 with database
// "unknown", /metrics still renders, with the outbox count last taken.
// The pool (one connection) is held by a booking that waits on its
// contact's row, which a psql session keeps locked (as tests/db/busy_test.sh
// does).

import { spawn, execFileSync } from 'node:child_process';
import { assert, ctest, useServer, createOrg, createContact, book, expectStatus, rnd } from './lib/harness.mjs';

const POOL_WAIT_MS = 5_000;
const ctx = useServer({
  // No worker: the events it would fan out stay pending, so the count moves
  // only with the bookings the tests make.
  env: { BOOKD_POOL_SIZE: '1', BOOKD_POOL_WAIT_MS: String(POOL_WAIT_MS), BOOKD_LOCK_TIMEOUT_MS: '20000', BOOKD_NO_WORKER: 'true' },
  setup: async (c) => {
    c.org = await createOrg(c, { timezone: 'UTC' });
    c.contact = await createContact(c, c.org.adminKey, { name: `Pool Person ${rnd()}` });
  },
});

const sql = (query) => execFileSync('psql', ['-X', '-q', '-t', '-A', process.env.DATABASE_URL, '-c', query], { encoding: 'utf8', timeout: 10_000 }).trim();

/** Waits (at most 10 s) until the SQL condition holds. */
async function untilDb(condition, what) {
  for (let i = 0; i < 100; i++) {
    if (sql(`SELECT (${condition})`) === 't') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`not within 10 s: ${what}`);
}

/** Runs `request`, resolving {res, ms}. */
async function timed(request) {
  const t0 = process.hrtime.bigint();
  const res = await request();
  return { res, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

function sample(text, line) {
  const m = new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

ctest('the outbox count is kept between scrapes and taken again after 5 s', async () => {
  const first = await ctx.api('GET', '/metrics');
  expectStatus(first, 200);
  const counted = sample(first.raw, 'bookd_outbox_pending');
  assert.ok(counted >= 0, `bookd_outbox_pending is there: ${counted}`);
  // A booking writes one more event; a scrape right after shows the kept count.
  const res = await book(ctx, ctx.org.adminKey, { contactId: ctx.contact.id, scheduledAt: '2031-06-02T08:00:00Z', durationMinutes: 30 });
  expectStatus(res, 201, 'booking');
  const kept = await ctx.api('GET', '/metrics');
  assert.equal(sample(kept.raw, 'bookd_outbox_pending'), counted, 'not counted again within 5 s');
  await new Promise((r) => setTimeout(r, 5_500));
  const again = await ctx.api('GET', '/metrics');
  // (The count stops at 10000: it reads "at least that many".)
  assert.equal(sample(again.raw, 'bookd_outbox_pending'), Math.min(counted + 1, 10_000), 'counted again after 5 s');
});

ctest('with every connection busy past the pool wait, /ready and /metrics answer within 1.5 s', async () => {
  // A booking first, so that the outbox has something pending, and a scrape
  // that counts it.
  const first = await book(ctx, ctx.org.adminKey, { contactId: ctx.contact.id, scheduledAt: '2031-06-02T09:00:00Z', durationMinutes: 30 });
  expectStatus(first, 201, 'first booking');
  const before = await ctx.api('GET', '/metrics');
  expectStatus(before, 200);
  const pending = sample(before.raw, 'bookd_outbox_pending');
  assert.ok(pending >= 1, `the outbox count is there: ${pending}`);

  const holder = spawn('psql', ['-X', '-q', process.env.DATABASE_URL, '-c',
    `BEGIN; SELECT 1 FROM contacts WHERE id = '${ctx.contact.id}' FOR UPDATE; SELECT pg_sleep(60); COMMIT;`], { stdio: 'ignore' });
  const held = new Promise((r) => holder.on('exit', r));
  try {
    await untilDb("EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep')", 'the holder locks the contact');
    // This booking takes the only connection and waits on the contact's row.
    const blocked = book(ctx, ctx.org.adminKey, { contactId: ctx.contact.id, scheduledAt: '2031-06-02T11:00:00Z', durationMinutes: 30 });
    await untilDb("(SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock') = 1", 'the booking waits on the row');

    const ready = await timed(() => ctx.api('GET', '/ready'));
    assert.equal(ready.res.status, 503, `/ready with a full pool: ${ready.res.raw}`);
    assert.ok(ready.ms < 1_500, `/ready answered after ${ready.ms.toFixed(0)} ms (pool wait ${POOL_WAIT_MS} ms)`);
    assert.equal(ready.res.body.status, 'unavailable');
    assert.equal(ready.res.body.database, 'unknown', 'the database was not asked');
    assert.deepEqual(ready.res.body.pool, { size: 1, idle: 0, inUse: 1, waiting: 0 });
    assert.match(String(ready.res.headers['retry-after']), /^\d+$/);

    const metrics = await timed(() => ctx.api('GET', '/metrics'));
    expectStatus(metrics.res, 200, '/metrics with a full pool');
    assert.ok(metrics.ms < 1_500, `/metrics answered after ${metrics.ms.toFixed(0)} ms (pool wait ${POOL_WAIT_MS} ms)`);
    assert.equal(sample(metrics.res.raw, 'bookd_db_pool_connections{state="in_use"}'), 1);
    assert.equal(sample(metrics.res.raw, 'bookd_outbox_pending'), pending, 'the last count is shown');

    const head = await timed(() => ctx.api('HEAD', '/ready'));
    assert.equal(head.res.status, 503);
    assert.ok(head.ms < 1_500, `HEAD /ready answered after ${head.ms.toFixed(0)} ms`);

    sql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'");
    expectStatus(await blocked, 201, 'the waiting booking completes once the row is free');
  } finally {
    // A cancelled holder rolls back and exits; pg_sleep would not notice a
    // killed psql for a minute.
    sql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'");
    await held;
  }
  const after = await ctx.api('GET', '/ready');
  expectStatus(after, 200, '/ready once the pool is free');
  assert.equal(after.body.database, 'up');
}, { timeout: 40_000 });
