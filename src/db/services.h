/*
 * Services: what is booked (a duration and the buffers around it). A
 * service is never edited or deleted through the API, so its range is read
 * through the pool's cache (db/service_cache.h). See db/result.h for what
 * the calls return.
 *
 * *out is a new reference the caller releases (json_decref): the service
 * object in the API's field names, or for a list an array of them; NULL
 * unless the outcome is DB_OK.
 */
#ifndef BOOKD_DB_SERVICES_H
#define BOOKD_DB_SERVICES_H

#include <jansson.h>

#include "db/pool.h"
#include "db/result.h"

int db_service_create(struct db_pool *pool, const char *org_id, const char *name,
                      int duration_minutes, int buffer_before_minutes, int buffer_after_minutes,
                      const char *actor, json_t **out, struct db_result *res);
/* Oldest first. */
int db_service_list(struct db_pool *pool, const char *org_id, json_t **out,
                    struct db_result *res);
/* The duration and buffers of a service; DB_INVALID (field serviceId)
 * when it is not in the organization. */
int db_service_range(struct db_pool *pool, const char *org_id, const char *service_id,
                     int *duration, int *before, int *after, struct db_result *res);

#endif
