/*
 * libFuzzer target for what a request body and query string meet before a
 * handler touches the database: any bytes as the body of a JSON route,
 * through the server's own parse_body (src/http/server.c: jansson with
 * duplicates refused and NUL let through, orgId checked, and for a body
 * jansson refuses, reply_not_json and member_at, which walk the raw bytes
 * to name the field at fault), then every field reader of src/api/params.c
 * over the fields the API reads (strings, ids, times, integers, metadata,
 * unknown fields) and the checks handlers make after them
 * (src/core/validate.c: e-mail, E.164 phone; src/core/netaddr.c: a webhook
 * URL). The same bytes up to a NUL are also every query parameter and the
 * Idempotency-Key header, for api_query_* and api_header_idempotency_key.
 *
 * server.c and params.c are #included: parse_body is static, and the
 * query and header lookups that params.c calls (libmicrohttpd's, given a
 * connection) are swapped for this file's by a macro around the include.
 * Fuzzing only; nothing else builds this way.
 *
 * Checked beyond the sanitizers: a refused body or field is a 400 (403 for
 * another organization's orgId) with a JSON body, never a 500; what a
 * reader hands out is what its check promised.
 *
 * It found: jansson quotes the text near a syntax error in its message and
 * cuts it at a byte, so the message could end in part of a UTF-8 character
 * ({"notes":"\X"} with U+05C8 for X), which made the 400 a 500; error
 * messages are now mended to UTF-8 (http/reply.c).
 */
#include "http/server.c"

static const char *fuzz_http_query(const struct http_request *req, const char *name);
static const char *fuzz_http_header(const struct http_request *req, const char *name);
#define http_query fuzz_http_query
#define http_header fuzz_http_header
#include "api/params.c"
#undef http_query
#undef http_header

#include "core/netaddr.h"

#define ORG_ID "5b2f7c1e-93a4-4d6b-8e0f-1c7a9d3e4b62"
#define METADATA_MAX_BYTES 8192 /* as src/api/appointments.c */

/* The query parameters' and the header's value, or NULL for none. */
static const char *fake_value;

static const char *fuzz_http_query(const struct http_request *req, const char *name)
{
    (void)req;
    (void)name;
    return fake_value;
}

static const char *fuzz_http_header(const struct http_request *req, const char *name)
{
    (void)req;
    (void)name;
    return fake_value;
}

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* A reader said no: a 400 naming the problem, in JSON. */
static void refused(struct http_response *resp)
{
    check(resp->status == 400 && resp->body != NULL && resp->body_len > 0);
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

/* Each reader on its own field, as the handlers call them. */
static void read_fields(struct http_request *req)
{
    static const char *const known[] = {"contactId",   "providerId",      "serviceId", "holdId",
                                        "scheduledAt", "durationMinutes", "notes",     "metadata",
                                        "name",        "phone",           "email",     "url",
                                        NULL};
    static const char *const ids[] = {"contactId", "providerId", "serviceId", "holdId"};
    static const char *const times[] = {"scheduledAt", "newScheduledAt"};
    struct http_response resp = {0};
    const char *s = NULL;
    char id[DB_ID_SIZE], why[256];
    int64_t ms;
    int n;
    bool present;
    char *text = NULL;

    if (!api_body_only_fields(req, &resp, known))
        refused(&resp);
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if (api_body_uuid(req, &resp, ids[i], false, id, &present)) {
            if (present)
                check(strlen(id) == CORE_UUID_LEN &&
                      core_uuid_normalize(id, strlen(id), NULL) == 0);
        } else {
            refused(&resp);
        }
    }
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
        if (!api_body_time(req, &resp, times[i], false, &ms))
            refused(&resp);
    if (!api_body_int(req, &resp, "durationMinutes", false, CORE_DURATION_MIN, CORE_DURATION_MAX,
                      &n, &present))
        refused(&resp);
    else if (present)
        check(n >= CORE_DURATION_MIN && n <= CORE_DURATION_MAX);
    if (!api_body_required(req, &resp, "name"))
        refused(&resp);

    s = NULL;
    if (!api_body_string(req, &resp, "notes", false, CORE_NOTES_MAX_CHARS, &s))
        refused(&resp);
    else if (s)
        check(core_text_valid(s, strlen(s), CORE_NOTES_MAX_CHARS));
    s = NULL;
    if (!api_body_string(req, &resp, "name", false, CORE_NAME_MAX_CHARS, &s))
        refused(&resp);
    s = NULL;
    if (api_body_string(req, &resp, "phone", false, 16, &s)) {
        if (s)
            core_phone_valid(s, strlen(s));
    } else {
        refused(&resp);
    }
    s = NULL;
    if (api_body_string(req, &resp, "email", false, CORE_EMAIL_MAX_LEN, &s)) {
        if (s && core_email_valid(s, strlen(s)))
            check(strlen(s) <= CORE_EMAIL_MAX_LEN && strchr(s, '@') != NULL);
    } else {
        refused(&resp);
    }
    s = NULL;
    if (api_body_string(req, &resp, "url", false, CORE_URL_MAX, &s)) {
        struct core_url_info info;
        if (s && core_webhook_url_check(s, strlen(s), false, &info, why, sizeof why) != 0) {
            http_reply_invalid(&resp, "url", "%s", why);
            refused(&resp);
        }
    } else {
        refused(&resp);
    }
    if (api_body_object(req, &resp, "metadata", METADATA_MAX_BYTES, &text)) {
        if (text)
            check(strlen(text) <= METADATA_MAX_BYTES);
        free(text);
    } else {
        refused(&resp);
    }
    free(resp.body);
}

/* The bytes up to a NUL as a query parameter's and a header's value. */
static void read_query(struct http_request *req, const char *value)
{
    struct http_response resp = {0};
    char id[DB_ID_SIZE];
    int64_t ms;
    int n;
    bool present, bad;

    fake_value = value;
    if (!api_query_int(req, &resp, "limit", false, 1, 500, &n, &present))
        refused(&resp);
    else if (present)
        check(n >= 1 && n <= 500);
    if (!api_query_uuid(req, &resp, "providerId", false, id, &present))
        refused(&resp);
    if (!api_query_time(req, &resp, "from", false, &ms, &present))
        refused(&resp);
    if (api_header_idempotency_key(req, &resp, &bad) == NULL && bad)
        refused(&resp);
    fake_value = NULL;
    free(resp.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct http_route route = {HTTP_POST, "/api/appointments", SCOPE_PUBLIC, NULL,
                                            true};
    struct http_request req;
    struct http_response resp;
    /* As the server keeps a body: its bytes and a NUL after them. */
    char *body = malloc(size + 1);

    if (!body)
        return 0;
    memcpy(body, data, size);
    body[size] = '\0';
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    req.method = HTTP_POST;
    req.path = route.pattern;
    req.body = body;
    req.body_len = size;
    snprintf(req.auth.org_id, sizeof req.auth.org_id, "%s", ORG_ID);

    if (parse_body(&route, &req, &resp)) {
        check(json_is_object(req.json));
        read_fields(&req);
    } else {
        check((resp.status == 400 || resp.status == 403) && resp.body != NULL);
        json_t *answer = json_loadb(resp.body, resp.body_len, 0, NULL);
        check(json_is_string(json_object_get(answer, "message")));
        json_decref(answer);
    }
    json_decref(req.json);
    free(resp.body);

    read_query(&req, body);
    free(body);
    return 0;
}
