/* What operators and load balancers ask: alive, ready, metrics, the API
 * document. No key needed; nothing here reveals organization data. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "app.h"
#include "db/pool.h"
#include "core/breaker.h"
#include "core/time.h"
#include "http/reply.h"
#include "metrics.h"
#include "metrics_history.h"

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
/* The outbox backlog is counted, and the breakers read, at most this often. */
#define OUTBOX_REFRESH_MS 5000
#define BREAKERS_REFRESH_MS 1000

/*
 * One value the operators' routes show, kept in the process: every replica
 * is scraped every few seconds, so the value is read at most every
 * `refresh_ms`, by one scrape at a time; the others, and a scrape whose
 * read fails (a full pool, a database that is down or slow), show the last
 * value ("" until a read first succeeds).
 */
struct probe_cache {
    pthread_mutex_t lock;
    const char *stmt;
    long long refresh_ms;
    char value[512];
    bool have;
    long long read_at_ms;
    bool reading;
};

static struct probe_cache outbox = {
    .lock = PTHREAD_MUTEX_INITIALIZER, .stmt = "outbox_pending", .refresh_ms = OUTBOX_REFRESH_MS};
static struct probe_cache breakers = {
    .lock = PTHREAD_MUTEX_INITIALIZER, .stmt = "breaker_kinds", .refresh_ms = BREAKERS_REFRESH_MS};

static long long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The cached value of `c` into out (`size` bytes); false while none. */
static bool probe_cached(struct probe_cache *c, struct db_pool *pool, char *out, size_t size)
{
    char value[sizeof c->value];
    long long now = monotonic_ms();
    bool refresh, have;
    int rc;

    pthread_mutex_lock(&c->lock);
    refresh = !c->reading && (!c->have || now - c->read_at_ms >= c->refresh_ms);
    c->reading = c->reading || refresh;
    pthread_mutex_unlock(&c->lock);
    if (refresh) {
        rc = db_pool_probe(pool, OPS_POOL_WAIT_MS, OPS_STATEMENT_TIMEOUT_MS, c->stmt, value,
                           sizeof value);
        pthread_mutex_lock(&c->lock);
        if (rc == 0) {
            memcpy(c->value, value, sizeof value);
            c->have = true;
            c->read_at_ms = now;
        }
        c->reading = false;
        pthread_mutex_unlock(&c->lock);
    }
    pthread_mutex_lock(&c->lock);
    have = c->have;
    snprintf(out, size, "%s", c->value);
    pthread_mutex_unlock(&c->lock);
    return have;
}

/* The outbox backlog for /metrics, or -1 while unknown. */
static long long outbox_pending(struct db_pool *pool)
{
    char value[32], *end;
    long long n;

    if (!probe_cached(&outbox, pool, value, sizeof value))
        return -1;
    n = strtoll(value, &end, 10);
    return *value && *end == '\0' && n >= 0 ? n : -1;
}

/*
 * The breakers per kind of target, the worst of each (open, then
 * half-open, then closed), from the stored rows as "kind=opened,half;...":
 * an open breaker whose open time is up reads as half-open, as
 * core_breaker_state_at says.
 */
static void breaker_kinds(const struct app *app, struct metrics_breakers *out)
{
    char value[512], *save = NULL;
    int64_t now = core_now_ms();

    memset(out, 0, sizeof *out);
    if (!probe_cached(&breakers, app->pool, value, sizeof value))
        return;
    for (char *item = strtok_r(value, ";", &save); item && out->count < METRICS_BREAKER_KINDS;
         item = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(item, '='), *comma = eq ? strchr(eq, ',') : NULL;
        long long opened;
        int state = CORE_BREAKER_CLOSED;

        if (!comma)
            continue;
        *eq = '\0';
        opened = strtoll(eq + 1, NULL, 10);
        if (opened > 0)
            state = now - opened < app->cfg.breaker.open_ms ? CORE_BREAKER_OPEN
                                                            : CORE_BREAKER_HALF_OPEN;
        else if (comma[1] == '1')
            state = CORE_BREAKER_HALF_OPEN;
        snprintf(out->kinds[out->count].kind, sizeof out->kinds[out->count].kind, "%s", item);
        out->kinds[out->count++].state = state;
    }
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

    struct metrics_breakers kinds;
    json_t *by_kind = json_object();

    /* A breaker that is open is a target that is down, not bookd: shown,
     * and never a reason to be unready. */
    breaker_kinds(req->app, &kinds);
    for (size_t i = 0; i < kinds.count; i++)
        json_object_set_new(by_kind, kinds.kinds[i].kind,
                            json_string(core_breaker_state_name(kinds.kinds[i].state)));
    db_pool_get_stats(req->app->pool, &stats);
    http_reply_json(resp, up ? 200 : 503,
                    json_pack("{s:s, s:s, s:{s:i, s:i, s:i, s:i}, s:o}", "status",
                              up ? "ready" : "unavailable", "database",
                              up ? "up" : rc == DB_POOL_TIMEOUT ? "unknown" : "down", "pool",
                              "size", stats.size, "idle", stats.idle, "inUse", stats.in_use,
                              "waiting", stats.waiting, "breakers", by_kind));
    if (!up)
        resp->retry_after = 1;
}

void api_ops_metrics(struct http_request *req, struct http_response *resp)
{
    struct db_pool_stats stats;
    size_t len = 0;
    char *text;
    long long pending = outbox_pending(req->app->pool);
    struct metrics_breakers kinds;

    breaker_kinds(req->app, &kinds);
    db_pool_get_stats(req->app->pool, &stats);
    text = metrics_render(&stats, pending, &kinds, &len);
    if (!text) {
        http_reply_error(resp, 500, "internal", NULL, "Could not render the metrics.");
        return;
    }
    http_reply_text(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

/* GET /metrics/history: the last hour per minute, for the dashboard's
 * charts (docs/web.md). */
void api_ops_metrics_history(struct http_request *req, struct http_response *resp)
{
    (void)req;
    http_reply_json(resp, 200, metrics_history_json(time(NULL)));
}

void api_ops_openapi(struct http_request *req, struct http_response *resp)
{
    (void)req;
    http_reply_text(resp, 200, "application/json; charset=utf-8",
                    (const char *)api_openapi_json, (size_t)api_openapi_json_len);
}
