#ifndef BOOKD_DB_SERVICE_CACHE_H
#define BOOKD_DB_SERVICE_CACHE_H

#include <stdbool.h>

/*
 * The duration and buffers of services, kept for the life of the process.
 * Services never change once created (the API can neither edit nor delete
 * one), so a booking or an availability query with a serviceId needs one
 * round trip instead of two. An entry made stale by a hand edit in the
 * database cannot cause a double booking: the booking function computes the
 * range from the row itself and refuses lock keys that do not cover it
 * (BK005); the store then forgets the entry and tries once more with the
 * row read afresh (db/appointments.c).
 *
 * A fixed table of slots, each holding one service (a newcomer evicts the
 * service in its slot); one mutex, held for a copy.
 */
struct db_service_cache;

struct db_service_range {
    int duration, before, after;
};

/* NULL when out of memory; free with db_service_cache_free(). */
struct db_service_cache *db_service_cache_new(void);
void db_service_cache_free(struct db_service_cache *cache);

/* `get` copies the entry into *out (false when there is none); `put`
 * copies the ids and the range. A cache of NULL holds nothing. */
bool db_service_cache_get(struct db_service_cache *cache, const char *org_id,
                          const char *service_id, struct db_service_range *out);
void db_service_cache_put(struct db_service_cache *cache, const char *org_id,
                          const char *service_id, const struct db_service_range *range);
void db_service_cache_forget(struct db_service_cache *cache, const char *org_id,
                             const char *service_id);

#endif
