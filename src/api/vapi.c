/*
 * The voice agent (API.md, "Vapi"): POST /api/webhooks/vapi. Vapi calls it
 * with server messages while a caller waits on the line. A "tool-calls"
 * message is answered with one sentence per call, in order, to be read
 * aloud; other messages with {}. The router has already found the
 * organization's Vapi secret (SCOPE_VAPI); one it found in its cache is
 * checked before the request writes or answers anything from the database
 * (api_vapi_secret_check, or vapi_book itself), and answered 401 if a
 * rotation replaced it.
 *
 * Every answer is stored under its toolCallId before it is sent
 * (db_vapi_answer_put), so Vapi's retry of a call gets the same sentence
 * byte for byte; a booking is also stored with the toolCallId as its
 * idempotency key, in its own transaction, so a retry never books twice.
 * The tools themselves are in api/vapi_tools.c. status-update and
 * end-of-call-report are recorded for GET /api/calls.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/params.h"
#include "api/vapi.h"
#include "app.h"
#include "core/time.h"
#include "core/workers.h"
#include "db/vapi.h"
#include "http/auth.h"
#include "http/reply.h"
#include "metrics.h"

#define MAX_CALLS 16
#define MAX_CALL_ID 200
/* Tool calls running at once in this process, late ones included: past
 * this the database is clearly not keeping up, and a caller is asked to
 * hold on rather than given one more thread. */
#define MAX_JOBS 64

static atomic_int live_jobs;

/* stores_own: the tool looks for a retry's answer and stores its own in
 * its transaction (one round trip on the voice agent's hot path). */
struct tool {
    const char *name;
    enum metrics_vapi_tool metric;
    void (*run)(struct vapi_call *call, struct vapi_answer *answer);
    bool stores_own;
};
static const struct tool tools[] = {
    {"checkAvailability", VAPI_TOOL_CHECK, api_vapi_check_availability, false},
    {"bookAppointment", VAPI_TOOL_BOOK, api_vapi_book, true},
    {"cancelAppointment", VAPI_TOOL_CANCEL, api_vapi_cancel, false},
    {"rescheduleAppointment", VAPI_TOOL_RESCHEDULE, api_vapi_reschedule, false},
};

