/*
 * libFuzzer target for src/core/json_text.c (`make fuzz`): any bytes, read
 * as the database's answer would be (the value, its members, array
 * elements, strings and numbers) and written back (escaped and compacted).
 * Sanitizers catch a read past the text or a leak; nothing is asserted on
 * the values, which the unit tests check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"

/* Everything a reader does with one value. */
static void read_value(const struct core_json_span *v)
{
    struct core_json_buf out = {0};
    char small[40];
    int64_t n;

    free(core_json_string_dup(v));
    core_json_string_copy(v, small, sizeof small);
    core_json_int64(v, &n);
    core_json_buf_compact(&out, v->start, v->len);
    free(core_json_buf_take(&out, NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"status", "appointment", "metadata", "notes"};
    /* No NUL after the bytes: a read past them is caught, not masked. */
    char *text = malloc(size ? size : 1);
    struct core_json_span root, members[4], element;
    struct core_json_buf out = {0};
    const char *cursor = NULL;

    if (!text)
        return 0;
    memcpy(text, data, size);
    if (core_json_parse_span(text, size, &root) == 0) {
        read_value(&root);
        if (core_json_members(&root, names, 4, members) == 0)
            for (int i = 0; i < 4; i++)
                if (members[i].start)
                    read_value(&members[i]);
        for (int i = 0; i < 1000 && core_json_next_element(&root, &cursor, &element) == 0; i++)
            read_value(&element);
    }
    free(text);

    /* The writer takes a C string: the bytes up to the first NUL. */
    text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    core_json_buf_string(&out, text);
    free(core_json_buf_take(&out, NULL));
    free(text);
    return 0;
}
