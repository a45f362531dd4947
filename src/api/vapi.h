/*
 * What the voice agent's webhook (api/vapi.c) and its tools
 * (api/vapi_tools.c) share: one tool call being answered, and its answer.
 */
#ifndef BOOKD_API_VAPI_H
#define BOOKD_API_VAPI_H

#include <stdarg.h>
#include <stdbool.h>

#include <jansson.h>

#include "db/result.h"

struct app;

/* The request's Vapi secret: taken from the cache and still to be checked
 * (http/auth.h), or looked up already, or found not valid (the request is
 * answered 401, and nothing was written). Unchecked is the zero value, so
 * a call that forgets to say fails safe. */
enum vapi_secret { VAPI_SECRET_UNCHECKED, VAPI_SECRET_CHECKED, VAPI_SECRET_REFUSED };

struct vapi_call {
    struct app *app;
    enum vapi_secret secret;
    unsigned char secret_hash[32]; /* its SHA-256, while unchecked */
    struct db_org_ref org;
    const char *timezone;     /* the organization's */
    const char *call_id;      /* message.call.id; NULL: none (then nothing is held) */
    const char *caller;       /* the caller's number, NULL if unknown */
    const char *tool_call_id; /* this call's id: its answer and booking are stored under it */
    json_t *args;             /* its arguments (an object, checked before a tool runs) */
};

/* One sentence, read aloud: a result, or an error (bad or missing
 * arguments). `failed`: the database could not be reached, so the answer
 * asks the caller to hold on and is not kept for a retry. A tool that
 * stores its answer in its own transaction says so (`stored`), and looks
 * for a retry's answer there too. */
struct vapi_answer {
    bool error;
    bool failed;
    bool stored;   /* the tool stored it itself (bookAppointment: with the booking) */
    bool replayed; /* ... and it is the answer a retry gets */
    char text[600];
};

/* Sets the answer (printf-style), on one line. */
void api_vapi_say(struct vapi_answer *a, bool error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "Please hold on": the database did not answer. */
void api_vapi_say_busy(struct vapi_answer *a);

/* Checks the call's secret, by a lookup if it is not checked yet: true
 * when it is valid; else the answer is failed (not stored), and
 * call->secret says whether the secret was refused or could not be looked
 * up. Before anything a tool writes or answers from the database, except
 * vapi_book, which checks it itself (api_vapi_book). */
bool api_vapi_secret_check(struct vapi_call *call, struct vapi_answer *a);

void api_vapi_check_availability(struct vapi_call *call, struct vapi_answer *answer);
void api_vapi_book(struct vapi_call *call, struct vapi_answer *answer);
void api_vapi_cancel(struct vapi_call *call, struct vapi_answer *answer);
void api_vapi_reschedule(struct vapi_call *call, struct vapi_answer *answer);

#endif
