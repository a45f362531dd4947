#include "db/secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db/query.h"
#include "db/result.h"
#include "db/connect.h"
#include "log.h"


void db_webhook_secret_aad(const char *endpoint_id, char out[DB_SECRET_AAD_SIZE])
{
    snprintf(out, DB_SECRET_AAD_SIZE, "webhook_endpoints.secret:%.40s", endpoint_id);
}

void db_integration_secret_aad(const char *org_id, const char *kind,
                               char out[DB_SECRET_AAD_SIZE])
{
    snprintf(out, DB_SECRET_AAD_SIZE, "integrations.secret:%.40s:%.10s", org_id, kind);
}

void db_integration_token_aad(const char *org_id, char out[DB_SECRET_AAD_SIZE])
{
    snprintf(out, DB_SECRET_AAD_SIZE, "integrations.token:%.40s:google", org_id);
}

/*
 * Every sealed column: its rows (two text parts naming the row, then the
 * sealed value), locked, in one order; the statement that writes a row back
 * ($1, $2 the parts, $3 the value, $4 the key id); how the row's associated
 * data is made from its parts.
 */
struct sealed_column {
    const char *what;
    const char *select_sql;
    const char *update_sql;
    void (*aad)(const char *a, const char *b, char out[DB_SECRET_AAD_SIZE]);
};

static void webhook_aad(const char *id, const char *unused, char out[DB_SECRET_AAD_SIZE])
{
    (void)unused;
    db_webhook_secret_aad(id, out);
}

static void token_aad(const char *org, const char *unused, char out[DB_SECRET_AAD_SIZE])
{
    (void)unused;
    db_integration_token_aad(org, out);
}

static const struct sealed_column columns[] = {
    {"webhook endpoint",
     "SELECT id::text, '', secret FROM webhook_endpoints ORDER BY id FOR UPDATE",
     "UPDATE webhook_endpoints SET secret = $3::bytea, secret_key_id = $4"
     " WHERE id = $1::uuid AND $2::text = ''",
     webhook_aad},
    {"integration",
     "SELECT org_id::text, kind, secret FROM integrations"
     " ORDER BY org_id, kind FOR UPDATE",
     "UPDATE integrations SET secret = $3::bytea, secret_key_id = $4"
     " WHERE org_id = $1::uuid AND kind = $2",
     db_integration_secret_aad},
    {"access token",
     "SELECT org_id::text, kind, token FROM integrations"
     " WHERE token IS NOT NULL ORDER BY org_id, kind FOR UPDATE",
     "UPDATE integrations SET token = $3::bytea, token_key_id = $4"
     " WHERE org_id = $1::uuid AND kind = $2",
     token_aad},
};
#define COLUMN_COUNT (sizeof columns / sizeof columns[0])

int db_secrets_census(const char *conninfo, const struct core_secret_key *key, long *stored,
                      long *other)
{
    char id[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1] = "";
    const char *params[] = {id};
    PGconn *pg = db_connect(conninfo, 0, 0);
    PGresult *res = NULL;
    int rc = -1;

    *stored = *other = 0;
    if (key)
        core_secret_key_id_hex(key, id);
    if (PQstatus(pg) == CONNECTION_OK)
        res = PQexecParams(pg, "SELECT * FROM secrets_census($1)", 1, NULL, params, NULL, NULL,
                           0);
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

/* Re-seals the value of row `i` of `rows` (a column's select) and writes
 * it back. */
static int reseal_row(PGconn *pg, const struct sealed_column *col, PGresult *rows, int i,
                      const struct core_secret_key *old_key,
                      const struct core_secret_key *new_key, long *count)
{
    const char *a = PQgetvalue(rows, i, 0), *b = PQgetvalue(rows, i, 1);
    unsigned char sealed[DB_SEALED_MAX], resealed[DB_SEALED_MAX];
    size_t sealed_len, resealed_len;
    char aad[DB_SECRET_AAD_SIZE], bytea[2 * DB_SEALED_MAX + 3];
    char key_id[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1];
    char have[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1];
    const char *params[] = {a, b, bytea, key_id};
    PGresult *res;
    int ok;

    col->aad(a, b, aad);
    core_secret_key_id_hex(new_key, key_id);
    if (db_bytea_from_text(PQgetvalue(rows, i, 2), sealed, sizeof sealed, &sealed_len) != 0 ||
        core_secretbox_key_id(sealed, sealed_len, have) != 0) {
        log_error("secrets.rotate_failed", "%s %s: its stored secret is unreadable", col->what, a);
        return -1;
    }
    if (strcmp(have, key_id) == 0)
        return 0;
    if (core_secretbox_reseal(old_key, new_key, sealed, sealed_len, aad, strlen(aad), resealed,
                              sizeof resealed, &resealed_len) != 0) {
        log_error("secrets.rotate_failed",
                  "%s %s: its secret does not open with the current key (sealed under %s)",
                  col->what, a, have);
        return -1;
    }
    db_bytes_to_bytea(resealed, resealed_len, bytea);
    res = PQexecParams(pg, col->update_sql, 4, NULL, params, NULL, NULL, 0);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        log_error("secrets.rotate_failed", "%s %s: %s", col->what, a,
                  PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
    PQclear(res);
    *count += ok;
    return ok ? 0 : -1;
}

int db_secrets_rotate(const char *conninfo, const struct core_secret_key *old_key,
                      const struct core_secret_key *new_key, long *count)
{
    PGconn *pg = db_connect(conninfo, 0, 0);
    PGresult *rows = NULL, *r;
    int rc = -1;

    *count = 0;
    if (PQstatus(pg) != CONNECTION_OK) {
        log_error("secrets.connect_failed", "%s", PQerrorMessage(pg));
        goto out;
    }
    PQclear(PQexec(pg, "BEGIN"));
    for (size_t c = 0; c < COLUMN_COUNT; c++) {
        rows = PQexec(pg, columns[c].select_sql);
        if (PQresultStatus(rows) != PGRES_TUPLES_OK) {
            log_error("secrets.rotate_failed", "%s", PQresultErrorMessage(rows));
            goto out;
        }
        for (int i = 0; i < PQntuples(rows); i++)
            if (reseal_row(pg, &columns[c], rows, i, old_key, new_key, count) != 0)
                goto out;
        PQclear(rows);
        rows = NULL;
    }
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
