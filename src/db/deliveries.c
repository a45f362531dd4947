#include "db/deliveries.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/json_text.h"
#include "db/arrays.h"
#include "db/connect.h"
#include "db/query.h"
#include "log.h"

/* The worker's statements are batches (claims, fan-out, purges): bounded,
 * but longer than a request's. */
#define DB_WORKER_STATEMENT_TIMEOUT_MS 30000

#define CHANNEL "bookd_outbox"

struct db_session {
    PGconn *pg;
    char *conninfo;
    bool listen;
    int64_t retry_at_ms;
    int64_t backoff_ms;
};

struct db_session *db_session_new(const char *conninfo, bool listen)
{
    struct db_session *s = calloc(1, sizeof *s);
    if (s && !(s->conninfo = strdup(conninfo))) {
        free(s);
        s = NULL;
    }
    if (s)
        s->listen = listen;
    return s;
}

void db_session_free(struct db_session *s)
{
    if (!s)
        return;
    if (s->pg)
        PQfinish(s->pg);
    free(s->conninfo);
    free(s);
}

/* Runs `sql` with text parameters; the result, or NULL (logged) when it
 * failed. A lost connection is dropped, to be made again by ensure. */
static PGresult *run(struct db_session *s, const char *what, const char *sql, int n,
                     const char *const *values)
{
    PGresult *res;
    ExecStatusType st;
    const char *context;

    if (!s->pg)
        return NULL;
    res = db_exec_bounded(s->pg, DB_WORKER_STATEMENT_TIMEOUT_MS, sql, n, values);
    st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    /* The context says where inside a function a statement failed (a lock
     * timeout's: the function and line that waited); it holds no values. */
    context = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
    log_warn("worker.db_failed", "%s: %s%s%s", what,
             res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(s->pg),
             context ? " | " : "", context ? context : "");
    PQclear(res);
    if (PQstatus(s->pg) != CONNECTION_OK) {
        PQfinish(s->pg);
        s->pg = NULL;
    }
    return NULL;
}

PGresult *db_session_exec(struct db_session *s, const char *what, const char *sql, int n,
                          const char *const *values)
{
    return run(s, what, sql, n, values);
}


static int run_ok(struct db_session *s, const char *what, const char *sql, int n,
                  const char *const *values)
{
    PGresult *res = run(s, what, sql, n, values);
    PQclear(res);
    return res ? 0 : -1;
}

int db_session_ensure(struct db_session *s, int64_t now_ms)
{
    if (s->pg && PQstatus(s->pg) == CONNECTION_OK)
        return 0;
    if (s->pg) {
        PQfinish(s->pg);
        s->pg = NULL;
    }
    if (now_ms < s->retry_at_ms)
        return -1;
    s->pg = db_connect(s->conninfo, DB_WORKER_STATEMENT_TIMEOUT_MS, 0);
    if (!s->pg || PQstatus(s->pg) != CONNECTION_OK) {
        log_warn("worker.connect_failed", "%s%s",
                 s->pg ? PQerrorMessage(s->pg) : "no connection within the connect timeout",
                 db_pooler_hint(s->pg ? PQerrorMessage(s->pg) : NULL, NULL));
        PQfinish(s->pg);
        s->pg = NULL;
        s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 100;
        if (s->backoff_ms > 5000)
            s->backoff_ms = 5000;
        s->retry_at_ms = now_ms + s->backoff_ms;
        return -1;
    }
    s->backoff_ms = 0;
    /* Through a pooler in transaction mode (UNNAMED) a LISTEN would stay
     * on a shared server session: the worker then finds work by its poll
     * and the in-process signal alone. */
    if (s->listen && db_statements_mode() == DB_STATEMENTS_PREPARED &&
        run_ok(s, "listen", "LISTEN " CHANNEL, 0, NULL) != 0)
        return -1;
    return 0;
}

int db_session_socket(struct db_session *s)
{
    return s->pg ? PQsocket(s->pg) : -1;
}

bool db_session_drain(struct db_session *s)
{
    PGnotify *n;
    bool any = false;

    if (!s->pg)
        return false;
    if (!PQconsumeInput(s->pg)) {
        PQfinish(s->pg);
        s->pg = NULL;
        return false;
    }
    while ((n = PQnotifies(s->pg)) != NULL) {
        any = true;
        PQfreemem(n);
    }
    return any;
}

