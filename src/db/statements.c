#include "db/statements.h"

/* Results of the booking functions come back as jsonb text. */
const struct db_statement db_statements[] = {
    {"book",
     "SELECT book_appointment_with_lock($1::uuid, $2::uuid, $3::uuid, $4::uuid,"
     " $5::timestamptz, $6::int, $7::text, $8::jsonb, $9::bigint[], $10::timestamptz,"
     " $11::timestamptz, $12::int, $13::text, $14::text, $15::bytea, $16::boolean,"
     " $17::uuid, $18::bytea)::text"},
    {"hold",
     "SELECT hold_slot($1::uuid, $2::uuid, $3::uuid, $4::timestamptz, $5::int, $6::int,"
     " $7::bigint[], $8::timestamptz, $9::timestamptz, $10::int, $11::text, $12::boolean,"
     " $13::int, $14::text, $15::bytea)::text"},
    {"hold_release", "SELECT release_hold($1::uuid, $2::uuid, $3::int, $4::text)::text"},
    {"reschedule",
     "SELECT reschedule_appointment_with_lock($1::uuid, $2::uuid, $3::uuid, $4::timestamptz,"
     " $5::int, $6::bigint[], $7::timestamptz, $8::timestamptz, $9::int, $10::text, $11::text,"
     " $12::bytea, $13::boolean, $14::bytea)::text"},
    /* Manage links (sql/65_manage.sql); $1 the token's hash. */
    {"manage_get", "SELECT manage_get($1::bytea)::text"},
    {"manage_free_slots", "SELECT manage_free_slots($1::bytea, $2::date, $3::date, $4::int)"},
    {"manage_resolve",
     "SELECT org_id, appointment_id, default_provider_id, timezone FROM manage_resolve($1::bytea)"},
    {"manage_cancel", "SELECT manage_cancel($1::bytea, $2::int)::text"},
    {"manage_issue", "SELECT manage_issue($1::uuid, $2::uuid, $3::bytea)"},
    {"cancel",
     "SELECT cancel_appointment($1::uuid, $2::uuid, $3::text, $4::int, $5::text)::text"},
    {"check",
     "SELECT check_availability($1::uuid, $2::uuid, $3::timestamptz, $4::int, $5::int, $6::int,"
     " $7::uuid)::text"},
    /* What a booking's lock range depends on, read before locking. Services
     * and an appointment's provider, duration and buffers never change. */
    {"service_range",
     "SELECT duration_minutes, buffer_before_minutes, buffer_after_minutes"
     " FROM services WHERE org_id = $1::uuid AND id = $2::uuid"},
    {"appointment_range",
     "SELECT provider_id, (extract(epoch FROM buffered_start) * 1000)::bigint,"
     " (extract(epoch FROM buffered_end) * 1000)::bigint, duration_minutes,"
     " buffer_before_minutes, buffer_after_minutes"
     " FROM appointments WHERE org_id = $1::uuid AND id = $2::uuid AND status <> 'held'"},
    {"key_lookup", "SELECT * FROM key_owner($1::bytea, false)"},
    /* The same columns for an organization's Vapi secret: kind 'vapi', no key id. */
    {"vapi_lookup", "SELECT * FROM key_owner($1::bytea, true)"},
    {"vapi_secret_rotate", "SELECT rotate_vapi_secret($1::uuid, $2::bytea, $3::text)::text"},
    /* The voice agent (sql/60_vapi.sql, db/vapi.c). */
    {"vapi_offer",
     "SELECT vapi_offer($1::uuid, $2::uuid, $3::int, $4::int, $5::int, $6::timestamptz,"
     " $7::date, $8::int)::text"},
    {"vapi_book",
     "SELECT vapi_book($1::uuid, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text,"
     " $8::uuid, $9::uuid, $10::timestamptz, $11::int, $12::bigint[], $13::timestamptz,"
     " $14::timestamptz, $15::int, $16::text)::text"},
    {"vapi_say_time",
     "SELECT vapi_say_time($2::timestamptz, timezone) FROM organizations WHERE id = $1::uuid"},
    {"vapi_find", "SELECT unnest(vapi_find_appointments($1::uuid, $2::text, $3::timestamptz))"},
    {"vapi_service",
     "SELECT id FROM services WHERE org_id = $1::uuid AND lower(name) = lower($2::text)"
     " ORDER BY id LIMIT 1"},
    {"vapi_hold_get",
     "SELECT hold_id, (extract(epoch FROM scheduled_at) * 1000)::bigint FROM vapi_call_holds"
     " WHERE org_id = $1::uuid AND call_id = $2::text"},
    /* The hold it replaced, if any (NULL otherwise). */
    {"vapi_hold_set",
     "WITH old AS (SELECT hold_id FROM vapi_call_holds"
     " WHERE org_id = $1::uuid AND call_id = $2::text FOR UPDATE)"
     " INSERT INTO vapi_call_holds (org_id, call_id, hold_id, scheduled_at)"
     " VALUES ($1::uuid, $2::text, $3::uuid, $4::timestamptz) ON CONFLICT (org_id, call_id)"
     " DO UPDATE SET hold_id = EXCLUDED.hold_id, scheduled_at = EXCLUDED.scheduled_at,"
     " created_at = now() RETURNING (SELECT hold_id FROM old)"},
    {"vapi_hold_forget",
     "DELETE FROM vapi_call_holds WHERE org_id = $1::uuid AND call_id = $2::text RETURNING 1"},
    {"vapi_answer_get",
     "SELECT is_error, answer FROM vapi_tool_results"
     " WHERE org_id = $1::uuid AND tool_call_id = $2::text"},
    {"vapi_answer_put",
     "INSERT INTO vapi_tool_results (org_id, tool_call_id, is_error, answer)"
     " VALUES ($1::uuid, $2::text, $3::boolean, $4::text) ON CONFLICT DO NOTHING"
     " RETURNING is_error, answer"},
    {"vapi_call_record",
     "SELECT vapi_record_call($1::uuid, $2::text, $3::text, $4::timestamptz, $5::timestamptz,"
     " $6::text)::text"},
    {"vapi_call_list", "SELECT vapi_call_list($1::uuid, $2::int)::text"},
    {"org_get", "SELECT org_get($1::uuid)::text"},
    {"page_config",
     "SELECT c::text FROM page_config($1::uuid, $2::bytea, $3::text, $4::bytea) c"
     " WHERE c IS NOT NULL"},
    {"org_update", "SELECT org_update($1::uuid, $2::text, $3::jsonb, $4::text)::text"},
    {"org_create",
     "SELECT create_organization($1::text, $2::text, $3::bytea, $4::bytea, $5::bytea)::text"},
    {"provider_create", "SELECT create_provider($1::uuid, $2::text, $3::jsonb, $4::text)::text"},
    {"provider_set_hours",
     "SELECT set_working_hours($1::uuid, $2::uuid, $3::jsonb, $4::text)::text"},
    {"provider_list",
     "SELECT coalesce(json_agg(json_build_object('id', id, 'name', name,"
     " 'workingHours', working_hours) ORDER BY created_at, id), '[]')::text"
     " FROM providers WHERE org_id = $1::uuid"},
    {"service_create",
     "SELECT create_service($1::uuid, $2::text, $3::int, $4::int, $5::int, $6::text)::text"},
    {"service_list",
     "SELECT coalesce(json_agg(json_build_object('id', id, 'name', name,"
     " 'durationMinutes', duration_minutes, 'bufferBeforeMinutes', buffer_before_minutes,"
     " 'bufferAfterMinutes', buffer_after_minutes) ORDER BY created_at, id), '[]')::text"
     " FROM services WHERE org_id = $1::uuid"},
    {"contact_create",
     "SELECT create_contact($1::uuid, $2::text, $3::text, $4::text, $5::text)::text"},
    {"contact_get",
     "SELECT json_build_object('id', id, 'name', name, 'phone', phone, 'email', email)::text"
     " FROM contacts WHERE org_id = $1::uuid AND id = $2::uuid AND erased_at IS NULL"},
    {"contact_erase", "SELECT erase_contact($1::uuid, $2::uuid, $3::text)::text"},
    {"appointment_get",
     "SELECT bk_appointment_json(a)::text FROM appointments a"
     " WHERE a.org_id = $1::uuid AND a.id = $2::uuid AND a.status <> 'held'"},
    /* Keyset pagination on (scheduled_at, id): $6/$7 is the last row seen.
     * Holds are not appointments: never listed, never found by id. */
    {"appointment_list",
     "SELECT coalesce(json_agg(bk_appointment_json(a) ORDER BY a.scheduled_at, a.id), '[]')::text"
     " FROM (SELECT * FROM appointments WHERE org_id = $1::uuid AND status <> 'held'"
     " AND ($2::timestamptz IS NULL OR scheduled_at >= $2::timestamptz)"
     " AND ($3::timestamptz IS NULL OR scheduled_at < $3::timestamptz)"
     " AND ($4::uuid IS NULL OR provider_id = $4::uuid)"
     " AND ($5::text IS NULL OR status = $5::text)"
     " AND ($6::timestamptz IS NULL OR (scheduled_at, id) > ($6::timestamptz, $7::uuid))"
     " AND ($9::uuid IS NULL OR contact_id = $9::uuid)"
     " ORDER BY scheduled_at, id LIMIT $8::int) a"},
    {"audit_list",
     "SELECT coalesce(json_agg(json_build_object('id', id, 'at', bk_iso(at),"
     " 'actor', actor, 'action', action, 'entityType', entity_type, 'entityId', entity_id,"
     " 'details', details) ORDER BY at DESC, seq DESC), '[]')::text"
     " FROM (SELECT * FROM audit_logs WHERE org_id = $1::uuid"
     " AND ($2::uuid IS NULL OR entity_id = $2::uuid)"
     " ORDER BY at DESC, seq DESC LIMIT $3::int) x"},
    /* The API's slots array itself, compact, so bookd passes it on as it is
     * (only times and a number: nothing to escape). */
    {"free_slots",
     "SELECT '[' || coalesce(string_agg(format('{\"scheduledAt\":\"%s\",\"durationMinutes\":%s}',"
     " bk_iso(slot_start), $4::int), ',' ORDER BY slot_start), '') || ']'"
     " FROM free_slots($1::uuid, $2::uuid, $3::date, $4::int, $5::int, $6::int, $7::int, now(),"
     " $8::boolean)"},
    {"free_slot_days",
     "SELECT '[' || coalesce(string_agg(format('{\"date\":\"%s\",\"freeSlots\":%s}', day,"
     " slot_count), ',' ORDER BY day), '') || ']'"
     " FROM free_slot_days($1::uuid, $2::uuid, $3::date, $4::date, $5::int, $6::int, $7::int,"
     " $8::int, now(), $9::boolean)"},
    {"webhook_create",
     "SELECT create_webhook_endpoint($1::uuid, $2::uuid, $3::text,"
     " ARRAY(SELECT jsonb_array_elements_text($4::jsonb)), $5::bytea, $6::text, $7::text)::text"},
    {"webhook_list",
     "SELECT coalesce(json_agg(json_build_object('id', id, 'url', url, 'events', events,"
     " 'disabled', disabled_at IS NOT NULL) ORDER BY created_at, id), '[]')::text"
     " FROM webhook_endpoints WHERE org_id = $1::uuid"},
    {"webhook_delete", "SELECT delete_webhook_endpoint($1::uuid, $2::uuid, $3::text)::text"},
    /* Newest first; $2/$3 filter by status and endpoint. */
    {"delivery_list",
     "SELECT coalesce(json_agg(bk_delivery_json(d, ev.event_type)"
     " ORDER BY d.created_at DESC, d.id DESC), '[]')::text"
     " FROM (SELECT * FROM deliveries WHERE org_id = $1::uuid"
     " AND ($2::text IS NULL OR status = $2::text)"
     " AND endpoint_id IS NOT NULL AND ($3::uuid IS NULL OR endpoint_id = $3::uuid)"
     " ORDER BY created_at DESC, id DESC LIMIT $4::int) d"
     " JOIN outbox_events ev ON ev.id = d.event_id"},
    /* Integrations (sql/45_integrations.sql). */
    {"integrations_get", "SELECT integrations_get($1::uuid)::text"},
    {"integration_put",
     "SELECT integration_put($1::uuid, $2::text, $3::jsonb, $4::bytea, $5::text, $6::text)::text"},
    {"integration_delete", "SELECT integration_delete($1::uuid, $2::text, $3::text)::text"},
    {"calendar_link", "SELECT calendar_link($1::uuid, $2::uuid, $3::text, $4::text)::text"},
    {"calendar_unlink", "SELECT calendar_unlink($1::uuid, $2::uuid, $3::text)::text"},
    {"calendar_sync", "SELECT calendar_sync_request($1::uuid, $2::uuid)::text"},
    {"delivery_retry", "SELECT retry_delivery($1::uuid, $2::uuid, $3::text)::text"},
    /* The organization's breakers as stored (core/breaker.h's fields). */
    {"breaker_list",
     "SELECT target, state, window_bits, window_calls, consecutive_failures,"
     " (extract(epoch FROM opened_at) * 1000)::bigint, trials_in_flight, trials_succeeded,"
     " (extract(epoch FROM trial_claimed_at) * 1000)::bigint"
     " FROM breakers WHERE org_id = $1::uuid ORDER BY target"},
    {"ping", "SELECT 1"},
    /* What waits for the worker: events not yet fanned out plus deliveries
     * not yet delivered (a reminder only once its time has come), each
     * counted up to 10,000. The ORDER BY on the
     * partial indexes' columns (outbox_events_pending, deliveries_due)
     * keeps each plan on its index whatever the statistics say (a
     * sequential scan would read every processed row to find few waiting
     * ones), so a scrape reads at most 20,000 index entries however large
     * the tables or the backlog grow. */
    {"outbox_pending",
     "SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox_events WHERE processed_at IS NULL"
     " ORDER BY created_at LIMIT 10000) e)"
     " + (SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE status IN ('pending', 'failed')"
     " AND (next_attempt_at <= now() OR action NOT IN ('sms.reminder', 'call.reminder'))"
     " ORDER BY next_attempt_at LIMIT 10000) d)"},
    /* Per target kind ("webhook", "google", ...): the latest opening among
     * its open breakers (ms, 0: none) and whether one is half-open, as
     * "kind=opened,half;..." (one value, for db_pool_probe). Whether an
     * open breaker's time is up is judged in C (api/ops.c). */
    {"breaker_kinds",
     "SELECT coalesce(string_agg(format('%s=%s,%s', k, coalesce(o, 0), h::int), ';'), '')"
     " FROM (SELECT split_part(target, ':', 1) k,"
     " (max(extract(epoch FROM opened_at) * 1000) FILTER (WHERE state = 1))::bigint o,"
     " bool_or(state = 2) h FROM breakers GROUP BY 1) x"},
};

const int db_statement_count = (int)(sizeof db_statements / sizeof db_statements[0]);
