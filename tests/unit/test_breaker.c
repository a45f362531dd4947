/* The circuit breaker (src/core/breaker.c): its thresholds, its states, and
 * state read back from a shared row. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/breaker.h"

#define T0 INT64_C(1893456000000) /* 2030-01-01, any time will do */

static const struct core_breaker_config defaults = CORE_BREAKER_CONFIG_DEFAULT;

/* Records a pattern of outcomes, 'S' success and 'F' failure, one ms apart. */
static void feed(struct core_breaker *b, const struct core_breaker_config *cfg, const char *pattern,
                 int64_t *now)
{
    for (const char *p = pattern; *p; p++) {
        cr_assert(core_breaker_allow(b, cfg, *now), "call %ld of %s refused", (long)(p - pattern),
                  pattern);
        core_breaker_record(b, cfg, *now, *p == 'S');
        *now += 1;
    }
}

/* A new breaker under the defaults, fed `pattern` from T0; *now is next. */
static struct core_breaker fed(const char *pattern, int64_t *now)
{
    struct core_breaker b;

    core_breaker_init(&b);
    *now = T0;
    feed(&b, &defaults, pattern, now);
    return b;
}

/* A breaker opened at `*opened_at` by five failures in a row. */
static struct core_breaker opened(int64_t *opened_at)
{
    int64_t now;
    struct core_breaker b = fed("FFFFF", &now);

    cr_assert_eq(b.state, CORE_BREAKER_OPEN);
    *opened_at = now - 1;
    cr_assert_eq(b.opened_at_ms, *opened_at);
    return b;
}

Test(breaker, the_defaults_are_those_of_the_design)
{
    struct core_breaker_config cfg;

    memset(&cfg, 0xff, sizeof cfg);
    core_breaker_config_default(&cfg);
    cr_assert_eq(cfg.window, 20);
    cr_assert_eq(cfg.min_calls, 10);
    cr_assert_eq(cfg.failure_ratio_pct, 50);
    cr_assert_eq(cfg.consecutive_failures, 5);
    cr_assert_eq(cfg.open_ms, 30000);
    cr_assert_eq(cfg.half_open_trials, 3);
    cr_assert_eq(cfg.trial_lease_ms, 60000);
    cr_assert_eq(core_breaker_config_check(&cfg), 0);
}

