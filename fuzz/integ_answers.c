/*
 * libFuzzer target for what bookd reads back from the services it calls
 * (src/outbox/worker.c, src/outbox/integ_send.c, src/integrations/google.c):
 * an answer's body, as libcurl hands it over in pieces, through the
 * worker's read_answer (kept to a bound for a Google token grant or events
 * page, else counted and dropped), then what the answer means:
 *   - a webhook receiver's status (judge: delivered, gone, retried, dead);
 *   - Google's token grant (integ_google_token_parse, the token sealed and
 *     stored), events.insert and events.delete;
 *   - Google's events.list pages of a calendar import
 *     (integ_google_list_parse, the busy list, the next page's request,
 *     the import stored as PostgreSQL array literals);
 *   - Twilio's and Vapi's answers (their status only).
 *
 * Input: byte 0 picks the send (kind, token phase, insert or delete, a
 * fresh token, a timeout), bytes 1-2 the HTTP status (100-599), byte 3 the
 * size of libcurl's pieces and how often the body repeats (to reach the
 * 64 KiB and 4 MiB bounds); the rest is the answer, or several answers
 * separated by "\n--next--\n" for a send that goes on (token, then call;
 * page after page).
 *
 * worker.c and integ_send.c are #included (read_answer, judge and the
 * busy list are static); curl_easy_getinfo, from which judge takes the
 * status, is this file's by a macro around the include. The database is
 * a session never connected, so storing fails as when PostgreSQL is away.
 * Fuzzing only.
 *
 * Checked beyond the sanitizers: what a read keeps stays within its bound;
 * an attempt is only "delivered" with an answer that says so (2xx, or the
 * 404/409/410 Google allows for); an error is one line of valid UTF-8 (it
 * is stored in a text column); the next page token fits.
 *
 * It found: an answer from Google's event calls, Twilio or Vapi longer than
 * the 64 KiB the worker reads ended the transfer with a write error, which
 * outbox_integ_finished counted as a failed attempt (the text message or
 * call made again) even with a 2xx; such an answer now counts by its status
 * when its body is not needed.
 */
#include <stdarg.h>

#include <curl/curl.h>

static CURLcode fuzz_easy_getinfo(CURL *easy, CURLINFO info, ...);
#undef curl_easy_getinfo
#define curl_easy_getinfo fuzz_easy_getinfo
#include "outbox/worker.c"
#include "outbox/integ_send.c"
#undef curl_easy_getinfo

#include "config.h"
#include "core/validate.h"

#define SEPARATOR "\n--next--\n"
#define MAX_ROUNDS (SYNC_MAX_PAGES + 2)

static struct app app;
static struct db_session *db;
static long fuzz_status; /* what judge is told the receiver answered */

static CURLcode fuzz_easy_getinfo(CURL *easy, CURLINFO info, ...)
{
    va_list ap;
    (void)easy;
    if (info != CURLINFO_RESPONSE_CODE)
        return CURLE_UNKNOWN_OPTION;
    va_start(ap, info);
    *va_arg(ap, long *) = fuzz_status;
    va_end(ap);
    return CURLE_OK;
}

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const unsigned char key[CORE_SECRET_KEY_LEN] = {1, 2, 3};
    (void)argc;
    (void)argv;
    log_set_level((enum log_level)(LOG_ERROR + 1));
    if (config_load(&app.cfg, 0, NULL, 0) != 0)
        abort();
    core_secret_key_from_bytes(key, &app.secret_key);
    app.has_secret_key = true;
    snprintf(app.public_url, sizeof app.public_url, "https://book.example");
    db = db_session_new("host=/nonexistent/bookd-fuzz dbname=bookd", false);
    if (!db)
        abort();
    return 0;
}

/* A claimed delivery (or import) of kind k, ready for its first request. */
static struct send *send_new(uint8_t how)
{
    static const enum send_kind kinds[] = {SEND_WEBHOOK, SEND_GOOGLE, SEND_TWILIO, SEND_VAPI,
                                           SEND_SYNC};
    static const char *const targets[] = {"webhook:0c9d6a4e-1b2f-4c3d-8e5f-a6b7c8d9e0f1", "google",
                                          "twilio", "vapi", "google"};
    struct send *s = calloc(1, sizeof *s);
    int k = how % 5;

    if (!s)
        return NULL;
    s->kind = kinds[k];
    snprintf(s->d.id, sizeof s->d.id, "7e57d00d-0000-4000-8000-000000000001");
    snprintf(s->d.org_id, sizeof s->d.org_id, "5b2f7c1e-93a4-4d6b-8e0f-1c7a9d3e4b62");
    snprintf(s->d.target, sizeof s->d.target, "%s", targets[k]);
    snprintf(s->d.action, sizeof s->d.action, "%s",
             s->kind == SEND_GOOGLE    ? (how & 0x10 ? "google.delete" : "google.insert")
             : s->kind == SEND_WEBHOOK ? "webhook"
                                       : "sms.booked");
    s->d.attempts = (how >> 4) & 3;
    if (s->kind == SEND_WEBHOOK) {
        s->keep_answer = false;
        return s;
    }
    snprintf(s->job.provider_id, sizeof s->job.provider_id, "0c9d6a4e-1b2f-4c3d-8e5f-a6b7c8d9e0f1");
    snprintf(s->job.org_id, sizeof s->job.org_id, "5b2f7c1e-93a4-4d6b-8e0f-1c7a9d3e4b62");
    snprintf(s->job.calendar_id, sizeof s->job.calendar_id, "primary");
    s->ctx = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}}", "calendarId",
                       "primary", "eventId", "bk0123", "start", "2030-01-07T10:00:00Z", "end",
                       "2030-01-07T10:30:00Z", "phone", "+447700900123", "text", "Booked.",
                       "settings", "clientId", "client", "accountSid", "AC123", "fromNumber",
                       "+15005550006", "assistantId", "a1", "phoneNumberId", "p1");
    s->creds = json_pack("{s:s, s:s, s:s, s:s}", "clientSecret", "secret", "refreshToken",
                         "refresh", "authToken", "auth", "apiKey", "key");
    check(s->ctx && s->creds);
    s->phase =
        (s->kind == SEND_GOOGLE || s->kind == SEND_SYNC) && (how & 0x08) ? PHASE_TOKEN : PHASE_CALL;
    if (s->phase == PHASE_CALL && s->kind != SEND_TWILIO && s->kind != SEND_VAPI)
        snprintf(s->token, sizeof s->token, "ya29.stored");
    s->token_fresh = how & 0x20;
    check(build_next(&app, s) == 0);
    return s;
}

