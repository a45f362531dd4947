/*
 * libFuzzer target for src/core/time.c: any bytes as the timestamp a client
 * sends (scheduledAt, from, to; Vapi's scheduledAt), read by
 * core_rfc3339_parse exactly as the API reads a JSON string (the bytes and
 * their length, no NUL after them, so a read past the end is caught). The
 * first 10 bytes also go to core_date_parse (a Vapi "date", the days of
 * /api/availability/days), and the first 8 bytes, as an int64, to the
 * formatter and the calendar arithmetic, which must take any value.
 *
 * What is checked beyond the sanitizers: every accepted instant is one
 * core_iso_format prints, and that text parses back to the same instant;
 * an input already in that canonical form is printed back byte for byte;
 * a parsed date survives days-from-civil and back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" exactly, upper-case T and Z. */
static int canonical(const char *s, size_t len)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";

    if (len != CORE_ISO_LEN)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    char iso[CORE_ISO_LEN + 1];
    int64_t ms, again, raw = 0;
    int y, m, d, y2, m2, d2;

    if (!s)
        return 0;
    memcpy(s, data, size);

    if (core_rfc3339_parse(s, size, &ms) == 0) {
        check(core_iso_format(ms, iso) == 0);
        check(core_rfc3339_parse(iso, CORE_ISO_LEN, &again) == 0 && again == ms);
        if (canonical(s, size))
            check(memcmp(iso, s, CORE_ISO_LEN) == 0);
    }

    if (size >= 10 && core_date_parse(s, 10, &y, &m, &d) == 0) {
        core_civil_from_days(core_days_from_civil(y, m, d), &y2, &m2, &d2);
        check(y == y2 && m == m2 && d == d2);
    }

    /* Any int64: formatted or refused, and the calendar never overflows. */
    memcpy(&raw, data, size < sizeof raw ? size : sizeof raw);
    if (core_iso_format(raw, iso) == 0)
        check(core_rfc3339_parse(iso, CORE_ISO_LEN, &again) != 0 || again == raw);
    core_civil_from_days(raw, &y, &m, &d);
    check(m >= 1 && m <= 12 && d >= 1 && d <= 31);
    core_days_from_civil(y, m, d);
    free(s);
    return 0;
}
