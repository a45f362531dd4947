/*
 * Lock keys against the vectors computed by the original Node.js code
 * (../shared/testdata, with a copy in tests/data), and the bucket logic
 * that makes overlapping ranges meet on a common key.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/lockkey.h"
#include "core/time.h"

#define ORG "00000000-0000-4000-8000-000000000001"
#define PROVIDER "00000000-0000-4000-8000-0000000000a2"

static int64_t at(const char *iso)
{
    int64_t ms = 0;
    cr_assert_eq(core_rfc3339_parse(iso, strlen(iso), &ms), 0, "bad fixture %s", iso);
    return ms;
}

static int64_t key_of(const char *org, const char *provider, const char *iso)
{
    int64_t key = 0;
    cr_assert_eq(core_lock_key(org, provider, at(iso), &key), 0);
    return key;
}

/* Checks every vector of one file; returns how many were checked. */
static size_t check_vector_file(const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    json_t *vectors, *v;
    size_t i;

    cr_assert_not_null(root, "cannot read %s: %s", path, jerr.text);
    vectors = json_object_get(root, "vectors");
    cr_assert(json_is_array(vectors) && json_array_size(vectors) > 0);
    json_array_foreach(vectors, i, v) {
        const char *org = json_string_value(json_object_get(v, "orgId"));
        const char *when = json_string_value(json_object_get(v, "scheduledAt"));
        const char *expected = json_string_value(json_object_get(v, "key"));
        char got[32];
        cr_assert(org && when && expected);
        snprintf(got, sizeof got, "%lld", (long long)key_of(org, NULL, when));
        cr_expect_str_eq(got, expected, "vector %zu (%s, %s)", i, org, when);
    }
    json_decref(root);
    return i;
}

Test(lockkey, every_vector_of_the_original_design)
{
    size_t checked = check_vector_file("tests/data/lock_key_vectors.json");
    cr_assert_geq(checked, 6);
    if (access("../shared/testdata/lock_key_vectors.json", R_OK) == 0)
        check_vector_file("../shared/testdata/lock_key_vectors.json");
}

/* Computed with `printf '%s' 'ORG:PROVIDER_2030-01-01T14:15:00.000Z' | sha256sum`. */
Test(lockkey, non_default_provider_uses_org_colon_provider_prefix)
{
    cr_assert_eq(key_of(ORG, PROVIDER, "2030-01-01T14:15:00Z"), INT64_C(-1623289197107675145));
    cr_assert_neq(key_of(ORG, PROVIDER, "2030-01-01T14:15:00Z"),
                  key_of(ORG, NULL, "2030-01-01T14:15:00Z"));
}

/* printf '%s' 'ORG_1969-12-31T23:45:00.000Z' | sha256sum */
Test(lockkey, times_before_1970_floor_to_the_earlier_bucket)
{
    int64_t key = 0;
    cr_assert_eq(core_lock_bucket_floor(-1), -CORE_LOCK_BUCKET_MS);
    cr_assert_eq(core_lock_bucket_floor(0), 0);
    cr_assert_eq(core_lock_bucket_floor(CORE_LOCK_BUCKET_MS - 1), 0);
    cr_assert_eq(core_lock_key(ORG, NULL, core_lock_bucket_floor(-1), &key), 0);
    cr_assert_eq(key, INT64_C(3065002149069777823));
}

Test(lockkey, range_covers_every_touched_bucket)
{
    int64_t keys[CORE_LOCK_MAX_KEYS], from = 0, to = 0;
    size_t n = 0;

    /* 14:05-14:50 touches 14:00, 14:15, 14:30 and 14:45. */
    cr_assert_eq(core_lock_keys_for_range(ORG, NULL, at("2030-01-01T14:05:00Z"),
                                          at("2030-01-01T14:50:00Z"), keys, CORE_LOCK_MAX_KEYS,
                                          &n, &from, &to),
                 0);
    cr_assert_eq(n, 4);
    cr_assert_eq(from, at("2030-01-01T14:00:00Z"));
    cr_assert_eq(to, at("2030-01-01T15:00:00Z"));
    cr_assert_eq(keys[0], key_of(ORG, NULL, "2030-01-01T14:00:00Z"));
    cr_assert_eq(keys[3], key_of(ORG, NULL, "2030-01-01T14:45:00Z"));
}

