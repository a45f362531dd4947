// Starts and stops one `bookd serve` for a test file. Needs BOOKD_BIN (the
// binary) and DATABASE_URL (a migrated throwaway database). The server
// listens on 127.0.0.1 with a port picked by the kernel; its URL comes from
// the "http.listening" log line. Every log line is kept in memory so that
// tests can check that no secret or personal data was logged.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { REPO_ROOT } from './openapi.mjs';

export const START_TIMEOUT_MS = 15_000;
/** The key of a run started by hand, without scripts/test.sh. */
export const TEST_SECRET_KEY = '5eed'.repeat(16);
export const STOP_TIMEOUT_MS = 10_000;

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/**
 * Spawns `$BOOKD_BIN serve`. `env` adds or overrides BOOKD_* settings
 * (e.g. {BOOKD_RATE_LIMIT_PUBLIC: '2/3'}); `args` replaces the command line
 * (default ['serve'], e.g. ['serve', '--no-worker']). Resolves
 * {url, adminToken, logs, stop(), exited} once the server listens.
 */
export async function startServer({ env = {}, args = ['serve'] } = {}) {
  const bin = process.env.BOOKD_BIN;
  const db = process.env.DATABASE_URL;
  if (!bin) throw new Error('BOOKD_BIN is not set (absolute path of build/bookd)');
  if (!db) throw new Error('DATABASE_URL is not set (a migrated throwaway database)');

  const adminToken = randomBytes(24).toString('hex');
  const childEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BOOKD_')) childEnv[k] = v;
  // Every server of a run seals and opens stored secrets with one key
  // (scripts/test.sh exports it): a server refuses to start when the
  // database holds secrets it cannot open.
  childEnv.BOOKD_SECRET_KEY = process.env.BOOKD_SECRET_KEY || TEST_SECRET_KEY;
  Object.assign(
    childEnv,
    {
      // As the role bookd serves with (scripts/test.sh: bookd_app, which
      // may only execute the API functions); a later keyword wins.
      DATABASE_URL: process.env.BOOKD_TEST_APP_USER ? `${db} user=${process.env.BOOKD_TEST_APP_USER}` : db,
      BOOKD_LISTEN: '127.0.0.1:0',
      BOOKD_ADMIN_TOKEN: adminToken,
      // Generous by default so that only the rate-limit test meets a limit.
      BOOKD_RATE_LIMIT_PUBLIC: '100000/100000',
      BOOKD_RATE_LIMIT_ADMIN: '100000/100000',
      // Tests send wrong keys on purpose; only the abuse tests meet the
      // per-address limit on them.
      BOOKD_RATE_LIMIT_AUTH_FAILURES: '100000/100000',
    },
    env,
  );

  const child = spawn(bin, args, { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const logs = []; // stderr lines
  const stdoutLines = [];
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      running.delete(child);
      resolve(exitInfo);
    });
    child.on('error', (e) => {
      exitInfo = { code: null, signal: null, error: e.message };
      running.delete(child);
      resolve(exitInfo);
    });
  });

  // Without HTTP (`bookd worker`) there is no address to wait for: the
  // first JSON log line, or a quiet second without an exit, will do.
  const noHttp = args[0] !== 'serve';
  let listenResolve;
  const listening = new Promise((r) => (listenResolve = r));
  let quietTimer = null;
  if (noHttp) quietTimer = setTimeout(() => listenResolve(null), 1000);
  const splitter = (sink, onLine) => {
    let buf = '';
    return (chunk) => {
      buf += chunk.toString('utf8');
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        sink.push(line);
        if (onLine) onLine(line);
      }
    };
  };
  child.stderr.on(
    'data',
    splitter(logs, (line) => {
      let obj;
      try {
        obj = JSON.parse(line);
      } catch {
        return;
      }
      if (noHttp) listenResolve(null);
      else if (obj && obj.event === 'http.listening' && typeof obj.msg === 'string') listenResolve(obj.msg);
    }),
  );
  child.stdout.on('data', splitter(stdoutLines));

  let timer;
  const timeout = new Promise((r) => (timer = setTimeout(() => r({ timeout: true }), START_TIMEOUT_MS)));
  const first = await Promise.race([
    listening.then((url) => ({ url, ready: true })),
    exited.then((info) => ({ exit: info })),
    timeout,
  ]);
  clearTimeout(timer);
  clearTimeout(quietTimer);

  let stopRequested = false;
  const stop = async () => {
    if (!exitInfo) stopRequested = true;
    if (!exitInfo) {
      child.kill('SIGTERM');
      let t;
      const r = await Promise.race([exited, new Promise((res) => (t = setTimeout(() => res(null), STOP_TIMEOUT_MS)))]);
      clearTimeout(t);
      if (!r) {
        child.kill('SIGKILL');
        await exited;
        return { ...exitInfo, killed: true };
      }
    }
    await exited;
    return { ...exitInfo, killed: false };
  };

  if (noHttp && first.ready) {
    // A worker that dies at once (a bad setting) must not pass for one that runs.
    let t;
    await Promise.race([exited, new Promise((r) => (t = setTimeout(r, 300)))]);
    clearTimeout(t);
    if (exitInfo) Object.assign(first, { ready: false, exit: exitInfo });
  }
  if (noHttp ? !first.ready : !first.url) {
    await stop();
    const why = first.timeout ? `did not log "http.listening" within ${START_TIMEOUT_MS} ms` : `exited early (${JSON.stringify(first.exit)})`;
    const tail = logs.concat(stdoutLines).slice(-15).join('\n');
    throw new Error(`${bin} ${args.join(' ')} ${why}; last output:\n${tail}`);
  }
  if (!noHttp && !/^http:\/\/127\.0\.0\.1:\d+\/?$/.test(first.url)) {
    await stop();
    throw new Error(`http.listening msg is not http://127.0.0.1:PORT: ${JSON.stringify(first.url)}`);
  }
  return {
    url: noHttp ? null : first.url.replace(/\/$/, ''),
    adminToken,
    logs,
    stdoutLines,
    pid: child.pid,
    stop,
    exited,
    get exitInfo() {
      return exitInfo;
    },
    /** Exited without being asked to (a crash), with the last log lines. */
    get crashed() {
      return exitInfo && !stopRequested ? { ...exitInfo, tail: logs.slice(-10).join('\n') } : null;
    },
  };
}
