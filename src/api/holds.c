/*
 * Slot holds (API.md, "Slot holds"): keep an offered time for a caller who
 * is still deciding, and give it back. POST /api/appointments with a
 * holdId converts one (api/appointments.c).
 */
#include <string.h>

#include "api/api.h"
#include "api/params.h"
#include "app.h"
#include "core/time.h"
#include "core/validate.h"
#include "db/holds.h"
#include "http/auth.h"
#include "http/reply.h"
#include "metrics.h"

#define HOLD_TTL_MIN 30
#define HOLD_TTL_MAX 900
#define HOLD_TTL_DEFAULT 300

void api_holds_observe(const struct db_result *res)
{
    if (res->outcome == DB_OK && res->hold_converted)
        metrics_holds_add(HOLD_CONVERTED, 1);
    metrics_holds_add(HOLD_EXPIRED, res->expired_holds);
}

static void reply_hold(struct http_response *resp, const struct db_result *res)
{
    const struct db_hold *h = &res->hold;
    char at[CORE_ISO_LEN + 1], expires[CORE_ISO_LEN + 1];
    json_t *body;

    if (core_iso_format(h->scheduled_at_ms, at) != 0 ||
        core_iso_format(h->expires_at_ms, expires) != 0) {
        http_reply_error(resp, 500, "internal", NULL, "The request could not be completed.");
        return;
    }
    body = json_pack("{s:s, s:s, s:i, s:s, s:o, s:s}", "holdId", h->id, "scheduledAt", at,
                     "durationMinutes", h->duration_minutes, "providerId", h->provider_id,
                     "serviceId", h->service_id[0] ? json_string(h->service_id) : json_null(),
                     "expiresAt", expires);
    http_reply_json(resp, 201, body);
    resp->replayed = res->replayed;
}

void api_holds_create(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"scheduledAt", "durationMinutes", "serviceId",
                                         "providerId",  "ttlSeconds",      NULL};
    char provider[DB_ID_SIZE], service[DB_ID_SIZE];
    bool has_provider = false, has_service = false, bad_key;
    struct db_hold_request hr = {.ttl_seconds = HOLD_TTL_DEFAULT};
    struct db_org_ref org = api_org(req);
    struct db_result res;
    unsigned char hash[32];

    hr.idempotency_key = api_header_idempotency_key(req, resp, &bad_key);
    if (bad_key || !api_body_only_fields(req, resp, fields) ||
        !api_body_time(req, resp, "scheduledAt", true, &hr.scheduled_at_ms) ||
        !api_body_int(req, resp, "durationMinutes", false, CORE_DURATION_MIN, CORE_DURATION_MAX,
                      &hr.duration_minutes, NULL) ||
        !api_body_uuid(req, resp, "serviceId", false, service, &has_service) ||
        !api_body_uuid(req, resp, "providerId", false, provider, &has_provider) ||
        !api_body_int(req, resp, "ttlSeconds", false, HOLD_TTL_MIN, HOLD_TTL_MAX,
                      &hr.ttl_seconds, NULL))
        return;
    if (!hr.duration_minutes && !has_service) {
        http_reply_invalid(resp, "durationMinutes",
                           "durationMinutes is required when no serviceId is given.");
        return;
    }
    hr.provider_id = has_provider ? provider : NULL;
    hr.service_id = has_service ? service : NULL;
    hr.actor = req->auth.actor;
    hr.lock_timeout_ms = req->app->cfg.lock_timeout_ms;
    hr.public_rules = req->auth.principal != PRINCIPAL_ADMIN;
    hr.max_public_holds = req->app->cfg.public_holds_max;
    if (hr.idempotency_key) {
        api_request_hash(req, "POST /api/holds", hash);
        hr.request_hash = hash;
    }

    db_hold_create(req->app->pool, &org, &hr, &res);
    if (res.replayed) {
        metrics_idempotent_replay();
    } else {
        api_holds_observe(&res);
        if (res.outcome == DB_OK || res.outcome == DB_CONFLICT)
            metrics_holds_add(res.outcome == DB_OK ? HOLD_HELD : HOLD_CONFLICT, 1);
    }
    if (res.outcome == DB_OK) {
        reply_hold(resp, &res);
    } else if (res.outcome == DB_CONFLICT) {
        api_reply_conflict(req, resp, &res);
    } else {
        api_reply_db_failure(resp, &res);
    }
    db_result_cleanup(&res);
}

void api_holds_release(struct http_request *req, struct http_response *resp)
{
    struct db_org_ref org = api_org(req);
    struct db_result res;

    db_hold_release(req->app->pool, &org, req->params[0], req->auth.actor,
                    req->app->cfg.lock_timeout_ms, &res);
    if (res.outcome == DB_OK && res.hold_expired) {
        /* Its time was up: gone for everyone already, so unknown here. */
        metrics_holds_add(HOLD_EXPIRED, 1);
        http_reply_not_found(resp);
    } else if (res.outcome == DB_OK) {
        metrics_holds_add(HOLD_RELEASED, 1);
        http_reply_empty(resp, 204);
    } else {
        api_reply_db_failure(resp, &res);
    }
    db_result_cleanup(&res);
}
