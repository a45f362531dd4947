/*
 * Unit tests for src/core/time.c. Expected millisecond values and strings
 * were computed independently with Node.js (Date.parse / toISOString) and
 * Python's datetime, not with the code under test.
 */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"

/* A string literal and its length, embedded NULs included. */
#define LIT(s) (s), (sizeof(s) - 1)

struct parse_case {
    const char *s;
    size_t len;
    int64_t ms;
};

struct bad_case {
    const char *s;
    size_t len;
    const char *why;
};

#define OK(lit, ms)                                                                                \
    {                                                                                              \
        (lit), sizeof(lit) - 1, INT64_C(ms)                                                        \
    }
#define BAD(lit, why)                                                                              \
    {                                                                                              \
        (lit), sizeof(lit) - 1, (why)                                                              \
    }

/*
 * A heap copy of exactly len bytes, with no NUL after it, so that a read
 * past `len` is caught by AddressSanitizer.
 */
static char *exact_copy(const char *s, size_t len)
{
    char *p = malloc(len ? len : 1);

    cr_assert_not_null(p);
    memcpy(p, s, len);
    return p;
}

static int parse_exact(const char *s, size_t len, int64_t *ms)
{
    char *p = exact_copy(s, len);
    int rc = core_rfc3339_parse(p, len, ms);

    free(p);
    return rc;
}

static void expect_parses(const struct parse_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t ms = 42;
        int rc = parse_exact(cases[i].s, cases[i].len, &ms);

        cr_expect_eq(rc, 0, "parse \"%s\" returned %d", cases[i].s, rc);
        cr_expect_eq(ms, cases[i].ms, "parse \"%s\": got %lld, want %lld", cases[i].s,
                     (long long)ms, (long long)cases[i].ms);
    }
}

static void expect_formats(int64_t ms, const char *want)
{
    char buf[CORE_ISO_LEN + 1];

    memset(buf, 'x', sizeof buf);
    cr_expect_eq(core_iso_format(ms, buf), 0, "format %lld failed", (long long)ms);
    cr_expect_str_eq(buf, want, "format %lld", (long long)ms);
}

/* ---- core_rfc3339_parse: accepted forms ---- */

Test(core_time, parse_basic_forms)
{
    static const struct parse_case cases[] = {
        OK("2026-01-27T14:00:00Z", 1769522400000),
        OK("2026-01-27T14:00:00z", 1769522400000),
        OK("2026-01-27t14:00:00Z", 1769522400000),
        OK("2026-01-27t14:00:00z", 1769522400000),
        OK("2026-01-27T15:00:00+01:00", 1769522400000),
        OK("2026-01-27T09:00:00-05:00", 1769522400000),
        OK("2026-01-27T19:30:00+05:30", 1769522400000),
        OK("2026-01-27T08:30:00-05:30", 1769522400000),
        OK("2026-01-27T14:00:00+00:00", 1769522400000),
        OK("2026-01-27T14:00:00-00:00", 1769522400000),
        OK("1970-01-01T00:00:00Z", 0),
        OK("1969-12-31T23:59:59.999Z", -1),
        OK("2038-01-19T03:14:08Z", 2147483648000),
        OK("1900-03-01T00:00:00Z", -2203891200000),
        OK("2100-03-01T00:00:00Z", 4107542400000),
        OK("1583-10-15T12:34:56.789Z", -12187711503211),
        OK("0100-02-28T00:00:00Z", -59006448000000),
        OK("0100-03-01T00:00:00Z", -59006361600000),
    };

    expect_parses(cases, sizeof cases / sizeof cases[0]);
}

