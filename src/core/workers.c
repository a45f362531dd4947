#include "core/workers.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct worker_job {
    struct worker_job *next;
    void (*fn)(void *arg);
    void *arg;
};

struct core_workers {
    pthread_mutex_t lock;
    pthread_cond_t work;
    struct worker_job *head, *tail;
    int queued;  /* jobs in the queue */
    int waiting; /* threads waiting for one */
    int threads;
    int max_threads, idle_s;
};

struct core_workers *core_workers_new(int max_threads, int idle_s)
{
    struct core_workers *w = calloc(1, sizeof *w);
    pthread_condattr_t attr;

    if (!w)
        return NULL;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->work, &attr);
    pthread_condattr_destroy(&attr);
    w->max_threads = max_threads > 0 ? max_threads : 1;
    w->idle_s = idle_s > 0 ? idle_s : 1;
    return w;
}

/* The next job, waiting for one up to idle_s; NULL when the thread has
 * been idle that long and leaves (counted out under the lock, so a job
 * queued meanwhile is never left to a thread that is gone). */
static struct worker_job *next_job(struct core_workers *w)
{
    struct timespec until;
    struct worker_job *j;
    int rc = 0;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += w->idle_s;
    pthread_mutex_lock(&w->lock);
    w->waiting++;
    while (!w->head && rc == 0)
        rc = pthread_cond_timedwait(&w->work, &w->lock, &until); /* any error: as idle */
    w->waiting--;
    if ((j = w->head)) {
        if (!(w->head = j->next))
            w->tail = NULL;
        w->queued--;
    } else {
        w->threads--;
    }
    pthread_mutex_unlock(&w->lock);
    return j;
}

static void *worker_main(void *arg)
{
    struct core_workers *w = arg;
    struct worker_job *j;

    while ((j = next_job(w))) {
        j->fn(j->arg);
        free(j);
    }
    return NULL;
}

/*
 * Queues the job, then wakes a waiting thread, or makes one when the jobs
 * queued would outnumber the threads waiting (each waiting thread takes
 * one job, so fewer would leave this one queued behind a running one). At
 * the cap it waits in the queue for the first thread to finish. The count
 * and the queue change in one hold of the lock, or two jobs at once could
 * both count on the same waiting thread; a thread is made under it too,
 * which is rare once the threads are there.
 */
int core_workers_run(struct core_workers *w, void (*fn)(void *arg), void *arg)
{
    struct worker_job *j = malloc(sizeof *j);
    pthread_attr_t attr;
    pthread_t thread;
    int rc = 0;

    if (!j)
        return -1;
    *j = (struct worker_job){NULL, fn, arg};
    pthread_mutex_lock(&w->lock);
    if (w->queued >= w->waiting && w->threads < w->max_threads) {
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&thread, &attr, worker_main, w) == 0)
            w->threads++;
        else if (w->threads == 0)
            rc = -1; /* no thread would ever take it */
        pthread_attr_destroy(&attr);
    }
    if (rc == 0) {
        if (w->tail)
            w->tail->next = j;
        else
            w->head = j;
        w->tail = j;
        w->queued++;
    }
    pthread_mutex_unlock(&w->lock);
    /* Signalled once the lock is free, so the thread woken does not go
     * straight back to sleep waiting for it. A thread that was not yet
     * waiting finds the job queued. */
    if (rc == 0)
        pthread_cond_signal(&w->work);
    else
        free(j);
    return rc;
}

int core_workers_threads(struct core_workers *w)
{
    int n;

    pthread_mutex_lock(&w->lock);
    n = w->threads;
    pthread_mutex_unlock(&w->lock);
    return n;
}
