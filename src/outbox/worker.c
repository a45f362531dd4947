#include "outbox/worker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "core/breaker.h"
#include "core/netaddr.h"
#include "core/retry_schedule.h"
#include "core/secretbox.h"
#include "core/time.h"
#include "db/deliveries.h"
#include "db/outbox_signal.h"
#include "db/secrets.h"
#include "integrations/webhook.h"
#include "integrations/webhook_sign.h"
#include "log.h"
#include "metrics.h"
#include "outbox/housekeeper.h"
#include "outbox/integ_send.h"
#include "outbox/send.h"
#include "outbox/thread.h"

#define MAX_IN_FLIGHT 256     /* sends at once, all targets */
#define MAX_PER_TARGET 64     /* sends at once to one target */
#define FAN_OUT_BATCH 200
#define MAX_RESPONSE_BYTES 65536
#define MAX_ANSWER_BYTES (4 * 1024 * 1024) /* a kept answer: a token, an events page */
#define SYNC_BATCH 8          /* calendar imports claimed at once */
#define SYNC_EVERY_MS 1000    /* looks for calendars due for an import */
#define SECRET_RETRY_MS 30000  /* a secret that does not open: looked at again then */
#define REQUEUE_MS 100        /* a target's sends beyond its bound: claimable again then */
#define HELD_RETRY_MS 50      /* events behind an open transaction: looked for again then */
#define GATHER_MS 10          /* a wake-up this soon after a fan-out that took events waits */

struct outbox_worker {
    const struct app *app;
    bool in_process;
    pthread_t thread;
    atomic_bool stop;
    struct db_session *db;
    struct outbox_housekeeper *housekeeper; /* the purges, on a session of their own */
    CURLM *multi;
    struct send *sends[MAX_IN_FLIGHT];
    int in_flight;
    /* Easy handles of finished sends, reset, for the next ones: a handle
     * made anew for every send was most of the worker's CPU (its
     * allocations, and libcurl's setup of it). */
    CURL *spare[MAX_IN_FLIGHT];
    int n_spare;
};

static double random_unit(void)
{
    uint32_t r;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        return 0.5;
    return (double)r / 4294967296.0;
}

/* The endpoint id of a "webhook:<id>" target, or NULL. */
static const char *endpoint_of(const char *target)
{
    return strncmp(target, "webhook:", 8) == 0 ? target + 8 : NULL;
}

/*
 * Opens the endpoint's signing key, sealed under BOOKD_SECRET_KEY and
 * bound to the endpoint's row (core/secretbox). 0 and the key, or -1 with
 * why in `why`.
 */
static int open_secret(const struct app *app, const struct db_delivery *d, unsigned char *key,
                       size_t size, size_t *len, char *why, size_t why_size)
{
    char aad[DB_SECRET_AAD_SIZE];
    const char *endpoint = endpoint_of(d->target);
    int rc;

    if (!app->has_secret_key) {
        snprintf(why, why_size, "no BOOKD_SECRET_KEY: the endpoint's secret cannot be opened");
        return -1;
    }
    db_webhook_secret_aad(endpoint ? endpoint : "", aad);
    rc = core_secretbox_open(&app->secret_key, d->secret, d->secret_len, aad, strlen(aad), key,
                             size, len);
    if (rc != 0) {
        char id[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1] = "?";
        core_secretbox_key_id(d->secret, d->secret_len, id);
        snprintf(why, why_size, "the endpoint's secret does not open with BOOKD_SECRET_KEY "
                                "(it is sealed under key %s)", id);
        return -1;
    }
    return 0;
}

/* Whatever the receiver answers, read to a bound: thrown away, or kept
 * when the send needs it (a token grant, a page of events). */
static size_t read_answer(char *data, size_t size, size_t n, void *userdata)
{
    struct send *s = userdata;
    s->response_bytes += size * n;
    if (!s->keep_answer)
        return s->response_bytes > MAX_RESPONSE_BYTES ? 0 : size * n;
    if (s->response_bytes > MAX_ANSWER_BYTES)
        return 0;
    core_json_buf_raw(&s->answer, data, size * n);
    return size * n;
}

/*
 * Connect-time check of the address the host resolved to: a name that
 * resolved to a public address when the endpoint was created may resolve
 * to a private one now (DNS rebinding). Refused: no socket at all.
 */
