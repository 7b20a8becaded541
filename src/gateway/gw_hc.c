/* Upstream attempts over girder's own HTTP/1.1 client (see gw_hc.h).
 *
 * The request is formatted once into the attempt's header buffer (request line, Host,
 * the same headers the libcurl path sends, Content-Length) and goes out with the spliced
 * body as one two-piece writev. The answer's head is read through the same header logic
 * as libcurl's (gw_attempt_header); 2xx SSE bodies are framed and relayed read by read;
 * when the client's output is above its high-water mark the read that found it so pauses
 * the upstream (GD_HC_PAUSE) until the drain callback resumes it: a slow client holds its
 * output buffer, one upstream read and one partial event. Other bodies are buffered, capped
 * (GW_MAX_RESPONSE_BYTES), as on the libcurl path. */
#include "gateway/gw_hc.h"
#include "gateway/gw_req.h"
#include "gateway/gw_trace.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "girder/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A proxy from the environment applies to http:// URLs (curl reads http_proxy and
 * all_proxy, NO_PROXY exemptions included): leave those providers to libcurl. */
static int env_proxy_set(void)
{
    static const char *const names[] = {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v)
            return 1;
    }
    return 0;
}

void gw_hc_target_free(struct gw_hc_target *t)
{
    if (!t)
        return;
    gd_free(t->host);
    gd_free(t->authority);
    gd_free(t->path);
    gd_free(t);
}

