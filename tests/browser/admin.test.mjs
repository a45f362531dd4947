// The staff dashboard, /admin (docs/web.md), in a real Chromium against a
// real bookd: signing in with the admin key (sessionStorage only, never in
// the URL), the day and week calendars with a patient's booking from the
// booking page, cancelling it after a confirmation step (the time is free
// again), booking and moving by hand (a 409 shown next to the time), a
// contact whose name is markup (shown as text) erased after a confirmation
// step, policies, providers, services, webhooks (the secret shown once, a
// dead delivery retried), integrations, calls, the audit log, the
// operations view with its live charts, framing refused, and a phone-sized
// screen. Axe checks and screenshots along the way.
//
// One organization for the file (Europe/London); each test uses its own
// weekday a week or more ahead so their appointments never meet. The
// server retries webhooks once (BOOKD_WEBHOOK_RETRY_SCHEDULE=0) so that a
// delivery to a receiver answering 500 is dead at once, and every outbound
// integration points at that local receiver.

import { after, before, test } from 'node:test';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import {
  assert, launchBrowser, startBookd, createOrg, apiCall, newContext, assertClean, assertAccessible, screenshot,
  nextWeekday, PHONE, DESKTOP,
  ok, chooseDay,
} from './lib/browser.mjs';
import { startReceiver } from '../http/lib/receiver.mjs';
import { zonedToUtc, addDays } from '../http/lib/time.mjs';

const LONDON = 'Europe/London';
const XSS = '<img src=x onerror=alert(1)>';
const KEY_ITEM = 'bookd.adminKey';

let server;
let browser;
let rx;
let org;
let checkup;

before(async () => {
  rx = await startReceiver({ mode: 500 });
  server = await startBookd({
    BOOKD_WEBHOOK_RETRY_SCHEDULE: '0',
    BOOKD_WEBHOOK_ALLOW_PRIVATE: 'true',
    BOOKD_OUTBOX_POLL_MS: '100',
    BOOKD_GOOGLE_API_BASE: rx.url,
    BOOKD_GOOGLE_TOKEN_URL: rx.url + '/token',
    BOOKD_TWILIO_API_BASE: rx.url,
    BOOKD_VAPI_API_BASE: rx.url,
  });
  browser = await launchBrowser();
  org = await createOrg(server, { name: 'Smile Dental', timezone: LONDON });
  checkup = await ok(await apiCall(server, org.adminKey, 'POST', '/api/services', { name: 'Check-up', durationMinutes: 30 }), 201, 'service');
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (rx) await rx.close();
});

// ------------------------------------------------------------------ helpers

