/* The local limiter backend with injected time: all-or-nothing, reconciliation, budgets. */
#include "gateway/gov_limiter.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <string.h>

static struct gd_gov_tz utc;

static struct gd_gov_state *get(enum gd_gov_kind k, const char *id)
{
    struct gd_gov_state *st = NULL;
    cr_assert_eq(gd_gov_local_ops.state_get(k, id, &st), 0);
    return st;
}

static struct gd_gov_ask ask(struct gd_gov_state *key, const struct gd_gov_scope_cfg *kc,
                             struct gd_gov_state *ten, const struct gd_gov_scope_cfg *tc,
                             int64_t tokens, uint64_t now_ms, int64_t now_s)
{
    struct gd_gov_ask a;
    memset(&a, 0, sizeof a);
    a.party[GD_GOV_KEY].st = key;
    a.party[GD_GOV_KEY].cfg = kc;
    a.party[GD_GOV_TENANT].st = ten;
    a.party[GD_GOV_TENANT].cfg = tc;
    a.tokens = tokens;
    a.now_ms = now_ms;
    a.now_s = now_s;
    a.tz = &utc;
    return a;
}

Test(gov_local, refusal_by_one_party_holds_nothing_on_the_others)
{
    struct gd_gov_scope_cfg kc = {.id = "k", .limits = {.rpm = 10}};
    struct gd_gov_scope_cfg tc = {.id = "t", .limits = {.concurrent = 1}};
    struct gd_gov_state *k = get(GD_GOV_KEY, "t1-key"), *t = get(GD_GOV_TENANT, "t1-ten");
    struct gd_gov_verdict v;
    struct gd_gov_ask a1 = ask(k, &kc, t, &tc, 10, 1000, 0);
    cr_assert_eq(gd_gov_local_ops.acquire(&a1, &v), 0);
    cr_assert_eq(v.requests.limit, 10);
    cr_assert_eq(v.requests.remaining, 9);
    struct gd_gov_ask a2 = ask(k, &kc, t, &tc, 10, 1001, 0);
    cr_assert_eq(gd_gov_local_ops.acquire(&a2, &v), GD_EAGAIN);
    cr_assert_eq(v.reason, GD_GOV_CONCURRENT);
    cr_assert_eq(v.by, GD_GOV_TENANT);
    cr_assert_eq(v.requests.remaining, 9, "the refused request took no RPM from the key");
    struct gd_gov_actual x = {10, 0, 1002, 0};
    gd_gov_local_ops.settle(&a1, &x);
    struct gd_gov_ask a3 = ask(k, &kc, t, &tc, 10, 1003, 0);
    cr_assert_eq(gd_gov_local_ops.acquire(&a3, &v), 0);
    cr_assert_eq(v.requests.remaining, 8);
    gd_gov_local_ops.settle(&a3, &x);
    gd_gov_local_ops.state_put(k);
    gd_gov_local_ops.state_put(t);
}

Test(gov_local, tpm_reconciliation_and_too_large)
{
    struct gd_gov_scope_cfg kc = {.id = "k", .limits = {.tpm = 100}};
    struct gd_gov_state *k = get(GD_GOV_KEY, "t2-key");
    struct gd_gov_verdict v;
    struct gd_gov_ask a = ask(k, &kc, NULL, NULL, 60, 5000, 0);
    cr_assert_eq(gd_gov_local_ops.acquire(&a, &v), 0);
    cr_assert_eq(v.tokens.remaining, 40);
    struct gd_gov_ask b = ask(k, &kc, NULL, NULL, 60, 5100, 0);
    cr_assert_eq(gd_gov_local_ops.acquire(&b, &v), GD_EAGAIN);
    cr_assert_eq(v.reason, GD_GOV_TPM);
    cr_assert_gt(v.retry_after_ms, 0);
    struct gd_gov_actual x = {20, 0, 5200, 0}; /* the real usage was far lower */
    gd_gov_local_ops.settle(&a, &x);
    b.now_ms = 5300;
    cr_assert_eq(gd_gov_local_ops.acquire(&b, &v), 0);
    cr_assert_eq(v.tokens.remaining, 20);
    gd_gov_local_ops.settle(&b, &x);
    struct gd_gov_ask c = ask(k, &kc, NULL, NULL, 101, 5400, 0);
    cr_assert_eq(gd_gov_local_ops.acquire(&c, &v), GD_EAGAIN);
    cr_assert_eq(v.reason, GD_GOV_TOO_LARGE);
    gd_gov_local_ops.state_put(k);
}

