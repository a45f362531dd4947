/*
 * Contacts: the patients or customers appointments are for, and their
 * erasure (GDPR Art. 17). Inputs are validated by the caller; the SQL
 * functions (sql/30_directory.sql, sql/40_erasure.sql) re-check them.
 * See db/result.h for what the calls return.
 *
 * *out is a new reference the caller releases (json_decref); NULL unless
 * the outcome is DB_OK.
 */
#ifndef BOOKD_DB_CONTACTS_H
#define BOOKD_DB_CONTACTS_H

#include <jansson.h>

#include "db/pool.h"
#include "db/result.h"

/* phone and email may be NULL. *out: the contact object. */
int db_contact_create(struct db_pool *pool, const char *org_id, const char *name,
                      const char *phone, const char *email, const char *actor, json_t **out,
                      struct db_result *res);
/* *out: the contact object; DB_NOT_FOUND if unknown or erased. */
int db_contact_get(struct db_pool *pool, const char *org_id, const char *contact_id,
                   json_t **out, struct db_result *res);
/* Erases the contact and what mentions it (erase_contact); *out:
 * {"cancelledAppointments": n}. DB_NOT_FOUND if unknown or already erased. */
int db_contact_erase(struct db_pool *pool, const char *org_id, const char *contact_id,
                     const char *actor, json_t **out, struct db_result *res);

#endif
