/* Working-hours validation: the shapes API.md allows and every way to miss. */
#include <criterion/criterion.h>
#include <jansson.h>

#include "core/working_hours.h"

static int check(const char *text)
{
    char why[160];
    json_error_t err;
    json_t *hours = json_loads(text, 0, &err);
    cr_assert_not_null(hours, "fixture is not JSON: %s", text);
    int rc = core_working_hours_validate(hours, why, sizeof why);
    if (rc != 0)
        cr_assert(why[0] != '\0', "a refusal says why");
    json_decref(hours);
    return rc;
}

Test(working_hours, accepts_documented_shapes)
{
    cr_expect_eq(check("{}"), 0, "every day closed");
    cr_expect_eq(check("{\"mon\":[[\"09:00\",\"12:00\"],[\"13:00\",\"17:00\"]]}"), 0);
    cr_expect_eq(check("{\"sun\":[[\"00:00\",\"23:59\"]]}"), 0);
    cr_expect_eq(check("{\"tue\":[]}"), 0, "an empty day is closed");
    cr_expect_eq(check("{\"wed\":[[\"13:00\",\"17:00\"],[\"09:00\",\"13:00\"]]}"), 0,
                 "windows in any order; touching is not overlapping");
}

Test(working_hours, refuses_malformed)
{
    const char *bad[] = {
        "[]",
        "{\"monday\":[[\"09:00\",\"17:00\"]]}",
        "{\"mon\":\"09:00-17:00\"}",
        "{\"mon\":[[\"9:00\",\"17:00\"]]}",
        "{\"mon\":[[\"09:00\",\"24:00\"]]}",
        "{\"mon\":[[\"25:00\",\"26:00\"]]}",
        "{\"mon\":[[\"09:60\",\"10:00\"]]}",
        "{\"mon\":[[\"17:00\",\"09:00\"]]}",
        "{\"mon\":[[\"09:00\",\"09:00\"]]}",
        "{\"mon\":[[\"09:00\",\"12:00\"],[\"11:00\",\"13:00\"]]}",
        "{\"mon\":[[\"09:00\"]]}",
        "{\"mon\":[[\"09:00\",\"10:00\",\"11:00\"]]}",
        "{\"mon\":[[900,1700]]}",
        "{\"mon\":[\"09:00\",\"17:00\"]}",
        "{\"mon\":[[\"09:0a\",\"17:00\"]]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(check(bad[i]), -1, "accepted %s", bad[i]);
}
