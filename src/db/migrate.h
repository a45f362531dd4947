/*
 * Schema migrations: migrations/NNNN_name.sql applied in name order, each
 * once and in its own transaction, recorded in schema_migrations. Running
 * it again is a no-op; a failed migration is rolled back whole and named.
 * Concurrent migrators (several processes starting at once) serialize on
 * an advisory lock.
 */
#ifndef BOOKD_DB_MIGRATE_H
#define BOOKD_DB_MIGRATE_H

/* Returns 0, or -1 after logging which file failed and why. */
int db_migrate(const char *conninfo, const char *dir);

#endif
