#include "api/params.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "core/validate.h"
#include "http/reply.h"

bool api_body_only_fields(struct http_request *req, struct http_response *resp,
                          const char *const *allowed)
{
    const char *key;
    json_t *value;

    json_object_foreach(req->json, key, value) {
        bool known = strcmp(key, "orgId") == 0;
        for (const char *const *a = allowed; *a && !known; a++)
            known = strcmp(key, *a) == 0;
        if (!known) {
            /* The name is echoed only if it is plain text; it is the
             * client's own input, but keep the message well-formed. */
            bool printable = core_text_valid(key, strlen(key), 64);
            http_reply_invalid(resp, printable ? key : NULL, "Unknown field%s%s%s.",
                               printable ? " \"" : "", printable ? key : "",
                               printable ? "\"" : "");
            return false;
        }
    }
    (void)value;
    return true;
}

/* The field, or NULL when absent or null; replies when required. */
static json_t *field(struct http_request *req, struct http_response *resp, const char *name,
                     bool required, bool *ok)
{
    json_t *v = json_object_get(req->json, name);
    *ok = true;
    if (v && !json_is_null(v))
        return v;
    if (required) {
        http_reply_invalid(resp, name, "%s is required.", name);
        *ok = false;
    }
    return NULL;
}

bool api_body_required(struct http_request *req, struct http_response *resp, const char *name)
{
    bool ok;
    field(req, resp, name, true, &ok);
    return ok;
}

static void reply_bad_time(struct http_response *resp, const char *name)
{
    http_reply_invalid(resp, name,
                       "%s must be an RFC 3339 timestamp with an offset, e.g. "
                       "2026-01-27T14:00:00Z.",
                       name);
}