Test(core_time, parse_fraction_digits_truncated_to_ms)
{
    static const struct parse_case cases[] = {
        OK("2026-01-27T14:00:00.5Z", 1769522400500),
        OK("2026-01-27T14:00:00.05Z", 1769522400050),
        OK("2026-01-27T14:00:00.123Z", 1769522400123),
        OK("2026-01-27T14:00:00.1239Z", 1769522400123),
        OK("2026-01-27T14:00:00.12399Z", 1769522400123),
        OK("2026-01-27T14:00:00.123999Z", 1769522400123),
        OK("2026-01-27T14:00:00.1239999Z", 1769522400123),
        OK("2026-01-27T14:00:00.12399999Z", 1769522400123),
        OK("2026-01-27T14:00:00.123999999Z", 1769522400123),
        OK("2026-01-27T14:00:00.999999999Z", 1769522400999),
        OK("2026-01-27T14:00:00.000000001Z", 1769522400000),
        OK("2026-01-27T14:00:00.0Z", 1769522400000),
        OK("2026-01-27T14:00:00.9z", 1769522400900),
        OK("2026-01-27T15:00:00.5+01:00", 1769522400500),
        OK("2026-01-27T09:00:00.987654-05:00", 1769522400987),
        /* Truncation happens on the positive fraction, so before 1970 it
           still moves towards the start of the second. */
        OK("1969-12-31T23:59:59.9999Z", -1),
        OK("1969-12-31T23:59:59.0001Z", -1000),
    };

    expect_parses(cases, sizeof cases / sizeof cases[0]);
}

Test(core_time, parse_offset_crosses_day_and_year)
{
    static const struct parse_case cases[] = {
        /* 2026-01-01T00:30Z */
        OK("2025-12-31T23:30:00-01:00", 1767227400000),
        /* 2025-12-31T23:30Z */
        OK("2026-01-01T00:30:00+01:00", 1767223800000),
        /* 2024-02-29T23:59Z, into a leap day */
        OK("2024-03-01T00:00:00+00:01", 1709251140000),
        /* 2024-03-01T00:00:59Z, out of a leap day */
        OK("2024-02-29T23:59:59-00:01", 1709251259000),
        /* 9999-12-31T00:00:59Z */
        OK("9999-12-31T23:59:59+23:59", 253402214459000),
        /* 0001-01-01T00:00Z, the earliest instant accepted */
        OK("0001-01-01T00:00:00Z", -62135596800000),
        OK("0001-01-01T00:00:00-00:30", -62135595000000),
    };

    expect_parses(cases, sizeof cases / sizeof cases[0]);
}

Test(core_time, parse_leap_days)
{
    static const struct parse_case cases[] = {
        OK("2024-02-29T12:00:00Z", 1709208000000),
        OK("2000-02-29T00:00:00Z", 951782400000),
        OK("1600-02-29T00:00:00Z", -11670998400000),
        OK("0400-02-29T00:00:00Z", -49539340800000),
    };

    expect_parses(cases, sizeof cases / sizeof cases[0]);
}

Test(core_time, parse_year_limits)
{
    static const struct parse_case cases[] = {
        OK("0001-01-01T00:00:00Z", -62135596800000),
        OK("9999-12-31T23:59:59.999Z", 253402300799999),
        OK("9999-12-31T23:59:59.999999999Z", 253402300799999),
    };

    expect_parses(cases, sizeof cases / sizeof cases[0]);
}

/* ---- core_rfc3339_parse: rejected forms ---- */

