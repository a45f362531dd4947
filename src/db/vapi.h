/*
 * What the voice agent's tool calls need from the database besides the
 * booking functions (sql/60_vapi.sql): times to offer and the words for
 * them, the caller's contact, appointments by phone, the hold a call
 * keeps, and the answers given, which a retry of a tool call gets again.
 */
#ifndef BOOKD_DB_VAPI_H
#define BOOKD_DB_VAPI_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "db/pool.h"
#include "db/result.h"

#define DB_VAPI_OFFERS 3

struct db_vapi_offer {
    int64_t at_ms;
    char clock[24]; /* "2:00 pm" */
};

struct db_vapi_offers {
    char day[48];             /* "Tuesday 27 January" */
    char hours[400];          /* "Monday to Friday from 9:00 am to 5:00 pm" */
    char requested_clock[24]; /* the time asked for, "" without one */
    bool requested_free;
    bool past, closed;        /* the time asked for is in the past / outside hours */
    bool soon, far;           /* ... sooner than the policies' notice / past their horizon */
    char notice[32];          /* the minimum notice, said: "2 hours" */
    int horizon_days;
    struct db_vapi_offer offers[DB_VAPI_OFFERS];
    int n;
};

/* The free times to offer on the day of `at_ms` (has_at) or of `date`
 * (YYYY-MM-DD): that time alone when free, else the nearest. */
int db_vapi_offer(struct db_pool *pool, const char *org_id, const char *provider_id,
                  int duration, int before, int after, bool has_at, int64_t at_ms,
                  const char *date, struct db_vapi_offers *out, struct db_result *res);

/* bookAppointment in one round trip (sql/60_vapi.sql, vapi_book). */
struct db_vapi_booking {
    const char *call_id;      /* NULL: none */
    const char *tool_call_id;
    const char *name, *phone, *email, *notes;
    const char *provider_id;  /* NULL: the organization's default */
    const char *service_id;   /* NULL: none */
    int64_t scheduled_at_ms;
    int duration;             /* 0: the service's */
    int lock_timeout_ms;
    const char *timezone;     /* the organization's: the answer's times are said in it */
    const unsigned char *secret_hash; /* the Vapi secret's SHA-256, checked first; NULL:
                                       * the request's secret was looked up already */
};
struct db_vapi_booked {
    char *answer;             /* malloc'd: the sentence stored for the tool call */
    bool sql_answered;        /* vapi_book itself answered or raised (it ran) */
    bool is_error, replayed, hold_converted;
    int expired_holds;
};
/* DB_OK with *out (answered: booked, or a retry's stored answer);
 * DB_CONFLICT when the time is taken (nothing stored: the caller answers
 * with what is free);
 * DB_INVALID (the public rules, a bad name, ...); DB_INVALID_STATE when
 * the call holds another time (release it, then call again);
 * DB_IDEMPOTENCY_REUSED when a concurrent twin answered first (read its
 * answer); DB_UNAUTHORIZED when secret_hash is not the organization's
 * Vapi secret (nothing was done); DB_BUSY; DB_UNAVAILABLE. */
int db_vapi_book(struct db_pool *pool, const struct db_org_ref *org,
                 const struct db_vapi_booking *req, struct db_vapi_booked *out,
                 struct db_result *res);

/* "Tuesday 27 January at 2:00 pm" in the organization's time zone. */
int db_vapi_say_time(struct db_pool *pool, const char *org_id, int64_t at_ms, char *out,
                     size_t size, struct db_result *res);

/* Up to `max` confirmed appointments at `at_ms` of contacts with this
 * phone; *n says how many there are (up to max + 1: "several"). */
int db_vapi_find_appointments(struct db_pool *pool, const char *org_id, const char *phone,
                              int64_t at_ms, char (*ids)[DB_ID_SIZE], int max, int *n,
                              struct db_result *res);

/* A service by its name, any case: DB_OK with its id, or DB_NOT_FOUND. */
int db_vapi_service(struct db_pool *pool, const char *org_id, const char *name,
                    char id[DB_ID_SIZE], struct db_result *res);

/* The hold a call keeps: DB_OK with its id and time, or DB_NOT_FOUND. */
int db_vapi_call_hold(struct db_pool *pool, const char *org_id, const char *call_id,
                      char hold_id[DB_ID_SIZE], int64_t *at_ms, struct db_result *res);
/* Records the call's hold; `replaced` gets the one it kept before ("" if
 * none), which the caller releases. */
int db_vapi_call_hold_set(struct db_pool *pool, const char *org_id, const char *call_id,
                          const char *hold_id, int64_t at_ms, char replaced[DB_ID_SIZE],
                          struct db_result *res);
int db_vapi_call_hold_forget(struct db_pool *pool, const char *org_id, const char *call_id,
                             struct db_result *res);

/* The answer given to a tool call: DB_OK with *answer (malloc'd) and
 * *is_error, or DB_NOT_FOUND. */
int db_vapi_answer_get(struct db_pool *pool, const char *org_id, const char *tool_call_id,
                       bool *is_error, char **answer, struct db_result *res);
/* Stores an answer unless one is stored already (a concurrent retry), and
 * hands back the one stored, which every retry then gets. */
int db_vapi_answer_put(struct db_pool *pool, const char *org_id, const char *tool_call_id,
                       bool *is_error, char **answer, struct db_result *res);

/* A status-update or end-of-call-report. status: at most 40 characters;
 * times in ms since the epoch, 0 when not given; ended_reason may be NULL. */
int db_vapi_record_call(struct db_pool *pool, const char *org_id, const char *call_id,
                        const char *status, int64_t started_ms, int64_t ended_ms,
                        const char *ended_reason, struct db_result *res);
/* GET /api/calls: the latest `limit` calls as a JSON array (a new reference). */
int db_vapi_call_list(struct db_pool *pool, const char *org_id, int limit, json_t **out,
                      struct db_result *res);

#endif
