// The calendar: a day view (a column per provider) and a week view (a
// column per day for one provider), in the organization's zone, with
// previous/next/today, cancelled and moved appointments shown on demand,
// booking by hand, cancelling (after a confirmation step) and moving.

import { el, replace, query, todayIn, addDays, zonedInstant, localDate, formatDateTime } from '/static/common.js';
import { viewHeading, badge, timeRange, confirmStep, announce, errorText, nextId, field } from '/static/admin-ui.js';
import { contactName, listAppointments } from '/static/admin-contacts.js';
import { bookingPanel, reschedulePanel } from '/static/admin-booking.js';

const DAY_KEYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const isDate = (s) => typeof s === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(s + 'T00:00:00Z'));

/** 1 = Monday … 7 = Sunday of a "YYYY-MM-DD". */
function isoWeekday(date) {
  return ((new Date(date + 'T00:00:00Z').getUTCDay() + 6) % 7) + 1;
}

/** A date's wall-clock label without any zone arithmetic ("Tue 8 Dec"). */
function shortDay(date) {
  return new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short' }).format(new Date(date + 'T12:00:00Z'));
}

function longDay(date) {
  return new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }).format(new Date(date + 'T12:00:00Z'));
}

function hoursText(provider, date) {
  const windows = (provider.workingHours || {})[DAY_KEYS[new Date(date + 'T00:00:00Z').getUTCDay()]] || [];
  return windows.length ? 'Working ' + windows.map(([a, b]) => `${a}–${b}`).join(', ') : 'Not working';
}

/** Opens the day of appointment `id` in the calendar (showing cancelled ones when it is not active). */
export async function showAppointment(app, id) {
  const a = await app.call('/api/appointments/' + encodeURIComponent(id));
  app.go('#/calendar' + query({ view: 'day', date: localDate(a.scheduledAt, app.zone), all: a.status === 'confirmed' ? null : '1' }));
}