Test(core_time, parse_rejects_malformed)
{
    static const struct bad_case cases[] = {
        BAD("2026-01-27T14:00:00", "no offset"),
        BAD("2026-01-27T14:00:00.123", "no offset after fraction"),
        BAD("2026-01-27", "date only"),
        BAD("2026-02-30T00:00:00Z", "Feb 30"),
        BAD("2026-02-31T00:00:00Z", "Feb 31"),
        BAD("2023-02-29T00:00:00Z", "Feb 29 in a common year"),
        BAD("1900-02-29T00:00:00Z", "Feb 29 in a century year"),
        BAD("2100-02-29T00:00:00Z", "Feb 29 in 2100"),
        BAD("2026-04-31T00:00:00Z", "Apr 31"),
        BAD("2026-01-32T00:00:00Z", "Jan 32"),
        BAD("2026-01-00T00:00:00Z", "day 00"),
        BAD("2026-13-01T00:00:00Z", "month 13"),
        BAD("2026-00-01T00:00:00Z", "month 00"),
        BAD("2026-01-27T24:00:00Z", "hour 24"),
        BAD("2026-01-27T14:60:00Z", "minute 60"),
        BAD("2026-12-31T23:59:60Z", "leap second"),
        BAD("2026-01-27T14:00:99Z", "second 99"),
        BAD("0000-01-01T00:00:00Z", "year 0000"),
        BAD("12026-01-27T14:00:00Z", "five-digit year"),
        BAD("0001-01-01T00:30:00+01:00", "an instant in year 0 UTC"),
        BAD("0001-01-01T00:00:00+23:59", "the earliest local time, in year 0 UTC"),
        BAD("+12026-01-27T14:00:00Z", "signed five-digit year"),
        BAD("+002026-01-27T14:00:00.000Z", "JS extended year"),
        BAD("-2026-01-27T14:00:00Z", "negative year"),
        BAD("-000001-01-01T00:00:00Z", "negative extended year"),
        BAD("026-01-27T14:00:00Z", "three-digit year"),
        BAD("2026-1-27T14:00:00Z", "one-digit month"),
        BAD("2026-01-7T14:00:00Z", "one-digit day"),
        BAD("2026-01-27T4:00:00Z", "one-digit hour"),
        BAD("2026-01-27T14:00Z", "missing seconds"),
        BAD("2026-01-27T14:00+01:00", "missing seconds with offset"),
        BAD("2026-01-27T14Z", "hour only"),
        BAD("2026-01-27T14:00:00Zx", "trailing garbage after Z"),
        BAD("2026-01-27T14:00:00Z ", "trailing space"),
        BAD("2026-01-27T14:00:00ZZ", "double Z"),
        BAD("2026-01-27T14:00:00+01:00x", "trailing garbage after offset"),
        BAD("2026-01-27T14:00:00+01:000", "three-digit offset minutes"),
        BAD("2026-01-27T14:00:00+01:00Z", "offset and Z"),
        BAD(" 2026-01-27T14:00:00Z", "leading space"),
        BAD("\t2026-01-27T14:00:00Z", "leading tab"),
        BAD("", "empty"),
        BAD("2026-01-27T14:00:00+24:00", "offset +24:00"),
        BAD("2026-01-27T14:00:00-24:00", "offset -24:00"),
        BAD("2026-01-27T14:00:00+23:60", "offset minutes 60"),
        BAD("2026-01-27T14:00:00+0100", "offset without colon"),
        BAD("2026-01-27T14:00:00+01-00", "hyphen in place of the offset colon"),
        BAD("2026-01-27T14:00:00+01 00", "space in place of the offset colon"),
        BAD("2026-01-27T14:00:00+01000", "five offset digits"),
        BAD("2026-01-27T14:00:00+01:0x", "letter in offset minutes"),
        BAD("2026-01-27T14:00:00+x1:00", "letter in offset hours"),
        BAD("2026-01-27T14:00:00+01", "offset hours only"),
        BAD("2026-01-27T14:00:00+1:00", "one-digit offset hour"),
        BAD("2026-01-27T14:00:00+01:0", "one-digit offset minute"),
        BAD("2026-01-27T14:00:00+", "bare plus"),
        BAD("2026-01-27T14:00:00-", "bare minus"),
        BAD("2026-01-27T14:00:00UTC", "UTC name"),
        BAD("2026-01-27T14:00:00 Z", "space before Z"),
        BAD("2026-01-27T14:00:00.Z", "fraction without digits"),
        BAD("2026-01-27T14:00:00.+01:00", "fraction without digits before offset"),
        BAD("2026-01-27T14:00:00.", "dot at end"),
        BAD("2026-01-27T14:00:00.1234567890Z", "ten fraction digits"),
        BAD("2026-01-27T14:00:00.123456789012Z", "twelve fraction digits"),
        BAD("2026-01-27T14:00:00,5Z", "comma fraction"),
        BAD("2026-01-27T14:00:00.5.5Z", "two fractions"),
        BAD("2026-01-27 14:00:00Z", "space separator"),
        BAD("2026-01-27X14:00:00Z", "X separator"),
        BAD("2026-01-2714:00:00Z", "no separator"),
        BAD("2026/01/27T14:00:00Z", "slashes"),
        BAD("2026-01-27T14.00.00Z", "dots in time"),
        BAD("20260127T140000Z", "ISO basic format"),
        BAD("2026- 1-27T14:00:00Z", "space inside month"),
        BAD("2026-+1-27T14:00:00Z", "sign inside month"),
        BAD("2026-01-27T14:00:-1Z", "negative seconds"),
        BAD("2026-01-27T14:00:0aZ", "hex digit"),
        BAD("2026-01-27T1\xd9\xa4:00:00Z", "non-ASCII digit"),
        /* Would be 10000-01-01T00:00:59Z, beyond what a response can show. */
        BAD("9999-12-31T23:59:59-00:01", "instant past year 9999"),
        BAD("9999-12-31T23:00:00-23:59", "instant past year 9999, large offset"),
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = 42;
        int rc = parse_exact(cases[i].s, cases[i].len, &ms);

        cr_expect_eq(rc, -1, "accepted %s: \"%s\"", cases[i].why, cases[i].s);
        cr_expect_eq(ms, 0, "%s: *out_ms not zeroed", cases[i].why);
    }
}

