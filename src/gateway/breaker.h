/* Per-deployment circuit breaker.
 *
 * closed --(N consecutive failures, or failure ratio >= R over the sliding window with at
 * least min_requests)--> open --(cooldown elapsed)--> half_open, where at most
 * `half_open_probes` requests may be in flight; a probe success closes the breaker, a probe
 * failure re-opens it for another cooldown. Time is passed in (milliseconds, any monotonic
 * origin) so tests are deterministic. The window is 10 buckets of window_ms/10.
 *
 * Not thread-safe: the owner (the gateway's per-alias state) serialises access. */
#ifndef GD_GATEWAY_BREAKER_H
#define GD_GATEWAY_BREAKER_H

#include <stdint.h>

enum gd_gw_breaker_state {
    GD_GW_BREAKER_CLOSED = 0,
    GD_GW_BREAKER_OPEN = 1,
    GD_GW_BREAKER_HALF_OPEN = 2,
};

struct gd_gw_breaker_cfg {
    uint32_t consecutive_failures; /* 0 disables this trigger; default 5 */
    double failure_ratio;          /* 0 disables this trigger; default 0.5 */
    uint32_t min_requests;         /* ratio needs at least this many in window; default 20 */
    uint32_t window_ms;            /* default 10000 */
    uint32_t cooldown_ms;          /* default 5000 */
    uint32_t half_open_probes;     /* default 1 */
};

enum { GD_GW_BREAKER_BUCKETS = 10 };

struct gd_gw_breaker {
    struct gd_gw_breaker_cfg cfg;
    enum gd_gw_breaker_state state;
    uint32_t consecutive;
    uint32_t probes_in_flight;
    uint64_t opened_at_ms;
    uint64_t bucket_epoch[GD_GW_BREAKER_BUCKETS]; /* which window slot a bucket counts */
    uint32_t ok[GD_GW_BREAKER_BUCKETS];
    uint32_t fail[GD_GW_BREAKER_BUCKETS];
    uint64_t transitions; /* state changes so far (for metrics) */
};

/* Fills the defaults above. */
void gd_gw_breaker_cfg_default(struct gd_gw_breaker_cfg *cfg);
void gd_gw_breaker_init(struct gd_gw_breaker *b, const struct gd_gw_breaker_cfg *cfg);

/* Current state, after moving open -> half_open when the cooldown has elapsed. */
enum gd_gw_breaker_state gd_gw_breaker_get_state(struct gd_gw_breaker *b, uint64_t now_ms);

/* Whether a request would be let through now (no side effect besides the cooldown check). */
int gd_gw_breaker_is_available(struct gd_gw_breaker *b, uint64_t now_ms);

/* Lets a request through: returns 0 (normal request), 1 (a half-open probe: pass it back
 * to gd_gw_breaker_record) or GD_EAGAIN (refused: open, or no probe slot left). */
int gd_gw_breaker_acquire(struct gd_gw_breaker *b, uint64_t now_ms);

/* Records the outcome of a request let through by acquire (probe = its return value). */
void gd_gw_breaker_record(struct gd_gw_breaker *b, uint64_t now_ms, int ok, int probe);

/* Gives back what acquire took when the request ended without a verdict on the deployment
 * (the client went away): frees a half-open probe slot. */
void gd_gw_breaker_cancel(struct gd_gw_breaker *b, int probe);

const char *gd_gw_breaker_state_name(enum gd_gw_breaker_state s);

#endif
