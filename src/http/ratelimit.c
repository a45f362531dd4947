#include "http/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/appointments.h"

/* Buckets live in a fixed table; two keys that collide share a slot and
 * the newer evicts the older, which can only hand out a fresh burst. */
#define SLOTS 4096

struct bucket {
    char key_id[DB_ID_SIZE];
    double tokens;
    double updated; /* monotonic seconds */
};

struct rate_limiter {
    pthread_mutex_t lock;
    struct bucket slots[SLOTS];
};

struct rate_limiter *http_rate_limiter_new(void)
{
    struct rate_limiter *rl = calloc(1, sizeof *rl);
    if (rl)
        pthread_mutex_init(&rl->lock, NULL);
    return rl;
}

void http_rate_limiter_free(struct rate_limiter *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned slot_of(const char *key_id)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (const char *p = key_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % SLOTS;
}

int http_rate_limit_take(struct rate_limiter *rl, const char *key_id,
                         const struct rate_spec *spec)
{
    struct bucket *b = &rl->slots[slot_of(key_id)];
    double now = now_seconds();
    int wait = 0;

    pthread_mutex_lock(&rl->lock);
    if (strcmp(b->key_id, key_id) != 0) {
        strncpy(b->key_id, key_id, sizeof b->key_id - 1);
        b->key_id[sizeof b->key_id - 1] = '\0';
        b->tokens = spec->burst;
        b->updated = now;
    }
    b->tokens = fmin(spec->burst, b->tokens + (now - b->updated) * spec->per_second);
    b->updated = now;
    if (b->tokens >= 1.0)
        b->tokens -= 1.0;
    else
        wait = (int)ceil((1.0 - b->tokens) / spec->per_second);
    pthread_mutex_unlock(&rl->lock);
    return wait;
}

int http_rate_spec_parse(const char *text, struct rate_spec *out)
{
    char *end;
    double rate, burst;

    if (!text)
        return -1;
    rate = strtod(text, &end);
    if (end == text || *end != '/')
        return -1;
    burst = strtod(end + 1, &end);
    if (*end != '\0' || !(rate > 0) || !(burst >= 1) || rate > 1e9 || burst > 1e9)
        return -1;
    out->per_second = rate;
    out->burst = burst;
    return 0;
}
