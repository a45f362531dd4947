#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/retry_schedule.h"
#include "http/ratelimit.h"

/* FLAG: the flag alone means true (it takes no value); the variable is
 * "true"/"1" or "false"/"0". U32/MS: a breaker setting (uint32_t/int64_t).
 * SCHEDULE: the retry schedule. */
enum kind { TEXT, INT, SIZE, RATE, FLAG, U32, MS, SCHEDULE };

struct setting {
    const char *env, *flag, *fallback, *help;
    enum kind kind;
    size_t offset;
    long lo, hi;
};

#define AT(field) offsetof(struct config, field)

static const struct setting settings[] = {
    {"BOOKD_LISTEN", "--listen", "127.0.0.1:8080", "host:port to serve on (port 0: any free)",
     TEXT, AT(listen), 0, 0},
    {"DATABASE_URL", "--database-url", NULL, "libpq connection string or URI", TEXT,
     AT(database_url), 0, 0},
    {"BOOKD_ADMIN_TOKEN", "--admin-token", NULL,
     "the operator's token; it may only create organizations", TEXT, AT(admin_token), 0, 0},
    /* Unset: the copies built into the binary (db/migrate.h says why). */
    {"BOOKD_MIGRATIONS_DIR", "--migrations-dir", NULL,
     "apply the migrations of this directory instead of those built in", TEXT,
     AT(migrations_dir), 0, 0},
    {"BOOKD_SQL_DIR", "--sql-dir", NULL,
     "apply the SQL function files of this directory instead of those built in", TEXT,
     AT(sql_dir), 0, 0},
    {"BOOKD_POOL_SIZE", "--pool-size", "16", "database connections", INT, AT(pool_size), 1, 500},
    {"BOOKD_POOL_WAIT_MS", "--pool-wait-ms", "2000",
     "wait for a free connection before answering 503", INT, AT(pool_wait_ms), 0, 60000},
    {"BOOKD_LOCK_TIMEOUT_MS", "--lock-timeout-ms", "2000",
     "wait for a slot's locks before answering slot_busy", INT, AT(lock_timeout_ms), 1, 60000},
    {"BOOKD_STATEMENT_TIMEOUT_MS", "--statement-timeout-ms", "5000",
     "longest statement of a request (at least the lock timeout + 1 s)", INT,
     AT(statement_timeout_ms), 100, 600000},
    /* "unnamed" for a pooler in transaction mode (PgBouncer): no session
     * state at all (db/connect.h). */
    {"BOOKD_DB_STATEMENTS", "--db-statements", "prepared",
     "prepared, or unnamed behind a pooler in transaction mode (PgBouncer)", TEXT,
     AT(db_statements), 0, 0},
    /* More than database connections, so that a request that finds the pool
     * busy waits there, bounded, not unbounded behind a busy thread
     * (bench/HISTORY.md, step 26). */
    {"BOOKD_HTTP_THREADS", "--http-threads", "32", "HTTP worker threads", INT,
     AT(http_threads), 1, 1024},
    {"BOOKD_MAX_CONNECTIONS", "--max-connections", "1024", "open HTTP connections at most", INT,
     AT(max_connections), 1, 100000},
    {"BOOKD_CONNECTION_TIMEOUT_S", "--connection-timeout-s", "15",
     "drop a connection idle or stalled this long", INT, AT(connection_timeout_s), 1, 3600},
    {"BOOKD_BODY_LIMIT", "--body-limit", "65536", "largest request body in bytes", SIZE,
     AT(body_limit), 1024, 16 * 1024 * 1024},
    {"BOOKD_RATE_LIMIT_ADMIN", "--rate-limit-admin", "1000/2000",
     "per admin key: requests per second/burst", RATE, AT(rate_admin), 0, 0},
    {"BOOKD_RATE_LIMIT_PUBLIC", "--rate-limit-public", "20/40",
     "per public key: requests per second/burst", RATE, AT(rate_public), 0, 0},
    /* Checked before any database work: a client guessing keys costs no
     * lookup once its address has spent this. */
    {"BOOKD_RATE_LIMIT_AUTH_FAILURES", "--rate-limit-auth-failures", "5/20",
     "unknown keys per client address: per second/burst, then 429 before any lookup", RATE,
     AT(rate_auth_failures), 0, 0},
    {"BOOKD_MAX_CONNECTIONS_PER_IP", "--max-connections-per-ip", "512",
     "open HTTP connections from one client address at most (0: no limit)", INT,
     AT(max_connections_per_ip), 0, 100000},
    {"BOOKD_REQUEST_DEADLINE_S", "--request-deadline-s", "30",
     "a request whose line, headers and body have not all arrived by then is cut off", INT,
     AT(request_deadline_s), 1, 3600},
    /* Holds cost nothing to make: without a cap, a script on the public
     * booking page could hold a whole calendar. Admin keys are not capped. */
    {"BOOKD_PUBLIC_HOLDS_MAX", "--public-holds-max", "100",
     "the public key may not hold a time while its organization has this many unexpired holds "
     "(0: no cap)", INT,
     AT(public_holds_max), 0, 100000},
    /* Vapi waits for a tool call's answer for a limited time, then the
     * caller hears nothing useful: answer before that, whatever the
     * database does. */
    {"BOOKD_VAPI_DEADLINE_MS", "--vapi-deadline-ms", "4000",
     "a Vapi tool call not answered by then is answered \"one moment\" (it goes on)", INT,
     AT(vapi_deadline_ms), 100, 6000},
    {"BOOKD_NO_WORKER", "--no-worker", "false",
     "serve without the delivery worker (run `bookd worker` elsewhere)", FLAG, AT(no_worker), 0,
     0},
    /* Keys only from the environment: a command line is visible to every
     * user of the machine (ps). */
    {"BOOKD_SECRET_KEY", NULL, NULL,
     "64 hex digits: the key that seals stored secrets (AES-256-GCM)", TEXT,
     AT(secret_key_hex), 0, 0},
    {"BOOKD_NEW_SECRET_KEY", NULL, NULL,
     "`bookd secrets rotate`: the key to re-seal every secret under", TEXT,
     AT(new_secret_key_hex), 0, 0},
    {"BOOKD_WEBHOOK_ALLOW_PRIVATE", "--webhook-allow-private", "false",
     "allow webhook receivers on loopback, private or link-local addresses", FLAG,
     AT(webhook_allow_private), 0, 0},
    {"BOOKD_WEBHOOK_RETRY_SCHEDULE", "--webhook-retry-schedule",
     "0,5,300,1800,7200,18000,36000,36000",
     "seconds to wait before each attempt of a delivery (its length: the attempts)", SCHEDULE,
     AT(retry), 0, 0},
    {"BOOKD_WEBHOOK_TIMEOUT_MS", "--webhook-timeout-ms", "10000",
     "connect and total time limit of one send", INT, AT(webhook_timeout_ms), 100, 120000},
    {"BOOKD_OUTBOX_POLL_MS", "--outbox-poll-ms", "1000",
     "longest sleep of the worker between looks for due deliveries", INT, AT(outbox_poll_ms), 10,
     60000},
    {"BOOKD_DELIVERY_LEASE_MS", "--delivery-lease-ms", "60000",
     "a claimed delivery not written back this long is claimable again", INT,
     AT(delivery_lease_ms), 1000, 3600000},
    {"BOOKD_DELIVERY_RETENTION_DAYS", "--delivery-retention-days", "30",
     "delivered deliveries are purged after this many days", INT, AT(delivery_retention_days),
     1, 3650},
    /* Where the integrations are (API.md, "Integrations"): tests point
     * them at local fakes. Operator settings, so not subject to the
     * webhooks' private-address rule. */
    {"BOOKD_PUBLIC_URL", "--public-url", NULL,
     "base URL of the links patients get (manage links); default http://<BOOKD_LISTEN>", TEXT,
     AT(public_url), 0, 0},
    /* For work on the pages: edits show without a rebuild. */
    {"BOOKD_WEB_DIR", "--web-dir", NULL,
     "serve the pages from this directory (e.g. web) instead of the copy built in", TEXT,
     AT(web_dir), 0, 0},
    {"BOOKD_GOOGLE_API_BASE", "--google-api-base", "https://www.googleapis.com",
     "Google Calendar API base URL", TEXT, AT(google_api_base), 0, 0},
    {"BOOKD_GOOGLE_TOKEN_URL", "--google-token-url", "https://oauth2.googleapis.com/token",
     "Google OAuth2 token URL", TEXT, AT(google_token_url), 0, 0},
    {"BOOKD_TWILIO_API_BASE", "--twilio-api-base", "https://api.twilio.com",
     "Twilio API base URL", TEXT, AT(twilio_api_base), 0, 0},
    {"BOOKD_VAPI_API_BASE", "--vapi-api-base", "https://api.vapi.ai", "Vapi API base URL", TEXT,
     AT(vapi_api_base), 0, 0},
    {"BOOKD_GOOGLE_SYNC_SECONDS", "--google-sync-seconds", "300",
     "import each linked calendar's busy times this often", INT, AT(google_sync_seconds), 1,
     86400},
    {"BOOKD_GOOGLE_SYNC_DAYS", "--google-sync-days", "60",
     "import busy times this many days ahead", INT, AT(google_sync_days), 1, 366},
    {"BOOKD_BREAKER_WINDOW", "--breaker-window", "20", "circuit breaker: calls remembered", U32,
     AT(breaker.window), 1, CORE_BREAKER_WINDOW_MAX},
    {"BOOKD_BREAKER_MIN_CALLS", "--breaker-min-calls", "10",
     "circuit breaker: calls in the window before the failure ratio counts", U32,
     AT(breaker.min_calls), 1, CORE_BREAKER_WINDOW_MAX},
    {"BOOKD_BREAKER_FAILURE_PCT", "--breaker-failure-pct", "50",
     "circuit breaker: opens at this % of failures in the window", U32,
     AT(breaker.failure_ratio_pct), 1, 100},
    {"BOOKD_BREAKER_CONSECUTIVE_FAILURES", "--breaker-consecutive-failures", "5",
     "circuit breaker: opens after this many failures in a row (0: never)", U32,
     AT(breaker.consecutive_failures), 0, 1000},
    {"BOOKD_BREAKER_OPEN_MS", "--breaker-open-ms", "30000",
     "circuit breaker: time open before trial calls", MS, AT(breaker.open_ms), 100, 3600000},
    {"BOOKD_BREAKER_HALF_OPEN_TRIALS", "--breaker-half-open-trials", "3",
     "circuit breaker: trial calls while half-open", U32, AT(breaker.half_open_trials), 1, 1000},
};

