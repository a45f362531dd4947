/*
 * Every SQL statement bookd runs, prepared on each pooled connection at
 * connect. SQL lives only in src/db/; callers use the names.
 */
#ifndef BOOKD_DB_STATEMENTS_H
#define BOOKD_DB_STATEMENTS_H

struct db_statement {
    const char *name;
    const char *sql;
};

extern const struct db_statement db_statements[];
extern const int db_statement_count;

#endif