int db_session_notify(struct db_session *s)
{
    return run_ok(s, "notify", "NOTIFY " CHANNEL, 0, NULL);
}

/* Runs `sql`, a function of `n` (1 or 2) int parameters, a and b, whose
 * one value is an int, into *out. */
static int run_int(struct db_session *s, const char *what, const char *sql, int n, int a, int b,
                   int *out)
{
    char p1[16], p2[16];
    const char *params[] = {p1, p2};
    PGresult *res;

    *out = 0;
    snprintf(p1, sizeof p1, "%d", a);
    snprintf(p2, sizeof p2, "%d", b);
    if (!(res = run(s, what, sql, n, params)))
        return -1;
    *out = db_int_value(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

void db_deliveries_free(struct db_delivery *d, size_t count)
{
    for (size_t i = 0; d && i < count; i++) {
        free(d[i].url);
        free(d[i].payload);
    }
    free(d);
}

/* The columns sending needs (sql/50_deliveries.sql, bk_deliveries_to_send),
 * in that function's order, from column `col` of each row of `res` whose
 * id is not NULL: at most `limit` rows into *out and *count. */
static int read_deliveries(PGresult *res, int col, int limit, struct db_delivery **out,
                           size_t *count)
{
    int rows = PQntuples(res), n = 0;

    *out = NULL;
    *count = 0;
    for (int i = 0; i < rows; i++)
        n += !PQgetisnull(res, i, col);
    if (n > limit) {
        /* Never more than asked: the caller's arrays are sized by it. The
         * rest stay leased, and are claimed again when the lease runs out. */
        log_warn("worker.claim_overrun", "leased %d deliveries, asked for %d", n, limit);
        n = limit;
    }
    if (n > 0 && !(*out = calloc((size_t)n, sizeof **out)))
        return -1;
    for (int i = 0; i < rows && *count < (size_t)n; i++) {
        struct db_delivery *d = &(*out)[*count];
        if (PQgetisnull(res, i, col))
            continue;
        snprintf(d->id, sizeof d->id, "%s", PQgetvalue(res, i, col));
        snprintf(d->org_id, sizeof d->org_id, "%s", PQgetvalue(res, i, col + 1));
        snprintf(d->target, sizeof d->target, "%s", PQgetvalue(res, i, col + 2));
        d->attempts = db_int_value(PQgetvalue(res, i, col + 3));
        d->url = strdup(PQgetvalue(res, i, col + 4));
        if (db_bytea_from_text(PQgetvalue(res, i, col + 5), d->secret, sizeof d->secret,
                               &d->secret_len) != 0)
            d->secret_len = 0;
        snprintf(d->event_type, sizeof d->event_type, "%s", PQgetvalue(res, i, col + 6));
        d->payload = strdup(PQgetvalue(res, i, col + 7));
        snprintf(d->event_at, sizeof d->event_at, "%s", PQgetvalue(res, i, col + 8));
        d->event_at_ms = strtoll(PQgetvalue(res, i, col + 9), NULL, 10);
        snprintf(d->action, sizeof d->action, "%s", PQgetvalue(res, i, col + 10));
        if (PQgetisnull(res, i, col + 11) ||
            db_bytea_from_text(PQgetvalue(res, i, col + 11), d->token, sizeof d->token,
                               &d->token_len) != 0)
            d->token_len = 0;
        d->token_expires_ms = strtoll(PQgetvalue(res, i, col + 12), NULL, 10);
        if (!d->url || !d->payload) {
            free(d->url);
            free(d->payload);
            memset(d, 0, sizeof *d);
            break;
        }
        (*count)++;
    }
    return 0;
}

#define DELIVERY_COLUMNS                                                                         \
    "id, org_id, target, attempts, url, secret, event_type, payload, event_at, event_at_ms,"    \
    " action, token, token_expires_ms"

int db_outbox_fan_out(struct db_session *s, int limit, int first_delay_ms, int room, int lease_ms,
                      int *processed, bool *held_back, struct db_delivery **out, size_t *count)
{
    char p[4][16];
    const char *params[] = {p[0], p[1], p[2], p[3]};
    PGresult *res;
    int rc;

    *processed = 0;
    *held_back = false;
    *out = NULL;
    *count = 0;
    snprintf(p[0], sizeof p[0], "%d", limit);
    snprintf(p[1], sizeof p[1], "%d", first_delay_ms);
    snprintf(p[2], sizeof p[2], "%d", room);
    snprintf(p[3], sizeof p[3], "%d", lease_ms);
    if (!(res = run(s, "fan_out",
                    "SELECT events, held_back, " DELIVERY_COLUMNS
                    " FROM outbox_fan_out($1::int, $2::int, $3::int, $4::int)",
                    4, params)))
        return -1;
    if (PQntuples(res) > 0) {
        *processed = db_int_value(PQgetvalue(res, 0, 0));
        *held_back = PQgetvalue(res, 0, 1)[0] == 't';
    }
    rc = read_deliveries(res, 2, room, out, count);
    PQclear(res);
    return rc;
}

int db_deliveries_claim(struct db_session *s, int limit, int lease_ms, struct db_delivery **out,
                        size_t *count)
{
    char lim[16], lease[16];
    const char *params[] = {lim, lease};
    PGresult *res;
    int rc;

    *out = NULL;
    *count = 0;
    snprintf(lim, sizeof lim, "%d", limit);
    snprintf(lease, sizeof lease, "%d", lease_ms);
    if (!(res = run(s, "claim",
                    "SELECT " DELIVERY_COLUMNS " FROM deliveries_claim($1::int, $2::int)", 2,
                    params)))
        return -1;
    rc = read_deliveries(res, 0, limit, out, count);
    PQclear(res);
    return rc;
}

int db_deliveries_release(struct db_session *s, int limit, int *released)
{
    return run_int(s, "release", "SELECT deliveries_release($1::int)", 1, limit, 0, released);
}

/* Arrays 0 and 1 of `a`: the keys' org ids and targets. */
static void add_keys(struct db_arrays *a, const struct db_breaker_key *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        db_arrays_add(a, 0, keys[i].org_id);
        db_arrays_add(a, 1, keys[i].target);
    }
}

/* Reads the breakers of `keys` into rows[i] for keys[i]; rows not found
 * stay closed. With `lock`, opens the transaction db_breakers_commit ends
 * and locks the rows in it (breakers_read, sql/50_deliveries.sql). */
static int read_breakers(struct db_session *s, const struct db_breaker_key *keys, size_t n,
                         struct core_breaker *rows, bool lock)
{
    struct db_arrays a;
    PGresult *res = NULL;
    int rc = -1;

    memset(rows, 0, n * sizeof *rows);
    db_arrays_init(&a, 2);
    add_keys(&a, keys, n);
    if (db_arrays_finish(&a) != 0) {
        db_arrays_free(&a);
        return -1;
    }
    {
        const char *params[] = {a.text[0], a.text[1], lock ? "true" : "false"};
        if ((lock && run_ok(s, "breakers", "BEGIN", 0, NULL) != 0) ||
            !(res = run(s, "breakers",
                        "SELECT * FROM breakers_read($1::uuid[], $2::text[], $3::boolean)", 3,
                        params)))
            goto out;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        struct db_breaker_row row;
        db_breaker_from_row(res, r, &row);
        for (size_t i = 0; i < n; i++)
            if (strcmp(keys[i].target, row.target) == 0 &&
                strcmp(keys[i].org_id, PQgetvalue(res, r, 9)) == 0)
                rows[i] = row.b;
    }
    rc = 0;
out:
    PQclear(res);
    db_arrays_free(&a);
    if (rc != 0 && lock)
        db_breakers_rollback(s);
    return rc;
}

int db_breakers_begin(struct db_session *s, const struct db_breaker_key *keys, size_t n,
                      struct core_breaker *rows)
{
    return read_breakers(s, keys, n, rows, true);
}

int db_breakers_peek(struct db_session *s, const struct db_breaker_key *keys, size_t n,
                     struct core_breaker *rows)
{
    return read_breakers(s, keys, n, rows, false);
}

void db_breakers_rollback(struct db_session *s)
{
    if (s->pg)
        run_ok(s, "breakers", "ROLLBACK", 0, NULL);
}

const char *db_delivery_result_name(enum db_delivery_result r)
{
    switch (r) {
    case DB_DELIVERY_DELIVERED:
        return "delivered";
    case DB_DELIVERY_RETRY:
        return "retry";
    case DB_DELIVERY_DEAD:
        return "dead";
    case DB_DELIVERY_GONE:
        return "gone";
    case DB_DELIVERY_DEFER:
        return "defer";
    case DB_DELIVERY_VOID:
        return "void";
    case DB_DELIVERY_STOP:
        return "stop";
    }
    return "dead";
}

/* Writes the breakers back: one UPDATE from arrays of their fields. */
static int save_breakers(struct db_session *s, const struct db_breaker_key *keys, size_t n,
                         const struct core_breaker *rows)
{
    struct db_arrays a;
    int rc = -1;

    if (n == 0)
        return 0;
    db_arrays_init(&a, 10);
    add_keys(&a, keys, n);
    for (size_t i = 0; i < n; i++) {
        const struct core_breaker *b = &rows[i];
        db_arrays_add_int(&a, 2, b->state);
        db_arrays_add_int(&a, 3, (long long)b->window_bits);
        db_arrays_add_int(&a, 4, b->window_calls);
        db_arrays_add_int(&a, 5, b->consecutive_failures);
        db_arrays_add_int(&a, 6, b->opened_at_ms);
        db_arrays_add_int(&a, 7, b->trials_in_flight);
        db_arrays_add_int(&a, 8, b->trials_succeeded);
        db_arrays_add_int(&a, 9, b->trial_claimed_at_ms);
    }
    if (db_arrays_finish(&a) == 0)
        rc = run_ok(s, "breakers",
                    "SELECT breakers_save($1::uuid[], $2::text[], $3::smallint[], $4::bigint[],"
                    " $5::int[], $6::int[], $7::bigint[], $8::int[], $9::int[], $10::bigint[])",
                    10, (const char *const *)a.text);
    db_arrays_free(&a);
    return rc;
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const struct db_delivery_outcome *)a)->id,
                  ((const struct db_delivery_outcome *)b)->id);
}