/* A string member of `o` (which may be NULL), or NULL. */
static const char *member_string(json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

/*
 * The tool a call names, in any of the shapes Vapi sends: {"id","name",
 * "arguments"|"parameters"} or {"id","type":"function","function":{"name",
 * "arguments"}}; NULL for a tool bookd does not have.
 */
static const struct tool *find_tool(json_t *c)
{
    json_t *fn = json_object_get(c, "function");
    const char *name = member_string(c, "name");

    if (!name && json_is_object(fn))
        name = member_string(fn, "name");
    for (size_t i = 0; name && i < sizeof tools / sizeof tools[0]; i++)
        if (strcmp(name, tools[i].name) == 0)
            return &tools[i];
    return NULL;
}

static enum metrics_vapi_tool tool_metric(json_t *c)
{
    const struct tool *t = find_tool(c);
    return t ? t->metric : VAPI_TOOL_UNKNOWN;
}

/*
 * A call's arguments: an object, or a JSON string of one, under
 * "arguments" or "parameters", of the call or of its "function" (some of
 * Vapi's own examples have function.parameters). *parsed is a new
 * reference when a string was parsed.
 */
static json_t *call_args(json_t *c, json_t **parsed)
{
    json_t *fn = json_object_get(c, "function");
    json_t *a = json_object_get(c, "arguments");

    *parsed = NULL;
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
    return a ? a : json_null();
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

bool api_vapi_secret_check(struct vapi_call *call, struct vapi_answer *a)
{
    if (call->secret == VAPI_SECRET_UNCHECKED) {
        switch (http_vapi_secret_check(call->app, call->secret_hash, call->org.org_id)) {
        case AUTH_OK:
            call->secret = VAPI_SECRET_CHECKED;
            break;
        case AUTH_UNAVAILABLE:
            api_vapi_say_busy(a);
            return false;
        default:
            call->secret = VAPI_SECRET_REFUSED;
            break;
        }
    }
    if (call->secret == VAPI_SECRET_REFUSED) {
        a->failed = true;
        return false;
    }
    return true;
}

/*
 * Runs one tool call, or answers its retry with the stored answer, into
 * *a; the call's id is in call->tool_call_id, `c` is the call. The secret
 * is checked before the database is asked anything (bookAppointment's
 * vapi_book checks it itself) and before the answer is stored.
 */
static void answer_call(struct vapi_call *call, json_t *c, struct vapi_answer *a)
{
    struct timespec started;
    const struct tool *tool = find_tool(c);
    enum metrics_vapi_result outcome = VAPI_RESULT_OK;
    json_t *parsed;
    struct db_result res;
    char *stored = NULL;
    bool stored_error = false;

    clock_gettime(CLOCK_MONOTONIC, &started);
    call->args = call_args(c, &parsed);
    if (!call->tool_call_id) {
        api_vapi_say(a, true, "I could not tell which request this was; please ask again.");
    } else if (!(tool && tool->stores_own) && !api_vapi_secret_check(call, a)) {
        /* refused, or not looked up: answered so */
    } else if (!(tool && tool->stores_own) &&
               db_vapi_answer_get(call->app->pool, call->org.org_id, call->tool_call_id,
                                  &stored_error, &stored, &res) != 0) {
        api_vapi_say_busy(a);
    } else if (stored) {
        outcome = VAPI_RESULT_REPLAYED;
    } else if (!tool) {
        api_vapi_say(a, true, "Sorry, I can't do that here; I can check times, book, cancel "
                              "or move an appointment.");
    } else if (!json_is_object(call->args)) {
        api_vapi_say(a, true, "I could not read the details of that request; please ask "
                              "again.");
    } else {
        tool->run(call, a);
    }

    if (a->replayed)
        outcome = VAPI_RESULT_REPLAYED;
    if (!stored && call->tool_call_id && !a->failed && !a->stored &&
        api_vapi_secret_check(call, a)) {
        /* Kept for a retry; a concurrent retry that stored first wins. */
        stored_error = a->error;
        stored = strdup(a->text);
        if (!stored || db_vapi_answer_put(call->app->pool, call->org.org_id, call->tool_call_id,
                                          &stored_error, &stored, &res) != 0) {
            free(stored);
            stored = NULL;
        }
    }
    if (stored) {
        a->error = stored_error;
        snprintf(a->text, sizeof a->text, "%s", stored);
    }
    if (outcome != VAPI_RESULT_REPLAYED)
        outcome = a->failed ? VAPI_RESULT_FAILED : a->error ? VAPI_RESULT_ERROR : VAPI_RESULT_OK;
    metrics_vapi_observe(tool ? tool->metric : VAPI_TOOL_UNKNOWN, outcome,
                         metrics_seconds_since(&started));
    free(stored);
    json_decref(parsed);
}

/*
 * One tool call on a thread of its own (one of the threads kept for them,
 * core/workers.h), so that the caller on the line hears something before
 * Vapi gives up on the request even when the database is slow: past the
 * deadline the webhook answers "please hold on" and leaves the job to
 * finish. The job owns copies of everything it reads; whoever is last
 * (the job, or the webhook that waited) frees it. A job that finishes
 * late still stores its answer, which Vapi's retry of the call then gets.
 */
struct job {
    sem_t finished; /* posted once the answer is in */
    atomic_int refs; /* the webhook's and the job's own: the last one frees it */
    struct vapi_call call;
    char org_id[DB_ID_SIZE], default_provider_id[DB_ID_SIZE], timezone[64];
    char *call_id, *caller, *tool_call_id;
    json_t *tool_call;
    struct vapi_answer answer;
};

static void job_free(struct job *j)
{
    sem_destroy(&j->finished);
    free(j->call_id);
    free(j->caller);
    free(j->tool_call_id);
    json_decref(j->tool_call);
    free(j);
}

static void job_release(struct job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) == 1)
        job_free(j);
}

