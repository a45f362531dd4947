#include "db/appointments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"
#include "core/lockkey.h"
#include "core/time.h"
#include "db/outbox_signal.h"
#include "db/query.h"
#include "db/service_cache.h"
#include "db/services.h"
#include "log.h"

#define DEFAULT_LOCK_TIMEOUT_MS 2000
/* "{" + up to 20 digits and a sign + "," per key + "}" */
#define KEYS_TEXT_SIZE (CORE_LOCK_MAX_KEYS * 22 + 3)

/* What book and reschedule pass to their SQL function as text: the lock
 * keys of the range and the span they cover, and the values they depend on. */
struct lock_set {
    int64_t keys[CORE_LOCK_MAX_KEYS];
    size_t n;
    int64_t new_from, new_to;
    char keys_text[KEYS_TEXT_SIZE];
    char from_text[CORE_ISO_LEN + 1], to_text[CORE_ISO_LEN + 1];
    char at_text[CORE_ISO_LEN + 1];
    char duration_text[16];
    char timeout_text[16];
    char hash_text[67]; /* "" without an idempotency key */
};

/* Adds the keys of [start, end) on a provider; `is_new` marks the range
 * being booked, whose span the SQL function checks. */
static int lock_set_add(struct lock_set *ls, const struct db_org_ref *org,
                        const char *provider_id, int64_t start, int64_t end, bool is_new)
{
    const char *scoped = strcmp(provider_id, org->default_provider_id) == 0 ? NULL : provider_id;
    int64_t from, to;

    if (core_lock_keys_for_range(org->org_id, scoped, start, end, ls->keys, CORE_LOCK_MAX_KEYS,
                                 &ls->n, &from, &to) != 0)
        return -1;
    if (is_new) {
        ls->new_from = from;
        ls->new_to = to;
    }
    return 0;
}

/* Sorts, dedups and renders the keys as a bigint[] literal. */
static int lock_set_finish(struct lock_set *ls)
{
    size_t used = 0;

    core_lock_keys_sort_unique(ls->keys, &ls->n);
    ls->keys_text[used++] = '{';
    for (size_t i = 0; i < ls->n; i++) {
        int w = snprintf(ls->keys_text + used, sizeof ls->keys_text - used, "%s%lld",
                         i ? "," : "", (long long)ls->keys[i]);
        if (w < 0 || (size_t)w >= sizeof ls->keys_text - used)
            return -1;
        used += (size_t)w;
    }
    if (used + 2 > sizeof ls->keys_text)
        return -1;
    ls->keys_text[used++] = '}';
    ls->keys_text[used] = '\0';
    if (core_iso_format(ls->new_from, ls->from_text) != 0 ||
        core_iso_format(ls->new_to, ls->to_text) != 0)
        return -1;
    return 0;
}

/* The range a booking needs, and (for a reschedule) the range it leaves. */
struct booking_range {
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
static struct lock_set *lock_set_for(const struct db_org_ref *org, const struct booking_range *r,
                                     int lock_timeout_ms, const unsigned char *request_hash,
                                     struct db_result *res)
{
    struct lock_set *ls;

    if (r->duration < CORE_DURATION_MIN || r->duration > CORE_DURATION_MAX) {
        db_set_invalid(res, "durationMinutes", "durationMinutes must be an integer from 1 to 1440");
        return NULL;
    }
    if (!(ls = calloc(1, sizeof *ls))) {
        res->outcome = DB_ERROR;
        return NULL;
    }
    /* A reschedule locks the union of the old range's buckets and the new one's. */
    if (core_iso_format(r->at_ms, ls->at_text) != 0 ||
        (r->old_provider_id &&
         lock_set_add(ls, org, r->old_provider_id, r->old_start, r->old_end, false) != 0) ||
        lock_set_add(ls, org, r->provider_id, r->at_ms - r->before * CORE_MS_PER_MINUTE,
                     r->at_ms + (r->duration + r->after) * CORE_MS_PER_MINUTE, true) != 0 ||
        lock_set_finish(ls) != 0) {
        db_set_invalid(res, "scheduledAt", "scheduledAt is out of range");
        free(ls);
        return NULL;
    }
    snprintf(ls->duration_text, sizeof ls->duration_text, "%d", r->duration);
    snprintf(ls->timeout_text, sizeof ls->timeout_text, "%d",
             lock_timeout_ms > 0 ? lock_timeout_ms : DEFAULT_LOCK_TIMEOUT_MS);
    if (request_hash)
        db_hash_to_bytea(request_hash, ls->hash_text);
    return ls;
}

/*
 * After a conflict reported by the exclusion constraint (a writer that
 * bypassed the locks raced us), finds the appointment it protected, for
 * the reply.
 */
static void name_excluded_conflict(struct db_pool *pool, const struct db_org_ref *org,
                                   const struct booking_range *r, const char *exclude_id,
                                   struct db_result *res)
{
    struct db_result check;

