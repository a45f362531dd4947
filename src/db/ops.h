/*
 * What operators ask the database: is it there, and how much of the outbox
 * waits. Neither call needs an organization, and both answer with a value,
 * not a db_result: a database that is down is an answer here.
 */
#ifndef BOOKD_DB_OPS_H
#define BOOKD_DB_OPS_H

#include <stdbool.h>

#include "db/pool.h"

/* True when a pooled connection answered a trivial statement. */
bool db_ping(struct db_pool *pool);

/* The outbox events not yet processed, or -1 when the database cannot be
 * asked (down, or no connection free within the pool's wait). */
long long db_outbox_pending(struct db_pool *pool);

#endif
