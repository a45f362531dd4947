// Every change that writes an event wakes the worker of its process at
// once (docs/design.md, "Deliveries": the in-process signal), whoever made
// it: an admin, the voice agent, a patient through a manage link. The
// server here polls only every 60 s (BOOKD_OUTBOX_POLL_MS, its maximum), so
// a webhook that arrives within seconds was woken for, not found by a poll.

import { randomUUID } from 'node:crypto';

import { assert, ctest, useServer, createOrg, createContact, expectStatus, rnd, stopAndCheckLogs } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { nextWeekday, zonedToUtc } from './lib/time.mjs';

const TZ = 'Europe/Paris';
const WAKE_MS = 5000; // far below the 60 s poll, far above a delivery's few ms
const secrets = [];
const ctx = useServer({
  env: { BOOKD_OUTBOX_POLL_MS: '60000', BOOKD_WEBHOOK_ALLOW_PRIVATE: 'true' },
  setup: async (c) => {
    c.rx = await startReceiver();
    c.org = await createOrg(c, { timezone: TZ });
    c.contact = await createContact(c, c.org.adminKey, { name: `Wake Person ${rnd()}` });
    const ep = expectStatus(await c.api('POST', '/api/webhook-endpoints', {
      key: c.org.adminKey,
      body: { url: c.rx.urlFor('/wake'), events: ['appointment.booked', 'appointment.cancelled', 'appointment.rescheduled'] },
    }), 201);
    secrets.push(c.adminToken, c.org.adminKey, c.org.publicKey, c.org.vapiSecret, ep.secret, c.contact.name);
  },
});

const day = nextWeekday(TZ, 'wed'); // inside the default working hours, a week ahead at least
const at = (time) => zonedToUtc(day, time, TZ).toISOString();
let seen = 0;

/** The next webhook, within WAKE_MS: its event type and appointment id. */
async function nextWebhook(what) {
  const reqs = await ctx.rx.waitFor(seen + 1, { path: '/wake', timeoutMs: WAKE_MS });
  const r = reqs[seen];
  seen = reqs.length;
  assert.ok(r, `${what}: a webhook within ${WAKE_MS} ms`);
  return { type: r.json.type, id: r.json.data.appointment.id };
}

ctest('an admin booking wakes the worker (the control)', async () => {
  const res = expectStatus(await ctx.api('POST', '/api/appointments', {
    key: ctx.org.adminKey, body: { contactId: ctx.contact.id, scheduledAt: at('09:00'), durationMinutes: 30 },
  }), 201);
  assert.deepEqual(await nextWebhook('admin booking'), { type: 'appointment.booked', id: res.appointment.id });
});

ctest('a booking by the voice agent wakes the worker', async () => {
  const res = expectStatus(await ctx.api('POST', '/api/webhooks/vapi', {
    headers: { 'x-vapi-secret': ctx.org.vapiSecret },
    body: {
      message: {
        type: 'tool-calls',
        call: { id: randomUUID(), customer: { number: '+33612345678' } },
        toolCallList: [{ id: `tc-${rnd()}`, type: 'function', function: { name: 'bookAppointment', arguments: { scheduledAt: at('10:00'), name: 'Wake Caller', durationMinutes: 30 } } }],
      },
    },
  }), 200);
  assert.match(res.results[0].result ?? '', /^Booked for/, JSON.stringify(res));
  const hook = await nextWebhook('voice agent booking');
  assert.equal(hook.type, 'appointment.booked');
  const appt = expectStatus(await ctx.api('GET', `/api/appointments/${hook.id}`, { key: ctx.org.adminKey }), 200);
  assert.equal(appt.scheduledAt.slice(0, 16), at('10:00').slice(0, 16), 'the appointment booked by the voice agent');
});

ctest('a cancel through a patient\'s manage link wakes the worker', async () => {
  const pub = expectStatus(await ctx.api('POST', '/api/appointments', {
    key: ctx.org.publicKey, body: { contactId: ctx.contact.id, scheduledAt: at('11:00'), durationMinutes: 30 },
  }), 201);
  assert.equal((await nextWebhook('public booking')).id, pub.appointment.id);
  const token = new URL(pub.manageUrl).pathname.split('/').pop();
  secrets.push(token);
  expectStatus(await ctx.api('POST', `/api/manage/${token}/cancel`, {}), 200);
  assert.deepEqual(await nextWebhook('manage-link cancel'), { type: 'appointment.cancelled', id: pub.appointment.id });
});

ctest('the log holds no secret', async () => {
  const server = ctx.server;
  ctx.server = null;
  await ctx.rx.close();
  await stopAndCheckLogs({ server }, secrets);
});
