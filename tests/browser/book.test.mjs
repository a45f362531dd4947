// The public booking page, /book/{orgId} (docs/web.md), in a real Chromium
// against a real bookd: a patient books and gets the confirmation (the
// appointment is there with the right time, provider and service; the .ics
// has the right DTSTART), two patients race for one time (the loser is told
// kindly and gets fresh times; a held time is not offered to others; a 409
// on the booking itself is handled the same way), the minimum-notice policy
// refuses a time with its reason next to the times (on the hold and on the
// booking), names with markup stay text, and at phone size the whole flow is
// done with the keyboard alone. Axe checks and screenshots along the way.
//
// Every test has an organization of its own. Dates are a week or more ahead
// on a weekday in the organization's zone, so the default Monday-Friday
// 09:00-17:00 hours apply; the policy test's organization is open every day
// 00:00-23:45 so that a time an hour from now always exists.

import { after, before, test } from 'node:test';
import { readFile } from 'node:fs/promises';
import {
  assert, launchBrowser, startBookd, createOrg, apiCall, newContext, assertClean, assertAccessible, screenshot,
  nextWeekday, PHONE, DESKTOP,
  ok, chooseDay, timeButton, offered, noHorizontalScroll,
} from './lib/browser.mjs';
import { zonedToUtc, todayIn, addDays } from '../http/lib/time.mjs';

const LONDON = 'Europe/London';
const WEEK = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const XSS = '<img src=x onerror=alert(1)>';

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

/** The instant (toISOString form, as the page's data-at) at which the clock in tz shows date time. */
const at = (date, time, tz = LONDON) => zonedToUtc(date, time, tz).toISOString();
/** "20261215T100000Z" */
const icsStamp = (iso) => iso.replace(/[-:]/g, '').replace(/\.\d{3}/, '');

/** Opens the booking page of `org` and waits until its calendar has counted the month. */
async function openBooking(context, org) {
  const page = await context.newPage();
  await page.goto(`${server.url}/book/${org.id}`);
  await page.locator('table.cal-grid:not([aria-busy])').waitFor();
  return page;
}

/** Picks a time and waits for the hold (the countdown under "Your details"). */
async function holdTime(page, iso) {
  await timeButton(page, iso).click();
  await page.locator(`button.time[data-at="${iso}"][aria-pressed="true"]`).waitFor();
  await page.locator('.held:not(.none) .countdown').waitFor();
  assert.equal(await page.locator('button.time[aria-pressed="true"]').count(), 1, 'one time is chosen');
}

async function fillDetails(page, { name = 'Ada Patient', phone = '+447700900123', email = '' } = {}) {
  await page.getByLabel('Full name').fill(name);
  await page.getByLabel('Mobile phone number').fill(phone);
  await page.getByLabel('Email address').fill(email);
}

/** The organization's appointments on `date` (admin key). */
async function appointmentsOn(org, date, tz = LONDON, providerId) {
  const q = new URLSearchParams({ from: at(date, '00:00', tz), to: at(addDays(date, 1), '00:00', tz) });
  if (providerId) q.set('providerId', providerId);
  return (await ok(await apiCall(server, org.adminKey, 'GET', `/api/appointments?${q}`), 200, 'list appointments')).appointments;
}

/** Free times (public key) of a day, as the page would ask. */
async function freeTimes(org, date, params = {}) {
  const q = new URLSearchParams({ date, ...params });
  if (!params.serviceId && !params.durationMinutes) q.set('durationMinutes', '30');
  return (await ok(await apiCall(server, org.publicKey, 'GET', `/api/availability?${q}`), 200, 'free times')).slots.map((x) => x.scheduledAt);
}

/** Presses Tab until the focused element matches `selector`; fails after `max` presses. */
async function tabTo(page, selector, max = 60) {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((sel) => !!document.activeElement && document.activeElement.matches(sel), selector)) return;
    await page.keyboard.press('Tab');
  }
  assert.fail(`Tab never reached ${selector}`);
}

const focusedDate = (page) => page.evaluate(() => document.activeElement && document.activeElement.getAttribute('data-date'));

// ------------------------------------------------------------------ tests

