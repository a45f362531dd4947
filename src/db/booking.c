#include "db/booking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"
#include "db/appointments.h"
#include "db/query.h"
#include "db/service_cache.h"
#include "db/services.h"
#include "log.h"

/* Adds the keys of [start, end) on a provider; `is_new` marks the range
 * being booked, whose span the SQL function checks. */
static int lock_set_add(struct db_lock_set *ls, const struct db_org_ref *org,
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
static int lock_set_finish(struct db_lock_set *ls)
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

struct db_lock_set *db_lock_set_for(const struct db_org_ref *org,
                                    const struct db_booking_range *r, int lock_timeout_ms,
                                    const unsigned char *request_hash, struct db_result *res)
{
    struct db_lock_set *ls;

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
             lock_timeout_ms > 0 ? lock_timeout_ms : DB_DEFAULT_LOCK_TIMEOUT_MS);
    if (request_hash)
        db_hash_to_bytea(request_hash, ls->hash_text);
    return ls;
}

struct db_lock_set *db_lock_set_for_new(struct db_pool *pool, const struct db_org_ref *org,
                                        const char *service_id, struct db_booking_range *r,
                                        int lock_timeout_ms, const unsigned char *request_hash,
                                        struct db_result *res)
{
    int service_duration = 0;

    if (service_id) {
        if (db_service_range(pool, org->org_id, service_id, &service_duration, &r->before,
                             &r->after, res) != 0)
            return NULL;
        if (res->outcome != DB_OK)
            return NULL;
    }
    if (r->duration == 0)
        r->duration = service_duration;
    return db_lock_set_for(org, r, lock_timeout_ms, request_hash, res);
}

int db_booking_not_run(const struct db_result *res)
{
    return res->outcome == DB_ERROR || res->outcome == DB_UNAVAILABLE ? -1 : 0;
}

