// Small pieces both patient pages use: the live regions, an appointment's
// summary (what, when, with whom), the .ics file, a fresh Idempotency-Key.

import { el, replace, formatTime, localDate } from './common.js';
import { longDate, otherZone, yourTime } from './patient-picker.js';

/**
 * Says `text` through the page's polite status region (#status) or its
 * alert region (#alert). The alert region is seen only with `show` (a
 * problem shown nowhere else); otherwise it only speaks, because the same
 * words stand next to the field or the times they are about.
 */
export function announce(text, { alert = false, show = false } = {}) {
  const node = document.getElementById(alert ? 'alert' : 'status');
  if (!node) return;
  if (alert) node.classList.toggle('visually-hidden', !show);
  // Emptied first so that the same sentence twice is announced twice.
  node.textContent = '';
  if (text) setTimeout(() => (node.textContent = text), 50);
}

/** Clears the alert region. */
export function clearAlert() {
  const node = document.getElementById('alert');
  if (node) node.textContent = '';
}

/** A random UUID (crypto.randomUUID where the page is a secure context, else from getRandomValues). */
export function uuid() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** "10:00 – 10:30" of an appointment in `zone`. */
export function timeRange(iso, minutes, zone) {
  const end = new Date(Date.parse(iso) + minutes * 60000).toISOString();
  return `${formatTime(iso, zone)} – ${formatTime(end, zone)}`;
}

/** The "When" of an appointment: day, time range and zone, and the reader's own time if it differs. */
export function whenNodes(iso, minutes, zone) {
  const end = new Date(Date.parse(iso) + minutes * 60000).toISOString();
  const mine = otherZone(zone, [iso]);
  return [
    el('span', { class: 'when-day' }, longDate(localDate(iso, zone))),
    el('span', { class: 'when-time' }, `${timeRange(iso, minutes, zone)} (${zone} time)`),
    mine ? el('span', { class: 'when-yours' }, `${yourTime(iso, zone, mine)} – ${yourTime(end, zone, mine)} your time (${mine})`) : null,
  ];
}

/** "30 minutes", "1 hour", "1 hour 15 minutes". */
export function durationText(minutes) {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  const parts = [];
  if (h) parts.push(`${h} ${h === 1 ? 'hour' : 'hours'}`);
  if (m || !h) parts.push(`${m} ${m === 1 ? 'minute' : 'minutes'}`);
  return parts.join(' ');
}

/** A <dl> of [term, description…] rows; rows whose description is null are left out. */
export function summaryList(rows, attrs = {}) {
  const dl = el('dl', { class: 'summary', ...attrs });
  for (const [term, ...desc] of rows) {
    if (desc[0] === null || desc[0] === undefined) continue;
    dl.append(el('div', { class: 'summary-row' }, el('dt', {}, term), el('dd', {}, ...desc)));
  }
  return dl;
}

/** A provider name worth showing to a patient (not the placeholder every organization starts with). */
export function providerLabel(name) {
  return name && name.trim().toLowerCase() !== 'default' ? name : null;
}

// ------------------------------------------------------------------ .ics

const icsStamp = (ms) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
const icsEscape = (s) => String(s).replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');

/** Folds a content line at 75 octets (RFC 5545 3.1), never inside a UTF-8 character. */
function fold(line) {
  const enc = new TextEncoder();
  const out = [];
  let cur = '';
  let size = 0;
  for (const ch of line) {
    const n = enc.encode(ch).length;
    if (size + n > (out.length ? 74 : 75)) {
      out.push(cur);
      cur = '';
      size = 0;
    }
    cur += ch;
    size += n;
  }
  out.push(cur);
  return out.join('\r\n ');
}

/**
 * The text of an .ics file with one event: id (the UID), start (ISO),
 * minutes, summary, description?, location?, url?. CRLF line endings, times
 * in UTC.
 */
export function icsText({ id, start, minutes, summary, description, location, url }) {
  const t0 = Date.parse(start);
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//bookd//patient booking page//EN',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    'BEGIN:VEVENT',
    `UID:${id}`,
    `DTSTAMP:${icsStamp(Date.now())}`,
    `DTSTART:${icsStamp(t0)}`,
    `DTEND:${icsStamp(t0 + minutes * 60000)}`,
    `SUMMARY:${icsEscape(summary)}`,
  ];
  if (description) lines.push(`DESCRIPTION:${icsEscape(description)}`);
  if (location) lines.push(`LOCATION:${icsEscape(location)}`);
  if (url) lines.push(`URL:${url}`);
  lines.push('STATUS:CONFIRMED', 'END:VEVENT', 'END:VCALENDAR');
  return lines.map(fold).join('\r\n') + '\r\n';
}

const blobUrls = [];
/** An "Add to calendar" link that downloads appointment.ics (a blob: URL; earlier ones are revoked). */
export function icsLink(event, label = 'Add to calendar') {
  while (blobUrls.length) URL.revokeObjectURL(blobUrls.pop());
  const href = URL.createObjectURL(new Blob([icsText(event)], { type: 'text/calendar;charset=utf-8' }));
  blobUrls.push(href);
  return el('a', { class: 'button secondary', href, download: 'appointment.ics', 'data-ics': '' }, label);
}

/**
 * An API message as a sentence for a patient: "scheduledAt is too soon: …"
 * becomes "This time is too soon: …."; capitalized, with a full stop.
 */
export function sentence(text) {
  let t = String(text || '').trim().replace(/^scheduledAt is /, 'this time is ').replace(/^scheduledAt /, 'the time ');
  if (!t) return '';
  t = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(t) ? t : t + '.';
}

/** Shows `text` in the alert region and returns it (for a thrown error's message). */
export function alertText(text) {
  announce(text, { alert: true });
  return text;
}

/** Replaces the children of the element with id `id`. */
export function fill(id, ...children) {
  const node = document.getElementById(id);
  if (node) replace(node, ...children);
  return node;
}
