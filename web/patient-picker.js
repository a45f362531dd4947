// The day-and-time picker of the patient pages (book.html, manage.html): a
// month calendar whose days without free time are disabled (from
// GET /api/availability/days), and the chosen day's free times (from
// GET /api/availability) in the practice's time zone, with the patient's own
// time beside them when their browser is in another zone. The picker only
// shows and chooses; what a chosen time means (a hold, a move) is the page's
// business: it gets onPick(slot) and answers with setSelected()/setPinned().
//
// Keyboard: the calendar is one tab stop (a roving tabindex); arrow keys move
// by day and week, Home/End to the start/end of the week, Page Up/Page Down
// by month; Enter or Space chooses. The times are ordinary buttons.

import { api, el, replace, formatTime, localDate, todayIn, addDays, browserZone } from './common.js';

const MONTHS_AHEAD = 24;
const AUTO_MONTHS = 3;

const dateFormats = new Map();
/** A calendar date "YYYY-MM-DD" formatted with `opts` (no zone involved). */
export function formatDate(date, opts) {
  const k = JSON.stringify(opts);
  let f = dateFormats.get(k);
  if (!f) {
    f = new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', ...opts });
    dateFormats.set(k, f);
  }
  return f.format(new Date(date + 'T12:00:00Z'));
}

/** "Tuesday 15 December 2026" of a calendar date. */
export const longDate = (date) => formatDate(date, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });

const monthOf = (date) => date.slice(0, 7);
function addMonths(month, n) {
  const [y, m] = month.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1 + n, 1)).toISOString().slice(0, 7);
}
function daysIn(month) {
  const [y, m] = month.split('-').map(Number);
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}
/** 1 = Monday … 7 = Sunday. */
const isoWeekday = (date) => ((new Date(date + 'T00:00:00Z').getUTCDay() + 6) % 7) + 1;

/** The first day of the week where the reader lives (1 = Monday, 7 = Sunday). */
function firstDayOfWeek() {
  try {
    const loc = new Intl.Locale(navigator.language || 'en-GB');
    const info = typeof loc.getWeekInfo === 'function' ? loc.getWeekInfo() : loc.weekInfo;
    if (info && info.firstDay >= 1 && info.firstDay <= 7) return info.firstDay;
  } catch {
    /* older browsers: Monday */
  }
  return 1;
}

/** Whether the reader's clock shows other times than the practice's for these instants. */
export function otherZone(zone, isos) {
  const mine = browserZone();
  if (mine === zone) return null;
  const probe = isos.length ? isos : [new Date().toISOString()];
  return probe.some((iso) => formatTime(iso, mine) !== formatTime(iso, zone) || localDate(iso, mine) !== localDate(iso, zone))
    ? mine
    : null;
}

/** "5:00 AM" in the reader's zone, with the weekday when the date differs from the practice's. */
export function yourTime(iso, zone, mine) {
  const t = formatTime(iso, mine);
  if (localDate(iso, mine) === localDate(iso, zone)) return t;
  return formatDate(localDate(iso, mine), { weekday: 'short' }) + ' ' + t;
}

/** A short sentence for an API error the picker cannot do anything about. */
export function problemText(e) {
  if (!e || e.status === 0) return 'The booking service could not be reached. Check your connection and try again.';
  if (e.status === 429) return 'Too many requests just now. Please wait a few seconds and try again.';
  if (e.status === 503) return 'The booking service is busy. Please try again in a moment.';
  if (e.status === 401 || e.status === 403) return 'Online booking is not available at the moment. Please contact the practice.';
  return e.message || 'Something went wrong. Please try again.';
}

/**
 * The picker. opts: key (the page key), zone (the practice's), providerId,
 * serviceId or durationMinutes, idPrefix, onPick(slot) (slot =
 * {scheduledAt, durationMinutes}), onDay(date) (a day was chosen).
 * Returns {root, start(preferDate), setParams(p), refresh(), setSelected(iso),
 * setPinned(slot), setMessage(text, kind), clearMessage(), focusTimes(),
 * setBusy(b), selectedDate()}.
 */
