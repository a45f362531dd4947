#include "db/secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db/query.h"
#include "log.h"

#define SEALED_MAX 512

void db_webhook_secret_aad(const char *endpoint_id, char out[DB_SECRET_AAD_SIZE])
{
    snprintf(out, DB_SECRET_AAD_SIZE, "webhook_endpoints.secret:%.40s", endpoint_id);
}

int db_secrets_census(const char *conninfo, const struct core_secret_key *key, long *stored,
                      long *other)
{
    char id[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1] = "";
    const char *params[] = {id};
    PGconn *pg = PQconnectdb(conninfo);
    PGresult *res = NULL;
    int rc = -1;

    *stored = *other = 0;
    if (key)
        core_secret_key_id_hex(key, id);
    if (PQstatus(pg) == CONNECTION_OK)
        res = PQexecParams(pg,
                           "SELECT count(*), count(*) FILTER (WHERE secret_key_id <> $1)"
                           " FROM webhook_endpoints",
                           1, NULL, params, NULL, NULL, 0);
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
        *stored = strtol(PQgetvalue(res, 0, 0), NULL, 10);
        *other = strtol(PQgetvalue(res, 0, 1), NULL, 10);
        rc = 0;
    } else {
        log_error("secrets.census_failed", "%s",
                  res ? PQresultErrorMessage(res) : PQerrorMessage(pg));
    }
    PQclear(res);
    PQfinish(pg);
    return rc;
}

/* Re-seals the secret of row `i` of `rows` and writes it back. */
static int reseal_row(PGconn *pg, PGresult *rows, int i, const struct core_secret_key *old_key,
                      const struct core_secret_key *new_key, long *count)
{
    const char *id = PQgetvalue(rows, i, 0);
    unsigned char sealed[SEALED_MAX], resealed[SEALED_MAX];
    size_t sealed_len, resealed_len;
    char aad[DB_SECRET_AAD_SIZE], bytea[2 * SEALED_MAX + 3];
    char key_id[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1];
    char have[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1];
    const char *params[] = {id, bytea, key_id};
    PGresult *res;
    int ok;

    db_webhook_secret_aad(id, aad);
    core_secret_key_id_hex(new_key, key_id);
    if (db_bytea_from_text(PQgetvalue(rows, i, 1), sealed, sizeof sealed, &sealed_len) != 0 ||
        core_secretbox_key_id(sealed, sealed_len, have) != 0) {
        log_error("secrets.rotate_failed", "endpoint %s: its stored secret is unreadable", id);
        return -1;
    }
    if (strcmp(have, key_id) == 0)
        return 0;
    if (core_secretbox_reseal(old_key, new_key, sealed, sealed_len, aad, strlen(aad), resealed,
                              sizeof resealed, &resealed_len) != 0) {
        log_error("secrets.rotate_failed",
                  "endpoint %s: its secret does not open with the current key (sealed under %s)",
                  id, have);
        return -1;
    }
    db_bytes_to_bytea(resealed, resealed_len, bytea);
    res = PQexecParams(pg,
                       "UPDATE webhook_endpoints SET secret = $2::bytea, secret_key_id = $3"
                       " WHERE id = $1::uuid",
                       3, NULL, params, NULL, NULL, 0);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    *count += ok;
    return ok ? 0 : -1;
}

int db_secrets_rotate(const char *conninfo, const struct core_secret_key *old_key,
                      const struct core_secret_key *new_key, long *count)
{
    PGconn *pg = PQconnectdb(conninfo);
    PGresult *rows = NULL, *r;
    int rc = -1;

    *count = 0;
    if (PQstatus(pg) != CONNECTION_OK) {
        log_error("secrets.connect_failed", "%s", PQerrorMessage(pg));
        goto out;
    }
    PQclear(PQexec(pg, "BEGIN"));
    rows = PQexec(pg, "SELECT id, secret FROM webhook_endpoints ORDER BY id FOR UPDATE");
    if (PQresultStatus(rows) != PGRES_TUPLES_OK) {
        log_error("secrets.rotate_failed", "%s", PQresultErrorMessage(rows));
        goto out;
    }
    for (int i = 0; i < PQntuples(rows); i++)
        if (reseal_row(pg, rows, i, old_key, new_key, count) != 0)
            goto out;
    r = PQexec(pg, "COMMIT");
    rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(r);
out:
    if (rc != 0) {
        *count = 0;
        PQclear(PQexec(pg, "ROLLBACK"));
    }
    PQclear(rows);
    PQfinish(pg);
    return rc;
}
