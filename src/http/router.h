/*
 * The route table: method + path pattern -> handler, with the caller's
 * required scope. "{id}" in a pattern matches one canonical UUID segment
 * (a malformed id is therefore a 404, as the API says); "{token}" a
 * manage token, "{file}" the name of a file of web/ and "{ref}" any
 * segment at all, which the handler checks itself (a page answers a
 * malformed one with its own 404 page; one too long to keep is "").
 */
#ifndef BOOKD_HTTP_ROUTER_H
#define BOOKD_HTTP_ROUTER_H

#include "http/request.h"

enum http_scope {
    SCOPE_OPEN,         /* no key: health, ready, metrics, openapi */
    SCOPE_SERVER_ADMIN, /* the operator's token: creating organizations */
    SCOPE_ADMIN,        /* an organization's admin key */
    SCOPE_PUBLIC,       /* an admin or a public key */
    SCOPE_VAPI,         /* the organization's Vapi secret */
    SCOPE_MANAGE,       /* no key: a patient's manage token in the path, limited per address */
    SCOPE_PAGE,         /* no key: a page that reads the database, limited per address */
};

typedef void (*http_handler)(struct http_request *req, struct http_response *resp);

struct http_route {
    enum http_method method;
    const char *pattern;
    enum http_scope scope;
    http_handler handler;
    bool has_body; /* a JSON object body is parsed before the handler */
};

/*
 * Finds the route for method and path, filling req->params. Returns its
 * index, or -1 when no pattern matches the path (404), or -2 when the path
 * matches but not the method (405; `allow` lists the methods). A GET route
 * also serves HEAD, and `allow` lists HEAD after each GET.
 */
int http_route_find(const struct http_route *routes, int count, enum http_method method,
                    const char *path, struct http_request *req, char *allow, size_t allow_size);

const char *http_method_name(enum http_method m);

/* Whether `s` has the form of a manage token as links carry it: 16 to 63
 * base64url characters. */
bool http_is_manage_token(const char *s);

#endif
