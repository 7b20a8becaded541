/* Metrics registry: exact exposition text, histogram buckets, label escaping, cardinality
 * cap, registration rules, concurrency, the process collector. */
#include "core/alloc.h"
#include "girder/error.h"
#include "obs/metrics.h"

#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render(struct gd_metrics *m)
{
    struct gd_buf b;
    gd_buf_init(&b, 1 << 20);
    cr_assert_eq(gd_metrics_render(m, &b), 0);
    return b.data ? b.data : strdup("");
}

Test(metrics, exact_text_small_registry)
{
    struct gd_metrics *m = gd_metrics_new(0);
    struct gd_counter_vec *req;
    struct gd_gauge_vec *conns;
    struct gd_histogram_vec *dur;
    static const char *const labels[] = {"route", "status"};
    cr_assert_eq(gd_metrics_counter(m,
                                     &(struct gd_metric_opts){"girder_http_requests_total",
                                                              "HTTP requests.", labels, 2, 0},
                                     &req),
                 0);
    cr_assert_eq(gd_metrics_gauge(m,
                                   &(struct gd_metric_opts){"girder_http_open_connections",
                                                            "Open connections.", NULL, 0, 0},
                                   &conns),
                 0);
    static const double buckets[] = {0.1, 1};
    static const char *const rl[] = {"route"};
    cr_assert_eq(gd_metrics_histogram(m,
                                       &(struct gd_metric_opts){"girder_d_seconds", "Dur.", rl,
                                                                1, 0},
                                       buckets, 2, &dur),
                 0);
    struct gd_counter *ok = gd_counter_vec_get(req, (const char *[]){"/healthz", "200"});
    gd_counter_inc(ok);
    gd_counter_add(ok, 2);
    gd_counter_inc(gd_counter_vec_get(req, (const char *[]){"/x", "404"}));
    cr_assert_eq(gd_counter_vec_get(req, (const char *[]){"/healthz", "200"}), ok);
    struct gd_gauge *g = gd_gauge_vec_get(conns, NULL);
    gd_gauge_add(g, 3);
    gd_gauge_add(g, -1);
    struct gd_histogram *h = gd_histogram_vec_get(dur, (const char *[]){"/healthz"});
    gd_histogram_observe(h, 0.05);
    gd_histogram_observe(h, 0.1); /* le is inclusive */
    gd_histogram_observe(h, 0.5);
    gd_histogram_observe(h, 7);
    char *text = render(m);
    cr_assert_str_eq(text, "# HELP girder_http_requests_total HTTP requests.\n"
                           "# TYPE girder_http_requests_total counter\n"
                           "girder_http_requests_total{route=\"/healthz\",status=\"200\"} 3\n"
                           "girder_http_requests_total{route=\"/x\",status=\"404\"} 1\n"
                           "# HELP girder_http_open_connections Open connections.\n"
                           "# TYPE girder_http_open_connections gauge\n"
                           "girder_http_open_connections 2\n"
                           "# HELP girder_d_seconds Dur.\n"
                           "# TYPE girder_d_seconds histogram\n"
                           "girder_d_seconds_bucket{route=\"/healthz\",le=\"0.1\"} 2\n"
                           "girder_d_seconds_bucket{route=\"/healthz\",le=\"1\"} 3\n"
                           "girder_d_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 4\n"
                           "girder_d_seconds_sum{route=\"/healthz\"} 7.65\n"
                           "girder_d_seconds_count{route=\"/healthz\"} 4\n");
    free(text);
    uint64_t n;
    double sum;
    gd_histogram_value(h, &n, &sum);
    cr_assert_eq(n, 4);
    cr_assert_float_eq(sum, 7.65, 1e-12);
    gd_metrics_free(m);
}

Test(metrics, label_and_help_escaping)
{
    struct gd_metrics *m = gd_metrics_new(0);
    struct gd_counter_vec *v;
    static const char *const l[] = {"path"};
    cr_assert_eq(gd_metrics_counter(m,
                                     &(struct gd_metric_opts){"t_total", "a\\b\nc \"q\"", l, 1, 0},
                                     &v),
                 0);
    gd_counter_inc(gd_counter_vec_get(v, (const char *[]){"a\"b\\c\nd"}));
    char *text = render(m);
    cr_assert_str_eq(text, "# HELP t_total a\\\\b\\nc \"q\"\n"
                           "# TYPE t_total counter\n"
                           "t_total{path=\"a\\\"b\\\\c\\nd\"} 1\n");
    free(text);
    gd_metrics_free(m);
}

Test(metrics, float_formatting)
{
    struct gd_buf b;
    gd_buf_init(&b, 4096);
    double vals[] = {0, 0.005, 1e-06, 2.5, 120, 1e21, 0.1 + 0.2, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        gd_metrics_put_double(&b, vals[i]);
        gd_buf_putc(&b, ' ');
    }
    cr_assert_str_eq(b.data, "0 0.005 1e-06 2.5 120 1e+21 0.30000000000000004 NaN +Inf -Inf ");
    gd_buf_free(&b);
}

