#include "outbox/integ_send.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/breaker.h"
#include "core/secretbox.h"
#include "core/time.h"
#include "db/manage.h"
#include "db/secrets.h"
#include "http/auth.h"
#include "integrations/twilio.h"
#include "integrations/vapi_call.h"
#include "log.h"

#define SECRET_RETRY_MS 30000 /* credentials that do not open: looked at again then */
#define TOKEN_MARGIN_MS 60000 /* a token this close to its expiry is not used */
#define SYNC_MAX_PAGES 50     /* 50 pages of 250 events: 12,500 events ahead at most */

enum send_kind outbox_send_kind(const char *target)
{
    if (strcmp(target, "google") == 0)
        return SEND_GOOGLE;
    if (strcmp(target, "twilio") == 0)
        return SEND_TWILIO;
    if (strcmp(target, "vapi") == 0)
        return SEND_VAPI;
    return SEND_WEBHOOK;
}

static const char *service_name(enum send_kind k)
{
    return k == SEND_TWILIO ? "Twilio" : k == SEND_VAPI ? "Vapi" : "Google";
}

/* A string member of `o`, or "" (the context and settings are bookd's own;
 * a missing member makes a request the service refuses, not a crash). */
static const char *str(json_t *o, const char *name)
{
    const char *v = json_string_value(json_object_get(o, name));
    return v ? v : "";
}

static json_t *settings_of(const struct send *s)
{
    return json_object_get(s->ctx, "settings");
}

/* Opens a sealed JSON object bound to `aad`; NULL when it does not open. */
static json_t *open_json(const struct app *app, const unsigned char *sealed, size_t len,
                         const char *aad)
{
    unsigned char plain[DB_SEALED_MAX];
    size_t plain_len = 0;
    json_t *out = NULL;

    if (app->has_secret_key && core_secretbox_open(&app->secret_key, sealed, len, aad, strlen(aad),
                                                   plain, sizeof plain, &plain_len) == 0)
        out = json_loadb((const char *)plain, plain_len, 0, NULL);
    OPENSSL_cleanse(plain, sizeof plain);
    return out;
}

/* Opens the stored access token into s->token when it is good for a
 * while yet; false otherwise. */
static bool open_token(const struct app *app, struct send *s, const char *org,
                       const unsigned char *sealed, size_t len, int64_t expires_ms, int64_t now)
{
    char aad[DB_SECRET_AAD_SIZE];
    size_t n = 0;

    if (len == 0 || expires_ms <= now + TOKEN_MARGIN_MS || !app->has_secret_key)
        return false;
    db_integration_token_aad(org, aad);
    if (core_secretbox_open(&app->secret_key, sealed, len, aad, strlen(aad),
                            (unsigned char *)s->token, sizeof s->token - 1, &n) != 0) {
        OPENSSL_cleanse(s->token, sizeof s->token);
        return false;
    }
    s->token[n] = '\0';
    return true;
}

int outbox_integ_open(const struct app *app, struct send *s, int64_t now,
                      struct db_delivery_outcome *o, char *error, size_t error_size)
{
    char aad[DB_SECRET_AAD_SIZE];
    const char *skip;

    s->kind = outbox_send_kind(s->d.target);
    if (!(s->ctx = json_loads(s->d.payload, 0, NULL))) {
        snprintf(error, error_size, "the delivery's context could not be read");
        o->result = DB_DELIVERY_VOID;
        o->error = error;
        return -1;
    }
    if ((skip = json_string_value(json_object_get(s->ctx, "skip"))) != NULL) {
        snprintf(error, error_size, "not sent: %s", skip);
        o->result = DB_DELIVERY_VOID;
        o->error = error;
        return -1;
    }
    db_integration_secret_aad(s->d.org_id, s->d.target, aad);
    if (!(s->creds = open_json(app, s->d.secret, s->d.secret_len, aad))) {
        /* Sealed under another key (a rotation under way): no attempt is
         * counted; a worker with the right key sends it. */
        snprintf(error, error_size, "the %s credentials do not open with BOOKD_SECRET_KEY",
                 service_name(s->kind));
        log_warn("worker.secret_unreadable", "delivery %s: %s", s->d.id, error);
        o->result = DB_DELIVERY_DEFER;
        o->next_attempt_ms = now + SECRET_RETRY_MS;
        return -1;
    }
    s->phase = PHASE_CALL;
    if (s->kind == SEND_GOOGLE &&
        !open_token(app, s, s->d.org_id, s->d.token, s->d.token_len, s->d.token_expires_ms, now))
        s->phase = PHASE_TOKEN;
    return 0;
}