Test(core_time, parse_rejects_embedded_nul)
{
    static const struct bad_case cases[] = {
        BAD("2026-01-27T14:00:00Z\0", "NUL after Z"),
        BAD("2026-01-27T14:00:00\0Z", "NUL before Z"),
        BAD("2026-01-27\0T14:00:00Z", "NUL before T"),
        BAD("2026-01-27T14:00:00.1\0Z", "NUL inside fraction"),
        BAD("2026-01-27T14:00:00+01:00\0", "NUL after offset"),
        BAD("2026-01-27T14:00:00+01\0:00", "NUL inside offset"),
        BAD("\0002026-01-27T14:00:00Z", "leading NUL"),
        BAD("2026-01-27T14:00:00Z\0garbage", "garbage hidden after NUL"),
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = 42;

        cr_expect_eq(parse_exact(cases[i].s, cases[i].len, &ms), -1, "accepted %s", cases[i].why);
    }
}

Test(core_time, parse_reads_exactly_len_bytes)
{
    const char *s = "2026-01-27T14:00:00Zjunk";
    int64_t ms = 0;

    cr_assert_eq(core_rfc3339_parse(s, 20, &ms), 0);
    cr_assert_eq(ms, INT64_C(1769522400000));
    cr_assert_eq(core_rfc3339_parse(s, 21, &ms), -1);
    cr_assert_eq(core_rfc3339_parse(s, 19, &ms), -1);
    cr_assert_eq(core_rfc3339_parse(s, 0, &ms), -1);

    /* Not NUL-terminated at all: a buffer holding just the bytes. */
    char exact[25];

    memcpy(exact, "2026-01-27T15:00:00+01:00", 25);
    cr_assert_eq(core_rfc3339_parse(exact, sizeof exact, &ms), 0);
    cr_assert_eq(ms, INT64_C(1769522400000));
    cr_assert_eq(core_rfc3339_parse(exact, sizeof exact - 1, &ms), -1);
}

Test(core_time, parse_null_arguments)
{
    int64_t ms = 42;

    cr_assert_eq(core_rfc3339_parse(NULL, 20, &ms), -1);
    cr_assert_eq(ms, 0);
    cr_assert_eq(core_rfc3339_parse(LIT("2026-01-27T14:00:00Z"), NULL), -1);
}

/* ---- core_iso_format ---- */

