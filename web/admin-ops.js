// Operations: what an operator paged at night looks at first. Readiness and
// the database connection pool (/ready), every circuit breaker with its
// state and next probe (/api/breakers, and /ready's per-kind summary), the
// outbox backlog (bookd_outbox_pending from /metrics) and four charts of
// the last hour (/metrics/history). Refreshed every 5 s while the view is
// open and the tab visible; stopped when the view closes.

import { api, el, replace } from '/static/common.js';
import { viewHeading, section, badge, when, relative, tableBox, errorText, announce } from '/static/admin-ui.js';
import { lineChart } from '/static/admin-chart.js';

const REFRESH_MS = 5000;

/** The value of a sample without labels in Prometheus text, or null. */
export function metricValue(text, name) {
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([-+0-9.eE]+|NaN)\\s*$`, 'm');
  const m = re.exec(text || '');
  return m ? Number(m[1]) : null;
}

async function metricsText() {
  const res = await fetch('/metrics', { cache: 'no-store', credentials: 'omit' });
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

const pct = (v) => `${(v * 100).toFixed(v > 0 && v < 0.1 ? 1 : 0)}%`;
const ms = (v) => (v >= 100 ? `${Math.round(v)} ms` : v >= 10 ? `${v.toFixed(1)} ms` : `${v.toFixed(2)} ms`);

export async function renderOps(app, root) {
  const zone = app.zone;
  const clock = new Intl.DateTimeFormat(undefined, { timeZone: zone, hour: 'numeric', minute: '2-digit', second: '2-digit' });
  const updated = el('span', { class: 'updated' }, 'Loading…');
  const pause = el('button', { type: 'button', class: 'secondary small', 'aria-pressed': 'false' }, 'Pause updates');
  const problem = el('p', { class: 'form-message', 'aria-live': 'polite' });

  const health = section('Service');
  const pool = section('Connection pool');
  const backlog = section('Outbox backlog');
  const breakers = section('Circuit breakers', { cls: 'wide' });
  const charts = el('div', { class: 'charts' });

  replace(
    root,
    viewHeading('Operations'),
    el('p', { class: 'live-line' }, 'Live: refreshed every 5 seconds while this view is open. ', updated, ' ', pause),
    problem,
    el('div', { class: 'ops-grid' }, health.node, pool.node, backlog.node, breakers.node),
    el('section', { class: 'charts-section', 'aria-labelledby': 'charts-h' }, el('h3', { id: 'charts-h' }, 'The last hour, per minute'), charts),
  );

  let endpointUrls = null;
  const targetName = async (t) => {
    if (!t.startsWith('webhook:')) return { google: 'Google Calendar', twilio: 'Twilio SMS', vapi: 'Vapi calls' }[t] || t;
    if (!endpointUrls) {
      try {
        endpointUrls = Object.fromEntries((await app.call('/api/webhook-endpoints')).endpoints.map((e) => [e.id, e.url]));
      } catch {
        endpointUrls = {};
      }
    }
    const id = t.slice('webhook:'.length);
    return endpointUrls[id] ? `Webhook ${endpointUrls[id]}` : `Webhook ${id}`;
  };

  async function refresh() {
    const [ready, brk, metrics, history] = await Promise.allSettled([
      api('/ready').catch((e) => {
        if (e.body && e.body.pool) return e.body; // 503 still carries the figures
        throw e;
      }),
      app.call('/api/breakers'),
      metricsText(),
      api('/metrics/history'),
    ]);
    const problems = [];

    if (ready.status === 'fulfilled') {
      const r = ready.value;
      replace(
        health.body,
        el('dl', { class: 'details' },
          el('dt', {}, 'Readiness'), el('dd', { 'data-metric': 'status' }, badge(r.status)),
          el('dt', {}, 'Database'), el('dd', { 'data-metric': 'database' }, badge(r.database))),
        el('p', { class: 'hint' }, 'Ready means the database answers and the pool can serve requests.'),
      );
      const p = r.pool || {};
      const dl = el('dl', { class: 'numbers' });
      for (const [k, label] of [['size', 'Size'], ['idle', 'Idle'], ['inUse', 'In use'], ['waiting', 'Waiting']]) {
        dl.append(el('div', { class: 'number' + (k === 'waiting' && p[k] > 0 ? ' is-warn' : '') }, el('dt', {}, label), el('dd', { 'data-metric': 'pool.' + k }, String(p[k] ?? '—'))));
      }
      replace(pool.body, dl);
      pool.body.append(el('p', { class: 'hint' }, 'Requests waiting for a connection mean the pool is exhausted.'));
    } else problems.push('readiness: ' + errorText(ready.reason));

    if (metrics.status === 'fulfilled') {
      const v = metricValue(metrics.value, 'bookd_outbox_pending');
      replace(
        backlog.body,
        el('p', { class: 'big-number', 'data-metric': 'outbox' }, v === null ? '—' : String(v)),
        el('p', { class: 'hint' }, 'Events and deliveries (webhooks, SMS, calendar, calls) not yet sent. It should drain to 0; a growing number means a receiver is failing or the worker is behind.'),
      );
    } else problems.push('metrics: ' + (metrics.reason && metrics.reason.message));

    const kinds = ready.status === 'fulfilled' ? Object.entries(ready.value.breakers || {}) : [];
    if (brk.status === 'fulfilled') {
      const rows = await Promise.all(
        brk.value.breakers.map(async (b) =>
          el(
            'tr',
            { 'data-breaker': b.target },
            el('td', { class: 'wrap-anywhere' }, await targetName(b.target)),
            el('td', {}, badge(b.state)),
            el('td', { class: 'num' }, `${b.failures} of ${b.calls}`),
            el('td', {}, b.openedAt ? `${when(b.openedAt, zone)} (${relative(b.openedAt)})` : '—'),
            el('td', {}, b.nextProbeAt ? `${when(b.nextProbeAt, zone)} (${relative(b.nextProbeAt)})` : '—'),
          ),
        ),
      );
      replace(
        breakers.body,
        kinds.length
          ? el('p', { class: 'kinds' }, 'Whole service, worst per kind: ', kinds.map(([k, st]) => el('span', { class: 'kind' }, `${k} `, badge(st))))
          : null,
        rows.length
          ? tableBox('Circuit breakers of this organization', ['Target', 'State', 'Recent failures', 'Opened', 'Next probe'], rows, { captionHidden: true })
          : el('p', { class: 'empty' }, 'No breakers yet: one appears when a webhook or integration is first called.'),
        el('p', { class: 'hint' }, 'An open breaker holds deliveries back (never drops them) until its next probe.'),
      );
    } else problems.push('breakers: ' + errorText(brk.reason));

    if (history.status === 'fulfilled') {
      const m = history.value.minutes || [];
      const times = m.map((x) => x.at);
      const col = (k) => m.map((x) => (x[k] === undefined ? null : x[k]));
      const open = [...charts.querySelectorAll('details')].map((d) => d.open);
      const total = m.reduce((a, x) => a + Object.values(x.bookings || {}).reduce((p, q) => p + q, 0), 0);
      replace(
        charts,
        lineChart({ title: 'Advisory-lock wait (ms)', times, zone, series: [{ label: 'p50', values: col('lockWaitP50Ms') }, { label: 'p99', values: col('lockWaitP99Ms') }], format: ms, empty: 'No lock waits in the last hour.' }),
        lineChart({ title: 'Conflict rate', times, zone, series: [{ label: 'Conflicts', values: col('conflictRate') }], format: pct, max: 1, empty: 'No bookings in the last hour.' }),
        lineChart({ title: 'Lock-timeout rate', times, zone, series: [{ label: 'Lock timeouts', values: col('lockTimeoutRate') }], format: pct, max: 1, empty: 'No bookings in the last hour.' }),
        lineChart({ title: 'Booking success rate', times, zone, series: [{ label: 'Booked', values: col('successRate') }], format: pct, max: 1, empty: 'No bookings in the last hour.' }),
        el('p', { class: 'hint charts-note' }, `${total} booking attempts in the last hour. Rates are shares of each minute\u2019s attempts; a gap is a minute without any. Times in ${zone}.`),
      );
      charts.querySelectorAll('details').forEach((d, i) => (d.open = !!open[i]));
    } else problems.push('history: ' + errorText(history.reason));

    updated.textContent = `Updated ${clock.format(new Date())}.`;
    if (problems.length) {
      problem.className = 'form-message is-error';
      problem.textContent = `Could not read ${problems.join('; ')}. Trying again in 5 seconds.`;
    } else {
      problem.className = 'form-message';
      problem.textContent = '';
    }
  }

  let stopped = false;
  let paused = false;
  let timer = null;
  const schedule = () => {
    clearTimeout(timer);
    if (!stopped && !paused) timer = setTimeout(tick, REFRESH_MS);
  };
  const tick = async () => {
    if (stopped || paused) return;
    if (document.visibilityState === 'hidden') return schedule();
    try {
      await refresh();
    } catch (e) {
      problem.textContent = errorText(e);
    }
    schedule();
  };
  const onVisible = () => {
    if (document.visibilityState === 'visible' && !stopped && !paused) tick();
  };
  document.addEventListener('visibilitychange', onVisible);
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume updates' : 'Pause updates';
    announce(paused ? 'Live updates paused.' : 'Live updates resumed.');
    if (paused) clearTimeout(timer);
    else tick();
  });

  await refresh();
  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisible);
  };
}
