#include "db/connect.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static enum db_statements_mode statements_mode = DB_STATEMENTS_PREPARED;

void db_set_statements_mode(enum db_statements_mode mode)
{
    statements_mode = mode;
}

enum db_statements_mode db_statements_mode(void)
{
    return statements_mode;
}

int64_t db_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Drives a non-blocking connect (PQconnectStartParams/PQconnectPoll) until
 * it is made or the deadline passes: libpq's own connect_timeout counts
 * per address tried and only in its blocking connect, so the deadline of
 * a request waiting for a connection is kept here instead.
 */
static void finish_by(PGconn *pg, int64_t deadline_ms)
{
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;

    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        struct pollfd p = {.fd = PQsocket(pg),
                           .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        int64_t left = deadline_ms - db_monotonic_ms();
        int n;

        if (p.fd < 0 || left <= 0)
            break;
        n = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0)
            st = PQconnectPoll(pg);
    }
}

/* The server's notices and warnings (a shutdown under way, a terminated
 * session) into bookd's log as JSON lines, not raw on stderr. */
static void notice_to_log(void *arg, const char *message)
{
    int n = (int)strcspn(message, "\n");
    (void)arg;
    log_warn("db.notice", "%.*s", n, message);
}

/* One connect attempt: the defaults, then the operator's conninfo
 * ("dbname", expanded, so what it sets wins), then `over` (host, port and
 * hostaddr of the one host to try, or nothing), by `deadline_ms`. */
static PGconn *connect_once(const char *conninfo, const char *options, const char *const *over,
                            int64_t deadline_ms)
{
    char user_timeout[16], connect_timeout[16];
    const char *keys[16] = {
        "connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "options",         "dbname"};
    const char *values[16] = {connect_timeout, "1",     "10",    "5", "3",
                              user_timeout,    options, conninfo};
    int n = 8;
    PGconn *pg;

    snprintf(connect_timeout, sizeof connect_timeout, "%d", DB_CONNECT_TIMEOUT_MS / 1000);
    snprintf(user_timeout, sizeof user_timeout, "%d", DB_TCP_USER_TIMEOUT_MS);
    for (int i = 0; over && over[i] && n < 14; i += 2) {
        keys[n] = over[i];
        values[n++] = over[i + 1];
    }
    keys[n] = values[n] = NULL;
    pg = PQconnectStartParams(keys, values, 1);
    if (pg && PQstatus(pg) != CONNECTION_BAD) {
        finish_by(pg, deadline_ms);
        if (PQstatus(pg) != CONNECTION_OK && PQstatus(pg) != CONNECTION_BAD) {
            PQfinish(pg); /* still connecting at the deadline: given up */
            pg = NULL;
        }
    }
    return pg;
}

/* The `i`th of a comma-separated list into out (all of it when the list has
 * one element, as libpq applies a lone port to every host). */
static void list_item(const char *list, int i, char *out, size_t size)
{
    const char *p = list;
    size_t len;

    out[0] = '\0';
    if (!list)
        return;
    if (!strchr(list, ','))
        i = 0;
    while (i-- > 0 && (p = strchr(p, ',')))
        p++;
    if (!p)
        return;
    len = strcspn(p, ",");
    snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), p);
}

/* The host of a multi-host conninfo that last answered, tried first. */
static int last_good_host;

/*
 * A conninfo naming several hosts (a Patroni pair: host=a,b
 * target_session_attrs=read-write) is tried one host at a time, each by a
 * deadline of its own, starting with the one that last worked. libpq would
 * try them in turn itself, but the non-blocking connect ignores
 * connect_timeout, so a first host that drops packets (a dead machine)
 * would take the whole deadline and the next would never be tried. Each
 * host gets the conninfo's connect_timeout if it sets one, else an equal
 * share of the time left (at least 200 ms).
 */
static PGconn *connect_hosts(const char *conninfo, const char *options, int64_t deadline_ms)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    const char *hosts = NULL, *ports = NULL, *addrs = NULL, *timeout = NULL;
    char host[256], port[32], addr[256];
    int count = 1, first;
    int64_t per_host_ms;
    PGconn *pg = NULL;

    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        if (strcmp(o->keyword, "host") == 0)
            hosts = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            ports = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            addrs = o->val;
        else if (strcmp(o->keyword, "connect_timeout") == 0)
            timeout = o->val;
    }
    for (const char *c = hosts ? hosts : addrs; c && (c = strchr(c, ',')); c++)
        count++;
    if (count < 2) {
        PQconninfoFree(opts);
        return connect_once(conninfo, options, NULL, deadline_ms);
    }
    per_host_ms = timeout ? (int64_t)atoi(timeout) * 1000 : 0;
    first = __atomic_load_n(&last_good_host, __ATOMIC_RELAXED) % count;
    for (int k = 0; k < count; k++) {
        int i = (first + k) % count;
        int64_t now = db_monotonic_ms(), left = deadline_ms - now, each;
        const char *over[7];
        int n = 0;

        if (left <= 0)
            break;
        each = per_host_ms > 0 ? per_host_ms : left / (count - k);
        if (each < 200)
            each = 200;
        list_item(hosts, i, host, sizeof host);
        list_item(ports, i, port, sizeof port);
        list_item(addrs, i, addr, sizeof addr);
        if (hosts) {
            over[n++] = "host";
            over[n++] = host;
        }
        if (addrs) {
            over[n++] = "hostaddr";
            over[n++] = addr;
        }
        if (ports) {
            over[n++] = "port";
            over[n++] = port;
        }
        over[n] = NULL;
        PQfinish(pg);
        pg = connect_once(conninfo, options, over,
                          now + each < deadline_ms ? now + each : deadline_ms);
        if (pg && PQstatus(pg) == CONNECTION_OK) {
            __atomic_store_n(&last_good_host, i, __ATOMIC_RELAXED);
            break;
        }
    }
    PQconninfoFree(opts);
    return pg;
}

