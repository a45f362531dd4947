/*
 * Time values in bookd: milliseconds since the Unix epoch, UTC, as int64_t.
 * Milliseconds match what clients see (JavaScript's toISOString()) and what
 * PostgreSQL stores without loss.
 *
 * Pure functions, no I/O, no locale or TZ dependence.
 */
#ifndef BOOKD_CORE_TIME_H
#define BOOKD_CORE_TIME_H

#include <stddef.h>
#include <stdint.h>

#define CORE_MS_PER_MINUTE INT64_C(60000)
#define CORE_MS_PER_DAY INT64_C(86400000)

/* Length of "YYYY-MM-DDTHH:MM:SS.mmmZ" without the NUL. */
#define CORE_ISO_LEN 24

/*
 * Parses an RFC 3339 date-time with a mandatory offset ("Z", "z" or
 * "+HH:MM"/"-HH:MM"), e.g. "2026-01-27T14:00:00Z" or
 * "2026-01-27T15:00:00.5+01:00". The separator is 'T' or 't'. Fractional
 * seconds (1 to 9 digits) are allowed; digits past milliseconds are
 * truncated. Years 0001-9999 only, for the instant in UTC too; calendar-checked days (no Feb 30);
 * no 24:00, no leap second 60. `len` bytes of `s` are read; the whole
 * span must be the timestamp. Returns 0 and sets *out_ms, or -1.
 */
int core_rfc3339_parse(const char *s, size_t len, int64_t *out_ms);

/*
 * Formats `ms` exactly as JavaScript's toISOString() does:
 * "YYYY-MM-DDTHH:MM:SS.mmmZ" plus a NUL, in `buf` (at least
 * CORE_ISO_LEN + 1 bytes). Returns 0, or -1 if the year is outside
 * 0000-9999 (buf then holds "").
 */
int core_iso_format(int64_t ms, char *buf);

/* The wall clock, in ms since the epoch: what times stored in the database
 * (a breaker's opening, an event's time) are compared with. */
int64_t core_now_ms(void);

/* Parses "YYYY-MM-DD" (exactly 10 bytes, a real calendar date). 0 or -1. */
int core_date_parse(const char *s, size_t len, int *year, int *month, int *day);

/* Days since 1970-01-01 of a proleptic Gregorian date (no validation). */
int64_t core_days_from_civil(int year, int month, int day);

/* Inverse of core_days_from_civil. */
void core_civil_from_days(int64_t days, int *year, int *month, int *day);

#endif
