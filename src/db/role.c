#include "db/role.h"

#include <string.h>

#include <libpq-fe.h>

#include "db/connect.h"
#include "log.h"

/* has_table_privilege is NULL, not an error, before the first migrate. */
int db_role_reads_tables(const char *conninfo)
{
    PGconn *pg = db_connect(conninfo, 0, 0);
    PGresult *res = NULL;
    int rc = -1;

    if (PQstatus(pg) == CONNECTION_OK)
        res = PQexec(pg, "SELECT coalesce(has_table_privilege(to_regclass('public.appointments'),"
                         " 'SELECT'), false)");
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    else
        log_warn("db.role_unchecked", "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(pg));
    PQclear(res);
    PQfinish(pg);
    return rc;
}
