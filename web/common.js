// What every page needs: the server's config, calling bookd's API, building
// DOM safely, and showing instants in a time zone. Every user-supplied text
// goes through textContent (el() never parses HTML), so a contact called
// "<img src=x onerror=alert(1)>" shows as those characters.

/** The JSON the server put into the page (docs/web.md), or {}. */
export function pageConfig() {
  const node = document.getElementById('bookd-config');
  if (!node) return {};
  try {
    return JSON.parse(node.textContent) || {};
  } catch {
    return {};
  }
}

/** An error answer of the API: status, code and message of its body. */
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.message) || `The server answered ${status}.`);
    this.status = status;
    this.code = (body && body.error) || 'http_' + status;
    this.field = (body && body.field) || null;
    this.body = body || {};
    this.retryAfter = retryAfter;
  }
}

/**
 * Calls bookd: `path` (with its query), `opts.method`, `opts.body` (sent as
 * JSON), `opts.key` (Authorization: Bearer). Resolves the parsed JSON (null
 * for 204); rejects with ApiError for 4xx/5xx, or with an ApiError of
 * status 0 when the network fails.
 */
export async function api(path, { method = 'GET', body, key, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = 'Bearer ' + key;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, {
      error: 'network',
      message: 'The booking service could not be reached. Check your connection and try again.',
    });
  }
  const text = res.status === 204 ? '' : await res.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!res.ok) throw new ApiError(res.status, json, Number(res.headers.get('Retry-After')) || 0);
  return json;
}

/** A query string from an object, leaving out undefined, null and ''. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? '?' + s : '';
}

/**
 * A DOM element: el('button', {class: 'primary', type: 'button', onclick: f}, 'Book').
 * Attributes starting with "on" become listeners; `dataset` and `aria`
 * are not special (pass 'data-x' / 'aria-x'); children are nodes or text
 * (text is always text, never HTML); null/false children are skipped.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** Removes every child of `node`, then appends `children` (as el()). */
export function replace(node, ...children) {
  node.replaceChildren();
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** The browser's own time zone (IANA name). */
export function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

const formatters = new Map();
function formatter(zone, opts) {
  const k = zone + JSON.stringify(opts);
  let f = formatters.get(k);
  if (!f) {
    f = new Intl.DateTimeFormat(undefined, { timeZone: zone, ...opts });
    formatters.set(k, f);
  }
  return f;
}

/** "14:00" or "2:00 PM" (the reader's convention) of an instant in `zone`. */
export function formatTime(iso, zone) {
  return formatter(zone, { hour: 'numeric', minute: '2-digit' }).format(new Date(iso));
}

/** "Tuesday 27 January 2026" (the reader's convention) in `zone`. */
export function formatDay(iso, zone) {
  return formatter(zone, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }).format(new Date(iso));
}

/** Day and time together, with the zone's short name: "Tue 27 Jan 2026, 14:00 GMT". */
export function formatDateTime(iso, zone) {
  return formatter(zone, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    timeZoneName: 'short',
  }).format(new Date(iso));
}

/** The local calendar date "YYYY-MM-DD" of an instant in `zone`. */
export function localDate(iso, zone) {
  const p = Object.fromEntries(
    formatter(zone, { year: 'numeric', month: '2-digit', day: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(iso))
      .map((x) => [x.type, x.value]),
  );
  return `${p.year}-${p.month}-${p.day}`;
}

/** Today's date "YYYY-MM-DD" in `zone`. */
export function todayIn(zone) {
  return localDate(new Date().toISOString(), zone);
}

/** "YYYY-MM-DD" plus n days (calendar arithmetic, no zone involved). */
export function addDays(date, n) {
  const d = new Date(date + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/**
 * The instant (ISO, UTC) at which the wall clock in `zone` shows `date`
 * ("YYYY-MM-DD") `time` ("HH:MM"). For a time that happens twice, the
 * first; for one that does not exist, the instant an hour later.
 */
export function zonedInstant(date, time, zone) {
  const guess = Date.parse(`${date}T${time}:00Z`);
  const offset = (ms) => {
    const p = Object.fromEntries(
      formatter(zone, {
        year: 'numeric', month: '2-digit', day: '2-digit',
        hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
      })
        .formatToParts(new Date(ms))
        .map((x) => [x.type, x.value]),
    );
    return Date.parse(`${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}Z`) - ms;
  };
  let t = guess - offset(guess);
  t = guess - offset(t);
  return new Date(t).toISOString();
}
