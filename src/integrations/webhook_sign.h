/*
 * Standard Webhooks (www.standardwebhooks.com) signing for outbound
 * webhooks: the endpoint's secret, the webhook-id of a delivery, and the
 * webhook-signature header.
 *
 *   secret            "whsec_" + base64 (standard alphabet, padded) of 24 to 64
 *                     key bytes; bookd makes 32
 *   webhook-id        "msg_" + the delivery's UUID as 32 lower-case hex digits
 *   webhook-timestamp Unix seconds, in decimal
 *   webhook-signature "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body))
 *
 * The webhook-id is derived from the delivery, not drawn at random: a
 * delivery is one event for one endpoint, and keeps its UUID through every
 * retry (and a manual re-queue), so a receiver that deduplicates on
 * webhook-id sees each event once however often bookd sends it, and
 * another endpoint's copy of the event has an id of its own.
 *
 * Every function writes into buffers the caller owns; nothing allocates
 * beyond OpenSSL's own short-lived contexts. Results are 0 or a negative
 * enum integ_webhook_error.
 */
#ifndef BOOKD_INTEGRATIONS_WEBHOOK_SIGN_H
#define BOOKD_INTEGRATIONS_WEBHOOK_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define INTEG_WEBHOOK_SECRET_PREFIX "whsec_"
#define INTEG_WEBHOOK_KEY_MIN 24
#define INTEG_WEBHOOK_KEY_MAX 64
#define INTEG_WEBHOOK_KEY_DEFAULT 32
/* "whsec_" + base64 of 64 bytes (88 characters) + NUL. */
#define INTEG_WEBHOOK_SECRET_SIZE (6 + 88 + 1)
/* "v1," + base64 of 32 bytes (44 characters) + NUL. */
#define INTEG_WEBHOOK_SIGNATURE_SIZE (3 + 44 + 1)
/* "msg_" + 32 hex digits + NUL. */
#define INTEG_WEBHOOK_ID_SIZE (4 + 32 + 1)
/* Longest message id accepted for signing. */
#define INTEG_WEBHOOK_ID_MAX 255
/* What the reference libraries accept between the timestamp and now. */
#define INTEG_WEBHOOK_TOLERANCE_S 300

enum integ_webhook_error {
    INTEG_WEBHOOK_EINVAL = -1,     /* bad argument, malformed input, buffer too small */
    INTEG_WEBHOOK_ECRYPTO = -2,    /* OpenSSL failed (no randomness, no HMAC) */
    INTEG_WEBHOOK_ESIGNATURE = -3, /* verify: no signature in the header matches */
    INTEG_WEBHOOK_ETIMESTAMP = -4, /* verify: timestamp outside the tolerance */
};

/*
 * A new secret of `key_len` random bytes (24..64), in whsec_ form, into
 * `out` (INTEG_WEBHOOK_SECRET_SIZE is always enough).
 */
int integ_webhook_secret_new(size_t key_len, char *out, size_t out_size);

/* The whsec_ form of the given key bytes (24..64 of them). */
int integ_webhook_secret_encode(const unsigned char *key, size_t key_len, char *out,
                                size_t out_size);

/*
 * The key bytes of a whsec_ secret: the prefix, then strict padded base64
 * of 24 to 64 bytes (no white space, no missing padding). Writes them to
 * `key` (INTEG_WEBHOOK_KEY_MAX bytes are always enough) and sets *key_len.
 */
int integ_webhook_secret_parse(const char *secret, size_t len, unsigned char *key, size_t key_size,
                               size_t *key_len);

/*
 * The webhook-signature value for a message: "v1,<base64>" and a NUL into
 * `out` (INTEG_WEBHOOK_SIGNATURE_SIZE bytes). `msg_id` is 1 to 255
 * printable ASCII characters without spaces; `timestamp_s` is >= 0; the
 * body is signed as the exact bytes sent.
 */
int integ_webhook_sign(const unsigned char *key, size_t key_len, const char *msg_id,
                       int64_t timestamp_s, const void *body, size_t body_len, char *out,
                       size_t out_size);

/*
 * A receiver's check, as the reference libraries do it (used by bookd's
 * tests as a stand-in receiver): `timestamp_header` must be decimal Unix
 * seconds within `tolerance_s` of `now_s` (>= 0) either way (ETIMESTAMP), and one
 * of the space-separated entries of `signature_header` must be our "v1,"
 * signature (ESIGNATURE). Compares in constant time.
 */
int integ_webhook_verify(const unsigned char *key, size_t key_len, const char *msg_id,
                         const char *timestamp_header, const void *body, size_t body_len,
                         const char *signature_header, int64_t now_s, int64_t tolerance_s);

/*
 * The webhook-id of a delivery: "msg_" + its UUID (`delivery_id`, the
 * canonical 36-character form, either case) as 32 lower-case hex digits,
 * into `out` (INTEG_WEBHOOK_ID_SIZE bytes).
 */
int integ_webhook_id(const char *delivery_id, size_t len, char *out, size_t out_size);

#endif
