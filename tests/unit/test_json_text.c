/* JSON read and written as text (src/core/json_text.c). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"

/* Member `key` of an object: 0 found, 1 absent, -1 malformed. */
static int member(const struct core_json_span *object, const char *key, struct core_json_span *out)
{
    struct core_json_span found;

    if (core_json_members(object, &key, 1, &found) != 0)
        return -1;
    if (!found.start)
        return 1;
    *out = found;
    return 0;
}

static struct core_json_span root(const char *text)
{
    struct core_json_span s;
    cr_assert_eq(core_json_parse_span(text, strlen(text), &s), 0, "did not parse: %s", text);
    return s;
}

Test(json_text, members_are_found_by_name_at_any_depth_of_nesting)
{
    const char *text = "{\"status\": \"booked\", \"lockWaitUs\": 369, \"appointment\": {\"id\": "
                       "\"7e13\", \"notes\": \"a \\\"} {\", \"metadata\": {\"a\": [1, {\"b\": "
                       "\"}\"}]}, \"durationMinutes\": 30}, \"replayed\": true}";
    struct core_json_span r = root(text), v, appt, meta;
    int64_t n;
    char id[8];

    cr_assert_eq(member(&r, "status", &v), 0);
    cr_assert_eq(v.kind, CORE_SPAN_STRING);
    cr_assert_eq(core_json_string_copy(&v, id, sizeof id), 0);
    cr_assert_str_eq(id, "booked");
    cr_assert_eq(member(&r, "lockWaitUs", &v), 0);
    cr_assert_eq(core_json_int64(&v, &n), 0);
    cr_assert_eq(n, 369);
    cr_assert_eq(member(&r, "replayed", &v), 0);
    cr_assert_eq(v.kind, CORE_SPAN_TRUE);
    cr_assert_eq(member(&r, "missing", &v), 1);
    cr_assert_eq(member(&r, "appointment", &appt), 0);
    cr_assert_eq(appt.kind, CORE_SPAN_OBJECT);
    cr_assert_eq(member(&appt, "durationMinutes", &v), 0);
    cr_assert_eq(core_json_int64(&v, &n), 0);
    cr_assert_eq(n, 30);
    /* A member of the nested object is not a member of the outer one. */
    cr_assert_eq(member(&r, "id", &v), 1);
    cr_assert_eq(member(&appt, "metadata", &meta), 0);
    cr_assert_eq(meta.kind, CORE_SPAN_OBJECT);
    cr_assert_eq(meta.len, strlen("{\"a\": [1, {\"b\": \"}\"}]}"));
}

Test(json_text, array_elements_come_one_after_the_other)
{
    struct core_json_span r = root(" [ {\"x\": 1} , 2,\"three\", null, [] ] "), v;
    const char *cursor = NULL;
    enum core_json_span_kind kinds[] = {CORE_SPAN_OBJECT, CORE_SPAN_NUMBER, CORE_SPAN_STRING,
                                        CORE_SPAN_NULL, CORE_SPAN_ARRAY};

    for (int i = 0; i < 5; i++) {
        cr_assert_eq(core_json_next_element(&r, &cursor, &v), 0, "element %d", i);
        cr_assert_eq(v.kind, kinds[i], "element %d", i);
    }
    cr_assert_eq(core_json_next_element(&r, &cursor, &v), 1);
    r = root("[]");
    cursor = NULL;
    cr_assert_eq(core_json_next_element(&r, &cursor, &v), 1);
}

Test(json_text, malformed_or_truncated_texts_are_refused)
{
    const char *bad[] = {"",    "{", "{\"a\": 1", "[1, 2", "\"open", "{\"a\": 1} x", "{\"a\": \"b}",
                         "nul", NULL};
    /* Inside an object or array, a value is checked when it is read. */
    const char *bad_inside[] = {"{\"a\" 1}", "{\"a\": tru}", "{\"a\": }", "{\"a\": 1 \"b\": 2}",
                                NULL};
    struct core_json_span s, v;

    for (const char **b = bad; *b; b++)
        cr_expect_neq(core_json_parse_span(*b, strlen(*b), &s), 0, "accepted: %s", *b);
    for (const char **b = bad_inside; *b; b++) {
        s = root(*b);
        cr_expect_eq(member(&s, "b", &v), -1, "read a member of: %s", *b);
    }
    s = root("[1, 2]");
    cr_assert_eq(member(&s, "a", &v), -1, "an array is not an object");
    s = root("{\"n\": 1.5, \"big\": 123456789012345678901234, \"over\": 99999999999999999999}");
    cr_assert_eq(member(&s, "n", &v), 0);
    int64_t n;
    cr_assert_eq(core_json_int64(&v, &n), -1, "1.5 is not an integer");
    cr_assert_eq(member(&s, "big", &v), 0);
    cr_assert_eq(core_json_int64(&v, &n), -1, "too long for an int64");
    cr_assert_eq(member(&s, "over", &v), 0);
    cr_assert_eq(core_json_int64(&v, &n), -1, "20 digits, over INT64_MAX");
}

Test(json_text, strings_are_unescaped_to_utf8)
{
    struct core_json_span s = root("\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\u20ac\\ud83d\\ude00\\ud800x\"");
    char *v = core_json_string_dup(&s), id[4];

    cr_assert_not_null(v);
    cr_assert_str_eq(v, "a\"b\\c/d\n\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbdx");
    free(v);
    cr_assert_eq(core_json_string_copy(&s, id, sizeof id), -1, "escaped or too long");
    s = root("\"abc\"");
    cr_assert_eq(core_json_string_copy(&s, id, sizeof id), 0);
    cr_assert_str_eq(id, "abc");
    s = root("\"abcd\"");
    cr_assert_eq(core_json_string_copy(&s, id, sizeof id), -1, "does not fit");
    s = root("12");
    cr_assert_null(core_json_string_dup(&s));
}

/* What the writer makes is what jansson makes, byte for byte. */
Test(json_text, strings_are_escaped_as_jansson_escapes_them)
{
    char all[128];
    const char *samples[] = {"plain", "quote \" and \\ backslash / slash", "é€😀", all, ""};
    struct core_json_buf b = {0};

    for (int i = 1; i < 128; i++)
        all[i - 1] = (char)i;
    all[127] = '\0';
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        json_t *js = json_string(samples[i]);
        char *expected = json_dumps(js, JSON_ENCODE_ANY | JSON_COMPACT), *got;
        core_json_buf_string(&b, samples[i]);
        got = core_json_buf_take(&b, NULL);
        cr_assert_str_eq(got, expected, "sample %zu", i);
        free(got);
        free(expected);
        json_decref(js);
    }
}

Test(json_text, compact_drops_only_the_space_outside_strings)
{
    const char *in = "{\"a b\": [1, 2, {\"c\": \" x \\\" y \"}],\n\t\"d\": null}";
    struct core_json_buf b = {0};
    size_t len;
    char *out;

    core_json_buf_compact(&b, in, strlen(in));
    core_json_buf_raw(&b, "+", 1);
    core_json_buf_int(&b, -42);
    out = core_json_buf_take(&b, &len);
    cr_assert_str_eq(out, "{\"a b\":[1,2,{\"c\":\" x \\\" y \"}],\"d\":null}+-42");
    cr_assert_eq(len, strlen(out));
    free(out);
    out = core_json_buf_take(&b, &len);
    cr_assert_str_eq(out, "", "an empty buffer gives an empty text");
    cr_assert_eq(len, 0);
    free(out);
}