/* Records the outcomes with deliveries_record, in id order. */
static int record_outcomes(struct db_session *s, const struct db_delivery_outcome *outcomes,
                           size_t n)
{
    struct db_delivery_outcome *o;
    struct db_arrays a;
    int rc = -1;

    if (n == 0)
        return 0;
    if (!(o = malloc(n * sizeof *o)))
        return -1;
    memcpy(o, outcomes, n * sizeof *o);
    qsort(o, n, sizeof *o, by_id);
    db_arrays_init(&a, 5);
    for (size_t i = 0; i < n; i++) {
        db_arrays_add(&a, 0, o[i].id);
        db_arrays_add(&a, 1, db_delivery_result_name(o[i].result));
        if (o[i].status_code)
            db_arrays_add_int(&a, 2, o[i].status_code);
        else
            db_arrays_add(&a, 2, NULL);
        db_arrays_add(&a, 3, o[i].error);
        db_arrays_add_int(&a, 4, o[i].next_attempt_ms);
    }
    if (db_arrays_finish(&a) == 0)
        rc = run_ok(s, "record",
                    "SELECT deliveries_record($1::uuid[], $2::text[], $3::int[], $4::text[],"
                    " $5::bigint[])",
                    5, (const char *const *)a.text);
    db_arrays_free(&a);
    free(o);
    return rc;
}

