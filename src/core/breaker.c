#include "core/breaker.h"

#include <string.h>

void core_breaker_config_default(struct core_breaker_config *cfg)
{
    *cfg = (struct core_breaker_config)CORE_BREAKER_CONFIG_DEFAULT;
}

int core_breaker_config_check(const struct core_breaker_config *cfg)
{
    if (!cfg || cfg->window < 1 || cfg->window > CORE_BREAKER_WINDOW_MAX)
        return -1;
    if (cfg->min_calls < 1 || cfg->min_calls > cfg->window)
        return -1;
    if (cfg->failure_ratio_pct < 1 || cfg->failure_ratio_pct > 100)
        return -1;
    if (cfg->open_ms < 1 || cfg->trial_lease_ms < 1)
        return -1;
    if (cfg->half_open_trials < 1 || cfg->half_open_trials > 1000)
        return -1;
    return 0;
}

void core_breaker_init(struct core_breaker *b)
{
    memset(b, 0, sizeof *b);
}

bool core_breaker_equal(const struct core_breaker *a, const struct core_breaker *b)
{
    return a->state == b->state && a->window_bits == b->window_bits &&
           a->window_calls == b->window_calls &&
           a->consecutive_failures == b->consecutive_failures &&
           a->opened_at_ms == b->opened_at_ms && a->trials_in_flight == b->trials_in_flight &&
           a->trials_succeeded == b->trials_succeeded &&
           a->trial_claimed_at_ms == b->trial_claimed_at_ms;
}

/* A configuration that fails the check is replaced by the defaults, so a
 * caller's mistake cannot divide by nothing or shift past 63 bits. */
static struct core_breaker_config effective(const struct core_breaker_config *cfg)
{
    struct core_breaker_config d = CORE_BREAKER_CONFIG_DEFAULT;

    return core_breaker_config_check(cfg) == 0 ? *cfg : d;
}

static uint64_t low_bits(uint32_t n)
{
    return n >= 64 ? UINT64_MAX : (UINT64_C(1) << n) - 1;
}

static uint32_t popcount64(uint64_t v)
{
    uint32_t n = 0;

    for (; v; v &= v - 1)
        n++;
    return n;
}

