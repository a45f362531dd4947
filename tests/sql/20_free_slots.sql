-- free_slots(): the grid of free start times of one provider on one local
-- date. Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a database with every migration applied. Everything is rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
-- A session time zone far from every organization's: results must not
-- depend on it.
SET LOCAL TimeZone = 'Pacific/Auckland';
SELECT plan(44);

-- Fixtures ------------------------------------------------------------------
-- orgs       20000000-…-001 UTC   -002 Europe/London   -003 America/New_York
--            -004 another org (UTC)
-- providers  20aaaaaa-…-001 UTC org, Mon 09:00-17:00
--            -002 UTC org, Tue 09:00-12:00 + 13:00-17:00
--            -003 London, Sun 00:00-04:00 (the DST changes fall on Sundays)
--            -004 New York, Mon 09:00-17:00
--            -005 the other org, Mon 09:00-17:00
--            -006 UTC org, Mon 09:00-17:00 (only for the cancelled-status test)
-- contact    20cccccc-…-001 (UTC org)
-- Dates: 2026-06-01 Mon, 2026-06-02 Tue, 2026-06-07 Sun, 2026-01-05 Mon,
--        2026-03-29 Sun (London springs forward at 01:00 GMT),
--        2026-10-25 Sun (London falls back at 02:00 BST).
INSERT INTO organizations (id, name, timezone, vapi_secret_hash) VALUES
    ('20000000-0000-4000-8000-000000000001', 'Slots UTC', 'UTC', '\x2001'),
    ('20000000-0000-4000-8000-000000000002', 'Slots London', 'Europe/London', '\x2002'),
    ('20000000-0000-4000-8000-000000000003', 'Slots New York', 'America/New_York', '\x2003'),
    ('20000000-0000-4000-8000-000000000004', 'Slots Other', 'UTC', '\x2004');
INSERT INTO providers (id, org_id, name, working_hours) VALUES
    ('20aaaaaa-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001',
     'Mon', '{"mon":[["09:00","17:00"]]}'),
    ('20aaaaaa-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001',
     'Tue split', '{"tue":[["09:00","12:00"],["13:00","17:00"]]}'),
    ('20aaaaaa-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000002',
     'Night', '{"sun":[["00:00","04:00"]]}'),
    ('20aaaaaa-0000-4000-8000-000000000004', '20000000-0000-4000-8000-000000000003',
     'NY', '{"mon":[["09:00","17:00"]]}'),
    ('20aaaaaa-0000-4000-8000-000000000005', '20000000-0000-4000-8000-000000000004',
     'Other', '{"mon":[["09:00","17:00"]]}'),
    ('20aaaaaa-0000-4000-8000-000000000006', '20000000-0000-4000-8000-000000000001',
     'Mon too', '{"mon":[["09:00","17:00"]]}');
INSERT INTO contacts (id, org_id, name) VALUES
    ('20cccccc-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001', 'Slot Tester');

-- Helpers -------------------------------------------------------------------
-- The slots as toISOString() strings, in the order returned. Nothing is in
-- the past unless p_now says so.
CREATE FUNCTION pg_temp.slots(p_provider text, p_date date, p_dur int, p_step int,
                              p_before int DEFAULT 0, p_after int DEFAULT 0,
                              p_now timestamptz DEFAULT '2000-01-01 00:00Z',
                              p_org text DEFAULT NULL)
RETURNS text[] LANGUAGE sql AS $$
SELECT coalesce(array_agg(bk_iso(f.slot_start)), '{}')
  FROM free_slots(coalesce(p_org, (SELECT org_id::text FROM providers WHERE id = p_provider::uuid))::uuid,
                  p_provider::uuid, p_date, p_dur, p_before, p_after, p_step, p_now) f
$$;
-- An appointment written directly (the booking protocol is tested elsewhere).
-- A procedure, so that CALL prints nothing between the TAP lines.
CREATE PROCEDURE pg_temp.appt(p_provider text, p_at timestamptz, p_dur int,
                              p_before int DEFAULT 0, p_after int DEFAULT 0,
                              p_status text DEFAULT 'confirmed')
LANGUAGE sql AS $$
INSERT INTO appointments (org_id, provider_id, contact_id, scheduled_at, duration_minutes,
                          ends_at, buffer_before_minutes, buffer_after_minutes,
                          buffered_start, buffered_end, status, cancelled_at, rescheduled_to)
