/* Contacts (patients, customers) and their erasure (GDPR Art. 17). */
#include <string.h>

#include "api/api.h"
#include "api/params.h"
#include "app.h"
#include "core/validate.h"
#include "db/contacts.h"
#include "http/reply.h"

void api_contacts_create(struct http_request *req, struct http_response *resp)
{
    static const char *const fields[] = {"name", "phone", "email", NULL};
    const char *name = NULL, *phone = NULL, *email = NULL;
    json_t *contact = NULL;
    struct db_result res;

    if (!api_body_only_fields(req, resp, fields) ||
        !api_body_string(req, resp, "name", true, CORE_NAME_MAX_CHARS, &name) ||
        !api_body_string(req, resp, "phone", false, 16, &phone) ||
        !api_body_string(req, resp, "email", false, CORE_EMAIL_MAX_LEN, &email))
        return;
    if (!*name) {
        http_reply_invalid(resp, "name", "name must not be empty.");
        return;
    }
    if (phone && !core_phone_valid(phone, strlen(phone))) {
        http_reply_invalid(resp, "phone", "phone must be in E.164 form, e.g. +447700900123.");
        return;
    }
    if (email && !core_email_valid(email, strlen(email))) {
        http_reply_invalid(resp, "email", "email must be a valid e-mail address.");
        return;
    }
    db_contact_create(req->app->pool, req->auth.org_id, name, phone, email, req->auth.actor,
                      &contact, &res);
    api_reply_object(resp, 201, contact, &res);
}

void api_contacts_get(struct http_request *req, struct http_response *resp)
{
    json_t *contact = NULL;
    struct db_result res;

    db_contact_get(req->app->pool, req->auth.org_id, req->params[0], &contact, &res);
    api_reply_object(resp, 200, contact, &res);
}

void api_contacts_erase(struct http_request *req, struct http_response *resp)
{
    json_t *summary = NULL;
    struct db_result res;

    db_contact_erase(req->app->pool, req->auth.org_id, req->params[0], req->auth.actor, &summary,
                     &res);
    json_decref(summary);
    if (res.outcome == DB_OK)
        http_reply_empty(resp, 204);
    else
        api_reply_db_failure(resp, &res);
}
