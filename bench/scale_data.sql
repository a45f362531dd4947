-- A realistic bookd database of about :n appointments (bench/scale.sh:
-- 10,000 and 10,000,000; tests/sql/40_scale_plans.sql: 50,000), set-based
-- and fast, into the real schema (`bookd migrate` first), as its owner.
--
--   psql -v n=10000000 -v orgs=1000 -v anchor=2026-12-07 -v phase=setup -f bench/scale_data.sql
--       organizations, keys, providers, services
--   (then webhook endpoints for the organizations o % 10 = 5, made through
--   the API, which seals their secrets)
--   psql ... -v phase=batches -v part=0 -v parts=2 -f bench/scale_data.sql
--   psql ... -v phase=batches -v part=1 -v parts=2 -f bench/scale_data.sql
--       side by side: each the contacts of half the organizations, then
--       half the appointments with their audit entries, events,
--       deliveries, idempotency keys and manage tokens, in batches
--   psql ... -v phase=finish -f bench/scale_data.sql
--       every foreign key checked; VACUUM (FREEZE, ANALYZE), or ANALYZE
--       inside a transaction
--   phase=all: the three in one session. The phases may also run one after
--   another in one session (tests/sql/40_scale_plans.sql, in a transaction).
--   anchor (default: tomorrow, UTC) is the day the future begins on.
--
-- The shape, the same at every size (:orgs organizations, 1,000 by default;
-- the larger database is the same practices years later):
--   organizations  :orgs, time zones UTC / Europe/London / America/New_York
--                  (o % 3 = 1, 2, 0), an admin and a public key each
--                  ('bk_admin_' || the first 43 hex digits of
--                  sha256('scale-key-admin' || o): bench/scale.sh books with them)
--   providers      2-8 per organization (2 + o % 7), the first the default
--   services       3 per organization: 30 min; 45 min + 15 after; 20 min
--                  with 10 before and 10 after
--   contacts       a quarter of the organization's appointments (at least
--                  5), a few regulars with many appointments and many
--                  patients with one or two (contact number = C * u^2);
--                  0.2 % erased
--   appointments   k = round(n / providers) per provider, one an hour from
--                  08:00 (+5 h for New York) 8 a day, every day, in disjoint
--                  slots (the exclusion constraint holds by construction);
--                  about 80 % before the anchor day, 20 % on and after it;
--                  4 % of the even slots rescheduled to the next slot (same
--                  contact, rescheduled_to / rescheduled_from), 9 % cancelled,
--                  the rest confirmed (past ones are the completed and
--                  no-show visits: the schema has no such statuses); the
--                  future ones of erased contacts cancelled; 70 % with a
--                  service, 30 % with notes, 30 % with metadata; each booked
--                  1-30 days ahead (one further ahead: at some time in the
--                  last 30 days)
--   audit_logs     every booking, reschedule, cancellation and contact made
--                  (the log is never purged)
--                  (its bookings and cancellations are events, all fanned
--                  out: xid 0, behind the worker's cursor)
--   deliveries     one per event for the organizations with a webhook
--                  endpoint: 98 % delivered, 2 % dead; none due
--   idempotency    the keys of the last 24 hours (half the bookings sent one)
--   manage_tokens  a fifth of the future confirmed appointments (public
--                  bookings)
-- Not generated: holds (they live minutes), Vapi calls, integrations.
--
-- Ids are gen_random_uuid(), or md5(kind:number)::uuid where another
-- session must find the same id (organizations, keys, providers, services,
-- contacts): as random to the indexes either way. Foreign-key triggers are off
-- while loading (session_replication_role = replica; the rows are made
-- consistent by construction): the finish phase checks every foreign key
-- with one anti-join each, and fails if any row has no parent. Unique,
-- CHECK and exclusion constraints are enforced as always.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET session_replication_role = replica;
SET synchronous_commit = off;
SET work_mem = '256MB';
SET jit = off;
-- (Only before the session's first temporary table: not inside a test.)
DO $$ BEGIN PERFORM set_config('temp_buffers', '512MB', false); EXCEPTION WHEN OTHERS THEN END $$;

\if :{?orgs}
\else
\set orgs 1000
\endif
\if :{?part}
\else
\set part 0
\endif
\if :{?parts}
\else
\set parts 1
\endif
\if :{?anchor}
\else
SELECT (now() AT TIME ZONE 'UTC')::date + 1 AS anchor \gset
\endif
SELECT :'phase' IN ('setup', 'all') AS do_setup, :'phase' IN ('batches', 'all') AS do_batches,
       :'phase' IN ('finish', 'all') AS do_finish \gset

-- Helpers (pg_temp: they go with the session) ------------------------------
CREATE OR REPLACE FUNCTION pg_temp.uid(k text, n bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$ SELECT md5(k || ':' || n)::uuid $$;
-- A uniform integer 0 .. 999,999 from a number and a salt.
CREATE OR REPLACE FUNCTION pg_temp.h(n bigint, salt int) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
SELECT ((hashint8extended(n, salt) & 9223372036854775807) % 1000000)::int
$$;

-- Every provider: its number pn (0 .. P-1), organization and hour offset.
DROP TABLE IF EXISTS pg_temp.sp, pg_temp.sparams, pg_temp.batch CASCADE;
CREATE TEMP TABLE sp AS
SELECT (row_number() OVER (ORDER BY o, i) - 1)::int AS pn, o, i, 2 + o % 7 AS pc,
       pg_temp.uid('prov', o * 16 + i) AS provider_id, pg_temp.uid('org', o) AS org_id,
       CASE o % 3 WHEN 0 THEN 5 ELSE 0 END AS off_h,
       ARRAY[pg_temp.uid('svc', o * 4), pg_temp.uid('svc', o * 4 + 1),
             pg_temp.uid('svc', o * 4 + 2)] AS svc_ids,
       'admin_key:' || pg_temp.uid('key-admin', o) AS admin_actor,
       'public_key:' || pg_temp.uid('key-public', o) AS public_actor
  FROM generate_series(1, :orgs) o, generate_series(0, 1 + o % 7) i;
CREATE TEMP TABLE sparams AS
SELECT count(*)::int AS providers, greatest(1, round(:n::numeric / count(*)))::int AS k,
       (:'anchor'::date)::timestamp AT TIME ZONE 'UTC' AS anchor, now() AS t_now
  FROM sp;
-- The providers of the batch being made (gen_appt reads only these).
CREATE TEMP TABLE batch AS SELECT * FROM sp WITH NO DATA;

-- Every appointment of the batch's providers, computed (nothing is read):
-- the row j = pn * k + s is the s-th slot of provider pn. Slot u = s - split is relative to the anchor
-- day (negative: before it); split = floor(0.8 k + r) with r uniform per
-- provider, so 80 % come before on average at every k.
CREATE OR REPLACE TEMP VIEW gen_appt AS
SELECT x.*,
       x.slot_start + x.before * interval '1 minute' AS scheduled_at,
       CASE WHEN x.status = 'cancelled'
            THEN x.created_at + (least(x.slot_start, x.t_now) - x.created_at)
                                * (pg_temp.h(x.j, 7) / 1e6) END AS cancelled_at
  FROM (SELECT y.*,
               CASE WHEN y.resched THEN 'rescheduled'
                    WHEN y.erased AND y.u >= 0 THEN 'cancelled'
                    WHEN pg_temp.h(y.j, 3) < 90000 THEN 'cancelled'
                    ELSE 'confirmed' END AS status,
               -- booked 1-30 days ahead; one further ahead than that was
               -- booked at some time in the last 30 days
               CASE WHEN y.slot_start - (1 + pg_temp.h(y.j, 5) % 30) * interval '1 day' <= y.t_now
                    THEN y.slot_start - (1 + pg_temp.h(y.j, 5) % 30) * interval '1 day'
                         - (pg_temp.h(y.j, 6) % 600) * interval '1 minute'
                    ELSE y.t_now - (pg_temp.h(y.j, 5) % 30) * interval '1 day'
                         - (pg_temp.h(y.j, 6) % 1440) * interval '1 minute' END AS created_at,
               y.svc_ids[y.svc] AS service_id,
               CASE y.svc WHEN 2 THEN 45 WHEN 3 THEN 20 ELSE 30 END AS duration,
               CASE y.svc WHEN 3 THEN 10 ELSE 0 END AS before,
               CASE y.svc WHEN 2 THEN 15 WHEN 3 THEN 10 ELSE 0 END AS after,
               pg_temp.uid('contact', y.o * 10000000::bigint + y.cn) AS contact_id
          FROM (SELECT z.*,
                       z.anchor + z.d * interval '1 day'
                       + (8 + z.off_h + z.u - 8 * z.d) * interval '1 hour' AS slot_start,
                       pg_temp.h(z.o * 10000000::bigint + z.cn, 9) < 2000 AS erased
                  FROM (SELECT w.*,
                               -- the slot's contact and service: a rescheduled
                               -- appointment's new row keeps the old one's
                               floor(w.c_org * (pg_temp.h(w.src, 4) / 1e6) ^ 2)::int AS cn,
                               CASE WHEN pg_temp.h(w.src, 1) % 10 < 3 THEN 0
                                    ELSE 1 + (pg_temp.h(w.src, 1) % 10 - 3) * 3 / 7 END AS svc
                          FROM (SELECT v.*,
                                       CASE WHEN v.target THEN v.j - 1 ELSE v.j END AS src,
                                       floor(v.u / 8.0)::int AS d
                                  FROM (SELECT p.pn, p.o, p.org_id, p.provider_id, p.off_h, p.svc_ids,
                                               p.admin_actor, p.public_actor, s,
                                               p.pn::bigint * q.k + s AS j, q.k, q.anchor,
                                               q.t_now,
                                               s - floor(0.8 * q.k + pg_temp.h(p.pn, 11) / 1e6)::int
                                                   AS u,
                                               greatest(5, p.pc * q.k / 4) AS c_org,
                                               s % 2 = 0 AND s + 1 < q.k
                                               AND pg_temp.h(p.pn::bigint * q.k + s, 2) < 40000
                                                   AS resched,
                                               s % 2 = 1
                                               AND pg_temp.h(p.pn::bigint * q.k + s - 1, 2) < 40000
                                                   AS target
                                          FROM batch p, sparams q,
                                               generate_series(0, q.k - 1) s OFFSET 0) v OFFSET 0) w OFFSET 0) z OFFSET 0) y OFFSET 0) x;

\if :do_setup
\qecho scale_data: organizations, keys, providers, services
INSERT INTO organizations (id, name, timezone, vapi_secret_hash, created_at)
SELECT pg_temp.uid('org', o), 'Scale clinic ' || o,
       CASE o % 3 WHEN 1 THEN 'UTC' WHEN 2 THEN 'Europe/London' ELSE 'America/New_York' END,
       sha256(convert_to('scale-vapi-' || o, 'UTF8')),
       q.anchor - interval '4 years'
  FROM generate_series(1, :orgs) o, sparams q;
INSERT INTO api_keys (id, org_id, kind, key_hash, created_at)
SELECT pg_temp.uid('key-' || kind, o), pg_temp.uid('org', o), kind,
       sha256(convert_to('bk_' || kind || '_'
                         || left(encode(sha256(convert_to('scale-key-' || kind || o, 'UTF8')),
                                        'hex'), 43), 'UTF8')),
       q.anchor - interval '4 years'
  FROM generate_series(1, :orgs) o, (VALUES ('admin'), ('public')) k (kind), sparams q;
INSERT INTO providers (id, org_id, name, working_hours, is_default, created_at)
SELECT p.provider_id, p.org_id, 'Provider ' || p.o || '-' || p.i,
       CASE WHEN p.i % 3 = 2
            THEN public.bk_default_working_hours() || '{"sat":[["09:00","13:00"]]}'
            ELSE public.bk_default_working_hours() END,
       p.i = 0, q.anchor - interval '4 years'
  FROM sp p, sparams q;
INSERT INTO services (id, org_id, name, duration_minutes, buffer_before_minutes,
                      buffer_after_minutes, created_at)
SELECT pg_temp.uid('svc', o * 4 + s), pg_temp.uid('org', o),
       (ARRAY['Consultation', 'Check-up', 'Cleaning'])[s + 1],
       (ARRAY[30, 45, 20])[s + 1], (ARRAY[0, 0, 10])[s + 1], (ARRAY[0, 15, 10])[s + 1],
       q.anchor - interval '4 years'
  FROM generate_series(1, :orgs) o, generate_series(0, 2) s, sparams q;
\endif

\if :do_batches
-- Batches of about 500,000 appointments (whole providers); this session
-- takes those with batch % :parts = :part. Each batch is computed once into
-- a temporary table (ga), and every table's rows are made from it.
SELECT greatest(1, 500000 / k) AS per_batch, ceil(providers::numeric / greatest(1, 500000 / k))::int
       AS batches FROM sparams \gset
\qecho scale_data: part :part of :parts: contacts of the organizations o % :parts = :part
CREATE OR REPLACE TEMP VIEW gen_contact AS
SELECT c.*, pg_temp.uid('contact', c.cg) AS id, pg_temp.uid('org', c.o) AS org_id
  FROM (SELECT o, cn, o * 10000000::bigint + cn AS cg,
               pg_temp.h(o * 10000000::bigint + cn, 9) < 2000 AS erased,
               q.anchor - (30 + pg_temp.h(o * 10000000::bigint + cn, 14) % 1200)
                          * interval '1 day' AS created_at
          FROM (SELECT o, greatest(5, (2 + o % 7) * (SELECT k FROM sparams) / 4) AS c_org
                  FROM generate_series(1, :orgs) o WHERE o % :parts = :part) g,
               generate_series(0, g.c_org - 1) cn, sparams q) c;
INSERT INTO contacts (id, org_id, name, phone, email, created_at, erased_at)
SELECT c.id, c.org_id,
       CASE WHEN c.erased THEN NULL ELSE 'Patient ' || c.o || '-' || c.cn END,
       CASE WHEN c.erased THEN NULL ELSE '+1555' || lpad((c.cg % 10000000000)::text, 10, '0') END,
       CASE WHEN c.erased OR c.cn % 3 = 0 THEN NULL
            ELSE 'patient' || c.o || '.' || c.cn || '@example.test' END,
       c.created_at, CASE WHEN c.erased THEN c.created_at + interval '200 days' END
  FROM gen_contact c;
INSERT INTO audit_logs (org_id, at, actor, action, entity_type, entity_id, details)
SELECT c.org_id, c.created_at, 'admin_key:' || pg_temp.uid('key-admin', c.o), 'contact.created',
       'contact', c.id, '{}'::jsonb
  FROM gen_contact c
UNION ALL
SELECT c.org_id, c.created_at + interval '200 days', 'admin_key:' || pg_temp.uid('key-admin', c.o),
       'contact.erased', 'contact', c.id, '{"cancelledAppointments": 0}'
  FROM gen_contact c WHERE c.erased;
\qecho scale_data: part :part of :parts: :batches batches of :per_batch providers
SELECT format($f$
TRUNCATE batch;
INSERT INTO batch SELECT * FROM sp WHERE pn BETWEEN %1$s AND %2$s;
DROP TABLE IF EXISTS pg_temp.ga;
CREATE TEMP TABLE ga AS
SELECT g.*,
       CASE WHEN g.resched THEN lead(g.id) OVER w END AS rescheduled_to,
       CASE WHEN g.target THEN lag(g.id) OVER w END AS rescheduled_from,
       CASE WHEN NOT g.erased AND pg_temp.h(g.j, 10) %% 10 < 3
            THEN 'Prefers mornings; note ' || g.j END AS notes,
       CASE WHEN g.erased THEN '{}'
            WHEN pg_temp.h(g.j, 10) %% 7 < 1 THEN '{"source": "web", "campaign": "spring"}'
            WHEN pg_temp.h(g.j, 10) %% 7 < 3 THEN '{"source": "phone"}'
            ELSE '{}' END::jsonb AS metadata,
       CASE WHEN pg_temp.h(g.j, 15) %% 10 < 2 THEN g.public_actor
            WHEN pg_temp.h(g.j, 15) %% 10 < 3 THEN 'vapi'
            ELSE g.admin_actor END AS actor,
       greatest(g.created_at, g.cancelled_at) >= g.t_now - interval '30 days' AS recent
  FROM (SELECT v.*, gen_random_uuid() AS id, gen_random_uuid() AS ev_b, gen_random_uuid() AS ev_c
          FROM gen_appt v OFFSET 0) g
WINDOW w AS (ORDER BY g.j)
$f$, b * :per_batch, (b + 1) * :per_batch - 1),
       $f$
INSERT INTO appointments (id, org_id, provider_id, contact_id, service_id, scheduled_at,
                          duration_minutes, ends_at, buffer_before_minutes, buffer_after_minutes,
                          buffered_start, buffered_end, status, notes, metadata, created_at,
                          cancelled_at, cancel_reason, rescheduled_to, rescheduled_from)
SELECT a.id, a.org_id, a.provider_id, a.contact_id, a.service_id, a.scheduled_at, a.duration,
       a.scheduled_at + a.duration * interval '1 minute', a.before, a.after, a.slot_start,
       a.scheduled_at + (a.duration + a.after) * interval '1 minute', a.status, a.notes,
       a.metadata, a.created_at, a.cancelled_at,
       CASE WHEN a.status = 'cancelled' AND NOT a.erased AND pg_temp.h(a.j, 8) % 2 = 0
            THEN 'Called to cancel: feeling better' END,
       a.rescheduled_to, a.rescheduled_from
  FROM ga a
$f$,
       $f$
INSERT INTO audit_logs (id, org_id, at, actor, action, entity_type, entity_id, details,
                        event_type, xid)
SELECT coalesce(e.id, gen_random_uuid()), a.org_id, e.at, a.actor, e.action, 'appointment',
       e.entity_id, e.details, e.event_type, CASE WHEN e.event_type IS NOT NULL THEN '0'::xid8 END
  FROM ga a,
       LATERAL (VALUES
           (a.ev_b, a.created_at, 'appointment.booked', a.id,
            jsonb_build_object('providerId', a.provider_id, 'scheduledAt', public.bk_iso(a.scheduled_at),
                               'durationMinutes', a.duration)
            || CASE WHEN a.target THEN jsonb_build_object('rescheduledFrom', a.rescheduled_from)
                    ELSE '{}' END,
            CASE WHEN a.target THEN 'appointment.rescheduled' ELSE 'appointment.booked' END),
           (NULL, CASE WHEN a.target THEN a.created_at END, 'appointment.rescheduled', a.rescheduled_from,
            jsonb_build_object('newAppointmentId', a.id, 'scheduledAt', public.bk_iso(a.scheduled_at)),
            NULL),
           (a.ev_c, a.cancelled_at, 'appointment.cancelled', a.id,
            jsonb_build_object('providerId', a.provider_id, 'scheduledAt', public.bk_iso(a.scheduled_at)),
            'appointment.cancelled')
       ) e (id, at, action, entity_id, details, event_type)
 WHERE e.at IS NOT NULL
$f$,
       -- The appointment as bk_appointment_json shows it, with the status it
       -- had when the event was written.
       $f$
CREATE TEMP VIEW ga_json AS
SELECT a.*, jsonb_build_object(
           'id', a.id, 'providerId', a.provider_id, 'contactId', a.contact_id,
           'serviceId', a.service_id, 'scheduledAt', public.bk_iso(a.scheduled_at),
           'durationMinutes', a.duration, 'status', 'confirmed', 'notes', a.notes,
           'metadata', a.metadata, 'createdAt', public.bk_iso(a.created_at),
           'cancelledAt', NULL, 'rescheduledTo', NULL) AS json
  FROM ga a WHERE a.recent OFFSET 0
$f$,
       $f$
INSERT INTO deliveries (org_id, event_id, target, endpoint_id, status, attempts, next_attempt_at,
                        last_status_code, last_error, delivered_at, created_at)
SELECT a.org_id, e.id, 'webhook:' || w.id, w.id,
       CASE WHEN pg_temp.h(a.j, 16) % 50 = 0 THEN 'dead' ELSE 'delivered' END,
       CASE WHEN pg_temp.h(a.j, 16) % 50 = 0 THEN 8 ELSE 1 END, e.at,
       CASE WHEN pg_temp.h(a.j, 16) % 50 = 0 THEN 503 ELSE 200 END,
       CASE WHEN pg_temp.h(a.j, 16) % 50 = 0 THEN 'HTTP 503' END,
       CASE WHEN pg_temp.h(a.j, 16) % 50 = 0 THEN NULL ELSE e.at + interval '1 second' END, e.at
  FROM ga a
  JOIN webhook_endpoints w ON w.org_id = a.org_id,
       LATERAL (VALUES (a.ev_b, a.created_at,
                        CASE WHEN a.target THEN 'appointment.rescheduled' ELSE 'appointment.booked' END),
                       (a.ev_c, a.cancelled_at, 'appointment.cancelled'))
               e (id, at, type)
 WHERE a.recent AND e.at >= a.t_now - interval '30 days' AND e.type = ANY (w.events)
$f$,
       $f$
INSERT INTO idempotency_keys (org_id, key_kind, key, request_hash, result, created_at)
SELECT a.org_id, 'admin', 'scale-' || a.j, sha256(convert_to('scale-' || a.j, 'UTF8')),
       CASE WHEN a.target
            THEN jsonb_build_object('status', 'rescheduled', 'appointment', a.json,
                                    'previousAppointment',
                                    a.json || jsonb_build_object('id', a.rescheduled_from,
                                                                 'status', 'rescheduled',
                                                                 'rescheduledTo', a.id))
            ELSE jsonb_build_object('status', 'booked', 'appointment', a.json) END,
       a.created_at
  FROM ga_json a
 WHERE a.created_at >= a.t_now - interval '24 hours' AND pg_temp.h(a.j, 12) % 2 = 0
$f$,
       $f$
INSERT INTO manage_tokens (token_hash, org_id, appointment_id, created_at, valid_until)
SELECT sha256(convert_to('scale-token-' || a.j, 'UTF8')), a.org_id, a.id, a.created_at,
       a.scheduled_at
  FROM ga a
 WHERE a.u >= 0 AND a.status = 'confirmed' AND pg_temp.h(a.j, 13) % 5 = 0
$f$,
       $f$ DROP VIEW ga_json $f$,
       format($f$ SELECT 'batch %s done' AS scale_data $f$, b)
  FROM generate_series(0, :batches - 1) b
 WHERE b % :parts = :part
 ORDER BY b \gexec
\endif

\if :do_finish
\qecho scale_data: checking every foreign key
-- Each count must be 0 (the loading ran without foreign-key triggers).
CREATE TEMP TABLE fk_orphans AS
SELECT 'appointments.provider' AS fk, count(*) AS n FROM appointments a
 WHERE NOT EXISTS (SELECT 1 FROM providers p WHERE p.org_id = a.org_id AND p.id = a.provider_id)
UNION ALL
SELECT 'appointments.contact', count(*) FROM appointments a
 WHERE a.contact_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.org_id = a.org_id AND c.id = a.contact_id)
UNION ALL
SELECT 'appointments.service', count(*) FROM appointments a
 WHERE a.service_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM services s WHERE s.org_id = a.org_id AND s.id = a.service_id)
UNION ALL
SELECT 'appointments.rescheduled_to', count(*) FROM appointments a
 WHERE a.rescheduled_to IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM appointments b WHERE b.id = a.rescheduled_to)
