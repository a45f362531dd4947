#include "db/service_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 1024 /* a power of two */
#define ID_SIZE 37 /* a canonical UUID and its NUL */

struct slot {
    bool used;
    char org_id[ID_SIZE];
    char service_id[ID_SIZE];
    struct db_service_range range;
};

struct db_service_cache {
    pthread_mutex_t lock;
    struct slot slots[SLOTS];
};

/* FNV-1a over both ids: the ids are random UUIDs, any mixing will do. */
static struct slot *slot_for(struct db_service_cache *cache, const char *org_id,
                             const char *service_id)
{
    uint32_t h = 2166136261u;

    for (const char *p = org_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (const char *p = service_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return &cache->slots[h & (SLOTS - 1)];
}

static bool ids_fit(const char *org_id, const char *service_id)
{
    return strlen(org_id) < ID_SIZE && strlen(service_id) < ID_SIZE;
}

static bool holds(const struct slot *s, const char *org_id, const char *service_id)
{
    return s->used && strcmp(s->org_id, org_id) == 0 && strcmp(s->service_id, service_id) == 0;
}

struct db_service_cache *db_service_cache_new(void)
{
    struct db_service_cache *cache = calloc(1, sizeof *cache);

    if (cache)
        pthread_mutex_init(&cache->lock, NULL);
    return cache;
}

void db_service_cache_free(struct db_service_cache *cache)
{
    if (!cache)
        return;
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

bool db_service_cache_get(struct db_service_cache *cache, const char *org_id,
                          const char *service_id, struct db_service_range *out)
{
    struct slot *s;
    bool found;

    if (!cache || !ids_fit(org_id, service_id))
        return false;
    s = slot_for(cache, org_id, service_id);
    pthread_mutex_lock(&cache->lock);
    found = holds(s, org_id, service_id);
    if (found)
        *out = s->range;
    pthread_mutex_unlock(&cache->lock);
    return found;
}

void db_service_cache_put(struct db_service_cache *cache, const char *org_id,
                          const char *service_id, const struct db_service_range *range)
{
    struct slot *s;

    if (!cache || !ids_fit(org_id, service_id))
        return;
    s = slot_for(cache, org_id, service_id);
    pthread_mutex_lock(&cache->lock);
    s->used = true;
    strcpy(s->org_id, org_id);
    strcpy(s->service_id, service_id);
    s->range = *range;
    pthread_mutex_unlock(&cache->lock);
}

void db_service_cache_forget(struct db_service_cache *cache, const char *org_id,
                             const char *service_id)
{
    struct slot *s;

    if (!cache || !ids_fit(org_id, service_id))
        return;
    s = slot_for(cache, org_id, service_id);
    pthread_mutex_lock(&cache->lock);
    if (holds(s, org_id, service_id))
        s->used = false;
    pthread_mutex_unlock(&cache->lock);
}
