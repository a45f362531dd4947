/* The organization's circuit breakers (API.md, "Circuit breakers"), as
 * the workers left them in the database, shown as they stand now. */
#include <stdlib.h>

#include "api/api.h"
#include "app.h"
#include "core/breaker.h"
#include "core/time.h"
#include "db/webhooks.h"
#include "http/reply.h"

/* A time in ms since the epoch in the API's form, or JSON null for 0. */
static json_t *iso_or_null(int64_t ms)
{
    char iso[CORE_ISO_LEN + 1];
    if (ms <= 0 || core_iso_format(ms, iso) != 0)
        return json_null();
    return json_string(iso);
}

void api_breakers_list(struct http_request *req, struct http_response *resp)
{
    const struct core_breaker_config *cfg = &req->app->cfg.breaker;
    struct db_breaker_row *rows = NULL;
    size_t n = 0;
    struct db_result res;
    json_t *list;
    int64_t now = core_now_ms();

    if (db_breaker_rows(req->app->pool, req->auth.org_id, &rows, &n, &res) != 0) {
        api_reply_db_failure(resp, &res);
        return;
    }
    list = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct core_breaker *b = &rows[i].b;
        enum core_breaker_state st = core_breaker_state_at(b, cfg, now);
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:i, s:i, s:o, s:o}", "target", rows[i].target, "state",
                            core_breaker_state_name(st), "failures",
                            (int)core_breaker_window_failures(b, cfg), "calls",
                            (int)core_breaker_window_calls(b, cfg), "openedAt",
                            iso_or_null(st == CORE_BREAKER_CLOSED ? 0 : b->opened_at_ms),
                            "nextProbeAt",
                            iso_or_null(st == CORE_BREAKER_CLOSED
                                            ? 0
                                            : core_breaker_next_probe_ms(b, cfg, now))));
    }
    free(rows);
    res.outcome = DB_OK;
    api_reply_list(resp, "breakers", list, &res);
}
