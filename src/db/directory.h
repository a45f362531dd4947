/*
 * Organizations, providers, services, contacts and the audit log: the
 * things bookings refer to. Inputs are validated by the caller; the
 * database re-checks its own constraints. Functions that return an object
 * give it as a jansson value (*out, a new reference; NULL when there is no
 * such row) in the API's field names.
 *
 * Each returns 0 when the database answered (see res->outcome: DB_OK,
 * DB_INVALID, DB_NOT_FOUND) or -1 with DB_UNAVAILABLE / DB_ERROR.
 */
#ifndef BOOKD_DB_DIRECTORY_H
#define BOOKD_DB_DIRECTORY_H

#include <jansson.h>

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

int db_provider_create(struct db_pool *pool, const char *org_id, const char *name,
                       const char *working_hours_json, const char *actor, json_t **out,
                       struct db_result *res);
int db_provider_set_hours(struct db_pool *pool, const char *org_id, const char *provider_id,
                          const char *working_hours_json, const char *actor, json_t **out,
                          struct db_result *res);
int db_provider_list(struct db_pool *pool, const char *org_id, json_t **out,
                     struct db_result *res);

int db_service_create(struct db_pool *pool, const char *org_id, const char *name,
                      int duration_minutes, int buffer_before_minutes, int buffer_after_minutes,
                      const char *actor, json_t **out, struct db_result *res);
int db_service_list(struct db_pool *pool, const char *org_id, json_t **out,
                    struct db_result *res);
/* The duration and buffers of a service; DB_INVALID (field serviceId)
 * when it is not in the organization. */
int db_service_range(struct db_pool *pool, const char *org_id, const char *service_id,
                     int *duration, int *before, int *after, struct db_result *res);

int db_contact_create(struct db_pool *pool, const char *org_id, const char *name,
                      const char *phone, const char *email, const char *actor, json_t **out,
                      struct db_result *res);
int db_contact_get(struct db_pool *pool, const char *org_id, const char *contact_id,
                   json_t **out, struct db_result *res);
/* GDPR erasure (see migrations/0004); DB_NOT_FOUND if unknown or erased. */
int db_contact_erase(struct db_pool *pool, const char *org_id, const char *contact_id,
                     const char *actor, json_t **out, struct db_result *res);

/* Newest first; entity_id may be NULL. *out is an array. */
int db_audit_list(struct db_pool *pool, const char *org_id, const char *entity_id, int limit,
                  json_t **out, struct db_result *res);

/* SQL bytea text form ("\x" + 64 hex digits) of a 32-byte hash. */
void db_hash_to_bytea(const unsigned char *hash, char *out /* 67 bytes */);

#endif
