#include "core/sha256.h"

#include <pthread.h>

/* Fetched once and kept for the life of the process. */
static EVP_MD *fetched;

static void fetch_sha256(void)
{
    fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *core_sha256_md(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, fetch_sha256);
    /* Without a fetched one (no default provider?), the implicit fetch. */
    return fetched ? fetched : EVP_sha256();
}

void core_sha256(const void *data, size_t len, unsigned char out[32])
{
    EVP_Digest(data, len, out, NULL, core_sha256_md(), NULL);
}
