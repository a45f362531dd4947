/*
 * Validation of client-supplied UUIDs, E.164 phone numbers, e-mail
 * addresses and bounded UTF-8 text. Byte-wise ASCII classification only
 * (no <ctype.h>, so no locale), every loop bounded by the given length.
 */
#include "core/validate.h"

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(unsigned char c)
{
    return is_digit(c) || is_alpha(c);
}

static bool is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * The whole input is checked before anything is written, so `out` may be
 * the same buffer as `s` (normalizing in place).
 */
int core_uuid_normalize(const char *s, size_t len, char *out)
{
    bool ok = s && len == CORE_UUID_LEN;

    for (size_t i = 0; ok && i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (i == 8 || i == 13 || i == 18 || i == 23)
            ok = c == '-';
        else
            ok = is_hex(c);
    }
    if (!ok) {
        if (out)
            out[0] = '\0';
        return -1;
    }
    if (out) {
        for (size_t i = 0; i < CORE_UUID_LEN; i++) {
            unsigned char c = (unsigned char)s[i];

            out[i] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
        }
        out[CORE_UUID_LEN] = '\0';
    }
    return 0;
}

bool core_phone_valid(const char *s, size_t len)
{
    /* "+" and 7 to 15 digits: 8 to 16 bytes in all. */
    if (!s || len < 8 || len > 16 || s[0] != '+' || s[1] == '0')
        return false;
    for (size_t i = 1; i < len; i++) {
        if (!is_digit((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* RFC 5322 atext: what a dot-atom local part may hold besides dots. */
static bool is_atext(unsigned char c)
{
    if (is_alnum(c))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
        return true;
    default:
        return false;
    }
}

/*
 * A dot-atom: atext runs separated by single dots. A leading, trailing or
 * doubled dot would need quoting, so it is refused like any special.
 */
static bool local_part_valid(const char *p, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c == '.') {
            if (i == 0 || i == n - 1 || p[i - 1] == '.')
                return false;
        } else if (!is_atext(c)) {
            return false;
        }
    }
    return true;
}

/*
 * Dot-separated labels of letters, digits and hyphens, no hyphen at either
 * end of a label, at most 63 bytes per label (the DNS limit), at least two
 * labels, and a last label (the top-level domain) of letters only.
 */
static bool domain_valid(const char *p, size_t n)
{
    size_t start = 0;
    size_t dots = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '.') {
            unsigned char c = (unsigned char)p[i];

            if (!is_alnum(c) && c != '-')
                return false;
            continue;
        }
        /* A label ends at p[i - 1]. */
        size_t label_len = i - start;

        if (label_len == 0 || label_len > 63 || p[start] == '-' || p[i - 1] == '-')
            return false;
        if (i == n) {
            for (size_t k = start; k < n; k++) {
                if (!is_alpha((unsigned char)p[k]))
                    return false;
            }
        } else {
            dots++;
        }
        start = i + 1;
    }
    return dots >= 1;
}

bool core_email_valid(const char *s, size_t len)
{
    size_t at = 0;

    if (!s || len == 0 || len > CORE_EMAIL_MAX_LEN)
        return false;
    /* The first '@' splits; any later one is refused by domain_valid(). */
    while (at < len && s[at] != '@')
        at++;
    if (at == len)
        return false;
    return local_part_valid(s, at) && domain_valid(s + at + 1, len - at - 1);
}

/*
 * Length in bytes of the well-formed UTF-8 sequence at p (at most n bytes
 * available), or 0 if it is ill-formed. Follows the table of well-formed
 * byte sequences in the Unicode Standard (section 3.9, table 3-7): the
 * narrowed second-byte ranges after E0, ED, F0 and F4 are what exclude
 * overlongs, surrogates (U+D800-U+DFFF) and code points above U+10FFFF.
 */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        /* 80-BF: a lone continuation; C0, C1, F5-FF: never valid. */
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    }
    return len;
}

bool core_text_valid(const char *s, size_t len, size_t max_chars)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t chars = 0;
    size_t i = 0;

    if (!s)
        return len == 0;
    while (i < len) {
        size_t n;

        if (p[i] == 0)
            return false;
        n = utf8_seq_len(p + i, len - i);
        if (n == 0 || ++chars > max_chars)
            return false;
        i += n;
    }
    return true;
}

bool core_int_in_range(long long v, long long lo, long long hi)
{
    return lo <= v && v <= hi;
}