bool outbox_integ_granting(const struct send *s)
{
    return (s->kind == SEND_GOOGLE || s->kind == SEND_SYNC) && s->phase == PHASE_TOKEN;
}

static int build_token(const struct app *app, struct send *s, json_t *settings)
{
    s->keep_answer = true;
    return integ_google_token_request(app->cfg.google_token_url, str(settings, "clientId"),
                                      str(s->creds, "clientSecret"), str(s->creds, "refreshToken"),
                                      &s->req);
}

/* The events.list request of the import's next page. */
static int build_list(const struct app *app, struct send *s)
{
    char from[CORE_ISO_LEN + 1], to[CORE_ISO_LEN + 1];
    int64_t now = core_now_ms();

    core_iso_format(now, from);
    core_iso_format(now + (int64_t)app->cfg.google_sync_days * 86400000, to);
    s->keep_answer = true;
    return integ_google_list_request(app->cfg.google_api_base, s->job.calendar_id, from, to,
                                     s->page_token, s->token, &s->req);
}

static int build_call(const struct app *app, struct send *s)
{
    const struct config *cfg = &app->cfg;
    json_t *c = s->ctx, *set = settings_of(s);

    s->keep_answer = false;
    switch (s->kind) {
    case SEND_GOOGLE:
        if (strcmp(s->d.action, "google.delete") == 0)
            return integ_google_delete_request(cfg->google_api_base, str(c, "calendarId"),
                                               str(c, "eventId"), s->token, &s->req);
        return integ_google_insert_request(
            cfg->google_api_base, str(c, "calendarId"), str(c, "eventId"), str(c, "summary"),
            str(c, "description"), str(c, "start"), str(c, "end"), s->token, &s->req);
    case SEND_TWILIO:
        return integ_twilio_sms_request(cfg->twilio_api_base, str(set, "accountSid"),
                                        str(s->creds, "authToken"), str(set, "fromNumber"),
                                        str(c, "phone"), str(c, "text"), &s->req);
    case SEND_VAPI:
        return integ_vapi_call_request(cfg->vapi_api_base, str(s->creds, "apiKey"),
                                       str(set, "assistantId"), str(set, "phoneNumberId"),
                                       str(c, "phone"), str(c, "appointmentId"),
                                       str(c, "scheduledAt"), str(c, "localTime"), &s->req);
    case SEND_SYNC:
        return build_list(app, s);
    case SEND_WEBHOOK:
        break;
    }
    return -1;
}

/*
 * A text message about a patient's own booking (its context says
 * "manageLink") carries a manage link: a new token, stored hashed for the
 * appointment, its URL appended to the text. 0, or -1 when the token could
 * not be stored.
 */
static int add_link(const struct app *app, struct db_session *db, struct send *s)
{
    char token[HTTP_MANAGE_TOKEN_SIZE], hash[HTTP_MANAGE_HASH_SIZE], text[1024];
    int rc = -1;

    if (s->kind != SEND_TWILIO || !json_is_true(json_object_get(s->ctx, "manageLink")))
        return 0;
    if (http_manage_token_new(token, hash) == 0 &&
        db_manage_issue_session(db, str(s->ctx, "orgId"), str(s->ctx, "appointmentId"), hash) ==
            0) {
        snprintf(text, sizeof text, "%s Manage it: %s/manage/%s", str(s->ctx, "text"),
                 app->public_url, token);
        rc = json_object_set_new(s->ctx, "text", json_string(text));
    }
    OPENSSL_cleanse(token, sizeof token);
    OPENSSL_cleanse(text, sizeof text);
    return rc;
}

/* The send's next request: the token grant, or the call it is for. */
static int build_next(const struct app *app, struct send *s)
{
    integ_request_cleanup(&s->req);
    return s->phase == PHASE_TOKEN ? build_token(app, s, settings_of(s)) : build_call(app, s);
}

int outbox_integ_start(const struct app *app, struct db_session *db, struct send *s)
{
    return add_link(app, db, s) == 0 && build_next(app, s) == 0 ? 0 : -1;
}

/* The answer's body kept so far, as text (NUL-terminated). */
static const char *answer_text(struct send *s, size_t *len)
{
    core_json_buf_raw(&s->answer, "", 0);
    *len = s->answer.len;
    return s->answer.data ? s->answer.data : "";
}

static void answer_reset(struct send *s)
{
    if (s->answer.data)
        OPENSSL_cleanse(s->answer.data, s->answer.len);
    free(s->answer.data);
    memset(&s->answer, 0, sizeof s->answer);
    s->response_bytes = 0;
}

/* Seals and stores a new access token; a failure only costs a grant
 * later (logged). */
