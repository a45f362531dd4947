#include "db/providers.h"

#include "db/query.h"

int db_provider_create(struct db_pool *pool, const char *org_id, const char *name,
                       const char *working_hours_json, const char *actor, json_t **out,
                       struct db_result *res)
{
    const char *params[] = {org_id, name, working_hours_json, actor};
    return db_fetch_json(pool, "provider_create", 4, params, out, res);
}

int db_provider_set_hours(struct db_pool *pool, const char *org_id, const char *provider_id,
                          const char *working_hours_json, const char *actor, json_t **out,
                          struct db_result *res)
{
    const char *params[] = {org_id, provider_id, working_hours_json, actor};
    return db_fetch_json(pool, "provider_set_hours", 4, params, out, res);
}

int db_provider_list(struct db_pool *pool, const char *org_id, json_t **out,
                     struct db_result *res)
{
    const char *params[] = {org_id};
    return db_fetch_json(pool, "provider_list", 1, params, out, res);
}