/* A semaphore, not a mutex and a condition variable: the webhook, woken,
 * does not then wait for the job to let go of a lock (a second switch of
 * threads for every call; bench/HISTORY.md, step 52). */
static void job_main(void *arg)
{
    struct job *j = arg;

    answer_call(&j->call, j->tool_call, &j->answer);
    sem_post(&j->finished);
    job_release(j);
    atomic_fetch_sub(&live_jobs, 1);
}

/* Idle threads leave after this long: a busy spell's threads do not stay. */
#define WORKER_IDLE_S 30

static _Atomic(struct core_workers *) the_workers;
static pthread_mutex_t workers_lock = PTHREAD_MUTEX_INITIALIZER;

/* The threads tool calls run on, made with the first call (NULL while they
 * cannot be made: that call is answered "please hold on", and the next
 * tries again). Once made, read without the lock: every tool call asks. */
static struct core_workers *workers(void)
{
    struct core_workers *w = atomic_load_explicit(&the_workers, memory_order_acquire);

    if (w)
        return w;
    pthread_mutex_lock(&workers_lock);
    if (!(w = atomic_load_explicit(&the_workers, memory_order_relaxed))) {
        w = core_workers_new(MAX_JOBS, WORKER_IDLE_S);
        atomic_store_explicit(&the_workers, w, memory_order_release);
    }
    pthread_mutex_unlock(&workers_lock);
    return w;
}

bool api_vapi_jobs_wait(int timeout_ms)
{
    for (int waited = 0; atomic_load(&live_jobs) > 0; waited += 10) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        if (waited >= timeout_ms)
            return false;
        nanosleep(&ts, NULL);
    }
    return true;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* A job for call `c` of the message described by `call`. */
static struct job *job_new(const struct vapi_call *call, json_t *c)
{
    struct job *j = calloc(1, sizeof *j);
    const char *id = member_string(c, "id");

    if (!j)
        return NULL;
    if (sem_init(&j->finished, 0, 0) != 0) {
        free(j);
        return NULL;
    }
    atomic_init(&j->refs, 2);
    snprintf(j->org_id, sizeof j->org_id, "%s", call->org.org_id);
    snprintf(j->default_provider_id, sizeof j->default_provider_id, "%s",
             call->org.default_provider_id);
    snprintf(j->timezone, sizeof j->timezone, "%s", call->timezone);
    j->call_id = dup_or_null(call->call_id);
    j->caller = dup_or_null(call->caller);
    if (id && *id && strlen(id) <= MAX_CALL_ID)
        j->tool_call_id = strdup(id);
    j->tool_call = json_deep_copy(c);
    j->call = (struct vapi_call){
        .app = call->app,
        .secret = call->secret,
        .org = {j->org_id, j->default_provider_id},
        .timezone = j->timezone,
        .call_id = j->call_id,
        .caller = j->caller,
        .tool_call_id = j->tool_call_id,
    };
    memcpy(j->call.secret_hash, call->secret_hash, sizeof j->call.secret_hash);
    return j;
}

static void say_one_moment(struct vapi_answer *a)
{
    api_vapi_say(a, true, "One moment please, I'm still working on that; please ask me again "
                          "in a few seconds.");
    a->failed = true;
}

