/*
 * bookd: appointment booking that never books a slot twice.
 *
 *   bookd serve    [FLAGS]   serve the HTTP API (and deliver the outbox)
 *   bookd worker   [FLAGS]   deliver the outbox only
 *   bookd migrate  [FLAGS]   apply the pending migrations and changed SQL functions
 *   bookd secrets rotate     re-seal stored secrets under BOOKD_NEW_SECRET_KEY
 *   bookd org create NAME TIMEZONE
 *   bookd version | --version | -V
 *   bookd help | --help | -h
 *
 * Every flag has an environment variable of the same meaning (`bookd help`
 * lists them); a flag wins. docs/bookd.1 is the manual.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "app.h"
#include "config.h"
#include "db/migrate.h"
#include "db/role.h"
#include "db/secrets.h"
#include "http/auth.h"
#include "http/ratelimit.h"
#include "http/server.h"
#include "log.h"
#include "log_sink.h"
#include "metrics.h"
#include "outbox/worker.h"
#include "sd_notify.h"

#include <curl/curl.h>

#define SHUTDOWN_GRACE_MS 10000
/* Access lines gather this long before one write (src/log_sink.h). */
#define LOG_FLUSH_INTERVAL_MS 10

/* The commit the Makefile built from (empty outside a git checkout). */
#ifndef BOOKD_COMMIT
#define BOOKD_COMMIT ""
#endif

static void usage(FILE *out)
{
    fputs("usage: bookd COMMAND [FLAGS]\n"
          "\n"
          "commands:\n"
          "  serve     serve the HTTP API (see README.md) and, unless --no-worker,\n"
          "            deliver the outbox\n"
          "  worker    deliver the outbox only (any number, on one database)\n"
          "  migrate   apply the pending migrations and the changed SQL function files\n"
          "            (sql/), all in one transaction\n"
          "  secrets rotate\n"
          "            re-seal every stored secret from BOOKD_SECRET_KEY to\n"
          "            BOOKD_NEW_SECRET_KEY, in one transaction\n"
          "  org create NAME TIMEZONE\n"
          "            create an organization; prints its keys (shown once) as JSON\n"
          "  version   print the version (also --version, -V)\n"
          "  help      print this text (also --help, -h)\n"
          "\n"
          "flags and environment variables (BOOKD_LOG_LEVEL: debug|info|warn|error):\n",
          out);
    config_print_help(out);
    fputs("\nThe manual: man bookd (docs/bookd.1).\n", out);
}

static void print_version(void)
{
    if (BOOKD_COMMIT[0])
        printf("bookd %s (commit %s)\n", BOOKD_VERSION, BOOKD_COMMIT);
    else
        printf("bookd %s\n", BOOKD_VERSION);
}

/*
 * Tells the service manager (a Type=notify systemd unit) where bookd is in
 * its life. Outside one it does nothing; a failure to tell it is logged and
 * changes nothing else: systemd then times the start out, which says more
 * than bookd refusing to serve would.
 */
