#include "http/reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void http_reply_json(struct http_response *resp, unsigned status, json_t *body)
{
    free(resp->body);
    resp->status = status;
    resp->content_type = HTTP_JSON_TYPE;
    /* jansson keeps insertion order, so a body is the same bytes every time
     * it is rendered from the same data: idempotent replays rely on it. */
    resp->body = body ? json_dumps(body, JSON_COMPACT | HTTP_JSON_REAL_PRECISION) : NULL;
    resp->body_len = resp->body ? strlen(resp->body) : 0;
    json_decref(body);
    if (!resp->body) {
        resp->status = 500;
        resp->body = strdup("{\"error\":\"internal\",\"message\":\"could not encode the response\"}");
        resp->body_len = resp->body ? strlen(resp->body) : 0;
    }
}

void http_reply_json_text(struct http_response *resp, unsigned status, struct core_json_buf *body)
{
    size_t len;
    char *text = core_json_buf_take(body, &len);

    if (!text) {
        http_reply_error(resp, 500, "internal", NULL, "Out of memory.");
        return;
    }
    free(resp->body);
    resp->status = status;
    resp->content_type = HTTP_JSON_TYPE;
    resp->body = text;
    resp->body_len = len;
}

/*
 * Replaces every byte of `s` that is not part of a valid UTF-8 sequence by
 * '?': a message may quote what a client sent, cut to a length (by bookd's
 * "%.8s" or by jansson's own error text) in the middle of a character, and
 * JSON can only carry valid UTF-8. Without this such a 400 became a 500.
 */
static void utf8_mend(char *s)
{
    unsigned char *p = (unsigned char *)s;

    while (*p) {
        int n = *p < 0x80 ? 1 : (*p >> 5) == 0x6 ? 2 : (*p >> 4) == 0xe ? 3 : (*p >> 3) == 0x1e ? 4 : 0;
        unsigned cp = n == 2 ? *p & 0x1fu : n == 3 ? *p & 0x0fu : *p & 0x07u;
        int i = 1;

        while (n > 1 && i < n && (p[i] & 0xc0) == 0x80)
            cp = cp << 6 | (p[i++] & 0x3fu);
        /* Cut, stray, overlong, a surrogate or past U+10FFFF: not UTF-8. */
        if (n == 0 || i < n || (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
            (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

static void reply_error_v(struct http_response *resp, unsigned status, const char *code,
                          const char *field, const char *fmt, va_list ap)
{
    char message[512];
    json_t *body;

    vsnprintf(message, sizeof message, fmt, ap);
    utf8_mend(message);
    body = json_pack("{s:s, s:s}", "error", code, "message", message);
    if (body && field && *field) {
        char name[256];
        snprintf(name, sizeof name, "%s", field);
        utf8_mend(name);
        json_object_set_new(body, "field", json_string(name));
    }
    http_reply_json(resp, status, body);
}

void http_reply_error(struct http_response *resp, unsigned status, const char *code,
                      const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(resp, status, code, field, fmt, ap);
    va_end(ap);
}

void http_reply_invalid(struct http_response *resp, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(resp, 400, "invalid_request", field, fmt, ap);
    va_end(ap);
}

void http_reply_not_found(struct http_response *resp)
{
    http_reply_error(resp, 404, "not_found", NULL, "Not found.");
}

void http_reply_unavailable(struct http_response *resp)
{
    http_reply_error(resp, 503, "unavailable", NULL,
                     "The service is temporarily unavailable; retry shortly.");
    resp->retry_after = 1;
}

void http_reply_vapi_unauthorized(struct http_response *resp)
{
    http_reply_error(resp, 401, "unauthorized", NULL,
                     "The organization's Vapi secret is required (x-vapi-secret).");
}

void http_reply_empty(struct http_response *resp, unsigned status)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
    resp->status = status;
    resp->content_type = NULL;
}

void http_reply_text(struct http_response *resp, unsigned status, const char *content_type,
                     const char *text, size_t len)
{
    free(resp->body);
    resp->body = malloc(len + 1);
    resp->status = status;
    resp->content_type = content_type;
    resp->body_len = resp->body ? len : 0;
    if (resp->body) {
        memcpy(resp->body, text, len);
        resp->body[len] = '\0';
    } else {
        resp->status = 500;
    }
}
