#include "db/migrate.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/sha256.h"
#include "db/connect.h"
#include "log.h"

#define MAX_FILES 1000
#define MAX_FILE_BYTES (4 * 1024 * 1024)
/* Any constant no booking key is likely to hit: "bookd-migrate" in ASCII. */
#define MIGRATE_LOCK_KEY "7165245926216115573"
/* The function file applied after any other (see apply_functions). */
#define PRIVILEGES_PREFIX "99_"

/* Runs `sql` (several statements, when it has no parameters) with text
 * parameters; 0 when it succeeded, else -1 after logging `what` and the
 * server's message. */
static int exec_params(PGconn *pg, const char *sql, int n, const char *const *values,
                       const char *what)
{
    PGresult *res = n ? PQexecParams(pg, sql, n, NULL, values, NULL, NULL, 0) : PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc)
        log_error("migrate.failed", "%s: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

static int exec_ok(PGconn *pg, const char *sql, const char *what)
{
    return exec_params(pg, sql, 0, NULL, what);
}

/* Migrations are NNNN_name.sql; function files NN_name.sql. */
static bool is_sql_name(const char *name, int digits)
{
    size_t len = strlen(name);
    if (len <= (size_t)digits + 5)
        return false;
    for (int i = 0; i < digits; i++)
        if (name[i] < '0' || name[i] > '9')
            return false;
    return name[digits] == '_' && strcmp(name + len - 4, ".sql") == 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t count)
{
    for (size_t i = 0; names && i < count; i++)
        free(names[i]);
    free(names);
}

/* The sorted names of the built-in files with a `digits`-digit prefix. */
static char **list_builtin(const struct db_sql_source *src, int digits, size_t *count)
{
    char **names = calloc(MAX_FILES, sizeof *names);
    size_t n = 0;

    *count = 0;
    if (!names) {
        log_error("migrate.failed", "out of memory");
        return NULL;
    }
    for (int i = 0; i < src->count && n < MAX_FILES; i++)
        if (is_sql_name(src->builtin[i].name, digits) &&
            (names[n] = strdup(src->builtin[i].name)) != NULL)
            n++;
    qsort(names, n, sizeof *names, compare_names);
    *count = n;
    return names;
}

/* The sorted names of the files of `src` with a `digits`-digit prefix;
 * free with free_names. A missing directory is an error. */
static char **list_files(const struct db_sql_source *src, int digits, size_t *count)
{
    DIR *d;
    struct dirent *e;
    char **names;
    size_t n = 0;

    if (!src->dir)
        return list_builtin(src, digits, count);
    d = opendir(src->dir);
    names = calloc(MAX_FILES, sizeof *names);
    *count = 0;
    if (!d || !names) {
        log_error("migrate.no_dir", "cannot read directory %s", src->dir);
        if (d)
            closedir(d);
        free(names);
        return NULL;
    }
    while ((e = readdir(d)) != NULL && n < MAX_FILES)
        if (is_sql_name(e->d_name, digits) && (names[n] = strdup(e->d_name)) != NULL)
            n++;
    closedir(d);
    qsort(names, n, sizeof *names, compare_names);
    *count = n;
    return names;
}

/* The text of the file `name` of `src` (malloc'd), or NULL. */
static char *read_file(const struct db_sql_source *src, const char *name)
{
    char path[4096];
    FILE *f;
    char *buf = NULL;
    long size;

    if (!src->dir) {
        for (int i = 0; i < src->count; i++)
            if (strcmp(src->builtin[i].name, name) == 0 &&
                (buf = strdup(src->builtin[i].text)) != NULL)
                return buf;
        log_error("migrate.failed", "%s: not built into the binary", name);
        return NULL;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/%s", src->dir, name) >= sizeof path ||
        !(f = fopen(path, "rb")))
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && size <= MAX_FILE_BYTES &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1)) != NULL) {
        if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
            free(buf);
            buf = NULL;
        } else {
            buf[size] = '\0';
        }
    }
    fclose(f);
    if (!buf)
        log_error("migrate.failed", "%s: cannot read the file", name);
    return buf;
}

/* The first column of the one-row answer to `sql` with one parameter, or
 * NULL (no row, or an error). Malloc'd. */
static char *fetch_one(PGconn *pg, const char *sql, const char *param)
{
    const char *params[] = {param};
    PGresult *res = PQexecParams(pg, sql, 1, NULL, params, NULL, NULL, 0);
    char *out = NULL;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        out = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return out;
}

static void hex_digest(const char *text, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[32];
    core_sha256(text, strlen(text), d);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = '\0';
}

