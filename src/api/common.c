/* What every resource file shares: the caller's organization, the mapping
 * of db outcomes to replies, rendering of appointments and conflicts, and
 * the hash an Idempotency-Key is stored with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "api/api.h"
#include "app.h"
#include "core/sha256.h"
#include "core/time.h"
#include "http/auth.h"
#include "http/reply.h"

struct db_org_ref api_org(const struct http_request *req)
{
    struct db_org_ref ref = {req->auth.org_id, req->auth.default_provider_id};
    return ref;
}

void api_reply_db_failure(struct http_response *resp, const struct db_result *res)
{
    switch (res->outcome) {
    case DB_INVALID:
        http_reply_invalid(resp, res->field[0] ? res->field : NULL, "%s.", res->message);
        break;
    case DB_NOT_FOUND:
        http_reply_not_found(resp);
        break;
    case DB_INVALID_STATE:
        http_reply_error(resp, 409, "invalid_state", NULL, "%s.", res->message);
        break;
    case DB_IDEMPOTENCY_REUSED:
        http_reply_error(resp, 422, "idempotency_key_reused", "Idempotency-Key",
                         "This Idempotency-Key was already used with a different request.");
        break;
    case DB_LIMITED:
        http_reply_error(resp, 429, "rate_limited", NULL, "%s.", res->message);
        resp->retry_after = 60;
        break;
    case DB_BUSY:
        http_reply_error(resp, 409, "slot_busy", NULL,
                         "The slot is being booked by another request; retry shortly.");
        resp->retry_after = 1;
        break;
    case DB_UNAVAILABLE:
        http_reply_unavailable(resp);
        resp->in_doubt = res->in_doubt;
        break;
    default:
        http_reply_error(resp, 500, "internal", NULL, "The request could not be completed.");
        break;
    }
}

void api_reply_object(struct http_response *resp, unsigned status, json_t *obj,
                      const struct db_result *res)
{
    if (res->outcome == DB_OK && obj)
        http_reply_json(resp, status, obj);
    else {
        json_decref(obj);
        api_reply_db_failure(resp, res);
    }
}

void api_reply_list(struct http_response *resp, const char *name, json_t *list,
                    const struct db_result *res)
{
    if (res->outcome == DB_OK && list)
        http_reply_json(resp, 200, json_pack("{s:o}", name, list));
    else
        api_reply_object(resp, 200, list, res);
}

static void write_time_or_null(struct core_json_buf *b, bool has, int64_t ms)
{
    char iso[CORE_ISO_LEN + 1];
    if (has && core_iso_format(ms, iso) == 0)
        core_json_buf_string(b, iso);
    else
        CORE_JSON_BUF_LITERAL(b, "null");
}

static void write_id_or_null(struct core_json_buf *b, const char *id)
{
    if (id[0])
        core_json_buf_string(b, id);
    else
        CORE_JSON_BUF_LITERAL(b, "null");
}

void api_appointment_write(struct core_json_buf *b, const struct db_appointment *a)
{
    static const char *const statuses[] = {"confirmed", "cancelled", "rescheduled"};

    CORE_JSON_BUF_LITERAL(b, "{\"id\":");
    core_json_buf_string(b, a->id);
    CORE_JSON_BUF_LITERAL(b, ",\"providerId\":");
    core_json_buf_string(b, a->provider_id);
    CORE_JSON_BUF_LITERAL(b, ",\"contactId\":");
    core_json_buf_string(b, a->contact_id);
    CORE_JSON_BUF_LITERAL(b, ",\"serviceId\":");
    write_id_or_null(b, a->service_id);
    CORE_JSON_BUF_LITERAL(b, ",\"scheduledAt\":");
    write_time_or_null(b, true, a->scheduled_at_ms);
    CORE_JSON_BUF_LITERAL(b, ",\"durationMinutes\":");
    core_json_buf_int(b, a->duration_minutes);
    CORE_JSON_BUF_LITERAL(b, ",\"status\":");
    core_json_buf_string(b, statuses[a->status]);
    CORE_JSON_BUF_LITERAL(b, ",\"notes\":");
    if (a->notes)
        core_json_buf_string(b, a->notes);
    else
        CORE_JSON_BUF_LITERAL(b, "null");
    /* Compact text as the database layer read it (db_appointment_from_span). */
    CORE_JSON_BUF_LITERAL(b, ",\"metadata\":");
    if (a->metadata_json)
        core_json_buf_raw(b, a->metadata_json, strlen(a->metadata_json));
    else
        CORE_JSON_BUF_LITERAL(b, "{}");
    CORE_JSON_BUF_LITERAL(b, ",\"createdAt\":");
    write_time_or_null(b, true, a->created_at_ms);
    CORE_JSON_BUF_LITERAL(b, ",\"cancelledAt\":");
    write_time_or_null(b, a->has_cancelled_at, a->cancelled_at_ms);
    CORE_JSON_BUF_LITERAL(b, ",\"rescheduledTo\":");
    write_id_or_null(b, a->rescheduled_to);
    CORE_JSON_BUF_LITERAL(b, "}");
}

static json_t *time_or_null(bool has, int64_t ms)
{
    char iso[CORE_ISO_LEN + 1];
    return has && core_iso_format(ms, iso) == 0 ? json_string(iso) : json_null();
}

void api_conflict_add(json_t *body, const struct db_conflict *c, bool with_id)
{
    json_t *o = json_object();
    if (c->busy) {
        json_object_set_new(o, "start", time_or_null(true, c->scheduled_at_ms));
        json_object_set_new(o, "end", time_or_null(true, c->end_ms));
        json_object_set_new(o, "source", json_string("google"));
        json_object_set_new(body, "conflictingBusy", o);
        return;
    }
    if (!c->hold && with_id && c->id[0])
        json_object_set_new(o, "id", json_string(c->id));
    json_object_set_new(o, "scheduledAt", time_or_null(true, c->scheduled_at_ms));
    json_object_set_new(o, "durationMinutes", json_integer(c->duration_minutes));
    if (c->hold)
        json_object_set_new(o, "expiresAt", time_or_null(true, c->expires_at_ms));
    json_object_set_new(body, c->hold ? "conflictingHold" : "conflictingAppointment", o);
}

void api_reply_conflict(struct http_request *req, struct http_response *resp,
                        const struct db_result *res)
{
    json_t *body = json_pack("{s:s, s:s}", "error", "slot_unavailable", "message",
                             res->conflict.busy
                                 ? "The requested time overlaps a busy time in the provider's "
                                   "calendar."
                             : res->conflict.hold
                                 ? "The requested time overlaps a time held for someone else."
                                 : "The requested time overlaps an existing appointment.");
    api_conflict_add(body, &res->conflict, req->auth.principal == PRINCIPAL_ADMIN);
    http_reply_json(resp, 409, body);
    resp->replayed = res->replayed;
}

void api_request_hash_of(const char *org_id, const char *operation, json_t *value,
                         unsigned char out[32])
{
    char *canonical = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 32;

    EVP_DigestInit_ex(ctx, core_sha256_md(), NULL);
    EVP_DigestUpdate(ctx, operation, strlen(operation));
    EVP_DigestUpdate(ctx, "\n", 1);
    EVP_DigestUpdate(ctx, org_id, strlen(org_id));
    EVP_DigestUpdate(ctx, "\n", 1);
    if (canonical)
        EVP_DigestUpdate(ctx, canonical, strlen(canonical));
    EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
    free(canonical);
}

void api_request_hash(const struct http_request *req, const char *operation,
                      unsigned char out[32])
{
    api_request_hash_of(req->auth.org_id, operation, req->json, out);
}
