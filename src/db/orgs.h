/*
 * Organizations: creating one with its default provider, its admin and
 * public keys and its Vapi secret, in one call of create_organization
 * (sql/30_directory.sql). See db/result.h for what the calls return.
 */
#ifndef BOOKD_DB_ORGS_H
#define BOOKD_DB_ORGS_H

#include <jansson.h>

#include "db/pool.h"
#include "db/result.h"

/* The ids of what was created, copied into the caller's struct. */
struct db_org_created {
    char id[DB_ID_SIZE];
    char default_provider_id[DB_ID_SIZE];
    char admin_key_id[DB_ID_SIZE];
    char public_key_id[DB_ID_SIZE];
};

/* Hashes are SHA-256 digests (32 bytes) of the secrets shown once; only
 * they are stored. *out is zeroed on entry and filled on DB_OK. */
int db_org_create(struct db_pool *pool, const char *name, const char *timezone,
                  const unsigned char *vapi_secret_hash, const unsigned char *admin_key_hash,
                  const unsigned char *public_key_hash, struct db_org_created *out,
                  struct db_result *res);

/* Replaces the organization's Vapi secret by the one whose SHA-256 is
 * `secret_hash` (32 bytes); the old one stops at once. */
int db_org_rotate_vapi_secret(struct db_pool *pool, const char *org_id,
                              const unsigned char *secret_hash, const char *actor,
                              struct db_result *res);

/* GET /api/orgs/me: *out {"id","name","timezone","defaultProviderId","policies"}. */
int db_org_get(struct db_pool *pool, const char *org_id, json_t **out, struct db_result *res);
/* PATCH /api/orgs/me: `name` NULL keeps it; `policies_json` (an object, or
 * NULL) names the policies to change. DB_INVALID names "policies.<name>". */
int db_org_update(struct db_pool *pool, const char *org_id, const char *name,
                  const char *policies_json, const char *actor, json_t **out,
                  struct db_result *res);

/*
 * The organization a page is for (docs/web.md), with its page key: by
 * `org_id` (the booking page) or, with `token_hash` (bytea text) instead,
 * by a working manage token (the manage page). `candidate_key` and
 * `candidate_hash` (bytea text of its SHA-256) become the page key if the
 * organization has none yet. *out {"orgId","name","timezone",
 * "defaultProviderId","publicKey"}, or NULL for an unknown organization or
 * a token that does not work.
 */
int db_page_config(struct db_pool *pool, const char *org_id, const char *token_hash,
                   const char *candidate_key, const char *candidate_hash, json_t **out,
                   struct db_result *res);

#endif
