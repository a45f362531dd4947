#include "metrics.h"
#include "metrics_history.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUTES 64
#define METHODS 7 /* enum http_method */
/* 414, 431 and 505 are answers libmicrohttpd gives itself (http/server.c). */
static const unsigned status_codes[] = {200, 201, 202, 204, 400, 401, 403, 404, 405, 409,
                                        413, 414, 415, 422, 429, 431, 500, 503, 505};
#define STATUSES (sizeof status_codes / sizeof status_codes[0])

static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                0.1,    0.25,  0.5,    1,     2.5,   5,     10};
#define BUCKETS (sizeof bounds / sizeof bounds[0])

#define MAX_BUCKETS 16

/* Bucket counts for the bounds it is observed and rendered with. */
struct histogram {
    atomic_ullong buckets[MAX_BUCKETS]; /* non-cumulative; summed when rendered */
    atomic_ullong count;
    atomic_ullong sum_ns;
};

static const char *route_names[MAX_ROUTES + 1];
static int route_count;
/* [route + 1][method][status]: index 0 is "no route" */
static atomic_ullong http_requests[MAX_ROUTES + 1][METHODS][STATUSES];
static struct histogram http_duration[MAX_ROUTES + 1];
static atomic_ullong bookings[BOOKING_RESULT_COUNT];
static struct histogram booking_duration, lock_wait;
static atomic_ullong replays;
/* The metric's labels, by enum db_delivery_result. */
static const char *const delivery_results[] = {
    [DB_DELIVERY_DELIVERED] = "delivered", [DB_DELIVERY_RETRY] = "retry",
    [DB_DELIVERY_DEAD] = "dead",           [DB_DELIVERY_GONE] = "gone",
    [DB_DELIVERY_DEFER] = "deferred",      [DB_DELIVERY_VOID] = "void",
    [DB_DELIVERY_STOP] = "stopped"};
#define DELIVERY_RESULTS (sizeof delivery_results / sizeof delivery_results[0])
static const char *const target_names[METRICS_TARGET_COUNT] = {
    [METRICS_WEBHOOK] = "webhook", [METRICS_GOOGLE] = "google", [METRICS_TWILIO] = "twilio",
    [METRICS_VAPI] = "vapi"};
static atomic_ullong deliveries[METRICS_TARGET_COUNT][DELIVERY_RESULTS];
/* Event to 2xx: from milliseconds to the hours of the retry schedule. */
static const double delivery_bounds[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                         5,    10,   30,  60,   300, 3600};
#define DELIVERY_BUCKETS (sizeof delivery_bounds / sizeof delivery_bounds[0])
static struct histogram delivery_latency;
static const char *const hold_results[HOLD_RESULT_COUNT] = {
    [HOLD_HELD] = "held",         [HOLD_CONVERTED] = "converted", [HOLD_EXPIRED] = "expired",
    [HOLD_RELEASED] = "released", [HOLD_CONFLICT] = "conflict"};
static atomic_ullong holds[HOLD_RESULT_COUNT];
static atomic_ullong key_lookups[2]; /* API keys, Vapi secrets */
static const char *const vapi_tools[VAPI_TOOL_COUNT] = {
    [VAPI_TOOL_CHECK] = "checkAvailability",          [VAPI_TOOL_BOOK] = "bookAppointment",
    [VAPI_TOOL_CANCEL] = "cancelAppointment",         [VAPI_TOOL_RESCHEDULE] = "rescheduleAppointment",
    [VAPI_TOOL_UNKNOWN] = "unknown"};
static const char *const vapi_results[VAPI_RESULT_COUNT] = {
    [VAPI_RESULT_OK] = "ok", [VAPI_RESULT_ERROR] = "error", [VAPI_RESULT_REPLAYED] = "replayed",
    [VAPI_RESULT_FAILED] = "failed", [VAPI_RESULT_LATE] = "late"};
static atomic_ullong vapi_calls[VAPI_TOOL_COUNT][VAPI_RESULT_COUNT];
static struct histogram vapi_duration;


void metrics_set_routes(const char *const *patterns, int count)
{
    route_names[0] = "unmatched";
    route_count = count < MAX_ROUTES ? count : MAX_ROUTES;
    for (int i = 0; i < route_count; i++)
        route_names[i + 1] = patterns[i];
}

