/* What operators and load balancers ask: alive, ready, metrics, the API
 * document. No key needed; nothing here reveals organization data. */
#include <stdlib.h>

#include "api/api.h"
#include "app.h"
#include "db/ops.h"
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

void api_ops_ready(struct http_request *req, struct http_response *resp)
{
    struct db_pool_stats stats;
    bool up = db_ping(req->app->pool);

    db_pool_get_stats(req->app->pool, &stats);
    http_reply_json(resp, up ? 200 : 503,
                    json_pack("{s:s, s:s, s:{s:i, s:i, s:i, s:i}, s:{}}", "status",
                              up ? "ready" : "unavailable", "database", up ? "up" : "down",
                              "pool", "size", stats.size, "idle", stats.idle, "inUse",
                              stats.in_use, "waiting", stats.waiting, "breakers"));
    if (!up)
        resp->retry_after = 1;
}

void api_ops_metrics(struct http_request *req, struct http_response *resp)
{
    struct db_pool_stats stats;
    size_t len = 0;
    char *text;
    /* A database that is down costs the gauge, not the scrape. */
    long long outbox_pending = db_outbox_pending(req->app->pool);

    db_pool_get_stats(req->app->pool, &stats);
    text = metrics_render(&stats, outbox_pending, &len);
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
