/*
 * What the booking functions of sql/10_booking.sql and sql/15_holds.sql
 * share on the C side (not used outside src/db/): the lock keys of a range
 * with the text arguments they are passed as, and the reading of their
 * jsonb answers into a struct db_result.
 */
#ifndef BOOKD_DB_BOOKING_H
#define BOOKD_DB_BOOKING_H

#include <stdbool.h>
#include <stdint.h>

#include "core/lockkey.h"
#include "core/time.h"
#include "db/pool.h"
#include "db/result.h"

#define DB_DEFAULT_LOCK_TIMEOUT_MS 2000
/* "{" + up to 20 digits and a sign + "," per key + "}" */
#define DB_KEYS_TEXT_SIZE (CORE_LOCK_MAX_KEYS * 22 + 3)

/* What a booking function is passed as text: the lock keys of the range
 * and the span they cover, and the values they depend on. */
struct db_lock_set {
    int64_t keys[CORE_LOCK_MAX_KEYS];
    size_t n;
    int64_t new_from, new_to;
    char keys_text[DB_KEYS_TEXT_SIZE];
    char from_text[CORE_ISO_LEN + 1], to_text[CORE_ISO_LEN + 1];
    char at_text[CORE_ISO_LEN + 1];
    char duration_text[16];
    char timeout_text[16];
    char hash_text[67]; /* "" without an idempotency key */
};

/* The range a booking or hold needs, and (for a reschedule) the range it
 * leaves. */
struct db_booking_range {
    const char *provider_id;
    int64_t at_ms;
    int duration, before, after;
    const char *old_provider_id; /* NULL: not a reschedule */
    int64_t old_start, old_end;
};

/*
 * Validates what the keys depend on and renders the SQL arguments. NULL
 * with res->outcome set (DB_INVALID naming the field, or DB_ERROR) when
 * there is nothing to book; free() the set.
 */
struct db_lock_set *db_lock_set_for(const struct db_org_ref *org,
                                    const struct db_booking_range *r, int lock_timeout_ms,
                                    const unsigned char *request_hash, struct db_result *res);

/*
 * The lock set of a new booking or hold: r->provider_id, r->at_ms and
 * r->duration (0: the service's) given; with a service, its duration and
 * buffers fill *r first. NULL with res->outcome set when there is nothing
 * to run: a refusal (DB_INVALID) or DB_ERROR / DB_UNAVAILABLE.
 */
struct db_lock_set *db_lock_set_for_new(struct db_pool *pool, const struct db_org_ref *org,
                                        const char *service_id, struct db_booking_range *r,
                                        int lock_timeout_ms, const unsigned char *request_hash,
                                        struct db_result *res);

/* What a db call answers when db_lock_set_for_new (or db_lock_set_for)
 * gave nothing to run: 0 for a refusal, -1 for a failure. */
int db_booking_not_run(const struct db_result *res);

/*
 * Runs `once` (a booking or a hold with `service_id`), and once more when
 * the database refused lock keys computed from the cached service (edited
 * by hand since): the cache forgets it and the row is read afresh.
 */
int db_booking_with_service(struct db_pool *pool, const struct db_org_ref *org,
                            const char *service_id,
                            int (*once)(struct db_pool *, const struct db_org_ref *,
                                        const void *, struct db_result *),
                            const void *req, struct db_result *res);

/* Runs a booking function (book, hold, ...) and reads its answer into
 * *res. 0 when the database answered (a refusal is an answer), -1 with
 * DB_UNAVAILABLE / DB_ERROR. */
int db_booking_run(struct db_pool *pool, const char *stmt, int n, const char *const *values,
                   struct db_result *res);

/* After a conflict reported by the exclusion constraint (a writer that
 * bypassed the locks raced us, so the answer names nothing), looks up what
 * is in the way, for the reply. */
void db_booking_name_conflict(struct db_pool *pool, const struct db_org_ref *org,
                              const struct db_booking_range *r, const char *exclude_id,
                              struct db_result *res);

#endif
