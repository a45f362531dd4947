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
 * How statements reach PostgreSQL (BOOKD_DB_STATEMENTS), one mode for the
 * whole process, set once at start before any connection is made.
 *
 * PREPARED (the default): a session of its own to PostgreSQL. The pool
 * prepares its statements at connect, and every session gets its
 * statement_timeout in the startup packet.
 *
 * UNNAMED: through a pooler that lends a server session per transaction
 * (PgBouncer in transaction mode), so nothing may rely on session state:
 * no named prepared statements, no startup options (PgBouncer 1.18 refuses
 * them), and each statement's statement_timeout is set inside its own
 * transaction (db_exec_bounded).
 */
enum db_statements_mode {
    DB_STATEMENTS_PREPARED,
    DB_STATEMENTS_UNNAMED,
};

void db_set_statements_mode(enum db_statements_mode mode);
enum db_statements_mode db_statements_mode(void);

/*
 * A connection to `conninfo`, made by `deadline_ms` (CLOCK_MONOTONIC
 * milliseconds; 0: DB_CONNECT_TIMEOUT_MS from now), whose statements may
 * run `statement_timeout_ms` each (0: no limit). In UNNAMED mode the
 * session keeps the server's own statement_timeout and the caller bounds
 * its statements with db_exec_bounded. NULL when the deadline passed first
 * (or out of memory); otherwise check PQstatus, and PQfinish it either way.
 */
PGconn *db_connect(const char *conninfo, int statement_timeout_ms, int64_t deadline_ms);

/*
 * PQexecParams of `sql` (text parameters), bounded by
 * `statement_timeout_ms` (0: by what the session has) in either mode: in
 * PREPARED mode the session's timeout, set at connect, applies; in UNNAMED
 * mode the timeout is set for the statement's own transaction, in the same
 * round trip (a BEGIN sent through here sets it for the whole block). The
 * statement's result (PQclear it), an error result, or NULL when the
 * connection failed.
 */
PGresult *db_exec_bounded(PGconn *pg, int statement_timeout_ms, const char *sql, int n,
                          const char *const *values);

/*
 * What to tell an operator whose connection failed with `message` or whose
 * statement failed with SQLSTATE `state` (either may be NULL) when the
 * cause looks like a pooler in transaction mode while bookd runs PREPARED:
 * a sentence to append to the log line, else "".
 */
const char *db_pooler_hint(const char *message, const char *state);

/* CLOCK_MONOTONIC now, in milliseconds. */
int64_t db_monotonic_ms(void);

#endif
