#include "integrations/webhook_sign.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "core/validate.h"

#define PREFIX_LEN (sizeof INTEG_WEBHOOK_SECRET_PREFIX - 1)
#define HMAC_LEN 32
#define SIG_B64_LEN 44

static size_t b64_len(size_t n)
{
    return 4 * ((n + 2) / 3);
}

static bool is_b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/*
 * Decodes strict padded base64 (the standard alphabet) of at most
 * `max` bytes into `out`. EVP_DecodeBlock alone skips white space and
 * counts padding as data, so the shape is checked here first.
 */
static int b64_decode(const char *s, size_t len, unsigned char *out, size_t max, size_t *out_len)
{
    unsigned char buf[3 * (INTEG_WEBHOOK_SECRET_SIZE / 4 + 1)];
    size_t pad = 0;
    int n;

    if (len == 0 || len % 4 != 0 || len / 4 * 3 > sizeof buf)
        return -1;
    if (s[len - 1] == '=')
        pad = s[len - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < len - pad; i++)
        if (!is_b64_char((unsigned char)s[i]))
            return -1;
    n = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len);
    if (n < 0 || (size_t)n < pad || (size_t)n - pad > max) {
        OPENSSL_cleanse(buf, sizeof buf);
        return -1;
    }
    *out_len = (size_t)n - pad;
    memcpy(out, buf, *out_len);
    OPENSSL_cleanse(buf, sizeof buf);
    return 0;
}

int integ_webhook_secret_encode(const unsigned char *key, size_t key_len, char *out,
                                size_t out_size)
{
    if (!key || !out || key_len < INTEG_WEBHOOK_KEY_MIN || key_len > INTEG_WEBHOOK_KEY_MAX ||
        out_size < PREFIX_LEN + b64_len(key_len) + 1)
        return INTEG_WEBHOOK_EINVAL;
    memcpy(out, INTEG_WEBHOOK_SECRET_PREFIX, PREFIX_LEN);
    EVP_EncodeBlock((unsigned char *)out + PREFIX_LEN, key, (int)key_len);
    return 0;
}

int integ_webhook_secret_new(size_t key_len, char *out, size_t out_size)
{
    unsigned char key[INTEG_WEBHOOK_KEY_MAX];
    int rc;

    if (!out || key_len < INTEG_WEBHOOK_KEY_MIN || key_len > INTEG_WEBHOOK_KEY_MAX ||
        out_size < PREFIX_LEN + b64_len(key_len) + 1)
        return INTEG_WEBHOOK_EINVAL;
    if (RAND_bytes(key, (int)key_len) != 1)
        return INTEG_WEBHOOK_ECRYPTO;
    rc = integ_webhook_secret_encode(key, key_len, out, out_size);
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}

int integ_webhook_secret_parse(const char *secret, size_t len, unsigned char *key, size_t key_size,
                               size_t *key_len)
{
    unsigned char buf[INTEG_WEBHOOK_KEY_MAX];
    size_t n = 0;

    if (key_len)
        *key_len = 0;
    if (!secret || !key || !key_len || len <= PREFIX_LEN ||
        memcmp(secret, INTEG_WEBHOOK_SECRET_PREFIX, PREFIX_LEN) != 0)
        return INTEG_WEBHOOK_EINVAL;
    if (b64_decode(secret + PREFIX_LEN, len - PREFIX_LEN, buf, sizeof buf, &n) != 0 ||
        n < INTEG_WEBHOOK_KEY_MIN || n > key_size) {
        OPENSSL_cleanse(buf, sizeof buf);
        return INTEG_WEBHOOK_EINVAL;
    }
    memcpy(key, buf, n);
    *key_len = n;
    OPENSSL_cleanse(buf, sizeof buf);
    return 0;
}

static EVP_MAC *hmac_impl;

static void fetch_hmac(void)
{
    hmac_impl = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* Printable ASCII, no spaces: what a header value and the signed string
 * can both carry unchanged. */
static bool msg_id_ok(const char *id)
{
    size_t n = id ? strnlen(id, INTEG_WEBHOOK_ID_MAX + 1) : 0;

    if (n == 0 || n > INTEG_WEBHOOK_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] <= ' ' || (unsigned char)id[i] >= 0x7f)
            return false;
    return true;
}

