/* The API key cache: set-associative, keys sharing a set kept side by side. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "http/key_cache.h"

/* A digest in set 7 (the first two bytes pick the set), told apart by `n`. */
static void digest_in_set_7(unsigned char h[32], int n)
{
    memset(h, 0, 32);
    h[0] = 7;
    h[31] = (unsigned char)n;
}

static struct http_auth auth_named(int n)
{
    struct http_auth a;
    memset(&a, 0, sizeof a);
    a.principal = PRINCIPAL_ADMIN;
    snprintf(a.key_id, sizeof a.key_id, "key-%d", n);
    return a;
}

Test(key_cache, keys_sharing_a_set_do_not_evict_each_other)
{
    struct http_key_cache *c = http_key_cache_new();
    unsigned char h[32];
    struct http_auth a, got;
    bool known;

    cr_assert_not_null(c);
    for (int n = 0; n < HTTP_KEY_CACHE_WAYS; n++) {
        digest_in_set_7(h, n);
        a = auth_named(n);
        http_key_cache_put(c, h, 1000, 30, &a);
    }
    for (int n = 0; n < HTTP_KEY_CACHE_WAYS; n++) {
        digest_in_set_7(h, n);
        cr_assert(http_key_cache_get(c, h, 1001, &known, &got), "key %d was evicted", n);
        cr_assert(known);
        cr_assert_str_eq(got.key_id, auth_named(n).key_id);
    }
    http_key_cache_free(c);
}

Test(key_cache, a_full_set_gives_up_the_entry_that_expires_first)
{
    struct http_key_cache *c = http_key_cache_new();
    unsigned char h[32];
    struct http_auth a = auth_named(0), got;
    bool known;

    /* Key n expires at 1000 + 30 + n: key 0 first. */
    for (int n = 0; n < HTTP_KEY_CACHE_WAYS; n++) {
        digest_in_set_7(h, n);
        http_key_cache_put(c, h, 1000 + n, 30, &a);
    }
    digest_in_set_7(h, 99);
    http_key_cache_put(c, h, 1010, 30, &a);
    cr_assert(http_key_cache_get(c, h, 1011, &known, &got));
    digest_in_set_7(h, 0);
    cr_assert_not(http_key_cache_get(c, h, 1011, &known, &got), "the oldest entry stayed");
    for (int n = 1; n < HTTP_KEY_CACHE_WAYS; n++) {
        digest_in_set_7(h, n);
        cr_assert(http_key_cache_get(c, h, 1011, &known, &got), "key %d was evicted", n);
    }
    http_key_cache_free(c);
}

Test(key_cache, entries_expire_and_unknown_keys_are_remembered_as_unknown)
{
    struct http_key_cache *c = http_key_cache_new();
    unsigned char found[32], unknown[32];
    struct http_auth a = auth_named(1), got;
    bool known = true;

    digest_in_set_7(found, 1);
    digest_in_set_7(unknown, 2);
    http_key_cache_put(c, found, 1000, 30, &a);
    http_key_cache_put(c, unknown, 1000, 10, NULL);
    cr_assert(http_key_cache_get(c, unknown, 1009, &known, &got));
    cr_assert_not(known);
    cr_assert_not(http_key_cache_get(c, unknown, 1010, &known, &got), "an expired entry was used");
    cr_assert(http_key_cache_get(c, found, 1029, &known, &got));
    cr_assert_not(http_key_cache_get(c, found, 1030, &known, &got), "an expired entry was used");
    http_key_cache_free(c);
}

Test(key_cache, putting_a_key_again_replaces_its_own_entry)
{
    struct http_key_cache *c = http_key_cache_new();
    unsigned char h[32];
    struct http_auth a, got;
    bool known;

    for (int n = 0; n < HTTP_KEY_CACHE_WAYS; n++) {
        digest_in_set_7(h, n);
        a = auth_named(n);
        http_key_cache_put(c, h, 1000, 30, &a);
    }
    /* Key 3 again, now unknown: it replaces itself, not another key. */
    digest_in_set_7(h, 3);
    http_key_cache_put(c, h, 1005, 10, NULL);
    cr_assert(http_key_cache_get(c, h, 1006, &known, &got));
    cr_assert_not(known);
    for (int n = 0; n < 3; n++) {
        digest_in_set_7(h, n);
        cr_assert(http_key_cache_get(c, h, 1006, &known, &got), "key %d was evicted", n);
        cr_assert(known);
    }
    http_key_cache_free(c);
}

