#include "core/secretbox.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/sha256.h"

#define NONCE_AT CORE_SECRETBOX_HEADER_LEN
#define BODY_AT (CORE_SECRETBOX_HEADER_LEN + CORE_SECRETBOX_NONCE_LEN)

static const char key_id_label[] = "bookd-key-id";

static void say(char *why, size_t why_size, const char *text)
{
    if (why && why_size > 0)
        snprintf(why, why_size, "%s", text);
}

/*
 * One hex digit's value; when `ch` is not a hex digit, bits are set in
 * *bad and the value is garbage. Masks only, no branches (after
 * libsodium's sodium_hex2bin), so the time taken says nothing about the
 * key's digits.
 */
static unsigned int nibble_ct(unsigned char ch, unsigned int *bad)
{
    unsigned int c = ch;
    unsigned int num = c ^ 48u;
    unsigned int num_ok = ((num - 10u) >> 8) & 0xffu;
    unsigned int alpha = (c & ~32u) - 55u;
    unsigned int alpha_ok = (((alpha - 10u) ^ (alpha - 16u)) >> 8) & 0xffu;

    *bad |= ~(num_ok | alpha_ok) & 0xffu;
    return ((num_ok & num) | (alpha_ok & alpha)) & 0x0fu;
}

void core_secret_key_from_bytes(const unsigned char bytes[CORE_SECRET_KEY_LEN],
                                struct core_secret_key *out)
{
    unsigned char buf[sizeof key_id_label - 1 + CORE_SECRET_KEY_LEN];
    unsigned char digest[32];

    memcpy(out->bytes, bytes, CORE_SECRET_KEY_LEN);
    memcpy(buf, key_id_label, sizeof key_id_label - 1);
    memcpy(buf + sizeof key_id_label - 1, bytes, CORE_SECRET_KEY_LEN);
    core_sha256(buf, sizeof buf, digest);
    memcpy(out->id, digest, CORE_SECRETBOX_KEY_ID_LEN);
    OPENSSL_cleanse(buf, sizeof buf);
    OPENSSL_cleanse(digest, sizeof digest);
}

int core_secret_key_parse(const char *hex, size_t len, struct core_secret_key *out, char *why,
                          size_t why_size)
{
    unsigned char bytes[CORE_SECRET_KEY_LEN];
    unsigned int bad = 0;

    if (!out)
        return CORE_SECRETBOX_EINVAL;
    memset(out, 0, sizeof *out);
    if (!hex || len != CORE_SECRET_KEY_HEX_LEN) {
        say(why, why_size, "the secret key must be 64 hex digits (32 bytes)");
        return CORE_SECRETBOX_EINVAL;
    }
    for (size_t i = 0; i < CORE_SECRET_KEY_LEN; i++) {
        unsigned int hi = nibble_ct((unsigned char)hex[2 * i], &bad);
        unsigned int lo = nibble_ct((unsigned char)hex[2 * i + 1], &bad);
        bytes[i] = (unsigned char)((hi << 4) | lo);
    }
    if (bad) {
        OPENSSL_cleanse(bytes, sizeof bytes);
        say(why, why_size, "the secret key must hold only hex digits (0-9, a-f)");
        return CORE_SECRETBOX_EINVAL;
    }
    core_secret_key_from_bytes(bytes, out);
    OPENSSL_cleanse(bytes, sizeof bytes);
    return 0;
}

static void id_hex(const unsigned char id[CORE_SECRETBOX_KEY_ID_LEN],
                   char out[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < CORE_SECRETBOX_KEY_ID_LEN; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 0x0f];
    }
    out[CORE_SECRETBOX_KEY_ID_HEX_LEN] = '\0';
}

void core_secret_key_id_hex(const struct core_secret_key *key,
                            char out[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1])
{
    id_hex(key->id, out);
}