static curl_socket_t open_checked(void *clientp, curlsocktype purpose,
                                  struct curl_sockaddr *address)
{
    struct send *s = clientp;
    enum core_addr_class c = core_addr_classify(&address->addr, address->addrlen);
    (void)purpose;
    if (!core_addr_allowed(c, s->allow_private)) {
        s->refused = core_addr_class_name(c);
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

/* Frees a send; its easy handle (removed from the multi handle) goes to
 * the spares when `w` is given and has room, else it is cleaned up. */
static void send_free(struct outbox_worker *w, struct send *s)
{
    if (!s)
        return;
    if (s->easy) {
        if (w && w->n_spare < MAX_IN_FLIGHT) {
            curl_easy_reset(s->easy);
            w->spare[w->n_spare++] = s->easy;
        } else {
            curl_easy_cleanup(s->easy);
        }
    }
    integ_request_cleanup(&s->req);
    outbox_integ_cleanup(s);
    free(s->d.url);
    free(s->d.payload);
    OPENSSL_cleanse(s->d.secret, sizeof s->d.secret);
    OPENSSL_cleanse(s->d.token, sizeof s->d.token);
    OPENSSL_cleanse(s->job.secret, sizeof s->job.secret);
    OPENSSL_cleanse(s->job.token, sizeof s->job.token);
    free(s);
}

/*
 * Sets up the easy handle of one send (a spare one, or the send's own for
 * its next request) and adds it to the multi handle; 0 or -1. Integrations'
 * base URLs are the operator's settings: only webhook URLs, which
 * organizations choose, are held to the private-address rule.
 */
static int send_prepare(struct outbox_worker *w, struct send *s)
{
    const struct config *cfg = &w->app->cfg;
    CURL *e = s->easy ? s->easy : w->n_spare > 0 ? w->spare[--w->n_spare] : curl_easy_init();
    const char *method = s->req.method ? s->req.method : "POST";

    if (!e)
        return -1;
    if (s->easy)
        curl_easy_reset(e);
    s->easy = e;
    s->error[0] = '\0';
    s->response_bytes = 0;
    s->allow_private = s->kind != SEND_WEBHOOK || cfg->webhook_allow_private;
    curl_easy_setopt(e, CURLOPT_URL, s->req.url ? s->req.url : s->d.url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->webhook_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->webhook_timeout_ms);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->req.body ? s->req.body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)s->req.body_len);
    } else if (strcmp(method, "DELETE") == 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    if (s->req.userpwd) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERPWD, s->req.userpwd);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->req.headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "bookd/" BOOKD_VERSION);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, read_answer);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->error);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_checked);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, s);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    return curl_multi_add_handle(w->multi, e) == CURLM_OK ? 0 : -1;
}

void outbox_failed_attempt(const struct config *cfg, int attempts_before, int64_t now,
                           struct db_delivery_outcome *o)
{
    int64_t delay;
    if (core_retry_next_delay_ms(&cfg->retry, (uint32_t)attempts_before + 1, random_unit(),
                                 &delay) == 0) {
        o->result = DB_DELIVERY_RETRY;
        o->next_attempt_ms = now + delay;
    } else {
        o->result = DB_DELIVERY_DEAD;
    }
}

/* Index of (org, target) in keys[0..*n), added when missing. Keys stay
 * sorted, the order every worker locks breakers in. */
static size_t key_index(struct db_breaker_key *keys, size_t *n, const char *org,
                        const char *target)
{
    size_t i = 0;
    int c = 1;
    while (i < *n && (c = strcmp(keys[i].org_id, org) ?: strcmp(keys[i].target, target)) < 0)
        i++;
    if (i < *n && c == 0)
        return i;
    memmove(&keys[i + 1], &keys[i], (*n - i) * sizeof *keys);
    snprintf(keys[i].org_id, sizeof keys[i].org_id, "%s", org);
    snprintf(keys[i].target, sizeof keys[i].target, "%s", target);
    (*n)++;
    return i;
}

static size_t find_key(const struct db_breaker_key *keys, size_t n, const char *org,
                       const char *target)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i].org_id, org) == 0 && strcmp(keys[i].target, target) == 0)
            return i;
    return n;
}

static int in_flight_to(const struct outbox_worker *w, const struct db_delivery *d)
{
    int n = 0;
    for (int i = 0; i < w->in_flight; i++)
        n += strcmp(w->sends[i]->d.org_id, d->org_id) == 0 &&
             strcmp(w->sends[i]->d.target, d->target) == 0;
    return n;
}

/*
 * A send for a claimed delivery to an integration, its context read and
 * its credentials opened (outbox_integ_open), with its own copies of the
 * delivery's strings (the claim's rows stay the caller's). NULL with *o
 * set when there is nothing to send now (void, deferred), or out of memory
 * (*o untouched).
 */
