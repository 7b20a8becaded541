/* Distributed tracing: OpenTelemetry spans, sampled parent-based with a ratio, queued without
 * blocking and exported over OTLP/HTTP (protobuf) by one background thread.
 *
 *   record:  a loop thread fills a struct gd_span (ids from gd_trace_begin) and hands it to
 *            gd_trace_submit, which copies it into a bounded queue (full: dropped, counted);
 *   export:  the exporter thread sends batches of up to max_batch spans every batch_delay_ms
 *            (sooner when a batch is full), retries 429/502/503/504 and transport errors with
 *            exponential backoff honouring Retry-After, and counts what it could not deliver;
 *   stop:    gd_trace_stop flushes what is queued until its deadline.
 *
 * Nothing is recorded while no endpoint is configured (the `tracing:` section or the
 * standard OTEL_* variables, trace_config.c); gd_trace_begin then answers "not sampled"
 * at the cost of one atomic load.
 *
 * Threading: gd_trace_begin/submit from any thread; start/configure/stop from the thread
 * that owns the process's lifecycle (serve's main thread). */
#ifndef GD_OBS_TRACE_H
#define GD_OBS_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/trace_ctx.h"

/* ---- settings (the `tracing:` section, trace_config.c) ---- */
struct gd_trace_attr_kv {
    char *key, *value;
};
struct gd_trace_config {
    char *endpoint;      /* full URL of the traces endpoint (.../v1/traces); NULL: tracing off */
    int endpoint_secret; /* it came from ${VAR}: never printed */
    char *service_name;  /* resource service.name */
    double sample_ratio; /* root spans sampled with this probability; children follow parents */
    struct gd_trace_attr_kv *resource; /* extra resource attributes */
    size_t n_resource;
    struct gd_trace_attr_kv *headers; /* extra HTTP headers for the collector (secrets) */
    size_t n_headers;
    uint32_t batch_delay_ms, max_batch, max_queue, export_timeout_ms, max_retries;
    int gzip; /* `compression: gzip`: request bodies gzip-coded (Content-Encoding: gzip) */
};
#define GD_TRACE_CONFIG_SECTION "tracing"
extern const struct gd_config_section gd_trace_config_section;
/* The section's settings in cfg (never NULL for a loaded config). */
const struct gd_trace_config *gd_trace_config_get(const struct gd_config *cfg);

/* Appends map t's `key` (a map of single-line strings, at most 64 entries) to (*v, *n);
 * errors recorded in d. Shared with other config sections. 0, GD_EINVAL or GD_ENOMEM. */
struct gd_config_diag;
struct gd_yaml_node;
int gd_trace_config_kv_map(struct gd_config_diag *d, const struct gd_yaml_node *t, const char *key,
                           struct gd_trace_attr_kv **v, size_t *n);

/* ---- spans ---- */
enum gd_span_kind { GD_SPAN_INTERNAL = 1, GD_SPAN_SERVER = 2, GD_SPAN_CLIENT = 3 };
enum gd_span_status { GD_SPAN_UNSET = 0, GD_SPAN_OK = 1, GD_SPAN_ERROR = 2 };
enum gd_span_attr_type { GD_SPAN_ATTR_STR, GD_SPAN_ATTR_INT, GD_SPAN_ATTR_DOUBLE };

#define GD_SPAN_MAX_ATTRS 24
#define GD_SPAN_TEXT_BYTES 1536 /* attribute strings, trace state and name, copied inline */

struct gd_span_attr {
    const char *key; /* a static string (semantic-convention names) */
    enum gd_span_attr_type type;
    uint32_t off, len; /* string: bytes in text[] */
    int64_t i;
    double d;
};

struct gd_span {
    uint8_t trace_id[16], span_id[8], parent_id[8]; /* parent all zero: a root span */
    enum gd_span_kind kind;
    enum gd_span_status status;
    uint64_t start_unix_ns, end_unix_ns;
    uint32_t name_off, name_len, state_off, state_len; /* name and W3C tracestate in text[] */
    struct gd_span_attr attrs[GD_SPAN_MAX_ATTRS];
    uint32_t n_attrs, text_len;
    char text[GD_SPAN_TEXT_BYTES];
};

/* Decides ctx once (later calls just answer): with a valid parent (W3C traceparent fields:
 * 32 + 16 lowercase hex, flags) the request joins that trace and follows its sampled flag;
 * otherwise a new trace is sampled with the configured ratio. Returns 1 when sampled, 0 when
 * not or while tracing is off (ctx then stays undecided). */
int gd_trace_decide(struct gd_trace_ctx *ctx, const char *parent_trace_hex,
                    const char *parent_span_hex, int parent_flags);
/* Starts the SERVER span of a sampled ctx: zeroes s and sets its ids from ctx. */
void gd_trace_begin(struct gd_span *s, const struct gd_trace_ctx *ctx);
/* Span timestamps (ns since the epoch): now, and a CLOCK_MONOTONIC reading converted with the
 * process's one offset (so spans from different clocks' readings nest exactly). */
uint64_t gd_trace_unix_now_ns(void);
uint64_t gd_trace_unix_ns(uint64_t mono_ns);
/* 1 while an endpoint is configured. */
int gd_trace_enabled(void);
/* A fresh span id. */
void gd_trace_new_span_id(uint8_t id[8]);
/* "00-<trace>-<span>-01" (55 bytes + NUL) for an outgoing request made by span_id. */
void gd_trace_format_traceparent(const struct gd_trace_ctx *ctx, const uint8_t span_id[8],
                                 char out[56]);
/* Starts child span c of sampled span parent (same trace, new id, INTERNAL). */
void gd_trace_child(struct gd_span *c, const struct gd_span *parent);
/* Starts span c of ctx's trace, a child of its SERVER span, with id span_id. */
void gd_trace_child_of(struct gd_span *c, const struct gd_trace_ctx *ctx, const uint8_t span_id[8]);
/* Setters copy strings into s->text (cut when it is full); silently ignore attributes past
 * GD_SPAN_MAX_ATTRS. */
void gd_span_set_name(struct gd_span *s, const char *name, size_t len);
void gd_span_set_trace_state(struct gd_span *s, const char *state, size_t len);
void gd_span_attr_str(struct gd_span *s, const char *key, const char *v, size_t len);
void gd_span_attr_int(struct gd_span *s, const char *key, int64_t v);
void gd_span_attr_double(struct gd_span *s, const char *key, double v);
/* Queues a copy of s for export; a full queue drops it (counted). */
void gd_trace_submit(const struct gd_span *s);

/* Starts the exporter with c's settings (c->endpoint NULL: tracing stays off) and registers
 * the girder_otel_* metrics. Errors: GD_ENOMEM, GD_EIO (thread). */
int gd_trace_start(const struct gd_trace_config *c);
/* New settings (a config reload); endpoint NULL turns recording off (queued spans still go). */
void gd_trace_configure(const struct gd_trace_config *c);
/* Flushes the queue until deadline_ms from now, then stops the exporter. */
void gd_trace_stop(uint64_t deadline_ms);

/* ---- OTLP encoding (otlp_encode.c) ---- */
struct gd_buf;
/* An ExportTraceServiceRequest with one ResourceSpans (service.name + resource attributes)
 * and one ScopeSpans ("girder") holding spans[0..n). Returns 0 or a gd_buf error. */
int gd_otlp_encode_traces(const struct gd_trace_config *c, const struct gd_span *const *spans,
                          size_t n, struct gd_buf *out);

#endif