/* Applies the pending migrations; *applied counts them. */
static int apply_migrations(PGconn *pg, const struct db_sql_source *src, char **names, size_t count,
                            size_t *applied)
{
    for (size_t i = 0; i < count; i++) {
        char *seen = fetch_one(pg, "SELECT 1 FROM schema_migrations WHERE version = $1",
                               names[i]);
        char *sql;
        int rc;

        if (seen) {
            free(seen);
            continue;
        }
        if (!(sql = read_file(src, names[i])))
            return -1;
        rc = exec_ok(pg, sql, names[i]);
        free(sql);
        if (rc == 0)
            rc = exec_params(pg, "INSERT INTO schema_migrations (version) VALUES ($1)", 1,
                             (const char *const *)&names[i], names[i]);
        if (rc != 0)
            return -1;
        log_info("migrate.applied", "%s", names[i]);
        (*applied)++;
    }
    return 0;
}

/* Applies the function files whose text changed since they were last
 * applied, or all of them when `all`; *applied counts them. The
 * privileges file (sql/99_privileges.sql, last) is applied again whenever
 * any other file was: a migration's DROP FUNCTION takes the function's
 * grants with it, and a new function starts out executable by PUBLIC. */
static int apply_functions(PGconn *pg, const struct db_sql_source *src, char **names, size_t count,
                           bool all, size_t *applied)
{
    for (size_t i = 0; i < count; i++) {
        char digest[65], *recorded, *sql = read_file(src, names[i]);
        const char *params[2];
        bool same;
        int rc;

        if (!sql)
            return -1;
        hex_digest(sql, digest);
        recorded = fetch_one(pg, "SELECT checksum FROM schema_functions WHERE file = $1",
                             names[i]);
        same = recorded && strcmp(recorded, digest) == 0;
        free(recorded);
        if (same && !all &&
            !(*applied > 0 && strncmp(names[i], PRIVILEGES_PREFIX, strlen(PRIVILEGES_PREFIX)) == 0)) {
            free(sql);
            continue;
        }
        rc = exec_ok(pg, sql, names[i]);
        free(sql);
        params[0] = names[i];
        params[1] = digest;
        if (rc == 0)
            rc = exec_params(pg,
                             "INSERT INTO schema_functions (file, checksum) VALUES ($1, $2)"
                             " ON CONFLICT (file) DO UPDATE"
                             " SET checksum = EXCLUDED.checksum, applied_at = now()",
                             2, params, names[i]);
        if (rc != 0)
            return -1;
        log_info("migrate.functions_applied", "%s", names[i]);
        (*applied)++;
    }
    return 0;
}

int db_migrate(const char *conninfo, const struct db_sql_source *migrations,
               const struct db_sql_source *functions)
{
    PGconn *pg = db_connect(conninfo, 0, 0);
    char **names = NULL, **files = NULL;
    size_t n_migrations = 0, n_files = 0, applied = 0, reapplied = 0;
    int rc = -1;

    if (PQstatus(pg) != CONNECTION_OK) {
        log_error("migrate.connect_failed", "%s", PQerrorMessage(pg));
        goto out;
    }
    if (exec_ok(pg, "SET client_min_messages = warning", "setup") != 0 ||
        exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "lock") != 0 ||
        exec_ok(pg,
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());"
                "CREATE TABLE IF NOT EXISTS schema_functions ("
                " file text PRIMARY KEY, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())",
                "bookkeeping tables") != 0)
        goto out;
    if (!(names = list_files(migrations, 4, &n_migrations)) ||
        !(files = list_files(functions, 2, &n_files)))
        goto out;
    log_info("migrate.source", "migrations from %s, function files from %s",
             migrations->dir ? migrations->dir : "the binary",
             functions->dir ? functions->dir : "the binary");
    if (exec_ok(pg, "BEGIN", "begin") != 0)
        goto out;
    if (apply_migrations(pg, migrations, names, n_migrations, &applied) != 0 ||
        apply_functions(pg, functions, files, n_files, applied > 0, &reapplied) != 0 ||
        exec_ok(pg, "COMMIT", "commit") != 0) {
        exec_ok(pg, "ROLLBACK", "rollback");
        log_error("migrate.rolled_back", "nothing was changed");
        goto out;
    }
    rc = 0;
    log_info("migrate.done",
             "%zu of %zu migrations applied now, the rest were already; %zu of %zu function "
             "files applied",
             applied, n_migrations, reapplied, n_files);
out:
    free_names(names, n_migrations);
    free_names(files, n_files);
    PQfinish(pg); /* also releases the session advisory lock */
    return rc;
}
