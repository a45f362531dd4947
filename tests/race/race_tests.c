/*
 * Race tests of the booking store against a real PostgreSQL ($DATABASE_URL,
 * migrated). Many threads, each holding its own pooled connection while it
 * books, released together by barriers:
 *   (a) 2,000 overlapping pairs, A = T for 60 min and B = T+30 for 30 min:
 *       never both booked (the original design's failure);
 *   (b) 64 requests for one slot, 100 rounds: exactly one booked each round;
 *   (c) 10,000 random bookings, cancels and reschedules from 32 threads in a
 *       small window: no two confirmed appointments of a provider overlap
 *       afterwards, every booking reported exists, every one still held is
 *       confirmed.
 * Prints TAP, with the counts as "# " lines.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "core/time.h"
#include "db/appointments.h"
#include "db/contacts.h"
#include "db/orgs.h"
#include "db/providers.h"
#include "db/services.h"
#include "tap.h"

#define PAIR_WORKERS 16
#define PAIRS_PER_WORKER 125
#define STORM_THREADS 64
#define STORM_ROUNDS 100
#define RANDOM_THREADS 32
#define RANDOM_OPS_PER_THREAD 313 /* 32 x 313 = 10,016 operations */

static struct db_pool *pool;
static const char *database_url;

struct fixture {
    struct db_org_created org;
    char provider2[DB_ID_SIZE];
    char contact[DB_ID_SIZE];
    char service[DB_ID_SIZE]; /* 30 min, 10 before, 5 after */
};

