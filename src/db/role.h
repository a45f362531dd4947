/*
 * Whether bookd serves with the role it should: one that may only execute
 * the API functions (docs/design.md, "Least privilege"), not the schema's
 * owner or a superuser.
 */
#ifndef BOOKD_DB_ROLE_H
#define BOOKD_DB_ROLE_H

/* 1 when the role of `conninfo` can read the appointments table directly,
 * 0 when it cannot, -1 when the database could not be asked. */
int db_role_reads_tables(const char *conninfo);

#endif
