/* libcurl's multi interface driven by girder's event loop.
 *
 * Each loop thread has, per upstream provider, one CURLM ("pool"): its connection cache is
 * the provider's keep-alive pool on that thread, capped by max_connections (transfers past
 * the cap wait inside curl). curl tells us which sockets to watch and when its timeout is
 * due (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION); we map those onto gd_loop fd
 * watches and a gd_timer, and call curl_multi_socket_action when they fire. Finished
 * transfers are handed to the gw_xfer's done callback.
 *
 * Pools live in a loop slot and are freed with the loop. Everything runs on the loop's
 * thread. Reentrancy rule: never remove an easy handle from inside a curl callback; use
 * gw_pool_in_curl() to know whether we are inside one. */
#ifndef GD_GATEWAY_GW_CURL_H
#define GD_GATEWAY_GW_CURL_H

#include "net/loop.h"

#include <curl/curl.h>
#include <stdint.h>

struct gw_pool;

/* Embedded in each transfer's owner; CURLOPT_PRIVATE points at it. */
struct gw_xfer {
    CURL *easy;
    struct gw_pool *pool;
    void (*done)(struct gw_xfer *xf, CURLcode result);
};

/* Once per process, before threads start. Returns 0 or GD_EIO. */
int gw_curl_global_init(void);

/* The pool for key (provider identity) on this loop, created on first use with
 * max_connections. Returns NULL when out of memory. */
struct gw_pool *gw_pool_get(struct gd_loop *loop, const char *key, long max_connections);

/* An easy handle for a new transfer: a recycled one (curl_easy_reset, so its buffers and
 * caches are kept) or a new one; NULL when out of memory. */
CURL *gw_pool_easy_get(struct gw_pool *p);
/* Returns an easy handle that is not (or no longer) added to the multi, for reuse. */
void gw_pool_easy_put(struct gw_pool *p, CURL *easy);

/* Starts the transfer (xf->easy configured, xf->done set). Returns 0 or GD_EIO. */
int gw_pool_add(struct gw_pool *p, struct gw_xfer *xf);
/* Stops a running transfer without calling done (not from inside a curl callback). */
void gw_pool_remove(struct gw_xfer *xf);
/* Resumes a transfer paused by CURL_WRITEFUNC_PAUSE. */
void gw_pool_unpause(struct gw_xfer *xf);
/* True while the pool is inside curl (a curl callback may be running). */
int gw_pool_in_curl(const struct gw_pool *p);
/* The loop a pool runs on. */
struct gd_loop *gw_pool_loop(const struct gw_pool *p);

#endif
