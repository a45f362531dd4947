#include "db/appointments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "db/booking.h"
#include "db/outbox_signal.h"
#include "db/query.h"
#include "log.h"

/* A change that committed wrote its outbox event: wake the worker. */
static void signal_if_changed(const struct db_result *res)
{
    if (res->outcome == DB_OK && !res->replayed && !res->unchanged)
        db_outbox_signal();
}

static int book_once(struct db_pool *pool, const struct db_org_ref *org, const void *arg,
                     struct db_result *res)
{
    const struct db_book_request *req = arg;
    struct db_booking_range r = {
        .provider_id = req->provider_id ? req->provider_id : org->default_provider_id,
        .at_ms = req->scheduled_at_ms,
        .duration = req->duration_minutes,
    };
    struct db_lock_set *ls;
    int rc;

    memset(res, 0, sizeof *res);
    if (!(ls = db_lock_set_for_new(pool, org, req->service_id, &r, req->lock_timeout_ms,
                                   req->idempotency_key ? req->request_hash : NULL, res)))
        return db_booking_not_run(res);
    {
        const char *params[] = {
            org->org_id,       r.provider_id,     req->contact_id,   req->service_id,
            ls->at_text,       ls->duration_text, req->notes,        req->metadata_json,
            ls->keys_text,     ls->from_text,     ls->to_text,       ls->timeout_text,
            req->actor,        req->idempotency_key,
            req->idempotency_key ? ls->hash_text : NULL,
            req->public_rules ? "true" : "false",
            req->hold_id,      req->manage_hash,
        };
        rc = db_booking_run(pool, "book", 18, params, res);
    }
    signal_if_changed(res);
    if (rc == 0)
        db_booking_name_conflict(pool, org, &r, NULL, res);
    free(ls);
    return rc;
}

int db_book(struct db_pool *pool, const struct db_org_ref *org, const struct db_book_request *req,
            struct db_result *res)
{
    return db_booking_with_service(pool, org, req->service_id, book_once, req, res);
}

/* The old appointment's provider and buffered range, and what the new one
 * keeps of it. */
struct old_range {
    char provider_id[DB_ID_SIZE];
    int64_t start, end;
    int duration, before, after;
};

static int fetch_appointment_range(struct db_pool *pool, const struct db_org_ref *org,
                                   const char *id, struct old_range *old, struct db_result *res)
{
    const char *params[] = {org->org_id, id};
    PGresult *pg;
    int rc = -1;

    if (!(pg = db_run_rows(pool, "appointment_range", 2, params, res)))
        return -1;
    if (PQntuples(pg) == 0) {
        res->outcome = DB_NOT_FOUND;
    } else {
        snprintf(old->provider_id, sizeof old->provider_id, "%s", PQgetvalue(pg, 0, 0));
        old->start = strtoll(PQgetvalue(pg, 0, 1), NULL, 10);
        old->end = strtoll(PQgetvalue(pg, 0, 2), NULL, 10);
        old->duration = db_int_value(PQgetvalue(pg, 0, 3));
        old->before = db_int_value(PQgetvalue(pg, 0, 4));
        old->after = db_int_value(PQgetvalue(pg, 0, 5));
        rc = 0;
    }
    PQclear(pg);
    return rc;
}

int db_reschedule(struct db_pool *pool, const struct db_org_ref *org,
                  const struct db_reschedule_request *req, struct db_result *res)
{
    struct old_range old = {0};
    struct db_booking_range r;
    struct db_lock_set *ls;
    int rc;

    memset(res, 0, sizeof *res);
    if (fetch_appointment_range(pool, org, req->appointment_id, &old, res) != 0)
        return res->outcome == DB_NOT_FOUND ? 0 : -1;
    r = (struct db_booking_range){
        .provider_id = req->provider_id ? req->provider_id : old.provider_id,
        .at_ms = req->scheduled_at_ms,
        .duration = req->duration_minutes ? req->duration_minutes : old.duration,
        .before = old.before,
        .after = old.after,
        .old_provider_id = old.provider_id,
        .old_start = old.start,
        .old_end = old.end,
    };
    if (!(ls = db_lock_set_for(org, &r, req->lock_timeout_ms,
                               req->idempotency_key ? req->request_hash : NULL, res)))
        return db_booking_not_run(res);
    {
        const char *params[] = {
            org->org_id,       req->appointment_id, req->provider_id, ls->at_text,
            ls->duration_text, ls->keys_text,       ls->from_text,    ls->to_text,
            ls->timeout_text,  req->actor,          req->idempotency_key,
            req->idempotency_key ? ls->hash_text : NULL,
            req->public_rules ? "true" : "false", req->manage_hash,
        };
        rc = db_booking_run(pool, "reschedule", 14, params, res);
    }
    signal_if_changed(res);
    if (rc == 0)
        db_booking_name_conflict(pool, org, &r, req->appointment_id, res);
    free(ls);
    return rc;
}

