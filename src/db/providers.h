/*
 * Providers: the calendars appointments are booked on, each with its
 * working hours. Inputs are validated by the caller; the SQL functions
 * (sql/30_directory.sql) re-check them. See db/result.h for what the calls
 * return.
 *
 * *out is a new reference the caller releases (json_decref): the provider
 * object in the API's field names, or for a list an array of them; NULL
 * unless the outcome is DB_OK.
 */
#ifndef BOOKD_DB_PROVIDERS_H
#define BOOKD_DB_PROVIDERS_H

#include <jansson.h>

#include "db/pool.h"
#include "db/result.h"

/* working_hours_json NULL: the default hours (bk_default_working_hours). */
int db_provider_create(struct db_pool *pool, const char *org_id, const char *name,
                       const char *working_hours_json, const char *actor, json_t **out,
                       struct db_result *res);
/* DB_NOT_FOUND when the provider is not in the organization. */
int db_provider_set_hours(struct db_pool *pool, const char *org_id, const char *provider_id,
                          const char *working_hours_json, const char *actor, json_t **out,
                          struct db_result *res);
/* Oldest first. */
int db_provider_list(struct db_pool *pool, const char *org_id, json_t **out,
                     struct db_result *res);

#endif