static int64_t at(const char *iso)
{
    int64_t ms = 0;
    if (core_rfc3339_parse(iso, strlen(iso), &ms) != 0)
        abort();
    return ms;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Copies the "id" of a created object and releases it. */
static int take_id(json_t *obj, char *id_out)
{
    const char *id = json_string_value(json_object_get(obj, "id"));
    snprintf(id_out, DB_ID_SIZE, "%s", id ? id : "");
    json_decref(obj);
    return id ? 0 : -1;
}

/* An organization of its own per scenario, so the counts are its alone. */
static int make_fixture(struct fixture *f, const char *name)
{
    unsigned char h[3][32];
    struct db_result res;
    json_t *provider = NULL, *contact = NULL, *service = NULL;

    RAND_bytes(&h[0][0], sizeof h);
    if (db_org_create(pool, name, "Europe/London", h[0], h[1], h[2], &f->org, &res) != 0 ||
        res.outcome != DB_OK)
        return -1;
    db_provider_create(pool, f->org.id, "second", "{}", "system", &provider, &res);
    db_contact_create(pool, f->org.id, "Race Tester", "+447700900123", NULL, "system", &contact,
                      &res);
    db_service_create(pool, f->org.id, "checkup", 30, 10, 5, "system", &service, &res);
    /* each call its own statement: take_id releases what it is given */
    int bad = take_id(provider, f->provider2);
    bad |= take_id(contact, f->contact);
    bad |= take_id(service, f->service);
    return bad ? -1 : 0;
}

static struct db_org_ref org_ref(const struct fixture *f)
{
    struct db_org_ref ref = {f->org.id, f->org.default_provider_id};
    return ref;
}

static enum db_outcome book(const struct fixture *f, const char *provider, int64_t start,
                            int minutes, const char *service, char *id_out)
{
    struct db_org_ref ref = org_ref(f);
    struct db_book_request req = {
        .provider_id = provider,
        .contact_id = f->contact,
        .service_id = service,
        .scheduled_at_ms = start,
        .duration_minutes = minutes,
        .actor = "system",
    };
    struct db_result res;
    enum db_outcome outcome;

    db_book(pool, &ref, &req, &res);
    outcome = res.outcome;
    if (id_out)
        snprintf(id_out, DB_ID_SIZE, "%s", outcome == DB_OK ? res.appointment.id : "");
    db_result_cleanup(&res);
    return outcome;
}

/* Runs one SQL query returning one number, on a connection of its own. */
static long long query_number(const char *sql, int n, const char *const *params)
{
    PGconn *pg = PQconnectdb(database_url);
    PGresult *res = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    long long v = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else
        tap_diag("query failed: %s", PQerrorMessage(pg));
    PQclear(res);
    PQfinish(pg);
    return v;
}

/* Confirmed appointments of one organization that overlap another of the
 * same provider: the double bookings. */
static long long count_overlaps(const char *org_id)
{
    const char *params[] = {org_id};
    return query_number("SELECT count(*) FROM appointments a JOIN appointments b"
                        " ON a.provider_id = b.provider_id AND a.id < b.id"
                        " AND tstzrange(a.buffered_start, a.buffered_end)"
                        " && tstzrange(b.buffered_start, b.buffered_end)"
                        " WHERE a.org_id = $1 AND b.org_id = $1"
                        " AND a.status = 'confirmed' AND b.status = 'confirmed'",
                        1, params);
}

/* ---- (a) overlapping pairs ------------------------------------------- */

struct pair_worker {
    const struct fixture *f;
    int index;
    bool is_b;
    pthread_barrier_t *barrier;
    enum db_outcome *outcomes; /* [PAIRS_PER_WORKER] */
};

static void *pair_thread(void *arg)
{
    struct pair_worker *w = arg;
    int64_t base = at("2031-01-06T00:00:00Z");

    for (int r = 0; r < PAIRS_PER_WORKER; r++) {
        int64_t t = base + (int64_t)(w->index * PAIRS_PER_WORKER + r) * 120 * CORE_MS_PER_MINUTE;
        /* Half the pairs on the default provider, half on another: the two
         * forms of lock key. */
        const char *provider = r % 2 ? w->f->provider2 : NULL;
        pthread_barrier_wait(w->barrier);
        w->outcomes[r] = w->is_b ? book(w->f, provider, t + 30 * CORE_MS_PER_MINUTE, 30, NULL, NULL)
                                 : book(w->f, provider, t, 60, NULL, NULL);
    }
    return NULL;
}

static void test_overlapping_pairs(void)
{
    static struct pair_worker workers[PAIR_WORKERS][2];
    static enum db_outcome outcomes[PAIR_WORKERS][2][PAIRS_PER_WORKER];
    pthread_barrier_t barriers[PAIR_WORKERS];
    pthread_t threads[PAIR_WORKERS][2];
    struct fixture f;
    int both = 0, one = 0, none = 0, busy = 0, errors = 0, a_won = 0;

    if (!tap_ok(make_fixture(&f, "race pairs") == 0, "pairs: fixture created"))
        return;
    for (int i = 0; i < PAIR_WORKERS; i++) {
        pthread_barrier_init(&barriers[i], NULL, 2);
        for (int s = 0; s < 2; s++) {
            workers[i][s] = (struct pair_worker){&f, i, s == 1, &barriers[i], outcomes[i][s]};
            pthread_create(&threads[i][s], NULL, pair_thread, &workers[i][s]);
        }
    }
    for (int i = 0; i < PAIR_WORKERS; i++) {
        pthread_join(threads[i][0], NULL);
        pthread_join(threads[i][1], NULL);
        pthread_barrier_destroy(&barriers[i]);
    }
    for (int i = 0; i < PAIR_WORKERS; i++)
        for (int r = 0; r < PAIRS_PER_WORKER; r++) {
            enum db_outcome a = outcomes[i][0][r], b = outcomes[i][1][r];
            int booked = (a == DB_OK) + (b == DB_OK);
            both += booked == 2;
            one += booked == 1;
            none += booked == 0;
            a_won += a == DB_OK && b != DB_OK;
            busy += (a == DB_BUSY) + (b == DB_BUSY);
            errors += (a != DB_OK && a != DB_CONFLICT && a != DB_BUSY) +
                      (b != DB_OK && b != DB_CONFLICT && b != DB_BUSY);
        }
    tap_diag("pairs: %d pairs, both booked %d, exactly one %d (A won %d, B won %d), none %d, "
             "busy %d, errors %d",
             PAIR_WORKERS * PAIRS_PER_WORKER, both, one, a_won, one - a_won, none, busy, errors);
    tap_ok(both == 0, "pairs: no pair of overlapping ranges was booked twice (%d)", both);
    tap_ok(one + none == PAIR_WORKERS * PAIRS_PER_WORKER && errors == 0,
           "pairs: every request answered booked, conflict or busy");
    tap_ok(one == PAIR_WORKERS * PAIRS_PER_WORKER,
           "pairs: every pair booked exactly one (%d of %d)", one,
           PAIR_WORKERS * PAIRS_PER_WORKER);
    tap_ok(count_overlaps(f.org.id) == 0, "pairs: the database holds no overlap");
}

/* ---- (b) one slot, many requests ----------------------------------- */

struct storm_worker {
    const struct fixture *f;
    pthread_barrier_t *barrier;
    enum db_outcome outcomes[STORM_ROUNDS];
    int64_t micros[STORM_ROUNDS];
};

static void *storm_thread(void *arg)
{
    struct storm_worker *w = arg;
    int64_t base = at("2031-03-03T00:00:00Z");

    for (int r = 0; r < STORM_ROUNDS; r++) {
        int64_t started;
        pthread_barrier_wait(w->barrier);
        started = now_us();
        w->outcomes[r] = book(w->f, NULL, base + r * 60 * CORE_MS_PER_MINUTE, 30, NULL, NULL);
        w->micros[r] = now_us() - started;
    }
    return NULL;
}

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_same_slot_storm(void)
{
    static struct storm_worker workers[STORM_THREADS];
    static int64_t loser_micros[STORM_THREADS * STORM_ROUNDS];
    pthread_barrier_t barrier;
    pthread_t threads[STORM_THREADS];
    struct fixture f;
    int exact_rounds = 0, busy = 0, errors = 0, losers = 0;

    if (!tap_ok(make_fixture(&f, "race storm") == 0, "storm: fixture created"))
        return;
    pthread_barrier_init(&barrier, NULL, STORM_THREADS);
    for (int i = 0; i < STORM_THREADS; i++) {
        workers[i].f = &f;
        workers[i].barrier = &barrier;
        pthread_create(&threads[i], NULL, storm_thread, &workers[i]);
    }
    for (int i = 0; i < STORM_THREADS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);

    for (int r = 0; r < STORM_ROUNDS; r++) {
        int booked = 0;
        for (int i = 0; i < STORM_THREADS; i++) {
            enum db_outcome o = workers[i].outcomes[r];
            booked += o == DB_OK;
            busy += o == DB_BUSY;
            errors += o != DB_OK && o != DB_CONFLICT && o != DB_BUSY;
            if (o != DB_OK)
                loser_micros[losers++] = workers[i].micros[r];
        }
        exact_rounds += booked == 1;
    }
    qsort(loser_micros, (size_t)losers, sizeof loser_micros[0], compare_int64);
    tap_diag("storm: %d rounds of %d requests, rounds with exactly one booking %d, busy %d, "
             "errors %d, losers' answer p50 %.1f ms, p99 %.1f ms",
             STORM_ROUNDS, STORM_THREADS, exact_rounds, busy, errors,
             losers ? (double)loser_micros[losers / 2] / 1000.0 : 0.0,
             losers ? (double)loser_micros[losers * 99 / 100] / 1000.0 : 0.0);
    tap_ok(exact_rounds == STORM_ROUNDS, "storm: exactly one booking in every round (%d of %d)",
           exact_rounds, STORM_ROUNDS);
    tap_ok(errors == 0, "storm: every loser answered conflict or busy (%d errors)", errors);
    tap_ok(count_overlaps(f.org.id) == 0, "storm: the database holds no overlap");
}

/* ---- (c) random operations ------------------------------------------ */

struct random_worker {
    const struct fixture *f;
    unsigned seed;
    /* every id ever reported booked (by book or reschedule) */
    char (*reported)[DB_ID_SIZE];
    int n_reported;
    /* ids this thread still holds: booked, not cancelled or rescheduled */
    char (*held)[DB_ID_SIZE];
    int n_held;
    int booked, conflicts, busy, cancels, reschedules, resched_conflicts, errors;
};

static unsigned next_random(unsigned *state)
{
    /* xorshift32: reproducible per thread, no shared state */
    unsigned x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static void *random_thread(void *arg)
{
    static const int durations[] = {15, 20, 30, 45, 60, 90};
    struct random_worker *w = arg;
    struct db_org_ref ref = org_ref(w->f);
    /* A small window (one day, 08:00-18:00, two providers) for contention. */
    int64_t day = at("2031-05-05T08:00:00Z");

    for (int op = 0; op < RANDOM_OPS_PER_THREAD; op++) {
        unsigned roll = next_random(&w->seed) % 100;
        int64_t start = day + (int64_t)(next_random(&w->seed) % 120) * 5 * CORE_MS_PER_MINUTE;
        const char *provider = next_random(&w->seed) % 2 ? w->f->provider2 : NULL;
        struct db_result res;

        if (roll < 60 || w->n_held == 0) {
            bool with_service = next_random(&w->seed) % 4 == 0;
            int minutes = with_service ? 0 : durations[next_random(&w->seed) % 6];
            char id[DB_ID_SIZE];
            enum db_outcome o =
                book(w->f, provider, start, minutes, with_service ? w->f->service : NULL, id);
            if (o == DB_OK) {
                w->booked++;
                memcpy(w->reported[w->n_reported++], id, DB_ID_SIZE);
                memcpy(w->held[w->n_held++], id, DB_ID_SIZE);
            } else {
                w->conflicts += o == DB_CONFLICT;
                w->busy += o == DB_BUSY;
                w->errors += o != DB_CONFLICT && o != DB_BUSY;
            }
            continue;
        }
        int pick = (int)(next_random(&w->seed) % (unsigned)w->n_held);
        if (roll < 80) {
            db_cancel(pool, &ref, w->held[pick], NULL, "system", 0, &res);
            if (res.outcome == DB_OK && !res.unchanged) {
                w->cancels++;
                memcpy(w->held[pick], w->held[--w->n_held], DB_ID_SIZE);
            } else {
                w->errors += res.outcome != DB_BUSY;
                w->busy += res.outcome == DB_BUSY;
            }
        } else {
            struct db_reschedule_request req = {
                .appointment_id = w->held[pick],
                .provider_id = provider,
                .scheduled_at_ms = start,
                .actor = "system",
            };
            db_reschedule(pool, &ref, &req, &res);
            if (res.outcome == DB_OK) {
                w->reschedules++;
                memcpy(w->reported[w->n_reported++], res.appointment.id, DB_ID_SIZE);
                memcpy(w->held[pick], res.appointment.id, DB_ID_SIZE);
            } else {
                w->resched_conflicts += res.outcome == DB_CONFLICT;
                w->busy += res.outcome == DB_BUSY;
                w->errors += res.outcome != DB_CONFLICT && res.outcome != DB_BUSY;
            }
        }
        db_result_cleanup(&res);
    }
    return NULL;
}

/* How many of `ids` exist (with the given status, when not NULL). */
static long long count_ids(const char *org_id, char (*ids)[DB_ID_SIZE], int n, const char *status)
{
    size_t cap = (size_t)n * (DB_ID_SIZE + 1) + 3, used = 0;
    char *array = malloc(cap);
    long long count;

    array[used++] = '{';
    for (int i = 0; i < n; i++) {
        if (i)
            array[used++] = ',';
        memcpy(array + used, ids[i], DB_ID_SIZE - 1);
        used += DB_ID_SIZE - 1;
    }
    array[used++] = '}';
    array[used] = '\0';
    {
        const char *params[] = {org_id, array, status};
        count = query_number("SELECT count(*) FROM appointments WHERE org_id = $1"
                             " AND id = ANY($2::uuid[]) AND ($3::text IS NULL OR status = $3)",
                             3, params);
    }
    free(array);
    return count;
}

static void test_random_operations(void)
{
    static struct random_worker workers[RANDOM_THREADS];
    pthread_t threads[RANDOM_THREADS];
    struct fixture f;
    int total_ops = RANDOM_THREADS * RANDOM_OPS_PER_THREAD;
    int booked = 0, conflicts = 0, busy = 0, cancels = 0, reschedules = 0, rconf = 0, errors = 0;
    long long reported = 0, reported_found = 0, held = 0, held_confirmed = 0;

    if (!tap_ok(make_fixture(&f, "race random") == 0, "random: fixture created"))
        return;
    for (int i = 0; i < RANDOM_THREADS; i++) {
        workers[i].f = &f;
        workers[i].seed = 2463534242u + (unsigned)i * 7919u;
        workers[i].reported = calloc(RANDOM_OPS_PER_THREAD, DB_ID_SIZE);
        workers[i].held = calloc(RANDOM_OPS_PER_THREAD, DB_ID_SIZE);
        pthread_create(&threads[i], NULL, random_thread, &workers[i]);
    }
    for (int i = 0; i < RANDOM_THREADS; i++) {
        struct random_worker *w = &workers[i];
        pthread_join(threads[i], NULL);
        booked += w->booked;
        conflicts += w->conflicts;
        busy += w->busy;
        cancels += w->cancels;
        reschedules += w->reschedules;
        rconf += w->resched_conflicts;
        errors += w->errors;
        reported += w->n_reported;
        held += w->n_held;
        if (w->n_reported)
            reported_found += count_ids(f.org.id, w->reported, w->n_reported, NULL);
        if (w->n_held)
            held_confirmed += count_ids(f.org.id, w->held, w->n_held, "confirmed");
    }
    {
        const char *params[] = {f.org.id};
        long long overlaps = count_overlaps(f.org.id);
        long long confirmed = query_number(
            "SELECT count(*) FROM appointments WHERE org_id = $1 AND status = 'confirmed'", 1,
            params);
        tap_diag("random: %d operations from %d threads: booked %d, conflicts %d, cancels %d, "
                 "reschedules %d (conflicts %d), busy %d, errors %d",
                 total_ops, RANDOM_THREADS, booked, conflicts, cancels, reschedules, rconf, busy,
                 errors);
        tap_diag("random: overlapping confirmed pairs %lld; reported booked %lld, found %lld; "
                 "held %lld, confirmed %lld; confirmed in the database %lld",
                 overlaps, reported, reported_found, held, held_confirmed, confirmed);
        tap_ok(overlaps == 0, "random: no two confirmed appointments of a provider overlap");
        tap_ok(reported > 0 && reported_found == reported,
               "random: every appointment reported booked exists (%lld of %lld)",
               reported_found, reported);
        tap_ok(held_confirmed == held && confirmed == held,
               "random: what is held is confirmed, and nothing else is (%lld, %lld, %lld)", held,
               held_confirmed, confirmed);
        tap_ok(errors == 0, "random: no operation failed with an error (%d)", errors);
        tap_ok(cancels > 0 && reschedules > 0 && conflicts > 0,
               "random: the mix exercised cancels, reschedules and conflicts");
    }
    for (int i = 0; i < RANDOM_THREADS; i++) {
        free(workers[i].reported);
        free(workers[i].held);
    }
}

int main(void)
{
    database_url = getenv("DATABASE_URL");
    if (!database_url) {
        puts("1..1");
        puts("not ok 1 - DATABASE_URL is not set");
        return 1;
    }
    /* One connection per thread of the largest scenario, and a few more. */
    pool = db_pool_new(database_url, STORM_THREADS + 4, 30000);
    tap_plan(1 + 4 + 1 + 3 + 1 + 5);
    if (!tap_ok(pool != NULL, "pool created")) {
        return 1;
    }
    test_overlapping_pairs();
    test_same_slot_storm();
    test_random_operations();
    db_pool_free(pool);
    return tap_exit_code();
}
