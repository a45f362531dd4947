/* Booking, listing, reading, cancelling and rescheduling appointments. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "api/api.h"
#include "api/params.h"
#include "app.h"
#include "core/sha256.h"
#include "core/time.h"
#include "core/validate.h"
#include "db/appointments.h"
#include "db/manage.h"
#include "http/auth.h"
#include "http/reply.h"
#include "metrics.h"

#define METADATA_MAX_BYTES 8192
#define LIST_LIMIT_DEFAULT 100
#define LIST_LIMIT_MAX 500

static void observe_booking(const struct db_result *res, const struct timespec *started)
{
    enum metrics_booking_result r;
    if (res->replayed) {
        /* A replay books nothing and waits for no lock: counted apart. */
        metrics_idempotent_replay();
        return;
    }
    switch (res->outcome) {
    case DB_OK:
        r = BOOKING_BOOKED;
        break;
    case DB_CONFLICT:
        r = BOOKING_CONFLICT;
        break;
    case DB_BUSY:
        r = BOOKING_BUSY;
        break;
    case DB_INVALID:
    case DB_IDEMPOTENCY_REUSED:
    case DB_NOT_FOUND:
    case DB_INVALID_STATE:
        r = BOOKING_INVALID;
        break;
    default:
        r = BOOKING_ERROR;
    }
    metrics_booking_observe(r, metrics_seconds_since(started),
                            res->outcome == DB_OK || res->outcome == DB_CONFLICT
                                ? (double)res->lock_wait_us / 1e6
                                : -1.0);
}

/*
 * The answer to a booking or a reschedule: {"appointmentId", with
 * "previousAppointmentId" for a reschedule, "appointment"} with `status`,
 * a 409 slot_unavailable, or the failure. A replayed answer says so.
 */
static void reply_outcome(struct http_request *req, struct http_response *resp,
                          const struct db_result *res, unsigned status, bool with_previous,
                          const char *manage_url)
{
    struct core_json_buf body = {0};

    if (res->outcome == DB_OK) {
        CORE_JSON_BUF_LITERAL(&body, "{\"appointmentId\":");
        core_json_buf_string(&body, res->appointment.id);
        if (manage_url) {
            CORE_JSON_BUF_LITERAL(&body, ",\"manageUrl\":");
            core_json_buf_string(&body, manage_url);
        }
        if (with_previous) {
            CORE_JSON_BUF_LITERAL(&body, ",\"previousAppointmentId\":");
            core_json_buf_string(&body, res->previous.id);
        }
        CORE_JSON_BUF_LITERAL(&body, ",\"appointment\":");
        api_appointment_write(&body, &res->appointment);
        CORE_JSON_BUF_LITERAL(&body, "}");
        http_reply_json_text(resp, status, &body);
        resp->replayed = res->replayed;
        return;
    }
    if (res->outcome == DB_CONFLICT)
        api_reply_conflict(req, resp, res);
    else
        api_reply_db_failure(resp, res);
}

void api_appointments_book(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"contactId", "scheduledAt", "durationMinutes",
                                         "providerId", "serviceId", "notes", "metadata",
                                         "holdId",    NULL};
    char contact[DB_ID_SIZE], provider[DB_ID_SIZE], service[DB_ID_SIZE], hold[DB_ID_SIZE];
    bool has_provider = false, has_service = false, has_hold = false, bad_key;
    struct db_book_request br = {0};
    struct db_org_ref org = api_org(req);
    struct db_result res;
    unsigned char hash[32];
    char *metadata = NULL, token[HTTP_MANAGE_TOKEN_SIZE] = "",
         manage_hash[HTTP_MANAGE_HASH_SIZE], manage_url[512];
    struct timespec started;

    clock_gettime(CLOCK_MONOTONIC, &started);
    br.idempotency_key = api_header_idempotency_key(req, resp, &bad_key);
    if (bad_key || !api_body_only_fields(req, resp, fields) ||
        !api_body_uuid(req, resp, "contactId", true, contact, NULL) ||
        !api_body_time(req, resp, "scheduledAt", true, &br.scheduled_at_ms) ||
        !api_body_int(req, resp, "durationMinutes", false, CORE_DURATION_MIN, CORE_DURATION_MAX,
                      &br.duration_minutes, NULL) ||
        !api_body_uuid(req, resp, "providerId", false, provider, &has_provider) ||
        !api_body_uuid(req, resp, "serviceId", false, service, &has_service) ||
        !api_body_string(req, resp, "notes", false, CORE_NOTES_MAX_CHARS, &br.notes) ||
        !api_body_object(req, resp, "metadata", METADATA_MAX_BYTES, &metadata) ||
        !api_body_uuid(req, resp, "holdId", false, hold, &has_hold))
        goto out;
    if (!br.duration_minutes && !has_service) {
        http_reply_invalid(resp, "durationMinutes",
                           "durationMinutes is required when no serviceId is given.");
        goto out;
    }
    br.contact_id = contact;
    br.provider_id = has_provider ? provider : NULL;
    br.service_id = has_service ? service : NULL;
    br.metadata_json = metadata;
    br.hold_id = has_hold ? hold : NULL;
    br.actor = req->auth.actor;
    br.lock_timeout_ms = req->app->cfg.lock_timeout_ms;
    br.public_rules = req->auth.principal != PRINCIPAL_ADMIN;
    if (br.idempotency_key) {
        api_request_hash(req, "POST /api/appointments", hash);
        br.request_hash = hash;
    }
    /* A patient's own booking gets its manage link (API.md, "Self-service
     * links for patients"). */
    if (req->auth.principal == PRINCIPAL_PUBLIC) {
        if (http_manage_token_new(token, manage_hash) != 0) {
            http_reply_error(resp, 500, "internal", NULL, "Could not make the manage link.");
            goto out;
        }
        br.manage_hash = manage_hash;
    }

    db_book(req->app->pool, &org, &br, &res);
    observe_booking(&res, &started);
    if (!res.replayed)
        api_holds_observe(&res);
    /* A replay's first token is kept nowhere in the clear: it gets another. */
    if (br.manage_hash && res.outcome == DB_OK && res.replayed) {
        struct db_result issued = {0};
        if (db_manage_issue(req->app->pool, org.org_id, res.appointment.id, manage_hash,
                            &issued) != 0)
            br.manage_hash = NULL;
        db_result_cleanup(&issued);
    }
    if (br.manage_hash && res.outcome == DB_OK)
        api_manage_url(req->app, token, manage_url, sizeof manage_url);
    reply_outcome(req, resp, &res, 201, false,
                  br.manage_hash && res.outcome == DB_OK ? manage_url : NULL);
    db_result_cleanup(&res);