Test(breaker, a_configuration_out_of_range_is_refused_field_by_field)
{
    struct core_breaker_config c;

    cr_assert_eq(core_breaker_config_check(NULL), -1);
#define BAD(field, value)                                                                          \
    do {                                                                                           \
        c = defaults;                                                                              \
        c.field = value;                                                                           \
        cr_assert_eq(core_breaker_config_check(&c), -1, #field " = " #value " accepted");          \
    } while (0)
    BAD(window, 0);
    BAD(window, 64);
    BAD(min_calls, 0);
    BAD(min_calls, 21);
    BAD(failure_ratio_pct, 0);
    BAD(failure_ratio_pct, 101);
    BAD(open_ms, 0);
    BAD(open_ms, -1);
    BAD(half_open_trials, 0);
    BAD(half_open_trials, 1001);
    BAD(trial_lease_ms, 0);
#undef BAD
    /* The edges are fine, and so is switching the run of failures off. */
    c = defaults;
    c.window = 63;
    c.min_calls = 63;
    c.failure_ratio_pct = 100;
    c.consecutive_failures = 0;
    c.open_ms = 1;
    c.half_open_trials = 1000;
    c.trial_lease_ms = 1;
    cr_assert_eq(core_breaker_config_check(&c), 0);
}

Test(breaker, a_zeroed_breaker_is_closed_and_lets_calls_through)
{
    struct core_breaker b;

    memset(&b, 0, sizeof b);
    cr_assert_eq(core_breaker_state_at(&b, &defaults, T0), CORE_BREAKER_CLOSED);
    for (int i = 0; i < 100; i++)
        cr_assert(core_breaker_allow(&b, &defaults, T0 + i));
    cr_assert_eq(b.state, CORE_BREAKER_CLOSED);
    cr_assert_eq(core_breaker_next_probe_ms(&b, &defaults, T0), T0);
}

/*
 * The rules that open a closed breaker, as scenarios: each step feeds more
 * outcomes to the same breaker and says what it must then show.
 */
Test(breaker, the_window_and_the_run_of_failures_open_it)
{
    static const struct {
        const char *name;
        struct {
            const char *pattern;
            enum core_breaker_state state;
            uint32_t failures, calls;
        } steps[3];
    } scenarios[] = {
        {"five failures in a row, even with few calls",
         {{"FFFF", CORE_BREAKER_CLOSED, 4, 4}, {"F", CORE_BREAKER_OPEN, 5, 5}}},
        {"a success breaks the run", {{"FFFFSFFFF", CORE_BREAKER_CLOSED, 8, 9}}},
        /* 5 of 9 (56 %) never two in a row: not yet; the tenth call is a
         * success, and 5 of 10 is 50 %. */
        {"half failing, once ten calls are in the window",
         {{"FSFSFSFSF", CORE_BREAKER_CLOSED, 5, 9}, {"S", CORE_BREAKER_OPEN, 5, 10}}},
        {"fewer than half failing",
         {{"FSSFSSFSSFSSFSSFSSFS", CORE_BREAKER_CLOSED, 7, 20},
          {"SSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSS", CORE_BREAKER_CLOSED, 0, 20}}},
        /* 9 of 20 with the oldest a failure: it slides out as a new one
         * comes in; then a success slides out, and 10 of 20 opens it. */
        {"the window slides over the last twenty calls",
         {{"FSSSFSFSFSFSFSFSFSFS", CORE_BREAKER_CLOSED, 9, 20},
          {"F", CORE_BREAKER_CLOSED, 9, 20},
          {"F", CORE_BREAKER_OPEN, 10, 20}}},
    };

    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        struct core_breaker b;
        int64_t now = T0;

        core_breaker_init(&b);
        for (size_t j = 0; j < 3 && scenarios[i].steps[j].pattern; j++) {
            const char *name = scenarios[i].name;

            feed(&b, &defaults, scenarios[i].steps[j].pattern, &now);
            cr_assert_eq(b.state, scenarios[i].steps[j].state, "%s, step %zu: %s", name, j,
                         core_breaker_state_name(b.state));
            cr_assert_eq(core_breaker_window_failures(&b, &defaults),
                         scenarios[i].steps[j].failures, "%s, step %zu", name, j);
            cr_assert_eq(core_breaker_window_calls(&b, &defaults), scenarios[i].steps[j].calls,
                         "%s, step %zu", name, j);
        }
        if (b.state == CORE_BREAKER_OPEN) {
            cr_assert_eq(b.opened_at_ms, now - 1, "%s", scenarios[i].name);
            cr_assert_not(core_breaker_allow(&b, &defaults, now), "%s", scenarios[i].name);
        }
    }
}

Test(breaker, the_run_of_failures_is_counted)
{
    int64_t now;
    struct core_breaker b = fed("FFFFSFFFF", &now);

    cr_assert_eq(b.consecutive_failures, 4);
    feed(&b, &defaults, "S", &now);
    cr_assert_eq(b.consecutive_failures, 0);
}

Test(breaker, an_open_breaker_refuses_calls_for_thirty_seconds)
{
    int64_t at;
    struct core_breaker b = opened(&at);

    cr_assert_not(core_breaker_allow(&b, &defaults, at));
    cr_assert_not(core_breaker_allow(&b, &defaults, at + 29999));
    cr_assert_eq(core_breaker_state_at(&b, &defaults, at + 29999), CORE_BREAKER_OPEN);
    cr_assert_eq(core_breaker_next_probe_ms(&b, &defaults, at + 10), at + 30000);
    /* Time is up: it reads as half-open before anyone asks. */
    cr_assert_eq(core_breaker_state_at(&b, &defaults, at + 30000), CORE_BREAKER_HALF_OPEN);
    cr_assert_eq(b.state, CORE_BREAKER_OPEN);
    cr_assert_eq(core_breaker_next_probe_ms(&b, &defaults, at + 30000), at + 30000);
    cr_assert(core_breaker_allow(&b, &defaults, at + 30000));
    cr_assert_eq(b.state, CORE_BREAKER_HALF_OPEN);
}