int db_booking_with_service(struct db_pool *pool, const struct db_org_ref *org,
                            const char *service_id,
                            int (*once)(struct db_pool *, const struct db_org_ref *,
                                        const void *, struct db_result *),
                            const void *req, struct db_result *res)
{
    int rc = once(pool, org, req, res);

    if (rc != 0 && res->keys_refused && service_id) {
        db_service_cache_forget(db_pool_services(pool), org->org_id, service_id);
        rc = once(pool, org, req, res);
    }
    return rc;
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

/* {"id","scheduledAt","durationMinutes"} of an appointment, or
 * {"scheduledAt","durationMinutes","expiresAt"} of a hold. */
static int parse_conflict(const struct core_json_span *o, bool hold, struct db_conflict *c)
{
    static const char *const names[] = {"id", "durationMinutes", "scheduledAt", "expiresAt"};
    struct core_json_span v[4];

    if (core_json_members(o, names, 4, v) != 0)
        return -1;
    c->hold = hold;
    span_text(&v[0], c->id, DB_ID_SIZE);
    if (span_int(&v[1], &c->duration_minutes) != 0 ||
        span_time(&v[2], &c->scheduled_at_ms) != 0)
        return -1;
    return hold ? span_time(&v[3], &c->expires_at_ms) : 0;
}

/* {"start","end","source"}: a busy time from the provider's calendar. */
static int parse_busy(const struct core_json_span *o, struct db_conflict *c)
{
    static const char *const names[] = {"start", "end"};
    struct core_json_span v[2];

    if (core_json_members(o, names, 2, v) != 0)
        return -1;
    c->busy = true;
    return span_time(&v[0], &c->scheduled_at_ms) != 0 || span_time(&v[1], &c->end_ms) != 0
               ? -1
               : 0;
}

static int parse_hold(const struct core_json_span *o, struct db_hold *h)
{
    enum { ID, PROVIDER, SERVICE, DURATION, SCHEDULED_AT, EXPIRES_AT, N_FIELDS };
    static const char *const names[N_FIELDS] = {"holdId",          "providerId",  "serviceId",
                                                "durationMinutes", "scheduledAt", "expiresAt"};
    struct core_json_span v[N_FIELDS];

    if (core_json_members(o, names, N_FIELDS, v) != 0)
        return -1;
    span_text(&v[ID], h->id, DB_ID_SIZE);
    span_text(&v[PROVIDER], h->provider_id, DB_ID_SIZE);
    span_text(&v[SERVICE], h->service_id, DB_ID_SIZE);
    if (!h->id[0] || span_int(&v[DURATION], &h->duration_minutes) != 0 ||
        span_time(&v[SCHEDULED_AT], &h->scheduled_at_ms) != 0 ||
        span_time(&v[EXPIRES_AT], &h->expires_at_ms) != 0)
        return -1;
    return 0;
}

/* Turns a booking function's jsonb answer into *res. */
static int parse_result(const char *text, struct db_result *res)
{
    enum {
        STATUS,
        AVAILABLE,
        REPLAYED,
        LOCK_WAIT,
        CONFLICT,
        CONFLICT_HOLD,
        CONFLICT_BUSY,
        APPOINTMENT,
        PREVIOUS,
        HOLD,
        CONVERTED,
        EXPIRED,
        N_FIELDS
    };
    static const char *const names[N_FIELDS] = {
        "status",       "available",       "replayed",     "lockWaitUs",
        "conflictingAppointment",          "conflictingHold", "conflictingBusy",
        "appointment",  "previousAppointment",             "hold",
        "holdConverted", "expiredHolds"};
    struct core_json_span root, v[N_FIELDS];
    char status[16];
    int64_t expired = 0;
    int rc = -1;

    if (core_json_parse_span(text, strlen(text), &root) != 0 ||
        core_json_members(&root, names, N_FIELDS, v) != 0)
        goto out;
    span_text(&v[STATUS], status, sizeof status);
    if (!status[0])
        snprintf(status, sizeof status, "%s",
                 core_json_span_is(&v[AVAILABLE], CORE_SPAN_TRUE) ? "available" : "conflict");
    res->replayed = core_json_span_is(&v[REPLAYED], CORE_SPAN_TRUE);
    res->hold_converted = core_json_span_is(&v[CONVERTED], CORE_SPAN_TRUE);
    if (v[LOCK_WAIT].start)
        core_json_int64(&v[LOCK_WAIT], &res->lock_wait_us);
    if (v[EXPIRED].start && core_json_int64(&v[EXPIRED], &expired) == 0 && expired > 0 &&
        expired < INT32_MAX)
        res->expired_holds = (int)expired;
    if (strcmp(status, "conflict") == 0) {
        res->outcome = DB_CONFLICT;
        if (v[CONFLICT_HOLD].start)
            rc = parse_conflict(&v[CONFLICT_HOLD], true, &res->conflict);
        else if (v[CONFLICT].start)
            rc = parse_conflict(&v[CONFLICT], false, &res->conflict);
        else if (v[CONFLICT_BUSY].start)
            rc = parse_busy(&v[CONFLICT_BUSY], &res->conflict);
        goto out;
    }
    res->outcome = DB_OK;
    res->unchanged = strcmp(status, "unchanged") == 0;
    res->hold_expired = strcmp(status, "expired") == 0;
    rc = 0;
    if (v[APPOINTMENT].start)
        rc = db_appointment_from_span(&v[APPOINTMENT], &res->appointment);
    if (rc == 0 && v[PREVIOUS].start)
        rc = db_appointment_from_span(&v[PREVIOUS], &res->previous);
    if (rc == 0 && v[HOLD].start)
        rc = parse_hold(&v[HOLD], &res->hold);
out:
    if (rc != 0) {
        log_error("db.bad_result", "cannot parse a booking function's result");
        res->outcome = DB_ERROR;
    }
    return rc;
}

int db_booking_run(struct db_pool *pool, const char *stmt, int n, const char *const *values,
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

void db_booking_name_conflict(struct db_pool *pool, const struct db_org_ref *org,
                              const struct db_booking_range *r, const char *exclude_id,
                              struct db_result *res)
{
    struct db_result check;

    if (res->outcome != DB_CONFLICT || res->conflict.id[0] || res->conflict.hold)
        return;
    if (db_check(pool, org, r->provider_id, r->at_ms, r->duration, r->before, r->after,
                 exclude_id, &check) == 0 &&
        check.outcome == DB_CONFLICT)
        res->conflict = check.conflict;
    db_result_cleanup(&check);
}
