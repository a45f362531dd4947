/*
 * A helper thread of the outbox with a database session of its own and a
 * pipe that wakes it to stop: the worker's housekeeper and the notifier of
 * front-ends without a worker. Its main function polls wake[0] beside what
 * it waits for, and returns once `stop` is set.
 */
#ifndef BOOKD_OUTBOX_THREAD_H
#define BOOKD_OUTBOX_THREAD_H

#include <pthread.h>
#include <stdatomic.h>

#include "db/deliveries.h"

struct outbox_thread {
    pthread_t thread;
    atomic_bool stop;
    int wake[2]; /* a pipe: outbox_thread_stop writes to it */
    struct db_session *db;
};

/* Opens the pipe and the (not yet connected) session, then starts
 * main(arg). 0, or -1 with nothing left behind. */
int outbox_thread_start(struct outbox_thread *t, const char *conninfo, void *(*main)(void *),
                        void *arg);

/* Sets `stop`, wakes the thread, joins it, and closes what start opened. */
void outbox_thread_stop(struct outbox_thread *t);

#endif
