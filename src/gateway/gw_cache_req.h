/* The response cache on the request path (gw_cache.h holds the store): whether a request
 * may use it, the lookup before the first attempt, the capture of a streamed answer and
 * the store once a 200 answer is complete. Loop thread of the request, except attach and
 * detach (with the runtime). */
#ifndef GD_GATEWAY_GW_CACHE_REQ_H
#define GD_GATEWAY_GW_CACHE_REQ_H

#include "core/buf.h"

#include <stddef.h>

struct gw_req;
struct gw_runtime;

/* The runtime's store and metrics when its config has `cache:` (else nothing). 0 or
 * GD_ENOMEM. */
int gw_cache_attach(struct gw_runtime *rt);
void gw_cache_detach(struct gw_runtime *rt);

/* Decides req's cache use (alias cached, Cache-Control: no-store / no-cache) and looks the
 * answer up: 1 with the cached body appended to body and its content type in ctype (the
 * request is answered from the cache), 0 to go upstream. req->cache_result names the
 * outcome (x-girder-cache header), NULL when the cache is not in play. */
int gw_cache_lookup(struct gw_req *req, struct gd_buf *body, char *ctype, size_t ctype_len);
/* A streamed answer's bytes as the client gets them, kept while the store wants them. */
void gw_cache_capture(struct gw_req *req, const char *p, size_t n);
/* The complete 200 answer the client got: a non-streamed body, or (body NULL) the
 * captured stream. */
void gw_cache_store(struct gw_req *req, const char *ctype, const char *body, size_t len);
void gw_cache_req_free(struct gw_req *req);

#endif