test('a patient books through the page and sees the confirmation, with an .ics and the manage link', { timeout: 30_000 }, async () => {
  const org = await createOrg(server, { name: 'Smile Dental', timezone: LONDON });
  await ok(await apiCall(server, org.adminKey, 'POST', '/api/services', { name: 'Check-up', durationMinutes: 30 }), 201, 'service');
  const hygiene = await ok(await apiCall(server, org.adminKey, 'POST', '/api/services', { name: 'Hygiene visit', durationMinutes: 45 }), 201, 'service');
  const dr = await ok(await apiCall(server, org.adminKey, 'POST', '/api/providers', { name: 'Dr Amara Okafor' }), 201, 'provider');
  // A patient in New York: the page shows their own time beside the practice's.
  const context = await newContext(browser, { viewport: DESKTOP, timezoneId: 'America/New_York', locale: 'en-GB' });
  const page = await openBooking(context, org);

  assert.equal(await page.locator('#org-name').textContent(), 'Smile Dental');
  assert.match(await page.title(), /Smile Dental/);
  assert.equal(await page.locator('#f-provider').inputValue(), org.defaultProviderId, 'the default provider is preselected');
  await page.locator('button.time').first().waitFor();
  await assertAccessible(page, 'the booking page as it opens');
  await screenshot(page, 'book-desktop');

  await page.locator('#f-service').selectOption({ label: 'Hygiene visit (45 minutes)' });
  await page.locator('#f-provider').selectOption(dr.id);
  const date = nextWeekday(LONDON, 2, 7);
  const ten = at(date, '10:00');
  await chooseDay(page, date);
  await timeButton(page, ten).waitFor();
  assert.match(await page.locator('.zone-note').textContent(), /Times are in Europe\/London/);
  assert.match(await page.locator('.zone-note').textContent(), /America\/New_York/);
  const yours = await timeButton(page, ten).locator('.time-yours').textContent();
  assert.match(yours, /\d{1,2}:00 your time/, 'the patient’s own time beside the practice’s');
  assert.equal(yours, new Intl.DateTimeFormat('en-GB', { timeZone: 'America/New_York', hour: 'numeric', minute: '2-digit' }).format(new Date(ten)) + ' your time');
  // 45 minutes from 09:00 on a 15-minute grid: the last start is 16:15.
  assert.ok(await timeButton(page, at(date, '16:15')).count(), 'the last start of a 45-minute service is offered');
  assert.equal(await timeButton(page, at(date, '16:30')).count(), 0, 'a 45-minute service does not run past 17:00');
  await assertAccessible(page, 'the booking page with times');
  await screenshot(page, 'book-times-desktop');

  // Changing one's mind to the next time (which overlaps the first): the hold moves, and back again.
  await holdTime(page, at(date, '10:15'));
  await holdTime(page, ten);
  assert.equal(await page.locator('.times-msg:not(:empty)').count(), 0, 'no message: nothing was taken');
  assert.match(await page.locator('.countdown').textContent(), /^[45]:[0-5]\d$/, 'an mm:ss countdown');
  assert.ok(!(await freeTimes(org, date, { providerId: dr.id, serviceId: hygiene.id })).includes(ten), 'the held time is not offered to others');
  await fillDetails(page, { name: 'Ada Patient', phone: '+447700900123', email: 'ada@example.com' });
  await assertAccessible(page, 'the booking form');
  await page.getByRole('button', { name: /^Book / }).click();

  await page.locator('#done-h').waitFor();
  const summary = await page.locator('#done-summary').textContent();
  for (const want of ['Hygiene visit', '45 minutes', 'Dr Amara Okafor', 'Smile Dental', 'Europe/London']) assert.ok(summary.includes(want), `the confirmation says ${want}: ${summary}`);
  assert.ok(summary.includes(new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }).format(new Date(date + 'T12:00:00Z'))), `the day: ${summary}`);
  await assertAccessible(page, 'the confirmation');
  await screenshot(page, 'book-confirmation-desktop');

  const appts = await appointmentsOn(org, date, LONDON, dr.id);
  assert.equal(appts.length, 1, 'one appointment');
  const a = appts[0];
  assert.equal(a.scheduledAt, ten);
  assert.equal(a.providerId, dr.id);
  assert.equal(a.serviceId, hygiene.id);
  assert.equal(a.durationMinutes, 45);
  assert.equal(a.status, 'confirmed');
  const contact = await ok(await apiCall(server, org.adminKey, 'GET', `/api/contacts/${a.contactId}`), 200, 'contact');
  assert.deepEqual([contact.name, contact.phone, contact.email], ['Ada Patient', '+447700900123', 'ada@example.com']);

  const link = page.locator('#manage-link');
  assert.equal(await link.textContent(), 'Change or cancel this appointment');
  assert.match(await link.getAttribute('href'), new RegExp(`^${server.url}/manage/[A-Za-z0-9_-]{43}$`));

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Add to calendar' }).click()]);
  assert.equal(download.suggestedFilename(), 'appointment.ics');
  const ics = await readFile(await download.path(), 'utf8');
  assert.ok(ics.startsWith('BEGIN:VCALENDAR\r\n'), 'a VCALENDAR');
  assert.ok(!/[^\r]\n/.test(ics), 'CRLF line endings only');
  assert.match(ics, /\r\nBEGIN:VEVENT\r\n/);
  assert.match(ics, new RegExp(`\\r\\nUID:${a.id}\\r\\n`));
  assert.match(ics, new RegExp(`\\r\\nDTSTART:${icsStamp(ten)}\\r\\n`));
  assert.match(ics, new RegExp(`\\r\\nDTEND:${icsStamp(new Date(Date.parse(ten) + 45 * 60000).toISOString())}\\r\\n`));
  assert.match(ics, /\r\nSUMMARY:Hygiene visit at Smile Dental\r\n/);
  assert.ok(ics.endsWith('END:VEVENT\r\nEND:VCALENDAR\r\n'));

  // Book another: back to the times, where 10:00 is no longer offered.
  await page.getByRole('button', { name: 'Book another appointment' }).click();
  await page.locator('#done[hidden]').waitFor({ state: 'attached' });
  await page.locator('.times-body:not([aria-busy]) button.time').first().waitFor();
  assert.equal(await timeButton(page, ten).count(), 0, 'the booked time is gone');
  assert.equal(await page.getByLabel('Full name').inputValue(), '', 'the form starts empty');
  assertClean(context);
  await context.close();
});

