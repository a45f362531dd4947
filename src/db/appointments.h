/*
 * The booking store: book, check, cancel and reschedule, each one call of
 * the matching SQL function in one round trip (sql/10_booking.sql,
 * sql/20_availability.sql), returning a typed result; and reading
 * appointments and free slots. The handlers of src/api/ call these; they
 * never see SQL.
 *
 * Lock keys are computed here (core/lockkey) from what the range depends
 * on; the SQL function verifies they cover the range it books.
 */
#ifndef BOOKD_DB_APPOINTMENTS_H
#define BOOKD_DB_APPOINTMENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/json_text.h"
#include "db/pool.h"
#include "db/result.h"

struct db_book_request {
    const char *provider_id;      /* NULL: the organization's default */
    const char *contact_id;
    const char *service_id;       /* NULL: none */
    int64_t scheduled_at_ms;
    int duration_minutes;         /* 0: the service's duration */
    const char *notes;            /* NULL: none */
    const char *metadata_json;    /* NULL: {} */
    const char *actor;            /* "admin_key:<id>", "vapi", ... */
    const char *idempotency_key;  /* NULL: none */
    const unsigned char *request_hash; /* 32 bytes when idempotency_key is set */
    int lock_timeout_ms;          /* 0: 2000 */
    bool public_rules;            /* only the future, only in working hours */
    const char *hold_id;          /* NULL: none; else the hold to convert */
    const char *manage_hash;      /* NULL: none; else the new appointment's manage token,
                                     hashed (http_manage_token_new) */
};

struct db_reschedule_request {
    const char *appointment_id;
    const char *provider_id;      /* NULL: keep */
    int64_t scheduled_at_ms;
    int duration_minutes;         /* 0: keep */
    const char *actor;
    const char *idempotency_key;
    const unsigned char *request_hash;
    int lock_timeout_ms;
    bool public_rules;            /* a patient through a manage link */
    const char *manage_hash;      /* NULL: none; else the new appointment's token, hashed */
};

/*
 * Each fills *res (zeroed on entry; release with db_result_cleanup) and
 * returns 0 when the database answered (see res->outcome), or -1 with
 * outcome DB_UNAVAILABLE / DB_ERROR.
 */
int db_book(struct db_pool *pool, const struct db_org_ref *org, const struct db_book_request *req,
            struct db_result *res);
int db_reschedule(struct db_pool *pool, const struct db_org_ref *org,
                  const struct db_reschedule_request *req, struct db_result *res);
int db_cancel(struct db_pool *pool, const struct db_org_ref *org, const char *appointment_id,
              const char *reason, const char *actor, int lock_timeout_ms, struct db_result *res);
/* outcome DB_OK when free, DB_CONFLICT with the conflict otherwise. */
int db_check(struct db_pool *pool, const struct db_org_ref *org, const char *provider_id,
             int64_t scheduled_at_ms, int duration_minutes, int buffer_before_minutes,
             int buffer_after_minutes, const char *exclude_id, struct db_result *res);

/* One appointment by id: DB_OK with res->appointment, or DB_NOT_FOUND. */
int db_appointment_get(struct db_pool *pool, const struct db_org_ref *org, const char *id,
                       struct db_result *res);

struct db_appointment_filter {
    bool has_from, has_to;
    int64_t from_ms, to_ms;       /* from <= scheduledAt < to */
    const char *provider_id;      /* NULL: all */
    const char *contact_id;       /* NULL: all (a contact's page in the dashboard) */
    const char *status;           /* NULL: all */
    const char *after_id;         /* keyset cursor: rows after (after_ms, after_id) */
    int64_t after_ms;
    int limit;
};

/* A page ordered by scheduledAt then id: *out (malloc'd) is a JSON array
 * of appointment objects (read each with db_appointment_from_span). */
int db_appointment_list(struct db_pool *pool, const struct db_org_ref *org,
                        const struct db_appointment_filter *filter, char **out,
                        struct db_result *res);

/* Free start times on a local date (YYYY-MM-DD): *out (malloc'd) is the
 * API's slots array as JSON text, [{"scheduledAt","durationMinutes"}...].
 * See free_slots() in sql/20_availability.sql; `public_rules` (the public
 * key) cuts the grid by the organization's booking policies. */
int db_free_slots(struct db_pool *pool, const struct db_org_ref *org, const char *provider_id,
                  const char *date, int duration, int before, int after, int step,
                  bool public_rules, char **out, struct db_result *res);

/* How many free start times each local date from `from` to `to`
 * (YYYY-MM-DD, checked by the caller) has: *out (malloc'd) is JSON text,
 * [{"date","freeSlots"}...]. See free_slot_days() in
 * sql/20_availability.sql. */
int db_free_slot_days(struct db_pool *pool, const struct db_org_ref *org, const char *provider_id,
                      const char *from, const char *to, int duration, int before, int after,
                      int step, bool public_rules, char **out, struct db_result *res);

/* Reads an appointment object of the booking functions into *a (owned
 * strings: release with db_appointment_cleanup). 0 or -1. */
int db_appointment_from_span(const struct core_json_span *obj, struct db_appointment *a);

#endif
