-- Delivering the outbox: webhook endpoints, the worker's fan-out, claims
-- and outcomes, manual retries and the purge (docs/design.md,
-- "Deliveries"). The worker calls these on a connection of its own,
-- never inside a booking's transaction, and sends outside any transaction.

-- The API's delivery object.
CREATE OR REPLACE FUNCTION bk_delivery_json(d public.deliveries, p_event_type text)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT jsonb_build_object(
    'id', d.id, 'endpointId', d.endpoint_id, 'eventType', p_event_type, 'status', d.status,
    'attempts', d.attempts, 'lastStatusCode', d.last_status_code, 'lastError', d.last_error,
    'nextAttemptAt', CASE WHEN d.status IN ('pending', 'failed') THEN bk_iso(d.next_attempt_at) END,
    'deliveredAt', bk_iso(d.delivered_at))
$$;

-- The body of an event (an audit entry with an event_type) as its targets
-- receive it: the appointment as it stood when the event happened. Nothing
-- is copied at the event: since it was booked, an appointment can only
-- have been cancelled or moved (status, cancelledAt and rescheduledTo,
-- undone here) or scrubbed by an erasure (which a later send must not
-- undo); a cancelled one changes no more but by an erasure.
CREATE OR REPLACE FUNCTION bk_event_payload(ev public.audit_logs)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE WHEN ev.event_type = 'contact.erased'
            THEN jsonb_build_object('contactId', ev.entity_id)
            WHEN ev.event_type = 'appointment.cancelled'
            THEN jsonb_build_object('appointment', bk_appointment_json(a))
            ELSE jsonb_build_object('appointment', bk_appointment_json(a)
                                        || '{"status": "confirmed", "cancelledAt": null,
                                             "rescheduledTo": null}')
                 || CASE WHEN ev.event_type = 'appointment.rescheduled'
                         THEN jsonb_build_object('previousAppointmentId',
                                                 ev.details -> 'rescheduledFrom')
                         ELSE '{}' END END
  FROM (SELECT) one
  LEFT JOIN appointments a ON ev.entity_type = 'appointment' AND a.id = ev.entity_id
$$;

