/* Remote write encoding: girder's hand-written WriteRequest decoded by protobuf-c code
 * generated from prompb's schema (tests/unit/obs/prompb.proto), label order and external
 * labels, histograms, escapes, special values, skipped lines, the snappy block round trip. */
#include "core/buf.h"
#include "girder/error.h"
#include "obs/metrics.h"
#include "obs/remote_write.h"
#include "prompb.pb-c.h"

#include <criterion/criterion.h>
#include <math.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static Prometheus__WriteRequest *encode(const char *text, const struct gd_trace_attr_kv *ext,
                                        size_t n_ext, size_t *n_series, size_t *n_skipped)
{
    struct gd_buf out;
    gd_buf_init(&out, 1 << 20);
    cr_assert_eq(
        gd_rw_encode(text, strlen(text), ext, n_ext, 1700000000123, &out, n_series, n_skipped), 0);
    Prometheus__WriteRequest *w =
        prometheus__write_request__unpack(NULL, out.len, (const uint8_t *)out.data);
    cr_assert_not_null(w, "the encoding does not decode with prompb's schema");
    gd_buf_free(&out);
    return w;
}

/* "name=value,name=value" of series ts, in wire order. */
static void labels_of(const Prometheus__TimeSeries *ts, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < ts->n_labels; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s=%s", i ? "," : "", ts->labels[i]->name,
                              ts->labels[i]->value);
}

Test(remote_write, counter_with_labels_sorted_and_external)
{
    const char *text = "# HELP girder_http_requests_total Requests\n"
                       "# TYPE girder_http_requests_total counter\n"
                       "girder_http_requests_total{route=\"/v1/chat\",method=\"POST\"} 42\n"
                       "\n"
                       "up 1\n";
    struct gd_trace_attr_kv ext[] = {{"job", "girder"}, {"instance", "h:8080"}};
    size_t n, skipped;
    Prometheus__WriteRequest *w = encode(text, ext, 2, &n, &skipped);
    cr_assert_eq(n, 2);
    cr_assert_eq(skipped, 0);
    cr_assert_eq(w->n_timeseries, 2);
    char l[512];
    labels_of(w->timeseries[0], l, sizeof l);
    cr_assert_str_eq(l, "__name__=girder_http_requests_total,instance=h:8080,job=girder,"
                        "method=POST,route=/v1/chat");
    cr_assert_eq(w->timeseries[0]->n_samples, 1);
    cr_assert_eq(w->timeseries[0]->samples[0]->value, 42.0);
    cr_assert_eq(w->timeseries[0]->samples[0]->timestamp, 1700000000123);
    labels_of(w->timeseries[1], l, sizeof l);
    cr_assert_str_eq(l, "__name__=up,instance=h:8080,job=girder");
    prometheus__write_request__free_unpacked(w, NULL);
}

Test(remote_write, own_label_wins_over_external)
{
    struct gd_trace_attr_kv ext[] = {{"job", "girder"}};
    size_t n, skipped;
    Prometheus__WriteRequest *w = encode("x{job=\"other\"} 1\n", ext, 1, &n, &skipped);
    char l[256];
    labels_of(w->timeseries[0], l, sizeof l);
    cr_assert_str_eq(l, "__name__=x,job=other");
    prometheus__write_request__free_unpacked(w, NULL);
}

Test(remote_write, escapes_and_special_values)
{
    const char *text = "a{v=\"q\\\"b\\\\s\\nn\"} +Inf\n"
                       "b -Inf\n"
                       "c NaN\n"
                       "d 1e-06 1700000000000\n"
                       "e{} -2.5\n";
    size_t n, skipped;
    Prometheus__WriteRequest *w = encode(text, NULL, 0, &n, &skipped);
    cr_assert_eq(n, 5);
    cr_assert_eq(skipped, 0);
    cr_assert_str_eq(w->timeseries[0]->labels[1]->value, "q\"b\\s\nn");
    cr_assert(isinf(w->timeseries[0]->samples[0]->value) &&
              w->timeseries[0]->samples[0]->value > 0);
    cr_assert(isinf(w->timeseries[1]->samples[0]->value) &&
              w->timeseries[1]->samples[0]->value < 0);
    cr_assert(isnan(w->timeseries[2]->samples[0]->value));
    cr_assert_eq(w->timeseries[3]->samples[0]->value, 1e-06);
    cr_assert_eq(w->timeseries[3]->samples[0]->timestamp, 1700000000123); /* the snapshot's */
    cr_assert_eq(w->timeseries[4]->samples[0]->value, -2.5);
    cr_assert_eq(w->timeseries[4]->n_labels, 1);
    prometheus__write_request__free_unpacked(w, NULL);
}

