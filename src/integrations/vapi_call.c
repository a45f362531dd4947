#include "integrations/vapi_call.h"

int integ_vapi_call_request(const char *base, const char *api_key, const char *assistant_id,
                            const char *phone_number_id, const char *number,
                            const char *appointment_id, const char *scheduled_at,
                            const char *local_time, struct integ_request *out)
{
    struct integ_text u = {0};

    integ_text_add(&u, base);
    integ_text_add(&u, "/call");
    return integ_request_json_post(
        integ_text_take(&u, NULL),
        json_pack("{s:s, s:s, s:{s:s}, s:{s:{s:s, s:s, s:s}}}", "assistantId", assistant_id,
                  "phoneNumberId", phone_number_id, "customer", "number", number,
                  "assistantOverrides", "variableValues", "appointmentId", appointment_id,
                  "scheduledAt", scheduled_at, "localTime", local_time),
        api_key, out);
}
