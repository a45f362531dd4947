#include "http/ratelimit.h"

#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/result.h"

/* Buckets live in a fixed table of sets of four: keys whose hashes pick the
 * same set keep a bucket each. A fifth evicts the bucket used longest ago,
 * which (unless it was drained within burst / rate seconds) was full again
 * anyway. A direct-mapped table let two colliding keys reset each other's
 * bucket at every request, so neither was ever limited. */
#define SETS 1024
#define WAYS 4

struct bucket {
    char key_id[DB_ID_SIZE];
    double tokens;
    double updated; /* monotonic seconds */
};

struct rate_limiter {
    pthread_mutex_t lock;
    struct bucket sets[SETS][WAYS];
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

static unsigned set_of(const char *key_id)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (const char *p = key_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % SETS;
}

/* The key's bucket in its set, or a fresh one in place of the bucket used
 * longest ago (an empty one first). Under the lock. */
static struct bucket *bucket_for(struct rate_limiter *rl, const char *key_id,
                                 const struct rate_spec *spec, double now)
{
    struct bucket *set = rl->sets[set_of(key_id)], *b = &set[0];

    for (int i = 0; i < WAYS; i++) {
        if (strcmp(set[i].key_id, key_id) == 0)
            return &set[i];
        if (set[i].updated < b->updated) /* an empty bucket's is 0 */
            b = &set[i];
    }
    strncpy(b->key_id, key_id, sizeof b->key_id - 1);
    b->key_id[sizeof b->key_id - 1] = '\0';
    b->tokens = spec->burst;
    b->updated = now;
    return b;
}

/* Refills the key's bucket, then takes a token when `take` and one is
 * there. 0, or the whole seconds until the next token. */
static int limit(struct rate_limiter *rl, const char *key_id, const struct rate_spec *spec,
                 bool take)
{
    double now = now_seconds();
    struct bucket *b;
    int wait = 0;

    pthread_mutex_lock(&rl->lock);
    b = bucket_for(rl, key_id, spec, now);
    b->tokens = fmin(spec->burst, b->tokens + (now - b->updated) * spec->per_second);
    b->updated = now;
    if (b->tokens < 1.0)
        wait = (int)ceil((1.0 - b->tokens) / spec->per_second);
    else if (take)
        b->tokens -= 1.0;
    pthread_mutex_unlock(&rl->lock);
    return wait;
}

int http_rate_limit_take(struct rate_limiter *rl, const char *key_id,
                         const struct rate_spec *spec)
{
    return limit(rl, key_id, spec, true);
}

int http_rate_limit_peek(struct rate_limiter *rl, const char *key_id,
                         const struct rate_spec *spec)
{
    return limit(rl, key_id, spec, false);
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
