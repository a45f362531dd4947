/* The audit log: who did what, without personal data. */
#include "api/api.h"
#include "api/params.h"
#include "app.h"
#include "db/audit.h"

void api_audit_list(struct http_request *req, struct http_response *resp)
{
    char entity[DB_ID_SIZE];
    bool has_entity = false;
    int limit = 100;
    json_t *entries = NULL;
    struct db_result res;

    if (!api_query_uuid(req, resp, "entityId", false, entity, &has_entity) ||
        !api_query_int(req, resp, "limit", false, 1, 500, &limit, NULL))
        return;
    db_audit_list(req->app->pool, req->auth.org_id, has_entity ? entity : NULL, limit, &entries,
                  &res);
    api_reply_list(resp, "entries", entries, &res);
}
