/* Unit tests for src/core/validate.c. */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"

struct str_case {
    const char *s;
    size_t len;
};

/* A string literal with its length, embedded NULs included. */
#define C(lit)                                                                                     \
    {                                                                                              \
        (lit), sizeof(lit) - 1                                                                     \
    }

/*
 * A heap copy of exactly len bytes, with no NUL after it, so that a read
 * past `len` is caught by AddressSanitizer. The caller frees it.
 */
static char *exact_copy(const char *s, size_t len)
{
    char *p = malloc(len ? len : 1);

    cr_assert_not_null(p);
    memcpy(p, s, len);
    return p;
}

static bool phone_exact(const char *s, size_t len)
{
    char *p = exact_copy(s, len);
    bool ok = core_phone_valid(p, len);

    free(p);
    return ok;
}

static bool email_exact(const char *s, size_t len)
{
    char *p = exact_copy(s, len);
    bool ok = core_email_valid(p, len);

    free(p);
    return ok;
}

static bool text_exact(const char *s, size_t len, size_t max_chars)
{
    char *p = exact_copy(s, len);
    bool ok = core_text_valid(p, len, max_chars);

    free(p);
    return ok;
}

static int uuid_exact(const char *s, size_t len, char *out)
{
    char *p = exact_copy(s, len);
    int rc = core_uuid_normalize(p, len, out);

    free(p);
    return rc;
}

/* ---- core_uuid_normalize ---- */

Test(core_validate, uuid_canonical_forms)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-426614174000"},
        {"123E4567-E89B-12D3-A456-426614174000", "123e4567-e89b-12d3-a456-426614174000"},
        {"AbCdEf01-2345-6789-aBcD-EF0123456789", "abcdef01-2345-6789-abcd-ef0123456789"},
        {"00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"},
        {"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "ffffffff-ffff-ffff-ffff-ffffffffffff"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[CORE_UUID_LEN + 1];

        memset(out, 'x', sizeof out);
        cr_expect_eq(uuid_exact(cases[i].in, strlen(cases[i].in), out), 0, "%s", cases[i].in);
        cr_expect_str_eq(out, cases[i].out);
        cr_expect_eq(core_uuid_normalize(cases[i].in, strlen(cases[i].in), NULL), 0,
                     "check-only %s", cases[i].in);
    }
}

Test(core_validate, uuid_normalizes_in_place)
{
    char buf[CORE_UUID_LEN + 1] = "A0B1C2D3-E4F5-4A6B-8C7D-9E0F1A2B3C4D";

    cr_assert_eq(core_uuid_normalize(buf, CORE_UUID_LEN, buf), 0);
    cr_assert_str_eq(buf, "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d");
}

Test(core_validate, uuid_writes_exactly_37_bytes)
{
    char out[CORE_UUID_LEN + 8];

    memset(out, '#', sizeof out);
    cr_assert_eq(core_uuid_normalize("123e4567-e89b-12d3-a456-426614174000", CORE_UUID_LEN, out),
                 0);
    cr_assert_eq(out[CORE_UUID_LEN], '\0');
    for (size_t i = CORE_UUID_LEN + 1; i < sizeof out; i++)
        cr_assert_eq(out[i], '#', "byte %zu overwritten", i);
}

