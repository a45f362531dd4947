#include "http/router.h"

#include <stdio.h>
#include <string.h>

#include "core/validate.h"

const char *http_method_name(enum http_method m)
{
    static const char *const names[] = {"GET",  "POST",  "PUT",
                                         "DELETE", "HEAD", "PATCH", "OTHER"};
    return names[m];
}

/* A manage token as links carry it: 16 to 63 base64url characters. */
static bool token_segment(const char *s, size_t len)
{
    if (len < 16 || len >= HTTP_PARAM_SIZE)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

/* A file of web/ as /static/ names it: 1 to 63 of [a-z0-9._-], not
 * starting with a dot (no "..", no hidden files; the name cannot hold a
 * slash, since segments end at one). */
static bool file_segment(const char *s, size_t len)
{
    if (len == 0 || len >= HTTP_PARAM_SIZE || s[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
              s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

bool http_is_manage_token(const char *s)
{
    return token_segment(s, strlen(s));
}

/* Matches one pattern segment by segment; fills params on success. */
static bool path_matches(const char *pattern, const char *path,
                         char params[HTTP_MAX_PATH_PARAMS][HTTP_PARAM_SIZE])
{
    int n = 0;

    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return false;
        pattern++;
        path++;
        const char *pe = strchr(pattern, '/'), *se = strchr(path, '/');
        size_t plen = pe ? (size_t)(pe - pattern) : strlen(pattern);
        size_t slen = se ? (size_t)(se - path) : strlen(path);
        if (plen == 4 && memcmp(pattern, "{id}", 4) == 0) {
            if (n == HTTP_MAX_PATH_PARAMS || core_uuid_normalize(path, slen, params[n]) != 0)
                return false;
            n++;
        } else if (plen == 5 && memcmp(pattern, "{ref}", 5) == 0) {
            size_t keep = slen < HTTP_PARAM_SIZE ? slen : 0; /* no id or token is longer */
            if (n == HTTP_MAX_PATH_PARAMS || slen == 0)
                return false;
            memcpy(params[n], path, keep);
            params[n++][keep] = '\0';
        } else if ((plen == 7 && memcmp(pattern, "{token}", 7) == 0) ||
                   (plen == 6 && memcmp(pattern, "{file}", 6) == 0)) {
            if (n == HTTP_MAX_PATH_PARAMS ||
                !(plen == 7 ? token_segment(path, slen) : file_segment(path, slen)))
                return false;
            memcpy(params[n], path, slen);
            params[n++][slen] = '\0';
        } else if (plen != slen || memcmp(pattern, path, plen) != 0) {
            return false;
        }
        pattern += plen;
        path += slen;
    }
    return *pattern == '\0' && *path == '\0';
}

/*
 * HEAD is GET without the body: a GET route serves it (libmicrohttpd
 * sends the GET's status and headers, Content-Length included, and leaves
 * the body out), so load balancers can probe any path they could GET.
 */
static bool route_serves(enum http_method route, enum http_method asked)
{
    return route == asked || (route == HTTP_GET && asked == HTTP_HEAD);
}

int http_route_find(const struct http_route *routes, int count, enum http_method method,
                    const char *path, struct http_request *req, char *allow, size_t allow_size)
{
    char params[HTTP_MAX_PATH_PARAMS][HTTP_PARAM_SIZE];
    bool path_known = false;
    size_t used = 0;

    allow[0] = '\0';
    for (int i = 0; i < count; i++) {
        if (!path_matches(routes[i].pattern, path, params))
            continue;
        if (route_serves(routes[i].method, method)) {
            memcpy(req->params, params, sizeof params);
            return i;
        }
        path_known = true;
        int w = snprintf(allow + used, allow_size - used, "%s%s%s", used ? ", " : "",
                         http_method_name(routes[i].method),
                         routes[i].method == HTTP_GET ? ", HEAD" : "");
        if (w > 0 && (size_t)w < allow_size - used)
            used += (size_t)w;
    }
    return path_known ? -2 : -1;
}
