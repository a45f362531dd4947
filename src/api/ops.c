/* What operators and load balancers ask: alive, ready, metrics, the API
 * document. No key needed; nothing here reveals organization data. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "api/api.h"
#include "app.h"
#include "db/pool.h"
#include "http/reply.h"
#include "metrics.h"

/* The OpenAPI document, embedded at build time (build/gen/openapi_json.c). */
extern const unsigned char api_openapi_json[];
extern const unsigned long api_openapi_json_len;

void api_ops_health(struct http_request *req, struct http_response *resp)
{
    (void)req;
    http_reply_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

/*
 * How long an operator's probe may wait for a database connection, and how
 * long the outbox count may run in PostgreSQL: far below the pool's wait
 * (BOOKD_POOL_WAIT_MS, 2 s by default), so that a full pool or a slow
 * database delays /ready and /metrics by a fraction of a second, never by
 * the wait that requests queue for.
 */
#define OPS_POOL_WAIT_MS 200
#define OPS_STATEMENT_TIMEOUT_MS 250
/* The outbox backlog is counted at most this often. */
#define OUTBOX_REFRESH_MS 5000

/* The last count of the outbox backlog, shared by every scrape. */
static struct {
    pthread_mutex_t lock;
    long long pending;     /* < 0: never counted */
    long long counted_at_ms;
    bool counting;         /* a scrape is counting; the others use the last count */
} outbox = {.lock = PTHREAD_MUTEX_INITIALIZER, .pending = -1};

static long long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The outbox backlog for /metrics (events not yet processed). Counting is
 * a query, and every replica is scraped every few seconds, so
 * the count is kept in the process and refreshed at most every
 * OUTBOX_REFRESH_MS, by one scrape at a time. The others, and a scrape
 * whose refresh fails (a full pool, a database that is down or slow),
 * render the last count; -1 until a count first succeeds.
 */
static long long outbox_pending(struct db_pool *pool)
{
    char value[32], *end;
    long long now = monotonic_ms(), pending, n;
    bool refresh;
    int rc;

    pthread_mutex_lock(&outbox.lock);
    refresh = !outbox.counting &&
              (outbox.pending < 0 || now - outbox.counted_at_ms >= OUTBOX_REFRESH_MS);
    outbox.counting = outbox.counting || refresh;
    pending = outbox.pending;
    pthread_mutex_unlock(&outbox.lock);
    if (!refresh)
        return pending;

    rc = db_pool_probe(pool, OPS_POOL_WAIT_MS, OPS_STATEMENT_TIMEOUT_MS, "outbox_pending", value,
                       sizeof value);
    n = rc == 0 ? strtoll(value, &end, 10) : -1;
    pthread_mutex_lock(&outbox.lock);
    if (rc == 0 && *value && *end == '\0' && n >= 0) {
        outbox.pending = n;
        outbox.counted_at_ms = now;
    }
    outbox.counting = false;
    pending = outbox.pending;
    pthread_mutex_unlock(&outbox.lock);
    return pending;
}

/*
 * Ready when a connection is free within OPS_POOL_WAIT_MS and the database
 * answers on it. A pool whose every connection stays busy that long is
 * not ready either (503), and since the database was not asked, it is
 * "unknown" rather than "down".
 */
void api_ops_ready(struct http_request *req, struct http_response *resp)
{
    struct db_pool_stats stats;
    char one[8];
    int rc = db_pool_probe(req->app->pool, OPS_POOL_WAIT_MS, 0, "ping", one, sizeof one);
    bool up = rc == 0;

    db_pool_get_stats(req->app->pool, &stats);
    http_reply_json(resp, up ? 200 : 503,
                    json_pack("{s:s, s:s, s:{s:i, s:i, s:i, s:i}, s:{}}", "status",
                              up ? "ready" : "unavailable", "database",
                              up ? "up" : rc == DB_POOL_TIMEOUT ? "unknown" : "down", "pool",
                              "size", stats.size, "idle", stats.idle, "inUse", stats.in_use,
                              "waiting", stats.waiting, "breakers"));
    if (!up)
        resp->retry_after = 1;
}

void api_ops_metrics(struct http_request *req, struct http_response *resp)
{
    struct db_pool_stats stats;
    size_t len = 0;
    char *text;
    long long pending = outbox_pending(req->app->pool);

    db_pool_get_stats(req->app->pool, &stats);
    text = metrics_render(&stats, pending, &len);
    if (!text) {
        http_reply_error(resp, 500, "internal", NULL, "Could not render the metrics.");
        return;
    }
    http_reply_text(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

void api_ops_openapi(struct http_request *req, struct http_response *resp)
{
    (void)req;
    http_reply_text(resp, 200, "application/json; charset=utf-8",
                    (const char *)api_openapi_json, (size_t)api_openapi_json_len);
}
