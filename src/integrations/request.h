/*
 * One outbound HTTP request of a delivery, as the worker sends it on its
 * libcurl multi handle: a webhook (integrations/webhook.h), or a call to
 * Google, Twilio or Vapi (integrations/google.h, twilio.h, vapi_call.h).
 * Pure building: nothing here touches the network or the database.
 */
#ifndef BOOKD_INTEGRATIONS_REQUEST_H
#define BOOKD_INTEGRATIONS_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

struct integ_request {
    const char *method;         /* static: "POST" (NULL means POST), "GET", "DELETE" */
    char *url;                  /* owned; NULL: the delivery's own URL (a webhook) */
    struct curl_slist *headers; /* owned */
    char *body;                 /* owned; NULL: none */
    size_t body_len;
    char *userpwd; /* owned; "user:password" for HTTP Basic, or NULL */
};

void integ_request_cleanup(struct integ_request *r);
/* Appends "name: value" to the request's headers; false when out of
 * memory or too long. */
bool integ_request_header(struct integ_request *r, const char *name, const char *value);
/* "Authorization: Bearer <token>"; false as above. */
bool integ_request_bearer(struct integ_request *r, const char *token);

/*
 * A POST of `body` (a JSON value, taken: released here whatever happens)
 * to `url` (taken: owned by the request from here) with Authorization:
 * Bearer `token`, into *out. 0, or -1 (out of memory, or body or url NULL)
 * with *out cleaned up.
 */
int integ_request_json_post(char *url, json_t *body, const char *token,
                            struct integ_request *out);

/* A growing string, for URLs and form bodies. */
struct integ_text {
    char *data;
    size_t len, cap;
    bool failed; /* out of memory: everything after is dropped */
};
void integ_text_add(struct integ_text *t, const char *s);
/* Adds `s` percent-encoded (RFC 3986 unreserved characters kept). */
void integ_text_add_escaped(struct integ_text *t, const char *s);
/* Adds "&name=value" (no "&" first), both percent-encoded: a form field. */
void integ_text_add_field(struct integ_text *t, const char *name, const char *value);
/* The text (owned by the caller), or NULL when memory ran out. */
char *integ_text_take(struct integ_text *t, size_t *len);

#endif
