/*
 * Creating what bookings refer to: organizations (with their default
 * provider and keys), providers, services and contacts. Inputs are
 * validated by the caller; the database re-checks its own constraints.
 */
#ifndef BOOKD_DB_DIRECTORY_H
#define BOOKD_DB_DIRECTORY_H

#include "db/appointments.h"

struct db_org_created {
    char id[DB_ID_SIZE];
    char default_provider_id[DB_ID_SIZE];
    char admin_key_id[DB_ID_SIZE];
    char public_key_id[DB_ID_SIZE];
};

/* Hashes are SHA-256 digests (32 bytes) of the secrets shown once. */
int db_org_create(struct db_pool *pool, const char *name, const char *timezone,
                  const unsigned char *vapi_secret_hash, const unsigned char *admin_key_hash,
                  const unsigned char *public_key_hash, struct db_org_created *out,
                  struct db_result *res);

/* Each writes the new row's id into `id_out` (DB_ID_SIZE bytes). */
int db_provider_create(struct db_pool *pool, const char *org_id, const char *name,
                       const char *working_hours_json, char *id_out, struct db_result *res);
int db_service_create(struct db_pool *pool, const char *org_id, const char *name,
                      int duration_minutes, int buffer_before_minutes, int buffer_after_minutes,
                      char *id_out, struct db_result *res);
int db_contact_create(struct db_pool *pool, const char *org_id, const char *name,
                      const char *phone, const char *email, char *id_out, struct db_result *res);

/* SQL bytea text form ("\x" + 64 hex digits) of a 32-byte hash. */
void db_hash_to_bytea(const unsigned char *hash, char *out /* 67 bytes */);

#endif
