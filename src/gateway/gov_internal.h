/* Internal: the per-config governance object shared by gov.c (requests) and gov_admin.c
 * (the admin route). */
#ifndef GD_GATEWAY_GOV_INTERNAL_H
#define GD_GATEWAY_GOV_INTERNAL_H

#include "gateway/gov.h"
#include "gateway/gw_config.h"

struct gd_gauge;
struct gd_counter;
struct gd_counter_vec;
struct gd_gauge_vec;

struct gov_party_rt {
    struct gd_gov_state *st;
    struct gd_gauge *spend;
    struct gd_counter *tokens;
};

struct gd_gov {
    const struct gd_gw_config *gc;
    const struct gd_gov_config *c;
    const struct gd_gov_limiter_ops *ops;
    struct gov_party_rt *p[GD_GOV_KIND_N]; /* keys, tenants, aliases */
    size_t n[GD_GOV_KIND_N];
    struct gd_counter_vec *refusals;
    struct gd_gauge_vec *spend_vec; /* for keys found in Redis (gov_rkey_cache.c) */
    struct gd_counter_vec *tokens_vec;
    uint64_t gen; /* unique per gd_gov_new: tells a reloaded config from the one before */
};

extern const char *const gd_gov__kind_names[GD_GOV_KIND_N];

#endif
