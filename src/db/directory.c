#include "db/directory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "db/query.h"

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

/* Runs an INSERT ... RETURNING id and copies the id. */
static int create_returning_id(struct db_pool *pool, const char *stmt, int n,
                               const char *const *values, char *id_out, struct db_result *res)
{
    char *id = NULL;

    memset(res, 0, sizeof *res);
    id_out[0] = '\0';
    if (db_run_value(pool, stmt, n, values, &id, res) != 0)
        return res->outcome == DB_INVALID ? 0 : -1;
    snprintf(id_out, DB_ID_SIZE, "%s", id ? id : "");
    free(id);
    return 0;
}

int db_org_create(struct db_pool *pool, const char *name, const char *timezone,
                  const unsigned char *vapi_secret_hash, const unsigned char *admin_key_hash,
                  const unsigned char *public_key_hash, struct db_org_created *out,
                  struct db_result *res)
{
    char vapi[67], admin[67], public_[67], *text = NULL;
    const char *params[] = {name, timezone, vapi, admin, public_};
    json_t *root;
    int rc = -1;

    memset(res, 0, sizeof *res);
    memset(out, 0, sizeof *out);
    db_hash_to_bytea(vapi_secret_hash, vapi);
    db_hash_to_bytea(admin_key_hash, admin);
    db_hash_to_bytea(public_key_hash, public_);
    if (db_run_value(pool, "org_create", 5, params, &text, res) != 0)
        return res->outcome == DB_INVALID ? 0 : -1;
    root = text ? json_loads(text, 0, NULL) : NULL;
    if (root) {
        snprintf(out->id, sizeof out->id, "%s", json_string_value(json_object_get(root, "id")));
        snprintf(out->default_provider_id, sizeof out->default_provider_id, "%s",
                 json_string_value(json_object_get(root, "defaultProviderId")));
        snprintf(out->admin_key_id, sizeof out->admin_key_id, "%s",
                 json_string_value(json_object_get(root, "adminKeyId")));
        snprintf(out->public_key_id, sizeof out->public_key_id, "%s",
                 json_string_value(json_object_get(root, "publicKeyId")));
        rc = 0;
    } else {
        res->outcome = DB_ERROR;
    }
    json_decref(root);
    free(text);
    return rc;
}

int db_provider_create(struct db_pool *pool, const char *org_id, const char *name,
                       const char *working_hours_json, char *id_out, struct db_result *res)
{
    const char *params[] = {org_id, name, working_hours_json};
    return create_returning_id(pool, "provider_create", 3, params, id_out, res);
}

int db_service_create(struct db_pool *pool, const char *org_id, const char *name,
                      int duration_minutes, int buffer_before_minutes, int buffer_after_minutes,
                      char *id_out, struct db_result *res)
{
    char dur[16], before[16], after[16];
    const char *params[] = {org_id, name, dur, before, after};
    snprintf(dur, sizeof dur, "%d", duration_minutes);
    snprintf(before, sizeof before, "%d", buffer_before_minutes);
    snprintf(after, sizeof after, "%d", buffer_after_minutes);
    return create_returning_id(pool, "service_create", 5, params, id_out, res);
}

int db_contact_create(struct db_pool *pool, const char *org_id, const char *name,
                      const char *phone, const char *email, char *id_out, struct db_result *res)
{
    const char *params[] = {org_id, name, phone, email};
    return create_returning_id(pool, "contact_create", 4, params, id_out, res);
}
