/* Creating an organization (the one thing the operator's token may do),
 * replacing its Vapi secret, and reading and changing it with its booking
 * policies (API.md, "Booking policies"). Keys and secrets are generated
 * here, shown once, stored hashed. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api/api.h"
#include "api/params.h"
#include "app.h"
#include "core/sha256.h"
#include "core/validate.h"
#include "db/orgs.h"
#include "http/auth.h"
#include "http/reply.h"

int api_org_provision(struct db_pool *pool, const char *name, const char *timezone,
                      struct api_org_secrets *out, struct db_result *res)
{
    unsigned char admin_hash[32], public_hash[32], vapi_hash[32];

    memset(out, 0, sizeof *out);
    memset(res, 0, sizeof *res);
    if (http_new_secret("bk_admin_", out->admin_key, sizeof out->admin_key) != 0 ||
        http_new_secret("bk_public_", out->public_key, sizeof out->public_key) != 0 ||
        http_new_secret("vapi_", out->vapi_secret, sizeof out->vapi_secret) != 0) {
        res->outcome = DB_ERROR;
        return -1;
    }
    core_sha256(out->admin_key, strlen(out->admin_key), admin_hash);
    core_sha256(out->public_key, strlen(out->public_key), public_hash);
    core_sha256(out->vapi_secret, strlen(out->vapi_secret), vapi_hash);
    return db_org_create(pool, name, timezone, vapi_hash, admin_hash, public_hash, &out->org,
                         res);
}

json_t *api_org_json(const char *name, const char *timezone, const struct api_org_secrets *s)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", s->org.id, "name", name,
                     "timezone", timezone, "adminKey", s->admin_key, "publicKey", s->public_key,
                     "vapiSecret", s->vapi_secret, "defaultProviderId",
                     s->org.default_provider_id);
}

void api_orgs_create(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"name", "timezone", NULL};
    const char *name = NULL, *timezone = NULL;
    struct api_org_secrets secrets;
    struct db_result res;

    if (!api_body_only_fields(req, resp, fields) ||
        !api_body_string(req, resp, "name", true, CORE_NAME_MAX_CHARS, &name) ||
        !api_body_string(req, resp, "timezone", true, 64, &timezone))
        return;
    if (!*name) {
        http_reply_invalid(resp, "name", "name must not be empty.");
        return;
    }
    api_org_provision(req->app->pool, name, timezone, &secrets, &res);
    if (res.outcome == DB_OK)
        http_reply_json(resp, 201, api_org_json(name, timezone, &secrets));
    else
        api_reply_db_failure(resp, &res);
    OPENSSL_cleanse(&secrets, sizeof secrets);
}

void api_orgs_rotate_vapi_secret(struct http_request *req, struct http_response *resp)
{
    char secret[64];
    unsigned char hash[32];
    struct db_result res;

    memset(&res, 0, sizeof res);
    if (http_new_secret("vapi_", secret, sizeof secret) != 0) {
        res.outcome = DB_ERROR;
    } else {
        core_sha256(secret, strlen(secret), hash);
        db_org_rotate_vapi_secret(req->app->pool, req->auth.org_id, hash, req->auth.actor, &res);
    }
    if (res.outcome == DB_OK)
        http_reply_json(resp, 200, json_pack("{s:s}", "vapiSecret", secret));
    else
        api_reply_db_failure(resp, &res);
    OPENSSL_cleanse(secret, sizeof secret);
}

void api_orgs_me_get(struct http_request *req, struct http_response *resp)
{
    json_t *org = NULL;
    struct db_result res;

    db_org_get(req->app->pool, req->auth.org_id, &org, &res);
    api_reply_object(resp, 200, org, &res);
}

void api_orgs_me_update(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"name", "policies", NULL};
    const char *name = NULL;
    char *policies = NULL;
    json_t *org = NULL, *p = req->json ? json_object_get(req->json, "policies") : NULL;
    struct db_result res;

    if (!api_body_only_fields(req, resp, fields) ||
        !api_body_string(req, resp, "name", false, CORE_NAME_MAX_CHARS, &name))
        return;
    if (name && !*name) {
        http_reply_invalid(resp, "name", "name must not be empty.");
        return;
    }
    if (p && !json_is_null(p) && !json_is_object(p)) {
        http_reply_invalid(resp, "policies",
                           "policies must be an object of minimumNoticeMinutes, "
                           "bookingHorizonDays and cancellationNoticeHours.");
        return;
    }
    if (json_is_object(p) && !(policies = json_dumps(p, JSON_COMPACT))) {
        http_reply_error(resp, 500, "internal", NULL, "Out of memory.");
        return;
    }
    db_org_update(req->app->pool, req->auth.org_id, name, policies, req->auth.actor, &org,
                  &res);
    free(policies);
    api_reply_object(resp, 200, org, &res);
}