Test(core_time, format_known_values)
{
    expect_formats(0, "1970-01-01T00:00:00.000Z");
    expect_formats(1, "1970-01-01T00:00:00.001Z");
    expect_formats(86399999, "1970-01-01T23:59:59.999Z");
    expect_formats(INT64_C(951782400000), "2000-02-29T00:00:00.000Z");
    expect_formats(INT64_C(1769522400000), "2026-01-27T14:00:00.000Z");
    expect_formats(INT64_C(1709208000000), "2024-02-29T12:00:00.000Z");
    expect_formats(INT64_C(-62135596800000), "0001-01-01T00:00:00.000Z");
    expect_formats(INT64_C(253402300799999), "9999-12-31T23:59:59.999Z");
}

Test(core_time, format_negative_ms_floors)
{
    expect_formats(-1, "1969-12-31T23:59:59.999Z");
    expect_formats(-999, "1969-12-31T23:59:59.001Z");
    expect_formats(-1000, "1969-12-31T23:59:59.000Z");
    expect_formats(-1001, "1969-12-31T23:59:58.999Z");
    expect_formats(-86400000, "1969-12-31T00:00:00.000Z");
    expect_formats(-86400001, "1969-12-30T23:59:59.999Z");
    expect_formats(INT64_C(-2203891200000), "1900-03-01T00:00:00.000Z");
    expect_formats(INT64_C(-12187711503211), "1583-10-15T12:34:56.789Z");
    expect_formats(INT64_C(-62167219200000), "0000-01-01T00:00:00.000Z");
}