bool core_secret_key_equal(const struct core_secret_key *a, const struct core_secret_key *b)
{
    return CRYPTO_memcmp(a->bytes, b->bytes, CORE_SECRET_KEY_LEN) == 0;
}

void core_secret_key_wipe(struct core_secret_key *key)
{
    if (key)
        OPENSSL_cleanse(key, sizeof *key);
}

size_t core_secretbox_sealed_len(size_t plain_len)
{
    return plain_len + CORE_SECRETBOX_OVERHEAD;
}

/*
 * Runs AES-256-GCM over one value. Encrypting, `tag` receives the tag;
 * decrypting, it is the tag to check. The associated data is the header
 * followed by the caller's. `in` and `out` may be the same buffer (in
 * place), never otherwise overlapping. Returns 0, EAUTH when decryption's
 * tag does not match, or ECRYPTO.
 */
static int gcm(bool encrypt, const struct core_secret_key *key, const unsigned char *header,
               const unsigned char *nonce, const void *aad, size_t aad_len, const unsigned char *in,
               size_t len, unsigned char *out, unsigned char tag[CORE_SECRETBOX_TAG_LEN])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char last[CORE_SECRETBOX_TAG_LEN]; /* GCM's final step writes nothing */
    int n, rc = CORE_SECRETBOX_ECRYPTO;
    int enc = encrypt ? 1 : 0;

    if (!ctx)
        return rc;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CORE_SECRETBOX_NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key->bytes, nonce, enc) != 1)
        goto out;
    if (EVP_CipherUpdate(ctx, NULL, &n, header, CORE_SECRETBOX_HEADER_LEN) != 1)
        goto out;
    if (aad_len > 0 && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
        goto out;
    if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
        goto out;
    if (!encrypt &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CORE_SECRETBOX_TAG_LEN, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(ctx, last, &n) != 1) {
        rc = encrypt ? CORE_SECRETBOX_ECRYPTO : CORE_SECRETBOX_EAUTH;
        goto out;
    }
    if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CORE_SECRETBOX_TAG_LEN, tag) != 1)
        goto out;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/* Sealing, with `plain` allowed to sit exactly where the ciphertext goes
 * (out + BODY_AT), which is how core_secretbox_reseal works in place. */
static int seal(const struct core_secret_key *key, const unsigned char *plain, size_t plain_len,
                const void *aad, size_t aad_len, unsigned char *out, size_t *out_len)
{
    int rc;

    out[0] = CORE_SECRETBOX_VERSION;
    memcpy(out + 1, key->id, CORE_SECRETBOX_KEY_ID_LEN);
    if (RAND_bytes(out + NONCE_AT, CORE_SECRETBOX_NONCE_LEN) != 1)
        return CORE_SECRETBOX_ECRYPTO;
    rc = gcm(true, key, out, out + NONCE_AT, aad, aad_len, plain, plain_len, out + BODY_AT,
             out + BODY_AT + plain_len);
    if (rc != 0) {
        OPENSSL_cleanse(out, core_secretbox_sealed_len(plain_len));
        return rc;
    }
    *out_len = core_secretbox_sealed_len(plain_len);
    return 0;
}

int core_secretbox_seal(const struct core_secret_key *key, const void *plain, size_t plain_len,
                        const void *aad, size_t aad_len, unsigned char *out, size_t out_size,
                        size_t *out_len)
{
    if (out_len)
        *out_len = 0;
    if (!key || !out || !out_len || (plain_len > 0 && !plain) || (aad_len > 0 && !aad))
        return CORE_SECRETBOX_EINVAL;
    if (plain_len > CORE_SECRETBOX_MAX_PLAIN || aad_len > CORE_SECRETBOX_MAX_AAD ||
        out_size < core_secretbox_sealed_len(plain_len))
        return CORE_SECRETBOX_EINVAL;
    return seal(key, plain, plain_len, aad, aad_len, out, out_len);
}