Test(breaker, half_open_lets_three_trials_through_and_three_successes_close_it)
{
    int64_t at;
    struct core_breaker b = opened(&at);
    int64_t t = at + 30000;

    for (int i = 0; i < 3; i++)
        cr_assert(core_breaker_allow(&b, &defaults, t + i), "trial %d", i);
    cr_assert_eq(b.trials_in_flight, 3);
    cr_assert_not(core_breaker_allow(&b, &defaults, t + 3));
    /* Every slot is taken: the next chance is when the last trial's lease ends. */
    cr_assert_eq(core_breaker_next_probe_ms(&b, &defaults, t + 3), t + 2 + 60000);

    core_breaker_record(&b, &defaults, t + 10, true);
    core_breaker_record(&b, &defaults, t + 11, true);
    cr_assert_eq(b.state, CORE_BREAKER_HALF_OPEN);
    cr_assert_eq(b.trials_succeeded, 2);
    cr_assert_eq(b.trials_in_flight, 1);
    cr_assert_not(core_breaker_allow(&b, &defaults, t + 12));
    core_breaker_record(&b, &defaults, t + 13, true);
    cr_assert_eq(b.state, CORE_BREAKER_CLOSED);
    /* Closed afresh: empty window, nothing left of the episode. */
    cr_assert_eq(core_breaker_window_calls(&b, &defaults), 0);
    cr_assert_eq(core_breaker_window_failures(&b, &defaults), 0);
    cr_assert_eq(b.consecutive_failures, 0);
    cr_assert_eq(b.opened_at_ms, 0);
    cr_assert_eq(b.trials_in_flight, 0);
    cr_assert_eq(b.trials_succeeded, 0);
    cr_assert(core_breaker_allow(&b, &defaults, t + 14));
    /* And it takes five new failures to open it again. */
    int64_t now = t + 20;
    feed(&b, &defaults, "FFFF", &now);
    cr_assert_eq(b.state, CORE_BREAKER_CLOSED);
}

Test(breaker, a_failed_trial_opens_it_for_another_thirty_seconds)
{
    int64_t at;
    struct core_breaker b = opened(&at);
    int64_t t = at + 30000;

    cr_assert(core_breaker_allow(&b, &defaults, t));
    cr_assert(core_breaker_allow(&b, &defaults, t));
    core_breaker_record(&b, &defaults, t + 100, true);
    core_breaker_record(&b, &defaults, t + 200, false);
    cr_assert_eq(b.state, CORE_BREAKER_OPEN);
    cr_assert_eq(b.opened_at_ms, t + 200);
    cr_assert_eq(b.trials_in_flight, 0);
    cr_assert_eq(b.trials_succeeded, 0);
    cr_assert_not(core_breaker_allow(&b, &defaults, t + 200 + 29999));
    cr_assert_eq(core_breaker_next_probe_ms(&b, &defaults, t + 300), t + 200 + 30000);
    /* The other trial's success, arriving late, changes nothing. */
    core_breaker_record(&b, &defaults, t + 300, true);
    cr_assert_eq(b.state, CORE_BREAKER_OPEN);
    cr_assert_eq(b.opened_at_ms, t + 200);
    cr_assert(core_breaker_allow(&b, &defaults, t + 200 + 30000));
    cr_assert_eq(b.state, CORE_BREAKER_HALF_OPEN);
    cr_assert_eq(b.trials_in_flight, 1);
}

Test(breaker, outcomes_reported_while_open_are_ignored)
{
    int64_t at;
    struct core_breaker b = opened(&at);
    struct core_breaker before = b;

    core_breaker_record(&b, &defaults, at + 5, false);
    core_breaker_record(&b, &defaults, at + 6, true);
    cr_assert_eq(memcmp(&b, &before, sizeof b), 0);
}

Test(breaker, a_trial_nobody_reports_is_forgotten_after_its_lease)
{
    int64_t at;
    struct core_breaker b = opened(&at);
    int64_t t = at + 30000;

    for (int i = 0; i < 3; i++)
        cr_assert(core_breaker_allow(&b, &defaults, t));
    cr_assert_not(core_breaker_allow(&b, &defaults, t + 59999));
    /* The workers that took them died: the slots are free again. */
    cr_assert(core_breaker_allow(&b, &defaults, t + 60000));
    cr_assert_eq(b.trials_in_flight, 1);
    cr_assert_eq(b.trial_claimed_at_ms, t + 60000);
    cr_assert(core_breaker_allow(&b, &defaults, t + 60001));
    cr_assert(core_breaker_allow(&b, &defaults, t + 60002));
    cr_assert_not(core_breaker_allow(&b, &defaults, t + 60003));
}

