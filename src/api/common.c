/* What every resource file shares: the caller's organization, the mapping
 * of db outcomes to replies, and rendering of appointments. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "app.h"
#include "core/time.h"
#include "http/reply.h"

struct db_org_ref api_org(const struct http_request *req)
{
    struct db_org_ref ref = {req->auth.org_id, req->auth.default_provider_id};
    return ref;
}

void api_reply_db_failure(struct http_response *resp, const struct db_result *res)
{
    switch (res->outcome) {
    case DB_INVALID:
        http_reply_invalid(resp, res->field[0] ? res->field : NULL, "%s.", res->message);
        break;
    case DB_NOT_FOUND:
        http_reply_not_found(resp);
        break;
    case DB_INVALID_STATE:
        http_reply_error(resp, 409, "invalid_state", NULL, "%s.", res->message);
        break;
    case DB_IDEMPOTENCY_REUSED:
        http_reply_error(resp, 422, "idempotency_key_reused", "Idempotency-Key",
                         "This Idempotency-Key was already used with a different request.");
        break;
    case DB_BUSY:
        http_reply_error(resp, 409, "slot_busy", NULL,
                         "The slot is being booked by another request; retry shortly.");
        resp->retry_after = 1;
        break;
    case DB_UNAVAILABLE:
        http_reply_unavailable(resp);
        break;
    default:
        http_reply_error(resp, 500, "internal", NULL, "The request could not be completed.");
        break;
    }
}

static json_t *time_or_null(bool has, int64_t ms)
{
    char iso[CORE_ISO_LEN + 1];
    return has && core_iso_format(ms, iso) == 0 ? json_string(iso) : json_null();
}

static json_t *id_or_null(const char *id)
{
    return id[0] ? json_string(id) : json_null();
}

json_t *api_appointment_json(const struct db_appointment *a)
{
    static const char *const statuses[] = {"confirmed", "cancelled", "rescheduled"};
    json_t *o = json_object();
    json_t *metadata = a->metadata_json ? json_loads(a->metadata_json, 0, NULL) : NULL;

    json_object_set_new(o, "id", json_string(a->id));
    json_object_set_new(o, "providerId", json_string(a->provider_id));
    json_object_set_new(o, "contactId", json_string(a->contact_id));
    json_object_set_new(o, "serviceId", id_or_null(a->service_id));
    json_object_set_new(o, "scheduledAt", time_or_null(true, a->scheduled_at_ms));
    json_object_set_new(o, "durationMinutes", json_integer(a->duration_minutes));
    json_object_set_new(o, "status", json_string(statuses[a->status]));
    json_object_set_new(o, "notes", a->notes ? json_string(a->notes) : json_null());
    json_object_set_new(o, "metadata", metadata ? metadata : json_object());
    json_object_set_new(o, "createdAt", time_or_null(true, a->created_at_ms));
    json_object_set_new(o, "cancelledAt", time_or_null(a->has_cancelled_at, a->cancelled_at_ms));
    json_object_set_new(o, "rescheduledTo", id_or_null(a->rescheduled_to));
    return o;
}

json_t *api_conflict_json(const struct db_conflict *c, bool with_id)
{
    json_t *o = json_object();
    if (with_id && c->id[0])
        json_object_set_new(o, "id", json_string(c->id));
    json_object_set_new(o, "scheduledAt", time_or_null(true, c->scheduled_at_ms));
    json_object_set_new(o, "durationMinutes", json_integer(c->duration_minutes));
    return o;
}
