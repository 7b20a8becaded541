/* Retry / fallback bookkeeping (see plan.h). */
#include "gateway/plan.h"
#include "girder/error.h"

#include <string.h>

int gd_gw_outcome_is_failure(const struct gd_gw_attempt_result *r)
{
    if (r->outcome == GD_GW_OUTCOME_OK)
        return 0;
    if (r->outcome == GD_GW_OUTCOME_HTTP)
        return r->status >= 500;
    return 1;
}

int gd_gw_outcome_is_retryable(const struct gd_gw_attempt_result *r)
{
    if (r->client_bytes_sent)
        return 0;
    switch (r->outcome) {
    case GD_GW_OUTCOME_CONNECT:
    case GD_GW_OUTCOME_FIRST_BYTE_TIMEOUT:
        return 1;
    case GD_GW_OUTCOME_HTTP:
        return r->status == 429 || r->status >= 500;
    default:
        return 0;
    }
}

void gd_gw_plan_init(struct gd_gw_plan *p, const uint32_t *chain, size_t chain_len,
                     const uint32_t *retries)
{
    memset(p, 0, sizeof *p);
    p->chain = chain;
    p->chain_len = chain_len;
    p->retries = retries;
}

static void next_alias(struct gd_gw_plan *p)
{
    p->pos++;
    p->used_in_alias = 0;
    p->tried = 0;
}

int gd_gw_plan_next(struct gd_gw_plan *p, gd_gw_pick_fn pick, void *ud, uint32_t *alias,
                    uint32_t *dep)
{
    while (p->pos < p->chain_len) {
        uint32_t a = p->chain[p->pos];
        if (p->used_in_alias <= p->retries[a]) {
            int d = pick(ud, a, p->tried);
            if (d < 0 && p->tried)
                d = pick(ud, a, 0); /* every deployment tried: retry one again */
            if (d >= 0) {
                if (p->pos > 0 && p->used_in_alias == 0)
                    p->fallbacks++;
                p->used_in_alias++;
                p->attempts++;
                if (d < 64)
                    p->tried |= 1ull << d;
                *alias = a;
                *dep = (uint32_t)d;
                return 0;
            }
        }
        next_alias(p);
    }
    return GD_ENOENT;
}

int gd_gw_plan_record(struct gd_gw_plan *p, const struct gd_gw_attempt_result *r)
{
    p->last = *r;
    p->have_last = 1;
    if (r->retry_after_ms && (!p->retry_after_ms || r->retry_after_ms < p->retry_after_ms))
        p->retry_after_ms = r->retry_after_ms;
    return gd_gw_outcome_is_retryable(r);
}

void gd_gw_plan_error(const struct gd_gw_plan *p, int *status, const char **code,
                      const char **message)
{
    const struct gd_gw_attempt_result *r = &p->last;
    if (!p->have_last) {
        *status = 503;
        *code = "no_healthy_deployment";
        *message = "no deployment available: every circuit breaker is open or cooling down";
    } else if (r->outcome == GD_GW_OUTCOME_FIRST_BYTE_TIMEOUT ||
               r->outcome == GD_GW_OUTCOME_TIMEOUT) {
        *status = 504;
        *code = "upstream_timeout";
        *message = "the upstream did not answer in time";
    } else if (r->outcome == GD_GW_OUTCOME_HTTP && r->status == 429) {
        *status = 503;
        *code = "upstream_rate_limited";
        *message = "every deployment is rate limited";
    } else {
        *status = 502;
        *code = "upstream_error";
        *message = r->outcome == GD_GW_OUTCOME_CONNECT ? "could not connect to the upstream"
                                                       : "the upstream failed";
    }
}
