/* Virtual keys looked up in Redis (`governance.redis.keys: true`), with a per-loop-thread
 * cache: a credential that no config key matches is read from `{prefix}:key:<sha256 hex>`
 * (HGETALL on the loop's limiter connection, gov_redis.h) and checked by gov_rkey.c;
 * found keys are kept key_cache_ms, unknown/revoked/invalid ones key_negative_cache_ms,
 * at most key_cache_size entries per loop (the oldest go first). Errors (timeout, Redis
 * down, error reply) are not cached. docs/governance.md "Keys in Redis".
 *
 * Metric: girder_gateway_gov_key_lookups_total{result} with result hit (found in Redis),
 * miss (no such hash, or revoked), invalid (refused by the checks; one log line names the
 * key id and the field), cached (answered from the cache, found or not), error.
 *
 * Threading: a cache and its entries belong to one loop thread.
 * Ownership: an entry is reference-counted; the cache holds one reference, every request
 * that authenticated with it another (gd_gov_rkey_put). */
#ifndef GD_GATEWAY_GOV_RKEY_CACHE_H
#define GD_GATEWAY_GOV_RKEY_CACHE_H

#include "gateway/gov_internal.h"

#include <stdint.h>

struct gd_loop;

struct gd_gov_rkey {
    int refs;
    uint64_t gen; /* the struct gd_gov (config generation) it was checked against */
    unsigned char md[32];
    uint64_t expires_ms;
    int found; /* 0: a negative entry (cfg unused) */
    struct gd_gov_key_cfg cfg;
    struct gov_party_rt rt; /* its state (shared by id) and metrics */
    const struct gd_gov_limiter_ops *ops;
    struct gd_gov_rkey *hnext, *prev, *next; /* bucket chain; the cache's age list */
};

/* What fn is told: rc 0 with k (a reference for the callee), GD_ENOENT (unknown, revoked
 * or invalid), GD_EIO (Redis unavailable, fail-open), GD_ECLOSED (unavailable, fail-closed). */
typedef void (*gd_gov_rkey_fn)(void *ud, int rc, struct gd_gov_rkey *k);

/* Looks the digest md up for g on loop: 0 with *out (a reference), GD_ENOENT, GD_EIO,
 * GD_ECLOSED as above, or GD_EINPROGRESS: fn(ud, ...) runs later on loop. With fn NULL the
 * caller cannot wait: a key not in the cache reads as GD_ENOENT. GD_ENOMEM. */
int gd_gov_rkey_find(struct gd_gov *g, struct gd_loop *loop, const unsigned char md[32],
                     gd_gov_rkey_fn fn, void *ud, struct gd_gov_rkey **out);
void gd_gov_rkey_put(struct gd_gov_rkey *k);

#endif
