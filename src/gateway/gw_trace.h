/* Internal: the gateway's part of a request's trace (obs/trace.h). Each upstream attempt of
 * a sampled request is a CLIENT span, a child of the request's SERVER span, so retries and
 * fallbacks show as siblings; the upstream receives that span as its traceparent parent.
 * Loop thread only. */
#ifndef GD_GATEWAY_GW_TRACE_H
#define GD_GATEWAY_GW_TRACE_H

#include "gateway/gw_req.h"

/* An attempt starts: 1 when the request is traced (the attempt is a span of its own). */
int gw_trace_attempt_begin(struct gw_req *req);
/* The traceparent value the attempt sends (*n bytes): girder's span while traced (formatted
 * into buf), else the client's valid one unchanged; NULL: none. */
const char *gw_trace_upstream_parent(const struct gw_req *req, char buf[56], size_t *n);
/* It ended with r: records its CLIENT span when the request is traced. */
void gw_trace_attempt_end(struct gw_req *req, const struct gd_gw_attempt_result *r);

#endif