int db_cancel(struct db_pool *pool, const struct db_org_ref *org, const char *appointment_id,
              const char *reason, const char *actor, int lock_timeout_ms, struct db_result *res)
{
    char timeout[16];
    const char *params[] = {org->org_id, appointment_id, reason, timeout, actor};

    memset(res, 0, sizeof *res);
    snprintf(timeout, sizeof timeout, "%d",
             lock_timeout_ms > 0 ? lock_timeout_ms : DB_DEFAULT_LOCK_TIMEOUT_MS);
    if (db_booking_run(pool, "cancel", 5, params, res) != 0)
        return -1;
    signal_if_changed(res);
    return 0;
}

int db_check(struct db_pool *pool, const struct db_org_ref *org, const char *provider_id,
             int64_t scheduled_at_ms, int duration_minutes, int buffer_before_minutes,
             int buffer_after_minutes, const char *exclude_id, struct db_result *res)
{
    char at[CORE_ISO_LEN + 1], dur[16], before[16], after[16];
    const char *params[] = {org->org_id, provider_id ? provider_id : org->default_provider_id,
                            at,          dur,
                            before,      after,
                            exclude_id};

    memset(res, 0, sizeof *res);
    if (core_iso_format(scheduled_at_ms, at) != 0) {
        db_set_invalid(res, "scheduledAt", "scheduledAt is out of range");
        return 0;
    }
    snprintf(dur, sizeof dur, "%d", duration_minutes);
    snprintf(before, sizeof before, "%d", buffer_before_minutes);
    snprintf(after, sizeof after, "%d", buffer_after_minutes);
    return db_booking_run(pool, "check", 7, params, res);
}

int db_appointment_get(struct db_pool *pool, const struct db_org_ref *org, const char *id,
                       struct db_result *res)
{
    const char *params[] = {org->org_id, id};
    char *text = NULL;
    struct core_json_span obj;
    int rc = db_fetch_text(pool, "appointment_get", 2, params, &text, res);

    if (rc == 0 && res->outcome == DB_OK) {
        if (!text)
            res->outcome = DB_NOT_FOUND;
        else if (core_json_parse_span(text, strlen(text), &obj) != 0 ||
                 db_appointment_from_span(&obj, &res->appointment) != 0)
            res->outcome = DB_ERROR, rc = -1;
    }
    free(text);
    return rc;
}

/* A statement whose one value is text that must be there (an aggregate):
 * *out (malloc'd). 0 when the database answered (res->outcome says how),
 * -1 with DB_UNAVAILABLE / DB_ERROR, or DB_ERROR when there was no row. */
static int run_text(struct db_pool *pool, const char *stmt, int n, const char *const *values,
                    char **out, struct db_result *res)
{
    int rc = db_fetch_text(pool, stmt, n, values, out, res);

    if (rc != 0 || res->outcome != DB_OK) /* unreachable, or a refusal */
        return rc;
    if (!*out) {
        res->outcome = DB_ERROR;
        return -1;
    }
    return 0;
}

int db_appointment_list(struct db_pool *pool, const struct db_org_ref *org,
                        const struct db_appointment_filter *f, char **out,
                        struct db_result *res)
{
    char from[CORE_ISO_LEN + 1], to[CORE_ISO_LEN + 1], after[CORE_ISO_LEN + 1], limit[16];
    const char *params[9] = {org->org_id};

    if ((f->has_from && core_iso_format(f->from_ms, from) != 0) ||
        (f->has_to && core_iso_format(f->to_ms, to) != 0) ||
        (f->after_id && core_iso_format(f->after_ms, after) != 0)) {
        memset(res, 0, sizeof *res);
        db_set_invalid(res, "from", "a time is out of range");
        return 0;
    }
    params[1] = f->has_from ? from : NULL;
    params[2] = f->has_to ? to : NULL;
    params[3] = f->provider_id;
    params[4] = f->status;
    params[5] = f->after_id ? after : NULL;
    params[6] = f->after_id;
    snprintf(limit, sizeof limit, "%d", f->limit);
    params[7] = limit;
    params[8] = f->contact_id;
    return run_text(pool, "appointment_list", 9, params, out, res);
}

int db_free_slots(struct db_pool *pool, const struct db_org_ref *org, const char *provider_id,
                  const char *date, int duration, int before, int after, int step,
                  bool public_rules, char **out, struct db_result *res)
{
    char d[16], b[16], a[16], s[16];
    const char *params[] = {org->org_id, provider_id, date, d, b, a, s,
                            public_rules ? "true" : "false"};
    snprintf(d, sizeof d, "%d", duration);
    snprintf(b, sizeof b, "%d", before);
    snprintf(a, sizeof a, "%d", after);
    snprintf(s, sizeof s, "%d", step);
    return run_text(pool, "free_slots", 8, params, out, res);
}

int db_free_slot_days(struct db_pool *pool, const struct db_org_ref *org, const char *provider_id,
                      const char *from, const char *to, int duration, int before, int after,
                      int step, bool public_rules, char **out, struct db_result *res)
{
    char d[16], b[16], a[16], s[16];
    const char *params[] = {org->org_id, provider_id, from, to, d, b, a, s,
                            public_rules ? "true" : "false"};
    snprintf(d, sizeof d, "%d", duration);
    snprintf(b, sizeof b, "%d", before);
    snprintf(a, sizeof a, "%d", after);
    snprintf(s, sizeof s, "%d", step);
    return run_text(pool, "free_slot_days", 9, params, out, res);
}
