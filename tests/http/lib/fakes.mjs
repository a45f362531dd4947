// Fakes of the services bookd integrates with, for integrations.test.mjs:
// Google (the OAuth token endpoint and Calendar API v3 events), Twilio
// (Messages) and Vapi (outbound calls). Each is one lib/receiver.mjs
// receiver on 127.0.0.1 with a kernel-picked port, so every request is
// recorded there (method, path, url, headers, raw body, arrival, when its
// connection closed) and can be answered in any of the receiver's modes.
//
// On top of the receiver each fake routes a request to a "kind" and adds to
// its record:
//   kind         google: 'token' | 'insert' | 'delete' | 'list'; twilio:
//                'message'; vapi: 'call'; 'unknown' for anything else
//   params       from the path, percent-decoded (calendarId, eventId, sid);
//                rawCalendarId keeps the segment as sent
//   query        the query string as an object (searchParams: the URLSearchParams)
//   contentType  the media type of Content-Type, lower-case, no parameters
//   form, formKeys  for a form-encoded body: its fields, and every key in
//                order (repeats included)
//   basic        {user, password} of HTTP Basic auth, or null
//   bearer       the Bearer token, or null
//   status       what was answered: a status code, 'hang' or 'drop'
// and answers it as the real service would (the defaults below), unless
// told otherwise:
//   fake.setMode(kind, mode)   requests of that kind get `mode`
//   fake.setMode('/path', m)   requests to that exact path get m
//   fake.setMode(mode)         every request gets mode
//   fake.setMode(kindOrPath, null) / fake.reset()   back to the default
// A mode is what the receiver takes (a status code, {status, body?,
// headers?}, 'hang', 'drop', {slow: ms, status?}), an array (the n-th
// request of that kind or path gets the n-th, the last repeats) or a
// function (record, nth) => mode; 'default' (or undefined) anywhere means
// the fake's normal answer. A bare status code gets the service's own error
// body (e.g. Google's {"error":{"code":401,...}}).
//
// Defaults:
//   Google  POST /token (form-encoded refresh-token grant) → 200
//             {"access_token":"at-<n>-<hex>","expires_in":3600,"token_type":"Bearer"},
//             n counting grants from 1 (400 invalid_request/unsupported_grant_type
//             when the form is not a refresh-token grant with all four fields).
//           POST /calendar/v3/calendars/{cal}/events → 200 the event (stored;
//             an id already stored → 409 "The requested identifier already exists.")
//           DELETE /calendar/v3/calendars/{cal}/events/{id} → 204 (removed if stored)
//           GET /calendar/v3/calendars/{cal}/events → the calendar's events
//             (setEvents) followed by the events bookd inserted, `pageSize` a
//             page (2 unless told): {"kind","items","nextPageToken":"p2"}, page
//             n on pageToken=pn, no nextPageToken on the last page.
//           Calendar requests whose Bearer token was never issued, or revoked,
//           → 401.
//   Twilio  POST /2010-04-01/Accounts/{sid}/Messages.json → 201 {"sid":"SM<32 hex>",...};
//           401 (Twilio's error 20003) when credentials were set for that sid
//           (setCredentials) and Basic auth does not match them; 400 when To,
//           From or Body is missing.
//   Vapi    POST /call → 201 {"id":"call_<32 hex>",...}.

import { randomBytes } from 'node:crypto';
import { startReceiver } from './receiver.mjs';

const hex = (n) => randomBytes(n).toString('hex');

// ------------------------------------------------------------------ parsing helpers

/** A form-encoded body: {fields: {key: last value}, keys: [every key in order]}. */
export function parseForm(text) {
  const fields = {};
  const keys = [];
  for (const [k, v] of new URLSearchParams(String(text || ''))) {
    keys.push(k);
    fields[k] = v;
  }
  return { fields, keys };
}

/** HTTP Basic credentials of an Authorization header: {user, password}, or null. */
export function parseBasic(header) {
  const m = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(String(header || ''));
  if (!m) return null;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) return null;
  return { user: text.slice(0, i), password: text.slice(i + 1) };
}

