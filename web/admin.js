// The dashboard's shell: signing in with the admin key (kept in
// sessionStorage only, never in a URL, never logged), the navigation, the
// hash router (#/calendar, #/contacts/<id>, …) and the `app` object every
// view receives: the org, its zone, cached providers/services and call().

import { api, query, el, replace } from '/static/common.js';
import { announce, errorText } from '/static/admin-ui.js';
import { forgetContacts } from '/static/admin-contacts.js';
import { renderCalendar } from '/static/admin-calendar.js';
import { renderContacts } from '/static/admin-contacts.js';
import { renderProviders } from '/static/admin-providers.js';
import { renderPolicies } from '/static/admin-policies.js';
import { renderWebhooks } from '/static/admin-webhooks.js';
import { renderIntegrations } from '/static/admin-integrations.js';
import { renderCalls } from '/static/admin-calls.js';
import { renderAudit } from '/static/admin-audit.js';
import { renderOps } from '/static/admin-ops.js';

const STORAGE_KEY = 'bookd.adminKey';

const ROUTES = {
  calendar: { title: 'Calendar', render: renderCalendar },
  contacts: { title: 'Contacts', render: renderContacts },
  providers: { title: 'Providers & services', render: renderProviders },
  policies: { title: 'Policies', render: renderPolicies },
  webhooks: { title: 'Webhooks', render: renderWebhooks },
  integrations: { title: 'Integrations', render: renderIntegrations },
  calls: { title: 'Calls', render: renderCalls },
  audit: { title: 'Audit log', render: renderAudit },
  ops: { title: 'Operations', render: renderOps },
};

const $ = (id) => document.getElementById(id);

/** What every view gets. */
const app = {
  key: null,
  org: null,
  zone: 'UTC',
  cache: {},

  /** api() with the admin key; a 401 (key revoked) signs out. */
  async call(path, opts = {}) {
    try {
      return await api(path, { ...opts, key: app.key });
    } catch (e) {
      if (e.status === 401 && app.key) signOut('Your admin key is no longer accepted. Sign in again.');
      throw e;
    }
  },

  async providers(force = false) {
    if (force || !app.cache.providers) app.cache.providers = app.call('/api/providers').then((r) => r.providers);
    try {
      return await app.cache.providers;
    } catch (e) {
      app.cache.providers = null;
      throw e;
    }
  },

  async services(force = false) {
    if (force || !app.cache.services) app.cache.services = app.call('/api/services').then((r) => r.services);
    try {
      return await app.cache.services;
    } catch (e) {
      app.cache.services = null;
      throw e;
    }
  },

  /** Opens a view (a new history entry). */
  go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },

  /** Rewrites the current view's parameters in the address bar without re-rendering. */
  setParams(name, params) {
    history.replaceState(null, '', '#/' + name + query(params));
  },

  announce,

  /** Keeps the org line in the header current (after a rename). */
  setOrg(org) {
    app.org = org;
    app.zone = org.timezone;
    const line = $('org-line');
    replace(line, el('span', { class: 'org-name' }, org.name), ' · times in ', el('span', { class: 'zone' }, org.timezone));
    line.hidden = false;
  },
};

// ------------------------------------------------------------------ sign-in

function showSignin(message) {
  $('loading').hidden = true;
  $('view').hidden = true;
  $('mainnav').hidden = true;
  $('signout').hidden = true;
  $('org-line').hidden = true;
  $('signin').hidden = false;
  document.title = 'Sign in · bookd dashboard';
  const input = $('signin-key');
  input.value = '';
  setSigninError(message || '');
  input.focus();
}

function setSigninError(msg) {
  const input = $('signin-key');
  $('signin-key-error').textContent = msg;
  if (msg) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

async function signIn(event) {
  event.preventDefault();
  const input = $('signin-key');
  const key = input.value.trim();
  if (!key) {
    setSigninError('Type the admin key.');
    input.focus();
    return;
  }
  const button = $('signin-submit');
  button.disabled = true;
  setSigninError('');
  try {
    const org = await api('/api/orgs/me', { key });
    sessionStorage.setItem(STORAGE_KEY, key);
    input.value = '';
    enter(key, org, true);
  } catch (e) {
    let msg;
    if (e.status === 401) msg = 'That key was not accepted. Check that you copied the whole admin key and try again.';
    else if (e.status === 403) msg = 'That is a public key. The dashboard needs the organization\u2019s admin key (it starts with bk_admin_).';
    else msg = errorText(e);
    setSigninError(msg);
    input.focus();
  } finally {
    button.disabled = false;
  }
}

function enter(key, org, focus) {
  app.key = key;
  app.cache = {};
  app.setOrg(org);
  $('signin').hidden = true;
  $('loading').hidden = true;
  $('mainnav').hidden = false;
  $('signout').hidden = false;
  $('view').hidden = false;
  if (!location.hash || location.hash === '#' || location.hash === '#/') history.replaceState(null, '', '#/calendar');
  route(focus);
  announce(`Signed in to ${org.name}.`);
}

function signOut(message) {
  sessionStorage.removeItem(STORAGE_KEY);
  app.key = null;
  app.org = null;
  app.cache = {};
  forgetContacts();
  leaveView();
  replace($('view'));
  showSignin(message);
  announce(message || 'Signed out.');
}

// ------------------------------------------------------------------ routing

let leave = null;
let seq = 0;

function leaveView() {
  seq += 1;
  if (leave) {
    try {
      leave();
    } catch {
      /* a view's cleanup never blocks the next one */
    }
  }
  leave = null;
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, q = ''] = raw.split('?');
  const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
  const name = ROUTES[segments[0]] ? segments[0] : 'calendar';
  return { name, segments: segments.slice(1), params: new URLSearchParams(q) };
}

async function route(focus = true) {
  if (!app.key) return;
  leaveView();
  const mine = seq;
  const { name, segments, params } = parseHash();
  const r = ROUTES[name];
  for (const a of document.querySelectorAll('#mainnav a')) {
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${r.title} · bookd dashboard`;
  const root = el('div', { class: 'view-inner view-' + name });
  replace($('view'), root);
  let cleanup = null;
  try {
    cleanup = await r.render(app, root, { segments, params });
  } catch (e) {
    if (e && e.status === 401) return;
    replace(root, el('h2', { class: 'view-title', tabindex: '-1' }, r.title), el('p', { class: 'form-message is-error', role: 'alert' }, errorText(e)));
  }
  if (mine !== seq) {
    if (typeof cleanup === 'function') cleanup();
    return;
  }
  leave = typeof cleanup === 'function' ? cleanup : null;
  if (focus) {
    const h = root.querySelector('.view-title');
    if (h) h.focus({ preventScroll: false });
  }
}

// ------------------------------------------------------------------ start

async function start() {
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', () => signOut('You are signed out.'));
  window.addEventListener('hashchange', () => route(true));
  const key = sessionStorage.getItem(STORAGE_KEY);
  if (!key) {
    showSignin();
    return;
  }
  try {
    const org = await api('/api/orgs/me', { key });
    enter(key, org, false);
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      sessionStorage.removeItem(STORAGE_KEY);
      showSignin('Your saved key is no longer accepted. Sign in again.');
    } else {
      showSignin(errorText(e));
    }
  }
}

start();