Test(breaker, a_success_counts_in_half_open_even_from_a_call_sent_while_closed)
{
    int64_t at;
    struct core_breaker b = opened(&at);
    int64_t t = at + 30000;

    cr_assert(core_breaker_allow(&b, &defaults, t));
    core_breaker_record(&b, &defaults, t + 1, true); /* the trial */
    core_breaker_record(&b, &defaults, t + 2, true); /* a straggler */
    cr_assert_eq(b.trials_in_flight, 0);
    cr_assert_eq(b.trials_succeeded, 2);
    cr_assert(core_breaker_allow(&b, &defaults, t + 3));
    cr_assert_not(core_breaker_allow(&b, &defaults, t + 3));
    core_breaker_record(&b, &defaults, t + 4, true);
    cr_assert_eq(b.state, CORE_BREAKER_CLOSED);
}

Test(breaker, every_threshold_follows_the_configuration)
{
    struct core_breaker_config cfg = {.window = 4,
                                      .min_calls = 2,
                                      .failure_ratio_pct = 75,
                                      .consecutive_failures = 0,
                                      .open_ms = 1000,
                                      .half_open_trials = 1,
                                      .trial_lease_ms = 500};
    struct core_breaker b;
    int64_t now = T0;

    cr_assert_eq(core_breaker_config_check(&cfg), 0);
    core_breaker_init(&b);
    /* 1 of 2, 2 of 3: below 75 %. */
    feed(&b, &cfg, "FSF", &now);
    cr_assert_eq(b.state, CORE_BREAKER_CLOSED);
    /* 3 of 4. */
    feed(&b, &cfg, "F", &now);
    cr_assert_eq(b.state, CORE_BREAKER_OPEN);
    int64_t at = b.opened_at_ms;
    cr_assert_not(core_breaker_allow(&b, &cfg, at + 999));
    cr_assert(core_breaker_allow(&b, &cfg, at + 1000));
    cr_assert_not(core_breaker_allow(&b, &cfg, at + 1000)); /* one trial only */
    cr_assert_eq(core_breaker_next_probe_ms(&b, &cfg, at + 1000), at + 1500);
    core_breaker_record(&b, &cfg, at + 1100, true);
    cr_assert_eq(b.state, CORE_BREAKER_CLOSED);

    /* With the run rule off, any number in a row below min_calls never opens it. */
    cfg.min_calls = 4;
    cfg.failure_ratio_pct = 100;
    now = T0;
    core_breaker_init(&b);
    feed(&b, &cfg, "FFF", &now);
    cr_assert_eq(b.state, CORE_BREAKER_CLOSED);
    cr_assert_eq(b.consecutive_failures, 3);
    feed(&b, &cfg, "F", &now);
    cr_assert_eq(b.state, CORE_BREAKER_OPEN);
}

Test(breaker, a_bad_configuration_is_replaced_by_the_defaults)
{
    struct core_breaker_config bad = defaults;
    struct core_breaker b;
    int64_t now = T0;

    bad.window = 0;
    core_breaker_init(&b);
    feed(&b, &bad, "FFFF", &now);
    cr_assert_eq(b.state, CORE_BREAKER_CLOSED);
    feed(&b, &bad, "F", &now);
    cr_assert_eq(b.state, CORE_BREAKER_OPEN);
    cr_assert_eq(core_breaker_next_probe_ms(&b, NULL, now), b.opened_at_ms + 30000);
}

