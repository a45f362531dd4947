#include "http/server.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "core/validate.h"
#include "http/auth.h"
#include "http/deadline.h"
#include "http/ratelimit.h"
#include "http/reply.h"
#include "log.h"
#include "metrics.h"

struct http_server {
    struct MHD_Daemon *daemon;
    struct app *app;
    const struct http_route *routes;
    int route_count;
    atomic_int in_flight;
    atomic_bool stopping; /* answers say Connection: close */
    unsigned port;
    struct http_deadlines *deadlines;
};

/* What is kept between the calls libmicrohttpd makes for one request. */
struct request_state {
    struct timespec started;
    char *body;
    size_t len, cap;
    bool too_large;
    bool answered; /* a response was queued: counted in in_flight until sent */
};

const char *http_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static enum http_method method_of(const char *m)
{
    if (strcmp(m, "GET") == 0)
        return HTTP_GET;
    if (strcmp(m, "POST") == 0)
        return HTTP_POST;
    if (strcmp(m, "PUT") == 0)
        return HTTP_PUT;
    if (strcmp(m, "DELETE") == 0)
        return HTTP_DELETE;
    if (strcmp(m, "HEAD") == 0)
        return HTTP_HEAD;
    if (strcmp(m, "PATCH") == 0)
        return HTTP_PATCH;
    return HTTP_OTHER;
}

static uint32_t request_id_prefix;

static void draw_request_id_prefix(void)
{
    if (RAND_bytes((unsigned char *)&request_id_prefix, sizeof request_id_prefix) != 1)
        request_id_prefix = (uint32_t)time(NULL);
}

/*
 * Request ids: a random prefix drawn once per process and a counter, in
 * hex. Unique within the process and unlikely to repeat across processes,
 * without asking the random generator (and its locks) on every request.
 */
static void new_request_id(char *out, size_t size)
{
    static atomic_uint_fast64_t counter;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    uint64_t n;

    pthread_once(&once, draw_request_id_prefix);
    n = atomic_fetch_add(&counter, 1) + 1;
    snprintf(out, size, "%08x%08x", request_id_prefix, (uint32_t)n);
}

/* application/json, with or without parameters such as charset. */
static bool is_json_type(const char *type)
{
    size_t n = strlen("application/json");
    if (!type || strncasecmp(type, "application/json", n) != 0)
        return false;
    return type[n] == '\0' || type[n] == ';' || type[n] == ' ';
}

/* `prefix` and the client's address, the key of a per-address limit. */
static void client_key(struct http_request *req, const char *prefix, char *key, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    size_t n = (size_t)snprintf(key, size, "%s", prefix);

    if (n < size && ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        const void *a = sa->sa_family == AF_INET6
                            ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                            : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
        if (!inet_ntop(sa->sa_family, a, key + n, (socklen_t)(size - n)))
            key[n] = '\0';
    }
}

/*
 * The manage routes and the pages need no key (the token in the path is
 * the patient's right), and a page key is shared by every visitor of the
 * booking page, so these are limited per client address instead, at the
 * public key's rate: the key of the limiter is "addr:" and the address.
 */
static bool limit_by_address(struct app *app, struct http_request *req,
                             struct http_response *resp)
{
    char key[INET6_ADDRSTRLEN + 8];
    int wait;

    client_key(req, "addr:", key, sizeof key);
    wait = http_rate_limit_take(app->limiter, key, &app->cfg.rate_public);
    if (wait > 0) {
        http_reply_error(resp, 429, "rate_limited", NULL,
                         "Too many requests from this address; retry after %d s.", wait);
        resp->retry_after = wait;
        return false;
    }
    return true;
}

/* Checks the caller against the route's scope; replies and returns false
 * when the request must stop here. */
static bool authorize(struct app *app, const struct http_route *route, struct http_request *req,
                      struct http_response *resp)
{
    enum auth_result ar;
    enum http_principal p;
    char fail_key[INET6_ADDRSTRLEN + 8];
    bool may_look_up;

