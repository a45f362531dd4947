/*
 * RFC 3339 parsing and toISOString()-style formatting over int64
 * milliseconds since the Unix epoch (UTC).
 *
 * Calendar arithmetic is Howard Hinnant's days-from-civil algorithm
 * (proleptic Gregorian calendar, counted in 400-year eras of 146097 days,
 * with years starting on 1 March so that the leap day is the last day of a
 * year). Nothing here touches the C library's time functions, the TZ
 * environment or the locale.
 */
#include "core/time.h"

#include <time.h>

#include <limits.h>

/*
 * The instants that "YYYY" can show: 0000-01-01T00:00:00.000Z and
 * 9999-12-31T23:59:59.999Z. -719528 is core_days_from_civil(0, 1, 1) and
 * 2932897 is core_days_from_civil(10000, 1, 1).
 */
#define ISO_MIN_MS (INT64_C(-719528) * CORE_MS_PER_DAY)
#define ISO_MAX_MS (INT64_C(2932897) * CORE_MS_PER_DAY - 1)
/* 0001-01-01T00:00:00Z: -719162 is core_days_from_civil(1, 1, 1). */
#define PARSE_MIN_MS (INT64_C(-719162) * CORE_MS_PER_DAY)

/* Days in one 400-year era; 0000-03-01 is day -719468 of the Unix epoch. */
#define DAYS_PER_ERA INT64_C(146097)
#define EPOCH_SHIFT INT64_C(719468)

/* a / b rounded towards negative infinity, for b > 0 (C truncates). */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if (a % b < 0)
        q--;
    return q;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Exactly n ASCII digits at p into *out (n is small: at most 4 here). */
static int read_digits(const char *p, size_t n, int *out)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

/* Writes v (>= 0) as exactly n decimal digits, zero-padded, no NUL. */
static void put_digits(char *p, int64_t v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

static int is_leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && is_leap_year(y))
        return 29;
    return days[m - 1];
}

/*
 * "YYYY-MM-DD" in the first 10 bytes at p (the caller has checked that they
 * exist), a real date in years 0001-9999, as RFC 3339's full-date.
 */
static int parse_full_date(const char *p, int *year, int *month, int *day)
{
    int y, m, d;

    if (read_digits(p, 4, &y) || p[4] != '-' || read_digits(p + 5, 2, &m) || p[7] != '-' ||
        read_digits(p + 8, 2, &d))
        return -1;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -1;
    *year = y;
    *month = m;
    *day = d;
    return 0;
}

int64_t core_days_from_civil(int year, int month, int day)
{
    /* Everything in int64_t: no input, however wild, can overflow. */
    int64_t y = (int64_t)year - (month <= 2 ? 1 : 0);
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;                                      /* [0, 399] */
    int64_t mp = month > 2 ? (int64_t)month - 3 : (int64_t)month + 9; /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + (int64_t)day - 1;              /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;              /* [0, 146096] */

    return era * DAYS_PER_ERA + doe - EPOCH_SHIFT;
}

/*
 * The year saturates at INT_MIN / INT_MAX for day counts beyond what an int
 * year can hold (|days| > about 7.8e11); every day count that an int64_t
 * millisecond value can produce is well inside that.
 */
void core_civil_from_days(int64_t days, int *year, int *month, int *day)
{
    /*
     * Split into eras before shifting the epoch to 0000-03-01, so that
     * neither the shift nor era * DAYS_PER_ERA can overflow near INT64_MIN
     * or INT64_MAX.
     */
    int64_t q = days / DAYS_PER_ERA;
    int64_t r = days % DAYS_PER_ERA;

    if (r < 0) {
        r += DAYS_PER_ERA;
        q--;
    }
    r += EPOCH_SHIFT;

    int64_t era = q + r / DAYS_PER_ERA;
    int64_t doe = r % DAYS_PER_ERA;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    int64_t d = doy - (153 * mp + 2) / 5 + 1;                            /* [1, 31] */
    int64_t m = mp < 10 ? mp + 3 : mp - 9;                               /* [1, 12] */
    int64_t y = era * 400 + yoe + (m <= 2 ? 1 : 0);

    if (y > INT_MAX)
        y = INT_MAX;
    else if (y < INT_MIN)
        y = INT_MIN;
    if (year)
        *year = (int)y;
    if (month)
        *month = (int)m;
    if (day)
        *day = (int)d;
}

