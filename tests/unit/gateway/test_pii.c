#include "gateway/pii.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <string.h>

/* Scans s and returns the number of matches; the first is stored in *m. */
static size_t scan1(const char *s, struct gd_pii_match *m)
{
    struct gd_pii_scanner *sc = gd_pii_scanner_new();
    cr_assert(sc);
    struct gd_pii_match all[16];
    size_t n = 0;
    cr_assert_eq(gd_pii_scan(sc, s, strlen(s), GD_PII_ALL, all, 16, &n), 0, "%s", s);
    gd_pii_scanner_free(sc);
    if (n && m)
        *m = all[0];
    return n;
}

static void found(const char *text, enum gd_pii_cat cat, const char *value)
{
    struct gd_pii_match m;
    cr_assert_eq(scan1(text, &m), 1, "%s", text);
    cr_assert_eq(m.cat, cat, "%s: got %s", text, gd_pii_cat_name(m.cat));
    cr_assert_eq(m.len, strlen(value), "%s: len %zu", text, m.len);
    cr_assert_eq(memcmp(text + m.off, value, m.len), 0, "%s", text);
}

static void none(const char *text)
{
    struct gd_pii_match m = {0};
    size_t n = scan1(text, &m);
    cr_assert_eq(n, 0, "%s: found %s at %zu", text, gd_pii_cat_name(m.cat), m.off);
}

Test(pii, validators)
{
    cr_assert(gd_pii_luhn_ok("4111111111111111", 16));
    cr_assert(!gd_pii_luhn_ok("4111111111111112", 16));
    cr_assert(gd_pii_card_ok("4111-1111-1111-1111", 19));
    cr_assert(!gd_pii_card_ok("4111-1111 1111-1111", 19)); /* mixed separators */
    cr_assert(!gd_pii_card_ok("0000000000000000", 16));    /* no such IIN */
    cr_assert(gd_pii_iban_ok("GB82WEST12345698765432", 22));
    cr_assert(gd_pii_iban_ok("DE89 3704 0044 0532 0130 00", 27));
    cr_assert(!gd_pii_iban_ok("DE88370400440532013000", 22));
    cr_assert(gd_pii_ssn_ok("123-45-6789", 11));
    cr_assert(!gd_pii_ssn_ok("000-45-6789", 11));
    cr_assert(!gd_pii_ssn_ok("666-45-6789", 11));
    cr_assert(!gd_pii_ssn_ok("912-45-6789", 11));
    cr_assert(!gd_pii_ssn_ok("123-00-6789", 11));
    cr_assert(!gd_pii_ssn_ok("123-45-0000", 11));
    cr_assert(!gd_pii_ssn_ok("123-45 6789", 11));
    cr_assert(gd_pii_ipv4_ok("255.255.255.255", 15));
    cr_assert(!gd_pii_ipv4_ok("256.1.1.1", 9));
    cr_assert(!gd_pii_ipv4_ok("01.2.3.4", 8));
    cr_assert(gd_pii_ipv6_ok("::1", 3));
    cr_assert(!gd_pii_ipv6_ok("::", 2));
    cr_assert(!gd_pii_ipv6_ok("12:30:45", 8));
    cr_assert(gd_pii_secret_ok("Xk9pQ2mL7vR4tY8wZ3nB", 20));
    cr_assert(!gd_pii_secret_ok("aaaaaaaaaaAAAAAAAAAA11", 22)); /* low entropy */
    cr_assert(gd_pii_entropy("abcd", 4) > 1.99 && gd_pii_entropy("abcd", 4) < 2.01);
}

