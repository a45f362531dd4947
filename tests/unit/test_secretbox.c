/*
 * Secrets at rest (src/core/secretbox.c): the key's text form, the sealed
 * format against values made by another implementation, and every way a
 * sealed value can be wrong.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/secretbox.h"

#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define AAD "webhook_endpoints.secret:7e1342a0-c3f8-4d0c-9a51-f3b2c4d5e6f7"
#define PLAIN "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static struct core_secret_key key(const char *hex)
{
    struct core_secret_key k;
    char why[128] = "";

    cr_assert_eq(core_secret_key_parse(hex, strlen(hex), &k, why, sizeof why), 0, "%s", why);
    return k;
}

static size_t unhex(const char *hex, unsigned char *out, size_t cap)
{
    size_t n = strlen(hex) / 2;

    cr_assert_leq(n, cap);
    for (size_t i = 0; i < n; i++) {
        unsigned int byte;
        cr_assert_eq(sscanf(hex + 2 * i, "%2x", &byte), 1);
        out[i] = (unsigned char)byte;
    }
    return n;
}

/* Seals PLAIN under AAD with `k`; returns the sealed length. */
static size_t seal_plain(const struct core_secret_key *k, unsigned char *out, size_t cap)
{
    size_t n = 0;

    cr_assert_eq(core_secretbox_seal(k, PLAIN, strlen(PLAIN), AAD, strlen(AAD), out, cap, &n), 0);
    cr_assert_eq(n, strlen(PLAIN) + CORE_SECRETBOX_OVERHEAD);
    return n;
}

static int open_with(const struct core_secret_key *k, const unsigned char *sealed, size_t len,
                     const char *aad, char *plain, size_t cap, size_t *plain_len)
{
    return core_secretbox_open(k, sealed, len, aad, aad ? strlen(aad) : 0, (unsigned char *)plain,
                               cap, plain_len);
}

Test(secretbox, a_key_is_64_hex_digits_in_either_case)
{
    struct core_secret_key lower = key(KEY_A), upper;
    char id[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1];

    upper = key("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
    for (int i = 0; i < 32; i++)
        cr_assert_eq(lower.bytes[i], i);
    cr_assert(core_secret_key_equal(&lower, &upper));
    cr_assert_eq(memcmp(lower.id, upper.id, sizeof lower.id), 0);
    /* Every digit value, both cases. */
    struct core_secret_key all =
        key("0123456789abcdefABCDEF0123456789abcdefABCDEF0123456789abcdef0123");
    cr_assert_eq(all.bytes[0], 0x01);
    cr_assert_eq(all.bytes[4], 0x89);
    cr_assert_eq(all.bytes[5], 0xab);
    cr_assert_eq(all.bytes[7], 0xef);
    cr_assert_eq(all.bytes[8], 0xab);
    cr_assert_eq(all.bytes[10], 0xef);
    cr_assert_eq(all.bytes[31], 0x23);
    core_secret_key_id_hex(&lower, id);
    cr_assert_eq(strlen(id), 8);
}

/* The ids were computed with Node.js, outside this code:
 *   crypto.createHash("sha256").update(Buffer.concat([Buffer.from("bookd-key-id"), key]))
 *         .digest().subarray(0, 4).toString("hex")                                      */
Test(secretbox, the_key_id_is_sha256_of_a_label_and_the_key)
{
    struct core_secret_key a = key(KEY_A), b = key(KEY_B);
    char id[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1];

    core_secret_key_id_hex(&a, id);
    cr_assert_str_eq(id, "afaa648c");
    core_secret_key_id_hex(&b, id);
    cr_assert_str_eq(id, "8a22cdd5");
}

Test(secretbox, a_key_of_the_wrong_length_or_with_other_characters_is_refused)
{
    const char *bad[] = {
        "",
        "00",
        KEY_A "0",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1", /* 63 */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",
        "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        " 00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1\n",
        "000102030405060708090a0b0c0d0e0f:01112131415161718191a1b1c1d1e1f",
        "000102030405060708090a0b0c0d0e0f@01112131415161718191a1b1c1d1e1f",
        "000102030405060708090a0b0c0d0e0f`01112131415161718191a1b1c1d1e1f",
        "000102030405060708090a0b0c0d0e0f/01112131415161718191a1b1c1d1e1f",
        "000102030405060708090a0b0c0d0e0fG01112131415161718191a1b1c1d1e1f",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    };
    struct core_secret_key k;
    char why[128];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&k, 0x5a, sizeof k);
        why[0] = '\0';
        cr_assert_eq(core_secret_key_parse(bad[i], strlen(bad[i]), &k, why, sizeof why),
                     CORE_SECRETBOX_EINVAL, "accepted [%s]", bad[i]);
        cr_assert_neq(why[0], '\0');
        for (size_t j = 0; j < sizeof k.bytes; j++)
            cr_assert_eq(k.bytes[j], 0, "key not wiped after [%s]", bad[i]);
    }
    /* Every byte value outside the hex digits, in one position. */
    char text[] = KEY_A;
    for (int c = 0; c < 256; c++) {
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        text[10] = (char)c;
        cr_assert_eq(core_secret_key_parse(text, 64, &k, NULL, 0) == 0, hex, "byte %d", c);
    }
    /* A NUL inside the given length is not a digit either. */
    cr_assert_eq(core_secret_key_parse(KEY_A "\0", 64, &k, NULL, 0), 0);
    cr_assert_eq(core_secret_key_parse("00\0" KEY_A, 64, &k, NULL, 0), CORE_SECRETBOX_EINVAL);
    cr_assert_eq(core_secret_key_parse(NULL, 64, &k, NULL, 0), CORE_SECRETBOX_EINVAL);
}

