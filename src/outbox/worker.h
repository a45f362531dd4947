/*
 * The delivery worker (docs/design.md, "Deliveries"): one thread that fans
 * outbox events out into deliveries, claims due ones with a lease, passes
 * each through its target's circuit breaker, sends them concurrently on a
 * libcurl multi handle (never inside a transaction) and writes every
 * outcome back. It runs inside `bookd serve` (unless --no-worker) or alone
 * as `bookd worker`; any number of them share one database.
 */
#ifndef BOOKD_OUTBOX_WORKER_H
#define BOOKD_OUTBOX_WORKER_H

#include <stdbool.h>

#include "app.h"

struct outbox_worker;

/* Starts the worker thread on its own database connection. `in_process`:
 * also wake on the process's outbox signal (db/outbox_signal.h). NULL when
 * the thread cannot start. `app` must outlive the worker. */
struct outbox_worker *outbox_worker_start(const struct app *app, bool in_process);

/* Stops claiming, lets the sends in flight finish (each is bounded by the
 * webhook timeout), writes their outcomes, and joins the thread. */
void outbox_worker_stop(struct outbox_worker *w);

/*
 * For a front-end without a worker: a thread that turns the process's
 * outbox signal into a NOTIFY, at most one each NOTIFIER_INTERVAL_MS, so
 * the workers of other processes wake without a NOTIFY inside any booking.
 */
struct outbox_notifier;
struct outbox_notifier *outbox_notifier_start(const char *conninfo);
void outbox_notifier_stop(struct outbox_notifier *n);

#endif