Test(key_cache, a_hundred_random_keys_all_stay)
{
    struct http_key_cache *c = http_key_cache_new();
    unsigned char h[100][32];
    struct http_auth a = auth_named(0), got;
    bool known;
    unsigned x = 12345;

    for (int k = 0; k < 100; k++)
        for (int i = 0; i < 32; i++) {
            x = x * 1103515245u + 12345u;
            h[k][i] = (unsigned char)(x >> 16);
        }
    for (int k = 0; k < 100; k++)
        http_key_cache_put(c, h[k], 1000, 30, &a);
    for (int k = 0; k < 100; k++)
        cr_assert(http_key_cache_get(c, h[k], 1001, &known, &got), "key %d was evicted", k);
    http_key_cache_free(c);
}

Test(key_cache, a_flood_of_unknown_keys_never_pushes_out_a_known_one)
{
    struct http_key_cache *c = http_key_cache_new();
    unsigned char h[32];
    struct http_auth a, got;
    bool known;

    /* One real key in the set, then ten thousand random keys that share it. */
    digest_in_set_7(h, 0);
    a = auth_named(0);
    http_key_cache_put(c, h, 1000, 30, &a);
    for (int n = 1; n <= 10000; n++) {
        digest_in_set_7(h, 1 + n % 250);
        h[30] = (unsigned char)(n >> 8);
        http_key_cache_put(c, h, 1000 + n % 20, 10, NULL);
    }
    digest_in_set_7(h, 0);
    cr_assert(http_key_cache_get(c, h, 1020, &known, &got), "the real key was pushed out");
    cr_assert(known);
    cr_assert_str_eq(got.key_id, "key-0");
    /* A set full of real keys keeps them all: an unknown key is not kept. */
    for (int n = 1; n < HTTP_KEY_CACHE_WAYS; n++) {
        digest_in_set_7(h, 100 + n);
        a = auth_named(100 + n);
        http_key_cache_put(c, h, 1020, 30, &a);
    }
    digest_in_set_7(h, 250);
    h[30] = 0xee;
    http_key_cache_put(c, h, 1021, 10, NULL);
    cr_assert_not(http_key_cache_get(c, h, 1021, &known, &got), "an unknown key took a real key's place");
    for (int n = 1; n < HTTP_KEY_CACHE_WAYS; n++) {
        digest_in_set_7(h, 100 + n);
        cr_assert(http_key_cache_get(c, h, 1021, &known, &got), "real key %d was pushed out", n);
    }
    http_key_cache_free(c);
}

Test(key_cache, a_known_key_outlives_its_expiry_as_a_fallback_that_unknown_keys_cannot_take)
{
    struct http_key_cache *c = http_key_cache_new();
    unsigned char h[32];
    struct http_auth a = auth_named(7), got;
    bool known;

    digest_in_set_7(h, 0);
    http_key_cache_put(c, h, 1000, 30, &a);
    /* Expired: not an answer, but a fallback for its stale time. */
    cr_assert_not(http_key_cache_get(c, h, 1030, &known, &got));
    cr_assert(http_key_cache_get_stale(c, h, 1030, &got));
    cr_assert_str_eq(got.key_id, "key-7");
    /* A flood of unknown keys in its set meanwhile takes the other ways only. */
    for (int n = 1; n <= 1000; n++) {
        digest_in_set_7(h, n % 200 + 1);
        h[30] = (unsigned char)n;
        http_key_cache_put(c, h, 1100, 10, NULL);
    }
    digest_in_set_7(h, 0);
    cr_assert(http_key_cache_get_stale(c, h, 1100, &got), "an unknown key took a stale known key's place");
    cr_assert_not(http_key_cache_get_stale(c, h, 1000 + 30 + HTTP_KEY_CACHE_STALE_S, &got),
                  "past its stale time a key is not known");
    http_key_cache_free(c);
}
