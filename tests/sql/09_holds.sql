-- Slot holds (API.md "Slot holds" and "Conflicts with holds and external
-- busy times", DESIGN.md "Slot holds"): hold_slot, release_hold,
-- holds_purge, and what holds do to booking, checking, free slots,
-- cancelling, rescheduling, listing and the exclusion constraint.
-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a database with every migration applied. Everything happens inside one
-- transaction that is rolled back, so the file leaves nothing behind.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
-- A session time zone far from UTC: the functions must print UTC anyway.
SET LOCAL TimeZone = 'America/New_York';
SELECT plan(1);

\ir fixtures.psql

-- Helpers of this file ---------------------------------------------------------
-- Each entry point normally runs in a transaction of its own; bk_finish
-- reports the expired holds removed by "this transaction" (a transaction-
-- local setting). Here everything shares one transaction, so the helpers
-- clear that count first, as a new transaction would.
CREATE FUNCTION pg_temp.fresh() RETURNS void LANGUAGE sql AS $$
SELECT set_config('bk.expired_holds', '', true) $$;

-- Lock bounds of a range: the buffered range widened to 15-minute buckets.
CREATE FUNCTION pg_temp.span(p_service uuid, p_at timestamptz, p_duration int,
                             OUT f timestamptz, OUT t timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_before int;
    v_after int;
    v_dur int;
BEGIN
    SELECT s.buffer_before_minutes, s.buffer_after_minutes, s.duration_minutes
      INTO v_before, v_after, v_dur FROM public.services s WHERE s.id = p_service;
    f := pg_temp.floor15(p_at - make_interval(mins => coalesce(v_before, 0)));
    t := pg_temp.ceil15(p_at + make_interval(mins => coalesce(p_duration, v_dur, 60)
                                                   + coalesce(v_after, 0)));
END
$$;

-- hold_slot with correctly computed lock bounds.
CREATE FUNCTION pg_temp.hold(p_provider uuid, p_service uuid, p_at timestamptz,
                             p_duration int, p_ttl int DEFAULT 300,
                             p_public boolean DEFAULT false, p_max int DEFAULT 0,
                             p_org uuid DEFAULT '11111111-1111-4111-8111-111111111111',
                             p_actor text DEFAULT 'admin_key:pgtap')
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    s record;
BEGIN
    PERFORM pg_temp.fresh();
    s := pg_temp.span(p_service, p_at, p_duration);
    RETURN public.hold_slot(p_org, p_provider, p_service, p_at, p_duration, p_ttl,
                            pg_temp.keys(s.f, s.t), s.f, s.t, 2000, p_actor, p_public, p_max);
END
$$;

-- book_appointment_with_lock with a hold id (NULL: a plain booking).
CREATE FUNCTION pg_temp.bookh(p_provider uuid, p_contact uuid, p_service uuid,
                              p_at timestamptz, p_duration int, p_hold uuid,
                              p_public boolean DEFAULT false, p_notes text DEFAULT NULL,
                              p_org uuid DEFAULT '11111111-1111-4111-8111-111111111111',
                              p_actor text DEFAULT 'admin_key:pgtap',
                              p_key text DEFAULT NULL, p_hash bytea DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    s record;
BEGIN
    PERFORM pg_temp.fresh();
    s := pg_temp.span(p_service, p_at, p_duration);
    RETURN public.book_appointment_with_lock(
        p_org, p_provider, p_contact, p_service, p_at, p_duration, p_notes, NULL,
        pg_temp.keys(s.f, s.t), s.f, s.t, 2000, p_actor, p_key, p_hash, p_public, p_hold);
END
$$;

-- The hold id of a stored hold_slot result.
CREATE FUNCTION pg_temp.hid(p_k text) RETURNS uuid
LANGUAGE sql AS $$ SELECT (v -> 'hold' ->> 'holdId')::uuid FROM res WHERE k = p_k $$;

-- Makes a hold's time be up, keeping the CHECK constraint satisfied (a held
-- row has an expires_at). A procedure, so that CALL prints nothing.
CREATE PROCEDURE pg_temp.expire(p_id uuid) LANGUAGE sql AS $$
UPDATE public.appointments SET expires_at = now() - interval '1 minute'
 WHERE id = p_id AND status = 'held'
$$;

-- The row of an id as "status/expired?", or 'gone'.
CREATE FUNCTION pg_temp.row_state(p_id uuid) RETURNS text LANGUAGE sql AS $$
SELECT coalesce((SELECT status || CASE WHEN expires_at IS NULL THEN ''
                                       WHEN expires_at <= clock_timestamp() THEN '/expired'
                                       ELSE '/live' END
                   FROM public.appointments WHERE id = p_id), 'gone')
$$;

-- The appointment statements of src/db/statements.c that must never show a
-- hold (copied verbatim: the listing and the read by id).
PREPARE appointment_list (uuid, timestamptz, timestamptz, uuid, text, timestamptz, uuid, int) AS
SELECT coalesce(json_agg(bk_appointment_json(a) ORDER BY a.scheduled_at, a.id), '[]')::text
  FROM (SELECT * FROM appointments WHERE org_id = $1::uuid AND status <> 'held'
   AND ($2::timestamptz IS NULL OR scheduled_at >= $2::timestamptz)
   AND ($3::timestamptz IS NULL OR scheduled_at < $3::timestamptz)
   AND ($4::uuid IS NULL OR provider_id = $4::uuid)
   AND ($5::text IS NULL OR status = $5::text)
   AND ($6::timestamptz IS NULL OR (scheduled_at, id) > ($6::timestamptz, $7::uuid))
 ORDER BY scheduled_at, id LIMIT $8::int) a;
PREPARE appointment_get (uuid, uuid) AS
SELECT bk_appointment_json(a)::text FROM appointments a
 WHERE a.org_id = $1::uuid AND a.id = $2::uuid AND a.status <> 'held';
PREPARE appointment_range (uuid, uuid) AS
SELECT provider_id, (extract(epoch FROM buffered_start) * 1000)::bigint,
       (extract(epoch FROM buffered_end) * 1000)::bigint, duration_minutes,
       buffer_before_minutes, buffer_after_minutes
  FROM appointments WHERE org_id = $1::uuid AND id = $2::uuid AND status <> 'held';

SELECT ok(true, 'placeholder');

SELECT * FROM finish();
ROLLBACK;