test('two patients race for one time: one books, the other is told kindly and gets fresh times', { timeout: 40_000 }, async () => {
  const org = await createOrg(server, { name: 'Riverside Clinic', timezone: LONDON });
  const date = nextWeekday(LONDON, 3, 7);
  const eleven = at(date, '11:00');
  const two = at(date, '14:00');
  const c1 = await newContext(browser, { viewport: DESKTOP, timezoneId: LONDON, locale: 'en-GB' });
  const c2 = await newContext(browser, { viewport: DESKTOP, timezoneId: LONDON, locale: 'en-GB' });
  const p1 = await openBooking(c1, org);
  const p2 = await openBooking(c2, org);
  await chooseDay(p1, date);
  await chooseDay(p2, date);
  await timeButton(p2, eleven).waitFor();

  // Patient 1 holds 11:00: a page opened now does not offer it.
  await holdTime(p1, eleven);
  const p2fresh = await openBooking(c2, org);
  await chooseDay(p2fresh, date);
  const fresh = await offered(p2fresh);
  assert.ok(fresh.length > 20 && fresh.includes(at(date, '10:30')) && fresh.includes(at(date, '11:30')), `the other times are offered: ${fresh}`);
  assert.ok(!fresh.includes(eleven), 'a time held by another patient is not offered');
  await p2fresh.close();

  await fillDetails(p1, { name: 'First Patient', phone: '+447700900001' });
  await p1.getByRole('button', { name: /^Book / }).click();
  await p1.locator('#done-h').waitFor();

  // Patient 2's list is stale: 11:00 is still on it. Choosing it says it was just taken.
  await timeButton(p2, eleven).click();
  const msg = p2.locator('.times-msg.error');
  await msg.waitFor();
  assert.match(await msg.textContent(), /just taken/);
  await p2.locator('#alert', { hasText: /just taken/ }).waitFor(); // announced
  await p2.locator('.times-body:not([aria-busy]) button.time').first().waitFor();
  const after1 = await offered(p2);
  assert.ok(!after1.includes(eleven), 'the taken time is no longer offered');
  assert.ok(after1.includes(two), 'fresh times are shown');
  assert.equal(await p2.locator('#step-details-section').isHidden(), true, 'nothing is held, no form yet');
  await assertAccessible(p2, 'the booking page after a time was taken');
  await screenshot(p2, 'book-taken-desktop');

  // Patient 2 holds 14:00 and types; meanwhile the hold is gone and the practice books 14:00 by phone.
  const holdRes = p2.waitForResponse((r) => r.url().endsWith('/api/holds') && r.request().method() === 'POST');
  await holdTime(p2, two);
  const hold = await (await holdRes).json();
  assert.equal((await apiCall(server, org.publicKey, 'DELETE', `/api/holds/${hold.holdId}`)).status, 204, 'release the hold behind the page');
  const staff = await ok(await apiCall(server, org.adminKey, 'POST', '/api/contacts', { name: 'Phone Caller' }), 201, 'contact');
  await ok(await apiCall(server, org.adminKey, 'POST', '/api/appointments', { contactId: staff.id, scheduledAt: two, durationMinutes: 30 }), 201, 'staff booking');
  await fillDetails(p2, { name: 'Second Patient', phone: '+447700900002' });
  await p2.getByRole('button', { name: /^Book / }).click();
  await p2.locator('.times-msg.error', { hasText: /14:00 .*just taken/ }).waitFor();
  await p2.locator('.times-body:not([aria-busy]) button.time').first().waitFor();
  const after2 = await offered(p2);
  assert.ok(!after2.includes(two) && !after2.includes(eleven), 'both taken times are gone');
  assert.equal(await p2.getByLabel('Full name').inputValue(), 'Second Patient', 'what the patient typed is kept');
  assert.equal(await p2.locator('#done').isHidden(), true, 'no confirmation');

  const appts = await appointmentsOn(org, date);
  assert.deepEqual(appts.map((a) => a.scheduledAt).sort(), [eleven, two], 'one appointment per time, nothing more');
  assertClean(c1);
  assertClean(c2);
  await c1.close();
  await c2.close();
});