/* libcurl's pieces of one answer: `reps` times `body`, `piece` bytes at a
 * time (more when that would make over 1024 pieces), until read_answer
 * refuses one: curl then ends the transfer with a write error. */
static CURLcode feed(struct send *s, const uint8_t *body, size_t len, size_t piece, size_t reps)
{
    static char buf[65536];
    size_t total = len * reps, at = 0;

    s->response_bytes = 0; /* as send_prepare starts each request */
    if (piece < total / 1024)
        piece = total / 1024;
    if (piece > sizeof buf)
        piece = sizeof buf;
    while (at < total) {
        size_t n = total - at < piece ? total - at : piece;
        for (size_t done = 0; done < n;) {
            size_t from = (at + done) % len, k = len - from < n - done ? len - from : n - done;
            memcpy(buf + done, body + from, k);
            done += k;
        }
        if (read_answer(buf, 1, n, s) != n)
            return CURLE_WRITE_ERROR;
        check(s->answer.len <= MAX_ANSWER_BYTES);
        at += n;
    }
    return CURLE_OK;
}

/* An outcome as the worker stores it. */
static void outcome_ok(const struct send *s, CURLcode code, long status,
                       const struct db_delivery_outcome *o)
{
    bool google_ok =
        s->kind == SEND_GOOGLE &&
        ((strcmp(s->d.action, "google.insert") == 0 && status == 409) ||
         (strcmp(s->d.action, "google.delete") == 0 && (status == 404 || status == 410)));

    if (o->result == DB_DELIVERY_DELIVERED)
        check(code == CURLE_OK && ((status >= 200 && status < 300) || google_ok));
    if (o->error) {
        size_t n = strlen(o->error);
        check(core_text_valid(o->error, n, 1000) && strpbrk(o->error, "\r\n") == NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t repeats[] = {1, 1, 1, 1, 2, 16, 1100, 70000};
    struct db_delivery_outcome o;
    char error[200];
    bool breaker_failure, more = true;
    struct send *s;
    const uint8_t *rest, *end;
    CURLcode code;
    long status;
    size_t piece, reps;
    int64_t now = core_now_ms();

    if (size < 4)
        return 0;
    status = 100 + (long)(((unsigned)data[1] << 8 | data[2]) % 500);
    piece = 1 + (size_t)(data[3] & 0x1f) * 61;
    reps = repeats[data[3] >> 5];
    rest = data + 4;
    end = data + size;
    if (!(s = send_new(data[0])))
        return 0;

    for (int round = 0; more && round < MAX_ROUNDS; round++) {
        const uint8_t *sep = memmem(rest, (size_t)(end - rest), SEPARATOR, strlen(SEPARATOR));
        const uint8_t *stop = sep ? sep : end;

        code = feed(s, rest, (size_t)(stop - rest), piece, reps);
        if (data[0] & 0x40)
            code = CURLE_OPERATION_TIMEDOUT;
        /* Answered, only longer than bookd reads. */
        bool too_long = code == CURLE_WRITE_ERROR && s->response_bytes > MAX_RESPONSE_BYTES;
        /* A send that reads its answer (a token, a page of events) cannot
         * use one cut short: only the others count a long 2xx as done. */
        bool body_needed = s->keep_answer;
        memset(&o, 0, sizeof o);
        memset(error, 0, sizeof error);
        if (s->kind == SEND_WEBHOOK) {
            fuzz_status = status;
            judge(&app.cfg, s, code, now, &o, error, sizeof error, &breaker_failure);
            outcome_ok(s, code == CURLE_WRITE_ERROR && status > 0 ? CURLE_OK : code, status, &o);
            break;
        }
        more = outbox_integ_finished(&app, db, s, code, status, now, &o, error, sizeof error,
                                     &breaker_failure);
        check(memchr(error, '\0', sizeof error) != NULL);
        check(strlen(s->page_token) < sizeof s->page_token);
        if (!more && s->kind != SEND_SYNC) {
            outcome_ok(s, too_long ? CURLE_OK : code, status, &o);
            if (too_long && !body_needed && status >= 200 && status < 300)
                check(o.result == DB_DELIVERY_DELIVERED);
        }
        if (!sep)
            break; /* no answer to the next request: its lease runs out */
        rest = sep + strlen(SEPARATOR);
    }
    send_free(NULL, s);
    return 0;
}