PGconn *db_connect(const char *conninfo, int statement_timeout_ms, int64_t deadline_ms)
{
    char options[64];
    PGconn *pg;

    if (deadline_ms <= 0)
        deadline_ms = db_monotonic_ms() + DB_CONNECT_TIMEOUT_MS;
    /* An empty value is left out: PgBouncer refuses a startup packet with
     * options in it ("unsupported startup parameter"). */
    if (statements_mode == DB_STATEMENTS_UNNAMED)
        options[0] = '\0';
    else
        snprintf(options, sizeof options, "-c statement_timeout=%d", statement_timeout_ms);
    pg = connect_hosts(conninfo, options, deadline_ms);
    if (pg)
        PQsetNoticeProcessor(pg, notice_to_log, NULL);
    return pg;
}

/*
 * UNNAMED mode's statement: the timeout and the statement in one pipeline
 * with one Sync at the end, so both run in one implicit transaction on one
 * server session (a pooler in transaction mode lends the session until the
 * transaction ends) and cost one round trip. set_config(..., true) lasts
 * until that transaction ends; PostgreSQL arms statement_timeout afresh
 * for each message of a pipeline, so the statement runs under the new
 * value. A first statement that fails aborts the second (PIPELINE_ABORTED):
 * its error is the answer then.
 */
static PGresult *exec_pipelined(PGconn *pg, int statement_timeout_ms, const char *sql, int n,
                                const char *const *values)
{
    char ms[16];
    const char *params[] = {ms};
    PGresult *res, *set = NULL, *out = NULL;
    int ended = 0; /* statements whose results have all been read */

    snprintf(ms, sizeof ms, "%d", statement_timeout_ms);
    if (!PQenterPipelineMode(pg))
        return NULL;
    if (!PQsendQueryParams(pg, "SELECT set_config('statement_timeout', $1, true)", 1, NULL, params,
                           NULL, NULL, 0) ||
        !PQsendQueryParams(pg, sql, n, NULL, values, NULL, NULL, 0) || !PQpipelineSync(pg)) {
        /* Nothing was sent, or the connection is gone: either way the
         * caller sees a failure without a result. */
        if (PQstatus(pg) == CONNECTION_OK)
            PQexitPipelineMode(pg);
        return NULL;
    }
    /* Each statement's results end with a NULL; then comes the Sync's. */
    while (ended <= 2) {
        if (!(res = PQgetResult(pg))) {
            if (PQstatus(pg) != CONNECTION_OK)
                break;
            ended++;
            continue;
        }
        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            break;
        }
        if (ended == 0 && !set)
            set = res;
        else if (ended == 1 && !out)
            out = res;
        else
            PQclear(res);
    }
    if (PQstatus(pg) == CONNECTION_OK)
        PQexitPipelineMode(pg);
    if (set && PQresultStatus(set) != PGRES_TUPLES_OK) {
        PQclear(out);
        return set;
    }
    PQclear(set);
    return out;
}

PGresult *db_exec_bounded(PGconn *pg, int statement_timeout_ms, const char *sql, int n,
                          const char *const *values)
{
    /* Inside a transaction block the timeout was set by the statement that
     * opened it (a BEGIN sent through here) and lasts until it ends; an
     * aborted block must still take its ROLLBACK, which a set_config
     * before it would keep from running. */
    if (statements_mode == DB_STATEMENTS_PREPARED || statement_timeout_ms <= 0 ||
        PQtransactionStatus(pg) != PQTRANS_IDLE)
        return PQexecParams(pg, sql, n, NULL, values, NULL, NULL, 0);
    return exec_pipelined(pg, statement_timeout_ms, sql, n, values);
}

const char *db_pooler_hint(const char *message, const char *state)
{
    if (statements_mode != DB_STATEMENTS_PREPARED)
        return "";
    /* PgBouncer's refusal of the startup options; a named statement missing
     * on the session or already there (another client's, on a shared one). */
    if ((message && strstr(message, "unsupported startup parameter")) ||
        (state && (strcmp(state, "26000") == 0 || strcmp(state, "42P05") == 0)))
        return " (is DATABASE_URL a pooler in transaction mode, such as PgBouncer? then set "
               "BOOKD_DB_STATEMENTS=unnamed: docs/design.md, \"Running behind PgBouncer\")";
    return "";
}
