#include "db/connect.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

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

PGconn *db_connect(const char *conninfo, int statement_timeout_ms, int64_t deadline_ms)
{
    char options[64], user_timeout[16], connect_timeout[16];
    /* Defaults first: the operator's conninfo ("dbname", expanded) comes
     * last, so what it sets wins. */
    const char *const keys[] = {"connect_timeout",
                                "keepalives",
                                "keepalives_idle",
                                "keepalives_interval",
                                "keepalives_count",
                                "tcp_user_timeout",
                                "options",
                                "dbname",
                                NULL};
    const char *values[] = {connect_timeout, "1",     "10",     "5", "3",
                            user_timeout,    options, conninfo, NULL};
    PGconn *pg;

    if (deadline_ms <= 0)
        deadline_ms = db_monotonic_ms() + DB_CONNECT_TIMEOUT_MS;
    snprintf(connect_timeout, sizeof connect_timeout, "%d", DB_CONNECT_TIMEOUT_MS / 1000);
    snprintf(user_timeout, sizeof user_timeout, "%d", DB_TCP_USER_TIMEOUT_MS);
    snprintf(options, sizeof options, "-c statement_timeout=%d", statement_timeout_ms);
    pg = PQconnectStartParams(keys, values, 1);
    if (pg && PQstatus(pg) != CONNECTION_BAD) {
        finish_by(pg, deadline_ms);
        if (PQstatus(pg) != CONNECTION_OK && PQstatus(pg) != CONNECTION_BAD) {
            PQfinish(pg); /* still connecting at the deadline: given up */
            pg = NULL;
        }
    }
    if (pg)
        PQsetNoticeProcessor(pg, notice_to_log, NULL);
    return pg;
}
