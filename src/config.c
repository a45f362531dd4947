#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/ratelimit.h"

enum kind { TEXT, INT, SIZE, RATE };

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
    {"BOOKD_MIGRATIONS_DIR", "--migrations-dir", "migrations", "where the migrations are", TEXT,
     AT(migrations_dir), 0, 0},
    {"BOOKD_SQL_DIR", "--sql-dir", "sql", "where the SQL function files are", TEXT, AT(sql_dir),
     0, 0},
    {"BOOKD_POOL_SIZE", "--pool-size", "16", "database connections", INT, AT(pool_size), 1, 500},
    {"BOOKD_POOL_WAIT_MS", "--pool-wait-ms", "2000",
     "wait for a free connection before answering 503", INT, AT(pool_wait_ms), 0, 60000},
    {"BOOKD_LOCK_TIMEOUT_MS", "--lock-timeout-ms", "2000",
     "wait for a slot's locks before answering slot_busy", INT, AT(lock_timeout_ms), 1, 60000},
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
        errno = 0;
        v = strtol(value, &end, 10);
        if (!*value || *end || errno || v < s->lo || v > s->hi) {
            fprintf(stderr, "bookd: %s must be an integer from %ld to %ld\n", s->env, s->lo,
                    s->hi);
            return -1;
        }
        if (s->kind == SIZE)
            *(size_t *)base = (size_t)v;
        else
            *(int *)base = (int)v;
        return 0;
    case RATE:
        if (http_rate_spec_parse(value, (struct rate_spec *)base) != 0) {
            fprintf(stderr, "bookd: %s must be <requests per second>/<burst>\n", s->env);
            return -1;
        }
        return 0;
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
        while (i < SETTING_COUNT && strcmp(argv[a], settings[i].flag) != 0)
            i++;
        if (i == SETTING_COUNT || a + 1 >= argc) {
            fprintf(stderr, "bookd: unknown or incomplete flag %s\n", argv[a]);
            return -1;
        }
        if (apply(cfg, &settings[i], argv[++a]) != 0)
            return -1;
    }
    return 0;
}

void config_print_help(FILE *out)
{
    for (size_t i = 0; i < SETTING_COUNT; i++)
        fprintf(out, "  %-24s %-28s %s%s%s%s\n", settings[i].flag, settings[i].env,
                settings[i].help, settings[i].fallback ? " (default " : "",
                settings[i].fallback ? settings[i].fallback : "",
                settings[i].fallback ? ")" : "");
}