const at = (date, time) => zonedToUtc(date, time, LONDON).toISOString();
const rnd = () => randomBytes(3).toString('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; fails after `ms`. */
async function until(fn, what, ms = 8000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A contact and a confirmed appointment made with the admin key. */
async function bookByApi({ name = `Api Patient ${rnd()}`, date, time, minutes = 30, phone, email } = {}) {
  const body = { name };
  if (phone) body.phone = phone;
  if (email) body.email = email;
  const contact = await ok(await apiCall(server, org.adminKey, 'POST', '/api/contacts', body), 201, 'contact');
  const r = await ok(await apiCall(server, org.adminKey, 'POST', '/api/appointments', { contactId: contact.id, scheduledAt: at(date, time), durationMinutes: minutes }), 201, 'book');
  return { contact, appointment: r.appointment };
}

async function appointmentsOn(date) {
  const q = new URLSearchParams({ from: at(date, '00:00'), to: at(addDays(date, 1), '00:00') });
  return (await ok(await apiCall(server, org.adminKey, 'GET', `/api/appointments?${q}`), 200, 'list')).appointments;
}

/** A new context and page, signed in with the admin key through the form. */
async function signedIn({ viewport = DESKTOP } = {}) {
  const context = await newContext(browser, { viewport, locale: 'en-GB', timezoneId: 'America/New_York' });
  const page = await context.newPage();
  await page.goto(server.url + '/admin');
  await page.getByLabel('Admin key').fill(org.adminKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Dashboard sections' }).waitFor();
  await page.locator('.cal-grid[aria-busy="false"][data-from]').waitFor();
  return { context, page };
}

/** Opens a view through the navigation and waits for its heading. */
async function openView(page, linkName, heading) {
  await page.getByRole('navigation').getByRole('link', { name: linkName, exact: true }).click();
  await page.getByRole('heading', { level: 2, name: heading, exact: true }).waitFor();
}

/** The calendar's day (or week) view of `date`, through the date field. */
async function showCalendar(page, date, view = 'day') {
  if (!(await page.locator('.view-calendar').count())) await openView(page, 'Calendar', 'Calendar');
  await page.getByRole('button', { name: view === 'day' ? 'Day' : 'Week', exact: true }).click();
  await page.getByLabel('Date', { exact: true }).fill(date);
  const from = view === 'day' ? date : addDays(date, 1 - (((new Date(date + 'T00:00:00Z').getUTCDay() + 6) % 7) + 1));
  await page.locator(`.cal-grid[aria-busy="false"][data-view="${view}"][data-from="${from}"]`).waitFor();
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
}

const card = (page, text) => page.locator('.appt').filter({ hasText: text });

async function noPageScroll(page, what) {
  const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(sw <= cw, `${what}: the page scrolls sideways (${sw}px content in ${cw}px)`);
}

// The booking page (web/book.*), driven by its labels as its own tests do.
async function patientBooks(date, iso, name) {
  const context = await newContext(browser, { viewport: DESKTOP, locale: 'en-GB' });
  const page = await context.newPage();
  await page.goto(`${server.url}/book/${org.id}`);
  await page.locator('table.cal-grid:not([aria-busy])').waitFor();
  await chooseDay(page, date);
  await page.locator(`button.time[data-at="${iso}"]`).click();
  await page.locator('.held:not(.none) .countdown').waitFor();
  await page.getByLabel('Full name').fill(name);
  await page.getByLabel('Mobile phone number').fill('+447700900321');
  await page.getByRole('button', { name: /^Book / }).click();
  await page.locator('#done-h').waitFor();
  return { context, page };
}

// ------------------------------------------------------------------ tests

test('sign in: a wrong key is refused next to the field; the admin key works, lives in sessionStorage only, survives a reload; Sign out forgets it', async () => {
  const context = await newContext(browser, { viewport: DESKTOP, locale: 'en-GB' });
  const page = await context.newPage();
  const urls = [];
  page.on('request', (r) => urls.push(r.url()));
  await page.goto(server.url + '/admin');
  const key = page.getByLabel('Admin key');
  assert.equal(await key.getAttribute('type'), 'password', 'the key is typed into a password field');
  await assertAccessible(page, 'the sign-in screen');
  await screenshot(page, 'admin-signin-desktop');

  await key.fill('bk_admin_' + 'x'.repeat(43));
  await page.getByRole('button', { name: 'Sign in' }).click();
  const error = page.locator('#signin-key-error');
  await error.filter({ hasText: /not accepted/ }).waitFor();
  assert.equal(await key.getAttribute('aria-invalid'), 'true');
  assert.match(await key.getAttribute('aria-describedby'), /signin-key-error/, 'the message is tied to the field');
  assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), KEY_ITEM), null, 'a wrong key is not kept');
  assert.ok(await page.getByRole('navigation', { name: 'Dashboard sections' }).isHidden(), 'no dashboard without a key');

  await key.fill(org.publicKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await error.filter({ hasText: /public key/ }).waitFor();

  await key.fill(org.adminKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 2, name: 'Calendar' }).waitFor();
  assert.match(await page.locator('#org-line').textContent(), /Smile Dental · times in Europe\/London/);
  assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), KEY_ITEM), org.adminKey, 'the key is in sessionStorage');
  assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
  assert.ok(!page.url().includes(org.adminKey), 'not in the URL');

  await page.reload();
  await page.getByRole('heading', { level: 2, name: 'Calendar' }).waitFor();
  assert.ok(await page.locator('#signin').isHidden(), 'still signed in after a reload');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), KEY_ITEM), null, 'Sign out clears the key');
  assert.equal(await key.inputValue(), '', 'the field is empty again');
  await page.reload();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.ok(await page.getByRole('navigation', { name: 'Dashboard sections' }).isHidden());

  for (const u of urls) assert.ok(!u.includes(org.adminKey) && !u.includes(encodeURIComponent(org.adminKey)), `no key in a URL: ${u}`);
  assertClean(context);
  await context.close();
});

