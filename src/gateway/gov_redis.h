/* One command on this loop thread's Redis connection, for callers other than the limiter
 * (key lookups, gov_rkey_cache.c): the same per-loop hiredis connection, reconnection
 * with backoff, in-flight bound and loop-timer timeout as the limiter's scripts
 * (gov_redis.c).
 *
 * Threading: from the loop thread that owns loop; fn runs on it. */
#ifndef GD_GATEWAY_GOV_REDIS_H
#define GD_GATEWAY_GOV_REDIS_H

#include "gateway/gov_redis_config.h"

#include <hiredis/hiredis.h>
#include <stddef.h>

struct gd_loop;

/* The reply (an error reply included), or NULL: no answer within the timeout, or the
 * connection went down first. r is only valid during the call. */
typedef void (*gd_gov_redis_reply_fn)(void *ud, const redisReply *r);

/* Sends argv (argc parts, lens bytes each) with cfg->timeout_ms. 0: fn runs exactly once,
 * later (never from inside this call) — except when the loop is being freed, then never.
 * GD_EIO: no connection right now (it is being retried) or too many commands in flight;
 * GD_ENOMEM. fn does not run on an error return. */
int gd_gov_redis_call(struct gd_loop *loop, const struct gd_gov_redis_cfg *cfg, int argc,
                      const char **argv, const size_t *lens, gd_gov_redis_reply_fn fn, void *ud);

#endif
