/*
 * The worker's housekeeping (docs/design.md, "Deliveries"): every minute,
 * in batches, idempotency keys past 24 h, deliveries finished longer ago
 * than the retention, manage tokens past their appointment's start,
 * expired holds, and the voice agent's old calls. On a thread and a database session of its
 * own, so that a purge that runs long (a lock it waits for, a large
 * backlog) never delays a delivery.
 */
#ifndef BOOKD_OUTBOX_HOUSEKEEPER_H
#define BOOKD_OUTBOX_HOUSEKEEPER_H

#include "app.h"

struct outbox_housekeeper;

/* Starts the thread; its first round runs at once. NULL when it cannot
 * start. `app` must outlive it. */
struct outbox_housekeeper *outbox_housekeeper_start(const struct app *app);

/* Ends the round under way after its current batch, and joins the thread. */
void outbox_housekeeper_stop(struct outbox_housekeeper *h);

#endif
