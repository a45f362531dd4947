/*
 * Twilio's Messages API (API.md, "Integrations"): POST
 * {base}/2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP Basic
 * AccountSid:AuthToken, form-encoded To, From, Body.
 */
#ifndef BOOKD_INTEGRATIONS_TWILIO_H
#define BOOKD_INTEGRATIONS_TWILIO_H

#include "integrations/request.h"

/* 0, or -1 (out of memory). */
int integ_twilio_sms_request(const char *base, const char *account_sid, const char *auth_token,
                             const char *from, const char *to, const char *text,
                             struct integ_request *out);

#endif
