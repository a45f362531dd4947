/*
 * Per-key rate limits: a token bucket per API key, refilled at
 * `per_second` up to `burst`. One request takes one token; with none
 * left, the answer is 429 with the seconds until the next token.
 */
#ifndef BOOKD_HTTP_RATELIMIT_H
#define BOOKD_HTTP_RATELIMIT_H

#include "app.h"

struct rate_limiter *http_rate_limiter_new(void);
void http_rate_limiter_free(struct rate_limiter *rl);

/* 0 when allowed; otherwise the whole seconds to wait (>= 1). */
int http_rate_limit_take(struct rate_limiter *rl, const char *key_id,
                         const struct rate_spec *spec);

/* The same without taking a token: 0 while the bucket holds one. */
int http_rate_limit_peek(struct rate_limiter *rl, const char *key_id,
                         const struct rate_spec *spec);

/* Parses "<per second>/<burst>", both > 0. 0 or -1. */
int http_rate_spec_parse(const char *text, struct rate_spec *out);

#endif
