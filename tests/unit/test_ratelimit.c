/* Per-key token buckets and their "<rate>/<burst>" settings. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "http/ratelimit.h"

Test(ratelimit, spec_parses_rate_and_burst)
{
    struct rate_spec s;
    cr_assert_eq(http_rate_spec_parse("20/40", &s), 0);
    cr_assert_float_eq(s.per_second, 20.0, 1e-9);
    cr_assert_float_eq(s.burst, 40.0, 1e-9);
    cr_assert_eq(http_rate_spec_parse("0.5/1", &s), 0);
    const char *bad[] = {"", "20", "20/", "/40", "0/10", "10/0", "-1/5", "x/y", "10/5x", NULL};
    for (const char **b = bad; *b; b++)
        cr_expect_eq(http_rate_spec_parse(*b, &s), -1, "accepted \"%s\"", *b);
    cr_expect_eq(http_rate_spec_parse(NULL, &s), -1);
}

Test(ratelimit, burst_then_refusal_with_a_wait)
{
    struct rate_limiter *rl = http_rate_limiter_new();
    struct rate_spec spec = {.per_second = 0.5, .burst = 3};
    cr_assert_not_null(rl);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(http_rate_limit_take(rl, "key-a", &spec), 0, "request %d within burst", i);
    /* The bucket is empty; at 0.5/s the next token is 2 s away. */
    cr_assert_eq(http_rate_limit_take(rl, "key-a", &spec), 2);
    /* Another key has its own bucket. */
    cr_assert_eq(http_rate_limit_take(rl, "key-b", &spec), 0);
    http_rate_limiter_free(rl);
}

/* Keys whose hashes meet in the table keep a bucket each: none gets its
 * burst back because another key was used in between. */
Test(ratelimit, keys_that_share_a_table_set_stay_limited)
{
    struct rate_limiter *rl = http_rate_limiter_new();
    struct rate_spec spec = {.per_second = 0.001, .burst = 1};
    char key[32];

    cr_assert_not_null(rl);
    for (int k = 0; k < 300; k++) {
        snprintf(key, sizeof key, "key-%d", k);
        cr_assert_eq(http_rate_limit_take(rl, key, &spec), 0, "%s: its first request", key);
    }
    for (int k = 0; k < 300; k++) {
        snprintf(key, sizeof key, "key-%d", k);
        cr_assert_gt(http_rate_limit_take(rl, key, &spec), 0, "%s got a fresh burst", key);
    }
    http_rate_limiter_free(rl);
}
