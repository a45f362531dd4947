/*
 * Bringing a database up to date, all or nothing, in one transaction:
 *
 * - migrations/NNNN_name.sql: schema changes, applied in name order, each
 *   once, recorded in schema_migrations;
 * - sql/NN_group.sql: the SQL functions, one file per group, each the one
 *   place where its functions' current text lives (CREATE OR REPLACE).
 *   A file is (re)applied when its SHA-256 differs from the one recorded
 *   in schema_functions, and every file is when a migration ran (a schema
 *   change may need the functions compiled again).
 *
 * Running it again is a no-op; a failure rolls everything back and names
 * the file. Concurrent migrators (several processes starting at once)
 * serialize on an advisory lock. A function that a file no longer defines,
 * or whose signature changes, is dropped by a migration (DROP FUNCTION IF
 * EXISTS): migrations run before the function files.
 */
#ifndef BOOKD_DB_MIGRATE_H
#define BOOKD_DB_MIGRATE_H

/*
 * Where the files come from. The binary carries copies of migrations/ and
 * sql/ as they were when it was built (scripts/embed_sql.sh), and applies
 * those unless told a directory (BOOKD_MIGRATIONS_DIR, BOOKD_SQL_DIR; the
 * tests use that for files of their own). Read from disk, they would be a
 * second thing to install and keep in step with the binary: the SQL
 * functions are the other half of the statements the binary prepares, so
 * a binary of one release with the functions of another fails at run
 * time, and a binary run from a directory that happens to hold some
 * `migrations/` would apply those. Built in, a release is one file, `bookd
 * migrate` works from any directory, and the schema it makes is always the
 * one that binary expects: the same reasoning as the web pages' (see
 * http/assets.h).
 */
struct db_sql_file {
    const char *name; /* "0001_schema.sql", "10_booking.sql" */
    const char *text;
};

/* The tables scripts/embed_sql.sh generates (each ends with {0, 0}). */
extern const struct db_sql_file db_builtin_migrations[];
extern const int db_builtin_migrations_count;
extern const struct db_sql_file db_builtin_functions[];
extern const int db_builtin_functions_count;

/* One kind of file: read from the directory `dir`, or, when `dir` is
 * NULL, the `count` files of `builtin`. */
struct db_sql_source {
    const char *dir;
    const struct db_sql_file *builtin;
    int count;
};

/* Returns 0, or -1 after logging which file failed and why. */
int db_migrate(const char *conninfo, const struct db_sql_source *migrations,
               const struct db_sql_source *functions);

#endif