    if (route->scope == SCOPE_OPEN)
        return true;
    if (route->scope == SCOPE_MANAGE)
        snprintf(req->auth.actor, sizeof req->auth.actor, "manage_link");
    if (route->scope == SCOPE_MANAGE || route->scope == SCOPE_PAGE)
        return limit_by_address(app, req, resp);
    /* An address that sent too many unknown keys gets no more lookups
     * until its bucket refills: keys already in the cache still work. */
    client_key(req, "fail:", fail_key, sizeof fail_key);
    may_look_up = http_rate_limit_peek(app->limiter, fail_key, &app->cfg.rate_auth_failures) == 0;
    /* The Vapi secret opens its one route and nothing else; no key opens
     * that route. */
    ar = route->scope == SCOPE_VAPI
             ? http_authenticate_vapi(app, http_header(req, "x-vapi-secret"),
                                      http_header(req, "Authorization"), may_look_up, &req->auth)
             : http_authenticate(app, http_header(req, "Authorization"), may_look_up,
                                 &req->auth);
    if (ar == AUTH_UNAVAILABLE) {
        http_reply_unavailable(resp);
        return false;
    }
    if (ar == AUTH_REFUSED) {
        int wait = http_rate_limit_peek(app->limiter, fail_key, &app->cfg.rate_auth_failures);
        resp->retry_after = wait > 0 ? wait : 1;
        http_reply_error(resp, 429, "rate_limited", NULL,
                         "Too many unknown keys from this address; retry after %d s.",
                         resp->retry_after);
        return false;
    }
    if (ar == AUTH_UNKNOWN)
        http_rate_limit_take(app->limiter, fail_key, &app->cfg.rate_auth_failures);
    p = req->auth.principal;
    if (route->scope == SCOPE_VAPI && (ar != AUTH_OK || p != PRINCIPAL_VAPI)) {
        http_reply_vapi_unauthorized(resp);
        return false;
    }
    if (route->scope != SCOPE_VAPI &&
        (ar != AUTH_OK || p == PRINCIPAL_NONE ||
         (route->scope == SCOPE_SERVER_ADMIN) != (p == PRINCIPAL_SERVER_ADMIN))) {
        http_reply_error(resp, 401, "unauthorized", NULL,
                         "A valid API key is required (Authorization: Bearer <key>).");
        return false;
    }
    if (route->scope == SCOPE_ADMIN && p == PRINCIPAL_PUBLIC) {
        http_reply_error(resp, 403, "forbidden", NULL,
                         "This key is a public key; this route needs the admin key.");
        return false;
    }
    if (req->auth.per_address)
        return limit_by_address(app, req, resp);
    if (p == PRINCIPAL_ADMIN || p == PRINCIPAL_PUBLIC || p == PRINCIPAL_VAPI) {
        /* Vapi is limited as an admin key is, per organization (its
         * secret has no key id; ids are unique across keys and
         * organizations). */
        const struct rate_spec *spec =
            p == PRINCIPAL_PUBLIC ? &app->cfg.rate_public : &app->cfg.rate_admin;
        int wait = http_rate_limit_take(app->limiter,
                                        p == PRINCIPAL_VAPI ? req->auth.org_id : req->auth.key_id,
                                        spec);
        if (wait > 0) {
            http_reply_error(resp, 429, "rate_limited", NULL,
                             "Too many requests for this key; retry after %d s.", wait);
            resp->retry_after = wait;
            return false;
        }
    }
    return true;
}

/*
 * The top-level member of the object `body` that byte `at` falls in, for
 * naming the field of a string jansson refused: jansson rejects the whole
 * document for one lone surrogate or one byte that is not UTF-8, and says
 * only where it stopped (for an escape, just past the string that holds
 * it; for a bad byte, at that byte). Everything before that point was
 * valid JSON to jansson, so a walk that tracks only strings, nesting and
 * the separators of the outer object is enough. Copies the member's name
 * into `field` and returns true when `at` lies in a member's value (at any
 * depth: inside metadata names "metadata"); false when it lies in a key,
 * between members, or the name is not plain printable ASCII that fits.
 */