Test(core_validate, uuid_rejects_wrong_shapes)
{
    static const struct str_case cases[] = {
        C(""),
        C("123e4567-e89b-12d3-a456-42661417400"),   /* 35 */
        C("123e4567-e89b-12d3-a456-4266141740000"), /* 37 */
        C("123e4567-e89b-12d3-a456-426614174000 "),
        C(" 123e4567-e89b-12d3-a456-426614174000"),
        C("123e4567e89b12d3a456426614174000"),
        C("{123e4567-e89b-12d3-a456-426614174000}"),
        C("urn:uuid:123e4567-e89b-12d3-a456-426614174000"),
        C("123e4567-e89b-12d3-a456426614174000-"),
        C("123e456-7e89b-12d3-a456-426614174000"),
        C("123e4567-e89-b12d3-a456-426614174000"),
        C("123e4567-e89b-12d-3a456-426614174000"),
        C("123e4567-e89b-12d3-a4564-26614174000"),
        C("123e4567_e89b_12d3_a456_426614174000"),
        C("123e4567-e89b-12d3-a456-42661417400g"),
        C("g23e4567-e89b-12d3-a456-426614174000"),
        C("123e4567-e89b-12d3-a456-4266141740\0"
          "0"),
        C("123e4567-e89b-12d3-a456-42661417400\xff"),
        C("+23e4567-e89b-12d3-a456-426614174000"),
        C("123e4567-e89b-12d3-a456-42661417400 "),
        C("------------------------------------"),
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[CORE_UUID_LEN + 1];

        memset(out, 'x', sizeof out);
        cr_expect_eq(uuid_exact(cases[i].s, cases[i].len, out), -1, "accepted \"%s\"", cases[i].s);
        cr_expect_eq(out[0], '\0', "out not emptied for \"%s\"", cases[i].s);
        cr_expect_eq(core_uuid_normalize(cases[i].s, cases[i].len, NULL), -1,
                     "check-only accepted \"%s\"", cases[i].s);
    }
    cr_expect_eq(core_uuid_normalize(NULL, CORE_UUID_LEN, NULL), -1);
}

/* Every single position: a hex digit where a hyphen belongs and vice versa. */
Test(core_validate, uuid_rejects_any_single_wrong_character)
{
    const char *good = "123e4567-e89b-12d3-a456-426614174000";

    for (size_t i = 0; i < CORE_UUID_LEN; i++) {
        char buf[CORE_UUID_LEN];
        int hyphen = i == 8 || i == 13 || i == 18 || i == 23;

        memcpy(buf, good, CORE_UUID_LEN);
        buf[i] = hyphen ? 'a' : '-';
        cr_expect_eq(core_uuid_normalize(buf, CORE_UUID_LEN, NULL), -1, "position %zu", i);
        buf[i] = hyphen ? '0' : 'G';
        cr_expect_eq(core_uuid_normalize(buf, CORE_UUID_LEN, NULL), -1, "position %zu", i);
        buf[i] = '\0';
        cr_expect_eq(core_uuid_normalize(buf, CORE_UUID_LEN, NULL), -1, "NUL at %zu", i);
    }
}

Test(core_validate, uuid_respects_len)
{
    const char *s = "123e4567-e89b-12d3-a456-426614174000trailing";

    cr_assert_eq(core_uuid_normalize(s, CORE_UUID_LEN, NULL), 0);
    cr_assert_eq(core_uuid_normalize(s, CORE_UUID_LEN + 1, NULL), -1);
    cr_assert_eq(core_uuid_normalize(s, CORE_UUID_LEN - 1, NULL), -1);
}

/* ---- core_phone_valid ---- */

