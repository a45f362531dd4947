#include "db/migrate.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"

#define MAX_MIGRATIONS 1000
#define MAX_MIGRATION_BYTES (4 * 1024 * 1024)
/* Any constant no booking key is likely to hit: "bookd-migrate" in ASCII. */
#define MIGRATE_LOCK_KEY "7165245926216115573"

static int exec_ok(PGconn *pg, const char *sql, const char *what)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc)
        log_error("migrate.failed", "%s: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

static bool is_migration_name(const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < 4; i++)
        if (name[i] < '0' || name[i] > '9')
            return false;
    return len > 9 && name[4] == '_' && strcmp(name + len - 4, ".sql") == 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of the migration files in `dir`; free each and the list. */
static char **list_migrations(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = calloc(MAX_MIGRATIONS, sizeof *names);
    size_t n = 0;

    *count = 0;
    if (!d || !names) {
        log_error("migrate.no_dir", "cannot read migrations directory %s", dir);
        if (d)
            closedir(d);
        free(names);
        return NULL;
    }
    while ((e = readdir(d)) != NULL && n < MAX_MIGRATIONS)
        if (is_migration_name(e->d_name))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, compare_names);
    *count = n;
    return names;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && size <= MAX_MIGRATION_BYTES &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1)) != NULL) {
        if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
            free(buf);
            buf = NULL;
        } else {
            buf[size] = '\0';
        }
    }
    fclose(f);
    return buf;
}

static bool is_applied(PGconn *pg, const char *version)
{
    const char *params[] = {version};
    PGresult *res = PQexecParams(pg, "SELECT 1 FROM schema_migrations WHERE version = $1", 1,
                                 NULL, params, NULL, NULL, 0);
    bool applied = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;
    PQclear(res);
    return applied;
}

/* Applies one file in a transaction, or leaves the database unchanged. */
static int apply_one(PGconn *pg, const char *dir, const char *name)
{
    char path[4096];
    const char *params[] = {name};
    char *sql;
    PGresult *res;
    int rc = -1;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(sql = read_file(path))) {
        log_error("migrate.failed", "%s: cannot read the file", name);
        return -1;
    }
    if (exec_ok(pg, "BEGIN", name) != 0)
        goto out;
    res = PQexec(pg, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_error("migrate.failed", "%s: %s", name, PQresultErrorMessage(res));
        PQclear(res);
        exec_ok(pg, "ROLLBACK", name);
        goto out;
    }
    PQclear(res);
    res = PQexecParams(pg, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, NULL, params,
                       NULL, NULL, 0);
    rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(res);
    if (rc == 0)
        rc = exec_ok(pg, "COMMIT", name);
    else
        exec_ok(pg, "ROLLBACK", name);
    if (rc == 0)
        log_info("migrate.applied", "%s", name);
out:
    free(sql);
    return rc;
}

int db_migrate(const char *conninfo, const char *dir)
{
    PGconn *pg = PQconnectdb(conninfo);
    char **names = NULL;
    size_t count = 0, applied = 0;
    int rc = -1;

    if (PQstatus(pg) != CONNECTION_OK) {
        log_error("migrate.connect_failed", "%s", PQerrorMessage(pg));
        goto out;
    }
    if (exec_ok(pg, "SET client_min_messages = warning", "setup") != 0 ||
        exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "lock") != 0 ||
        exec_ok(pg,
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                "schema_migrations") != 0)
        goto out;
    if (!(names = list_migrations(dir, &count)))
        goto out;
    rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (is_applied(pg, names[i]))
            continue;
        rc = apply_one(pg, dir, names[i]);
        applied += rc == 0;
    }
    if (rc == 0)
        log_info("migrate.done", "%zu of %zu migrations applied now, the rest were already",
                 applied, count);
out:
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    PQfinish(pg); /* also releases the session advisory lock */
    return rc;
}
