-- Who may do what (docs/design.md, "Least privilege"). `bookd migrate`
-- runs as the schema's owner. bookd's servers and workers connect as a
-- login role that is a member of bookd_api, which owns nothing, reads and
-- writes no table, creates nothing, and may only execute the functions
-- granted at the end of this file: the API. Each of those is SECURITY
-- DEFINER (with a fixed search_path), so it acts as the owner, and only in
-- the ways it was written to.
--
-- `bookd migrate` applies this file every time, after all the others: a
-- migration's DROP FUNCTION takes a function's grants with it, and a new
-- function starts out executable by PUBLIC.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bookd_api') THEN
        CREATE ROLE bookd_api NOLOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION 'the role bookd_api does not exist, and % may not create it', current_user
        USING HINT = 'As a superuser, run CREATE ROLE bookd_api NOLOGIN; then migrate again.';
END
$$;

-- Nobody but the owner creates anything in this database, temporary tables
-- included, so nothing can ever shadow a table a function reads. (A role
-- that owns neither the schema nor the database gets a warning here, not
-- an error: then its owner should run these two.)
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO bookd_api', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO bookd_api;

-- No table, sequence or function of ours for anyone else, except what
-- follows. Extensions' functions are theirs to govern.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, bookd_api;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, bookd_api;
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
              WHERE p.pronamespace = 'public'::regnamespace
                AND p.proowner = current_user::regrole
                AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                 WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                   AND d.deptype = 'e')
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC, bookd_api', f);
    END LOOP;
END
$$;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- The API: every function bookd calls (src/db/statements.c and the
-- worker's src/db/deliveries.c, integrations.c, secrets.c), and nothing
-- else. tests/sql/14_privileges.sql holds this list to what bookd_api can
-- do.
GRANT EXECUTE ON FUNCTION
    -- booking (sql/10_booking.sql, 15_holds.sql, 20_availability.sql)
    book_appointment_with_lock(uuid, uuid, uuid, uuid, timestamptz, int, text, jsonb, bigint[],
                               timestamptz, timestamptz, int, text, text, bytea, boolean, uuid,
                               bytea),
    reschedule_appointment_with_lock(uuid, uuid, uuid, timestamptz, int, bigint[], timestamptz,
                                     timestamptz, int, text, text, bytea, boolean, bytea),
    cancel_appointment(uuid, uuid, text, int, text),
    hold_slot(uuid, uuid, uuid, timestamptz, int, int, bigint[], timestamptz, timestamptz, int,
              text, boolean, int, text, bytea),
    release_hold(uuid, uuid, int, text),
    holds_purge(int),
    check_availability(uuid, uuid, timestamptz, int, int, int, uuid),
    free_slots(uuid, uuid, date, int, int, int, int, timestamptz, boolean, uuid),
    free_slot_days(uuid, uuid, date, date, int, int, int, int, timestamptz, boolean, uuid),
    bk_iso(timestamptz),
    -- the directory and keys (sql/30_directory.sql)
    key_owner(bytea, boolean),
    create_organization(text, text, bytea, bytea, bytea),
    org_get(uuid),
    org_update(uuid, text, jsonb, text),
    page_config(uuid, bytea, text, bytea),
    rotate_vapi_secret(uuid, bytea, text),
    create_provider(uuid, text, jsonb, text),
    set_working_hours(uuid, uuid, jsonb, text),
    create_service(uuid, text, int, int, int, text),
    create_contact(uuid, text, text, text, text),
    -- reads (sql/35_reads.sql)
    service_range(uuid, uuid),
    appointment_range(uuid, uuid),
    appointment_get(uuid, uuid),
    appointment_list(uuid, timestamptz, timestamptz, uuid, text, timestamptz, uuid, int, uuid),
    audit_list(uuid, uuid, int),
    provider_list(uuid),
    service_list(uuid),
    contact_get(uuid, uuid),
    webhook_list(uuid),
    delivery_list(uuid, text, uuid, int),
    -- erasure (sql/40_erasure.sql)
    erase_contact(uuid, uuid, text),
    -- integrations (sql/45_integrations.sql)
    integrations_get(uuid),
    integration_put(uuid, text, jsonb, bytea, text, text),
    integration_delete(uuid, text, text),
    integration_token_store(uuid, bytea, text, bigint),
    calendar_link(uuid, uuid, text, text),
    calendar_unlink(uuid, uuid, text),
    calendar_sync_request(uuid, uuid),
    calendar_sync_claim(int, int),
    calendar_sync_store(uuid, text, text[], text[], text[], int),
    secrets_census(text),
    -- deliveries (sql/50_deliveries.sql)
    create_webhook_endpoint(uuid, uuid, text, text[], bytea, text, text),
    delete_webhook_endpoint(uuid, uuid, text),
    retry_delivery(uuid, uuid, text),
    outbox_fan_out(int, int),
    outbox_fan_out(int, int, int, int),
    deliveries_claim(int, int),
    deliveries_release(int),
    deliveries_record(uuid[], text[], int[], text[], bigint[]),
    outbox_purge(int, int),
    outbox_pending(),
    breakers_read(uuid[], text[], boolean),
    breakers_save(uuid[], text[], smallint[], bigint[], int[], int[], bigint[], int[], int[],
                  bigint[]),
    breaker_list(uuid),
    breaker_kinds(),
    -- the voice agent (sql/60_vapi.sql)
    vapi_offer(uuid, uuid, int, int, int, timestamptz, date, int),
    vapi_book(uuid, text, text, text, text, text, text, uuid, uuid, timestamptz, int, bigint[],
              timestamptz, timestamptz, int, text, bytea),
    vapi_find_appointments(uuid, text, timestamptz),
    vapi_org_say_time(uuid, timestamptz),
    vapi_service_id(uuid, text),
    vapi_hold_get(uuid, text),
    vapi_hold_set(uuid, text, uuid, timestamptz),
    vapi_hold_forget(uuid, text),
    vapi_answer_get(uuid, text),
    vapi_answer_put(uuid, text, boolean, text),
    vapi_record_call(uuid, text, text, timestamptz, timestamptz, text),
    vapi_call_list(uuid, int),
    vapi_purge(int, int),
    -- manage links (sql/65_manage.sql)
    manage_get(bytea),
    manage_free_slots(bytea, date, date, int),
    manage_resolve(bytea),
    manage_cancel(bytea, int),
    manage_issue(uuid, uuid, bytea)
TO bookd_api;
