/* The remote-write thread (see remote_write.h).
 *
 * State lives in one static struct under one mutex: the thread holds it except while it
 * renders, encodes or POSTs. The queue is a ring of compressed WriteRequest bodies; each
 * entry remembers its sample count so outcomes are counted in samples. */
#include "obs/remote_write.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "girder/error.h"
#include "obs/export_http.h"
#include "obs/metrics.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum {
    MAX_BODY = 64 << 20,
    BACKOFF_START_MS = 100,
    BACKOFF_MAX_MS = 5000,
};

struct batch {
    struct gd_buf body; /* snappy-compressed WriteRequest */
    size_t samples;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int running, stopping;
    uint64_t stop_deadline_ns;
    struct batch *ring; /* [cap] */
    size_t cap, head, count;
    struct settings *set;     /* in use by the thread */
    struct settings *pending; /* from a reload, taken by the thread at its next turn */
    struct gd_counter *sent, *dropped, *rejected, *failures, *skipped;
    struct gd_gauge *queued;
} R = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* ---- settings ---- */

/* What the thread uses of the config. Only the thread reads it outside mu, and only the
 * thread replaces it (by R.pending, which gd_rw_configure fills), so a reload never frees
 * settings that a snapshot or POST in flight still reads. */
struct settings {
    char *url;
    int url_secret;
    uint32_t interval_ms, timeout_ms;
    struct gd_trace_attr_kv *headers; /* extra HTTP headers (secrets: never logged) */
    size_t n_headers;
    struct gd_trace_attr_kv *labels; /* external labels: configured + job/instance defaults */
    size_t n_labels;
};

static int has_label(const struct gd_trace_attr_kv *kv, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kv[i].key, k))
            return 1;
    return 0;
}

static void settings_free(struct settings *s)
{
    if (!s)
        return;
    gd_obs_kv_free(s->headers, s->n_headers);
    gd_obs_kv_free(s->labels, s->n_labels);
    gd_free(s->url);
    gd_free(s);
}

/* c's settings with the job/instance defaults added; NULL when out of memory. */
static struct settings *settings_new(const struct gd_rw_config *c, const char *instance)
{
    struct settings *s = gd_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->url_secret = c->url_secret;
    s->interval_ms = c->interval_ms;
    s->timeout_ms = c->timeout_ms;
    int rc = (s->url = gd_strdup(c->url)) ? 0 : GD_ENOMEM;
    for (size_t i = 0; !rc && i < c->n_headers; i++)
        rc =
            gd_obs_kv_push(&s->headers, &s->n_headers, c->headers[i].key, strlen(c->headers[i].key),
                           c->headers[i].value, strlen(c->headers[i].value));
    for (size_t i = 0; !rc && i < c->n_labels; i++)
        rc = gd_obs_kv_push(&s->labels, &s->n_labels, c->labels[i].key, strlen(c->labels[i].key),
                            c->labels[i].value, strlen(c->labels[i].value));
    if (!rc && !has_label(c->labels, c->n_labels, "job"))
        rc = gd_obs_kv_push(&s->labels, &s->n_labels, "job", strlen("job"), "girder",
                            strlen("girder"));
    if (!rc && !has_label(c->labels, c->n_labels, "instance"))
        rc = gd_obs_kv_push(&s->labels, &s->n_labels, "instance", strlen("instance"),
                            instance ? instance : "girder", strlen(instance ? instance : "girder"));
    if (rc) {
        settings_free(s);
        return NULL;
    }
    return s;
}

/* ---- HTTP ---- */

/* One POST of body. The HTTP status, or 0 for a transport error; *retry_after in seconds
 * (-1: none). Header values (credentials) never reach a log line. */
static long post(CURL *h, const struct settings *c, const struct gd_buf *body, uint32_t timeout_ms,
                 long *retry_after)
{
    static const char *const fixed[] = {"Content-Type: application/x-protobuf",
                                        "Content-Encoding: snappy",
                                        "X-Prometheus-Remote-Write-Version: 0.1.0"};
    struct gd_obs_post p = {
        c->url, fixed, sizeof fixed / sizeof fixed[0], c->headers, c->n_headers, body, timeout_ms};
    return gd_obs_post(h, &p, retry_after);
}

/* ---- the queue (mu held) ---- */

static void pop_head(struct gd_counter *outcome)
{
    struct batch *b = &R.ring[R.head];
    gd_counter_add(outcome, (uint64_t)b->samples);
    gd_buf_free(&b->body);
    R.head = (R.head + 1) % R.cap;
    R.count--;
    gd_gauge_set(R.queued, (double)R.count);
}

static void push(struct gd_buf *body, size_t samples)
{
    if (R.count == R.cap) /* the receiver is behind: keep the newest data */
        pop_head(R.dropped);
    struct batch *b = &R.ring[(R.head + R.count) % R.cap];
    b->body = *body;
    b->samples = samples;
    R.count++;
    gd_gauge_set(R.queued, (double)R.count);
}

/* A snapshot of the default registry into the queue. Called with mu held; drops it while
 * rendering and encoding. */
