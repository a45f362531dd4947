/* The retry schedule (src/core/retry_schedule.c): what it accepts and the
 * delays it gives. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/retry_schedule.h"

static struct core_retry_schedule parsed(const char *text)
{
    struct core_retry_schedule s;
    char why[128] = "";

    cr_assert_eq(core_retry_schedule_parse(text, strlen(text), &s, why, sizeof why), 0,
                 "[%s] refused: %s", text, why);
    return s;
}

static int64_t delay(const struct core_retry_schedule *s, uint32_t made, double unit)
{
    int64_t ms = -1;

    cr_assert_eq(core_retry_next_delay_ms(s, made, unit, &ms), 0, "attempt %u", made + 1);
    return ms;
}

Test(retry_schedule, the_default_is_eight_attempts_over_a_day)
{
    static const uint32_t want[] = {0, 5, 300, 1800, 7200, 18000, 36000, 36000};
    struct core_retry_schedule s = parsed(CORE_RETRY_SCHEDULE_DEFAULT), d;
    int64_t ms;

    cr_assert_eq(s.attempts, 8);
    cr_assert_eq(s.jitter_pct, 20);
    for (size_t i = 0; i < 8; i++) {
        cr_assert_eq(s.delay_s[i], want[i]);
        cr_assert_eq(delay(&s, (uint32_t)i, 0.5), (int64_t)want[i] * 1000);
    }
    cr_assert_eq(core_retry_next_delay_ms(&s, 8, 0.5, &ms), 1);
    cr_assert_eq(ms, 0);
    cr_assert_eq(core_retry_next_delay_ms(&s, UINT32_MAX, 0.5, &ms), 1);
    core_retry_schedule_default(&d);
    cr_assert_eq(memcmp(&s, &d, sizeof s), 0);
}

Test(retry_schedule, short_schedules_for_tests_and_the_limits_are_accepted)
{
    struct core_retry_schedule s = parsed("0");
    int64_t ms;
    char text[400];
    size_t n = 0;

    cr_assert_eq(s.attempts, 1);
    cr_assert_eq(delay(&s, 0, 0.9), 0);
    cr_assert_eq(core_retry_next_delay_ms(&s, 1, 0.5, &ms), 1);

    s = parsed("0,1,1,2");
    cr_assert_eq(s.attempts, 4);
    cr_assert_eq(s.delay_s[3], 2);

    s = parsed("604800");
    cr_assert_eq(s.delay_s[0], 604800);
    s = parsed("0000000000000000000000000000000000000000000000000000000005");
    cr_assert_eq(s.delay_s[0], 5);

    /* Thirty items is the most. */
    for (int i = 0; i < 30; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s%d", i ? "," : "", i);
    s = parsed(text);
    cr_assert_eq(s.attempts, 30);
    cr_assert_eq(s.delay_s[29], 29);
    cr_assert_eq(delay(&s, 29, 0.5), 29000);
    cr_assert_eq(core_retry_next_delay_ms(&s, 30, 0.5, &ms), 1);
}

