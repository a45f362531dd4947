#include "db/manage.h"

#include <stdio.h>
#include <string.h>

#include "db/deliveries.h"
#include "db/outbox_signal.h"
#include "db/query.h"

int db_manage_get(struct db_pool *pool, const char *hash, json_t **out, struct db_result *res)
{
    const char *params[] = {hash};
    return db_fetch_json(pool, "manage_get", 1, params, out, res);
}

int db_manage_free_slots(struct db_pool *pool, const char *hash, const char *from,
                         const char *to, int step, char **out, struct db_result *res)
{
    char s[16];
    const char *params[] = {hash, from, to, s};
    snprintf(s, sizeof s, "%d", step);
    return db_fetch_text(pool, "manage_free_slots", 4, params, out, res);
}

int db_manage_resolve(struct db_pool *pool, const char *hash, struct db_manage_ref *out,
                      struct db_result *res)
{
    const char *params[] = {hash};
    PGresult *pg;

    memset(out, 0, sizeof *out);
    memset(res, 0, sizeof *res);
    if (!(pg = db_run_rows(pool, "manage_resolve", 1, params, res)))
        return -1;
    if (PQntuples(pg) == 1) {
        snprintf(out->org_id, sizeof out->org_id, "%s", PQgetvalue(pg, 0, 0));
        snprintf(out->appointment_id, sizeof out->appointment_id, "%s", PQgetvalue(pg, 0, 1));
        snprintf(out->default_provider_id, sizeof out->default_provider_id, "%s",
                 PQgetvalue(pg, 0, 2));
        res->outcome = DB_OK;
    } else {
        res->outcome = DB_NOT_FOUND;
    }
    PQclear(pg);
    return 0;
}

int db_manage_cancel(struct db_pool *pool, const char *hash, int lock_timeout_ms, json_t **out,
                     struct db_result *res)
{
    char timeout[16];
    const char *params[] = {hash, timeout};
    int rc;
    snprintf(timeout, sizeof timeout, "%d", lock_timeout_ms);
    rc = db_fetch_json(pool, "manage_cancel", 2, params, out, res);
    if (rc == 0 && res->outcome == DB_OK)
        db_outbox_signal(); /* the cancel's event */
    return rc;
}

int db_manage_issue(struct db_pool *pool, const char *org_id, const char *appointment_id,
                    const char *hash, struct db_result *res)
{
    const char *params[] = {org_id, appointment_id, hash};
    PGresult *pg;

    memset(res, 0, sizeof *res);
    if (!(pg = db_run_rows(pool, "manage_issue", 3, params, res)))
        return -1;
    PQclear(pg);
    res->outcome = DB_OK;
    return 0;
}

int db_manage_issue_session(struct db_session *s, const char *org_id, const char *appointment_id,
                            const char *hash)
{
    const char *params[] = {org_id, appointment_id, hash};
    PGresult *pg = db_session_exec(s, "manage_issue",
                                   "SELECT manage_issue($1::uuid, $2::uuid, $3::bytea)", 3, params);
    PQclear(pg);
    return pg ? 0 : -1;
}
