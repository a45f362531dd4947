/*
 * The running service: its configuration and the shared parts every
 * request uses. One instance, built by main.c, passed to every handler.
 */
#ifndef BOOKD_APP_H
#define BOOKD_APP_H

#include <stdbool.h>
#include <stddef.h>

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
    int http_threads;
    int max_connections;
    int connection_timeout_s;    /* idle/slow clients are dropped after this */
    size_t body_limit;
    struct rate_spec rate_admin, rate_public;
};

struct auth_cache;
struct rate_limiter;

struct app {
    struct config cfg;
    struct db_pool *pool;
    struct auth_cache *auth;
    struct rate_limiter *limiter;
};

#endif
