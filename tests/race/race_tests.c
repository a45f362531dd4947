/*
 * Race tests of the booking store against a real PostgreSQL ($DATABASE_URL,
 * migrated). Many threads, each holding its own pooled connection while it
 * books, released together by barriers:
 *   (a) 2,000 overlapping pairs, A = T for 60 min and B = T+30 for 30 min:
 *       never both booked (the original design's failure); then 2,000 such
 *       pairs where one side holds and the other books (which side holds
 *       alternates), and 2,000 where both hold: never both succeed;
 *   (b) 64 requests for one slot, 100 rounds: exactly one booked each round;
 *       then 64 holds of one slot, 100 rounds: exactly one held each round;
 *   (c) 10,000 random bookings, cancels and reschedules from 32 threads in a
 *       small window: no two confirmed appointments of a provider overlap
 *       afterwards, every booking reported exists, every one still held is
 *       confirmed; then 10,000 random bookings, holds, conversions (a booking
 *       naming a hold its thread made), releases, cancels and reschedules:
 *       no two active rows (confirmed, or held and unexpired) of a provider
 *       overlap, every booking reported exists, every conversion reported is
 *       a confirmed row (unless its thread cancelled or rescheduled it
 *       since) and left no hold behind, every hold a thread still keeps is
 *       held and no other is, every release is gone;
 *   (d) an expired hold frees its slot at once: over a 30 s hold whose
 *       expires_at was moved into the past by hand (no purge runs here), a
 *       booking, a hold, and a booking naming that hold each succeed at once,
 *       and the expired row is gone;
 *   (e) the exclusion constraint still backstops a writer that skips the
 *       locks: a raw INSERT of a confirmed row over an unexpired hold, or of
 *       a held row over another, fails with 23P01;
 *   (f) the cap on public holds holds under concurrency: 32 public holds at
 *       once in an organization capped at 5, 10 rounds: exactly 5 each.
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
#include "db/holds.h"
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
#define HOLD_TTL_SECONDS 300      /* outlives the whole run */
#define MIN_TTL_SECONDS 30

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

/* Holds a time for ttl seconds; *out (when not NULL) is the hold made, or
 * zeroed. */
static enum db_outcome hold(const struct fixture *f, const char *provider, int64_t start,
                            int minutes, const char *service, int ttl, struct db_hold *out)
{
    struct db_org_ref ref = org_ref(f);
    struct db_hold_request req = {
        .provider_id = provider,
        .service_id = service,
        .scheduled_at_ms = start,
        .duration_minutes = minutes,
        .ttl_seconds = ttl,
        .actor = "system",
    };
    struct db_result res;
    enum db_outcome outcome;

    db_hold_create(pool, &ref, &req, &res);
    outcome = res.outcome;
    if (out) {
        memset(out, 0, sizeof *out);
        if (outcome == DB_OK)
            *out = res.hold;
    }
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

/* Runs one statement on a connection of its own that takes no advisory
 * lock (a writer that skips the booking functions). Copies its SQLSTATE
 * into state ("" when it succeeded) and returns the rows it changed, or -1
 * when it failed. */
static long long exec_raw(const char *sql, int n, const char *const *params, char state[8])
{
    PGconn *pg = PQconnectdb(database_url);
    PGresult *res = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    long long rows = -1;

    state[0] = '\0';
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        rows = strtoll(PQcmdTuples(res), NULL, 10);
    } else {
        const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        snprintf(state, 8, "%.5s", code ? code : "?????");
    }
    PQclear(res);
    PQfinish(pg);
    return rows;
}

/* What is active in the exclusion constraint's sense and blocks a booking:
 * a confirmed appointment, or a hold whose time is not up. */
#define ACTIVE_ROW(t)                                                                              \
    "(" t ".status = 'confirmed' OR (" t ".status = 'held' AND " t ".expires_at > now()))"

/* Active rows of one organization (confirmed appointments and unexpired
 * holds) that overlap another active row of the same provider: the double
 * bookings. Where there are no holds, these are the confirmed ones. */
static long long count_overlaps(const char *org_id)
{
    const char *params[] = {org_id};
    return query_number("SELECT count(*) FROM appointments a JOIN appointments b"
                        " ON a.provider_id = b.provider_id AND a.id < b.id"
                        " AND tstzrange(a.buffered_start, a.buffered_end)"
                        " && tstzrange(b.buffered_start, b.buffered_end)"
                        " WHERE a.org_id = $1 AND b.org_id = $1"
                        " AND " ACTIVE_ROW("a") " AND " ACTIVE_ROW("b"),
                        1, params);
}

/* Active rows of one organization with a status: "confirmed", or "held"
 * (unexpired only). */
static long long count_active(const char *org_id, const char *status)
{
    const char *params[] = {org_id, status};
    return query_number("SELECT count(*) FROM appointments t WHERE org_id = $1"
                        " AND status = $2 AND " ACTIVE_ROW("t"),
                        2, params);
}

/* ---- (a) overlapping pairs ------------------------------------------- */

enum pair_mode { PAIRS_BOOK_BOOK, PAIRS_HOLD_BOOK, PAIRS_HOLD_HOLD };

static const struct {
    const char *name; /* what its lines start with */
    const char *fixture;
    const char *base;  /* its first pair's T */
    const char *did;   /* what a success did */
    const char *twice; /* what must never happen to a pair */
} pair_modes[] = {
    [PAIRS_BOOK_BOOK] = {"pairs", "race pairs", "2031-01-06T00:00:00Z", "booked",
                         "was booked twice"},
    [PAIRS_HOLD_BOOK] = {"hold/book pairs", "race hold/book pairs", "2031-07-07T00:00:00Z",
                         "booked or held", "was both held and booked"},
    [PAIRS_HOLD_HOLD] = {"hold/hold pairs", "race hold/hold pairs", "2032-01-05T00:00:00Z", "held",
                         "was held twice"},
};

/* Whether side B (else A) of pair r holds rather than books. Against a
 * booking, the holding side alternates every two pairs, so each side holds
 * on both providers. */
