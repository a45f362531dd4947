#include "db/integrations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/arrays.h"
#include "db/query.h"

/* Runs an API statement whose answer is ignored. */
static int fetch_ignored(struct db_pool *pool, const char *stmt, int n, const char *const *values,
                         struct db_result *res)
{
    json_t *ignored = NULL;
    int rc = db_fetch_json(pool, stmt, n, values, &ignored, res);
    json_decref(ignored);
    return rc;
}

int db_integrations_get(struct db_pool *pool, const char *org_id, json_t **out,
                        struct db_result *res)
{
    const char *params[] = {org_id};
    return db_fetch_json(pool, "integrations_get", 1, params, out, res);
}

int db_integration_put(struct db_pool *pool, const char *org_id, const char *kind,
                       const char *settings_json, const unsigned char *sealed, size_t sealed_len,
                       const char *key_id, const char *actor, json_t **out, struct db_result *res)
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
        const char *params[] = {org_id, kind, settings_json, bytea, key_id, actor};
        rc = db_fetch_json(pool, "integration_put", 6, params, out, res);
    }
    free(bytea);
    return rc;
}

int db_integration_delete(struct db_pool *pool, const char *org_id, const char *kind,
                          const char *actor, struct db_result *res)
{
    const char *params[] = {org_id, kind, actor};
    return fetch_ignored(pool, "integration_delete", 3, params, res);
}

int db_calendar_link(struct db_pool *pool, const char *org_id, const char *provider_id,
                     const char *calendar_id, const char *actor, json_t **out,
                     struct db_result *res)
{
    const char *params[] = {org_id, provider_id, calendar_id, actor};
    return db_fetch_json(pool, "calendar_link", 4, params, out, res);
}

int db_calendar_unlink(struct db_pool *pool, const char *org_id, const char *provider_id,
                       const char *actor, struct db_result *res)
{
    const char *params[] = {org_id, provider_id, actor};
    return fetch_ignored(pool, "calendar_unlink", 3, params, res);
}

int db_calendar_sync_request(struct db_pool *pool, const char *org_id, const char *provider_id,
                             json_t **out, struct db_result *res)
{
    const char *params[] = {org_id, provider_id};
    return db_fetch_json(pool, "calendar_sync", 2, params, out, res);
}

/* The worker's side ---------------------------------------------------------- */

void db_calendar_jobs_free(struct db_calendar_job *jobs, size_t count)
{
    for (size_t i = 0; jobs && i < count; i++)
        free(jobs[i].settings);
    free(jobs);
}

int db_calendar_sync_claim(struct db_session *s, int limit, int lease_ms,
                           struct db_calendar_job **out, size_t *count)
{
    char lim[16], lease[16];
    const char *params[] = {lim, lease};
    PGresult *res;
    int n;

    *out = NULL;
    *count = 0;
    snprintf(lim, sizeof lim, "%d", limit);
    snprintf(lease, sizeof lease, "%d", lease_ms);
    if (!(res = db_session_exec(s, "calendar_claim",
                                "SELECT provider_id, org_id, calendar_id, settings, secret, token,"
                                " token_expires_ms FROM calendar_sync_claim($1::int, $2::int)",
                                2, params)))
        return -1;
    n = PQntuples(res) < limit ? PQntuples(res) : limit;
    if (n > 0 && !(*out = calloc((size_t)n, sizeof **out))) {
        PQclear(res);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        struct db_calendar_job *j = &(*out)[*count];
        snprintf(j->provider_id, sizeof j->provider_id, "%s", PQgetvalue(res, i, 0));
        snprintf(j->org_id, sizeof j->org_id, "%s", PQgetvalue(res, i, 1));
        snprintf(j->calendar_id, sizeof j->calendar_id, "%s", PQgetvalue(res, i, 2));
        if (!(j->settings = strdup(PQgetvalue(res, i, 3))))
            break; /* the rest are left to their lease */
        if (db_bytea_from_text(PQgetvalue(res, i, 4), j->secret, sizeof j->secret,
                               &j->secret_len) != 0)
            j->secret_len = 0;
        if (PQgetisnull(res, i, 5) || db_bytea_from_text(PQgetvalue(res, i, 5), j->token,
                                                         sizeof j->token, &j->token_len) != 0)
            j->token_len = 0;
        j->token_expires_ms = strtoll(PQgetvalue(res, i, 6), NULL, 10);
        (*count)++;
    }
    PQclear(res);
    return 0;
}

int db_calendar_sync_store(struct db_session *s, const char *provider_id, const char *error,
                           const char *const *starts, const char *const *ends,
                           const char *const *ids, size_t n, int next_s)
{
    struct db_arrays a;
    char next[16];
    PGresult *res = NULL;

    snprintf(next, sizeof next, "%d", next_s);
    db_arrays_init(&a, 3);
    for (size_t i = 0; i < n; i++) {
        db_arrays_add(&a, 0, starts[i]);
        db_arrays_add(&a, 1, ends[i]);
        db_arrays_add(&a, 2, ids[i]);
    }
    if (db_arrays_finish(&a) == 0) {
        const char *params[] = {provider_id, error, a.text[0], a.text[1], a.text[2], next};
        res = db_session_exec(s, "calendar_store",
                              "SELECT calendar_sync_store($1::uuid, $2::text, $3::text[],"
                              " $4::text[], $5::text[], $6::int)",
                              6, params);
    }
    db_arrays_free(&a);
    PQclear(res);
    return res ? 0 : -1;
}

int db_integration_token_store(struct db_session *s, const char *org_id,
                               const unsigned char *sealed, size_t sealed_len, const char *key_id,
                               int64_t expires_ms)
{
    char bytea[2 * 2560 + 3], expires[24];
    const char *params[] = {org_id, bytea, key_id, expires};
    PGresult *res;

    if (sealed_len > 2560)
        return -1;
    db_bytes_to_bytea(sealed, sealed_len, bytea);
    snprintf(expires, sizeof expires, "%lld", (long long)expires_ms);
    res = db_session_exec(s, "token_store",
                          "SELECT integration_token_store($1::uuid, $2::bytea, $3::text,"
                          " $4::bigint)",
                          4, params);
    PQclear(res);
    return res ? 0 : -1;
}
