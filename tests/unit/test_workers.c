/* The threads kept for short jobs (core/workers.h): every job runs, jobs
 * run side by side up to the cap, and past it wait for a thread. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "core/workers.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to 5 s for *n to reach `want`; true if it did. */
static bool reaches(atomic_int *n, int want)
{
    for (int i = 0; i < 500 && atomic_load(n) < want; i++)
        sleep_ms(10);
    return atomic_load(n) >= want;
}

static atomic_int done_count;

static void count(void *arg)
{
    (void)arg;
    atomic_fetch_add(&done_count, 1);
}

Test(workers, every_job_runs_once)
{
    struct core_workers *w = core_workers_new(4, 30);

    cr_assert_not_null(w);
    atomic_store(&done_count, 0);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(core_workers_run(w, count, NULL), 0);
    cr_assert(reaches(&done_count, 1000));
    cr_assert_leq(core_workers_threads(w), 4, "never more threads than the cap");
    sleep_ms(20);
    cr_assert_eq(atomic_load(&done_count), 1000, "no job ran twice");
}

/* A gate the blocking jobs wait at until the test opens it. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static atomic_int started;

static void wait_at_gate(void *arg)
{
    (void)arg;
    atomic_fetch_add(&started, 1);
    pthread_mutex_lock(&gate_lock);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    atomic_fetch_add(&done_count, 1);
}

static void open_gate(bool open)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = open;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

Test(workers, a_busy_thread_does_not_hold_up_the_next_job)
{
    struct core_workers *w = core_workers_new(3, 30);

    open_gate(false);
    atomic_store(&started, 0);
    atomic_store(&done_count, 0);
    /* Each job waits at the gate: each must have a thread of its own. */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(core_workers_run(w, wait_at_gate, NULL), 0);
    cr_assert(reaches(&started, 3), "three blocked jobs run side by side");
    open_gate(true);
    cr_assert(reaches(&done_count, 3));
}

Test(workers, past_the_cap_a_job_waits_for_a_thread)
{
    struct core_workers *w = core_workers_new(2, 30);

    open_gate(false);
    atomic_store(&started, 0);
    atomic_store(&done_count, 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(core_workers_run(w, wait_at_gate, NULL), 0);
    cr_assert(reaches(&started, 2));
    sleep_ms(100);
    cr_assert_eq(atomic_load(&started), 2, "the third job waits: two threads at most");
    open_gate(true);
    cr_assert(reaches(&done_count, 3), "and runs once one is free");
    cr_assert_eq(core_workers_threads(w), 2);
}

Test(workers, idle_threads_leave_and_new_ones_are_made)
{
    struct core_workers *w = core_workers_new(2, 1);

    atomic_store(&done_count, 0);
    cr_assert_eq(core_workers_run(w, count, NULL), 0);
    cr_assert(reaches(&done_count, 1));
    cr_assert_eq(core_workers_threads(w), 1);
    for (int i = 0; i < 300 && core_workers_threads(w) > 0; i++)
        sleep_ms(10);
    cr_assert_eq(core_workers_threads(w), 0, "idle for a second: the thread left");
    cr_assert_eq(core_workers_run(w, count, NULL), 0);
    cr_assert(reaches(&done_count, 2), "a job after the threads left still runs");
}
