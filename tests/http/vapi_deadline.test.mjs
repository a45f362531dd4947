// The voice agent's deadline (API.md, "Vapi": answer well inside Vapi's
// limit even when the database is slow): a tool call that cannot finish by
// BOOKD_VAPI_DEADLINE_MS is answered "one moment", the call goes on, and
// Vapi's retry of the same toolCallId gets the real answer it stored.
// The database is made slow by holding a lock the call needs, from psql.

import { spawn, spawnSync } from 'node:child_process';

import { assert, ctest, useServer, createOrg, expectStatus, waitUntil, rnd } from './lib/harness.mjs';
import { parseMetrics, sumOf } from './lib/metrics.mjs';
import { nextWeekday, zonedToUtc } from './lib/time.mjs';

const TZ = 'Europe/London';
const ctx = useServer({
  env: { BOOKD_VAPI_DEADLINE_MS: '400' },
  setup: async (c) => {
    c.org = await createOrg(c, { timezone: TZ });
  },
});

function psql(sql) {
  return spawnSync('psql', ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', process.env.DATABASE_URL, '-c', sql], {
    encoding: 'utf8',
  });
}

/** Holds vapi_tool_results locked for `seconds`, from a psql of its own;
 * resolves once the lock is granted, to {done}: the psql's exit. */
async function lockAnswers(seconds) {
  const child = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', process.env.DATABASE_URL, '-c',
    `BEGIN; LOCK TABLE vapi_tool_results IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(${seconds}); COMMIT;`], {
    stdio: 'ignore',
  });
  const done = new Promise((resolve) => child.on('exit', resolve));
  await waitUntil(() => psql("SELECT count(*) FROM pg_locks WHERE relation = 'vapi_tool_results'::regclass "
    + "AND mode = 'AccessExclusiveLock' AND granted").stdout.trim() === '1', { what: 'the lock is taken' });
  return { done }; // (a promise returned bare would be awaited with this function)
}

function toolCall(id, args, callId = `call-${rnd()}`) {
  return ctx.api('POST', '/api/webhooks/vapi', {
    key: ctx.org.vapiSecret,
    body: {
      message: {
        type: 'tool-calls',
        call: { id: callId, customer: { number: '+447700900123' } },
        toolCallList: [{ id, type: 'function', function: { name: 'checkAvailability', arguments: args } }],
      },
    },
  });
}

async function counter(result) {
  const res = await ctx.api('GET', '/metrics');
  return sumOf(parseMetrics(res.raw).samples, 'bookd_vapi_tool_calls_total', { tool: 'checkAvailability', result });
}

ctest('a tool call the database holds up past the deadline is answered "one moment", and its retry gets the real answer', async () => {
  const day = nextWeekday(TZ, 'tue'); // a Tuesday at least a week ahead
  const at = zonedToUtc(day, '11:00', TZ).toISOString();
  const id = `tc-${rnd()}`;
  const late0 = await counter('late');
  const replayed0 = await counter('replayed');

  const locked = await lockAnswers(3);
  const first = expectStatus(await toolCall(id, { scheduledAt: at }), 200, 'tool call while the database is held up');
  assert.equal(first.results.length, 1);
  assert.equal(first.results[0].toolCallId, id);
  assert.match(first.results[0].error ?? '', /^One moment please/, `answered before the database let go: ${JSON.stringify(first)}`);
  assert.equal(await counter('late'), late0 + 1, 'counted as late');

  await locked.done;
  // The call went on once the lock was gone and stored its answer.
  await waitUntil(() => psql(`SELECT count(*) FROM vapi_tool_results WHERE tool_call_id = '${id}'`).stdout.trim() === '1',
    { what: 'the late call stored its answer' });
  const retry = expectStatus(await toolCall(id, { scheduledAt: at }), 200, 'retry');
  assert.match(retry.results[0].result ?? '', /^Tuesday \d+ \w+ at 11:00 am is free/, JSON.stringify(retry));
  assert.equal(await counter('replayed'), replayed0 + 1, 'the retry is a replay');
});
