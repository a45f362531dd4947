/* Looking up who owns an API key or a Vapi secret, by its SHA-256 (the key
 * itself is never stored); http/auth.c caches the answers for API keys. */
#ifndef BOOKD_DB_KEYS_H
#define BOOKD_DB_KEYS_H

#include <stdbool.h>

#include "db/pool.h"
#include "db/result.h"

struct db_key_owner {
    bool is_admin;
    bool is_vapi;                 /* the organization's Vapi secret (no key id) */
    bool is_page;                 /* the pages' public key (docs/web.md) */
    char key_id[DB_ID_SIZE];
    char org_id[DB_ID_SIZE];
    char default_provider_id[DB_ID_SIZE];
    char timezone[64];
};

/* DB_KEY_ERROR: the database could not be asked (down, or no connection
 * free within the pool's wait) or the statement failed. */
enum db_key_result { DB_KEY_FOUND, DB_KEY_UNKNOWN, DB_KEY_ERROR };

/* `hash` is 32 bytes. *out (the caller's) is zeroed on entry and filled
 * when DB_KEY_FOUND. */
enum db_key_result db_key_lookup(struct db_pool *pool, const unsigned char *hash,
                                 struct db_key_owner *out);
/* The same for an organization's Vapi secret. */
enum db_key_result db_vapi_secret_lookup(struct db_pool *pool, const unsigned char *hash,
                                         struct db_key_owner *out);

#endif
