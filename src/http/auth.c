#include "http/auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/sha256.h"
#include "db/keys.h"

#define CACHE_SLOTS 1024
#define CACHE_TTL_S 30
/* Unknown keys are remembered too, briefly, so a client that keeps sending
 * a wrong key costs no database lookup each time. A new key is random, so
 * it can never be one remembered as unknown. */
#define UNKNOWN_TTL_S 10
#define MAX_KEY_LEN 256

struct cache_entry {
    unsigned char hash[32];
    time_t expires;
    bool known;
    struct http_auth auth;
};

struct auth_cache {
    pthread_mutex_t lock;
    bool has_admin_token;
    unsigned char admin_token_hash[32]; /* hashed once, compared digest to digest */
    struct cache_entry slots[CACHE_SLOTS];
};

struct auth_cache *http_auth_cache_new(const char *admin_token)
{
    struct auth_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
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
    pthread_mutex_destroy(&cache->lock);
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

/* A cached answer for `hash`: true with *known and *out filled, or false. */
static bool cache_get(struct auth_cache *c, const unsigned char *hash, bool *known,
                      struct http_auth *out)
{
    struct cache_entry *e = &c->slots[(hash[0] | hash[1] << 8) % CACHE_SLOTS];
    bool hit;
    pthread_mutex_lock(&c->lock);
    hit = e->expires > time(NULL) && CRYPTO_memcmp(e->hash, hash, 32) == 0;
    if (hit) {
        *known = e->known;
        *out = e->auth;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

/* Remembers `hash` as the key of *a, or (a NULL) as no key at all. */
static void cache_put(struct auth_cache *c, const unsigned char *hash, const struct http_auth *a)
{
    struct cache_entry *e = &c->slots[(hash[0] | hash[1] << 8) % CACHE_SLOTS];
    pthread_mutex_lock(&c->lock);
    memcpy(e->hash, hash, 32);
    e->known = a != NULL;
    if (a)
        e->auth = *a;
    else
        memset(&e->auth, 0, sizeof e->auth);
    e->expires = time(NULL) + (a ? CACHE_TTL_S : UNKNOWN_TTL_S);
    pthread_mutex_unlock(&c->lock);
}

enum auth_result http_authenticate(struct app *app, const char *authorization,
                                   struct http_auth *out)
{
    unsigned char hash[32];
    const char *key;
    size_t len;
    struct db_key_owner owner;
    bool known = false;

    memset(out, 0, sizeof *out);
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return AUTH_UNKNOWN;
    key = authorization + 7;
    while (*key == ' ')
        key++;
    len = strnlen(key, MAX_KEY_LEN + 1);
    if (len == 0 || len > MAX_KEY_LEN)
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
    if (strncmp(key, "bk_admin_", 9) != 0 && strncmp(key, "bk_public_", 10) != 0)
        return AUTH_UNKNOWN;
    if (cache_get(app->auth, hash, &known, out)) {
        if (known)
            return AUTH_OK;
        memset(out, 0, sizeof *out);
        return AUTH_UNKNOWN;
    }
    switch (db_key_lookup(app->pool, hash, &owner)) {
    case DB_KEY_FOUND:
        break;
    case DB_KEY_UNKNOWN:
        cache_put(app->auth, hash, NULL);
        return AUTH_UNKNOWN;
    default:
        return AUTH_UNAVAILABLE;
    }
    out->principal = owner.is_admin ? PRINCIPAL_ADMIN : PRINCIPAL_PUBLIC;
    memcpy(out->key_id, owner.key_id, DB_ID_SIZE);
    memcpy(out->org_id, owner.org_id, DB_ID_SIZE);
    memcpy(out->default_provider_id, owner.default_provider_id, DB_ID_SIZE);
    snprintf(out->timezone, sizeof out->timezone, "%s", owner.timezone);
    snprintf(out->actor, sizeof out->actor, "%s:%s", owner.is_admin ? "admin_key" : "public_key",
             owner.key_id);
    cache_put(app->auth, hash, out);
    return AUTH_OK;
}