/* a + b without overflow: saturates at the int64 range's ends. */
static int64_t add_sat(int64_t a, int64_t b)
{
    int64_t r;

    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static void open_now(struct core_breaker *b, int64_t now_ms)
{
    b->state = CORE_BREAKER_OPEN;
    b->opened_at_ms = now_ms;
    b->trials_in_flight = 0;
    b->trials_succeeded = 0;
    b->trial_claimed_at_ms = 0;
}

/*
 * Brings a state read from a shared row within what the configuration
 * allows: an unknown state is a closed breaker, the window no longer than
 * configured and its unused bits clear, trial counts within the trials.
 * Times in the future (another worker's clock ahead of ours, a row edited
 * by hand) are taken as now, which bounds the harm to one open period or
 * one lease instead of however far ahead the stored time is.
 */
static void clamp(struct core_breaker *b, const struct core_breaker_config *cfg, int64_t now_ms)
{
    if (b->state != CORE_BREAKER_CLOSED && b->state != CORE_BREAKER_OPEN &&
        b->state != CORE_BREAKER_HALF_OPEN) {
        core_breaker_init(b);
        return;
    }
    if (b->window_calls > cfg->window)
        b->window_calls = cfg->window;
    b->window_bits &= low_bits(b->window_calls);
    if (b->opened_at_ms > now_ms)
        b->opened_at_ms = now_ms;
    if (b->trial_claimed_at_ms > now_ms)
        b->trial_claimed_at_ms = now_ms;
    if (b->trials_succeeded >= cfg->half_open_trials)
        b->trials_succeeded = cfg->half_open_trials - 1;
    if (b->trials_in_flight > cfg->half_open_trials - b->trials_succeeded)
        b->trials_in_flight = cfg->half_open_trials - b->trials_succeeded;
}

static bool open_period_over(const struct core_breaker *b, const struct core_breaker_config *cfg,
                             int64_t now_ms)
{
    return now_ms >= add_sat(b->opened_at_ms, cfg->open_ms);
}

static bool trips(const struct core_breaker *b, const struct core_breaker_config *cfg)
{
    uint64_t failures = popcount64(b->window_bits);

    if (cfg->consecutive_failures > 0 && b->consecutive_failures >= cfg->consecutive_failures)
        return true;
    return b->window_calls >= cfg->min_calls &&
           failures * 100 >= (uint64_t)cfg->failure_ratio_pct * b->window_calls;
}

bool core_breaker_allow(struct core_breaker *b, const struct core_breaker_config *config,
                        int64_t now_ms)
{
    struct core_breaker_config cfg = effective(config);

    clamp(b, &cfg, now_ms);
    if (b->state == CORE_BREAKER_CLOSED)
        return true;
    if (b->state == CORE_BREAKER_OPEN) {
        if (!open_period_over(b, &cfg, now_ms))
            return false;
        b->state = CORE_BREAKER_HALF_OPEN;
        b->trials_in_flight = 0;
        b->trials_succeeded = 0;
        b->trial_claimed_at_ms = 0;
    }
    /* Trials nobody reported within the lease went down with their worker. */
    if (b->trials_in_flight > 0 && now_ms >= add_sat(b->trial_claimed_at_ms, cfg.trial_lease_ms))
        b->trials_in_flight = 0;
    if (b->trials_in_flight + b->trials_succeeded >= cfg.half_open_trials)
        return false;
    b->trials_in_flight++;
    b->trial_claimed_at_ms = now_ms;
    return true;
}

void core_breaker_record(struct core_breaker *b, const struct core_breaker_config *config,
                         int64_t now_ms, bool success)
{
    struct core_breaker_config cfg = effective(config);

    clamp(b, &cfg, now_ms);
    if (b->state == CORE_BREAKER_OPEN)
        return;
    if (success)
        b->consecutive_failures = 0;
    else if (b->consecutive_failures < UINT32_MAX)
        b->consecutive_failures++;

    if (b->state == CORE_BREAKER_CLOSED) {
        b->window_bits = ((b->window_bits << 1) | (success ? 0u : 1u)) & low_bits(cfg.window);
        if (b->window_calls < cfg.window)
            b->window_calls++;
        if (trips(b, &cfg))
            open_now(b, now_ms);
        return;
    }
    /* Half-open. */
    if (b->trials_in_flight > 0)
        b->trials_in_flight--;
    if (!success) {
        open_now(b, now_ms);
        return;
    }
    if (++b->trials_succeeded >= cfg.half_open_trials)
        core_breaker_init(b);
}

enum core_breaker_state core_breaker_state_at(const struct core_breaker *b,
                                              const struct core_breaker_config *config,
                                              int64_t now_ms)
{
    struct core_breaker_config cfg = effective(config);
    struct core_breaker c = *b;

    clamp(&c, &cfg, now_ms);
    if (c.state == CORE_BREAKER_OPEN && open_period_over(&c, &cfg, now_ms))
        return CORE_BREAKER_HALF_OPEN;
    return (enum core_breaker_state)c.state;
}

int64_t core_breaker_next_probe_ms(const struct core_breaker *b,
                                   const struct core_breaker_config *config, int64_t now_ms)
{
    struct core_breaker_config cfg = effective(config);
    struct core_breaker c = *b;
    int64_t at = now_ms;

    clamp(&c, &cfg, now_ms);
    if (c.state == CORE_BREAKER_OPEN)
        at = add_sat(c.opened_at_ms, cfg.open_ms);
    else if (c.state == CORE_BREAKER_HALF_OPEN &&
             c.trials_in_flight + c.trials_succeeded >= cfg.half_open_trials)
        at = add_sat(c.trial_claimed_at_ms, cfg.trial_lease_ms);
    return at > now_ms ? at : now_ms;
}

uint32_t core_breaker_window_failures(const struct core_breaker *b,
                                      const struct core_breaker_config *config)
{
    struct core_breaker_config cfg = effective(config);
    uint32_t calls = b->window_calls < cfg.window ? b->window_calls : cfg.window;

    return popcount64(b->window_bits & low_bits(calls));
}

uint32_t core_breaker_window_calls(const struct core_breaker *b,
                                   const struct core_breaker_config *config)
{
    struct core_breaker_config cfg = effective(config);

    return b->window_calls < cfg.window ? b->window_calls : cfg.window;
}

const char *core_breaker_state_name(int state)
{
    switch (state) {
    case CORE_BREAKER_CLOSED:
        return "closed";
    case CORE_BREAKER_OPEN:
        return "open";
    case CORE_BREAKER_HALF_OPEN:
        return "half_open";
    default:
        return "unknown";
    }
}

int core_breaker_state_parse(const char *name, enum core_breaker_state *out)
{
    static const enum core_breaker_state all[] = {CORE_BREAKER_CLOSED, CORE_BREAKER_OPEN,
                                                  CORE_BREAKER_HALF_OPEN};

    for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(name, core_breaker_state_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return -1;
}

bool core_breaker_counts_as_failure(int http_status, bool transport_error)
{
    if (transport_error)
        return true;
    /* Not an HTTP status at all: the answer could not be read. */
    if (http_status < 100 || http_status > 599)
        return true;
    return http_status == 429 || http_status >= 500;
}
