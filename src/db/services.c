#include "db/services.h"

#include <stdio.h>
#include <string.h>

#include "db/query.h"
#include "db/service_cache.h"

int db_service_create(struct db_pool *pool, const char *org_id, const char *name,
                      int duration_minutes, int buffer_before_minutes, int buffer_after_minutes,
                      const char *actor, json_t **out, struct db_result *res)
{
    char dur[16], before[16], after[16];
    const char *params[] = {org_id, name, dur, before, after, actor};
    snprintf(dur, sizeof dur, "%d", duration_minutes);
    snprintf(before, sizeof before, "%d", buffer_before_minutes);
    snprintf(after, sizeof after, "%d", buffer_after_minutes);
    return db_fetch_json(pool, "service_create", 6, params, out, res);
}

int db_service_list(struct db_pool *pool, const char *org_id, json_t **out,
                    struct db_result *res)
{
    const char *params[] = {org_id};
    return db_fetch_json(pool, "service_list", 1, params, out, res);
}

int db_service_range(struct db_pool *pool, const char *org_id, const char *service_id,
                     int *duration, int *before, int *after, struct db_result *res)
{
    const char *params[] = {org_id, service_id};
    struct db_service_range range;
    PGresult *pg;

    memset(res, 0, sizeof *res);
    if (db_service_cache_get(db_pool_services(pool), org_id, service_id, &range)) {
        *duration = range.duration;
        *before = range.before;
        *after = range.after;
        return 0;
    }
    if (!(pg = db_run_rows(pool, "service_range", 2, params, res)))
        return -1;
    if (PQntuples(pg) == 0) {
        db_set_invalid(res, "serviceId", "serviceId does not exist");
    } else {
        range.duration = *duration = db_int_value(PQgetvalue(pg, 0, 0));
        range.before = *before = db_int_value(PQgetvalue(pg, 0, 1));
        range.after = *after = db_int_value(PQgetvalue(pg, 0, 2));
        db_service_cache_put(db_pool_services(pool), org_id, service_id, &range);
    }
    PQclear(pg);
    return 0;
}