static void notify(const char *state)
{
    if (sd_notify_send(state) != 0)
        log_warn("systemd.notify_failed", "could not send to NOTIFY_SOCKET: %s", strerror(errno));
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

/* Blocks the stop signals before any thread starts, so every thread
 * inherits the mask and only the caller's sigwait() receives them. */
static void block_stop_signals(sigset_t *stop_signals)
{
    sigemptyset(stop_signals);
    sigaddset(stop_signals, SIGTERM);
    sigaddset(stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/*
 * The secrets stored in the database must open with BOOKD_SECRET_KEY: a
 * server without the key, or with another one than they are sealed under,
 * refuses to start rather than fail every delivery. A database that cannot
 * be asked now is no reason not to start (the pool retries).
 */
static int check_secrets(const struct app *app)
{
    long stored = 0, other = 0;

    if (db_secrets_census(app->cfg.database_url, app->has_secret_key ? &app->secret_key : NULL,
                          &stored, &other) != 0) {
        log_warn("secrets.unchecked", "could not check the stored secrets against the key");
        return 0;
    }
    if (other == 0)
        return 0;
    if (!app->has_secret_key)
        log_error("secrets.no_key",
                  "%ld secrets are stored sealed, and BOOKD_SECRET_KEY is not set", stored);
    else
        log_error("secrets.other_key",
                  "%ld of %ld stored secrets are sealed under another key than BOOKD_SECRET_KEY "
                  "(finish `bookd secrets rotate`, or set the key they were sealed with)",
                  other, stored);
    return -1;
}

/* A server or worker connected as the schema's owner works, but gives up
 * the guarantee that bookd can do nothing but call the API functions:
 * say so at start, once. */
static void check_role(const struct app *app)
{
    if (db_role_reads_tables(app->cfg.database_url) == 1)
        log_warn("db.role_too_broad",
                 "DATABASE_URL's role can read tables directly (the owner or a superuser?); "
                 "serve as a member of bookd_api instead (docs/design.md, \"Least privilege\")");
}

/* The base of manage links: BOOKD_PUBLIC_URL without a trailing slash,
 * else `fallback` (where this process listens). */
static void app_set_public_url(struct app *app, const char *fallback)
{
    const char *u = app->cfg.public_url && *app->cfg.public_url ? app->cfg.public_url : fallback;
    size_t n = strlen(u);
    while (n > 0 && u[n - 1] == '/')
        n--;
    snprintf(app->public_url, sizeof app->public_url, "%.*s", (int)n, u);
}

/* Serves until SIGTERM or SIGINT, then drains requests in flight. */
static int serve(struct app *app)
{
    char url[300];
    const char *patterns[64];
    struct http_server *server;
    struct outbox_worker *worker = NULL;
    struct outbox_notifier *notifier = NULL;
    sigset_t stop_signals;
    int sig = 0;
    bool vapi_done;

    block_stop_signals(&stop_signals);
    if (check_secrets(app) != 0)
        return 1;
    check_role(app);

    app->pool = db_pool_new(app->cfg.database_url, app->cfg.pool_size, app->cfg.pool_wait_ms,
                            config_statement_timeout_ms(&app->cfg));
    app->auth = http_auth_cache_new(app->cfg.admin_token, (app->cfg.pool_size + 3) / 4);
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
    {
        const char *colon = strrchr(app->cfg.listen, ':');
        snprintf(url, sizeof url, "http://%.*s:%u", (int)(colon - app->cfg.listen),
                 app->cfg.listen, http_server_port(server));
        app_set_public_url(app, url);
    }
    if (!app->cfg.no_worker && !(worker = outbox_worker_start(app, true)))
        log_error("worker.start_failed", "no delivery worker: events wait for another one");
    if (app->cfg.no_worker && !(notifier = outbox_notifier_start(app->cfg.database_url)))
        log_warn("worker.notifier_failed", "other workers find new events by polling only");
    /* Only now: a start that fails above leaves no batch behind. */
    if (log_sink_start(LOG_FLUSH_INTERVAL_MS) != 0)
        log_warn("log.unbatched", "no flusher thread: every log line is written at once");
    log_notice("http.listening", "%s", url);
    {
        struct db_pool_stats stats;
        char state[400];
        db_pool_get_stats(app->pool, &stats);
        snprintf(state, sizeof state, "READY=1\nSTATUS=serving on %s%s", url,
                 stats.database_up ? "" : "; the database was not ready at start (see /ready)");
        notify(state);
    }
    sigwait(&stop_signals, &sig);
    notify("STOPPING=1\nSTATUS=stopping: finishing requests in flight");
    log_notice("serve.stopping", "signal %d: finishing requests in flight", sig);
    http_server_stop(server, SHUTDOWN_GRACE_MS);
    /* Voice-agent calls answered "one moment" may still be at work on the
     * pool; one that does not finish keeps the pool (the process ends). */
    vapi_done = api_vapi_jobs_wait(SHUTDOWN_GRACE_MS);
    if (!vapi_done)
        log_warn("serve.vapi_calls_left", "voice agent calls still running at exit");
    outbox_worker_stop(worker);
    outbox_notifier_stop(notifier);
    if (vapi_done)
        db_pool_free(app->pool);
    http_auth_cache_free(app->auth);
    http_rate_limiter_free(app->limiter);
    log_notice("serve.stopped", "bye");
    log_sink_stop();
    return 0;
}

/* `bookd worker`: delivers the outbox until SIGTERM or SIGINT, then lets
 * its sends in flight finish. */
static int worker(struct app *app)
{
    struct outbox_worker *w;
    sigset_t stop_signals;
    int sig = 0;

    block_stop_signals(&stop_signals);
    if (check_secrets(app) != 0)
        return 1;
    check_role(app);
    if (log_sink_start(LOG_FLUSH_INTERVAL_MS) != 0)
        log_warn("log.unbatched", "no flusher thread: every log line is written at once");
    {
        char url[300];
        snprintf(url, sizeof url, "http://%s", app->cfg.listen);
        app_set_public_url(app, url);
    }
    if (!(w = outbox_worker_start(app, false))) {
        log_error("worker.start_failed", "could not start the delivery worker");
        log_sink_stop();
        return 1;
    }
    notify("READY=1\nSTATUS=delivering the outbox");
    sigwait(&stop_signals, &sig);
    notify("STOPPING=1\nSTATUS=stopping: finishing the sends in flight");
    log_notice("worker.stopping", "signal %d: finishing the sends in flight", sig);
    outbox_worker_stop(w);
    log_sink_stop();
    return 0;
}

/* `bookd secrets rotate`: from BOOKD_SECRET_KEY to BOOKD_NEW_SECRET_KEY. */
static int secrets_rotate(struct app *app)
{
    struct core_secret_key new_key;
    char why[160], id[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1];
    long count = 0;
    int rc;

    if (!app->has_secret_key || !app->cfg.new_secret_key_hex) {
        fputs("bookd: set BOOKD_SECRET_KEY (the current key) and BOOKD_NEW_SECRET_KEY\n", stderr);
        return 2;
    }
    if (core_secret_key_parse(app->cfg.new_secret_key_hex, strlen(app->cfg.new_secret_key_hex),
                              &new_key, why, sizeof why) != 0) {
        fprintf(stderr, "bookd: BOOKD_NEW_SECRET_KEY: %s\n", why);
        return 2;
    }
    rc = db_secrets_rotate(app->cfg.database_url, &app->secret_key, &new_key, &count);
    core_secret_key_id_hex(&new_key, id);
    core_secret_key_wipe(&new_key);
    if (rc != 0) {
        fputs("bookd: nothing was re-sealed (see the log)\n", stderr);
        return 1;
    }
    printf("re-sealed %ld secrets under key %s; now set BOOKD_SECRET_KEY to the new key\n", count,
           id);
    return 0;
}

/* `bookd org create NAME TIMEZONE`: for operators and `make run`. */
static int org_create(struct app *app, const char *name, const char *timezone)
{
    struct api_org_secrets secrets;
    struct db_result res;
    char *text;
    int rc = 1;

    app->pool = db_pool_new(app->cfg.database_url, 1, app->cfg.pool_wait_ms,
                            config_statement_timeout_ms(&app->cfg));
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

/* `bookd migrate`: the files built into the binary, unless a directory
 * was named for them (db/migrate.h). */
static int migrate(const struct config *cfg)
{
    struct db_sql_source migrations = {cfg->migrations_dir, db_builtin_migrations,
                                       db_builtin_migrations_count};
    struct db_sql_source functions = {cfg->sql_dir, db_builtin_functions,
                                      db_builtin_functions_count};

    return db_migrate(cfg->database_url, &migrations, &functions) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct app app;
    const char *cmd = argc > 1 ? argv[1] : "help";

    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        print_version();
        return 0;
    }
    set_log_level();
    memset(&app, 0, sizeof app);
    bool org = strcmp(cmd, "org") == 0;
    if (org && (argc < 5 || strcmp(argv[2], "create") != 0)) {
        fputs("usage: bookd org create NAME TIMEZONE [FLAGS]\n", stderr);
        return 2;
    }
    bool rotate = strcmp(cmd, "secrets") == 0;
    if (rotate && (argc < 3 || strcmp(argv[2], "rotate") != 0)) {
        fputs("usage: bookd secrets rotate [FLAGS]\n", stderr);
        return 2;
    }
    if (config_load(&app.cfg, argc, argv, org ? 5 : rotate ? 3 : 2) != 0)
        return 2;
    db_set_statements_mode(config_db_statements(&app.cfg));
    if (app.cfg.secret_key_hex) {
        char why[160];
        if (core_secret_key_parse(app.cfg.secret_key_hex, strlen(app.cfg.secret_key_hex),
                                  &app.secret_key, why, sizeof why) != 0) {
            fprintf(stderr, "bookd: BOOKD_SECRET_KEY: %s\n", why);
            return 2;
        }
        app.has_secret_key = true;
    }
    if (strcmp(cmd, "migrate") != 0 && strcmp(cmd, "serve") != 0 &&
        strcmp(cmd, "worker") != 0 && !org && !rotate) {
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
    if (rotate)
        return secrets_rotate(&app);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (strcmp(cmd, "worker") == 0)
        return worker(&app);
    if (strcmp(cmd, "migrate") == 0)
        return migrate(&app.cfg);
    return serve(&app);
}