int core_date_parse(const char *s, size_t len, int *year, int *month, int *day)
{
    if (year)
        *year = 0;
    if (month)
        *month = 0;
    if (day)
        *day = 0;
    if (!s || !year || !month || !day || len != 10)
        return -1;
    return parse_full_date(s, year, month, day);
}

/*
 * Grammar accepted (RFC 3339 section 5.6, minus the lower-case/space
 * liberties it leaves open except 't' and 'z'):
 *   YYYY-MM-DD ("T" / "t") HH:MM:SS [ "." 1*9DIGIT ] ( "Z" / "z" / ("+" / "-") HH:MM )
 * Instants past 9999-12-31T23:59:59.999Z (only reachable from 9999-12-31
 * with a negative offset) are refused too, so that everything accepted
 * here can be printed back by core_iso_format().
 */
int core_rfc3339_parse(const char *s, size_t len, int64_t *out_ms)
{
    int year, month, day, hour, minute, second;
    int64_t frac_ms = 0;
    int64_t offset_min = 0;
    size_t i;

    if (out_ms)
        *out_ms = 0;
    /* 20 bytes is the shortest form: "YYYY-MM-DDTHH:MM:SSZ". */
    if (!s || !out_ms || len < 20)
        return -1;
    if (parse_full_date(s, &year, &month, &day))
        return -1;
    if (s[10] != 'T' && s[10] != 't')
        return -1;
    if (read_digits(s + 11, 2, &hour) || s[13] != ':' || read_digits(s + 14, 2, &minute) ||
        s[16] != ':' || read_digits(s + 17, 2, &second))
        return -1;
    if (hour > 23 || minute > 59 || second > 59)
        return -1;

    i = 19;
    if (s[i] == '.') {
        size_t start = ++i;

        /* Keep the first three digits; the rest are truncated, not rounded. */
        while (i < len && is_digit(s[i])) {
            if (i - start < 3)
                frac_ms = frac_ms * 10 + (s[i] - '0');
            i++;
        }
        if (i == start || i - start > 9)
            return -1;
        for (size_t n = i - start; n < 3; n++)
            frac_ms *= 10;
    }

    if (i >= len)
        return -1;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int oh, om;

        if (len - i < 6 || read_digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            read_digits(s + i + 4, 2, &om))
            return -1;
        if (oh > 23 || om > 59)
            return -1;
        offset_min = (int64_t)oh * 60 + om;
        if (s[i] == '-')
            offset_min = -offset_min;
        i += 6;
    } else {
        return -1;
    }
    if (i != len)
        return -1;

    /* Local time minus its offset is UTC. */
    int64_t ms = core_days_from_civil(year, month, day) * CORE_MS_PER_DAY +
                 ((int64_t)hour * 3600 + (int64_t)minute * 60 + second) * 1000 + frac_ms -
                 offset_min * CORE_MS_PER_MINUTE;

    /* Instants in year 0 (UTC) could be written back, but PostgreSQL reads
     * no year 0 in ISO form: accept only what every layer can store. */
    if (ms < PARSE_MIN_MS || ms > ISO_MAX_MS)
        return -1;
    *out_ms = ms;
    return 0;
}

int core_iso_format(int64_t ms, char *buf)
{
    int year, month, day;

    if (!buf)
        return -1;
    if (ms < ISO_MIN_MS || ms > ISO_MAX_MS) {
        buf[0] = '\0';
        return -1;
    }

    /* Floor division: -1 ms is 1969-12-31T23:59:59.999, not 1970-01-01. */
    int64_t days = floor_div(ms, CORE_MS_PER_DAY);
    int64_t rem = ms - days * CORE_MS_PER_DAY; /* [0, CORE_MS_PER_DAY) */

    core_civil_from_days(days, &year, &month, &day);
    put_digits(buf, year, 4);
    buf[4] = '-';
    put_digits(buf + 5, month, 2);
    buf[7] = '-';
    put_digits(buf + 8, day, 2);
    buf[10] = 'T';
    put_digits(buf + 11, rem / 3600000, 2);
    buf[13] = ':';
    put_digits(buf + 14, rem / 60000 % 60, 2);
    buf[16] = ':';
    put_digits(buf + 17, rem / 1000 % 60, 2);
    buf[19] = '.';
    put_digits(buf + 20, rem % 1000, 3);
    buf[23] = 'Z';
    buf[CORE_ISO_LEN] = '\0';
    return 0;
}

int64_t core_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