static struct send *integ_send_new(struct outbox_worker *w, const struct db_delivery *d,
                                   int64_t now, struct db_delivery_outcome *o, char *error,
                                   size_t error_size)
{
    struct send *s = calloc(1, sizeof *s);

    if (!s)
        return NULL;
    s->d = *d;
    s->d.url = strdup(d->url ? d->url : "");
    s->d.payload = strdup(d->payload ? d->payload : "{}");
    if (!s->d.url || !s->d.payload) {
        send_free(NULL, s);
        return NULL;
    }
    if (outbox_integ_open(w->app, s, now, o, error, error_size) != 0) {
        o->id = d->id;
        send_free(NULL, s);
        return NULL;
    }
    return s;
}

/* True when `s` would start with a token grant while a send for the same
 * organization already makes one: it waits for that token (one grant, not
 * one per delivery). */
static bool granting_for(const struct outbox_worker *w, const struct send *s)
{
    const char *org = s->kind == SEND_SYNC ? s->job.org_id : s->d.org_id;
    if (!outbox_integ_granting(s))
        return false;
    for (int i = 0; i < w->in_flight; i++) {
        const struct send *o = w->sends[i];
        if (outbox_integ_granting(o) &&
            strcmp(o->kind == SEND_SYNC ? o->job.org_id : o->d.org_id, org) == 0)
            return true;
    }
    return false;
}

/*
 * Starts the sends of deliveries leased to this worker (by the fan-out or
 * a claim; at most the room left) that their breakers let through. In one
 * transaction with the breakers locked: what a breaker holds back is
 * deferred to its probe time (no attempt counted); a delivery whose
 * secret cannot be opened waits, no attempt counted. Frees `ds`. Returns
 * the number taken (less what was put back for a target at its bound).
 */