static void snapshot(void)
{
    struct gd_metrics *m = gd_metrics_default();
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t ts_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    pthread_mutex_unlock(&R.mu);
    struct gd_buf text, pb, body;
    gd_buf_init(&text, MAX_BODY);
    gd_buf_init(&pb, MAX_BODY);
    gd_buf_init(&body, MAX_BODY + MAX_BODY / 6 + 64);
    size_t n = 0, skipped = 0;
    int rc = m ? gd_metrics_render(m, &text) : GD_ENOMEM;
    rc = rc ? rc
            : gd_rw_encode(text.data, text.len, R.set->labels, R.set->n_labels, ts_ms, &pb, &n,
                           &skipped);
    rc = rc ? rc : gd_rw_snappy(&pb, &body);
    gd_counter_add(R.skipped, (uint64_t)skipped);
    gd_buf_free(&text);
    gd_buf_free(&pb);
    if (rc) {
        gd_logf(GD_LOG_WARN, "msg=\"cannot encode the metrics for remote write\" error=\"%s\"",
                gd_strerror(rc));
        gd_buf_free(&body);
    }
    pthread_mutex_lock(&R.mu);
    if (!rc)
        push(&body, n);
}

static uint64_t ms_until(uint64_t deadline_ns)
{
    uint64_t now = gd_mono_ns();
    return deadline_ns > now ? (deadline_ns - now + 999999) / 1000000 : 0;
}

/* Waits until deadline_ns (CLOCK_MONOTONIC) or a signal (mu held). */
static void wait_until(uint64_t deadline_ns)
{
    uint64_t ms = ms_until(deadline_ns);
    if (!ms)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + ms % 1000 * 1000000u;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    pthread_cond_timedwait(&R.cv, &R.mu, &ts);
}

static void *rw_main(void *arg)
{
    (void)arg;
    CURL *h = curl_easy_init();
    pthread_mutex_lock(&R.mu);
    uint64_t interval_ns = (uint64_t)R.set->interval_ms * 1000000u;
    uint64_t next_tick = gd_mono_ns() + interval_ns, retry_at = 0, backoff = BACKOFF_START_MS;
    int final_done = 0, warned = 0;
    for (;;) {
        uint64_t now = gd_mono_ns();
        if (R.pending) { /* a reload: new URL, headers, labels or interval from now on */
            settings_free(R.set);
            R.set = R.pending;
            R.pending = NULL;
            interval_ns = (uint64_t)R.set->interval_ms * 1000000u;
            next_tick = now + interval_ns;
            retry_at = 0;
            backoff = BACKOFF_START_MS;
        }
        if (R.stopping && !final_done) { /* the last batch: what was served until now */
            snapshot();
            final_done = 1;
            retry_at = 0;
        } else if (!R.stopping && now >= next_tick) {
            snapshot();
            next_tick += interval_ns;
            next_tick = next_tick > now ? next_tick : now + interval_ns;
        }
        if (R.stopping && (!R.count || gd_mono_ns() >= R.stop_deadline_ns))
            break;
        if (!R.count || gd_mono_ns() < retry_at || !h) {
            uint64_t until = R.stopping ? R.stop_deadline_ns : next_tick;
            if (R.count && retry_at < until && h)
                until = retry_at;
            wait_until(until);
            continue;
        }
        /* send the oldest batch; the ring slot stays ours (only this thread pops) */
        struct gd_buf body = R.ring[R.head].body;
        uint32_t timeout = R.set->timeout_ms;
        if (R.stopping) {
            uint64_t left = ms_until(R.stop_deadline_ns);
            timeout = left < timeout ? (uint32_t)(left ? left : 1) : timeout;
        }
        pthread_mutex_unlock(&R.mu);
        long retry_after, st = post(h, R.set, &body, timeout, &retry_after);
        pthread_mutex_lock(&R.mu);
        if (st >= 200 && st < 300) {
            pop_head(R.sent);
            backoff = BACKOFF_START_MS;
            retry_at = 0;
            if (warned)
                gd_logf(GD_LOG_INFO, "msg=\"remote write receiver reachable again\"");
            warned = 0;
        } else if (st >= 400 && st < 500 && st != 429) {
            gd_logf(GD_LOG_WARN, "msg=\"remote write rejected, batch dropped\" status=%ld", st);
            pop_head(R.rejected);
        } else {
            gd_counter_inc(R.failures);
            if (!warned)
                gd_logf(GD_LOG_WARN,
                        "msg=\"remote write failed, retrying with backoff\" status=%ld", st);
            warned = 1;
            uint64_t ms = retry_after >= 0 ? (uint64_t)retry_after * 1000 : backoff;
            retry_at = gd_mono_ns() + ms * 1000000u;
            backoff = backoff * 2 < BACKOFF_MAX_MS ? backoff * 2 : BACKOFF_MAX_MS;
        }
    }
    while (R.count) /* past the drain deadline */
        pop_head(R.dropped);
    pthread_mutex_unlock(&R.mu);
    if (h)
        curl_easy_cleanup(h);
    return NULL;
}

