/*
 * What the database said about an API key, remembered by the key's SHA-256
 * for a while: found (with its principal) or unknown. Set-associative, so
 * keys whose digests share a set do not evict each other until the set is
 * full: with a direct-mapped table two such keys would each cost a
 * database lookup on every request (10 of the benchmark's 100 keys did).
 * Thread-safe.
 */
#ifndef BOOKD_HTTP_KEY_CACHE_H
#define BOOKD_HTTP_KEY_CACHE_H

#include <stdbool.h>
#include <time.h>

#include "http/request.h"

#define HTTP_KEY_CACHE_SETS 1024
#define HTTP_KEY_CACHE_WAYS 4

struct http_key_cache *http_key_cache_new(void);
/* Wipes the entries (they hold key ids and digests) and frees the cache. */
void http_key_cache_free(struct http_key_cache *cache);

/* A live entry for `hash` at time `now`: true with *known set (and *out
 * filled when known), or false when there is none. */
bool http_key_cache_get(struct http_key_cache *cache, const unsigned char hash[32], time_t now,
                        bool *known, struct http_auth *out);

/* How long a known key's entry outlives its expiry as a fallback: while
 * lookups cannot be made (every lookup slot taken by a flood of made-up
 * keys, or the database down), a key known a moment ago is still known,
 * and no unknown key takes its place meanwhile. */
#define HTTP_KEY_CACHE_STALE_S 300

/* A known key's entry that expired less than HTTP_KEY_CACHE_STALE_S ago
 * (or has not expired): true with *out filled. */
bool http_key_cache_get_stale(struct http_key_cache *cache, const unsigned char hash[32],
                              time_t now, struct http_auth *out);

/* Remembers `hash` until now + ttl_s as the key of *a, or (a NULL) as no
 * key. A full set gives up an unknown key's entry before a known one's, and
 * an unknown key never takes the entry of a known key that is live or
 * within its stale time. */
void http_key_cache_put(struct http_key_cache *cache, const unsigned char hash[32], time_t now,
                        int ttl_s, const struct http_auth *a);

#endif
