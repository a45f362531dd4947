/*
 * The HTTP request of one webhook delivery (API.md, "Outbound webhooks"):
 * POST of {"type","timestamp","data"} to the endpoint's URL, signed per
 * Standard Webhooks (integrations/webhook_sign.h). The worker sends it.
 */
#ifndef BOOKD_INTEGRATIONS_WEBHOOK_H
#define BOOKD_INTEGRATIONS_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "integrations/request.h"

/*
 * Builds the request for delivery `delivery_id` (a UUID: its webhook-id,
 * stable across attempts) of an event of `event_type` at `event_at` (API
 * form) whose data is `payload` (a JSON object), signed with `key` at
 * `now_s`. Returns 0, or -1 (out of memory, bad key). Release with
 * integ_request_cleanup.
 */
int integ_webhook_request(const char *delivery_id, const char *event_type, const char *event_at,
                          const char *payload, const unsigned char *key, size_t key_len,
                          int64_t now_s, struct integ_request *out);

#endif
