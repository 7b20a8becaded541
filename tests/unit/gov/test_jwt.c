/* JWT checks with HS256 tokens made by Python's hmac (the integration tests use openssl-made
 * RS256/ES256/HS256 tokens against the server). Time is injected: now = 1700000000. */
#include "gateway/gov_jwt.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <string.h>

/* secret "unit-test-secret-unit-test-secret-0123"; claims iss=iss.test aud=girder org=acme
 * exp=1700000600 unless the name says otherwise */
#define T_VALID                                                                                    \
    "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJpc3MudGVzdCIsImF1ZCI6ImdpcmRlciIsIm9yZyI6ImFjbWUiLCJleHAiO"   \
    "jE3MDAwMDA2MDB9.Otdy_Lr6supBHdqfb-QGBvPHDNOra_eKLQB_IsOWUIQ"
#define T_AUD_ARRAY                                                                                \
    "eyJhbGciOiJIUzI1NiIsImtpZCI6ImgifQ.eyJpc3MiOiJpc3MudGVzdCIsImF1ZCI6WyJ4IiwiZ2lyZGVyIl0sIm9"   \
    "yZyI6ImFjbWUiLCJleHAiOjE3MDAwMDA2MDB9.wIh8ZrA53ao0ZWDWuVZiOhSAbBKp0Idhe0wU3bJmIsI"
#define T_EXPIRED                                                                                  \
    "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJpc3MudGVzdCIsImF1ZCI6ImdpcmRlciIsIm9yZyI6ImFjbWUiLCJleHAiO"   \
    "jE2OTk5OTkwMDB9.QRdrp9o1RxHfUYUlU4cBK828TEU7nluWUEVxpTP5-ZU"
#define T_IN_LEEWAY                                                                                \
    "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJpc3MudGVzdCIsImF1ZCI6ImdpcmRlciIsIm9yZyI6ImFjbWUiLCJleHAiO"   \
    "jE2OTk5OTk5OTB9._H12h1eSLpFrWe98XRl4FakM0_-KWkSEXL0DGRjpI8c"
#define T_NBF_FUTURE                                                                               \
    "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJpc3MudGVzdCIsImF1ZCI6ImdpcmRlciIsIm9yZyI6ImFjbWUiLCJleHAiO"   \
    "jE3MDAwMDA2MDAsIm5iZiI6MTcwMDAwMDUwMH0.7pRejxO6mYz_5UzzA6MmJtM9EasOT16Sok7dWabFEj8"
#define T_WRONG_AUD                                                                                \
    "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJpc3MudGVzdCIsImF1ZCI6Im90aGVyIiwib3JnIjoiYWNtZSIsImV4cCI6M"   \
    "TcwMDAwMDYwMH0.vXq7oOtfVzzsiS-DI3tui0s8LBYBsDTCYgWoHffwVLE"
#define T_WRONG_ISS                                                                                \
    "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJldmlsIiwiYXVkIjoiZ2lyZGVyIiwib3JnIjoiYWNtZSIsImV4cCI6MTcwM"   \
    "DAwMDYwMH0.qGjMUVuQYNwH0LPIOSGj2ZnCt6hsjop-HajoSq5LeAQ"
#define T_NO_TENANT                                                                                \
    "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJpc3MudGVzdCIsImF1ZCI6ImdpcmRlciIsImV4cCI6MTcwMDAwMDYwMH0.x"   \
    "81whcg8H7CVQAYdZAZrIyfOLcNKQHy0px5LgSf_6VM"
#define T_NO_EXP                                                                                   \
    "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJpc3MudGVzdCIsImF1ZCI6ImdpcmRlciIsIm9yZyI6ImFjbWUifQ.WkB3YX"   \
    "Zl1CtnFhnReXea6bdWlr-4yOu1zuOZFtmjj3k"
#define T_WRONG_KEY                                                                                \
    "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJpc3MudGVzdCIsImF1ZCI6ImdpcmRlciIsIm9yZyI6ImFjbWUiLCJleHAiO"   \
    "jE3MDAwMDA2MDB9.eQ1DXY_S2ClfRaqI9mJlvvwoCRBVB1b3dtUm9V-PKd0"
