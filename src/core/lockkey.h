/*
 * Advisory-lock keys for booking, the one place they are computed.
 *
 * A booking locks every 15-minute bucket its buffered range touches, so any
 * two overlapping ranges share at least one key. A bucket's key is
 * byte-compatible with the original design's hashSlotToInt64: the first 8
 * bytes of SHA-256 of `orgId + "_" + iso` (the bucket start in
 * toISOString() form) as a big-endian signed int64, where for a provider
 * other than the organization's default the prefix is
 * `orgId + ":" + providerId`. An old deployment and bookd on one database
 * therefore take the same locks.
 */
#ifndef BOOKD_CORE_LOCKKEY_H
#define BOOKD_CORE_LOCKKEY_H

#include <stddef.h>
#include <stdint.h>

#define CORE_LOCK_BUCKET_MS (15 * INT64_C(60000))
/* 240 + 1440 + 240 minutes of buffered range is 128 buckets, plus one when
 * unaligned; a reschedule locks the old and the new range. */
#define CORE_LOCK_MAX_KEYS 272

/*
 * Key of the bucket starting at `bucket_start_ms`. `provider_id` is NULL
 * for the organization's default provider. Returns 0, or -1 if the time
 * cannot be formatted (year outside 0000-9999).
 */
int core_lock_key(const char *org_id, const char *provider_id, int64_t bucket_start_ms,
                  int64_t *out_key);

/*
 * Appends to keys[*n] the keys of every bucket that [start_ms, end_ms)
 * touches, and reports the span those buckets cover as [*span_from,
 * *span_to). Does not sort. Returns 0, or -1 on an empty range, too many
 * keys for `cap`, or an unformattable time.
 */
int core_lock_keys_for_range(const char *org_id, const char *provider_id, int64_t start_ms,
                             int64_t end_ms, int64_t *keys, size_t cap, size_t *n,
                             int64_t *span_from, int64_t *span_to);

/* Sorts keys ascending and drops duplicates: the order every locker uses. */
void core_lock_keys_sort_unique(int64_t *keys, size_t *n);

/* Floor of `ms` to its bucket start (correct for times before 1970 too). */
int64_t core_lock_bucket_floor(int64_t ms);

#endif