Test(secretbox, sealing_then_opening_gives_back_the_plaintext)
{
    struct core_secret_key k = key(KEY_A);
    unsigned char sealed[256];
    char plain[128];
    char id[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1];
    size_t n = seal_plain(&k, sealed, sizeof sealed), m = 99;

    cr_assert_eq(sealed[0], CORE_SECRETBOX_VERSION);
    cr_assert_eq(memcmp(sealed + 1, k.id, 4), 0);
    cr_assert_eq(open_with(&k, sealed, n, AAD, plain, sizeof plain, &m), 0);
    cr_assert_eq(m, strlen(PLAIN));
    cr_assert_eq(memcmp(plain, PLAIN, m), 0);
    cr_assert_eq(core_secretbox_key_id(sealed, n, id), 0);
    cr_assert_str_eq(id, "afaa648c");
    /* The exact output size is enough, for both. */
    cr_assert_eq(core_secretbox_sealed_len(strlen(PLAIN)), n);
    cr_assert_eq(open_with(&k, sealed, n, AAD, plain, strlen(PLAIN), &m), 0);
}

Test(secretbox, empty_plaintext_and_empty_associated_data_are_allowed)
{
    struct core_secret_key k = key(KEY_A);
    unsigned char sealed[CORE_SECRETBOX_OVERHEAD];
    size_t n = 0, m = 5;

    cr_assert_eq(core_secretbox_seal(&k, NULL, 0, NULL, 0, sealed, sizeof sealed, &n), 0);
    cr_assert_eq(n, CORE_SECRETBOX_OVERHEAD);
    cr_assert_eq(core_secretbox_open(&k, sealed, n, NULL, 0, NULL, 0, &m), 0);
    cr_assert_eq(m, 0);
    /* Empty and absent associated data are the same thing. */
    cr_assert_eq(core_secretbox_open(&k, sealed, n, "", 0, NULL, 0, &m), 0);
    cr_assert_eq(core_secretbox_open(&k, sealed, n, "x", 1, NULL, 0, &m), CORE_SECRETBOX_EAUTH);
}

Test(secretbox, every_seal_uses_a_fresh_nonce)
{
    struct core_secret_key k = key(KEY_A);
    unsigned char a[256], b[256];
    size_t na = seal_plain(&k, a, sizeof a), nb = seal_plain(&k, b, sizeof b);

    cr_assert_eq(na, nb);
    cr_assert_neq(memcmp(a + 5, b + 5, CORE_SECRETBOX_NONCE_LEN), 0);
    cr_assert_neq(memcmp(a + 17, b + 17, na - 17), 0);
}