test('a patient’s booking shows in the day view; staff cancel it after a confirmation step and the time is free again', async () => {
  const date = nextWeekday(LONDON, 2, 7);
  const ten = at(date, '10:00');
  const name = `Pat Patient ${rnd()}`;
  const patient = await patientBooks(date, ten, name);
  const [booked] = (await appointmentsOn(date)).filter((a) => a.scheduledAt === ten);
  assert.ok(booked, 'the booking page booked 10:00');

  const { context, page } = await signedIn();
  await showCalendar(page, date);
  assert.match(await page.locator('.zone-note').textContent(), /Europe\/London/, 'the calendar says which zone');
  const c = card(page, name);
  await c.waitFor();
  const column = page.locator('.cal-col').filter({ has: page.getByRole('heading', { name: 'default' }) });
  assert.equal(await column.locator('.appt').filter({ hasText: name }).count(), 1, 'in the default provider’s column');
  assert.match(await c.textContent(), /10:00–10:30/, 'the time in the org zone, though the browser is in New York');
  assert.match(await c.textContent(), /30 min/);
  assert.match(await c.textContent(), /Confirmed/);
  await assertAccessible(page, 'the day view');
  await screenshot(page, 'admin-day-desktop');

  await c.getByRole('button', { name: 'Cancel', exact: true }).click();
  const yes = c.getByRole('button', { name: 'Yes, cancel it' });
  await yes.waitFor();
  assert.equal((await ok(await apiCall(server, org.adminKey, 'GET', `/api/appointments/${booked.id}`), 200, 'get')).status, 'confirmed', 'nothing happens before the confirmation');
  // "Keep it" leaves it alone.
  await c.getByRole('button', { name: 'Keep it' }).click();
  await c.getByRole('button', { name: 'Cancel', exact: true }).click();
  await c.getByLabel('Reason (optional)').fill('patient phoned');
  await c.getByRole('button', { name: 'Yes, cancel it' }).click();
  await card(page, name).waitFor({ state: 'detached' });
  assert.equal((await ok(await apiCall(server, org.adminKey, 'GET', `/api/appointments/${booked.id}`), 200, 'get')).status, 'cancelled');
  const free = await ok(await apiCall(server, org.publicKey, 'GET', `/api/availability?date=${date}&durationMinutes=30`), 200, 'availability');
  assert.ok(free.slots.some((s) => s.scheduledAt === ten), '10:00 is offered again');

  // Shown again (struck through) when cancelled ones are asked for.
  await page.getByLabel('Show cancelled and moved appointments').check();
  await card(page, name).filter({ hasText: 'Cancelled' }).waitFor();

  // The booking page offers the time again.
  await patient.page.reload();
  await patient.page.locator('table.cal-grid:not([aria-busy])').waitFor();
  await chooseDay(patient.page, date);
  await patient.page.locator(`button.time[data-at="${ten}"]`).waitFor();

  // The week view of that provider has it too.
  await showCalendar(page, date, 'week');
  const day = page.locator('.cal-col').filter({ has: page.getByRole('heading', { name: /^Tue/ }) });
  await day.locator('.appt').filter({ hasText: name }).waitFor();
  await assertAccessible(page, 'the week view');
  await screenshot(page, 'admin-week-desktop');

  assertClean(patient.context);
  assertClean(context);
  await patient.context.close();
  await context.close();
});