static bool member_at(const char *body, size_t at, char *field, size_t size)
{
    size_t key = 0, key_len = 0;
    int depth = 0;
    bool in_string = false, in_key = false, want_key = false, in_value = false;

    for (size_t i = 0; i < at; i++) {
        char c = body[i];
        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = false;
                if (in_key)
                    key_len = i - key;
                in_key = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
            if (depth == 1 && want_key) {
                in_key = true;
                want_key = false;
                key = i + 1;
            }
        } else if (c == '{' || c == '[') {
            if (depth++ == 0 && c == '{')
                want_key = true;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (depth == 1 && c == ':') {
            in_value = true;
        } else if (depth == 1 && c == ',') {
            in_value = false;
            want_key = true;
        }
    }
    if (in_key || !in_value || depth < 1 || key_len == 0 || key_len >= size)
        return false;
    for (size_t i = 0; i < key_len; i++)
        if (body[key + i] < 0x20 || body[key + i] > 0x7e || body[key + i] == '\\')
            return false;
    memcpy(field, body + key, key_len);
    field[key_len] = '\0';
    return true;
}

/*
 * 400 for a body jansson could not read. A lone surrogate (an unpaired
 * \uD800-\uDFFF escape) or bytes that are not UTF-8 are a fault of one
 * string, so the reply names the top-level field that holds it, as it
 * does for a NUL; any other syntax error names no field.
 */
static void reply_not_json(const struct http_request *req, const json_error_t *jerr,
                           struct http_response *resp)
{
    char field[64];
    bool surrogate = strncmp(jerr->text, "invalid Unicode", strlen("invalid Unicode")) == 0;
    bool not_utf8 = json_error_code(jerr) == json_error_invalid_utf8;

    if ((surrogate || not_utf8) && jerr->position >= 0 &&
        (size_t)jerr->position <= req->body_len &&
        member_at(req->body, (size_t)jerr->position, field, sizeof field)) {
        if (surrogate)
            http_reply_invalid(resp, field,
                               "%s holds a lone surrogate (%s), which is not a character.", field,
                               jerr->text);
        else
            http_reply_invalid(resp, field, "%s is not valid UTF-8.", field);
        return;
    }
    http_reply_invalid(resp, NULL, "The body is not valid JSON: %s (line %d, column %d).",
                       jerr->text, jerr->line, jerr->column);
}

/* Parses a route's JSON object body into req->json; replies on failure. */
static bool parse_body(const struct http_route *route, struct http_request *req,
                       struct http_response *resp)
{
    json_error_t jerr;
    json_t *org;
    char org_id[DB_ID_SIZE];

    if (!route->has_body)
        return true;
    if (req->body_len == 0) {
        req->json = json_object();
        return req->json != NULL;
    }
    /* NUL is let through the parser so that the validators can name the
     * field that holds it. */
    req->json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                           &jerr);
    if (!req->json) {
        reply_not_json(req, &jerr, resp);
        return false;
    }
    if (!json_is_object(req->json)) {
        http_reply_invalid(resp, NULL, "The body must be a JSON object.");
        return false;
    }
    org = json_object_get(req->json, "orgId");
    if (org && (!json_is_string(org) || core_uuid_normalize(json_string_value(org),
                                                            json_string_length(org), org_id) != 0)) {
        http_reply_invalid(resp, "orgId", "orgId must be a UUID.");
        return false;
    }
    if (org && strcmp(org_id, req->auth.org_id) != 0) {
        http_reply_error(resp, 403, "forbidden", "orgId",
                         "orgId does not match the organization of this key.");
        return false;
    }
    return true;
}

static void dispatch(struct http_server *s, struct http_request *req, struct http_response *resp,
                     int *route_index)
{
    char allow[64];
    int r = http_route_find(s->routes, s->route_count, req->method, req->path, req, allow,
                            sizeof allow);

    *route_index = r;
    if (r == -1) {
        http_reply_error(resp, 404, "not_found", NULL, "No such route.");
        return;
    }
    if (r == -2) {
        http_reply_error(resp, 405, "method_not_allowed", NULL,
                         "This path does not accept %s; allowed: %s.",
                         http_method_name(req->method), allow);
        snprintf(resp->allow, sizeof resp->allow, "%s", allow);
        return;
    }
    const struct http_route *route = &s->routes[r];
    if (!authorize(s->app, route, req, resp))
        return;
    if (req->body_len > 0 && !is_json_type(http_header(req, "Content-Type"))) {
        http_reply_error(resp, 415, "unsupported_media_type", NULL,
                         "A request body must be sent as Content-Type: application/json.");
        return;
    }
    if (!parse_body(route, req, resp))
        return;
    route->handler(req, resp);
}

