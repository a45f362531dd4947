#include "sd_notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The longest state bookd sends; the service manager reads much more. */
#define SD_NOTIFY_STATE_MAX 512

/*
 * $NOTIFY_SOCKET as a socket address. "/path" is a socket in the file
 * system; "@name" an abstract one, whose first byte is NUL in the address
 * and whose length counts the name's bytes exactly (an abstract name is
 * not NUL-terminated: a NUL sent after it would be part of another name).
 * Returns the address's length, or 0 when `name` is neither (systemd also
 * knows vsock addresses, which bookd has no use for).
 */
static socklen_t notify_address(const char *name, struct sockaddr_un *sun)
{
    size_t len = strlen(name);

    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    if ((name[0] != '/' && name[0] != '@') || len < 2 || len >= sizeof sun->sun_path)
        return 0;
    memcpy(sun->sun_path, name, len);
    if (name[0] == '@')
        sun->sun_path[0] = '\0';
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
}

/*
 * One datagram on a socket of its own, closed at once: bookd notifies a
 * handful of times in its life, so nothing is kept open between them (and
 * nothing is left for a child to inherit).
 */
int sd_notify_send(const char *state)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun;
    socklen_t sun_len;
    size_t len = strlen(state);
    ssize_t sent;
    int fd, saved;

    if (!name || !*name)
        return 0;
    if ((sun_len = notify_address(name, &sun)) == 0) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    sent = sendto(fd, state, len, MSG_NOSIGNAL, (const struct sockaddr *)&sun, sun_len);
    saved = sent < 0 ? errno : EMSGSIZE;
    close(fd);
    if (sent == (ssize_t)len)
        return 0;
    errno = saved;
    return -1;
}

int sd_notify_sendf(const char *fmt, ...)
{
    char state[SD_NOTIFY_STATE_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(state, sizeof state, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof state) {
        errno = EMSGSIZE;
        return -1;
    }
    return sd_notify_send(state);
}
