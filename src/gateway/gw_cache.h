/* The gateway's exact-match response cache (`cache:` section, docs/gateway.md "Response
 * cache"): a request's normalised form (gw_cache_key.c) names the answer a deployment gave
 * to the same request before, which is then answered without going upstream while it is
 * fresh (TTL). Local: one size-capped LRU per config generation, shared by every loop
 * thread. Only 200 answers are kept, streamed ones as the SSE bytes the client got (replayed
 * verbatim), so a streamed and a non-streamed request are different entries.
 *
 * Threading: the config is immutable; the store is guarded by one mutex (lookups copy the
 * entry out under it, so eviction never races a reader). */
#ifndef GD_GATEWAY_GW_CACHE_H
#define GD_GATEWAY_GW_CACHE_H

#include "core/buf.h"
#include "core/config.h"

#include <stddef.h>
#include <stdint.h>

struct gd_gw_config;

struct gd_gw_cache_config {
    uint64_t ttl_ms;          /* how long an answer is served from the cache */
    uint64_t max_bytes;       /* all entries (bodies + keys), LRU-evicted beyond */
    uint64_t max_entry_bytes; /* a bigger answer is not kept */
    int shared;               /* 1: one scope for every caller; 0: per tenant (or key) */
    uint8_t *aliases;         /* [n_aliases]: 1 = cached; NULL: every alias */
};

/* `cache:` of the gateway section: NULL (*out) when absent. 0, GD_EINVAL (recorded in d),
 * GD_ENOMEM. */
int gd_gw_cache_config_parse(const struct gd_yaml_node *root, struct gd_config_diag *d,
                             const struct gd_gw_config *gc, struct gd_gw_cache_config **out);
void gd_gw_cache_config_free(struct gd_gw_cache_config *cc);

#define GD_GW_CACHE_KEY_BYTES 32

/* The key of a request: SHA-256 over the request kind, the caller's scope and the body in
 * canonical form (objects' keys sorted, no whitespace, the top-level "user" dropped).
 * 0, GD_EPARSE (not a JSON object: not cacheable), GD_ENOMEM. */
int gd_gw_cache_key(int kind, const char *scope, const char *body, size_t len,
                    uint8_t out[GD_GW_CACHE_KEY_BYTES]);

struct gd_gw_cache;

struct gd_gw_cache *gd_gw_cache_new(const struct gd_gw_cache_config *cc);
void gd_gw_cache_free(struct gd_gw_cache *c);
/* A fresh entry for key: its body appended to body and its content type copied into ctype;
 * returns 1. 0 when none (an expired one is dropped), GD_ENOMEM / GD_ELIMIT from body. */
int gd_gw_cache_get(struct gd_gw_cache *c, const uint8_t key[GD_GW_CACHE_KEY_BYTES],
                    uint64_t now_ms, struct gd_buf *body, char *ctype, size_t ctype_len);
/* Keeps body under key until now_ms + ttl (replacing an older entry), evicting the least
 * recently used entries to stay within max_bytes. 0, GD_ELIMIT (bigger than max_entry_bytes:
 * not kept), GD_ENOMEM. *evicted: the entries it evicted. */
int gd_gw_cache_put(struct gd_gw_cache *c, const uint8_t key[GD_GW_CACHE_KEY_BYTES],
                    uint64_t now_ms, const char *ctype, const void *body, size_t len,
                    uint64_t *evicted);
struct gd_gw_cache_stats {
    size_t entries;
    uint64_t bytes, evictions;
};
void gd_gw_cache_stats(struct gd_gw_cache *c, struct gd_gw_cache_stats *out);

#endif
