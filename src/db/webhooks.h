/*
 * Webhook endpoints, their deliveries and the organization's circuit
 * breakers, as the HTTP API reads and changes them (sql/50_deliveries.sql).
 * The worker's side is db/deliveries.h. See db/result.h for what the calls
 * return; *out is a new reference the caller releases (json_decref), NULL
 * unless the outcome is DB_OK.
 */
#ifndef BOOKD_DB_WEBHOOKS_H
#define BOOKD_DB_WEBHOOKS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/breaker.h"
#include "db/pool.h"
#include "db/result.h"

/* `events_json` is a JSON array of event names; `sealed` the signing key
 * sealed under the key whose id is `key_id` (core/secretbox). *out:
 * {"id","url","events"}. DB_INVALID names "events" for unknown names. */
int db_webhook_create(struct db_pool *pool, const char *org_id, const char *id, const char *url,
                      const char *events_json, const unsigned char *sealed, size_t sealed_len,
                      const char *key_id, const char *actor, json_t **out,
                      struct db_result *res);
/* *out: an array of {"id","url","events","disabled"}. */
int db_webhook_list(struct db_pool *pool, const char *org_id, json_t **out,
                    struct db_result *res);
/* DB_NOT_FOUND when there is no such endpoint in the organization. */
int db_webhook_delete(struct db_pool *pool, const char *org_id, const char *id,
                      const char *actor, struct db_result *res);

/* Newest first; status and endpoint_id may be NULL (all). *out: an array
 * of the API's delivery objects. */
int db_delivery_list(struct db_pool *pool, const char *org_id, const char *status,
                     const char *endpoint_id, int limit, json_t **out, struct db_result *res);
/* Queues a dead or failed delivery again: DB_OK and the delivery in *out,
 * DB_NOT_FOUND, or DB_INVALID_STATE (another status, or its endpoint is
 * disabled). */
int db_delivery_retry(struct db_pool *pool, const char *org_id, const char *id,
                      const char *actor, json_t **out, struct db_result *res);

/* One stored breaker row (the fields of struct core_breaker). */
struct db_breaker_row {
    char target[80];          /* "webhook:<uuid>", "google", ... */
    struct core_breaker b;
};

/*
 * The organization's breakers. *rows is malloc'd (free it), *count its
 * length. Returns 0, or -1 with res->outcome set.
 */
int db_breaker_rows(struct db_pool *pool, const char *org_id, struct db_breaker_row **rows,
                    size_t *count, struct db_result *res);

#endif
