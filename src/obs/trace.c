/* Span recording, sampling and the OTLP/HTTP exporter thread (see trace.h).
 *
 * The queue is a ring of span copies under one mutex: submit holds it for one memcpy, the
 * exporter for taking a batch. The exporter owns the settings it sends with (swapped by
 * gd_trace_configure under the same mutex) and a libcurl easy handle, so nothing it does
 * (DNS, connect, TLS, retries) ever runs on a loop thread. */
#include "obs/trace.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "girder/error.h"
#include "obs/export_http.h"
#include "obs/metrics.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <zlib.h>

enum { MAX_BODY = 16 << 20, BACKOFF_START_MS = 100, BACKOFF_MAX_MS = 5000 };

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int running, stopping;
    uint64_t stop_deadline_ns; /* CLOCK_MONOTONIC */
    struct gd_span *ring;      /* [cap] */
    size_t cap, head, count;
    struct gd_trace_config cfg; /* the exporter's copy (deep) */
    struct gd_counter *exported, *dropped_full, *dropped_failed, *dropped_rejected;
} T = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static atomic_int enabled;          /* an endpoint is configured */
static _Atomic uint64_t ratio_bits; /* sample ratio scaled to 2^64 - 1 */

/* ---- ids and sampling ---- */

static uint64_t next_random(void)
{
    static _Thread_local uint64_t s;
    while (!s)
        if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s)
            s = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&s;
    s ^= s << 13; /* xorshift64: ids need uniqueness, not secrecy */
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}

