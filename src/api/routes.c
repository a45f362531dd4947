/* The route table: every path of the API, its scope and its handler. */
#include "api/api.h"

const struct http_route api_routes[] = {
    {HTTP_GET, "/health", SCOPE_OPEN, api_ops_health, false},
    {HTTP_GET, "/ready", SCOPE_OPEN, api_ops_ready, false},
    {HTTP_GET, "/metrics", SCOPE_OPEN, api_ops_metrics, false},
    {HTTP_GET, "/openapi.json", SCOPE_OPEN, api_ops_openapi, false},
    {HTTP_POST, "/api/orgs", SCOPE_SERVER_ADMIN, api_orgs_create, true},
    {HTTP_POST, "/api/orgs/me/vapi-secret", SCOPE_ADMIN, api_orgs_rotate_vapi_secret, false},
    {HTTP_GET, "/api/providers", SCOPE_PUBLIC, api_providers_list, false},
    {HTTP_POST, "/api/providers", SCOPE_ADMIN, api_providers_create, true},
    {HTTP_PUT, "/api/providers/{id}/working-hours", SCOPE_ADMIN, api_providers_set_hours, true},
    {HTTP_GET, "/api/services", SCOPE_PUBLIC, api_services_list, false},
    {HTTP_POST, "/api/services", SCOPE_ADMIN, api_services_create, true},
    {HTTP_POST, "/api/contacts", SCOPE_PUBLIC, api_contacts_create, true},
    {HTTP_GET, "/api/contacts/{id}", SCOPE_ADMIN, api_contacts_get, false},
    {HTTP_DELETE, "/api/contacts/{id}", SCOPE_ADMIN, api_contacts_erase, false},
    {HTTP_GET, "/api/appointments", SCOPE_ADMIN, api_appointments_list, false},
    {HTTP_POST, "/api/appointments", SCOPE_PUBLIC, api_appointments_book, true},
    {HTTP_GET, "/api/appointments/{id}", SCOPE_ADMIN, api_appointments_get, false},
    {HTTP_POST, "/api/appointments/{id}/cancel", SCOPE_ADMIN, api_appointments_cancel, true},
    {HTTP_POST, "/api/appointments/{id}/reschedule", SCOPE_ADMIN, api_appointments_reschedule,
     true},
    {HTTP_POST, "/api/holds", SCOPE_PUBLIC, api_holds_create, true},
    {HTTP_DELETE, "/api/holds/{id}", SCOPE_PUBLIC, api_holds_release, false},
    {HTTP_GET, "/api/availability/check", SCOPE_PUBLIC, api_availability_check, false},
    {HTTP_GET, "/api/availability", SCOPE_PUBLIC, api_availability_slots, false},
    {HTTP_GET, "/api/audit-log", SCOPE_ADMIN, api_audit_list, false},
    {HTTP_GET, "/api/webhook-endpoints", SCOPE_ADMIN, api_webhooks_list, false},
    {HTTP_POST, "/api/webhook-endpoints", SCOPE_ADMIN, api_webhooks_create, true},
    {HTTP_DELETE, "/api/webhook-endpoints/{id}", SCOPE_ADMIN, api_webhooks_delete, false},
    {HTTP_GET, "/api/webhook-deliveries", SCOPE_ADMIN, api_deliveries_list, false},
    {HTTP_POST, "/api/webhook-deliveries/{id}/retry", SCOPE_ADMIN, api_deliveries_retry, true},
    {HTTP_GET, "/api/breakers", SCOPE_ADMIN, api_breakers_list, false},
    {HTTP_POST, "/api/webhooks/vapi", SCOPE_VAPI, api_vapi_webhook, true},
};

const int api_route_count = (int)(sizeof api_routes / sizeof api_routes[0]);
