/*
 * Manage links in the database (sql/65_manage.sql): what a patient's token
 * opens, cancelling through it, and further tokens for an appointment.
 * Tokens are passed hashed (http_manage_token_hash: the bytea literal).
 * See db/result.h for what the calls return; *out is a new reference the
 * caller releases, NULL unless the outcome is DB_OK.
 */
#ifndef BOOKD_DB_MANAGE_H
#define BOOKD_DB_MANAGE_H

#include <jansson.h>

#include "db/pool.h"
#include "db/result.h"

/* *out {"appointment","organization"}; DB_NOT_FOUND for a token that does
 * not work (unknown, or its appointment cancelled, moved or begun). */
int db_manage_get(struct db_pool *pool, const char *hash, json_t **out, struct db_result *res);

/* The free times to move the token's appointment to, as the API's JSON
 * text in *out (malloc'd): {"date","timezone","slots"} for the date `from`
 * when `to` is NULL, else {"timezone","days"} for the dates from..to
 * (YYYY-MM-DD, checked by the caller). DB_NOT_FOUND for a dead token. */
int db_manage_free_slots(struct db_pool *pool, const char *hash, const char *from,
                         const char *to, int step, char **out, struct db_result *res);

/* What a reschedule through a token needs. */
struct db_manage_ref {
    char org_id[DB_ID_SIZE];
    char appointment_id[DB_ID_SIZE];
    char default_provider_id[DB_ID_SIZE];
};
/* DB_OK with *out, or DB_NOT_FOUND. */
int db_manage_resolve(struct db_pool *pool, const char *hash, struct db_manage_ref *out,
                      struct db_result *res);

/* *out {"appointment"} (cancelled); DB_NOT_FOUND, or DB_INVALID_STATE past
 * the organization's cancellation notice. */
int db_manage_cancel(struct db_pool *pool, const char *hash, int lock_timeout_ms, json_t **out,
                     struct db_result *res);

/* A further token (hashed) for a confirmed appointment. */
int db_manage_issue(struct db_pool *pool, const char *org_id, const char *appointment_id,
                    const char *hash, struct db_result *res);

struct db_session;
/* The same on the worker's session (a text message's link); 0 or -1. */
int db_manage_issue_session(struct db_session *s, const char *org_id, const char *appointment_id,
                            const char *hash);

#endif
