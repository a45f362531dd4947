/*
 * Helpers shared by the files of src/db/ (not used outside it): running a
 * statement on a pooled connection and mapping failures to outcomes.
 */
#ifndef BOOKD_DB_QUERY_H
#define BOOKD_DB_QUERY_H

#include <jansson.h>

#include "db/pool.h"
#include "db/result.h"

void db_set_invalid(struct db_result *res, const char *field, const char *message);

/* Maps a failed statement's SQLSTATE to res->outcome (see sql/01_common.sql);
 * logs what is unexpected. */
void db_map_error(const PGresult *pg, struct db_conn *conn, const char *stmt,
                  struct db_result *res);

/*
 * Runs prepared statement `stmt` on a pooled connection, which is back in
 * the pool when this returns. The rows (PQclear them; there may be none),
 * or NULL with res->outcome set: DB_UNAVAILABLE, or the failure mapped by
 * db_map_error.
 */
PGresult *db_run_rows(struct db_pool *pool, const char *stmt, int n, const char *const *values,
                      struct db_result *res);

/*
 * Runs prepared statement `stmt` and copies the first column of its first
 * row into *out (malloc'd; NULL when there is no row). Returns 0, or -1
 * with res->outcome set.
 */
int db_run_value(struct db_pool *pool, const char *stmt, int n, const char *const *values,
                 char **out, struct db_result *res);

/*
 * Runs `stmt` for its single value, as text in *out (malloc'd; NULL when
 * there is no row). Returns 0 when the database answered (res->outcome says
 * how), -1 with DB_UNAVAILABLE / DB_ERROR.
 */
int db_fetch_text(struct db_pool *pool, const char *stmt, int n, const char *const *values,
                  char **out, struct db_result *res);

/*
 * Runs `stmt` whose single value is JSON text and parses it into *out (a
 * new reference; NULL when there is no row). Returns 0 when the database
 * answered (res->outcome says how), -1 with DB_UNAVAILABLE / DB_ERROR.
 */
int db_fetch_json(struct db_pool *pool, const char *stmt, int n, const char *const *values,
                  json_t **out, struct db_result *res);

/* A decimal integer column value; 0 if out of int range. */
int db_int_value(const char *text);

/* SQL bytea text form ("\x" + 64 hex digits, and the NUL) of a 32-byte hash. */
#define DB_BYTEA_HASH_SIZE 67
void db_hash_to_bytea(const unsigned char *hash, char out[DB_BYTEA_HASH_SIZE]);
/* The same for any n bytes: out holds 2n + 3. */
void db_bytes_to_bytea(const unsigned char *bytes, size_t n, char *out);
/* The same, malloc'd (NULL when out of memory). */
char *db_bytes_to_bytea_new(const unsigned char *bytes, size_t n);
/* Reads bytea text ("\x" + hex, the server's output form) into out (at
 * most `size` bytes); 0 and *len, or -1. */
int db_bytea_from_text(const char *text, unsigned char *out, size_t size, size_t *len);

/* Reads the columns of the breaker statements (target, then the fields of
 * struct core_breaker in order; times in ms since the epoch) from row `i`.
 * Shared by the API's reads (db/webhooks.c) and the worker's
 * (db/deliveries.c). */
struct db_breaker_row;
void db_breaker_from_row(const PGresult *pg, int i, struct db_breaker_row *out);

#endif
