/* Services: what is booked, a duration and the buffers around it. */
#include "api/api.h"
#include "api/params.h"
#include "app.h"
#include "core/validate.h"
#include "db/services.h"
#include "http/reply.h"

void api_services_create(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"name", "durationMinutes", "bufferBeforeMinutes",
                                         "bufferAfterMinutes", NULL};
    const char *name = NULL;
    int duration = 0, before = 0, after = 0;
    json_t *service = NULL;
    struct db_result res;

    if (!api_body_only_fields(req, resp, fields) ||
        !api_body_string(req, resp, "name", true, CORE_NAME_MAX_CHARS, &name) ||
        !api_body_int(req, resp, "durationMinutes", true, CORE_DURATION_MIN, CORE_DURATION_MAX,
                      &duration, NULL) ||
        !api_body_int(req, resp, "bufferBeforeMinutes", false, 0, CORE_BUFFER_MAX, &before, NULL) ||
        !api_body_int(req, resp, "bufferAfterMinutes", false, 0, CORE_BUFFER_MAX, &after, NULL))
        return;
    if (!*name) {
        http_reply_invalid(resp, "name", "name must not be empty.");
        return;
    }
    db_service_create(req->app->pool, req->auth.org_id, name, duration, before, after,
                      req->auth.actor, &service, &res);
    api_reply_object(resp, 201, service, &res);
}

void api_services_list(struct http_request *req, struct http_response *resp)
{
    json_t *list = NULL;
    struct db_result res;

    db_service_list(req->app->pool, req->auth.org_id, &list, &res);
    api_reply_list(resp, "services", list, &res);
}
