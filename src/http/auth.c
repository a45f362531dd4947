#include "http/auth.h"

#include <errno.h>
#include <semaphore.h>
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
#include "metrics.h"

#define CACHE_TTL_S 30
/* Unknown keys are remembered too, briefly, so a client that keeps sending
 * a wrong key costs no database lookup each time. A new key is random, so
 * it can never be one remembered as unknown. */
#define UNKNOWN_TTL_S 10
#define MAX_KEY_LEN 256

struct auth_cache {
    sem_t lookups; /* a token per key lookup allowed to run at once */
    bool has_admin_token;
    unsigned char admin_token_hash[32]; /* hashed once, compared digest to digest */
    struct http_key_cache *keys;
};

struct auth_cache *http_auth_cache_new(const char *admin_token, int max_lookups)
{
    struct auth_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (sem_init(&c->lookups, 0, (unsigned)(max_lookups > 0 ? max_lookups : 1)) != 0) {
        free(c);
        return NULL;
    }
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
    sem_destroy(&cache->lookups);
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

/*
 * A lookup waits at most this long for one of the lookups allowed at once.
 * A lookup takes a fraction of a millisecond, so at start, when every key
 * is new, a queue of hundreds drains within it; when lookups stall (a lock
 * on the keys, a flood of made-up keys) the flood is answered 503 almost
 * at once, and a server thread it holds is free again as soon (a waiting
 * request holds its thread, and with it the other connections the thread
 * serves).
 */
#define LOOKUP_WAIT_MS 20

/* What the key cache says of `hash` now: 1 a key (its owner in *out), 0
 * known to be no key, -1 not in the cache. */
static int cache_says(struct app *app, const unsigned char *hash, struct http_auth *out)
{
    bool known = false;

    if (!http_key_cache_get(app->auth->keys, hash, time(NULL), &known, out))
        return -1;
    if (known)
        return 1;
    memset(out, 0, sizeof *out);
    return 0;
}

/*
 * Looks a key up once one of the lookups allowed at once is free: keys not
 * in the cache (new, or made up by a flood) then hold at most that many
 * pool connections, and the rest of the pool stays for requests with known
 * keys. With `cached` (where the answer goes if the cache has it), a burst
 * of requests with one new key (a client's first, a server just started)
 * does not queue for lookups of the same key: whichever lookup finishes
 * first puts it in the cache, and each of the others finds it there when
 * its turn comes, or when its wait ran out (*hit, the answer in *cached).
 */
static enum db_key_result bounded_lookup(
    struct app *app, const unsigned char *hash, struct db_key_owner *owner,
    enum db_key_result (*lookup)(struct db_pool *, const unsigned char *, struct db_key_owner *),
    struct http_auth *cached, bool *hit)
{
    struct auth_cache *c = app->auth;
    struct timespec until;
    enum db_key_result r;
    int rc, says;