static void observe_in(struct histogram *h, const double *b, size_t n, double seconds)
{
    size_t i = 0;
    while (i < n && seconds > b[i])
        i++;
    if (i < n)
        atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (unsigned long long)(seconds * 1e9),
                              memory_order_relaxed);
}

static void histogram_observe(struct histogram *h, double seconds)
{
    observe_in(h, bounds, BUCKETS, seconds);
}

enum metrics_target metrics_target_of(const char *target)
{
    for (int t = METRICS_GOOGLE; t < METRICS_TARGET_COUNT; t++)
        if (strcmp(target, target_names[t]) == 0)
            return (enum metrics_target)t;
    return METRICS_WEBHOOK;
}

void metrics_delivery_observe(enum metrics_target target, enum db_delivery_result result,
                              double latency_seconds)
{
    if ((size_t)result >= DELIVERY_RESULTS || (size_t)target >= METRICS_TARGET_COUNT)
        return;
    atomic_fetch_add_explicit(&deliveries[target][result], 1, memory_order_relaxed);
    if (latency_seconds >= 0)
        observe_in(&delivery_latency, delivery_bounds, DELIVERY_BUCKETS, latency_seconds);
}

static size_t status_index(unsigned status)
{
    size_t s = 0;
    while (s < STATUSES && status_codes[s] != status)
        s++;
    return s;
}

void metrics_http_observe(int route, enum http_method method, unsigned status, double seconds)
{
    int r = route >= 0 && route < route_count ? route + 1 : 0;
    size_t s = status_index(status);
    if (s == STATUSES)
        s = status_index(500); /* any other status is counted as 500 */
    atomic_fetch_add_explicit(&http_requests[r][method][s], 1, memory_order_relaxed);
    histogram_observe(&http_duration[r], seconds);
}

void metrics_booking_observe(enum metrics_booking_result result, double seconds,
                             double lock_wait_seconds)
{
    atomic_fetch_add_explicit(&bookings[result], 1, memory_order_relaxed);
    histogram_observe(&booking_duration, seconds);
    if (lock_wait_seconds >= 0)
        histogram_observe(&lock_wait, lock_wait_seconds);
    metrics_history_booking(time(NULL), result, lock_wait_seconds);
}

double metrics_seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

void metrics_idempotent_replay(void)
{
    atomic_fetch_add_explicit(&replays, 1, memory_order_relaxed);
}

void metrics_holds_add(enum metrics_hold_result result, int n)
{
    if ((unsigned)result < HOLD_RESULT_COUNT && n > 0)
        atomic_fetch_add_explicit(&holds[result], (unsigned long long)n, memory_order_relaxed);
}

void metrics_key_lookup(bool vapi_secret)
{
    atomic_fetch_add_explicit(&key_lookups[vapi_secret], 1, memory_order_relaxed);
}

void metrics_vapi_observe(enum metrics_vapi_tool tool, enum metrics_vapi_result result,
                          double seconds)
{
    if ((unsigned)tool >= VAPI_TOOL_COUNT || (unsigned)result >= VAPI_RESULT_COUNT)
        return;
    atomic_fetch_add_explicit(&vapi_calls[tool][result], 1, memory_order_relaxed);
    histogram_observe(&vapi_duration, seconds);
}

/* A growing text buffer; on allocation failure it stays in a failed state. */
struct text {
    char *buf;
    size_t len, cap;
    bool failed;
};

static void emit(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (t->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        w = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (w < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)w < t->cap - t->len) {
            t->len += (size_t)w;
            return;
        }
        char *bigger = realloc(t->buf, t->cap * 2 + (size_t)w);
        if (!bigger) {
            t->failed = true;
            return;
        }
        t->buf = bigger;
        t->cap = t->cap * 2 + (size_t)w;
    }
}

