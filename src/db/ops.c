#include "db/ops.h"

#include <stdlib.h>
#include <string.h>

#include "db/query.h"

/* The one value of statement `stmt` (no parameters), read as a number into
 * *out. False when the database did not answer with a row. */
static bool run_number(struct db_pool *pool, const char *stmt, long long *out)
{
    struct db_result res;
    char *text = NULL;
    bool ok;

    memset(&res, 0, sizeof res);
    ok = db_run_value(pool, stmt, 0, NULL, &text, &res) == 0 && text;
    if (ok)
        *out = strtoll(text, NULL, 10);
    free(text);
    return ok;
}

bool db_ping(struct db_pool *pool)
{
    long long one;
    return run_number(pool, "ping", &one);
}

long long db_outbox_pending(struct db_pool *pool)
{
    long long n;
    return run_number(pool, "outbox_pending", &n) ? n : -1;
}
