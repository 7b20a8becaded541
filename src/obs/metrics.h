/* Metrics registry rendered in the Prometheus text exposition format 0.0.4.
 *
 * A family (counter, gauge or histogram) has a name, help text and label names. Its children,
 * one per set of label values, are created on first use by *_vec_get (a mutex-protected
 * lookup, capped at max_series per family so a bad label cannot explode cardinality) and
 * then updated lock-free with atomics through the returned pointer, which stays valid until
 * the registry is freed: hot paths look a child up once and cache it.
 *
 * Past the series cap *_vec_get returns NULL and counts the miss in
 * girder_metrics_series_dropped_total; every update function accepts NULL as a no-op, so
 * callers need no special case.
 *
 * Naming follows Prometheus conventions (docs/metrics.md lists every girder metric):
 * `girder_` prefix, base units (`_seconds`, `_bytes`), `_total` suffix on counters.
 *
 * Threading: everything is thread-safe. Registration is idempotent: registering a family with
 * the same name, type, label names (and buckets) returns the existing one; a conflicting
 * definition fails with GD_EEXIST. */
#ifndef GD_OBS_METRICS_H
#define GD_OBS_METRICS_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

struct gd_metrics; /* the registry */
struct gd_counter_vec;
struct gd_gauge_vec;
struct gd_histogram_vec;
struct gd_counter;   /* one child (one label-value set) */
struct gd_gauge;
struct gd_histogram;

enum {
    GD_METRICS_WITH_PROCESS = 1u << 0, /* render process_* and girder_build_info */
};

#define GD_METRICS_DEFAULT_MAX_SERIES 2000
#define GD_METRICS_MAX_LABELS 8
#define GD_METRICS_MAX_BUCKETS 64

/* Latency buckets in seconds for girder's request-duration histograms: 100us .. 120s. */
extern const double gd_metrics_latency_buckets[];
extern const size_t gd_metrics_latency_buckets_n;

/* A new, empty registry (flags: GD_METRICS_*), or NULL when out of memory. */
struct gd_metrics *gd_metrics_new(unsigned flags);
/* Frees the registry, its families and children; no update may race with it. NULL ok. */
void gd_metrics_free(struct gd_metrics *m);
/* The process-wide registry (created on first call with GD_METRICS_WITH_PROCESS, never freed
 * before exit), which `girder serve` renders on /metrics. NULL only when out of memory. */
struct gd_metrics *gd_metrics_default(void);

/* Family options. labels: n_labels label names (may be NULL when 0), at most
 * GD_METRICS_MAX_LABELS, valid Prometheus label names not starting with "__" (and not "le"
 * for histograms). max_series: 0 = GD_METRICS_DEFAULT_MAX_SERIES. Strings are copied. */
struct gd_metric_opts {
    const char *name;
    const char *help;
    const char *const *labels;
    size_t n_labels;
    size_t max_series;
};

/* Registration: 0 and *out, or GD_EINVAL (bad name/label/buckets), GD_EEXIST (same name with
 * a different definition), GD_ENOMEM. */
int gd_metrics_counter(struct gd_metrics *m, const struct gd_metric_opts *o,
                       struct gd_counter_vec **out);
int gd_metrics_gauge(struct gd_metrics *m, const struct gd_metric_opts *o,
                     struct gd_gauge_vec **out);
/* buckets: n strictly increasing finite upper bounds (1..GD_METRICS_MAX_BUCKETS); +Inf is
 * implicit. */
int gd_metrics_histogram(struct gd_metrics *m, const struct gd_metric_opts *o,
                         const double *buckets, size_t n_buckets, struct gd_histogram_vec **out);

/* The child for values[0..n_labels) (NULL values when the family has no labels), created on
 * first use; NULL when vec is NULL, the series cap is reached or out of memory. Values are
 * copied; any bytes are allowed (escaped when rendered). */
struct gd_counter *gd_counter_vec_get(struct gd_counter_vec *v, const char *const *values);
struct gd_gauge *gd_gauge_vec_get(struct gd_gauge_vec *v, const char *const *values);
struct gd_histogram *gd_histogram_vec_get(struct gd_histogram_vec *v, const char *const *values);

/* Lock-free updates; every one accepts NULL. */
void gd_counter_add(struct gd_counter *c, uint64_t n);
static inline void gd_counter_inc(struct gd_counter *c)
{
    gd_counter_add(c, 1);
}
void gd_gauge_set(struct gd_gauge *g, double v);
void gd_gauge_add(struct gd_gauge *g, double delta); /* negative to decrease */
void gd_histogram_observe(struct gd_histogram *h, double v);

/* Current values (for tests and for modules that read their own metrics). */
uint64_t gd_counter_value(const struct gd_counter *c);
double gd_gauge_value(const struct gd_gauge *g);
/* Observations so far and their sum. */
void gd_histogram_value(const struct gd_histogram *h, uint64_t *count, double *sum);

/* A collector appends complete exposition text (HELP/TYPE/samples) at render time; for
 * values read on demand (GPU telemetry, pool sizes). It runs on the rendering thread with no
 * registry lock held and must return 0 or a gd_buf error. ud is borrowed. */
typedef int (*gd_metrics_collect_fn)(void *ud, struct gd_buf *out);
int gd_metrics_add_collector(struct gd_metrics *m, gd_metrics_collect_fn fn, void *ud);

/* Appends the whole registry in text format 0.0.4 (Content-Type:
 * "text/plain; version=0.0.4; charset=utf-8"): families in registration order, children in
 * creation order, then collectors, then process metrics. Returns 0 or GD_ELIMIT/GD_ENOMEM
 * from the buffer. */
int gd_metrics_render(struct gd_metrics *m, struct gd_buf *out);
#define GD_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Writes v as Prometheus renders floats ("0.005", "1e-06", "+Inf", "NaN"). */
int gd_metrics_put_double(struct gd_buf *out, double v);
/* Writes s[0..n) escaped for a label value (\\, \", \n). */
int gd_metrics_put_label_value(struct gd_buf *out, const char *s, size_t n);

/* Appends the process_* metrics (resident/virtual memory, CPU seconds, open/max fds, start
 * time) read from /proc/self, plus girder_build_info{version}. */
int gd_metrics_render_process(struct gd_buf *out);

#endif
