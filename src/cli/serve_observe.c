/* `girder serve`'s request observer: every finished request feeds the HTTP metrics and
 * writes one access-log line.
 *
 * The registry's child lookup takes a mutex; the hot path avoids it with a small
 * per-thread cache from (route, method, status) to the counter child and from route to
 * the histogram child. Route labels are bounded (route patterns, never raw paths: an
 * unmatched request is "-"), methods outside the standard set count as "OTHER", so the
 * series count stays small whatever clients send. */
#include "cli/serve.h"
#include "core/hash.h"
#include "obs/access_log.h"
#include "obs/metrics.h"

#include <stdio.h>
#include <string.h>

static struct gd_counter_vec *requests_total;
static struct gd_histogram_vec *request_duration;
static struct gd_gauge *open_connections;

int gd_serve_observe_init(struct gd_metrics *m)
{
    static const char *const req_labels[] = {"route", "method", "status"};
    static const char *const dur_labels[] = {"route"};
    struct gd_metric_opts o = {.name = "girder_http_requests_total",
                               .help = "HTTP requests answered, by route, method and status.",
                               .labels = req_labels,
                               .n_labels = 3};
    int rc = gd_metrics_counter(m, &o, &requests_total);
    if (rc)
        return rc;
    o = (struct gd_metric_opts){.name = "girder_http_request_duration_seconds",
                                .help = "Time from the first byte of a request to its last "
                                        "response byte queued, by route.",
                                .labels = dur_labels,
                                .n_labels = 1};
    rc = gd_metrics_histogram(m, &o, gd_metrics_latency_buckets, gd_metrics_latency_buckets_n,
                              &request_duration);
    if (rc)
        return rc;
    struct gd_gauge_vec *conns;
    o = (struct gd_metric_opts){.name = "girder_http_open_connections",
                                .help = "Client connections currently open."};
    rc = gd_metrics_gauge(m, &o, &conns);
    if (rc)
        return rc;
    open_connections = gd_gauge_vec_get(conns, NULL);
    return 0;
}

static const char *method_label(struct gd_slice m)
{
    static const char *const known[] = {"GET",     "HEAD",  "POST",  "PUT",    "DELETE",
                                        "OPTIONS", "PATCH", "TRACE", "CONNECT"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (m.n == strlen(known[i]) && memcmp(m.p, known[i], m.n) == 0)
            return known[i];
    return "OTHER";
}

/* ---- per-thread child cache ---- */
enum { CACHE_SLOTS = 256, ROUTE_MAX = 96 };
struct cache_entry {
    char route[ROUTE_MAX];
    const char *method; /* one of method_label's static strings */
    int status;
    struct gd_counter *counter;
    struct gd_histogram *hist;
};
static _Thread_local struct cache_entry cache[CACHE_SLOTS];

static struct cache_entry *lookup(const char *route, const char *method, int status)
{
    size_t rl = strnlen(route, ROUTE_MAX - 1);
    uint64_t h = gd_hash(route, rl) ^ ((uint64_t)(uintptr_t)method * 31u) ^ (uint64_t)status;
    struct cache_entry *e = &cache[h % CACHE_SLOTS];
    if (e->method == method && e->status == status && strncmp(e->route, route, ROUTE_MAX) == 0)
        return e;
    char status_s[8];
    snprintf(status_s, sizeof status_s, "%d", status);
    memcpy(e->route, route, rl);
    e->route[rl] = '\0';
    e->method = method;
    e->status = status;
    const char *cv[] = {e->route, method, status_s};
    const char *hv[] = {e->route};
    e->counter = gd_counter_vec_get(requests_total, cv);
    e->hist = gd_histogram_vec_get(request_duration, hv);
    return e;
}

static void access_log(const struct gd_http_completion *c, struct gd_access_log *log)
{
    struct gd_access_field extra[17];
    size_t n = 0;
    const struct gd_http_request *r = c->req;
    if (r->trace.valid) { /* W3C trace id: joins the log line to the distributed trace */
        extra[n].key = "trace_id";
        extra[n].type = GD_ACCESS_FIELD_STR;
        extra[n++].v.s = GD_ACCESS_STR(r->trace.trace_id);
    }
    for (size_t i = 0; i < c->n_fields && n < 17; i++, n++) {
        extra[n].key = c->fields[i].key;
        if (c->fields[i].str) {
            extra[n].type = GD_ACCESS_FIELD_STR;
            extra[n].v.s = GD_ACCESS_STR(c->fields[i].str);
        } else {
            extra[n].type = GD_ACCESS_FIELD_I64;
            extra[n].v.i = c->fields[i].i64;
        }
    }
    struct gd_access_record rec = {
        .request_id = GD_ACCESS_STR(r->request_id),
        .method = {r->method.p, r->method.n},
        .route = GD_ACCESS_STR(c->route),
        .path = {r->path.p, r->path.n},
        .status = c->status,
        .bytes_in = c->bytes_in,
        .bytes_out = c->bytes_out,
        .duration_ms = (double)c->duration_ns / 1e6,
        .remote = GD_ACCESS_STR(r->remote_addr),
        .extra = extra,
        .n_extra = n,
    };
    gd_access_log_write(log, &rec);
}

void gd_serve_request_done(void *ud, const struct gd_http_completion *c)
{
    (void)ud;
    struct cache_entry *e = lookup(c->route, method_label(c->req->method), c->status);
    gd_counter_inc(e->counter);
    gd_histogram_observe(e->hist, (double)c->duration_ns / 1e9);
    struct gd_access_log *log = atomic_load(&gd_serve.access_log);
    if (log)
        access_log(c, log);
    gd_serve_trace_request(c);
}

void gd_serve_connections(void *ud, int delta)
{
    (void)ud;
    gd_gauge_add(open_connections, (double)delta);
}
