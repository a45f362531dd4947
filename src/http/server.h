/*
 * The HTTP server: libmicrohttpd with epoll and an internal thread pool.
 * It reads a request (body capped), routes it, authenticates the caller,
 * applies the rate limit, parses a JSON body, calls the handler and sends
 * the reply; every request is counted in the metrics and logged once.
 */
#ifndef BOOKD_HTTP_SERVER_H
#define BOOKD_HTTP_SERVER_H

#include "app.h"
#include "http/router.h"

struct http_server;

/* Starts listening on app->cfg.listen. NULL on failure (logged). */
struct http_server *http_server_start(struct app *app, const struct http_route *routes,
                                      int route_count);

/* The port actually bound (useful with port 0). */
unsigned http_server_port(const struct http_server *server);

/* Stops accepting, lets requests being answered finish (up to `grace_ms`),
 * then stops; a client still sending its request is dropped. */
void http_server_stop(struct http_server *server, int grace_ms);

#endif
