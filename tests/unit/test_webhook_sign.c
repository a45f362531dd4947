/*
 * Standard Webhooks signing (src/integrations/webhook_sign.c), checked
 * against the reference implementation.
 *
 * The signatures below were computed with the npm package standardwebhooks
 * 1.3.0 (the Standard Webhooks project's JavaScript library), in Node.js:
 *
 *   const { Webhook } = require("standardwebhooks");
 *   new Webhook(secret).sign(id, new Date(ts * 1000), body)
 *
 * with body a string (sent as its UTF-8 bytes) for the first three and a
 * Buffer of the bytes 0..255 for the fourth. The first is also the example
 * of the Standard Webhooks documentation.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "integrations/webhook_sign.h"

#define SECRET_24 "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
/* The bytes 0..31. */
#define SECRET_32 "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define BOOKED                                                                                     \
    "{\"type\":\"appointment.booked\",\"timestamp\":\"2030-01-01T00:00:00.000Z\",\"data\":{"       \
    "\"appointment\":{\"id\":\"7e1342a0-c3f8-4d0c-9a51-f3b2c4d5e6f7\",\"notes\":\"Zo\xc3\xab "     \
    "\xe2\x80\x94 caf\xc3\xa9 \xe2\x98\x95\"}}}"

struct vector {
    const char *secret, *id;
    int64_t ts;
    const char *body; /* NULL: the bytes 0..255 */
    const char *signature;
};

static const struct vector vectors[] = {
    {SECRET_24, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "{\"test\": 2432232314}",
     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
    {SECRET_32, "msg_7e1342a0c3f84d0c9a51f3b2c4d5e6f7", 1893456000, BOOKED,
     "v1,y5qpt+X5iXonzcslhRqKFzRlmZa8l/m2rJiQ0sTUY7s="},
    {SECRET_32, "msg_00000000000000000000000000000000", 0, "",
     "v1,QlvseRjf7xSY1OfHEpVF3T4iPjHzQnN5tO3vhlR/A5o="},
    {SECRET_32, "msg_x", 4102444800, NULL, "v1,XBIzjFOa/Z1UXFJGjNuNketzOdvbtMBP+4oY8HVuwGQ="},
};

static unsigned char all_bytes[256];

static void body_of(const struct vector *v, const void **body, size_t *len)
{
    if (v->body) {
        *body = v->body;
        *len = strlen(v->body);
        return;
    }
    for (int i = 0; i < 256; i++)
        all_bytes[i] = (unsigned char)i;
    *body = all_bytes;
    *len = sizeof all_bytes;
}

static size_t parse(const char *secret, unsigned char key[INTEG_WEBHOOK_KEY_MAX])
{
    size_t n = 0;

    cr_assert_eq(integ_webhook_secret_parse(secret, strlen(secret), key, INTEG_WEBHOOK_KEY_MAX, &n),
                 0, "cannot parse %s", secret);
    return n;
}

Test(webhook_sign, signatures_match_the_reference_library)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const struct vector *v = &vectors[i];
        unsigned char key[INTEG_WEBHOOK_KEY_MAX];
        size_t key_len = parse(v->secret, key), body_len;
        char sig[INTEG_WEBHOOK_SIGNATURE_SIZE];
        const void *body;

        body_of(v, &body, &body_len);
        if (i == 1)
            cr_assert_eq(body_len, 166); /* as Node.js counted the UTF-8 bytes */
        cr_assert_eq(
            integ_webhook_sign(key, key_len, v->id, v->ts, body, body_len, sig, sizeof sig), 0,
            "vector %zu", i);
        cr_assert_str_eq(sig, v->signature, "vector %zu", i);
    }
}

Test(webhook_sign, the_reference_signatures_verify)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const struct vector *v = &vectors[i];
        unsigned char key[INTEG_WEBHOOK_KEY_MAX];
        size_t key_len = parse(v->secret, key), body_len;
        const void *body;
        char ts[24];

        body_of(v, &body, &body_len);
        snprintf(ts, sizeof ts, "%lld", (long long)v->ts);
        cr_assert_eq(integ_webhook_verify(key, key_len, v->id, ts, body, body_len, v->signature,
                                          v->ts + 10, INTEG_WEBHOOK_TOLERANCE_S),
                     0, "vector %zu", i);
    }
}

