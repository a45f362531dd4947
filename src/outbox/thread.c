#include "outbox/thread.h"

#include <unistd.h>

int outbox_thread_start(struct outbox_thread *t, const char *conninfo, void *(*main)(void *),
                        void *arg)
{
    if (pipe(t->wake) != 0)
        return -1;
    atomic_init(&t->stop, false);
    if (!(t->db = db_session_new(conninfo, false)) ||
        pthread_create(&t->thread, NULL, main, arg) != 0) {
        db_session_free(t->db);
        t->db = NULL;
        close(t->wake[0]);
        close(t->wake[1]);
        return -1;
    }
    return 0;
}

void outbox_thread_stop(struct outbox_thread *t)
{
    atomic_store(&t->stop, true);
    if (write(t->wake[1], "x", 1) < 0) {
        /* the thread also sees `stop` at its next wake-up */
    }
    pthread_join(t->thread, NULL);
    close(t->wake[0]);
    close(t->wake[1]);
    db_session_free(t->db);
    t->db = NULL;
}
