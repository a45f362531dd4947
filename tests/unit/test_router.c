/* The route table: matching, UUID segments, 404 and 405 with Allow. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/router.h"

static void noop(struct http_request *req, struct http_response *resp)
{
    (void)req;
    (void)resp;
}

static const struct http_route routes[] = {
    {HTTP_GET, "/api/appointments", SCOPE_ADMIN, noop, false},
    {HTTP_POST, "/api/appointments", SCOPE_PUBLIC, noop, true},
    {HTTP_GET, "/api/appointments/{id}", SCOPE_ADMIN, noop, false},
    {HTTP_POST, "/api/appointments/{id}/cancel", SCOPE_ADMIN, noop, true},
};
#define COUNT ((int)(sizeof routes / sizeof routes[0]))
#define ID "0c9d6a4e-1b2f-4c3d-8e5f-a6b7c8d9e0f1"

static int find(enum http_method m, const char *path, struct http_request *req, char *allow)
{
    memset(req, 0, sizeof *req);
    return http_route_find(routes, COUNT, m, path, req, allow, 64);
}

Test(router, matches_method_and_path)
{
    struct http_request req;
    char allow[64];
    cr_assert_eq(find(HTTP_GET, "/api/appointments", &req, allow), 0);
    cr_assert_eq(find(HTTP_POST, "/api/appointments", &req, allow), 1);
    cr_assert_eq(find(HTTP_POST, "/api/appointments/" ID "/cancel", &req, allow), 3);
    cr_assert_str_eq(req.params[0], ID);
}

Test(router, uuid_segments_are_normalized_to_lower_case)
{
    struct http_request req;
    char allow[64];
    cr_assert_eq(find(HTTP_GET, "/api/appointments/0C9D6A4E-1B2F-4C3D-8E5F-A6B7C8D9E0F1", &req,
                      allow),
                 2);
    cr_assert_str_eq(req.params[0], ID);
}

Test(router, malformed_ids_and_unknown_paths_are_404)
{
    struct http_request req;
    char allow[64];
    cr_assert_eq(find(HTTP_GET, "/api/appointments/not-a-uuid", &req, allow), -1);
    cr_assert_eq(find(HTTP_GET, "/api/appointments/" ID "x", &req, allow), -1);
    cr_assert_eq(find(HTTP_GET, "/api/appointment", &req, allow), -1);
    cr_assert_eq(find(HTTP_GET, "/api/appointments/", &req, allow), -1);
    cr_assert_eq(find(HTTP_GET, "/api/appointments/" ID "/cancel/more", &req, allow), -1);
    cr_assert_eq(find(HTTP_GET, "", &req, allow), -1);
}

Test(router, known_path_wrong_method_is_405_with_allow)
{
    struct http_request req;
    char allow[64];
    cr_assert_eq(find(HTTP_DELETE, "/api/appointments", &req, allow), -2);
    cr_assert_str_eq(allow, "GET, HEAD, POST");
    cr_assert_eq(find(HTTP_GET, "/api/appointments/" ID "/cancel", &req, allow), -2);
    cr_assert_str_eq(allow, "POST");
}

Test(router, head_is_served_by_the_get_route)
{
    struct http_request req;
    char allow[64];
    cr_assert_eq(find(HTTP_HEAD, "/api/appointments", &req, allow), 0);
    cr_assert_eq(find(HTTP_HEAD, "/api/appointments/" ID, &req, allow), 2);
    cr_assert_str_eq(req.params[0], ID);
    cr_assert_eq(find(HTTP_HEAD, "/api/appointments/" ID "/cancel", &req, allow), -2);
    cr_assert_str_eq(allow, "POST");
    cr_assert_eq(find(HTTP_HEAD, "/api/nope", &req, allow), -1);
}