/*
 * libmicrohttpd answers some requests itself, before bookd sees them, and
 * in 0.9.75 always with an HTML body and no option to change it: a request
 * line or header section that does not fit the connection's memory (414,
 * 431), a malformed request line, header line, Content-Length or chunk
 * (400, 413), an HTTP version it does not speak (505). Every one of them is
 * queued from one internal function through the library's exported
 * MHD_queue_response, which the library calls through its PLT. bookd
 * defines MHD_queue_response itself, so the dynamic linker binds those
 * calls to the definition below (symbol interposition), which answers with
 * the API's JSON error instead, with the same status. bookd's own answers
 * call the library's function directly through this pointer, so whatever
 * reaches the override came from inside libmicrohttpd. The HTTP tests
 * (tests/http/raw.test.mjs) send such requests and check the JSON.
 */
typedef enum MHD_Result (*mhd_queue_fn)(struct MHD_Connection *, unsigned int,
                                        struct MHD_Response *);
static mhd_queue_fn mhd_queue;
static pthread_once_t mhd_queue_once = PTHREAD_ONCE_INIT;
/* Set when the override answered on the socket itself and made the library
 * close the connection; the library's log line about that is dropped. */
static _Thread_local bool answered_on_socket;

static void find_mhd_queue(void)
{
    /* dlsym returns a data pointer; POSIX guarantees it converts. */
    void *sym = dlsym(RTLD_NEXT, "MHD_queue_response");
    memcpy(&mhd_queue, &sym, sizeof mhd_queue);
}

static mhd_queue_fn library_queue(void)
{
    pthread_once(&mhd_queue_once, find_mhd_queue);
    return mhd_queue;
}

/* The body of an answer libmicrohttpd gives itself, by status. */
static const char *internal_error_body(unsigned status)
{
    switch (status) {
    case 400:
        return "{\"error\":\"invalid_request\",\"message\":\"The request is not valid HTTP: "
               "its request line, a header line, Content-Length or the chunked encoding is "
               "malformed.\"}";
    case 413:
        return "{\"error\":\"payload_too_large\",\"message\":\"The size the request announces "
               "for its body (Content-Length or a chunk) is too large.\"}";
    case 414:
        return "{\"error\":\"uri_too_long\",\"message\":\"The request line is longer than this "
               "server accepts.\"}";
    case 431:
        return "{\"error\":\"request_header_fields_too_large\",\"message\":\"The request's header "
               "section is larger than this server accepts.\"}";
    case 505:
        return "{\"error\":\"http_version_not_supported\",\"message\":\"Only HTTP/1.0 and "
               "HTTP/1.1 are served.\"}";
    default:
        if (status < 500)
            return "{\"error\":\"invalid_request\",\"message\":\"The request is not valid "
                   "HTTP.\"}";
        return "{\"error\":\"internal\",\"message\":\"The request could not be handled.\"}";
    }
}

/* A Content-Length libmicrohttpd accepts: decimal digits that fit 64 bits. */
static bool valid_content_length(const char *v)
{
    uint64_t n = 0;

    if (!*v)
        return false;
    for (; *v; v++) {
        if (*v < '0' || *v > '9' || n > (UINT64_MAX - (uint64_t)(*v - '0')) / 10)
            return false;
        n = n * 10 + (uint64_t)(*v - '0');
    }
    return true;
}

/*
 * libmicrohttpd 0.9.75 sends the header block of its own answer twice when
 * it finds the fault after the header section was read and before the
 * handler is called (its state machine builds the reply again): a
 * Content-Length that is not a number or does not fit 64 bits (400, 413),
 * a Cookie header it has no memory left to copy (431). The client would
 * read the second header block as the body. These requests are recognized
 * by the header at fault; one taken for them by mistake is answered the
 * same, only written by bookd instead of by the library.
 */
