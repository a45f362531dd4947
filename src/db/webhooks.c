#include "db/webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/query.h"

int db_webhook_create(struct db_pool *pool, const char *org_id, const char *id, const char *url,
                      const char *events_json, const unsigned char *sealed, size_t sealed_len,
                      const char *key_id, const char *actor, json_t **out,
                      struct db_result *res)
{
    char *bytea = db_bytes_to_bytea_new(sealed, sealed_len);
    int rc;

    if (!bytea) {
        memset(res, 0, sizeof *res);
        res->outcome = DB_ERROR;
        *out = NULL;
        return -1;
    }
    {
        const char *params[] = {org_id, id, url, events_json, bytea, key_id, actor};
        rc = db_fetch_json(pool, "webhook_create", 7, params, out, res);
    }
    free(bytea);
    return rc;
}

int db_webhook_list(struct db_pool *pool, const char *org_id, json_t **out,
                    struct db_result *res)
{
    const char *params[] = {org_id};
    return db_fetch_json(pool, "webhook_list", 1, params, out, res);
}

int db_webhook_delete(struct db_pool *pool, const char *org_id, const char *id,
                      const char *actor, struct db_result *res)
{
    const char *params[] = {org_id, id, actor};
    json_t *ignored = NULL;
    int rc = db_fetch_json(pool, "webhook_delete", 3, params, &ignored, res);
    json_decref(ignored);
    return rc;
}

int db_delivery_list(struct db_pool *pool, const char *org_id, const char *status,
                     const char *endpoint_id, int limit, json_t **out, struct db_result *res)
{
    char lim[16];
    const char *params[] = {org_id, status, endpoint_id, lim};
    snprintf(lim, sizeof lim, "%d", limit);
    return db_fetch_json(pool, "delivery_list", 4, params, out, res);
}

int db_delivery_retry(struct db_pool *pool, const char *org_id, const char *id,
                      const char *actor, json_t **out, struct db_result *res)
{
    const char *params[] = {org_id, id, actor};
    return db_fetch_json(pool, "delivery_retry", 3, params, out, res);
}

static int64_t ms_value(const PGresult *pg, int row, int col)
{
    return PQgetisnull(pg, row, col) ? 0 : strtoll(PQgetvalue(pg, row, col), NULL, 10);
}

void db_breaker_from_row(const PGresult *pg, int i, struct db_breaker_row *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->target, sizeof out->target, "%s", PQgetvalue(pg, i, 0));
    out->b.state = db_int_value(PQgetvalue(pg, i, 1));
    out->b.window_bits = (uint64_t)strtoull(PQgetvalue(pg, i, 2), NULL, 10);
    out->b.window_calls = (uint32_t)db_int_value(PQgetvalue(pg, i, 3));
    out->b.consecutive_failures = (uint32_t)db_int_value(PQgetvalue(pg, i, 4));
    out->b.opened_at_ms = ms_value(pg, i, 5);
    out->b.trials_in_flight = (uint32_t)db_int_value(PQgetvalue(pg, i, 6));
    out->b.trials_succeeded = (uint32_t)db_int_value(PQgetvalue(pg, i, 7));
    out->b.trial_claimed_at_ms = ms_value(pg, i, 8);
}

int db_breaker_rows(struct db_pool *pool, const char *org_id, struct db_breaker_row **rows,
                    size_t *count, struct db_result *res)
{
    const char *params[] = {org_id};
    PGresult *pg;
    int n;

    *rows = NULL;
    *count = 0;
    if (!(pg = db_run_rows(pool, "breaker_list", 1, params, res)))
        return -1;
    n = PQntuples(pg);
    if (n > 0 && !(*rows = calloc((size_t)n, sizeof **rows))) {
        PQclear(pg);
        res->outcome = DB_ERROR;
        return -1;
    }
    for (int i = 0; i < n; i++)
        db_breaker_from_row(pg, i, &(*rows)[i]);
    *count = (size_t)n;
    PQclear(pg);
    return 0;
}
