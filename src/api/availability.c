/* Is a time free, and which times of a day are. Advisory: nothing is held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/params.h"
#include "app.h"
#include "core/time.h"
#include "core/validate.h"
#include "db/appointments.h"
#include "db/services.h"
#include "http/reply.h"

void api_availability_check(struct http_request *req, struct http_response *resp)
{
    char provider[DB_ID_SIZE];
    bool has_provider = false;
    int64_t at = 0;
    int duration = 0;
    struct db_org_ref org = api_org(req);
    struct db_result res;
    json_t *body;

    if (!api_query_time(req, resp, "scheduledAt", true, &at, NULL) ||
        !api_query_int(req, resp, "durationMinutes", true, CORE_DURATION_MIN, CORE_DURATION_MAX,
                       &duration, NULL) ||
        !api_query_uuid(req, resp, "providerId", false, provider, &has_provider))
        return;
    db_check(req->app->pool, &org, has_provider ? provider : NULL, at, duration, 0, 0, NULL,
             &res);
    if (res.outcome == DB_OK) {
        body = json_pack("{s:b}", "available", 1);
    } else if (res.outcome == DB_CONFLICT) {
        body = json_pack("{s:b}", "available", 0);
        api_conflict_add(body, &res.conflict, req->auth.principal == PRINCIPAL_ADMIN);
    } else {
        api_reply_db_failure(resp, &res);
        db_result_cleanup(&res);
        return;
    }
    http_reply_json(resp, 200, body);
    db_result_cleanup(&res);
}

/*
 * {"date"?,"timezone","<key>":array} around an array the database already
 * wrote as JSON text: free slots are the busiest read of the booking page
 * and the voice agent, so they are passed on rather than parsed and printed
 * again. `date` (may be NULL) has been checked to be YYYY-MM-DD; the time
 * zone is escaped.
 */
static void reply_zoned(struct http_response *resp, const char *date, const char *timezone,
                        const char *key, const char *array)
{
    json_t *tz = json_string(timezone);
    char *tz_text = tz ? json_dumps(tz, JSON_ENCODE_ANY) : NULL;
    char *body = NULL;
    int len = tz_text ? asprintf(&body, "{%s%s%s\"timezone\":%s,\"%s\":%s}",
                                 date ? "\"date\":\"" : "", date ? date : "", date ? "\"," : "",
                                 tz_text, key, array)
                      : -1;

    if (len < 0)
        http_reply_error(resp, 500, "internal", NULL, "Out of memory.");
    else
        http_reply_text(resp, 200, HTTP_JSON_TYPE, body, (size_t)len);
    free(body);
    free(tz_text);
    json_decref(tz);
}

/* What both free-time reads take besides their dates: the provider, the
 * length (a service's, or durationMinutes) with the service's buffers, and
 * the grid's step. */
struct slot_query {
    const char *provider_id;
    int duration, before, after, step;
};

/* Reads and checks the slot query's parameters; replies and returns false
 * on a bad one. */
static bool slot_query_parse(struct http_request *req, struct http_response *resp,
                             const struct db_org_ref *org, char provider[DB_ID_SIZE],
                             struct slot_query *q)
{
    char service[DB_ID_SIZE];
    bool has_provider = false, has_service = false, has_duration = false;
    struct db_result res;

    memset(q, 0, sizeof *q);
    q->step = 15;
    if (!api_query_uuid(req, resp, "providerId", false, provider, &has_provider) ||
        !api_query_uuid(req, resp, "serviceId", false, service, &has_service) ||
        !api_query_int(req, resp, "durationMinutes", false, CORE_DURATION_MIN, CORE_DURATION_MAX,
                       &q->duration, &has_duration) ||
        !api_query_int(req, resp, "stepMinutes", false, 5, 240, &q->step, NULL))
        return false;
    if (!has_service && !has_duration) {
        http_reply_invalid(resp, "durationMinutes",
                           "serviceId or durationMinutes is required.");
        return false;
    }
    if (has_service) {
        int service_duration = 0;
        if (db_service_range(req->app->pool, org->org_id, service, &service_duration, &q->before,
                             &q->after, &res) != 0 ||
            res.outcome != DB_OK) {
            api_reply_db_failure(resp, &res);
            return false;
        }
        if (!has_duration)
            q->duration = service_duration;
    }
    q->provider_id = has_provider ? provider : org->default_provider_id;
    return true;
}

void api_availability_slots(struct http_request *req, struct http_response *resp)
{
    char provider[DB_ID_SIZE];
    struct db_org_ref org = api_org(req);
    struct slot_query q;
    struct db_result res;
    char *slots = NULL;
    int64_t day;

    if (!api_query_date(req, resp, "date", &day) || !slot_query_parse(req, resp, &org, provider, &q))
        return;
    if (db_free_slots(req->app->pool, &org, q.provider_id, http_query(req, "date"), q.duration,
                      q.before, q.after, q.step, req->auth.principal == PRINCIPAL_PUBLIC, &slots,
                      &res) != 0 ||
        res.outcome != DB_OK) {
        free(slots);
        api_reply_db_failure(resp, &res);
        return;
    }
    reply_zoned(resp, http_query(req, "date"), req->auth.timezone, "slots", slots);
    free(slots);
}

/*
 * GET /api/availability/days (docs/web.md): how many free start times
 * each date of a range has, in one call, for the booking page's month
 * calendar: {"timezone","days":[{"date","freeSlots"}]}.
 */
void api_availability_days(struct http_request *req, struct http_response *resp)
{
    char provider[DB_ID_SIZE];
    struct db_org_ref org = api_org(req);
    struct slot_query q;
    struct db_result res;
    char *days = NULL;

    if (!api_query_date_range(req, resp, API_DAYS_MAX) ||
        !slot_query_parse(req, resp, &org, provider, &q))
        return;
    if (db_free_slot_days(req->app->pool, &org, q.provider_id, http_query(req, "from"),
                          http_query(req, "to"), q.duration, q.before, q.after, q.step,
                          req->auth.principal == PRINCIPAL_PUBLIC, &days, &res) != 0 ||
        res.outcome != DB_OK) {
        free(days);
        api_reply_db_failure(resp, &res);
        return;
    }
    reply_zoned(resp, NULL, req->auth.timezone, "days", days);
    free(days);
}
