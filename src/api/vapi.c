/*
 * The voice agent (API.md, "Vapi"): POST /api/webhooks/vapi. Vapi calls it
 * with server messages while a caller waits on the line. A "tool-calls"
 * message is answered with one sentence per call, in order, to be read
 * aloud; other messages with {}. The router has already checked the
 * organization's Vapi secret (SCOPE_VAPI).
 *
 * Every answer is stored under its toolCallId before it is sent
 * (db_vapi_answer_put), so Vapi's retry of a call gets the same sentence
 * byte for byte; a booking is also stored with the toolCallId as its
 * idempotency key, in its own transaction, so a retry never books twice.
 * The tools themselves are in api/vapi_tools.c. status-update and
 * end-of-call-report are recorded for GET /api/calls.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/params.h"
#include "api/vapi.h"
#include "app.h"
#include "core/time.h"
#include "db/vapi.h"
#include "http/reply.h"
#include "metrics.h"

#define MAX_CALLS 16
#define MAX_CALL_ID 200

static const struct {
    const char *name;
    enum metrics_vapi_tool metric;
    void (*run)(struct vapi_call *call, struct vapi_answer *answer);
} tools[] = {
    {"checkAvailability", VAPI_TOOL_CHECK, api_vapi_check_availability},
    {"bookAppointment", VAPI_TOOL_BOOK, api_vapi_book},
    {"cancelAppointment", VAPI_TOOL_CANCEL, api_vapi_cancel},
    {"rescheduleAppointment", VAPI_TOOL_RESCHEDULE, api_vapi_reschedule},
};

/* A string member of `o` (which may be NULL), or NULL. */
static const char *member_string(json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

/*
 * The name and arguments of one tool call, in any of the shapes Vapi sends:
 * {"id","name","arguments"|"parameters"} or {"id","type":"function",
 * "function":{"name","arguments"}}, the arguments an object or a JSON
 * string of one (under "parameters" too, as some of Vapi's own examples
 * have it). *parsed is a new reference when a string was parsed.
 */
static const char *read_call(json_t *c, json_t **args, json_t **parsed)
{
    json_t *fn = json_object_get(c, "function");
    const char *name = member_string(c, "name");
    json_t *a;

    *parsed = NULL;
    if (!name && json_is_object(fn))
        name = member_string(fn, "name");
    a = json_object_get(c, "arguments");
    if (!a)
        a = json_object_get(c, "parameters");
    if (!a && json_is_object(fn))
        a = json_object_get(fn, "arguments");
    if (!a && json_is_object(fn))
        a = json_object_get(fn, "parameters");
    if (json_is_string(a)) {
        *parsed = json_loads(json_string_value(a), JSON_REJECT_DUPLICATES, NULL);
        a = *parsed;
    }
    *args = a ? a : json_null();
    return name;
}

void api_vapi_say(struct vapi_answer *a, bool error, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(a->text, sizeof a->text, fmt, ap);
    va_end(ap);
    a->error = error;
    /* One line, whatever went into it. */
    for (char *p = a->text; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
}

void api_vapi_say_busy(struct vapi_answer *a)
{
    api_vapi_say(a, true,
                 "I'm sorry, the booking system is not answering right now. Please hold on a "
                 "moment and ask me again.");
    a->failed = true;
}

/*
 * Runs one tool call, or answers its retry with the stored answer, and
 * appends {"toolCallId", "result"|"error"} to `results`.
 */
static void answer_call(struct vapi_call *call, json_t *c, json_t *results)
{
    struct timespec started;
    struct vapi_answer a = {0};
    enum metrics_vapi_tool metric = VAPI_TOOL_UNKNOWN;
    enum metrics_vapi_result outcome = VAPI_RESULT_OK;
    json_t *parsed = NULL;
    struct db_result res;
    char *stored = NULL;
    bool stored_error = false;
    const char *name;

    clock_gettime(CLOCK_MONOTONIC, &started);
    call->tool_call_id = member_string(c, "id");
    name = read_call(c, &call->args, &parsed);
    for (size_t i = 0; name && i < sizeof tools / sizeof tools[0]; i++)
        if (strcmp(name, tools[i].name) == 0)
            metric = tools[i].metric;

    if (!call->tool_call_id || !*call->tool_call_id ||
        strlen(call->tool_call_id) > MAX_CALL_ID) {
        api_vapi_say(&a, true, "I could not tell which request this was; please ask again.");
    } else if (db_vapi_answer_get(call->req->app->pool, call->org.org_id, call->tool_call_id,
                                  &stored_error, &stored, &res) != 0) {
        api_vapi_say_busy(&a);
    } else if (stored) {
        outcome = VAPI_RESULT_REPLAYED;
    } else if (metric == VAPI_TOOL_UNKNOWN) {
        api_vapi_say(&a, true, "Sorry, I can't do that here; I can check times, book, cancel "
                               "or move an appointment.");
    } else if (!json_is_object(call->args)) {
        api_vapi_say(&a, true, "I could not read the details of that request; please ask "
                               "again.");
    } else {
        for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
            if (tools[i].metric == metric)
                tools[i].run(call, &a);
    }

    if (!stored && call->tool_call_id && !a.failed) {
        /* Kept for a retry; a concurrent retry that stored first wins. */
        stored_error = a.error;
        stored = strdup(a.text);
        if (!stored || db_vapi_answer_put(call->req->app->pool, call->org.org_id,
                                          call->tool_call_id, &stored_error, &stored, &res) != 0) {
            free(stored);
            stored = NULL;
        }
    }
    if (stored) {
        a.error = stored_error;
        snprintf(a.text, sizeof a.text, "%s", stored);
    }
    if (outcome != VAPI_RESULT_REPLAYED)
        outcome = a.failed ? VAPI_RESULT_FAILED : a.error ? VAPI_RESULT_ERROR : VAPI_RESULT_OK;
    metrics_vapi_observe(metric, outcome, metrics_seconds_since(&started));
    json_array_append_new(results, json_pack("{s:s, s:s}", "toolCallId",
                                             call->tool_call_id ? call->tool_call_id : "",
                                             a.error ? "error" : "result", a.text));
    free(stored);
    json_decref(parsed);
}

/* The calls of a tool-calls message: message.toolCallList, else the
 * toolCall of each message.toolWithToolCallList item (named by the item
 * when the call has no name). A new reference. */
static json_t *tool_calls(json_t *message)
{
    json_t *list = json_object_get(message, "toolCallList"), *out, *item;
    size_t i;

    if (json_is_array(list))
        return json_incref(list);
    out = json_array();
    json_array_foreach(json_object_get(message, "toolWithToolCallList"), i, item) {
        json_t *call = json_object_get(item, "toolCall"), *copy;
        if (!json_is_object(call))
            continue;
        /* The tool's name may stand beside the call, not in it. */
        copy = json_deep_copy(call);
        if (copy && !json_object_get(copy, "name") &&
            !json_is_object(json_object_get(copy, "function"))) {
            json_t *fn = json_object_get(item, "function");
            const char *name = member_string(item, "name");
            if (!name && json_is_object(fn))
                name = member_string(fn, "name");
            if (name)
                json_object_set_new(copy, "name", json_string(name));
        }
        json_array_append_new(out, copy ? copy : json_null());
    }
    return out;
}

/* An instant Vapi gave as ms since the epoch or as an ISO string; 0 if
 * neither. */
static int64_t instant(json_t *v)
{
    int64_t ms = 0;
    const char *s = json_string_value(v);

    if (json_is_integer(v) && json_integer_value(v) > 0)
        return (int64_t)json_integer_value(v);
    if (json_is_real(v) && json_real_value(v) > 0)
        return (int64_t)json_real_value(v);
    return s && core_rfc3339_parse(s, strlen(s), &ms) == 0 ? ms : 0;
}

/* A short status-like word from Vapi: kept when it is at most `max`
 * characters of letters, digits and '-', '_', '.'; else NULL. */
static const char *word(json_t *v, size_t max)
{
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > max)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
            return NULL;
    return s;
}

/*
 * status-update and end-of-call-report, recorded for GET /api/calls: the
 * status, when the call started and ended, and why it ended. Nothing else
 * of the message (it carries the transcript, recordings and the caller's
 * number) is read. The call object inside is a snapshot from the call's
 * creation, so times come from the message itself. Best effort: Vapi does
 * not retry these, and the caller is not waiting on them.
 */
static void record_call(struct http_request *req, json_t *message, const char *type)
{
    const char *call_id = member_string(json_object_get(message, "call"), "id");
    const char *status = NULL, *reason = word(json_object_get(message, "endedReason"), 100);
    int64_t started = 0, ended = 0, at = instant(json_object_get(message, "timestamp"));
    struct db_result res;

    if (!call_id || !*call_id || strlen(call_id) > MAX_CALL_ID)
        return;
    if (strcmp(type, "end-of-call-report") == 0) {
        status = "ended";
        started = instant(json_object_get(message, "startedAt"));
        ended = instant(json_object_get(message, "endedAt"));
        if (!ended)
            ended = at;
    } else if (strcmp(type, "status-update") == 0) {
        status = word(json_object_get(message, "status"), 40);
        if (status && strcmp(status, "in-progress") == 0)
            started = at;
        if (status && strcmp(status, "ended") == 0)
            ended = at;
    }
    if (!status)
        return;
    db_vapi_record_call(req->app->pool, req->auth.org_id, call_id, status, started, ended,
                        reason, &res);
}

void api_vapi_webhook(struct http_request *req, struct http_response *resp)
{
    json_t *message = json_object_get(req->json, "message"), *calls, *results, *c;
    json_t *vapi_call = json_object_get(message, "call");
    const char *type = member_string(message, "type");
    struct vapi_call call = {.req = req, .org = api_org(req)};
    size_t i;

    if (!json_is_object(message)) {
        http_reply_invalid(resp, "message", "message must be an object (a Vapi server message).");
        return;
    }
    if (!type) {
        http_reply_invalid(resp, "message.type", "message.type must be a string.");
        return;
    }
    if (strcmp(type, "tool-calls") != 0) {
        record_call(req, message, type);
        http_reply_json(resp, 200, json_object());
        return;
    }
    call.call_id = member_string(vapi_call, "id");
    if (call.call_id && (!*call.call_id || strlen(call.call_id) > MAX_CALL_ID))
        call.call_id = NULL;
    call.caller = member_string(json_object_get(vapi_call, "customer"), "number");
    if (!call.caller)
        call.caller = member_string(json_object_get(message, "customer"), "number");

    calls = tool_calls(message);
    results = json_array();
    json_array_foreach(calls, i, c) {
        if (i >= MAX_CALLS) {
            json_array_append_new(
                results, json_pack("{s:s, s:s}", "toolCallId",
                                   member_string(c, "id") ? member_string(c, "id") : "",
                                   "error", "That is too many requests at once; please ask "
                                            "again one at a time."));
            continue;
        }
        answer_call(&call, json_is_object(c) ? c : json_null(), results);
    }
    json_decref(calls);
    http_reply_json(resp, 200, json_pack("{s:o}", "results", results));
}

void api_vapi_calls_list(struct http_request *req, struct http_response *resp)
{
    int limit = 50;
    json_t *calls = NULL;
    struct db_result res;

    if (!api_query_int(req, resp, "limit", false, 1, 500, &limit, NULL))
        return;
    db_vapi_call_list(req->app->pool, req->auth.org_id, limit, &calls, &res);
    api_reply_list(resp, "calls", calls, &res);
}