out:
    OPENSSL_cleanse(token, sizeof token);
    free(metadata);
}

void api_appointments_reschedule(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"scheduledAt", "durationMinutes", "providerId", NULL};
    char provider[DB_ID_SIZE];
    bool has_provider = false, bad_key;
    struct db_reschedule_request rr = {0};
    struct db_org_ref org = api_org(req);
    struct db_result res;
    unsigned char hash[32];
    char operation[128];
    struct timespec started;

    clock_gettime(CLOCK_MONOTONIC, &started);
    rr.idempotency_key = api_header_idempotency_key(req, resp, &bad_key);
    if (bad_key || !api_body_only_fields(req, resp, fields) ||
        !api_body_time(req, resp, "scheduledAt", true, &rr.scheduled_at_ms) ||
        !api_body_int(req, resp, "durationMinutes", false, CORE_DURATION_MIN, CORE_DURATION_MAX,
                      &rr.duration_minutes, NULL) ||
        !api_body_uuid(req, resp, "providerId", false, provider, &has_provider))
        return;
    rr.appointment_id = req->params[0];
    rr.provider_id = has_provider ? provider : NULL;
    rr.actor = req->auth.actor;
    rr.lock_timeout_ms = req->app->cfg.lock_timeout_ms;
    if (rr.idempotency_key) {
        snprintf(operation, sizeof operation, "POST /api/appointments/%s/reschedule",
                 req->params[0]);
        api_request_hash(req, operation, hash);
        rr.request_hash = hash;
    }

    db_reschedule(req->app->pool, &org, &rr, &res);
    observe_booking(&res, &started);
    if (!res.replayed)
        api_holds_observe(&res);
    reply_outcome(req, resp, &res, 200, true, NULL);
    db_result_cleanup(&res);
}

static void reply_appointment(struct http_response *resp, const struct db_appointment *a)
{
    struct core_json_buf body = {0};
    api_appointment_write(&body, a);
    http_reply_json_text(resp, 200, &body);
}

void api_appointments_cancel(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"reason", NULL};
    const char *reason = NULL;
    struct db_org_ref org = api_org(req);
    struct db_result res;

    if (!api_body_only_fields(req, resp, fields) ||
        !api_body_string(req, resp, "reason", false, CORE_NOTES_MAX_CHARS, &reason))
        return;
    db_cancel(req->app->pool, &org, req->params[0], reason, req->auth.actor,
              req->app->cfg.lock_timeout_ms, &res);
    if (res.outcome == DB_OK)
        reply_appointment(resp, &res.appointment);
    else
        api_reply_db_failure(resp, &res);
    db_result_cleanup(&res);
}

void api_appointments_get(struct http_request *req, struct http_response *resp)
{
    struct db_org_ref org = api_org(req);
    struct db_result res;

    db_appointment_get(req->app->pool, &org, req->params[0], &res);
    if (res.outcome == DB_OK)
        reply_appointment(resp, &res.appointment);
    else
        api_reply_db_failure(resp, &res);
    db_result_cleanup(&res);
}

/*
 * The cursor is opaque to clients: base64url (RFC 4648 section 5, without
 * padding) of "<scheduledAt ms>,<id>" of the last row of the page, so it
 * can be pasted into a URL as it is: no '+', '/' or '=' to encode.
 */