export function createPicker(opts) {
  const zone = opts.zone;
  const pre = opts.idPrefix || 'pick';
  const weekStart = firstDayOfWeek();
  const s = {
    params: { providerId: opts.providerId, serviceId: opts.serviceId, durationMinutes: opts.durationMinutes },
    month: null,
    free: new Map(), // date → freeSlots, for the month shown
    loaded: false,
    date: null, // the chosen day
    focusDate: null, // the day with tabindex 0
    slots: [],
    selectedAt: null,
    pinned: null,
    busy: false,
    daySeq: 0,
    timeSeq: 0,
  };

  // ---------------------------------------------------------------- DOM
  const monthHeading = el('h3', { id: `${pre}-month`, class: 'cal-month', 'aria-live': 'polite' });
  const prevBtn = el('button', { type: 'button', class: 'cal-nav', 'aria-label': 'Previous month', onclick: () => goMonth(-1) }, '‹');
  const nextBtn = el('button', { type: 'button', class: 'cal-nav', 'aria-label': 'Next month', onclick: () => goMonth(1) }, '›');
  const headRow = el('tr');
  for (let i = 0; i < 7; i++) {
    const wd = ((weekStart - 1 + i) % 7) + 1; // 1..7
    const sample = addDays('2024-01-01', wd - 1); // 2024-01-01 is a Monday
    headRow.append(
      el('th', { scope: 'col', abbr: formatDate(sample, { weekday: 'long' }) }, formatDate(sample, { weekday: 'short' })),
    );
  }
  const tbody = el('tbody', { onkeydown: onGridKey });
  const grid = el('table', { class: 'cal-grid', 'aria-labelledby': `${pre}-month` }, el('thead', {}, headRow), tbody);
  const calStatus = el('p', { class: 'cal-status', id: `${pre}-cal-status` });
  const calendar = el(
    'div',
    { class: 'cal' },
    el('div', { class: 'cal-head' }, prevBtn, monthHeading, nextBtn),
    grid,
    el('p', { class: 'cal-legend' }, 'Days in grey have no free times.'),
    calStatus,
  );

  const timesHeading = el('h3', { id: `${pre}-times-h`, class: 'times-heading', tabindex: '-1' }, 'Choose a day');
  const zoneNote = el('p', { class: 'zone-note', id: `${pre}-zone` });
  const message = el('p', { class: 'times-msg', id: `${pre}-times-msg` });
  const timesBody = el('div', {
    class: 'times-body',
    role: 'group',
    'aria-labelledby': `${pre}-times-h`,
    'aria-describedby': `${pre}-zone ${pre}-times-msg`,
  });
  const timesPanel = el('div', { class: 'times-panel', id: `${pre}-times` }, timesHeading, zoneNote, message, timesBody);
  const root = el('div', { class: 'picker' }, calendar, timesPanel);
  updateZoneNote([]);

  // ---------------------------------------------------------------- API
  // Where free times come from: the booking API with the page key, or
  // (opts.availabilityPath) a manage link's own, which knows the
  // appointment's provider and length and leaves the appointment out.
  const base = opts.availabilityPath || '/api/availability';
  function paramQuery() {
    if (opts.availabilityPath) return {};
    const p = s.params;
    const q = { providerId: p.providerId };
    if (p.serviceId) q.serviceId = p.serviceId;
    else q.durationMinutes = p.durationMinutes || 30;
    return q;
  }
  const qs = (o) => '?' + new URLSearchParams(Object.entries(o).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString();

  // ---------------------------------------------------------------- calendar
  function buildMonth(month) {
    s.month = month;
    s.free = new Map();
    s.loaded = false;
    grid.setAttribute('data-month', month);
    monthHeading.textContent = formatDate(month + '-01', { month: 'long', year: 'numeric' });
    const today = todayIn(zone);
    prevBtn.disabled = month <= monthOf(today);
    nextBtn.disabled = month >= addMonths(monthOf(today), MONTHS_AHEAD);
    const first = month + '-01';
    const lead = (isoWeekday(first) - weekStart + 7) % 7;
    const n = daysIn(month);
    const rows = [];
    let row = el('tr');
    for (let i = 0; i < lead; i++) row.append(el('td', { class: 'cal-pad' }));
    for (let d = 1; d <= n; d++) {
      const date = `${month}-${String(d).padStart(2, '0')}`;
      const btn = el('button', {
        type: 'button',
        class: 'day' + (date === today ? ' today' : ''),
        'data-date': date,
        'aria-current': date === today ? 'date' : null,
        'aria-pressed': date === s.date ? 'true' : 'false',
        tabindex: '-1',
        disabled: true,
        onclick: () => chooseDay(date, true),
      }, String(d));
      row.append(el('td', {}, btn));
      if ((lead + d) % 7 === 0) {
        rows.push(row);
        row = el('tr');
      }
    }
    if (row.children.length) {
      while (row.children.length < 7) row.append(el('td', { class: 'cal-pad' }));
      rows.push(row);
    }
    replace(tbody, rows);
    labelDays();
  }

  function dayButton(date) {
    return tbody.querySelector(`button[data-date="${date}"]`);
  }

  function labelDays() {
    const today = todayIn(zone);
    for (const b of tbody.querySelectorAll('button.day')) {
      const date = b.getAttribute('data-date');
      const n = s.free.get(date) || 0;
      let state;
      if (date < today) state = 'past';
      else if (!s.loaded) state = 'loading';
      else state = n > 0 ? `${n} free ${n === 1 ? 'time' : 'times'}` : 'no free times';
      b.setAttribute('aria-label', `${formatDate(date, { weekday: 'long', day: 'numeric', month: 'long' })}${date === today ? ', today' : ''}, ${state}`);
      b.disabled = !(s.loaded && n > 0 && date >= today);
      b.setAttribute('aria-pressed', date === s.date ? 'true' : 'false');
      b.classList.toggle('full', s.loaded && n === 0 && date >= today);
    }
    rove();
  }

  /** Exactly one focusable day: the focused one, else the chosen one, else today or the first free one. */
  function rove(focusIt = false) {
    const enabled = [...tbody.querySelectorAll('button.day:not([disabled])')];
    let target = null;
    for (const d of [s.focusDate, s.date, todayIn(zone)]) {
      const b = d && dayButton(d);
      if (b && !b.disabled) {
        target = b;
        break;
      }
    }
    if (!target) target = enabled[0] || null;
    for (const b of tbody.querySelectorAll('button.day')) b.tabIndex = b === target ? 0 : -1;
    if (target) {
      s.focusDate = target.getAttribute('data-date');
      if (focusIt) target.focus();
    }
    return target;
  }

  async function loadDays() {
    const seq = ++s.daySeq;
    const month = s.month;
    const today = todayIn(zone);
    const from = month + '-01' < today ? today : month + '-01';
    const to = `${month}-${String(daysIn(month)).padStart(2, '0')}`;
    grid.setAttribute('aria-busy', 'true');
    calStatus.textContent = '';
    if (from > to) {
      s.loaded = true;
      grid.removeAttribute('aria-busy');
      labelDays();
      return true;
    }
    try {
      const res = await api(base + '/days' + qs({ from, to, ...paramQuery() }), { key: opts.key });
      if (seq !== s.daySeq) return false;
      s.free = new Map((res.days || []).map((d) => [d.date, d.freeSlots]));
      s.loaded = true;
      grid.removeAttribute('aria-busy');
      labelDays();
      if (![...s.free.values()].some((n) => n > 0))
        calStatus.textContent = 'No free times this month.' + (nextBtn.disabled ? '' : ' Try the next month.');
      return true;
    } catch (e) {
      if (seq !== s.daySeq) return false;
      grid.removeAttribute('aria-busy');
      replace(calStatus, problemText(e) + ' ', el('button', { type: 'button', class: 'link', onclick: () => loadDays() }, 'Try again'));
      return false;
    }
  }

  async function showMonth(month) {
    buildMonth(month);
    return loadDays();
  }

  async function goMonth(delta, focusDay) {
    if (!s.month) return;
    const target = addMonths(s.month, delta);
    const today = todayIn(zone);
    if (target < monthOf(today) || target > addMonths(monthOf(today), MONTHS_AHEAD)) return;
    s.focusDate = null;
    await showMonth(target);
    if (focusDay) {
      const b = nearestEnabled(focusDay, delta < 0 ? -1 : 1);
      if (b) {
        s.focusDate = b.getAttribute('data-date');
        rove(true);
        return;
      }
    }
    if (focusDay !== undefined) rove(true);
  }

  /** The enabled day at `date` or the next one in direction dir inside the month shown. */
  function nearestEnabled(date, dir) {
    let d = date;
    while (monthOf(d) === s.month) {
      const b = dayButton(d);
      if (b && !b.disabled) return b;
      d = addDays(d, dir);
    }
    return null;
  }

  function onGridKey(ev) {
    const b = ev.target.closest && ev.target.closest('button.day');
    if (!b) return;
    const date = b.getAttribute('data-date');
    const steps = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7 };
    let target = null;
    let dir = 1;
    if (ev.key in steps) {
      target = addDays(date, steps[ev.key]);
      dir = Math.sign(steps[ev.key]);
    } else if (ev.key === 'Home') {
      target = addDays(date, -((isoWeekday(date) - weekStart + 7) % 7));
      dir = 1;
    } else if (ev.key === 'End') {
      target = addDays(date, 6 - ((isoWeekday(date) - weekStart + 7) % 7));
      dir = -1;
    } else if (ev.key === 'PageUp' || ev.key === 'PageDown') {
      ev.preventDefault();
      const delta = ev.key === 'PageUp' ? -1 : 1;
      const m = addMonths(s.month, delta);
      const day = Math.min(Number(date.slice(8)), daysIn(m));
      goMonth(delta, `${m}-${String(day).padStart(2, '0')}`);
      return;
    } else return;
    ev.preventDefault();
    if (monthOf(target) !== s.month) {
      const delta = target > date ? 1 : -1;
      goMonth(delta, target);
      return;
    }
    const found = nearestEnabled(target, dir);
    if (found) {
      s.focusDate = found.getAttribute('data-date');
      rove(true);
    } else if (!(dir > 0 ? nextBtn : prevBtn).disabled) {
      goMonth(dir, dir > 0 ? addMonths(s.month, 1) + '-01' : addDays(s.month + '-01', -1));
    }
  }

  // ---------------------------------------------------------------- times
  function updateZoneNote(isos) {
    const mine = otherZone(zone, isos);
    replace(
      zoneNote,
      `Times are in ${zone}.`,
      mine ? ` Your own time (${mine}) is shown beside each one.` : null,
    );
    return mine;
  }

  function chooseDay(date, byUser) {
    s.date = date;
    s.focusDate = date;
    labelDays();
    if (opts.onDay) opts.onDay(date);
    const p = loadTimes();
    if (byUser && window.matchMedia && window.matchMedia('(max-width: 52rem)').matches) {
      const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
      timesPanel.scrollIntoView({ block: 'start', behavior: smooth ? 'smooth' : 'auto' });
    }
    return p;
  }

  async function loadTimes() {
    const seq = ++s.timeSeq;
    const date = s.date;
    if (!date) return;
    timesHeading.textContent = `Free times on ${longDate(date)}`;
    timesBody.setAttribute('aria-busy', 'true');
    replace(timesBody, el('p', { class: 'loading' }, 'Looking for free times…'));
    try {
      const res = await api(base + qs({ date, ...paramQuery() }), { key: opts.key });
      if (seq !== s.timeSeq) return;
      s.slots = res.slots || [];
      renderTimes();
    } catch (e) {
      if (seq !== s.timeSeq) return;
      timesBody.removeAttribute('aria-busy');
      replace(timesBody, el('p', { class: 'problem' }, problemText(e) + ' '), el('button', { type: 'button', class: 'secondary', onclick: () => loadTimes() }, 'Try again'));
    }
  }

  function renderTimes() {
    timesBody.removeAttribute('aria-busy');
    const list = s.slots.slice();
    const pin = s.pinned;
    if (pin && localDate(pin.scheduledAt, zone) === s.date && !list.some((x) => x.scheduledAt === pin.scheduledAt)) {
      list.push(pin);
      list.sort((a, b) => Date.parse(a.scheduledAt) - Date.parse(b.scheduledAt));
    }
    const mine = updateZoneNote(list.map((x) => x.scheduledAt));
    if (!list.length) {
      replace(timesBody, el('p', { class: 'empty' }, 'There are no free times left on this day. Please choose another day.'));
      return;
    }
    const groups = [
      ['Morning', []],
      ['Afternoon', []],
      ['Evening', []],
    ];
    for (const slot of list) {
      const hour = Number(
        new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', hourCycle: 'h23' }).format(new Date(slot.scheduledAt)),
      );
      groups[hour < 12 ? 0 : hour < 17 ? 1 : 2][1].push(slot);
    }
    const nodes = [];
    for (const [name, slots] of groups) {
      if (!slots.length) continue;
      const hid = `${pre}-g-${name.toLowerCase()}`;
      nodes.push(
        el('h4', { class: 'times-group', id: hid }, name),
        el(
          'ul',
          { class: 'times', 'aria-labelledby': hid },
          slots.map((slot) =>
            el(
              'li',
              {},
              el(
                'button',
                {
                  type: 'button',
                  class: 'time',
                  'data-at': slot.scheduledAt,
                  'aria-pressed': slot.scheduledAt === s.selectedAt ? 'true' : 'false',
                  onclick: () => {
                    if (!s.busy && opts.onPick) opts.onPick(slot);
                  },
                },
                el('span', { class: 'time-main' }, formatTime(slot.scheduledAt, zone)),
                mine ? el('span', { class: 'time-yours' }, `${yourTime(slot.scheduledAt, zone, mine)} your time`) : null,
              ),
            ),
          ),
        ),
      );
    }
    replace(timesBody, nodes);
  }

  function markSelected() {
    for (const b of timesBody.querySelectorAll('button.time')) b.setAttribute('aria-pressed', b.getAttribute('data-at') === s.selectedAt ? 'true' : 'false');
  }

  // ---------------------------------------------------------------- public
  return {
    root,
    /** Shows the month of preferDate (or this month) and chooses preferDate or the first day with free time. */
    async start(preferDate) {
      const today = todayIn(zone);
      const first = monthOf(preferDate && preferDate >= today ? preferDate : today);
      let m = first;
      for (let i = 0; i < AUTO_MONTHS; i++) {
        const ok = await showMonth(m);
        if (!ok) return;
        if (preferDate && (s.free.get(preferDate) || 0) > 0) return chooseDay(preferDate, false);
        const free = [...s.free.entries()].filter(([d, n]) => n > 0 && d >= today).map(([d]) => d).sort();
        if (free.length) return chooseDay(free[0], false);
        if (preferDate) break;
        m = addMonths(m, 1);
      }
      if (m !== first) await showMonth(first);
      timesHeading.textContent = 'No free times';
      replace(timesBody, el('p', { class: 'empty' }, 'There are no free times in the coming weeks. Try a later month, or contact the practice.'));
    },
    /** New provider, service or length: the month is counted again and the times reloaded. */
    async setParams(p) {
      s.params = { ...p };
      s.selectedAt = null;
      s.pinned = null;
      if (!s.month) return;
      await loadDays();
      if (s.date) await loadTimes();
    },
    /** Counts the month again and reloads the chosen day's times. */
    async refresh() {
      if (!s.month) return;
      await Promise.all([loadDays(), s.date ? loadTimes() : null]);
    },
    setSelected(iso) {
      s.selectedAt = iso;
      markSelected();
    },
    /** A time kept in the list although the server no longer offers it (the patient's own hold). */
    setPinned(slot) {
      s.pinned = slot;
    },
    setMessage(text, kind = 'error') {
      message.className = 'times-msg ' + kind;
      message.textContent = text;
    },
    clearMessage() {
      message.className = 'times-msg';
      message.textContent = '';
    },
    focusTimes() {
      timesHeading.focus();
    },
    setBusy(b) {
      s.busy = b;
      if (b) timesPanel.setAttribute('aria-busy', 'true');
      else timesPanel.removeAttribute('aria-busy');
    },
    selectedDate: () => s.date,
    messageId: `${pre}-times-msg`,
  };
}
