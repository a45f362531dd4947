/* The integrations' requests and answers (src/integrations/google.c,
 * twilio.c, vapi_call.c, request.c): exact URLs, forms and bodies, and what
 * Google's answers are read as. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "integrations/google.h"
#include "integrations/twilio.h"
#include "integrations/vapi_call.h"

/* The value of header `name` in the request, or NULL. */
static const char *header(const struct integ_request *r, const char *name)
{
    size_t n = strlen(name);
    for (const struct curl_slist *h = r->headers; h; h = h->next)
        if (strncmp(h->data, name, n) == 0 && h->data[n] == ':')
            return h->data + n + 2;
    return NULL;
}

Test(integrations, form_fields_are_percent_encoded)
{
    struct integ_text t = {0};
    char *s;

    integ_text_add_field(&t, "Body", "Hi Zoë, 2:00 pm & more+1");
    integ_text_add_field(&t, "To", "+15550001111");
    s = integ_text_take(&t, NULL);
    cr_assert_str_eq(s, "Body=Hi%20Zo%C3%AB%2C%202%3A00%20pm%20%26%20more%2B1&To=%2B15550001111");
    free(s);
}

Test(integrations, google_token_grant)
{
    struct integ_request r;

    cr_assert_eq(
        integ_google_token_request("http://127.0.0.1:9/token", "cid", "sec ret", "1//rt", &r), 0);
    cr_assert_str_eq(r.url, "http://127.0.0.1:9/token");
    cr_assert_str_eq(r.method, "POST");
    cr_assert_str_eq(r.body, "grant_type=refresh_token&client_id=cid&client_secret=sec%20ret"
                             "&refresh_token=1%2F%2Frt");
    cr_assert_str_eq(header(&r, "Content-Type"), "application/x-www-form-urlencoded");
    integ_request_cleanup(&r);
}

Test(integrations, google_token_answer)
{
    char token[INTEG_GOOGLE_TOKEN_MAX];
    int64_t expires = 0;
    const char *ok = "{\"access_token\":\"ya29.x\",\"expires_in\":3599,\"token_type\":\"Bearer\"}";
    const char *none = "{\"error\":\"invalid_grant\"}";

    cr_assert_eq(integ_google_token_parse(ok, strlen(ok), token, &expires), 0);
    cr_assert_str_eq(token, "ya29.x");
    cr_assert_eq(expires, 3599);
    cr_assert_eq(integ_google_token_parse(none, strlen(none), token, &expires), -1);
    cr_assert_eq(integ_google_token_parse("not json", 8, token, &expires), -1);
}

Test(integrations, google_insert_delete_list)
{
    struct integ_request r;
    json_t *body, *want;

    cr_assert_eq(integ_google_insert_request("https://g.test", "a@b.c", "bk00ff", "Ann", "d",
                                             "2030-01-07T09:00:00.000Z", "2030-01-07T09:30:00.000Z",
                                             "tok", &r),
                 0);
    cr_assert_str_eq(r.url, "https://g.test/calendar/v3/calendars/a%40b.c/events");
    cr_assert_str_eq(header(&r, "Authorization"), "Bearer tok");
    body = json_loads(r.body, 0, NULL);
    want = json_pack("{s:s, s:s, s:s, s:{s:s}, s:{s:s}}", "id", "bk00ff", "summary", "Ann",
                     "description", "d", "start", "dateTime", "2030-01-07T09:00:00.000Z", "end",
                     "dateTime", "2030-01-07T09:30:00.000Z");
    cr_assert(json_equal(body, want));
    json_decref(body);
    json_decref(want);
    integ_request_cleanup(&r);

    cr_assert_eq(integ_google_delete_request("https://g.test", "primary", "bk00ff", "tok", &r), 0);
    cr_assert_str_eq(r.method, "DELETE");
    cr_assert_str_eq(r.url, "https://g.test/calendar/v3/calendars/primary/events/bk00ff");
    integ_request_cleanup(&r);

    cr_assert_eq(integ_google_list_request("https://g.test", "primary", "2030-01-01T00:00:00Z",
                                           "2030-03-01T00:00:00Z", "p 2", "tok", &r),
                 0);
    cr_assert_str_eq(r.method, "GET");
    cr_assert_str_eq(r.url, "https://g.test/calendar/v3/calendars/primary/events?singleEvents="
                            "true&maxResults=250&timeMin=2030-01-01T00%3A00%3A00Z&timeMax=2030-"
                            "03-01T00%3A00%3A00Z&pageToken=p%202");
    integ_request_cleanup(&r);
}

