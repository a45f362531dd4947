/*
 * Vapi's outbound call (API.md, "Integrations"): POST {base}/call with
 * Authorization: Bearer <apiKey> and JSON {"assistantId","phoneNumberId",
 * "customer":{"number"},"assistantOverrides":{"variableValues":
 * {"appointmentId","scheduledAt","localTime"}}}: a reminder call.
 */
#ifndef BOOKD_INTEGRATIONS_VAPI_CALL_H
#define BOOKD_INTEGRATIONS_VAPI_CALL_H

#include "integrations/request.h"

/* 0, or -1 (out of memory). */
int integ_vapi_call_request(const char *base, const char *api_key, const char *assistant_id,
                            const char *phone_number_id, const char *number,
                            const char *appointment_id, const char *scheduled_at,
                            const char *local_time, struct integ_request *out);

#endif
