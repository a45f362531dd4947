/*
 * bookd: appointment booking that never books a slot twice.
 *
 *   bookd serve    [FLAGS]   serve the HTTP API
 *   bookd migrate  [FLAGS]   apply the pending migrations and changed SQL functions
 *   bookd version | help
 *
 * Every flag has an environment variable of the same meaning (`bookd help`
 * lists them); a flag wins.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "app.h"
#include "config.h"
#include "db/migrate.h"
#include "http/auth.h"
#include "http/ratelimit.h"
#include "http/server.h"
#include "log.h"
#include "log_sink.h"
#include "metrics.h"

#define SHUTDOWN_GRACE_MS 10000
/* Access lines gather this long before one write (src/log_sink.h). */
#define LOG_FLUSH_INTERVAL_MS 10

static void usage(FILE *out)
{
    fputs("usage: bookd COMMAND [FLAGS]\n"
          "\n"
          "commands:\n"
          "  serve     serve the HTTP API (see README.md)\n"
          "  migrate   apply the pending migrations and the changed SQL function files\n"
          "            (sql/), all in one transaction\n"
          "  org create NAME TIMEZONE\n"
          "            create an organization; prints its keys (shown once) as JSON\n"
          "  version   print the version\n"
          "  help      print this text\n"
          "\n"
          "flags and environment variables (BOOKD_LOG_LEVEL: debug|info|warn|error):\n",
          out);
    config_print_help(out);
}

static void set_log_level(void)
{
    const char *level = getenv("BOOKD_LOG_LEVEL");
    if (!level)
        return;
    if (strcmp(level, "debug") == 0)
        log_set_level(LOG_DEBUG);
    else if (strcmp(level, "warn") == 0)
        log_set_level(LOG_WARN);
    else if (strcmp(level, "error") == 0)
        log_set_level(LOG_ERROR);
}

/* Serves until SIGTERM or SIGINT, then drains requests in flight. */
static int serve(struct app *app)
{
    const char *patterns[64];
    struct http_server *server;
    sigset_t stop_signals;
    int sig = 0;

    /* Block the stop signals before any thread starts, so every thread
     * inherits the mask and only sigwait() below receives them. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    app->pool = db_pool_new(app->cfg.database_url, app->cfg.pool_size, app->cfg.pool_wait_ms);
    app->auth = http_auth_cache_new(app->cfg.admin_token);
    app->limiter = http_rate_limiter_new();
    if (!app->pool || !app->auth || !app->limiter) {
        log_error("serve.start_failed", "out of memory or bad pool settings");
        return 1;
    }
    for (int i = 0; i < api_route_count && i < 64; i++)
        patterns[i] = api_routes[i].pattern;
    metrics_set_routes(patterns, api_route_count);
    server = http_server_start(app, api_routes, api_route_count);
    if (!server)
        return 1;
    /* Only now: a start that fails above leaves no batch behind. */
    if (log_sink_start(LOG_FLUSH_INTERVAL_MS) != 0)
        log_warn("log.unbatched", "no flusher thread: every log line is written at once");
    {
        char url[64];
        const char *colon = strrchr(app->cfg.listen, ':');
        snprintf(url, sizeof url, "http://%.*s:%u", (int)(colon - app->cfg.listen),
                 app->cfg.listen, http_server_port(server));
        log_notice("http.listening", "%s", url);
    }
    sigwait(&stop_signals, &sig);
    log_notice("serve.stopping", "signal %d: finishing requests in flight", sig);
    http_server_stop(server, SHUTDOWN_GRACE_MS);
    db_pool_free(app->pool);
    http_auth_cache_free(app->auth);
    http_rate_limiter_free(app->limiter);
    log_notice("serve.stopped", "bye");
    log_sink_stop();
    return 0;
}

/* `bookd org create NAME TIMEZONE`: for operators and `make run`. */
static int org_create(struct app *app, const char *name, const char *timezone)
{
    struct api_org_secrets secrets;
    struct db_result res;
    char *text;
    int rc = 1;

    app->pool = db_pool_new(app->cfg.database_url, 1, app->cfg.pool_wait_ms);
    if (!app->pool)
        return 1;
    api_org_provision(app->pool, name, timezone, &secrets, &res);
    if (res.outcome == DB_OK) {
        json_t *org = api_org_json(name, timezone, &secrets);
        text = json_dumps(org, JSON_INDENT(2));
        if (text)
            puts(text);
        free(text);
        json_decref(org);
        rc = 0;
    } else {
        fprintf(stderr, "bookd: could not create the organization%s%s\n",
                res.outcome == DB_INVALID ? ": " : "", res.outcome == DB_INVALID ? res.message : "");
    }
    db_pool_free(app->pool);
    return rc;
}

int main(int argc, char **argv)
{
    struct app app;
    const char *cmd = argc > 1 ? argv[1] : "help";

    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        puts("bookd " BOOKD_VERSION);
        return 0;
    }
    set_log_level();
    memset(&app, 0, sizeof app);
    bool org = strcmp(cmd, "org") == 0;
    if (org && (argc < 5 || strcmp(argv[2], "create") != 0)) {
        fputs("usage: bookd org create NAME TIMEZONE [FLAGS]\n", stderr);
        return 2;
    }
    if (config_load(&app.cfg, argc, argv, org ? 5 : 2) != 0)
        return 2;
    if (strcmp(cmd, "migrate") != 0 && strcmp(cmd, "serve") != 0 && !org) {
        fprintf(stderr, "bookd: unknown command %s\n", cmd);
        usage(stderr);
        return 2;
    }
    if (!app.cfg.database_url) {
        fputs("bookd: set DATABASE_URL or --database-url\n", stderr);
        return 2;
    }
    if (org)
        return org_create(&app, argv[3], argv[4]);
    if (strcmp(cmd, "migrate") == 0)
        return db_migrate(app.cfg.database_url, app.cfg.migrations_dir, app.cfg.sql_dir) == 0
                   ? 0
                   : 1;
    return serve(&app);
}