Test(lockkey, an_aligned_end_does_not_touch_the_next_bucket)
{
    int64_t keys[CORE_LOCK_MAX_KEYS], from = 0, to = 0;
    size_t n = 0;
    cr_assert_eq(core_lock_keys_for_range(ORG, NULL, at("2030-01-01T14:00:00Z"),
                                          at("2030-01-01T15:00:00Z"), keys, CORE_LOCK_MAX_KEYS,
                                          &n, &from, &to),
                 0);
    cr_assert_eq(n, 4);
    cr_assert_eq(to, at("2030-01-01T15:00:00Z"));
}

/* The double booking of the original design: 14:00/60 and 14:30/30 took
 * different single keys. With buckets they share 14:30 and 14:45. */
Test(lockkey, overlapping_ranges_with_different_starts_share_a_key)
{
    int64_t a[CORE_LOCK_MAX_KEYS], b[CORE_LOCK_MAX_KEYS], f, t;
    size_t na = 0, nb = 0, shared = 0;

    cr_assert_eq(core_lock_keys_for_range(ORG, NULL, at("2030-01-01T14:00:00Z"),
                                          at("2030-01-01T15:00:00Z"), a, CORE_LOCK_MAX_KEYS, &na,
                                          &f, &t),
                 0);
    cr_assert_eq(core_lock_keys_for_range(ORG, NULL, at("2030-01-01T14:30:00Z"),
                                          at("2030-01-01T15:00:00Z"), b, CORE_LOCK_MAX_KEYS, &nb,
                                          &f, &t),
                 0);
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            shared += a[i] == b[j];
    cr_assert_eq(shared, 2);
}

Test(lockkey, touching_ranges_share_no_key)
{
    int64_t a[CORE_LOCK_MAX_KEYS], b[CORE_LOCK_MAX_KEYS], f, t;
    size_t na = 0, nb = 0;

    cr_assert_eq(core_lock_keys_for_range(ORG, NULL, at("2030-01-01T14:00:00Z"),
                                          at("2030-01-01T15:00:00Z"), a, CORE_LOCK_MAX_KEYS, &na,
                                          &f, &t),
                 0);
    cr_assert_eq(core_lock_keys_for_range(ORG, NULL, at("2030-01-01T15:00:00Z"),
                                          at("2030-01-01T15:30:00Z"), b, CORE_LOCK_MAX_KEYS, &nb,
                                          &f, &t),
                 0);
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            cr_assert_neq(a[i], b[j]);
}

Test(lockkey, rejects_empty_ranges_and_too_many_keys)
{
    int64_t keys[4], f, t;
    size_t n = 0;
    cr_assert_eq(core_lock_keys_for_range(ORG, NULL, 1000, 1000, keys, 4, &n, &f, &t), -1);
    cr_assert_eq(core_lock_keys_for_range(ORG, NULL, 2000, 1000, keys, 4, &n, &f, &t), -1);
    /* 75 minutes = 5 buckets > 4 */
    cr_assert_eq(core_lock_keys_for_range(ORG, NULL, 0, 75 * 60000, keys, 4, &n, &f, &t), -1);
    cr_assert_eq(n, 0);
}

Test(lockkey, longest_buffered_range_fits)
{
    int64_t keys[CORE_LOCK_MAX_KEYS], f, t;
    size_t n = 0;
    int64_t start = at("2030-01-01T00:07:00Z");
    int64_t end = start + (240 + 1440 + 240) * CORE_MS_PER_MINUTE;
    cr_assert_eq(core_lock_keys_for_range(ORG, PROVIDER, start, end, keys, CORE_LOCK_MAX_KEYS, &n,
                                          &f, &t),
                 0);
    cr_assert_eq(n, 129);
    /* and a reschedule's union of two such ranges */
    cr_assert_eq(core_lock_keys_for_range(ORG, PROVIDER, end, 2 * end - start, keys,
                                          CORE_LOCK_MAX_KEYS, &n, &f, &t),
                 0);
    cr_assert_eq(n, 258);
}

Test(lockkey, sort_unique_orders_and_dedups)
{
    int64_t keys[] = {5, -3, 5, INT64_MIN, 7, -3, INT64_MAX};
    size_t n = sizeof keys / sizeof keys[0];
    core_lock_keys_sort_unique(keys, &n);
    cr_assert_eq(n, 5);
    cr_assert_eq(keys[0], INT64_MIN);
    cr_assert_eq(keys[1], -3);
    cr_assert_eq(keys[2], 5);
    cr_assert_eq(keys[3], 7);
    cr_assert_eq(keys[4], INT64_MAX);
}