    if (res->outcome != DB_CONFLICT || res->conflict.id[0])
        return;
    if (db_check(pool, org, r->provider_id, r->at_ms, r->duration, r->before, r->after,
                 exclude_id, &check) == 0 &&
        check.outcome == DB_CONFLICT)
        res->conflict = check.conflict;
    db_result_cleanup(&check);
}

/* `v` when it is a string without escapes that fits `size` bytes (ids,
 * times, statuses), else "" (null or absent: start NULL). */
static void span_text(const struct core_json_span *v, char *out, size_t size)
{
    if (!v->start || core_json_string_copy(v, out, size) != 0)
        out[0] = '\0';
}

static int span_time(const struct core_json_span *v, int64_t *out)
{
    char iso[CORE_ISO_LEN + 8];
    span_text(v, iso, sizeof iso);
    return iso[0] ? core_rfc3339_parse(iso, strlen(iso), out) : -1;
}

static int span_int(const struct core_json_span *v, int *out)
{
    int64_t n = 0;
    if (!v->start || core_json_int64(v, &n) != 0 || n < INT32_MIN || n > INT32_MAX)
        return -1;
    *out = (int)n;
    return 0;
}

int db_appointment_from_span(const struct core_json_span *o, struct db_appointment *a)
{
    enum {
        ID,
        PROVIDER,
        CONTACT,
        SERVICE,
        RESCHEDULED_TO,
        STATUS,
        DURATION,
        SCHEDULED_AT,
        CREATED_AT,
        CANCELLED_AT,
        NOTES,
        METADATA,
        N_FIELDS
    };
    static const char *const names[N_FIELDS] = {
        "id",     "providerId",      "contactId",   "serviceId", "rescheduledTo",
        "status", "durationMinutes", "scheduledAt", "createdAt", "cancelledAt",
        "notes",  "metadata"};
    struct core_json_span v[N_FIELDS];
    struct core_json_buf compact = {0};
    char status[16];

    if (core_json_members(o, names, N_FIELDS, v) != 0)
        return -1;
    span_text(&v[ID], a->id, DB_ID_SIZE);
    span_text(&v[PROVIDER], a->provider_id, DB_ID_SIZE);
    span_text(&v[CONTACT], a->contact_id, DB_ID_SIZE);
    span_text(&v[SERVICE], a->service_id, DB_ID_SIZE);
    span_text(&v[RESCHEDULED_TO], a->rescheduled_to, DB_ID_SIZE);
    span_text(&v[STATUS], status, sizeof status);
    if (strcmp(status, "confirmed") == 0)
        a->status = DB_STATUS_CONFIRMED;
    else if (strcmp(status, "cancelled") == 0)
        a->status = DB_STATUS_CANCELLED;
    else if (strcmp(status, "rescheduled") == 0)
        a->status = DB_STATUS_RESCHEDULED;
    else
        return -1;
    if (span_int(&v[DURATION], &a->duration_minutes) != 0 ||
        span_time(&v[SCHEDULED_AT], &a->scheduled_at_ms) != 0 ||
        span_time(&v[CREATED_AT], &a->created_at_ms) != 0)
        return -1;
    if (core_json_span_is(&v[CANCELLED_AT], CORE_SPAN_STRING)) {
        a->has_cancelled_at = true;
        if (span_time(&v[CANCELLED_AT], &a->cancelled_at_ms) != 0)
            return -1;
    }
    if (core_json_span_is(&v[NOTES], CORE_SPAN_STRING) &&
        !(a->notes = core_json_string_dup(&v[NOTES])))
        return -1;
    /* Passed on as the database wrote it, less its white space. */
    if (core_json_span_is(&v[METADATA], CORE_SPAN_OBJECT))
        core_json_buf_compact(&compact, v[METADATA].start, v[METADATA].len);
    else
        CORE_JSON_BUF_LITERAL(&compact, "{}");
    a->metadata_json = core_json_buf_take(&compact, NULL);
    return a->metadata_json ? 0 : -1;
}

static int parse_conflict(const struct core_json_span *o, struct db_conflict *c)
{
    static const char *const names[] = {"id", "durationMinutes", "scheduledAt"};
    struct core_json_span v[3];

    if (core_json_members(o, names, 3, v) != 0)
        return -1;
    span_text(&v[0], c->id, DB_ID_SIZE);
    if (span_int(&v[1], &c->duration_minutes) != 0)
        return -1;
    return span_time(&v[2], &c->scheduled_at_ms);
}

/* Turns a booking function's jsonb answer into *res. */
static int parse_result(const char *text, struct db_result *res)
{
    enum { STATUS, AVAILABLE, REPLAYED, LOCK_WAIT, CONFLICT, APPOINTMENT, PREVIOUS, N_FIELDS };
    static const char *const names[N_FIELDS] = {
        "status",      "available",          "replayed", "lockWaitUs", "conflictingAppointment",
        "appointment", "previousAppointment"};
    struct core_json_span root, v[N_FIELDS];
    char status[16];
    int rc = -1;

    if (core_json_parse_span(text, strlen(text), &root) != 0 ||
        core_json_members(&root, names, N_FIELDS, v) != 0)
        goto out;
    span_text(&v[STATUS], status, sizeof status);
    if (!status[0])
        snprintf(status, sizeof status, "%s",
                 core_json_span_is(&v[AVAILABLE], CORE_SPAN_TRUE) ? "available" : "conflict");
    res->replayed = core_json_span_is(&v[REPLAYED], CORE_SPAN_TRUE);
    if (v[LOCK_WAIT].start)
        core_json_int64(&v[LOCK_WAIT], &res->lock_wait_us);
    if (strcmp(status, "conflict") == 0) {
        res->outcome = DB_CONFLICT;
        if (v[CONFLICT].start)
            rc = parse_conflict(&v[CONFLICT], &res->conflict);
        goto out;
    }
    res->outcome = DB_OK;
    res->unchanged = strcmp(status, "unchanged") == 0;
    rc = 0;
    if (v[APPOINTMENT].start)
        rc = db_appointment_from_span(&v[APPOINTMENT], &res->appointment);
    if (rc == 0 && v[PREVIOUS].start)
        rc = db_appointment_from_span(&v[PREVIOUS], &res->previous);
out:
    if (rc != 0) {
        log_error("db.bad_result", "cannot parse a booking function's result");
        res->outcome = DB_ERROR;
    }
    return rc;
}

/* A change that committed wrote its outbox event: wake the worker. */
static void signal_if_changed(const struct db_result *res)
{
    if (res->outcome == DB_OK && !res->replayed && !res->unchanged)
        db_outbox_signal();
}

/* Runs a booking function and parses its answer into *res. */
static int run_booking(struct db_pool *pool, const char *stmt, int n, const char *const *values,
                       struct db_result *res)
{
    char *text = NULL;
    int rc = db_run_value(pool, stmt, n, values, &text, res);

