/*
 * The voice agent's four tools (API.md, "Vapi"): checkAvailability,
 * bookAppointment, cancelAppointment, rescheduleAppointment. Each reads its
 * arguments, makes the db calls a booking request would, and answers with
 * one sentence a voice reads aloud, times in the organization's zone.
 * Vapi books by the public rules: the future only, inside working hours.
 *
 * Offering a time holds it for the call (5 minutes): the caller who hears
 * "2:00 pm is free" still has it when they say yes twenty seconds later. A
 * call keeps one hold: offering another time releases the earlier one, and
 * booking the held time converts it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/vapi.h"
#include "app.h"
#include "core/time.h"
#include "core/validate.h"
#include "db/appointments.h"
#include "db/holds.h"
#include "db/services.h"
#include "db/vapi.h"
#include "http/auth.h"
#include "metrics.h"

#define DEFAULT_DURATION 30
#define CALL_HOLD_TTL_S 300
#define ACTOR "vapi"

/* Duration, buffers and provider of what the caller asks about. */
struct shape {
    const char *provider_id; /* NULL: the default provider */
    char provider[DB_ID_SIZE];
    const char *service_id;  /* NULL: none */
    char service[DB_ID_SIZE];
    int duration, before, after;
};

static json_t *arg(const struct vapi_call *call, const char *name)
{
    json_t *v = json_object_get(call->args, name);
    return json_is_null(v) ? NULL : v;
}

/* A text argument, or NULL when absent; *bad when it is not text of at
 * most max_chars. */
static const char *arg_text(const struct vapi_call *call, const char *name, size_t max_chars,
                            bool *bad)
{
    json_t *v = arg(call, name);
    const char *s = json_string_value(v);

    if (v && (!s || !core_text_valid(s, strlen(s), max_chars)))
        *bad = true;
    return *bad ? NULL : s;
}

/* An instant: RFC 3339 with an offset. Answers and returns false when it
 * is missing (and required) or unreadable; *present says whether given. */
static bool arg_time(const struct vapi_call *call, const char *name, const char *what,
                     bool required, int64_t *ms, bool *present, struct vapi_answer *a)
{
    json_t *v = arg(call, name);
    const char *s = json_string_value(v);

    *present = v != NULL;
    if (!v) {
        if (required)
            api_vapi_say(a, true, "I need the %s.", what);
        return !required;
    }
    if (!s || core_rfc3339_parse(s, strlen(s), ms) != 0) {
        api_vapi_say(a, true,
                     "I could not understand the %s; please give the date and time with its "
                     "offset from UTC, like 2027-01-26T14:00:00+00:00.",
                     what);
        return false;
    }
    return true;
}

/* providerId, and durationMinutes or serviceName (default 30 minutes). */
static bool read_shape(const struct vapi_call *call, struct shape *s, struct vapi_answer *a)
{
    struct db_pool *pool = call->app->pool;
    const char *provider = json_string_value(arg(call, "providerId"));
    json_t *duration = arg(call, "durationMinutes");
    bool bad = false;
    const char *service = arg_text(call, "serviceName", CORE_NAME_MAX_CHARS, &bad);
    struct db_result res;

    memset(s, 0, sizeof *s);
    s->duration = DEFAULT_DURATION;
    if (arg(call, "providerId")) {
        if (!provider || core_uuid_normalize(provider, strlen(provider), s->provider) != 0) {
            api_vapi_say(a, true, "I don't know that provider; please check the provider id.");
            return false;
        }
        s->provider_id = s->provider;
    }
    if (duration) {
        if (!json_is_integer(duration) ||
            !core_int_in_range(json_integer_value(duration), CORE_DURATION_MIN,
                               CORE_DURATION_MAX)) {
            api_vapi_say(a, true, "The length of the appointment must be a whole number of "
                                  "minutes, up to 1440.");
            return false;
        }
        s->duration = (int)json_integer_value(duration);
    }
    if (bad) {
        api_vapi_say(a, true, "I could not read the name of the service.");
        return false;
    }
    if (!service)
        return true;
    if (db_vapi_service(pool, call->org.org_id, service, s->service, &res) != 0) {
        api_vapi_say_busy(a);
        return false;
    }
    if (res.outcome == DB_NOT_FOUND) {
        api_vapi_say(a, true, "I don't know that service; please ask for it by its name.");
        return false;
    }
    s->service_id = s->service;
    if (db_service_range(pool, call->org.org_id, s->service, &s->duration, &s->before,
                         &s->after, &res) != 0 ||
        res.outcome != DB_OK) {
        api_vapi_say_busy(a);
        return false;
    }
    if (duration)
        s->duration = (int)json_integer_value(duration);
    return true;
}

