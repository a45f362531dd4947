#include "db/pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/connect.h"
#include "db/service_cache.h"
#include "db/statements.h"
#include "log.h"

struct db_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char *conninfo;
    int size;
    int acquire_timeout_ms;
    int statement_timeout_ms;
    enum db_statements_mode mode;
    /* UNNAMED mode: db_statements' indexes in name order, for db_exec's
     * lookup of a statement's text by its name. */
    int *by_name;
    int in_use;
    int waiting;
    uint64_t acquire_timeouts;
    bool database_up;
    struct db_conn *conns;
    struct db_service_cache *services;
};

static int64_t monotonic_ms(void)
{
    return db_monotonic_ms();
}

static void conn_close(struct db_conn *c)
{
    if (c->pg)
        PQfinish(c->pg);
    c->pg = NULL;
    c->broken = false;
}

/* Connects by `deadline_ms` (see db/connect.h) and, in PREPARED mode,
 * prepares every statement. 0 or -1 (logged). */
static int conn_open(struct db_pool *pool, struct db_conn *c, int64_t deadline_ms)
{
    c->pg = db_connect(pool->conninfo, pool->statement_timeout_ms, deadline_ms);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        const char *why = c->pg ? PQerrorMessage(c->pg) : "no connection within the pool's wait";
        size_t n = strlen(why);
        while (n > 0 && why[n - 1] == '\n')
            n--;
        log_error("db.connect_failed", "%.*s%s", (int)n, why, db_pooler_hint(why, NULL));
        goto fail;
    }
    for (int i = 0; pool->mode == DB_STATEMENTS_PREPARED && i < db_statement_count; i++) {
        PGresult *res = PQprepare(c->pg, db_statements[i].name, db_statements[i].sql, 0, NULL);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok) {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            /* An undefined function, table or column: a schema older than
             * this bookd, the usual cause after an upgrade. */
            bool old_schema = state && (strcmp(state, "42883") == 0 ||
                                        strcmp(state, "42P01") == 0 ||
                                        strcmp(state, "42703") == 0);
            log_error("db.prepare_failed", "%s: %s%s%s", db_statements[i].name,
                      PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY),
                      old_schema ? " (the database's schema is older than this bookd: run "
                                   "`bookd migrate`)"
                                 : "",
                      db_pooler_hint(NULL, state));
        }
        PQclear(res);
        if (!ok)
            goto fail;
    }
    c->failures = 0;
    return 0;
fail:
    conn_close(c);
    /* Back off 100 ms, doubling to 5 s, between attempts on this slot. */
    c->failures++;
    {
        int64_t delay = 100 << (c->failures < 6 ? c->failures - 1 : 5);
        c->reconnect_at_ms = monotonic_ms() + (delay > 5000 ? 5000 : delay);
    }
    return -1;
}

static int by_name_cmp(const void *a, const void *b)
{
    return strcmp(db_statements[*(const int *)a].name, db_statements[*(const int *)b].name);
}

static int name_cmp(const void *name, const void *index)
{
    return strcmp(name, db_statements[*(const int *)index].name);
}

/* The text of statement `name`, or NULL (logged) when there is none. */
static const char *statement_sql(const struct db_pool *pool, const char *name)
{
    const int *i = bsearch(name, pool->by_name, (size_t)db_statement_count, sizeof(int), name_cmp);
    if (!i) {
        log_error("db.no_statement", "%s is not a statement of db/statements.c", name);
        return NULL;
    }
    return db_statements[*i].sql;
}

struct db_pool *db_pool_new(const char *conninfo, int size, int acquire_timeout_ms,
                            int statement_timeout_ms)
{
    struct db_pool *pool;

    if (!conninfo || size < 1 || size > 1000 || acquire_timeout_ms < 0)
        return NULL;
    pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->conninfo = strdup(conninfo);
    pool->conns = calloc((size_t)size, sizeof *pool->conns);
    pool->services = db_service_cache_new();
    pool->mode = db_statements_mode();
    pool->by_name = malloc((size_t)db_statement_count * sizeof *pool->by_name);
    if (!pool->conninfo || !pool->conns || !pool->services || !pool->by_name) {
        free(pool->conninfo);
        free(pool->conns);
        free(pool->by_name);
        db_service_cache_free(pool->services);
        free(pool);
        return NULL;
    }
    for (int i = 0; i < db_statement_count; i++)
        pool->by_name[i] = i;
    qsort(pool->by_name, (size_t)db_statement_count, sizeof *pool->by_name, by_name_cmp);
    pool->size = size;
    pool->acquire_timeout_ms = acquire_timeout_ms;
    pool->statement_timeout_ms = statement_timeout_ms;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->freed, NULL);
    for (int i = 0; i < size; i++)
        pool->conns[i].pool = pool;
    for (int i = 0; i < size; i++) {
        if (conn_open(pool, &pool->conns[i], 0) != 0)
            break; /* the database is down: the rest connect on demand */
        pool->database_up = true;
    }
    return pool;
}

