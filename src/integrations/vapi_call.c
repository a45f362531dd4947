#include "integrations/vapi_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int integ_vapi_call_request(const char *base, const char *api_key, const char *assistant_id,
                            const char *phone_number_id, const char *number,
                            const char *appointment_id, const char *scheduled_at,
                            const char *local_time, struct integ_request *out)
{
    struct integ_text u = {0};
    json_t *call = json_pack("{s:s, s:s, s:{s:s}, s:{s:{s:s, s:s, s:s}}}", "assistantId",
                             assistant_id, "phoneNumberId", phone_number_id, "customer", "number",
                             number, "assistantOverrides", "variableValues", "appointmentId",
                             appointment_id, "scheduledAt", scheduled_at, "localTime", local_time);

    memset(out, 0, sizeof *out);
    integ_text_add(&u, base);
    integ_text_add(&u, "/call");
    out->method = "POST";
    out->url = integ_text_take(&u, NULL);
    out->body = call ? json_dumps(call, JSON_COMPACT) : NULL;
    json_decref(call);
    if (!out->url || !out->body || !integ_request_bearer(out, api_key) ||
        !integ_request_header(out, "Content-Type", "application/json") ||
        !integ_request_header(out, "Expect", "")) {
        integ_request_cleanup(out);
        return -1;
    }
    out->body_len = strlen(out->body);
    return 0;
}