/* Pseudo-random instants across the whole range, expected by Node.js. */
Test(core_time, format_matches_node_to_iso_string)
{
    static const struct {
        int64_t ms;
        const char *iso;
    } cases[] = {
        {INT64_C(-45164170256128), "0538-10-21T13:09:03.872Z"},
        {INT64_C(227518502525519), "9179-10-11T00:02:05.519Z"},
        {INT64_C(221051423156786), "8974-11-03T13:05:56.786Z"},
        {INT64_C(46673183255220), "3449-01-05T21:07:35.220Z"},
        {INT64_C(945628600051), "1999-12-19T18:36:40.051Z"},
        {INT64_C(154591212620637), "6868-10-19T03:30:20.637Z"},
        {INT64_C(235132287575511), "9421-01-17T12:19:35.511Z"},
        {INT64_C(148033702603359), "6661-01-01T00:56:43.359Z"},
        {INT64_C(-52806993570647), "0296-08-11T22:40:29.353Z"},
        {INT64_C(250824378500099), "9918-04-23T22:28:20.099Z"},
        {INT64_C(-58678279091498), "0110-07-24T06:01:48.502Z"},
        {INT64_C(602915205489), "1989-02-08T04:26:45.489Z"},
        {INT64_C(186759040650763), "7888-02-27T23:17:30.763Z"},
        {INT64_C(-9812423130513), "1659-01-21T06:54:29.487Z"},
        {INT64_C(27327215179730), "2835-12-19T05:06:19.730Z"},
        {INT64_C(-37689616603885), "0775-08-31T14:03:16.115Z"},
        {INT64_C(-27747469421914), "1090-09-19T17:36:18.086Z"},
        {INT64_C(246720020646525), "9788-03-30T19:04:06.525Z"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_formats(cases[i].ms, cases[i].iso);
}

Test(core_time, format_out_of_range_returns_empty)
{
    static const int64_t bad[] = {
        INT64_C(-62167219200001), /* 0000-01-01 minus 1 ms */
        INT64_C(253402300800000), /* 10000-01-01T00:00:00.000Z */
        INT64_C(-62167219200000) * 2, INT64_MIN, INT64_MAX, INT64_MIN + 1,
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[CORE_ISO_LEN + 1];

        memset(buf, 'x', sizeof buf);
        cr_expect_eq(core_iso_format(bad[i], buf), -1, "formatted %lld", (long long)bad[i]);
        cr_expect_eq(buf[0], '\0', "buf not emptied for %lld", (long long)bad[i]);
    }
    cr_expect_eq(core_iso_format(0, NULL), -1);
}

Test(core_time, format_writes_exactly_25_bytes)
{
    char buf[CORE_ISO_LEN + 8];

    memset(buf, '#', sizeof buf);
    cr_assert_eq(core_iso_format(INT64_C(1769522400123), buf), 0);
    cr_assert_eq(strlen(buf), (size_t)CORE_ISO_LEN);
    for (size_t i = CORE_ISO_LEN + 1; i < sizeof buf; i++)
        cr_assert_eq(buf[i], '#', "byte %zu overwritten", i);
}

/* ---- round trips ---- */

static uint64_t lcg_next(uint64_t *state)
{
    *state = *state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return *state;
}

static int round_trip_one(int64_t ms)
{
    char buf[CORE_ISO_LEN + 1];
    int64_t back = 0;

    if (core_iso_format(ms, buf) != 0)
        return -1;
    if (core_rfc3339_parse(buf, CORE_ISO_LEN, &back) != 0)
        return -1;
    return back == ms ? 0 : -1;
}

Test(core_time, round_trip_format_then_parse)
{
    const int64_t lo = INT64_C(-62135596800000); /* 0001-01-01: parse's lower limit */
    const int64_t hi = INT64_C(253402300799999);
    uint64_t state = 20260127;
    size_t failures = 0;
    int64_t first_bad = 0;

    for (int i = 0; i < 200000; i++) {
        int64_t ms = lo + (int64_t)(lcg_next(&state) % (uint64_t)(hi - lo + 1));

        if (round_trip_one(ms) != 0 && failures++ == 0)
            first_bad = ms;
    }
    /* Every millisecond around the epoch, where floor division matters. */
    for (int64_t ms = -5000; ms <= 5000; ms++) {
        if (round_trip_one(ms) != 0 && failures++ == 0)
            first_bad = ms;
    }
    /* Both ends of the range, and a few days past each midnight there. */
    for (int64_t k = 0; k < 3000; k++) {
        if (round_trip_one(lo + k) != 0 && failures++ == 0)
            first_bad = lo + k;
        if (round_trip_one(hi - k) != 0 && failures++ == 0)
            first_bad = hi - k;
        if (round_trip_one(k * CORE_MS_PER_DAY - 1) != 0 && failures++ == 0)
            first_bad = k * CORE_MS_PER_DAY - 1;
        if (round_trip_one(-k * CORE_MS_PER_DAY) != 0 && failures++ == 0)
            first_bad = -k * CORE_MS_PER_DAY;
    }
    cr_assert_eq(failures, 0, "%zu round-trip failures, first at %lld", failures,
                 (long long)first_bad);
}

Test(core_time, round_trip_parse_then_format)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"2026-01-27T14:00:00.000Z", "2026-01-27T14:00:00.000Z"},
        {"2026-01-27T14:00:00Z", "2026-01-27T14:00:00.000Z"},
        {"2026-01-27t14:00:00.5z", "2026-01-27T14:00:00.500Z"},
        {"2026-01-27T15:00:00.5+01:00", "2026-01-27T14:00:00.500Z"},
        {"2026-01-27T08:30:00.123456-05:30", "2026-01-27T14:00:00.123Z"},
        {"2025-12-31T23:30:00-01:00", "2026-01-01T00:30:00.000Z"},
        {"2026-01-01T00:30:00+01:00", "2025-12-31T23:30:00.000Z"},
        {"2024-03-01T00:00:00+00:01", "2024-02-29T23:59:00.000Z"},
        {"0001-01-01T00:00:00-00:30", "0001-01-01T00:30:00.000Z"},
        {"9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59.999Z"},
        {"1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z"},
        {"1969-12-31T19:00:00-05:00", "1970-01-01T00:00:00.000Z"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = 0;
        char buf[CORE_ISO_LEN + 1];

        cr_expect_eq(parse_exact(cases[i].in, strlen(cases[i].in), &ms), 0, "parse %s",
                     cases[i].in);
        cr_expect_eq(core_iso_format(ms, buf), 0, "format %s", cases[i].in);
        cr_expect_str_eq(buf, cases[i].out, "round trip of %s", cases[i].in);
    }
}