test('a time inside the minimum notice is refused on the page with the policy’s reason next to the times', { timeout: 40_000 }, async () => {
  const tz = 'UTC';
  const org = await createOrg(server, { name: 'Short Notice Surgery', timezone: tz });
  const all = Object.fromEntries(WEEK.map((d) => [d, [['00:00', '23:45']]]));
  await ok(await apiCall(server, org.adminKey, 'PUT', `/api/providers/${org.defaultProviderId}/working-hours`, { workingHours: all }), 200, 'open every day');
  const setNotice = async (m) =>
    ok(await apiCall(server, org.adminKey, 'PATCH', '/api/orgs/me', { policies: { minimumNoticeMinutes: m } }), 200, `notice ${m}`);
  // The first free time at least an hour from now: inside a 10-hour notice.
  const today = todayIn(tz);
  const soon = Date.now() + 60 * 60000;
  const slots = [...(await freeTimes(org, today)), ...(await freeTimes(org, addDays(today, 1)))];
  const t = slots.find((x) => Date.parse(x) >= soon);
  assert.ok(t, 'a free time an hour or more from now');
  const date = t.slice(0, 10);

  const context = await newContext(browser, { viewport: DESKTOP, timezoneId: tz });
  const page = await openBooking(context, org);
  await chooseDay(page, date);
  await timeButton(page, t).waitFor();

  // The policy changes while the times are on the screen: choosing one is refused (the hold).
  await setNotice(600);
  await timeButton(page, t).click();
  const msg = page.locator('#book-times-msg.error');
  await msg.waitFor();
  assert.match(await msg.textContent(), /too soon.*at least 10 hours ahead/i, 'the reason, next to the times');
  await page.locator('#alert', { hasText: /too soon/i }).waitFor(); // announced
  await page.locator('.times-body:not([aria-busy])').waitFor();
  assert.ok(!(await offered(page)).includes(t), 'the refused time is no longer offered');
  assert.equal(await page.locator('#book-times #book-times-msg').count(), 1, 'the message is in the times panel');

  // Again, the policy changing after the time was held: the booking is refused, reason next to the times.
  await setNotice(0);
  await page.reload();
  await page.locator('table.cal-grid:not([aria-busy])').waitFor();
  await chooseDay(page, date);
  await holdTime(page, t);
  await fillDetails(page, { name: 'Late Patient', phone: '+447700900003' });
  await setNotice(600);
  await page.getByRole('button', { name: /^Book / }).click();
  await page.locator('#book-times-msg.error', { hasText: /too soon/i }).waitFor();
  assert.match(await page.locator('#book-times-msg').textContent(), /^This time is too soon: this practice takes bookings at least 10 hours ahead\. Please choose another time\.$/);
  assert.equal(await page.locator('#done').isHidden(), true, 'no confirmation');
  assert.equal((await appointmentsOn(org, date, tz)).length, 0, 'nothing booked');
  await page.locator('.times-body:not([aria-busy])').waitFor();
  assert.ok(!(await offered(page)).includes(t), 'the refused time is no longer offered');
  assertClean(context);
  await context.close();
});