Test(webhook_sign, verification_refuses_any_change)
{
    const struct vector *v = &vectors[1];
    unsigned char key[INTEG_WEBHOOK_KEY_MAX], other[INTEG_WEBHOOK_KEY_MAX];
    size_t key_len = parse(v->secret, key), other_len = parse(SECRET_24, other);
    char body[512], sig[64];
    size_t len = strlen(BOOKED);
    const int64_t now = 1893456000;

#define VERIFY(k, kl, id, ts, b, bl, s)                                                            \
    integ_webhook_verify(k, kl, id, ts, b, bl, s, now, INTEG_WEBHOOK_TOLERANCE_S)
    memcpy(body, BOOKED, len);
    cr_assert_eq(VERIFY(key, key_len, v->id, "1893456000", body, len, v->signature), 0);
    /* Another key, id, timestamp, or body. */
    cr_assert_eq(VERIFY(other, other_len, v->id, "1893456000", body, len, v->signature),
                 INTEG_WEBHOOK_ESIGNATURE);
    cr_assert_eq(VERIFY(key, key_len, "msg_7e1342a0c3f84d0c9a51f3b2c4d5e6f8", "1893456000", body,
                        len, v->signature),
                 INTEG_WEBHOOK_ESIGNATURE);
    cr_assert_eq(VERIFY(key, key_len, v->id, "1893456001", body, len, v->signature),
                 INTEG_WEBHOOK_ESIGNATURE);
    cr_assert_eq(VERIFY(key, key_len, v->id, "1893456000", body, len - 1, v->signature),
                 INTEG_WEBHOOK_ESIGNATURE);
    for (size_t i = 0; i < len; i += 7) {
        body[i] ^= 0x20;
        cr_assert_eq(VERIFY(key, key_len, v->id, "1893456000", body, len, v->signature),
                     INTEG_WEBHOOK_ESIGNATURE, "byte %zu", i);
        body[i] ^= 0x20;
    }
    /* A changed signature, another version, a bare signature. */
    snprintf(sig, sizeof sig, "%s", v->signature);
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    cr_assert_eq(VERIFY(key, key_len, v->id, "1893456000", body, len, sig),
                 INTEG_WEBHOOK_ESIGNATURE);
    snprintf(sig, sizeof sig, "v2,%s", v->signature + 3);
    cr_assert_eq(VERIFY(key, key_len, v->id, "1893456000", body, len, sig),
                 INTEG_WEBHOOK_ESIGNATURE);
    cr_assert_eq(VERIFY(key, key_len, v->id, "1893456000", body, len, v->signature + 3),
                 INTEG_WEBHOOK_ESIGNATURE);
    cr_assert_eq(VERIFY(key, key_len, v->id, "1893456000", body, len, ""),
                 INTEG_WEBHOOK_ESIGNATURE);
    /* Several signatures (a secret being rotated): any one will do. */
    cr_assert_eq(VERIFY(key, key_len, v->id, "1893456000", body, len,
                        "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= "
                        "v1,y5qpt+X5iXonzcslhRqKFzRlmZa8l/m2rJiQ0sTUY7s=  v1a,x"),
                 0);
    /* Timestamps: outside five minutes, or not plain decimal. */
    cr_assert_eq(integ_webhook_verify(key, key_len, v->id, "1893456000", body, len, v->signature,
                                      now + 301, INTEG_WEBHOOK_TOLERANCE_S),
                 INTEG_WEBHOOK_ETIMESTAMP);
    cr_assert_eq(integ_webhook_verify(key, key_len, v->id, "1893456000", body, len, v->signature,
                                      now - 301, INTEG_WEBHOOK_TOLERANCE_S),
                 INTEG_WEBHOOK_ETIMESTAMP);
    cr_assert_eq(integ_webhook_verify(key, key_len, v->id, "1893456000", body, len, v->signature,
                                      now + 300, INTEG_WEBHOOK_TOLERANCE_S),
                 0);
    const char *bad_ts[] = {"",   " 1893456000",  "1893456000 ", "+1893456000",
                            "-5", "1893456000.0", "0x70d9b680",  "1234567890123456789",
                            NULL};
    for (int i = 0; bad_ts[i]; i++)
        cr_assert_eq(VERIFY(key, key_len, v->id, bad_ts[i], body, len, v->signature),
                     INTEG_WEBHOOK_EINVAL, "timestamp [%s]", bad_ts[i]);
#undef VERIFY
}

