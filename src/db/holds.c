#include "db/holds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/booking.h"

static int hold_once(struct db_pool *pool, const struct db_org_ref *org, const void *arg,
                     struct db_result *res)
{
    const struct db_hold_request *req = arg;
    struct db_booking_range r = {
        .provider_id = req->provider_id ? req->provider_id : org->default_provider_id,
        .at_ms = req->scheduled_at_ms,
        .duration = req->duration_minutes,
    };
    struct db_lock_set *ls;
    char ttl[16], cap[16];
    int rc;

    memset(res, 0, sizeof *res);
    if (!(ls = db_lock_set_for_new(pool, org, req->service_id, &r, req->lock_timeout_ms,
                                   req->idempotency_key ? req->request_hash : NULL, res)))
        return db_booking_not_run(res);
    snprintf(ttl, sizeof ttl, "%d", req->ttl_seconds);
    snprintf(cap, sizeof cap, "%d", req->max_public_holds);
    {
        const char *params[] = {
            org->org_id,   r.provider_id,    req->service_id, ls->at_text,
            ls->duration_text, ttl,          ls->keys_text,   ls->from_text,
            ls->to_text,   ls->timeout_text, req->actor,      req->public_rules ? "true" : "false",
            cap,           req->idempotency_key,
            req->idempotency_key ? ls->hash_text : NULL,
        };
        rc = db_booking_run(pool, "hold", 15, params, res);
    }
    if (rc == 0)
        db_booking_name_conflict(pool, org, &r, NULL, res);
    free(ls);
    return rc;
}

int db_hold_create(struct db_pool *pool, const struct db_org_ref *org,
                   const struct db_hold_request *req, struct db_result *res)
{
    return db_booking_with_service(pool, org, req->service_id, hold_once, req, res);
}

int db_hold_release(struct db_pool *pool, const struct db_org_ref *org, const char *hold_id,
                    const char *actor, int lock_timeout_ms, struct db_result *res)
{
    char timeout[16];
    const char *params[] = {org->org_id, hold_id, timeout, actor};

    memset(res, 0, sizeof *res);
    snprintf(timeout, sizeof timeout, "%d",
             lock_timeout_ms > 0 ? lock_timeout_ms : DB_DEFAULT_LOCK_TIMEOUT_MS);
    return db_booking_run(pool, "hold_release", 4, params, res);
}
