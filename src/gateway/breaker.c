/* Circuit breaker (see breaker.h). The sliding window is a ring of buckets tagged with the
 * window slot they count, so stale buckets are recognised lazily without a timer. */
#include "gateway/breaker.h"
#include "girder/error.h"

#include <string.h>

void gd_gw_breaker_cfg_default(struct gd_gw_breaker_cfg *cfg)
{
    cfg->consecutive_failures = 5;
    cfg->failure_ratio = 0.5;
    cfg->min_requests = 20;
    cfg->window_ms = 10000;
    cfg->cooldown_ms = 5000;
    cfg->half_open_probes = 1;
}

void gd_gw_breaker_init(struct gd_gw_breaker *b, const struct gd_gw_breaker_cfg *cfg)
{
    memset(b, 0, sizeof *b);
    b->cfg = *cfg;
    if (b->cfg.window_ms < GD_GW_BREAKER_BUCKETS)
        b->cfg.window_ms = GD_GW_BREAKER_BUCKETS;
    if (b->cfg.half_open_probes == 0)
        b->cfg.half_open_probes = 1;
}

const char *gd_gw_breaker_state_name(enum gd_gw_breaker_state s)
{
    switch (s) {
    case GD_GW_BREAKER_CLOSED:
        return "closed";
    case GD_GW_BREAKER_OPEN:
        return "open";
    case GD_GW_BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "unknown";
}

static void set_state(struct gd_gw_breaker *b, enum gd_gw_breaker_state s, uint64_t now_ms)
{
    if (b->state == s)
        return;
    b->state = s;
    b->transitions++;
    b->probes_in_flight = 0;
    if (s == GD_GW_BREAKER_OPEN)
        b->opened_at_ms = now_ms;
    if (s == GD_GW_BREAKER_CLOSED) {
        b->consecutive = 0;
        memset(b->ok, 0, sizeof b->ok);
        memset(b->fail, 0, sizeof b->fail);
    }
}

enum gd_gw_breaker_state gd_gw_breaker_get_state(struct gd_gw_breaker *b, uint64_t now_ms)
{
    if (b->state == GD_GW_BREAKER_OPEN && now_ms >= b->opened_at_ms + b->cfg.cooldown_ms)
        set_state(b, GD_GW_BREAKER_HALF_OPEN, now_ms);
    return b->state;
}

int gd_gw_breaker_is_available(struct gd_gw_breaker *b, uint64_t now_ms)
{
    switch (gd_gw_breaker_get_state(b, now_ms)) {
    case GD_GW_BREAKER_CLOSED:
        return 1;
    case GD_GW_BREAKER_HALF_OPEN:
        return b->probes_in_flight < b->cfg.half_open_probes;
    default:
        return 0;
    }
}

int gd_gw_breaker_acquire(struct gd_gw_breaker *b, uint64_t now_ms)
{
    if (!gd_gw_breaker_is_available(b, now_ms))
        return GD_EAGAIN;
    if (b->state == GD_GW_BREAKER_HALF_OPEN) {
        b->probes_in_flight++;
        return 1;
    }
    return 0;
}

/* Adds one outcome to the bucket of now and sums the live buckets. */
static void window_add(struct gd_gw_breaker *b, uint64_t now_ms, int ok, uint32_t *oks,
                       uint32_t *fails)
{
    uint64_t width = b->cfg.window_ms / GD_GW_BREAKER_BUCKETS;
    uint64_t slot = now_ms / width + 1; /* +1: epoch 0 marks an unused bucket */
    size_t i = (size_t)(slot % GD_GW_BREAKER_BUCKETS);
    if (b->bucket_epoch[i] != slot) {
        b->bucket_epoch[i] = slot;
        b->ok[i] = b->fail[i] = 0;
    }
    if (ok)
        b->ok[i]++;
    else
        b->fail[i]++;
    *oks = *fails = 0;
    for (size_t k = 0; k < GD_GW_BREAKER_BUCKETS; k++) {
        if (b->bucket_epoch[k] + GD_GW_BREAKER_BUCKETS > slot) {
            *oks += b->ok[k];
            *fails += b->fail[k];
        }
    }
}

void gd_gw_breaker_record(struct gd_gw_breaker *b, uint64_t now_ms, int ok, int probe)
{
    enum gd_gw_breaker_state s = gd_gw_breaker_get_state(b, now_ms);
    if (s == GD_GW_BREAKER_OPEN)
        return; /* a straggler started before the breaker opened */
    if (s == GD_GW_BREAKER_HALF_OPEN) {
        if (!probe)
            return;
        set_state(b, ok ? GD_GW_BREAKER_CLOSED : GD_GW_BREAKER_OPEN, now_ms);
        return;
    }
    uint32_t oks, fails;
    window_add(b, now_ms, ok, &oks, &fails);
    b->consecutive = ok ? 0 : b->consecutive + 1;
    if (ok)
        return;
    int by_run = b->cfg.consecutive_failures && b->consecutive >= b->cfg.consecutive_failures;
    int by_ratio = b->cfg.failure_ratio > 0 && oks + fails >= b->cfg.min_requests &&
                   (double)fails >= b->cfg.failure_ratio * (double)(oks + fails);
    if (by_run || by_ratio)
        set_state(b, GD_GW_BREAKER_OPEN, now_ms);
}

void gd_gw_breaker_cancel(struct gd_gw_breaker *b, int probe)
{
    if (probe && b->state == GD_GW_BREAKER_HALF_OPEN && b->probes_in_flight > 0)
        b->probes_in_flight--;
}