#define SETTING_COUNT (sizeof settings / sizeof settings[0])

static int apply(struct config *cfg, const struct setting *s, const char *value)
{
    char *base = (char *)cfg + s->offset, *end;
    long v;

    switch (s->kind) {
    case TEXT:
        *(const char **)base = value;
        return 0;
    case INT:
    case SIZE:
    case U32:
    case MS:
        errno = 0;
        v = strtol(value, &end, 10);
        if (!*value || *end || errno || v < s->lo || v > s->hi) {
            fprintf(stderr, "bookd: %s must be an integer from %ld to %ld\n", s->env, s->lo,
                    s->hi);
            return -1;
        }
        if (s->kind == SIZE)
            *(size_t *)base = (size_t)v;
        else if (s->kind == MS)
            *(int64_t *)base = v;
        else if (s->kind == U32)
            *(uint32_t *)base = (uint32_t)v;
        else
            *(int *)base = (int)v;
        return 0;
    case RATE:
        if (http_rate_spec_parse(value, (struct rate_spec *)base) != 0) {
            fprintf(stderr, "bookd: %s must be <requests per second>/<burst>\n", s->env);
            return -1;
        }
        return 0;
    case FLAG:
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0) {
            *(bool *)base = true;
            return 0;
        }
        if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0) {
            *(bool *)base = false;
            return 0;
        }
        fprintf(stderr, "bookd: %s must be true or false\n", s->env);
        return -1;
    case SCHEDULE: {
        char why[160];
        if (core_retry_schedule_parse(value, strlen(value), (struct core_retry_schedule *)base,
                                      why, sizeof why) != 0) {
            fprintf(stderr, "bookd: %s: %s\n", s->env, why);
            return -1;
        }
        return 0;
    }
    }
    return -1;
}

