/*
 * bookd: appointment booking that never books a slot twice.
 *
 *   bookd migrate [--database-url URL] [--migrations-dir DIR]
 *   bookd version
 *   bookd help
 *
 * Every flag has an environment variable of the same meaning; a flag wins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/migrate.h"

#define BOOKD_VERSION "0.1.0"

struct config {
    const char *database_url;
    const char *migrations_dir;
};

static void usage(FILE *out)
{
    fputs("usage: bookd COMMAND [FLAGS]\n"
          "\n"
          "commands:\n"
          "  migrate   apply the pending migrations (each once, in a transaction)\n"
          "  version   print the version\n"
          "  help      print this text\n"
          "\n"
          "flags (and environment variables):\n"
          "  --database-url URL     DATABASE_URL          libpq connection string or URI\n"
          "  --migrations-dir DIR   BOOKD_MIGRATIONS_DIR  default ./migrations\n",
          out);
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* Reads flags after the command; returns 0 or -1 on an unknown flag. */
static int parse_flags(int argc, char **argv, struct config *cfg)
{
    cfg->database_url = env_or("DATABASE_URL", NULL);
    cfg->migrations_dir = env_or("BOOKD_MIGRATIONS_DIR", "migrations");
    for (int i = 2; i < argc; i++) {
        const char *flag = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(flag, "--database-url") == 0 && value)
            cfg->database_url = value;
        else if (strcmp(flag, "--migrations-dir") == 0 && value)
            cfg->migrations_dir = value;
        else {
            fprintf(stderr, "bookd: unknown or incomplete flag %s\n", flag);
            return -1;
        }
        i++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct config cfg;
    const char *cmd = argc > 1 ? argv[1] : "help";

    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        puts("bookd " BOOKD_VERSION);
        return 0;
    }
    if (parse_flags(argc, argv, &cfg) != 0) {
        usage(stderr);
        return 2;
    }
    if (strcmp(cmd, "migrate") == 0) {
        if (!cfg.database_url) {
            fputs("bookd: set DATABASE_URL or --database-url\n", stderr);
            return 2;
        }
        return db_migrate(cfg.database_url, cfg.migrations_dir) == 0 ? 0 : 1;
    }
    fprintf(stderr, "bookd: unknown command %s\n", cmd);
    usage(stderr);
    return 2;
}