void db_pool_free(struct db_pool *pool)
{
    if (!pool)
        return;
    for (int i = 0; i < pool->size; i++)
        conn_close(&pool->conns[i]);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->freed);
    free(pool->conns);
    free(pool->conninfo);
    free(pool->by_name);
    db_service_cache_free(pool->services);
    free(pool);
}

struct db_service_cache *db_pool_services(struct db_pool *pool)
{
    return pool->services;
}

/*
 * An idle connection whose socket is readable has been sent something
 * unasked: the server's goodbye (a restart, pg_terminate_backend).
 */
static void conn_check_idle(struct db_conn *c)
{
    struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
    PGnotify *note;

    if (pfd.fd < 0) {
        c->broken = true;
        return;
    }
    /* A request connection listens to nothing, so an idle one has nothing
     * to say unless its server is going away: it is replaced rather than
     * handed out, so a statement is not sent into a connection already
     * lost, where its failure would look like a change of unknown outcome
     * (db_result.in_doubt). */
    if (poll(&pfd, 1, 0) > 0) {
        PQconsumeInput(c->pg);
        while ((note = PQnotifies(c->pg)) != NULL)
            PQfreemem(note);
        c->broken = true;
    }
}

/* Prefers a slot with a live connection, then one due for a reconnect. */
static struct db_conn *take_slot(struct db_pool *pool)
{
    struct db_conn *fallback = NULL;
    for (int i = 0; i < pool->size; i++) {
        struct db_conn *c = &pool->conns[i];
        if (c->in_use)
            continue;
        if (c->pg)
            return c;
        if (!fallback)
            fallback = c;
    }
    return fallback;
}

/*
 * Waits at most wait_ms for a free connection. A wait that runs out is
 * counted in acquire_timeouts only for requests (`counted`): the
 * operators' probes wait less than requests do, and their timeouts say
 * nothing about requests being refused.
 */
static int acquire(struct db_pool *pool, int wait_ms, bool counted, struct db_conn **out)
{
    struct timespec deadline;
    struct db_conn *c;
    int rc = 0;

    *out = NULL;
    int64_t until_ms = monotonic_ms() + wait_ms;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += wait_ms / 1000;
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }

    pthread_mutex_lock(&pool->lock);
    while (pool->in_use == pool->size && rc == 0) {
        pool->waiting++;
        rc = pthread_cond_timedwait(&pool->freed, &pool->lock, &deadline);
        pool->waiting--;
    }
    if (pool->in_use == pool->size) {
        if (counted)
            pool->acquire_timeouts++;
        pthread_mutex_unlock(&pool->lock);
        return DB_POOL_TIMEOUT;
    }
    c = take_slot(pool);
    c->in_use = true;
    pool->in_use++;
    pthread_mutex_unlock(&pool->lock);

    /* Connection work happens outside the pool lock. */
    if (c->pg)
        conn_check_idle(c);
    if (c->pg && c->broken)
        conn_close(c);
    if (!c->pg) {
        /* A connection made now counts against the same wait: a database
         * that drops packets costs a request the pool's wait, no more. */
        int64_t now_ms = monotonic_ms();
        if (now_ms < c->reconnect_at_ms ||
            conn_open(pool, c, until_ms - now_ms < 100 ? now_ms + 100 : until_ms) != 0) {
            pthread_mutex_lock(&pool->lock);
            pool->database_up = false;
            pthread_mutex_unlock(&pool->lock);
            db_pool_release(pool, c);
            return DB_POOL_UNREACHABLE;
        }
        pthread_mutex_lock(&pool->lock);
        pool->database_up = true;
        /* The database is back: the other empty slots need not wait out
         * their own backoff (up to 5 s) before they connect too. */
        for (int i = 0; i < pool->size; i++)
            if (!pool->conns[i].in_use && !pool->conns[i].pg) {
                pool->conns[i].failures = 0;
                pool->conns[i].reconnect_at_ms = 0;
            }
        pthread_mutex_unlock(&pool->lock);
    }
    *out = c;
    return 0;
}

int db_pool_acquire(struct db_pool *pool, struct db_conn **out)
{
    return acquire(pool, pool->acquire_timeout_ms, true, out);
}

/*
 * Runs statement `name`: the one prepared at connect, or in UNNAMED mode
 * its text under `statement_timeout_ms`. Behind a pooler in transaction
 * mode a server session may have been LISTENed on by another client, and
 * its notifications then arrive here with a result: they are dropped at
 * once rather than piled up in libpq for the life of the connection.
 */