Test(core_validate, phone_valid)
{
    static const struct str_case cases[] = {
        C("+447700900123"),    C("+14155552671"), C("+4915123456789"), C("+1234567"),
        C("+123456789012345"), C("+9999999"),     C("+33123456789"),
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect(phone_exact(cases[i].s, cases[i].len), "rejected %s", cases[i].s);
}

Test(core_validate, phone_invalid)
{
    static const struct str_case cases[] = {
        C(""),
        C("+"),
        C("447700900123"),      /* no + */
        C("00447700900123"),    /* international prefix instead of + */
        C("+0447700900123"),    /* leading 0 */
        C("+123456"),           /* 6 digits */
        C("+1234567890123456"), /* 16 digits */
        C("+44770090012a"),
        C("+44 7700 900123"),
        C("+44-7700-900123"),
        C("+(44)7700900123"),
        C("++447700900123"),
        C(" +447700900123"),
        C("+447700900123 "),
        C("+447700900123\n"),
        C("+44770\0"
          "0900123"),
        C("+447700900123\0"),
        C("+4477009001２3"),
        C("+-47700900123"),
        C("+44.7700900123"),
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_not(phone_exact(cases[i].s, cases[i].len), "accepted \"%s\"", cases[i].s);
    cr_expect_not(core_phone_valid(NULL, 13));
}

Test(core_validate, phone_respects_len)
{
    const char *s = "+447700900123xyz";

    cr_assert(core_phone_valid(s, 13));
    cr_assert_not(core_phone_valid(s, 14));
    cr_assert(core_phone_valid(s, 8));
    cr_assert_not(core_phone_valid(s, 7));
}

/* ---- core_email_valid ---- */

Test(core_validate, email_valid)
{
    static const struct str_case cases[] = {
        C("user@example.com"),
        C("first.last@sub.example.co.uk"),
        C("user+tag@example.org"),
        C("x@a.io"),
        C("UPPER@EXAMPLE.COM"),
        C("o'brien@example.ie"),
        C("a!#$%&'*+-/=?^_`{|}~@example.com"),
        C("user@123.example.com"),
        C("user@xn--bcher-kva.example"),
        C("a@b-c.d-e.com"),
        C("a.b.c@d.e"),
        C("1234@example.net"),
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect(email_exact(cases[i].s, cases[i].len), "rejected %s", cases[i].s);
}

Test(core_validate, email_invalid)
{
    static const struct str_case cases[] = {
        C(""),
        C("@"),
        C("userexample.com"),
        C("user@@example.com"),
        C("us@er@example.com"),
        C("user@example.com@example.com"),
        C("@example.com"),
        C("user@"),
        C("user@example"),
        C("user@localhost"),
        C("user@-example.com"),
        C("user@example-.com"),
        C("user@sub.-example.com"),
        C("user@example.-com"),
        C("user@example.com-"),
        C("user@example..com"),
        C("user@.example.com"),
        C("user@example.com."),
        C("user@."),
        C("user@example.c0m"),
        C("user@example.123"),
        C("user@example.co_uk"),
        C("user@exam_ple.com"),
        C("user@[127.0.0.1]"),
        C("user@127.0.0.1"),
        C("us er@example.com"),
        C("user @example.com"),
        C("user@ example.com"),
        C("user@exa mple.com"),
        C(" user@example.com"),
        C("user@example.com "),
        C("user@example.com\n"),
        C("us\ter@example.com"),
        C(".user@example.com"),
        C("user.@example.com"),
        C("us..er@example.com"),
        C("\"quoted\"@example.com"),
        C("\"us er\"@example.com"),
        C("user(comment)@example.com"),
        C("a,b@example.com"),
        C("a;b@example.com"),
        C("a:b@example.com"),
        C("a<b>@example.com"),
        C("a[b]@example.com"),
        C("a\\b@example.com"),
        C("\xc3\xbcser@example.com"),
        C("user@ex\xc3\xa4mple.com"),
        C("user\0@example.com"),
        C("user@example.com\0"),
        C("user@exam\0ple.com"),
        C("user\x7f@example.com"),
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_not(email_exact(cases[i].s, cases[i].len), "accepted \"%s\"", cases[i].s);
    cr_expect_not(core_email_valid(NULL, 5));
}

/*
 * Writes "aaa...@bbb...bbb.com" with a local part of local_len bytes and a
 * domain of domain_len (>= 6) bytes: labels of at most 63 'b's, then ".com".
 */
static size_t build_email(char *buf, size_t local_len, size_t domain_len)
{
    size_t n = 0;
    size_t body = domain_len - 4;

    memset(buf, 'a', local_len);
    n += local_len;
    buf[n++] = '@';
    while (body > 0) {
        size_t label = body < 63 ? body : 63;

        /* Never leave a lone dot with no label after it. */
        if (body - label == 1)
            label--;
        memset(buf + n, 'b', label);
        n += label;
        body -= label;
        if (body > 0) {
            buf[n++] = '.';
            body--;
        }
    }
    memcpy(buf + n, ".com", 4);
    n += 4;
    buf[n] = '\0';
    return n;
}

Test(core_validate, email_length_limits)
{
    char buf[512];
    size_t n;

    /* 64 + 1 + 189 = 254 bytes: the longest allowed. */
    n = build_email(buf, 64, 189);
    cr_assert_eq(n, 254);
    cr_assert(core_email_valid(buf, n), "254 bytes rejected: %s", buf);

    /* 255 bytes. */
    n = build_email(buf, 64, 190);
    cr_assert_eq(n, 255);
    cr_assert_not(core_email_valid(buf, n), "255 bytes accepted: %s", buf);

    /* Local part of 64 bytes is fine, 65 is not. */
    n = build_email(buf, 64, 11);
    cr_assert(core_email_valid(buf, n), "64-byte local part rejected: %s", buf);
    n = build_email(buf, 65, 11);
    cr_assert_not(core_email_valid(buf, n), "65-byte local part accepted: %s", buf);

    /* A 63-byte label is fine, 64 bytes is over the DNS limit. */
    n = build_email(buf, 1, 63 + 4);
    cr_assert(core_email_valid(buf, n), "63-byte label rejected: %s", buf);
    /* build_email() never makes a label over 63, so build this one by hand. */
    n = 0;
    buf[n++] = 'a';
    buf[n++] = '@';
    memset(buf + n, 'b', 64);
    n += 64;
    memcpy(buf + n, ".com", 4);
    n += 4;
    cr_assert_not(core_email_valid(buf, n), "64-byte label accepted");
}

Test(core_validate, email_respects_len)
{
    const char *s = "user@example.com.evil";

    cr_assert(core_email_valid(s, 16));     /* "user@example.com" */
    cr_assert_not(core_email_valid(s, 17)); /* "user@example.com." */
    cr_assert(core_email_valid(s, 15));     /* "user@example.co" */
    cr_assert_not(core_email_valid(s, 13)); /* "user@example." */
    cr_assert_not(core_email_valid(s, 12)); /* "user@example" */
    cr_assert_not(core_email_valid(s, 4));  /* "user" */
}

/* ---- core_text_valid ---- */

static char *repeat(const char *unit, size_t unit_len, size_t times, size_t *out_len)
{
    char *buf = malloc(unit_len * times + 1);

    cr_assert_not_null(buf);
    for (size_t i = 0; i < times; i++)
        memcpy(buf + i * unit_len, unit, unit_len);
    buf[unit_len * times] = '\0';
    *out_len = unit_len * times;
    return buf;
}

Test(core_validate, text_ascii)
{
    cr_assert(core_text_valid("", 0, 0));
    cr_assert(core_text_valid(NULL, 0, 10));
    cr_assert_not(core_text_valid(NULL, 1, 10));
    cr_assert(core_text_valid("hello", 5, 5));
    cr_assert_not(core_text_valid("hello", 5, 4));
    cr_assert_not(core_text_valid("a", 1, 0));
    cr_assert(core_text_valid("line one\nline two\r\n\ttab", 23, 23));
    cr_assert(core_text_valid("\x01\x7f", 2, 2));
}

Test(core_validate, text_counts_code_points_not_bytes)
{
    size_t len;
    char *s;

    /* "é" is 2 bytes: 2000 of them are 4000 bytes but 2000 characters. */
    s = repeat("\xc3\xa9", 2, CORE_NOTES_MAX_CHARS, &len);
    cr_expect_eq(len, 4000);
    cr_expect(core_text_valid(s, len, CORE_NOTES_MAX_CHARS), "2000 x e-acute rejected");
    free(s);
    s = repeat("\xc3\xa9", 2, CORE_NOTES_MAX_CHARS + 1, &len);
    cr_expect_not(core_text_valid(s, len, CORE_NOTES_MAX_CHARS), "2001 x e-acute accepted");
    free(s);

    /* "€" is 3 bytes. */
    s = repeat("\xe2\x82\xac", 3, CORE_NOTES_MAX_CHARS, &len);
    cr_expect(core_text_valid(s, len, CORE_NOTES_MAX_CHARS), "2000 x euro rejected");
    free(s);
    s = repeat("\xe2\x82\xac", 3, CORE_NOTES_MAX_CHARS + 1, &len);
    cr_expect_not(core_text_valid(s, len, CORE_NOTES_MAX_CHARS), "2001 x euro accepted");
    free(s);

    /* U+1F600 is 4 bytes. */
    s = repeat("\xf0\x9f\x98\x80", 4, CORE_NOTES_MAX_CHARS, &len);
    cr_expect(core_text_valid(s, len, CORE_NOTES_MAX_CHARS), "2000 x emoji rejected");
    free(s);
    s = repeat("\xf0\x9f\x98\x80", 4, CORE_NOTES_MAX_CHARS + 1, &len);
    cr_expect_not(core_text_valid(s, len, CORE_NOTES_MAX_CHARS), "2001 x emoji accepted");
    free(s);

    /* Plain ASCII at the same limit. */
    s = repeat("a", 1, CORE_NOTES_MAX_CHARS, &len);
    cr_expect(core_text_valid(s, len, CORE_NOTES_MAX_CHARS));
    free(s);
    s = repeat("a", 1, CORE_NOTES_MAX_CHARS + 1, &len);
    cr_expect_not(core_text_valid(s, len, CORE_NOTES_MAX_CHARS));
    free(s);

    /* Mixed: "naïve café 日本 😀" is 15 code points in 24 bytes. */
    const char *mixed = "na\xc3\xafve caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80";

    cr_expect_eq(strlen(mixed), 24);
    cr_expect(core_text_valid(mixed, 24, 15));
    cr_expect_not(core_text_valid(mixed, 24, 14));
}

/* The edges of each encoding length, each exactly one code point. */
Test(core_validate, text_boundary_code_points)
{
    static const struct str_case cases[] = {
        C("\x01"),
        C("\x7f"), /* U+0001, U+007F */
        C("\xc2\x80"),
        C("\xdf\xbf"), /* U+0080, U+07FF */
        C("\xe0\xa0\x80"),
        C("\xed\x9f\xbf"), /* U+0800, U+D7FF */
        C("\xee\x80\x80"),
        C("\xef\xbf\xbf"), /* U+E000, U+FFFF */
        C("\xef\xbb\xbf"), /* U+FEFF */
        C("\xf0\x90\x80\x80"),
        C("\xf4\x8f\xbf\xbf"), /* U+10000, U+10FFFF */
        C("\xf3\xbf\xbf\xbf"), /* U+FFFFF */
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_expect(text_exact(cases[i].s, cases[i].len, 1), "case %zu rejected", i);
        cr_expect_not(text_exact(cases[i].s, cases[i].len, 0), "case %zu not counted", i);
    }
}

Test(core_validate, text_invalid_utf8)
{
    static const struct {
        const char *s;
        size_t len;
        const char *why;
    } cases[] = {
        {"\xc0\x80", 2, "overlong NUL"},
        {"\xc0\xaf", 2, "overlong slash"},
        {"\xc1\xbf", 2, "overlong U+007F"},
        {"\xe0\x80\x80", 3, "overlong 3-byte NUL"},
        {"\xe0\x9f\xbf", 3, "overlong U+07FF"},
        {"\xf0\x80\x80\x80", 4, "overlong 4-byte NUL"},
        {"\xf0\x8f\xbf\xbf", 4, "overlong U+FFFF"},
        {"\x80", 1, "lone continuation 80"},
        {"\xbf", 1, "lone continuation BF"},
        {"a\x80z", 3, "continuation after ASCII"},
        {"\xc3\xa9\xa9", 3, "extra continuation"},
        {"\xed\xa0\x80", 3, "surrogate U+D800"},
        {"\xed\xbf\xbf", 3, "surrogate U+DFFF"},
        {"\xed\xa0\xbd\xed\xb8\x80", 6, "CESU-8 surrogate pair"},
        {"\xf4\x90\x80\x80", 4, "U+110000"},
        {"\xf5\x80\x80\x80", 4, "F5 lead"},
        {"\xf7\xbf\xbf\xbf", 4, "F7 lead"},
        {"\xf8\x88\x80\x80\x80", 5, "5-byte form"},
        {"\xfc\x84\x80\x80\x80\x80", 6, "6-byte form"},
        {"\xfe", 1, "FE"},
        {"\xff", 1, "FF"},
        {"\xc3", 1, "truncated 2-byte"},
        {"\xe2\x82", 2, "truncated 3-byte"},
        {"\xf0\x9f\x98", 3, "truncated 4-byte"},
        {"abc\xe2", 4, "truncated at the end"},
        {"\xc3"
         "A",
         2, "ASCII inside a 2-byte sequence"},
        {"\xe2\x28\xa1", 3, "ASCII inside a 3-byte sequence"},
        {"\xf0\x9f\x98"
         "A",
         4, "ASCII inside a 4-byte sequence"},
        {"\xe2\x82\xc3\xa9", 4, "lead byte inside a sequence"},
        {"\xe2\x82\xc0", 3, "C0 as third byte"},
        {"\xe2\x82\xff", 3, "FF as third byte"},
        {"\xf0\x9f\xc0\x80", 4, "C0 as third of four bytes"},
        {"\xf0\x9f\x98\xc0", 4, "C0 as fourth byte"},
        {"\xf0\x9f\x98\x7f", 4, "ASCII as fourth byte"},
        {"\xc3\xc0", 2, "C0 as second byte"},
        {"\0", 1, "NUL alone"},
        {"a\0b", 3, "NUL inside"},
        {"abc\0", 4, "NUL at the end"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_not(text_exact(cases[i].s, cases[i].len, 100), "accepted %s", cases[i].why);
}

Test(core_validate, text_respects_len)
{
    /* Only the first byte of "é" is inside len: a truncated sequence. */
    cr_assert_not(core_text_valid("\xc3\xa9", 1, 10));
    /* The invalid byte lies outside len. */
    cr_assert(core_text_valid("abc\xff", 3, 10));
    /* A NUL outside len does not matter either. */
    cr_assert(core_text_valid("ab\0c", 2, 10));
    cr_assert(core_text_valid("anything", 0, 0));
}

/* ---- core_int_in_range ---- */

Test(core_validate, int_in_range)
{
    cr_expect(core_int_in_range(5, 1, 10));
    cr_expect(core_int_in_range(1, 1, 10));
    cr_expect(core_int_in_range(10, 1, 10));
    cr_expect_not(core_int_in_range(0, 1, 10));
    cr_expect_not(core_int_in_range(11, 1, 10));
    cr_expect_not(core_int_in_range(-5, 1, 10));
    cr_expect(core_int_in_range(-5, -10, -1));
    cr_expect(core_int_in_range(7, 7, 7));
    cr_expect_not(core_int_in_range(8, 7, 7));
    cr_expect_not(core_int_in_range(5, 10, 1)); /* empty range */
    cr_expect(core_int_in_range(LLONG_MIN, LLONG_MIN, LLONG_MAX));
    cr_expect(core_int_in_range(LLONG_MAX, LLONG_MIN, LLONG_MAX));
    cr_expect_not(core_int_in_range(LLONG_MIN, LLONG_MIN + 1, LLONG_MAX));
    cr_expect_not(core_int_in_range(LLONG_MAX, LLONG_MIN, LLONG_MAX - 1));

    cr_expect(core_int_in_range(CORE_DURATION_MIN, CORE_DURATION_MIN, CORE_DURATION_MAX));
    cr_expect(core_int_in_range(CORE_DURATION_MAX, CORE_DURATION_MIN, CORE_DURATION_MAX));
    cr_expect_not(core_int_in_range(0, CORE_DURATION_MIN, CORE_DURATION_MAX));
    cr_expect_not(core_int_in_range(1441, CORE_DURATION_MIN, CORE_DURATION_MAX));
    cr_expect(core_int_in_range(0, 0, CORE_BUFFER_MAX));
    cr_expect_not(core_int_in_range(241, 0, CORE_BUFFER_MAX));
}