static void emit_histogram_in(struct text *t, const char *name, const char *labels,
                              struct histogram *h, const double *b, size_t n)
{
    unsigned long long cumulative = 0;
    const char *sep = *labels ? "," : "";
    for (size_t i = 0; i < n; i++) {
        cumulative += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        emit(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, b[i], cumulative);
    }
    unsigned long long count = atomic_load_explicit(&h->count, memory_order_relaxed);
    emit(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, count);
    emit(t, "%s_sum%s%s%s %.9f\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
         (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9);
    emit(t, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
         count);
}

static void emit_histogram(struct text *t, const char *name, const char *labels,
                           struct histogram *h)
{
    emit_histogram_in(t, name, labels, h, bounds, BUCKETS);
}

static const char *const booking_labels[] = {"booked", "conflict", "busy", "invalid", "error"};

char *metrics_render(const struct db_pool_stats *pool, long long outbox_pending,
                     const struct metrics_breakers *breakers, size_t *len)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "OTHER"};
    struct text t = {.buf = malloc(16384), .cap = 16384};
    char labels[256];

    *len = 0;
    if (!t.buf)
        return NULL;
    t.buf[0] = '\0';
    emit(&t, "# HELP bookd_bookings_total Booking attempts by result.\n"
             "# TYPE bookd_bookings_total counter\n");
    for (int i = 0; i < BOOKING_RESULT_COUNT; i++)
        emit(&t, "bookd_bookings_total{result=\"%s\"} %llu\n", booking_labels[i],
             atomic_load_explicit(&bookings[i], memory_order_relaxed));
    emit(&t, "# HELP bookd_advisory_lock_wait_seconds Time a booking waited for its bucket "
             "locks.\n# TYPE bookd_advisory_lock_wait_seconds histogram\n");
    emit_histogram(&t, "bookd_advisory_lock_wait_seconds", "", &lock_wait);
    emit(&t, "# HELP bookd_booking_duration_seconds Time to answer a booking, database "
             "included.\n# TYPE bookd_booking_duration_seconds histogram\n");
    emit_histogram(&t, "bookd_booking_duration_seconds", "", &booking_duration);
    emit(&t, "# HELP bookd_idempotent_replays_total Requests answered from a stored result.\n"
             "# TYPE bookd_idempotent_replays_total counter\n"
             "bookd_idempotent_replays_total %llu\n",
         atomic_load_explicit(&replays, memory_order_relaxed));

    emit(&t, "# HELP bookd_http_requests_total HTTP requests by route, method and status.\n"
             "# TYPE bookd_http_requests_total counter\n");
    for (int r = 0; r <= route_count; r++)
        for (int m = 0; m < METHODS; m++)
            for (size_t s = 0; s < STATUSES; s++) {
                unsigned long long v =
                    atomic_load_explicit(&http_requests[r][m][s], memory_order_relaxed);
                if (v)
                    emit(&t,
                         "bookd_http_requests_total{route=\"%s\",method=\"%s\",code=\"%u\"} "
                         "%llu\n",
                         route_names[r], methods[m], status_codes[s], v);
            }
    emit(&t, "# HELP bookd_http_request_duration_seconds HTTP request duration by route.\n"
             "# TYPE bookd_http_request_duration_seconds histogram\n");
    for (int r = 0; r <= route_count; r++) {
        if (!atomic_load_explicit(&http_duration[r].count, memory_order_relaxed))
            continue;
        snprintf(labels, sizeof labels, "route=\"%s\"", route_names[r]);
        emit_histogram(&t, "bookd_http_request_duration_seconds", labels, &http_duration[r]);
    }

    emit(&t,
         "# HELP bookd_db_pool_connections Database connections by state.\n"
         "# TYPE bookd_db_pool_connections gauge\n"
         "bookd_db_pool_connections{state=\"idle\"} %d\n"
         "bookd_db_pool_connections{state=\"in_use\"} %d\n"
         "# HELP bookd_db_pool_waiting Requests waiting for a database connection.\n"
         "# TYPE bookd_db_pool_waiting gauge\n"
         "bookd_db_pool_waiting %d\n"
         "# HELP bookd_db_pool_acquire_timeouts_total Waits for a connection that timed out.\n"
         "# TYPE bookd_db_pool_acquire_timeouts_total counter\n"
         "bookd_db_pool_acquire_timeouts_total %llu\n",
         pool->idle, pool->in_use, pool->waiting, (unsigned long long)pool->acquire_timeouts);
    if (outbox_pending >= 0)
        emit(&t,
             "# HELP bookd_outbox_pending Events not yet fanned out plus deliveries not yet "
             "delivered (each counted up to 10000, at most every 5 s).\n"
             "# TYPE bookd_outbox_pending gauge\n"
             "bookd_outbox_pending %lld\n",
             outbox_pending);
    emit(&t, "# HELP bookd_holds_total Holds by what became of them.\n"
             "# TYPE bookd_holds_total counter\n");
    for (size_t r = 0; r < HOLD_RESULT_COUNT; r++)
        emit(&t, "bookd_holds_total{result=\"%s\"} %llu\n", hold_results[r],
             atomic_load_explicit(&holds[r], memory_order_relaxed));
    emit(&t, "# HELP bookd_key_lookups_total Keys and Vapi secrets looked up in the database "
             "(not found in the cache, or checked again).\n"
             "# TYPE bookd_key_lookups_total counter\n"
             "bookd_key_lookups_total{kind=\"key\"} %llu\n"
             "bookd_key_lookups_total{kind=\"vapi_secret\"} %llu\n",
         atomic_load_explicit(&key_lookups[0], memory_order_relaxed),
         atomic_load_explicit(&key_lookups[1], memory_order_relaxed));
    emit(&t, "# HELP bookd_vapi_tool_calls_total The voice agent's tool calls by tool and by "
             "how they were answered.\n# TYPE bookd_vapi_tool_calls_total counter\n");
    for (size_t tool = 0; tool < VAPI_TOOL_COUNT; tool++)
        for (size_t r = 0; r < VAPI_RESULT_COUNT; r++)
            emit(&t, "bookd_vapi_tool_calls_total{tool=\"%s\",result=\"%s\"} %llu\n",
                 vapi_tools[tool], vapi_results[r],
                 atomic_load_explicit(&vapi_calls[tool][r], memory_order_relaxed));
    emit(&t, "# HELP bookd_vapi_tool_call_duration_seconds Time to answer one tool call.\n"
             "# TYPE bookd_vapi_tool_call_duration_seconds histogram\n");
    emit_histogram(&t, "bookd_vapi_tool_call_duration_seconds", "", &vapi_duration);
    emit(&t, "# HELP bookd_webhook_deliveries_total Delivery attempts by result (deferred: held "
             "back by an open breaker).\n"
             "# TYPE bookd_webhook_deliveries_total counter\n");
    for (size_t r = 0; r < DELIVERY_RESULTS; r++)
        if (r != DB_DELIVERY_VOID && r != DB_DELIVERY_STOP)
            emit(&t, "bookd_webhook_deliveries_total{result=\"%s\"} %llu\n",
                 delivery_results[r],
                 atomic_load_explicit(&deliveries[METRICS_WEBHOOK][r], memory_order_relaxed));
    emit(&t, "# HELP bookd_integration_deliveries_total Deliveries to Google, Twilio and Vapi by "
             "result (void: nothing to send; stopped: credentials refused).\n"
             "# TYPE bookd_integration_deliveries_total counter\n");
    for (int k = METRICS_GOOGLE; k < METRICS_TARGET_COUNT; k++)
        for (size_t r = 0; r < DELIVERY_RESULTS; r++)
            if (r != DB_DELIVERY_GONE)
                emit(&t, "bookd_integration_deliveries_total{integration=\"%s\",result=\"%s\"} "
                         "%llu\n",
                     target_names[k], delivery_results[r],
                     atomic_load_explicit(&deliveries[k][r], memory_order_relaxed));
    emit(&t, "# HELP bookd_delivery_latency_seconds Time from an event to its delivery's 2xx.\n"
             "# TYPE bookd_delivery_latency_seconds histogram\n");
    emit_histogram_in(&t, "bookd_delivery_latency_seconds", "", &delivery_latency,
                      delivery_bounds, DELIVERY_BUCKETS);
    emit(&t, "# HELP bookd_circuit_breaker_state Breakers per kind of target, the worst of "
             "them: 0 closed, 1 open, 2 half-open.\n"
             "# TYPE bookd_circuit_breaker_state gauge\n");
    for (size_t i = 0; breakers && i < breakers->count; i++)
        emit(&t, "bookd_circuit_breaker_state{target=\"%s\"} %d\n", breakers->kinds[i].kind,
             breakers->kinds[i].state);
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    *len = t.len;
    return t.buf;
}
