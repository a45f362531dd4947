/*
 * Who is calling. Keys are opaque bearer strings shown once at creation;
 * only their SHA-256 is stored. A lookup hashes the presented key and finds
 * the row by hash, so the comparison is of digests and takes the same time
 * whatever the key. Found keys are cached briefly (keys are never edited in
 * place, only created); so are Vapi secrets, which a rotation replaces in
 * place, and which a request therefore checks again (below).
 */
#ifndef BOOKD_HTTP_AUTH_H
#define BOOKD_HTTP_AUTH_H

#include "app.h"
#include "http/request.h"

/* `admin_token` (may be NULL) is the operator's token; only its hash is
 * kept. At most `max_lookups` database lookups of keys run at once; a
 * lookup waits 20 ms at most for its turn (then
 * AUTH_UNAVAILABLE). */
struct auth_cache *http_auth_cache_new(const char *admin_token, int max_lookups);
void http_auth_cache_free(struct auth_cache *cache);

/* AUTH_UNAVAILABLE: the database could not be asked, or as many lookups
 * as allowed ran all the wait long (a flood of made-up keys can hold no
 * more connections than that). AUTH_REFUSED: the key would need a lookup
 * and the caller may not have one. */
enum auth_result { AUTH_OK, AUTH_UNKNOWN, AUTH_UNAVAILABLE, AUTH_REFUSED };

/*
 * Resolves the Authorization header (Bearer) to a principal in *out:
 * the server admin token, an organization's admin or public key.
 * AUTH_UNKNOWN for a missing or unknown key. Keys found in the cache are
 * answered whatever `may_look_up` says; the others are looked up only
 * when it is true (the caller's address has not used up its failures).
 */
enum auth_result http_authenticate(struct app *app, const char *authorization,
                                   bool may_look_up, struct http_auth *out);

/*
 * Resolves an organization's Vapi secret, sent as `x-vapi-secret` or as
 * `Authorization: Bearer`, to PRINCIPAL_VAPI in *out. A secret found in
 * the cache comes back with out->vapi_unchecked: a rotated secret must
 * stop at once, in every instance, so the request checks it before it
 * writes anything or answers from the database (vapi_book checks it in
 * its own transaction; every other path calls http_vapi_secret_check),
 * and before it answers 200. The one exception: a request whose every
 * call was late (the deadline passed) answers "please hold on" without a
 * lookup; none of those answers came from the database or was stored.
 */
enum auth_result http_authenticate_vapi(struct app *app, const char *vapi_secret,
                                        const char *authorization, bool may_look_up,
                                        struct http_auth *out);

/* Looks the Vapi secret whose SHA-256 is `hash` up now: AUTH_OK when it is
 * `org_id`'s, AUTH_UNAVAILABLE when it could not be looked up, else
 * AUTH_UNKNOWN (and http_vapi_secret_refused). */
enum auth_result http_vapi_secret_check(struct app *app, const unsigned char hash[32],
                                        const char *org_id);
/* The cache forgets a secret found not (any longer) valid. */
void http_vapi_secret_refused(struct app *app, const unsigned char hash[32]);

/* A new random secret: prefix + 43 base64url characters (32 random bytes).
 * `out` must hold at least strlen(prefix) + 44 bytes. 0 or -1. */
int http_new_secret(const char *prefix, char *out, size_t out_size);

/* A manage token (API.md, "Self-service links for patients"): 43 base64url
 * characters of 32 random bytes in `token`, and its SHA-256 as a bytea
 * literal ("\\x" and 64 hex digits) in `hash`, the only form stored. */
#define HTTP_MANAGE_TOKEN_SIZE 44
#define HTTP_MANAGE_HASH_SIZE 67
int http_manage_token_new(char token[HTTP_MANAGE_TOKEN_SIZE], char hash[HTTP_MANAGE_HASH_SIZE]);
/* The stored form of a token a link carried. */
void http_manage_token_hash(const char *token, char hash[HTTP_MANAGE_HASH_SIZE]);

#endif
