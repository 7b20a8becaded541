/* Upstream attempts over girder's own HTTP/1.1 client (net/http_client.h), for http://
 * providers; https://, `client: curl`, a forward proxy from the environment, or a URL the
 * own client does not take (user info) keep going through libcurl (gw_curl.h).
 *
 * Threading: a target is immutable once built (shared by loop threads); attempts run on
 * their request's loop thread. */
#ifndef GD_GATEWAY_GW_HC_H
#define GD_GATEWAY_GW_HC_H

#include "gateway/gw_config.h"

#include <stdint.h>

struct gw_req;

/* Where an http:// provider is, parsed once from its base_url. */
struct gw_hc_target {
    char *host;      /* name or address, IPv6 without brackets */
    char *authority; /* Host header value, as written in the URL */
    char *path;      /* base path without trailing '/', "" for none */
    uint16_t port;
};

/* The target of provider p, or NULL when p goes through libcurl (or out of memory: libcurl
 * then serves it, still correct). Called at config load (reads the environment). */
struct gw_hc_target *gw_hc_target_new(const struct gd_gw_provider_cfg *p);
void gw_hc_target_free(struct gw_hc_target *t);

/* Starts req's attempt on t (see gw_attempt_start). 0 or GD_E* (no callback then). */
int gw_hc_attempt_start(struct gw_req *req, const struct gw_hc_target *t,
                        const struct gd_gw_provider_cfg *p, const char *pool_key);

#endif
