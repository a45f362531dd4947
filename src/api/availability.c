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
 * {"date","timezone","slots"} around the slots array the database already
 * wrote as JSON text: the busiest read of the booking page and the voice
 * agent, so it is passed on rather than parsed and printed again. The date
 * has been checked to be YYYY-MM-DD; the time zone is escaped.
 */
static void reply_slots(struct http_response *resp, const char *date, const char *timezone,
                        const char *slots)
{
    json_t *tz = json_string(timezone);
    char *tz_text = tz ? json_dumps(tz, JSON_ENCODE_ANY) : NULL;
    char *body = NULL;
    int len = tz_text ? asprintf(&body, "{\"date\":\"%s\",\"timezone\":%s,\"slots\":%s}", date,
                                 tz_text, slots)
                      : -1;

    if (len < 0)
        http_reply_error(resp, 500, "internal", NULL, "Out of memory.");
    else
        http_reply_text(resp, 200, HTTP_JSON_TYPE, body, (size_t)len);
    free(body);
    free(tz_text);
    json_decref(tz);
}

void api_availability_slots(struct http_request *req, struct http_response *resp)
{
    const char *date = http_query(req, "date");
    char provider[DB_ID_SIZE], service[DB_ID_SIZE];
    bool has_provider = false, has_service = false, has_duration = false;
    int duration = 0, step = 15, before = 0, after = 0, y, m, d;
    struct db_org_ref org = api_org(req);
    struct db_result res;
    char *slots = NULL;

    if (!date) {
        http_reply_invalid(resp, "date", "date is required (YYYY-MM-DD).");
        return;
    }
    if (core_date_parse(date, strlen(date), &y, &m, &d) != 0) {
        http_reply_invalid(resp, "date", "date must be a calendar date, YYYY-MM-DD.");
        return;
    }
    if (!api_query_uuid(req, resp, "providerId", false, provider, &has_provider) ||
        !api_query_uuid(req, resp, "serviceId", false, service, &has_service) ||
        !api_query_int(req, resp, "durationMinutes", false, CORE_DURATION_MIN, CORE_DURATION_MAX,
                       &duration, &has_duration) ||
        !api_query_int(req, resp, "stepMinutes", false, 5, 240, &step, NULL))
        return;
    if (!has_service && !has_duration) {
        http_reply_invalid(resp, "durationMinutes",
                           "serviceId or durationMinutes is required.");
        return;
    }
    if (has_service) {
        int service_duration = 0;
        if (db_service_range(req->app->pool, org.org_id, service, &service_duration, &before,
                             &after, &res) != 0 ||
            res.outcome != DB_OK) {
            api_reply_db_failure(resp, &res);
            return;
        }
        if (!has_duration)
            duration = service_duration;
    }
    if (db_free_slots(req->app->pool, &org, has_provider ? provider : org.default_provider_id,
                      date, duration, before, after, step,
                      req->auth.principal == PRINCIPAL_PUBLIC, &slots, &res) != 0 ||
        res.outcome != DB_OK) {
        free(slots);
        api_reply_db_failure(resp, &res);
        return;
    }
    reply_slots(resp, date, req->auth.timezone, slots);
    free(slots);
}
