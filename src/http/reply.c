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

static void reply_error_v(struct http_response *resp, unsigned status, const char *code,
                          const char *field, const char *fmt, va_list ap)
{
    char message[512];
    json_t *body;

    vsnprintf(message, sizeof message, fmt, ap);
    body = json_pack("{s:s, s:s}", "error", code, "message", message);
    if (body && field && *field)
        json_object_set_new(body, "field", json_string(field));
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
