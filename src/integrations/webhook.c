#include "integrations/webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"
#include "integrations/webhook_sign.h"

int integ_webhook_request(const char *delivery_id, const char *event_type, const char *event_at,
                          const char *payload, const unsigned char *key, size_t key_len,
                          int64_t now_s, struct integ_request *out)
{
    struct core_json_buf b = {0};
    char msg_id[INTEG_WEBHOOK_ID_SIZE], signature[INTEG_WEBHOOK_SIGNATURE_SIZE], ts[24];

    memset(out, 0, sizeof *out);
    CORE_JSON_BUF_LITERAL(&b, "{\"type\":");
    core_json_buf_string(&b, event_type);
    CORE_JSON_BUF_LITERAL(&b, ",\"timestamp\":");
    core_json_buf_string(&b, event_at);
    CORE_JSON_BUF_LITERAL(&b, ",\"data\":");
    core_json_buf_compact(&b, payload, strlen(payload));
    CORE_JSON_BUF_LITERAL(&b, "}");
    if (!(out->body = core_json_buf_take(&b, &out->body_len)))
        return -1;
    snprintf(ts, sizeof ts, "%lld", (long long)now_s);
    if (integ_webhook_id(delivery_id, strlen(delivery_id), msg_id, sizeof msg_id) != 0 ||
        integ_webhook_sign(key, key_len, msg_id, now_s, out->body, out->body_len, signature,
                           sizeof signature) != 0 ||
        !integ_request_header(out, "Content-Type", "application/json") ||
        !integ_request_header(out, "webhook-id", msg_id) ||
        !integ_request_header(out, "webhook-timestamp", ts) ||
        !integ_request_header(out, "webhook-signature", signature) ||
        /* No "Expect: 100-continue" round trip for a body of a few KiB. */
        !integ_request_header(out, "Expect", "")) {
        integ_request_cleanup(out);
        return -1;
    }
    return 0;
}
