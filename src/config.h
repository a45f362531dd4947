/*
 * Configuration: every setting is an environment variable BOOKD_* (or
 * DATABASE_URL) with a matching --flag; a flag wins. The table in
 * config.c is the one list, printed by `bookd help`.
 */
#ifndef BOOKD_CONFIG_H
#define BOOKD_CONFIG_H

#include <stdio.h>

#include "app.h"
#include "db/connect.h"

/* Fills cfg from the environment, then argv[first..]. Returns 0, or -1
 * after printing why to stderr. */
int config_load(struct config *cfg, int argc, char **argv, int first);

/* The settings, one a line, for `bookd help`. */
void config_print_help(FILE *out);

/*
 * The statement_timeout of the request pool's sessions: the setting, but
 * never below the lock timeout plus a second, so a booking that waits its
 * whole lock budget still answers slot_busy rather than a cancelled
 * statement. The operators' probes (250 ms) and the worker (30 s) have
 * their own.
 */
int config_statement_timeout_ms(const struct config *cfg);

/* BOOKD_DB_STATEMENTS as db/connect.h's mode. */
enum db_statements_mode config_db_statements(const struct config *cfg);

#endif