    *hit = false;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += LOOKUP_WAIT_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while ((rc = sem_timedwait(&c->lookups, &until)) != 0 && errno == EINTR)
        ;
    if (cached && (says = cache_says(app, hash, cached)) >= 0) {
        if (rc == 0)
            sem_post(&c->lookups);
        *hit = true;
        return says ? DB_KEY_FOUND : DB_KEY_UNKNOWN;
    }
    if (rc != 0)
        return DB_KEY_ERROR; /* 503: as many lookups as allowed, all the wait */
    r = lookup(app->pool, hash, owner);
    sem_post(&c->lookups);
    metrics_key_lookup(lookup == db_vapi_secret_lookup);
    return r;
}

enum auth_result http_authenticate(struct app *app, const char *authorization, bool may_look_up,
                                   struct http_auth *out)
{
    unsigned char hash[32];
    const char *key;
    size_t len = 0;
    struct db_key_owner owner;
    bool hit = false;
    int says;

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
    if ((says = cache_says(app, hash, out)) >= 0)
        return says ? AUTH_OK : AUTH_UNKNOWN;
    if (!may_look_up)
        return AUTH_REFUSED;
    switch (bounded_lookup(app, hash, &owner, db_key_lookup, out, &hit)) {
    case DB_KEY_FOUND:
        if (hit)
            return AUTH_OK;
        break;
    case DB_KEY_UNKNOWN:
        if (!hit)
            http_key_cache_put(app->auth->keys, hash, time(NULL), UNKNOWN_TTL_S, NULL);
        return AUTH_UNKNOWN;
    default:
        /* No lookup now: a key known a moment ago is still known. */
        return http_key_cache_get_stale(app->auth->keys, hash, time(NULL), out) ? AUTH_OK
                                                                                : AUTH_UNAVAILABLE;
    }
    out->principal = owner.is_admin ? PRINCIPAL_ADMIN : PRINCIPAL_PUBLIC;
    out->per_address = owner.is_page;
    set_owner(out, &owner);
    snprintf(out->actor, sizeof out->actor, "%s:%s", owner.is_admin ? "admin_key" : "public_key",
             owner.key_id);
    http_key_cache_put(app->auth->keys, hash, time(NULL), CACHE_TTL_S, out);
    return AUTH_OK;
}

/* A Vapi secret's owner, found in the cache: to be checked by the request
 * (http/auth.h). An entry of any other kind cannot share its digest, as
 * keys and secrets differ in form; it is refused all the same. */
static enum auth_result cached_vapi_secret(const unsigned char *hash, struct http_auth *out)
{
    if (out->principal != PRINCIPAL_VAPI) {
        memset(out, 0, sizeof *out);
        return AUTH_UNKNOWN;
    }
    out->vapi_unchecked = true;
    memcpy(out->vapi_secret_hash, hash, 32);
    return AUTH_OK;
}

enum auth_result http_authenticate_vapi(struct app *app, const char *vapi_secret,
                                        const char *authorization, bool may_look_up,
                                        struct http_auth *out)
{
    unsigned char hash[32];
    const char *key = vapi_secret;
    size_t len = key ? strnlen(key, MAX_KEY_LEN + 1) : 0;
    struct db_key_owner owner;
    bool hit;
    int says;

    memset(out, 0, sizeof *out);
    if (!key)
        key = bearer(authorization, &len);
    /* Only secrets of bookd's own form can be stored: anything else costs
     * no lookup. The lookup is by digest, so it takes the same time
     * whatever the secret. */
    if (!key || len == 0 || len > MAX_KEY_LEN || strncmp(key, "vapi_", 5) != 0)
        return AUTH_UNKNOWN;
    core_sha256(key, len, hash);
    if ((says = cache_says(app, hash, out)) >= 0)
        return says ? cached_vapi_secret(hash, out) : AUTH_UNKNOWN;
    if (!may_look_up)
        return AUTH_REFUSED;
    switch (bounded_lookup(app, hash, &owner, db_vapi_secret_lookup, out, &hit)) {
    case DB_KEY_FOUND:
        if (hit)
            return cached_vapi_secret(hash, out);
        break;
    case DB_KEY_UNKNOWN:
        if (!hit)
            http_key_cache_put(app->auth->keys, hash, time(NULL), UNKNOWN_TTL_S, NULL);
        return AUTH_UNKNOWN;
    default:
        return AUTH_UNAVAILABLE;
    }
    out->principal = PRINCIPAL_VAPI;
    set_owner(out, &owner);
    snprintf(out->actor, sizeof out->actor, "vapi");
    http_key_cache_put(app->auth->keys, hash, time(NULL), CACHE_TTL_S, out);
    return AUTH_OK;
}

enum auth_result http_vapi_secret_check(struct app *app, const unsigned char hash[32],
                                        const char *org_id)
{
    struct db_key_owner owner;
    bool hit;

    switch (bounded_lookup(app, hash, &owner, db_vapi_secret_lookup, NULL, &hit)) {
    case DB_KEY_FOUND:
        if (strcmp(owner.org_id, org_id) == 0)
            return AUTH_OK;
        break;
    case DB_KEY_UNKNOWN:
        break;
    default:
        return AUTH_UNAVAILABLE;
    }
    http_vapi_secret_refused(app, hash);
    return AUTH_UNKNOWN;
}

void http_vapi_secret_refused(struct app *app, const unsigned char hash[32])
{
    /* A put reuses this digest's own entry, so the cached owner becomes an
     * entry of an unknown key, and no stale fallback is left. */
    http_key_cache_put(app->auth->keys, hash, time(NULL), UNKNOWN_TTL_S, NULL);
}