Test(metrics, cardinality_cap)
{
    struct gd_metrics *m = gd_metrics_new(0);
    struct gd_counter_vec *v;
    static const char *const l[] = {"user"};
    cr_assert_eq(gd_metrics_counter(m, &(struct gd_metric_opts){"c_total", "h", l, 1, 3}, &v), 0);
    char name[16];
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "u%d", i);
        struct gd_counter *c = gd_counter_vec_get(v, (const char *[]){name});
        if (i < 3)
            cr_assert_not_null(c);
        else
            cr_assert_null(c);
        gd_counter_inc(c); /* NULL is a no-op */
    }
    /* existing series still resolve past the cap */
    cr_assert_not_null(gd_counter_vec_get(v, (const char *[]){"u1"}));
    char *text = render(m);
    cr_assert_not_null(strstr(text, "c_total{user=\"u2\"} 1\n"));
    cr_assert_null(strstr(text, "u3"));
    cr_assert_not_null(strstr(text, "girder_metrics_series_dropped_total 7\n"), "%s", text);
    free(text);
    gd_metrics_free(m);
}

Test(metrics, many_series_rehash)
{
    struct gd_metrics *m = gd_metrics_new(0);
    struct gd_counter_vec *v;
    static const char *const l[] = {"a", "b"};
    cr_assert_eq(gd_metrics_counter(m, &(struct gd_metric_opts){"c_total", "h", l, 2, 5000}, &v),
                 0);
    char x[16], y[16];
    struct gd_counter *first[1000];
    for (int i = 0; i < 1000; i++) {
        snprintf(x, sizeof x, "%d", i);
        snprintf(y, sizeof y, "%d", i * 7);
        first[i] = gd_counter_vec_get(v, (const char *[]){x, y});
        cr_assert_not_null(first[i]);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(x, sizeof x, "%d", i);
        snprintf(y, sizeof y, "%d", i * 7);
        cr_assert_eq(gd_counter_vec_get(v, (const char *[]){x, y}), first[i]);
    }
    /* ("1","23") and ("12","3") are different series */
    cr_assert_neq(gd_counter_vec_get(v, (const char *[]){"1", "23"}),
                  gd_counter_vec_get(v, (const char *[]){"12", "3"}));
    gd_metrics_free(m);
}

Test(metrics, registration_rules)
{
    struct gd_metrics *m = gd_metrics_new(0);
    struct gd_counter_vec *a, *b;
    struct gd_gauge_vec *g;
    struct gd_histogram_vec *h;
    static const char *const l[] = {"x"}, *const l2[] = {"y"}, *const le[] = {"le"};
    static const char *const dup[] = {"x", "x"}, *const bad[] = {"__x"};
    cr_assert_eq(gd_metrics_counter(m, &(struct gd_metric_opts){"a_total", "h", l, 1, 0}, &a), 0);
    cr_assert_eq(gd_metrics_counter(m, &(struct gd_metric_opts){"a_total", "other", l, 1, 0}, &b),
                 0);
    cr_assert_eq(a, b);
    cr_assert_eq(gd_metrics_counter(m, &(struct gd_metric_opts){"a_total", "h", l2, 1, 0}, &b),
                 GD_EEXIST);
    cr_assert_eq(gd_metrics_gauge(m, &(struct gd_metric_opts){"a_total", "h", l, 1, 0}, &g),
                 GD_EEXIST);
    cr_assert_eq(gd_metrics_gauge(m, &(struct gd_metric_opts){"9bad", "h", NULL, 0, 0}, &g),
                 GD_EINVAL);
    cr_assert_eq(gd_metrics_gauge(m, &(struct gd_metric_opts){"ok", "h", dup, 2, 0}, &g),
                 GD_EINVAL);
    cr_assert_eq(gd_metrics_gauge(m, &(struct gd_metric_opts){"ok", "h", bad, 1, 0}, &g),
                 GD_EINVAL);
    static const double b1[] = {1, 2}, b_bad[] = {2, 1};
    cr_assert_eq(gd_metrics_histogram(m, &(struct gd_metric_opts){"h1", "h", le, 1, 0}, b1, 2, &h),
                 GD_EINVAL);
    cr_assert_eq(gd_metrics_histogram(m, &(struct gd_metric_opts){"h1", "h", l, 1, 0}, b_bad, 2,
                                      &h),
                 GD_EINVAL);
    cr_assert_eq(gd_metrics_histogram(m, &(struct gd_metric_opts){"h1", "h", l, 1, 0}, b1, 0, &h),
                 GD_EINVAL);
    cr_assert_eq(gd_metrics_histogram(m, &(struct gd_metric_opts){"h1", "h", l, 1, 0},
                                      gd_metrics_latency_buckets, gd_metrics_latency_buckets_n,
                                      &h),
                 0);
    gd_metrics_free(m);
}

struct hammer {
    struct gd_counter_vec *cv;
    struct gd_histogram_vec *hv;
    struct gd_gauge_vec *gv;
    int id;
};