/* ---- core_date_parse ---- */

Test(core_time, date_parse_valid)
{
    static const struct {
        const char *s;
        int y, m, d;
    } cases[] = {
        {"2026-01-27", 2026, 1, 27}, {"2024-02-29", 2024, 2, 29},  {"2000-02-29", 2000, 2, 29},
        {"0001-01-01", 1, 1, 1},     {"9999-12-31", 9999, 12, 31}, {"1970-01-01", 1970, 1, 1},
        {"2026-04-30", 2026, 4, 30}, {"2026-12-31", 2026, 12, 31},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int y = -1, m = -1, d = -1;

        char *p = exact_copy(cases[i].s, 10);

        cr_expect_eq(core_date_parse(p, 10, &y, &m, &d), 0, "parse %s", cases[i].s);
        free(p);
        cr_expect_eq(y, cases[i].y, "%s year", cases[i].s);
        cr_expect_eq(m, cases[i].m, "%s month", cases[i].s);
        cr_expect_eq(d, cases[i].d, "%s day", cases[i].s);
    }
}

Test(core_time, date_parse_invalid)
{
    static const struct bad_case cases[] = {
        BAD("2023-02-29", "Feb 29 in a common year"),
        BAD("1900-02-29", "Feb 29 in 1900"),
        BAD("2026-02-30", "Feb 30"),
        BAD("2026-04-31", "Apr 31"),
        BAD("2026-13-01", "month 13"),
        BAD("2026-00-10", "month 00"),
        BAD("2026-01-00", "day 00"),
        BAD("2026-01-32", "day 32"),
        BAD("0000-01-01", "year 0000"),
        BAD("12026-01-27", "five-digit year"),
        BAD("-2026-01-27", "negative year"),
        BAD("+026-01-27", "sign in year"),
        BAD("2026-1-27", "one-digit month"),
        BAD("2026-01-7", "one-digit day"),
        BAD("2026/01/27", "slashes"),
        BAD("20260127", "basic format"),
        BAD("2026-01-2x", "letter"),
        BAD(" 2026-01-2", "leading space"),
        BAD("2026-01-27 ", "trailing space"),
        BAD("2026-01-27T", "trailing T"),
        BAD("2026-01-27T14:00:00Z", "date-time"),
        BAD("2026-01\0-27", "embedded NUL"),
        BAD("2026-01-2\0", "NUL in place of a digit"),
        BAD("", "empty"),
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int y = -1, m = -1, d = -1;

        char *p = exact_copy(cases[i].s, cases[i].len);

        cr_expect_eq(core_date_parse(p, cases[i].len, &y, &m, &d), -1, "accepted %s", cases[i].why);
        free(p);
        cr_expect(y == 0 && m == 0 && d == 0, "%s: outputs not zeroed", cases[i].why);
    }
}

Test(core_time, date_parse_length_and_null)
{
    int y, m, d;

    cr_assert_eq(core_date_parse("2026-01-27junk", 10, &y, &m, &d), 0);
    cr_assert_eq(d, 27);
    cr_assert_eq(core_date_parse("2026-01-27", 9, &y, &m, &d), -1);
    cr_assert_eq(core_date_parse(NULL, 10, &y, &m, &d), -1);
    cr_assert_eq(core_date_parse("2026-01-27", 10, NULL, &m, &d), -1);
    cr_assert_eq(core_date_parse("2026-01-27", 10, &y, NULL, &d), -1);
    cr_assert_eq(core_date_parse("2026-01-27", 10, &y, &m, NULL), -1);
}

/* ---- core_days_from_civil / core_civil_from_days ---- */