/*
 * Values sealed by an independent implementation, Node.js's crypto module,
 * with fixed nonces (never done in bookd itself):
 *   header = [0x01, ...keyId]; c = crypto.createCipheriv("aes-256-gcm", key, nonce);
 *   c.setAAD(Buffer.concat([header, Buffer.from(aad)]));
 *   hex(header + nonce + c.update(plain) + c.final() + c.getAuthTag())
 * with key KEY_A, and nonce a0a1...ab, PLAIN and AAD for the first, nonce
 * 00...00 and nothing for the second.
 */
Test(secretbox, values_sealed_elsewhere_in_this_format_open)
{
    static const char *const known =
        "01afaa648ca0a1a2a3a4a5a6a7a8a9aaab91700f4826944fd92934bea13f3d8b8701de0d67f8e21228a4476ad6"
        "25e21a339e170b9efc55e81244bef806743acc832eceea5be1dc";
    static const char *const empty =
        "01afaa648c0000000000000000000000002cfcf397dbd6e26795e44177358b297b";
    struct core_secret_key k = key(KEY_A);
    unsigned char sealed[256];
    char plain[128];
    size_t n = unhex(known, sealed, sizeof sealed), m = 0;

    cr_assert_eq(open_with(&k, sealed, n, AAD, plain, sizeof plain, &m), 0);
    cr_assert_eq(m, strlen(PLAIN));
    cr_assert_eq(memcmp(plain, PLAIN, m), 0);
    n = unhex(empty, sealed, sizeof sealed);
    cr_assert_eq(open_with(&k, sealed, n, NULL, plain, sizeof plain, &m), 0);
    cr_assert_eq(m, 0);
}

Test(secretbox, a_change_to_any_byte_is_detected_and_nothing_is_given_out)
{
    struct core_secret_key k = key(KEY_A);
    unsigned char sealed[256];
    char plain[128];
    size_t n = seal_plain(&k, sealed, sizeof sealed), m;

    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            int want;
            sealed[i] ^= (unsigned char)(1u << bit);
            memset(plain, 'x', sizeof plain);
            m = 77;
            /* The version: not a value; the key id: another key's; the
             * nonce, the ciphertext and the tag: tampered with. */
            want = i == 0  ? CORE_SECRETBOX_EMALFORMED
                   : i < 5 ? CORE_SECRETBOX_EKEY
                           : CORE_SECRETBOX_EAUTH;
            cr_assert_eq(open_with(&k, sealed, n, AAD, plain, sizeof plain, &m), want,
                         "byte %zu bit %d", i, bit);
            cr_assert_eq(m, 0);
            for (size_t j = 0; j < strlen(PLAIN); j++)
                cr_assert(plain[j] == 'x' || plain[j] == 0, "plaintext leaked at byte %zu", i);
            sealed[i] ^= (unsigned char)(1u << bit);
        }
    }
    cr_assert_eq(open_with(&k, sealed, n, AAD, plain, sizeof plain, &m), 0);
}

Test(secretbox, a_value_does_not_open_under_other_associated_data)
{
    struct core_secret_key k = key(KEY_A);
    unsigned char sealed[256];
    char plain[128];
    size_t n = seal_plain(&k, sealed, sizeof sealed), m;
    const char *other[] = {
        "webhook_endpoints.secret:7e1342a0-c3f8-4d0c-9a51-f3b2c4d5e6f8", /* another row */
        "integrations.twilio:7e1342a0-c3f8-4d0c-9a51-f3b2c4d5e6f7",      /* another purpose */
        "webhook_endpoints.secret:7e1342a0-c3f8-4d0c-9a51-f3b2c4d5e6f",  /* one byte short */
        "",
    };

    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        cr_assert_eq(open_with(&k, sealed, n, other[i], plain, sizeof plain, &m),
                     CORE_SECRETBOX_EAUTH, "opened with [%s]", other[i]);
    cr_assert_eq(open_with(&k, sealed, n, NULL, plain, sizeof plain, &m), CORE_SECRETBOX_EAUTH);
}

