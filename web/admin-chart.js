// A small line chart in plain SVG (document.createElementNS, no library):
// one point per minute, gaps where a minute had no data, a title and a
// description for screen readers, a one-line text summary ("Last value …")
// and the numbers themselves in a collapsed table.

import { el, formatTime } from '/static/common.js';
import { nextId, tableBox } from '/static/admin-ui.js';

const SVG = 'http://www.w3.org/2000/svg';
const W = 400;
const H = 170;
const PAD = { left: 50, right: 10, top: 12, bottom: 24 };

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

/** A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten. */
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

/** The last minute with a value: {index, value} or null. */
function lastValue(values) {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return { index: i, value: values[i] };
  return null;
}

/**
 * opts: {title, times: [iso] (one per minute), zone, series: [{label,
 * values: [number|null]}], format(v) → text, max (fixed axis top, else
 * from the data), empty (sentence when there is no value at all)}.
 * Returns a <figure>. Its svg carries data-points (minutes drawn) and
 * data-last (the last value of the first series, or "").
 */
export function lineChart({ title, times, zone, series, format, max, empty }) {
  const n = times.length;
  const all = series.flatMap((x) => x.values).filter((v) => v !== null && v !== undefined);
  const top = max ?? niceMax(all.length ? Math.max(...all) : 0);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (i) => PAD.left + (n <= 1 ? plotW : (i * plotW) / (n - 1));
  const y = (v) => PAD.top + plotH * (1 - Math.min(v, top) / top);

  // The summary: the last value of each series, and when.
  const lasts = series.map((x) => lastValue(x.values));
  let summary;
  if (!all.length) summary = empty;
  else {
    const parts = series.map((sr, i) => (lasts[i] ? `${series.length > 1 ? sr.label + ' ' : ''}${format(lasts[i].value)}` : null)).filter(Boolean);
    const at = Math.max(...lasts.filter(Boolean).map((l) => l.index));
    const peak = Math.max(...series[series.length - 1].values.filter((v) => v !== null && v !== undefined));
    summary = `Last value: ${parts.join(', ')} (minute of ${formatTime(times[at], zone)}). Highest in the hour: ${format(Number.isFinite(peak) ? peak : 0)}.`;
  }

  const titleId = nextId('chart-title');
  const descId = nextId('chart-desc');
  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-labelledby': `${titleId} ${descId}`,
    class: 'chart-svg',
    'data-points': n,
    'data-last': lasts[0] ? lasts[0].value : '',
    preserveAspectRatio: 'xMidYMid meet',
  });
  svg.append(s('title', { id: titleId }, `${title}, last hour`), s('desc', { id: descId }, summary));

  // Grid and axis labels.
  for (const f of [0, 0.5, 1]) {
    const yy = y(top * f);
    svg.append(
      s('line', { x1: PAD.left, x2: W - PAD.right, y1: yy, y2: yy, class: 'grid' }),
      s('text', { x: PAD.left - 6, y: yy + 4, 'text-anchor': 'end', class: 'axis' }, format(top * f)),
    );
  }
  if (n) {
    for (const i of [0, Math.floor((n - 1) / 2), n - 1]) {
      svg.append(s('text', { x: x(i), y: H - 6, 'text-anchor': i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle', class: 'axis' }, formatTime(times[i], zone)));
    }
  }

  // One path per series, broken where a minute has no value, and a dot per value.
  series.forEach((sr, k) => {
    let d = '';
    let pen = false;
    const dots = s('g', { class: `dots series-${k}` });
    sr.values.forEach((v, i) => {
      if (v === null || v === undefined) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
      dots.append(s('circle', { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 2.5 }));
    });
    svg.append(s('path', { d: d || 'M0,0', class: `line series-${k}`, fill: 'none' }), dots);
  });

  const legend =
    series.length > 1
      ? el('ul', { class: 'legend' }, series.map((sr, k) => el('li', {}, el('span', { class: `swatch series-${k}`, 'aria-hidden': 'true' }), sr.label)))
      : null;

  const rows = times.map((t, i) => el('tr', {}, el('td', {}, formatTime(t, zone)), series.map((sr) => el('td', { class: 'num' }, sr.values[i] === null || sr.values[i] === undefined ? '—' : format(sr.values[i])))));
  const table = el(
    'details',
    { class: 'chart-data' },
    el('summary', {}, 'Numbers per minute'),
    tableBox(`${title}, per minute`, ['Minute'].concat(series.map((sr) => sr.label)), rows.reverse(), { captionHidden: true }),
  );

  const capId = nextId('chart-cap');
  return el(
    'figure',
    { class: 'chart card', 'aria-labelledby': capId },
    el('figcaption', { id: capId }, title),
    svg,
    legend,
    el('p', { class: 'chart-summary' }, summary),
    table,
  );
}
