/*
 * A fixed pool of libpq connections. Each connection has every statement of
 * db/statements.c prepared when it connects, and serves one caller at a
 * time. Acquiring waits at most `acquire_timeout_ms` for a free connection.
 * Broken connections are noticed (on acquire, and after a failed query) and
 * replaced, with a backoff between failed connection attempts so a database
 * outage costs a fast 503 rather than a connect storm.
 *
 * Nothing relies on session state except the named prepared statements:
 * locks are transaction-scoped and every call is one autocommit statement.
 * In UNNAMED mode (db/connect.h) there are none: each call sends its
 * statement's text with PQexecParams and sets its statement_timeout in its
 * own transaction, so the pool works through PgBouncer in transaction mode
 * (docs/design.md, "Running behind PgBouncer").
 */
#ifndef BOOKD_DB_POOL_H
#define BOOKD_DB_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

struct db_pool;

/* A connection lent to one caller between acquire and release. */
struct db_conn {
    PGconn *pg;
    bool broken;            /* set by db_exec on a connection-level failure */
    int64_t reconnect_at_ms; /* monotonic time before which we do not retry */
    unsigned failures;      /* consecutive failed connection attempts */
    bool in_use;
    /* The pool it belongs to. */
    struct db_pool *pool;
};

struct db_pool_stats {
    int size;
    int idle;
    int in_use;
    int waiting;
    uint64_t acquire_timeouts;
    bool database_up; /* the last connection attempt or query reached it */
};

enum {
    DB_POOL_TIMEOUT = -1,     /* no connection free within the wait */
    DB_POOL_UNREACHABLE = -2, /* the database cannot be reached now */
    DB_POOL_FAILED = -3,      /* db_pool_probe: the statement failed or returned nothing */
};

/*
 * Creates a pool of `size` connections to `conninfo` (a libpq connection
 * string or URI), in the process's statements mode (db/connect.h). Connects
 * eagerly, but a database that is down does not fail creation: connections
 * are retried on demand. Returns NULL only on bad arguments or out of
 * memory. Free with db_pool_free().
 */
struct db_pool *db_pool_new(const char *conninfo, int size, int acquire_timeout_ms,
                            int statement_timeout_ms);
void db_pool_free(struct db_pool *pool);

/* 0 and *out, or DB_POOL_TIMEOUT / DB_POOL_UNREACHABLE. */
int db_pool_acquire(struct db_pool *pool, struct db_conn **out);
void db_pool_release(struct db_pool *pool, struct db_conn *conn);

/*
 * For the operators' probes (/ready, /metrics), which must answer soon
 * even while every connection is busy: runs the parameterless statement
 * `name` on a connection acquired within `wait_ms` (at most the pool's own
 * wait; a probe's timeout is not counted in acquire_timeouts) and copies
 * the first value of its first row into `out` (`size` bytes, truncated).
 * `statement_timeout_ms` > 0 bounds the statement in PostgreSQL as well.
 * Returns 0, DB_POOL_TIMEOUT, DB_POOL_UNREACHABLE or DB_POOL_FAILED.
 */
int db_pool_probe(struct db_pool *pool, int wait_ms, int statement_timeout_ms, const char *name,
                  char *out, size_t size);

void db_pool_get_stats(struct db_pool *pool, struct db_pool_stats *out);

/* The services read through this pool (db/service_cache.h): data that never
 * changes lives as long as the connections to the database that holds it.
 * The pool owns the cache; db_pool_free() frees it. */
struct db_service_cache *db_pool_services(struct db_pool *pool);

/*
 * Runs statement `name` of db/statements.c with text parameters: prepared
 * at connect, or in UNNAMED mode its text, bounded by the pool's
 * statement_timeout. Returns the result (PQclear it), or NULL when nothing
 * came back. A connection-level failure marks the connection broken so
 * release replaces it.
 */
PGresult *db_exec(struct db_conn *conn, const char *name, int nparams,
                  const char *const *values);

/* True when `res` failed because the connection is gone. */
bool db_conn_lost(const struct db_conn *conn);

/* Marks the connection to be closed at release, and made anew. */
void db_conn_discard(struct db_conn *conn);

#endif