/* The caller's phone: the argument, else the number Vapi says is calling. */
static bool read_phone(const struct vapi_call *call, const char **phone, struct vapi_answer *a)
{
    json_t *v = arg(call, "phone");

    *phone = v ? json_string_value(v) : call->caller;
    if (!*phone) {
        api_vapi_say(a, true, "I need the caller's phone number.");
        return false;
    }
    if (!core_phone_valid(*phone, strlen(*phone))) {
        api_vapi_say(a, true, "I need the phone number in international format, with the "
                              "country code, like +44 7700 900123.");
        return false;
    }
    return true;
}

/* Gives back the hold the call keeps, if any: the caller has moved on to
 * another time. */
static void release_call_hold(const struct vapi_call *call)
{
    struct db_pool *pool = call->app->pool;
    struct db_result res;
    char hold[DB_ID_SIZE];
    int64_t at = 0;

    if (!call->call_id ||
        db_vapi_call_hold(pool, call->org.org_id, call->call_id, hold, &at, &res) != 0 ||
        res.outcome != DB_OK)
        return;
    db_hold_release(pool, &call->org, hold, ACTOR, call->app->cfg.lock_timeout_ms, &res);
    db_result_cleanup(&res);
    /* Forgotten only once it is gone (released, or already expired or
     * converted), so a release that could not run is tried again. */
    if (res.outcome == DB_OK || res.outcome == DB_NOT_FOUND)
        db_vapi_call_hold_forget(pool, call->org.org_id, call->call_id, &res);
}

/* Holds `at_ms` for the call (which keeps no other hold by now). False
 * when the time could not be held (taken meanwhile, or the cap on public
 * holds reached); the offer is then made without a hold. */
static bool hold_for_call(const struct vapi_call *call, const struct shape *s, int64_t at_ms)
{
    struct db_pool *pool = call->app->pool;
    struct db_hold_request hr = {
        .provider_id = s->provider_id,
        .service_id = s->service_id,
        .scheduled_at_ms = at_ms,
        .duration_minutes = s->duration,
        .ttl_seconds = CALL_HOLD_TTL_S,
        .actor = ACTOR,
        .lock_timeout_ms = call->app->cfg.lock_timeout_ms,
        .public_rules = true,
        .max_public_holds = call->app->cfg.public_holds_max,
    };
    struct db_result res, other;
    char replaced[DB_ID_SIZE] = "";
    bool held;

    if (!call->call_id)
        return false;
    db_hold_create(pool, &call->org, &hr, &res);
    held = res.outcome == DB_OK;
    if (held && db_vapi_call_hold_set(pool, call->org.org_id, call->call_id, res.hold.id, at_ms,
                                      replaced, &other) != 0) {
        /* A hold the call does not know of would only be in the way. */
        db_hold_release(pool, &call->org, res.hold.id, ACTOR, hr.lock_timeout_ms, &other);
        db_result_cleanup(&other);
        held = false;
    }
    if (held && replaced[0]) {
        /* The call kept another hold after all (a retry of this call ran
         * beside it): the call keeps one, this. */
        db_hold_release(pool, &call->org, replaced, ACTOR, hr.lock_timeout_ms, &other);
        db_result_cleanup(&other);
    }
    db_result_cleanup(&res);
    return held;
}

/* "9:00 am", "9:00 am and 9:30 am", "9:00 am, 9:30 am and 10:00 am". */
static void say_list(const struct db_vapi_offers *o, char *out, size_t size)
{
    out[0] = '\0';
    for (int i = 0; i < o->n; i++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s",
                 i == 0 ? "" : i == o->n - 1 ? " and " : ", ", o->offers[i].clock);
    }
}