export async function renderCalendar(app, root, { params }) {
  const zone = app.zone;
  const state = {
    view: params.get('view') === 'week' ? 'week' : 'day',
    date: isDate(params.get('date')) ? params.get('date') : todayIn(zone),
    provider: params.get('provider') || app.org.defaultProviderId,
    all: params.get('all') === '1',
  };
  let [providers, services] = await Promise.all([app.providers(), app.services()]);
  if (!providers.some((p) => p.id === state.provider)) state.provider = providers[0] && providers[0].id;

  // ---------------------------------------------------------------- toolbar
  const dayBtn = el('button', { type: 'button', class: 'seg' }, 'Day');
  const weekBtn = el('button', { type: 'button', class: 'seg' }, 'Week');
  const prevBtn = el('button', { type: 'button', class: 'secondary' });
  const todayBtn = el('button', { type: 'button', class: 'secondary' }, 'Today');
  const nextBtn = el('button', { type: 'button', class: 'secondary' });
  const dateField = field({ label: 'Date', name: 'date', type: 'date', value: state.date });
  const providerField = field({
    label: 'Provider',
    name: 'provider',
    type: 'select',
    value: state.provider,
    options: providers.map((p) => ({ value: p.id, label: p.name })),
  });
  const allField = field({ label: 'Show cancelled and moved appointments', name: 'all', type: 'checkbox' });
  allField.input.checked = state.all;
  const bookBtn = el('button', { type: 'button', class: 'primary' }, 'Book an appointment');

  const toolbar = el(
    'div',
    { class: 'toolbar', role: 'group', 'aria-label': 'Calendar controls' },
    el('div', { class: 'segmented', role: 'group', 'aria-label': 'View' }, dayBtn, weekBtn),
    el('div', { class: 'nav-buttons' }, prevBtn, todayBtn, nextBtn),
    dateField.node,
    providerField.node,
    allField.node,
    bookBtn,
  );
  const panelSlot = el('div', { class: 'panel-slot' });
  const rangeTitle = el('h3', { class: 'range-title', tabindex: '-1' });
  const grid = el('div', { class: 'cal-grid', 'aria-busy': 'false' });

  replace(
    root,
    viewHeading('Calendar'),
    el('p', { class: 'zone-note' }, 'All times are in ', el('strong', {}, zone), ` (the organization\u2019s time zone; now ${formatDateTime(new Date().toISOString(), zone)}).`),
    toolbar,
    panelSlot,
    rangeTitle,
    grid,
  );

  // ---------------------------------------------------------------- state
  const syncControls = () => {
    dayBtn.setAttribute('aria-pressed', String(state.view === 'day'));
    weekBtn.setAttribute('aria-pressed', String(state.view === 'week'));
    prevBtn.textContent = state.view === 'day' ? '‹ Previous day' : '‹ Previous week';
    nextBtn.textContent = state.view === 'day' ? 'Next day ›' : 'Next week ›';
    dateField.input.value = state.date;
    providerField.node.hidden = state.view !== 'week';
    providerField.input.value = state.provider || '';
    app.setParams('calendar', { view: state.view, date: state.date, provider: state.view === 'week' ? state.provider : null, all: state.all ? '1' : null });
  };
  const change = (patch, focusTitle = false) => {
    Object.assign(state, patch);
    syncControls();
    return refresh(focusTitle);
  };
  dayBtn.addEventListener('click', () => change({ view: 'day' }));
  weekBtn.addEventListener('click', () => change({ view: 'week' }));
  prevBtn.addEventListener('click', () => change({ date: addDays(state.date, state.view === 'day' ? -1 : -7) }));
  nextBtn.addEventListener('click', () => change({ date: addDays(state.date, state.view === 'day' ? 1 : 7) }));
  todayBtn.addEventListener('click', () => change({ date: todayIn(zone) }));
  dateField.input.addEventListener('change', () => {
    if (isDate(dateField.input.value)) change({ date: dateField.input.value });
  });
  providerField.input.addEventListener('change', () => change({ provider: providerField.input.value }));
  allField.input.addEventListener('change', () => change({ all: allField.input.checked }));

  // ---------------------------------------------------------------- panels
  const closePanel = () => {
    replace(panelSlot);
    bookBtn.focus();
  };
  const openPanel = (p) => {
    replace(panelSlot, p.node);
    p.focus();
  };
  const focusAppointment = (id) => {
    const node = grid.querySelector(`[data-appointment="${id}"]`);
    if (node) {
      node.classList.add('is-new');
      node.focus();
    }
  };
  bookBtn.addEventListener('click', async () => {
    [providers, services] = await Promise.all([app.providers(), app.services()]);
    openPanel(
      bookingPanel(app, {
        providers,
        services,
        date: state.date,
        providerId: state.view === 'week' ? state.provider : providers[0] && providers[0].id,
        onBooked: async (a) => {
          replace(panelSlot);
          await change({ date: localDate(a.scheduledAt, zone), provider: state.view === 'week' ? a.providerId : state.provider });
          focusAppointment(a.id);
        },
        onClose: closePanel,
      }),
    );
  });

  // ---------------------------------------------------------------- grid
  let loadSeq = 0;
  async function refresh(focusTitle = false) {
    const mine = ++loadSeq;
    const days = state.view === 'day' ? [state.date] : Array.from({ length: 7 }, (_, i) => addDays(state.date, i + 1 - isoWeekday(state.date)));
    const first = days[0];
    const last = days[days.length - 1];
    const from = zonedInstant(first, '00:00', zone);
    const to = zonedInstant(addDays(last, 1), '00:00', zone);
    const provider = providers.find((p) => p.id === state.provider);
    rangeTitle.textContent =
      state.view === 'day'
        ? longDay(state.date) + (state.date === todayIn(zone) ? ' (today)' : '')
        : `Week of ${longDay(first)}${provider ? ' · ' + provider.name : ''}`;
    grid.setAttribute('aria-busy', 'true');
    let appts;
    try {
      const r = await listAppointments(app, { from, to, providerId: state.view === 'week' ? state.provider : null });
      appts = r.appointments;
    } catch (e) {
      if (mine !== loadSeq) return;
      grid.setAttribute('aria-busy', 'false');
      replace(grid, el('p', { class: 'form-message is-error', role: 'alert' }, errorText(e)));
      return;
    }
    if (!state.all) appts = appts.filter((a) => a.status === 'confirmed');
    const names = new Map();
    await Promise.all([...new Set(appts.map((a) => a.contactId))].map(async (id) => names.set(id, await contactName(app, id))));
    if (mine !== loadSeq) return;

    const columns =
      state.view === 'day'
        ? providers.map((p) => ({
          title: p.name,
          sub: hoursText(p, state.date),
          items: appts.filter((a) => a.providerId === p.id),
        }))
        : days.map((d) => ({
          title: shortDay(d) + (d === todayIn(zone) ? ' · today' : ''),
          sub: provider ? hoursText(provider, d) : '',
          items: appts.filter((a) => localDate(a.scheduledAt, zone) === d),
          today: d === todayIn(zone),
        }));
    grid.className = 'cal-grid cal-' + state.view;
    replace(
      grid,
      columns.map((c) => column(c, names)),
    );
    grid.dataset.from = first;
    grid.dataset.view = state.view;
    grid.setAttribute('aria-busy', 'false');
    const count = appts.length;
    announce(`${rangeTitle.textContent}: ${count === 0 ? 'no appointments' : count === 1 ? 'one appointment' : count + ' appointments'}.`);
    if (focusTitle) rangeTitle.focus();
  }

  function column(c, names) {
    const hId = nextId('col');
    return el(
      'section',
      { class: 'cal-col' + (c.today ? ' is-today' : ''), 'aria-labelledby': hId },
      el('h4', { id: hId }, c.title),
      c.sub ? el('p', { class: 'col-sub' }, c.sub) : null,
      c.items.length ? el('ol', { class: 'appt-list' }, c.items.map((a) => card(a, names.get(a.contactId) || ''))) : el('p', { class: 'empty' }, 'No appointments.'),
    );
  }

  function card(a, who) {
    const timeId = nextId('t');
    const whoId = nextId('w');
    const service = a.serviceId ? (services.find((s) => s.id === a.serviceId) || {}).name || 'Service' : 'No service';
    const actions = el('div', { class: 'actions' });
    if (a.status === 'confirmed') {
      const move = el('button', { type: 'button', class: 'secondary small', 'aria-describedby': `${timeId} ${whoId}` }, 'Reschedule');
      const cancel = el('button', { type: 'button', class: 'danger-outline small', 'aria-describedby': `${timeId} ${whoId}` }, 'Cancel');
      actions.append(move, cancel);
      move.addEventListener('click', () =>
        openPanel(
          reschedulePanel(app, a, who, {
            providers,
            onMoved: async (n) => {
              replace(panelSlot);
              await change({ date: localDate(n.scheduledAt, zone), provider: state.view === 'week' ? n.providerId : state.provider });
              focusAppointment(n.id);
            },
            onClose: () => {
              replace(panelSlot);
              move.focus();
            },
          }),
        ),
      );
      cancel.addEventListener('click', () => {
        const reason = field({ label: 'Reason (optional)', name: 'reason', attrs: { maxlength: 500, autocomplete: 'off' } });
        confirmStep(actions, {
          question: `Cancel ${who}\u2019s appointment at ${timeRange(a.scheduledAt, a.durationMinutes, zone)}?`,
          detail: 'The time becomes free for booking at once.',
          extra: reason.node,
          confirmLabel: 'Yes, cancel it',
          keepLabel: 'Keep it',
          onConfirm: async () => {
            const body = reason.value() ? { reason: reason.value() } : {};
            await app.call(`/api/appointments/${a.id}/cancel`, { method: 'POST', body });
            await refresh();
            announce(`Cancelled. ${timeRange(a.scheduledAt, a.durationMinutes, zone)} is free again.`);
            rangeTitle.focus();
          },
          onKeep: () => cancel.focus(),
        });
      });
    }
    return el(
      'li',
      { class: 'appt appt-' + a.status, 'data-appointment': a.id, tabindex: '-1', 'aria-labelledby': `${timeId} ${whoId}` },
      el('p', { class: 'appt-time', id: timeId }, el('strong', {}, timeRange(a.scheduledAt, a.durationMinutes, zone)), ' ', el('span', { class: 'muted' }, `${a.durationMinutes} min`)),
      el('p', { class: 'appt-who', id: whoId }, el('a', { href: '#/contacts/' + a.contactId }, who)),
      el('p', { class: 'appt-what' }, el('span', {}, service), ' ', badge(a.status)),
      actions,
    );
  }

  syncControls();
  await refresh(false);
  return () => {
    loadSeq += 1;
  };
}

