/* Self-service links for patients (API.md, "Self-service links for
 * patients"): a patient with a manage link sees their appointment, cancels
 * it or moves it, without a key. The token in the path is the right to do
 * so; it is never logged or stored in the clear (only its SHA-256). The
 * rules are the public key's and the organization's policies; the audit
 * log's actor is "manage_link". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api/api.h"
#include "api/params.h"
#include "app.h"
#include "db/appointments.h"
#include "db/manage.h"
#include "http/auth.h"
#include "http/reply.h"

void api_manage_url(const struct app *app, const char *token, char *out, size_t size)
{
    snprintf(out, size, "%s/manage/%s", app->public_url, token);
}

/* A token that does not work gets a sentence a patient understands. */
static void reply_failure(struct http_response *resp, const struct db_result *res)
{
    if (res->outcome == DB_NOT_FOUND)
        http_reply_error(resp, 404, "not_found", NULL,
                         "This link does not work (any more): the appointment was cancelled, "
                         "moved or has begun, or the link is mistyped.");
    else
        api_reply_db_failure(resp, res);
}

/* The answer of a manage call: the object, or the failure. */
static void reply(struct http_response *resp, json_t *out, const struct db_result *res)
{
    if (res->outcome == DB_OK && out)
        http_reply_json(resp, 200, out);
    else {
        json_decref(out);
        reply_failure(resp, res);
    }
}

void api_manage_get(struct http_request *req, struct http_response *resp)
{
    char hash[HTTP_MANAGE_HASH_SIZE];
    json_t *out = NULL;
    struct db_result res;

    http_manage_token_hash(req->params[0], hash);
    db_manage_get(req->app->pool, hash, &out, &res);
    reply(resp, out, &res);
}

/*
 * GET /api/manage/{token}/availability?date= and .../availability/days?
 * from=&to=: the times the appointment may move to, the appointment itself
 * left out (moving 10:00 to 10:15 is offered when 10:15 is free), by the
 * public rules and policies, for its provider, length and service.
 */
static void free_slots(struct http_request *req, struct http_response *resp, bool days)
{
    char hash[HTTP_MANAGE_HASH_SIZE];
    char *text = NULL;
    int step = 15;
    int64_t date;
    struct db_result res;

    if (!(days ? api_query_date_range(req, resp, API_DAYS_MAX)
               : api_query_date(req, resp, "date", &date)) ||
        !api_query_int(req, resp, "stepMinutes", false, 5, 240, &step, NULL))
        return;
    http_manage_token_hash(req->params[0], hash);
    if (db_manage_free_slots(req->app->pool, hash, http_query(req, days ? "from" : "date"),
                             days ? http_query(req, "to") : NULL, step, &text, &res) == 0 &&
        res.outcome == DB_OK && text)
        http_reply_text(resp, 200, HTTP_JSON_TYPE, text, strlen(text));
    else
        reply_failure(resp, &res);
    free(text);
}

void api_manage_slots(struct http_request *req, struct http_response *resp)
{
    free_slots(req, resp, false);
}

void api_manage_slot_days(struct http_request *req, struct http_response *resp)
{
    free_slots(req, resp, true);
}

void api_manage_cancel(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {NULL};
    char hash[HTTP_MANAGE_HASH_SIZE];
    json_t *out = NULL;
    struct db_result res;

    if (req->json && !api_body_only_fields(req, resp, fields))
        return;
    http_manage_token_hash(req->params[0], hash);
    db_manage_cancel(req->app->pool, hash, req->app->cfg.lock_timeout_ms, &out, &res);
    reply(resp, out, &res);
}

/*
 * Moves the appointment through the booking API's own reschedule (locks,
 * conflicts, audit, events), with the public rules and the policies, and
 * gives the new appointment a token of its own: the old link stops working
 * with the old appointment.
 */
void api_manage_reschedule(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"scheduledAt", NULL};
    char hash[HTTP_MANAGE_HASH_SIZE], token[HTTP_MANAGE_TOKEN_SIZE],
        new_hash[HTTP_MANAGE_HASH_SIZE], url[512];
    struct db_reschedule_request rr = {0};
    struct db_manage_ref ref;
    struct db_org_ref org;
    struct db_result res;
    json_t *out = NULL;

    if (!api_body_only_fields(req, resp, fields) ||
        !api_body_time(req, resp, "scheduledAt", true, &rr.scheduled_at_ms))
        return;
    http_manage_token_hash(req->params[0], hash);
    if (db_manage_resolve(req->app->pool, hash, &ref, &res) != 0 || res.outcome != DB_OK) {
        reply_failure(resp, &res);
        return;
    }
    if (http_manage_token_new(token, new_hash) != 0) {
        http_reply_error(resp, 500, "internal", NULL, "Could not make a new link.");
        return;
    }
    org = (struct db_org_ref){ref.org_id, ref.default_provider_id};
    rr.appointment_id = ref.appointment_id;
    rr.actor = "manage_link";
    rr.lock_timeout_ms = req->app->cfg.lock_timeout_ms;
    rr.public_rules = true;
    rr.manage_hash = new_hash;
    db_reschedule(req->app->pool, &org, &rr, &res);
    if (res.outcome == DB_CONFLICT) {
        api_reply_conflict(req, resp, &res);
    } else if (res.outcome != DB_OK) {
        reply_failure(resp, &res);
    } else {
        /* The new appointment as the patient sees it, by its new token. */
        struct db_result shown = {0};
        if (db_manage_get(req->app->pool, new_hash, &out, &shown) == 0 && out) {
            api_manage_url(req->app, token, url, sizeof url);
            json_object_set_new(out, "manageUrl", json_string(url));
            json_object_del(out, "organization");
            http_reply_json(resp, 200, out);
        } else {
            json_decref(out);
            api_reply_db_failure(resp, &shown);
        }
        db_result_cleanup(&shown);
    }
    db_result_cleanup(&res);
    OPENSSL_cleanse(token, sizeof token);
}
