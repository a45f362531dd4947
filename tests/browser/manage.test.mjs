// A patient's self-service page, /manage/{token} (docs/web.md, API.md "Self-
// service links for patients"), in a real Chromium against a real bookd:
// from the booking page's confirmation to the link, a move to another free
// time (the address bar gets the new link, the old one stops working) and a
// cancel with its confirmation step; "No, keep it" keeps it; the practice's
// cancellation notice refuses both with its reason; a time taken meanwhile
// is "just taken" with fresh times; a link that dies while the page is open,
// and one nobody was given, say plainly that the link no longer works. Axe
// checks and screenshots along the way.
//
// Every test has an organization of its own (the policies are per
// organization). Dates are a week or more ahead on a weekday in the
// organization's zone (the default Monday-Friday 09:00-17:00 hours), except
// the notice test's, which must be within 168 hours: its organization is open
// every day 00:00-23:45 and books tomorrow.

import { after, before, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import {
  assert, launchBrowser, startBookd, createOrg, apiCall, newContext, assertClean, assertAccessible, screenshot,
  nextWeekday, PHONE, DESKTOP,
  ok, chooseDay, timeButton, offered, noHorizontalScroll,
} from './lib/browser.mjs';
import { zonedToUtc, todayIn, addDays } from '../http/lib/time.mjs';

const LONDON = 'Europe/London';
const WEEK = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

let server;
let browser;

before(async () => {
  server = await startBookd();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

// ------------------------------------------------------------------ helpers

const at = (date, time, tz = LONDON) => zonedToUtc(date, time, tz).toISOString();
const tokenOf = (url) => new URL(url).pathname.split('/').pop();

/** A booking with the public key, as the booking page makes one: {appointment, manageUrl, token}. */
async function publicBook(org, scheduledAt, extra = {}) {
  const c = await ok(await apiCall(server, org.publicKey, 'POST', '/api/contacts', { name: 'Manage Patient', phone: '+447700900123' }), 201, 'contact');
  const b = await ok(await apiCall(server, org.publicKey, 'POST', '/api/appointments', { contactId: c.id, scheduledAt, ...extra }), 201, 'booking');
  assert.equal(typeof b.manageUrl, 'string', 'a manage link');
  return { appointment: b.appointment, manageUrl: b.manageUrl, token: tokenOf(b.manageUrl) };
}

/** GET /api/manage/{token} without a key: {status, body}. */
async function manageView(token) {
  const res = await fetch(`${server.url}/api/manage/${token}`);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
const getAppt = async (org, id) => ok(await apiCall(server, org.adminKey, 'GET', `/api/appointments/${id}`), 200, 'appointment');

/** Opens a manage page and waits for the appointment or the "no longer works" message. */
async function openManage(context, token) {
  const page = await context.newPage();
  await page.goto(`${server.url}/manage/${token}`);
  await page.locator('#appointment-summary, #dead').first().waitFor();
  return page;
}

async function expectDead(page, what) {
  await page.locator('#dead').waitFor();
  assert.equal(await page.locator('h1').textContent(), 'This link no longer works', `${what}: the heading`);
  assert.match(await page.title(), /no longer works/, `${what}: the title`);
  assert.equal(await page.locator('#move-button, #cancel-button').count(), 0, `${what}: nothing to do`);
}

// ------------------------------------------------------------------ tests

test('from the booking confirmation to the link: the patient moves the appointment, then cancels it; the old link stops working', { timeout: 45_000 }, async () => {
  const org = await createOrg(server, { name: 'Smile Dental', timezone: LONDON });
  const checkup = await ok(await apiCall(server, org.adminKey, 'POST', '/api/services', { name: 'Check-up', durationMinutes: 30 }), 201, 'service');
  const context = await newContext(browser, { viewport: DESKTOP, timezoneId: LONDON, locale: 'en-GB' });
  const first = nextWeekday(LONDON, 2, 7);
  const second = nextWeekday(LONDON, 4, 7);
  const t1 = at(first, '10:00');
  const t2 = at(second, '15:00');

  // Book through the page.
  const page = await context.newPage();
  await page.goto(`${server.url}/book/${org.id}`);
  await chooseDay(page, first);
  await timeButton(page, t1).click();
  await page.locator('.held:not(.none) .countdown').waitFor();
  await page.getByLabel('Full name').fill('Mo Ved');
  await page.getByLabel('Mobile phone number').fill('+447700900321');
  await page.getByRole('button', { name: /^Book / }).click();
  await page.locator('#done-h').waitFor();

  // The link from the confirmation.
  await page.getByRole('link', { name: 'Change or cancel this appointment' }).click();
  await page.waitForURL(/\/manage\/[A-Za-z0-9_-]{43}$/);
  const oldToken = tokenOf(page.url());
  await page.locator('#appointment-summary').waitFor();
  const summary = await page.locator('#appointment-summary').textContent();
  for (const want of ['Check-up', '30 minutes', 'Tuesday', '10:00', 'Europe/London', 'Smile Dental', 'Confirmed']) assert.ok(summary.includes(want), `the manage page says ${want}: ${summary}`);
  assert.equal(await page.locator('#org-name').textContent(), 'Smile Dental');
  await assertAccessible(page, 'the manage page');
  await screenshot(page, 'manage-desktop');
  const booked = (await ok(await manageView(oldToken), 200, 'the link works')).appointment;
  assert.equal(booked.scheduledAt, t1);

  // Move: the same calendar, starting on the appointment's day; choose Thursday 15:00.
  await page.getByRole('button', { name: 'Move to another time' }).click();
  await page.locator(`button.day[data-date="${first}"][aria-pressed="true"]`).waitFor();
  await page.locator('.times-body:not([aria-busy])').waitFor();
  assert.ok((await offered(page)).includes(at(first, '10:15')), 'a quarter of an hour later is offered: the appointment does not block its own move');
  await timeButton(page, t1).click();
  assert.match(await page.locator('#move-summary').textContent(), /time of your appointment now/, 'its own time is no move');
  assert.equal(await page.getByRole('button', { name: /^Move to / }).count(), 0);
  await chooseDay(page, second);
  await timeButton(page, t2).click();
  assert.match(await page.locator('#move-summary').textContent(), /15:00 on Thursday/);
  await page.getByRole('button', { name: 'Move to 15:00' }).click();
  await page.locator('#moved').waitFor();
  assert.equal(await page.locator('h1').textContent(), 'Your appointment has moved');
  assert.match(await page.locator('#appointment-summary').textContent(), /Thursday.*15:00 – 15:30/);

  const newToken = tokenOf(page.url());
  assert.notEqual(newToken, oldToken, 'the address bar has the new link');
  assert.match(newToken, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(await page.locator('#new-manage-link').getAttribute('href'), `${server.url}/manage/${newToken}`);
  await assertAccessible(page, 'the manage page after a move');
  await screenshot(page, 'manage-moved-desktop');

  await ok(await manageView(oldToken), 404, 'the old link after the move');
  const moved = (await ok(await manageView(newToken), 200, 'the new link')).appointment;
  assert.equal(moved.scheduledAt, t2);
  const old = await getAppt(org, booked.id);
  assert.equal(old.status, 'rescheduled');
  assert.equal(old.rescheduledTo, moved.id);
  const now = await getAppt(org, moved.id);
  assert.deepEqual([now.status, now.scheduledAt, now.serviceId, now.providerId], ['confirmed', t2, checkup.id, org.defaultProviderId]);

  // The old link, opened again, says it no longer works.
  const stale = await openManage(context, oldToken);
  await expectDead(stale, 'the old link');
  await assertAccessible(stale, 'the manage page of a dead link');
  await screenshot(stale, 'manage-dead-desktop');
  await stale.close();

  // Cancel, with the confirmation step.
  await page.getByRole('button', { name: 'Cancel appointment' }).click();
  await page.locator('#cancel-h').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'cancel-h', 'focus on the question');
  await page.getByRole('button', { name: 'Yes, cancel it' }).click();
  await page.locator('#cancelled').waitFor();
  assert.match(await page.locator('#cancelled').textContent(), /is cancelled.*This link no longer works/s);
  assert.equal(await page.locator('#book-again').getAttribute('href'), `/book/${org.id}`, 'a way back to the booking page');
  await ok(await manageView(newToken), 404, 'the link after the cancel');
  assert.equal((await getAppt(org, moved.id)).status, 'cancelled');
  await page.reload();
  await expectDead(page, 'the cancelled appointment’s link, reloaded');
  assertClean(context);
  await context.close();
});

test('at 390×844: the manage page, the cancel question, and "No, keep it" keeps the appointment', { timeout: 30_000 }, async () => {
  const org = await createOrg(server, { name: 'Harbour Dental Practice', timezone: LONDON });
  const date = nextWeekday(LONDON, 3, 7);
  const { appointment, token } = await publicBook(org, at(date, '09:30'), { durationMinutes: 20 });
  const context = await newContext(browser, { viewport: PHONE, timezoneId: LONDON, locale: 'en-GB', isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const page = await openManage(context, token);
  const summary = await page.locator('#appointment-summary').textContent();
  assert.ok(summary.includes('20 minutes') && summary.includes('9:30 – 9:50'), `the appointment: ${summary}`);
  assert.ok(!summary.includes('default'), 'the placeholder provider name is not shown');
  await noHorizontalScroll(page, 'the manage page');
  await assertAccessible(page, 'the manage page at phone size');
  await screenshot(page, 'manage-phone');

  await page.getByRole('button', { name: 'Cancel appointment' }).click();
  await page.locator('#cancel-confirm').waitFor();
  assert.match(await page.locator('#cancel-confirm').textContent(), /Cancel this appointment\?/);
  await noHorizontalScroll(page, 'the cancel question');
  await assertAccessible(page, 'the cancel question');
  await screenshot(page, 'manage-cancel-confirm-phone');
  await page.getByRole('button', { name: 'No, keep it' }).click();
  await page.locator('#cancel-confirm').waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement.id), 'cancel-button', 'focus back on Cancel');
  assert.equal((await ok(await manageView(token), 200, 'the link still works')).appointment.status, 'confirmed');
  assert.equal((await getAppt(org, appointment.id)).status, 'confirmed');

  // The move calendar fits the phone too.
  await page.getByRole('button', { name: 'Move to another time' }).click();
  await page.locator('.times-body:not([aria-busy]) button.time').first().waitFor();
  await noHorizontalScroll(page, 'the move calendar');
  await page.getByRole('button', { name: 'Keep the current time' }).click();
  await page.locator('#move').waitFor({ state: 'detached' });
  assertClean(context);
  await context.close();
});

test('the practice’s cancellation notice: cancel and move are refused with its reason', { timeout: 30_000 }, async () => {
  const tz = 'UTC';
  const org = await createOrg(server, { name: 'Notice Clinic', timezone: tz });
  const all = Object.fromEntries(WEEK.map((d) => [d, [['00:00', '23:45']]]));
  await ok(await apiCall(server, org.adminKey, 'PUT', `/api/providers/${org.defaultProviderId}/working-hours`, { workingHours: all }), 200, 'open every day');
  const tomorrow = addDays(todayIn(tz), 1);
  const { appointment, token } = await publicBook(org, at(tomorrow, '12:00', tz), { durationMinutes: 30 });
  await ok(await apiCall(server, org.adminKey, 'PATCH', '/api/orgs/me', { policies: { cancellationNoticeHours: 168 } }), 200, 'notice');

  const context = await newContext(browser, { viewport: DESKTOP, timezoneId: tz, locale: 'en-GB' });
  const page = await openManage(context, token);
  await page.getByRole('button', { name: 'Cancel appointment' }).click();
  await page.getByRole('button', { name: 'Yes, cancel it' }).click();
  const msg = page.locator('#cancel-msg.error');
  await msg.waitFor();
  assert.match(await msg.textContent(), /^This appointment can no longer be changed online: changes must be made at least 168 hour/);
  await page.locator('#alert', { hasText: 'no longer be changed online' }).waitFor();
  assert.equal((await getAppt(org, appointment.id)).status, 'confirmed', 'not cancelled');
  await page.getByRole('button', { name: 'No, keep it' }).click();

  await page.getByRole('button', { name: 'Move to another time' }).click();
  const later = addDays(tomorrow, 2);
  const t = at(later, '12:00', tz);
  await chooseDay(page, later);
  await timeButton(page, t).click();
  await page.getByRole('button', { name: 'Move to 12:00' }).click();
  await page.locator('#move-times-msg.error', { hasText: 'no longer be changed online' }).waitFor();
  const still = await getAppt(org, appointment.id);
  assert.deepEqual([still.status, still.scheduledAt], ['confirmed', appointment.scheduledAt], 'not moved');
  await ok(await manageView(token), 200, 'the link still works');
  assertClean(context);
  await context.close();
});

test('a new time taken meanwhile is "just taken" with fresh times; a link that dies while open, or was never given, no longer works', { timeout: 30_000 }, async () => {
  const org = await createOrg(server, { name: 'Riverside Clinic', timezone: LONDON });
  const date = nextWeekday(LONDON, 5, 7);
  const { appointment, token } = await publicBook(org, at(date, '09:00'), { durationMinutes: 30 });
  const context = await newContext(browser, { viewport: DESKTOP, timezoneId: LONDON, locale: 'en-GB' });
  const page = await openManage(context, token);
  await page.getByRole('button', { name: 'Move to another time' }).click();
  await page.locator(`button.day[data-date="${date}"][aria-pressed="true"]`).waitFor();
  await page.locator('.times-body:not([aria-busy])').waitFor();
  const taken = at(date, '13:00');
  const other = at(date, '14:00');
  await timeButton(page, taken).waitFor();

  // The practice books 13:00 while the patient looks.
  const staff = await ok(await apiCall(server, org.adminKey, 'POST', '/api/contacts', { name: 'Phone Caller' }), 201, 'contact');
  await ok(await apiCall(server, org.adminKey, 'POST', '/api/appointments', { contactId: staff.id, scheduledAt: taken, durationMinutes: 30 }), 201, 'staff booking');
  await timeButton(page, taken).click();
  await page.getByRole('button', { name: 'Move to 13:00' }).click();
  await page.locator('#move-times-msg.error', { hasText: /13:00 .*just taken/ }).waitFor();
  await page.locator('#alert', { hasText: 'just taken' }).waitFor();
  await page.locator('.times-body:not([aria-busy])').waitFor();
  const fresh = await offered(page);
  assert.ok(!fresh.includes(taken) && fresh.includes(other), 'fresh times without the taken one');
  assert.equal((await getAppt(org, appointment.id)).scheduledAt, at(date, '09:00'), 'not moved');

  // The practice cancels the appointment; the open page finds out on the next step.
  await ok(await apiCall(server, org.adminKey, 'POST', `/api/appointments/${appointment.id}/cancel`, {}), 200, 'staff cancel');
  await timeButton(page, other).click();
  await page.getByRole('button', { name: 'Move to 14:00' }).click();
  await expectDead(page, 'a link that died while the page was open');
  await ok(await manageView(token), 404, 'the API agrees');

  // A token nobody was given: the server passes no key, the page says so.
  const unknown = await openManage(context, randomBytes(32).toString('base64url'));
  await expectDead(unknown, 'an unknown link');
  assertClean(context);
  await context.close();
});
