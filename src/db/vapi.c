#include "db/vapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "db/booking.h"
#include "db/outbox_signal.h"
#include "db/query.h"

static void copy_string(json_t *v, char *out, size_t size)
{
    snprintf(out, size, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int db_vapi_offer(struct db_pool *pool, const char *org_id, const char *provider_id,
                  int duration, int before, int after, bool has_at, int64_t at_ms,
                  const char *date, struct db_vapi_offers *out, struct db_result *res)
{
    char dur[16], bef[16], aft[16], lim[16], at[CORE_ISO_LEN + 1];
    const char *params[] = {org_id, provider_id, dur, bef, aft, has_at ? at : NULL, date, lim};
    json_t *root = NULL, *offers, *o;
    size_t i;
    int rc;

    memset(out, 0, sizeof *out);
    memset(res, 0, sizeof *res);
    snprintf(dur, sizeof dur, "%d", duration);
    snprintf(bef, sizeof bef, "%d", before);
    snprintf(aft, sizeof aft, "%d", after);
    snprintf(lim, sizeof lim, "%d", DB_VAPI_OFFERS);
    if (has_at && core_iso_format(at_ms, at) != 0) {
        db_set_invalid(res, "scheduledAt", "scheduledAt is out of range");
        return 0;
    }
    rc = db_fetch_json(pool, "vapi_offer", 8, params, &root, res);
    if (rc != 0 || res->outcome != DB_OK || !json_is_object(root)) {
        json_decref(root);
        return rc;
    }
    copy_string(json_object_get(root, "day"), out->day, sizeof out->day);
    copy_string(json_object_get(root, "hours"), out->hours, sizeof out->hours);
    copy_string(json_object_get(root, "requestedClock"), out->requested_clock,
                sizeof out->requested_clock);
    out->requested_free = json_is_true(json_object_get(root, "requestedFree"));
    out->past = json_is_string(json_object_get(root, "reason")) &&
                strcmp(json_string_value(json_object_get(root, "reason")), "past") == 0;
    out->closed = json_is_string(json_object_get(root, "reason")) &&
                  strcmp(json_string_value(json_object_get(root, "reason")), "closed") == 0;
    out->soon = json_is_string(json_object_get(root, "reason")) &&
                strcmp(json_string_value(json_object_get(root, "reason")), "soon") == 0;
    out->far = json_is_string(json_object_get(root, "reason")) &&
               strcmp(json_string_value(json_object_get(root, "reason")), "far") == 0;
    snprintf(out->notice, sizeof out->notice, "%s",
             json_is_string(json_object_get(root, "notice"))
                 ? json_string_value(json_object_get(root, "notice"))
                 : "");
    out->horizon_days = (int)json_integer_value(json_object_get(root, "horizonDays"));
    offers = json_object_get(root, "offers");
    json_array_foreach(offers, i, o) {
        const char *iso = json_string_value(json_object_get(o, "at"));
        struct db_vapi_offer *slot = &out->offers[out->n];
        if (out->n == DB_VAPI_OFFERS || !iso ||
            core_rfc3339_parse(iso, strlen(iso), &slot->at_ms) != 0)
            break;
        copy_string(json_object_get(o, "clock"), slot->clock, sizeof slot->clock);
        out->n++;
    }
    json_decref(root);
    return 0;
}

static int book_once(struct db_pool *pool, const struct db_org_ref *org, const void *arg,
                     struct db_result *res);

struct book_call {
    const struct db_vapi_booking *req;
    struct db_vapi_booked *out;
};

int db_vapi_book(struct db_pool *pool, const struct db_org_ref *org,
                 const struct db_vapi_booking *req, struct db_vapi_booked *out,
                 struct db_result *res)
{
    struct book_call call = {req, out};
    int rc = db_booking_with_service(pool, org, req->service_id, book_once, &call, res);
    /* Booked now (not a stored answer, nor an answer saying why not): its
     * event waits for the worker. */
    if (rc == 0 && res->outcome == DB_OK && out->answer && !out->replayed && !out->is_error)
        db_outbox_signal();
    return rc;
}

static int book_once(struct db_pool *pool, const struct db_org_ref *org, const void *arg,
                     struct db_result *res)
{
    const struct book_call *call = arg;
    const struct db_vapi_booking *req = call->req;
    struct db_vapi_booked *out = call->out;
    struct db_booking_range r = {
        .provider_id = req->provider_id ? req->provider_id : org->default_provider_id,
        .at_ms = req->scheduled_at_ms,
        .duration = req->duration,
    };
    struct db_lock_set *ls;
    json_t *root = NULL, *answer;
    char secret[DB_BYTEA_HASH_SIZE];
    int rc;

    memset(out, 0, sizeof *out);
    memset(res, 0, sizeof *res);
    if (!(ls = db_lock_set_for_new(pool, org, req->service_id, &r, req->lock_timeout_ms, NULL,
                                   res)))
        return db_booking_not_run(res);
    if (req->secret_hash)
        db_hash_to_bytea(req->secret_hash, secret);
    {
        const char *params[] = {
            org->org_id,   req->call_id,      req->tool_call_id, req->name,
            req->phone,    req->email,        req->notes,        r.provider_id,
            req->service_id, ls->at_text,     ls->duration_text, ls->keys_text,
            ls->from_text, ls->to_text,       ls->timeout_text,  req->timezone,
            req->secret_hash ? secret : NULL,
        };
        rc = db_fetch_json(pool, "vapi_book", 17, params, &root, res);
    }
    out->sql_answered = rc == 0; /* -1: no answer, or not one from vapi_book */
    free(ls);
    if (rc != 0 || res->outcome != DB_OK)
        goto out;
    if (json_is_string(answer = json_object_get(root, "answer"))) {
        out->answer = strdup(json_string_value(answer));
        out->is_error = json_is_true(json_object_get(root, "isError"));
        out->replayed = json_is_true(json_object_get(root, "replayed"));
        out->hold_converted = json_is_true(json_object_get(root, "holdConverted"));
        if (json_is_integer(json_object_get(root, "expiredHolds")))
            out->expired_holds = (int)json_integer_value(json_object_get(root, "expiredHolds"));
        if (!out->answer) {
            res->outcome = DB_ERROR;
            rc = -1;
        }
    } else {
        /* vapi_book answers, or raises: nothing else can come back. */
        res->outcome = DB_ERROR;
        rc = -1;
    }
out:
    json_decref(root);
    return rc;
}

int db_vapi_say_time(struct db_pool *pool, const char *org_id, int64_t at_ms, char *out,
                     size_t size, struct db_result *res)
{
    char at[CORE_ISO_LEN + 1], *text = NULL;
    const char *params[] = {org_id, at};
    int rc;

    out[0] = '\0';
    memset(res, 0, sizeof *res);
    if (core_iso_format(at_ms, at) != 0) {
        res->outcome = DB_ERROR;
        return -1;
    }
    rc = db_fetch_text(pool, "vapi_say_time", 2, params, &text, res);
    if (text)
        snprintf(out, size, "%s", text);
    free(text);
    return rc;
}

int db_vapi_find_appointments(struct db_pool *pool, const char *org_id, const char *phone,
                              int64_t at_ms, char (*ids)[DB_ID_SIZE], int max, int *n,
                              struct db_result *res)
{
    char at[CORE_ISO_LEN + 1];
    const char *params[] = {org_id, phone, at};
    PGresult *pg;

    *n = 0;
    memset(res, 0, sizeof *res);
    if (core_iso_format(at_ms, at) != 0) {
        db_set_invalid(res, "scheduledAt", "scheduledAt is out of range");
        return 0;
    }
    if (!(pg = db_run_rows(pool, "vapi_find", 3, params, res)))
        return res->outcome == DB_UNAVAILABLE || res->outcome == DB_ERROR ? -1 : 0;
    for (int i = 0; i < PQntuples(pg) && i <= max; i++) {
        if (i < max)
            snprintf(ids[i], DB_ID_SIZE, "%s", PQgetvalue(pg, i, 0));
        (*n)++;
    }
    PQclear(pg);
    return 0;
}

/* Runs `stmt` for one row; DB_NOT_FOUND without one. The rows (PQclear
 * them) or NULL. */
static PGresult *one_row(struct db_pool *pool, const char *stmt, int n,
                         const char *const *params, struct db_result *res)
{
    PGresult *pg;

    memset(res, 0, sizeof *res);
    if (!(pg = db_run_rows(pool, stmt, n, params, res)))
        return NULL;
    if (PQntuples(pg) == 0) {
        res->outcome = DB_NOT_FOUND;
        PQclear(pg);
        return NULL;
    }
    return pg;
}

/* The return value of a call that ran one_row: 0 when the database
 * answered (found or not), -1 when it could not. */
static int answered(const struct db_result *res)
{
    return res->outcome == DB_UNAVAILABLE || res->outcome == DB_ERROR ? -1 : 0;
}

int db_vapi_service(struct db_pool *pool, const char *org_id, const char *name,
                    char id[DB_ID_SIZE], struct db_result *res)
{
    const char *params[] = {org_id, name};
    PGresult *pg = one_row(pool, "vapi_service", 2, params, res);

    id[0] = '\0';
    if (!pg)
        return answered(res);
    snprintf(id, DB_ID_SIZE, "%s", PQgetvalue(pg, 0, 0));
    PQclear(pg);
    return 0;
}

int db_vapi_call_hold(struct db_pool *pool, const char *org_id, const char *call_id,
                      char hold_id[DB_ID_SIZE], int64_t *at_ms, struct db_result *res)
{
    const char *params[] = {org_id, call_id};
    PGresult *pg = one_row(pool, "vapi_hold_get", 2, params, res);

    hold_id[0] = '\0';
    if (!pg)
        return answered(res);
    snprintf(hold_id, DB_ID_SIZE, "%s", PQgetvalue(pg, 0, 0));
    *at_ms = strtoll(PQgetvalue(pg, 0, 1), NULL, 10);
    PQclear(pg);
    return 0;
}

int db_vapi_call_hold_set(struct db_pool *pool, const char *org_id, const char *call_id,
                          const char *hold_id, int64_t at_ms, char replaced[DB_ID_SIZE],
                          struct db_result *res)
{
    char at[CORE_ISO_LEN + 1];
    const char *params[] = {org_id, call_id, hold_id, at};
    PGresult *pg;

    replaced[0] = '\0';
    memset(res, 0, sizeof *res);
    if (core_iso_format(at_ms, at) != 0) {
        res->outcome = DB_ERROR;
        return -1;
    }
    if (!(pg = db_run_rows(pool, "vapi_hold_set", 4, params, res)))
        return -1;
    if (PQntuples(pg) == 1 && !PQgetisnull(pg, 0, 0))
        snprintf(replaced, DB_ID_SIZE, "%s", PQgetvalue(pg, 0, 0));
    PQclear(pg);
    return 0;
}

int db_vapi_call_hold_forget(struct db_pool *pool, const char *org_id, const char *call_id,
                             struct db_result *res)
{
    const char *params[] = {org_id, call_id};
    PGresult *pg;

    memset(res, 0, sizeof *res);
    if (!(pg = db_run_rows(pool, "vapi_hold_forget", 2, params, res)))
        return -1;
    PQclear(pg);
    return 0;
}

/* Reads (is_error, answer) from the first row. */
static void read_answer(PGresult *pg, bool *is_error, char **answer)
{
    *is_error = strcmp(PQgetvalue(pg, 0, 0), "t") == 0;
    *answer = strdup(PQgetvalue(pg, 0, 1));
    PQclear(pg);
}

int db_vapi_answer_get(struct db_pool *pool, const char *org_id, const char *tool_call_id,
                       bool *is_error, char **answer, struct db_result *res)
{
    const char *params[] = {org_id, tool_call_id};
    PGresult *pg = one_row(pool, "vapi_answer_get", 2, params, res);

    *answer = NULL;
    if (!pg)
        return answered(res);
    read_answer(pg, is_error, answer);
    return *answer ? 0 : -1;
}

int db_vapi_answer_put(struct db_pool *pool, const char *org_id, const char *tool_call_id,
                       bool *is_error, char **answer, struct db_result *res)
{
    const char *params[] = {org_id, tool_call_id, *is_error ? "true" : "false", *answer};
    PGresult *pg = one_row(pool, "vapi_answer_put", 4, params, res);

    if (pg) {
        PQclear(pg); /* stored: ours stands */
        return 0;
    }
    if (res->outcome != DB_NOT_FOUND)
        return -1;
    /* A concurrent retry stored first (its insert committed before ours
     * looked): every retry answers with that one. */
    free(*answer);
    return db_vapi_answer_get(pool, org_id, tool_call_id, is_error, answer, res);
}

int db_vapi_record_call(struct db_pool *pool, const char *org_id, const char *call_id,
                        const char *status, int64_t started_ms, int64_t ended_ms,
                        const char *ended_reason, struct db_result *res)
{
    char started[CORE_ISO_LEN + 1], ended[CORE_ISO_LEN + 1], *text = NULL;
    const char *params[] = {org_id, call_id, status, started, ended, ended_reason};
    int rc;

    memset(res, 0, sizeof *res);
    if (!started_ms || core_iso_format(started_ms, started) != 0)
        params[3] = NULL;
    if (!ended_ms || core_iso_format(ended_ms, ended) != 0)
        params[4] = NULL;
    rc = db_fetch_text(pool, "vapi_call_record", 6, params, &text, res);
    free(text);
    return rc;
}

int db_vapi_call_list(struct db_pool *pool, const char *org_id, int limit, json_t **out,
                      struct db_result *res)
{
    char lim[16];
    const char *params[] = {org_id, lim};

    snprintf(lim, sizeof lim, "%d", limit);
    return db_fetch_json(pool, "vapi_call_list", 2, params, out, res);
}
