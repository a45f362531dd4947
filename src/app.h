/*
 * The running service: its configuration and the shared parts every
 * request uses. One instance, built by main.c, passed to every handler.
 */
#ifndef BOOKD_APP_H
#define BOOKD_APP_H

#include <stdbool.h>
#include <stddef.h>

#define BOOKD_VERSION "0.3.0"

#include "core/breaker.h"
#include "core/retry_schedule.h"
#include "core/secretbox.h"
#include "db/pool.h"

struct rate_spec {
    double per_second;
    double burst;
};

struct config {
    const char *listen;          /* host:port */
    const char *database_url;
    const char *admin_token;     /* may create organizations; NULL: none */
    const char *migrations_dir;
    const char *sql_dir;         /* the SQL functions, re-applied when changed */
    int pool_size;
    int pool_wait_ms;            /* acquire wait before 503 */
    int lock_timeout_ms;         /* bucket lock wait before slot_busy */
    int statement_timeout_ms;    /* a request's statement; see config_statement_timeout_ms */
    const char *db_statements;   /* "prepared" or "unnamed" (db/connect.h) */
    int http_threads;
    int max_connections;
    int connection_timeout_s;    /* idle/slow clients are dropped after this */
    size_t body_limit;
    struct rate_spec rate_admin, rate_public;
    struct rate_spec rate_auth_failures; /* unknown keys, per client address */
    int max_connections_per_ip;  /* 0: no limit */
    int request_deadline_s;      /* a request not received by then is cut off */
    int vapi_deadline_ms;        /* a Vapi tool call not answered by then: "one moment" */
    int public_holds_max;        /* a public hold is refused at this many unexpired holds */

    /* Delivery (the outbox worker, webhooks, breakers). */
    bool no_worker;              /* serve without the in-process worker */
    const char *secret_key_hex;  /* BOOKD_SECRET_KEY: seals stored secrets */
    const char *new_secret_key_hex; /* `bookd secrets rotate`: the key to move to */
    bool webhook_allow_private;  /* allow loopback/private/link-local receivers */
    struct core_retry_schedule retry;
    int webhook_timeout_ms;      /* connect and total, per send */
    int outbox_poll_ms;          /* longest sleep between looks for due work */
    int delivery_lease_ms;       /* a claimed delivery is another worker's after this */
    int delivery_retention_days; /* delivered deliveries are purged after this */
    struct core_breaker_config breaker;

    /* Integrations (Google Calendar, Twilio, Vapi): base URLs and the
     * busy-time import. */
    const char *google_api_base;
    const char *google_token_url;
    const char *twilio_api_base;
    const char *vapi_api_base;
    int google_sync_seconds;     /* each linked calendar imported this often */
    int google_sync_days;        /* busy times imported this far ahead */
    const char *public_url;      /* base of manage links; NULL: http://<listen> */
    const char *web_dir;         /* pages read from here, not the binary; NULL: embedded */
};

struct auth_cache;
struct rate_limiter;

struct app {
    struct config cfg;
    bool has_secret_key;
    struct core_secret_key secret_key; /* parsed from cfg.secret_key_hex */
    struct db_pool *pool;
    struct auth_cache *auth;
    struct rate_limiter *limiter;
    /* The base of manage links (BOOKD_PUBLIC_URL, else where bookd
     * listens), no trailing slash; set before the server and the worker
     * start. */
    char public_url[256];
};

#endif
