/*
 * Readiness for a service manager, systemd's notify protocol without
 * libsystemd: a datagram "KEY=value\n..." sent to the AF_UNIX socket that
 * $NOTIFY_SOCKET names (a path, or "@name" for an abstract socket). With
 * no $NOTIFY_SOCKET (started by hand, by tests, by anything but a
 * Type=notify unit) every call does nothing.
 *
 * bookd sends READY=1 once it serves (listener up, pool made), STOPPING=1
 * when a stop signal begins the drain, and STATUS=... lines for
 * `systemctl status`. No key, secret or personal data goes into a state.
 */
#ifndef BOOKD_SD_NOTIFY_H
#define BOOKD_SD_NOTIFY_H

/* Sends `state` (one or more newline-separated KEY=value assignments).
 * Returns 0 when it was sent or $NOTIFY_SOCKET is unset or empty, else -1
 * with errno set (EAFNOSUPPORT: a socket address bookd does not speak). */
int sd_notify_send(const char *state);

/* sd_notify_send() of a formatted state. */
int sd_notify_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
