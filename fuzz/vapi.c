/*
 * libFuzzer target for the voice agent's webhook (src/api/vapi.c): any
 * bytes as the body of POST /api/webhooks/vapi, parsed as the server
 * parses a body, then
 *   - api_vapi_webhook itself, whole: message and type checks, the tool
 *     calls in every shape Vapi sends (toolCallList, toolWithToolCallList,
 *     name or function.name, arguments as an object or a JSON string, or
 *     parameters), one job per call, and status-update and
 *     end-of-call-report (times, status words);
 *   - each call's tool (src/api/vapi_tools.c) run directly on its
 *     arguments, since the webhook only reaches a tool once a stored
 *     answer has been looked for: the argument readers (times, dates,
 *     ids, durations, phone, e-mail, text) up to their first query.
 * The database is down (a pool whose server cannot be reached), so every
 * query fails fast and the code answers as it does when PostgreSQL is away.
 *
 * vapi.c is #included: tool_calls, find_tool and call_args are static.
 * Fuzzing only.
 *
 * Checked beyond the sanitizers: the answer is 200 (or 400 for a message
 * that is not one) with a JSON body; a tool-calls message gets exactly
 * one result per call, each with its toolCallId and one sentence; every
 * sentence a tool says is one line of valid UTF-8.
 *
 * It found: instant() cast a JSON real "timestamp", "startedAt" or
 * "endedAt" to int64_t unchecked, undefined for a value past 2^63
 * ("startedAt": 1e300 in an end-of-call-report); it now takes instants up
 * to the year 9999 only.
 */
#include "api/vapi.c"

#include "config.h"
#include "core/validate.h"
#include "log.h"

#define ORG_ID "5b2f7c1e-93a4-4d6b-8e0f-1c7a9d3e4b62"
#define PROVIDER_ID "0c9d6a4e-1b2f-4c3d-8e5f-a6b7c8d9e0f1"

static struct app app;

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
    log_set_level((enum log_level)(LOG_ERROR + 1));
    if (config_load(&app.cfg, 0, NULL, 0) != 0)
        abort();
    /* No server behind this: every acquire fails at once. */
    app.pool = db_pool_new("host=/nonexistent/bookd-fuzz dbname=bookd connect_timeout=1", 1, 0, 0);
    /* A secret still to be checked is looked up through it (and fails fast). */
    app.auth = http_auth_cache_new(NULL, 1);
    if (!app.pool || !app.auth)
        abort();
    return 0;
}

/* One sentence to read aloud: one line of valid UTF-8. */
static void sentence(const struct vapi_answer *a)
{
    size_t n = strnlen(a->text, sizeof a->text);
    check(n > 0 && n < sizeof a->text);
    check(core_text_valid(a->text, n, sizeof a->text));
    check(strpbrk(a->text, "\r\n\t") == NULL);
}

static void run_tools(json_t *message)
{
    json_t *calls = tool_calls(message), *c;
    size_t i;

    json_array_foreach(calls, i, c)
    {
        const struct tool *tool = find_tool(c);
        const char *id = member_string(c, "id");
        struct vapi_call call = {.app = &app,
                                 .secret = VAPI_SECRET_CHECKED, /* looked up by the router */
                                 .org = {ORG_ID, PROVIDER_ID},
                                 .timezone = "Europe/London",
                                 .call_id = "call-1",
                                 .caller = "+447700900123",
                                 .tool_call_id = id && *id ? id : "tool-call-1"};
        struct vapi_answer a = {0};
        json_t *parsed;

        if (i >= MAX_CALLS)
            break;
        if (!tool || !json_is_object(c))
            continue;
        call.args = call_args(c, &parsed);
        if (json_is_object(call.args)) {
            tool->run(&call, &a);
            sentence(&a);
        }
        json_decref(parsed);
    }
    json_decref(calls);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_request req;
    struct http_response resp;
    json_t *body, *message, *answer, *results, *r, *calls;
    const char *type;
    size_t i;

    body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    req.method = HTTP_POST;
    req.path = "/api/webhooks/vapi";
    req.json = body;
    req.app = &app;
    req.auth.principal = PRINCIPAL_VAPI;
    snprintf(req.auth.org_id, sizeof req.auth.org_id, "%s", ORG_ID);
    snprintf(req.auth.default_provider_id, sizeof req.auth.default_provider_id, "%s", PROVIDER_ID);
    snprintf(req.auth.timezone, sizeof req.auth.timezone, "Europe/London");
    snprintf(req.auth.actor, sizeof req.auth.actor, "vapi");

    api_vapi_webhook(&req, &resp);
    check(resp.status == 200 || resp.status == 400);
    answer = json_loadb(resp.body, resp.body_len, 0, NULL);
    check(json_is_object(answer));

    message = json_object_get(body, "message");
    type = member_string(message, "type");
    if (resp.status == 200 && type && strcmp(type, "tool-calls") == 0) {
        calls = tool_calls(message);
        results = json_object_get(answer, "results");
        check(json_array_size(results) == json_array_size(calls));
        json_array_foreach(results, i, r)
        {
            check(json_is_string(json_object_get(r, "toolCallId")));
            check(json_is_string(json_object_get(r, "result")) !=
                  json_is_string(json_object_get(r, "error")));
        }
        json_decref(calls);
        run_tools(message);
    }
    json_decref(answer);
    free(resp.body);
    json_decref(body);
    return 0;
}
