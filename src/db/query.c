#include "db/query.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void db_set_invalid(struct db_result *res, const char *field, const char *message)
{
    res->outcome = DB_INVALID;
    snprintf(res->field, sizeof res->field, "%s", field);
    snprintf(res->message, sizeof res->message, "%s", message);
}

/* Maps a failed statement's SQLSTATE to an outcome (see sql/01_common.sql). */
void db_map_error(const PGresult *pg, struct db_conn *conn, const char *stmt,
                  struct db_result *res)
{
    const char *state = pg ? PQresultErrorField(pg, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = pg ? PQresultErrorField(pg, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *column = pg ? PQresultErrorField(pg, PG_DIAG_COLUMN_NAME) : NULL;

    if (!state || db_conn_lost(conn)) {
        log_error("db.connection_lost", "%s: connection failed during the statement", stmt);
        res->outcome = DB_UNAVAILABLE;
        res->in_doubt = true;
    } else if (strcmp(state, "55P03") == 0 || strcmp(state, "40P01") == 0) {
        res->outcome = DB_BUSY;
    } else if (strcmp(state, "57014") == 0 || strncmp(state, "57P", 3) == 0 ||
               strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0) {
        /* The database cannot do it now, not the request's fault: a
         * statement past its timeout, a server shutting down or starting
         * up, a terminated backend, a lost connection, or out of resources
         * (too many connections, or shared memory for locks: a long
         * booking needs max_locks_per_transaction, README). A 503 the
         * client may retry. */
        log_error("db.unavailable", "%s: SQLSTATE %s: %s", stmt, state, primary ? primary : "");
        res->outcome = DB_UNAVAILABLE;
    } else if (strcmp(state, "25006") == 0) {
        /* A read-only transaction: the server this connection reached is
         * (now) a standby, as after a failover without
         * target_session_attrs=read-write. The connection goes, so the
         * pool's next one finds the primary; the client may retry. */
        log_error("db.unavailable", "%s: SQLSTATE %s: %s", stmt, state, primary ? primary : "");
        db_conn_discard(conn);
        res->outcome = DB_UNAVAILABLE;
    } else if (strcmp(state, "23P01") == 0) {
        /* The exclusion constraint caught an overlap the locks did not
         * (a caller that bypasses them): still a clean conflict. */
        res->outcome = DB_CONFLICT;
    } else if (strcmp(state, "BK001") == 0) {
        db_set_invalid(res, column ? column : "", primary ? primary : "invalid request");
    } else if (strcmp(state, "BK002") == 0) {
        res->outcome = DB_NOT_FOUND;
    } else if (strcmp(state, "BK003") == 0) {
        res->outcome = DB_INVALID_STATE;
        snprintf(res->message, sizeof res->message, "%s", primary ? primary : "invalid state");
    } else if (strcmp(state, "BK004") == 0) {
        res->outcome = DB_IDEMPOTENCY_REUSED;
    } else if (strcmp(state, "BK006") == 0) {
        res->outcome = DB_LIMITED;
        snprintf(res->message, sizeof res->message, "%s", primary ? primary : "limit reached");
    } else if (strcmp(state, "BK007") == 0) {
        res->outcome = DB_UNAUTHORIZED;
    } else if (strcmp(state, "BK005") == 0) {
        /* Lock keys that do not cover the range the function computed: a
         * caller bug, or a cached service that no longer matches its row. */
        log_error("db.lock_keys_refused", "%s: %s", stmt, primary ? primary : "");
        res->outcome = DB_ERROR;
        res->keys_refused = true;
    } else if (strcmp(state, "23503") == 0) {
        /* A referenced row vanished between check and insert. */
        db_set_invalid(res, "", "a referenced id does not exist");
    } else if (strncmp(state, "22", 2) == 0) {
        db_set_invalid(res, "", "a value is out of range");
    } else {
        log_error("db.statement_failed", "%s: SQLSTATE %s: %s", stmt, state,
                  primary ? primary : "");
        res->outcome = DB_ERROR;
    }
}

PGresult *db_run_rows(struct db_pool *pool, const char *stmt, int n, const char *const *values,
                      struct db_result *res)
{
    struct db_conn *conn;
    PGresult *pg;

    if (db_pool_acquire(pool, &conn) != 0) {
        res->outcome = DB_UNAVAILABLE;
        return NULL;
    }
    pg = db_exec(conn, stmt, n, values);
    if (PQresultStatus(pg) != PGRES_TUPLES_OK) {
        db_map_error(pg, conn, stmt, res);
        PQclear(pg);
        pg = NULL;
    }
    db_pool_release(pool, conn);
    return pg;
}

/*
 * Runs one statement returning a single text value on a pooled connection.
 * On success *out is a malloc'd copy of the value (NULL for zero rows).
 * Otherwise res->outcome says what went wrong and -1 is returned.
 */
int db_run_value(struct db_pool *pool, const char *stmt, int n, const char *const *values,
                 char **out, struct db_result *res)
{
    PGresult *pg;
    int rc = 0;

    *out = NULL;
    if (!(pg = db_run_rows(pool, stmt, n, values, res)))
        return -1;
    if (PQntuples(pg) > 0 && !(*out = strdup(PQgetvalue(pg, 0, 0)))) {
        res->outcome = DB_ERROR;
        rc = -1;
    }
    PQclear(pg);
    return rc;
}

int db_int_value(const char *text)
{
    long v = strtol(text, NULL, 10);
    return v < INT_MIN || v > INT_MAX ? 0 : (int)v;
}

int db_fetch_text(struct db_pool *pool, const char *stmt, int n, const char *const *values,
                  char **out, struct db_result *res)
{
    memset(res, 0, sizeof *res);
    *out = NULL;
    if (db_run_value(pool, stmt, n, values, out, res) != 0)
        return res->outcome == DB_UNAVAILABLE || res->outcome == DB_ERROR ? -1 : 0;
    return 0;
}

int db_fetch_json(struct db_pool *pool, const char *stmt, int n, const char *const *values,
                  json_t **out, struct db_result *res)
{
    char *text = NULL;
    int rc = db_fetch_text(pool, stmt, n, values, &text, res);

    *out = NULL;
    if (rc != 0 || res->outcome != DB_OK) /* unreachable, or a refusal */
        return rc;
    if (text) {
        *out = json_loads(text, JSON_DECODE_ANY, NULL);
        free(text);
        if (!*out) {
            log_error("db.bad_json", "%s returned text that is not JSON", stmt);
            res->outcome = DB_ERROR;
            return -1;
        }
    }
    return 0;
}

void db_bytes_to_bytea(const unsigned char *bytes, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < n; i++) {
        out[2 + 2 * i] = hex[bytes[i] >> 4];
        out[3 + 2 * i] = hex[bytes[i] & 15];
    }
    out[2 + 2 * n] = '\0';
}

char *db_bytes_to_bytea_new(const unsigned char *bytes, size_t n)
{
    char *out = malloc(2 * n + 3);
    if (out)
        db_bytes_to_bytea(bytes, n, out);
    return out;
}

void db_hash_to_bytea(const unsigned char *hash, char out[DB_BYTEA_HASH_SIZE])
{
    db_bytes_to_bytea(hash, 32, out);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int db_bytea_from_text(const char *text, unsigned char *out, size_t size, size_t *len)
{
    size_t n;

    *len = 0;
    if (!text || text[0] != '\\' || text[1] != 'x')
        return -1;
    n = strlen(text + 2);
    if (n % 2 || n / 2 > size)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_value(text[2 + 2 * i]), lo = hex_value(text[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    *len = n / 2;
    return 0;
}