static int start_deliveries(struct outbox_worker *w, struct db_delivery *ds, size_t n)
{
    const struct config *cfg = &w->app->cfg;
    int started = 0;
    struct db_breaker_key keys[MAX_IN_FLIGHT];
    struct core_breaker rows[MAX_IN_FLIGHT];
    struct db_delivery_outcome outcomes[MAX_IN_FLIGHT];
    char errors[MAX_IN_FLIGHT][200];
    const char *targets[MAX_IN_FLIGHT];
    bool requeued[MAX_IN_FLIGHT] = {false}, gate = false;
    size_t n_keys = 0, n_out = 0, n_requeued = 0;
    int64_t now = core_now_ms();

    if (n == 0) {
        db_deliveries_free(ds, n);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        key_index(keys, &n_keys, ds[i].org_id, ds[i].target);
    /* Every breaker closed (the common case): they let everything through
     * unchanged, so no transaction is needed to look at them. */
    if (db_breakers_peek(w->db, keys, n_keys, rows) != 0) {
        db_deliveries_free(ds, n); /* their leases run out; claimed again then */
        return -1;
    }
    for (size_t k = 0; k < n_keys && !gate; k++)
        gate = rows[k].state != CORE_BREAKER_CLOSED;
    if (gate && db_breakers_begin(w->db, keys, n_keys, rows) != 0) {
        db_deliveries_free(ds, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct db_delivery *d = &ds[i];
        size_t k = find_key(keys, n_keys, d->org_id, d->target);
        struct db_delivery_outcome *o = &outcomes[n_out];
        unsigned char key[INTEG_WEBHOOK_KEY_MAX];
        size_t key_len = 0;
        struct send *s = NULL;
        bool webhook = outbox_send_kind(d->target) == SEND_WEBHOOK;

        memset(o, 0, sizeof *o);
        o->id = d->id;
        targets[n_out] = d->target;
        if (webhook ? open_secret(w->app, d, key, sizeof key, &key_len, errors[n_out],
                                  sizeof errors[n_out]) != 0
                    : (s = integ_send_new(w, d, now, o, errors[n_out],
                                          sizeof errors[n_out])) == NULL) {
            if (webhook) {
                /* This process's key is not the one the secret is sealed
                 * under (a rotation under way): no attempt is counted
                 * against the delivery; a worker with the right key, or
                 * this one restarted with it, sends it. */
                log_warn("worker.secret_unreadable", "delivery %s: %s", d->id, errors[n_out]);
                o->result = DB_DELIVERY_DEFER;
                o->next_attempt_ms = now + SECRET_RETRY_MS;
            }
            /* An integration's: void, deferred, or out of memory (left to
             * its lease: nothing recorded). */
            n_out += o->result == DB_DELIVERY_VOID || o->result == DB_DELIVERY_DEFER;
            continue;
        }
        if (in_flight_to(w, d) >= MAX_PER_TARGET || (s && granting_for(w, s))) {
            /* For a claim after one of the target's sends finished (or the
             * organization's token grant): not a deferral, and not counted
             * as claimed (a slow target must not keep the worker claiming
             * and putting back in a loop). */
            o->result = DB_DELIVERY_DEFER;
            o->next_attempt_ms = now + REQUEUE_MS;
            requeued[n_out++] = true;
            n_requeued++;
            OPENSSL_cleanse(key, sizeof key);
            send_free(w, s);
            continue;
        }
        if (!core_breaker_allow(&rows[k], &cfg->breaker, now)) {
            /* Open: due at the probe time. Half-open with every trial slot
             * taken: the trials' outcomes come within the timeout, so look
             * again soon rather than at the end of the trials' lease. */
            int64_t probe = core_breaker_next_probe_ms(&rows[k], &cfg->breaker, now);
            o->result = DB_DELIVERY_DEFER;
            o->next_attempt_ms = rows[k].state == CORE_BREAKER_HALF_OPEN && probe > now + 1000
                                     ? now + 1000
                                     : probe;
            n_out++;
            OPENSSL_cleanse(key, sizeof key);
            send_free(w, s);
            continue;
        }
        if (webhook && (s = calloc(1, sizeof *s)) != NULL) {
            s->d = *d; /* the send owns the delivery's strings from here */
            memset(d, 0, sizeof *d);
        }
        if (!s ||
            (webhook ? integ_webhook_request(s->d.id, s->d.event_type, s->d.event_at,
                                             s->d.payload, key, key_len, now / 1000, &s->req)
                     : outbox_integ_start(w->app, w->db, s)) != 0 ||
            send_prepare(w, s) != 0) {
            /* Out of memory: not sent; the lease runs out and it is claimed
             * again. A trial slot it took is given back unused. */
            if (rows[k].state == CORE_BREAKER_HALF_OPEN && rows[k].trials_in_flight > 0)
                rows[k].trials_in_flight--;
            if (s && s->easy)
                curl_multi_remove_handle(w->multi, s->easy);
            send_free(w, s);
            OPENSSL_cleanse(key, sizeof key);
            continue;
        }
        OPENSSL_cleanse(key, sizeof key);
        w->sends[w->in_flight++] = s;
        started++;
    }
    if (gate ? db_breakers_commit(w->db, keys, n_keys, rows, outcomes, n_out) != 0
             : db_deliveries_record(w->db, outcomes, n_out) != 0)
        log_warn("worker.gate_failed", "the breakers' state of this claim was not stored");
    for (size_t i = 0; i < n_out; i++)
        if (!requeued[i])
            metrics_delivery_observe(metrics_target_of(targets[i]), outcomes[i].result, -1);
    db_deliveries_free(ds, n);
    return (int)(n - n_requeued);
}

/* Claims due deliveries (retries, deferrals, reminders, handed-back
 * leases: first attempts come leased from the fan-out) and starts them.
 * Returns the number claimed (as start_deliveries), or -1. */
static int claim_and_start(struct outbox_worker *w)
{
    int room = MAX_IN_FLIGHT - w->in_flight;
    struct db_delivery *ds = NULL;
    size_t n = 0;

    if (room <= 0)
        return 0;
    if (db_deliveries_claim(w->db, room, w->app->cfg.delivery_lease_ms, &ds, &n) != 0)
        return -1;
    return start_deliveries(w, ds, n);
}

/*
 * Fans out the events waiting (up to ten batches while each is full) and
 * starts the deliveries each batch leased to this worker. A batch takes no
 * more events than the worker has room for sends: an event has at least
 * one delivery when it has any, and a delivery made beyond the room waits
 * for a claim, which costs it one more update and the claim's own reading.
 * Events wait as cheaply where they are, until there is room (at full
 * speed, most deliveries went through a claim: bench/HISTORY.md, step 48).
 * Returns true when a batch was full: more may wait. *held_back: events
 * wait behind a transaction still open, which no wake-up will announce
 * when it ends. *taken: how many events were taken.
 */
static bool fan_out_and_start(struct outbox_worker *w, bool *held_back, int *taken)
{
    const struct config *cfg = &w->app->cfg;
    int processed = 0, batch = 0, rounds = 0;
    int64_t first_delay = 0;

    *taken = 0;
    core_retry_next_delay_ms(&cfg->retry, 0, random_unit(), &first_delay);
    do {
        struct db_delivery *ds = NULL;
        size_t n = 0;
        int room = MAX_IN_FLIGHT - w->in_flight;
        if (room <= 0)
            return true;
        batch = room < FAN_OUT_BATCH ? room : FAN_OUT_BATCH;
        if (db_outbox_fan_out(w->db, batch, (int)first_delay, room, cfg->delivery_lease_ms,
                              &processed, held_back, &ds, &n) != 0)
            return false;
        *taken += processed;
        start_deliveries(w, ds, n);
    } while (processed == batch && ++rounds < 10);
    return processed == batch;
}

/*
 * Starts the busy-time imports of calendars that are due (leased to this
 * worker). An import goes through Google's breaker like a delivery: while
 * it is open the import is not made (its error says so) and the last busy
 * times stand.
 */
static void start_syncs(struct outbox_worker *w, int64_t now)
{
    const struct config *cfg = &w->app->cfg;
    struct db_calendar_job *jobs = NULL;
    struct db_breaker_key keys[SYNC_BATCH];
    struct core_breaker rows[SYNC_BATCH];
    size_t n = 0, n_keys = 0;
    int room = MAX_IN_FLIGHT - w->in_flight;

    if (room <= 0 || db_calendar_sync_claim(w->db, room < SYNC_BATCH ? room : SYNC_BATCH,
                                            cfg->delivery_lease_ms, &jobs, &n) != 0)
        return;
    /* The organizations' Google breakers, in one read. */
    for (size_t i = 0; i < n; i++)
        key_index(keys, &n_keys, jobs[i].org_id, "google");
    if (n_keys > 0 && db_breakers_peek(w->db, keys, n_keys, rows) != 0)
        n_keys = 0; /* not read: taken as closed */
    for (size_t i = 0; i < n; i++) {
        size_t k = find_key(keys, n_keys, jobs[i].org_id, "google");
        struct send *s = calloc(1, sizeof *s);

        if (!s)
            break; /* the rest are left to their lease */
        s->job = jobs[i];
        jobs[i].settings = NULL; /* the send owns it */
        if (k < n_keys && rows[k].state == CORE_BREAKER_OPEN &&
            core_breaker_next_probe_ms(&rows[k], &cfg->breaker, now) > now) {
            s->kind = SEND_SYNC;
            db_calendar_sync_store(w->db, s->job.provider_id,
                                   "not imported: Google's circuit breaker is open", NULL, NULL,
                                   NULL, 0, cfg->google_sync_seconds);
            send_free(w, s);
            continue;
        }
        if (outbox_sync_start(w->app, w->db, s, now) != 0 || send_prepare(w, s) != 0) {
            send_free(w, s);
            continue;
        }
        w->sends[w->in_flight++] = s;
    }
    db_calendar_jobs_free(jobs, n);
}

/* What one finished send means for its delivery and for its breaker. */
static void judge(const struct config *cfg, struct send *s, CURLcode code, int64_t now,
                  struct db_delivery_outcome *o, char *error, size_t error_size,
                  bool *breaker_failure)
{
    long status = 0;

    memset(o, 0, sizeof *o);
    o->id = s->d.id;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    /* An answer longer than bookd reads is still an answer. */
    if (code == CURLE_WRITE_ERROR && s->response_bytes > MAX_RESPONSE_BYTES && status > 0)
        code = CURLE_OK;
    if (code != CURLE_OK) {
        if (s->refused)
            snprintf(error, error_size,
                     "refused: the host resolved to a %s address "
                     "(BOOKD_WEBHOOK_ALLOW_PRIVATE is false)",
                     s->refused);
        else if (code == CURLE_OPERATION_TIMEDOUT)
            snprintf(error, error_size, "no answer within %d ms", cfg->webhook_timeout_ms);
        else
            snprintf(error, error_size, "%.190s", s->error[0] ? s->error : curl_easy_strerror(code));
        o->error = error;
        *breaker_failure = true;
        outbox_failed_attempt(cfg, s->d.attempts, now, o);
        return;
    }
    o->status_code = (int)status;
    *breaker_failure = core_breaker_counts_as_failure((int)status, false);
    if (status >= 200 && status < 300) {
        o->result = DB_DELIVERY_DELIVERED;
        return;
    }
    if (status == 410) {
        o->result = DB_DELIVERY_GONE;
        snprintf(error, error_size, "HTTP 410: the endpoint is disabled");
        o->error = error;
        return;
    }
    snprintf(error, error_size, "HTTP %ld%s", status,
             status >= 300 && status < 400 ? ": redirects are not followed" : "");
    o->error = error;
    outbox_failed_attempt(cfg, s->d.attempts, now, o);
}

/* True when every finished send in done[0..n) succeeded (NULL: none to
 * judge; a refused address counts as no success). */
static bool all_succeeded(struct send *const *done, const bool *failures, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (done[i] && (failures[i] || done[i]->refused))
            return false;
    return true;
}

/*
 * For sends that all succeeded: true when their successes leave every
 * breaker of `keys` as it stands, read without a lock (closed, its window
 * full of successes: the common case). Then there is nothing to write and
 * no breaker to lock, and the outcomes are recorded alone. Another
 * worker's failure recorded meanwhile stays in the window a few calls
 * longer than these successes would have kept it: never a failure lost.
 */
static bool breakers_unchanged(struct outbox_worker *w, struct send *const *done, size_t n,
                               const struct db_breaker_key *keys, size_t n_keys, int64_t now)
{
    struct core_breaker rows[MAX_IN_FLIGHT], after[MAX_IN_FLIGHT];

    if (db_breakers_peek(w->db, keys, n_keys, rows) != 0)
        return false;
    memcpy(after, rows, n_keys * sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        const struct send *s = done[i];
        if (s)
            core_breaker_record(&after[s->kind == SEND_SYNC
                                           ? find_key(keys, n_keys, s->job.org_id, "google")
                                           : find_key(keys, n_keys, s->d.org_id, s->d.target)],
                                &w->app->cfg.breaker, now, true);
    }
    for (size_t k = 0; k < n_keys; k++)
        if (!core_breaker_equal(&rows[k], &after[k]))
            return false;
    return true;
}

/* Collects the finished sends and writes their outcomes back, with the
 * breakers, in one transaction (or alone when no breaker changes).
 * Returns how many finished. */
static size_t finish_sends(struct outbox_worker *w)
{
    const struct config *cfg = &w->app->cfg;
    struct send *done[MAX_IN_FLIGHT];
    CURLcode codes[MAX_IN_FLIGHT];
    struct db_delivery_outcome outcomes[MAX_IN_FLIGHT], kept[MAX_IN_FLIGHT];
    char errors[MAX_IN_FLIGHT][200];
    bool failures[MAX_IN_FLIGHT];
    struct db_breaker_key keys[MAX_IN_FLIGHT];
    struct core_breaker rows[MAX_IN_FLIGHT];
    size_t n = 0, n_keys = 0, n_kept = 0;
    int64_t now = core_now_ms();
    CURLMsg *m;
    int left;

    while (n < MAX_IN_FLIGHT && (m = curl_multi_info_read(w->multi, &left)) != NULL) {
        struct send *s = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        curl_multi_remove_handle(w->multi, m->easy_handle);
        codes[n] = m->data.result;
        done[n++] = s;
        for (int i = 0; i < w->in_flight; i++)
            if (w->sends[i] == s) {
                w->sends[i] = w->sends[--w->in_flight];
                break;
            }
    }
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        struct send *s = done[i];
        if (s->kind == SEND_WEBHOOK) {
            judge(cfg, s, codes[i], now, &outcomes[i], errors[i], sizeof errors[i],
                  &failures[i]);
        } else {
            long status = 0;
            curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
            memset(&outcomes[i], 0, sizeof outcomes[i]);
            if (outbox_integ_finished(w->app, w->db, s, codes[i], status, now, &outcomes[i],
                                      errors[i], sizeof errors[i], &failures[i])) {
                /* Its next request (the call after the token, the next
                 * page) on the same handle; out of memory: its lease runs
                 * out and it is claimed again. */
                if (send_prepare(w, s) == 0) {
                    w->sends[w->in_flight++] = s;
                    done[i] = NULL;
                    continue;
                }
                curl_multi_remove_handle(w->multi, s->easy);
                done[i] = NULL;
                send_free(w, s);
                continue;
            }
        }
        if (s->kind == SEND_SYNC)
            key_index(keys, &n_keys, s->job.org_id, "google");
        else
            key_index(keys, &n_keys, s->d.org_id, s->d.target);
    }
    /* The deliveries' outcomes, in a row; an import has none (it stored
     * its own), but counts for Google's breaker. */
    for (size_t i = 0; i < n; i++)
        if (done[i] && done[i]->kind != SEND_SYNC) {
            kept[n_kept] = outcomes[i];
            n_kept++;
        }
    if (n_keys > 0 && all_succeeded(done, failures, n) &&
        breakers_unchanged(w, done, n, keys, n_keys, now)) {
        if (db_deliveries_record(w->db, kept, n_kept) != 0)
            log_warn("worker.record_failed",
                     "%zu outcomes not stored; the deliveries are sent again after the lease",
                     n_kept);
    } else if (n_keys > 0 && db_breakers_begin(w->db, keys, n_keys, rows) == 0) {
        for (size_t i = 0; i < n; i++) {
            struct send *s = done[i];
            size_t k;
            if (!s)
                continue;
            k = s->kind == SEND_SYNC ? find_key(keys, n_keys, s->job.org_id, "google")
                                     : find_key(keys, n_keys, s->d.org_id, s->d.target);
            /* A refused address is bookd's own rule: it says nothing of the
             * target, and a trial slot it took is given back unused. */
            if (s->refused) {
                if (rows[k].state == CORE_BREAKER_HALF_OPEN && rows[k].trials_in_flight > 0)
                    rows[k].trials_in_flight--;
                continue;
            }
            core_breaker_record(&rows[k], &cfg->breaker, now, !failures[i]);
        }
        if (db_breakers_commit(w->db, keys, n_keys, rows, kept, n_kept) != 0)
            log_warn("worker.record_failed",
                     "%zu outcomes not stored; the deliveries are sent again after the lease",
                     n_kept);
    }
    for (size_t i = 0; i < n; i++) {
        struct send *s = done[i];
        if (!s)
            continue;
        if (s->kind != SEND_SYNC) {
            double latency = outcomes[i].result == DB_DELIVERY_DELIVERED
                                 ? (double)(now - s->d.event_at_ms) / 1000.0
                                 : -1;
            metrics_delivery_observe(metrics_target_of(s->d.target), outcomes[i].result,
                                     latency);
            log_write(LOG_DEBUG, "delivery.sent", "%s %s", s->d.id,
                      db_delivery_result_name(outcomes[i].result));
        }
        send_free(w, s);
    }
    return n;
}

/* Waits for sends, a notification, the process's signal or the poll
 * interval; true when there may be new work to claim. With `poll_wakeups`
 * false it waits for sends and the time only, and notifications and
 * signals stay pending for a later wait. */
static bool wait_for_work(struct outbox_worker *w, int timeout_ms, bool poll_wakeups)
{
    struct curl_waitfd fds[2];
    unsigned nfds = 0;
    int sock = poll_wakeups ? db_session_socket(w->db) : -1;
    int sig = poll_wakeups && w->in_process ? db_outbox_signal_fd() : -1;
    bool work = false;

    if (sock >= 0)
        fds[nfds++] = (struct curl_waitfd){.fd = sock, .events = CURL_WAIT_POLLIN};
    if (sig >= 0)
        fds[nfds++] = (struct curl_waitfd){.fd = sig, .events = CURL_WAIT_POLLIN};
    curl_multi_poll(w->multi, fds, nfds, timeout_ms, NULL);
    for (unsigned i = 0; i < nfds; i++) {
        if (!(fds[i].revents & CURL_WAIT_POLLIN))
            continue;
        if (fds[i].fd == sock)
            work |= db_session_drain(w->db);
        else {
            db_outbox_signal_clear();
            work = true;
        }
    }
    return work;
}

static void *worker_main(void *arg)
{
    struct outbox_worker *w = arg;
    const struct config *cfg = &w->app->cfg;
    int64_t last_claim = 0, last_sync = 0, last_release = 0;
    /* A quarter of the lease, but not more often than the poll: a dead
     * worker's deliveries go out again soon after their lease runs out. */
    int64_t release_every = cfg->delivery_lease_ms / 4 > cfg->outbox_poll_ms
                                ? cfg->delivery_lease_ms / 4
                                : cfg->outbox_poll_ms;
    /* Events held back by a transaction still open: looked at again then
     * (0: none), not at the next poll. */
    int64_t held_retry_at = 0;
    /* A wake-up is acted on no sooner than this (see below). */
    int64_t gather_until = 0;
    bool more_due = true, woken = false, ready;
    int running = 0;

    log_notice("worker.started", "delivering the outbox (poll every %d ms)", cfg->outbox_poll_ms);
    while (!atomic_load(&w->stop) || w->in_flight > 0) {
        int64_t now = core_now_ms();
        bool stopping = atomic_load(&w->stop);

        if (db_session_ensure(w->db, now) != 0) {
            if (stopping)
                break; /* the outcomes cannot be written: the leases run out */
            /* The sends in flight go on (and their outcomes are tried, then
             * left to the lease) while the database is away. */
            curl_multi_perform(w->multi, &running);
            finish_sends(w);
            wait_for_work(w, 200, true);
            continue;
        }
        if (!stopping && w->in_flight < MAX_IN_FLIGHT &&
            (more_due || (woken && now >= gather_until) ||
             now - last_claim >= cfg->outbox_poll_ms ||
             (held_retry_at && now >= held_retry_at))) {
            int taken = 0;
            bool held_back = false, more_events;
            /* Every commit signalled so far is in what this fan-out sees:
             * their signals are spent (else they would start a round of
             * their own, to find nothing). */
            if (w->in_process)
                db_outbox_signal_clear();
            more_events = fan_out_and_start(w, &held_back, &taken);
            int room = MAX_IN_FLIGHT - w->in_flight, released = 0;
            /* Leases that ran out, looked for now and then (their worker
             * died): handed back, then claimed with the rest. */
            if (now - last_release >= release_every) {
                db_deliveries_release(w->db, MAX_IN_FLIGHT, &released);
                last_release = now;
            }
            /* A full claim may have left more due: claim again as soon as
             * there is room, without waiting for a wake-up. */
            more_due = (room > 0 && claim_and_start(w) == room) || more_events ||
                       released == MAX_IN_FLIGHT;
            woken = false;
            last_claim = now;
            held_retry_at = held_back ? now + HELD_RETRY_MS : 0;
            /* Events came: the wake-ups of the next GATHER_MS wait for the
             * end of it and are served by one fan-out and one claim. Each
             * booking wakes the worker, and one fan-out and claim a
             * booking or two was a tenth of the database's time a booking
             * at full speed (bench/HISTORY.md, step 50); a first event
             * after a quiet spell goes out at once. */
            gather_until = taken > 0 ? now + GATHER_MS : 0;
        }
        if (!stopping && now - last_sync >= SYNC_EVERY_MS) {
            last_sync = now;
            start_syncs(w, now);
        }
        curl_multi_perform(w->multi, &running);
        /* A finished send frees room, perhaps for a target at its bound. */
        woken |= finish_sends(w) > 0;
        /* Work to do as soon as there is room: a wake-up (perhaps within
         * the gathering) or more due. Decided on the clock read now, as is
         * the gathering's end, so that a wake-up never waits for the poll. */
        now = core_now_ms();
        if (gather_until - now > GATHER_MS)
            gather_until = now; /* the clock went back */
        ready = !stopping && w->in_flight < MAX_IN_FLIGHT && (more_due || woken);
        if (ready && !more_due && gather_until > now)
            wait_for_work(w, (int)(gather_until - now), false);
        else if (w->in_flight > 0)
            woken |= wait_for_work(w, ready ? 0 : 50, true);
        else if (!ready)
            woken |= wait_for_work(w, !held_retry_at        ? cfg->outbox_poll_ms
                                      : held_retry_at > now ? (int)(held_retry_at - now)
                                                            : 0,
                                   true);
    }
    log_notice("worker.stopped", "the outbox worker stopped");
    return NULL;
}

struct outbox_worker *outbox_worker_start(const struct app *app, bool in_process)
{
    struct outbox_worker *w = calloc(1, sizeof *w);

    if (!w)
        return NULL;
    w->app = app;
    w->in_process = in_process;
    atomic_init(&w->stop, false);
    if (in_process)
        db_outbox_signal_init();
    if (!(w->db = db_session_new(app->cfg.database_url, true)) ||
        !(w->multi = curl_multi_init()) ||
        pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        db_session_free(w->db);
        if (w->multi)
            curl_multi_cleanup(w->multi);
        free(w);
        return NULL;
    }
    if (!(w->housekeeper = outbox_housekeeper_start(app)))
        log_warn("worker.no_housekeeping", "no purge thread: old keys and deliveries stay");
    return w;
}

void outbox_worker_stop(struct outbox_worker *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, true);
    curl_multi_wakeup(w->multi);
    outbox_housekeeper_stop(w->housekeeper); /* meanwhile the sends in flight finish */
    pthread_join(w->thread, NULL);
    for (int i = 0; i < w->in_flight; i++) {
        curl_multi_remove_handle(w->multi, w->sends[i]->easy);
        send_free(NULL, w->sends[i]);
    }
    while (w->n_spare > 0)
        curl_easy_cleanup(w->spare[--w->n_spare]);
    curl_multi_cleanup(w->multi);
    db_session_free(w->db);
    free(w);
}