static void store_token(const struct app *app, struct db_session *db, const char *org,
                        int64_t expires_ms, const char *token)
{
    char aad[DB_SECRET_AAD_SIZE], key_id[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1];
    unsigned char sealed[2560];
    size_t sealed_len = 0;

    db_integration_token_aad(org, aad);
    core_secret_key_id_hex(&app->secret_key, key_id);
    if (core_secretbox_seal(&app->secret_key, (const unsigned char *)token, strlen(token), aad,
                            strlen(aad), sealed, sizeof sealed, &sealed_len) != 0 ||
        db_integration_token_store(db, org, sealed, sealed_len, key_id, expires_ms) != 0)
        log_warn("worker.token_not_stored", "Google's access token was not kept");
}

static int busy_add(void *arg, const char *id, const char *start, const char *end)
{
    struct busy_list *b = arg;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        char **st = realloc(b->starts, cap * sizeof *st);
        if (st)
            b->starts = st;
        char **en = st ? realloc(b->ends, cap * sizeof *en) : NULL;
        if (en)
            b->ends = en;
        char **ids = en ? realloc(b->ids, cap * sizeof *ids) : NULL;
        if (!ids)
            return -1;
        b->ids = ids;
        b->cap = cap;
    }
    b->starts[b->n] = strdup(start);
    b->ends[b->n] = strdup(end);
    b->ids[b->n] = strdup(id);
    b->n++;
    return b->starts[b->n - 1] && b->ends[b->n - 1] && b->ids[b->n - 1] ? 0 : -1;
}

static void busy_free(struct busy_list *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->starts[i]);
        free(b->ends[i]);
        free(b->ids[i]);
    }
    free(b->starts);
    free(b->ends);
    free(b->ids);
    memset(b, 0, sizeof *b);
}

/* Ends an import: the busy times (error NULL) or the error, stored. */
static void sync_done(const struct app *app, struct db_session *db, struct send *s,
                      const char *error)
{
    if (db_calendar_sync_store(db, s->job.provider_id, error, (const char *const *)s->busy.starts,
                               (const char *const *)s->busy.ends, (const char *const *)s->busy.ids,
                               error ? 0 : s->busy.n, app->cfg.google_sync_seconds) != 0)
        log_warn("worker.sync_not_stored",
                 "calendar of provider %s: the import was not stored "
                 "(tried again after its lease)",
                 s->job.provider_id);
    else
        log_write(LOG_DEBUG, "calendar.synced", "provider %s: %s", s->job.provider_id,
                  error ? error : "imported");
}

int outbox_sync_start(const struct app *app, struct db_session *db, struct send *s, int64_t now)
{
    char aad[DB_SECRET_AAD_SIZE];

    s->kind = SEND_SYNC;
    db_integration_secret_aad(s->job.org_id, "google", aad);
    if (!(s->ctx = json_pack("{s:O?}", "settings", NULL)) ||
        json_object_set_new(s->ctx, "settings", json_loads(s->job.settings, 0, NULL)) != 0 ||
        !(s->creds = open_json(app, s->job.secret, s->job.secret_len, aad))) {
        sync_done(app, db, s, "the Google credentials do not open with BOOKD_SECRET_KEY");
        return -1;
    }
    s->phase = open_token(app, s, s->job.org_id, s->job.token, s->job.token_len,
                          s->job.token_expires_ms, now)
                   ? PHASE_CALL
                   : PHASE_TOKEN;
    if (build_next(app, s) != 0) {
        sync_done(app, db, s, "out of memory");
        return -1;
    }
    return 0;
}

/* A failure: retried per the schedule (or dead), or for an import, its
 * error stored. */
static bool failed(const struct app *app, struct db_session *db, struct send *s, int64_t now,
                   struct db_delivery_outcome *o, char *error)
{
    if (s->kind == SEND_SYNC)
        sync_done(app, db, s, error);
    else {
        o->error = error;
        outbox_failed_attempt(&app->cfg, s->d.attempts, now, o);
    }
    return false;
}

/* The credentials were refused: the integration stops until its settings
 * are put again (an import only shows the error). */
static bool refused(const struct app *app, struct db_session *db, struct send *s,
                    struct db_delivery_outcome *o, char *error)
{
    if (s->kind == SEND_SYNC)
        sync_done(app, db, s, error);
    else {
        o->result = DB_DELIVERY_STOP;
        o->error = error;
    }
    return false;
}

/* The send goes on with its next request (true), or, out of memory,
 * fails like an attempt that got no answer. */
static bool go_on(const struct app *app, struct db_session *db, struct send *s, int64_t now,
                  struct db_delivery_outcome *o, char *error, size_t error_size)
{
    if (build_next(app, s) == 0)
        return true;
    snprintf(error, error_size, "out of memory");
    return failed(app, db, s, now, o, error);
}

