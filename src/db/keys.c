#include "db/keys.h"

#include <stdio.h>
#include <string.h>

#include "db/query.h"

/* Runs `stmt`, whose one row (if any) is kind, key id, organization,
 * default provider, time zone. */
static enum db_key_result lookup(struct db_pool *pool, const char *stmt,
                                 const unsigned char *hash, struct db_key_owner *out)
{
    char bytea[67];
    const char *params[] = {bytea};
    struct db_conn *conn;
    PGresult *pg;
    enum db_key_result rc = DB_KEY_ERROR;

    memset(out, 0, sizeof *out);
    db_hash_to_bytea(hash, bytea);
    if (db_pool_acquire(pool, &conn) != 0)
        return DB_KEY_ERROR;
    pg = db_exec(conn, stmt, 1, params);
    if (PQresultStatus(pg) == PGRES_TUPLES_OK) {
        rc = DB_KEY_UNKNOWN;
        if (PQntuples(pg) == 1) {
            out->is_admin = strcmp(PQgetvalue(pg, 0, 0), "admin") == 0;
            out->is_vapi = strcmp(PQgetvalue(pg, 0, 0), "vapi") == 0;
            out->is_page = strcmp(PQgetvalue(pg, 0, 0), "page") == 0;
            snprintf(out->key_id, sizeof out->key_id, "%s", PQgetvalue(pg, 0, 1));
            snprintf(out->org_id, sizeof out->org_id, "%s", PQgetvalue(pg, 0, 2));
            snprintf(out->default_provider_id, sizeof out->default_provider_id, "%s",
                     PQgetvalue(pg, 0, 3));
            snprintf(out->timezone, sizeof out->timezone, "%s", PQgetvalue(pg, 0, 4));
            rc = DB_KEY_FOUND;
        }
    }
    PQclear(pg);
    db_pool_release(pool, conn);
    return rc;
}

enum db_key_result db_key_lookup(struct db_pool *pool, const unsigned char *hash,
                                 struct db_key_owner *out)
{
    return lookup(pool, "key_lookup", hash, out);
}

enum db_key_result db_vapi_secret_lookup(struct db_pool *pool, const unsigned char *hash,
                                         struct db_key_owner *out)
{
    return lookup(pool, "vapi_lookup", hash, out);
}