static bool pair_side_holds(enum pair_mode mode, int r, bool is_b)
{
    if (mode == PAIRS_HOLD_HOLD)
        return true;
    if (mode == PAIRS_HOLD_BOOK)
        return (r / 2 % 2 == 0) == is_b;
    return false;
}

struct pair_worker {
    const struct fixture *f;
    enum pair_mode mode;
    int index;
    bool is_b;
    pthread_barrier_t *barrier;
    enum db_outcome *outcomes; /* [PAIRS_PER_WORKER] */
};

static void *pair_thread(void *arg)
{
    struct pair_worker *w = arg;
    int64_t base = at(pair_modes[w->mode].base);

    for (int r = 0; r < PAIRS_PER_WORKER; r++) {
        int64_t t = base + (int64_t)(w->index * PAIRS_PER_WORKER + r) * 120 * CORE_MS_PER_MINUTE;
        /* Half the pairs on the default provider, half on another: the two
         * forms of lock key. */
        const char *provider = r % 2 ? w->f->provider2 : NULL;
        int64_t start = w->is_b ? t + 30 * CORE_MS_PER_MINUTE : t;
        int minutes = w->is_b ? 30 : 60;
        bool holds = pair_side_holds(w->mode, r, w->is_b);
        pthread_barrier_wait(w->barrier);
        w->outcomes[r] = holds ? hold(w->f, provider, start, minutes, NULL, HOLD_TTL_SECONDS, NULL)
                               : book(w->f, provider, start, minutes, NULL, NULL);
    }
    return NULL;
}

