/*
 * Integrations in the database (sql/45_integrations.sql): the settings API
 * (on the request pool) and the worker's side of them (on its session):
 * the busy-time import of linked calendars and Google's access token.
 * See db/result.h for what the API calls return; *out is a new reference
 * the caller releases, NULL unless the outcome is DB_OK.
 */
#ifndef BOOKD_DB_INTEGRATIONS_H
#define BOOKD_DB_INTEGRATIONS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "db/deliveries.h"
#include "db/pool.h"
#include "db/result.h"

/* *out: {"google":{...},"twilio":{...},"vapi":{...}}. */
int db_integrations_get(struct db_pool *pool, const char *org_id, json_t **out,
                        struct db_result *res);
/* `settings_json`: the public settings (a JSON object); `sealed` the
 * secret fields, sealed under the key `key_id` names. *out: the answer. */
int db_integration_put(struct db_pool *pool, const char *org_id, const char *kind,
                       const char *settings_json, const unsigned char *sealed, size_t sealed_len,
                       const char *key_id, const char *actor, json_t **out, struct db_result *res);
/* DB_NOT_FOUND when not connected. */
int db_integration_delete(struct db_pool *pool, const char *org_id, const char *kind,
                          const char *actor, struct db_result *res);
/* DB_NOT_FOUND (no such provider), DB_INVALID_STATE (Google not connected). */
int db_calendar_link(struct db_pool *pool, const char *org_id, const char *provider_id,
                     const char *calendar_id, const char *actor, json_t **out,
                     struct db_result *res);
/* DB_NOT_FOUND when the provider has no linked calendar. */
int db_calendar_unlink(struct db_pool *pool, const char *org_id, const char *provider_id,
                       const char *actor, struct db_result *res);
/* DB_NOT_FOUND (no such provider), DB_INVALID_STATE (not linked). */
int db_calendar_sync_request(struct db_pool *pool, const char *org_id, const char *provider_id,
                             json_t **out, struct db_result *res);

/* A linked calendar due for its busy-time import, leased to this worker. */
struct db_calendar_job {
    char provider_id[DB_ID_SIZE];
    char org_id[DB_ID_SIZE];
    char calendar_id[1040];
    char *settings;                      /* owned: the integration's public settings */
    unsigned char secret[DB_SEALED_MAX]; /* sealed credentials */
    size_t secret_len;
    unsigned char token[2560]; /* sealed access token, if any */
    size_t token_len;
    int64_t token_expires_ms;
};

/* Up to `limit` calendars, leased for `lease_ms`; *out malloc'd (free with
 * db_calendar_jobs_free). */
int db_calendar_sync_claim(struct db_session *s, int limit, int lease_ms,
                           struct db_calendar_job **out, size_t *count);
void db_calendar_jobs_free(struct db_calendar_job *jobs, size_t count);
/* The import's outcome: with `error` NULL the busy times become the
 * given ones (starts/ends as Google gave them: RFC 3339 or a date), else
 * the last ones stand and the error is shown. Next import in next_s. */
int db_calendar_sync_store(struct db_session *s, const char *provider_id, const char *error,
                           const char *const *starts, const char *const *ends,
                           const char *const *ids, size_t n, int next_s);
/* Google's new access token, sealed, valid until expires_ms. */
int db_integration_token_store(struct db_session *s, const char *org_id,
                               const unsigned char *sealed, size_t sealed_len, const char *key_id,
                               int64_t expires_ms);

#endif
