#include "db/directory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/query.h"
#include "db/service_cache.h"

void db_hash_to_bytea(const unsigned char *hash, char *out)
{
    static const char hex[] = "0123456789abcdef";
    out[0] = '\\';
    out[1] = 'x';
    for (int i = 0; i < 32; i++) {
        out[2 + 2 * i] = hex[hash[i] >> 4];
        out[3 + 2 * i] = hex[hash[i] & 15];
    }
    out[66] = '\0';
}

int db_org_create(struct db_pool *pool, const char *name, const char *timezone,
                  const unsigned char *vapi_secret_hash, const unsigned char *admin_key_hash,
                  const unsigned char *public_key_hash, struct db_org_created *out,
                  struct db_result *res)
{
    char vapi[67], admin[67], public_[67];
    const char *params[] = {name, timezone, vapi, admin, public_};
    json_t *root = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    db_hash_to_bytea(vapi_secret_hash, vapi);
    db_hash_to_bytea(admin_key_hash, admin);
    db_hash_to_bytea(public_key_hash, public_);
    rc = db_fetch_json(pool, "org_create", 5, params, &root, res);
    if (root) {
        snprintf(out->id, sizeof out->id, "%s", json_string_value(json_object_get(root, "id")));
        snprintf(out->default_provider_id, sizeof out->default_provider_id, "%s",
                 json_string_value(json_object_get(root, "defaultProviderId")));
        snprintf(out->admin_key_id, sizeof out->admin_key_id, "%s",
                 json_string_value(json_object_get(root, "adminKeyId")));
        snprintf(out->public_key_id, sizeof out->public_key_id, "%s",
                 json_string_value(json_object_get(root, "publicKeyId")));
    }
    json_decref(root);
    return rc;
}

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
    struct service_range range;
    struct db_conn *conn;
    PGresult *pg;
    int rc = -1;

    memset(res, 0, sizeof *res);
    if (service_cache_get(db_pool_services(pool), org_id, service_id, &range)) {
        *duration = range.duration;
        *before = range.before;
        *after = range.after;
        return 0;
    }
    if (db_pool_acquire(pool, &conn) != 0) {
        res->outcome = DB_UNAVAILABLE;
        return -1;
    }
    pg = db_exec(conn, "service_range", 2, params);
    if (PQresultStatus(pg) != PGRES_TUPLES_OK) {
        db_map_error(pg, conn, "service_range", res);
    } else if (PQntuples(pg) == 0) {
        db_set_invalid(res, "serviceId", "serviceId does not exist");
        rc = 0;
    } else {
        range.duration = *duration = db_int_value(PQgetvalue(pg, 0, 0));
        range.before = *before = db_int_value(PQgetvalue(pg, 0, 1));
        range.after = *after = db_int_value(PQgetvalue(pg, 0, 2));
        service_cache_put(db_pool_services(pool), org_id, service_id, &range);
        rc = 0;
    }
    PQclear(pg);
    db_pool_release(pool, conn);
    return rc;
}

int db_contact_create(struct db_pool *pool, const char *org_id, const char *name,
                      const char *phone, const char *email, const char *actor, json_t **out,
                      struct db_result *res)
{
    const char *params[] = {org_id, name, phone, email, actor};
    return db_fetch_json(pool, "contact_create", 5, params, out, res);
}

int db_contact_get(struct db_pool *pool, const char *org_id, const char *contact_id,
                   json_t **out, struct db_result *res)
{
    const char *params[] = {org_id, contact_id};
    int rc = db_fetch_json(pool, "contact_get", 2, params, out, res);
    if (rc == 0 && !*out)
        res->outcome = DB_NOT_FOUND;
    return rc;
}

int db_contact_erase(struct db_pool *pool, const char *org_id, const char *contact_id,
                     const char *actor, json_t **out, struct db_result *res)
{
    const char *params[] = {org_id, contact_id, actor};
    return db_fetch_json(pool, "contact_erase", 3, params, out, res);
}

int db_audit_list(struct db_pool *pool, const char *org_id, const char *entity_id, int limit,
                  json_t **out, struct db_result *res)
{
    char lim[16];
    const char *params[] = {org_id, entity_id, lim};
    snprintf(lim, sizeof lim, "%d", limit);
    return db_fetch_json(pool, "audit_list", 3, params, out, res);
}