/*
 * The answer about free times on the day of `at_ms` (has_at) or of `date`:
 * that time when it is free, else the nearest, holding the first for the
 * call. `lost`: a booking of `at_ms` just lost it to someone else, which
 * the answer says first.
 */
static void offer(const struct vapi_call *call, const struct shape *s, bool has_at,
                  int64_t at_ms, const char *date, bool lost, struct vapi_answer *a)
{
    struct db_vapi_offers o;
    struct db_result res;
    char list[128], asked[96] = "", held[64] = "";

    release_call_hold(call);
    if (db_vapi_offer(call->app->pool, call->org.org_id,
                      s->provider_id ? s->provider_id : call->org.default_provider_id,
                      s->duration, s->before, s->after, has_at, at_ms, date, &o, &res) != 0) {
        api_vapi_say_busy(a);
        return;
    }
    if (res.outcome == DB_INVALID) {
        api_vapi_say(a, true, "I don't know that provider; please check the provider id.");
        return;
    }
    if (has_at)
        snprintf(asked, sizeof asked, "%s at %s", o.day, o.requested_clock);
    if (o.past && !lost) {
        api_vapi_say(a, false, "%s is in the past; please choose a later time.",
                     has_at ? asked : o.day);
        return;
    }
    if (o.far && !lost) {
        api_vapi_say(a, false, "%s is too far ahead: we take bookings up to %d day%s ahead. "
                               "Please choose an earlier day.",
                     asked, o.horizon_days, o.horizon_days == 1 ? "" : "s");
        return;
    }
    if (has_at && o.requested_free && !lost) {
        bool kept = hold_for_call(call, s, o.offers[0].at_ms);
        api_vapi_say(a, false, "%s is free%s. Shall I book it?", asked,
                     kept ? ", and I'm holding it for you" : "");
        return;
    }
    for (int i = 0; i < o.n && !held[0]; i++)
        if (hold_for_call(call, s, o.offers[i].at_ms))
            snprintf(held, sizeof held, "; I'm holding %s for you", o.offers[i].clock);
    say_list(&o, list, sizeof list);
    if (lost && o.n == 0) {
        api_vapi_say(a, false, "Sorry, %s is already taken. There is nothing else free on %s.",
                     asked, o.day);
    } else if (lost) {
        api_vapi_say(a, false,
                     "Sorry, %s is already taken. The nearest free times that day are %s%s. "
                     "Which would you like?",
                     asked, list, held);
    } else if (has_at && o.soon && o.n == 0) {
        api_vapi_say(a, false, "%s is too soon: we take bookings at least %s in advance, and "
                               "there is nothing free later on %s. Please choose another day.",
                     asked, o.notice, o.day);
    } else if (has_at && o.soon) {
        api_vapi_say(a, false, "%s is too soon: we take bookings at least %s in advance. The "
                               "nearest free times that day are %s%s. Which would you like?",
                     asked, o.notice, list, held);
    } else if (o.n == 0) {
        api_vapi_say(a, false, "%s%sThere is nothing free on %s. The practice is open %s.",
                     has_at && !o.closed ? asked : "", has_at && !o.closed ? " is taken. " : "",
                     o.day, o.hours);
    } else if (has_at && o.closed) {
        api_vapi_say(a, false,
                     "We are not open on %s; the practice is open %s. The nearest free times "
                     "that day are %s%s. Which would you like?",
                     asked, o.hours, list, held);
    } else if (has_at) {
        api_vapi_say(a, false,
                     "%s is taken. The nearest free times that day are %s%s. Which would you "
                     "like?",
                     asked, list, held);
    } else {
        api_vapi_say(a, false, "On %s I have %s free%s. Which would you like?", o.day, list,
                     held);
    }
}

void api_vapi_check_availability(struct vapi_call *call, struct vapi_answer *a)
{
    struct shape s;
    int64_t at = 0;
    bool has_at = false;
    const char *date = json_string_value(arg(call, "date"));
    int year, month, day;

    if (!read_shape(call, &s, a) ||
        !arg_time(call, "scheduledAt", "time to check", false, &at, &has_at, a))
        return;
    if (!has_at && !arg(call, "date")) {
        api_vapi_say(a, true, "I need a date or a time to check.");
        return;
    }
    if (!has_at && (!date || core_date_parse(date, strlen(date), &year, &month, &day) != 0)) {
        api_vapi_say(a, true, "I could not understand the date; please give it as "
                              "year-month-day, like 2027-01-26.");
        return;
    }
    offer(call, &s, has_at, at, has_at ? NULL : date, false, a);
}

