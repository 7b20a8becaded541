#include "gateway/router.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <string.h>

static void init_targets(struct gd_gw_target *t, size_t n, const int64_t *w)
{
    struct gd_gw_breaker_cfg c;
    gd_gw_breaker_cfg_default(&c);
    c.consecutive_failures = 1;
    memset(t, 0, n * sizeof *t);
    for (size_t i = 0; i < n; i++) {
        t[i].weight = w[i];
        gd_gw_breaker_init(&t[i].breaker, &c);
    }
}

Test(router, smooth_weighted_sequence)
{
    struct gd_gw_target t[3];
    init_targets(t, 3, (int64_t[]){5, 1, 1});
    char seq[8] = {0};
    for (int i = 0; i < 7; i++)
        seq[i] = (char)('a' + gd_gw_router_pick(t, 3, GD_GW_STRATEGY_WEIGHTED, 0, 0));
    cr_assert_str_eq(seq, "aabacaa"); /* nginx's documented 5:1:1 order */
}

Test(router, weighted_distribution_and_skips)
{
    struct gd_gw_target t[2];
    init_targets(t, 2, (int64_t[]){3, 1});
    int count[2] = {0};
    for (int i = 0; i < 4000; i++)
        count[gd_gw_router_pick(t, 2, GD_GW_STRATEGY_WEIGHTED, 0, 0)]++;
    cr_assert_eq(count[0], 3000);
    cr_assert_eq(count[1], 1000);
    /* excluded and open targets are skipped */
    cr_assert_eq(gd_gw_router_pick(t, 2, GD_GW_STRATEGY_WEIGHTED, 0, 1), 1);
    gd_gw_breaker_record(&t[1].breaker, 0, 0, 0);
    cr_assert_eq(gd_gw_router_pick(t, 2, GD_GW_STRATEGY_WEIGHTED, 0, 1), GD_ENOENT);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(gd_gw_router_pick(t, 2, GD_GW_STRATEGY_WEIGHTED, 0, 0), 0);
    t[0].not_before_ms = 100;
    cr_assert_eq(gd_gw_router_pick(t, 2, GD_GW_STRATEGY_WEIGHTED, 99, 0), GD_ENOENT);
    cr_assert_eq(gd_gw_router_pick(t, 2, GD_GW_STRATEGY_WEIGHTED, 100, 0), 0);
}

Test(router, least_latency)
{
    struct gd_gw_target t[3];
    init_targets(t, 3, (int64_t[]){1, 1, 1});
    gd_gw_router_observe_ttfb(&t[0], 50);
    gd_gw_router_observe_ttfb(&t[1], 20);
    /* t[2] never measured: explored first */
    cr_assert_eq(gd_gw_router_pick(t, 3, GD_GW_STRATEGY_LEAST_LATENCY, 0, 0), 2);
    gd_gw_router_observe_ttfb(&t[2], 30);
    cr_assert_eq(gd_gw_router_pick(t, 3, GD_GW_STRATEGY_LEAST_LATENCY, 0, 0), 1);
    for (int i = 0; i < 5; i++)
        gd_gw_router_observe_ttfb(&t[1], 100); /* t[1] gets slow */
    cr_assert_gt(t[1].ewma_ttfb_ms, 80);
    cr_assert_eq(gd_gw_router_pick(t, 3, GD_GW_STRATEGY_LEAST_LATENCY, 0, 0), 2);
    cr_assert_eq(gd_gw_router_pick(t, 3, GD_GW_STRATEGY_LEAST_LATENCY, 0, 1u << 2), 0);
}

Test(router, least_busy_with_rotation_on_ties)
{
    struct gd_gw_target t[3];
    init_targets(t, 3, (int64_t[]){1, 1, 1});
    t[0].inflight = 2;
    t[1].inflight = 1;
    t[2].inflight = 1;
    int a = gd_gw_router_pick(t, 3, GD_GW_STRATEGY_LEAST_BUSY, 0, 0);
    int b = gd_gw_router_pick(t, 3, GD_GW_STRATEGY_LEAST_BUSY, 0, 0);
    cr_assert(a != 0 && b != 0 && a != b);
    t[2].inflight = 5;
    cr_assert_eq(gd_gw_router_pick(t, 3, GD_GW_STRATEGY_LEAST_BUSY, 0, 0), 1);
}

Test(router, strategy_names)
{
    enum gd_gw_strategy s;
    cr_assert_eq(gd_gw_strategy_parse("least-busy", &s), 0);
    cr_assert_eq(s, GD_GW_STRATEGY_LEAST_BUSY);
    cr_assert_str_eq(gd_gw_strategy_name(GD_GW_STRATEGY_LEAST_LATENCY), "least-latency");
    cr_assert_eq(gd_gw_strategy_parse("random", &s), GD_EINVAL);
}
