/*
 * libFuzzer target for src/core/working_hours.c: any bytes as the body of
 * POST /api/providers or PUT /api/providers/{id}/working-hours, parsed as
 * the server parses a body (jansson, duplicates refused, NUL let through),
 * then checked by core_working_hours_validate: its "workingHours" member as
 * api/providers.c does, and the whole value too, so that a bare hours
 * object is a useful input.
 *
 * Checked beyond the sanitizers: a refusal gives a sentence that the 400
 * reply (http_reply_invalid, as providers.c sends it) can carry, so the
 * client gets a 400 and not a 500; accepted hours are written as
 * providers.c stores them and that text is accepted again.
 *
 * It found: the sentence for an unknown day quotes its first 8 bytes
 * ("%.8s"), which could cut a UTF-8 character in two (a key
 * "abcdefg\u00e9") and made the 400 a 500; error messages are now mended
 * to UTF-8 (http/reply.c).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/validate.h"
#include "core/working_hours.h"
#include "http/reply.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void validate(json_t *hours)
{
    char why[160];
    struct http_response resp;

    memset(why, 'x', sizeof why);
    if (core_working_hours_validate(hours, why, sizeof why) != 0) {
        check(memchr(why, '\0', sizeof why) != NULL && why[0] != '\0');
        memset(&resp, 0, sizeof resp);
        http_reply_invalid(&resp, "workingHours", "%s", why);
        check(resp.status == 400);
        free(resp.body);
        return;
    }
    char *text = json_dumps(hours, JSON_COMPACT);
    check(text != NULL);
    json_t *again = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    check(again != NULL && core_working_hours_validate(again, why, sizeof why) == 0);
    json_decref(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root =
        json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    json_t *hours;

    if (!root)
        return 0;
    validate(root);
    hours = json_object_get(root, "workingHours");
    if (hours && !json_is_null(hours))
        validate(hours);
    json_decref(root);
    return 0;
}
