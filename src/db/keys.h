/* Looking up who owns an API key or a Vapi secret, by the secret's hash. */
#ifndef BOOKD_DB_KEYS_H
#define BOOKD_DB_KEYS_H

#include <stdbool.h>

#include "db/pool.h"
#include "db/result.h"

struct db_key_owner {
    bool is_admin;
    char key_id[DB_ID_SIZE];
    char org_id[DB_ID_SIZE];
    char default_provider_id[DB_ID_SIZE];
    char timezone[64];
};

enum db_key_result { DB_KEY_FOUND, DB_KEY_UNKNOWN, DB_KEY_ERROR };

enum db_key_result db_key_lookup(struct db_pool *pool, const unsigned char *hash,
                                 struct db_key_owner *out);

#endif