/* "Booked for Tuesday 27 January at 2:00 pm." and the like. */
static void say_at(const struct vapi_call *call, int64_t at_ms, const char *fmt,
                   struct vapi_answer *a)
{
    char when[96];
    struct db_result res;

    if (db_vapi_say_time(call->app->pool, call->org.org_id, at_ms, when, sizeof when,
                         &res) != 0 ||
        !when[0]) {
        api_vapi_say_busy(a);
        return;
    }
    api_vapi_say(a, false, fmt, when);
}

/* The outcome of a booking or a reschedule that did not go through. */
static void booking_refused(const struct vapi_call *call, const struct shape *s, int64_t at,
                            const struct db_result *res, struct vapi_answer *a)
{
    if (!s && (res->outcome == DB_CONFLICT || res->outcome == DB_INVALID)) {
        api_vapi_say_busy(a); /* not an answer a cancel gets */
        return;
    }
    switch (res->outcome) {
    case DB_CONFLICT:
        offer(call, s, true, at, NULL, true, a);
        break;
    case DB_BUSY:
        /* Not kept for a retry: the retry may well get the time. */
        api_vapi_say(a, false, "Someone else is booking that time right now; please ask me "
                               "again in a moment.");
        a->failed = true;
        break;
    case DB_INVALID:
        if (strcmp(res->field, "scheduledAt") == 0)
            offer(call, s, true, at, NULL, false, a);
        else if (res->field[0])
            api_vapi_say(a, true, "I could not book that: the %s is not valid.", res->field);
        else
            api_vapi_say(a, true, "I could not book that; please check the details and ask me "
                                  "again.");
        break;
    case DB_IDEMPOTENCY_REUSED:
        api_vapi_say(a, true, "That request was already answered; please ask again.");
        break;
    case DB_NOT_FOUND:
        api_vapi_say(a, false, "I could not find that appointment.");
        break;
    case DB_INVALID_STATE:
        api_vapi_say(a, false, "That appointment can no longer be changed: it was cancelled "
                               "or moved.");
        break;
    default:
        api_vapi_say_busy(a);
    }
}

/*
 * db_vapi_book, which checks an unchecked secret itself, in the booking's
 * transaction and before anything else: a secret bookd took from its
 * cache costs no lookup of its own. What vapi_book itself answered or
 * raised, but for a refusal of the secret and the errors its check could
 * raise too (a lock or statement timeout), comes from past that check;
 * anything else (vapi_book never ran: a time the lock range cannot hold,
 * a service gone) leaves the secret to api_vapi_secret_check's lookup.
 */
static void book_checking_secret(struct vapi_call *call, struct db_vapi_booking *br,
                                 struct db_vapi_booked *booked, struct db_result *res)
{
    br->secret_hash = call->secret == VAPI_SECRET_UNCHECKED ? call->secret_hash : NULL;
    db_vapi_book(call->app->pool, &call->org, br, booked, res);
    if (!br->secret_hash || !booked->sql_answered)
        return;
    switch (res->outcome) {
    case DB_UNAUTHORIZED:
        call->secret = VAPI_SECRET_REFUSED;
        http_vapi_secret_refused(call->app, call->secret_hash);
        break;
    case DB_OK:
    case DB_CONFLICT:
    case DB_INVALID:
    case DB_INVALID_STATE:
    case DB_IDEMPOTENCY_REUSED:
    case DB_LIMITED:
    case DB_NOT_FOUND:
        call->secret = VAPI_SECRET_CHECKED;
        break;
    default:
        break; /* DB_BUSY, DB_UNAVAILABLE, DB_ERROR: checked later, by a lookup */
    }
}

