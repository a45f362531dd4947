/*
 * The floor: the least a separate process costs to book over HTTP, as a
 * yardstick for bookd's own CPU a booking (bench/HISTORY.md, step 27). It
 * answers only bench/book.lua's requests, trusts them, and calls the same
 * booking function with the same kind of arguments; nothing else of bookd
 * (no validation, logging, metrics, JSON library or libmicrohttpd). Not part
 * of bookd or of `make bench`: built and run by hand. It also answers
 * bench/slots.lua's availability request with the statement bookd runs.
 *
 *   cc -O2 -o floor bench/floor_server.c -I/usr/include/postgresql -lpq -lpthread
 *   DATABASE_URL=... ./floor MODE PORT THREADS CONNECTIONS ORGS_TXT ORGS_CSV
 *
 * MODE "threads": a thread per client connection with blocking libpq and a
 * shared pool of CONNECTIONS (THREADS unused): bookd's model. MODE "event":
 * THREADS event loops (epoll), each with CONNECTIONS non-blocking database
 * connections of its own, sharing the port. ORGS_TXT and ORGS_CSV are the
 * benchmark's organization lists ("adminKey contactId"; "n,org,provider,contact").
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* bookd's free-slots statement (src/db/statements.c), for bench/slots.lua. */
#define SLOTS_SQL                                                                                \
    "SELECT '[' || coalesce(string_agg(format('{\"scheduledAt\":\"%s\",\"durationMinutes\":%s}', " \
    "bk_iso(slot_start), $4::int), ',' ORDER BY slot_start), '') || ']' FROM free_slots($1::uuid, "   \
    "$2::uuid, $3::date, $4::int, $5::int, $6::int, $7::int, now())"
#define SQL "SELECT book_appointment_with_lock($1::uuid,$2::uuid,$3::uuid,NULL,$4::timestamptz,30,NULL,NULL,$5::bigint[],$4::timestamptz,$4::timestamptz + interval '30 minutes',2000,'system',NULL,NULL,false)::text"

struct org { char key[80], org[40], prov[40]; };
static struct org orgs[200];
static int norgs;
static const char *conninfo;
static int port, pg_per_thread = 8;

static void load_orgs(const char *txt, const char *csv)
{
    FILE *t = fopen(txt, "r"), *c = fopen(csv, "r");
    char line[512];
    if (!t || !c) { perror("organization lists"); exit(1); }
    while (norgs < 200 && fgets(line, sizeof line, t)) {
        sscanf(line, "%79s", orgs[norgs].key);
        fgets(line, sizeof line, c);
        char *p = strchr(line, ',') + 1;
        memcpy(orgs[norgs].org, p, 36);
        memcpy(orgs[norgs].prov, p + 37, 36);
        norgs++;
    }
}

static struct org *find_org(const char *key, size_t n)
{
    for (int i = 0; i < norgs; i++)
        if (strlen(orgs[i].key) == n && memcmp(orgs[i].key, key, n) == 0)
            return &orgs[i];
    return NULL;
}

/* Parses a whole request in buf; returns its length or 0 if incomplete.
 * Sets *nparams: 5 for a booking, 7 for bench/slots.lua's availability. */
static size_t parse(const char *buf, size_t len, const char *params[7], char store[7][64],
                    int *nparams)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    const char *cl = memmem(buf, end - buf, "Content-Length: ", 16);
    size_t body = cl ? strtoul(cl + 16, NULL, 10) : 0;
    size_t total = end + 4 - buf + body;
    if (len < total)
        return 0;
    const char *a = memmem(buf, end - buf, "Bearer ", 7);
    const char *ae = memchr(a, '\r', end + 1 - a);
    struct org *o = find_org(a + 7, ae - a - 7);
    snprintf(store[0], 64, "%s", o->org);
    snprintf(store[1], 64, "%s", o->prov);
    if (memcmp(buf, "GET ", 4) == 0) {
        const char *d = memmem(buf, end - buf, "date=", 5) + 5;
        snprintf(store[2], 64, "%.10s", d);
        strcpy(store[3], "30"); strcpy(store[4], "0"); strcpy(store[5], "0"); strcpy(store[6], "15");
        *nparams = 7;
    } else {
        const char *b = end + 4;
        const char *ci = memmem(b, body, "\"contactId\":\"", 13) + 13;
        const char *sa = memmem(b, body, "\"scheduledAt\":\"", 15) + 15;
        snprintf(store[2], 64, "%.36s", ci);
        snprintf(store[3], 64, "%.20s", sa);
        uint64_t h = 1469598103934665603ull;
        for (const char *p = o->org; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
        for (int i = 0; i < 20; i++) h = (h ^ (unsigned char)sa[i]) * 1099511628211ull;
        long long k = (long long)(h >> 3);
        snprintf(store[4], 64, "{%lld,%lld}", k * 2, k * 2 + 1);
        *nparams = 5;
    }
    for (int i = 0; i < *nparams; i++) params[i] = store[i];
    return total;
}