static bool library_would_garble(struct MHD_Connection *conn, unsigned status)
{
    const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);

    if (status == 431)
        return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE) != NULL;
    return (status == 400 || status == 413) && length && !valid_content_length(length);
}

/*
 * Writes the whole answer on the connection's socket, for the requests
 * libmicrohttpd would garble; the library then closes the connection, as
 * it does after any answer of its own. Without blocking: the socket's
 * buffer is empty unless an earlier answer on the same connection is still
 * unread by the client. Then nothing may fit, and the caller falls back to
 * the library, or only a part, and the client gets a truncated answer
 * (a client that reads nothing of what it is sent). True when anything
 * was written.
 */
static bool answer_on_socket(struct MHD_Connection *conn, unsigned status, const char *id,
                             const char *body)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    const char *reason = MHD_get_reason_phrase_for(status);
    char text[1024];
    int len;

    if (!info)
        return false;
    len = snprintf(text, sizeof text,
                   "HTTP/1.1 %u %s\r\nConnection: close\r\nContent-Type: " HTTP_JSON_TYPE
                   "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff"
                   "\r\nReferrer-Policy: no-referrer\r\nX-Request-Id: %s\r\nContent-Length: %zu"
                   "\r\n\r\n%s",
                   status, reason && *reason ? reason : "Error", id, strlen(body), body);
    if (len < 0 || (size_t)len >= sizeof text)
        return false;
    return send(info->connect_fd, text, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) > 0;
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *connection, unsigned int status_code,
                                   struct MHD_Response *response)
{
    mhd_queue_fn queue = library_queue();
    struct MHD_Response *json;
    const char *body;
    enum MHD_Result rc = MHD_NO;
    char id[24];

    if (!queue)
        return MHD_NO;
    if (status_code < 400)
        return queue(connection, status_code, response);
    body = internal_error_body(status_code);
    new_request_id(id, sizeof id);
    metrics_http_observe(-1, HTTP_OTHER, status_code, 0.0);
    log_request(id, http_method_name(HTTP_OTHER), "unmatched", status_code, 0.0);
    if (library_would_garble(connection, status_code) &&
        answer_on_socket(connection, status_code, id, body)) {
        answered_on_socket = true;
        return MHD_NO; /* "could not queue": the library closes the connection */
    }
    json = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!json)
        return queue(connection, status_code, response); /* HTML rather than nothing */
    if (MHD_add_response_header(json, "Content-Type", HTTP_JSON_TYPE) == MHD_YES &&
        MHD_add_response_header(json, "Cache-Control", "no-store") == MHD_YES &&
        MHD_add_response_header(json, "X-Content-Type-Options", "nosniff") == MHD_YES &&
        MHD_add_response_header(json, "Referrer-Policy", "no-referrer") == MHD_YES &&
        MHD_add_response_header(json, "X-Request-Id", id) == MHD_YES)
        rc = queue(connection, status_code, json);
    MHD_destroy_response(json);
    return rc == MHD_YES ? rc : queue(connection, status_code, response);
}

static enum MHD_Result send_response(struct http_server *s, struct MHD_Connection *conn,
                                     struct http_request *req, struct http_response *resp)
{
    struct MHD_Response *r;
    enum MHD_Result rc;
    char retry[16];