static PGresult *exec_statement(struct db_conn *conn, const char *name, int nparams,
                                const char *const *values, int statement_timeout_ms)
{
    struct db_pool *pool = conn->pool;
    PGresult *res = NULL;
    PGnotify *note;

    if (pool->mode == DB_STATEMENTS_PREPARED) {
        const char *state;
        res = PQexecPrepared(conn->pg, name, nparams, values, NULL, NULL, 0);
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        /* A statement missing from the session that prepared it: the
         * session is not ours alone (a pooler in transaction mode). The
         * statement did not run; the caller answers an error. */
        if (state && strcmp(state, "26000") == 0)
            log_error("db.statement_missing", "%s%s", name, db_pooler_hint(NULL, state));
    } else {
        const char *sql = statement_sql(pool, name);
        if (sql)
            res = db_exec_bounded(conn->pg, statement_timeout_ms, sql, nparams, values);
    }
    while ((note = PQnotifies(conn->pg)) != NULL)
        PQfreemem(note);
    if (PQstatus(conn->pg) != CONNECTION_OK)
        conn->broken = true;
    return res;
}

int db_pool_probe(struct db_pool *pool, int wait_ms, int statement_timeout_ms, const char *name,
                  char *out, size_t size)
{
    struct db_conn *conn;
    PGresult *res = NULL;
    char set[16];
    int rc;

    if (size > 0)
        out[0] = '\0';
    rc = acquire(pool, wait_ms < pool->acquire_timeout_ms ? wait_ms : pool->acquire_timeout_ms,
                 false, &conn);
    if (rc != 0)
        return rc;
    rc = DB_POOL_FAILED;
    /* statement_timeout takes effect from the next statement on, so the
     * bound is set in a transaction of its own around the statement (in
     * UNNAMED mode exec_statement does that itself). */
    if (statement_timeout_ms > 0 && pool->mode == DB_STATEMENTS_PREPARED) {
        const char *params[] = {set};
        snprintf(set, sizeof set, "%d", statement_timeout_ms);
        res = PQexec(conn->pg, "BEGIN");
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            goto out;
        PQclear(res);
        res = PQexecParams(conn->pg, "SELECT set_config('statement_timeout', $1, true)", 1, NULL,
                           params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            goto out;
        PQclear(res);
    }
    res = exec_statement(conn, name, 0, NULL,
                         statement_timeout_ms > 0 ? statement_timeout_ms
                                                  : pool->statement_timeout_ms);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && PQnfields(res) > 0) {
        snprintf(out, size, "%s", PQgetvalue(res, 0, 0));
        rc = 0;
    } else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("db.probe_failed", "%s: %s", name,
                 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                     ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                     : "no result");
    }
out:
    PQclear(res);
    if (statement_timeout_ms > 0 && pool->mode == DB_STATEMENTS_PREPARED &&
        PQtransactionStatus(conn->pg) != PQTRANS_IDLE)
        PQclear(PQexec(conn->pg, rc == 0 ? "COMMIT" : "ROLLBACK"));
    if (PQstatus(conn->pg) != CONNECTION_OK)
        conn->broken = true;
    db_pool_release(pool, conn);
    return rc;
}

void db_pool_release(struct db_pool *pool, struct db_conn *conn)
{
    if (!conn)
        return;
    /* Each call is one statement in autocommit; anything else is a bug or a
     * failure mid-transaction, and the session cannot be trusted. */
    if (conn->pg && (conn->broken || PQstatus(conn->pg) != CONNECTION_OK ||
                     PQtransactionStatus(conn->pg) != PQTRANS_IDLE)) {
        conn_close(conn);
        pthread_mutex_lock(&pool->lock);
        pool->database_up = false;
        pthread_mutex_unlock(&pool->lock);
    }
    pthread_mutex_lock(&pool->lock);
    conn->in_use = false;
    pool->in_use--;
    pthread_cond_signal(&pool->freed);
    pthread_mutex_unlock(&pool->lock);
}

void db_pool_get_stats(struct db_pool *pool, struct db_pool_stats *out)
{
    pthread_mutex_lock(&pool->lock);
    out->size = pool->size;
    out->in_use = pool->in_use;
    out->idle = pool->size - pool->in_use;
    out->waiting = pool->waiting;
    out->acquire_timeouts = pool->acquire_timeouts;
    out->database_up = pool->database_up;
    pthread_mutex_unlock(&pool->lock);
}

PGresult *db_exec(struct db_conn *conn, const char *name, int nparams,
                  const char *const *values)
{
    return exec_statement(conn, name, nparams, values, conn->pool->statement_timeout_ms);
}

void db_conn_discard(struct db_conn *conn)
{
    conn->broken = true;
}

bool db_conn_lost(const struct db_conn *conn)
{
    return conn->broken;
}
