/* One request's trace context: whether its spans are recorded and the ids they share.
 * Plain data so that the HTTP server can hold it per request (net) while tracing (obs)
 * decides it and the gateway and the request's server span read it. Zeroed = undecided;
 * decided at most once per request (gd_trace_decide, obs/trace.h). Loop thread only. */
#ifndef GD_CORE_TRACE_CTX_H
#define GD_CORE_TRACE_CTX_H

#include <stdint.h>

enum gd_trace_state { GD_TRACE_UNDECIDED = 0, GD_TRACE_SAMPLED, GD_TRACE_NOT_SAMPLED };

struct gd_trace_ctx {
    uint8_t state;        /* enum gd_trace_state */
    uint8_t trace_id[16]; /* the request's trace */
    uint8_t span_id[8];   /* the request's SERVER span */
    uint8_t parent_id[8]; /* the caller's span (all zero: the trace started here) */
};

#endif
