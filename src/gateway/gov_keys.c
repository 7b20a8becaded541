/* Virtual key credentials (see gov_keys.h). */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init & co., see gd_gov_sha256 */
#include "gateway/gov_keys.h"
#include "girder/error.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <strings.h>

static int visible(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
            return 0;
    return 1;
}

static int trimmed(const char **p, size_t *n)
{
    while (*n && ((*p)[0] == ' ' || (*p)[0] == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
    return *n > 0 && *n <= GD_GOV_MAX_CREDENTIAL && visible(*p, *n);
}

int gd_gov_credential(const char *auth, size_t auth_n, const char *xkey, size_t xkey_n,
                      const char **key, size_t *n)
{
    if (auth) {
        if (auth_n < 7 || strncasecmp(auth, "Bearer ", 7) != 0)
            return GD_EINVAL;
        *key = auth + 7;
        *n = auth_n - 7;
        return trimmed(key, n) ? 1 : GD_EINVAL;
    }
    if (xkey) {
        *key = xkey;
        *n = xkey_n;
        return trimmed(key, n) ? 1 : GD_EINVAL;
    }
    return 0;
}

/* SHA256_Init/Update/Final go straight to the block function; OpenSSL 3's one-shot
 * SHA256() and EVP_Digest dispatch through the provider layer first, which measured ~3-6 us
 * per call on a loop thread whose caches the rest of the request had filled (~0.3 us in a
 * tight loop). The low-level calls are deprecated in OpenSSL 3 but kept (and not slated
 * for removal before 4.0): the digest is the same. */
void gd_gov_sha256(const void *p, size_t n, unsigned char md[32])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, p, n);
    SHA256_Final(md, &c);
    OPENSSL_cleanse(&c, sizeof c); /* the context held the key's bytes */
}

void gd_gov_hex(const unsigned char md[32], char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[64] = '\0';
}
