/*
 * The service cache: what is put is found under the same two ids only, a
 * forgotten entry is gone, and ids that cannot be UUIDs are never stored.
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "db/service_cache.h"

#define ORG "00000000-0000-4000-8000-000000000001"
#define OTHER_ORG "00000000-0000-4000-8000-000000000002"
#define SERVICE "00000000-0000-4000-8000-0000000000b1"

Test(service_cache, finds_what_was_put_under_both_ids)
{
    struct db_service_cache *cache = db_service_cache_new();
    struct db_service_range in = {.duration = 45, .before = 5, .after = 10}, out = {0};

    cr_assert_not(db_service_cache_get(cache, ORG, SERVICE, &out), "empty at first");
    db_service_cache_put(cache, ORG, SERVICE, &in);
    cr_assert(db_service_cache_get(cache, ORG, SERVICE, &out));
    cr_assert_eq(out.duration, 45);
    cr_assert_eq(out.before, 5);
    cr_assert_eq(out.after, 10);
    cr_assert_not(db_service_cache_get(cache, OTHER_ORG, SERVICE, &out),
                  "another organization's id is another entry");
    db_service_cache_free(cache);
}

Test(service_cache, forget_removes_the_entry_and_only_it)
{
    struct db_service_cache *cache = db_service_cache_new();
    struct db_service_range in = {.duration = 30}, out;

    db_service_cache_put(cache, ORG, SERVICE, &in);
    db_service_cache_forget(cache, OTHER_ORG, SERVICE);
    cr_assert(db_service_cache_get(cache, ORG, SERVICE, &out), "forgetting another id keeps it");
    db_service_cache_forget(cache, ORG, SERVICE);
    cr_assert_not(db_service_cache_get(cache, ORG, SERVICE, &out));
    db_service_cache_free(cache);
}

Test(service_cache, a_newcomer_in_the_same_slot_evicts_the_old_entry)
{
    struct db_service_cache *cache = db_service_cache_new();
    struct db_service_range in = {.duration = 30}, out;
    char service[37];
    int found = 0;

    /* 5,000 services in 1,024 slots: all fit in none, the last ones win. */
    for (int i = 0; i < 5000; i++) {
        snprintf(service, sizeof service, "00000000-0000-4000-8000-%012d", i);
        in.duration = 1 + i % 1440;
        db_service_cache_put(cache, ORG, service, &in);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(service, sizeof service, "00000000-0000-4000-8000-%012d", i);
        if (db_service_cache_get(cache, ORG, service, &out)) {
            cr_assert_eq(out.duration, 1 + i % 1440, "an entry is never another's range");
            found++;
        }
    }
    cr_assert(found > 0 && found <= 1024, "found %d", found);
    db_service_cache_free(cache);
}

Test(service_cache, ids_too_long_are_not_stored)
{
    struct db_service_cache *cache = db_service_cache_new();
    struct db_service_range in = {.duration = 30}, out;
    const char *long_id = "00000000-0000-4000-8000-0000000000b1-and-more";

    db_service_cache_put(cache, ORG, long_id, &in);
    cr_assert_not(db_service_cache_get(cache, ORG, long_id, &out));
    db_service_cache_free(cache);
}
