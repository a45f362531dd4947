/*
 * The last hour of the operator's four numbers, per minute, kept in memory
 * (docs/web.md, GET /metrics/history): bookings by result and the
 * advisory-lock wait, so the dashboard's charts are full the moment it
 * opens instead of filling up while someone watches. Per process, like
 * /metrics.
 */
#ifndef BOOKD_METRICS_HISTORY_H
#define BOOKD_METRICS_HISTORY_H

#include <jansson.h>
#include <time.h>

#include "metrics.h"

#define METRICS_HISTORY_MINUTES 60

/* A booking's outcome at wall-clock time `now`; lock_wait_seconds < 0
 * when no lock was taken. Thread-safe. */
void metrics_history_booking(time_t now, enum metrics_booking_result result,
                             double lock_wait_seconds);

/* {"minutes":[...]}: the METRICS_HISTORY_MINUTES minutes up to the one of
 * `now`, oldest first (a new reference). */
json_t *metrics_history_json(time_t now);

#endif