    if (rc == 0)
        rc = text ? parse_result(text, res) : -1;
    free(text);
    if (rc != 0 && res->outcome == DB_OK)
        res->outcome = DB_ERROR;
    /* A database answer that is a refusal is still an answer. */
    return res->outcome == DB_UNAVAILABLE || res->outcome == DB_ERROR ? -1 : 0;
}

static int book_once(struct db_pool *pool, const struct db_org_ref *org,
                     const struct db_book_request *req, struct db_result *res)
{
    struct booking_range r = {
        .provider_id = req->provider_id ? req->provider_id : org->default_provider_id,
        .at_ms = req->scheduled_at_ms,
        .duration = req->duration_minutes,
    };
    struct lock_set *ls;
    int service_duration = 0, rc;

    memset(res, 0, sizeof *res);
    if (req->service_id) {
        if (db_service_range(pool, org->org_id, req->service_id, &service_duration, &r.before,
                             &r.after, res) != 0)
            return -1;
        if (res->outcome != DB_OK)
            return 0;
    }
    if (r.duration == 0)
        r.duration = service_duration;
    if (!(ls = lock_set_for(org, &r, req->lock_timeout_ms,
                            req->idempotency_key ? req->request_hash : NULL, res)))
        return res->outcome == DB_INVALID ? 0 : -1;
    {
        const char *params[] = {
            org->org_id,       r.provider_id,     req->contact_id,   req->service_id,
            ls->at_text,       ls->duration_text, req->notes,        req->metadata_json,
            ls->keys_text,     ls->from_text,     ls->to_text,       ls->timeout_text,
            req->actor,        req->idempotency_key,
            req->idempotency_key ? ls->hash_text : NULL,
            req->public_rules ? "true" : "false",
        };
        rc = run_booking(pool, "book", 16, params, res);
    }
    signal_if_changed(res);
    if (rc == 0)
        name_excluded_conflict(pool, org, &r, NULL, res);
    free(ls);
    return rc;
}

int db_book(struct db_pool *pool, const struct db_org_ref *org, const struct db_book_request *req,
            struct db_result *res)
{
    int rc = book_once(pool, org, req, res);