static void random_bytes(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = next_random();
        for (size_t k = 0; k < 8 && i + k < n; k++)
            p[i + k] = (uint8_t)(v >> (8 * k));
    }
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0)
                return -1;
            v = v << 4 | d;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* Span timestamps are CLOCK_MONOTONIC readings plus one offset to wall time taken once per
 * process, so that spans timed by different code (a request's start as the server measured
 * it, an attempt's start, a completion) nest exactly even while NTP slews the wall clock. */
static pthread_once_t offset_once = PTHREAD_ONCE_INIT;
static uint64_t unix_offset_ns;

static void take_offset(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unix_offset_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec - gd_mono_ns();
}

uint64_t gd_trace_unix_ns(uint64_t mono_ns)
{
    pthread_once(&offset_once, take_offset);
    return mono_ns + unix_offset_ns;
}

uint64_t gd_trace_unix_now_ns(void)
{
    return gd_trace_unix_ns(gd_mono_ns());
}

int gd_trace_enabled(void)
{
    return atomic_load_explicit(&enabled, memory_order_relaxed);
}

int gd_trace_decide(struct gd_trace_ctx *ctx, const char *parent_trace_hex,
                    const char *parent_span_hex, int parent_flags)
{
    if (ctx->state != GD_TRACE_UNDECIDED)
        return ctx->state == GD_TRACE_SAMPLED;
    if (!gd_trace_enabled())
        return 0;
    if (parent_trace_hex && parent_span_hex && unhex(parent_trace_hex, ctx->trace_id, 16) == 0 &&
        unhex(parent_span_hex, ctx->parent_id, 8) == 0) {
        ctx->state = parent_flags & 1 ? GD_TRACE_SAMPLED : GD_TRACE_NOT_SAMPLED;
    } else {
        memset(ctx->parent_id, 0, 8);
        random_bytes(ctx->trace_id, 16);
        /* TraceIdRatioBased: the trace id's last 8 bytes against the ratio */
        uint64_t r = 0;
        for (int i = 8; i < 16; i++)
            r = r << 8 | ctx->trace_id[i];
        uint64_t lim = atomic_load_explicit(&ratio_bits, memory_order_relaxed);
        ctx->state = lim == UINT64_MAX || r < lim ? GD_TRACE_SAMPLED : GD_TRACE_NOT_SAMPLED;
    }
    random_bytes(ctx->span_id, 8);
    return ctx->state == GD_TRACE_SAMPLED;
}

void gd_trace_new_span_id(uint8_t id[8])
{
    random_bytes(id, 8);
}

void gd_trace_begin(struct gd_span *s, const struct gd_trace_ctx *ctx)
{
    memset(s, 0, offsetof(struct gd_span, text));
    memcpy(s->trace_id, ctx->trace_id, 16);
    memcpy(s->span_id, ctx->span_id, 8);
    memcpy(s->parent_id, ctx->parent_id, 8);
    s->start_unix_ns = s->end_unix_ns = gd_trace_unix_now_ns();
}

void gd_trace_child_of(struct gd_span *c, const struct gd_trace_ctx *ctx, const uint8_t span_id[8])
{
    memset(c, 0, offsetof(struct gd_span, text));
    memcpy(c->trace_id, ctx->trace_id, 16);
    memcpy(c->parent_id, ctx->span_id, 8);
    memcpy(c->span_id, span_id, 8);
    c->kind = GD_SPAN_INTERNAL;
}

void gd_trace_format_traceparent(const struct gd_trace_ctx *ctx, const uint8_t span_id[8],
                                 char out[56])
{
    static const char hx[] = "0123456789abcdef";
    char *p = out;
    *p++ = '0', *p++ = '0', *p++ = '-';
    for (int i = 0; i < 16; i++)
        *p++ = hx[ctx->trace_id[i] >> 4], *p++ = hx[ctx->trace_id[i] & 15];
    *p++ = '-';
    for (int i = 0; i < 8; i++)
        *p++ = hx[span_id[i] >> 4], *p++ = hx[span_id[i] & 15];
    *p++ = '-', *p++ = '0';
    *p++ = ctx->state == GD_TRACE_SAMPLED ? '1' : '0';
    *p = 0;
}

void gd_trace_child(struct gd_span *c, const struct gd_span *parent)
{
    memset(c, 0, offsetof(struct gd_span, text));
    memcpy(c->trace_id, parent->trace_id, 16);
    memcpy(c->parent_id, parent->span_id, 8);
    random_bytes(c->span_id, 8);
    c->kind = GD_SPAN_INTERNAL;
}

/* ---- setters ---- */

static uint32_t put_text(struct gd_span *s, const char *p, size_t n, uint32_t *len)
{
    size_t room = GD_SPAN_TEXT_BYTES - s->text_len;
    n = n < room ? n : room;
    uint32_t off = s->text_len;
    memcpy(s->text + off, p, n);
    s->text_len += (uint32_t)n;
    *len = (uint32_t)n;
    return off;
}

void gd_span_set_name(struct gd_span *s, const char *name, size_t len)
{
    s->name_off = put_text(s, name, len, &s->name_len);
}

void gd_span_set_trace_state(struct gd_span *s, const char *state, size_t len)
{
    s->state_off = put_text(s, state, len, &s->state_len);
}

static struct gd_span_attr *new_attr(struct gd_span *s, const char *key, enum gd_span_attr_type t)
{
    if (s->n_attrs == GD_SPAN_MAX_ATTRS)
        return NULL;
    struct gd_span_attr *a = &s->attrs[s->n_attrs++];
    memset(a, 0, sizeof *a);
    a->key = key;
    a->type = t;
    return a;
}

void gd_span_attr_str(struct gd_span *s, const char *key, const char *v, size_t len)
{
    struct gd_span_attr *a = new_attr(s, key, GD_SPAN_ATTR_STR);
    if (a)
        a->off = put_text(s, v, len, &a->len);
}

void gd_span_attr_int(struct gd_span *s, const char *key, int64_t v)
{
    struct gd_span_attr *a = new_attr(s, key, GD_SPAN_ATTR_INT);
    if (a)
        a->i = v;
}

void gd_span_attr_double(struct gd_span *s, const char *key, double v)
{
    struct gd_span_attr *a = new_attr(s, key, GD_SPAN_ATTR_DOUBLE);
    if (a)
        a->d = v;
}

/* ---- the queue ---- */

void gd_trace_submit(const struct gd_span *s)
{
    pthread_mutex_lock(&T.mu);
    if (!T.running || T.count == T.cap) {
        pthread_mutex_unlock(&T.mu);
        gd_counter_inc(T.dropped_full);
        return;
    }
    struct gd_span *d = &T.ring[(T.head + T.count) % T.cap];
    memcpy(d, s, offsetof(struct gd_span, text) + s->text_len);
    if (++T.count >= T.cfg.max_batch)
        pthread_cond_signal(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

/* ---- settings ---- */

static int kv_copy(const struct gd_trace_attr_kv *src, size_t n, struct gd_trace_attr_kv **out)
{
    *out = n ? gd_calloc(n, sizeof **out) : NULL;
    if (n && !*out)
        return GD_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!((*out)[i].key = gd_strdup(src[i].key)) ||
            !((*out)[i].value = gd_strdup(src[i].value))) {
            gd_obs_kv_free(*out, n);
            *out = NULL;
            return GD_ENOMEM;
        }
    return 0;
}

static void cfg_clear(struct gd_trace_config *c)
{
    gd_free(c->endpoint);
    gd_free(c->service_name);
    gd_obs_kv_free(c->resource, c->n_resource);
    gd_obs_kv_free(c->headers, c->n_headers);
    memset(c, 0, sizeof *c);
}

static int cfg_copy(const struct gd_trace_config *src, struct gd_trace_config *dst)
{
    memset(dst, 0, sizeof *dst);
    dst->sample_ratio = src->sample_ratio;
    dst->endpoint_secret = src->endpoint_secret;
    dst->batch_delay_ms = src->batch_delay_ms;
    dst->max_batch = src->max_batch;
    dst->max_queue = src->max_queue;
    dst->export_timeout_ms = src->export_timeout_ms;
    dst->max_retries = src->max_retries;
    dst->gzip = src->gzip;
    dst->n_resource = src->n_resource;
    dst->n_headers = src->n_headers;
    if ((src->endpoint && !(dst->endpoint = gd_strdup(src->endpoint))) ||
        (src->service_name && !(dst->service_name = gd_strdup(src->service_name))) ||
        kv_copy(src->resource, src->n_resource, &dst->resource) ||
        kv_copy(src->headers, src->n_headers, &dst->headers)) {
        dst->n_resource = dst->resource ? dst->n_resource : 0;
        dst->n_headers = dst->headers ? dst->n_headers : 0;
        cfg_clear(dst);
        return GD_ENOMEM;
    }
    return 0;
}

static void publish_sampling(const struct gd_trace_config *c)
{
    double r = c->sample_ratio;
    uint64_t lim = r >= 1.0 ? UINT64_MAX : r <= 0 ? 0 : (uint64_t)(r * 18446744073709551615.0);
    atomic_store(&ratio_bits, lim);
    atomic_store(&enabled, c->endpoint != NULL);
}

/* ---- the exporter ---- */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* body gzip-coded into out (one deflate pass at the default level). 0 or GD_E*. */
static int gzip_body(const struct gd_buf *body, struct gd_buf *out)
{
    z_stream z = {0};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return GD_ENOMEM;
    int rc = gd_buf_reserve(out, deflateBound(&z, body->len));
    if (!rc) {
        z.next_in = (Bytef *)body->data;
        z.avail_in = (uInt)body->len;
        z.next_out = (Bytef *)out->data;
        z.avail_out = (uInt)(out->cap);
        rc = deflate(&z, Z_FINISH) == Z_STREAM_END ? 0 : GD_EIO;
        out->len = z.total_out;
    }
    deflateEnd(&z);
    return rc;
}

/* One POST. Returns the HTTP status, or 0 for a transport error; *retry_after in seconds
 * (-1: none). */
static long post(CURL *h, const struct gd_trace_config *c, const struct gd_buf *body,
                 long *retry_after)
{
    static const char *const fixed[] = {"Content-Type: application/x-protobuf",
                                        "Content-Encoding: gzip"};
    struct gd_obs_post p = {c->endpoint,  fixed, c->gzip ? 2 : 1,     c->headers,
                            c->n_headers, body,  c->export_timeout_ms};
    return gd_obs_post(h, &p, retry_after);
}

/* Waits until ms have passed or the exporter is told to stop (mu held). */
static void wait_ms(uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + ms % 1000 * 1000000u;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    pthread_cond_timedwait(&T.cv, &T.mu, &ts);
}

/* Sends batch (with retries); counts the outcome. Called without mu. */
static void send_batch(CURL *h, struct gd_trace_config *c, const struct gd_span *const *batch,
                       size_t n)
{
    struct gd_buf body;
    gd_buf_init(&body, MAX_BODY);
    if (!c->endpoint || gd_otlp_encode_traces(c, batch, n, &body) != 0) {
        gd_counter_add(T.dropped_failed, (uint64_t)n);
        gd_buf_free(&body);
        return;
    }
    if (c->gzip) { /* coded once for every attempt */
        struct gd_buf gz;
        gd_buf_init(&gz, MAX_BODY + MAX_BODY / 64 + 4096); /* deflateBound of a full body */
        if (gzip_body(&body, &gz)) {
            gd_counter_add(T.dropped_failed, (uint64_t)n);
            gd_buf_free(&gz);
            gd_buf_free(&body);
            return;
        }
        gd_buf_free(&body);
        body = gz;
    }
    uint64_t backoff = BACKOFF_START_MS;
    for (uint32_t attempt = 0;; attempt++) {
        long retry_after, st = post(h, c, &body, &retry_after);
        if (st >= 200 && st < 300) {
            gd_counter_add(T.exported, (uint64_t)n);
            break;
        }
        int retryable = st == 0 || st == 429 || st == 502 || st == 503 || st == 504;
        pthread_mutex_lock(&T.mu);
        int stop = T.stopping && mono_ns() >= T.stop_deadline_ns;
        if (!retryable || attempt >= c->max_retries || stop) {
            pthread_mutex_unlock(&T.mu);
            gd_counter_add(retryable ? T.dropped_failed : T.dropped_rejected, (uint64_t)n);
            gd_logf(GD_LOG_WARN, "msg=\"trace export failed, spans dropped\" status=%ld spans=%zu",
                    st, n);
            break;
        }
        uint64_t ms = retry_after >= 0 ? (uint64_t)retry_after * 1000 : backoff;
        if (T.stopping) { /* do not sleep past the drain deadline */
            uint64_t left = (T.stop_deadline_ns - mono_ns()) / 1000000u;
            ms = ms < left ? ms : left;
        }
        wait_ms(ms);
        pthread_mutex_unlock(&T.mu);
        backoff = backoff * 2 < BACKOFF_MAX_MS ? backoff * 2 : BACKOFF_MAX_MS;
    }
    gd_buf_free(&body);
}

static void *exporter_main(void *arg)
{
    (void)arg;
    CURL *h = curl_easy_init();
    struct gd_span *batch = NULL;
    const struct gd_span **ptrs = NULL;
    size_t batch_cap = 0;
    struct gd_trace_config c;
    memset(&c, 0, sizeof c);
    pthread_mutex_lock(&T.mu);
    for (;;) {
        if (!T.stopping && T.count < T.cfg.max_batch)
            wait_ms(T.cfg.batch_delay_ms);
        if (T.stopping && (!T.count || mono_ns() >= T.stop_deadline_ns))
            break;
        size_t n = T.count < T.cfg.max_batch ? T.count : T.cfg.max_batch;
        if (!n)
            continue;
        if (n > batch_cap) {
            struct gd_span *nb = gd_realloc(batch, n * sizeof *nb);
            const struct gd_span **np = nb ? gd_realloc(ptrs, n * sizeof *np) : NULL;
            batch = nb ? nb : batch;
            ptrs = np ? np : ptrs;
            if (!nb || !np) { /* out of memory: leave them queued, try later */
                wait_ms(T.cfg.batch_delay_ms);
                continue;
            }
            batch_cap = n;
        }
        for (size_t i = 0; i < n; i++) {
            const struct gd_span *s = &T.ring[(T.head + i) % T.cap];
            memcpy(&batch[i], s, offsetof(struct gd_span, text) + s->text_len);
            ptrs[i] = &batch[i];
        }
        T.head = (T.head + n) % T.cap;
        T.count -= n;
        int fresh = cfg_copy(&T.cfg, &c) == 0;
        pthread_mutex_unlock(&T.mu);
        if (fresh && h)
            send_batch(h, &c, ptrs, n);
        else
            gd_counter_add(T.dropped_failed, (uint64_t)n);
        cfg_clear(&c);
        pthread_mutex_lock(&T.mu);
    }
    gd_counter_add(T.dropped_failed, (uint64_t)T.count); /* past the deadline */
    T.count = 0;
    pthread_mutex_unlock(&T.mu);
    gd_free(batch);
    gd_free(ptrs);
    if (h)
        curl_easy_cleanup(h);
    return NULL;
}

static int metrics_init(void)
{
    struct gd_metrics *m = gd_metrics_default();
    struct gd_counter_vec *ex, *dr;
    static const char *const reason[] = {"reason"};
    if (!m)
        return GD_ENOMEM;
    int rc = gd_metrics_counter(m,
                                &(struct gd_metric_opts){"girder_otel_spans_exported_total",
                                                         "Spans the OTLP collector accepted", NULL,
                                                         0, 0},
                                &ex);
    rc = rc ? rc
            : gd_metrics_counter(m,
                                 &(struct gd_metric_opts){"girder_otel_spans_dropped_total",
                                                          "Spans not delivered: queue_full, "
                                                          "export_failed (collector unreachable "
                                                          "or overloaded after retries), rejected",
                                                          reason, 1, 0},
                                 &dr);
    if (rc)
        return rc;
    T.exported = gd_counter_vec_get(ex, NULL);
    T.dropped_full = gd_counter_vec_get(dr, (const char *[]){"queue_full"});
    T.dropped_failed = gd_counter_vec_get(dr, (const char *[]){"export_failed"});
    T.dropped_rejected = gd_counter_vec_get(dr, (const char *[]){"rejected"});
    return 0;
}

int gd_trace_start(const struct gd_trace_config *c)
{
    int rc = metrics_init();
    if (rc)
        return rc;
    pthread_mutex_lock(&T.mu);
    if (T.running) {
        pthread_mutex_unlock(&T.mu);
        return 0;
    }
    T.cap = c->max_queue ? c->max_queue : 1;
    T.ring = gd_malloc(T.cap * sizeof *T.ring);
    rc = T.ring ? cfg_copy(c, &T.cfg) : GD_ENOMEM;
    if (!rc && pthread_create(&T.thread, NULL, exporter_main, NULL) != 0)
        rc = GD_EIO;
    if (rc) {
        gd_free(T.ring);
        T.ring = NULL;
        cfg_clear(&T.cfg);
        pthread_mutex_unlock(&T.mu);
        return rc;
    }
    T.running = 1;
    T.head = T.count = 0;
    pthread_mutex_unlock(&T.mu);
    publish_sampling(c);
    if (c->endpoint)
        gd_logf(GD_LOG_INFO, "msg=\"exporting traces\" endpoint=%s sample_ratio=%g",
                c->endpoint_secret ? "(from-environment)" : c->endpoint, c->sample_ratio);
    return 0;
}

void gd_trace_configure(const struct gd_trace_config *c)
{
    struct gd_trace_config n;
    if (cfg_copy(c, &n) != 0) {
        gd_logf(GD_LOG_WARN, "msg=\"out of memory applying the tracing settings; keeping the "
                             "previous ones\"");
        return;
    }
    pthread_mutex_lock(&T.mu);
    n.max_queue = T.cfg.max_queue; /* the queue keeps its size until a restart */
    cfg_clear(&T.cfg);
    T.cfg = n;
    pthread_mutex_unlock(&T.mu);
    publish_sampling(c);
}

void gd_trace_stop(uint64_t deadline_ms)
{
    atomic_store(&enabled, 0);
    pthread_mutex_lock(&T.mu);
    if (!T.running) {
        pthread_mutex_unlock(&T.mu);
        return;
    }
    T.stopping = 1;
    T.stop_deadline_ns = mono_ns() + deadline_ms * 1000000u;
    pthread_cond_signal(&T.cv);
    pthread_mutex_unlock(&T.mu);
    pthread_join(T.thread, NULL);
    pthread_mutex_lock(&T.mu);
    T.running = T.stopping = 0;
    gd_free(T.ring);
    T.ring = NULL;
    cfg_clear(&T.cfg);
    pthread_mutex_unlock(&T.mu);
}