SELECT p.org_id, p.id, '20cccccc-0000-4000-8000-000000000001', p_at, p_dur,
       p_at + make_interval(mins => p_dur), p_before, p_after,
       p_at - make_interval(mins => p_before), p_at + make_interval(mins => p_dur + p_after),
       p_status, CASE WHEN p_status = 'cancelled' THEN now() END, NULL
  FROM providers p WHERE p.id = p_provider::uuid
$$;
-- The SQLSTATE and COLUMN of the error a statement raises.
CREATE FUNCTION pg_temp.err(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_col text;
BEGIN
    EXECUTE p_sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_col = COLUMN_NAME;
    RETURN v_state || coalesce(' ' || nullif(v_col, ''), '');
END
$$;
CREATE TEMP TABLE r (k text PRIMARY KEY, v text[]);

-- A plain day ---------------------------------------------------------------
INSERT INTO r VALUES ('plain', pg_temp.slots('20aaaaaa-0000-4000-8000-000000000001', '2026-06-01', 30, 15));
SELECT is(cardinality((SELECT v FROM r WHERE k = 'plain')), 31,
          'plain day: 09:00-16:30 every 15 minutes is 31 slots');
SELECT is((SELECT v[1] FROM r WHERE k = 'plain'), '2026-06-01T09:00:00.000Z',
          'plain day: first slot at the window start');
SELECT is((SELECT v[31] FROM r WHERE k = 'plain'), '2026-06-01T16:30:00.000Z',
          'plain day: last slot ends exactly at the window end');
SELECT is((SELECT v FROM r WHERE k = 'plain'),
          (SELECT array_agg(bk_iso(g) ORDER BY g)
             FROM generate_series(timestamptz '2026-06-01 09:00Z', '2026-06-01 16:30Z',
                                  interval '15 minutes') g),
          'plain day: exactly the 15-minute grid, in order');
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000001', '2026-06-01', 30, 15, 30, 30),
          (SELECT v FROM r WHERE k = 'plain'),
          'plain day: the candidate''s own buffers may reach outside the window');
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000001', '2026-06-01', 481, 15),
          '{}', 'plain day: an appointment longer than the window fits nowhere');
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000001', '2026-06-01', 480, 15),
          ARRAY['2026-06-01T09:00:00.000Z'], 'plain day: one that fills the window fits once');

-- Two windows -----------------------------------------------------------------
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000002', '2026-06-02', 60, 30),
          ARRAY['2026-06-02T09:00:00.000Z', '2026-06-02T09:30:00.000Z',
                '2026-06-02T10:00:00.000Z', '2026-06-02T10:30:00.000Z',
                '2026-06-02T11:00:00.000Z',
                '2026-06-02T13:00:00.000Z', '2026-06-02T13:30:00.000Z',
                '2026-06-02T14:00:00.000Z', '2026-06-02T14:30:00.000Z',
                '2026-06-02T15:00:00.000Z', '2026-06-02T15:30:00.000Z',
                '2026-06-02T16:00:00.000Z'],
          'two windows: each window has its own grid; nothing spans the lunch break');
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000002', '2026-06-02', 240, 60),
          ARRAY['2026-06-02T13:00:00.000Z'],
          'two windows: a 4-hour appointment fits only the afternoon');

-- Closed days -----------------------------------------------------------------
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000001', '2026-06-07', 30, 15), '{}',
          'closed day (Sunday, not in working hours): no slots');
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000001', '2026-06-02', 30, 15), '{}',
          'closed day (Tuesday): no slots');

-- Appointments and buffers -----------------------------------------------------
-- 10:00-10:30 with 10 minutes after: busy 10:00-10:40.
CALL pg_temp.appt('20aaaaaa-0000-4000-8000-000000000001', '2026-06-01 10:00Z', 30, 0, 10);
INSERT INTO r VALUES ('busy', pg_temp.slots('20aaaaaa-0000-4000-8000-000000000001', '2026-06-01', 30, 15));
SELECT is(ARRAY(SELECT unnest(v) FROM r WHERE k = 'plain' EXCEPT SELECT unnest(v) FROM r WHERE k = 'busy' ORDER BY 1),
          ARRAY['2026-06-01T09:45:00.000Z', '2026-06-01T10:00:00.000Z',
                '2026-06-01T10:15:00.000Z', '2026-06-01T10:30:00.000Z'],
          'buffer after: 10:00-10:40 blocks exactly 09:45, 10:00, 10:15, 10:30');