/* The notifier -------------------------------------------------------------- */

#define NOTIFIER_INTERVAL_MS 10

struct outbox_notifier {
    struct outbox_thread t;
};

static void *notifier_main(void *arg)
{
    struct outbox_notifier *n = arg;
    struct pollfd fds[2] = {{.fd = db_outbox_signal_fd(), .events = POLLIN},
                            {.fd = n->t.wake[0], .events = POLLIN}};

    while (!atomic_load(&n->t.stop)) {
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        if (atomic_load(&n->t.stop))
            break;
        if (fds[0].revents & POLLIN) {
            db_outbox_signal_clear();
            if (db_session_ensure(n->t.db, core_now_ms()) == 0)
                db_session_notify(n->t.db);
            poll(NULL, 0, NOTIFIER_INTERVAL_MS);
        }
    }
    return NULL;
}

struct outbox_notifier *outbox_notifier_start(const char *conninfo)
{
    struct outbox_notifier *n = calloc(1, sizeof *n);

    if (!n || db_outbox_signal_init() != 0 ||
        outbox_thread_start(&n->t, conninfo, notifier_main, n) != 0) {
        free(n);
        return NULL;
    }
    return n;
}

void outbox_notifier_stop(struct outbox_notifier *n)
{
    if (!n)
        return;
    outbox_thread_stop(&n->t);
    free(n);
}