Test(gov_local, budget_resets_with_its_period)
{
    struct gd_gov_scope_cfg kc = {.id = "k", .budget = {.usd = 1.0, .period = GD_GOV_PERIOD_DAILY}};
    struct gd_gov_state *k = get(GD_GOV_KEY, "t3-key");
    struct gd_gov_verdict v;
    int64_t day = 20000 * 86400LL; /* a UTC midnight */
    struct gd_gov_ask a = ask(k, &kc, NULL, NULL, 1, 1, day + 3600);
    a.cost_usd = 0.1;
    cr_assert_eq(gd_gov_local_ops.acquire(&a, &v), 0);
    struct gd_gov_actual x = {1, 0.7, 2, day + 3601};
    gd_gov_local_ops.settle(&a, &x);
    cr_assert_float_eq(gd_gov_local_spent(k), 0.7, 1e-9);
    a.now_s = day + 3700;
    cr_assert_eq(gd_gov_local_ops.acquire(&a, &v), 0); /* 0.7 spent + 0.1 reserved < 1 */
    x.cost_usd = 0.5;
    gd_gov_local_ops.settle(&a, &x);
    a.now_s = day + 3800;
    cr_assert_eq(gd_gov_local_ops.acquire(&a, &v), GD_EAGAIN);
    cr_assert_eq(v.reason, GD_GOV_BUDGET);
    cr_assert_float_eq(v.spent_usd, 1.2, 1e-9);
    cr_assert_eq(v.retry_after_ms, (uint64_t)(86400 - 3800) * 1000u); /* to next midnight */
    a.now_s = day + 86400;                                            /* the next day */
    cr_assert_eq(gd_gov_local_ops.acquire(&a, &v), 0);
    cr_assert_float_eq(gd_gov_local_spent(k), 0, 1e-9);
    gd_gov_local_ops.settle(&a, &x);
    gd_gov_local_ops.state_put(k);
}

Test(gov_local, state_is_shared_by_name_across_configs)
{
    struct gd_gov_scope_cfg kc = {.id = "k", .limits = {.rpm = 2}};
    struct gd_gov_state *old = get(GD_GOV_KEY, "t4-key");
    struct gd_gov_verdict v;
    struct gd_gov_ask a = ask(old, &kc, NULL, NULL, 0, 1000, 0);
    cr_assert_eq(gd_gov_local_ops.acquire(&a, &v), 0);
    struct gd_gov_actual x = {0, 0, 1001, 0};
    gd_gov_local_ops.settle(&a, &x);
    struct gd_gov_state *neu = get(GD_GOV_KEY, "t4-key"); /* a reload names it again */
    cr_assert_eq(neu, old);
    gd_gov_local_ops.state_put(old);
    struct gd_gov_ask b = ask(neu, &kc, NULL, NULL, 0, 1002, 0);
    cr_assert_eq(gd_gov_local_ops.acquire(&b, &v), 0);
    cr_assert_eq(v.requests.remaining, 0);
    gd_gov_local_ops.settle(&b, &x);
    struct gd_gov_state *tenant = get(GD_GOV_TENANT, "t4-key"); /* other kind: other state */
    cr_assert_neq(tenant, neu);
    gd_gov_local_ops.state_put(tenant);
    gd_gov_local_ops.state_put(neu);
}
