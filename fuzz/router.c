/*
 * libFuzzer target for src/http/router.c with bookd's own route table
 * (api_routes of src/api/routes.c, linked as the server links it): the
 * first byte picks the method, the rest up to a NUL is the path as
 * libmicrohttpd hands it over (already unescaped, so any byte but NUL).
 * http_route_find gets the same 64-byte Allow buffer the server gives it.
 *
 * Checked beyond the sanitizers: a match serves the method asked; putting
 * the captured parameters back into the pattern gives the path again (ids
 * in lower case, each parameter of the characters its kind allows; a
 * "{ref}" takes any segment, and one too long to keep is captured as ""
 * and stands for a segment of HTTP_PARAM_SIZE bytes or more); a 405
 * lists at least one method in a NUL-terminated Allow; whether the path is
 * known at all does not depend on the method.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "http/router.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

static int allowed(const char *set, char c)
{
    return c != '\0' && strchr(set, c) != NULL;
}

/* A captured parameter is of the characters its kind allows. */
static int param_ok(const char *kind, size_t kind_len, const char *v)
{
    static const char lower_hex[] = "0123456789abcdef-";
    static const char base64url[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    static const char file[] = "abcdefghijklmnopqrstuvwxyz0123456789._-";
    const char *set = kind_len == 4 ? lower_hex : kind_len == 7 ? base64url : file;
    size_t n = strnlen(v, HTTP_PARAM_SIZE);

    if (n >= HTTP_PARAM_SIZE)
        return 0;
    if (kind_len == 5) /* "{ref}": any segment; "" for one too long (rebuilds checks) */
        return memchr(v, '/', n) == NULL;
    if (n == 0 || (kind_len == 4 && n != 36))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!allowed(set, v[i]))
            return 0;
    return 1;
}

/* The path again, from the pattern and the parameters: equal to `path`
 * (ids compared without case, as they were matched). */
static int rebuilds(const char *pattern, const struct http_request *req, const char *path)
{
    int n = 0;

    while (*pattern) {
        const char *open = strchr(pattern, '{');
        size_t lit = open ? (size_t)(open - pattern) : strlen(pattern);
        if (strncmp(pattern, path, lit) != 0)
            return 0;
        pattern += lit;
        path += lit;
        if (!open)
            break;
        const char *close = strchr(pattern, '}');
        size_t kind_len = (size_t)(close - pattern) + 1;
        const char *v = req->params[n++];
        size_t vlen = strlen(v);
        if (kind_len == 5 && vlen == 0) {
            /* A "{ref}" segment too long to keep: at least HTTP_PARAM_SIZE bytes. */
            const char *end = strchr(path, '/');
            size_t seg = end ? (size_t)(end - path) : strlen(path);
            if (seg < HTTP_PARAM_SIZE)
                return 0;
            pattern += kind_len;
            path += seg;
            continue;
        }
        if (!param_ok(pattern, kind_len, v) ||
            (kind_len == 4 ? strncasecmp(v, path, vlen) : strncmp(v, path, vlen)) != 0)
            return 0;
        pattern += kind_len;
        path += vlen;
    }
    return *path == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_request req;
    char allow[64];
    char *path;
    enum http_method method;
    int r;

    if (size == 0)
        return 0;
    method = (enum http_method)(data[0] % (HTTP_OTHER + 1));
    path = malloc(size);
    if (!path)
        return 0;
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';

    memset(&req, 0, sizeof req);
    memset(allow, 'x', sizeof allow);
    r = http_route_find(api_routes, api_route_count, method, path, &req, allow, sizeof allow);
    check(r >= -2 && r < api_route_count);
    check(memchr(allow, '\0', sizeof allow) != NULL);
    if (r >= 0) {
        const struct http_route *route = &api_routes[r];
        check(route->method == method || (route->method == HTTP_GET && method == HTTP_HEAD));
        check(rebuilds(route->pattern, &req, path));
    } else if (r == -2) {
        check(allow[0] != '\0');
    }
    /* Known or not is a property of the path alone. */
    for (int m = HTTP_GET; m <= HTTP_OTHER; m++) {
        struct http_request other;
        char allow2[64];
        int r2;
        memset(&other, 0, sizeof other);
        r2 = http_route_find(api_routes, api_route_count, (enum http_method)m, path, &other, allow2,
                             sizeof allow2);
        check((r == -1) == (r2 == -1));
        (void)http_method_name((enum http_method)m);
    }
    free(path);
    return 0;
}
