/* libFuzzer driver for governance's parsers of untrusted bytes: the credential in the
 * Authorization / x-api-key headers and JWT verification (clients), and the cached-token
 * scan of usage objects (upstreams). The first byte picks which header the rest goes to.
 * JWTs are checked against an HS256 key: a forged token must never verify. Checks: a credential
 * found lies inside its header value, is non-empty, capped and visible ASCII; the scan
 * never reads past its input (ASan) and yields -1 or a non-negative count. */
#include "gateway/gov.h"
#include "gateway/gov_jwt.h"
#include "gateway/gov_keys.h"
#include "girder/error.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* exact-size heap copies so ASan sees any read past the end */
    size_t n = size - 1;
    char *s = malloc(n ? n : 1);
    if (!s)
        return 0;
    memcpy(s, data + 1, n);
    const char *key = NULL;
    size_t kn = 0;
    int as_auth = data[0] & 1;
    int rc = gd_gov_credential(as_auth ? s : NULL, as_auth ? n : 0, as_auth ? NULL : s,
                               as_auth ? 0 : n, &key, &kn);
    if (rc == 1) {
        if (key < s || key + kn > s + n || kn == 0 || kn > GD_GOV_MAX_CREDENTIAL)
            abort();
        for (size_t i = 0; i < kn; i++)
            if ((unsigned char)key[i] <= 0x20 || (unsigned char)key[i] >= 0x7f)
                abort();
        unsigned char md[32];
        gd_gov_sha256(key, kn, md);
        static unsigned char secret[] = "fuzz-secret-fuzz-secret-fuzz-secret!";
        static struct gd_gov_jwt_key jk = {NULL, GD_GOV_JWT_HS256, secret, sizeof secret - 1, NULL};
        static struct gd_gov_jwt_cfg jc = {&jk, 1, NULL, NULL, "org", 30, 0};
        char tenant[64], why[128];
        if (gd_gov_jwt_looks_like(key, kn) &&
            gd_gov_jwt_verify(&jc, key, kn, 1700000000, tenant, sizeof tenant, why, sizeof why) ==
                0)
            abort(); /* the fuzzer cannot know the secret */
    } else if (rc != 0 && rc != GD_EINVAL) {
        abort();
    }
    struct gd_gov_ticket t;
    gd_gov_ticket_init(&t, (struct gd_gov *)&t); /* any non-NULL owner: the scan runs */
    gd_gov_note_usage_json(&t, s, n);
    if (t.cached_tokens < -1)
        abort();
    free(s);
    return 0;
}
