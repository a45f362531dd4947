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

/* Returns 0, or -1 after logging which file failed and why. */
int db_migrate(const char *conninfo, const char *migrations_dir, const char *sql_dir);

#endif