test('book by hand in the dashboard (a taken time is explained next to the field), then move it: the API has the new time', async () => {
  const date = nextWeekday(LONDON, 3, 7);
  const { context, page } = await signedIn();
  await showCalendar(page, date);
  const name = `Hand Booked ${rnd()}`;

  await page.getByRole('button', { name: 'Book an appointment' }).click();
  const panel = page.locator('.panel');
  await panel.getByRole('heading', { name: 'Book an appointment' }).waitFor();
  await panel.getByLabel('Service').selectOption({ label: 'Check-up (30 min)' });
  assert.equal(await panel.getByLabel('Duration (minutes)').inputValue(), '30');
  await panel.getByLabel('Date').fill(date);
  await panel.getByLabel('Time').fill('11:00');
  await panel.getByLabel('Patient’s name').fill(name);
  await panel.getByLabel('Phone (optional)').fill('12345');
  await panel.getByRole('button', { name: 'Book appointment' }).click();
  // A bad phone number: the API's message next to the phone field, nothing booked.
  const phone = page.getByLabel('Phone (optional)');
  await page.waitForFunction(() => document.activeElement && document.activeElement.getAttribute('aria-invalid') === 'true');
  assert.equal(await phone.getAttribute('aria-invalid'), 'true');
  assert.match(await panel.locator('.field', { has: phone }).locator('.error').textContent(), /phone/i);
  assert.equal((await appointmentsOn(date)).length, 0, 'nothing booked');
  await phone.fill('+447700900456');
  await panel.getByRole('button', { name: 'Book appointment' }).click();
  const c = card(page, name);
  await c.waitFor();
  assert.match(await c.textContent(), /11:00–11:30/);
  assert.match(await c.textContent(), /Check-up/);
  const [a] = await appointmentsOn(date);
  assert.equal(a.scheduledAt, at(date, '11:00'));
  assert.equal(a.serviceId, checkup.id);
  assert.equal((await ok(await apiCall(server, org.adminKey, 'GET', `/api/contacts/${a.contactId}`), 200, 'contact')).name, name);

  // Another patient at 11:15 the same day: a kind 409 next to the time.
  await page.getByRole('button', { name: 'Book an appointment' }).click();
  await panel.getByLabel('Date').fill(date);
  await panel.getByLabel('Time').fill('11:15');
  await panel.getByLabel('Duration (minutes)').fill('30');
  await panel.getByLabel('Patient’s name').fill(`Second ${rnd()}`);
  await panel.getByRole('button', { name: 'Book appointment' }).click();
  const time = page.getByLabel('Time', { exact: true });
  const timeError = panel.locator('.field', { has: time }).locator('.error');
  await timeError.filter({ hasText: /overlaps another appointment \(11:00–11:30/ }).waitFor();
  assert.equal(await time.getAttribute('aria-invalid'), 'true');
  assert.equal(await timeError.getAttribute('aria-live'), 'polite', 'the message is announced');
  assert.equal((await appointmentsOn(date)).length, 1, 'still one appointment');
  await panel.getByRole('button', { name: 'Close' }).click();

  // Move it to 14:30.
  await c.getByRole('button', { name: 'Reschedule' }).click();
  await panel.getByRole('heading', { name: 'Move an appointment' }).waitFor();
  await panel.getByLabel('New time').fill('14:30');
  await panel.getByRole('button', { name: 'Move appointment' }).click();
  await card(page, name).filter({ hasText: '14:30–15:00' }).waitFor();
  assert.equal(await card(page, name).count(), 1, 'the old time is no longer shown as active');
  const old = await ok(await apiCall(server, org.adminKey, 'GET', `/api/appointments/${a.id}`), 200, 'old');
  assert.equal(old.status, 'rescheduled');
  const moved = await ok(await apiCall(server, org.adminKey, 'GET', `/api/appointments/${old.rescheduledTo}`), 200, 'new');
  assert.equal(moved.scheduledAt, at(date, '14:30'));
  assert.equal(moved.status, 'confirmed');
  assert.equal(moved.contactId, a.contactId);

  assertClean(context);
  await context.close();
});

test('a contact named with markup shows as text in the day view and on the contact page, and is erased after a confirmation step', async () => {
  const date = nextWeekday(LONDON, 4, 7);
  const { contact } = await bookByApi({ name: XSS, date, time: '09:30', phone: '+447700900999', email: 'xss@example.com' });
  const { context, page } = await signedIn();
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  await showCalendar(page, date);
  const link = page.locator('.appt-who a').filter({ hasText: XSS });
  await link.waitFor();
  assert.equal(await link.textContent(), XSS, 'the name is shown as its characters');
  assert.equal(await page.locator('.view img').count(), 0, 'no element made of the name');

  await link.click();
  const title = page.getByRole('heading', { level: 2 });
  await title.filter({ hasText: XSS }).waitFor();
  assert.equal(await title.textContent(), XSS);
  assert.match(await page.locator('.details').textContent(), /\+447700900999/);
  assert.match(await page.locator('.details').textContent(), /xss@example\.com/);
  const rows = page.locator('table').filter({ hasText: 'Confirmed' }).locator('tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 1, 'their appointment is listed');
  assert.equal(await page.locator('.view img').count(), 0);
  await assertAccessible(page, 'the contact page');
  await screenshot(page, 'admin-contact-desktop');

  await page.getByRole('button', { name: 'Erase this contact’s personal data' }).click();
  await page.getByText(/Erase .* personal data for good\?/).waitFor();
  assert.equal((await apiCall(server, org.adminKey, 'GET', `/api/contacts/${contact.id}`)).status, 200, 'nothing erased before the confirmation');
  await page.getByRole('button', { name: 'Yes, erase for good' }).click();
  await page.locator('.erased-note').waitFor();
  await title.filter({ hasText: '(erased)' }).waitFor();
  assert.equal((await apiCall(server, org.adminKey, 'GET', `/api/contacts/${contact.id}`)).status, 404, 'GET of the contact is 404 now');

  // The calendar keeps the time and says the contact was erased.
  await showCalendar(page, date);
  await page.getByLabel('Show cancelled and moved appointments').check();
  await card(page, '(erased)').waitFor();
  assert.deepEqual(dialogs, [], 'no dialog ever opened');
  assertClean(context);
  await context.close();
});

test('settings: policies, providers and services, webhooks (secret shown once, a dead delivery retried)', { timeout: 40_000 }, async () => {
  const { context, page } = await signedIn();

  // Policies: a value out of range is explained next to its field; saved values reach the API.
  await openView(page, 'Policies', 'Booking policies');
  const notice = page.getByLabel('Minimum notice (minutes)');
  assert.match(await page.locator('.field', { has: notice }).locator('.hint').textContent(), /0 to 43,200/);
  await notice.fill('50000');
  await page.getByRole('button', { name: 'Save policies' }).click();
  await page.locator('.field', { has: notice }).locator('.error').filter({ hasText: /0 to 43,200/ }).waitFor();
  await notice.fill('120');
  await page.getByLabel('Booking horizon (days)').fill('90');
  await page.getByLabel('Cancellation notice (hours)').fill('24');
  await page.getByRole('button', { name: 'Save policies' }).click();
  await page.getByText('Policies saved.', { exact: true }).first().waitFor();
  const me = await ok(await apiCall(server, org.adminKey, 'GET', '/api/orgs/me'), 200, 'me');
  assert.deepEqual(me.policies, { minimumNoticeMinutes: 120, bookingHorizonDays: 90, cancellationNoticeHours: 24 });
  await assertAccessible(page, 'the policies view');
  await page.setViewportSize(PHONE);
  await noPageScroll(page, 'policies on a phone');
  await screenshot(page, 'admin-policies-phone');
  await page.setViewportSize(DESKTOP);
  await ok(await apiCall(server, org.adminKey, 'PATCH', '/api/orgs/me', { policies: { minimumNoticeMinutes: 0, bookingHorizonDays: 0, cancellationNoticeHours: 0 } }), 200, 'reset');

  // Providers: add one, give it Saturday hours; add a service.
  await openView(page, 'Providers & services', 'Providers & services');
  const who = `Dr Second ${rnd()}`;
  await page.getByLabel('New provider’s name').fill(who);
  await page.getByRole('button', { name: 'Add provider' }).click();
  const prov = page.locator('section.provider').filter({ has: page.getByRole('heading', { name: who }) });
  await prov.waitFor();
  await prov.getByRole('button', { name: 'Add hours on Saturday' }).click();
  await prov.getByLabel('Saturday, hours 1, From').fill('10:00');
  await prov.getByLabel('Saturday, hours 1, Until').fill('13:00');
  await prov.getByRole('button', { name: 'Remove Monday hours 1' }).click();
  await prov.getByRole('button', { name: 'Save working hours' }).click();
  await prov.getByText(/Saved .* working hours\./).waitFor();
  const saved = (await ok(await apiCall(server, org.adminKey, 'GET', '/api/providers'), 200, 'providers')).providers.find((p) => p.name === who);
  assert.deepEqual(saved.workingHours.sat, [['10:00', '13:00']]);
  assert.equal(saved.workingHours.mon, undefined, 'Monday closed');
  assert.deepEqual(saved.workingHours.tue, [['09:00', '17:00']]);
  await page.getByLabel('Service name').fill('Whitening');
  await page.getByLabel('Duration (minutes)').fill('60');
  await page.getByLabel('Buffer after (minutes)').fill('10');
  await page.getByRole('button', { name: 'Add service' }).click();
  await page.getByRole('cell', { name: 'Whitening' }).waitFor();
  const services = (await ok(await apiCall(server, org.adminKey, 'GET', '/api/services'), 200, 'services')).services;
  assert.ok(services.some((s) => s.name === 'Whitening' && s.durationMinutes === 60 && s.bufferAfterMinutes === 10));
  await assertAccessible(page, 'the providers view');
  await screenshot(page, 'admin-providers-desktop');

  // Webhooks: add an endpoint; its secret is shown once.
  await openView(page, 'Webhooks', 'Webhooks');
  const url = rx.urlFor('/hook');
  await page.getByLabel('URL').fill(url);
  await page.getByLabel('Appointment moved').uncheck();
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  const secret = page.getByLabel('Signing secret');
  await secret.waitFor();
  assert.match(await secret.inputValue(), /^whsec_[A-Za-z0-9+/=]+$/);
  assert.match(await page.locator('.secret-once').textContent(), /shown only this once/);
  await page.getByRole('cell', { name: url, exact: true }).waitFor();
  const endpoints = (await ok(await apiCall(server, org.adminKey, 'GET', '/api/webhook-endpoints'), 200, 'endpoints')).endpoints;
  assert.equal(endpoints.length, 1);
  assert.equal(endpoints[0].url, url);
  assert.deepEqual(endpoints[0].events.slice().sort(), ['appointment.booked', 'appointment.cancelled']);
  await openView(page, 'Policies', 'Booking policies');
  await openView(page, 'Webhooks', 'Webhooks');
  await page.getByRole('cell', { name: url, exact: true }).waitFor();
  assert.equal(await page.getByLabel('Signing secret').count(), 0, 'the secret is not shown again');

  // A booking → one attempt answered 500 → dead; Retry queues it again.
  await bookByApi({ date: nextWeekday(LONDON, 5, 7), time: '09:00' });
  const dead = await until(async () => {
    const d = (await apiCall(server, org.adminKey, 'GET', '/api/webhook-deliveries?status=dead')).body.deliveries;
    return d.length ? d[0] : null;
  }, 'a dead delivery');
  await page.getByLabel('Status').selectOption('dead');
  const row = page.locator(`tr[data-delivery="${dead.id}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /HTTP 500/);
  assert.match(await row.textContent(), /Dead/);
  await assertAccessible(page, 'the webhooks view');
  await screenshot(page, 'admin-webhooks-desktop');
  rx.setMode('/hook', 200);
  await row.getByRole('button', { name: /^Retry/ }).click();
  await page.getByText('Queued again; it is sent shortly.').waitFor();
  const after1 = (await ok(await apiCall(server, org.adminKey, 'GET', '/api/webhook-deliveries'), 200, 'deliveries')).deliveries.find((d) => d.id === dead.id);
  assert.ok(['pending', 'delivered'].includes(after1.status), `after Retry: ${after1.status}`);
  await until(async () => (await apiCall(server, org.adminKey, 'GET', '/api/webhook-deliveries?status=delivered')).body.deliveries.some((d) => d.id === dead.id), 'the retried delivery delivered');

  assertClean(context);
  await context.close();
});

test('integrations (secrets never shown back), calls from the voice agent and the audit log with its filter', async () => {
  const { context, page } = await signedIn();

  await openView(page, 'Integrations', 'Integrations');
  const twilio = page.locator('section.integration').filter({ has: page.getByRole('heading', { name: 'Twilio SMS' }) });
  await twilio.getByText('Not connected').waitFor();
  const token = 'tok_' + rnd() + rnd();
  await twilio.getByLabel('Account SID').fill('AC' + 'a1'.repeat(16));
  await twilio.getByLabel('Auth token').fill(token);
  await twilio.getByLabel('From number').fill('+15005550006');
  await twilio.getByRole('button', { name: 'Connect' }).click();
  const twilio2 = page.locator('section.integration').filter({ has: page.getByRole('heading', { name: 'Twilio SMS' }) });
  await twilio2.getByText('Connected', { exact: true }).waitFor();
  assert.equal(await twilio2.getByLabel('Auth token').inputValue(), '', 'the secret is not filled back in');
  assert.ok(!(await page.content()).includes(token), 'the secret is nowhere in the page');
  const integ = (await ok(await apiCall(server, org.adminKey, 'GET', '/api/integrations'), 200, 'integrations')).twilio;
  assert.equal(integ.connected, true);
  assert.equal(integ.fromNumber, '+15005550006');
  await assertAccessible(page, 'the integrations view');
  await screenshot(page, 'admin-integrations-desktop');
  // Disconnect, after its confirmation step.
  await twilio2.getByRole('button', { name: 'Disconnect' }).click();
  await twilio2.getByRole('button', { name: 'Yes, disconnect' }).click();
  await page.locator('section.integration').filter({ has: page.getByRole('heading', { name: 'Twilio SMS' }) }).getByText('Not connected').waitFor();
  assert.equal((await ok(await apiCall(server, org.adminKey, 'GET', '/api/integrations'), 200, 'integrations')).twilio.connected, false);

  // A call the voice agent reported.
  const callId = 'call-' + rnd();
  const res = await fetch(server.url + '/api/webhooks/vapi', {
    method: 'POST',
    headers: { 'x-vapi-secret': org.vapiSecret, 'Content-Type': 'application/json' },
    body: JSON.stringify({ message: { type: 'end-of-call-report', endedReason: 'customer-ended-call', startedAt: new Date(Date.now() - 120000).toISOString(), endedAt: new Date().toISOString(), call: { id: callId, status: 'ended' } } }),
  });
  assert.equal(res.status, 200);
  await openView(page, 'Calls', 'Calls');
  const call = page.locator('tr').filter({ hasText: callId });
  await call.waitFor();
  assert.match(await call.textContent(), /customer-ended-call/);
  await assertAccessible(page, 'the calls view');
  await screenshot(page, 'admin-calls-desktop');

  // The audit log, newest first, and filtered to one appointment.
  const { appointment } = await bookByApi({ date: nextWeekday(LONDON, 5, 14), time: '15:00' });
  await ok(await apiCall(server, org.adminKey, 'POST', `/api/appointments/${appointment.id}/cancel`, {}), 200, 'cancel');
  await openView(page, 'Audit log', 'Audit log');
  const firstRow = page.locator('table tbody tr').first();
  await firstRow.waitFor();
  assert.match(await firstRow.textContent(), /appointment\.cancelled/, 'newest first');
  await page.getByLabel('Entity ID').fill(appointment.id);
  await page.getByRole('button', { name: 'Filter' }).click();
  const rowsOf = page.locator('table tbody tr');
  await until(async () => (await rowsOf.count()) > 0 && (await rowsOf.filter({ hasNotText: appointment.id }).count()) === 0, 'the filtered log');
  const entities = await page.locator('table tbody tr td:nth-child(5)').allTextContents();
  assert.deepEqual(entities, [appointment.id, appointment.id], 'only that appointment’s entries');
  const actions = await page.locator('table tbody tr td:nth-child(3)').allTextContents();
  assert.deepEqual(actions, ['appointment.cancelled', 'appointment.booked']);
  assert.ok(!page.url().includes(org.adminKey));
  await assertAccessible(page, 'the audit log');
  await screenshot(page, 'admin-audit-desktop');

  assertClean(context);
  await context.close();
});

test('operations: pool, breakers, backlog and four charts of 60 minutes, drawn at once, live every 5 s while open and stopped after', { timeout: 40_000 }, async () => {
  // An endpoint that answers 500, so that its breaker has something to show.
  const ep = await ok(await apiCall(server, org.adminKey, 'POST', '/api/webhook-endpoints', { url: rx.urlFor('/ops-hook'), events: ['appointment.booked'] }), 201, 'endpoint');
  const date = nextWeekday(LONDON, 1, 14);
  for (const t of ['09:00', '10:00', '11:00']) await bookByApi({ date, time: t });
  await until(async () => (await apiCall(server, org.adminKey, 'GET', '/api/breakers')).body.breakers.some((b) => b.target === 'webhook:' + ep.id), 'the endpoint’s breaker');
  const { context, page } = await signedIn();
  const history = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/metrics/history') history.push(Date.now());
  });

  await openView(page, 'Operations', 'Operations');
  await page.locator('svg.chart-svg').nth(3).waitFor();
  const opened = Date.now();
  const ready = await (await fetch(server.url + '/ready')).json();
  assert.equal(await page.locator('[data-metric="pool.size"]').textContent(), String(ready.pool.size), 'the pool size of /ready');
  for (const k of ['idle', 'inUse', 'waiting']) assert.match(await page.locator(`[data-metric="pool.${k}"]`).textContent(), /^\d+$/, `pool ${k}`);
  assert.match(await page.locator('[data-metric="outbox"]').textContent(), /^\d+$/, 'the outbox backlog is a number');
  const breakers = (await ok(await apiCall(server, org.adminKey, 'GET', '/api/breakers'), 200, 'breakers')).breakers;
  const words = { closed: 'Closed', open: 'Open', half_open: 'Half-open' };
  for (const b of breakers) {
    const row = page.locator(`tr[data-breaker="${b.target}"]`);
    await row.waitFor();
    assert.match(await row.textContent(), /Closed|Open|Half-open/);
  }
  const mine = page.locator(`tr[data-breaker="webhook:${ep.id}"]`);
  assert.match(await mine.textContent(), new RegExp(`Webhook ${rx.urlFor('/ops-hook')}`), 'a webhook breaker is named by its URL');
  const state = breakers.find((b) => b.target === 'webhook:' + ep.id).state;
  assert.match(await mine.textContent(), new RegExp(words[state]), `its state (${state})`);

  const charts = page.locator('figure.chart');
  assert.equal(await charts.count(), 4, 'four charts');
  assert.deepEqual(await charts.locator('figcaption').allTextContents(), ['Advisory-lock wait (ms)', 'Conflict rate', 'Lock-timeout rate', 'Booking success rate']);
  for (let i = 0; i < 4; i++) {
    const svg = charts.nth(i).locator('svg');
    assert.equal(await svg.getAttribute('data-points'), '60', `chart ${i}: 60 minutes`);
    assert.equal(await svg.getAttribute('role'), 'img');
    assert.ok((await svg.locator('title').textContent()).length > 0, 'an SVG title');
    assert.equal(await charts.nth(i).locator('details tbody tr').count(), 60, `chart ${i}: a row per minute in its table`);
  }
  const h = await (await fetch(server.url + '/metrics/history')).json();
  assert.equal(h.minutes.length, 60);
  assert.ok(h.minutes.reduce((a, m) => a + m.bookings.booked, 0) >= 3, 'the bookings are in the history');
  const last = [...h.minutes].reverse().find((m) => m.successRate !== null);
  const pct = `${(last.successRate * 100).toFixed(last.successRate > 0 && last.successRate < 0.1 ? 1 : 0)}%`;
  const success = charts.nth(3);
  assert.match(await success.locator('.chart-summary').textContent(), new RegExp(`^Last value: ${pct} `), 'the success rate’s last value');
  assert.equal(Number(await success.locator('svg').getAttribute('data-last')), last.successRate);
  assert.ok((await success.locator('svg circle').count()) >= 1, 'a point is drawn');
  assert.ok(history.length >= 1 && history[0] <= opened, 'the history was read as the view opened');
  await assertAccessible(page, 'the operations view');
  await screenshot(page, 'admin-ops-desktop');

  // Live: read again about every 5 s while open.
  const before1 = history.length;
  await until(async () => history.length > before1, 'a refresh after 5 s', 7000);
  const gap = history[history.length - 1] - history[history.length - 2];
  assert.ok(gap >= 4000, `refreshed after ${gap} ms, not before 5 s`);

  await page.setViewportSize(PHONE);
  await noPageScroll(page, 'operations on a phone');
  await screenshot(page, 'admin-ops-phone');
  await page.setViewportSize(DESKTOP);

  // Closed: no more reads.
  await openView(page, 'Calendar', 'Calendar');
  const left = history.length;
  await sleep(5600);
  assert.equal(history.length, left, 'no refresh after leaving the view');
  assertClean(context);
  await context.close();
});

test('the dashboard refuses to be framed', async () => {
  const res = await fetch(server.url + '/admin');
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy') || '';
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /script-src[^;]*'unsafe-inline'/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  const html = await res.text();
  assert.doesNotMatch(html, /<!--bookd-config-->/, 'the config line is replaced');
  assert.doesNotMatch(html, /\son[a-z]+=|style=/i, 'no inline handlers or styles');

  // A page on another origin (127.0.0.1, another port) that frames it.
  const framer = http.createServer((req, r) => {
    r.writeHead(200, { 'Content-Type': 'text/html' });
    r.end(`<!doctype html><title>framer</title><iframe src="${server.url}/admin" title="dashboard" width="600" height="400"></iframe>`);
  });
  await new Promise((r) => framer.listen(0, '127.0.0.1', r));
  const context = await newContext(browser, { viewport: DESKTOP });
  try {
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${framer.address().port}/`);
    await page.waitForTimeout(800);
    const frame = page.frames().find((f) => f !== page.mainFrame());
    assert.ok(frame, 'the iframe exists');
    const loaded = await frame.evaluate(() => !!document.getElementById('signin-key')).catch(() => false);
    assert.equal(loaded, false, 'the dashboard did not load inside the frame');
  } finally {
    await new Promise((r) => framer.close(r));
  }
  // Chromium reports the refused frame on the console; that one is expected.
  context.problems = context.problems.filter((p) => !/frame-ancestors|Refused to (display|frame)/.test(p));
  assertClean(context);
  await context.close();
});

test('on a 390×844 phone: views stack, tables scroll in their own box, the keyboard reaches everything', async () => {
  const date = nextWeekday(LONDON, 2, 7);
  const { context, page } = await signedIn({ viewport: PHONE });
  await showCalendar(page, date);
  await noPageScroll(page, 'the day view');
  const cols = await page.locator('.cal-col').evaluateAll((cs) => cs.map((c) => c.getBoundingClientRect().left));
  assert.ok(cols.length >= 2 && cols.every((x) => x === cols[0]), 'the provider columns stack');
  await assertAccessible(page, 'the day view on a phone');
  await screenshot(page, 'admin-day-phone');

  // The audit table is wider than the phone: it scrolls inside its box.
  await openView(page, 'Audit log', 'Audit log');
  const box = page.locator('.table-box').first();
  await box.waitFor();
  const [sw, cw] = await box.evaluate((b) => [b.scrollWidth, b.clientWidth]);
  assert.ok(sw > cw, 'the table scrolls inside its own box');
  await noPageScroll(page, 'the audit log');
  assert.equal(await box.getAttribute('tabindex'), '0', 'the box can be scrolled with the keyboard');

  // Keyboard: from the top, Tab reaches the navigation; Enter opens a view
  // whose heading takes focus; focus is visible.
  await openView(page, 'Calendar', 'Calendar');
  await page.reload();
  await page.locator('.cal-grid[aria-busy="false"][data-from]').waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
  let reached = false;
  for (let i = 0; i < 20 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement.textContent === 'Policies');
  }
  assert.ok(reached, 'Tab reaches the Policies link');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'focus is visible');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 2, name: 'Booking policies' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.tagName + ':' + document.activeElement.textContent), 'H2:Booking policies', 'the heading takes focus');
  assertClean(context);
  await context.close();
});
