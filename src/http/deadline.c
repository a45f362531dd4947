#include "http/deadline.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"

/* How often the sweeper looks: a cut comes at most this late. */
#define SWEEP_MS 250

struct http_deadline_conn {
    struct http_deadline_conn *prev, *next;
    int fd;
    bool receiving;  /* a request is arriving: its clock runs */
    bool cut;        /* shut down already */
    long long since; /* monotonic ms its request began to arrive */
};

struct http_deadlines {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t sweeper;
    bool stopping;
    long long deadline_ms;
    struct http_deadline_conn head; /* a ring: head.next is the oldest */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Every SWEEP_MS, shuts down the sockets of connections still receiving a
 * request past the deadline. shutdown() leaves the descriptor open, and a
 * connection is taken off the ring before libmicrohttpd closes its socket
 * (http_deadline_close, under the same lock), so a descriptor number that
 * was closed and reused is never touched.
 */
static void *sweep(void *arg)
{
    struct http_deadlines *d = arg;
    struct timespec until;

    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        long long now = now_ms();
        unsigned long cut = 0;
        for (struct http_deadline_conn *c = d->head.next; c != &d->head; c = c->next)
            if (c->receiving && !c->cut && now - c->since > d->deadline_ms) {
                shutdown(c->fd, SHUT_RDWR);
                c->cut = true;
                cut++;
            }
        if (cut)
            log_warn("http.request_deadline",
                     "%lu connection(s) still sending a request after %lld ms were closed", cut,
                     d->deadline_ms);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += SWEEP_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&d->wake, &d->lock, &until);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

struct http_deadlines *http_deadlines_start(int deadline_s)
{
    struct http_deadlines *d = calloc(1, sizeof *d);

    if (!d)
        return NULL;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->wake, NULL);
    d->deadline_ms = (long long)deadline_s * 1000;
    d->head.next = d->head.prev = &d->head;
    if (pthread_create(&d->sweeper, NULL, sweep, d) != 0) {
        pthread_cond_destroy(&d->wake);
        pthread_mutex_destroy(&d->lock);
        free(d);
        return NULL;
    }
    return d;
}

void http_deadlines_stop(struct http_deadlines *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = true;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->sweeper, NULL);
    while (d->head.next != &d->head) {
        struct http_deadline_conn *c = d->head.next;
        d->head.next = c->next;
        free(c);
    }
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

struct http_deadline_conn *http_deadline_open(struct http_deadlines *d, int fd)
{
    struct http_deadline_conn *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    c->fd = fd;
    c->receiving = true;
    c->since = now_ms();
    pthread_mutex_lock(&d->lock);
    c->prev = d->head.prev;
    c->next = &d->head;
    d->head.prev->next = c;
    d->head.prev = c;
    pthread_mutex_unlock(&d->lock);
    return c;
}

void http_deadline_received(struct http_deadlines *d, struct http_deadline_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&d->lock);
    c->receiving = false;
    pthread_mutex_unlock(&d->lock);
}

void http_deadline_next(struct http_deadlines *d, struct http_deadline_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&d->lock);
    c->receiving = true;
    c->since = now_ms();
    pthread_mutex_unlock(&d->lock);
}

void http_deadline_close(struct http_deadlines *d, struct http_deadline_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&d->lock);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    pthread_mutex_unlock(&d->lock);
    free(c);
}