int db_breakers_commit(struct db_session *s, const struct db_breaker_key *keys, size_t n,
                       const struct core_breaker *rows, const struct db_delivery_outcome *outcomes,
                       size_t n_outcomes)
{
    if (save_breakers(s, keys, n, rows) != 0 || record_outcomes(s, outcomes, n_outcomes) != 0 ||
        run_ok(s, "breakers", "COMMIT", 0, NULL) != 0) {
        db_breakers_rollback(s);
        return -1;
    }
    return 0;
}

int db_deliveries_record(struct db_session *s, const struct db_delivery_outcome *outcomes,
                         size_t n)
{
    return record_outcomes(s, outcomes, n);
}

int db_outbox_purge(struct db_session *s, int retention_days, int batch, int *removed)
{
    return run_int(s, "purge", "SELECT outbox_purge($1::int, $2::int)", 2, retention_days, batch,
                   removed);
}

int db_holds_purge(struct db_session *s, int batch, int *removed)
{
    return run_int(s, "holds_purge", "SELECT holds_purge($1::int)", 1, batch, 0, removed);
}

int db_vapi_purge(struct db_session *s, int retention_days, int batch, int *removed)
{
    return run_int(s, "vapi_purge", "SELECT vapi_purge($1::int, $2::int)", 2, retention_days,
                   batch, removed);
}