/** The header value HTTP Basic auth must have for user:password. */
export function basicHeader(user, password) {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/** The token of `Authorization: Bearer <token>`, or null. */
export function bearerOf(header) {
  const m = /^Bearer\s+(\S+)\s*$/.exec(String(header || ''));
  return m ? m[1] : null;
}

/** The media type of a Content-Type header, lower-case, without parameters. */
export function mediaType(header) {
  return String(header || '').split(';')[0].trim().toLowerCase();
}

function decode(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

const json = (status, value, headers) => ({ status, body: JSON.stringify(value), ...(headers ? { headers } : {}) });

// ------------------------------------------------------------------ the common part

/**
 * One fake: a receiver whose answers come from `routes` ([{kind, method,
 * pattern, params(match) → object, handle(record) → mode}]) unless
 * overridden; `errorBody(status, record)` is the service's error body for a
 * bare status code.
 */
async function startFake({ name, routes, errorBody }) {
  const byKind = new Map(); // kind → {mode, n}
  const byPath = new Map(); // path → {mode, n}
  let all = null; // {mode, n}
  const kinds = new Set(routes.map((r) => r.kind));

  const pick = (o, record) => {
    o.n += 1;
    let m = o.mode;
    if (typeof m === 'function') m = m(record, o.n);
    if (Array.isArray(m)) m = m.length ? m[Math.min(o.n, m.length) - 1] : 'default';
    return m === undefined || m === null ? 'default' : m;
  };

  function dispatch(record) {
    const u = new URL(record.url, 'http://127.0.0.1');
    record.searchParams = u.searchParams;
    record.query = Object.fromEntries(u.searchParams);
    record.contentType = mediaType(record.headers['content-type']);
    record.form = null;
    record.formKeys = null;
    if (record.contentType === 'application/x-www-form-urlencoded') {
      const f = parseForm(record.body);
      record.form = f.fields;
      record.formKeys = f.keys;
    }
    record.basic = parseBasic(record.headers.authorization);
    record.bearer = bearerOf(record.headers.authorization);
    record.kind = 'unknown';
    record.params = {};
    let route = null;
    for (const r of routes) {
      if (r.method !== record.method) continue;
      const m = r.pattern.exec(record.path);
      if (!m) continue;
      route = r;
      record.kind = r.kind;
      record.params = r.params ? r.params(m) : {};
      break;
    }

    let mode = 'default';
    for (const o of [byPath.get(record.path), byKind.get(record.kind), all]) {
      if (!o) continue;
      mode = pick(o, record);
      if (mode !== 'default') break;
    }
    if (mode === 'default') {
      mode = route
        ? route.handle(record)
        : json(404, { error: `fake ${name}: no route for ${record.method} ${record.path}` });
    }
    if (typeof mode === 'number') mode = mode === 204 ? { status: 204, body: '' } : { status: mode, body: JSON.stringify(errorBody(mode, record)) };
    if (mode && typeof mode === 'object' && typeof mode.slow === 'number') record.status = mode.status || 200;
    else if (mode && typeof mode === 'object' && typeof mode.status === 'number') record.status = mode.status;
    else record.status = mode;
    return mode;
  }

  const rx = await startReceiver({ mode: dispatch });
  const select = ({ kind, where } = {}) => (r) => (kind === undefined || r.kind === kind) && (!where || where(r));

  return {
    name,
    rx,
    url: rx.url,
    port: rx.port,
    requests: rx.requests,
    urlFor: rx.urlFor,
    /** The recorded requests of a kind (all when kind is undefined) for which where(r) holds. */
    of(kind, where) {
      return rx.requests.filter(select({ kind, where }));
    },
    /** Resolves the matching requests once at least n arrived (bounded by timeoutMs). */
    waitFor(n, { kind, where, timeoutMs = 10_000 } = {}) {
      return rx.waitFor(n, { where: select({ kind, where }), timeoutMs });
    },
    /** Waits ms; returns the matching requests that arrived meanwhile. */
    quiet(ms, { kind, where } = {}) {
      return rx.quiet(ms, { where: select({ kind, where }) });
    },
    setMode(target, mode) {
      if (mode === undefined && !(typeof target === 'string' && (kinds.has(target) || target.startsWith('/')))) {
        all = target === null ? null : { mode: target, n: 0 };
        return;
      }
      const map = typeof target === 'string' && target.startsWith('/') ? byPath : byKind;
      if (map === byKind && !kinds.has(target)) throw new Error(`fake ${name}: unknown kind ${target} (${[...kinds].join(', ')})`);
      if (mode === null || mode === undefined) map.delete(target);
      else map.set(target, { mode, n: 0 });
    },
    /** Every override gone: the default answers again. */
    reset() {
      byKind.clear();
      byPath.clear();
      all = null;
    },
    down: () => rx.down(),
    up: () => rx.up(),
    close: () => rx.close(),
  };
}

// ------------------------------------------------------------------ Google

const G_EVENTS = /^\/calendar\/v3\/calendars\/([^/]+)\/events$/;
const G_EVENT = /^\/calendar\/v3\/calendars\/([^/]+)\/events\/([^/]+)$/;

function googleError(status, record) {
  if (record && record.kind === 'token') {
    const error = status === 401 ? 'invalid_client' : status === 400 ? 'invalid_grant' : status === 429 ? 'rate_limit_exceeded' : 'server_error';
    return { error, error_description: `fake google: ${status}` };
  }
  const known = {
    400: ['Bad Request', 'INVALID_ARGUMENT'],
    401: ['Request had invalid authentication credentials.', 'UNAUTHENTICATED'],
    403: ['The request is missing a valid API key.', 'PERMISSION_DENIED'],
    404: ['Not Found', 'NOT_FOUND'],
    409: ['The requested identifier already exists.', 'ALREADY_EXISTS'],
    410: ['Resource has been deleted', 'NOT_FOUND'],
    429: ['Rate Limit Exceeded', 'RESOURCE_EXHAUSTED'],
    500: ['Backend Error', 'INTERNAL'],
    503: ['The service is currently unavailable.', 'UNAVAILABLE'],
  };
  const [message, st] = known[status] || [`fake google: ${status}`, 'UNKNOWN'];
  return { error: { code: status, message, status: st, errors: [{ domain: 'global', reason: st.toLowerCase(), message }] } };
}

/**
 * Starts the fake Google: token endpoint at /token, Calendar API v3 under
 * /calendar/v3. Extra members:
 *   tokenUrl, eventsPath(cal), eventPath(cal, id)
 *   tokens: [{token, n, clientId, refreshToken, at}] every token granted, in order
 *   tokensFor(clientId): the tokens granted to one client
 *   revoke(pred?): tokens (all, or those for which pred(t)) answered 401 from now on
 *   setEvents(cal, events): the events a calendar lists (besides what bookd inserts)
 *   stored(cal): what bookd inserted there and did not delete
 *   pageSize (get/set), expiresIn (get/set), listIncludesInserted (get/set, default true)
 */
export async function startFakeGoogle({ pageSize = 2, expiresIn = 3600 } = {}) {
  const suffix = hex(6);
  const tokens = [];
  const revoked = new Set();
  const listed = new Map(); // cal → [event]
  const inserted = new Map(); // cal → Map(id → event)
  const settings = { pageSize, expiresIn, listIncludesInserted: true };

  const insertedOf = (cal) => {
    if (!inserted.has(cal)) inserted.set(cal, new Map());
    return inserted.get(cal);
  };
  const authorized = (r) => r.bearer !== null && tokens.some((t) => t.token === r.bearer) && !revoked.has(r.bearer);
  const calParams = (m) => ({ calendarId: decode(m[1]), rawCalendarId: m[1], ...(m[2] !== undefined ? { eventId: decode(m[2]), rawEventId: m[2] } : {}) });

  const routes = [
    {
      kind: 'token',
      method: 'POST',
      pattern: /^\/token$/,
      handle(r) {
        const f = r.form || {};
        if (r.contentType !== 'application/x-www-form-urlencoded') return json(400, { error: 'invalid_request', error_description: 'fake google: not form-encoded' });
        if (f.grant_type !== 'refresh_token') return json(400, { error: 'unsupported_grant_type', error_description: `fake google: grant_type ${f.grant_type}` });
        for (const k of ['client_id', 'client_secret', 'refresh_token']) {
          if (!f[k]) return json(400, { error: 'invalid_request', error_description: `fake google: ${k} missing` });
        }
        const n = tokens.length + 1;
        const token = `at-${n}-${suffix}`;
        tokens.push({ token, n, clientId: f.client_id, refreshToken: f.refresh_token, at: Date.now() });
        r.issuedToken = token;
        return json(200, { access_token: token, expires_in: settings.expiresIn, token_type: 'Bearer' });
      },
    },
    {
      kind: 'list',
      method: 'GET',
      pattern: G_EVENTS,
      params: calParams,
      handle(r) {
        if (!authorized(r)) return json(401, googleError(401));
        const cal = r.params.calendarId;
        const items = [...(listed.get(cal) || [])];
        if (settings.listIncludesInserted) items.push(...insertedOf(cal).values());
        const size = Math.max(1, settings.pageSize);
        let page = 1;
        const pt = r.searchParams.get('pageToken');
        if (pt !== null) {
          const m = /^p([0-9]+)$/.exec(pt);
          if (!m || Number(m[1]) < 2 || (Number(m[1]) - 1) * size >= items.length) return json(400, googleError(400));
          page = Number(m[1]);
        }
        const slice = items.slice((page - 1) * size, page * size);
        const body = { kind: 'calendar#events', summary: cal, timeZone: 'UTC', items: slice };
        if (page * size < items.length) body.nextPageToken = `p${page + 1}`;
        r.page = page;
        return json(200, body);
      },
    },
    {
      kind: 'insert',
      method: 'POST',
      pattern: G_EVENTS,
      params: calParams,
      handle(r) {
        if (!authorized(r)) return json(401, googleError(401));
        if (!r.json || typeof r.json !== 'object' || Array.isArray(r.json)) return json(400, googleError(400));
        const store = insertedOf(r.params.calendarId);
        const id = r.json.id;
        if (typeof id === 'string' && store.has(id)) return json(409, googleError(409));
        const event = { kind: 'calendar#event', etag: `"${hex(8)}"`, status: 'confirmed', ...r.json };
        if (typeof id !== 'string') event.id = hex(13);
        store.set(event.id, event);
        return json(200, event);
      },
    },
    {
      kind: 'delete',
      method: 'DELETE',
      pattern: G_EVENT,
      params: calParams,
      handle(r) {
        if (!authorized(r)) return json(401, googleError(401));
        insertedOf(r.params.calendarId).delete(r.params.eventId);
        return { status: 204, body: '' };
      },
    },
  ];

  const fake = await startFake({ name: 'google', routes, errorBody: googleError });
  return Object.assign(fake, {
    tokenUrl: `${fake.url}/token`,
    eventsPath: (cal) => `/calendar/v3/calendars/${encodeURIComponent(cal)}/events`,
    eventPath: (cal, id) => `/calendar/v3/calendars/${encodeURIComponent(cal)}/events/${encodeURIComponent(id)}`,
    tokens,
    tokensFor: (clientId) => tokens.filter((t) => t.clientId === clientId),
    revoke(pred = () => true) {
      for (const t of tokens) if (pred(t)) revoked.add(t.token);
    },
    setEvents(cal, events) {
      listed.set(cal, events.map((e) => ({ kind: 'calendar#event', ...e })));
    },
    stored: (cal) => [...insertedOf(cal).values()],
    get pageSize() {
      return settings.pageSize;
    },
    set pageSize(n) {
      settings.pageSize = n;
    },
    get expiresIn() {
      return settings.expiresIn;
    },
    set expiresIn(s) {
      settings.expiresIn = s;
    },
    get listIncludesInserted() {
      return settings.listIncludesInserted;
    },
    set listIncludesInserted(v) {
      settings.listIncludesInserted = v;
    },
  });
}

// ------------------------------------------------------------------ Twilio

function twilioError(status) {
  const known = {
    400: [21604, "A 'To' phone number is required."],
    401: [20003, 'Authenticate'],
    403: [20003, 'Permission Denied'],
    404: [20404, 'The requested resource was not found'],
    429: [20429, 'Too Many Requests'],
    500: [20500, 'Internal Server Error'],
    503: [20503, 'Service Unavailable'],
  };
  const [code, message] = known[status] || [20500, `fake twilio: ${status}`];
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

/**
 * Starts the fake Twilio. Extra members:
 *   messagesPath(sid)
 *   setCredentials(sid, authToken): from now on that account answers 401
 *     unless Basic auth is exactly sid:authToken (null: no check)
 *   sent(where?): the messages answered 2xx (so "sent"), in order
 */
export async function startFakeTwilio() {
  const credentials = new Map();
  const routes = [
    {
      kind: 'message',
      method: 'POST',
      pattern: /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/,
      params: (m) => ({ sid: decode(m[1]) }),
      handle(r) {
        const sid = r.params.sid;
        if (credentials.has(sid)) {
          const want = credentials.get(sid);
          if (!r.basic || r.basic.user !== sid || r.basic.password !== want) return json(401, twilioError(401));
        }
        const f = r.form || {};
        for (const k of ['To', 'From', 'Body']) if (!f[k]) return json(400, { ...twilioError(400), message: `fake twilio: ${k} is required` });
        const msid = `SM${hex(16)}`;
        r.messageSid = msid;
        const now = new Date().toUTCString();
        return json(201, {
          sid: msid, account_sid: sid, to: f.To, from: f.From, body: f.Body, status: 'queued',
          num_segments: '1', direction: 'outbound-api', date_created: now, date_updated: now,
          uri: `/2010-04-01/Accounts/${sid}/Messages/${msid}.json`,
        });
      },
    },
  ];
  const fake = await startFake({ name: 'twilio', routes, errorBody: twilioError });
  return Object.assign(fake, {
    messagesPath: (sid) => `/2010-04-01/Accounts/${encodeURIComponent(sid)}/Messages.json`,
    setCredentials(sid, authToken) {
      if (authToken === null || authToken === undefined) credentials.delete(sid);
      else credentials.set(sid, authToken);
    },
    sent: (where) => fake.of('message', (r) => typeof r.status === 'number' && r.status >= 200 && r.status < 300 && (!where || where(r))),
  });
}

// ------------------------------------------------------------------ Vapi

function vapiError(status) {
  const names = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };
  return { statusCode: status, message: `fake vapi: ${status}`, error: names[status] || 'Error' };
}

/**
 * Starts the fake Vapi. Extra members:
 *   setApiKey(key): from now on calls without `Authorization: Bearer key` get 401 (null: no check)
 *   placed(where?): the calls answered 2xx, in order
 */
export async function startFakeVapi() {
  let apiKey = null;
  const routes = [
    {
      kind: 'call',
      method: 'POST',
      pattern: /^\/call$/,
      handle(r) {
        if (apiKey !== null && r.bearer !== apiKey) return json(401, vapiError(401));
        if (!r.json || typeof r.json !== 'object' || Array.isArray(r.json)) return json(400, vapiError(400));
        const id = `call_${hex(16)}`;
        r.callId = id;
        const b = r.json;
        return json(201, {
          id, type: 'outboundPhoneCall', status: 'queued', createdAt: new Date().toISOString(),
          assistantId: b.assistantId, phoneNumberId: b.phoneNumberId, customer: b.customer,
        });
      },
    },
  ];
  const fake = await startFake({ name: 'vapi', routes, errorBody: vapiError });
  return Object.assign(fake, {
    setApiKey(key) {
      apiKey = key === undefined ? null : key;
    },
    placed: (where) => fake.of('call', (r) => typeof r.status === 'number' && r.status >= 200 && r.status < 300 && (!where || where(r))),
  });
}

// ------------------------------------------------------------------ all three

/** Starts the three fakes; close() stops them all. */
export async function startFakes(opts = {}) {
  const google = await startFakeGoogle(opts.google);
  const twilio = await startFakeTwilio();
  const vapi = await startFakeVapi();
  return {
    google,
    twilio,
    vapi,
    async close() {
      await Promise.all([google.close(), twilio.close(), vapi.close()]);
    },
  };
}

/** The BOOKD_* settings that point a bookd at the fakes. */
export function fakeEnv({ google, twilio, vapi }) {
  return {
    BOOKD_GOOGLE_API_BASE: google.url,
    BOOKD_GOOGLE_TOKEN_URL: google.tokenUrl,
    BOOKD_TWILIO_API_BASE: twilio.url,
    BOOKD_VAPI_API_BASE: vapi.url,
  };
}
