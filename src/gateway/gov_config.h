/* The gateway's `governance:` section: virtual keys, tenants, per-alias limits, the price
 * table and the time zone of budget periods (docs/governance.md has every key).
 *
 * Parsed by gw_config.c after `models:` (aliases must be known) into an immutable object
 * owned by struct gd_gw_config. Keys are stored only as SHA-256 digests; the plain key is
 * never in the config, the summary, logs or metrics (keys are named by their id).
 *
 * Threading: immutable after parsing, shared by every loop thread. */
#ifndef GD_GATEWAY_GOV_CONFIG_H
#define GD_GATEWAY_GOV_CONFIG_H

#include "core/config.h"
#include "gateway/gov_pii_config.h"
#include "gateway/gov_budget.h"
#include "gateway/gov_jwt.h"
#include "gateway/gov_redis_config.h"
#include "gateway/gov_tz.h"

#include <stddef.h>
#include <stdint.h>

struct gd_gw_config;

enum {
    GD_GOV_MAX_KEYS = 100000,
    GD_GOV_MAX_TENANTS = 10000,
    GD_GOV_MAX_PRICES = 4096,
    GD_GOV_MAX_KEY_ALIASES = 256,
    GD_GOV_MAX_META = 16,
    GD_GOV_MAX_ID = 128,
};
#define GD_GOV_NONE UINT32_MAX

/* 0 means "no limit" for each. */
struct gd_gov_limits {
    int64_t rpm;        /* requests per rolling minute */
    int64_t tpm;        /* prompt + completion tokens per rolling minute */
    int64_t concurrent; /* requests in flight */
};

struct gd_gov_budget_cfg {
    double usd; /* 0: no budget */
    enum gd_gov_period period;
};

/* One limited party: a key, a tenant or an alias. */
struct gd_gov_scope_cfg {
    char *id; /* key id, tenant id or alias name */
    struct gd_gov_limits limits;
    struct gd_gov_budget_cfg budget;
    int has_pii; /* tenants and aliases: their own `pii:` (gov_pii_config.h) */
    struct gd_gov_pii_cfg pii;
};

struct gd_gov_key_cfg {
    struct gd_gov_scope_cfg s;
    unsigned char sha256[32];
    uint32_t tenant;   /* index into tenants or GD_GOV_NONE */
    uint32_t *aliases; /* allowed alias indices; n_aliases == 0: every alias */
    size_t n_aliases;
    char *tags; /* metadata as "k=v,k=v" for the access log; NULL when none */
};

struct gd_gov_price {
    char *model;                        /* a deployment's upstream model or an alias */
    double input, output, cached_input; /* USD per 1M tokens */
};

struct gd_gov_config {
    struct gd_gov_key_cfg *keys;
    size_t n_keys;
    struct gd_gov_scope_cfg *tenants;
    size_t n_tenants;
    struct gd_gov_scope_cfg *aliases; /* [n_aliases of the gateway]; id NULL: unlimited */
    size_t n_aliases;
    struct gd_gov_price *prices;
    size_t n_prices;
    struct gd_gov_tz tz;
    uint32_t *key_index; /* open addressing over sha256, key_slots entries, GD_GOV_NONE free */
    size_t key_slots;
    struct gd_gov_jwt_cfg *jwt; /* `jwt:` (gov_jwt.h), NULL when absent */
    int has_admin_key;
    unsigned char admin_sha256[32]; /* GET /admin/governance's key */
    struct gd_gov_redis_cfg *redis; /* `redis:`: limits shared through Redis; NULL: local */
    int has_pii;                    /* `pii:` for every request (tenants and aliases override) */
    struct gd_gov_pii_cfg pii;
};

/* Parses root's `governance:` (absent: *out = NULL, 0) against the parsed gateway
 * config gc (its aliases). Errors are recorded in d with positions; returns 0, GD_EINVAL
 * or GD_ENOMEM. */
int gd_gov_config_parse(const struct gd_yaml_node *root, struct gd_config_diag *d,
                        const struct gd_gw_config *gc, struct gd_gov_config **out);
void gd_gov_config_free(struct gd_gov_config *c);

/* The key whose SHA-256 digest is sha256, or GD_GOV_NONE (constant-time compare). */
uint32_t gd_gov_config_find_key(const struct gd_gov_config *c, const unsigned char sha256[32]);
/* Whether callers must authenticate (keys, keys in Redis or JWT configured). */
static inline int gd_gov_config_requires_auth(const struct gd_gov_config *c)
{
    return c->n_keys > 0 || c->jwt != NULL || (c->redis && c->redis->keys);
}
/* Index of tenant id, or GD_GOV_NONE. */
uint32_t gd_gov_config_find_tenant(const struct gd_gov_config *c, const char *id);
/* Whether key k may use alias a. */
int gd_gov_key_allows(const struct gd_gov_key_cfg *k, uint32_t alias);
/* Price entry for an upstream model name (then the alias name), or NULL. */
const struct gd_gov_price *gd_gov_config_price(const struct gd_gov_config *c, const char *model,
                                               const char *alias);
/* Appends a one-line summary ("governance: 3 keys, ..."), never secrets. */
void gd_gov_config_summary(const struct gd_gov_config *c, struct gd_buf *out);

#endif