Test(webhook_sign, new_secrets_are_random_and_read_back)
{
    char a[INTEG_WEBHOOK_SECRET_SIZE], b[INTEG_WEBHOOK_SECRET_SIZE];
    unsigned char key[INTEG_WEBHOOK_KEY_MAX];

    cr_assert_eq(integ_webhook_secret_new(INTEG_WEBHOOK_KEY_DEFAULT, a, sizeof a), 0);
    cr_assert_eq(integ_webhook_secret_new(INTEG_WEBHOOK_KEY_DEFAULT, b, sizeof b), 0);
    cr_assert_eq(strncmp(a, "whsec_", 6), 0);
    cr_assert_eq(strlen(a), 6 + 44);
    cr_assert_str_neq(a, b);
    cr_assert_eq(parse(a, key), 32);

    cr_assert_eq(integ_webhook_secret_new(24, a, sizeof a), 0);
    cr_assert_eq(strlen(a), 6 + 32);
    cr_assert_eq(parse(a, key), 24);
    cr_assert_eq(integ_webhook_secret_new(64, a, sizeof a), 0);
    cr_assert_eq(strlen(a), 6 + 88);
    cr_assert_eq(parse(a, key), 64);

    cr_assert_eq(integ_webhook_secret_new(23, a, sizeof a), INTEG_WEBHOOK_EINVAL);
    cr_assert_eq(integ_webhook_secret_new(65, a, sizeof a), INTEG_WEBHOOK_EINVAL);
    cr_assert_eq(integ_webhook_secret_new(32, a, 6 + 44), INTEG_WEBHOOK_EINVAL);
    cr_assert_eq(integ_webhook_secret_new(32, a, 6 + 44 + 1), 0);
}

Test(webhook_sign, a_secret_encodes_and_parses_back_to_its_bytes)
{
    unsigned char key[INTEG_WEBHOOK_KEY_MAX], back[INTEG_WEBHOOK_KEY_MAX];
    char secret[INTEG_WEBHOOK_SECRET_SIZE];

    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)i;
    cr_assert_eq(integ_webhook_secret_encode(key, 32, secret, sizeof secret), 0);
    cr_assert_str_eq(secret, SECRET_32);
    for (size_t len = INTEG_WEBHOOK_KEY_MIN; len <= INTEG_WEBHOOK_KEY_MAX; len++) {
        for (size_t i = 0; i < len; i++)
            key[i] = (unsigned char)(0xf0 + 7 * i + len);
        cr_assert_eq(integ_webhook_secret_encode(key, len, secret, sizeof secret), 0);
        cr_assert_eq(parse(secret, back), len);
        cr_assert_eq(memcmp(key, back, len), 0, "length %zu", len);
    }
    cr_assert_eq(integ_webhook_secret_encode(key, 23, secret, sizeof secret), INTEG_WEBHOOK_EINVAL);
}

Test(webhook_sign, malformed_secrets_are_refused)
{
    const char *bad[] = {
        "",
        "whsec_",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",                   /* no prefix */
        "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",             /* prefix in the wrong case */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",              /* not a multiple of 4 */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa w",             /* white space */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS\n",            /* a newline */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-_",             /* base64url */
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",  /* padding missing */
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX=BkaGxwdHh8=", /* padding inside */
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH===", /* three pad characters */
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMU",                 /* 21 bytes: too short */
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7"
        "PD0+P0A=", /* 65 bytes: too long */
        "whsec_====",
    };
    unsigned char key[INTEG_WEBHOOK_KEY_MAX];
    size_t n = 5;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(integ_webhook_secret_parse(bad[i], strlen(bad[i]), key, sizeof key, &n),
                     INTEG_WEBHOOK_EINVAL, "accepted [%s]", bad[i]);
        cr_assert_eq(n, 0);
    }
    /* A key buffer too small for the key. */
    cr_assert_eq(integ_webhook_secret_parse(SECRET_32, strlen(SECRET_32), key, 31, &n),
                 INTEG_WEBHOOK_EINVAL);
    cr_assert_eq(integ_webhook_secret_parse(NULL, 10, key, sizeof key, &n), INTEG_WEBHOOK_EINVAL);
}

