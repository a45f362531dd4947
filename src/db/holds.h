/*
 * The holds store: keep a time for a caller who is still deciding, and
 * give it back (sql/15_holds.sql). A hold takes the lock keys of its range
 * like a booking (db/booking.h); POST /api/appointments with a holdId
 * converts it (db_book_request.hold_id).
 */
#ifndef BOOKD_DB_HOLDS_H
#define BOOKD_DB_HOLDS_H

#include <stdbool.h>
#include <stdint.h>

#include "db/pool.h"
#include "db/result.h"

struct db_hold_request {
    const char *provider_id;      /* NULL: the organization's default */
    const char *service_id;       /* NULL: none */
    int64_t scheduled_at_ms;
    int duration_minutes;         /* 0: the service's duration */
    int ttl_seconds;              /* 30-900 */
    const char *actor;
    int lock_timeout_ms;          /* 0: 2000 */
    bool public_rules;            /* only the future, only in working hours, capped */
    int max_public_holds;         /* the cap on an organization's unexpired holds (0: none) */
    const char *idempotency_key;  /* NULL: none */
    const unsigned char *request_hash; /* 32 bytes when idempotency_key is set */
};

/* DB_OK with res->hold, DB_CONFLICT, DB_BUSY, DB_INVALID, DB_LIMITED,
 * DB_IDEMPOTENCY_REUSED; res->replayed for a replay of the key's answer. */
int db_hold_create(struct db_pool *pool, const struct db_org_ref *org,
                   const struct db_hold_request *req, struct db_result *res);
/* DB_OK (res->hold_expired when its time was already up) or DB_NOT_FOUND. */
int db_hold_release(struct db_pool *pool, const struct db_org_ref *org, const char *hold_id,
                    const char *actor, int lock_timeout_ms, struct db_result *res);

#endif
