/* Prints the exposition text of a registry with every feature (labels needing escapes,
 * histograms, special floats, process metrics) for test_exposition.py, which checks it with
 * the reference parser (python3-prometheus-client). */
#include "obs/metrics.h"

#include <math.h>
#include <stdio.h>

int main(void)
{
    struct gd_metrics *m = gd_metrics_new(GD_METRICS_WITH_PROCESS);
    static const char *const rl[] = {"route", "method", "status"}, *const r[] = {"route"};
    struct gd_counter_vec *req;
    struct gd_histogram_vec *dur;
    struct gd_gauge_vec *g, *special;
    if (!m ||
        gd_metrics_counter(m, &(struct gd_metric_opts){"girder_http_requests_total",
                                                       "HTTP requests \\ answered\nby route.", rl,
                                                       3, 0},
                           &req) ||
        gd_metrics_histogram(m, &(struct gd_metric_opts){"girder_http_request_duration_seconds",
                                                         "Request duration.", r, 1, 0},
                             gd_metrics_latency_buckets, gd_metrics_latency_buckets_n, &dur) ||
        gd_metrics_gauge(m, &(struct gd_metric_opts){"girder_http_open_connections", "Open.",
                                                     NULL, 0, 0},
                         &g) ||
        gd_metrics_gauge(m, &(struct gd_metric_opts){"girder_test_special", "Specials.", r, 1, 0},
                         &special))
        return 1;
    gd_counter_add(gd_counter_vec_get(req, (const char *[]){"/healthz", "GET", "200"}), 41);
    gd_counter_inc(gd_counter_vec_get(req, (const char *[]){"/a\"b\\c\nd", "POST", "404"}));
    struct gd_histogram *h = gd_histogram_vec_get(dur, (const char *[]){"/healthz"});
    for (int i = 0; i < 1000; i++)
        gd_histogram_observe(h, i * 0.0005);
    gd_gauge_set(gd_gauge_vec_get(g, NULL), 7);
    gd_gauge_set(gd_gauge_vec_get(special, (const char *[]){"nan"}), NAN);
    gd_gauge_set(gd_gauge_vec_get(special, (const char *[]){"inf"}), INFINITY);
    gd_gauge_set(gd_gauge_vec_get(special, (const char *[]){"tiny"}), 1e-9);
    gd_gauge_set(gd_gauge_vec_get(special, (const char *[]){"utf8 \xc3\xa9"}), -2.5);
    struct gd_buf b;
    gd_buf_init(&b, 1 << 20);
    int rc = gd_metrics_render(m, &b);
    if (rc == 0)
        fwrite(b.data, 1, b.len, stdout);
    gd_buf_free(&b);
    gd_metrics_free(m);
    return rc ? 1 : 0;
}