Test(pii, categories_and_spans)
{
    found("mail me at jane.doe+x@mail.example.org.", GD_PII_EMAIL, "jane.doe+x@mail.example.org");
    found("call +44 20 7946 0958 now", GD_PII_PHONE, "+44 20 7946 0958");
    found("call (415) 555-2671", GD_PII_PHONE, "(415) 555-2671");
    found("card: 4111 1111 1111 1111.", GD_PII_CREDIT_CARD, "4111 1111 1111 1111");
    found("iban GB82 WEST 1234 5698 7654 32", GD_PII_IBAN, "GB82 WEST 1234 5698 7654 32");
    found("ssn 078-05-1120", GD_PII_SSN, "078-05-1120");
    found("host 10.0.0.255:8080", GD_PII_IPV4, "10.0.0.255");
    found("[2001:db8::8a2e:370:7334]", GD_PII_IPV6, "2001:db8::8a2e:370:7334");
    found("k=AKIAIOSFODNN7EXAMPLE", GD_PII_AWS_KEY, "AKIAIOSFODNN7EXAMPLE");
    found("ghp_abcdefghijklmnopqrstuvwxyzABCDEF0123", GD_PII_GITHUB_TOKEN,
          "ghp_abcdefghijklmnopqrstuvwxyzABCDEF0123");
    found("t glpat-Ab3dEf6hIj9kLm2nOp5q end", GD_PII_GITLAB_TOKEN, "glpat-Ab3dEf6hIj9kLm2nOp5q");
    found("xoxb-123456789012-abcdefABCDEF", GD_PII_SLACK_TOKEN, "xoxb-123456789012-abcdefABCDEF");
    found("AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", GD_PII_GOOGLE_API_KEY,
          "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q");
    found("sk_live_4eC39HqLyjWDarjtT1zdp7dc", GD_PII_STRIPE_KEY,
          "sk_live_4eC39HqLyjWDarjtT1zdp7dc");
    found("OPENAI=sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12", GD_PII_OPENAI_KEY,
          "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12");
    found("sk-ant-api03-Ab12Cd34Ef56Gh78Ij90Kl12", GD_PII_ANTHROPIC_KEY,
          "sk-ant-api03-Ab12Cd34Ef56Gh78Ij90Kl12");
    found("x -----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY----- y",
          GD_PII_PRIVATE_KEY,
          "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----");
    /* {"alg":"HS256","typ":"JWT"}.{"sub":"1"}.sig */
    found("Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", GD_PII_JWT,
          "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl");
    found("token Xk9pQ2mL7vR4tY8wZ3nB5c", GD_PII_SECRET, "Xk9pQ2mL7vR4tY8wZ3nB5c");
}

Test(pii, look_alikes)
{
    none("4111 1111 1111 1112");         /* fails Luhn */
    none("DE88 3704 0044 0532 0130 00"); /* wrong IBAN check */
    none("999-45-6789 and 123-00-4567");
    none("release 1.2.3.400 on 2024-01-15 at 12:30:45, v10.2.1");
    none("256.10.10.10");
    none("id 550e8400-e29b-41d4-a716-446655440000 sha 8f3c2a91d4e7b6c5a1f0e9d8c7b6a5f4e3d2c1b0");
    none("count 12345678901234 and 1048576");
    none("eyJub3QiOiJqd3QifQ.eyJzdWIiOiIxIn0.c2ln"); /* header without alg */
    none("std::vector and a:b:c and internationalization_configuration");
    none("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----");
}

Test(pii, category_mask_and_limits)
{
    struct gd_pii_scanner *sc = gd_pii_scanner_new();
    cr_assert(sc);
    const char *t = "a@b.io 10.0.0.1 c@d.io";
    struct gd_pii_match m[4];
    size_t n = 0;
    cr_assert_eq(gd_pii_scan(sc, t, strlen(t), 1u << GD_PII_IPV4, m, 4, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(m[0].cat, GD_PII_IPV4);
    cr_assert_eq(gd_pii_scan(sc, t, strlen(t), GD_PII_ALL, m, 2, &n), GD_ELIMIT);
    cr_assert_eq(n, 2);
    cr_assert_eq(gd_pii_scan(sc, t, GD_PII_MAX_TEXT + 1, GD_PII_ALL, m, 4, &n), GD_ELIMIT);
    cr_assert_eq(gd_pii_scan(sc, "", 0, GD_PII_ALL, m, 4, &n), 0);
    cr_assert_eq(n, 0);
    enum gd_pii_cat c;
    cr_assert_eq(gd_pii_cat_parse("credit_card", 11, &c), 0);
    cr_assert_eq(c, GD_PII_CREDIT_CARD);
    cr_assert_eq(gd_pii_cat_parse("cc", 2, &c), GD_EINVAL);
    for (int i = 0; i < GD_PII_NCAT; i++)
        cr_assert(gd_pii_cat_name((enum gd_pii_cat)i));
    gd_pii_scanner_free(sc);
}
