/* Choosing a deployment among an alias's group.
 *
 * - weighted: smooth weighted round-robin (the nginx upstream algorithm): every pick adds
 *   each eligible target's weight to its running score, takes the highest, and subtracts
 *   the total from the winner. Spreads picks evenly (3:1 gives a a b a, never a a a b).
 * - least-latency: lowest EWMA of time to first byte (alpha GD_GW_EWMA_ALPHA); targets never
 *   measured go first so each one is tried once.
 * - least-busy: fewest requests in flight; ties broken by smooth weighted round-robin.
 * All skip targets whose breaker refuses requests and those cooling down after a 429 with
 * retry-after (not_before_ms). Deterministic for a given sequence of calls.
 *
 * Not thread-safe: the owner serialises access to a group's targets. */
#ifndef GD_GATEWAY_ROUTER_H
#define GD_GATEWAY_ROUTER_H

#include "gateway/breaker.h"

#include <stddef.h>
#include <stdint.h>

#define GD_GW_EWMA_ALPHA 0.3
enum { GD_GW_MAX_DEPLOYMENTS = 64 }; /* per alias: `tried` sets are 64-bit masks */

enum gd_gw_strategy {
    GD_GW_STRATEGY_WEIGHTED = 0,
    GD_GW_STRATEGY_LEAST_LATENCY = 1,
    GD_GW_STRATEGY_LEAST_BUSY = 2,
};

struct gd_gw_target {
    int64_t weight;      /* > 0 */
    int64_t current;     /* smooth WRR running score */
    double ewma_ttfb_ms; /* valid when have_ewma */
    int have_ewma;
    uint32_t inflight;
    uint64_t not_before_ms; /* skipped until then (upstream retry-after) */
    struct gd_gw_breaker breaker;
};

/* Parses "weighted|least-latency|least-busy"; returns 0 or GD_EINVAL. */
int gd_gw_strategy_parse(const char *s, enum gd_gw_strategy *out);
const char *gd_gw_strategy_name(enum gd_gw_strategy s);

/* Picks a target not in `exclude` (bit i = target i) that is available at now_ms.
 * Returns its index or GD_ENOENT when none is. Does not acquire the breaker. */
int gd_gw_router_pick(struct gd_gw_target *t, size_t n, enum gd_gw_strategy s, uint64_t now_ms,
                      uint64_t exclude);

/* Folds one time-to-first-byte observation into the target's EWMA. */
void gd_gw_router_observe_ttfb(struct gd_gw_target *t, double ttfb_ms);

#endif
