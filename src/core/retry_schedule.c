#include "core/retry_schedule.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void say(char *why, size_t why_size, const char *what, size_t item)
{
    if (why && why_size > 0)
        snprintf(why, why_size, "retry schedule item %zu %s", item, what);
}

int core_retry_schedule_parse(const char *text, size_t len, struct core_retry_schedule *out,
                              char *why, size_t why_size)
{
    struct core_retry_schedule s;
    size_t i = 0;

    memset(&s, 0, sizeof s);
    if (out)
        memset(out, 0, sizeof *out);
    if (!out || !text || len == 0) {
        if (why && why_size > 0)
            snprintf(why, why_size, "retry schedule is empty");
        return -1;
    }
    for (;;) {
        size_t item = s.attempts + 1, digits = 0;
        uint64_t v = 0;

        if (s.attempts == CORE_RETRY_MAX_ATTEMPTS) {
            if (why && why_size > 0)
                snprintf(why, why_size, "retry schedule has more than %d items",
                         CORE_RETRY_MAX_ATTEMPTS);
            return -1;
        }
        for (; i < len && text[i] >= '0' && text[i] <= '9'; i++, digits++) {
            v = v * 10 + (uint64_t)(text[i] - '0');
            if (v > CORE_RETRY_MAX_DELAY_S) {
                say(why, why_size, "is over 7 days (604800 seconds)", item);
                return -1;
            }
        }
        if (i < len && text[i] != ',') {
            say(why, why_size, "is not a whole number of seconds", item);
            return -1;
        }
        if (digits == 0) {
            say(why, why_size, "is empty", item);
            return -1;
        }
        s.delay_s[s.attempts++] = (uint32_t)v;
        if (i == len)
            break;
        i++; /* the comma; an item must follow it */
    }
    s.jitter_pct = CORE_RETRY_JITTER_PCT;
    *out = s;
    return 0;
}

void core_retry_schedule_default(struct core_retry_schedule *out)
{
    static const char text[] = CORE_RETRY_SCHEDULE_DEFAULT;

    core_retry_schedule_parse(text, sizeof text - 1, out, NULL, 0);
}

int core_retry_next_delay_ms(const struct core_retry_schedule *s, uint32_t attempts_made,
                             double unit, int64_t *delay_ms)
{
    double step, pct, spread;

    *delay_ms = 0;
    if (!s || attempts_made >= s->attempts || attempts_made >= CORE_RETRY_MAX_ATTEMPTS)
        return 1;
    step = (double)s->delay_s[attempts_made] * 1000.0;
    if (!(unit >= 0.0 && unit < 1.0))
        unit = 0.5;
    pct = s->jitter_pct > 100 ? 100.0 : (double)s->jitter_pct;
    spread = step * pct / 100.0;
    /* At most 7 days plus all of it again: far inside int64 and exact in a double. */
    *delay_ms = (int64_t)llround(step + (2.0 * unit - 1.0) * spread);
    if (*delay_ms < 0)
        *delay_ms = 0;
    return 0;
}
