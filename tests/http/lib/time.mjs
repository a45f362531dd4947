// Calendar helpers for the tests, computed independently of bookd with the
// platform's IANA time zone data (Intl). Dates are 'YYYY-MM-DD' strings,
// local times 'HH:MM', instants Date objects or toISOString() strings.

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const formatters = new Map();

function formatter(tz) {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** Local wall-clock parts of an instant in a time zone. */
export function localParts(instant, tz) {
  const ms = instant instanceof Date ? instant.getTime() : new Date(instant).getTime();
  const p = {};
  for (const { type, value } of formatter(tz).formatToParts(new Date(ms))) p[type] = value;
  const date = `${p.year}-${p.month}-${p.day}`;
  return {
    date,
    time: `${p.hour}:${p.minute}`,
    hour: Number(p.hour),
    minute: Number(p.minute),
    second: Number(p.second),
    weekday: weekdayOf(date),
  };
}

/** Offset of `tz` from UTC at an instant, in milliseconds (local - UTC). */
export function tzOffsetMs(ms, tz) {
  const p = localParts(new Date(ms), tz);
  const [y, m, d] = p.date.split('-').map(Number);
  const asUtc = Date.UTC(y, m - 1, d, p.hour, p.minute, p.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant at which the wall clock in `tz` shows `date` `time`. For a
 * local time inside a daylight-saving gap the result does not show that
 * time (check with localParts if it matters).
 */
export function zonedToUtc(date, time, tz) {
  const [y, m, d] = date.split('-').map(Number);
  const [hh, mm] = time.split(':').map(Number);
  const guess = Date.UTC(y, m - 1, d, hh, mm);
  const off1 = tzOffsetMs(guess, tz);
  let t = guess - off1;
  const off2 = tzOffsetMs(t, tz);
  if (off2 !== off1) t = guess - off2;
  return new Date(t);
}

export function weekdayOf(date) {
  const [y, m, d] = date.split('-').map(Number);
  return WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
}

export function addDays(date, n) {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

export function todayIn(tz) {
  return localParts(new Date(), tz).date;
}

/** The first date on weekday `wd` ('mon'..'sun') at least `minDaysAhead` days after today in tz. */
export function nextWeekday(tz, wd, minDaysAhead = 7) {
  let d = addDays(todayIn(tz), minDaysAhead);
  for (let i = 0; i < 7 && weekdayOf(d) !== wd; i++) d = addDays(d, 1);
  return d;
}

/** The first date on weekday `wd` at least `minDaysAgo` days before today in tz. */
export function previousWeekday(tz, wd, minDaysAgo = 7) {
  let d = addDays(todayIn(tz), -minDaysAgo);
  for (let i = 0; i < 7 && weekdayOf(d) !== wd; i++) d = addDays(d, -1);
  return d;
}

/** Last Sunday of March of `year` (the day Europe/London springs forward). */
export function lastSundayOfMarch(year) {
  let d = `${year}-03-31`;
  while (weekdayOf(d) !== 'sun') d = addDays(d, -1);
  return d;
}

export const MINUTE = 60_000;

export function plusMinutes(instant, minutes) {
  const ms = instant instanceof Date ? instant.getTime() : new Date(instant).getTime();
  return new Date(ms + minutes * MINUTE);
}

export function iso(instant) {
  return (instant instanceof Date ? instant : new Date(instant)).toISOString();
}

/** What the API must print for timestamps: exactly toISOString() form. */
export const ISO_MS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
