/* The `governance: redis:` section: where the shared limiter state lives and what to do
 * when it cannot be reached (docs/governance.md "Redis mode", docs/configuration.md).
 *
 *   redis:
 *     url: redis://127.0.0.1:6379/0     # or unix:/run/redis.sock, or /run/redis.sock
 *     password: ${REDIS_PASSWORD}        # optional, secret: never printed
 *     timeout_ms: 50                     # per limiter call; then the failure policy applies
 *     key_prefix: girder                 # every key is "{<prefix>}:..." (one hash slot)
 *     failure: open                      # open: local limits decide; closed: 503
 *     lease_ms: 600000                   # a concurrency slot comes back after this at most
 *     limits: redis                      # redis (shared) | local (in-process, keys only)
 *     keys: false                        # also look virtual keys up in Redis (gov_rkey.h)
 *     key_cache_ms: 5000                 # per loop thread: found keys kept this long
 *     key_negative_cache_ms: 1000        # unknown / revoked / invalid keys kept this long
 *     key_cache_size: 10000              # entries per loop thread
 *
 * Threading: immutable after parsing. */
#ifndef GD_GATEWAY_GOV_REDIS_CONFIG_H
#define GD_GATEWAY_GOV_REDIS_CONFIG_H

#include "core/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { GD_GOV_REDIS_MAX_URL = 1024, GD_GOV_REDIS_MAX_PREFIX = 64 };

enum gd_gov_redis_failure { GD_GOV_FAIL_OPEN = 0, GD_GOV_FAIL_CLOSED };

struct gd_gov_redis_cfg {
    char *host;     /* TCP host, or NULL for a unix socket */
    int port;       /* TCP port (6379 by default) */
    char *path;     /* unix socket path, or NULL */
    int db;         /* SELECT db (0..1023) */
    char *password; /* AUTH password or NULL (wiped on free) */
    uint64_t timeout_ms;
    char *key_prefix;
    enum gd_gov_redis_failure failure;
    uint64_t lease_ms;
    int local_limits; /* limits: local — Redis holds keys only */
    bool keys;        /* virtual keys are also looked up in Redis */
    uint64_t key_cache_ms, key_negative_cache_ms;
    size_t key_cache_size;
    char *where; /* "host:port/db" or the socket path, for logs (never the password) */
};

/* Parses gov's `redis:` (absent: *out = NULL, 0). Errors are recorded in d with their
 * positions; returns 0, GD_EINVAL or GD_ENOMEM. */
int gd_gov_redis_config_parse(const struct gd_yaml_node *gov, struct gd_config_diag *d,
                              struct gd_gov_redis_cfg **out);
void gd_gov_redis_config_free(struct gd_gov_redis_cfg *c);
/* Whether a and b name the same server with the same credentials and database. */
int gd_gov_redis_config_same_server(const struct gd_gov_redis_cfg *a,
                                    const struct gd_gov_redis_cfg *b);

#endif
