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

void http_key_cache_put(struct http_key_cache *c, const unsigned char hash[32], time_t now,
                        int ttl_s, const struct http_auth *a)
{
    struct key_entry *set = set_of(c, hash), *e = &set[0];

    pthread_mutex_lock(&c->lock);
    /* The same key's entry if there is one, else the one to expire first
     * (an empty or expired entry expires before any live one). */
    for (int i = 0; i < HTTP_KEY_CACHE_WAYS; i++) {
        if (memcmp(set[i].hash, hash, 32) == 0) {
            e = &set[i];
            break;
        }
        if (set[i].expires < e->expires)
            e = &set[i];
    }
    memcpy(e->hash, hash, 32);
    e->expires = now + ttl_s;
    e->known = a != NULL;
    if (a)
        e->auth = *a;
    else
        memset(&e->auth, 0, sizeof e->auth);
    pthread_mutex_unlock(&c->lock);
}
