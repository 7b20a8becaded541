#include "gateway/plan.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <string.h>

/* Two aliases: 0 has deployments {0,1}, 1 has {0}. `down` marks unavailable ones. */
struct world {
    int ndep[2];
    int down[2][2];
    int rr[2];
};

static int pick(void *ud, uint32_t alias, uint64_t tried)
{
    struct world *w = ud;
    for (int k = 0; k < w->ndep[alias]; k++) {
        int d = (w->rr[alias] + k) % w->ndep[alias];
        if (!w->down[alias][d] && !((tried >> d) & 1)) {
            w->rr[alias] = d + 1;
            return d;
        }
    }
    return GD_ENOENT;
}

static struct gd_gw_attempt_result res(enum gd_gw_outcome o, int status)
{
    struct gd_gw_attempt_result r = {o, status, 0, 0};
    return r;
}

static const uint32_t chain[] = {0, 1};

Test(plan, retries_other_deployment_then_falls_back)
{
    struct world w = {{2, 1}, {{0}}, {0}};
    uint32_t retries[] = {1, 0};
    struct gd_gw_plan p;
    uint32_t a, d;
    gd_gw_plan_init(&p, chain, 2, retries);
    cr_assert_eq(gd_gw_plan_next(&p, pick, &w, &a, &d), 0);
    cr_assert(a == 0 && d == 0);
    cr_assert_eq(
        gd_gw_plan_record(&p, &(struct gd_gw_attempt_result){GD_GW_OUTCOME_HTTP, 429, 2000, 0}), 1);
    cr_assert_eq(gd_gw_plan_next(&p, pick, &w, &a, &d), 0);
    cr_assert(a == 0 && d == 1);
    struct gd_gw_attempt_result r = res(GD_GW_OUTCOME_HTTP, 503);
    cr_assert_eq(gd_gw_plan_record(&p, &r), 1);
    cr_assert_eq(gd_gw_plan_next(&p, pick, &w, &a, &d), 0);
    cr_assert(a == 1 && d == 0);
    cr_assert_eq(p.fallbacks, 1);
    r = res(GD_GW_OUTCOME_FIRST_BYTE_TIMEOUT, 0);
    cr_assert_eq(gd_gw_plan_record(&p, &r), 1);
    cr_assert_eq(gd_gw_plan_next(&p, pick, &w, &a, &d), GD_ENOENT);
    cr_assert_eq(p.attempts, 3);
    int status;
    const char *code, *msg;
    gd_gw_plan_error(&p, &status, &code, &msg);
    cr_assert_eq(status, 504);
    cr_assert_eq(p.retry_after_ms, 2000);
}

Test(plan, non_retryable_and_after_bytes_are_final)
{
    struct world w = {{2, 1}, {{0}}, {0}};
    uint32_t retries[] = {3, 3};
    struct gd_gw_plan p;
    uint32_t a, d;
    gd_gw_plan_init(&p, chain, 2, retries);
    cr_assert_eq(gd_gw_plan_next(&p, pick, &w, &a, &d), 0);
    struct gd_gw_attempt_result r = res(GD_GW_OUTCOME_HTTP, 400);
    cr_assert_eq(gd_gw_plan_record(&p, &r), 0);
    r = res(GD_GW_OUTCOME_BROKEN, 200);
    cr_assert_eq(gd_gw_plan_record(&p, &r), 0);
    r = res(GD_GW_OUTCOME_CONNECT, 0);
    r.client_bytes_sent = 1;
    cr_assert_eq(gd_gw_plan_record(&p, &r), 0);
    r = res(GD_GW_OUTCOME_CONNECT, 0);
    cr_assert_eq(gd_gw_plan_record(&p, &r), 1);
    cr_assert(gd_gw_outcome_is_failure(&r));
    r = res(GD_GW_OUTCOME_HTTP, 404);
    cr_assert_not(gd_gw_outcome_is_failure(&r));
}

Test(plan, single_deployment_is_retried_and_all_down_is_503)
{
    struct world w = {{2, 1}, {{1, 0}, {1, 0}}, {0}};
    uint32_t retries[] = {2, 0};
    struct gd_gw_plan p;
    uint32_t a, d;
    gd_gw_plan_init(&p, chain, 1, retries);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(gd_gw_plan_next(&p, pick, &w, &a, &d), 0);
        cr_assert(a == 0 && d == 1);
        struct gd_gw_attempt_result r = res(GD_GW_OUTCOME_CONNECT, 0);
        gd_gw_plan_record(&p, &r);
    }
    cr_assert_eq(gd_gw_plan_next(&p, pick, &w, &a, &d), GD_ENOENT);
    int status;
    const char *code, *msg;
    gd_gw_plan_error(&p, &status, &code, &msg);
    cr_assert_eq(status, 502);

    w.down[0][1] = 1;
    w.down[1][0] = 1;
    gd_gw_plan_init(&p, chain, 2, retries);
    cr_assert_eq(gd_gw_plan_next(&p, pick, &w, &a, &d), GD_ENOENT);
    gd_gw_plan_error(&p, &status, &code, &msg);
    cr_assert_eq(status, 503);
    cr_assert_eq(p.attempts, 0);
}