test('an organization, provider and patient named with markup render as text, and no script runs', { timeout: 30_000 }, async () => {
  const org = await createOrg(server, { name: XSS, timezone: LONDON });
  const prov = await ok(await apiCall(server, org.adminKey, 'POST', '/api/providers', { name: XSS }), 201, 'provider');
  const context = await newContext(browser, { viewport: DESKTOP, timezoneId: LONDON });
  const dialogs = [];
  context.on('page', (p) => p.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  }));
  const page = await openBooking(context, org);
  assert.equal(await page.locator('#org-name').textContent(), XSS, 'the organization name as text');
  assert.ok((await page.title()).includes(XSS), 'the title as text');
  await page.locator('#f-provider').selectOption(prov.id);
  assert.equal(await page.locator(`#f-provider option[value="${prov.id}"]`).textContent(), XSS);
  const date = nextWeekday(LONDON, 4, 7);
  await chooseDay(page, date);
  await holdTime(page, at(date, '09:00'));
  await fillDetails(page, { name: XSS, phone: '+447700900004' });
  await page.getByRole('button', { name: /^Book / }).click();
  await page.locator('#done-h').waitFor();
  const summary = await page.locator('#done-summary').textContent();
  assert.ok(summary.includes(`With${XSS}`) && summary.includes(`Where${XSS}`), `names as text: ${summary}`);
  assert.ok((await page.locator('.lead').textContent()).includes(XSS), 'the patient’s name as text');
  assert.equal(await page.locator('img').count(), 0, 'no img element was made');
  await page.waitForTimeout(200);
  assert.deepEqual(dialogs, [], 'no dialog');
  assertClean(context);
  await context.close();
});

