#include "http/auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/sha256.h"
#include "db/query.h"
#include "db/keys.h"
#include "http/key_cache.h"

#define CACHE_TTL_S 30
/* Unknown keys are remembered too, briefly, so a client that keeps sending
 * a wrong key costs no database lookup each time. A new key is random, so
 * it can never be one remembered as unknown. */
#define UNKNOWN_TTL_S 10
#define MAX_KEY_LEN 256

struct auth_cache {
    bool has_admin_token;
    unsigned char admin_token_hash[32]; /* hashed once, compared digest to digest */
    struct http_key_cache *keys;
};

struct auth_cache *http_auth_cache_new(const char *admin_token)
{
    struct auth_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (!(c->keys = http_key_cache_new())) {
        free(c);
        return NULL;
    }
    if (admin_token) {
        c->has_admin_token = true;
        core_sha256(admin_token, strlen(admin_token), c->admin_token_hash);
    }
    return c;
}

void http_auth_cache_free(struct auth_cache *cache)
{
    if (!cache)
        return;
    http_key_cache_free(cache->keys);
    OPENSSL_cleanse(cache, sizeof *cache);
    free(cache);
}

int http_new_secret(const char *prefix, char *out, size_t out_size)
{
    unsigned char raw[32];
    unsigned char b64[48];
    size_t plen = strlen(prefix);

    if (out_size < plen + 44 || RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    EVP_EncodeBlock(b64, raw, sizeof raw); /* 44 chars, the last is '=' */
    memcpy(out, prefix, plen);
    for (int i = 0; i < 43; i++) {
        char ch = (char)b64[i];
        out[plen + (size_t)i] = ch == '+' ? '-' : ch == '/' ? '_' : ch;
    }
    out[plen + 43] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

void http_manage_token_hash(const char *token, char hash[HTTP_MANAGE_HASH_SIZE])
{
    unsigned char d[32];

    core_sha256(token, strlen(token), d);
    db_hash_to_bytea(d, hash);
}

int http_manage_token_new(char token[HTTP_MANAGE_TOKEN_SIZE], char hash[HTTP_MANAGE_HASH_SIZE])
{
    if (http_new_secret("", token, HTTP_MANAGE_TOKEN_SIZE) != 0)
        return -1;
    http_manage_token_hash(token, hash);
    return 0;
}

/* The key of "Bearer <key>" and its length, or NULL. */
static const char *bearer(const char *authorization, size_t *len)
{
    const char *key;

    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    key = authorization + 7;
    while (*key == ' ')
        key++;
    *len = strnlen(key, MAX_KEY_LEN + 1);
    return *len == 0 || *len > MAX_KEY_LEN ? NULL : key;
}

/* Fills *out from a found owner. */
static void set_owner(struct http_auth *out, const struct db_key_owner *owner)
{
    memcpy(out->key_id, owner->key_id, DB_ID_SIZE);
    memcpy(out->org_id, owner->org_id, DB_ID_SIZE);
    memcpy(out->default_provider_id, owner->default_provider_id, DB_ID_SIZE);
    snprintf(out->timezone, sizeof out->timezone, "%s", owner->timezone);
}

enum auth_result http_authenticate(struct app *app, const char *authorization,
                                   struct http_auth *out)
{
    unsigned char hash[32];
    const char *key;
    size_t len = 0;
    struct db_key_owner owner;
    bool known = false;

    memset(out, 0, sizeof *out);
    if (!(key = bearer(authorization, &len)))
        return AUTH_UNKNOWN;
    core_sha256(key, len, hash);

    if (app->auth->has_admin_token) {
        if (CRYPTO_memcmp(app->auth->admin_token_hash, hash, 32) == 0) {
            out->principal = PRINCIPAL_SERVER_ADMIN;
            snprintf(out->actor, sizeof out->actor, "system");
            return AUTH_OK;
        }
    }
    /* Only keys of bookd's own form can be in the database: anything else
     * costs no lookup. */
    if (strncmp(key, "bk_admin_", 9) != 0 && strncmp(key, "bk_public_", 10) != 0 &&
        strncmp(key, "bk_page_", 8) != 0)
        return AUTH_UNKNOWN;
    if (http_key_cache_get(app->auth->keys, hash, time(NULL), &known, out)) {
        if (known)
            return AUTH_OK;
        memset(out, 0, sizeof *out);
        return AUTH_UNKNOWN;
    }
    switch (db_key_lookup(app->pool, hash, &owner)) {
    case DB_KEY_FOUND:
        break;
    case DB_KEY_UNKNOWN:
        http_key_cache_put(app->auth->keys, hash, time(NULL), UNKNOWN_TTL_S, NULL);
        return AUTH_UNKNOWN;
    default:
        return AUTH_UNAVAILABLE;
    }
    out->principal = owner.is_admin ? PRINCIPAL_ADMIN : PRINCIPAL_PUBLIC;
    out->per_address = owner.is_page;
    set_owner(out, &owner);
    snprintf(out->actor, sizeof out->actor, "%s:%s", owner.is_admin ? "admin_key" : "public_key",
             owner.key_id);
    http_key_cache_put(app->auth->keys, hash, time(NULL), CACHE_TTL_S, out);
    return AUTH_OK;
}

enum auth_result http_authenticate_vapi(struct app *app, const char *vapi_secret,
                                        const char *authorization, struct http_auth *out)
{
    unsigned char hash[32];
    const char *key = vapi_secret;
    size_t len = key ? strnlen(key, MAX_KEY_LEN + 1) : 0;
    struct db_key_owner owner;

    memset(out, 0, sizeof *out);
    if (!key)
        key = bearer(authorization, &len);
    /* Only secrets of bookd's own form can be stored: anything else costs
     * no lookup. The lookup is by digest, so it takes the same time
     * whatever the secret. */
    if (!key || len == 0 || len > MAX_KEY_LEN || strncmp(key, "vapi_", 5) != 0)
        return AUTH_UNKNOWN;
    core_sha256(key, len, hash);
    switch (db_vapi_secret_lookup(app->pool, hash, &owner)) {
    case DB_KEY_FOUND:
        break;
    case DB_KEY_UNKNOWN:
        return AUTH_UNKNOWN;
    default:
        return AUTH_UNAVAILABLE;
    }
    out->principal = PRINCIPAL_VAPI;
    set_owner(out, &owner);
    snprintf(out->actor, sizeof out->actor, "vapi");
    return AUTH_OK;
}
