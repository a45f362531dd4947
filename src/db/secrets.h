/*
 * The secrets bookd stores sealed (core/secretbox) and the key they are
 * sealed under: what `bookd serve` checks before it starts, and what
 * `bookd secrets rotate` re-seals: the webhook endpoints' signing keys
 * (webhook_endpoints.secret, bound to "webhook_endpoints.secret:<id>"), the
 * integrations' credentials (integrations.secret, bound to
 * "integrations.secret:<org>:<kind>") and Google's access tokens
 * (integrations.token, bound to "integrations.token:<org>:google").
 */
#ifndef BOOKD_DB_SECRETS_H
#define BOOKD_DB_SECRETS_H

#include <stddef.h>

#include "core/secretbox.h"

/* The associated data a webhook endpoint's sealed signing key is bound to
 * ("webhook_endpoints.secret:<id>"): sealed with it at creation, opened
 * with it by the worker and by the rotation, so a sealed value moved to
 * another row does not open. */
#define DB_SECRET_AAD_SIZE 96
void db_webhook_secret_aad(const char *endpoint_id, char out[DB_SECRET_AAD_SIZE]);
/* The same for an integration's credentials and Google's access token. */
void db_integration_secret_aad(const char *org_id, const char *kind,
                               char out[DB_SECRET_AAD_SIZE]);
void db_integration_token_aad(const char *org_id, char out[DB_SECRET_AAD_SIZE]);

/*
 * How many stored secrets there are, and how many of them are sealed under
 * another key than `key` (NULL: every one counts as other). 0, or -1 when
 * the database cannot be asked.
 */
int db_secrets_census(const char *conninfo, const struct core_secret_key *key, long *stored,
                      long *other);

/*
 * Re-seals every stored secret from `old_key` to `new_key` in one
 * transaction (all or none); a secret already under `new_key` is left as
 * it is, so a rotation can be run again. *count says how many were sealed
 * anew. 0, or -1 (logged; nothing changed).
 */
int db_secrets_rotate(const char *conninfo, const struct core_secret_key *old_key,
                      const struct core_secret_key *new_key, long *count);

#endif
