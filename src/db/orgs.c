#include "db/orgs.h"

#include <stdio.h>
#include <string.h>

#include "db/query.h"

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

int db_org_rotate_vapi_secret(struct db_pool *pool, const char *org_id,
                              const unsigned char *secret_hash, const char *actor,
                              struct db_result *res)
{
    char hash[67];
    const char *params[] = {org_id, hash, actor};
    json_t *root = NULL;
    int rc;

    db_hash_to_bytea(secret_hash, hash);
    rc = db_fetch_json(pool, "vapi_secret_rotate", 3, params, &root, res);
    json_decref(root);
    return rc;
}

int db_org_get(struct db_pool *pool, const char *org_id, json_t **out, struct db_result *res)
{
    const char *params[] = {org_id};
    return db_fetch_json(pool, "org_get", 1, params, out, res);
}

int db_org_update(struct db_pool *pool, const char *org_id, const char *name,
                  const char *policies_json, const char *actor, json_t **out,
                  struct db_result *res)
{
    const char *params[] = {org_id, name, policies_json, actor};
    return db_fetch_json(pool, "org_update", 4, params, out, res);
}

int db_page_config(struct db_pool *pool, const char *org_id, const char *token_hash,
                   const char *candidate_key, const char *candidate_hash, json_t **out,
                   struct db_result *res)
{
    const char *params[] = {org_id, token_hash, candidate_key, candidate_hash};
    return db_fetch_json(pool, "page_config", 4, params, out, res);
}
