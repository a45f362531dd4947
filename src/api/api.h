/*
 * The HTTP API of bookd: one file per resource, each handler reading like
 * a story (parse -> validate -> one db call -> reply). The route table is
 * in api/routes.c.
 */
#ifndef BOOKD_API_H
#define BOOKD_API_H

#include <jansson.h>

#include "core/json_text.h"
#include "db/orgs.h"
#include "db/result.h"
#include "http/router.h"

extern const struct http_route api_routes[];
extern const int api_route_count;

/* The caller's organization, as the db layer wants it. */
struct db_org_ref api_org(const struct http_request *req);

/* The hash an Idempotency-Key is stored with: the operation, the
 * organization and the body as a JSON value (key order and spacing do not
 * make two equal requests differ). */
void api_request_hash(const struct http_request *req, const char *operation,
                      unsigned char out[32]);
/* The same over any JSON value (a Vapi tool call's arguments). */
void api_request_hash_of(const char *org_id, const char *operation, json_t *value,
                         unsigned char out[32]);

/* Replies for a db outcome that is not DB_OK (400, 404, 409, 422, 503, 500). */
void api_reply_db_failure(struct http_response *resp, const struct db_result *res);
/* 409 slot_unavailable naming what is in the way (api_conflict_add); a
 * replayed answer says so. */
void api_reply_conflict(struct http_request *req, struct http_response *resp,
                        const struct db_result *res);

/* `obj` (stolen: the reference is released either way) with `status` when
 * the db call gave DB_OK and an object; else the failure (a 500 for DB_OK
 * without one). */
void api_reply_object(struct http_response *resp, unsigned status, json_t *obj,
                      const struct db_result *res);
/* The same for a list: 200 with {"<name>": list}. */
void api_reply_list(struct http_response *resp, const char *name, json_t *list,
                    const struct db_result *res);

/* The API's appointment object, fields in the documented order, written
 * as text (the booking path builds no JSON tree; core/json_text.h). */
void api_appointment_write(struct core_json_buf *b, const struct db_appointment *a);

/* Adds what is in the way to `body` (API.md, "Conflicts with holds and
 * external busy times"): "conflictingAppointment" {"id"?, "scheduledAt",
 * "durationMinutes"}, with the id for admin keys only, or "conflictingHold"
 * {"scheduledAt", "durationMinutes", "expiresAt"}, which never says whose. */
void api_conflict_add(json_t *body, const struct db_conflict *c, bool with_id);

/* A new organization with freshly generated keys (shown once, stored as
 * hashes). Used by POST /api/orgs and by `bookd org create`. */
struct api_org_secrets {
    char admin_key[64];
    char public_key[64];
    char vapi_secret[64];
    struct db_org_created org;
};
int api_org_provision(struct db_pool *pool, const char *name, const char *timezone,
                      struct api_org_secrets *out, struct db_result *res);
/* The API's answer to a new organization, secrets included: a new reference. */
json_t *api_org_json(const char *name, const char *timezone, const struct api_org_secrets *s);

void api_orgs_create(struct http_request *req, struct http_response *resp);
void api_orgs_rotate_vapi_secret(struct http_request *req, struct http_response *resp);
void api_orgs_me_get(struct http_request *req, struct http_response *resp);
void api_orgs_me_update(struct http_request *req, struct http_response *resp);
void api_providers_create(struct http_request *req, struct http_response *resp);
void api_providers_list(struct http_request *req, struct http_response *resp);
void api_providers_set_hours(struct http_request *req, struct http_response *resp);
void api_services_create(struct http_request *req, struct http_response *resp);
void api_services_list(struct http_request *req, struct http_response *resp);
void api_contacts_create(struct http_request *req, struct http_response *resp);
void api_contacts_get(struct http_request *req, struct http_response *resp);
void api_contacts_erase(struct http_request *req, struct http_response *resp);
void api_appointments_book(struct http_request *req, struct http_response *resp);
void api_appointments_list(struct http_request *req, struct http_response *resp);
void api_appointments_get(struct http_request *req, struct http_response *resp);
void api_appointments_cancel(struct http_request *req, struct http_response *resp);
void api_appointments_reschedule(struct http_request *req, struct http_response *resp);
/* Counts what a booking call did to holds (bookd_holds_total): a hold it
 * converted, expired holds it removed from its way. */
void api_holds_observe(const struct db_result *res);
void api_holds_create(struct http_request *req, struct http_response *resp);
void api_holds_release(struct http_request *req, struct http_response *resp);
void api_vapi_webhook(struct http_request *req, struct http_response *resp);
void api_vapi_calls_list(struct http_request *req, struct http_response *resp);
/* Waits up to timeout_ms for the voice agent's tool calls still running
 * (a call answered "one moment" goes on); false if some still are. */
bool api_vapi_jobs_wait(int timeout_ms);
void api_availability_check(struct http_request *req, struct http_response *resp);
void api_availability_slots(struct http_request *req, struct http_response *resp);
void api_availability_days(struct http_request *req, struct http_response *resp);
void api_audit_list(struct http_request *req, struct http_response *resp);
void api_webhooks_create(struct http_request *req, struct http_response *resp);
void api_webhooks_list(struct http_request *req, struct http_response *resp);
void api_webhooks_delete(struct http_request *req, struct http_response *resp);
void api_deliveries_list(struct http_request *req, struct http_response *resp);
void api_deliveries_retry(struct http_request *req, struct http_response *resp);
void api_breakers_list(struct http_request *req, struct http_response *resp);
void api_integrations_get(struct http_request *req, struct http_response *resp);
void api_integration_put_google(struct http_request *req, struct http_response *resp);
void api_integration_put_twilio(struct http_request *req, struct http_response *resp);
void api_integration_put_vapi(struct http_request *req, struct http_response *resp);
void api_integration_delete_google(struct http_request *req, struct http_response *resp);
void api_integration_delete_twilio(struct http_request *req, struct http_response *resp);
void api_integration_delete_vapi(struct http_request *req, struct http_response *resp);
void api_calendar_link(struct http_request *req, struct http_response *resp);
void api_calendar_unlink(struct http_request *req, struct http_response *resp);
void api_calendar_sync(struct http_request *req, struct http_response *resp);
void api_manage_get(struct http_request *req, struct http_response *resp);
void api_manage_slots(struct http_request *req, struct http_response *resp);
void api_manage_slot_days(struct http_request *req, struct http_response *resp);
void api_manage_cancel(struct http_request *req, struct http_response *resp);
void api_manage_reschedule(struct http_request *req, struct http_response *resp);
/* "<public URL>/manage/<token>": the link a patient gets. */
void api_manage_url(const struct app *app, const char *token, char *out, size_t size);
void api_ops_health(struct http_request *req, struct http_response *resp);
void api_ops_ready(struct http_request *req, struct http_response *resp);
void api_ops_metrics(struct http_request *req, struct http_response *resp);
void api_ops_openapi(struct http_request *req, struct http_response *resp);
void api_ops_metrics_history(struct http_request *req, struct http_response *resp);
void api_pages_book(struct http_request *req, struct http_response *resp);
void api_pages_manage(struct http_request *req, struct http_response *resp);
void api_pages_admin(struct http_request *req, struct http_response *resp);
void api_pages_static(struct http_request *req, struct http_response *resp);

#endif