/* ---- lifecycle ---- */

static int metrics_init(void)
{
    struct gd_metrics *m = gd_metrics_default();
    struct gd_counter_vec *samples, *fail, *skip;
    struct gd_gauge_vec *q;
    static const char *const result[] = {"result"};
    if (!m)
        return GD_ENOMEM;
    int rc = gd_metrics_counter(
        m,
        &(struct gd_metric_opts){"girder_remote_write_samples_total",
                                 "Remote-write samples by outcome: sent (2xx), dropped (queue "
                                 "full during an outage, or unsent at shutdown), rejected (4xx)",
                                 result, 1, 0},
        &samples);
    rc = rc ? rc
            : gd_metrics_counter(m,
                                 &(struct gd_metric_opts){"girder_remote_write_failures_total",
                                                          "Remote-write requests that failed "
                                                          "and will be retried (429, 5xx, "
                                                          "unreachable)",
                                                          NULL, 0, 0},
                                 &fail);
    rc = rc ? rc
            : gd_metrics_counter(m,
                                 &(struct gd_metric_opts){"girder_remote_write_lines_skipped_"
                                                          "total",
                                                          "Exposition lines remote write could "
                                                          "not turn into a series",
                                                          NULL, 0, 0},
                                 &skip);
    rc = rc ? rc
            : gd_metrics_gauge(m,
                               &(struct gd_metric_opts){"girder_remote_write_queue_batches",
                                                        "Remote-write batches waiting to be sent",
                                                        NULL, 0, 0},
                               &q);
    if (rc)
        return rc;
    R.sent = gd_counter_vec_get(samples, (const char *[]){"sent"});
    R.dropped = gd_counter_vec_get(samples, (const char *[]){"dropped"});
    R.rejected = gd_counter_vec_get(samples, (const char *[]){"rejected"});
    R.failures = gd_counter_vec_get(fail, NULL);
    R.skipped = gd_counter_vec_get(skip, NULL);
    R.queued = gd_gauge_vec_get(q, NULL);
    return 0;
}

static void log_target(const char *what, const struct gd_rw_config *c)
{
    gd_logf(GD_LOG_INFO, "msg=\"%s\" url=%s interval_ms=%u queue=%zu", what,
            c->url_secret ? "(from-environment)" : c->url, c->interval_ms, R.cap);
}

int gd_rw_start(const struct gd_rw_config *c, const char *instance)
{
    if (!c || !c->url)
        return 0;
    int rc = metrics_init();
    if (rc)
        return rc;
    pthread_mutex_lock(&R.mu);
    if (R.running) {
        pthread_mutex_unlock(&R.mu);
        return 0;
    }
    R.cap = c->queue ? c->queue : 1;
    R.head = R.count = 0;
    R.ring = gd_calloc(R.cap, sizeof *R.ring);
    R.set = R.ring ? settings_new(c, instance) : NULL;
    rc = R.set ? 0 : GD_ENOMEM;
    if (!rc && pthread_create(&R.thread, NULL, rw_main, NULL) != 0)
        rc = GD_EIO;
    if (rc) {
        settings_free(R.set);
        R.set = NULL;
        gd_free(R.ring);
        R.ring = NULL;
        pthread_mutex_unlock(&R.mu);
        return rc;
    }
    R.running = 1;
    pthread_mutex_unlock(&R.mu);
    log_target("remote-writing metrics", c);
    return 0;
}

void gd_rw_stop(uint64_t deadline_ms)
{
    pthread_mutex_lock(&R.mu);
    if (!R.running) {
        pthread_mutex_unlock(&R.mu);
        return;
    }
    R.stopping = 1;
    R.stop_deadline_ns = gd_mono_ns() + deadline_ms * 1000000u;
    pthread_cond_signal(&R.cv);
    pthread_mutex_unlock(&R.mu);
    pthread_join(R.thread, NULL);
    pthread_mutex_lock(&R.mu);
    R.running = R.stopping = 0;
    gd_free(R.ring);
    R.ring = NULL;
    settings_free(R.set);
    settings_free(R.pending);
    R.set = R.pending = NULL;
    pthread_mutex_unlock(&R.mu);
}

int gd_rw_configure(const struct gd_rw_config *c, const char *instance, uint64_t off_deadline_ms)
{
    pthread_mutex_lock(&R.mu);
    int running = R.running;
    pthread_mutex_unlock(&R.mu);
    if (!running)
        return gd_rw_start(c, instance);
    if (!c || !c->url) {
        gd_rw_stop(off_deadline_ms);
        gd_logf(GD_LOG_INFO, "msg=\"metrics remote write turned off\"");
        return 0;
    }
    struct settings *s = settings_new(c, instance);
    if (!s)
        return GD_ENOMEM;
    pthread_mutex_lock(&R.mu);
    settings_free(R.pending);
    R.pending = s;
    pthread_cond_signal(&R.cv);
    pthread_mutex_unlock(&R.mu);
    log_target("remote write settings reloaded", c);
    return 0;
}
