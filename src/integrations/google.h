/*
 * Google Calendar's requests and answers (API.md, "Integrations"): the
 * OAuth2 refresh-token grant, events.insert and events.delete of an
 * appointment's event, and events.list for the busy-time import.
 */
#ifndef BOOKD_INTEGRATIONS_GOOGLE_H
#define BOOKD_INTEGRATIONS_GOOGLE_H

#include <stddef.h>
#include <stdint.h>

#include "integrations/request.h"

#define INTEG_GOOGLE_TOKEN_MAX 2048

/* POST token_url, form grant_type=refresh_token&client_id&client_secret&
 * refresh_token. 0 or -1 (out of memory). */
int integ_google_token_request(const char *token_url, const char *client_id,
                               const char *client_secret, const char *refresh_token,
                               struct integ_request *out);
/* The access token and its lifetime from the grant's answer; 0, or -1 when
 * the answer has none (or it is too long). */
int integ_google_token_parse(const char *body, size_t len, char token[INTEG_GOOGLE_TOKEN_MAX],
                             int64_t *expires_in_s);

/* POST {base}/calendar/v3/calendars/{calendar}/events with JSON
 * {"id","summary","description","start":{"dateTime"},"end":{"dateTime"}}. */
int integ_google_insert_request(const char *base, const char *calendar_id, const char *event_id,
                                const char *summary, const char *description, const char *start,
                                const char *end, const char *token, struct integ_request *out);
/* DELETE {base}/calendar/v3/calendars/{calendar}/events/{event}. */
int integ_google_delete_request(const char *base, const char *calendar_id, const char *event_id,
                                const char *token, struct integ_request *out);
/* GET {base}/calendar/v3/calendars/{calendar}/events?singleEvents=true&
 * timeMin&timeMax[&pageToken]; maxResults 250. */
int integ_google_list_request(const char *base, const char *calendar_id, const char *time_min,
                              const char *time_max, const char *page_token, const char *token,
                              struct integ_request *out);

/* One busy event of a list page: its id and its start and end as Google
 * gives them (an RFC 3339 dateTime, or a date "YYYY-MM-DD" for an all-day
 * event). Return non-zero to stop. */
typedef int (*integ_google_busy_fn)(void *arg, const char *id, const char *start, const char *end);
/*
 * Reads a page of events.list: calls `fn` for every event that makes the
 * provider busy (not cancelled, not transparent, not one of bookd's own,
 * whose ids start with "bk") and copies nextPageToken into `next` ("" on
 * the last page). 0, or -1 when the page is not an events list (or `fn`
 * stopped).
 */
int integ_google_list_parse(const char *body, size_t len, integ_google_busy_fn fn, void *arg,
                            char *next, size_t next_size);

#endif
