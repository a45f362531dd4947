#include "db/statements.h"

/* Results of the booking functions come back as jsonb text. */
const struct db_statement db_statements[] = {
    {"book",
     "SELECT book_appointment_with_lock($1::uuid, $2::uuid, $3::uuid, $4::uuid,"
     " $5::timestamptz, $6::int, $7::text, $8::jsonb, $9::bigint[], $10::timestamptz,"
     " $11::timestamptz, $12::int, $13::text, $14::text, $15::bytea)::text"},
    {"reschedule",
     "SELECT reschedule_appointment_with_lock($1::uuid, $2::uuid, $3::uuid, $4::timestamptz,"
     " $5::int, $6::bigint[], $7::timestamptz, $8::timestamptz, $9::int, $10::text, $11::text,"
     " $12::bytea)::text"},
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
     " FROM appointments WHERE org_id = $1::uuid AND id = $2::uuid"},
    {"org_create",
     "SELECT create_organization($1::text, $2::text, $3::bytea, $4::bytea, $5::bytea)::text"},
    {"provider_create",
     "INSERT INTO providers (org_id, name, working_hours) VALUES ($1::uuid, $2::text, $3::jsonb)"
     " RETURNING id"},
    {"service_create",
     "INSERT INTO services (org_id, name, duration_minutes, buffer_before_minutes,"
     " buffer_after_minutes) VALUES ($1::uuid, $2::text, $3::int, $4::int, $5::int) RETURNING id"},
    {"contact_create",
     "INSERT INTO contacts (org_id, name, phone, email) VALUES ($1::uuid, $2::text, $3::text,"
     " $4::text) RETURNING id"},
};

const int db_statement_count = (int)(sizeof db_statements / sizeof db_statements[0]);