-- POST /api/webhook-endpoints. The C side checks the URL (scheme, host not
-- private), chooses the id and seals the secret bound to it; the events
-- must be ones bookd sends.
CREATE OR REPLACE FUNCTION create_webhook_endpoint(p_org_id uuid, p_id uuid, p_url text,
                                                   p_events text[], p_secret bytea,
                                                   p_key_id text, p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_id uuid;
    v_events text[];
BEGIN
    SELECT array_agg(DISTINCT e ORDER BY e) INTO v_events FROM unnest(p_events) e;
    IF v_events IS NULL OR cardinality(v_events) = 0
       OR NOT v_events <@ ARRAY['appointment.booked', 'appointment.cancelled',
                                'appointment.rescheduled'] THEN
        RAISE EXCEPTION 'events must name at least one of appointment.booked, '
                        'appointment.cancelled, appointment.rescheduled'
            USING ERRCODE = 'BK001', COLUMN = 'events';
    END IF;
    INSERT INTO webhook_endpoints (id, org_id, url, events, secret, secret_key_id)
    VALUES (p_id, p_org_id, p_url, v_events, p_secret, p_key_id)
    RETURNING id INTO v_id;
    PERFORM bk_audit(p_org_id, p_actor, 'webhook_endpoint.created', 'webhook_endpoint', v_id,
                     jsonb_build_object('events', to_jsonb(v_events)));
    RETURN jsonb_build_object('id', v_id, 'url', p_url, 'events', to_jsonb(v_events));
END
$$;

-- DELETE /api/webhook-endpoints/{id}: the endpoint and its deliveries go.
CREATE OR REPLACE FUNCTION delete_webhook_endpoint(p_org_id uuid, p_endpoint_id uuid,
                                                   p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    -- Lock order as the worker's (breakers_read, then deliveries_record):
    -- the endpoint's breaker first (made if missing, as the worker makes
    -- it), then the endpoint and, by its cascade, its deliveries. The other
    -- way round, a delete meeting a worker that is recording this
    -- endpoint's outcomes deadlocked. A 404 rolls the made row back.
    INSERT INTO breakers (org_id, target) VALUES (p_org_id, 'webhook:' || p_endpoint_id)
        ON CONFLICT DO NOTHING;
    PERFORM 1 FROM breakers
      WHERE org_id = p_org_id AND target = 'webhook:' || p_endpoint_id FOR UPDATE;
    DELETE FROM webhook_endpoints WHERE org_id = p_org_id AND id = p_endpoint_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'webhook endpoint not found' USING ERRCODE = 'BK002';
    END IF;
    DELETE FROM breakers WHERE org_id = p_org_id AND target = 'webhook:' || p_endpoint_id;
    PERFORM bk_audit(p_org_id, p_actor, 'webhook_endpoint.deleted', 'webhook_endpoint',
                     p_endpoint_id, '{}');
    RETURN '{}';
END
$$;

-- POST /api/webhook-deliveries/{id}/retry: a dead or failed delivery is
-- due again at once, with the whole retry schedule before it. A delivery
-- that died because its endpoint answered 410 is the operator saying the
-- receiver is back: the endpoint is enabled again (and audited as such);
-- its other dead deliveries stay as they are until retried too.
CREATE OR REPLACE FUNCTION retry_delivery(p_org_id uuid, p_delivery_id uuid, p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_d deliveries;
BEGIN
    -- Lock order as a 410's: the endpoint, then its delivery.
    PERFORM 1 FROM webhook_endpoints w JOIN deliveries d ON d.endpoint_id = w.id
      WHERE d.org_id = p_org_id AND d.id = p_delivery_id FOR UPDATE OF w;
    SELECT d.* INTO v_d FROM deliveries d
     WHERE d.org_id = p_org_id AND d.id = p_delivery_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'delivery not found' USING ERRCODE = 'BK002';
    END IF;
    IF v_d.status NOT IN ('dead', 'failed') THEN
        RAISE EXCEPTION 'only a dead or failed delivery can be retried (this one is %)',
            v_d.status USING ERRCODE = 'BK003';
    END IF;
    IF v_d.locked_until > now() THEN
        RAISE EXCEPTION 'this delivery is being sent right now; see its outcome first'
            USING ERRCODE = 'BK003';
    END IF;
    UPDATE webhook_endpoints SET disabled_at = NULL
     WHERE id = v_d.endpoint_id AND disabled_at IS NOT NULL;
    IF FOUND THEN
        PERFORM bk_audit(p_org_id, p_actor, 'webhook_endpoint.enabled', 'webhook_endpoint',
                         v_d.endpoint_id, jsonb_build_object('retriedDelivery', v_d.id));
    END IF;
    UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),
                          locked_until = NULL
     WHERE id = p_delivery_id
    RETURNING * INTO v_d;
    PERFORM pg_notify('bookd_outbox', '');
    RETURN (SELECT bk_delivery_json(v_d, ev.event_type) FROM audit_logs ev
             WHERE ev.id = v_d.event_id);
END
$$;

-- What an event means for one of its organization's integrations: the
-- deliveries to make (target, action, appointment, due time or NULL for
-- at once). Google: the event inserted on booking, deleted on cancel, both
-- on reschedule (the old appointment's deleted, the new one's inserted),
-- for a provider with a linked calendar. Twilio: a notice of each change
-- and a reminder reminderHoursBefore the start; Vapi: a reminder call
-- reminderCallHoursBefore the start. A reminder whose time has already
-- come is not made (the notice just sent says as much). An erasure deletes
-- the events that still carry the contact's name.
CREATE OR REPLACE FUNCTION bk_integration_actions(ev public.audit_logs,
                                                  i public.integrations)
RETURNS TABLE (target text, action text, appointment_id uuid, at timestamptz)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_appt uuid := CASE WHEN ev.entity_type = 'appointment' THEN ev.entity_id END;
    v_start timestamptz := (ev.details ->> 'scheduledAt')::timestamptz;
    v_hours int;
    v_remind timestamptz;
BEGIN
    -- An erased contact's name is in the events of their appointments that
    -- are still in the calendar (their future ones were cancelled with the
    -- erasure, and are deleted through those events): deleted too.
    IF ev.event_type = 'contact.erased' AND i.kind = 'google' THEN
        RETURN QUERY SELECT i.kind, 'google.delete', a.id, NULL::timestamptz
                       FROM appointments a
                      WHERE a.org_id = ev.org_id AND a.contact_id = ev.entity_id
                        AND a.status = 'confirmed' AND a.google_event_id IS NOT NULL;
        RETURN;
    END IF;
    IF ev.event_type NOT IN ('appointment.booked', 'appointment.cancelled',
                             'appointment.rescheduled') THEN
        RETURN;
    END IF;
    target := i.kind;
    IF i.kind = 'google' THEN
        IF NOT EXISTS (SELECT 1 FROM provider_calendars c
                        WHERE c.provider_id = (ev.details ->> 'providerId')::uuid)
        THEN
            RETURN;
        END IF;
        IF ev.event_type = 'appointment.rescheduled' THEN
            RETURN QUERY SELECT i.kind, 'google.delete',
                                (ev.details ->> 'rescheduledFrom')::uuid, NULL::timestamptz;
        END IF;
        action := CASE ev.event_type WHEN 'appointment.cancelled' THEN 'google.delete'
                                     ELSE 'google.insert' END;
        appointment_id := v_appt;
        RETURN NEXT;
        RETURN;
    END IF;
    IF i.kind = 'twilio' THEN
        action := 'sms.' || split_part(ev.event_type, '.', 2);
        appointment_id := v_appt;
        RETURN NEXT;
    END IF;
    IF ev.event_type = 'appointment.cancelled' THEN
        RETURN;
    END IF;
    v_hours := CASE i.kind WHEN 'twilio' THEN (i.settings ->> 'reminderHoursBefore')::int
                           ELSE (i.settings ->> 'reminderCallHoursBefore')::int END;
    v_remind := v_start - v_hours * interval '1 hour';
    IF v_hours > 0 AND v_remind > now() THEN
        action := CASE i.kind WHEN 'twilio' THEN 'sms.reminder' ELSE 'call.reminder' END;
        appointment_id := v_appt;
        at := v_remind;
        RETURN NEXT;
    END IF;
END
$$;

-- What sending needs of the deliveries p_ids, just leased by the fan-out
-- or the claim: event_at is the event's time, in the API's form and in ms
-- since the epoch. A webhook's payload is the event's body and its secret
-- the endpoint's; an integration's payload is bk_delivery_context with the
-- integration's public settings, its secret the integration's, token
-- Google's access token, if any.
--
-- Every row is looked up by its key, each in a subquery of its own (kept
-- apart by OFFSET 0), so no plan can read a whole table or index instead:
-- the plan is cached in the worker's session from its first call, often
-- made while the tables were empty, and a join planned for empty tables
-- read all of deliveries and audit_logs at each call (bench/HISTORY.md,
-- step 47; sequential scans off alone did not prevent it).
CREATE OR REPLACE FUNCTION bk_deliveries_to_send(p_ids uuid[])
RETURNS TABLE (id uuid, org_id uuid, target text, attempts int, url text, secret bytea,
               event_type text, payload jsonb, event_at text, event_at_ms bigint,
               action text, token bytea, token_expires_ms bigint)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
BEGIN
    -- Nothing to look up (a fan-out with no endpoint, the common case):
    -- the statement below is planned at every call (PostgreSQL keeps
    -- choosing a custom plan for it), 0.23 ms for no ids at all, half of a
    -- fan-out's time under full booking load (bench/HISTORY.md, step 50).
    -- A generic plan instead, made while the tables were empty, grew to
    -- 29-87 ms a call with the tables at full delivery speed.
    IF coalesce(cardinality(p_ids), 0) = 0 THEN
        RETURN;
    END IF;
RETURN QUERY
SELECT d.id, d.org_id, d.target, d.attempts, w.url, coalesce(w.secret, i.secret),
       ev.event_type,
       CASE WHEN d.endpoint_id IS NULL
            THEN bk_delivery_context(d) || jsonb_build_object('settings', i.settings)
            ELSE bk_event_payload(ev) END,
       bk_iso(ev.at), (extract(epoch FROM ev.at) * 1000)::bigint,
       d.action, i.token, (extract(epoch FROM i.token_expires_at) * 1000)::bigint
  FROM unnest(p_ids) u (id)
 CROSS JOIN LATERAL (SELECT * FROM deliveries x WHERE x.id = u.id OFFSET 0) d
 CROSS JOIN LATERAL (SELECT * FROM audit_logs l WHERE l.id = d.event_id OFFSET 0) ev
  LEFT JOIN LATERAL (SELECT * FROM webhook_endpoints x WHERE x.id = d.endpoint_id
                     OFFSET 0) w ON true
  LEFT JOIN LATERAL (SELECT * FROM integrations x
                      WHERE d.endpoint_id IS NULL AND x.org_id = d.org_id AND x.kind = d.target
                     OFFSET 0) i ON true;
END
$$;

-- The deliveries of the events p_seqs (outbox_fan_out's, in order): one per
-- subscribed, enabled webhook endpoint of their organization and one per
-- action of its integrations, due after p_first_delay_ms. When that delay
-- is none, up to p_room of those due at once are leased for p_lease_ms to
-- the calling worker, and their ids returned: it sends them without a
-- claim. Not a Google delete (the claim holds it back while an insert of
-- the same appointment waits, and that insert may be in this very batch),
-- nor a delivery to a stopped integration.
--
-- The plans of the worker's statements that take rows by key are fixed to
-- that shape (nested loops over index lookups: no sequential scan, hash or
-- merge join; here and in deliveries_record). They are cached in the
-- worker's one long session, made the first time it runs them, often while
-- a table is still empty, and kept until an ANALYZE of the table. Made for
-- an empty audit_logs and deliveries, this one read every event of the
-- organization and deliveries_record every waiting delivery, at each call,
-- and a delivery's latency grew with the tables until autovacuum came by
-- (bench/HISTORY.md, step 41). The events are read one by one by their seq
-- (the LATERAL subquery, kept apart by OFFSET 0), so no plan can reach them
-- through another index.
CREATE OR REPLACE FUNCTION outbox_fan_out_events(p_seqs bigint[], p_first_delay_ms int,
                                                 p_room int, p_lease_ms int)
RETURNS uuid[]
LANGUAGE plpgsql
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
DECLARE
    v_due timestamptz := now() + greatest(p_first_delay_ms, 0) * interval '1 millisecond';
    v_lease timestamptz := CASE WHEN p_first_delay_ms <= 0
                                THEN now() + p_lease_ms * interval '1 millisecond' END;
    v_leased uuid[];
BEGIN
    WITH ev AS MATERIALIZED (
        SELECT l.* FROM unnest(p_seqs) s (seq)
         CROSS JOIN LATERAL (SELECT * FROM audit_logs l WHERE l.seq = s.seq OFFSET 0) l),
    hooks AS (
        INSERT INTO deliveries (org_id, event_id, target, endpoint_id, next_attempt_at,
                                locked_until)
        SELECT ev.org_id, ev.id, 'webhook:' || w.id, w.id, v_due,
               CASE WHEN row_number() OVER () <= p_room THEN v_lease END
          FROM ev
          JOIN webhook_endpoints w ON w.org_id = ev.org_id AND w.disabled_at IS NULL
                                  AND ev.event_type = ANY (w.events)
        ON CONFLICT (event_id, target, action, appointment_id) DO NOTHING
        RETURNING deliveries.id, deliveries.locked_until),
    -- The organization's integrations (none: no row joins), in the room
    -- the webhooks left.
    integ AS (
        INSERT INTO deliveries (org_id, event_id, target, action, appointment_id,
                                next_attempt_at, locked_until)
        SELECT c.org_id, c.event_id, c.target, c.action, c.appointment_id,
               coalesce(c.at, v_due),
               CASE WHEN c.now AND count(*) FILTER (WHERE c.now) OVER (ROWS UNBOUNDED PRECEDING)
                                   <= p_room - (SELECT count(*) FROM hooks
                                                 WHERE hooks.locked_until IS NOT NULL)
                    THEN v_lease END
          FROM (SELECT ev.org_id, ev.id AS event_id, x.target, x.action, x.appointment_id, x.at,
                       x.at IS NULL AND i.stopped_at IS NULL
                       AND x.action <> 'google.delete' AS now
                  FROM ev
                  JOIN integrations i ON i.org_id = ev.org_id
                 CROSS JOIN LATERAL bk_integration_actions(ev::audit_logs, i) x) c
        ON CONFLICT (event_id, target, action, appointment_id) DO NOTHING
        RETURNING deliveries.id, deliveries.locked_until)
    SELECT array_agg(x.id) INTO v_leased
      FROM (SELECT * FROM hooks UNION ALL SELECT * FROM integ) x
     WHERE x.locked_until IS NOT NULL;
    RETURN coalesce(v_leased, '{}');
END
$$;

-- The fan-out's cursor: the newest position of its log (migration 0023),
-- the first entry of the log's index read backwards however many older
-- ones a vacuum has not removed yet.
CREATE OR REPLACE FUNCTION bk_outbox_cursor()
RETURNS outbox_positions
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v outbox_positions;
BEGIN
    SELECT * INTO v FROM outbox_positions p ORDER BY p.xid DESC, p.seq DESC LIMIT 1;
    RETURN v;
END
$$;

-- The worker's fan-out: the next p_limit events past the cursor become one
-- delivery per subscribed, enabled endpoint of their organization, due
-- after p_first_delay_ms, and the deliveries of its integrations
-- (bk_integration_actions); the cursor then moves past them. Events are
-- audit entries with an event_type (migration 0019), taken in the order of
-- their transaction's id and only once every transaction older than the
-- horizon has ended, so none can still appear behind the cursor. One
-- worker fans out at a time: it holds the advisory lock (2, 0) for its
-- transaction (class 1 is an organization's holds, sql/15_holds.sql), and
-- another returns 0 at once. A delivery exists at most once per event and
-- target.
--
-- Returns the number of events taken, in every row, whether events wait
-- behind the horizon (held_back: a transaction older than theirs was still
-- open; the caller looks again soon, as nothing else will wake it for
-- them), and the deliveries it leased to the caller (up to p_room, for
-- p_lease_ms: outbox_fan_out_events) with what sending them needs; one row
-- with a NULL id when it leased none.
CREATE OR REPLACE FUNCTION outbox_fan_out(p_limit int, p_first_delay_ms int, p_room int,
                                          p_lease_ms int)
RETURNS TABLE (events int, held_back boolean, id uuid, org_id uuid, target text,
               attempts int, url text,
               secret bytea, event_type text, payload jsonb, event_at text, event_at_ms bigint,
               action text, token bytea, token_expires_ms bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_cursor outbox_positions;
    v_horizon xid8;
    v_seqs bigint[];
    v_xids xid8[];
    v_n int;
    v_held boolean := false;
    v_leased uuid[];
BEGIN
    IF NOT pg_try_advisory_xact_lock(2, 0) THEN
        RETURN QUERY SELECT 0, false, s.* FROM (SELECT) one
                      LEFT JOIN bk_deliveries_to_send(NULL) s ON true;
        RETURN;
    END IF;
    -- Read after the lock: the last fan-out to hold it has committed.
    v_cursor := bk_outbox_cursor();
    -- Taken before the next statement's snapshot: every transaction below
    -- it has ended, so that snapshot sees all it committed. When the
    -- oldest transaction still running is this one (the tests fan out the
    -- events they have just written), its own entries count too: any
    -- other can only come later in the order.
    v_horizon := pg_snapshot_xmin(pg_current_snapshot());
    SELECT array_agg(l.seq ORDER BY l.xid, l.seq), array_agg(l.xid ORDER BY l.xid, l.seq)
      INTO v_seqs, v_xids
      FROM (SELECT l.seq, l.xid FROM audit_logs l
             WHERE l.event_type IS NOT NULL AND (l.xid, l.seq) > (v_cursor.xid, v_cursor.seq)
               AND (l.xid < v_horizon
                    OR l.xid = v_horizon AND v_horizon = pg_current_xact_id())
             ORDER BY l.xid, l.seq LIMIT p_limit) l;
    v_n := coalesce(cardinality(v_seqs), 0);
    IF v_n < p_limit THEN
        -- In the index's order, so that the plan stays on it (as above; an
        -- EXISTS would drop the ORDER BY).
        PERFORM 1 FROM audit_logs l
          WHERE l.event_type IS NOT NULL AND (l.xid, l.seq) > (v_cursor.xid, v_cursor.seq)
            AND l.xid >= v_horizon
          ORDER BY l.xid, l.seq LIMIT 1;
        v_held := FOUND;
    END IF;
    IF v_n > 0 THEN
        v_leased := outbox_fan_out_events(v_seqs, p_first_delay_ms, p_room, p_lease_ms);
        INSERT INTO outbox_positions (xid, seq) VALUES (v_xids[v_n], v_seqs[v_n]);
    END IF;
    RETURN QUERY SELECT v_n, v_held, s.* FROM (SELECT) one
                  LEFT JOIN bk_deliveries_to_send(v_leased) s ON true;
END
$$;

-- The fan-out alone, leasing nothing: every delivery it makes waits for a
-- claim. Returns the number of events taken (tests and operators).
CREATE OR REPLACE FUNCTION outbox_fan_out(p_limit int, p_first_delay_ms int)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN (SELECT f.events FROM outbox_fan_out(p_limit, p_first_delay_ms, 0, 0) f LIMIT 1);
END
$$;

-- Claims up to p_limit due deliveries for p_lease_ms: another worker skips
-- them until the lease runs out. Returns what sending needs
-- (bk_deliveries_to_send). Due means waiting, unleased and its time come:
-- the rows of deliveries_due, which holds no leased delivery, so neither
-- the first attempts the fan-out leased nor any delivery once sent ever
-- enter it (migration 0022 says why). A lease that ran out is handed back
-- by deliveries_release first.
-- PL/pgSQL for its cached plan: as a LANGUAGE sql function the statement
-- was planned at every call, 2 ms, every time the worker woke (bench/
-- HISTORY.md, step 39).
-- The due rows are chosen once, into an array, and then leased by key:
-- as a subquery joined in the UPDATE, a plan that scanned it again for
-- each row of the join would lock and lease the next p_limit rows each
-- time, since the rows leased by the first scan no longer qualify (seen:
-- 512 rows for a limit of 256, which overflowed the worker's arrays), and
-- a plan made while deliveries was empty joined them by reading the whole
-- table, 9 s a claim at 30,000 deliveries (bench/HISTORY.md, step 47).
-- The due rows are read from deliveries_due in its order, whatever the
-- statistics said when the plan was made (sequential scans, bitmaps and
-- sorts off): planned for an empty table, a claim that found nothing read
-- the whole table (step 48).
--
-- A delivery to an integration is claimed only while that integration is
-- connected and not stopped, and a Google delete only once no insert of
-- the same appointment waits (they would cross: the delete first, then
-- the insert of an event nobody deletes).
CREATE OR REPLACE FUNCTION deliveries_claim(p_limit int, p_lease_ms int)
RETURNS TABLE (id uuid, org_id uuid, target text, attempts int, url text, secret bytea,
               event_type text, payload jsonb, event_at text, event_at_ms bigint,
               action text, token bytea, token_expires_ms bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off
AS $$
#variable_conflict use_column
DECLARE
    v_due uuid[];
    v_leased uuid[];
BEGIN
    SELECT array_agg(c.id) INTO v_due
      FROM (SELECT c.id FROM deliveries c
             WHERE c.status IN ('pending', 'failed') AND c.locked_until IS NULL
               AND c.next_attempt_at <= now()
               AND (c.endpoint_id IS NOT NULL
                    OR EXISTS (SELECT 1 FROM integrations i
                                WHERE i.org_id = c.org_id AND i.kind = c.target
                                  AND i.stopped_at IS NULL))
               AND (c.action <> 'google.delete'
                    OR NOT EXISTS (SELECT 1 FROM deliveries p
                                    WHERE p.appointment_id = c.appointment_id
                                      AND p.status IN ('pending', 'failed')
                                      AND p.action = 'google.insert'))
             ORDER BY c.next_attempt_at LIMIT p_limit FOR UPDATE SKIP LOCKED) c;
    IF v_due IS NULL THEN
        RETURN;
    END IF;
    -- By key (= ANY of the ids: nothing else for a plan to read); not a
    -- delivery of an endpoint disabled meanwhile.
    WITH leased AS (
        UPDATE deliveries d SET locked_until = now() + p_lease_ms * interval '1 millisecond'
         WHERE d.id = ANY (v_due)
           AND (d.endpoint_id IS NULL
                OR EXISTS (SELECT 1 FROM webhook_endpoints w
                            WHERE w.id = d.endpoint_id AND w.disabled_at IS NULL))
        RETURNING d.id)
    SELECT array_agg(leased.id) INTO v_leased FROM leased;
    RETURN QUERY SELECT * FROM bk_deliveries_to_send(v_leased);
END
$$;

-- Hands back deliveries whose lease ran out (their worker died, or lost
-- the database while sending), up to p_limit: due again for the claim at
-- their time. Returns how many. Called by each worker now and then, not
-- at every claim: the leases' index, like any, keeps the entries of sent
-- deliveries until a vacuum, and this reads those of the expired ones.
CREATE OR REPLACE FUNCTION deliveries_release(p_limit int)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_n int;
BEGIN
    UPDATE deliveries SET locked_until = NULL
     WHERE id IN (SELECT l.id FROM deliveries l
                   WHERE l.locked_until IS NOT NULL AND l.locked_until <= now()
                   ORDER BY l.locked_until LIMIT p_limit FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END
$$;

-- Writes back what became of claimed deliveries, one array element each
-- (the caller passes them in id order, the order every writer locks
-- delivery rows in):
-- p_results[i] is
--   delivered  a 2xx;
--   retry      it failed, the next attempt is at p_next_ms[i];
--   dead       it failed and was the last attempt;
--   gone       the receiver answered 410: the endpoint is disabled and its
--              waiting deliveries are dead;
--   defer      not sent (the target's breaker is open): due again at
--              p_next_ms[i], no attempt counted.
--   void       nothing to send (bk_delivery_context said why, in p_errors);
--   stop       the integration refused the credentials: it is stopped
--              (its deliveries wait, kept, for new settings), no attempt
--              counted.
-- p_next_ms holds those times in ms since the epoch. An integration's
-- lastError or lastSuccessAt follows its outcomes, and a Google insert or
-- delete done keeps the event id with the appointment. Its plans are fixed
-- to lookups by key (outbox_fan_out_events says why), and each statement
-- names its rows by `id = ANY (p_ids)` besides the join: planned for an
-- empty table, the join alone read the whole of deliveries by its index,
-- and the record's time grew with the table (bench/HISTORY.md, step 48).
CREATE OR REPLACE FUNCTION deliveries_record(p_ids uuid[], p_results text[], p_codes int[],
                                             p_errors text[], p_next_ms bigint[])
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
BEGIN
    -- Integrations first: every writer locks an integration before its
    -- deliveries (integration_put, integration_delete).
    IF EXISTS (SELECT 1 FROM deliveries d WHERE d.id = ANY (p_ids) AND d.endpoint_id IS NULL)
    THEN
        PERFORM bk_integration_status(x.org_id, x.target, x.result = 'delivered', x.error,
                                      x.result = 'stop')
           FROM (SELECT DISTINCT ON (d.org_id, d.target) d.org_id, d.target, r.result, r.error
                   FROM unnest(p_ids, p_results, p_errors) r (id, result, error)
                   JOIN deliveries d ON d.id = r.id AND d.id = ANY (p_ids)
                  WHERE d.endpoint_id IS NULL
                    AND r.result IN ('delivered', 'retry', 'dead', 'stop')
                  ORDER BY d.org_id, d.target, r.result = 'stop' DESC,
                           r.result = 'delivered') x
          ORDER BY x.org_id, x.target;
        UPDATE appointments a
           SET google_event_id = CASE d.action WHEN 'google.insert'
                                      THEN 'bk' || replace(a.id::text, '-', '') END
          FROM unnest(p_ids, p_results) r (id, result)
          JOIN deliveries d ON d.id = r.id AND d.id = ANY (p_ids)
         WHERE r.result = 'delivered' AND d.action IN ('google.insert', 'google.delete')
           AND a.id = d.appointment_id;
    END IF;
    UPDATE deliveries d
       SET status = CASE r.result WHEN 'delivered' THEN 'delivered' WHEN 'retry' THEN 'failed'
                                  WHEN 'void' THEN 'void'
                                  WHEN 'defer' THEN d.status WHEN 'stop' THEN d.status
                                  ELSE 'dead' END,
           attempts = d.attempts + CASE WHEN r.result IN ('defer', 'stop', 'void') THEN 0
                                        ELSE 1 END,
           next_attempt_at = CASE WHEN r.result IN ('retry', 'defer') THEN r.next
                                  WHEN r.result = 'stop' THEN now()
                                  ELSE d.next_attempt_at END,
           last_status_code = CASE WHEN r.result = 'defer' THEN d.last_status_code
                                   ELSE r.code END,
           last_error = CASE WHEN r.result = 'defer' THEN d.last_error
                             ELSE left(r.error, 300) END,
           delivered_at = CASE WHEN r.result IN ('delivered', 'void') THEN now() END,
           locked_until = NULL
      FROM (SELECT u.id, u.result, u.code, u.error, to_timestamp(u.next_ms / 1000.0) AS next
              FROM unnest(p_ids, p_results, p_codes, p_errors, p_next_ms)
                   u (id, result, code, error, next_ms)) r
     -- Only what still waits: a 410 recorded meanwhile may have killed it.
     -- (Said as "none of the finished states", which the partial index of
     -- waiting deliveries does not match: a plan cached while the table was
     -- small went through that index and read every waiting delivery.)
     WHERE d.id = r.id AND d.id = ANY (p_ids) AND d.status NOT IN ('delivered', 'dead', 'void');

    -- A 410 is rare: only then are endpoints disabled and their waiting
    -- deliveries (deliveries_waiting) killed.
    IF 'gone' = ANY (p_results) THEN
        WITH gone AS (
            UPDATE webhook_endpoints w SET disabled_at = now()
              FROM deliveries d, unnest(p_ids, p_results) r (id, result)
             WHERE r.result = 'gone' AND d.id = r.id AND w.id = d.endpoint_id
               AND w.disabled_at IS NULL
            RETURNING w.id)
        UPDATE deliveries d
           SET status = 'dead', last_error = 'the endpoint is disabled: it answered 410 Gone',
               locked_until = NULL
         WHERE d.endpoint_id IN (SELECT id FROM gone) AND d.status IN ('pending', 'failed');
    END IF;
END
$$;

-- Housekeeping in small batches, so no run holds many locks or long:
-- idempotency keys past their 24 hours, deliveries delivered longer ago
-- than the retention, and manage tokens that work no more (events are
-- audit entries, kept). Returns the rows removed; the worker's housekeeper
-- calls again while it removes a full batch. A lock waited for longer than
-- lock_timeout ends the call: the next round (a minute later) tries again.
-- Each statement reads one index by age; enable_seqscan is off so that a
-- plan cached while a table was small never scans it whole once it is not.
CREATE OR REPLACE FUNCTION outbox_purge(p_retention_days int, p_batch int)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET lock_timeout = '5s'
SET enable_seqscan = off
AS $$
DECLARE
    v_keys int;
    v_deliveries int;
    v_tokens int;
    v_cursor outbox_positions;
BEGIN
    DELETE FROM idempotency_keys
     WHERE ctid = ANY (ARRAY(SELECT ctid FROM idempotency_keys
                              WHERE created_at < now() - interval '24 hours'
                              LIMIT p_batch));
    GET DIAGNOSTICS v_keys = ROW_COUNT;
    DELETE FROM deliveries
     WHERE id IN (SELECT id FROM deliveries
                   WHERE status IN ('delivered', 'void')
                     AND delivered_at < now() - p_retention_days * interval '1 day'
                   LIMIT p_batch);
    GET DIAGNOSTICS v_deliveries = ROW_COUNT;
    -- Manage tokens whose appointment has begun work no more (those of one
    -- cancelled or moved went with it: bk_appointment_ended).
    DELETE FROM manage_tokens
     WHERE ctid = ANY (ARRAY(SELECT ctid FROM manage_tokens
                              WHERE valid_until < now() LIMIT p_batch));
    GET DIAGNOSTICS v_tokens = ROW_COUNT;
    -- The fan-out's positions behind its cursor (not counted: a few
    -- thousand a minute at most, and they go in one statement).
    v_cursor := bk_outbox_cursor();
    DELETE FROM outbox_positions p WHERE (p.xid, p.seq) < (v_cursor.xid, v_cursor.seq);
    -- A worker finishing sends to an endpoint deleted meanwhile may have
    -- made its breaker again.
    DELETE FROM breakers b
     WHERE b.target LIKE 'webhook:%'
       AND NOT EXISTS (SELECT 1 FROM webhook_endpoints w WHERE 'webhook:' || w.id = b.target);
    RETURN v_keys + v_deliveries + v_tokens;
END
$$;

-- The circuit breakers of the (org, target) pairs, as struct core_breaker
-- (src/core/breaker.h) stores them, times in ms since the epoch. With
-- p_lock, missing rows are made first and every row is locked FOR UPDATE
-- until the caller's transaction ends (db_breakers_begin ... _commit), so
-- workers deciding on the same breaker take turns. Keys in (org, target)
-- order, so two workers lock in one order.
CREATE OR REPLACE FUNCTION breakers_read(p_orgs uuid[], p_targets text[], p_lock boolean)
RETURNS TABLE (target text, state smallint, window_bits bigint, window_calls int,
               consecutive_failures int, opened_ms bigint, trials_in_flight int,
               trials_succeeded int, trial_claimed_ms bigint, org_id uuid)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF p_lock THEN
        INSERT INTO breakers AS b (org_id, target)
        SELECT k.o, k.t FROM unnest(p_orgs, p_targets) k (o, t)
         ORDER BY k.o, k.t ON CONFLICT DO NOTHING;
        -- Locked in key order; the read below, a statement later, sees
        -- the rows as locked (each statement reads what is committed).
        PERFORM 1 FROM breakers b JOIN unnest(p_orgs, p_targets) k (o, t)
            ON b.org_id = k.o AND b.target = k.t
         ORDER BY b.org_id, b.target FOR UPDATE OF b;
    END IF;
    RETURN QUERY
    SELECT b.target, b.state, b.window_bits, b.window_calls, b.consecutive_failures,
           (extract(epoch FROM b.opened_at) * 1000)::bigint, b.trials_in_flight,
           b.trials_succeeded, (extract(epoch FROM b.trial_claimed_at) * 1000)::bigint, b.org_id
      FROM breakers b JOIN unnest(p_orgs, p_targets) k (o, t)
        ON b.org_id = k.o AND b.target = k.t
     ORDER BY b.org_id, b.target;
END
$$;

-- Writes back what the worker decided for the breakers breakers_read
-- locked (times in ms since the epoch, 0: none). A breaker whose state did
-- not change is not written: a closed breaker whose window holds only
-- successes stays the same through every success, so a healthy target's
-- row gets no new version per delivery (each one stays until a vacuum can
-- remove it, and every later read of the row passes them while any
-- transaction on the cluster is open).
CREATE OR REPLACE FUNCTION breakers_save(p_orgs uuid[], p_targets text[], p_states smallint[],
                                         p_window_bits bigint[], p_window_calls int[],
                                         p_failures int[], p_opened_ms bigint[],
                                         p_trials int[], p_trials_ok int[],
                                         p_trial_claimed_ms bigint[])
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    UPDATE breakers b
       SET state = u.st, window_bits = u.wb, window_calls = u.wc, consecutive_failures = u.cf,
           opened_at = CASE WHEN u.oa > 0 THEN to_timestamp(u.oa / 1000.0) END,
           trials_in_flight = u.ti, trials_succeeded = u.ts,
           trial_claimed_at = CASE WHEN u.tc > 0 THEN to_timestamp(u.tc / 1000.0) END,
           updated_at = now()
      FROM unnest(p_orgs, p_targets, p_states, p_window_bits, p_window_calls, p_failures,
                  p_opened_ms, p_trials, p_trials_ok, p_trial_claimed_ms)
           u (o, t, st, wb, wc, cf, oa, ti, ts, tc)
     WHERE b.org_id = u.o AND b.target = u.t
       AND (b.state, b.window_bits, b.window_calls, b.consecutive_failures,
            coalesce((extract(epoch FROM b.opened_at) * 1000)::bigint, 0), b.trials_in_flight,
            b.trials_succeeded, coalesce((extract(epoch FROM b.trial_claimed_at) * 1000)::bigint, 0))
           IS DISTINCT FROM (u.st, u.wb, u.wc, u.cf, u.oa, u.ti, u.ts, u.tc);
END
$$;

-- An organization's breakers as stored, for the admin API (the columns of
-- breakers_read but the org).
CREATE OR REPLACE FUNCTION breaker_list(p_org_id uuid)
RETURNS TABLE (target text, state smallint, window_bits bigint, window_calls int,
               consecutive_failures int, opened_ms bigint, trials_in_flight int,
               trials_succeeded int, trial_claimed_ms bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT b.target, b.state, b.window_bits, b.window_calls, b.consecutive_failures,
           (extract(epoch FROM b.opened_at) * 1000)::bigint, b.trials_in_flight,
           b.trials_succeeded, (extract(epoch FROM b.trial_claimed_at) * 1000)::bigint
      FROM breakers b WHERE b.org_id = p_org_id ORDER BY b.target;
END
$$;

-- Per target kind ("webhook", "google", ...): the latest opening among its
-- open breakers (ms, 0: none) and whether one is half-open, as
-- "kind=opened,half;..." (one value, for db_pool_probe). Whether an open
-- breaker's time is up is judged in C (api/ops.c).
CREATE OR REPLACE FUNCTION breaker_kinds()
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN (
        SELECT coalesce(string_agg(format('%s=%s,%s', k, coalesce(o, 0), h::int), ';'), '')
          FROM (SELECT split_part(b.target, ':', 1) k,
                       (max(extract(epoch FROM b.opened_at) * 1000)
                            FILTER (WHERE b.state = 1))::bigint o,
                       bool_or(b.state = 2) h
                  FROM breakers b GROUP BY 1) x);
END
$$;

-- What waits for the worker: events not yet fanned out plus deliveries not
-- yet delivered (a reminder only once its time has come), those being sent
-- included, each counted up to 10,000. The ORDER BY on the partial
-- indexes' columns (audit_logs_events, deliveries_due, deliveries_leased)
-- keeps each plan on its index whatever the statistics say (a sequential
-- scan would read every event fanned out long ago to find the few
-- waiting), so a scrape reads at most 30,000 live index entries however
-- large the tables or the backlog grow.
CREATE OR REPLACE FUNCTION outbox_pending()
RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_cursor outbox_positions;
BEGIN
    -- The cursor as values: joined as a table, its row comparison is no
    -- index condition, and the scan read every event ever written.
    v_cursor := bk_outbox_cursor();
    RETURN (SELECT count(*) FROM (SELECT 1 FROM audit_logs l
                                   WHERE l.event_type IS NOT NULL
                                     AND (l.xid, l.seq) > (v_cursor.xid, v_cursor.seq)
                                   ORDER BY l.xid, l.seq LIMIT 10000) e)
         + (SELECT count(*) FROM (SELECT 1 FROM deliveries d
                                   WHERE d.status IN ('pending', 'failed')
                                     AND d.locked_until IS NULL
                                     AND (d.next_attempt_at <= now()
                                          OR d.action NOT IN ('sms.reminder', 'call.reminder'))
                                   ORDER BY d.next_attempt_at LIMIT 10000) d)
         + (SELECT count(*) FROM (SELECT 1 FROM deliveries d
                                   WHERE d.locked_until IS NOT NULL
                                     AND d.status IN ('pending', 'failed')
                                   ORDER BY d.locked_until LIMIT 10000) l);
END
$$;

-- The events as their targets receive them, for operators and tests:
-- fannedOut once the worker's cursor has passed them.
CREATE OR REPLACE VIEW outbox_events AS
SELECT l.id, l.org_id, l.event_type, l.entity_id, bk_event_payload(l) AS payload,
       l.at AS created_at, (l.xid, l.seq) <= (c.xid, c.seq) AS fanned_out
  FROM audit_logs l CROSS JOIN bk_outbox_cursor() c
 WHERE l.event_type IS NOT NULL;