static bool past(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/*
 * Answers call `c` into *a by the deadline (CLOCK_MONOTONIC): the call's
 * own answer, or, past the deadline, a request to hold on. A call whose
 * turn comes after the deadline is not started (the calls of a message
 * run one after another, in order). What the call found out about the
 * secret is kept in call->secret.
 */
static void answer_by(struct vapi_call *call, json_t *c, const struct timespec *deadline,
                      struct vapi_answer *a)
{
    struct core_workers *w;
    struct job *j;
    int rc;

    memset(a, 0, sizeof *a);
    if (past(deadline)) {
        metrics_vapi_observe(tool_metric(c), VAPI_RESULT_LATE, 0);
        say_one_moment(a);
        return;
    }
    if (atomic_fetch_add(&live_jobs, 1) >= MAX_JOBS || !(j = job_new(call, c))) {
        atomic_fetch_sub(&live_jobs, 1);
        api_vapi_say_busy(a);
        return;
    }
    if (!(w = workers()) || core_workers_run(w, job_main, j) != 0) {
        job_free(j);
        atomic_fetch_sub(&live_jobs, 1);
        api_vapi_say_busy(a);
        return;
    }
    while ((rc = sem_clockwait(&j->finished, CLOCK_MONOTONIC, deadline)) != 0 && errno == EINTR)
        ;
    if (rc == 0) {
        *a = j->answer;
        call->secret = j->call.secret;
        job_release(j);
        return;
    }
    job_release(j); /* late: the job frees it when it ends */
    metrics_vapi_observe(tool_metric(c), VAPI_RESULT_LATE, 0);
    say_one_moment(a);
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
    /* Beyond year 9999 (or not a number) is no instant: a double that large
     * would not even fit the cast. */
    if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) < 253402300800000.0)
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

/*
 * True when the request's secret is checked, looking it up now if it is
 * not yet; else false, with the reply made: 401 when it is not valid (a
 * request is never answered on a secret a rotation replaced), 503 when it
 * could not be looked up.
 */
static bool secret_ok(struct vapi_call *call, struct http_response *resp)
{
    struct vapi_answer a;

    if (api_vapi_secret_check(call, &a))
        return true;
    if (call->secret == VAPI_SECRET_REFUSED)
        http_reply_vapi_unauthorized(resp);
    else
        http_reply_unavailable(resp);
    return false;
}

void api_vapi_webhook(struct http_request *req, struct http_response *resp)
{
    json_t *message = json_object_get(req->json, "message"), *calls, *results, *c;
    json_t *vapi_call = json_object_get(message, "call");
    const char *type = member_string(message, "type");
    struct vapi_call call = {.app = req->app, .org = api_org(req), .timezone = req->auth.timezone};
    struct timespec deadline;
    size_t i;

    /* A cached secret is checked at once, except in a tool-calls message,
     * whose calls check it as they go (a booking in its own transaction). */
    call.secret = req->auth.vapi_unchecked ? VAPI_SECRET_UNCHECKED : VAPI_SECRET_CHECKED;
    memcpy(call.secret_hash, req->auth.vapi_secret_hash, sizeof call.secret_hash);
    if (!(json_is_object(message) && type && strcmp(type, "tool-calls") == 0) &&
        !secret_ok(&call, resp))
        return;
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

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += req->app->cfg.vapi_deadline_ms / 1000;
    deadline.tv_nsec += (long)(req->app->cfg.vapi_deadline_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    calls = tool_calls(message);
    results = json_array();
    json_array_foreach(calls, i, c) {
        struct vapi_answer a;
        const char *id = member_string(c, "id");
        if (call.secret == VAPI_SECRET_REFUSED)
            break;
        if (i < MAX_CALLS)
            answer_by(&call, json_is_object(c) ? c : json_null(), &deadline, &a);
        else
            api_vapi_say(&a, true, "That is too many requests at once; please ask again one "
                                   "at a time.");
        json_array_append_new(results, json_pack("{s:s, s:s}", "toolCallId", id ? id : "",
                                                 a.error ? "error" : "result", a.text));
    }
    json_decref(calls);
    /* A secret still unchecked past the deadline: no answer came from the
     * database (each call was late, or needed none), and nothing was
     * stored or written (a late job checks the secret before it writes),
     * so the answers go now rather than after one more lookup. */
    if ((call.secret == VAPI_SECRET_UNCHECKED && past(&deadline)) || secret_ok(&call, resp))
        http_reply_json(resp, 200, json_pack("{s:o}", "results", results));
    else
        json_decref(results);
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