SELECT ok((SELECT '2026-06-01T09:30:00.000Z' = ANY (v) AND '2026-06-01T10:45:00.000Z' = ANY (v)
             FROM r WHERE k = 'busy'),
          'buffer after: touching ranges do not conflict (09:30-10:00, 10:45 after 10:40)');
SELECT is(ARRAY(SELECT unnest(v) FROM r WHERE k = 'plain'
                EXCEPT SELECT unnest(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000001',
                                                   '2026-06-01', 30, 15, 15, 0)) ORDER BY 1),
          ARRAY['2026-06-01T09:45:00.000Z', '2026-06-01T10:00:00.000Z',
                '2026-06-01T10:15:00.000Z', '2026-06-01T10:30:00.000Z',
                '2026-06-01T10:45:00.000Z'],
          'candidate''s buffer before (15): 10:45 would start its buffer at 10:30, inside 10:00-10:40');
SELECT is(ARRAY(SELECT unnest(v) FROM r WHERE k = 'plain'
                EXCEPT SELECT unnest(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000001',
                                                   '2026-06-01', 30, 15, 0, 15)) ORDER BY 1),
          ARRAY['2026-06-01T09:30:00.000Z', '2026-06-01T09:45:00.000Z',
                '2026-06-01T10:00:00.000Z', '2026-06-01T10:15:00.000Z',
                '2026-06-01T10:30:00.000Z'],
          'candidate''s buffer after (15): 09:30 would end its buffer at 10:15');
-- An appointment whose buffer before reaches back: 14:00 with 20 before, busy 13:40-14:30.
CALL pg_temp.appt('20aaaaaa-0000-4000-8000-000000000001', '2026-06-01 14:00Z', 30, 20, 0);
SELECT is(ARRAY(SELECT unnest(v) FROM r WHERE k = 'plain'
                EXCEPT SELECT unnest(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000001',
                                                   '2026-06-01', 30, 15))
                ORDER BY 1),
          ARRAY['2026-06-01T09:45:00.000Z', '2026-06-01T10:00:00.000Z',
                '2026-06-01T10:15:00.000Z', '2026-06-01T10:30:00.000Z',
                '2026-06-01T13:15:00.000Z', '2026-06-01T13:30:00.000Z',
                '2026-06-01T13:45:00.000Z', '2026-06-01T14:00:00.000Z',
                '2026-06-01T14:15:00.000Z'],
          'an existing appointment''s buffer before blocks the slots reaching into it');
SELECT is(cardinality(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000006', '2026-06-01', 30, 15)), 31,
          'another provider''s appointments block nothing');

-- Cancelled and rescheduled appointments free their range.
CALL pg_temp.appt('20aaaaaa-0000-4000-8000-000000000006', '2026-06-01 12:00Z', 60, 0, 0, 'cancelled');
SELECT is(cardinality(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000006', '2026-06-01', 30, 15)), 31,
          'a cancelled appointment does not block');
SELECT ok('2026-06-01T12:00:00.000Z' = ANY (pg_temp.slots('20aaaaaa-0000-4000-8000-000000000006', '2026-06-01', 30, 15)),
          'a cancelled appointment does not block: its own start is offered');
-- A full day: 32 appointments (every 15 minutes, 10 minutes each) leave no
-- 30-minute gap, only the 5-minute one after each.
DO $$
DECLARE g timestamptz;
BEGIN
    FOR g IN SELECT generate_series(timestamptz '2026-06-01 09:00Z', '2026-06-01 16:45Z',
                                    interval '15 minutes') LOOP
        CALL pg_temp.appt('20aaaaaa-0000-4000-8000-000000000006', g, 10);
    END LOOP;
END
$$;
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000006', '2026-06-01', 30, 5), '{}',
          'full day: no 30-minute slot left');
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000006', '2026-06-01', 5, 5),
          (SELECT array_agg(bk_iso(g + interval '10 minutes') ORDER BY g)
             FROM generate_series(timestamptz '2026-06-01 09:00Z', '2026-06-01 16:45Z',
                                  interval '15 minutes') g),
          'full day: exactly the 5-minute gaps after each appointment are offered');

-- The past is left out -----------------------------------------------------------
SELECT is((pg_temp.slots('20aaaaaa-0000-4000-8000-000000000002', '2026-06-02', 30, 15,
                         p_now => '2026-06-02 13:07Z'))[1],
          '2026-06-02T13:15:00.000Z', 'p_now 13:07: the first slot is 13:15');
