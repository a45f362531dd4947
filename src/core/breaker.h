/*
 * Circuit breaker for one outbound target (google, twilio, vapi, or one
 * webhook endpoint), as pure logic: no I/O, no clock. The caller passes the
 * time in milliseconds and stores the struct wherever it likes.
 *
 * Closed: calls go out; each outcome is remembered in a sliding window of
 * the last `window` calls. The breaker opens when, with at least
 * `min_calls` in the window, failures are at least `failure_ratio_pct` % of
 * them, or after `consecutive_failures` failures in a row.
 * Open: nothing goes out for `open_ms`.
 * Half-open: then up to `half_open_trials` trial calls are let through;
 * when all of them succeed the breaker closes with an empty window, and
 * when any fails it opens again for another `open_ms`.
 *
 * Several worker processes share one breaker per target, so the state is a
 * handful of plain integers meant to be one PostgreSQL row, read and
 * written back under `SELECT ... FOR UPDATE`:
 *
 *   field                 column (suggested)                type
 *   state                 state                             smallint 0/1/2, or text
 *                                                           through core_breaker_state_name
 *   window_bits           window_bits                       bigint (always >= 0: at most
 *                                                           63 bits are used)
 *   window_calls          window_calls                      integer
 *   consecutive_failures  consecutive_failures              integer
 *   opened_at_ms          opened_at                         timestamptz (ms since the epoch)
 *   trials_in_flight      trials_in_flight                  integer
 *   trials_succeeded      trials_succeeded                  integer
 *   trial_claimed_at_ms   trial_claimed_at                  timestamptz (ms since the epoch)
 *
 * A zeroed struct is a closed breaker with an empty window. Values read
 * back from a row are clamped to the configuration before use (a window
 * made smaller between runs, a row edited by hand), so no input can make
 * these functions misbehave.
 *
 * The state values are those of the metric bookd_circuit_breaker_state
 * (0 closed, 1 open, 2 half-open).
 */
#ifndef BOOKD_CORE_BREAKER_H
#define BOOKD_CORE_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

enum core_breaker_state {
    CORE_BREAKER_CLOSED = 0,
    CORE_BREAKER_OPEN = 1,
    CORE_BREAKER_HALF_OPEN = 2,
};

/* Bits a window can hold: 63, so window_bits fits a non-negative bigint. */
#define CORE_BREAKER_WINDOW_MAX 63

struct core_breaker_config {
    uint32_t window;               /* calls remembered, 1..63 (default 20) */
    uint32_t min_calls;            /* calls in the window before the ratio counts,
                                      1..window (default 10) */
    uint32_t failure_ratio_pct;    /* opens at >= this % failures, 1..100 (default 50) */
    uint32_t consecutive_failures; /* opens after this many in a row; 0 = rule off
                                      (default 5) */
    int64_t open_ms;               /* time open before trials, >= 1 (default 30000) */
    uint32_t half_open_trials;     /* trial calls in half-open, 1..1000 (default 3) */
    int64_t trial_lease_ms;        /* a trial that reports nothing for this long is
                                      forgotten and its slot given to another (a worker
                                      died mid-call), >= 1 (default 60000) */
};

#define CORE_BREAKER_CONFIG_DEFAULT                                                                \
    {                                                                                              \
        .window = 20, .min_calls = 10, .failure_ratio_pct = 50, .consecutive_failures = 5,         \
        .open_ms = 30000, .half_open_trials = 3, .trial_lease_ms = 60000                           \
    }

struct core_breaker {
    int32_t state;                 /* enum core_breaker_state */
    uint64_t window_bits;          /* bit i set: the i-th most recent call failed (bit 0 is
                                      the newest) */
    uint32_t window_calls;         /* calls in the window, <= config window */
    uint32_t consecutive_failures; /* failures since the last success */
    int64_t opened_at_ms;          /* when it last opened; 0 while closed */
    uint32_t trials_in_flight;     /* half-open: trials let through, not yet reported */
    uint32_t trials_succeeded;     /* half-open: trials that succeeded */
    int64_t trial_claimed_at_ms;   /* half-open: when the last trial was let through */
};

/* Writes the defaults above into `cfg`. */
void core_breaker_config_default(struct core_breaker_config *cfg);

/* 0 when every field of `cfg` is within the ranges above, else -1. */
int core_breaker_config_check(const struct core_breaker_config *cfg);

/* Resets `b` to closed with an empty window. */
void core_breaker_init(struct core_breaker *b);

/* True when `a` and `b` hold the same state. A closed breaker whose window
 * holds only successes stays the same through another success: the
 * worker then has nothing to write (src/outbox/worker.c, finish_sends). */
bool core_breaker_equal(const struct core_breaker *a, const struct core_breaker *b);

/*
 * May a call to the target go out at `now_ms`? Closed: yes. Open: no until
 * open_ms have passed, then the breaker turns half-open. Half-open: yes
 * while a trial slot is free, and the call takes that slot (so this
 * changes `b`, and the caller writes it back before sending). Every call
 * this lets through must be followed by core_breaker_record().
 */
bool core_breaker_allow(struct core_breaker *b, const struct core_breaker_config *cfg,
                        int64_t now_ms);

/*
 * Records the outcome of a call (see core_breaker_counts_as_failure for
 * what a failure is) and moves the breaker: closed may open, half-open may
 * close or open. An outcome reported while open is ignored: it belongs to a
 * call sent before the breaker opened and says nothing new. In half-open
 * every outcome counts as a trial's, even one of a call sent while closed.
 */
void core_breaker_record(struct core_breaker *b, const struct core_breaker_config *cfg,
                         int64_t now_ms, bool success);

/*
 * The state as it should be shown at `now_ms` without changing `b`: an
 * open breaker whose time is up reads as half-open.
 */
enum core_breaker_state core_breaker_state_at(const struct core_breaker *b,
                                              const struct core_breaker_config *cfg,
                                              int64_t now_ms);

/*
 * The earliest time, not before `now_ms`, at which core_breaker_allow could
 * let a call through if no outcome arrives meanwhile: now_ms when closed or
 * with a free trial slot, the end of the open period when open, and when
 * every trial slot is taken, the end of the last trial's lease. A deferred
 * delivery is due again then.
 */
int64_t core_breaker_next_probe_ms(const struct core_breaker *b,
                                   const struct core_breaker_config *cfg, int64_t now_ms);

/* Failures and calls in the window (the API's "failures" and "calls"). */
uint32_t core_breaker_window_failures(const struct core_breaker *b,
                                      const struct core_breaker_config *cfg);
uint32_t core_breaker_window_calls(const struct core_breaker *b,
                                   const struct core_breaker_config *cfg);

/* "closed", "open", "half_open"; "unknown" for another value. Static. */
const char *core_breaker_state_name(int state);

/* The inverse for a stored name: 0 and the state, or -1. */
int core_breaker_state_parse(const char *name, enum core_breaker_state *out);

/*
 * Does this outcome count against the target? A transport error (no
 * connection, timeout, TLS failure, no answer), a 5xx and 429 Too Many
 * Requests do: the target is unwell or asks us to slow down. Any other
 * answer is a target that works, so it counts as a success for the
 * breaker, even a 4xx that fails the delivery itself (the request was at
 * fault, not the target). `http_status` is ignored on a transport error.
 */
bool core_breaker_counts_as_failure(int http_status, bool transport_error);

#endif
