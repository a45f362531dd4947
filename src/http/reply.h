/*
 * Filling in responses: JSON bodies and the error contract
 * {"error": code, "message": sentence, "field"?: name}.
 */
#ifndef BOOKD_HTTP_REPLY_H
#define BOOKD_HTTP_REPLY_H

#include <jansson.h>

#include "core/json_text.h"

#include "http/request.h"

/*
 * Reals are written with 15 significant digits: a number a client wrote
 * with up to 15 digits (every decimal a person types) comes back as
 * written, not as 0.10000000000000001.
 */
#define HTTP_JSON_REAL_PRECISION JSON_REAL_PRECISION(15)

/* Serializes `body` (stolen: the reference is released) with status. */
void http_reply_json(struct http_response *resp, unsigned status, json_t *body);

/* The JSON text written into `body` (emptied), with status; a 500 if the
 * text could not be written. */
void http_reply_json_text(struct http_response *resp, unsigned status, struct core_json_buf *body);

/*
 * An error reply. `field` may be NULL; the message is printf-formatted and
 * must never carry libpq/curl text or personal data.
 */
void http_reply_error(struct http_response *resp, unsigned status, const char *code,
                      const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Shorthands for the common ones. */
void http_reply_invalid(struct http_response *resp, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void http_reply_not_found(struct http_response *resp);
void http_reply_unavailable(struct http_response *resp);
/* 401 on the voice agent's route: no valid Vapi secret. */
void http_reply_vapi_unauthorized(struct http_response *resp);

/* No body (204). */
void http_reply_empty(struct http_response *resp, unsigned status);

/* The Content-Type of every JSON reply. */
#define HTTP_JSON_TYPE "application/json; charset=utf-8"

/* Text already rendered (metrics, JSON built elsewhere). `text` is copied. */
void http_reply_text(struct http_response *resp, unsigned status, const char *content_type,
                     const char *text, size_t len);

#endif
