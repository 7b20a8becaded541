/* The limiter interface: what a governance backend must do for each request, so a Redis
 * backend (hiredis async + Lua, keys in one hash slot per party) can stand next to the
 * in-process one (gov_local.c) without the request path changing.
 *
 * A party (a key, a tenant or an alias) has state named by (kind, id) — counters that live
 * across config reloads: a reload that keeps a key keeps its RPM/TPM windows, in-flight
 * count and spend. A request asks for all its parties at once: acquire checks every limit
 * of every party and reserves them only if all pass (all or nothing: a refusal by the
 * tenant leaves nothing held on the key); settle later swaps the estimate for the real
 * usage and frees the concurrency slot. Each acquire that succeeded is settled exactly
 * once.
 *
 * Contract for backends: acquire returns 0 (admitted) or GD_EAGAIN (refused, the verdict
 * says by whom and for how long) and fills the verdict either way; GD_ENOMEM/GD_EIO are
 * errors (the caller applies its failure policy); GD_ECLOSED: the shared state cannot be
 * reached and the policy is fail-closed (503). The local backend decides synchronously;
 * the Redis backend (gov_redis.c) returns GD_EINPROGRESS when the caller gave a loop and a
 * done callback, and later calls ask->done on that loop thread (never from inside
 * acquire) with the verdict filled and one of the codes above.
 * Threading: every op may be called from any loop thread concurrently. */
#ifndef GD_GATEWAY_GOV_LIMITER_H
#define GD_GATEWAY_GOV_LIMITER_H

#include "gateway/gov_config.h"

struct gd_loop;

#include <stdint.h>

enum gd_gov_kind { GD_GOV_KEY = 0, GD_GOV_TENANT, GD_GOV_ALIAS, GD_GOV_KIND_N };

enum gd_gov_reason {
    GD_GOV_ADMITTED = 0,
    GD_GOV_RPM,
    GD_GOV_TPM,
    GD_GOV_CONCURRENT,
    GD_GOV_BUDGET,
    GD_GOV_TOO_LARGE, /* the estimate alone exceeds a TPM limit: waiting cannot help */
    GD_GOV_REASON_N
};

struct gd_gov_state; /* a backend's per-party state */

struct gd_gov_party {
    struct gd_gov_state *st;            /* NULL: the request has no such party */
    const struct gd_gov_scope_cfg *cfg; /* its limits and budget (this config's) */
    const char *id;                     /* its id (Redis key names) */
};

/* One request's claim. The caller fills parties, tokens, cost, times and tz; the backend
 * keeps what it needs to settle in the rest. */
struct gd_gov_ask {
    struct gd_gov_party party[GD_GOV_KIND_N];
    int64_t tokens;             /* estimated prompt (+ completion) tokens */
    double cost_usd;            /* estimated cost */
    uint64_t now_ms;            /* monotonic, for RPM/TPM windows */
    int64_t now_s;              /* UTC seconds, for budget periods */
    const struct gd_gov_tz *tz; /* budget periods' time zone */
    uint64_t at_ms;             /* when the reservation was made (set by acquire) */
    /* asynchronous backends, set by the caller: */
    struct gd_loop *loop;                         /* the caller's; NULL: it cannot wait */
    void (*done)(struct gd_gov_ask *ask, int rc); /* after GD_EINPROGRESS */
    struct gd_gov_verdict *v;                     /* where done's verdict is (set by acquire) */
    const struct gd_gov_redis_cfg *redis;
    /* kept by the Redis backend for settle: */
    char rid[48];                  /* reservation id, unique per acquire */
    int local;                     /* reserved in the local backend (fail-open) */
    int64_t period[GD_GOV_KIND_N]; /* budget period start of each party's counter */
};

/* The tightest quota among the parties that set one, after this request. */
struct gd_gov_quota {
    int64_t limit; /* 0: no party limits this */
    int64_t remaining;
    uint64_t reset_ms; /* until the window is back to its full limit */
};

struct gd_gov_verdict {
    enum gd_gov_reason reason;
    enum gd_gov_kind by; /* the party that refused */
    uint64_t retry_after_ms;
    struct gd_gov_quota requests, tokens;
    int64_t limit, used; /* of the refusing limit, for the message */
    double budget_usd, spent_usd;
};

/* Real usage for settle. */
struct gd_gov_actual {
    int64_t tokens;
    double cost_usd;
    uint64_t now_ms;
    int64_t now_s;
};

/* A party's current usage, for the admin route. */
struct gd_gov_usage {
    int64_t requests_1m, tokens_1m, in_flight;
    double spent_usd; /* in the current period of cfg's budget (0 without one) */
    int64_t period_start, period_end;
};

struct gd_gov_limiter_ops {
    const char *name;
    /* The state of party (kind, id), shared with every config that names it; 0 or GD_ENOMEM. */
    int (*state_get)(enum gd_gov_kind kind, const char *id, struct gd_gov_state **out);
    void (*state_put)(struct gd_gov_state *st);
    int (*acquire)(struct gd_gov_ask *ask, struct gd_gov_verdict *v);
    void (*settle)(const struct gd_gov_ask *ask, const struct gd_gov_actual *a);
    /* Reads st's usage as of now under cfg's limits and budget. */
    void (*read)(struct gd_gov_state *st, const struct gd_gov_scope_cfg *cfg,
                 const struct gd_gov_tz *tz, uint64_t now_ms, int64_t now_s,
                 struct gd_gov_usage *out);
};

/* The in-process backend: exact on one instance (gov_local.c). */
extern const struct gd_gov_limiter_ops gd_gov_local_ops;

/* Shared through Redis (gov_redis.c): exact across instances; the local backend is its
 * fail-open safety net and serves state_get/put and read. */
extern const struct gd_gov_limiter_ops gd_gov_redis_ops;

/* Test hook of the local backend: spend of a state in its current period. */
double gd_gov_local_spent(struct gd_gov_state *st);

#endif
