#include "db/contacts.h"

#include "db/outbox_signal.h"
#include "db/query.h"

int db_contact_create(struct db_pool *pool, const char *org_id, const char *name,
                      const char *phone, const char *email, const char *actor, json_t **out,
                      struct db_result *res)
{
    const char *params[] = {org_id, name, phone, email, actor};
    return db_fetch_json(pool, "contact_create", 5, params, out, res);
}

int db_contact_get(struct db_pool *pool, const char *org_id, const char *contact_id,
                   json_t **out, struct db_result *res)
{
    const char *params[] = {org_id, contact_id};
    int rc = db_fetch_json(pool, "contact_get", 2, params, out, res);
    if (rc == 0 && !*out)
        res->outcome = DB_NOT_FOUND;
    return rc;
}

int db_contact_erase(struct db_pool *pool, const char *org_id, const char *contact_id,
                     const char *actor, json_t **out, struct db_result *res)
{
    const char *params[] = {org_id, contact_id, actor};
    int rc = db_fetch_json(pool, "contact_erase", 3, params, out, res);
    if (rc == 0 && res->outcome == DB_OK)
        db_outbox_signal(); /* the erasure's events */
    return rc;
}