void api_vapi_book(struct vapi_call *call, struct vapi_answer *a)
{
    struct db_pool *pool = call->app->pool;
    struct shape s;
    struct db_vapi_booking br = {0};
    struct db_vapi_booked booked;
    struct db_result res;
    int64_t at = 0;
    bool has_at, bad = false;
    const char *phone = NULL;
    const char *name = arg_text(call, "name", CORE_NAME_MAX_CHARS, &bad);
    const char *email = arg_text(call, "email", 254, &bad);

    br.notes = arg_text(call, "notes", CORE_NOTES_MAX_CHARS, &bad);
    if (!arg_time(call, "scheduledAt", "date and time to book", true, &at, &has_at, a) ||
        !read_shape(call, &s, a))
        return;
    if (bad) {
        api_vapi_say(a, true, "I could not read the name, e-mail or notes; please say them "
                              "again.");
        return;
    }
    if (!name || !*name) {
        api_vapi_say(a, true, "I need the caller's name to book.");
        return;
    }
    if (!read_phone(call, &phone, a))
        return;
    if (email && !core_email_valid(email, strlen(email))) {
        api_vapi_say(a, true, "That e-mail address does not look right; please spell it "
                              "again, or book without it.");
        return;
    }
    br.call_id = call->call_id;
    br.tool_call_id = call->tool_call_id;
    br.name = name;
    br.phone = phone;
    br.email = email;
    br.provider_id = s.provider_id;
    br.service_id = s.service_id;
    br.scheduled_at_ms = at;
    br.duration = s.service_id && !arg(call, "durationMinutes") ? 0 : s.duration;
    br.lock_timeout_ms = call->app->cfg.lock_timeout_ms;
    br.timezone = call->timezone;
    book_checking_secret(call, &br, &booked, &res);
    if (res.outcome == DB_INVALID_STATE) {
        /* The call holds another time, which could be in this one's way:
         * the caller chose this one instead. */
        release_call_hold(call);
        book_checking_secret(call, &br, &booked, &res);
    }
    if (!api_vapi_secret_check(call, a)) {
        /* refused (the request is answered 401), or not looked up */
    } else if (res.outcome == DB_IDEMPOTENCY_REUSED) {
        /* A twin of this tool call booked and answered first: its answer. */
        char *text = NULL;
        bool is_error = false;
        if (db_vapi_answer_get(pool, call->org.org_id, call->tool_call_id, &is_error, &text,
                               &res) == 0 &&
            text) {
            api_vapi_say(a, is_error, "%s", text);
            a->stored = a->replayed = true;
        } else {
            api_vapi_say_busy(a);
        }
        free(text);
    } else if (res.outcome == DB_OK) {
        api_vapi_say(a, booked.is_error, "%s", booked.answer);
        a->stored = true;
        a->replayed = booked.replayed;
        if (booked.hold_converted)
            metrics_holds_add(HOLD_CONVERTED, 1);
        metrics_holds_add(HOLD_EXPIRED, booked.expired_holds);
        free(booked.answer);
    } else {
        booking_refused(call, &s, at, &res, a);
    }
    db_result_cleanup(&res);
}

/*
 * The appointment a cancel or reschedule is about: appointmentId, or the
 * caller's phone and the time of the appointment. Answers and returns
 * false when there is not exactly one.
 */
static bool find_appointment(const struct vapi_call *call, char id[DB_ID_SIZE],
                             struct vapi_answer *a)
{
    const char *given = json_string_value(arg(call, "appointmentId"));
    char ids[1][DB_ID_SIZE];
    const char *phone;
    int64_t at = 0;
    bool has_at;
    int n = 0;
    struct db_result res;

    if (arg(call, "appointmentId")) {
        if (!given || core_uuid_normalize(given, strlen(given), id) != 0) {
            api_vapi_say(a, true, "That appointment reference does not look right; please "
                                  "read it again.");
            return false;
        }
        return true;
    }
    if (!arg_time(call, "scheduledAt", "date and time of the appointment", true, &at, &has_at,
                  a) ||
        !read_phone(call, &phone, a))
        return false;
    /* Without the appointment's reference, only the number the call comes
     * from may change an appointment: a number said aloud proves nothing. */
    if (call->caller && strcmp(phone, call->caller) != 0) {
        api_vapi_say(a, true, "For your security I can only change appointments booked with "
                              "the number you are calling from, or by their reference.");
        return false;
    }
    if (db_vapi_find_appointments(call->app->pool, call->org.org_id, phone, at, ids, 1, &n,
                                  &res) != 0) {
        api_vapi_say_busy(a);
        return false;
    }
    if (n == 1) {
        memcpy(id, ids[0], DB_ID_SIZE);
        return true;
    }
    say_at(call, at,
           n == 0 ? "I could not find an appointment on %s for that phone number."
                  : "There is more than one appointment on %s for that phone number; please "
                    "tell me the appointment reference.",
           a);
    return false;
}