UNION ALL
SELECT 'appointments.rescheduled_from', count(*) FROM appointments a
 WHERE a.rescheduled_from IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM appointments b WHERE b.id = a.rescheduled_from)
UNION ALL
SELECT 'deliveries.event', count(*) FROM deliveries d
 WHERE NOT EXISTS (SELECT 1 FROM audit_logs e WHERE e.id = d.event_id)
UNION ALL
SELECT 'manage_tokens.appointment', count(*) FROM manage_tokens t
 WHERE NOT EXISTS (SELECT 1 FROM appointments a WHERE a.id = t.appointment_id)
UNION ALL
SELECT 'contacts.org', count(*) FROM contacts c
 WHERE NOT EXISTS (SELECT 1 FROM organizations o WHERE o.id = c.org_id);
DO $$
DECLARE
    v text;
BEGIN
    SELECT string_agg(fk || ': ' || n, ', ') INTO v FROM fk_orphans WHERE n > 0;
    IF v IS NOT NULL THEN
        RAISE EXCEPTION 'scale_data: rows without their parent: %', v;
    END IF;
END
$$;
SELECT pg_current_xact_id_if_assigned() IS NOT NULL AS in_transaction \gset
\if :in_transaction
ANALYZE;
\else
\qecho scale_data: vacuum (freeze, analyze)
VACUUM (FREEZE, ANALYZE);
\endif
\endif
RESET session_replication_role;
