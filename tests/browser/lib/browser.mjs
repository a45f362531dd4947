// What every browser test needs: Debian's Chromium driven by playwright-core
// (headless, no sandbox as root), a bookd started for the test file (the HTTP
// tests' server helper), organizations made through the API, contexts that
// can reach nothing but 127.0.0.1, the axe check and screenshots.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';
import { startServer } from '../../http/lib/server.mjs';

export { assert };
export const CHROMIUM = process.env.BOOKD_CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 900 };

/** Chromium, headless. Close it with browser.close(). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/** A bookd for this test file (see ../http/lib/server.mjs): {url, adminToken, logs, stop()}. */
export function startBookd(env = {}) {
  // BOOKD_WEB_DIR (pages read from disk, not the binary's copy) passes
  // through, so pages can be worked on without rebuilding.
  const web = process.env.BOOKD_WEB_DIR ? { BOOKD_WEB_DIR: process.env.BOOKD_WEB_DIR } : {};
  return startServer({ env: { ...web, ...env } });
}

/** POST /api/orgs: {id, name, timezone, adminKey, publicKey, vapiSecret, defaultProviderId}. */
export async function createOrg(server, { name = 'Smile Dental', timezone = 'Europe/London' } = {}) {
  const res = await fetch(server.url + '/api/orgs', {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + server.adminToken, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, timezone }),
  });
  assert.equal(res.status, 201, 'create organization');
  return res.json();
}

/** Calls the API with a key; resolves {status, body}. */
export async function apiCall(server, key, method, pathname, body) {
  const headers = { Authorization: 'Bearer ' + key };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(server.url + pathname, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

/**
 * A browser context (its own cookies and storage, like a second patient)
 * whose pages may load nothing but bookd: any request to another host
 * fails the test. Page errors and console errors are collected in
 * context.problems; assertClean(context) checks there were none.
 */
export async function newContext(browser, { viewport = DESKTOP, timezoneId, ...opts } = {}) {
  const context = await browser.newContext({ viewport, timezoneId, ...opts });
  context.problems = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === '127.0.0.1' || u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
    context.problems.push('request outside 127.0.0.1: ' + u.href);
    return route.abort();
  });
  context.on('page', (page) => watchPage(context, page));
  return context;
}

function watchPage(context, page) {
  page.on('pageerror', (e) => context.problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    // A 4xx the page handles (a taken time, an expired link) is logged by
    // Chromium as a failed resource; those are expected, script errors are not.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text()))
      context.problems.push('console error: ' + m.text());
  });
}

/** No page error, no console error, no request outside 127.0.0.1 so far. */
export function assertClean(context) {
  assert.deepEqual(context.problems, [], 'browser problems');
}

/** axe-core finds no serious or critical violation on the page as it is now. */
export async function assertAccessible(page, what) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`),
    [],
    `accessibility of ${what}`,
  );
}

/** Saves a full-page screenshot as screenshots/<name>.png; returns the file name. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = name + '.png';
  await page.screenshot({ path: path.join(SCREENSHOTS, file), fullPage: true });
  return file;
}

/** The next date "YYYY-MM-DD" (at least minDaysAhead from today in `tz`) that is weekday `wd` (1 = Monday … 7 = Sunday). */
export function nextWeekday(tz, wd, minDaysAhead = 1) {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: tz }).format(new Date());
  const d = new Date(today + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() + minDaysAhead);
  while (((d.getUTCDay() + 6) % 7) + 1 !== wd) d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** Asserts an API answer's status (showing its body when it differs); its body. */
export async function ok(res, status, what) {
  assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Chooses `date` ("YYYY-MM-DD", this month or a later one) on the month
 * calendar of the booking or manage page, and waits for its free times.
 */
export async function chooseDay(page, date) {
  for (let i = 0; i < 3; i++) {
    await page.locator('table.cal-grid:not([aria-busy])').waitFor();
    const month = await page.locator('table.cal-grid').getAttribute('data-month');
    if (month === date.slice(0, 7)) break;
    assert.ok(month < date.slice(0, 7), `the calendar shows ${month}, after ${date}`);
    await page.getByRole('button', { name: 'Next month' }).click();
  }
  const day = page.locator(`button.day[data-date="${date}"]`);
  await page.locator(`button.day[data-date="${date}"]:not([disabled])`).waitFor();
  await day.click();
  assert.equal(await day.getAttribute('aria-pressed'), 'true', 'the chosen day is pressed');
  await page.locator('.times-heading', { hasText: 'Free times on' }).waitFor();
  await page.locator('.times-body:not([aria-busy])').waitFor();
}

/** The button of the free time starting at `iso` (toISOString form). */
export const timeButton = (page, iso) => page.locator(`button.time[data-at="${iso}"]`);

/** The start of every time offered now. */
export const offered = (page) => page.locator('button.time').evaluateAll((bs) => bs.map((b) => b.getAttribute('data-at')));

/** The page is no wider than the phone's screen. */
export async function noHorizontalScroll(page, what) {
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(w <= PHONE.width, `${what}: the page is ${w}px wide at ${PHONE.width}px`);
}
