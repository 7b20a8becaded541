/* Deployment selection (see router.h). */
#include "gateway/router.h"
#include "girder/error.h"

#include <string.h>

int gd_gw_strategy_parse(const char *s, enum gd_gw_strategy *out)
{
    static const char *const names[] = {"weighted", "least-latency", "least-busy"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum gd_gw_strategy)i;
            return 0;
        }
    }
    return GD_EINVAL;
}

const char *gd_gw_strategy_name(enum gd_gw_strategy s)
{
    switch (s) {
    case GD_GW_STRATEGY_WEIGHTED:
        return "weighted";
    case GD_GW_STRATEGY_LEAST_LATENCY:
        return "least-latency";
    case GD_GW_STRATEGY_LEAST_BUSY:
        return "least-busy";
    }
    return "unknown";
}

static int eligible(struct gd_gw_target *t, size_t i, uint64_t now_ms, uint64_t exclude)
{
    if (i < 64 && (exclude >> i) & 1)
        return 0;
    if (now_ms < t[i].not_before_ms)
        return 0;
    return gd_gw_breaker_is_available(&t[i].breaker, now_ms);
}

/* Smooth WRR over the targets whose bit is set in `cand`. */
static int pick_swrr(struct gd_gw_target *t, size_t n, uint64_t cand)
{
    int64_t total = 0;
    int best = GD_ENOENT;
    for (size_t i = 0; i < n; i++) {
        if (!((cand >> i) & 1))
            continue;
        t[i].current += t[i].weight;
        total += t[i].weight;
        if (best < 0 || t[i].current > t[best].current)
            best = (int)i;
    }
    if (best >= 0)
        t[best].current -= total;
    return best;
}

static int pick_latency(struct gd_gw_target *t, size_t n, uint64_t cand)
{
    int best = GD_ENOENT;
    for (size_t i = 0; i < n; i++) {
        if (!((cand >> i) & 1))
            continue;
        if (!t[i].have_ewma)
            return (int)i; /* unmeasured: try it first */
        if (best < 0 || t[i].ewma_ttfb_ms < t[best].ewma_ttfb_ms)
            best = (int)i;
    }
    return best;
}

static int pick_busy(struct gd_gw_target *t, size_t n, uint64_t cand)
{
    uint32_t min = UINT32_MAX;
    for (size_t i = 0; i < n; i++)
        if (((cand >> i) & 1) && t[i].inflight < min)
            min = t[i].inflight;
    uint64_t ties = 0;
    for (size_t i = 0; i < n; i++)
        if (((cand >> i) & 1) && t[i].inflight == min)
            ties |= 1ull << i;
    return pick_swrr(t, n, ties);
}

int gd_gw_router_pick(struct gd_gw_target *t, size_t n, enum gd_gw_strategy s, uint64_t now_ms,
                      uint64_t exclude)
{
    uint64_t cand = 0;
    if (n > GD_GW_MAX_DEPLOYMENTS)
        n = GD_GW_MAX_DEPLOYMENTS;
    for (size_t i = 0; i < n; i++)
        if (eligible(t, i, now_ms, exclude))
            cand |= 1ull << i;
    if (!cand)
        return GD_ENOENT;
    switch (s) {
    case GD_GW_STRATEGY_LEAST_LATENCY:
        return pick_latency(t, n, cand);
    case GD_GW_STRATEGY_LEAST_BUSY:
        return pick_busy(t, n, cand);
    default:
        return pick_swrr(t, n, cand);
    }
}

void gd_gw_router_observe_ttfb(struct gd_gw_target *t, double ttfb_ms)
{
    if (!t->have_ewma) {
        t->ewma_ttfb_ms = ttfb_ms;
        t->have_ewma = 1;
        return;
    }
    t->ewma_ttfb_ms += GD_GW_EWMA_ALPHA * (ttfb_ms - t->ewma_ttfb_ms);
}