Test(retry_schedule, malformed_schedules_are_refused_naming_the_item)
{
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"", "retry schedule is empty"},
        {",", "retry schedule item 1 is empty"},
        {"0,5,", "retry schedule item 3 is empty"},
        {",0,5", "retry schedule item 1 is empty"},
        {"0,,5", "retry schedule item 2 is empty"},
        {"0,-5", "retry schedule item 2 is not a whole number of seconds"},
        {"0, 5", "retry schedule item 2 is not a whole number of seconds"},
        {"0,5 ", "retry schedule item 2 is not a whole number of seconds"},
        {"+5", "retry schedule item 1 is not a whole number of seconds"},
        {"1.5", "retry schedule item 1 is not a whole number of seconds"},
        {"5s", "retry schedule item 1 is not a whole number of seconds"},
        {"0x10", "retry schedule item 1 is not a whole number of seconds"},
        {"0;5", "retry schedule item 1 is not a whole number of seconds"},
        {"1e3", "retry schedule item 1 is not a whole number of seconds"},
        {"604801", "retry schedule item 1 is over 7 days (604800 seconds)"},
        {"0,99999999999999999999999", "retry schedule item 2 is over 7 days (604800 seconds)"},
    };
    struct core_retry_schedule s;
    char why[128];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&s, 0x5a, sizeof s);
        why[0] = '\0';
        cr_assert_eq(
            core_retry_schedule_parse(bad[i].text, strlen(bad[i].text), &s, why, sizeof why), -1,
            "[%s] accepted", bad[i].text);
        cr_assert_str_eq(why, bad[i].why, "[%s]", bad[i].text);
        cr_assert_eq(s.attempts, 0);
    }
    /* Thirty-one items. */
    const char *many = "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1";
    cr_assert_eq(core_retry_schedule_parse(many, strlen(many), &s, why, sizeof why), -1);
    cr_assert_str_eq(why, "retry schedule has more than 30 items");
    /* A NUL inside the length is not a digit; the length bounds the read. */
    cr_assert_eq(core_retry_schedule_parse("5\0", 2, &s, NULL, 0), -1);
    cr_assert_eq(core_retry_schedule_parse("5,6", 1, &s, NULL, 0), 0);
    cr_assert_eq(s.attempts, 1);
    cr_assert_eq(core_retry_schedule_parse(NULL, 3, &s, why, sizeof why), -1);
    cr_assert_eq(core_retry_schedule_parse("5", 1, NULL, why, sizeof why), -1);
}

Test(retry_schedule, jitter_moves_a_step_by_up_to_a_fifth_either_way)
{
    struct core_retry_schedule s = parsed("0,5,300");

    cr_assert_eq(delay(&s, 1, 0.0), 4000);
    cr_assert_eq(delay(&s, 1, 0.25), 4500);
    cr_assert_eq(delay(&s, 1, 0.5), 5000);
    cr_assert_eq(delay(&s, 1, 0.75), 5500);
    cr_assert_eq(delay(&s, 1, nextafter(1.0, 0.0)), 6000);
    cr_assert_eq(delay(&s, 2, 0.0), 240000);
    cr_assert_lt(delay(&s, 2, nextafter(1.0, 0.0)), 360001);
    /* Every draw lands within the band, and the band is covered. */
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t ms = delay(&s, 2, i / 1000.0);
        cr_assert_geq(ms, 240000);
        cr_assert_leq(ms, 360000);
        lo = ms < lo ? ms : lo;
        hi = ms > hi ? ms : hi;
    }
    cr_assert_eq(lo, 240000);
    cr_assert_geq(hi, 359000);
}

Test(retry_schedule, a_zero_step_stays_zero_whatever_the_draw)
{
    struct core_retry_schedule s = parsed("0,0,5");

    for (int i = 0; i < 10; i++) {
        cr_assert_eq(delay(&s, 0, i / 10.0), 0);
        cr_assert_eq(delay(&s, 1, i / 10.0), 0);
    }
}

Test(retry_schedule, a_draw_outside_the_unit_interval_means_no_jitter)
{
    struct core_retry_schedule s = parsed("10");

    cr_assert_eq(delay(&s, 0, 1.0), 10000);
    cr_assert_eq(delay(&s, 0, -0.1), 10000);
    cr_assert_eq(delay(&s, 0, 7.0), 10000);
    cr_assert_eq(delay(&s, 0, NAN), 10000);
    cr_assert_eq(delay(&s, 0, INFINITY), 10000);
}

Test(retry_schedule, the_jitter_can_be_changed_or_switched_off)
{
    struct core_retry_schedule s = parsed("604800");

    s.jitter_pct = 0;
    cr_assert_eq(delay(&s, 0, 0.0), INT64_C(604800000));
    cr_assert_eq(delay(&s, 0, 0.99), INT64_C(604800000));
    s.jitter_pct = 50;
    cr_assert_eq(delay(&s, 0, 0.0), INT64_C(302400000));
    /* Over 100 % is taken as 100 %: never a negative wait. */
    s.jitter_pct = 250;
    cr_assert_eq(delay(&s, 0, 0.0), 0);
    cr_assert_eq(delay(&s, 0, 0.75), INT64_C(907200000));
}