void api_vapi_cancel(struct vapi_call *call, struct vapi_answer *a)
{
    char id[DB_ID_SIZE];
    struct db_result res;

    if (!find_appointment(call, id, a))
        return;
    db_cancel(call->app->pool, &call->org, id, "cancelled by phone", ACTOR,
              call->app->cfg.lock_timeout_ms, &res);
    if (res.outcome == DB_OK && res.unchanged)
        say_at(call, res.appointment.scheduled_at_ms,
               "Your appointment on %s was already cancelled.", a);
    else if (res.outcome == DB_OK)
        say_at(call, res.appointment.scheduled_at_ms, "Your appointment on %s is cancelled.",
               a);
    else
        booking_refused(call, NULL, 0, &res, a);
    db_result_cleanup(&res);
}

void api_vapi_reschedule(struct vapi_call *call, struct vapi_answer *a)
{
    struct db_pool *pool = call->app->pool;
    struct db_reschedule_request rr = {0};
    struct db_vapi_offers o;
    struct db_result res;
    struct shape s;
    char id[DB_ID_SIZE];
    unsigned char hash[32];
    int64_t at = 0;
    bool has_at;

    if (!arg_time(call, "newScheduledAt", "new date and time", true, &at, &has_at, a) ||
        !read_shape(call, &s, a) || !find_appointment(call, id, a))
        return;
    /* What the new time must hold: the appointment's own provider, length
     * and buffers, unless the call changes them. */
    db_appointment_get(pool, &call->org, id, &res);
    if (res.outcome != DB_OK) {
        booking_refused(call, NULL, 0, &res, a);
        db_result_cleanup(&res);
        return;
    }
    if (!s.provider_id) {
        memcpy(s.provider, res.appointment.provider_id, DB_ID_SIZE);
        s.provider_id = s.provider;
    }
    if (!arg(call, "durationMinutes") && !s.service_id) {
        int length = 0;
        s.duration = res.appointment.duration_minutes;
        if (res.appointment.service_id[0]) {
            memcpy(s.service, res.appointment.service_id, DB_ID_SIZE);
            s.service_id = s.service;
        }
        db_result_cleanup(&res);
        if (s.service_id && (db_service_range(pool, call->org.org_id, s.service_id, &length,
                                              &s.before, &s.after, &res) != 0 ||
                             res.outcome != DB_OK)) {
            api_vapi_say_busy(a);
            return;
        }
    }
    db_result_cleanup(&res);
    /* The public rules, which a reschedule does not apply by itself. */
    if (db_vapi_offer(pool, call->org.org_id, s.provider_id, s.duration, s.before, s.after, true,
                      at, NULL, &o, &res) != 0) {
        api_vapi_say_busy(a);
        return;
    }
    if (o.past || o.closed) {
        offer(call, &s, true, at, NULL, false, a);
        return;
    }
    /* A time this call holds would be in the appointment's way. */
    release_call_hold(call);
    rr.appointment_id = id;
    rr.provider_id = s.provider_id;
    rr.scheduled_at_ms = at;
    rr.duration_minutes = arg(call, "durationMinutes") ? s.duration : 0;
    rr.actor = ACTOR;
    rr.lock_timeout_ms = call->app->cfg.lock_timeout_ms;
    rr.idempotency_key = call->tool_call_id;
    api_request_hash_of(call->org.org_id, "vapi rescheduleAppointment", call->args, hash);
    rr.request_hash = hash;
    db_reschedule(pool, &call->org, &rr, &res);
    if (res.outcome == DB_OK)
        say_at(call, res.appointment.scheduled_at_ms, "Your appointment is moved to %s.", a);
    else
        booking_refused(call, &s, at, &res, a);
    db_result_cleanup(&res);
}
