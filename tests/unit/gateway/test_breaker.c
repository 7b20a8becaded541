#include "gateway/breaker.h"
#include "girder/error.h"

#include <criterion/criterion.h>

static struct gd_gw_breaker make(uint32_t consecutive, double ratio, uint32_t min_req)
{
    struct gd_gw_breaker_cfg c;
    gd_gw_breaker_cfg_default(&c);
    c.consecutive_failures = consecutive;
    c.failure_ratio = ratio;
    c.min_requests = min_req;
    c.window_ms = 1000;
    c.cooldown_ms = 500;
    c.half_open_probes = 2;
    struct gd_gw_breaker b;
    gd_gw_breaker_init(&b, &c);
    return b;
}

static void fail_n(struct gd_gw_breaker *b, uint64_t now, int n)
{
    for (int i = 0; i < n; i++)
        gd_gw_breaker_record(b, now, 0, gd_gw_breaker_acquire(b, now));
}

Test(breaker, opens_after_consecutive_failures)
{
    struct gd_gw_breaker b = make(3, 0, 0);
    fail_n(&b, 0, 2);
    gd_gw_breaker_record(&b, 0, 1, 0); /* a success resets the run */
    fail_n(&b, 0, 2);
    cr_assert_eq(gd_gw_breaker_get_state(&b, 0), GD_GW_BREAKER_CLOSED);
    fail_n(&b, 1, 1);
    cr_assert_eq(gd_gw_breaker_get_state(&b, 1), GD_GW_BREAKER_OPEN);
    cr_assert_eq(gd_gw_breaker_acquire(&b, 2), GD_EAGAIN);
    cr_assert_not(gd_gw_breaker_is_available(&b, 500));
}

Test(breaker, half_open_limits_probes_then_closes)
{
    struct gd_gw_breaker b = make(1, 0, 0);
    fail_n(&b, 100, 1);
    cr_assert_eq(gd_gw_breaker_get_state(&b, 599), GD_GW_BREAKER_OPEN);
    cr_assert_eq(gd_gw_breaker_get_state(&b, 600), GD_GW_BREAKER_HALF_OPEN);
    cr_assert_eq(gd_gw_breaker_acquire(&b, 600), 1);
    cr_assert_eq(gd_gw_breaker_acquire(&b, 600), 1);
    cr_assert_eq(gd_gw_breaker_acquire(&b, 600), GD_EAGAIN); /* 2 probes max */
    gd_gw_breaker_record(&b, 601, 1, 0);                     /* not a probe: ignored */
    cr_assert_eq(gd_gw_breaker_get_state(&b, 601), GD_GW_BREAKER_HALF_OPEN);
    gd_gw_breaker_record(&b, 602, 1, 1);
    cr_assert_eq(gd_gw_breaker_get_state(&b, 602), GD_GW_BREAKER_CLOSED);
    cr_assert_eq(gd_gw_breaker_acquire(&b, 602), 0);
}

Test(breaker, failed_probe_reopens_for_another_cooldown)
{
    struct gd_gw_breaker b = make(1, 0, 0);
    fail_n(&b, 0, 1);
    cr_assert_eq(gd_gw_breaker_acquire(&b, 500), 1);
    gd_gw_breaker_record(&b, 510, 0, 1);
    cr_assert_eq(gd_gw_breaker_get_state(&b, 1009), GD_GW_BREAKER_OPEN);
    cr_assert_eq(gd_gw_breaker_get_state(&b, 1010), GD_GW_BREAKER_HALF_OPEN);
    cr_assert_eq(b.transitions, 4);
}

Test(breaker, opens_on_failure_ratio_in_window)
{
    struct gd_gw_breaker b = make(0, 0.5, 10);
    for (int i = 0; i < 6; i++) {
        gd_gw_breaker_record(&b, (uint64_t)i * 10, 1, 0);
        fail_n(&b, (uint64_t)i * 10 + 1, 0);
    }
    for (int i = 0; i < 4; i++) /* 4 failed of 10: below 50% */
        fail_n(&b, 100, 1);
    cr_assert_eq(gd_gw_breaker_get_state(&b, 100), GD_GW_BREAKER_CLOSED);
    /* the successes age out of the 1 s window; new failures then dominate */
    fail_n(&b, 1200, 9);
    cr_assert_eq(gd_gw_breaker_get_state(&b, 1200), GD_GW_BREAKER_CLOSED); /* 9 < min 10 */
    fail_n(&b, 1201, 1);
    cr_assert_eq(gd_gw_breaker_get_state(&b, 1201), GD_GW_BREAKER_OPEN);
}

Test(breaker, ratio_mixed_window)
{
    struct gd_gw_breaker b = make(0, 0.5, 10);
    for (int i = 0; i < 5; i++)
        gd_gw_breaker_record(&b, 0, 1, 0);
    fail_n(&b, 50, 4);
    cr_assert_eq(gd_gw_breaker_get_state(&b, 50), GD_GW_BREAKER_CLOSED);
    fail_n(&b, 60, 1); /* 5 of 10 */
    cr_assert_eq(gd_gw_breaker_get_state(&b, 60), GD_GW_BREAKER_OPEN);
}
