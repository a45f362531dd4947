#include "db/outbox_signal.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

static atomic_int signal_fd = -1;

int db_outbox_signal_init(void)
{
    int fd, expected = -1;

    if (atomic_load(&signal_fd) >= 0)
        return 0;
    if ((fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        return -1;
    if (!atomic_compare_exchange_strong(&signal_fd, &expected, fd))
        close(fd);
    return 0;
}

void db_outbox_signal(void)
{
    int fd = atomic_load(&signal_fd);
    uint64_t one = 1;
    if (fd >= 0 && write(fd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is saturated, the signal is raised anyway. */
    }
}

int db_outbox_signal_fd(void)
{
    return atomic_load(&signal_fd);
}

void db_outbox_signal_clear(void)
{
    int fd = atomic_load(&signal_fd);
    uint64_t count;
    if (fd >= 0 && read(fd, &count, sizeof count) < 0) {
        /* EAGAIN: already clear. */
    }
}
