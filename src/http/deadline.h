/*
 * The whole-request deadline (DESIGN.md, "Time limits everywhere"):
 * libmicrohttpd's connection timeout is an idle timeout, so a client that
 * sends one byte of its headers every few seconds, or a body forever, would
 * keep its connection (and, a thousand times over, every connection)
 * without end. Every connection is registered here with the time its
 * current request began to arrive; a sweeper thread shuts down (shutdown(2):
 * the library then closes it) any connection still receiving a request
 * past the deadline. A request being handled or answered is never cut.
 */
#ifndef BOOKD_HTTP_DEADLINE_H
#define BOOKD_HTTP_DEADLINE_H

struct http_deadlines;
struct http_deadline_conn;

/* Starts the sweeper; NULL when out of memory or threads. */
struct http_deadlines *http_deadlines_start(int deadline_s);
/* Stops the sweeper and frees what is left (call after the server stopped). */
void http_deadlines_stop(struct http_deadlines *d);

/* A new connection on socket `fd`: its first request's clock starts now.
 * NULL when out of memory (the connection is then not watched). */
struct http_deadline_conn *http_deadline_open(struct http_deadlines *d, int fd);
/* The connection's request has arrived whole: its clock stops. */
void http_deadline_received(struct http_deadlines *d, struct http_deadline_conn *c);
/* The answer is done: the next request's clock starts now. */
void http_deadline_next(struct http_deadlines *d, struct http_deadline_conn *c);
/* The connection is closing (before its socket is closed). */
void http_deadline_close(struct http_deadlines *d, struct http_deadline_conn *c);

#endif