SELECT is(cardinality(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000002', '2026-06-02', 30, 15,
                                    p_now => '2026-06-02 13:07Z')), 14,
          'p_now 13:07: 13:15-16:30 are left, the morning is gone');
SELECT is((pg_temp.slots('20aaaaaa-0000-4000-8000-000000000002', '2026-06-02', 30, 15,
                         p_now => '2026-06-02 13:00Z'))[1],
          '2026-06-02T13:00:00.000Z', 'p_now exactly on a slot: that slot is still offered');
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000002', '2026-06-02', 30, 15,
                        p_now => '2026-06-03 00:00Z'), '{}', 'a day in the past: no slots');

-- Step ------------------------------------------------------------------------
SELECT is(cardinality(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000001', '2026-01-05', 30, 5)), 91,
          'step 5: 09:00-16:30 every 5 minutes is 91 slots');
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000001', '2026-01-05', 30, 240),
          ARRAY['2026-01-05T09:00:00.000Z', '2026-01-05T13:00:00.000Z'],
          'step 240: 09:00 and 13:00');
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000002', '2026-06-02', 30, 240),
          ARRAY['2026-06-02T09:00:00.000Z', '2026-06-02T13:00:00.000Z'],
          'step 240: the grid restarts at each window''s start');

-- Time zones ----------------------------------------------------------------------
SELECT is((pg_temp.slots('20aaaaaa-0000-4000-8000-000000000004', '2026-06-01', 30, 30))[1:2],
          ARRAY['2026-06-01T13:00:00.000Z', '2026-06-01T13:30:00.000Z'],
          'New York in summer (UTC-4): 09:00 local is 13:00Z');
SELECT is((SELECT s[cardinality(s)] FROM (SELECT pg_temp.slots('20aaaaaa-0000-4000-8000-000000000004',
                                                             '2026-06-01', 30, 30) s) t),
          '2026-06-01T20:30:00.000Z', 'New York in summer: 16:30 local is 20:30Z');
SELECT is((pg_temp.slots('20aaaaaa-0000-4000-8000-000000000004', '2026-01-05', 30, 30))[1],
          '2026-01-05T14:00:00.000Z', 'New York in winter (UTC-5): 09:00 local is 14:00Z');

-- London springs forward on 2026-03-29: 01:00 GMT becomes 02:00 BST, so the
-- local times 01:00-01:59 do not exist and are skipped.
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000003', '2026-03-29', 30, 30),
          ARRAY['2026-03-29T00:00:00.000Z', '2026-03-29T00:30:00.000Z',   -- 00:00, 00:30 GMT
                '2026-03-29T01:00:00.000Z', '2026-03-29T01:30:00.000Z',   -- 02:00, 02:30 BST
                '2026-03-29T02:00:00.000Z', '2026-03-29T02:30:00.000Z'],  -- 03:00, 03:30 BST
          'spring forward: 01:00 and 01:30 local do not exist and are skipped, no duplicates');
SELECT is(cardinality(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000003', '2026-03-29', 15, 15)), 12,
          'spring forward, step 15: 16 wall-clock starts minus the 4 in the gap');
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000003', '2026-03-29', 60, 30),
          ARRAY['2026-03-29T00:00:00.000Z', '2026-03-29T00:30:00.000Z',
                '2026-03-29T01:00:00.000Z', '2026-03-29T01:30:00.000Z',
                '2026-03-29T02:00:00.000Z'],
          'spring forward: 00:30 GMT + 60 min ends at 02:30 BST, inside the window; 03:30 BST does not fit');
-- London falls back on 2026-10-25: 02:00 BST becomes 01:00 GMT, so the
-- local times 01:00-01:59 happen twice, and each is offered at both
-- instants (API.md, "Free slots").
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000003', '2026-10-25', 30, 30),
          ARRAY['2026-10-24T23:00:00.000Z', '2026-10-24T23:30:00.000Z',   -- 00:00, 00:30 BST
                '2026-10-25T00:00:00.000Z', '2026-10-25T00:30:00.000Z',   -- 01:00, 01:30 BST
                '2026-10-25T01:00:00.000Z', '2026-10-25T01:30:00.000Z',   -- 01:00, 01:30 GMT
                '2026-10-25T02:00:00.000Z', '2026-10-25T02:30:00.000Z',
                '2026-10-25T03:00:00.000Z', '2026-10-25T03:30:00.000Z'],
          'fall back: the repeated 01:00 and 01:30 are offered at both instants, in time order');
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000003', '2026-10-25', 120, 30),
          ARRAY['2026-10-24T23:00:00.000Z', '2026-10-24T23:30:00.000Z',
                '2026-10-25T00:00:00.000Z', '2026-10-25T00:30:00.000Z',
                '2026-10-25T01:00:00.000Z', '2026-10-25T01:30:00.000Z',
                '2026-10-25T02:00:00.000Z'],
          'fall back: fitting is judged by the clock at the real end (01:30 GMT + 2 h = 03:30 GMT)');
