#include "db/arrays.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void db_arrays_init(struct db_arrays *a, int n)
{
    memset(a, 0, sizeof *a);
    a->n = n;
    for (int k = 0; k < n; k++)
        CORE_JSON_BUF_LITERAL(&a->b[k], "{");
}

/* Appends one element to array k: NULL, or the text in double quotes with
 * " and \ escaped. */
void db_arrays_add(struct db_arrays *a, int k, const char *text)
{
    struct core_json_buf *b = &a->b[k];

    if (b->len > 1)
        CORE_JSON_BUF_LITERAL(b, ",");
    if (!text) {
        CORE_JSON_BUF_LITERAL(b, "NULL");
        return;
    }
    CORE_JSON_BUF_LITERAL(b, "\"");
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\')
            CORE_JSON_BUF_LITERAL(b, "\\");
        core_json_buf_raw(b, p, 1);
    }
    CORE_JSON_BUF_LITERAL(b, "\"");
}

void db_arrays_add_int(struct db_arrays *a, int k, long long v)
{
    char num[32];
    snprintf(num, sizeof num, "%lld", v);
    db_arrays_add(a, k, num);
}

/* Closes the literals into a->text; 0, or -1 when memory ran out. */
int db_arrays_finish(struct db_arrays *a)
{
    int rc = 0;
    for (int k = 0; k < a->n; k++) {
        CORE_JSON_BUF_LITERAL(&a->b[k], "}");
        if (!(a->text[k] = core_json_buf_take(&a->b[k], NULL)))
            rc = -1;
    }
    return rc;
}

void db_arrays_free(struct db_arrays *a)
{
    for (int k = 0; k < a->n; k++) {
        free(a->text[k]);
        free(a->b[k].data); /* NULL once taken */
    }
}