struct seen {
    int n;
    char ids[8][16];
};

static int collect(void *arg, const char *id, const char *start, const char *end)
{
    struct seen *s = arg;
    (void)start;
    (void)end;
    snprintf(s->ids[s->n++], sizeof s->ids[0], "%s", id);
    return 0;
}

Test(integrations, google_events_page)
{
    const char *page =
        "{\"items\":["
        "{\"id\":\"a\",\"status\":\"confirmed\",\"start\":{\"dateTime\":\"2030-01-07T10:00:00Z\"},"
        "\"end\":{\"dateTime\":\"2030-01-07T11:00:00Z\"}},"
        "{\"id\":\"b\",\"status\":\"cancelled\",\"start\":{\"dateTime\":\"2030-01-07T10:00:00Z\"},"
        "\"end\":{\"dateTime\":\"2030-01-07T11:00:00Z\"}},"
        "{\"id\":\"c\",\"transparency\":\"transparent\",\"start\":{\"date\":\"2030-01-08\"},"
        "\"end\":{\"date\":\"2030-01-09\"}},"
        "{\"id\":\"bk0123\",\"start\":{\"dateTime\":\"2030-01-07T12:00:00Z\"},"
        "\"end\":{\"dateTime\":\"2030-01-07T13:00:00Z\"}},"
        "{\"id\":\"d\",\"start\":{\"date\":\"2030-01-10\"},\"end\":{\"date\":\"2030-01-11\"}}],"
        "\"nextPageToken\":\"next\"}";
    struct seen seen = {0};
    char next[64];

    cr_assert_eq(integ_google_list_parse(page, strlen(page), collect, &seen, next, sizeof next), 0);
    cr_assert_eq(seen.n, 2,
                 "busy: a timed and an all-day event, not cancelled, transparent or "
                 "bookd's own");
    cr_assert_str_eq(seen.ids[0], "a");
    cr_assert_str_eq(seen.ids[1], "d");
    cr_assert_str_eq(next, "next");
    cr_assert_eq(integ_google_list_parse("[]", 2, collect, &seen, next, sizeof next), -1);
}

Test(integrations, twilio_sms)
{
    struct integ_request r;

    cr_assert_eq(integ_twilio_sms_request("https://t.test", "AC12", "tok", "+15550009999",
                                          "+15550001111", "Hi Ann, ok.", &r),
                 0);
    cr_assert_str_eq(r.url, "https://t.test/2010-04-01/Accounts/AC12/Messages.json");
    cr_assert_str_eq(r.userpwd, "AC12:tok");
    cr_assert_str_eq(r.body, "To=%2B15550001111&From=%2B15550009999&Body=Hi%20Ann%2C%20ok.");
    integ_request_cleanup(&r);
}

Test(integrations, vapi_call)
{
    struct integ_request r;
    json_t *body, *want;

    cr_assert_eq(integ_vapi_call_request("https://v.test", "key", "as", "pn", "+15550001111", "id1",
                                         "2030-01-07T09:00:00.000Z", "9:00 am", &r),
                 0);
    cr_assert_str_eq(r.url, "https://v.test/call");
    cr_assert_str_eq(header(&r, "Authorization"), "Bearer key");
    body = json_loads(r.body, 0, NULL);
    want = json_pack("{s:s, s:s, s:{s:s}, s:{s:{s:s, s:s, s:s}}}", "assistantId", "as",
                     "phoneNumberId", "pn", "customer", "number", "+15550001111",
                     "assistantOverrides", "variableValues", "appointmentId", "id1", "scheduledAt",
                     "2030-01-07T09:00:00.000Z", "localTime", "9:00 am");
    cr_assert(json_equal(body, want));
    json_decref(body);
    json_decref(want);
    integ_request_cleanup(&r);
}
