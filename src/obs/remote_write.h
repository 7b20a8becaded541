/* Prometheus remote write (protocol 1.0: prometheus/prompb WriteRequest, snappy block-compressed,
 * POSTed over HTTP) from one background thread.
 *
 *   snapshot: every interval_ms the thread renders the default metrics registry (families,
 *             collectors and process metrics, exactly what /metrics serves) and turns the text
 *             into one WriteRequest stamped with the snapshot time (gd_rw_encode), adding the
 *             external labels (job, instance, ...) to every series;
 *   queue:    compressed batches wait in a bounded FIFO (`queue` entries); when it is full the
 *             oldest batch is dropped (counted), so an outage keeps the newest data;
 *   send:     oldest first; 2xx: sent; 429/5xx/transport errors: retried with exponential
 *             backoff (100 ms .. 5 s) or the receiver's Retry-After; other 4xx: dropped as
 *             rejected (the remote-write spec: a retry would fail the same way);
 *   stop:     gd_rw_stop takes a last snapshot and sends what is queued until its deadline.
 *
 * Threading: gd_rw_start/stop from the thread that owns the process's lifecycle. The
 * snapshot runs on the remote-write thread, never on a loop thread. */
#ifndef GD_OBS_REMOTE_WRITE_H
#define GD_OBS_REMOTE_WRITE_H

#include "core/buf.h"
#include "core/config.h"
#include "obs/trace.h" /* struct gd_trace_attr_kv: a key/value string pair */

#include <stddef.h>
#include <stdint.h>

/* ---- settings (`metrics.remote_write`, remote_write_config.c) ---- */
struct gd_rw_config {
    char *url;      /* receiver URL (.../api/v1/write); NULL: remote write off */
    int url_secret; /* it came from ${VAR}: never printed */
    uint32_t interval_ms, timeout_ms, queue;
    struct gd_trace_attr_kv *headers; /* extra HTTP headers (secrets: never logged) */
    size_t n_headers;
    struct gd_trace_attr_kv *labels; /* external labels as configured (job, instance, ...) */
    size_t n_labels;
};
#define GD_RW_CONFIG_SECTION "remote_write"
extern const struct gd_config_section gd_rw_config_section;
/* The section's settings in cfg (never NULL for a loaded config). */
const struct gd_rw_config *gd_rw_config_get(const struct gd_config *cfg);

/* ---- encoding (remote_write_encode.c) ---- */
#define GD_RW_MAX_LABELS 32 /* per series, external labels included */

/* Appends to out a WriteRequest with one TimeSeries per sample line of text (Prometheus text
 * exposition format 0.0.4; comments and blank lines skipped), each with one sample
 * {value, ts_ms}. A series' labels are its own plus ext[0..n_ext) (a series' own label wins
 * over an external one of the same name), sorted by name, __name__ among them. Lines that
 * do not parse, or have more than GD_RW_MAX_LABELS labels, are skipped and counted in
 * *n_skipped. *n_series receives the number of series written. Returns 0 or a gd_buf error. */
int gd_rw_encode(const char *text, size_t len, const struct gd_trace_attr_kv *ext, size_t n_ext,
                 int64_t ts_ms, struct gd_buf *out, size_t *n_series, size_t *n_skipped);

/* Snappy block compression of in into out (replacing its contents). 0, GD_ELIMIT, GD_ENOMEM
 * or GD_EIO. */
int gd_rw_snappy(const struct gd_buf *in, struct gd_buf *out);

/* ---- the sender (remote_write.c) ---- */
/* Starts the thread with c's settings (c->url NULL: nothing starts). instance is the default
 * `instance` label (host:port) used when c's labels have none; job defaults to "girder".
 * Registers the girder_remote_write_* metrics. Errors: GD_ENOMEM, GD_EIO (thread). */
int gd_rw_start(const struct gd_rw_config *c, const char *instance);
/* Takes a last snapshot, sends what is queued until deadline_ms from now, then stops. */
void gd_rw_stop(uint64_t deadline_ms);
/* A reload's settings: starts the thread (c has a URL, none ran), hands it c's URL, headers,
 * labels, interval and timeout (it takes them before its next snapshot or POST; the queue's
 * size stays until a restart), or stops it (c has no URL) sending what is queued for at most
 * off_deadline_ms. */
int gd_rw_configure(const struct gd_rw_config *c, const char *instance, uint64_t off_deadline_ms);

#endif
