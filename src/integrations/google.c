#include "integrations/google.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

int integ_google_token_request(const char *token_url, const char *client_id,
                               const char *client_secret, const char *refresh_token,
                               struct integ_request *out)
{
    struct integ_text form = {0};

    memset(out, 0, sizeof *out);
    integ_text_add_field(&form, "grant_type", "refresh_token");
    integ_text_add_field(&form, "client_id", client_id);
    integ_text_add_field(&form, "client_secret", client_secret);
    integ_text_add_field(&form, "refresh_token", refresh_token);
    out->method = "POST";
    if (!(out->body = integ_text_take(&form, &out->body_len)) || !(out->url = strdup(token_url)) ||
        !integ_request_header(out, "Content-Type", "application/x-www-form-urlencoded") ||
        !integ_request_header(out, "Accept", "application/json") ||
        !integ_request_header(out, "Expect", "")) {
        integ_request_cleanup(out);
        return -1;
    }
    return 0;
}

int integ_google_token_parse(const char *body, size_t len, char token[INTEG_GOOGLE_TOKEN_MAX],
                             int64_t *expires_in_s)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *t = root ? json_object_get(root, "access_token") : NULL;
    json_t *e = root ? json_object_get(root, "expires_in") : NULL;
    int rc = -1;

    if (json_is_string(t) && json_string_length(t) > 0 &&
        json_string_length(t) < INTEG_GOOGLE_TOKEN_MAX) {
        memcpy(token, json_string_value(t), json_string_length(t) + 1);
        /* Without a lifetime, an hour (Google's); never past a day. */
        *expires_in_s = json_is_integer(e) ? (int64_t)json_integer_value(e) : 3600;
        if (*expires_in_s < 0 || *expires_in_s > 86400)
            *expires_in_s = 3600;
        rc = 0;
    }
    if (t)
        OPENSSL_cleanse((void *)json_string_value(t), json_string_length(t));
    json_decref(root);
    return rc;
}

/* {base}/calendar/v3/calendars/{calendar}/events */
static void events_url(struct integ_text *u, const char *base, const char *calendar_id)
{
    integ_text_add(u, base);
    integ_text_add(u, "/calendar/v3/calendars/");
    integ_text_add_escaped(u, calendar_id);
    integ_text_add(u, "/events");
}

int integ_google_insert_request(const char *base, const char *calendar_id, const char *event_id,
                                const char *summary, const char *description, const char *start,
                                const char *end, const char *token, struct integ_request *out)
{
    struct integ_text u = {0};

    events_url(&u, base, calendar_id);
    return integ_request_json_post(
        integ_text_take(&u, NULL),
        json_pack("{s:s, s:s, s:s, s:{s:s}, s:{s:s}}", "id", event_id, "summary", summary,
                  "description", description, "start", "dateTime", start, "end", "dateTime", end),
        token, out);
}

int integ_google_delete_request(const char *base, const char *calendar_id, const char *event_id,
                                const char *token, struct integ_request *out)
{
    struct integ_text u = {0};

    memset(out, 0, sizeof *out);
    events_url(&u, base, calendar_id);
    integ_text_add(&u, "/");
    integ_text_add_escaped(&u, event_id);
    out->method = "DELETE";
    if (!(out->url = integ_text_take(&u, NULL)) || !integ_request_bearer(out, token)) {
        integ_request_cleanup(out);
        return -1;
    }
    return 0;
}

int integ_google_list_request(const char *base, const char *calendar_id, const char *time_min,
                              const char *time_max, const char *page_token, const char *token,
                              struct integ_request *out)
{
    struct integ_text u = {0};

    memset(out, 0, sizeof *out);
    events_url(&u, base, calendar_id);
    integ_text_add(&u, "?singleEvents=true&maxResults=250&timeMin=");
    integ_text_add_escaped(&u, time_min);
    integ_text_add(&u, "&timeMax=");
    integ_text_add_escaped(&u, time_max);
    if (page_token && *page_token) {
        integ_text_add(&u, "&pageToken=");
        integ_text_add_escaped(&u, page_token);
    }
    out->method = "GET";
    if (!(out->url = integ_text_take(&u, NULL)) || !integ_request_bearer(out, token) ||
        !integ_request_header(out, "Accept", "application/json")) {
        integ_request_cleanup(out);
        return -1;
    }
    return 0;
}

/* An event time: "dateTime", else "date" (all day); NULL when neither. */
static const char *event_time(json_t *t)
{
    const char *v = json_string_value(json_object_get(t, "dateTime"));
    return v ? v : json_string_value(json_object_get(t, "date"));
}

int integ_google_list_parse(const char *body, size_t len, integ_google_busy_fn fn, void *arg,
                            char *next, size_t next_size)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *items = root ? json_object_get(root, "items") : NULL;
    const char *token = root ? json_string_value(json_object_get(root, "nextPageToken")) : NULL;
    size_t i;
    json_t *ev;
    int rc = 0;

    next[0] = '\0';
    if (!json_is_object(root) || (items && !json_is_array(items))) {
        json_decref(root);
        return -1;
    }
    json_array_foreach(items, i, ev)
    {
        const char *id = json_string_value(json_object_get(ev, "id"));
        const char *status = json_string_value(json_object_get(ev, "status"));
        const char *transparency = json_string_value(json_object_get(ev, "transparency"));
        const char *start = event_time(json_object_get(ev, "start"));
        const char *end = event_time(json_object_get(ev, "end"));

        if (!id || !start || !end || (status && strcmp(status, "cancelled") == 0) ||
            (transparency && strcmp(transparency, "transparent") == 0) || strncmp(id, "bk", 2) == 0)
            continue;
        if (fn(arg, id, start, end) != 0) {
            rc = -1;
            break;
        }
    }
    if (rc == 0 && token && strlen(token) < next_size)
        snprintf(next, next_size, "%s", token);
    else if (rc == 0 && token)
        rc = -1;
    json_decref(root);
    return rc;
}
