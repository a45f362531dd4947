/*
 * JSON read and written as text, without building a tree: for the booking
 * path, where a tree per request (jansson allocates every value and key)
 * cost more of bookd's CPU than anything else it does itself
 * (bench/HISTORY.md, step 25).
 *
 * Reading: a span is one value inside a text that stays alive; members of
 * an object are found by name, elements of an array one after the other.
 * The texts read are PostgreSQL's jsonb output, so the reader finds values
 * rather than validating: it never reads past a text's end and reports
 * what it cannot read (an unclosed string or bracket, a missing colon),
 * but lets through some texts that are not JSON (a trailing comma,
 * mismatched brackets, a number such as 01).
 *
 * Writing: a growing buffer and the pieces of a compact JSON text, escaped
 * as jansson escapes them, so an answer is the same bytes whichever way it
 * was made.
 */
#ifndef BOOKD_CORE_JSON_TEXT_H
#define BOOKD_CORE_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum core_json_span_kind {
    CORE_SPAN_STRING,
    CORE_SPAN_NUMBER,
    CORE_SPAN_OBJECT,
    CORE_SPAN_ARRAY,
    CORE_SPAN_TRUE,
    CORE_SPAN_FALSE,
    CORE_SPAN_NULL
};

struct core_json_span {
    enum core_json_span_kind kind;
    const char *start; /* the value's first byte: '"' of a string, '{' of an object */
    size_t len;        /* up to and including its last byte */
};

/* True when `s` is present (core_json_members found it) and a value of `kind`. */
static inline bool core_json_span_is(const struct core_json_span *s, enum core_json_span_kind kind)
{
    return s->start && s->kind == kind;
}

/* The one value of `text` (white space around it allowed). 0 or -1.
 * What is inside an object or array is checked when it is read. */
int core_json_parse_span(const char *text, size_t len, struct core_json_span *out);

/* Members `keys[i]` (plain ASCII) into out[i], in one pass over the object
 * (start NULL: absent; the first of repeated names counts). 0, or -1 malformed or not
 * an object. */
int core_json_members(const struct core_json_span *object, const char *const *keys, size_t n,
                      struct core_json_span *out);

/* The next element of an array: *cursor starts at NULL. 0 with *out set,
 * 1 at the end, -1 malformed or not an array. */
int core_json_next_element(const struct core_json_span *array, const char **cursor,
                           struct core_json_span *out);

/* A string's value, unescaped, NUL-terminated (a \u0000 inside it ends
 * it early); malloc'd. NULL if not a string or out of memory. */
char *core_json_string_dup(const struct core_json_span *s);

/* A string's value into `out` of `size` bytes. 0, or -1 if not a string,
 * escaped or too long: for ids and times, which never need escaping. */
int core_json_string_copy(const struct core_json_span *s, char *out, size_t size);

/* An integral number. 0 or -1. */
int core_json_int64(const struct core_json_span *s, int64_t *out);

/* A growing text. `failed` is set on out of memory; appends then do nothing. */
struct core_json_buf {
    char *data;
    size_t len, cap;
    bool failed;
};

void core_json_buf_raw(struct core_json_buf *b, const char *s, size_t n);
/* A string literal's bytes, as they are. */
#define CORE_JSON_BUF_LITERAL(b, literal) core_json_buf_raw(b, literal, sizeof literal - 1)
/* `s` as a JSON string literal, quotes included. */
void core_json_buf_string(struct core_json_buf *b, const char *s);
void core_json_buf_int(struct core_json_buf *b, long long v);
/* The value `s` (valid JSON) without white space outside its strings. */
void core_json_buf_compact(struct core_json_buf *b, const char *s, size_t n);
/* The text, NUL-terminated, handed to the caller (free it), or NULL if
 * anything failed; the buffer is empty afterwards either way. */
char *core_json_buf_take(struct core_json_buf *b, size_t *len);

#endif
