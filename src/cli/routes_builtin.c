/* Built-in routes of `girder serve`: liveness, readiness, Prometheus metrics, and the
 * test/debug routes enabled only by `debug_routes: true`:
 *   GET  /debug/sleep?ms=N       answers {"slept_ms":N} after N ms (async, timer-driven)
 *   GET  /debug/stream?chunks=N&size=B[&interval_ms=I]
 *                                streams N chunks of B bytes through the backpressure API,
 *                                pausing on GD_EAGAIN until drained; the last line reports
 *                                how often it paused
 *   POST /debug/echo             echoes the (de-chunked) request body
 * They exist so integration tests can hold requests in flight (graceful drain), exercise
 * slow readers and check body decoding; never enable them in production. */
#include "cli/serve.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/json_write.h"
#include "core/log.h"
#include "girder/error.h"
#include "obs/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void healthz(struct gd_http_exchange *x, void *ud)
{
    (void)ud;
    static const char body[] = "{\"status\":\"ok\"}\n";
    gd_http_respond(x, 200, "application/json", body, sizeof body - 1);
}

/* The process's own readiness, the first of the router's checks (routes of other
 * modules, e.g. /v2/health/ready, see it too). */
static int serve_ready(void *ud, char *why, size_t whylen)
{
    (void)ud;
    const char *state = atomic_load(&gd_serve.draining) ? "draining"
                        : !atomic_load(&gd_serve.ready) ? "starting"
                                                        : NULL;
    if (state)
        snprintf(why, whylen, "%s", state);
    return state == NULL;
}

/* 200 {"status":"ready"}, else 503 with the state (draining, starting) or, when a module
 * is not ready, {"status":"not ready","reason":..}. */
static void readyz(struct gd_http_exchange *x, void *ud)
{
    (void)ud;
    char why[400] = "";
    struct gd_buf b;
    gd_buf_init(&b, 4096);
    int ready = gd_http_router_ready(gd_http_exchange_router(x), why, sizeof why);
    int rc = gd_buf_puts(&b, "{\"status\":");
    if (ready || !strcmp(why, "draining") || !strcmp(why, "starting")) {
        rc = rc ? rc : gd_json_put_str(&b, ready ? "ready" : why, strlen(ready ? "ready" : why));
    } else {
        rc = rc ? rc : gd_buf_puts(&b, "\"not ready\",\"reason\":");
        rc = rc ? rc : gd_json_put_str(&b, why, strlen(why));
    }
    rc = rc ? rc : gd_buf_puts(&b, "}\n");
    if (rc)
        gd_http_respond_json_error(x, 500, "server_error", NULL, "out of memory");
    else
        gd_http_respond(x, ready ? 200 : 503, "application/json", b.data, b.len);
    gd_buf_free(&b);
}

static void metrics(struct gd_http_exchange *x, void *ud)
{
    (void)ud;
    struct gd_buf b;
    gd_buf_init(&b, (size_t)64 << 20);
    if (gd_metrics_render(gd_serve.metrics, &b) != 0) {
        gd_buf_free(&b);
        gd_http_respond_json_error(x, 500, "server_error", NULL, "cannot render metrics");
        return;
    }
    gd_http_respond(x, 200, GD_METRICS_CONTENT_TYPE, b.data, b.len);
    gd_buf_free(&b);
}

/* GET /status: a page for people (status.html), a live view of the metrics and readiness
 * rendered in the browser; the metrics path is filled in here. */
extern const char gd__status_html[];
extern const unsigned long gd__status_html_len;

static void status_page(struct gd_http_exchange *x, void *ud)
{
    const char *path = ud, *p = gd__status_html, *end = p + gd__status_html_len;
    static const char mark[] = "__METRICS_PATH__";
    struct gd_buf b;
    gd_buf_init(&b, (size_t)1 << 20);
    int rc = 0;
    for (const char *m; !rc && (m = memmem(p, (size_t)(end - p), mark, sizeof mark - 1));
         p = m + sizeof mark - 1) {
        rc = gd_buf_append(&b, p, (size_t)(m - p));
        for (const char *q = path; !rc && *q; q++) /* safe in HTML and JS strings */
            rc = strchr("\"'<>&\\%", *q) || (unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f
                     ? gd_buf_printf(&b, "%%%02X", (unsigned char)*q)
                     : gd_buf_putc(&b, *q);
    }
    rc = rc ? rc : gd_buf_append(&b, p, (size_t)(end - p));
    if (rc)
        gd_http_respond_json_error(x, 500, "server_error", NULL, "out of memory");
    else
        gd_http_respond(x, 200, "text/html; charset=utf-8", b.data, b.len);
    gd_buf_free(&b);
}

/* Parses a non-negative integer query parameter, clamped to max; def when absent/bad. */
static uint64_t query_u64(struct gd_http_exchange *x, const char *name, uint64_t def, uint64_t max)
{
    struct gd_slice v = gd_http_query_param(gd_http_exchange_request(x), name);
    if (!v.p || v.n == 0 || v.n > 12)
        return def;
    uint64_t n = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return def;
        n = n * 10 + (uint64_t)(v.p[i] - '0');
    }
    return n > max ? max : n;
}

/* ---- /debug/sleep ---- */
struct sleep_ctx {
    struct gd_timer timer;
    struct gd_http_exchange *x;
    uint64_t ms;
};

static void sleep_done(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)loop, (void)t;
    struct sleep_ctx *s = ud;
    char body[64];
    int n = snprintf(body, sizeof body, "{\"slept_ms\":%llu}\n", (unsigned long long)s->ms);
    gd_http_respond(s->x, 200, "application/json", body, (size_t)n);
}