    r = MHD_create_response_from_buffer(resp->body_len, resp->body ? resp->body : (char *)"",
                                        resp->body ? MHD_RESPMEM_MUST_FREE
                                                   : MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    resp->body = NULL; /* owned by the response now */
    if (resp->content_type)
        MHD_add_response_header(r, "Content-Type", resp->content_type);
    if (resp->etag) {
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        MHD_add_response_header(r, "ETag", resp->etag);
    } else {
        MHD_add_response_header(r, "Cache-Control", "no-store");
    }
    MHD_add_response_header(r, "X-Request-Id", req->request_id);
    /* Every answer: no type sniffing, no address leaked to other sites. */
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    if (resp->csp)
        MHD_add_response_header(r, "Content-Security-Policy", resp->csp);
    if (resp->deny_framing)
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
    if (resp->retry_after > 0) {
        snprintf(retry, sizeof retry, "%d", resp->retry_after);
        MHD_add_response_header(r, "Retry-After", retry);
    }
    if (resp->allow[0])
        MHD_add_response_header(r, "Allow", resp->allow);
    if (resp->replayed)
        MHD_add_response_header(r, "Idempotent-Replayed", "true");
    /* Stopping: the client sends its next request elsewhere, not into a
     * connection about to close under it. */
    if (atomic_load(&s->stopping))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    rc = library_queue()(conn, resp->status, r);
    MHD_destroy_response(r);
    return rc;
}

/* The deadline entry of a connection (its socket context). */
static struct http_deadline_conn *connection_deadline(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* A body past the limit: 413 written on the socket, the request counted
 * and logged; the caller then has the library close the connection. */
static void too_large_close(struct http_server *s, struct MHD_Connection *conn,
                            struct request_state *st)
{
    char id[24], body[160];

    new_request_id(id, sizeof id);
    snprintf(body, sizeof body,
             "{\"error\":\"payload_too_large\",\"message\":\"The body is larger than %zu "
             "bytes.\"}",
             s->app->cfg.body_limit);
    metrics_http_observe(-1, HTTP_OTHER, 413, metrics_seconds_since(&st->started));
    log_request(id, http_method_name(HTTP_OTHER), "unmatched", 413, 0.0);
    answer_on_socket(conn, 413, id, body);
    free(st->body);
    st->body = NULL;
    st->len = st->cap = 0;
    st->too_large = true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct http_server *s = cls;
    struct request_state *st = *con_cls;
    struct http_request req;
    struct http_response resp;
    enum MHD_Result rc;
    int route_index = -1;
    (void)version;

    if (!st) {
        const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &st->started);
        *con_cls = st;
        /* Refuse an announced oversized body before reading any of it. */
        if (length && strtoull(length, NULL, 10) > s->app->cfg.body_limit)
            st->too_large = true;
        else
            return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->too_large || st->len + n > s->app->cfg.body_limit) {
            /* Answered at once and the connection closed: reading on to the
             * end could take forever (an endless chunked body). */
            too_large_close(s, conn, st);
            return MHD_NO;
        }
        if (st->len + n + 1 > st->cap) {
            size_t cap = st->cap ? st->cap * 2 : 1024;
            while (cap < st->len + n + 1)
                cap *= 2;
            char *bigger = realloc(st->body, cap);
            if (!bigger)
                return MHD_NO;
            st->body = bigger;
            st->cap = cap;
        }
        memcpy(st->body + st->len, upload_data, n);
        st->len += n;
        st->body[st->len] = '\0';
        return MHD_YES;
    }

    /* From here until the answer is sent, shutdown waits for this request;
     * a client still sending its body is not waited for. Its whole-request
     * clock stops: it has arrived. */
    st->answered = true;
    http_deadline_received(s->deadlines, connection_deadline(conn));
    atomic_fetch_add(&s->in_flight, 1);
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    req.method = method_of(method);
    req.path = url;
    req.body = st->body ? st->body : "";
    req.body_len = st->len;
    req.conn = conn;
    req.app = s->app;
    new_request_id(req.request_id, sizeof req.request_id);
    if (st->too_large)
        http_reply_error(&resp, 413, "payload_too_large", NULL,
                         "The body is larger than %zu bytes.", s->app->cfg.body_limit);
    else
        dispatch(s, &req, &resp, &route_index);
    if (resp.status == 0)
        http_reply_error(&resp, 500, "internal", NULL, "The request could not be handled.");
    json_decref(req.json);