Test(breaker, the_state_survives_a_round_trip_through_row_columns)
{
    struct core_breaker_config cfg = defaults;
    struct core_breaker b, back;
    int64_t cols[8];
    int64_t now = T0;

    /* The widest window, all failures: the top bit used is bit 62. */
    cfg.window = 63;
    cfg.min_calls = 63;
    cfg.consecutive_failures = 0;
    cfg.failure_ratio_pct = 100;
    core_breaker_init(&b);
    for (int i = 0; i < 62; i++)
        feed(&b, &cfg, "F", &now);
    cr_assert_eq(b.state, CORE_BREAKER_CLOSED);
    feed(&b, &cfg, "F", &now);
    cr_assert_eq(b.state, CORE_BREAKER_OPEN);
    cr_assert_eq(b.window_bits, (UINT64_C(1) << 63) - 1);

    /* What a row of bigint and integer columns would hold. */
    cols[0] = b.state;
    cols[1] = (int64_t)b.window_bits;
    cols[2] = b.window_calls;
    cols[3] = b.consecutive_failures;
    cols[4] = b.opened_at_ms;
    cols[5] = b.trials_in_flight;
    cols[6] = b.trials_succeeded;
    cols[7] = b.trial_claimed_at_ms;
    cr_assert_geq(cols[1], 0, "window_bits must fit a non-negative bigint");

    memset(&back, 0, sizeof back);
    back.state = (int32_t)cols[0];
    back.window_bits = (uint64_t)cols[1];
    back.window_calls = (uint32_t)cols[2];
    back.consecutive_failures = (uint32_t)cols[3];
    back.opened_at_ms = cols[4];
    back.trials_in_flight = (uint32_t)cols[5];
    back.trials_succeeded = (uint32_t)cols[6];
    back.trial_claimed_at_ms = cols[7];
    cr_assert_eq(memcmp(&back, &b, sizeof b), 0);
    cr_assert_eq(core_breaker_window_failures(&back, &cfg), 63);
    cr_assert_eq(core_breaker_next_probe_ms(&back, &cfg, now), b.opened_at_ms + 30000);
}

Test(breaker, workers_sharing_one_row_get_three_trial_slots_between_them)
{
    int64_t at;
    struct core_breaker row = opened(&at);
    int granted = 0;

    /* Each worker reads the row, asks, and writes it back. */
    for (int worker = 0; worker < 6; worker++) {
        struct core_breaker mine = row;
        if (core_breaker_allow(&mine, &defaults, at + 30000 + worker))
            granted++;
        row = mine;
    }
    cr_assert_eq(granted, 3);
}

Test(breaker, nonsense_read_back_from_a_row_is_brought_within_bounds)
{
    struct core_breaker b;

    /* An unknown state is a fresh, closed breaker. */
    memset(&b, 0, sizeof b);
    b.state = 7;
    b.consecutive_failures = 99;
    cr_assert(core_breaker_allow(&b, &defaults, T0));
    cr_assert_eq(b.state, CORE_BREAKER_CLOSED);
    cr_assert_eq(b.consecutive_failures, 0);
    cr_assert_str_eq(core_breaker_state_name(7), "unknown");

    /* A window longer than configured, with stray bits above it. */
    memset(&b, 0, sizeof b);
    b.window_calls = 1000;
    b.window_bits = UINT64_MAX;
    cr_assert_eq(core_breaker_window_calls(&b, &defaults), 20);
    cr_assert_eq(core_breaker_window_failures(&b, &defaults), 20);
    core_breaker_record(&b, &defaults, T0, true);
    cr_assert_eq(b.window_calls, 20);
    cr_assert_eq(b.window_bits, ((UINT64_C(1) << 20) - 1) & ~UINT64_C(1));
    cr_assert_eq(b.state, CORE_BREAKER_OPEN); /* 19 of 20 failed */

    /* Opened "in the future": taken as opened now, so one period at most. */
    memset(&b, 0, sizeof b);
    b.state = CORE_BREAKER_OPEN;
    b.opened_at_ms = INT64_MAX;
    cr_assert_eq(core_breaker_next_probe_ms(&b, &defaults, T0), T0 + 30000);
    cr_assert_not(core_breaker_allow(&b, &defaults, T0));
    cr_assert_eq(b.opened_at_ms, T0);
    cr_assert(core_breaker_allow(&b, &defaults, T0 + 30000));

    /* More trials counted than there are slots. */
    memset(&b, 0, sizeof b);
    b.state = CORE_BREAKER_HALF_OPEN;
    b.trials_in_flight = 50;
    b.trials_succeeded = 50;
    b.trial_claimed_at_ms = T0;
    cr_assert_not(core_breaker_allow(&b, &defaults, T0));
    cr_assert_leq(b.trials_in_flight + b.trials_succeeded, 3);
    core_breaker_record(&b, &defaults, T0 + 1, true);
    cr_assert_eq(b.state, CORE_BREAKER_CLOSED);
}

