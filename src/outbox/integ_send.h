/*
 * Deliveries to Google Calendar, Twilio and Vapi, and the busy-time
 * import of linked calendars, as the worker drives them (docs/design.md,
 * "Integrations"): what to send for a claimed delivery, and what its
 * answer means. Google's calls may need an access token first: the send
 * then makes the token grant, stores the token (sealed) and makes its call
 * on the same easy handle; a 401 with a stored token gets a new one once.
 */
#ifndef BOOKD_OUTBOX_INTEG_SEND_H
#define BOOKD_OUTBOX_INTEG_SEND_H

#include "outbox/send.h"

/* The outcome of a failed attempt: retried per the schedule, or dead
 * (src/outbox/worker.c). */
void outbox_failed_attempt(const struct config *cfg, int attempts_before, int64_t now,
                           struct db_delivery_outcome *o);

enum send_kind outbox_send_kind(const char *target);

/*
 * Before the breaker: reads the delivery's context and opens its
 * credentials (and a stored access token still good). Returns 0, or -1
 * with an outcome in *o and why in `error`: void (nothing to send), or
 * deferred (credentials sealed under another key).
 */
int outbox_integ_open(const struct app *app, struct send *s, int64_t now,
                      struct db_delivery_outcome *o, char *error, size_t error_size);

/* After the breaker let it through: the first request (Google's token
 * grant when there is no token; a text message about a patient's own
 * booking gets its manage link first). 0, or -1 (out of memory, or the
 * link's token could not be stored: the delivery is left to its lease). */
int outbox_integ_start(const struct app *app, struct db_session *db, struct send *s);

/* True when the send is (or starts with) a token grant. */
bool outbox_integ_granting(const struct send *s);

/*
 * A send finished with libcurl's `code` and HTTP `status`. Returns true
 * when it goes on (s->req holds the next request: the call after a token,
 * or the next page of an import); else false with the delivery's outcome
 * in *o (for an import: already stored) and whether it counts against the
 * target's breaker in *breaker_failure.
 */
bool outbox_integ_finished(const struct app *app, struct db_session *db, struct send *s,
                           CURLcode code, long status, int64_t now, struct db_delivery_outcome *o,
                           char *error, size_t error_size, bool *breaker_failure);

/* A calendar import: opens its credentials and builds its first request.
 * 0, or -1 with the reason stored as the import's error. */
int outbox_sync_start(const struct app *app, struct db_session *db, struct send *s, int64_t now);

/* Frees what an integration send holds (secrets wiped). */
void outbox_integ_cleanup(struct send *s);

#endif