-- The case of the contract: a 00:00-04:00 window, 30 minutes on the 15-minute
-- grid, gives 19 slots from 23:00Z the day before to 03:30Z.
SELECT is((SELECT array_agg(bk_iso(t) ORDER BY t) FROM generate_series(
               '2026-10-24 23:00+00'::timestamptz, '2026-10-25 03:30+00', '15 minutes') t),
          pg_temp.slots('20aaaaaa-0000-4000-8000-000000000003', '2026-10-25', 30, 15),
          'fall back, step 15: 19 slots, every quarter hour from 23:00Z to 03:30Z');
SELECT ok(bk_within_working_hours('{"sun":[["00:00","04:00"]]}', 'Europe/London',
                                  '2026-10-25 00:45+00', 30),
          'a booking at the first 01:45 (BST) of the day clocks go back is inside 00:00-04:00');
SELECT is(pg_temp.slots('20aaaaaa-0000-4000-8000-000000000003', '2026-03-28', 30, 30), '{}',
          'London Saturday: closed');

-- Every slot offered passes the other two checks the API applies.
SELECT is((SELECT count(*) FROM (VALUES
              ('20aaaaaa-0000-4000-8000-000000000001', date '2026-06-01', 30, 15),
              ('20aaaaaa-0000-4000-8000-000000000002', date '2026-06-02', 45, 5),
              ('20aaaaaa-0000-4000-8000-000000000003', date '2026-03-29', 60, 15),
              ('20aaaaaa-0000-4000-8000-000000000003', date '2026-10-25', 120, 5),
              ('20aaaaaa-0000-4000-8000-000000000004', date '2026-06-01', 30, 15),
              ('20aaaaaa-0000-4000-8000-000000000006', date '2026-06-01', 5, 5)) v(p, d, dur, step)
            JOIN providers pr ON pr.id = v.p::uuid
            JOIN organizations o ON o.id = pr.org_id,
            LATERAL free_slots(pr.org_id, pr.id, v.d, v.dur, 0, 0, v.step, '2000-01-01Z') f
           WHERE NOT bk_within_working_hours(pr.working_hours, o.timezone, f.slot_start, v.dur)
              OR NOT (check_availability(pr.org_id, pr.id, f.slot_start, v.dur, 0, 0, NULL)
                      ->> 'available')::boolean),
          0::bigint,
          'every slot is within working hours and available per check_availability');

-- Errors --------------------------------------------------------------------------
SELECT is(pg_temp.err($$SELECT * FROM free_slots('20000000-0000-4000-8000-000000000001',
            '20aaaaaa-0000-4000-8000-000000000005', '2026-06-01', 30, 0, 0, 15, now())$$),
          'BK001 providerId', 'another organization''s provider: BK001 providerId');
SELECT is(pg_temp.err($$SELECT * FROM free_slots('20000000-0000-4000-8000-000000000001',
            '20eeeeee-0000-4000-8000-000000000000', '2026-06-01', 30, 0, 0, 15, now())$$),
          'BK001 providerId', 'unknown provider: BK001 providerId');
SELECT is(pg_temp.err($$SELECT * FROM free_slots('20000000-0000-4000-8000-000000000001',
            '20aaaaaa-0000-4000-8000-000000000001', '2026-06-01', 30, 0, 0, 4, now())$$)
          || ' / ' ||
          pg_temp.err($$SELECT * FROM free_slots('20000000-0000-4000-8000-000000000001',
            '20aaaaaa-0000-4000-8000-000000000001', '2026-06-01', 30, 0, 0, NULL, now())$$),
          'BK001 stepMinutes / BK001 stepMinutes', 'step below 5 or NULL: BK001 stepMinutes');
SELECT is(pg_temp.err($$SELECT * FROM free_slots('20000000-0000-4000-8000-000000000001',
            '20aaaaaa-0000-4000-8000-000000000001', '2026-06-01', 0, 0, 0, 15, now())$$),
          'BK001 durationMinutes', 'duration 0: BK001 durationMinutes');

SELECT * FROM finish();
ROLLBACK;
