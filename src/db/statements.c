#include "db/statements.h"

/* Every statement calls a function of sql/ (bookd's role may execute
 * functions only: docs/design.md, "Least privilege"); reads are those of
 * sql/35_reads.sql. Results of the booking functions come back as jsonb text. */
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
    {"service_range", "SELECT * FROM service_range($1::uuid, $2::uuid)"},
    {"appointment_range", "SELECT * FROM appointment_range($1::uuid, $2::uuid)"},
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
     " $14::timestamptz, $15::int, $16::text, $17::bytea)::text"},
    {"vapi_say_time", "SELECT * FROM vapi_org_say_time($1::uuid, $2::timestamptz)"},
    {"vapi_find", "SELECT unnest(vapi_find_appointments($1::uuid, $2::text, $3::timestamptz))"},
    {"vapi_service", "SELECT * FROM vapi_service_id($1::uuid, $2::text)"},
    {"vapi_hold_get", "SELECT * FROM vapi_hold_get($1::uuid, $2::text)"},
    {"vapi_hold_set",
     "SELECT vapi_hold_set($1::uuid, $2::text, $3::uuid, $4::timestamptz)"},
    {"vapi_hold_forget", "SELECT vapi_hold_forget($1::uuid, $2::text)"},
    {"vapi_answer_get", "SELECT * FROM vapi_answer_get($1::uuid, $2::text)"},
    {"vapi_answer_put",
     "SELECT * FROM vapi_answer_put($1::uuid, $2::text, $3::boolean, $4::text)"},
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
    {"provider_list", "SELECT provider_list($1::uuid)"},
    {"service_create",
     "SELECT create_service($1::uuid, $2::text, $3::int, $4::int, $5::int, $6::text)::text"},
    {"service_list", "SELECT service_list($1::uuid)"},
    {"contact_create",
     "SELECT create_contact($1::uuid, $2::text, $3::text, $4::text, $5::text)::text"},
    {"contact_get", "SELECT * FROM contact_get($1::uuid, $2::uuid)"},
    {"contact_erase", "SELECT erase_contact($1::uuid, $2::uuid, $3::text)::text"},
    {"appointment_get", "SELECT * FROM appointment_get($1::uuid, $2::uuid)"},
    {"appointment_list",
     "SELECT appointment_list($1::uuid, $2::timestamptz, $3::timestamptz, $4::uuid, $5::text,"
     " $6::timestamptz, $7::uuid, $8::int, $9::uuid)"},
    {"audit_list", "SELECT audit_list($1::uuid, $2::uuid, $3::int)"},
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
    {"webhook_list", "SELECT webhook_list($1::uuid)"},
    {"webhook_delete", "SELECT delete_webhook_endpoint($1::uuid, $2::uuid, $3::text)::text"},
    {"delivery_list", "SELECT delivery_list($1::uuid, $2::text, $3::uuid, $4::int)"},
    /* Integrations (sql/45_integrations.sql). */
    {"integrations_get", "SELECT integrations_get($1::uuid)::text"},
    {"integration_put",
     "SELECT integration_put($1::uuid, $2::text, $3::jsonb, $4::bytea, $5::text, $6::text)::text"},
    {"integration_delete", "SELECT integration_delete($1::uuid, $2::text, $3::text)::text"},
    {"calendar_link", "SELECT calendar_link($1::uuid, $2::uuid, $3::text, $4::text)::text"},
    {"calendar_unlink", "SELECT calendar_unlink($1::uuid, $2::uuid, $3::text)::text"},
    {"calendar_sync", "SELECT calendar_sync_request($1::uuid, $2::uuid)::text"},
    {"delivery_retry", "SELECT retry_delivery($1::uuid, $2::uuid, $3::text)::text"},
    {"breaker_list", "SELECT * FROM breaker_list($1::uuid)"},
    {"ping", "SELECT 1"},
    {"outbox_pending", "SELECT outbox_pending()"},
    {"breaker_kinds", "SELECT breaker_kinds()"},
};

const int db_statement_count = (int)(sizeof db_statements / sizeof db_statements[0]);