Test(core_time, days_from_civil_anchors)
{
    cr_expect_eq(core_days_from_civil(1970, 1, 1), 0);
    cr_expect_eq(core_days_from_civil(1969, 12, 31), -1);
    cr_expect_eq(core_days_from_civil(1970, 3, 1), 59);
    cr_expect_eq(core_days_from_civil(2000, 3, 1), 11017);
    cr_expect_eq(core_days_from_civil(2024, 2, 29), 19782);
    cr_expect_eq(core_days_from_civil(2026, 1, 27), 20480);
    cr_expect_eq(core_days_from_civil(1900, 1, 1), -25567);
    cr_expect_eq(core_days_from_civil(1, 1, 1), -719162);
    cr_expect_eq(core_days_from_civil(0, 3, 1), -719468);
    cr_expect_eq(core_days_from_civil(0, 1, 1), -719528);
    cr_expect_eq(core_days_from_civil(-1, 12, 31), -719529);
    cr_expect_eq(core_days_from_civil(-400, 3, 1), -719468 - 146097);
    cr_expect_eq(core_days_from_civil(9999, 12, 31), 2932896);
    cr_expect_eq(core_days_from_civil(10000, 1, 1), 2932897);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_length(int64_t y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/*
 * Walks day by day through 40001 years, advancing a calendar kept by the
 * test itself, and checks both conversions against it at every step.
 * This catches a pair of functions that are inverses of each other but
 * both wrong.
 */
Test(core_time, civil_walk_over_wide_range)
{
    int y = -20000, m = 1, d = 1;
    int64_t days = core_days_from_civil(y, m, d);
    size_t failures = 0;
    int fy = 0, fm = 0, fd = 0;

    /* 20000 * 146097 / 400 days separate -20000-01-01 from 0000-01-01. */
    cr_assert_eq(days, INT64_C(-719528) - INT64_C(7304850));
    while (y <= 20000) {
        int cy, cm, cd;

        core_civil_from_days(days, &cy, &cm, &cd);
        if ((cy != y || cm != m || cd != d || core_days_from_civil(y, m, d) != days) &&
            failures++ == 0) {
            fy = y;
            fm = m;
            fd = d;
        }
        days++;
        if (++d > month_length(y, m)) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
    cr_assert_eq(failures, 0, "%zu mismatches, first at %d-%02d-%02d", failures, fy, fm, fd);
    cr_assert_eq(days, core_days_from_civil(20001, 1, 1));
}

Test(core_time, civil_from_days_known)
{
    int y, m, d;

    core_civil_from_days(0, &y, &m, &d);
    cr_expect(y == 1970 && m == 1 && d == 1);
    core_civil_from_days(-1, &y, &m, &d);
    cr_expect(y == 1969 && m == 12 && d == 31);
    core_civil_from_days(19782, &y, &m, &d);
    cr_expect(y == 2024 && m == 2 && d == 29);
    core_civil_from_days(-719468, &y, &m, &d);
    cr_expect(y == 0 && m == 3 && d == 1);
    core_civil_from_days(-719469, &y, &m, &d);
    cr_expect(y == 0 && m == 2 && d == 29);
}

Test(core_time, civil_extremes_do_not_overflow)
{
    int y, m, d;

    /* Round trip at the ends of int years. */
    core_civil_from_days(core_days_from_civil(INT_MAX, 12, 31), &y, &m, &d);
    cr_expect(y == INT_MAX && m == 12 && d == 31, "got %d-%d-%d", y, m, d);
    core_civil_from_days(core_days_from_civil(INT_MIN, 1, 1), &y, &m, &d);
    cr_expect(y == INT_MIN && m == 1 && d == 1, "got %d-%d-%d", y, m, d);

    /* Beyond int years the year saturates; month and day stay sane. */
    core_civil_from_days(INT64_MAX, &y, &m, &d);
    cr_expect_eq(y, INT_MAX);
    cr_expect(m >= 1 && m <= 12 && d >= 1 && d <= 31);
    core_civil_from_days(INT64_MIN, &y, &m, &d);
    cr_expect_eq(y, INT_MIN);
    cr_expect(m >= 1 && m <= 12 && d >= 1 && d <= 31);
}
