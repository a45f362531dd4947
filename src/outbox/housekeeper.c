#include "outbox/housekeeper.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/time.h"
#include "db/deliveries.h"
#include "log.h"
#include "metrics.h"

#define PURGE_EVERY_MS 60000
#define PURGE_BATCH 1000
#define SLOW_ROUND_MS 1000 /* a round longer than this is logged */

struct outbox_housekeeper {
    const struct app *app;
    pthread_t thread;
    atomic_bool stop;
    int wake[2]; /* a pipe: stop writes to it */
    struct db_session *db;
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

    while (db_outbox_purge(h->db, cfg->delivery_retention_days, PURGE_BATCH, &removed) == 0 &&
           (total += removed, removed >= PURGE_BATCH) && !atomic_load(&h->stop))
        ;
    /* Expired holds block nobody (every booking passes over them); this
     * only keeps the table small. */
    while (db_holds_purge(h->db, PURGE_BATCH, &removed) == 0 && removed > 0) {
        metrics_holds_add(HOLD_EXPIRED, removed);
        total += removed;
        if (removed < PURGE_BATCH || atomic_load(&h->stop))
            break;
    }
    while (db_vapi_purge(h->db, cfg->delivery_retention_days, PURGE_BATCH, &removed) == 0 &&
           (total += removed, removed >= PURGE_BATCH) && !atomic_load(&h->stop))
        ;
    took = core_now_ms() - started;
    if (took > SLOW_ROUND_MS)
        log_notice("housekeeping.slow", "a purge round took %lld ms (%ld rows removed)",
                   (long long)took, total);
}

static void *housekeeper_main(void *arg)
{
    struct outbox_housekeeper *h = arg;
    struct pollfd wake = {.fd = h->wake[0], .events = POLLIN};
    int64_t next = 0;

    while (!atomic_load(&h->stop)) {
        int64_t now = core_now_ms();
        if (now >= next) {
            if (db_session_ensure(h->db, now) == 0) {
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
    if (pipe(h->wake) != 0) {
        free(h);
        return NULL;
    }
    h->app = app;
    atomic_init(&h->stop, false);
    if (!(h->db = db_session_new(app->cfg.database_url, false)) ||
        pthread_create(&h->thread, NULL, housekeeper_main, h) != 0) {
        db_session_free(h->db);
        close(h->wake[0]);
        close(h->wake[1]);
        free(h);
        return NULL;
    }
    return h;
}

void outbox_housekeeper_stop(struct outbox_housekeeper *h)
{
    if (!h)
        return;
    atomic_store(&h->stop, true);
    if (write(h->wake[1], "x", 1) < 0) {
        /* the thread also sees `stop` after its current batch */
    }
    pthread_join(h->thread, NULL);
    close(h->wake[0]);
    close(h->wake[1]);
    db_session_free(h->db);
    free(h);
}
