/* Creating an organization: the one thing the operator's token may do.
 * Its keys and Vapi secret are generated here, shown once, stored hashed. */
#include <string.h>

#include <openssl/crypto.h>

#include "api/api.h"
#include "api/params.h"
#include "app.h"
#include "core/validate.h"
#include "db/directory.h"
#include "http/auth.h"
#include "http/reply.h"

#define SECRET_SIZE 64

void api_orgs_create(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"name", "timezone", NULL};
    const char *name = NULL, *timezone = NULL;
    char admin[SECRET_SIZE], public_[SECRET_SIZE], vapi[SECRET_SIZE];
    unsigned char admin_hash[32], public_hash[32], vapi_hash[32];
    struct db_org_created org;
    struct db_result res;

    if (!body_only_fields(req, resp, fields) ||
        !body_string(req, resp, "name", true, CORE_NAME_MAX_CHARS, &name) ||
        !body_string(req, resp, "timezone", true, 64, &timezone))
        return;
    if (!*name) {
        http_reply_invalid(resp, "name", "name must not be empty.");
        return;
    }
    if (http_new_secret("bk_admin_", admin, sizeof admin) != 0 ||
        http_new_secret("bk_public_", public_, sizeof public_) != 0 ||
        http_new_secret("vapi_", vapi, sizeof vapi) != 0) {
        http_reply_error(resp, 500, "internal", NULL, "Could not generate keys.");
        return;
    }
    http_sha256(admin, strlen(admin), admin_hash);
    http_sha256(public_, strlen(public_), public_hash);
    http_sha256(vapi, strlen(vapi), vapi_hash);

    db_org_create(req->app->pool, name, timezone, vapi_hash, admin_hash, public_hash, &org, &res);
    if (res.outcome == DB_OK)
        http_reply_json(resp, 201,
                        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", org.id, "name",
                                  name, "timezone", timezone, "adminKey", admin, "publicKey",
                                  public_, "vapiSecret", vapi, "defaultProviderId",
                                  org.default_provider_id));
    else
        api_reply_db_failure(resp, &res);
    OPENSSL_cleanse(admin, sizeof admin);
    OPENSSL_cleanse(public_, sizeof public_);
    OPENSSL_cleanse(vapi, sizeof vapi);
}