bool api_body_string(struct http_request *req, struct http_response *resp, const char *name,
                     bool required, size_t max_chars, const char **out)
{
    bool ok;
    json_t *v = field(req, resp, name, required, &ok);
    if (!v)
        return ok;
    if (!json_is_string(v)) {
        http_reply_invalid(resp, name, "%s must be a string.", name);
        return false;
    }
    if (!core_text_valid(json_string_value(v), json_string_length(v), max_chars)) {
        http_reply_invalid(resp, name,
                           "%s must be valid text without NUL characters, at most %zu "
                           "characters.",
                           name, max_chars);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

bool api_body_int(struct http_request *req, struct http_response *resp, const char *name,
                  bool required, long long lo, long long hi, int *out, bool *present)
{
    bool ok;
    json_t *v = field(req, resp, name, required, &ok);
    if (present)
        *present = v != NULL;
    if (!v)
        return ok;
    if (!json_is_integer(v) || !core_int_in_range(json_integer_value(v), lo, hi)) {
        http_reply_invalid(resp, name, "%s must be an integer from %lld to %lld.", name, lo, hi);
        return false;
    }
    *out = (int)json_integer_value(v);
    return true;
}

bool api_body_uuid(struct http_request *req, struct http_response *resp, const char *name,
                   bool required, char *out, bool *present)
{
    bool ok;
    json_t *v = field(req, resp, name, required, &ok);
    if (present)
        *present = v != NULL;
    if (!v)
        return ok;
    if (!json_is_string(v) ||
        core_uuid_normalize(json_string_value(v), json_string_length(v), out) != 0) {
        http_reply_invalid(resp, name, "%s must be a UUID.", name);
        return false;
    }
    return true;
}

bool api_body_time(struct http_request *req, struct http_response *resp, const char *name,
                   bool required, int64_t *out_ms)
{
    bool ok;
    json_t *v = field(req, resp, name, required, &ok);
    if (!v)
        return ok;
    if (!json_is_string(v) ||
        core_rfc3339_parse(json_string_value(v), json_string_length(v), out_ms) != 0) {
        reply_bad_time(resp, name);
        return false;
    }
    return true;
}

/* Numbers beyond this are not exact in a JavaScript client and, past 2^63,
 * not readable back at all once PostgreSQL has stored them. */
#define SAFE_INTEGER 9007199254740992.0 /* 2^53 */
#define METADATA_MAX_DEPTH 32

/* Why `v` cannot be stored and read back as given, or NULL. */
static const char *metadata_problem(json_t *v, int depth)
{
    const char *key, *why;
    json_t *item;
    size_t i;

    if (depth > METADATA_MAX_DEPTH)
        return "is nested too deeply";
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        json_object_foreach(v, key, item) {
            /* A NUL inside a key or a string would be cut by PostgreSQL. */
            if (strlen(key) != json_object_iter_key_len(json_object_key_to_iter(key)))
                return "must not contain NUL characters";
            if ((why = metadata_problem(item, depth + 1)) != NULL)
                return why;
        }
        return NULL;
    case JSON_ARRAY:
        json_array_foreach(v, i, item) {
            if ((why = metadata_problem(item, depth + 1)) != NULL)
                return why;
        }
        return NULL;
    case JSON_STRING:
        return memchr(json_string_value(v), 0, json_string_length(v))
                   ? "must not contain NUL characters"
                   : NULL;
    case JSON_INTEGER:
    case JSON_REAL:
        return fabs(json_number_value(v)) >= SAFE_INTEGER
                   ? "must hold numbers between -2^53 and 2^53"
                   : NULL;
    default:
        return NULL;
    }
}

bool api_body_object(struct http_request *req, struct http_response *resp, const char *name,
                     size_t max_bytes, char **out_text)
{
    bool ok;
    json_t *v = field(req, resp, name, false, &ok);
    const char *why;
    char *text;
    if (!v)
        return ok;
    if (!json_is_object(v)) {
        http_reply_invalid(resp, name, "%s must be a JSON object.", name);
        return false;
    }
    if ((why = metadata_problem(v, 0)) != NULL) {
        http_reply_invalid(resp, name, "%s %s.", name, why);
        return false;
    }
    text = json_dumps(v, JSON_COMPACT | HTTP_JSON_REAL_PRECISION);
    if (!text || strlen(text) > max_bytes) {
        free(text);
        http_reply_invalid(resp, name, "%s must be at most %zu bytes.", name, max_bytes);
        return false;
    }
    *out_text = text;
    return true;
}

bool api_query_int(struct http_request *req, struct http_response *resp, const char *name,
                   bool required, long long lo, long long hi, int *out, bool *present)
{
    const char *v = http_query(req, name);
    char *end;
    long long n;

    if (present)
        *present = v != NULL;
    if (!v) {
        if (required)
            http_reply_invalid(resp, name, "%s is required.", name);
        return !required;
    }
    errno = 0;
    n = strtoll(v, &end, 10);
    if (!*v || *end || errno || !core_int_in_range(n, lo, hi)) {
        http_reply_invalid(resp, name, "%s must be an integer from %lld to %lld.", name, lo, hi);
        return false;
    }
    *out = (int)n;
    return true;
}

bool api_query_uuid(struct http_request *req, struct http_response *resp, const char *name,
                    bool required, char *out, bool *present)
{
    const char *v = http_query(req, name);
    if (present)
        *present = v != NULL;
    if (!v) {
        if (required)
            http_reply_invalid(resp, name, "%s is required.", name);
        return !required;
    }
    if (core_uuid_normalize(v, strlen(v), out) != 0) {
        http_reply_invalid(resp, name, "%s must be a UUID.", name);
        return false;
    }
    return true;
}

bool api_query_time(struct http_request *req, struct http_response *resp, const char *name,
                    bool required, int64_t *out_ms, bool *present)
{
    const char *v = http_query(req, name);
    char copy[64];
    size_t len;

    if (present)
        *present = v != NULL;
    if (!v) {
        if (required)
            http_reply_invalid(resp, name, "%s is required.", name);
        return !required;
    }
    /* An unencoded "+01:00" in a query string arrives as " 01:00". */
    len = strlen(v);
    if (len < sizeof copy) {
        memcpy(copy, v, len + 1);
        if (len > 6 && copy[len - 6] == ' ')
            copy[len - 6] = '+';
    }
    if (len >= sizeof copy || core_rfc3339_parse(copy, len, out_ms) != 0) {
        reply_bad_time(resp, name);
        return false;
    }
    return true;
}

bool api_query_date(struct http_request *req, struct http_response *resp, const char *name,
                    int64_t *days)
{
    const char *date = http_query(req, name);
    int y, m, d;

    if (!date) {
        http_reply_invalid(resp, name, "%s is required (YYYY-MM-DD).", name);
        return false;
    }
    if (core_date_parse(date, strlen(date), &y, &m, &d) != 0) {
        http_reply_invalid(resp, name, "%s must be a calendar date, YYYY-MM-DD.", name);
        return false;
    }
    *days = core_days_from_civil(y, m, d);
    return true;
}

bool api_query_date_range(struct http_request *req, struct http_response *resp, int max_days)
{
    int64_t from, to;

    if (!api_query_date(req, resp, "from", &from) || !api_query_date(req, resp, "to", &to))
        return false;
    if (to < from || to - from >= max_days) {
        http_reply_invalid(resp, "to", "to must be on or after from, and at most %d days after it.",
                           max_days - 1);
        return false;
    }
    return true;
}

const char *api_header_idempotency_key(struct http_request *req, struct http_response *resp,
                                       bool *bad)
{
    const char *key = http_header(req, "Idempotency-Key");
    size_t len;

    *bad = false;
    if (!key)
        return NULL;
    len = strlen(key);
    for (size_t i = 0; i < len && !*bad; i++)
        *bad = key[i] < 0x20 || key[i] > 0x7e;
    if (len == 0 || len > 255 || *bad) {
        *bad = true;
        http_reply_invalid(resp, "Idempotency-Key",
                           "Idempotency-Key must be 1 to 255 printable ASCII characters.");
        return NULL;
    }
    return key;
}
