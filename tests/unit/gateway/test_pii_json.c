#include "gateway/pii_json.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <string.h>

static struct gd_pii_scanner *sc;
static void setup(void)
{
    cr_assert((sc = gd_pii_scanner_new()));
}
static void teardown(void)
{
    gd_pii_scanner_free(sc);
}
TestSuite(pii_json, .init = setup, .fini = teardown);

Test(pii_json, mask_values_not_keys_and_restore)
{
    const char *body = "{\"jane@x.io\":1,\"messages\":[{\"role\":\"user\",\"content\":"
                       "\"mail jane@x.io or bob@y.org, again jane@x.io\\n\\\"ok\\\"\"}]}";
    struct gd_pii_vault v;
    gd_pii_vault_init(&v);
    struct gd_buf out;
    gd_buf_init(&out, 1 << 20);
    unsigned counts[GD_PII_NCAT] = {0};
    cr_assert_eq(
        gd_pii_rewrite_json(sc, body, strlen(body), GD_PII_ALL, GD_PII_MODE_MASK, &v, &out, counts),
        0);
    cr_assert_str_eq(out.data, "{\"jane@x.io\":1,\"messages\":[{\"role\":\"user\",\"content\":"
                               "\"mail <EMAIL_1> or <EMAIL_2>, again <EMAIL_1>\\n\\\"ok\\\"\"}]}");
    cr_assert_eq(counts[GD_PII_EMAIL], 3);
    cr_assert_eq(v.n, 2);
    struct gd_buf r;
    gd_buf_init(&r, 1 << 20);
    const char *resp = "Wrote to <EMAIL_2> and <EMAIL_1>; <EMAIL_9> and <EMAIL_1 stay";
    cr_assert_eq(gd_pii_restore(&v, resp, strlen(resp), &r), 0);
    cr_assert_str_eq(r.data, "Wrote to bob@y.org and jane@x.io; <EMAIL_9> and <EMAIL_1 stay");
    gd_buf_free(&r);
    gd_buf_free(&out);
    gd_pii_vault_free(&v);
}

Test(pii_json, redact_and_untouched_bodies)
{
    const char *body = "{\"a\":\"card 4111111111111111\",\"b\":[\"10.0.0.1\",2],\"c\":\"\\u00e9\"}";
    struct gd_buf out;
    gd_buf_init(&out, 1 << 20);
    cr_assert_eq(gd_pii_rewrite_json(sc, body, strlen(body), GD_PII_ALL, GD_PII_MODE_REDACT, NULL,
                                     &out, NULL),
                 0);
    cr_assert_str_eq(out.data,
                     "{\"a\":\"card <CREDIT_CARD>\",\"b\":[\"<IPV4>\",2],\"c\":\"\\u00e9\"}");
    gd_buf_reset(&out);
    const char *clean = "{\"x\": \"nothing here\" , \"y\" : \"v1.2.3\"}";
    cr_assert_eq(gd_pii_rewrite_json(sc, clean, strlen(clean), GD_PII_ALL, GD_PII_MODE_REDACT, NULL,
                                     &out, NULL),
                 0);
    cr_assert_str_eq(out.data, clean);
    gd_buf_reset(&out);
    cr_assert_eq(gd_pii_rewrite_json(sc, "{\"x\":\"open", 10, GD_PII_ALL, GD_PII_MODE_REDACT, NULL,
                                     &out, NULL),
                 GD_EPARSE);
    cr_assert_eq(gd_pii_rewrite_json(sc, "{}", 2, GD_PII_ALL, GD_PII_MODE_MASK, NULL, &out, NULL),
                 GD_EINVAL);
    gd_buf_free(&out);
}