Test(webhook_sign, signing_refuses_bad_arguments)
{
    unsigned char key[INTEG_WEBHOOK_KEY_MAX];
    size_t key_len = parse(SECRET_32, key);
    char sig[INTEG_WEBHOOK_SIGNATURE_SIZE], long_id[300];

    memset(long_id, 'a', sizeof long_id);
    long_id[INTEG_WEBHOOK_ID_MAX] = '\0';
    cr_assert_eq(integ_webhook_sign(key, key_len, long_id, 1, "x", 1, sig, sizeof sig), 0);
    long_id[INTEG_WEBHOOK_ID_MAX] = 'a';
    long_id[INTEG_WEBHOOK_ID_MAX + 1] = '\0';
    cr_assert_eq(integ_webhook_sign(key, key_len, long_id, 1, "x", 1, sig, sizeof sig),
                 INTEG_WEBHOOK_EINVAL);
    cr_assert_eq(integ_webhook_sign(key, key_len, "", 1, "x", 1, sig, sizeof sig),
                 INTEG_WEBHOOK_EINVAL);
    cr_assert_eq(integ_webhook_sign(key, key_len, "msg 1", 1, "x", 1, sig, sizeof sig),
                 INTEG_WEBHOOK_EINVAL);
    cr_assert_eq(integ_webhook_sign(key, key_len, "msg\r\n1", 1, "x", 1, sig, sizeof sig),
                 INTEG_WEBHOOK_EINVAL);
    cr_assert_eq(integ_webhook_sign(key, key_len, NULL, 1, "x", 1, sig, sizeof sig),
                 INTEG_WEBHOOK_EINVAL);
    cr_assert_eq(integ_webhook_sign(key, key_len, "msg_1", -1, "x", 1, sig, sizeof sig),
                 INTEG_WEBHOOK_EINVAL);
    cr_assert_eq(integ_webhook_sign(key, key_len, "msg_1", 1, NULL, 1, sig, sizeof sig),
                 INTEG_WEBHOOK_EINVAL);
    cr_assert_eq(integ_webhook_sign(key, 0, "msg_1", 1, "x", 1, sig, sizeof sig),
                 INTEG_WEBHOOK_EINVAL);
    cr_assert_eq(integ_webhook_sign(key, key_len, "msg_1", 1, "x", 1, sig, sizeof sig - 1),
                 INTEG_WEBHOOK_EINVAL);
    cr_assert_eq(integ_webhook_sign(key, key_len, "msg_1", 1, NULL, 0, sig, sizeof sig), 0);
    cr_assert_eq(strlen(sig), INTEG_WEBHOOK_SIGNATURE_SIZE - 1);
}

Test(webhook_sign, the_webhook_id_is_the_delivery_uuid)
{
    char id[INTEG_WEBHOOK_ID_SIZE];
    const char *uuid = "7E1342A0-C3F8-4D0C-9A51-F3B2C4D5E6F7";

    cr_assert_eq(integ_webhook_id(uuid, strlen(uuid), id, sizeof id), 0);
    cr_assert_str_eq(id, "msg_7e1342a0c3f84d0c9a51f3b2c4d5e6f7");
    /* The same delivery, the same id, on every attempt. */
    char again[INTEG_WEBHOOK_ID_SIZE];
    cr_assert_eq(integ_webhook_id("7e1342a0-c3f8-4d0c-9a51-f3b2c4d5e6f7", 36, again, sizeof again),
                 0);
    cr_assert_str_eq(again, id);

    cr_assert_eq(integ_webhook_id(uuid, 35, id, sizeof id), INTEG_WEBHOOK_EINVAL);
    cr_assert_str_eq(id, "");
    cr_assert_eq(integ_webhook_id("7e1342a0c3f84d0c9a51f3b2c4d5e6f7", 32, id, sizeof id),
                 INTEG_WEBHOOK_EINVAL);
    cr_assert_eq(integ_webhook_id("7e1342a0-c3f8-4d0c-9a51-f3b2c4d5e6fg", 36, id, sizeof id),
                 INTEG_WEBHOOK_EINVAL);
    cr_assert_eq(integ_webhook_id(uuid, 36, id, INTEG_WEBHOOK_ID_SIZE - 1), INTEG_WEBHOOK_EINVAL);
    cr_assert_eq(integ_webhook_id(NULL, 36, id, sizeof id), INTEG_WEBHOOK_EINVAL);
}
