#include "core/lockkey.h"

#include <stdlib.h>
#include <string.h>

#include "core/sha256.h"
#include "core/time.h"
#include "core/validate.h"

int64_t core_lock_bucket_floor(int64_t ms)
{
    int64_t q = ms / CORE_LOCK_BUCKET_MS;
    if (ms % CORE_LOCK_BUCKET_MS < 0)
        q--;
    return q * CORE_LOCK_BUCKET_MS;
}

int core_lock_key(const char *org_id, const char *provider_id, int64_t bucket_start_ms,
                  int64_t *out_key)
{
    /* org ":" provider "_" iso: at most 36 + 1 + 36 + 1 + 24 bytes */
    char text[2 * CORE_UUID_LEN + CORE_ISO_LEN + 8];
    char iso[CORE_ISO_LEN + 1];
    unsigned char digest[32];
    size_t len = 0, org_len = strnlen(org_id, CORE_UUID_LEN + 1);
    uint64_t v = 0;

    *out_key = 0;
    if (org_len > CORE_UUID_LEN || core_iso_format(bucket_start_ms, iso) != 0)
        return -1;
    memcpy(text, org_id, org_len);
    len = org_len;
    if (provider_id) {
        size_t p_len = strnlen(provider_id, CORE_UUID_LEN + 1);
        if (p_len > CORE_UUID_LEN)
            return -1;
        text[len++] = ':';
        memcpy(text + len, provider_id, p_len);
        len += p_len;
    }
    text[len++] = '_';
    memcpy(text + len, iso, CORE_ISO_LEN);
    len += CORE_ISO_LEN;

    core_sha256(text, len, digest);
    for (int i = 0; i < 8; i++)
        v = (v << 8) | digest[i];
    /* Two's complement reinterpretation, as Buffer.readBigInt64BE does. */
    memcpy(out_key, &v, sizeof v);
    return 0;
}

int core_lock_keys_for_range(const char *org_id, const char *provider_id, int64_t start_ms,
                             int64_t end_ms, int64_t *keys, size_t cap, size_t *n,
                             int64_t *span_from, int64_t *span_to)
{
    int64_t from, to;

    if (end_ms <= start_ms)
        return -1;
    from = core_lock_bucket_floor(start_ms);
    to = core_lock_bucket_floor(end_ms - 1) + CORE_LOCK_BUCKET_MS;
    if ((to - from) / CORE_LOCK_BUCKET_MS > (int64_t)(cap - *n))
        return -1;
    for (int64_t b = from; b < to; b += CORE_LOCK_BUCKET_MS) {
        if (core_lock_key(org_id, provider_id, b, &keys[*n]) != 0)
            return -1;
        (*n)++;
    }
    *span_from = from;
    *span_to = to;
    return 0;
}

static int compare_keys(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void core_lock_keys_sort_unique(int64_t *keys, size_t *n)
{
    size_t out = 0;

    if (*n == 0)
        return;
    qsort(keys, *n, sizeof *keys, compare_keys);
    for (size_t i = 1; i < *n; i++)
        if (keys[i] != keys[out])
            keys[++out] = keys[i];
    *n = out + 1;
}
