/*
 * Reading and validating request fields. Each reader checks one field of
 * the JSON body (or one query parameter); on a bad value it replies 400
 * invalid_request naming the field and returns false, so a handler reads:
 *
 *     if (!api_body_uuid(req, resp, "contactId", true, contact_id, NULL)) return;
 *
 * Optional fields that are absent (or JSON null) leave the output alone
 * and return true; `*present` (when asked for) says whether one was given.
 *
 * Strings handed out (api_body_string's *out, the Idempotency-Key) point
 * into the request and live as long as it; nothing needs freeing except
 * api_body_object's *out_text.
 */
#ifndef BOOKD_API_PARAMS_H
#define BOOKD_API_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "http/request.h"

/* Replies 400 for the first field of the body not in `allowed` (NULL-ended;
 * "orgId" is always allowed). */
bool api_body_only_fields(struct http_request *req, struct http_response *resp,
                          const char *const *allowed);

/* Replies 400 "<name> is required." when the body has no field `name` (or
 * it is null). */
bool api_body_required(struct http_request *req, struct http_response *resp, const char *name);

bool api_body_string(struct http_request *req, struct http_response *resp, const char *name,
                     bool required, size_t max_chars, const char **out);
bool api_body_int(struct http_request *req, struct http_response *resp, const char *name,
                  bool required, long long lo, long long hi, int *out, bool *present);
bool api_body_uuid(struct http_request *req, struct http_response *resp, const char *name,
                   bool required, char *out /* DB_ID_SIZE */, bool *present);
bool api_body_time(struct http_request *req, struct http_response *resp, const char *name,
                   bool required, int64_t *out_ms);
/* A JSON object at most `max_bytes` when serialized; *out_text is malloc'd. */
bool api_body_object(struct http_request *req, struct http_response *resp, const char *name,
                     size_t max_bytes, char **out_text);

bool api_query_int(struct http_request *req, struct http_response *resp, const char *name,
                   bool required, long long lo, long long hi, int *out, bool *present);
bool api_query_uuid(struct http_request *req, struct http_response *resp, const char *name,
                    bool required, char *out, bool *present);
bool api_query_time(struct http_request *req, struct http_response *resp, const char *name,
                    bool required, int64_t *out_ms, bool *present);
/* A required calendar date (YYYY-MM-DD) into *days since the epoch. */
bool api_query_date(struct http_request *req, struct http_response *resp, const char *name,
                    int64_t *days);
/* The required dates `from` and `to`: to not before from, at most
 * max_days dates in all (400 naming the field otherwise). */
#define API_DAYS_MAX 62
bool api_query_date_range(struct http_request *req, struct http_response *resp, int max_days);

/* A valid Idempotency-Key header, or NULL when absent; replies 400 and sets
 * *bad when it is present but empty, too long or not printable ASCII. */
const char *api_header_idempotency_key(struct http_request *req, struct http_response *resp,
                                       bool *bad);

#endif