#define T_ALG_NONE                                                                                 \
    "eyJhbGciOiJub25lIn0.eyJpc3MiOiAiaXNzLnRlc3QiLCAiYXVkIjogImdpcmRlciIsICJvcmciOiAiYWNtZSIsIC"   \
    "JleHAiOiAxNzAwMDAwNjAwfQ."
#define T_ALG_RS256                                                                                \
    "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJpc3MudGVzdCIsImF1ZCI6ImdpcmRlciIsIm9yZyI6ImFjbWUiLCJleHAiO"   \
    "jE3MDAwMDA2MDB9.C0torhBeTvStX1YwRmkTmFVGauJhnhwFZk8cylpCogU"
#define T_UNKNOWN_KID                                                                              \
    "eyJhbGciOiJIUzI1NiIsImtpZCI6Inp6In0.eyJpc3MiOiJpc3MudGVzdCIsImF1ZCI6ImdpcmRlciIsIm9yZyI6Im"   \
    "FjbWUiLCJleHAiOjE3MDAwMDA2MDB9.VeIqfs8IT3YrqpWykCD6PtKX8S_OCFerSq03MMRdPmg"
#define T_CRIT                                                                                     \
    "eyJhbGciOiJIUzI1NiIsImNyaXQiOlsiZXhwIl19.eyJpc3MiOiJpc3MudGVzdCIsImF1ZCI6ImdpcmRlciIsIm9yZ"   \
    "yI6ImFjbWUiLCJleHAiOjE3MDAwMDA2MDB9.ThS4YPWVEeIfH75mAIGleWjOJ66pGtai0Bh9nNCBu3o"
#define T_EXP_STRING                                                                               \
    "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJpc3MudGVzdCIsImF1ZCI6ImdpcmRlciIsIm9yZyI6ImFjbWUiLCJleHAiO"   \
    "iIxNzAwMDAwNjAwIn0.k65xDJzGIzUr4QBUZl6qzHr2HXWpskjJSGl2vfn6Do8"

static unsigned char secret[] = "unit-test-secret-unit-test-secret-0123";
static struct gd_gov_jwt_key key = {"h", GD_GOV_JWT_HS256, secret, sizeof secret - 1, NULL};
static struct gd_gov_jwt_cfg cfg = {&key, 1, "iss.test", "girder", "org", 30, 1};

static int verify(const char *tok, char *tenant)
{
    char why[128];
    return gd_gov_jwt_verify(&cfg, tok, strlen(tok), 1700000000, tenant, 64, why, sizeof why);
}

Test(gov_jwt, accepts_valid_tokens)
{
    char t[64];
    cr_assert_eq(verify(T_VALID, t), 0);
    cr_assert_str_eq(t, "acme");
    cr_assert_eq(verify(T_AUD_ARRAY, t), 0);
    cr_assert_eq(verify(T_IN_LEEWAY, t), 0); /* expired 10 s ago, leeway 30 s */
    cr_assert(gd_gov_jwt_looks_like(T_VALID, strlen(T_VALID)));
    cr_assert_not(gd_gov_jwt_looks_like("gk-abcdef.x.y", 13));
    cr_assert_not(gd_gov_jwt_looks_like("eyJabc.def", 10));
}

Test(gov_jwt, refuses_bad_tokens)
{
    const char *bad[] = {T_EXPIRED,
                         T_NBF_FUTURE,
                         T_WRONG_AUD,
                         T_WRONG_ISS,
                         T_NO_TENANT,
                         T_NO_EXP,
                         T_WRONG_KEY,
                         T_ALG_NONE,
                         T_ALG_RS256,
                         T_UNKNOWN_KID,
                         T_CRIT,
                         T_EXP_STRING,
                         "eyJ.a.b",
                         "eyJhbGciOiJIUzI1NiJ9..",
                         "eyJhbGciOiJIUzI1NiJ9.e30.!!!"};
    char t[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(verify(bad[i], t), GD_EINVAL, "token %zu", i);
}

Test(gov_jwt, exp_optional_when_configured)
{
    char t[64];
    cfg.require_exp = 0;
    cr_assert_eq(verify(T_NO_EXP, t), 0);
    cfg.require_exp = 1;
    cfg.leeway_s = 0;
    cr_assert_eq(verify(T_IN_LEEWAY, t), GD_EINVAL);
    cfg.leeway_s = 30;
}
