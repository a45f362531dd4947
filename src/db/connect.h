/*
 * Connecting to PostgreSQL with every wait bounded (docs/design.md, "Time
 * limits"): a connect that ends by a deadline, TCP keepalives and a TCP
 * user timeout so that a database whose packets are dropped is found dead
 * in seconds, not in the kernel's two hours, and the session's
 * statement_timeout. The operator's conninfo wins wherever it sets one of
 * these itself.
 */
#ifndef BOOKD_DB_CONNECT_H
#define BOOKD_DB_CONNECT_H

#include <stdint.h>

#include <libpq-fe.h>

/* How long the kernel may hold unacknowledged data (a query sent to a
 * database that stopped answering) before the connection is dropped. */
#define DB_TCP_USER_TIMEOUT_MS 15000
/* The longest connect, when the caller has no nearer deadline. */
#define DB_CONNECT_TIMEOUT_MS 5000

/*
 * A connection to `conninfo`, made by `deadline_ms` (CLOCK_MONOTONIC
 * milliseconds; 0: DB_CONNECT_TIMEOUT_MS from now), whose statements may
 * run `statement_timeout_ms` each (0: no limit). NULL when the deadline
 * passed first (or out of memory); otherwise check PQstatus, and PQfinish
 * it either way.
 */
PGconn *db_connect(const char *conninfo, int statement_timeout_ms, int64_t deadline_ms);

/* CLOCK_MONOTONIC now, in milliseconds. */
int64_t db_monotonic_ms(void);

#endif
