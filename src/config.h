/*
 * Configuration: every setting is an environment variable BOOKD_* (or
 * DATABASE_URL) with a matching --flag; a flag wins. The table in
 * config.c is the one list, printed by `bookd help`.
 */
#ifndef BOOKD_CONFIG_H
#define BOOKD_CONFIG_H

#include <stdio.h>

#include "app.h"

/* Fills cfg from the environment, then argv[first..]. Returns 0, or -1
 * after printing why to stderr. */
int config_load(struct config *cfg, int argc, char **argv, int first);

/* The settings, one a line, for `bookd help`. */
void config_print_help(FILE *out);

#endif
