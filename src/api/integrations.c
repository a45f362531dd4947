/* Integrations' settings (API.md, "Integrations"): Google Calendar,
 * Twilio and Vapi credentials, and providers' linked calendars. Sending
 * is the worker's (src/outbox/integ_send.c); this file records what the
 * organization wants. Credentials are sealed here and never answered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api/api.h"
#include "api/params.h"
#include "app.h"
#include "core/secretbox.h"
#include "core/validate.h"
#include "db/integrations.h"
#include "db/secrets.h"
#include "http/reply.h"

#define ID_MAX 512      /* client ids, assistant ids, account sids, ... */
#define SECRET_MAX 1024 /* client secrets, refresh tokens, auth tokens, API keys */

/* A required, non-empty string field of at most `max` characters. */
static bool required_text(struct http_request *req, struct http_response *resp, const char *name,
                          size_t max, const char **out)
{
    if (!api_body_string(req, resp, name, true, max, out))
        return false;
    if (!**out) {
        http_reply_invalid(resp, name, "%s must not be empty.", name);
        return false;
    }
    return true;
}

/*
 * Seals `secrets` (a JSON object of the write-only fields) bound to the
 * organization and kind, and stores it with `settings`; replies 200 with
 * the public view. Takes both references.
 */
static void put_integration(struct http_request *req, struct http_response *resp, const char *kind,
                            json_t *settings, json_t *secrets)
{
    const struct app *app = req->app;
    char *plain = secrets ? json_dumps(secrets, JSON_COMPACT) : NULL;
    char *settings_text = settings ? json_dumps(settings, JSON_COMPACT) : NULL;
    char aad[DB_SECRET_AAD_SIZE], key_id[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1];
    unsigned char sealed[DB_SEALED_MAX];
    size_t sealed_len = 0;
    json_t *out = NULL;
    struct db_result res;
    bool ok;

    if (!app->has_secret_key) {
        http_reply_error(resp, 503, "unavailable", NULL,
                         "Credentials cannot be stored: the server has no BOOKD_SECRET_KEY.");
        goto out;
    }
    db_integration_secret_aad(req->auth.org_id, kind, aad);
    ok = plain && settings_text &&
         core_secretbox_seal(&app->secret_key, (const unsigned char *)plain, strlen(plain), aad,
                             strlen(aad), sealed, sizeof sealed, &sealed_len) == 0;
    if (!ok) {
        http_reply_error(resp, 500, "internal", NULL, "Could not seal the credentials.");
        goto out;
    }
    core_secret_key_id_hex(&app->secret_key, key_id);
    db_integration_put(app->pool, req->auth.org_id, kind, settings_text, sealed, sealed_len, key_id,
                       req->auth.actor, &out, &res);
    api_reply_object(resp, 200, out, &res);
out:
    if (plain) {
        OPENSSL_cleanse(plain, strlen(plain));
        free(plain);
    }
    free(settings_text);
    json_decref(settings);
    if (secrets) {
        const char *k;
        json_t *v;
        json_object_foreach(secrets, k, v) if (json_is_string(v))
            OPENSSL_cleanse((void *)json_string_value(v), json_string_length(v));
        json_decref(secrets);
    }
}

void api_integrations_get(struct http_request *req, struct http_response *resp)
{
    json_t *out = NULL;
    struct db_result res;

    db_integrations_get(req->app->pool, req->auth.org_id, &out, &res);
    api_reply_object(resp, 200, out, &res);
}

void api_integration_put_google(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"clientId", "clientSecret", "refreshToken", NULL};
    const char *client_id, *client_secret, *refresh_token;

    if (!api_body_only_fields(req, resp, fields) ||
        !required_text(req, resp, "clientId", ID_MAX, &client_id) ||
        !required_text(req, resp, "clientSecret", SECRET_MAX, &client_secret) ||
        !required_text(req, resp, "refreshToken", SECRET_MAX, &refresh_token))
        return;
    put_integration(
        req, resp, "google", json_pack("{s:s}", "clientId", client_id),
        json_pack("{s:s, s:s}", "clientSecret", client_secret, "refreshToken", refresh_token));
}

