/*
 * make bench: a webhook receiver on 127.0.0.1 that answers 200 at once and
 * keeps, for each delivery, the time from its event to its arrival (now -
 * the body's "timestamp"). It runs on the machine it measures, so it is
 * written to cost little: one thread, epoll, keep-alive, no HTTP library
 * (a Node receiver cost about 85 us of CPU a delivery, more than bookd's
 * worker itself; bench/HISTORY.md, step 29). It trusts its clients: bookd's
 * worker and bench/run.sh. Prints its port on stdout.
 *   GET /stats  -> {"count":N,"p50Ms":X,"p99Ms":Y} since the last reset
 *   POST /reset -> forgets them
 * Stops by itself after SECONDS (argv[1], default 900).
 *
 *   cc -O2 -o build/bench/receiver bench/receiver.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define BUF 65536
#define MAX_SAMPLES 2000000

struct conn {
    char buf[BUF];
    size_t len;
};

static struct conn *conns[MAX_CONNS];
static double *samples;
static size_t nsamples;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" as ms since the epoch (UTC), or -1. */
static double iso_ms(const char *s)
{
    struct tm tm = {0};
    int ms = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm) * 1000.0 + ms;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void reply(int fd, const char *body)
{
    char out[256];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     "%zu\r\n\r\n%s",
                     strlen(body), body);
    if (write(fd, out, (size_t)n) < 0) {
        /* the client went away */
    }
}

/* Answers every complete request in c's buffer; false to close. */
static int serve(int fd, struct conn *c)
{
    for (;;) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), *cl;
        size_t head, body = 0, total;
        if (!end)
            return c->len < BUF;
        head = (size_t)(end - c->buf) + 4;
        c->buf[head - 1] = '\0';
        if ((cl = strcasestr(c->buf, "\r\nContent-Length:")) != NULL)
            body = strtoul(cl + 17, NULL, 10);
        total = head + body;
        if (total > BUF)
            return 0;
        if (c->len < total)
            return 1;
        if (strncmp(c->buf, "GET /stats", 10) == 0) {
            char out[128];
            qsort(samples, nsamples, sizeof *samples, cmp);
            snprintf(out, sizeof out, "{\"count\":%zu,\"p50Ms\":%.1f,\"p99Ms\":%.1f}", nsamples,
                     nsamples ? samples[(nsamples - 1) / 2] : 0.0,
                     nsamples ? samples[(size_t)((double)(nsamples - 1) * 0.99)] : 0.0);
            reply(fd, out);
        } else if (strncmp(c->buf, "POST /reset", 11) == 0) {
            nsamples = 0;
            reply(fd, "{}");
        } else {
            char saved = c->buf[total - 1], *ts;
            c->buf[total - 1] = '\0';
            ts = strstr(c->buf + head, "\"timestamp\":\"");
            if (ts && nsamples < MAX_SAMPLES) {
                double at = iso_ms(ts + 13);
                if (at >= 0)
                    samples[nsamples++] = now_ms() - at;
            }
            c->buf[total - 1] = saved;
            reply(fd, "");
        }
        memmove(c->buf, c->buf + total, c->len - total);
        c->len -= total;
    }
}

int main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 900, lfd, ep, one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    struct epoll_event ev = {.events = EPOLLIN}, evs[64];
    double stop_at = now_ms() + seconds * 1000.0;

    samples = malloc(MAX_SAMPLES * sizeof *samples);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!samples || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 512) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
        return 1;
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    ep = epoll_create1(0);
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    while (now_ms() < stop_at) {
        int n = epoll_wait(ep, evs, 64, 1000);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c = accept(lfd, NULL, NULL);
                if (c < 0)
                    continue;
                if (c >= MAX_CONNS || !(conns[c] = calloc(1, sizeof **conns))) {
                    close(c);
                    continue;
                }
                ev.data.fd = c;
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                continue;
            }
            ssize_t r = read(fd, conns[fd]->buf + conns[fd]->len, BUF - conns[fd]->len);
            if (r <= 0 || (conns[fd]->len += (size_t)r, !serve(fd, conns[fd]))) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                close(fd);
                free(conns[fd]);
                conns[fd] = NULL;
            }
        }
    }
    return 0;
}
