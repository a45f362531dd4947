#include "db/audit.h"

#include <stdio.h>

#include "db/query.h"

int db_audit_list(struct db_pool *pool, const char *org_id, const char *entity_id, int limit,
                  json_t **out, struct db_result *res)
{
    char lim[16];
    const char *params[] = {org_id, entity_id, lim};
    snprintf(lim, sizeof lim, "%d", limit);
    return db_fetch_json(pool, "audit_list", 3, params, out, res);
}