Test(secretbox, another_key_is_told_apart_from_tampering)
{
    struct core_secret_key a = key(KEY_A), b = key(KEY_B);
    unsigned char sealed[256];
    char plain[128];
    size_t n = seal_plain(&a, sealed, sizeof sealed), m;

    cr_assert_eq(open_with(&b, sealed, n, AAD, plain, sizeof plain, &m), CORE_SECRETBOX_EKEY);
    /* Another key that claims the same id still cannot open it. */
    memcpy(b.id, a.id, sizeof b.id);
    cr_assert_eq(open_with(&b, sealed, n, AAD, plain, sizeof plain, &m), CORE_SECRETBOX_EAUTH);
}

Test(secretbox, truncated_or_padded_values_are_refused)
{
    struct core_secret_key k = key(KEY_A);
    unsigned char sealed[256];
    char plain[128], id[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1];
    size_t n = seal_plain(&k, sealed, sizeof sealed), m;

    for (size_t len = 0; len < n; len++) {
        int want = len < CORE_SECRETBOX_OVERHEAD ? CORE_SECRETBOX_EMALFORMED : CORE_SECRETBOX_EAUTH;
        cr_assert_eq(open_with(&k, sealed, len, AAD, plain, sizeof plain, &m), want, "len %zu",
                     len);
    }
    sealed[n] = 0;
    cr_assert_eq(open_with(&k, sealed, n + 1, AAD, plain, sizeof plain, &m), CORE_SECRETBOX_EAUTH);
    for (size_t len = 0; len < CORE_SECRETBOX_OVERHEAD; len++)
        cr_assert_eq(core_secretbox_key_id(sealed, len, id), CORE_SECRETBOX_EMALFORMED);
    cr_assert_eq(open_with(&k, NULL, 40, AAD, plain, sizeof plain, &m), CORE_SECRETBOX_EMALFORMED);
    /* Another version byte is not read as this format. */
    sealed[0] = 2;
    cr_assert_eq(core_secretbox_key_id(sealed, n, id), CORE_SECRETBOX_EMALFORMED);
    cr_assert_str_eq(id, "");
}

Test(secretbox, buffers_too_small_and_sizes_over_the_limits_are_refused)
{
    struct core_secret_key k = key(KEY_A);
    static unsigned char big[CORE_SECRETBOX_MAX_PLAIN + CORE_SECRETBOX_OVERHEAD + 1];
    unsigned char sealed[256];
    char plain[128];
    size_t n = 123, m;

    cr_assert_eq(core_secretbox_seal(&k, PLAIN, strlen(PLAIN), NULL, 0, sealed,
                                     strlen(PLAIN) + CORE_SECRETBOX_OVERHEAD - 1, &n),
                 CORE_SECRETBOX_EINVAL);
    cr_assert_eq(n, 0);
    cr_assert_eq(
        core_secretbox_seal(&k, big, CORE_SECRETBOX_MAX_PLAIN + 1, NULL, 0, big, sizeof big, &n),
        CORE_SECRETBOX_EINVAL);
    cr_assert_eq(core_secretbox_seal(&k, PLAIN, 1, big, CORE_SECRETBOX_MAX_AAD + 1, sealed,
                                     sizeof sealed, &n),
                 CORE_SECRETBOX_EINVAL);
    cr_assert_eq(core_secretbox_seal(&k, NULL, 3, NULL, 0, sealed, sizeof sealed, &n),
                 CORE_SECRETBOX_EINVAL);
    cr_assert_eq(core_secretbox_seal(&k, PLAIN, 3, NULL, 3, sealed, sizeof sealed, &n),
                 CORE_SECRETBOX_EINVAL);
    cr_assert_eq(core_secretbox_seal(NULL, PLAIN, 3, NULL, 0, sealed, sizeof sealed, &n),
                 CORE_SECRETBOX_EINVAL);

    n = seal_plain(&k, sealed, sizeof sealed);
    cr_assert_eq(open_with(&k, sealed, n, AAD, plain, strlen(PLAIN) - 1, &m),
                 CORE_SECRETBOX_EINVAL);
    cr_assert_eq(open_with(&k, sealed, n, AAD, NULL, 0, &m), CORE_SECRETBOX_EINVAL);

    /* The largest plaintext allowed goes round. */
    static unsigned char large_sealed[CORE_SECRETBOX_MAX_PLAIN + CORE_SECRETBOX_OVERHEAD];
    static unsigned char back[CORE_SECRETBOX_MAX_PLAIN];
    memset(big, 'q', CORE_SECRETBOX_MAX_PLAIN);
    cr_assert_eq(core_secretbox_seal(&k, big, CORE_SECRETBOX_MAX_PLAIN, NULL, 0, large_sealed,
                                     sizeof large_sealed, &n),
                 0);
    cr_assert_eq(core_secretbox_open(&k, large_sealed, n, NULL, 0, back, sizeof back, &m), 0);
    cr_assert_eq(m, CORE_SECRETBOX_MAX_PLAIN);
    cr_assert_eq(memcmp(back, big, m), 0);
}