/* Twilio's account SIDs: letters and digits ("AC" and 32 hex digits). */
static bool sid_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z')))
            return false;
    return true;
}

void api_integration_put_twilio(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"accountSid", "authToken", "fromNumber",
                                         "reminderHoursBefore", NULL};
    const char *sid, *token, *from;
    int hours = 24;

    if (!api_body_only_fields(req, resp, fields) ||
        !required_text(req, resp, "accountSid", 64, &sid))
        return;
    if (!sid_valid(sid)) {
        http_reply_invalid(resp, "accountSid",
                           "accountSid must be Twilio's account SID "
                           "(letters and digits, like AC0123...).");
        return;
    }
    if (!required_text(req, resp, "authToken", SECRET_MAX, &token) ||
        !required_text(req, resp, "fromNumber", 16, &from))
        return;
    if (!core_phone_valid(from, strlen(from))) {
        http_reply_invalid(resp, "fromNumber",
                           "fromNumber must be a phone number in E.164 form, like +14155550123.");
        return;
    }
    if (!api_body_int(req, resp, "reminderHoursBefore", false, 0, 168, &hours, NULL))
        return;
    put_integration(req, resp, "twilio",
                    json_pack("{s:s, s:s, s:i}", "accountSid", sid, "fromNumber", from,
                              "reminderHoursBefore", hours),
                    json_pack("{s:s}", "authToken", token));
}

void api_integration_put_vapi(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"apiKey", "assistantId", "phoneNumberId",
                                         "reminderCallHoursBefore", NULL};
    const char *key, *assistant, *number;
    int hours = 0;

    if (!api_body_only_fields(req, resp, fields) ||
        !required_text(req, resp, "apiKey", SECRET_MAX, &key) ||
        !required_text(req, resp, "assistantId", ID_MAX, &assistant) ||
        !required_text(req, resp, "phoneNumberId", ID_MAX, &number) ||
        !api_body_int(req, resp, "reminderCallHoursBefore", true, 1, 168, &hours, NULL))
        return;
    put_integration(req, resp, "vapi",
                    json_pack("{s:s, s:s, s:i}", "assistantId", assistant, "phoneNumberId", number,
                              "reminderCallHoursBefore", hours),
                    json_pack("{s:s}", "apiKey", key));
}

static void delete_integration(struct http_request *req, struct http_response *resp,
                               const char *kind)
{
    struct db_result res;

    db_integration_delete(req->app->pool, req->auth.org_id, kind, req->auth.actor, &res);
    if (res.outcome == DB_OK)
        http_reply_empty(resp, 204);
    else
        api_reply_db_failure(resp, &res);
}

void api_integration_delete_google(struct http_request *req, struct http_response *resp)
{
    delete_integration(req, resp, "google");
}

void api_integration_delete_twilio(struct http_request *req, struct http_response *resp)
{
    delete_integration(req, resp, "twilio");
}

void api_integration_delete_vapi(struct http_request *req, struct http_response *resp)
{
    delete_integration(req, resp, "vapi");
}

void api_calendar_link(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"calendarId", NULL};
    const char *calendar;
    json_t *out = NULL;
    struct db_result res;

    if (!api_body_only_fields(req, resp, fields) ||
        !required_text(req, resp, "calendarId", 1024, &calendar))
        return;
    db_calendar_link(req->app->pool, req->auth.org_id, req->params[0], calendar, req->auth.actor,
                     &out, &res);
    api_reply_object(resp, 200, out, &res);
}

void api_calendar_unlink(struct http_request *req, struct http_response *resp)
{
    struct db_result res;

    db_calendar_unlink(req->app->pool, req->auth.org_id, req->params[0], req->auth.actor, &res);
    if (res.outcome == DB_OK)
        http_reply_empty(resp, 204);
    else
        api_reply_db_failure(resp, &res);
}

void api_calendar_sync(struct http_request *req, struct http_response *resp)
{
    json_t *out = NULL;
    struct db_result res;

    db_calendar_sync_request(req->app->pool, req->auth.org_id, req->params[0], &out, &res);
    api_reply_object(resp, 202, out, &res);
}
