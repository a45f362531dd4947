/*
 * The delivery retry schedule, BOOKD_WEBHOOK_RETRY_SCHEDULE: comma-separated
 * seconds to wait before each attempt. Its length is the number of attempts:
 * the default "0,5,300,1800,7200,18000,36000,36000" sends at once, then
 * after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, and then the delivery
 * is dead. Every outbound target (webhooks, Google, Twilio, Vapi) uses it.
 *
 * Delays are spread by jitter (CORE_RETRY_JITTER_PCT either way) so that
 * deliveries failed together by one outage do not all come back in the same
 * second. The random draw is an argument, so the arithmetic is testable.
 */
#ifndef BOOKD_CORE_RETRY_SCHEDULE_H
#define BOOKD_CORE_RETRY_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#define CORE_RETRY_SCHEDULE_DEFAULT "0,5,300,1800,7200,18000,36000,36000"
#define CORE_RETRY_MAX_ATTEMPTS 30
#define CORE_RETRY_MAX_DELAY_S (7 * 86400)
#define CORE_RETRY_JITTER_PCT 20

struct core_retry_schedule {
    uint32_t delay_s[CORE_RETRY_MAX_ATTEMPTS]; /* before attempt i + 1 */
    size_t attempts;                           /* 1..CORE_RETRY_MAX_ATTEMPTS */
    uint32_t jitter_pct;                       /* CORE_RETRY_JITTER_PCT after parsing, 0..100 */
};

/*
 * Parses `text` (`len` bytes; NUL not required) into `out`. Every item is
 * one or more decimal digits, nothing else (no sign, no space), at most
 * CORE_RETRY_MAX_DELAY_S; there are 1 to CORE_RETRY_MAX_ATTEMPTS items and
 * none is empty. Returns 0, or -1 with `out` zeroed and a sentence for the
 * operator in `why` (may be NULL) naming the item at fault.
 */
int core_retry_schedule_parse(const char *text, size_t len, struct core_retry_schedule *out,
                              char *why, size_t why_size);

/* The default schedule (CORE_RETRY_SCHEDULE_DEFAULT). */
void core_retry_schedule_default(struct core_retry_schedule *out);

/*
 * How long to wait before the next attempt of a delivery that has made
 * `attempts_made` attempts (0 for a new one): 0 and the delay in ms, or 1
 * when the schedule is used up (the delivery is dead).
 *
 * `unit` is a random draw in [0, 1); the delay is the step moved by up to
 * jitter_pct % of it either way, linearly: 0 gives step - jitter, 0.5 the
 * step itself, values near 1 almost step + jitter. A zero step stays zero.
 * A draw outside [0, 1) (or NaN) is taken as 0.5, no jitter.
 */
int core_retry_next_delay_ms(const struct core_retry_schedule *s, uint32_t attempts_made,
                             double unit, int64_t *delay_ms);

#endif