Test(secretbox, rotation_reseals_under_the_new_key_and_can_be_run_again)
{
    struct core_secret_key old_key = key(KEY_A), new_key = key(KEY_B);
    unsigned char sealed[256], moved[256], again[256];
    char plain[128], id[CORE_SECRETBOX_KEY_ID_HEX_LEN + 1];
    size_t n = seal_plain(&old_key, sealed, sizeof sealed), nm = 0, na = 0, m;

    cr_assert_eq(core_secretbox_reseal(&old_key, &new_key, sealed, n, AAD, strlen(AAD), moved,
                                       sizeof moved, &nm),
                 0);
    cr_assert_eq(nm, n);
    cr_assert_eq(core_secretbox_key_id(moved, nm, id), 0);
    cr_assert_str_eq(id, "8a22cdd5");
    cr_assert_eq(open_with(&new_key, moved, nm, AAD, plain, sizeof plain, &m), 0);
    cr_assert_eq(memcmp(plain, PLAIN, m), 0);
    cr_assert_eq(open_with(&old_key, moved, nm, AAD, plain, sizeof plain, &m), CORE_SECRETBOX_EKEY);

    /* Run again on a value already moved: checked and copied unchanged. */
    cr_assert_eq(core_secretbox_reseal(&old_key, &new_key, moved, nm, AAD, strlen(AAD), again,
                                       sizeof again, &na),
                 0);
    cr_assert_eq(na, nm);
    cr_assert_eq(memcmp(again, moved, nm), 0);

    /* Wrong associated data or a tampered value: refused, nothing written. */
    cr_assert_eq(
        core_secretbox_reseal(&old_key, &new_key, sealed, n, "other", 5, again, sizeof again, &na),
        CORE_SECRETBOX_EAUTH);
    cr_assert_eq(na, 0);
    moved[20] ^= 1;
    cr_assert_eq(core_secretbox_reseal(&old_key, &new_key, moved, nm, AAD, strlen(AAD), again,
                                       sizeof again, &na),
                 CORE_SECRETBOX_EAUTH);
    /* Under neither key. */
    struct core_secret_key third =
        key("1111111111111111111111111111111111111111111111111111111111111111");
    cr_assert_eq(core_secretbox_reseal(&third, &new_key, sealed, n, AAD, strlen(AAD), again,
                                       sizeof again, &na),
                 CORE_SECRETBOX_EKEY);
    cr_assert_eq(
        core_secretbox_reseal(&old_key, &new_key, sealed, n, AAD, strlen(AAD), again, n - 1, &na),
        CORE_SECRETBOX_EINVAL);
}

Test(secretbox, keys_compare_by_their_bytes_and_are_wiped)
{
    struct core_secret_key a = key(KEY_A), b = key(KEY_B), a2 = key(KEY_A);

    cr_assert(core_secret_key_equal(&a, &a2));
    cr_assert_not(core_secret_key_equal(&a, &b));
    core_secret_key_wipe(&a);
    for (size_t i = 0; i < sizeof a.bytes; i++)
        cr_assert_eq(a.bytes[i], 0);
    core_secret_key_wipe(NULL);
}