    /* Lock keys computed from a cached service that no longer matches its
     * row (edited by hand): read the row again and book once more. */
    if (rc != 0 && res->keys_refused && req->service_id) {
        db_service_cache_forget(db_pool_services(pool), org->org_id, req->service_id);
        rc = book_once(pool, org, req, res);
    }
    return rc;
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
    struct booking_range r;
    struct lock_set *ls;
    int rc;

    memset(res, 0, sizeof *res);
    if (fetch_appointment_range(pool, org, req->appointment_id, &old, res) != 0)
        return res->outcome == DB_NOT_FOUND ? 0 : -1;
    r = (struct booking_range){
        .provider_id = req->provider_id ? req->provider_id : old.provider_id,
        .at_ms = req->scheduled_at_ms,
        .duration = req->duration_minutes ? req->duration_minutes : old.duration,
        .before = old.before,
        .after = old.after,
        .old_provider_id = old.provider_id,
        .old_start = old.start,
        .old_end = old.end,
    };
    if (!(ls = lock_set_for(org, &r, req->lock_timeout_ms,
                            req->idempotency_key ? req->request_hash : NULL, res)))
        return res->outcome == DB_INVALID ? 0 : -1;
    {
        const char *params[] = {
            org->org_id,       req->appointment_id, req->provider_id, ls->at_text,
            ls->duration_text, ls->keys_text,       ls->from_text,    ls->to_text,
            ls->timeout_text,  req->actor,          req->idempotency_key,
            req->idempotency_key ? ls->hash_text : NULL,
        };
        rc = run_booking(pool, "reschedule", 12, params, res);
    }
    signal_if_changed(res);
    if (rc == 0)
        name_excluded_conflict(pool, org, &r, req->appointment_id, res);
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
             lock_timeout_ms > 0 ? lock_timeout_ms : DEFAULT_LOCK_TIMEOUT_MS);
    if (run_booking(pool, "cancel", 5, params, res) != 0)
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
    return run_booking(pool, "check", 7, params, res);
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
    const char *params[8] = {org->org_id};

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
    return run_text(pool, "appointment_list", 8, params, out, res);
}

int db_free_slots(struct db_pool *pool, const struct db_org_ref *org, const char *provider_id,
                  const char *date, int duration, int before, int after, int step, char **out,
                  struct db_result *res)
{
    char d[16], b[16], a[16], s[16];
    const char *params[] = {org->org_id, provider_id, date, d, b, a, s};
    snprintf(d, sizeof d, "%d", duration);
    snprintf(b, sizeof b, "%d", before);
    snprintf(a, sizeof a, "%d", after);
    snprintf(s, sizeof s, "%d", step);
    return run_text(pool, "free_slots", 7, params, out, res);
}
