#include "integrations/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void integ_request_cleanup(struct integ_request *r)
{
    if (!r)
        return;
    curl_slist_free_all(r->headers);
    free(r->url);
    if (r->body)
        OPENSSL_cleanse(r->body, r->body_len); /* a token grant's body holds secrets */
    free(r->body);
    if (r->userpwd)
        OPENSSL_cleanse(r->userpwd, strlen(r->userpwd));
    free(r->userpwd);
    memset(r, 0, sizeof *r);
}

bool integ_request_header(struct integ_request *r, const char *name, const char *value)
{
    char line[4096];
    struct curl_slist *next;
    bool ok = (size_t)snprintf(line, sizeof line, "%s: %s", name, value) < sizeof line &&
              (next = curl_slist_append(r->headers, line)) != NULL;

    if (ok)
        r->headers = next;
    OPENSSL_cleanse(line, sizeof line);
    return ok;
}

bool integ_request_bearer(struct integ_request *r, const char *token)
{
    char value[3072];
    bool ok = (size_t)snprintf(value, sizeof value, "Bearer %s", token) < sizeof value &&
              integ_request_header(r, "Authorization", value);
    OPENSSL_cleanse(value, sizeof value);
    return ok;
}

int integ_request_json_post(char *url, json_t *body, const char *token,
                            struct integ_request *out)
{
    memset(out, 0, sizeof *out);
    out->method = "POST";
    out->url = url;
    out->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!out->url || !out->body || !integ_request_bearer(out, token) ||
        !integ_request_header(out, "Content-Type", "application/json") ||
        /* No "Expect: 100-continue" round trip for a body of a few KiB. */
        !integ_request_header(out, "Expect", "")) {
        integ_request_cleanup(out);
        return -1;
    }
    out->body_len = strlen(out->body);
    return 0;
}

static void reserve(struct integ_text *t, size_t more)
{
    size_t cap;
    char *next;

    if (t->failed || t->len + more + 1 <= t->cap)
        return;
    cap = t->cap ? t->cap : 128;
    while (cap < t->len + more + 1)
        cap *= 2;
    if (!(next = malloc(cap))) {
        t->failed = true;
        return;
    }
    /* Not realloc: the old buffer may hold secrets, and is wiped. */
    if (t->data) {
        memcpy(next, t->data, t->len);
        OPENSSL_cleanse(t->data, t->cap);
        free(t->data);
    }
    t->data = next;
    t->cap = cap;
}

void integ_text_add(struct integ_text *t, const char *s)
{
    size_t n = strlen(s);
    reserve(t, n);
    if (t->failed)
        return;
    memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
}

void integ_text_add_escaped(struct integ_text *t, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char one[4] = {(char)*p, 0, 0, 0};
        bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (!keep) {
            one[0] = '%';
            one[1] = hex[*p >> 4];
            one[2] = hex[*p & 15];
        }
        integ_text_add(t, one);
    }
}

void integ_text_add_field(struct integ_text *t, const char *name, const char *value)
{
    if (t->len > 0)
        integ_text_add(t, "&");
    integ_text_add_escaped(t, name);
    integ_text_add(t, "=");
    integ_text_add_escaped(t, value);
}

char *integ_text_take(struct integ_text *t, size_t *len)
{
    char *out;
    if (t->failed || !t->data) {
        if (t->data) {
            OPENSSL_cleanse(t->data, t->cap);
            free(t->data);
        }
        bool failed = t->failed;
        memset(t, 0, sizeof *t);
        if (len)
            *len = 0;
        return failed ? NULL : strdup("");
    }
    out = t->data;
    if (len)
        *len = t->len;
    memset(t, 0, sizeof *t);
    return out;
}
