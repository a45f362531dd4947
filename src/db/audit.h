/*
 * The audit log: who did what, without personal data. Rows are written by
 * the SQL functions themselves (bk_audit); this is the reading side. See
 * db/result.h for what the call returns.
 */
#ifndef BOOKD_DB_AUDIT_H
#define BOOKD_DB_AUDIT_H

#include <jansson.h>

#include "db/pool.h"
#include "db/result.h"

/* Newest first, at most `limit`; entity_id may be NULL (all). *out is a
 * new reference to an array the caller releases (json_decref); NULL unless
 * the outcome is DB_OK. */
int db_audit_list(struct db_pool *pool, const char *org_id, const char *entity_id, int limit,
                  json_t **out, struct db_result *res);

#endif