static void test_overlapping_pairs(enum pair_mode mode)
{
    static struct pair_worker workers[PAIR_WORKERS][2];
    static enum db_outcome outcomes[PAIR_WORKERS][2][PAIRS_PER_WORKER];
    pthread_barrier_t barriers[PAIR_WORKERS];
    pthread_t threads[PAIR_WORKERS][2];
    const char *name = pair_modes[mode].name;
    struct fixture f;
    int both = 0, one = 0, none = 0, busy = 0, errors = 0, a_won = 0, hold_won = 0;
    int holds_ok = 0, books_ok = 0;

    if (!tap_ok(make_fixture(&f, pair_modes[mode].fixture) == 0, "%s: fixture created", name))
        return;
    for (int i = 0; i < PAIR_WORKERS; i++) {
        pthread_barrier_init(&barriers[i], NULL, 2);
        for (int s = 0; s < 2; s++) {
            workers[i][s] = (struct pair_worker){&f, mode, i, s == 1, &barriers[i], outcomes[i][s]};
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
            bool a_holds = pair_side_holds(mode, r, false),
                 b_holds = pair_side_holds(mode, r, true);
            int done = (a == DB_OK) + (b == DB_OK);
            both += done == 2;
            one += done == 1;
            none += done == 0;
            a_won += a == DB_OK && b != DB_OK;
            hold_won +=
                (a == DB_OK && b != DB_OK && a_holds) || (b == DB_OK && a != DB_OK && b_holds);
            holds_ok += (a == DB_OK && a_holds) + (b == DB_OK && b_holds);
            books_ok += (a == DB_OK && !a_holds) + (b == DB_OK && !b_holds);
            busy += (a == DB_BUSY) + (b == DB_BUSY);
            errors += (a != DB_OK && a != DB_CONFLICT && a != DB_BUSY) +
                      (b != DB_OK && b != DB_CONFLICT && b != DB_BUSY);
        }
    if (mode == PAIRS_HOLD_BOOK)
        tap_diag("%s: %d pairs, both succeeded %d, exactly one %d (the hold won %d, the booking "
                 "won %d; A won %d, B won %d), none %d, busy %d, errors %d",
                 name, PAIR_WORKERS * PAIRS_PER_WORKER, both, one, hold_won, one - hold_won, a_won,
                 one - a_won, none, busy, errors);
    else
        tap_diag("%s: %d pairs, both %s %d, exactly one %d (A won %d, B won %d), none %d, "
                 "busy %d, errors %d",
                 name, PAIR_WORKERS * PAIRS_PER_WORKER, pair_modes[mode].did, both, one, a_won,
                 one - a_won, none, busy, errors);
    tap_ok(both == 0, "%s: no pair of overlapping ranges %s (%d)", name, pair_modes[mode].twice,
           both);
    tap_ok(one + none == PAIR_WORKERS * PAIRS_PER_WORKER && errors == 0,
           "%s: every request answered %s, conflict or busy", name, pair_modes[mode].did);
    tap_ok(one == PAIR_WORKERS * PAIRS_PER_WORKER, "%s: every pair %s exactly one (%d of %d)", name,
           pair_modes[mode].did, one, PAIR_WORKERS * PAIRS_PER_WORKER);
    tap_ok(count_overlaps(f.org.id) == 0, "%s: the database holds no overlap", name);
    if (mode != PAIRS_BOOK_BOOK) {
        long long held = count_active(f.org.id, "held");
        long long confirmed = count_active(f.org.id, "confirmed");
        tap_ok(held == holds_ok && confirmed == books_ok,
               "%s: the database holds what was reported (held %lld of %d, confirmed %lld of %d)",
               name, held, holds_ok, confirmed, books_ok);
    }
}

/* ---- (b) one slot, many requests ----------------------------------- */

struct storm_worker {
    const struct fixture *f;
    bool holds;
    pthread_barrier_t *barrier;
    enum db_outcome outcomes[STORM_ROUNDS];
    int64_t micros[STORM_ROUNDS];
};

static void *storm_thread(void *arg)
{
    struct storm_worker *w = arg;
    int64_t base = at(w->holds ? "2032-03-01T00:00:00Z" : "2031-03-03T00:00:00Z");

    for (int r = 0; r < STORM_ROUNDS; r++) {
        int64_t started, start = base + r * 60 * CORE_MS_PER_MINUTE;
        pthread_barrier_wait(w->barrier);
        started = now_us();
        w->outcomes[r] = w->holds ? hold(w->f, NULL, start, 30, NULL, HOLD_TTL_SECONDS, NULL)
                                  : book(w->f, NULL, start, 30, NULL, NULL);
        w->micros[r] = now_us() - started;
    }
    return NULL;
}

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_same_slot_storm(bool holds)
{
    static struct storm_worker workers[STORM_THREADS];
    static int64_t loser_micros[STORM_THREADS * STORM_ROUNDS];
    pthread_barrier_t barrier;
    pthread_t threads[STORM_THREADS];
    const char *name = holds ? "hold storm" : "storm";
    const char *what = holds ? "hold" : "booking";
    struct fixture f;
    int exact_rounds = 0, busy = 0, errors = 0, losers = 0;

    if (!tap_ok(make_fixture(&f, holds ? "race hold storm" : "race storm") == 0,
                "%s: fixture created", name))
        return;
    pthread_barrier_init(&barrier, NULL, STORM_THREADS);
    for (int i = 0; i < STORM_THREADS; i++) {
        workers[i].f = &f;
        workers[i].holds = holds;
        workers[i].barrier = &barrier;
        pthread_create(&threads[i], NULL, storm_thread, &workers[i]);
    }
    for (int i = 0; i < STORM_THREADS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);

    for (int r = 0; r < STORM_ROUNDS; r++) {
        int done = 0;
        for (int i = 0; i < STORM_THREADS; i++) {
            enum db_outcome o = workers[i].outcomes[r];
            done += o == DB_OK;
            busy += o == DB_BUSY;
            errors += o != DB_OK && o != DB_CONFLICT && o != DB_BUSY;
            if (o != DB_OK)
                loser_micros[losers++] = workers[i].micros[r];
        }
        exact_rounds += done == 1;
    }
    qsort(loser_micros, (size_t)losers, sizeof loser_micros[0], compare_int64);
    tap_diag("%s: %d rounds of %d %s, rounds with exactly one %s %d, busy %d, "
             "errors %d, losers' answer p50 %.1f ms, p99 %.1f ms",
             name, STORM_ROUNDS, STORM_THREADS, holds ? "holds" : "requests", what, exact_rounds,
             busy, errors, losers ? (double)loser_micros[losers / 2] / 1000.0 : 0.0,
             losers ? (double)loser_micros[losers * 99 / 100] / 1000.0 : 0.0);
    tap_ok(exact_rounds == STORM_ROUNDS, "%s: exactly one %s in every round (%d of %d)", name, what,
           exact_rounds, STORM_ROUNDS);
    tap_ok(errors == 0, "%s: every loser answered conflict or busy (%d errors)", name, errors);
    tap_ok(count_overlaps(f.org.id) == 0, "%s: the database holds no overlap", name);
    if (holds) {
        long long held = count_active(f.org.id, "held");
        tap_ok(held == STORM_ROUNDS && count_active(f.org.id, "confirmed") == 0,
               "%s: the database holds one hold per round and nothing else (%lld)", name, held);
    }
}

/* ---- (c) random operations ------------------------------------------ */

/* What a hold a thread keeps was made for: a conversion books inside it. */
struct hold_shape {
    const char *provider; /* NULL: the default */
    int64_t start;
    int minutes;
    bool with_service;
};

struct random_worker {
    const struct fixture *f;
    bool with_holds;
    unsigned seed;
    /* every id ever reported booked (by book, conversion or reschedule) */
    char (*reported)[DB_ID_SIZE];
    int n_reported;
    /* ids this thread still holds: booked, not cancelled or rescheduled;
     * held_conv[i] is the index in `converted` of one a conversion made,
     * else -1 */
    char (*held)[DB_ID_SIZE];
    int *held_conv;
    int n_held;
    /* holds this thread made and has neither released nor converted */
    char (*holds)[DB_ID_SIZE];
    struct hold_shape *hold_shapes;
    int n_holds;
    /* every appointment a conversion reported, the hold it came from, and
     * whether this thread cancelled or rescheduled it since */
    char (*converted)[DB_ID_SIZE];
    char (*converted_from)[DB_ID_SIZE];
    bool *converted_retired;
    int n_converted;
    /* every hold reported released */
    char (*released)[DB_ID_SIZE];
    int n_released;
    int booked, conflicts, busy, cancels, reschedules, resched_conflicts, errors;
    int holds_made, hold_conflicts, converts, convert_conflicts, releases;
    int converts_renamed; /* exact conversions that did not keep the hold's id */
};

enum random_op { OP_BOOK, OP_CANCEL, OP_RESCHEDULE, OP_HOLD, OP_CONVERT, OP_RELEASE };

static unsigned next_random(unsigned *state)
{
    /* xorshift32: reproducible per thread, no shared state */
    unsigned x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static enum random_op pick_op(const struct random_worker *w, unsigned roll)
{
    if (!w->with_holds) /* the mix without holds, as it always was */
        return roll < 60 || w->n_held == 0 ? OP_BOOK : roll < 80 ? OP_CANCEL : OP_RESCHEDULE;
    if (roll < 30)
        return OP_BOOK;
    if (roll < 75)
        return roll < 50 || w->n_holds == 0 ? OP_HOLD : roll < 65 ? OP_CONVERT : OP_RELEASE;
    if (w->n_held == 0)
        return OP_BOOK;
    return roll < 87 ? OP_CANCEL : OP_RESCHEDULE;
}

static void keep_booked(struct random_worker *w, const char *id, int conv)
{
    memcpy(w->reported[w->n_reported++], id, DB_ID_SIZE);
    memcpy(w->held[w->n_held], id, DB_ID_SIZE);
    w->held_conv[w->n_held++] = conv;
}

/* The appointment at `pick` is no longer this thread's as it was made. */
static void retire_held(struct random_worker *w, int pick)
{
    if (w->held_conv[pick] >= 0)
        w->converted_retired[w->held_conv[pick]] = true;
    w->held_conv[pick] = -1;
}

static void drop_held(struct random_worker *w, int pick)
{
    retire_held(w, pick);
    w->n_held--;
    memcpy(w->held[pick], w->held[w->n_held], DB_ID_SIZE);
    w->held_conv[pick] = w->held_conv[w->n_held];
}

static void drop_hold(struct random_worker *w, int pick)
{
    w->n_holds--;
    memcpy(w->holds[pick], w->holds[w->n_holds], DB_ID_SIZE);
    w->hold_shapes[pick] = w->hold_shapes[w->n_holds];
}

static void random_book(struct random_worker *w, const char *provider, int64_t start)
{
    static const int durations[] = {15, 20, 30, 45, 60, 90};
    bool with_service = next_random(&w->seed) % 4 == 0;
    int minutes = with_service ? 0 : durations[next_random(&w->seed) % 6];
    char id[DB_ID_SIZE];
    enum db_outcome o =
        book(w->f, provider, start, minutes, with_service ? w->f->service : NULL, id);

    if (o == DB_OK) {
        w->booked++;
        keep_booked(w, id, -1);
    } else {
        w->conflicts += o == DB_CONFLICT;
        w->busy += o == DB_BUSY;
        w->errors += o != DB_CONFLICT && o != DB_BUSY;
    }
}

static void random_cancel(struct random_worker *w)
{
    struct db_org_ref ref = org_ref(w->f);
    int pick = (int)(next_random(&w->seed) % (unsigned)w->n_held);
    struct db_result res;

    db_cancel(pool, &ref, w->held[pick], NULL, "system", 0, &res);
    if (res.outcome == DB_OK && !res.unchanged) {
        w->cancels++;
        drop_held(w, pick);
    } else {
        w->errors += res.outcome != DB_BUSY;
        w->busy += res.outcome == DB_BUSY;
    }
    db_result_cleanup(&res);
}

static void random_reschedule(struct random_worker *w, const char *provider, int64_t start)
{
    struct db_org_ref ref = org_ref(w->f);
    int pick = (int)(next_random(&w->seed) % (unsigned)w->n_held);
    struct db_reschedule_request req = {
        .appointment_id = w->held[pick],
        .provider_id = provider,
        .scheduled_at_ms = start,
        .actor = "system",
    };
    struct db_result res;

    db_reschedule(pool, &ref, &req, &res);
    if (res.outcome == DB_OK) {
        w->reschedules++;
        memcpy(w->reported[w->n_reported++], res.appointment.id, DB_ID_SIZE);
        retire_held(w, pick);
        memcpy(w->held[pick], res.appointment.id, DB_ID_SIZE);
    } else {
        w->resched_conflicts += res.outcome == DB_CONFLICT;
        w->busy += res.outcome == DB_BUSY;
        w->errors += res.outcome != DB_CONFLICT && res.outcome != DB_BUSY;
    }
    db_result_cleanup(&res);
}

static void random_hold(struct random_worker *w, const char *provider, int64_t start)
{
    static const int durations[] = {15, 30, 45, 60};
    bool with_service = next_random(&w->seed) % 4 == 0;
    int minutes = with_service ? 0 : durations[next_random(&w->seed) % 4];
    struct db_hold h;
    enum db_outcome o = hold(w->f, provider, start, minutes, with_service ? w->f->service : NULL,
                             HOLD_TTL_SECONDS, &h);

    if (o == DB_OK) {
        w->holds_made++;
        memcpy(w->holds[w->n_holds], h.id, DB_ID_SIZE);
        w->hold_shapes[w->n_holds++] =
            (struct hold_shape){provider, start, h.duration_minutes, with_service};
    } else {
        w->hold_conflicts += o == DB_CONFLICT;
        w->busy += o == DB_BUSY;
        w->errors += o != DB_CONFLICT && o != DB_BUSY;
    }
}

/* Books inside one of this thread's holds, naming it: its very range (with
 * its service, if it had one), a quarter-hour inside it, or the service's
 * 30 minutes at its start, whose buffers (10 before, 5 after) reach past a
 * hold made without them and may meet a conflict there. */
static void random_convert(struct random_worker *w)
{
    enum { EXACT, INSIDE, WIDER } kind = EXACT;
    struct db_org_ref ref = org_ref(w->f);
    int pick = (int)(next_random(&w->seed) % (unsigned)w->n_holds);
    unsigned variant = next_random(&w->seed) % 3;
    struct hold_shape s = w->hold_shapes[pick];
    struct db_book_request req = {
        .provider_id = s.provider,
        .contact_id = w->f->contact,
        .service_id = s.with_service ? w->f->service : NULL,
        .scheduled_at_ms = s.start,
        .duration_minutes = s.with_service ? 0 : s.minutes,
        .actor = "system",
        .hold_id = w->holds[pick],
    };
    struct db_result res;

    if (variant == 1 && s.minutes >= 30) {
        kind = INSIDE;
        req.service_id = NULL;
        req.scheduled_at_ms = s.start + 15 * CORE_MS_PER_MINUTE;
        req.duration_minutes = 15;
    } else if (variant == 2 && !s.with_service && s.minutes >= 30) {
        kind = WIDER;
        req.service_id = w->f->service;
        req.duration_minutes = 0;
    }
    db_book(pool, &ref, &req, &res);
    if (res.outcome == DB_OK && res.hold_converted) {
        w->converts++;
        w->converts_renamed += kind == EXACT && strcmp(res.appointment.id, w->holds[pick]) != 0;
        memcpy(w->converted[w->n_converted], res.appointment.id, DB_ID_SIZE);
        memcpy(w->converted_from[w->n_converted], w->holds[pick], DB_ID_SIZE);
        w->converted_retired[w->n_converted] = false;
        keep_booked(w, res.appointment.id, w->n_converted++);
        drop_hold(w, pick);
    } else if (res.outcome == DB_OK) {
        /* booked beside a hold it should have converted: kept as a booking
         * (so the checks below see it), counted as an error */
        tap_diag("random holds: booking named the valid hold %s yet did not convert it",
                 w->holds[pick]);
        w->errors++;
        keep_booked(w, res.appointment.id, -1);
    } else if (res.outcome == DB_CONFLICT && kind == WIDER) {
        w->convert_conflicts++; /* the hold stays */
    } else {
        if (res.outcome != DB_BUSY)
            tap_diag("random holds: converting hold %s (%s) answered %d", w->holds[pick],
                     kind == EXACT    ? "exact"
                     : kind == INSIDE ? "inside"
                                      : "wider",
                     (int)res.outcome);
        w->busy += res.outcome == DB_BUSY;
        w->errors += res.outcome != DB_BUSY;
    }
    db_result_cleanup(&res);
}

static void random_release(struct random_worker *w)
{
    struct db_org_ref ref = org_ref(w->f);
    int pick = (int)(next_random(&w->seed) % (unsigned)w->n_holds);
    struct db_result res;

    db_hold_release(pool, &ref, w->holds[pick], "system", 0, &res);
    if (res.outcome == DB_OK && !res.hold_expired) {
        w->releases++;
        memcpy(w->released[w->n_released++], w->holds[pick], DB_ID_SIZE);
        drop_hold(w, pick);
    } else {
        w->busy += res.outcome == DB_BUSY;
        w->errors += res.outcome != DB_BUSY;
    }
    db_result_cleanup(&res);
}

static void *random_thread(void *arg)
{
    struct random_worker *w = arg;
    /* A small window (one day, 08:00-18:00, two providers) for contention. */
    int64_t day = at("2031-05-05T08:00:00Z");

    for (int op = 0; op < RANDOM_OPS_PER_THREAD; op++) {
        unsigned roll = next_random(&w->seed) % 100;
        int64_t start = day + (int64_t)(next_random(&w->seed) % 120) * 5 * CORE_MS_PER_MINUTE;
        const char *provider = next_random(&w->seed) % 2 ? w->f->provider2 : NULL;

        switch (pick_op(w, roll)) {
        case OP_BOOK:
            random_book(w, provider, start);
            break;
        case OP_CANCEL:
            random_cancel(w);
            break;
        case OP_RESCHEDULE:
            random_reschedule(w, provider, start);
            break;
        case OP_HOLD:
            random_hold(w, provider, start);
            break;
        case OP_CONVERT:
            random_convert(w);
            break;
        case OP_RELEASE:
            random_release(w);
            break;
        }
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

/* Starts RANDOM_THREADS workers on f and waits for them; release with
 * random_free. */
static void random_run(const struct fixture *f, bool with_holds,
                       struct random_worker workers[RANDOM_THREADS])
{
    pthread_t threads[RANDOM_THREADS];
    size_t n = RANDOM_OPS_PER_THREAD;

    for (int i = 0; i < RANDOM_THREADS; i++) {
        struct random_worker *w = &workers[i];
        memset(w, 0, sizeof *w);
        w->f = f;
        w->with_holds = with_holds;
        w->seed = 2463534242u + (unsigned)i * 7919u;
        w->reported = calloc(n, DB_ID_SIZE);
        w->held = calloc(n, DB_ID_SIZE);
        w->held_conv = calloc(n, sizeof *w->held_conv);
        w->holds = calloc(n, DB_ID_SIZE);
        w->hold_shapes = calloc(n, sizeof *w->hold_shapes);
        w->converted = calloc(n, DB_ID_SIZE);
        w->converted_from = calloc(n, DB_ID_SIZE);
        w->converted_retired = calloc(n, sizeof *w->converted_retired);
        w->released = calloc(n, DB_ID_SIZE);
        pthread_create(&threads[i], NULL, random_thread, w);
    }
    for (int i = 0; i < RANDOM_THREADS; i++)
        pthread_join(threads[i], NULL);
}

static void random_free(struct random_worker workers[RANDOM_THREADS])
{
    for (int i = 0; i < RANDOM_THREADS; i++) {
        struct random_worker *w = &workers[i];
        free(w->reported);
        free(w->held);
        free(w->held_conv);
        free(w->holds);
        free(w->hold_shapes);
        free(w->converted);
        free(w->converted_from);
        free(w->converted_retired);
        free(w->released);
    }
}

static void test_random_operations(void)
{
    static struct random_worker workers[RANDOM_THREADS];
    struct fixture f;
    int total_ops = RANDOM_THREADS * RANDOM_OPS_PER_THREAD;
    int booked = 0, conflicts = 0, busy = 0, cancels = 0, reschedules = 0, rconf = 0, errors = 0;
    long long reported = 0, reported_found = 0, held = 0, held_confirmed = 0;

    if (!tap_ok(make_fixture(&f, "race random") == 0, "random: fixture created"))
        return;
    random_run(&f, false, workers);
    for (int i = 0; i < RANDOM_THREADS; i++) {
        struct random_worker *w = &workers[i];
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
               "random: every appointment reported booked exists (%lld of %lld)", reported_found,
               reported);
        tap_ok(held_confirmed == held && confirmed == held,
               "random: what is held is confirmed, and nothing else is (%lld, %lld, %lld)", held,
               held_confirmed, confirmed);
        tap_ok(errors == 0, "random: no operation failed with an error (%d)", errors);
        tap_ok(cancels > 0 && reschedules > 0 && conflicts > 0,
               "random: the mix exercised cancels, reschedules and conflicts");
    }
    random_free(workers);
}

static void test_random_with_holds(void)
{
    static struct random_worker workers[RANDOM_THREADS];
    struct fixture f;
    int total_ops = RANDOM_THREADS * RANDOM_OPS_PER_THREAD;
    int booked = 0, conflicts = 0, busy = 0, cancels = 0, reschedules = 0, rconf = 0, errors = 0;
    int holds_made = 0, hold_conflicts = 0, converts = 0, convert_conflicts = 0, releases = 0;
    int renamed = 0;
    long long reported = 0, reported_found = 0, kept = 0, kept_confirmed = 0;
    long long conv_live = 0, conv_live_confirmed = 0, conv_from_held = 0;
    long long holds_kept = 0, holds_kept_held = 0, released = 0, released_found = 0;

    if (!tap_ok(make_fixture(&f, "race random holds") == 0, "random holds: fixture created"))
        return;
    random_run(&f, true, workers);
    for (int i = 0; i < RANDOM_THREADS; i++) {
        struct random_worker *w = &workers[i];
        char(*live)[DB_ID_SIZE] = calloc((size_t)w->n_converted + 1, DB_ID_SIZE);
        int n_live = 0;

        booked += w->booked;
        conflicts += w->conflicts;
        busy += w->busy;
        cancels += w->cancels;
        reschedules += w->reschedules;
        rconf += w->resched_conflicts;
        errors += w->errors;
        holds_made += w->holds_made;
        hold_conflicts += w->hold_conflicts;
        converts += w->converts;
        convert_conflicts += w->convert_conflicts;
        releases += w->releases;
        renamed += w->converts_renamed;
        reported += w->n_reported;
        kept += w->n_held;
        holds_kept += w->n_holds;
        released += w->n_released;
        for (int c = 0; c < w->n_converted; c++)
            if (!w->converted_retired[c])
                memcpy(live[n_live++], w->converted[c], DB_ID_SIZE);
        conv_live += n_live;
        if (w->n_reported)
            reported_found += count_ids(f.org.id, w->reported, w->n_reported, NULL);
        if (w->n_held)
            kept_confirmed += count_ids(f.org.id, w->held, w->n_held, "confirmed");
        if (n_live)
            conv_live_confirmed += count_ids(f.org.id, live, n_live, "confirmed");
        if (w->n_converted)
            conv_from_held += count_ids(f.org.id, w->converted_from, w->n_converted, "held");
        if (w->n_holds)
            holds_kept_held += count_ids(f.org.id, w->holds, w->n_holds, "held");
        if (w->n_released)
            released_found += count_ids(f.org.id, w->released, w->n_released, NULL);
        free(live);
    }
    {
        const char *params[] = {f.org.id};
        long long overlaps = count_overlaps(f.org.id);
        long long confirmed = count_active(f.org.id, "confirmed");
        long long held = count_active(f.org.id, "held");
        long long held_rows = query_number(
            "SELECT count(*) FROM appointments WHERE org_id = $1 AND status = 'held'", 1, params);
        tap_diag("random holds: %d operations from %d threads: booked %d, conflicts %d, "
                 "holds %d (conflicts %d), conversions %d (conflicts %d), releases %d, "
                 "cancels %d, reschedules %d (conflicts %d), busy %d, errors %d",
                 total_ops, RANDOM_THREADS, booked, conflicts, holds_made, hold_conflicts, converts,
                 convert_conflicts, releases, cancels, reschedules, rconf, busy, errors);
        tap_diag("random holds: overlapping active pairs %lld; reported booked %lld, found %lld; "
                 "conversions %d, still kept %lld, confirmed %lld, renamed %d, holds left behind "
                 "%lld; appointments kept %lld, confirmed %lld, confirmed in the database %lld; "
                 "holds kept %lld, held %lld, held in the database %lld (unexpired %lld); "
                 "released %lld, found %lld",
                 overlaps, reported, reported_found, converts, conv_live, conv_live_confirmed,
                 renamed, conv_from_held, kept, kept_confirmed, confirmed, holds_kept,
                 holds_kept_held, held_rows, held, released, released_found);
        tap_ok(overlaps == 0,
               "random holds: no two active rows (confirmed, unexpired held) of a provider "
               "overlap");
        tap_ok(reported > 0 && reported_found == reported,
               "random holds: every appointment reported booked exists (%lld of %lld)",
               reported_found, reported);
        tap_ok(converts > 0 && conv_live_confirmed == conv_live && conv_from_held == 0 &&
                   renamed == 0,
               "random holds: every conversion reported is a confirmed row unless since "
               "cancelled or rescheduled (%lld of %lld), kept the hold's id when exact, and left "
               "no hold behind (%lld)",
               conv_live_confirmed, conv_live, conv_from_held);
        tap_ok(kept_confirmed == kept && confirmed == kept,
               "random holds: what is kept is confirmed, and nothing else is (%lld, %lld, %lld)",
               kept, kept_confirmed, confirmed);
        tap_ok(holds_kept_held == holds_kept && held == holds_kept && held_rows == holds_kept &&
                   released_found == 0,
               "random holds: every hold kept is held and no other is (%lld, %lld, %lld); "
               "every release is gone (%lld left)",
               holds_kept, holds_kept_held, held_rows, released_found);
        tap_ok(errors == 0, "random holds: no operation failed with an error (%d)", errors);
        tap_ok(holds_made > 0 && hold_conflicts > 0 && converts > 0 && convert_conflicts > 0 &&
                   releases > 0 && cancels > 0 && reschedules > 0 && conflicts > 0,
               "random holds: the mix exercised holds, conversions, releases, cancels, "
               "reschedules and conflicts");
    }
    random_free(workers);
}

/* ---- (d) an expired hold frees its slot at once ---------------------- */

/* Moves a hold's expiry into the past, as if its time were up, on a
 * connection of its own (a held row keeps an expires_at: the CHECK holds).
 * Nothing purges it here: no worker runs. 1 when it was done. */
static long long expire_hold(const char *hold_id)
{
    const char *params[] = {hold_id};
    char state[8];
    return exec_raw("UPDATE appointments SET expires_at = clock_timestamp() - interval '1 second'"
                    " WHERE id = $1 AND status = 'held'",
                    1, params, state);
}

static long long count_id(const char *org_id, const char *id)
{
    char ids[1][DB_ID_SIZE];
    snprintf(ids[0], DB_ID_SIZE, "%s", id);
    return count_ids(org_id, ids, 1, NULL);
}

static void test_expired_holds(void)
{
    struct fixture f;
    struct db_org_ref ref;
    struct db_hold h1, h2, h3, h4;
    struct db_result res;
    int64_t t = at("2031-09-01T10:00:00Z"), started;
    enum db_outcome o1, blocked, o2, o3, o4, booked;
    long long expired;
    double ms;
    bool converted;
    int removed;
    char id[DB_ID_SIZE];

    if (!tap_ok(make_fixture(&f, "race expiry") == 0, "expiry: fixture created"))
        return;
    ref = org_ref(&f);

    /* A booking over a hold whose time is up. */
    o1 = hold(&f, NULL, t, 60, NULL, MIN_TTL_SECONDS, &h1);
    blocked = book(&f, NULL, t + 15 * CORE_MS_PER_MINUTE, 30, NULL, NULL);
    tap_ok(o1 == DB_OK && blocked == DB_CONFLICT,
           "expiry: a %d s hold blocks a booking over it while it lasts (%d, %d)", MIN_TTL_SECONDS,
           (int)o1, (int)blocked);
    expired = expire_hold(h1.id);
    {
        struct db_book_request req = {
            .contact_id = f.contact,
            .scheduled_at_ms = t + 15 * CORE_MS_PER_MINUTE,
            .duration_minutes = 30,
            .actor = "system",
        };
        started = now_us();
        db_book(pool, &ref, &req, &res);
        ms = (double)(now_us() - started) / 1000.0;
        booked = res.outcome;
        removed = res.expired_holds;
        db_result_cleanup(&res);
    }
    tap_diag("expiry: booking over the expired hold answered %d in %.1f ms, removing %d "
             "expired hold(s); the hold's row left: %lld",
             (int)booked, ms, removed, count_id(f.org.id, h1.id));
    tap_ok(expired == 1 && booked == DB_OK && ms < 1000.0,
           "expiry: once the hold's time is up, a booking over it succeeds at once (%.1f ms)", ms);
    tap_ok(count_id(f.org.id, h1.id) == 0 && removed == 1,
           "expiry: the expired held row is gone (the booking removed %d)", removed);

    /* A hold over a hold whose time is up. */
    o2 = hold(&f, NULL, t + 180 * CORE_MS_PER_MINUTE, 60, NULL, MIN_TTL_SECONDS, &h2);
    expired = expire_hold(h2.id);
    o3 = hold(&f, NULL, t + 210 * CORE_MS_PER_MINUTE, 60, NULL, MIN_TTL_SECONDS, &h3);
    tap_ok(o2 == DB_OK && expired == 1 && o3 == DB_OK && count_id(f.org.id, h2.id) == 0,
           "expiry: a hold over an expired hold succeeds at once, and the expired row is gone "
           "(%d, %d)",
           (int)o2, (int)o3);

    /* A booking naming its own hold, whose time is up: books normally. */
    o4 = hold(&f, f.provider2, t, 30, NULL, MIN_TTL_SECONDS, &h4);
    expired = expire_hold(h4.id);
    {
        struct db_book_request req = {
            .provider_id = f.provider2,
            .contact_id = f.contact,
            .scheduled_at_ms = t,
            .duration_minutes = 30,
            .actor = "system",
            .hold_id = h4.id,
        };
        db_book(pool, &ref, &req, &res);
        booked = res.outcome;
        converted = res.hold_converted;
        snprintf(id, sizeof id, "%s", booked == DB_OK ? res.appointment.id : "");
        db_result_cleanup(&res);
    }
    tap_ok(o4 == DB_OK && expired == 1 && booked == DB_OK && !converted && strcmp(id, h4.id) != 0 &&
               count_id(f.org.id, h4.id) == 0,
           "expiry: a booking naming an expired hold books normally (no conversion), and the "
           "hold is gone (%d, converted %d)",
           (int)booked, converted);
    tap_ok(count_overlaps(f.org.id) == 0, "expiry: the database holds no overlap");
}

/* ---- (e) the exclusion constraint behind the locks ------------------- */

/* INSERTs an appointment (contact f's) or a hold (5 minutes left, no
 * contact) on the default provider directly, bypassing the booking
 * functions and their locks. */
static void raw_insert(const struct fixture *f, const char *status, int64_t start, int minutes,
                       char state[8])
{
    char at_text[CORE_ISO_LEN + 1], minutes_text[16];
    bool held = strcmp(status, "held") == 0;
    const char *params[] = {
        f->org.id, f->org.default_provider_id, held ? NULL : f->contact, at_text, minutes_text,
        status};

    if (core_iso_format(start, at_text) != 0)
        abort();
    snprintf(minutes_text, sizeof minutes_text, "%d", minutes);
    exec_raw("INSERT INTO appointments (org_id, provider_id, contact_id, scheduled_at,"
             " duration_minutes, ends_at, buffered_start, buffered_end, status, expires_at)"
             " SELECT $1::uuid, $2::uuid, $3::uuid, s, $5::int, e, s, e, $6::text,"
             " CASE WHEN $6::text = 'held' THEN clock_timestamp() + interval '5 minutes' END"
             " FROM (SELECT $4::timestamptz AS s,"
             " $4::timestamptz + $5::int * interval '1 minute' AS e) r",
             6, params, state);
}

static void test_constraint_backstop(void)
{
    struct fixture f;
    int64_t t = at("2031-10-01T10:00:00Z"), later = t + 120 * CORE_MS_PER_MINUTE;
    char over_hold[8], hold_over_hold[8], control[8], second[8], booking_over_raw[8];
    enum db_outcome o;

    if (!tap_ok(make_fixture(&f, "race backstop") == 0, "backstop: fixture created"))
        return;
    o = hold(&f, NULL, t, 60, NULL, HOLD_TTL_SECONDS, NULL);
    raw_insert(&f, "confirmed", t + 30 * CORE_MS_PER_MINUTE, 30, over_hold);
    raw_insert(&f, "held", t + 15 * CORE_MS_PER_MINUTE, 30, hold_over_hold);
    /* two raw holds: the first overlaps nothing and is stored */
    raw_insert(&f, "held", later, 30, control);
    raw_insert(&f, "held", later + 15 * CORE_MS_PER_MINUTE, 30, second);
    raw_insert(&f, "confirmed", later + 15 * CORE_MS_PER_MINUTE, 30, booking_over_raw);
    tap_diag("backstop: SQLSTATE of raw INSERTs: confirmed over a hold %s, held over a hold %s; "
             "a lone raw hold %s, a raw hold over it %s, a confirmed row over it %s",
             over_hold[0] ? over_hold : "(stored)", hold_over_hold[0] ? hold_over_hold : "(stored)",
             control[0] ? control : "(stored)", second[0] ? second : "(stored)",
             booking_over_raw[0] ? booking_over_raw : "(stored)");
    tap_ok(o == DB_OK && strcmp(over_hold, "23P01") == 0,
           "backstop: a raw INSERT of a confirmed row over an unexpired hold fails with 23P01 (%s)",
           over_hold);
    tap_ok(strcmp(hold_over_hold, "23P01") == 0,
           "backstop: a raw INSERT of a held row over a hold fails with 23P01 (%s)",
           hold_over_hold);
    tap_ok(control[0] == '\0' && strcmp(second, "23P01") == 0 &&
               strcmp(booking_over_raw, "23P01") == 0,
           "backstop: of two overlapping raw held rows the second fails with 23P01 (%s), and so "
           "does a confirmed one over the first (%s)",
           second, booking_over_raw);
    tap_ok(count_overlaps(f.org.id) == 0 && count_active(f.org.id, "held") == 2 &&
               count_active(f.org.id, "confirmed") == 0,
           "backstop: the database holds the two holds and no overlap");
}

/* (f) The cap on public holds under concurrency: 32 public holds at once, on
 * 32 distinct free slots inside working hours, in an organization capped at
 * 5 unexpired holds: exactly 5 are held, the rest refused as DB_LIMITED,
 * round after round (a fresh organization each). */
#define CAP_THREADS 32
#define CAP_MAX 5
#define CAP_ROUNDS 10

struct cap_worker {
    const struct fixture *f;
    pthread_barrier_t *barrier;
    int64_t start;
    enum db_outcome outcome;
};

static void *cap_thread(void *arg)
{
    struct cap_worker *w = arg;
    struct db_org_ref ref = org_ref(w->f);
    struct db_hold_request req = {
        .scheduled_at_ms = w->start,
        .duration_minutes = 10,
        .ttl_seconds = HOLD_TTL_SECONDS,
        .actor = "system",
        .public_rules = true,
        .max_public_holds = CAP_MAX,
    };
    struct db_result res;

    pthread_barrier_wait(w->barrier);
    db_hold_create(pool, &ref, &req, &res);
    w->outcome = res.outcome;
    db_result_cleanup(&res);
    return NULL;
}

static void test_public_hold_cap(void)
{
    static struct cap_worker workers[CAP_THREADS];
    pthread_t threads[CAP_THREADS];
    pthread_barrier_t barrier;
    int exact_rounds = 0, errors = 0, over = 0;
    /* Next Monday, 09:00 UTC (inside Europe/London's default hours, summer
     * or winter): 32 slots of 10 minutes end by 15:00 local time. */
    int64_t monday = (core_now_ms() / CORE_MS_PER_DAY + 7) * CORE_MS_PER_DAY;

    while (((monday / CORE_MS_PER_DAY) + 3) % 7 != 0) /* 1970-01-01 was a Thursday */
        monday += CORE_MS_PER_DAY;
    monday += 9 * 60 * CORE_MS_PER_MINUTE;
    for (int r = 0; r < CAP_ROUNDS; r++) {
        struct fixture f;
        int held = 0;

        if (make_fixture(&f, "race cap") != 0) {
            errors++;
            continue;
        }
        pthread_barrier_init(&barrier, NULL, CAP_THREADS);
        for (int i = 0; i < CAP_THREADS; i++) {
            workers[i] = (struct cap_worker){&f, &barrier,
                                             monday + i * 10 * CORE_MS_PER_MINUTE, DB_ERROR};
            pthread_create(&threads[i], NULL, cap_thread, &workers[i]);
        }
        for (int i = 0; i < CAP_THREADS; i++) {
            pthread_join(threads[i], NULL);
            if (workers[i].outcome == DB_OK)
                held++;
            else if (workers[i].outcome != DB_LIMITED)
                errors++;
        }
        pthread_barrier_destroy(&barrier);
        exact_rounds += held == CAP_MAX;
        over += held > CAP_MAX;
    }
    tap_diag("cap: %d rounds of %d public holds at once with a cap of %d: rounds with exactly "
             "%d held %d, over the cap %d, other answers %d",
             CAP_ROUNDS, CAP_THREADS, CAP_MAX, CAP_MAX, exact_rounds, over, errors);
    tap_ok(over == 0 && exact_rounds == CAP_ROUNDS,
           "cap: exactly %d public holds in every round (%d of %d), never more", CAP_MAX,
           exact_rounds, CAP_ROUNDS);
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
    pool = db_pool_new(database_url, STORM_THREADS + 4, 30000, 0);
    tap_plan(1           /* pool */
             + 5 + 6 + 6 /* (a) book/book, hold/book, hold/hold pairs */
             + 4 + 5     /* (b) booking storm, hold storm */
             + 6 + 8     /* (c) random, random with holds */
             + 7         /* (d) expiry */
             + 5         /* (e) backstop */
             + 1);       /* (f) public cap */
    if (!tap_ok(pool != NULL, "pool created")) {
        return 1;
    }
    test_overlapping_pairs(PAIRS_BOOK_BOOK);
    test_same_slot_storm(false);
    test_random_operations();
    test_overlapping_pairs(PAIRS_HOLD_BOOK);
    test_overlapping_pairs(PAIRS_HOLD_HOLD);
    test_same_slot_storm(true);
    test_random_with_holds();
    test_expired_holds();
    test_constraint_backstop();
    test_public_hold_cap();
    db_pool_free(pool);
    return tap_exit_code();
}
