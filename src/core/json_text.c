#include "core/json_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* JSON's white space: the only bytes allowed between tokens. */
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && is_space(*p))
        p++;
    return p;
}

/* Past the string that starts at p ('"'), or NULL. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* Past the object or array that starts at p, or NULL. */
static const char *skip_nested(const char *p, const char *end)
{
    int depth = 0;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            if (!(p = skip_string(p, end)))
                return NULL;
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            return p + 1;
        p++;
    }
    return NULL;
}

static const char *skip_literal(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

/* The value at p into *out; past it, or NULL. */
static const char *scan_value(const char *p, const char *end, struct core_json_span *out)
{
    const char *q = NULL;

    if (p >= end)
        return NULL;
    switch (*p) {
    case '"':
        out->kind = CORE_SPAN_STRING;
        q = skip_string(p, end);
        break;
    case '{':
    case '[':
        out->kind = *p == '{' ? CORE_SPAN_OBJECT : CORE_SPAN_ARRAY;
        q = skip_nested(p, end);
        break;
    case 't':
        out->kind = CORE_SPAN_TRUE;
        q = skip_literal(p, end, "true");
        break;
    case 'f':
        out->kind = CORE_SPAN_FALSE;
        q = skip_literal(p, end, "false");
        break;
    case 'n':
        out->kind = CORE_SPAN_NULL;
        q = skip_literal(p, end, "null");
        break;
    default:
        out->kind = CORE_SPAN_NUMBER;
        for (q = p; q < end && strchr("+-0123456789.eE", *q) && *q; q++)
            ;
        if (q == p)
            q = NULL;
    }
    if (q) {
        out->start = p;
        out->len = (size_t)(q - p);
    }
    return q;
}

int core_json_parse_span(const char *text, size_t len, struct core_json_span *out)
{
    const char *end = text + len;
    const char *p = scan_value(skip_space(text, end), end, out);
    return p && skip_space(p, end) == end ? 0 : -1;
}

int core_json_members(const struct core_json_span *object, const char *const *keys, size_t n,
                      struct core_json_span *out)
{
    const char *p, *end, *name;
    size_t name_len;
    struct core_json_span value;

    for (size_t i = 0; i < n; i++)
        out[i].start = NULL;
    if (object->kind != CORE_SPAN_OBJECT)
        return -1;
    p = object->start + 1;
    end = object->start + object->len - 1; /* the closing brace */
    for (;;) {
        p = skip_space(p, end);
        if (p == end)
            return 0;
        if (*p != '"')
            return -1;
        name = p + 1;
        if (!(p = skip_string(p, end)))
            return -1;
        name_len = (size_t)(p - 1 - name);
        p = skip_space(p, end);
        if (p == end || *p != ':')
            return -1;
        if (!(p = scan_value(skip_space(p + 1, end), end, &value)))
            return -1;
        for (size_t i = 0; i < n; i++)
            if (!out[i].start && strlen(keys[i]) == name_len &&
                memcmp(name, keys[i], name_len) == 0)
                out[i] = value;
        p = skip_space(p, end);
        if (p < end && *p == ',')
            p++;
        else if (p != end)
            return -1;
    }
}

int core_json_next_element(const struct core_json_span *array, const char **cursor,
                           struct core_json_span *out)
{
    const char *end, *p;

    if (array->kind != CORE_SPAN_ARRAY)
        return -1;
    end = array->start + array->len - 1; /* the closing bracket */
    p = skip_space(*cursor ? *cursor : array->start + 1, end);
    if (p == end)
        return 1;
    if (!(p = scan_value(p, end, out)))
        return -1;
    p = skip_space(p, end);
    if (p < end && *p == ',')
        p++;
    else if (p != end)
        return -1;
    *cursor = p;
    return 0;
}

static int hex4(const char *p, const char *end, unsigned *out)
{
    unsigned v = 0;
    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

char *core_json_string_dup(const struct core_json_span *s)
{
    const char *p, *end;
    char *out, *w;

    if (s->kind != CORE_SPAN_STRING || s->len < 2)
        return NULL;
    p = s->start + 1;
    end = s->start + s->len - 1;
    /* Unescaping never lengthens: \uXXXX (6 bytes) is at most 4 of UTF-8. */
    if (!(out = malloc((size_t)(end - p) + 1)))
        return NULL;
    for (w = out; p < end; p++) {
        unsigned cp, low;
        if (*p != '\\') {
            *w++ = *p;
            continue;
        }
        if (++p == end)
            break;
        switch (*p) {
        case 'b':
            *w++ = '\b';
            break;
        case 'f':
            *w++ = '\f';
            break;
        case 'n':
            *w++ = '\n';
            break;
        case 'r':
            *w++ = '\r';
            break;
        case 't':
            *w++ = '\t';
            break;
        case 'u':
            if (hex4(p + 1, end, &cp) != 0) {
                free(out);
                return NULL;
            }
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && end - p >= 7 && p[1] == '\\' && p[2] == 'u' &&
                hex4(p + 3, end, &low) == 0 && low >= 0xDC00 && low < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                p += 6;
            } else if (cp >= 0xD800 && cp < 0xE000) {
                cp = 0xFFFD; /* a lone surrogate: not a character */
            }
            w += put_utf8(cp, w);
            break;
        default: /* \" \\ \/ */
            *w++ = *p;
        }
    }
    *w = '\0';
    return out;
}

int core_json_string_copy(const struct core_json_span *s, char *out, size_t size)
{
    size_t n = s->len - 2;
    if (s->kind != CORE_SPAN_STRING || n >= size || memchr(s->start + 1, '\\', n))
        return -1;
    memcpy(out, s->start + 1, n);
    out[n] = '\0';
    return 0;
}

int core_json_int64(const struct core_json_span *s, int64_t *out)
{
    char digits[24], *end;
    long long v;

    if (s->kind != CORE_SPAN_NUMBER || s->len >= sizeof digits)
        return -1;
    memcpy(digits, s->start, s->len);
    digits[s->len] = '\0';
    errno = 0;
    v = strtoll(digits, &end, 10);
    if (*end || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

static bool reserve(struct core_json_buf *b, size_t extra)
{
    size_t cap;
    char *bigger;

    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    for (cap = b->cap ? b->cap * 2 : 512; cap < b->len + extra + 1; cap *= 2)
        ;
    if (!(bigger = realloc(b->data, cap))) {
        b->failed = true;
        return false;
    }
    b->data = bigger;
    b->cap = cap;
    return true;
}

void core_json_buf_raw(struct core_json_buf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void core_json_buf_string(struct core_json_buf *b, const char *s)
{
    const char *run = s;
    char esc[8];

    core_json_buf_raw(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *e;
        switch (c) {
        case '"':
            e = "\\\"";
            break;
        case '\\':
            e = "\\\\";
            break;
        case '\b':
            e = "\\b";
            break;
        case '\f':
            e = "\\f";
            break;
        case '\n':
            e = "\\n";
            break;
        case '\r':
            e = "\\r";
            break;
        case '\t':
            e = "\\t";
            break;
        default:
            e = NULL;
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04X", c);
                e = esc;
            }
        }
        if (e) {
            core_json_buf_raw(b, run, (size_t)(s - run));
            core_json_buf_raw(b, e, strlen(e));
            run = s + 1;
        }
    }
    core_json_buf_raw(b, run, (size_t)(s - run));
    core_json_buf_raw(b, "\"", 1);
}

void core_json_buf_int(struct core_json_buf *b, long long v)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%lld", v);
    core_json_buf_raw(b, digits, (size_t)n);
}

void core_json_buf_compact(struct core_json_buf *b, const char *s, size_t n)
{
    const char *end = s + n, *run = s;

    if (!reserve(b, n))
        return;
    while (s < end) {
        if (*s == '"') {
            const char *q = skip_string(s, end);
            s = q ? q : end;
        } else if (is_space(*s)) {
            core_json_buf_raw(b, run, (size_t)(s - run));
            run = ++s;
        } else {
            s++;
        }
    }
    core_json_buf_raw(b, run, (size_t)(s - run));
}

char *core_json_buf_take(struct core_json_buf *b, size_t *len)
{
    char *text = b->failed ? NULL : b->data;

    if (b->failed)
        free(b->data);
    else if (!text)
        text = calloc(1, 1);
    if (len)
        *len = text ? b->len : 0;
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
    return text;
}
