/*
 * The delivery worker's side of the database (sql/50_deliveries.sql), on a
 * connection of its own (not the request pool): fan-out, claims, outcomes,
 * the shared circuit breakers, the purge, and LISTEN for wake-ups. Nothing
 * here is called inside a booking's transaction, and nothing is sent while
 * a transaction is open.
 */
#ifndef BOOKD_DB_DELIVERIES_H
#define BOOKD_DB_DELIVERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/breaker.h"
#include "db/result.h"
#include "db/webhooks.h"

/* One connection, reconnected with backoff (100 ms doubling to 5 s), with
 * bounded waits: a connect timeout, TCP keepalives and a statement
 * timeout, so a database that stops answering cannot hang the worker. */
struct db_session;

/* `listen`: LISTEN on the outbox channel (the worker; not the notifier,
 * which would only pile up its own notifications). */
struct db_session *db_session_new(const char *conninfo, bool listen);
void db_session_free(struct db_session *s);
/* Connected (and LISTENing on the outbox channel) or -1 while down. */
int db_session_ensure(struct db_session *s, int64_t now_ms);
/* The socket to poll for notifications, or -1 while down. */
int db_session_socket(struct db_session *s);
/* Reads what arrived on the socket; true when a notification was among it. */
bool db_session_drain(struct db_session *s);
/* NOTIFY the outbox channel: wakes the workers of other processes. */
int db_session_notify(struct db_session *s);
/* Runs `sql` with text parameters on the session; the result (PQclear it)
 * or NULL, logged as `what`. A lost connection is dropped, to be made
 * again by db_session_ensure. */
PGresult *db_session_exec(struct db_session *s, const char *what, const char *sql, int n,
                          const char *const *values);

struct db_delivery {
    char id[DB_ID_SIZE];
    char org_id[DB_ID_SIZE];
    char target[80];                     /* "webhook:<id>", "google", "twilio", "vapi" */
    char action[24];                     /* "webhook", "google.insert", "sms.booked", ... */
    int attempts;                        /* made before this one */
    char *url;                           /* owned; "" for an integration */
    unsigned char secret[DB_SEALED_MAX]; /* sealed: the signing key, or the integration's secrets */
    size_t secret_len;
    unsigned char token[2560]; /* sealed Google access token, if any */
    size_t token_len;
    int64_t token_expires_ms;
    char event_type[64];
    /* owned: the event's JSON, or for an integration what sending needs
     * (sql/45_integrations.sql, bk_delivery_context, with "settings") */
    char *payload;
    char event_at[32]; /* the event's time, API form */
    int64_t event_at_ms;
};

/* Fans out up to `limit` events (*processed says how many; *held_back
 * whether committed events wait behind a transaction still open) and
 * leases to this worker, for `lease_ms`, up to `room` of the deliveries
 * made that are due at once (first_delay_ms 0): *out and *count as the
 * claim's. */
int db_outbox_fan_out(struct db_session *s, int limit, int first_delay_ms, int room, int lease_ms,
                      int *processed, bool *held_back, struct db_delivery **out, size_t *count);
/* Claims up to `limit` due deliveries for `lease_ms`. *out is malloc'd
 * (release with db_deliveries_free), *count its length; a row that could
 * not be copied (out of memory) is left to its lease. */
int db_deliveries_claim(struct db_session *s, int limit, int lease_ms, struct db_delivery **out,
                        size_t *count);
/* Hands back up to `limit` deliveries whose lease ran out; *released says
 * how many. */
int db_deliveries_release(struct db_session *s, int limit, int *released);
void db_deliveries_free(struct db_delivery *d, size_t count);

/* What became of a claimed delivery (sql/50_deliveries.sql,
 * deliveries_record). */
enum db_delivery_result {
    DB_DELIVERY_DELIVERED,
    DB_DELIVERY_RETRY,
    DB_DELIVERY_DEAD,
    DB_DELIVERY_GONE,
    DB_DELIVERY_DEFER,
    DB_DELIVERY_VOID, /* nothing to send (error says why) */
    DB_DELIVERY_STOP, /* credentials refused: the integration stops */
};

/* The name deliveries_record reads ("delivered", "retry", "dead", "gone",
 * "defer", "void", "stop"). Static. */
const char *db_delivery_result_name(enum db_delivery_result r);

struct db_delivery_outcome {
    const char *id;
    enum db_delivery_result result;
    int status_code;         /* 0: none */
    const char *error;       /* NULL: none */
    int64_t next_attempt_ms; /* RETRY, DEFER */
};

/*
 * Breakers: `keys` names (org, target) pairs; db_breakers_begin opens a
 * transaction, creates the missing rows and locks them all (in one order,
 * so workers never deadlock), filling rows[i] for keys[i]. The caller
 * decides with core/breaker and ends with db_breakers_commit, which writes
 * rows back and records `outcomes` in the same transaction.
 */
struct db_breaker_key {
    char org_id[DB_ID_SIZE];
    char target[80];
};
int db_breakers_begin(struct db_session *s, const struct db_breaker_key *keys, size_t n,
                      struct core_breaker *rows);
int db_breakers_commit(struct db_session *s, const struct db_breaker_key *keys, size_t n,
                       const struct core_breaker *rows, const struct db_delivery_outcome *outcomes,
                       size_t n_outcomes);
/* Ends a transaction opened by db_breakers_begin without writing. */
void db_breakers_rollback(struct db_session *s);
/* The same rows read without a lock or a transaction (missing ones are
 * closed): enough to see that every breaker is closed, which lets calls
 * through without changing it. */
int db_breakers_peek(struct db_session *s, const struct db_breaker_key *keys, size_t n,
                     struct core_breaker *rows);
/* Records outcomes that touch no breaker (a requeue, a secret that does
 * not open), in a transaction of their own. Outcomes are sorted by id
 * (here and in db_breakers_commit): every writer locks delivery rows in
 * that order. */
int db_deliveries_record(struct db_session *s, const struct db_delivery_outcome *outcomes,
                         size_t n);

/* Deletes up to `batch` rows of each kind past their time; *removed says
 * how many in all. */
int db_outbox_purge(struct db_session *s, int retention_days, int batch, int *removed);
/* Deletes up to `batch` holds whose time is up (sql/15_holds.sql). */
int db_holds_purge(struct db_session *s, int batch, int *removed);
/* The voice agent's answers and call holds past a day, calls past the
 * retention (sql/60_vapi.sql). */
int db_vapi_purge(struct db_session *s, int retention_days, int batch, int *removed);

#endif
