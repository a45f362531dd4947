/*
 * Up to DB_ARRAYS_MAX PostgreSQL array literals built side by side, one
 * element of each per row, for the statements that take a batch as
 * unnest($1::...[], $2::...[], ...): one round trip for a whole batch.
 */
#ifndef BOOKD_DB_ARRAYS_H
#define BOOKD_DB_ARRAYS_H

#include "core/json_text.h"

#define DB_ARRAYS_MAX 10

struct db_arrays {
    int n;
    struct core_json_buf b[DB_ARRAYS_MAX];
    char *text[DB_ARRAYS_MAX]; /* after db_arrays_finish: the literals, owned */
};

void db_arrays_init(struct db_arrays *a, int n);
/* Appends one element to array k: NULL, or the text in double quotes with
 * " and \ escaped. */
void db_arrays_add(struct db_arrays *a, int k, const char *text);
void db_arrays_add_int(struct db_arrays *a, int k, long long v);
/* Closes the literals into a->text; 0, or -1 when memory ran out. */
int db_arrays_finish(struct db_arrays *a);
void db_arrays_free(struct db_arrays *a);

#endif
