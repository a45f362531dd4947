/* Outbound webhooks: endpoints and their deliveries (API.md, "Outbound
 * webhooks"). Sending is the worker's (src/outbox/); this file only
 * records what the organization wants and shows what happened. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "api/api.h"
#include "api/params.h"
#include "app.h"
#include "core/netaddr.h"
#include "core/secretbox.h"
#include "core/validate.h"
#include "db/secrets.h"
#include "db/webhooks.h"
#include "http/reply.h"
#include "integrations/webhook_sign.h"

#define MAX_EVENTS 16
#define DELIVERY_LIMIT_DEFAULT 100
#define DELIVERY_LIMIT_MAX 500

/* A random (version 4) UUID in canonical form: the endpoint's id is
 * chosen here so that its sealed secret can be bound to it. */
static int random_uuid(char out[DB_ID_SIZE])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return -1;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, DB_ID_SIZE,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return 0;
}

/* `events`: a non-empty array of at most MAX_EVENTS strings, as JSON text
 * in *out (the SQL function checks the names). */
static bool body_events(struct http_request *req, struct http_response *resp, char **out)
{
    json_t *events = req->json ? json_object_get(req->json, "events") : NULL;
    size_t i;
    json_t *e;

    if (!json_is_array(events) || json_array_size(events) == 0 ||
        json_array_size(events) > MAX_EVENTS) {
        http_reply_invalid(resp, "events", "events must be a list of 1 to %d event names.",
                           MAX_EVENTS);
        return false;
    }
    json_array_foreach(events, i, e) if (!json_is_string(e) || json_string_length(e) > 64)
    {
        http_reply_invalid(resp, "events", "events must be a list of event names.");
        return false;
    }
    *out = json_dumps(events, JSON_COMPACT);
    return *out != NULL;
}

void api_webhooks_create(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"url", "events", NULL};
    const struct app *app = req->app;
    const char *url = NULL;
    char *events = NULL, why[200], id[DB_ID_SIZE], secret[INTEG_WEBHOOK_SECRET_SIZE],
         aad[DB_SECRET_AAD_SIZE], key_id[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1];
    unsigned char key[INTEG_WEBHOOK_KEY_MAX], sealed[INTEG_WEBHOOK_KEY_MAX + 64];
    size_t key_len = 0, sealed_len = 0;
    bool ok;
    json_t *endpoint = NULL;
    struct db_result res;

    if (!api_body_only_fields(req, resp, fields) ||
        !api_body_string(req, resp, "url", true, CORE_URL_MAX, &url))
        return;
    if (core_webhook_url_check(url, strlen(url), app->cfg.webhook_allow_private, NULL, why,
                               sizeof why) != 0) {
        http_reply_invalid(resp, "url", "%s", why);
        return;
    }
    if (!body_events(req, resp, &events))
        return;
    if (!app->has_secret_key) {
        free(events);
        http_reply_error(resp, 503, "unavailable", NULL,
                         "Webhook secrets cannot be stored: the server has no BOOKD_SECRET_KEY.");
        return;
    }
    ok = random_uuid(id) == 0 &&
         integ_webhook_secret_new(INTEG_WEBHOOK_KEY_DEFAULT, secret, sizeof secret) == 0 &&
         integ_webhook_secret_parse(secret, strlen(secret), key, sizeof key, &key_len) == 0;
    if (ok) {
        db_webhook_secret_aad(id, aad);
        ok = core_secretbox_seal(&app->secret_key, key, key_len, aad, strlen(aad), sealed,
                                 sizeof sealed, &sealed_len) == 0;
    }
    if (!ok) {
        free(events);
        OPENSSL_cleanse(key, sizeof key);
        OPENSSL_cleanse(secret, sizeof secret);
        http_reply_error(resp, 500, "internal", NULL, "Could not make the endpoint's secret.");
        return;
    }
    core_secret_key_id_hex(&app->secret_key, key_id);
    db_webhook_create(app->pool, req->auth.org_id, id, url, events, sealed, sealed_len, key_id,
                      req->auth.actor, &endpoint, &res);
    free(events);
    OPENSSL_cleanse(key, sizeof key);
    if (res.outcome == DB_OK && endpoint)
        json_object_set_new(endpoint, "secret", json_string(secret));
    OPENSSL_cleanse(secret, sizeof secret);
    api_reply_object(resp, 201, endpoint, &res);
}

void api_webhooks_list(struct http_request *req, struct http_response *resp)
{
    json_t *list = NULL;
    struct db_result res;

    db_webhook_list(req->app->pool, req->auth.org_id, &list, &res);
    api_reply_list(resp, "endpoints", list, &res);
}

void api_webhooks_delete(struct http_request *req, struct http_response *resp)
{
    struct db_result res;

    db_webhook_delete(req->app->pool, req->auth.org_id, req->params[0], req->auth.actor, &res);
    if (res.outcome == DB_OK)
        http_reply_empty(resp, 204);
    else
        api_reply_db_failure(resp, &res);
}

void api_deliveries_list(struct http_request *req, struct http_response *resp)
{
    const char *status = http_query(req, "status");
    char endpoint[DB_ID_SIZE];
    bool has_endpoint = false;
    int limit = DELIVERY_LIMIT_DEFAULT;
    json_t *list = NULL;
    struct db_result res;

    if (status && strcmp(status, "pending") != 0 && strcmp(status, "delivered") != 0 &&
        strcmp(status, "failed") != 0 && strcmp(status, "dead") != 0) {
        http_reply_invalid(resp, "status", "status must be pending, delivered, failed or dead.");
        return;
    }
    if (!api_query_uuid(req, resp, "endpointId", false, endpoint, &has_endpoint) ||
        !api_query_int(req, resp, "limit", false, 1, DELIVERY_LIMIT_MAX, &limit, NULL))
        return;
    db_delivery_list(req->app->pool, req->auth.org_id, status, has_endpoint ? endpoint : NULL,
                     limit, &list, &res);
    api_reply_list(resp, "deliveries", list, &res);
}

void api_deliveries_retry(struct http_request *req, struct http_response *resp)
{
    json_t *delivery = NULL;
    struct db_result res;

    db_delivery_retry(req->app->pool, req->auth.org_id, req->params[0], req->auth.actor,
                      &delivery, &res);
    api_reply_object(resp, 202, delivery, &res);
}
