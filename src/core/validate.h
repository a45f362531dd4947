/*
 * Validation of the small formats that clients send: UUIDs, E.164 phone
 * numbers, e-mail addresses and bounded text. Pure functions, no I/O.
 */
#ifndef BOOKD_CORE_VALIDATE_H
#define BOOKD_CORE_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#define CORE_UUID_LEN 36
#define CORE_NOTES_MAX_CHARS 2000
#define CORE_NAME_MAX_CHARS 200
#define CORE_EMAIL_MAX_LEN 254
#define CORE_DURATION_MIN 1
#define CORE_DURATION_MAX 1440
#define CORE_BUFFER_MAX 240

/*
 * Canonical 8-4-4-4-12 hex UUID, either case. On success writes the
 * lower-case form plus NUL into `out` (CORE_UUID_LEN + 1 bytes) and
 * returns 0; otherwise -1. `out` may be NULL to only check.
 */
int core_uuid_normalize(const char *s, size_t len, char *out);

/* "+" then 7 to 15 digits, the first not 0 (E.164). */
bool core_phone_valid(const char *s, size_t len);

/*
 * A plausible address: local@domain, at most 254 bytes, local part at
 * most 64 bytes of printable ASCII without spaces or specials that need
 * quoting, domain of dot-separated labels (letters, digits, hyphen, not at
 * a label's ends) with at least one dot and a last label of letters.
 */
bool core_email_valid(const char *s, size_t len);

/*
 * Valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF),
 * no NUL byte, and at most `max_chars` code points.
 */
bool core_text_valid(const char *s, size_t len, size_t max_chars);

/* lo <= v <= hi */
bool core_int_in_range(long long v, long long lo, long long hi);

#endif