static int respond(int fd, const char *text)
{
    char head[256];
    size_t n = strlen(text);
    int code = text[0] == '[' ? 200 : strstr(text, "\"booked\"") ? 201 : 409;
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     code, n);
    struct iovec iov[2] = {{head, h}, {(void *)text, n}};
    return writev(fd, iov, 2) == (ssize_t)(h + n) ? 0 : -1;
}

static PGconn *connect_pg(int nonblock)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) { fprintf(stderr, "%s", PQerrorMessage(c)); exit(1); }
    PQclear(PQprepare(c, "book", SQL, 0, NULL));
    PQclear(PQprepare(c, "slots", SLOTS_SQL, 0, NULL));
    if (nonblock) PQsetnonblocking(c, 1);
    return c;
}

static int listen_sock(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (void *)&a, sizeof a) || listen(s, 1024)) { perror("bind"); exit(1); }
    return s;
}

/* ---------------- event mode ---------------- */
struct client { int fd; char buf[4096]; size_t len; int waiting; struct client *next_wait; int pg; };
struct pgc { PGconn *c; struct client *cl; };
struct loop { int ep, ls; struct pgc *pg; struct client *wq_head, *wq_tail; };

/* epoll data: 0 the listening socket, 1..pg_per_thread a database
 * connection, anything else a client. */
static void start_query(struct loop *L, int i, struct client *cl)
{
    const char *params[7]; char store[7][64]; int np;
    size_t n = parse(cl->buf, cl->len, params, store, &np);
    memmove(cl->buf, cl->buf + n, cl->len - n);
    cl->len -= n;
    L->pg[i].cl = cl;
    PQsendQueryPrepared(L->pg[i].c, np == 7 ? "slots" : "book", np, params, NULL, NULL, 0);
    PQflush(L->pg[i].c);
}

static void client_ready(struct loop *L, struct client *cl)
{
    const char *params[7]; char store[7][64]; int np;
    if (cl->waiting || !parse(cl->buf, cl->len, params, store, &np))
        return;
    for (int i = 0; i < pg_per_thread; i++)
        if (!L->pg[i].cl) { cl->waiting = 1; start_query(L, i, cl); return; }
    cl->waiting = 1; cl->next_wait = NULL; cl->pg = -1;
    if (L->wq_tail) L->wq_tail->next_wait = cl; else L->wq_head = cl;
    L->wq_tail = cl;
}