Test(remote_write, bad_lines_are_skipped_and_counted)
{
    const char *text = "ok 1\n"
                       "9bad 1\n"                /* name starts with a digit */
                       "x{a=\"unterminated} 1\n" /* unterminated value */
                       "y{a=\"1\",a=\"2\"} 1\n"  /* duplicate label */
                       "z{a=\"1\"}\n"            /* no value */
                       "w{__a=\"\\q\"} 1\n"      /* bad escape */
                       "v notanumber\n"
                       "ok2 2"; /* no trailing newline */
    size_t n, skipped;
    Prometheus__WriteRequest *w = encode(text, NULL, 0, &n, &skipped);
    cr_assert_eq(n, 2);
    cr_assert_eq(skipped, 6);
    cr_assert_str_eq(w->timeseries[0]->labels[0]->value, "ok");
    cr_assert_str_eq(w->timeseries[1]->labels[0]->value, "ok2");
    cr_assert_eq(w->timeseries[1]->samples[0]->value, 2.0);
    prometheus__write_request__free_unpacked(w, NULL);
}

Test(remote_write, too_many_labels_skipped)
{
    char text[2048];
    size_t k = (size_t)snprintf(text, sizeof text, "m{");
    for (int i = 0; i < GD_RW_MAX_LABELS; i++) /* + __name__: one too many */
        k += (size_t)snprintf(text + k, sizeof text - k, "l%02d=\"v\",", i);
    snprintf(text + k, sizeof text - k, "} 1\nfine 1\n");
    size_t n, skipped;
    Prometheus__WriteRequest *w = encode(text, NULL, 0, &n, &skipped);
    cr_assert_eq(n, 1);
    cr_assert_eq(skipped, 1);
    prometheus__write_request__free_unpacked(w, NULL);
}

/* A real registry's histogram arrives as the classic _bucket{le}/_sum/_count series. */
Test(remote_write, histogram_from_registry)
{
    struct gd_metrics *m = gd_metrics_new(0);
    struct gd_histogram_vec *hv;
    static const char *const labels[] = {"route"};
    static const double b[] = {0.1, 1};
    cr_assert_eq(gd_metrics_histogram(
                     m, &(struct gd_metric_opts){"girder_d_seconds", "d", labels, 1, 0}, b, 2, &hv),
                 0);
    struct gd_histogram *h = gd_histogram_vec_get(hv, (const char *[]){"/x"});
    gd_histogram_observe(h, 0.05);
    gd_histogram_observe(h, 0.5);
    gd_histogram_observe(h, 5);
    struct gd_buf text;
    gd_buf_init(&text, 1 << 20);
    cr_assert_eq(gd_metrics_render(m, &text), 0);
    cr_assert_eq(gd_buf_putc(&text, 0), 0);
    size_t n, skipped;
    Prometheus__WriteRequest *w = encode(text.data, NULL, 0, &n, &skipped);
    cr_assert_eq(n, 5);
    cr_assert_eq(skipped, 0);
    const char *want[] = {"__name__=girder_d_seconds_bucket,le=0.1,route=/x",
                          "__name__=girder_d_seconds_bucket,le=1,route=/x",
                          "__name__=girder_d_seconds_bucket,le=+Inf,route=/x",
                          "__name__=girder_d_seconds_sum,route=/x",
                          "__name__=girder_d_seconds_count,route=/x"};
    double vals[] = {1, 2, 3, 5.55, 3};
    for (size_t i = 0; i < 5; i++) {
        char l[256];
        labels_of(w->timeseries[i], l, sizeof l);
        cr_assert_str_eq(l, want[i]);
        cr_assert_float_eq(w->timeseries[i]->samples[0]->value, vals[i], 1e-9);
    }
    prometheus__write_request__free_unpacked(w, NULL);
    gd_buf_free(&text);
    gd_metrics_free(m);
}

Test(remote_write, encode_respects_the_buffer_limit)
{
    struct gd_buf out;
    gd_buf_init(&out, 16);
    size_t n, skipped;
    const char *text = "a_rather_long_metric_name{label=\"value\"} 1\n";
    cr_assert_eq(gd_rw_encode(text, strlen(text), NULL, 0, 1, &out, &n, &skipped), GD_ELIMIT);
    gd_buf_free(&out);
}

Test(remote_write, snappy_round_trip)
{
    struct gd_buf in, z;
    gd_buf_init(&in, 1 << 22);
    gd_buf_init(&z, 1 << 23);
    for (int i = 0; i < 20000; i++)
        cr_assert_eq(gd_buf_printf(&in, "girder_series_%d{k=\"%d\"} %d\n", i % 97, i, i), 0);
    cr_assert_eq(gd_rw_snappy(&in, &z), 0);
    cr_assert_lt(z.len, in.len);
    size_t ulen;
    cr_assert_eq(snappy_uncompressed_length(z.data, z.len, &ulen), SNAPPY_OK);
    cr_assert_eq(ulen, in.len);
    char *back = malloc(ulen);
    cr_assert_eq(snappy_uncompress(z.data, z.len, back, &ulen), SNAPPY_OK);
    cr_assert_eq(memcmp(back, in.data, in.len), 0);
    free(back);
    struct gd_buf empty, ez;
    gd_buf_init(&empty, 16);
    gd_buf_init(&ez, 64); /* snappy_max_compressed_length(0) is 32 */
    cr_assert_eq(gd_rw_snappy(&empty, &ez), 0);
    cr_assert_eq(snappy_uncompressed_length(ez.data, ez.len, &ulen), SNAPPY_OK);
    cr_assert_eq(ulen, 0);
    gd_buf_free(&ez);
    gd_buf_free(&in);
    gd_buf_free(&z);
}