int config_load(struct config *cfg, int argc, char **argv, int first)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        const char *env = getenv(settings[i].env);
        const char *value = env && *env ? env : settings[i].fallback;
        if (value && apply(cfg, &settings[i], value) != 0)
            return -1;
    }
    for (int a = first; a < argc; a++) {
        size_t i = 0;
        while (i < SETTING_COUNT &&
               (!settings[i].flag || strcmp(argv[a], settings[i].flag) != 0))
            i++;
        if (i < SETTING_COUNT && settings[i].kind == FLAG) {
            apply(cfg, &settings[i], "true");
            continue;
        }
        if (i == SETTING_COUNT || a + 1 >= argc) {
            fprintf(stderr, "bookd: unknown or incomplete flag %s\n", argv[a]);
            return -1;
        }
        if (apply(cfg, &settings[i], argv[++a]) != 0)
            return -1;
    }
    if (strcmp(cfg->db_statements, "prepared") != 0 && strcmp(cfg->db_statements, "unnamed") != 0) {
        fputs("bookd: BOOKD_DB_STATEMENTS must be prepared or unnamed\n", stderr);
        return -1;
    }
    cfg->breaker.trial_lease_ms = cfg->delivery_lease_ms;
    if (cfg->breaker.min_calls > cfg->breaker.window) {
        fputs("bookd: BOOKD_BREAKER_MIN_CALLS must not exceed BOOKD_BREAKER_WINDOW\n", stderr);
        return -1;
    }
    return 0;
}

void config_print_help(FILE *out)
{
    for (size_t i = 0; i < SETTING_COUNT; i++)
        fprintf(out, "  %-24s %-28s %s%s%s%s\n",
                settings[i].flag ? settings[i].flag : "(environment only)", settings[i].env,
                settings[i].help, settings[i].fallback ? " (default " : "",
                settings[i].fallback ? settings[i].fallback : "",
                settings[i].fallback ? ")" : "");
}

int config_statement_timeout_ms(const struct config *cfg)
{
    int floor_ms = cfg->lock_timeout_ms + 1000;
    return cfg->statement_timeout_ms > floor_ms ? cfg->statement_timeout_ms : floor_ms;
}

enum db_statements_mode config_db_statements(const struct config *cfg)
{
    return strcmp(cfg->db_statements, "unnamed") == 0 ? DB_STATEMENTS_UNNAMED
                                                      : DB_STATEMENTS_PREPARED;
}