static void *hammer_thread(void *p)
{
    struct hammer *a = p;
    char lbl[8];
    snprintf(lbl, sizeof lbl, "%d", a->id % 2);
    struct gd_counter *c = gd_counter_vec_get(a->cv, (const char *[]){"shared"});
    struct gd_histogram *h = gd_histogram_vec_get(a->hv, NULL);
    struct gd_gauge *g = gd_gauge_vec_get(a->gv, NULL);
    for (int i = 0; i < 100000; i++) {
        gd_counter_inc(c);
        gd_histogram_observe(h, 0.5);
        gd_gauge_add(g, 1);
        if (i % 1000 == 0) /* lookups race with each other too */
            gd_counter_inc(gd_counter_vec_get(a->cv, (const char *[]){lbl}));
    }
    return NULL;
}

Test(metrics, concurrent_updates_are_exact)
{
    struct gd_metrics *m = gd_metrics_new(0);
    struct hammer a[4];
    static const char *const l[] = {"k"};
    static const double b[] = {1};
    cr_assert_eq(gd_metrics_counter(m, &(struct gd_metric_opts){"c_total", "h", l, 1, 0}, &a[0].cv),
                 0);
    cr_assert_eq(gd_metrics_histogram(m, &(struct gd_metric_opts){"h_seconds", "h", NULL, 0, 0}, b,
                                      1, &a[0].hv),
                 0);
    cr_assert_eq(gd_metrics_gauge(m, &(struct gd_metric_opts){"g", "h", NULL, 0, 0}, &a[0].gv), 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        a[i] = a[0];
        a[i].id = i;
        pthread_create(&t[i], NULL, hammer_thread, &a[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(gd_counter_value(gd_counter_vec_get(a[0].cv, (const char *[]){"shared"})), 400000);
    cr_assert_eq(gd_counter_value(gd_counter_vec_get(a[0].cv, (const char *[]){"0"})), 200);
    uint64_t n;
    double sum;
    gd_histogram_value(gd_histogram_vec_get(a[0].hv, NULL), &n, &sum);
    cr_assert_eq(n, 400000);
    cr_assert_float_eq(sum, 200000.0, 1e-6);
    cr_assert_float_eq(gd_gauge_value(gd_gauge_vec_get(a[0].gv, NULL)), 400000.0, 1e-6);
    gd_metrics_free(m);
}

static int my_collector(void *ud, struct gd_buf *out)
{
    return gd_buf_printf(out, "# TYPE x gauge\nx %d\n", *(int *)ud);
}

Test(metrics, process_collector_and_custom_collectors)
{
    struct gd_metrics *m = gd_metrics_new(GD_METRICS_WITH_PROCESS);
    int v = 42;
    cr_assert_eq(gd_metrics_add_collector(m, my_collector, &v), 0);
    char *text = render(m);
    const char *want[] = {"\nx 42\n",
                          "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ",
                          ("# TYPE process_resident_memory_bytes gauge\n"
                           "process_resident_memory_bytes "),
                          "\nprocess_virtual_memory_bytes ",
                          "\nprocess_start_time_seconds ",
                          "\nprocess_open_fds ",
                          "\nprocess_max_fds ",
                          "\ngirder_build_info{version=\"",
                          "\ngirder_metrics_series_dropped_total 0\n"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_not_null(strstr(text, want[i]), "missing %s in\n%s", want[i], text);
    double rss = strtod(strstr(text, "\nprocess_resident_memory_bytes ") + 31, NULL);
    cr_assert_gt(rss, 100000.0);
    cr_assert_lt(rss, 4e9);
    double start = strtod(strstr(text, "\nprocess_start_time_seconds ") + 28, NULL);
    cr_assert_gt(start, 1.6e9); /* after 2020 */
    free(text);
    gd_metrics_free(m);
    cr_assert_not_null(gd_metrics_default());
    cr_assert_eq(gd_metrics_default(), gd_metrics_default());
}

Test(metrics, allocation_failures_are_clean)
{
    /* Fail each allocation in turn: calls report errors or NULL children, never crash (and
     * ASan sees no leak). */
    static const char *const l[] = {"a"};
    static const double b[] = {1, 2};
    for (uint64_t n = 1; n < 80; n++) {
        gd_alloc_fail_after(n);
        struct gd_metrics *m = gd_metrics_new(0);
        struct gd_counter_vec *cv = NULL;
        struct gd_histogram_vec *hv = NULL;
        if (m) {
            gd_metrics_counter(m, &(struct gd_metric_opts){"c_total", "h", l, 1, 0}, &cv);
            gd_metrics_histogram(m, &(struct gd_metric_opts){"h_seconds", "h", l, 1, 0}, b, 2,
                                 &hv);
            for (int i = 0; i < 20; i++) {
                char v[8];
                snprintf(v, sizeof v, "%d", i);
                gd_counter_inc(gd_counter_vec_get(cv, (const char *[]){v}));
                gd_histogram_observe(gd_histogram_vec_get(hv, (const char *[]){v}), 1.5);
            }
            struct gd_buf out;
            gd_buf_init(&out, 1 << 20);
            int rc = gd_metrics_render(m, &out);
            cr_assert(rc == 0 || rc == GD_ENOMEM);
            gd_buf_free(&out);
        }
        gd_alloc_fail_after(0);
        gd_metrics_free(m);
    }
}
