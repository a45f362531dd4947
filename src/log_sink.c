#include "log_sink.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* 64 KiB hold about 400 access lines: at thousands of requests a second a
 * 10 ms batch fits, and a fuller buffer is written by the caller. */
#define SINK_CAPACITY (64 * 1024)

/*
 * Lock order: write_lock, then fill_lock. fill_lock guards the buffer being
 * filled and is held only to copy; write_lock makes the swap of buffers and
 * the write of the full one a single step, so batches leave in order.
 */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t fill_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t has_lines = PTHREAD_COND_INITIALIZER;
static char buffers[2][SINK_CAPACITY];
static char *filling = buffers[0];
static size_t filled;
static bool running, stopping;
static int interval_ms;
static pthread_t flusher;

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* A non-blocking stderr: wait, rather than cut the batch mid-line. */
            struct pollfd out = {.fd = STDERR_FILENO, .events = POLLOUT};
            if (poll(&out, 1, 1000) > 0)
                continue;
        }
        if (w <= 0)
            return; /* nowhere to report it: the log itself is what failed */
        p += w;
        n -= (size_t)w;
    }
}

/* Swaps buffers and writes the full one. Caller holds write_lock. */
static void flush_locked(void)
{
    char *full;
    size_t n;

    pthread_mutex_lock(&fill_lock);
    full = filling;
    n = filled;
    filling = full == buffers[0] ? buffers[1] : buffers[0];
    filled = 0;
    pthread_mutex_unlock(&fill_lock);
    write_all(full, n);
}

/* Copies a line into the batch when a flusher runs and it fits. */
static bool append(const char *text, size_t len)
{
    bool wake;

    pthread_mutex_lock(&fill_lock);
    if (!running || filled + len > SINK_CAPACITY) {
        pthread_mutex_unlock(&fill_lock);
        return false;
    }
    wake = filled == 0;
    memcpy(filling + filled, text, len);
    filled += len;
    pthread_mutex_unlock(&fill_lock);
    if (wake)
        pthread_cond_signal(&has_lines);
    return true;
}

void log_sink_put(const char *text, size_t len, bool urgent)
{
    if (!urgent && append(text, len))
        return;
    /* Urgent, no room, or no flusher: the earlier lines first. A batched
     * line then goes into the emptied buffer; any other is written now. */
    pthread_mutex_lock(&write_lock);
    flush_locked();
    if (urgent || !append(text, len))
        write_all(text, len);
    pthread_mutex_unlock(&write_lock);
}

/* now + ms on the monotonic clock, so a clock change cannot stall the log. */
static struct timespec deadline_after(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static void *flush_loop(void *arg)
{
    (void)arg;

    for (;;) {
        pthread_mutex_lock(&fill_lock);
        while (filled == 0 && !stopping)
            pthread_cond_wait(&has_lines, &fill_lock);
        /* Let a batch gather; only a stop (which signals) cuts the pause. */
        struct timespec until = deadline_after(interval_ms);
        while (!stopping &&
               pthread_cond_clockwait(&has_lines, &fill_lock, CLOCK_MONOTONIC, &until) == 0)
            ;
        bool stop = stopping;
        pthread_mutex_unlock(&fill_lock);
        pthread_mutex_lock(&write_lock);
        flush_locked();
        pthread_mutex_unlock(&write_lock);
        if (stop)
            return NULL;
    }
}

int log_sink_start(int interval)
{
    int rc;

    if (interval < 0)
        return -1;
    pthread_mutex_lock(&fill_lock);
    if (running) {
        pthread_mutex_unlock(&fill_lock);
        return 0;
    }
    interval_ms = interval;
    stopping = false;
    rc = pthread_create(&flusher, NULL, flush_loop, NULL);
    running = rc == 0;
    pthread_mutex_unlock(&fill_lock);
    return rc == 0 ? 0 : -1;
}

void log_sink_stop(void)
{
    pthread_mutex_lock(&fill_lock);
    if (!running) {
        pthread_mutex_unlock(&fill_lock);
        return;
    }
    running = false; /* lines from now on are written at once */
    stopping = true;
    pthread_cond_signal(&has_lines);
    pthread_mutex_unlock(&fill_lock);
    pthread_join(flusher, NULL);
}
