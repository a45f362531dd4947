#include "integrations/twilio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int integ_twilio_sms_request(const char *base, const char *account_sid, const char *auth_token,
                             const char *from, const char *to, const char *text,
                             struct integ_request *out)
{
    struct integ_text u = {0}, form = {0}, auth = {0};

    memset(out, 0, sizeof *out);
    integ_text_add(&u, base);
    integ_text_add(&u, "/2010-04-01/Accounts/");
    integ_text_add_escaped(&u, account_sid);
    integ_text_add(&u, "/Messages.json");
    integ_text_add_field(&form, "To", to);
    integ_text_add_field(&form, "From", from);
    integ_text_add_field(&form, "Body", text);
    integ_text_add(&auth, account_sid);
    integ_text_add(&auth, ":");
    integ_text_add(&auth, auth_token);
    out->method = "POST";
    out->url = integ_text_take(&u, NULL);
    out->body = integ_text_take(&form, &out->body_len);
    out->userpwd = integ_text_take(&auth, NULL);
    if (!out->url || !out->body || !out->userpwd ||
        !integ_request_header(out, "Content-Type", "application/x-www-form-urlencoded") ||
        !integ_request_header(out, "Expect", "")) {
        integ_request_cleanup(out);
        return -1;
    }
    return 0;
}
