/* Providers: the calendars appointments are booked on, and their working hours. */
#include <stdlib.h>

#include "api/api.h"
#include "api/params.h"
#include "app.h"
#include "core/validate.h"
#include "core/working_hours.h"
#include "db/providers.h"
#include "http/reply.h"

/*
 * Reads the body's workingHours. Returns false after replying 400. On
 * success *text is the validated JSON (malloc'd), or NULL when it was
 * omitted and not required: the database then gives the default
 * (bk_default_working_hours).
 */
static bool working_hours_text(struct http_request *req, struct http_response *resp,
                               bool required, char **text)
{
    json_t *hours = json_object_get(req->json, "workingHours");
    char why[160];

    *text = NULL;
    if (!hours || json_is_null(hours)) {
        if (required)
            http_reply_invalid(resp, "workingHours", "workingHours is required.");
        return !required;
    }
    if (core_working_hours_validate(hours, why, sizeof why) != 0) {
        http_reply_invalid(resp, "workingHours", "%s", why);
        return false;
    }
    *text = json_dumps(hours, JSON_COMPACT);
    return *text != NULL;
}

void api_providers_create(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"name", "workingHours", NULL};
    const char *name = NULL;
    char *hours = NULL;
    json_t *provider = NULL;
    struct db_result res;

    if (!api_body_only_fields(req, resp, fields) ||
        !api_body_string(req, resp, "name", true, CORE_NAME_MAX_CHARS, &name))
        return;
    if (!*name) {
        http_reply_invalid(resp, "name", "name must not be empty.");
        return;
    }
    if (!working_hours_text(req, resp, false, &hours))
        return;
    db_provider_create(req->app->pool, req->auth.org_id, name, hours, req->auth.actor, &provider,
                       &res);
    api_reply_object(resp, 201, provider, &res);
    free(hours);
}

void api_providers_set_hours(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"workingHours", NULL};
    char *hours;
    json_t *provider = NULL;
    struct db_result res;

    /* A missing workingHours is named before an unknown field: a body that
     * is the hours object itself ({"mon": [...]}) lacks only the wrapper,
     * and "Unknown field mon" would send the client looking elsewhere. */
    if (!api_body_required(req, resp, "workingHours") ||
        !api_body_only_fields(req, resp, fields) || !working_hours_text(req, resp, true, &hours))
        return;
    db_provider_set_hours(req->app->pool, req->auth.org_id, req->params[0], hours,
                          req->auth.actor, &provider, &res);
    api_reply_object(resp, 200, provider, &res);
    free(hours);
}

void api_providers_list(struct http_request *req, struct http_response *resp)
{
    json_t *list = NULL;
    struct db_result res;

    db_provider_list(req->app->pool, req->auth.org_id, &list, &res);
    api_reply_list(resp, "providers", list, &res);
}