Test(breaker, times_at_the_ends_of_the_range_do_not_overflow)
{
    struct core_breaker_config cfg = defaults;
    struct core_breaker b;
    int64_t now = T0;

    cfg.open_ms = INT64_MAX;
    core_breaker_init(&b);
    feed(&b, &cfg, "FFFFF", &now);
    cr_assert_eq(b.state, CORE_BREAKER_OPEN);
    cr_assert_eq(core_breaker_next_probe_ms(&b, &cfg, now), INT64_MAX);
    cr_assert_not(core_breaker_allow(&b, &cfg, INT64_MAX - 1));

    core_breaker_init(&b);
    now = INT64_MIN + 10;
    feed(&b, &defaults, "FFFFF", &now);
    cr_assert_eq(b.state, CORE_BREAKER_OPEN);
    cr_assert_not(core_breaker_allow(&b, &defaults, now));
    cr_assert(core_breaker_allow(&b, &defaults, now + 30000));
}

Test(breaker, state_names_read_back)
{
    enum core_breaker_state s;

    cr_assert_str_eq(core_breaker_state_name(CORE_BREAKER_CLOSED), "closed");
    cr_assert_str_eq(core_breaker_state_name(CORE_BREAKER_OPEN), "open");
    cr_assert_str_eq(core_breaker_state_name(CORE_BREAKER_HALF_OPEN), "half_open");
    cr_assert_eq(CORE_BREAKER_CLOSED, 0);
    cr_assert_eq(CORE_BREAKER_OPEN, 1);
    cr_assert_eq(CORE_BREAKER_HALF_OPEN, 2);
    cr_assert_eq(core_breaker_state_parse("half_open", &s), 0);
    cr_assert_eq(s, CORE_BREAKER_HALF_OPEN);
    cr_assert_eq(core_breaker_state_parse("open", &s), 0);
    cr_assert_eq(s, CORE_BREAKER_OPEN);
    cr_assert_eq(core_breaker_state_parse("closed", &s), 0);
    cr_assert_eq(s, CORE_BREAKER_CLOSED);
    cr_assert_eq(core_breaker_state_parse("half-open", &s), -1);
    cr_assert_eq(core_breaker_state_parse("", &s), -1);
    cr_assert_eq(core_breaker_state_parse(NULL, &s), -1);
}

Test(breaker, transport_errors_5xx_and_429_count_against_the_target)
{
    static const struct {
        int status;
        bool transport;
        bool failure;
    } cases[] = {
        {0, true, true},     {200, true, true},   {200, false, false}, {201, false, false},
        {204, false, false}, {299, false, false}, {301, false, false}, {400, false, false},
        {401, false, false}, {404, false, false}, {410, false, false}, {413, false, false},
        {422, false, false}, {429, false, true},  {499, false, false}, {500, false, true},
        {502, false, true},  {503, false, true},  {504, false, true},  {599, false, true},
        {0, false, true},    {99, false, true},   {600, false, true},  {-1, false, true},
        {100, false, false},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(core_breaker_counts_as_failure(cases[i].status, cases[i].transport),
                     cases[i].failure, "status %d transport %d", cases[i].status,
                     cases[i].transport);
}

Test(breaker, a_success_leaves_a_full_window_of_successes_as_it_was)
{
    int64_t now;
    struct core_breaker b = fed("SSSSSSSSSSSSSSSSSSSS", &now), before = b;

    cr_assert(core_breaker_equal(&b, &before));
    feed(&b, &defaults, "S", &now);
    cr_assert(core_breaker_equal(&b, &before), "nothing to write after another success");
    feed(&b, &defaults, "F", &now);
    cr_assert_not(core_breaker_equal(&b, &before), "a failure changes the window");
    b = fed("SSSSS", &now);
    before = b;
    feed(&b, &defaults, "S", &now);
    cr_assert_not(core_breaker_equal(&b, &before), "a window not yet full grows");
}