static void encode_cursor(int64_t last_ms, const char *last_id, char *out, size_t size)
{
    char plain[64];
    int n = snprintf(plain, sizeof plain, "%lld,%s", (long long)last_ms, last_id);
    unsigned char b64[96];
    size_t len = (size_t)EVP_EncodeBlock(b64, (const unsigned char *)plain, n);

    while (len > 0 && b64[len - 1] == '=')
        len--;
    for (size_t k = 0; k < len; k++)
        b64[k] = b64[k] == '+' ? '-' : b64[k] == '/' ? '_' : b64[k];
    snprintf(out, size, "%.*s", (int)len, (const char *)b64);
}

static bool decode_cursor(const char *cursor, int64_t *ms, char *id)
{
    unsigned char plain[80], b64[100];
    size_t len = strlen(cursor), padded;
    char *comma, *end;
    long long v;
    int n;

    if (len == 0 || len > 96 || len % 4 == 1)
        return false;
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)cursor[k];
        if (!(isalnum(c) || c == '-' || c == '_'))
            return false;
        b64[k] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    for (padded = len; padded % 4; padded++)
        b64[padded] = '=';
    n = EVP_DecodeBlock(plain, b64, (int)padded);
    if (n <= 0)
        return false;
    n -= (int)(padded - len); /* each '=' decoded to a NUL */
    plain[n] = '\0';
    comma = strchr((char *)plain, ',');
    if (!comma)
        return false;
    v = strtoll((char *)plain, &end, 10);
    if (end != comma || core_uuid_normalize(comma + 1, strlen(comma + 1), id) != 0)
        return false;
    *ms = v;
    return true;
}

void api_appointments_list(struct http_request *req, struct http_response *resp)
{
    struct db_appointment_filter f = {.limit = LIST_LIMIT_DEFAULT};
    struct db_org_ref org = api_org(req);
    char provider[DB_ID_SIZE], contact[DB_ID_SIZE], after_id[DB_ID_SIZE], cursor_text[128],
        last_id[DB_ID_SIZE];
    int64_t last_ms = 0;
    bool has_provider = false, has_contact = false;
    const char *status = http_query(req, "status"), *cursor = http_query(req, "cursor");
    struct db_result res;
    char *rows = NULL;
    const char *at = NULL;
    struct core_json_span page, row;
    struct core_json_buf body = {0};
    int i = 0, more;

    if (!api_query_time(req, resp, "from", false, &f.from_ms, &f.has_from) ||
        !api_query_time(req, resp, "to", false, &f.to_ms, &f.has_to) ||
        !api_query_uuid(req, resp, "providerId", false, provider, &has_provider) ||
        !api_query_uuid(req, resp, "contactId", false, contact, &has_contact) ||
        !api_query_int(req, resp, "limit", false, 1, LIST_LIMIT_MAX, &f.limit, NULL))
        return;
    if (status && strcmp(status, "confirmed") != 0 && strcmp(status, "cancelled") != 0 &&
        strcmp(status, "rescheduled") != 0) {
        http_reply_invalid(resp, "status",
                           "status must be one of confirmed, cancelled, rescheduled.");
        return;
    }
    if (cursor && !decode_cursor(cursor, &f.after_ms, after_id)) {
        http_reply_invalid(resp, "cursor", "cursor is not one this server gave out.");
        return;
    }
    f.provider_id = has_provider ? provider : NULL;
    f.contact_id = has_contact ? contact : NULL;
    f.status = status;
    f.after_id = cursor ? after_id : NULL;
    f.limit += 1; /* one more than asked tells whether there is a next page */

    if (db_appointment_list(req->app->pool, &org, &f, &rows, &res) != 0 ||
        res.outcome != DB_OK) {
        api_reply_db_failure(resp, &res);
        return;
    }
    if (core_json_parse_span(rows, strlen(rows), &page) != 0) {
        res.outcome = DB_ERROR;
        api_reply_db_failure(resp, &res);
        free(rows);
        return;
    }
    /* The row past the page only tells that there is a next one. */
    CORE_JSON_BUF_LITERAL(&body, "{\"appointments\":[");
    while ((more = core_json_next_element(&page, &at, &row)) == 0 && ++i < f.limit) {
        struct db_appointment a = {0};
        if (db_appointment_from_span(&row, &a) != 0) {
            db_appointment_cleanup(&a);
            more = -1;
            break;
        }
        if (i > 1)
            CORE_JSON_BUF_LITERAL(&body, ",");
        api_appointment_write(&body, &a);
        last_ms = a.scheduled_at_ms;
        memcpy(last_id, a.id, DB_ID_SIZE);
        db_appointment_cleanup(&a);
    }
    free(rows);
    if (more < 0) {
        free(core_json_buf_take(&body, NULL));
        res.outcome = DB_ERROR;
        api_reply_db_failure(resp, &res);
        return;
    }
    CORE_JSON_BUF_LITERAL(&body, "],\"nextCursor\":");
    if (more == 0) { /* stopped at the row past the page */
        encode_cursor(last_ms, last_id, cursor_text, sizeof cursor_text);
        core_json_buf_string(&body, cursor_text);
    } else {
        CORE_JSON_BUF_LITERAL(&body, "null");
    }
    CORE_JSON_BUF_LITERAL(&body, "}");
    http_reply_json_text(resp, 200, &body);
}
