/*
 * One HTTP request as the handlers see it, and the response they fill in.
 * The server (http/server.c) owns both; handlers never touch libmicrohttpd.
 */
#ifndef BOOKD_HTTP_REQUEST_H
#define BOOKD_HTTP_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/result.h"

/* HEAD is served by the GET routes (http/router.c). */
enum http_method {
    HTTP_GET,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_HEAD,
    HTTP_PATCH,
    HTTP_OTHER
};

/* Who is calling, established by http/auth.c before the handler runs. */
enum http_principal {
    PRINCIPAL_NONE,
    PRINCIPAL_SERVER_ADMIN,
    PRINCIPAL_ADMIN,
    PRINCIPAL_PUBLIC,
    PRINCIPAL_VAPI, /* the organization's Vapi secret: POST /api/webhooks/vapi only */
};

struct http_auth {
    enum http_principal principal;
    char key_id[DB_ID_SIZE];
    char org_id[DB_ID_SIZE];
    char default_provider_id[DB_ID_SIZE];
    char timezone[64];
    char actor[64]; /* "admin_key:<id>", "public_key:<id>" or "vapi" for the audit log */
    bool per_address; /* a page key (docs/web.md): rate-limited per client address */
    /* PRINCIPAL_VAPI from the cache: the secret (its SHA-256) is still to
     * be checked, by the first thing the request does with the database
     * (http_vapi_secret_check, or vapi_book itself). */
    bool vapi_unchecked;
    unsigned char vapi_secret_hash[32];
};

#define HTTP_MAX_PATH_PARAMS 2
/* A path parameter: a UUID ({id}), a manage token ({token}, 43 chars) or
 * the name of a file of web/ ({file}). */
#define HTTP_PARAM_SIZE 64

struct http_request {
    enum http_method method;
    const char *path;
    /* {id} segments, lower-cased; {token} segments as sent */
    char params[HTTP_MAX_PATH_PARAMS][HTTP_PARAM_SIZE];
    const char *body;  /* raw body, NUL-terminated, may be empty */
    size_t body_len;
    json_t *json;      /* the parsed body object for POST/PUT routes, else NULL */
    struct http_auth auth;
    char request_id[24];
    void *conn;        /* the server's connection, for headers and query */
    struct app *app;
};

struct http_response {
    unsigned status;
    char *body;            /* owned; NULL for no body */
    size_t body_len;
    const char *content_type;
    int retry_after;       /* > 0: send Retry-After */
    bool replayed;         /* send Idempotent-Replayed: true */
    char allow[64];        /* non-empty: send Allow */
    /* A page or one of its files (docs/web.md, "Headers"): its
     * Content-Security-Policy; framing refused (X-Frame-Options too) when
     * `deny_framing`. */
    const char *csp;
    bool deny_framing;
    const char *etag;      /* set: Cache-Control no-cache and this ETag, not no-store */
    /* A change whose outcome is unknown (db_result.in_doubt): no answer
     * at all, for an answer would be a guess (http/server.c). */
    bool in_doubt;
};

/* A request header, or NULL. */
const char *http_header(const struct http_request *req, const char *name);
/* A query-string argument, or NULL. */
const char *http_query(const struct http_request *req, const char *name);

#endif
