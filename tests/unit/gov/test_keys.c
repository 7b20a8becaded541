#include "gateway/gov.h"
#include "gateway/gov_keys.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <string.h>

static int cred(const char *auth, const char *xkey, char *out)
{
    const char *k;
    size_t n;
    int rc =
        gd_gov_credential(auth, auth ? strlen(auth) : 0, xkey, xkey ? strlen(xkey) : 0, &k, &n);
    if (rc == 1) {
        memcpy(out, k, n);
        out[n] = '\0';
    }
    return rc;
}

Test(gov_keys, credentials)
{
    static char k[8300];
    cr_assert_eq(cred("Bearer gk-abc", NULL, k), 1);
    cr_assert_str_eq(k, "gk-abc");
    cr_assert_eq(cred("bearer   gk-abc  ", NULL, k), 1);
    cr_assert_str_eq(k, "gk-abc");
    cr_assert_eq(cred(NULL, "gk-x", k), 1);
    cr_assert_str_eq(k, "gk-x");
    cr_assert_eq(cred("Bearer gk-a", "gk-b", k), 1); /* Authorization wins */
    cr_assert_str_eq(k, "gk-a");
    cr_assert_eq(cred(NULL, NULL, k), 0);
    cr_assert_eq(cred("Basic abc", NULL, k), GD_EINVAL);
    cr_assert_eq(cred("Bearer ", NULL, k), GD_EINVAL);
    cr_assert_eq(cred("Bearer a b", NULL, k), GD_EINVAL);
    cr_assert_eq(cred("Bearer a\x01", NULL, k), GD_EINVAL);
    cr_assert_eq(cred(NULL, "", k), GD_EINVAL);
    static char big[8300] = "Bearer ";
    memset(big + 7, 'a', 8193);
    big[7 + 8193] = '\0';
    cr_assert_eq(cred(big, NULL, k), GD_EINVAL);
    big[7 + 8192] = '\0';
    cr_assert_eq(cred(big, NULL, k), 1);
}

Test(gov_keys, sha256_matches_known_vector)
{
    unsigned char md[32];
    char hex[65];
    gd_gov_sha256("abc", 3, md);
    gd_gov_hex(md, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(gov_keys, estimate)
{
    cr_assert_eq(gd_gov_estimate_tokens("", 0), 0);
    cr_assert_eq(gd_gov_estimate_tokens("abcde", 5), 2);
    cr_assert_eq(gd_gov_estimate_tokens("abcd", 4), 1);
}

Test(gov_keys, cached_tokens_from_usage)
{
    struct gd_gov_ticket t;
    gd_gov_ticket_init(&t, (struct gd_gov *)&t); /* any non-NULL owner: only the scan runs */
    const char *j = "{\"choices\":[{\"message\":{\"content\":\"say \\\"cached_tokens\\\": 7\"}}],"
                    "\"usage\":{\"prompt_tokens\":50,\"prompt_tokens_details\":"
                    "{\"cached_tokens\" : 32}}}";
    gd_gov_note_usage_json(&t, j, strlen(j));
    cr_assert_eq(t.cached_tokens, 32);
    gd_gov_ticket_init(&t, (struct gd_gov *)&t);
    gd_gov_note_usage_json(&t, "{\"usage\":{}}", 12);
    cr_assert_eq(t.cached_tokens, -1);
    gd_gov_ticket_init(&t, (struct gd_gov *)&t);
    gd_gov_note_usage_json(&t, "\"cached_tokens\"", 15); /* truncated: no digits */
    cr_assert_eq(t.cached_tokens, -1);
}
