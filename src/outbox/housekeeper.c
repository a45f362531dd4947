#include "outbox/housekeeper.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "core/time.h"
#include "db/deliveries.h"
#include "log.h"
#include "metrics.h"
#include "outbox/thread.h"

#define PURGE_EVERY_MS 60000
#define PURGE_BATCH 1000
#define SLOW_ROUND_MS 1000 /* a round longer than this is logged */

struct outbox_housekeeper {
    const struct app *app;
    struct outbox_thread t;
};

/*
 * One round: each purge called again while it removes a full batch. A
 * batch that fails (its cause logged by the db layer: a lock timeout with
 * the function and line that waited) ends that purge until the next round;
 * nothing it would have removed is needed by anyone meanwhile.
 */
static void purge_round(struct outbox_housekeeper *h)
{
    const struct config *cfg = &h->app->cfg;
    int64_t started = core_now_ms(), took;
    int removed = 0;
    long total = 0;

    while (db_outbox_purge(h->t.db, cfg->delivery_retention_days, PURGE_BATCH, &removed) == 0 &&
           (total += removed, removed >= PURGE_BATCH) && !atomic_load(&h->t.stop))
        ;
    /* Expired holds block nobody (every booking passes over them); this
     * only keeps the table small. */
    while (db_holds_purge(h->t.db, PURGE_BATCH, &removed) == 0 && removed > 0) {
        metrics_holds_add(HOLD_EXPIRED, removed);
        total += removed;
        if (removed < PURGE_BATCH || atomic_load(&h->t.stop))
            break;
    }
    while (db_vapi_purge(h->t.db, cfg->delivery_retention_days, PURGE_BATCH, &removed) == 0 &&
           (total += removed, removed >= PURGE_BATCH) && !atomic_load(&h->t.stop))
        ;
    took = core_now_ms() - started;
    if (took > SLOW_ROUND_MS)
        log_notice("housekeeping.slow", "a purge round took %lld ms (%ld rows removed)",
                   (long long)took, total);
}

static void *housekeeper_main(void *arg)
{
    struct outbox_housekeeper *h = arg;
    struct pollfd wake = {.fd = h->t.wake[0], .events = POLLIN};
    int64_t next = 0;

    while (!atomic_load(&h->t.stop)) {
        int64_t now = core_now_ms();
        if (now >= next) {
            if (db_session_ensure(h->t.db, now) == 0) {
                purge_round(h);
                next = core_now_ms() + PURGE_EVERY_MS;
            } else {
                next = now + 1000; /* the database is away: soon again */
            }
            continue;
        }
        if (poll(&wake, 1, (int)(next - now)) < 0 && errno != EINTR)
            break;
    }
    return NULL;
}

struct outbox_housekeeper *outbox_housekeeper_start(const struct app *app)
{
    struct outbox_housekeeper *h = calloc(1, sizeof *h);

    if (!h)
        return NULL;
    h->app = app;
    if (outbox_thread_start(&h->t, app->cfg.database_url, housekeeper_main, h) != 0) {
        free(h);
        return NULL;
    }
    return h;
}

void outbox_housekeeper_stop(struct outbox_housekeeper *h)
{
    if (!h)
        return;
    outbox_thread_stop(&h->t);
    free(h);
}
