/*
 * What every call of src/db/ answers with: an outcome, and what came with
 * it. The types are shared by the stores (appointments, orgs, providers,
 * ...) and by their callers, which map an outcome to a reply without
 * including any store.
 *
 * A call fills a `struct db_result` that the caller provides (zeroed on
 * entry) and returns 0 when the database answered (res->outcome says how),
 * or -1 with outcome DB_UNAVAILABLE / DB_ERROR. The appointments a result
 * holds own their strings: release them with db_result_cleanup().
 */
#ifndef BOOKD_DB_RESULT_H
#define BOOKD_DB_RESULT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/validate.h"

enum db_outcome {
    DB_OK = 0,              /* done: booked, cancelled, available, created, found */
    DB_CONFLICT,            /* the range overlaps an active appointment */
    DB_BUSY,                /* lock wait exceeded the lock timeout */
    DB_INVALID,             /* bad request: `field` and `message` say why */
    DB_NOT_FOUND,           /* no such row (appointment, contact) in this organization */
    DB_INVALID_STATE,       /* e.g. rescheduling a cancelled appointment */
    DB_IDEMPOTENCY_REUSED,  /* same key, different request */
    DB_LIMITED,             /* a cap on what a caller may hold is reached */
    DB_UNAUTHORIZED,        /* a credential checked in the call is not valid (any longer) */
    DB_UNAVAILABLE,         /* database unreachable or pool exhausted */
    DB_ERROR,               /* anything else (logged) */
};

/* An id (a UUID in its canonical text form) and its NUL. */
#define DB_ID_SIZE (CORE_UUID_LEN + 1)
/* The largest sealed secret stored (an integration's credentials: two
 * fields of up to 1,024 characters in one JSON object, and the seal's
 * 33 bytes). */
#define DB_SEALED_MAX 4096

/* Who asks, in whose organization. */
struct db_org_ref {
    const char *org_id;
    const char *default_provider_id;
};

enum db_appointment_status {
    DB_STATUS_CONFIRMED,
    DB_STATUS_CANCELLED,
    DB_STATUS_RESCHEDULED,
};

struct db_appointment {
    char id[DB_ID_SIZE];
    char provider_id[DB_ID_SIZE];
    char contact_id[DB_ID_SIZE];
    char service_id[DB_ID_SIZE];     /* "" when none */
    int64_t scheduled_at_ms;
    int duration_minutes;
    enum db_appointment_status status;
    char *notes;                     /* NULL when none; owned */
    char *metadata_json;             /* compact JSON object text; owned */
    int64_t created_at_ms;
    bool has_cancelled_at;
    int64_t cancelled_at_ms;
    char rescheduled_to[DB_ID_SIZE]; /* "" when none */
};

/* What is in the way: an appointment (id "" after 23P01), or a hold,
 * which never says whose. */
struct db_conflict {
    bool hold;
    bool busy;                       /* a busy time from the provider's calendar */
    char id[DB_ID_SIZE];
    int64_t scheduled_at_ms;         /* a busy time's start */
    int duration_minutes;
    int64_t expires_at_ms;           /* a hold's */
    int64_t end_ms;                  /* a busy time's */
};

struct db_hold {
    char id[DB_ID_SIZE];
    char provider_id[DB_ID_SIZE];
    char service_id[DB_ID_SIZE];     /* "" when none */
    int64_t scheduled_at_ms;
    int duration_minutes;
    int64_t expires_at_ms;
};

struct db_result {
    enum db_outcome outcome;
    bool replayed;                    /* an idempotent replay of a stored result */
    bool unchanged;                   /* cancel of an already cancelled one */
    int64_t lock_wait_us;
    struct db_appointment appointment; /* OK: the booked / new / cancelled one */
    struct db_appointment previous;    /* reschedule OK: the old one */
    struct db_conflict conflict;       /* CONFLICT (id may be "" after 23P01) */
    struct db_hold hold;               /* a hold made */
    bool hold_converted;               /* a booking turned its hold into the appointment */
    bool hold_expired;                 /* a release found the hold's time up */
    int expired_holds;                 /* expired holds the call removed from its way */
    char field[48];                    /* INVALID: the API field at fault */
    char message[200];                 /* INVALID, INVALID_STATE: for the client */
    bool keys_refused;                 /* ERROR: BK005, lock keys not covering the range */
    /* UNAVAILABLE: the connection was lost with the statement sent, so
     * whether it committed is unknown (an immediate shutdown, a crash, a
     * network cut between COMMIT and its answer). */
    bool in_doubt;
};

/* Frees the strings `a` owns and sets them to NULL (so it may run twice). */
void db_appointment_cleanup(struct db_appointment *a);
/* The same for both appointments of `res`; NULL is allowed. */
void db_result_cleanup(struct db_result *res);

#endif