/* HMAC-SHA256(key, id "." timestamp "." body), the signed content. */
static int mac(const unsigned char *key, size_t key_len, const char *msg_id, int64_t timestamp_s,
               const void *body, size_t body_len, unsigned char out[HMAC_LEN])
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    char ts[24];
    char digest_name[] = "SHA256";
    OSSL_PARAM params[2];
    EVP_MAC_CTX *ctx;
    size_t n = 0;
    int len, rc = INTEG_WEBHOOK_ECRYPTO;

    len = snprintf(ts, sizeof ts, ".%lld.", (long long)timestamp_s);
    if (len < 0 || (size_t)len >= sizeof ts)
        return INTEG_WEBHOOK_EINVAL;
    pthread_once(&once, fetch_hmac);
    if (!hmac_impl || !(ctx = EVP_MAC_CTX_new(hmac_impl)))
        return rc;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(ctx, key, key_len, params) != 1 ||
        EVP_MAC_update(ctx, (const unsigned char *)msg_id, strlen(msg_id)) != 1 ||
        EVP_MAC_update(ctx, (const unsigned char *)ts, (size_t)len) != 1 ||
        (body_len > 0 && EVP_MAC_update(ctx, body, body_len) != 1) ||
        EVP_MAC_final(ctx, out, &n, HMAC_LEN) != 1 || n != HMAC_LEN)
        goto out;
    rc = 0;
out:
    EVP_MAC_CTX_free(ctx);
    return rc;
}

int integ_webhook_sign(const unsigned char *key, size_t key_len, const char *msg_id,
                       int64_t timestamp_s, const void *body, size_t body_len, char *out,
                       size_t out_size)
{
    unsigned char h[HMAC_LEN];
    int rc;

    if (out && out_size > 0)
        out[0] = '\0';
    if (!key || key_len == 0 || key_len > INTEG_WEBHOOK_KEY_MAX || !msg_id_ok(msg_id) ||
        timestamp_s < 0 || (body_len > 0 && !body) || !out ||
        out_size < INTEG_WEBHOOK_SIGNATURE_SIZE)
        return INTEG_WEBHOOK_EINVAL;
    if ((rc = mac(key, key_len, msg_id, timestamp_s, body, body_len, h)) != 0)
        return rc;
    memcpy(out, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, h, HMAC_LEN);
    return 0;
}

/* Decimal Unix seconds: digits only, no sign, no space, at most 18 of them. */
static int parse_seconds(const char *s, int64_t *out)
{
    int64_t v = 0;
    size_t i = 0;

    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        if (i >= 18)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (i == 0 || s[i] != '\0')
        return -1;
    *out = v;
    return 0;
}

int integ_webhook_verify(const unsigned char *key, size_t key_len, const char *msg_id,
                         const char *timestamp_header, const void *body, size_t body_len,
                         const char *signature_header, int64_t now_s, int64_t tolerance_s)
{
    char want[INTEG_WEBHOOK_SIGNATURE_SIZE];
    const size_t want_len = INTEG_WEBHOOK_SIGNATURE_SIZE - 1;
    int64_t ts;
    int matched = 0, rc;

    if (!timestamp_header || !signature_header || now_s < 0 || tolerance_s < 0 ||
        parse_seconds(timestamp_header, &ts) != 0)
        return INTEG_WEBHOOK_EINVAL;
    /* Both are >= 0, so neither difference can overflow. */
    if ((ts > now_s ? ts - now_s : now_s - ts) > tolerance_s)
        return INTEG_WEBHOOK_ETIMESTAMP;
    rc = integ_webhook_sign(key, key_len, msg_id, ts, body, body_len, want, sizeof want);
    if (rc != 0)
        return rc;
    /* Every entry is looked at, so the time taken does not say which matched. */
    for (const char *p = signature_header; *p;) {
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);

        if (n == want_len)
            matched |= CRYPTO_memcmp(p, want, want_len) == 0;
        p += n;
        while (*p == ' ')
            p++;
    }
    return matched ? 0 : INTEG_WEBHOOK_ESIGNATURE;
}

int integ_webhook_id(const char *delivery_id, size_t len, char *out, size_t out_size)
{
    char uuid[CORE_UUID_LEN + 1];
    size_t n = 0;

    if (out && out_size > 0)
        out[0] = '\0';
    if (!out || out_size < INTEG_WEBHOOK_ID_SIZE ||
        core_uuid_normalize(delivery_id, len, uuid) != 0)
        return INTEG_WEBHOOK_EINVAL;
    memcpy(out, "msg_", 4);
    n = 4;
    for (size_t i = 0; i < CORE_UUID_LEN; i++)
        if (uuid[i] != '-')
            out[n++] = uuid[i];
    out[n] = '\0';
    return 0;
}