static void sleep_closed(struct gd_http_exchange *x, void *ud)
{
    struct sleep_ctx *s = ud;
    gd_timer_stop(gd_http_exchange_loop(x), &s->timer);
}

static void debug_sleep(struct gd_http_exchange *x, void *ud)
{
    (void)ud;
    struct sleep_ctx *s = gd_arena_calloc(gd_http_exchange_arena(x), 1, sizeof *s);
    if (!s) {
        gd_http_respond_json_error(x, 500, "server_error", NULL, "out of memory");
        return;
    }
    s->x = x;
    s->ms = query_u64(x, "ms", 100, 600000);
    gd_timer_init(&s->timer, sleep_done, s);
    if (gd_timer_start(gd_http_exchange_loop(x), &s->timer, s->ms) != 0) {
        gd_http_respond_json_error(x, 500, "server_error", NULL, "cannot start timer");
        return;
    }
    gd_http_on_close(x, sleep_closed, s);
}

/* ---- /debug/stream ---- */
struct stream_ctx {
    struct gd_timer timer;
    struct gd_http_exchange *x;
    uint64_t chunks, size, interval_ms, sent, pauses;
    char *chunk;
};

static void stream_pump(struct stream_ctx *s);

static void stream_tick(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)loop, (void)t;
    stream_pump(ud);
}

static void stream_drained(struct gd_http_exchange *x, void *ud)
{
    (void)x;
    stream_pump(ud);
}

static void stream_closed(struct gd_http_exchange *x, void *ud)
{
    struct stream_ctx *s = ud;
    gd_timer_stop(gd_http_exchange_loop(x), &s->timer);
    gd_logf(GD_LOG_INFO, "msg=\"debug stream: client went away\" sent_chunks=%llu pauses=%llu",
            (unsigned long long)s->sent, (unsigned long long)s->pauses);
}

/* Writes chunks until done, paused by backpressure, or waiting for the next interval. */
static void stream_pump(struct stream_ctx *s)
{
    while (s->sent < s->chunks) {
        int rc = gd_http_stream_write(s->x, s->chunk, s->size);
        if (rc == GD_ECLOSED)
            return; /* on_close follows */
        s->sent++;
        if (rc == GD_EAGAIN) {
            s->pauses++;
            return; /* stream_drained resumes */
        }
        if (s->interval_ms && s->sent < s->chunks) {
            gd_timer_start(gd_http_exchange_loop(s->x), &s->timer, s->interval_ms);
            return;
        }
    }
    char tail[96];
    int n = snprintf(tail, sizeof tail, "\nchunks=%llu pauses=%llu\n", (unsigned long long)s->sent,
                     (unsigned long long)s->pauses);
    if (gd_http_stream_write(s->x, tail, (size_t)n) != GD_ECLOSED)
        gd_http_stream_end(s->x);
}

static void debug_stream(struct gd_http_exchange *x, void *ud)
{
    (void)ud;
    struct gd_arena *a = gd_http_exchange_arena(x);
    struct stream_ctx *s = gd_arena_calloc(a, 1, sizeof *s);
    uint64_t size = query_u64(x, "size", 1024, 1 << 20);
    char *chunk = s ? gd_arena_alloc(a, size ? size : 1) : NULL;
    if (!chunk) {
        gd_http_respond_json_error(x, 500, "server_error", NULL, "out of memory");
        return;
    }
    memset(chunk, 'x', size);
    if (size)
        chunk[size - 1] = '\n';
    *s = (struct stream_ctx){.x = x, .chunk = chunk, .size = size};
    s->chunks = query_u64(x, "chunks", 10, 1000000);
    s->interval_ms = query_u64(x, "interval_ms", 0, 60000);
    gd_timer_init(&s->timer, stream_tick, s);
    gd_http_on_close(x, stream_closed, s);
    gd_http_stream_on_drain(x, stream_drained, s);
    if (gd_http_stream_begin(x, 200, "application/octet-stream") != 0)
        return;
    stream_pump(s);
}

static void debug_echo(struct gd_http_exchange *x, void *ud)
{
    (void)ud;
    const struct gd_http_request *r = gd_http_exchange_request(x);
    char len[32];
    snprintf(len, sizeof len, "%zu", r->body_len);
    gd_http_set_header(x, "X-Body-Length", len);
    gd_http_respond(x, 200, "application/octet-stream", r->body, r->body_len);
}

int gd_serve_builtin_routes_register(struct gd_http_router *router, const struct gd_config *cfg)
{
    int rc = gd_http_router_add(router, "GET", "/healthz", GD_HTTP_MATCH_EXACT, healthz, NULL);
    if (!rc)
        rc = gd_http_router_add_ready_check(router, serve_ready, NULL);
    if (!rc)
        rc = gd_http_router_add(router, "GET", "/readyz", GD_HTTP_MATCH_EXACT, readyz, NULL);
    if (!rc && cfg->metrics.enabled)
        rc = gd_http_router_add(router, "GET", "/status", GD_HTTP_MATCH_EXACT, status_page,
                                (void *)cfg->metrics.path);
    if (rc == 0 && cfg->metrics.enabled)
        rc = gd_http_router_add(router, "GET", cfg->metrics.path, GD_HTTP_MATCH_EXACT, metrics,
                                NULL);
    if (!rc && cfg->debug_routes) {
        rc = gd_http_router_add(router, "GET", "/debug/sleep", GD_HTTP_MATCH_EXACT, debug_sleep,
                                NULL);
        if (!rc)
            rc = gd_http_router_add(router, "GET", "/debug/stream", GD_HTTP_MATCH_EXACT,
                                    debug_stream, NULL);
        if (!rc)
            rc = gd_http_router_add(router, "POST", "/debug/echo", GD_HTTP_MATCH_EXACT, debug_echo,
                                    NULL);
    }
    return rc;
}