bool outbox_integ_finished(const struct app *app, struct db_session *db, struct send *s,
                           CURLcode code, long status, int64_t now, struct db_delivery_outcome *o,
                           char *error, size_t error_size, bool *breaker_failure)
{
    const char *name = service_name(s->kind);
    bool google = s->kind == SEND_GOOGLE || s->kind == SEND_SYNC;
    size_t len;
    const char *body;

    *breaker_failure = false;
    o->id = s->d.id;
    /* An answer longer than bookd reads is still an answer: its status
     * counts, and only a send that needs the body (a token, a page of
     * events) cannot use it. */
    if (code == CURLE_WRITE_ERROR && status > 0 && !s->keep_answer)
        code = CURLE_OK;
    if (code != CURLE_OK) {
        *breaker_failure = true;
        if (code == CURLE_OPERATION_TIMEDOUT)
            snprintf(error, error_size, "%s: no answer within %d ms", name,
                     app->cfg.webhook_timeout_ms);
        else
            snprintf(error, error_size, "%s: %.150s", name,
                     s->error[0] ? s->error : curl_easy_strerror(code));
        return failed(app, db, s, now, o, error);
    }
    o->status_code = (int)status;
    *breaker_failure = core_breaker_counts_as_failure((int)status, false);
    body = answer_text(s, &len);

    if (s->phase == PHASE_TOKEN) {
        int64_t expires_in = 0;
        if (status >= 200 && status < 300 &&
            integ_google_token_parse(body, len, s->token, &expires_in) == 0) {
            store_token(app, db, s->kind == SEND_SYNC ? s->job.org_id : s->d.org_id,
                        now + expires_in * 1000, s->token);
            s->token_fresh = true;
            s->phase = PHASE_CALL;
            answer_reset(s);
            return go_on(app, db, s, now, o, error, error_size);
        }
        if (status == 400 || status == 401 || status == 403) {
            snprintf(error, error_size,
                     "Google refused the refresh token (HTTP %ld): put the Google settings "
                     "again",
                     status);
            return refused(app, db, s, o, error);
        }
        snprintf(error, error_size, "Google's token grant failed (HTTP %ld)", status);
        return failed(app, db, s, now, o, error);
    }

    if (google && status == 401 && !s->token_fresh) {
        /* The stored token was revoked or expired early: a new one, once. */
        s->phase = PHASE_TOKEN;
        answer_reset(s);
        return go_on(app, db, s, now, o, error, error_size);
    }
    if (status == 401 || status == 403) {
        snprintf(error, error_size,
                 "%s refused the credentials (HTTP %ld): put the %s settings "
                 "again",
                 name, status, name);
        return refused(app, db, s, o, error);
    }
    if (s->kind == SEND_SYNC && status >= 200 && status < 300) {
        if (integ_google_list_parse(body, len, busy_add, &s->busy, s->page_token,
                                    sizeof s->page_token) != 0) {
            snprintf(error, error_size, "Google's events list could not be read");
            return failed(app, db, s, now, o, error);
        }
        answer_reset(s);
        if (s->page_token[0] && ++s->pages < SYNC_MAX_PAGES)
            return go_on(app, db, s, now, o, error, error_size);
        sync_done(app, db, s, s->page_token[0] ? "more events ahead than bookd imports" : NULL);
        return false;
    }
    if ((status >= 200 && status < 300) ||
        /* An insert retried after its answer was lost: the id is taken by
         * the event itself. A delete of an event already gone. */
        (s->kind == SEND_GOOGLE && strcmp(s->d.action, "google.insert") == 0 && status == 409) ||
        (s->kind == SEND_GOOGLE && strcmp(s->d.action, "google.delete") == 0 &&
         (status == 404 || status == 410))) {
        o->result = DB_DELIVERY_DELIVERED;
        return false;
    }
    snprintf(error, error_size, "%s: HTTP %ld", name, status);
    return failed(app, db, s, now, o, error);
}

void outbox_integ_cleanup(struct send *s)
{
    json_decref(s->ctx);
    if (s->creds) {
        /* The strings of the credentials are wiped before they are freed. */
        const char *k;
        json_t *v;
        json_object_foreach(s->creds, k, v) if (json_is_string(v))
            OPENSSL_cleanse((void *)json_string_value(v), json_string_length(v));
        json_decref(s->creds);
    }
    OPENSSL_cleanse(s->token, sizeof s->token);
    answer_reset(s);
    busy_free(&s->busy);
    free(s->job.settings);
    s->ctx = s->creds = NULL;
    s->job.settings = NULL;
}
