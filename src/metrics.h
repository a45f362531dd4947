/*
 * Prometheus metrics (text exposition format 0.0.4). Counters and
 * histograms are lock-free atomics; rendering reads them without stopping
 * anyone. Names are those of the design: bookd_*.
 */
#ifndef BOOKD_METRICS_H
#define BOOKD_METRICS_H

#include <stddef.h>
#include <time.h>

#include "db/deliveries.h"
#include "db/pool.h"
#include "http/request.h"

enum metrics_booking_result {
    BOOKING_BOOKED,
    BOOKING_CONFLICT,
    BOOKING_BUSY,
    BOOKING_INVALID,
    BOOKING_ERROR,
    BOOKING_RESULT_COUNT
};

/* What became of holds (bookd_holds_total{result}). */
enum metrics_hold_result {
    HOLD_HELD,      /* created */
    HOLD_CONVERTED, /* turned into an appointment */
    HOLD_EXPIRED,   /* its time ran out, then removed */
    HOLD_RELEASED,  /* given back with DELETE */
    HOLD_CONFLICT,  /* refused: the time was taken or held */
    HOLD_RESULT_COUNT
};

/* The voice agent's tools (bookd_vapi_tool_calls_total{tool,result}). */
enum metrics_vapi_tool {
    VAPI_TOOL_CHECK,
    VAPI_TOOL_BOOK,
    VAPI_TOOL_CANCEL,
    VAPI_TOOL_RESCHEDULE,
    VAPI_TOOL_UNKNOWN,
    VAPI_TOOL_COUNT
};
enum metrics_vapi_result {
    VAPI_RESULT_OK,       /* answered with a result */
    VAPI_RESULT_ERROR,    /* answered with an error sentence (bad or missing arguments) */
    VAPI_RESULT_REPLAYED, /* a retry: the stored answer again */
    VAPI_RESULT_FAILED,   /* the database could not be reached: "please hold on" */
    VAPI_RESULT_LATE,     /* not done by the deadline: "one moment" (the job goes on) */
    VAPI_RESULT_COUNT
};

/* Route labels are the patterns of the route table, set once at start. */
void metrics_set_routes(const char *const *patterns, int count);

/* route < 0: a request that matched no route. */
void metrics_http_observe(int route, enum http_method method, unsigned status, double seconds);

/* lock_wait_seconds < 0 when no lock was taken (e.g. a replay). */
void metrics_booking_observe(enum metrics_booking_result result, double seconds,
                             double lock_wait_seconds);
void metrics_idempotent_replay(void);
void metrics_holds_add(enum metrics_hold_result result, int n);
void metrics_vapi_observe(enum metrics_vapi_tool tool, enum metrics_vapi_result result,
                          double seconds);
/* One lookup of an API key (false) or a Vapi secret (true) in the database. */
void metrics_key_lookup(bool vapi_secret);

/* A delivery's outcome; latency_seconds, from the event to its 2xx, < 0
 * if none. */
/* The kinds of delivery target, counted apart. */
enum metrics_target { METRICS_WEBHOOK, METRICS_GOOGLE, METRICS_TWILIO, METRICS_VAPI,
                      METRICS_TARGET_COUNT };
/* The kind of a delivery's target ("webhook:<id>", "google", ...). */
enum metrics_target metrics_target_of(const char *target);
void metrics_delivery_observe(enum metrics_target target, enum db_delivery_result result,
                              double latency_seconds);

/* Seconds on the monotonic clock since *t0 (taken with CLOCK_MONOTONIC). */
double metrics_seconds_since(const struct timespec *t0);

/* The breakers' state per kind of target ("webhook", "google", ...), the
 * worst of each kind (enum core_breaker_state values). */
#define METRICS_BREAKER_KINDS 8
struct metrics_breakers {
    struct {
        char kind[16];
        int state;
    } kinds[METRICS_BREAKER_KINDS];
    size_t count;
};

/* The exposition text (malloc'd, *len bytes), with the pool's figures read
 * now, the outbox's backlog as last counted (< 0: unknown, left out) and
 * the breakers as last read (NULL: none known). */
char *metrics_render(const struct db_pool_stats *pool, long long outbox_pending,
                     const struct metrics_breakers *breakers, size_t *len);

#endif
