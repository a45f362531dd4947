#include "metrics_history.h"

#include <pthread.h>
#include <string.h>

#include "core/time.h"

/* Lock waits in milliseconds: finer than /metrics' histogram at the low
 * end, where an uncontended lock lives. */
static const double wait_bounds_ms[] = {0.05, 0.1, 0.25, 0.5, 1,    2.5,  5,    10,   25,
                                        50,   100, 250,  500, 1000, 2500, 5000, 10000};
#define WAIT_BUCKETS (sizeof wait_bounds_ms / sizeof wait_bounds_ms[0])

struct minute {
    long long minute; /* minutes since the epoch; the slot is stale when it is not this one */
    unsigned long long bookings[BOOKING_RESULT_COUNT];
    unsigned long long waits[WAIT_BUCKETS + 1]; /* the last: above the last bound */
    unsigned long long wait_count;
};

/* A ring of the last hour, slot = minute % 60, under one mutex: a booking
 * costs a database round trip, next to which this lock is nothing. */
static struct minute ring[METRICS_HISTORY_MINUTES];
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;

void metrics_history_booking(time_t now, enum metrics_booking_result result,
                             double lock_wait_seconds)
{
    long long m = (long long)now / 60;
    struct minute *slot = &ring[m % METRICS_HISTORY_MINUTES];
    double ms = lock_wait_seconds * 1000.0;
    size_t b = 0;

    if ((unsigned)result >= BOOKING_RESULT_COUNT)
        return;
    while (b < WAIT_BUCKETS && ms > wait_bounds_ms[b])
        b++;
    pthread_mutex_lock(&ring_lock);
    if (slot->minute != m) {
        memset(slot, 0, sizeof *slot);
        slot->minute = m;
    }
    slot->bookings[result]++;
    if (lock_wait_seconds >= 0) {
        slot->waits[b]++;
        slot->wait_count++;
    }
    pthread_mutex_unlock(&ring_lock);
}

/*
 * The q-quantile of a minute's lock waits, interpolated inside its bucket
 * as Prometheus' histogram_quantile does; the last bound for waits above
 * it. NULL (JSON null) without waits.
 */
static json_t *wait_quantile(const struct minute *m, double q)
{
    double rank = q * (double)m->wait_count, seen = 0;

    if (m->wait_count == 0)
        return json_null();
    for (size_t b = 0; b < WAIT_BUCKETS; b++) {
        double n = (double)m->waits[b];
        if (seen + n >= rank && n > 0) {
            double lo = b ? wait_bounds_ms[b - 1] : 0, hi = wait_bounds_ms[b];
            return json_real(lo + (hi - lo) * (rank - seen) / n);
        }
        seen += n;
    }
    return json_real(wait_bounds_ms[WAIT_BUCKETS - 1]);
}

/* n of the minute's decided bookings (invalid requests left out: a typo is
 * not the service failing), or null without any. */
static json_t *rate(const struct minute *m, unsigned long long n)
{
    unsigned long long total = m->bookings[BOOKING_BOOKED] + m->bookings[BOOKING_CONFLICT] +
                               m->bookings[BOOKING_BUSY] + m->bookings[BOOKING_ERROR];
    return total ? json_real((double)n / (double)total) : json_null();
}

json_t *metrics_history_json(time_t now)
{
    long long last = (long long)now / 60;
    json_t *minutes = json_array();
    char at[CORE_ISO_LEN + 1];

    for (long long m = last - METRICS_HISTORY_MINUTES + 1; m <= last; m++) {
        struct minute copy = {0};
        pthread_mutex_lock(&ring_lock);
        if (ring[m % METRICS_HISTORY_MINUTES].minute == m)
            copy = ring[m % METRICS_HISTORY_MINUTES];
        pthread_mutex_unlock(&ring_lock);
        if (core_iso_format(m * 60000, at) != 0)
            at[0] = '\0';
        json_array_append_new(
            minutes,
            json_pack("{s:s, s:{s:I, s:I, s:I, s:I, s:I}, s:o, s:o, s:o, s:o, s:o}", "at", at,
                      "bookings", "booked", (json_int_t)copy.bookings[BOOKING_BOOKED], "conflict",
                      (json_int_t)copy.bookings[BOOKING_CONFLICT], "busy",
                      (json_int_t)copy.bookings[BOOKING_BUSY], "invalid",
                      (json_int_t)copy.bookings[BOOKING_INVALID], "error",
                      (json_int_t)copy.bookings[BOOKING_ERROR], "successRate",
                      rate(&copy, copy.bookings[BOOKING_BOOKED]), "conflictRate",
                      rate(&copy, copy.bookings[BOOKING_CONFLICT]), "lockTimeoutRate",
                      rate(&copy, copy.bookings[BOOKING_BUSY]), "lockWaitP50Ms",
                      wait_quantile(&copy, 0.5), "lockWaitP99Ms", wait_quantile(&copy, 0.99)));
    }
    return json_pack("{s:o}", "minutes", minutes);
}