/* The checks on a sealed value that need no key: its length and version. */
static int check_shape(const unsigned char *sealed, size_t sealed_len)
{
    if (!sealed || sealed_len < CORE_SECRETBOX_OVERHEAD ||
        sealed_len - CORE_SECRETBOX_OVERHEAD > CORE_SECRETBOX_MAX_PLAIN)
        return CORE_SECRETBOX_EMALFORMED;
    if (sealed[0] != CORE_SECRETBOX_VERSION)
        return CORE_SECRETBOX_EMALFORMED;
    return 0;
}

static bool sealed_under(const unsigned char *sealed, const struct core_secret_key *key)
{
    return CRYPTO_memcmp(sealed + 1, key->id, CORE_SECRETBOX_KEY_ID_LEN) == 0;
}

int core_secretbox_open(const struct core_secret_key *key, const unsigned char *sealed,
                        size_t sealed_len, const void *aad, size_t aad_len, unsigned char *out,
                        size_t out_size, size_t *out_len)
{
    unsigned char tag[CORE_SECRETBOX_TAG_LEN];
    size_t n;
    int rc;

    if (out_len)
        *out_len = 0;
    if (!key || !out_len || (!out && out_size > 0) || (aad_len > 0 && !aad) ||
        aad_len > CORE_SECRETBOX_MAX_AAD)
        return CORE_SECRETBOX_EINVAL;
    if ((rc = check_shape(sealed, sealed_len)) != 0)
        return rc;
    n = sealed_len - CORE_SECRETBOX_OVERHEAD;
    if (out_size < n)
        return CORE_SECRETBOX_EINVAL;
    if (!sealed_under(sealed, key))
        return CORE_SECRETBOX_EKEY;
    memcpy(tag, sealed + BODY_AT + n, sizeof tag);
    rc = gcm(false, key, sealed, sealed + NONCE_AT, aad, aad_len, sealed + BODY_AT, n, out, tag);
    if (rc != 0) {
        if (n > 0)
            OPENSSL_cleanse(out, n);
        return rc;
    }
    *out_len = n;
    return 0;
}

int core_secretbox_key_id(const unsigned char *sealed, size_t sealed_len,
                          char out[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1])
{
    int rc;

    if (!out)
        return CORE_SECRETBOX_EINVAL;
    out[0] = '\0';
    if ((rc = check_shape(sealed, sealed_len)) != 0)
        return rc;
    id_hex(sealed + 1, out);
    return 0;
}

int core_secretbox_reseal(const struct core_secret_key *old_key,
                          const struct core_secret_key *new_key, const unsigned char *sealed,
                          size_t sealed_len, const void *aad, size_t aad_len, unsigned char *out,
                          size_t out_size, size_t *out_len)
{
    unsigned char *plain;
    size_t n = 0;
    int rc;

    if (out_len)
        *out_len = 0;
    if (!old_key || !new_key || !out || !out_len)
        return CORE_SECRETBOX_EINVAL;
    if ((rc = check_shape(sealed, sealed_len)) != 0)
        return rc;
    if (out_size < sealed_len)
        return CORE_SECRETBOX_EINVAL;
    /* The plaintext goes where the new ciphertext will be, and is
     * encrypted there in place: no second buffer holds it. */
    plain = out + BODY_AT;
    if (sealed_under(sealed, new_key)) {
        rc = core_secretbox_open(new_key, sealed, sealed_len, aad, aad_len, plain,
                                 out_size - BODY_AT, &n);
        OPENSSL_cleanse(plain, n);
        if (rc == 0) {
            memcpy(out, sealed, sealed_len);
            *out_len = sealed_len;
        }
        return rc;
    }
    rc = core_secretbox_open(old_key, sealed, sealed_len, aad, aad_len, plain, out_size - BODY_AT,
                             &n);
    if (rc != 0)
        return rc;
    rc = seal(new_key, plain, n, aad, aad_len, out, out_len);
    if (rc != 0)
        OPENSSL_cleanse(out, sealed_len);
    return rc;
}