static void *event_loop(void *arg)
{
    struct loop *L = arg;
    struct epoll_event ev[64];
    L->ep = epoll_create1(0);
    L->ls = listen_sock();
    fcntl(L->ls, F_SETFL, O_NONBLOCK);
    epoll_ctl(L->ep, EPOLL_CTL_ADD, L->ls, &(struct epoll_event){.events = EPOLLIN, .data.u64 = 0});
    L->pg = calloc(pg_per_thread, sizeof *L->pg);
    for (int i = 0; i < pg_per_thread; i++) {
        L->pg[i].c = connect_pg(1);
        epoll_ctl(L->ep, EPOLL_CTL_ADD, PQsocket(L->pg[i].c),
                  &(struct epoll_event){.events = EPOLLIN, .data.u64 = (uint64_t)i + 1});
    }
    for (;;) {
        int n = epoll_wait(L->ep, ev, 64, -1);
        for (int e = 0; e < n; e++) {
            uint64_t d = ev[e].data.u64;
            if (d == 0) {
                int fd;
                while ((fd = accept4(L->ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct client *cl = calloc(1, sizeof *cl);
                    cl->fd = fd;
                    epoll_ctl(L->ep, EPOLL_CTL_ADD, fd, &(struct epoll_event){.events = EPOLLIN, .data.ptr = cl});
                }
            } else if (d <= (uint64_t)pg_per_thread) {
                int i = (int)d - 1;
                PGconn *c = L->pg[i].c;
                PQconsumeInput(c);
                while (!PQisBusy(c)) {
                    PGresult *r = PQgetResult(c);
                    if (!r) {
                        struct client *cl = L->pg[i].cl;
                        L->pg[i].cl = NULL;
                        cl->waiting = 0;
                        if (cl->fd < 0) { free(cl); cl = NULL; }
                        struct client *next = L->wq_head;
                        if (next) {
                            L->wq_head = next->next_wait;
                            if (!L->wq_head) L->wq_tail = NULL;
                            start_query(L, i, next);
                        }
                        if (cl) client_ready(L, cl);
                        break;
                    }
                    if (L->pg[i].cl->fd < 0)
                        ;
                    else if (PQresultStatus(r) == PGRES_TUPLES_OK)
                        respond(L->pg[i].cl->fd, PQgetvalue(r, 0, 0));
                    else {
                        fprintf(stderr, "%s", PQresultErrorMessage(r));
                        respond(L->pg[i].cl->fd, "error");
                    }
                    PQclear(r);
                }
            } else {
                struct client *cl = ev[e].data.ptr;
                ssize_t r = read(cl->fd, cl->buf + cl->len, sizeof cl->buf - cl->len);
                if (r <= 0) {
                    if (r < 0 && errno == EAGAIN) continue;
                    close(cl->fd); /* also leaves the epoll set */
                    if (cl->waiting) { cl->fd = -1; continue; } /* freed when its answer comes */
                    free(cl); continue;
                }
                cl->len += r;
                client_ready(L, cl);
            }
        }
    }
    return NULL;
}

/* ---------------- threads mode ---------------- */
static PGconn **pool; static int pool_n, pool_free_n; static int *pool_free;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;

static void *conn_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096]; size_t len = 0;
    for (;;) {
        const char *params[7]; char store[7][64]; int np;
        size_t n;
        while (!(n = parse(buf, len, params, store, &np))) {
            ssize_t r = read(fd, buf + len, sizeof buf - len);
            if (r <= 0) { close(fd); return NULL; }
            len += r;
        }
        pthread_mutex_lock(&pool_mu);
        while (!pool_free_n) pthread_cond_wait(&pool_cv, &pool_mu);
        int i = pool_free[--pool_free_n];
        pthread_mutex_unlock(&pool_mu);
        PGresult *r = PQexecPrepared(pool[i], np == 7 ? "slots" : "book", np, params, NULL, NULL, 0);
        pthread_mutex_lock(&pool_mu);
        pool_free[pool_free_n++] = i;
        pthread_cond_signal(&pool_cv);
        pthread_mutex_unlock(&pool_mu);
        respond(fd, PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "error");
        PQclear(r);
        memmove(buf, buf + n, len - n);
        len -= n;
    }
}

int main(int argc, char **argv)
{
    const char *mode = argv[1];
    port = argc > 2 ? atoi(argv[2]) : 0;
    int threads = argc > 3 ? atoi(argv[3]) : 1;
    pg_per_thread = argc > 4 ? atoi(argv[4]) : 8;
    conninfo = getenv("DATABASE_URL");
    if (argc != 7 || !conninfo) {
        fprintf(stderr, "usage: floor event|threads PORT THREADS CONNECTIONS ORGS_TXT ORGS_CSV\n");
        return 2;
    }
    load_orgs(argv[5], argv[6]);
    if (strcmp(mode, "event") == 0) {
        pthread_t t[16];
        for (int i = 0; i < threads && i < 16; i++)
            pthread_create(&t[i], NULL, event_loop, calloc(1, sizeof(struct loop)));
        pthread_join(t[0], NULL);
    } else {
        pool_n = pg_per_thread;
        pool = calloc(pool_n, sizeof *pool);
        pool_free = calloc(pool_n, sizeof *pool_free);
        for (int i = 0; i < pool_n; i++) { pool[i] = connect_pg(0); pool_free[pool_free_n++] = i; }
        int ls = listen_sock();
        for (;;) {
            int fd = accept(ls, NULL, NULL), one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            pthread_t t;
            pthread_create(&t, NULL, conn_thread, (void *)(intptr_t)fd);
            pthread_detach(t);
        }
    }
}
