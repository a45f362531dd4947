/*
 * Secrets at rest (integration credentials, webhook signing keys): sealed
 * with AES-256-GCM under the operator's key, BOOKD_SECRET_KEY (32 bytes as
 * 64 hex digits), and stored as one bytea.
 *
 * Sealed format, version 1 (CORE_SECRETBOX_OVERHEAD = 33 bytes plus the
 * plaintext's length):
 *
 *   offset  size  field
 *   0       1     version, 0x01
 *   1       4     key id: the first 4 bytes of SHA-256("bookd-key-id" || key),
 *                 shown as 8 lower-case hex digits
 *   5       12    nonce, random for every seal
 *   17      n     ciphertext, as long as the plaintext
 *   17 + n  16    GCM tag
 *
 * The GCM associated data is the 5-byte header (version and key id)
 * followed by the caller's associated data, so neither the header nor the
 * value's place can be changed unnoticed. The caller passes what names the
 * value's place, e.g. "webhook_endpoints.secret:" followed by the row's id:
 * a sealed value copied into another row or column then fails to open.
 *
 * The key id lets a stored value say which key sealed it, so keys can be
 * rotated (`bookd secrets rotate OLD NEW` opens with the old key and seals
 * with the new one, see core_secretbox_reseal) and a value sealed under
 * another key is reported as such rather than as tampered with.
 *
 * No function here allocates: the caller owns every buffer, and should
 * wipe keys and plaintexts it no longer needs (core_secret_key_wipe,
 * OPENSSL_cleanse).
 */
#ifndef BOOKD_CORE_SECRETBOX_H
#define BOOKD_CORE_SECRETBOX_H

#include <stdbool.h>
#include <stddef.h>

#define CORE_SECRET_KEY_LEN 32
#define CORE_SECRET_KEY_HEX_LEN 64
#define CORE_SECRETBOX_VERSION 0x01
#define CORE_SECRETBOX_KEY_ID_LEN 4
#define CORE_SECRETBOX_KEY_ID_HEX_LEN 8
#define CORE_SECRETBOX_NONCE_LEN 12
#define CORE_SECRETBOX_TAG_LEN 16
#define CORE_SECRETBOX_HEADER_LEN (1 + CORE_SECRETBOX_KEY_ID_LEN)
#define CORE_SECRETBOX_OVERHEAD                                                                    \
    (CORE_SECRETBOX_HEADER_LEN + CORE_SECRETBOX_NONCE_LEN + CORE_SECRETBOX_TAG_LEN)
/* Secrets are short; anything longer is a mistake. */
#define CORE_SECRETBOX_MAX_PLAIN 65536
#define CORE_SECRETBOX_MAX_AAD 1024

/* Results: 0, or one of these. */
enum core_secretbox_error {
    CORE_SECRETBOX_EINVAL = -1,     /* bad argument, or a buffer too small */
    CORE_SECRETBOX_EMALFORMED = -2, /* too short, unknown version: not a sealed value */
    CORE_SECRETBOX_EKEY = -3,       /* sealed under another key (the key ids differ) */
    CORE_SECRETBOX_EAUTH = -4,      /* tampered with, or the wrong associated data */
    CORE_SECRETBOX_ECRYPTO = -5,    /* OpenSSL failed (no randomness, no cipher) */
};

struct core_secret_key {
    unsigned char bytes[CORE_SECRET_KEY_LEN];
    unsigned char id[CORE_SECRETBOX_KEY_ID_LEN];
};

/*
 * Reads a key from exactly 64 hex digits (either case; no spaces, no
 * prefix, no newline) and derives its id. Returns 0, or
 * CORE_SECRETBOX_EINVAL with `out` wiped and a sentence for the operator
 * in `why` (which may be NULL). The digits are decoded without branching
 * on their values.
 */
int core_secret_key_parse(const char *hex, size_t len, struct core_secret_key *out, char *why,
                          size_t why_size);

/* Sets up `out` from 32 raw key bytes (derives the id). */
void core_secret_key_from_bytes(const unsigned char bytes[CORE_SECRET_KEY_LEN],
                                struct core_secret_key *out);

/* The key's id as 8 lower-case hex digits and a NUL. */
void core_secret_key_id_hex(const struct core_secret_key *key,
                            char out[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1]);

/* Do two keys hold the same bytes? Constant time. */
bool core_secret_key_equal(const struct core_secret_key *a, const struct core_secret_key *b);

/* Overwrites the key so that it does not linger in memory. */
void core_secret_key_wipe(struct core_secret_key *key);

/* Length of the sealed form of `plain_len` bytes. */
size_t core_secretbox_sealed_len(size_t plain_len);

/*
 * Seals `plain` under `key` with associated data `aad` (may be NULL when
 * `aad_len` is 0) into `out` (at least core_secretbox_sealed_len(plain_len)
 * bytes); sets *out_len. Plaintexts above CORE_SECRETBOX_MAX_PLAIN and
 * associated data above CORE_SECRETBOX_MAX_AAD are refused. Returns 0 or a
 * negative enum core_secretbox_error.
 */
int core_secretbox_seal(const struct core_secret_key *key, const void *plain, size_t plain_len,
                        const void *aad, size_t aad_len, unsigned char *out, size_t out_size,
                        size_t *out_len);

/*
 * Opens a sealed value into `out` (at least sealed_len - OVERHEAD bytes);
 * sets *out_len. Fails, with `out` wiped, on a malformed or truncated
 * value (EMALFORMED), a value sealed under another key (EKEY), or any
 * changed byte or other associated data (EAUTH). The plaintext is not NUL
 * terminated.
 */
int core_secretbox_open(const struct core_secret_key *key, const unsigned char *sealed,
                        size_t sealed_len, const void *aad, size_t aad_len, unsigned char *out,
                        size_t out_size, size_t *out_len);

/*
 * The id of the key a value claims to be sealed under, as 8 hex digits and
 * a NUL: 0, or EMALFORMED when it is not a version-1 value of a plausible
 * length. The claim is only proved by opening the value.
 */
int core_secretbox_key_id(const unsigned char *sealed, size_t sealed_len,
                          char out[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1]);

/*
 * Key rotation for one value: opens `sealed` with `old_key` and seals the
 * plaintext again under `new_key` with the same associated data, into
 * `out` (at least `sealed_len` bytes). A value already under `new_key` is
 * only checked (opened) and copied as it is, so a rotation interrupted
 * half-way can be run again. Returns 0 or a negative enum
 * core_secretbox_error (EKEY: under neither key).
 */
int core_secretbox_reseal(const struct core_secret_key *old_key,
                          const struct core_secret_key *new_key, const unsigned char *sealed,
                          size_t sealed_len, const void *aad, size_t aad_len, unsigned char *out,
                          size_t out_size, size_t *out_len);

#endif