    double seconds = metrics_seconds_since(&st->started);
    metrics_http_observe(route_index, req.method, resp.status, seconds);
    /* A change that may or may not have committed (the database went away
     * between the statement and its answer) gets no answer: a 503 would say
     * "not done", which may be false, and a client with an Idempotency-Key
     * learns the outcome by sending the request again. */
    if (resp.in_doubt && req.method != HTTP_GET && req.method != HTTP_HEAD) {
        log_warn("http.answer_withheld",
                 "request %s: the database was lost with the change sent; its outcome is "
                 "unknown, so the connection is closed without an answer",
                 req.request_id);
        free(resp.body);
        return MHD_NO;
    }
    /* The method as routed, never the client's raw token: it goes in the log. */
    log_request(req.request_id, http_method_name(req.method),
                route_index >= 0 ? s->routes[route_index].pattern : "unmatched", resp.status,
                seconds * 1000.0);
    rc = send_response(s, conn, &req, &resp);
    free(resp.body);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct request_state *st = *con_cls;
    (void)toe;
    if (!st)
        return;
    if (st->answered) {
        atomic_fetch_sub(&s->in_flight, 1);
        http_deadline_next(s->deadlines, connection_deadline(conn));
    }
    free(st->body);
    free(st);
    *con_cls = NULL;
}

/* Connections come and go: each is watched for the request deadline. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *s = cls;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? http_deadline_open(s->deadlines, ci->connect_fd) : NULL;
    } else {
        http_deadline_close(s->deadlines, *socket_context);
        *socket_context = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    if (answered_on_socket && strstr(msg, "failed to queue error response")) {
        answered_on_socket = false; /* it was sent, by bookd (answer_on_socket) */
        return;
    }
    answered_on_socket = false;
    log_warn("http.server", "%s", msg);
}

/* "host:port" (IPv4) into addr. 0 or -1. */
static int parse_listen(const char *listen, struct sockaddr_in *addr)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    char *end;
    long port;

    if (!colon || (size_t)(colon - listen) >= sizeof host)
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    return inet_pton(AF_INET, host, &addr->sin_addr) == 1 ? 0 : -1;
}

struct http_server *http_server_start(struct app *app, const struct http_route *routes,
                                      int route_count)
{
    struct http_server *s = calloc(1, sizeof *s);
    struct sockaddr_in addr;
    const union MHD_DaemonInfo *info;

    if (!s)
        return NULL;
    if (parse_listen(app->cfg.listen, &addr) != 0) {
        log_error("http.bad_listen", "BOOKD_LISTEN must be host:port (IPv4), got %s",
                  app->cfg.listen);
        free(s);
        return NULL;
    }
    if (!library_queue()) {
        log_error("http.start_failed", "libmicrohttpd's MHD_queue_response was not found");
        free(s);
        return NULL;
    }
    s->app = app;
    s->routes = routes;
    s->route_count = route_count;
    if (!(s->deadlines = http_deadlines_start(app->cfg.request_deadline_s))) {
        log_error("http.start_failed", "cannot start the request deadline's thread");
        free(s);
        return NULL;
    }
    /* Turbo: a new connection is read at once instead of after another
     * epoll round, and a closed one is not shut down first; bookd's CPU per
     * booking fell 5-8 % (bench/HISTORY.md, step 20). */
    s->daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_TURBO, 0, NULL,
        NULL,
        on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, /* first, to catch all */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)app->cfg.http_threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)app->cfg.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)app->cfg.connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)app->cfg.max_connections_per_ip,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
    if (!s->daemon) {
        log_error("http.start_failed", "cannot listen on %s", app->cfg.listen);
        http_deadlines_stop(s->deadlines);
        free(s);
        return NULL;
    }
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : ntohs(addr.sin_port);
    return s;
}

unsigned http_server_port(const struct http_server *server)
{
    return server->port;
}

void http_server_stop(struct http_server *s, int grace_ms)
{
    if (!s)
        return;
    /* Stop accepting; every answer from now on closes its connection, so
     * the clients' connections end one by one after an answer, never under
     * a request. Wait for the requests being answered and for those
     * connections; one that stays idle through the grace is closed with
     * nothing in it. */
    atomic_store(&s->stopping, true);
    MHD_quiesce_daemon(s->daemon);
    for (int waited = 0; waited < grace_ms; waited += 10) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (atomic_load(&s->in_flight) == 0 && (!info || info->num_connections == 0))
            break;
        usleep(10000);
    }
    MHD_stop_daemon(s->daemon);
    http_deadlines_stop(s->deadlines);
    free(s);
}
