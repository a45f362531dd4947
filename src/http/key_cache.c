#include "http/key_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct key_entry {
    unsigned char hash[32];
    time_t expires; /* 0: empty */
    bool known;
    struct http_auth auth;
};

struct http_key_cache {
    pthread_mutex_t lock;
    struct key_entry sets[HTTP_KEY_CACHE_SETS][HTTP_KEY_CACHE_WAYS];
};

struct http_key_cache *http_key_cache_new(void)
{
    struct http_key_cache *c = calloc(1, sizeof *c);
    if (c)
        pthread_mutex_init(&c->lock, NULL);
    return c;
}

void http_key_cache_free(struct http_key_cache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    OPENSSL_cleanse(c, sizeof *c);
    free(c);
}

/* The digest is uniformly distributed: its first two bytes pick the set. */
static struct key_entry *set_of(struct http_key_cache *c, const unsigned char *hash)
{
    return c->sets[(hash[0] | hash[1] << 8) % HTTP_KEY_CACHE_SETS];
}

bool http_key_cache_get(struct http_key_cache *c, const unsigned char hash[32], time_t now,
                        bool *known, struct http_auth *out)
{
    struct key_entry *set = set_of(c, hash);
    bool hit = false;

    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < HTTP_KEY_CACHE_WAYS && !hit; i++) {
        if (set[i].expires > now && CRYPTO_memcmp(set[i].hash, hash, 32) == 0) {
            hit = true;
            *known = set[i].known;
            if (set[i].known)
                *out = set[i].auth;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

bool http_key_cache_get_stale(struct http_key_cache *c, const unsigned char hash[32], time_t now,
                              struct http_auth *out)
{
    struct key_entry *set = set_of(c, hash);
    bool hit = false;

    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < HTTP_KEY_CACHE_WAYS && !hit; i++) {
        if (set[i].known && set[i].expires + HTTP_KEY_CACHE_STALE_S > now &&
            CRYPTO_memcmp(set[i].hash, hash, 32) == 0) {
            hit = true;
            *out = set[i].auth;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

/*
 * Which entry a new answer takes. An unknown key may only take an empty or
 * expired entry (a known key's only past its stale time), or another
 * unknown key's: a flood of random keys must not
 * push the real ones out, or every real request would cost a lookup while
 * the flood lasts. A known key takes, in that order of preference, an
 * empty or expired entry, an unknown key's, the known entry to expire
 * first. The same key's own entry first of all. NULL: keep no entry.
 */
static struct key_entry *entry_for(struct key_entry *set, const unsigned char *hash, time_t now,
                                   bool known)
{
    struct key_entry *free_e = NULL, *unknown_e = NULL, *known_e = NULL;

    for (int i = 0; i < HTTP_KEY_CACHE_WAYS; i++) {
        struct key_entry *e = &set[i];
        if (e->expires != 0 && memcmp(e->hash, hash, 32) == 0)
            return e;
        /* A known key's entry stays its own through its stale time, except
         * for another known key. */
        bool keep = e->known && e->expires + HTTP_KEY_CACHE_STALE_S > now;
        if (e->expires <= now && !(keep && !known)) {
            if (!free_e)
                free_e = e;
        } else if (!e->known) {
            if (!unknown_e || e->expires < unknown_e->expires)
                unknown_e = e;
        } else if (!known_e || e->expires < known_e->expires) {
            known_e = e;
        }
    }
    if (free_e)
        return free_e;
    if (unknown_e)
        return unknown_e;
    return known ? known_e : NULL;
}

void http_key_cache_put(struct http_key_cache *c, const unsigned char hash[32], time_t now,
                        int ttl_s, const struct http_auth *a)
{
    struct key_entry *e;

    pthread_mutex_lock(&c->lock);
    e = entry_for(set_of(c, hash), hash, now, a != NULL);
    if (e) {
        memcpy(e->hash, hash, 32);
        e->expires = now + ttl_s;
        e->known = a != NULL;
        if (a)
            e->auth = *a;
        else
            memset(&e->auth, 0, sizeof e->auth);
    }
    pthread_mutex_unlock(&c->lock);
}