/* http://host[:port][/path] -> host, port, authority, path. -1 for what we do not take. */
static int parse_url(const char *url, struct gw_hc_target *t)
{
    for (const char *q = url; *q; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
            return -1; /* would break the request line: not ours to send */
    const char *a = url + 7, *slash = strchr(a, '/');
    size_t an = slash ? (size_t)(slash - a) : strlen(a);
    const char *hs = a, *he, *colon;
    if (an == 0 || memchr(a, '@', an) || memchr(a, '?', an) || memchr(a, '#', an))
        return -1;
    if (*a == '[') {
        const char *rb = memchr(a, ']', an);
        if (!rb)
            return -1;
        hs = a + 1;
        he = rb;
        colon = rb + 1 < a + an && rb[1] == ':' ? rb + 1 : NULL;
        if (!colon && rb + 1 != a + an)
            return -1;
    } else {
        colon = memchr(a, ':', an);
        he = colon ? colon : a + an;
    }
    unsigned long port = 80;
    if (colon) {
        char *end;
        if (colon + 1 == a + an)
            return -1;
        port = strtoul(colon + 1, &end, 10);
        if (end != a + an || port == 0 || port > 65535)
            return -1;
    }
    if (he == hs || (slash && (strchr(slash, '?') || strchr(slash, '#'))))
        return -1;
    t->port = (uint16_t)port;
    t->host = gd_strndup(hs, (size_t)(he - hs));
    t->authority = gd_strndup(a, an);
    t->path = gd_strdup(slash ? slash : "");
    return t->host && t->authority && t->path ? 0 : -1;
}

struct gw_hc_target *gw_hc_target_new(const struct gd_gw_provider_cfg *p)
{
    if (!p->base_url || p->use_curl || strncmp(p->base_url, "http://", 7) != 0 || env_proxy_set())
        return NULL;
    for (const char *k = p->api_key; k && *k; k++)
        if ((unsigned char)*k < 0x20 || *k == 0x7f)
            return NULL; /* not a header value: libcurl refuses it as it always did */
    struct gw_hc_target *t = gd_calloc(1, sizeof *t);
    if (t && parse_url(p->base_url, t) != 0) {
        gw_hc_target_free(t);
        t = NULL;
    }
    return t;
}

static int put(struct gd_buf *b, const char *a, const char *v, size_t vl)
{
    int rc = gd_buf_puts(b, a);
    rc = rc ? rc : gd_buf_append(b, v, vl);
    return rc ? rc : gd_buf_append(b, "\r\n", 2);
}

static int put_cb(void *ud, const char *a, const char *v, size_t vl)
{
    return put(ud, a, v, vl);
}

/* The request head, into req->hdr_text (wiped after the attempt: it holds the key). */
static int build_head(struct gw_req *req, const struct gw_hc_target *t,
                      const struct gd_gw_provider_cfg *p)
{
    const struct gd_http_request *hr = gd_http_exchange_request(req->x);
    char tpbuf[56];
    size_t tp_n = 0;
    const char *tp = gw_trace_upstream_parent(req, tpbuf, &tp_n);
    struct gd_buf *b = &req->hdr_text;
    char cl[24], *cp = cl + sizeof cl; /* decimal Content-Length, no printf */
    size_t v = req->body.len;
    do
        *--cp = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    int rc = gd_buf_reserve(b, 320 + strlen(t->path) + strlen(t->authority) +
                                   (p->api_key ? strlen(p->api_key) : 0) +
                                   (hr->request_id ? strlen(hr->request_id) : 0) + tp_n);
    rc = rc ? rc : gd_buf_puts(b, "POST ");
    rc = rc ? rc : gd_buf_puts(b, t->path);
    rc = rc ? rc : gw_attempt_path(req, b);
    rc = rc ? rc : put(b, " HTTP/1.1\r\nHost: ", t->authority, strlen(t->authority));
    rc = rc ? rc : gd_buf_puts(b, "Accept: */*\r\nContent-Type: application/json\r\n");
    rc = rc ? rc : put(b, "Content-Length: ", cp, (size_t)(cl + sizeof cl - cp));
    rc = rc ? rc : gw_attempt_auth_headers(req, p, put_cb, b);
    if (rc == 0 && hr->request_id)
        rc = put(b, "X-Request-Id: ", hr->request_id, strlen(hr->request_id));
    if (rc == 0 && tp)
        rc = put(b, "traceparent: ", tp, tp_n);
    rc = rc ? rc : gd_buf_append(b, "\r\n", 2);
    return rc ? GD_ENOMEM : 0;
}

static int on_head(void *ud, const struct gd_hc_response *r)
{
    struct gw_req *req = ud;
    req->got_first_byte = 1;
    req->first_byte_ns = gd_mono_ns();
    req->status = r->status;
    for (size_t i = 0; i < r->n_headers; i++) {
        const struct gd_http_header *h = &r->headers[i];
        gw_attempt_header(req, h->name.p, h->name.n, h->value.p, h->value.n);
    }
    return 0;
}

static int on_body(void *ud, const char *p, size_t n)
{
    struct gw_req *req = ud;
    if (!req->x || req->client_closed)
        return GD_ECLOSED; /* client gone: abort (the upstream sees the close) */
    if (req->status >= 200 && req->status < 300 && req->is_sse && req->f.stream) {
        if (!req->streaming) {
            gw_overhead_start(req, gd_mono_ns());
            int rc = gw_req_begin_stream(req);
            gw_overhead_stop(req, gd_mono_ns());
            if (rc != 0)
                return rc;
        }
        int rc = gw_req_relay_sse(req, p, n);
        if (rc != 0)
            return rc;
        if (req->client_blocked) {
            req->paused = 1;
            return GD_HC_PAUSE;
        }
        return 0;
    }
    if (gd_buf_append(&req->resp, p, n) != 0) {
        req->too_large = 1;
        return GD_ELIMIT;
    }
    return 0;
}

static void classify(const struct gw_req *req, const struct gd_hc_result *res,
                     struct gd_gw_attempt_result *r)
{
    memset(r, 0, sizeof *r);
    r->status = req->status;
    r->retry_after_ms = req->retry_after_ms;
    r->client_bytes_sent = req->streaming;
    if (res->err == 0)
        r->outcome = req->status >= 400 ? GD_GW_OUTCOME_HTTP : GD_GW_OUTCOME_OK;
    else if (res->err == GD_ETIMEDOUT)
        r->outcome = req->got_first_byte ? GD_GW_OUTCOME_TIMEOUT : GD_GW_OUTCOME_FIRST_BYTE_TIMEOUT;
    else if (req->streaming || req->too_large)
        r->outcome = GD_GW_OUTCOME_BROKEN;
    else
        r->outcome = GD_GW_OUTCOME_CONNECT;
}

static void on_done(void *ud, const struct gd_hc_result *res)
{
    struct gw_req *req = ud;
    struct gd_gw_attempt_result r;
    classify(req, res, &r);
    char why[120];
    const char *detail = res->detail;
    if (res->err == GD_EPARSE || res->err == GD_ELIMIT) { /* the upstream broke HTTP */
        snprintf(why, sizeof why, "invalid response: %s", detail ? detail : "bad framing");
        detail = why;
    }
    gw_attempt_stop(req);
    gw_req_attempt_done(req, &r, detail);
}

/* A next attempt builds its own head and body: a long wait for the answer holds neither. */
static void on_sent(void *ud)
{
    struct gw_req *req = ud;
    gw_attempt_wipe_head(req);
    gd_buf_free(&req->body);
}

static const struct gd_hc_callbacks callbacks = {on_head, on_body, on_done, on_sent};

int gw_hc_attempt_start(struct gw_req *req, const struct gw_hc_target *t,
                        const struct gd_gw_provider_cfg *p, const char *pool_key)
{
    struct gd_hc_pool_opts o = {
        t->host, t->port, p->max_connections, p->max_idle_connections, p->idle_timeout_ms, 0};
    struct gd_hc_pool *pool = gd_hc_pool_get(req->loop, pool_key, &o);
    req->own = 1; /* the union holds a gd_hc_req from here: gw_attempt_stop must know */
    int rc = pool ? gw_attempt_splice_body(req) : GD_ENOMEM;
    rc = rc ? rc : build_head(req, t, p);
    if (rc == 0) {
        req->up.hc_iov[0].iov_base = req->hdr_text.data;
        req->up.hc_iov[0].iov_len = req->hdr_text.len;
        req->up.hc_iov[1].iov_base = req->body.data;
        req->up.hc_iov[1].iov_len = req->body.len;
        req->up.hc.cb = &callbacks;
        req->up.hc.ud = req;
        req->up.hc.iov = req->up.hc_iov;
        req->up.hc.iovcnt = req->body.len ? 2 : 1;
        req->up.hc.connect_timeout_ms = p->first_byte_timeout_ms;
        req->up.hc.first_byte_timeout_ms = p->first_byte_timeout_ms;
        req->up.hc.timeout_ms = p->timeout_ms;
        rc = gd_hc_request_start(pool, &req->up.hc);
    }
    if (rc != 0) {
        gw_attempt_stop(req);
        return rc;
    }
    req->active = 1;
    req->attempt_start_ns = gd_mono_ns();
    return 0;
}