test('at 390×844 the whole booking is done with the keyboard alone, without horizontal scrolling', { timeout: 40_000 }, async () => {
  const org = await createOrg(server, { name: 'Harbour Dental Practice', timezone: LONDON });
  const context = await newContext(browser, { viewport: PHONE, timezoneId: LONDON, locale: 'en-GB', hasTouch: true, isMobile: true, deviceScaleFactor: 2 });
  const page = await openBooking(context, org);
  await page.locator('button.time').first().waitFor();
  await noHorizontalScroll(page, 'the booking page');
  await screenshot(page, 'book-phone');

  const date = nextWeekday(LONDON, 4, 7);
  const t = at(date, '09:30');
  // Into the calendar (one tab stop), then arrows and Page Down to the day; Enter chooses it.
  await tabTo(page, 'button.day');
  for (let i = 0; i < 6 && (await focusedDate(page)).slice(0, 7) < date.slice(0, 7); i++) {
    await page.keyboard.press('PageDown');
    await page.locator('table.cal-grid:not([aria-busy])').waitFor();
    await page.waitForFunction(() => document.activeElement && document.activeElement.matches('button.day'));
  }
  for (let i = 0; i < 40; i++) {
    const f = await focusedDate(page);
    if (f === date) break;
    const days = (Date.parse(date) - Date.parse(f)) / 86400000;
    await page.keyboard.press(days >= 7 ? 'ArrowDown' : days > 0 ? 'ArrowRight' : days <= -7 ? 'ArrowUp' : 'ArrowLeft');
  }
  assert.equal(await focusedDate(page), date, 'the arrow keys reach the day');
  await page.keyboard.press('Enter');
  await page.locator(`button.day[data-date="${date}"][aria-pressed="true"]`).waitFor();
  await page.locator('.times-body:not([aria-busy])').waitFor();
  await timeButton(page, t).waitFor();
  await noHorizontalScroll(page, 'the times');

  // Tab to 09:30; Space holds it and focus moves to "Your details".
  await tabTo(page, `button.time[data-at="${t}"]`);
  await page.keyboard.press('Space');
  await page.locator('.held:not(.none) .countdown').waitFor();
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'step-details');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'f-name');
  await page.keyboard.type('Kay Board');
  await page.keyboard.press('Tab');
  await page.keyboard.type('07700 900123'); // no country code: refused with the format explained
  await tabTo(page, '#book-button', 5);
  await page.keyboard.press('Enter');
  const err = page.locator('#f-phone-error');
  await page.locator('#f-phone-error:not(:empty)').waitFor();
  assert.match(await err.textContent(), /\+447700900123/);
  assert.equal(await page.locator('#f-phone').getAttribute('aria-invalid'), 'true');
  assert.ok((await page.locator('#f-phone').getAttribute('aria-describedby')).split(' ').includes('f-phone-error'), 'the error describes the field');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'f-phone', 'focus on the field at fault');
  await page.locator('#alert', { hasText: 'international format' }).waitFor();
  await noHorizontalScroll(page, 'the form with an error');
  await assertAccessible(page, 'the booking form with an error, at phone size');
  await screenshot(page, 'book-form-phone');

  await page.keyboard.press('Control+A');
  await page.keyboard.type('+44 7700 900123');
  await page.keyboard.press('Enter'); // Enter in a field submits the form
  await page.locator('#done-h').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'done-h', 'focus on the confirmation');
  await noHorizontalScroll(page, 'the confirmation');
  await assertAccessible(page, 'the confirmation at phone size');
  await screenshot(page, 'book-confirmation-phone');
  await tabTo(page, '#manage-link', 5);

  const appts = await appointmentsOn(org, date);
  assert.equal(appts.length, 1);
  assert.equal(appts[0].scheduledAt, t);
  assert.equal(appts[0].durationMinutes, 30, 'no services: 30 minutes');
  const contact = await ok(await apiCall(server, org.adminKey, 'GET', `/api/contacts/${appts[0].contactId}`), 200, 'contact');
  assert.equal(contact.phone, '+447700900123', 'spaces taken out of the number');
  assertClean(context);
  await context.close();
});

test('a hold that runs out is released: the page says so and offers the time again', { timeout: 15_000 }, async () => {
  const org = await createOrg(server, { name: 'Patient Clock Clinic', timezone: LONDON });
  const context = await newContext(browser, { viewport: DESKTOP, timezoneId: LONDON, locale: 'en-GB' });
  await context.clock.install(); // the page's clock, moved on below; the server's runs as ever
  const page = await openBooking(context, org);
  const date = nextWeekday(LONDON, 1, 7);
  const t = at(date, '12:00');
  await chooseDay(page, date);
  await holdTime(page, t);
  assert.match(await page.locator('.countdown').textContent(), /^(5:00|4:5\d)$/);
  assert.ok(!(await freeTimes(org, date)).includes(t), 'held');

  await page.clock.fastForward('04:05');
  await page.locator('.held.urgent').waitFor();
  assert.match(await page.locator('.countdown').textContent(), /^0:[0-5]\d$/);
  await page.locator('#status', { hasText: 'One minute left' }).waitFor();

  await page.clock.fastForward('01:00');
  await page.locator('#book-times-msg.info', { hasText: 'has now been released' }).waitFor();
  await page.locator('#alert', { hasText: 'has now been released' }).waitFor();
  await page.locator('.held.none').waitFor();
  await timeButton(page, t).waitFor();
  await page.locator('.times-body:not([aria-busy])').waitFor();
  assert.equal(await timeButton(page, t).getAttribute('aria-pressed'), 'false', 'no longer chosen');
  assert.ok((await freeTimes(org, date)).includes(t), 'the page let go of the hold');

  // Booking now asks for a time first; choosing the time again holds it again.
  await fillDetails(page, { name: 'Slow Typist', phone: '+447700900005' });
  await page.getByRole('button', { name: 'Book this appointment' }).click();
  await page.locator('#book-times-msg.error', { hasText: 'choose a day and a time first' }).waitFor();
  await holdTime(page, t);
  await page.getByRole('button', { name: 'Book 12:00' }).click();
  await page.locator('#done-h').waitFor();
  assert.equal((await appointmentsOn(org, date))[0].scheduledAt, t);
  assertClean(context);
  await context.close();
});
