/*
 * One send of the outbox worker (src/outbox/worker.c): a webhook delivery,
 * a delivery to an integration (src/outbox/integ_send.c), or a calendar's
 * busy-time import. Private to src/outbox/.
 */
#ifndef BOOKD_OUTBOX_SEND_H
#define BOOKD_OUTBOX_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#include "app.h"
#include "core/json_text.h"
#include "db/deliveries.h"
#include "db/integrations.h"
#include "integrations/google.h"
#include "integrations/request.h"

enum send_kind { SEND_WEBHOOK, SEND_GOOGLE, SEND_TWILIO, SEND_VAPI, SEND_SYNC };

/* Google's two steps: the token grant, then the call it was for. */
enum send_phase { PHASE_CALL, PHASE_TOKEN };

/* A calendar import's busy events so far, as Google gave them. */
struct busy_list {
    char **starts, **ends, **ids; /* owned */
    size_t n, cap;
};

struct send {
    CURL *easy;
    enum send_kind kind;
    struct db_delivery d;       /* a delivery (not SEND_SYNC) */
    struct db_calendar_job job; /* SEND_SYNC */
    struct integ_request req;
    char error[CURL_ERROR_SIZE];
    const char *refused; /* the address class refused at connect, or NULL */
    bool allow_private;
    size_t response_bytes;

    /* Integrations. */
    enum send_phase phase;
    bool token_fresh; /* the token was granted for this send: a 401 is final */
    json_t *ctx;      /* the delivery's context (its payload), parsed */
    json_t *creds;    /* the opened credentials */
    char token[INTEG_GOOGLE_TOKEN_MAX];
    bool keep_answer; /* keep the answer's body (a token, an events page) */
    struct core_json_buf answer;
    char page_token[1024]; /* SEND_SYNC: the next page, "" for the first */
    int pages;
    struct busy_list busy;
};

#endif
