/* One upstream attempt: a curl easy handle configured for the chosen deployment, its
 * header/write callbacks and its end (see gw_req.h). Deployments of http:// providers go
 * to girder's own client instead (gw_hc.c), sharing the header logic and the reset here.
 *
 * Bodies of 2xx SSE answers are framed and each read's complete events are written to the
 * client as they arrive (one write per read, nothing held back but a partial event); when the
 * client's output is above its high-water mark the next write callback returns
 * CURL_WRITEFUNC_PAUSE (curl keeps that chunk) and the drain callback resumes the transfer,
 * so a stalled client holds at most its output buffer plus one chunk and one partial event.
 * Everything else (JSON answers, errors) is buffered, capped, and decided on at the end. */
#include "gateway/gw_local.h"
#include "gateway/gw_req.h"
#include "gateway/gw_trace.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "girder/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define GW_CURL_BUFFER 4096L

static const char *const kind_path[GW_KIND_N] = {"/chat/completions", "/completions",
                                                 "/embeddings"};

static void parse_retry_after(struct gw_req *req, const char *v, size_t n, int is_ms)
{
    char tmp[64];
    if (n >= sizeof tmp)
        return;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (end != tmp && d >= 0 && d < 86400e3) {
        req->retry_after_ms = (uint32_t)(is_ms ? d : d * 1000.0);
        return;
    }
    if (is_ms)
        return;
    time_t at = curl_getdate(tmp, NULL), now = time(NULL);
    if (at > now && at - now < 86400)
        req->retry_after_ms = (uint32_t)(at - now) * 1000u;
}

/* Rate-limit headers are relayed with the answer: clients pace themselves by them (the
 * OpenAI SDK reads x-ratelimit-*). Others (cookies, server, upstream request ids) are not. */
static int is_relayed_header(const char *name, size_t n)
{
    static const char *const prefix[] = {"x-ratelimit-", "anthropic-ratelimit-"};
    for (size_t i = 0; i < sizeof prefix / sizeof prefix[0]; i++) {
        size_t k = strlen(prefix[i]);
        if (n > k && strncasecmp(name, prefix[i], k) == 0)
            return 1;
    }
    return 0;
}

/* Keeps one relayed header as "name\0value\0"; one holding a NUL, or past the cap, is
 * dropped. Other bad bytes are refused when it is set on the response (gd_http_set_header
 * wants a token name and a field value). */
static void keep_relayed_header(struct gw_req *req, const char *name, size_t nl, const char *v,
                                size_t vl)
{
    if (memchr(name, '\0', nl) || memchr(v, '\0', vl))
        return;
    size_t mark = req->relay_hdrs.len;
    if (gd_buf_append(&req->relay_hdrs, name, nl) || gd_buf_putc(&req->relay_hdrs, '\0') ||
        gd_buf_append(&req->relay_hdrs, v, vl) || gd_buf_putc(&req->relay_hdrs, '\0'))
        req->relay_hdrs.len = mark;
}

/* One header of the final upstream answer: retry-after, content type, the rate-limit
 * headers to relay (value without surrounding whitespace). */
void gw_attempt_header(struct gw_req *req, const char *name, size_t nl, const char *v, size_t vl)
{
    if (nl == 11 && strncasecmp(name, "retry-after", 11) == 0)
        parse_retry_after(req, v, vl, 0);
    else if (nl == 14 && strncasecmp(name, "retry-after-ms", 14) == 0)
        parse_retry_after(req, v, vl, 1);
    else if (nl == 12 && strncasecmp(name, "content-type", 12) == 0) {
        gw_req_set_ctype(req, v, vl);
        req->is_sse =
            strncasecmp(req->ctype, "text/event-stream", 17) == 0 ||
            (req->ad && req->ad->stream_ctype &&
             strncasecmp(req->ctype, req->ad->stream_ctype, strlen(req->ad->stream_ctype)) == 0);
    } else if (is_relayed_header(name, nl)) {
        keep_relayed_header(req, name, nl, v, vl);
    }
}

/* curl's header lines: a status line starts a new response (e.g. after a 100). */
static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct gw_req *req = ud;
    size_t n = size * nmemb;
    if (n > 5 && memcmp(p, "HTTP/", 5) == 0) {
        req->retry_after_ms = 0;
        req->is_sse = 0;
        gw_req_set_ctype(req, NULL, 0);
        gd_buf_reset(&req->relay_hdrs);
        return n;
    }
    const char *colon = memchr(p, ':', n);
    if (!colon)
        return n;
    size_t nl = (size_t)(colon - p), vs = nl + 1;
    while (vs < n && (p[vs] == ' ' || p[vs] == '\t'))
        vs++;
    size_t ve = n;
    while (ve > vs && (p[ve - 1] == '\r' || p[ve - 1] == '\n' || p[ve - 1] == ' '))
        ve--;
    gw_attempt_header(req, p, nl, p + vs, ve - vs);
    return n;
}

static void first_byte(struct gw_req *req)
{
    long code = 0;
    req->got_first_byte = 1;
    req->first_byte_ns = gd_mono_ns();
    gd_timer_stop(req->loop, &req->up.fb_timer);
    curl_easy_getinfo(req->up.xf.easy, CURLINFO_RESPONSE_CODE, &code);
    req->status = (int)code;
}

/* Streamed 2xx SSE: frame and forward; returns n, 0 (abort) or CURL_WRITEFUNC_PAUSE. */
static size_t forward_sse(struct gw_req *req, const char *p, size_t n)
{
    if (req->client_blocked) {
        req->paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (!req->streaming) {
        gw_overhead_start(req, gd_mono_ns());
        int rc = gw_req_begin_stream(req);
        gw_overhead_stop(req, gd_mono_ns());
        if (rc != 0)
            return 0;
    }
    return gw_req_relay_sse(req, p, n) == 0 ? n : 0;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct gw_req *req = ud;
    size_t n = size * nmemb;
    if (!req->x || req->client_closed)
        return 0; /* client gone: abort the transfer */
    if (!req->got_first_byte)
        first_byte(req);
    if (req->status >= 200 && req->status < 300 && req->is_sse && req->f.stream)
        return forward_sse(req, p, n);
    if (gd_buf_append(&req->resp, p, n) != 0) {
        req->too_large = 1;
        return 0;
    }
    return n;
}

static void on_fb_timeout(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)loop;
    (void)t;
    struct gw_req *req = ud;
    struct gd_gw_attempt_result r = {GD_GW_OUTCOME_FIRST_BYTE_TIMEOUT, 0, 0, 0};
    gw_attempt_stop(req);
    gw_req_attempt_done(req, &r, "first byte timeout");
}

static void classify(struct gw_req *req, CURLcode res, struct gd_gw_attempt_result *r)
{
    memset(r, 0, sizeof *r);
    r->status = req->status;
    r->retry_after_ms = req->retry_after_ms;
    r->client_bytes_sent = req->streaming;
    if (res == CURLE_OK && req->status >= 400)
        r->outcome = GD_GW_OUTCOME_HTTP;
    else if (res == CURLE_OK)
        r->outcome = GD_GW_OUTCOME_OK;
    else if (res == CURLE_OPERATION_TIMEDOUT)
        r->outcome = req->got_first_byte ? GD_GW_OUTCOME_TIMEOUT : GD_GW_OUTCOME_FIRST_BYTE_TIMEOUT;
    else if (req->streaming || req->too_large)
        r->outcome = GD_GW_OUTCOME_BROKEN;
    else
        r->outcome = GD_GW_OUTCOME_CONNECT;
}

static void on_done(struct gw_xfer *xf, CURLcode res)
{
    struct gw_req *req = (struct gw_req *)((char *)xf - offsetof(struct gw_req, up.xf));
    struct gd_gw_attempt_result r;
    classify(req, res, &r);
    gd_timer_stop(req->loop, &req->up.fb_timer);
    gw_attempt_stop(req);
    gw_req_attempt_done(req, &r, res == CURLE_OK ? NULL : curl_easy_strerror(res));
}

/* Appends "name" + value + NUL to the header text, noting where the line starts. */
static int add_line(struct gw_req *req, size_t *off, int *n, const char *name, const char *v,
                    size_t vl)
{
    off[(*n)++] = req->hdr_text.len;
    int rc = gd_buf_puts(&req->hdr_text, name);
    rc = rc ? rc : gd_buf_append(&req->hdr_text, v, vl);
    return rc ? rc : gd_buf_append(&req->hdr_text, "", 1);
}

struct line_ctx {
    struct gw_req *req;
    size_t *off;
    int *n;
};

static int add_line_cb(void *ud, const char *prefix, const char *v, size_t vl)
{
    struct line_ctx *c = ud;
    if (*c->n >= GW_UPSTREAM_HEADERS)
        return GD_ELIMIT;
    return add_line(c->req, c->off, c->n, prefix, v, vl);
}

/* A signing adapter's headers: it signs the wire path (base_url's path + the adapter's). */
static int sign_headers(const struct gw_req *req, const struct gw_adapter *ad,
                        const struct gd_gw_provider_cfg *p, gw_header_fn add, void *ud)
{
    const char *a = strstr(p->base_url, "://");
    const char *bp = a ? a + 3 + strcspn(a + 3, "/") : "";
    struct gd_buf path;
    gd_buf_init(&path, 8192);
    int rc = gd_buf_puts(&path, bp);
    rc = rc ? rc : gw_attempt_path(req, &path);
    rc = rc ? rc
            : ad->sign(p, path.data, req->body.data ? req->body.data : "", req->body.len, add, ud);
    gd_buf_free(&path);
    return rc;
}

int gw_attempt_auth_headers(const struct gw_req *req, const struct gd_gw_provider_cfg *p,
                            gw_header_fn add, void *ud)
{
    const struct gw_adapter *ad = gw_adapter_for(p->type); /* also azure's: not req->ad */
    if (ad && ad->sign)
        return sign_headers(req, ad, p, add, ud);
    if (ad)
        return ad->headers(p, add, ud);
    return p->api_key ? add(ud, "Authorization: Bearer ", p->api_key, strlen(p->api_key)) : 0;
}

int gw_attempt_path(const struct gw_req *req, struct gd_buf *out)
{
    const struct gd_gw_config *gc = req->rt->gc;
    const struct gd_gw_deployment_cfg *dc = &gc->aliases[req->alias].deployments[req->dep];
    const struct gd_gw_provider_cfg *p = &gc->providers[dc->provider];
    const struct gw_adapter *ad = gw_adapter_for(p->type); /* also path-only ones (azure) */
    if (ad)
        return ad->path(p, req->kind, dc->model, req->f.stream, out);
    return gd_buf_puts(out, req->native ? "/responses" : kind_path[req->kind]);
}

/* The upstream request's headers: lines in one buffer, linked through req->up.hdrs (no
 * allocation per line, no printf). */
static int build_headers(struct gw_req *req, const struct gd_gw_provider_cfg *p)
{
    const struct gd_http_request *hr = gd_http_exchange_request(req->x);
    char tpbuf[56];
    size_t tp_n = 0;
    const char *tp = gw_trace_upstream_parent(req, tpbuf, &tp_n);
    size_t key_len = p->api_key ? strlen(p->api_key) : 0;
    size_t id_len = hr->request_id ? strlen(hr->request_id) : 0;
    size_t off[GW_UPSTREAM_HEADERS];
    int n = 0;
    struct line_ctx lc = {req, off, &n};
    int rc = gd_buf_reserve(&req->hdr_text, 192 + key_len + id_len + tp_n + 72);
    rc = rc ? rc : add_line(req, off, &n, "Content-Type: application/json", "", 0);
    rc = rc ? rc : add_line(req, off, &n, "Expect:", "", 0);
    rc = rc ? rc : gw_attempt_auth_headers(req, p, add_line_cb, &lc);
    if (rc == 0 && hr->request_id)
        rc = add_line(req, off, &n, "X-Request-Id: ", hr->request_id, id_len);
    if (rc == 0 && tp)
        rc = add_line(req, off, &n, "traceparent: ", tp, tp_n);
    if (rc != 0)
        return GD_ENOMEM;
    for (int i = 0; i < n; i++) {
        req->up.hdrs[i].data = req->hdr_text.data + off[i];
        req->up.hdrs[i].next = i + 1 < n ? &req->up.hdrs[i + 1] : NULL;
    }
    return 0;
}

static int build_url(const struct gw_req *req, const struct gd_gw_provider_cfg *p,
                     struct gd_buf *url)
{
    int rc = gd_buf_puts(url, p->base_url);
    return rc ? rc : gw_attempt_path(req, url);
}

static void set_options(struct gw_req *req, CURL *e, const struct gd_gw_provider_cfg *p,
                        const char *url)
{
    curl_easy_setopt(e, CURLOPT_URL, url); /* curl copies strings */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body.len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->up.hdrs);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, req);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)p->first_byte_timeout_ms);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (p->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, p->ca_file);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    /* HTTP/2 only where ALPN negotiates it: Debian's curl 7.88 mishandles parallel
     * cleartext h2 streams, so http:// upstreams stay on HTTP/1.1 keep-alive. */
    int tls = strncmp(p->base_url, "https://", 8) == 0;
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     tls ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
    /* LLM answers arrive in small pieces: a small receive buffer keeps thousands of open
     * streams cheap (curl's default is 16 KiB per transfer). Not on HTTP/2: curl 7.88
     * copies a multiplexed stream's DATA frames (up to 16 KiB) into its buffer unchecked
     * (a heap overflow under ASan with 4 KiB). */
    if (!tls)
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, GW_CURL_BUFFER);
}

int gw_attempt_splice_body(struct gw_req *req)
{
    const struct gd_gw_deployment_cfg *dc = &req->rt->gc->aliases[req->alias].deployments[req->dep];
    const struct gd_gw_provider_cfg *p = &req->rt->gc->providers[dc->provider];
    gd_buf_reset(&req->body);
    /* /v1/responses to a `responses: native` provider: the client's body as it is (not when
     * a PII policy rewrote the translation: the original still holds what it masked) */
    const struct gd_xl_err *in_err =
        req->cold && req->cold->in_err.status ? &req->cold->in_err : NULL;
    const char *own = in_err ? req->orig : req->inbody.data;
    req->native = req->inbound_responses && !req->ad && p->responses_native && req->orig_ok &&
                  req->cbody == own;
    if (req->native)
        return gd_gw_splice_model(req->orig, req->orig_len, &req->f_orig, dc->model,
                                  strlen(dc->model), &req->body);
    if (in_err) { /* only a native deployment could take it */
        req->cold->xl_err = *in_err;
        return GD_EINVAL;
    }
    int embed = req->kind == GW_KIND_EMBEDDINGS;
    if (req->ad && (req->ad->path(p, req->kind, dc->model, req->f.stream, NULL) == GD_ENOTSUP ||
                    (embed && !req->ad->embed_request))) {
        gw_req_refuse(req,
                      "model `%.200s` is served by a provider of type %s, which cannot serve "
                      "/v1%s%s",
                      req->alias_name, req->ad->name, kind_path[req->kind],
                      req->ad->embed_request ? "" : " (it has only chat completions)");
        return GD_EINVAL;
    }
    if (req->ad) {
        struct gd_xl_err *e = gw_xl_scratch();
        int rc = embed
                     ? req->ad->embed_request(req->cbody, req->cbody_len, dc->model, &req->body, e)
                     : req->ad->request(req->cbody, req->cbody_len, dc->model, &req->body, e);
        gw_req_keep_refusal(req, e, 0);
        return rc;
    }
    return gd_gw_splice_model(req->cbody, req->cbody_len, &req->f, dc->model, strlen(dc->model),
                              &req->body);
}

void gw_attempt_stream_free(struct gw_req *req)
{
    if (req->xs && req->xs_ad && req->xs_ad->stream_free)
        req->xs_ad->stream_free(req->xs);
    req->xs_ad = NULL;
}

void gw_attempt_reset(struct gw_req *req)
{
    req->status = 0;
    req->retry_after_ms = 0;
    req->is_sse = 0;
    req->got_first_byte = 0;
    req->too_large = 0;
    req->first_byte_ns = 0;
    gw_req_set_ctype(req, NULL, 0);
    gd_buf_reset(&req->resp);
    gd_buf_reset(&req->relay_hdrs);
}

int gw_attempt_start(struct gw_req *req)
{
    const struct gd_gw_config *gc = req->rt->gc;
    const struct gd_gw_deployment_cfg *dc = &gc->aliases[req->alias].deployments[req->dep];
    const struct gd_gw_provider_cfg *p = &gc->providers[dc->provider];
    const struct gw_dep_rt *d = &req->rt->aliases[req->alias].deps[req->dep];
    struct gd_buf url;
    gw_attempt_reset(req);
    req->ad = gw_adapter_for(p->type);
    if (req->ad && !req->ad->request)
        req->ad = NULL; /* OpenAI's bodies (azure): only path and headers differ */
    if (req->ad && req->f.stream) {
        if (!req->xs && !(req->xs = gd_malloc(sizeof *req->xs)))
            return GD_ENOMEM;
        gw_attempt_stream_free(req);
        req->ad->stream_init(req->xs, req->f.include_usage, (int64_t)time(NULL));
        req->xs_ad = req->ad;
    }
    gw_trace_attempt_begin(req);
    if (p->type == GD_GW_PROVIDER_LOCAL)
        return gw_local_attempt_start(req);
    if (d->hc)
        return gw_hc_attempt_start(req, d->hc, p, d->pool_key);
    gd_buf_init(&url, 8192);
    long maxc = (long)p->max_connections;
    struct gw_pool *pool = gw_pool_get(req->loop, d->pool_key, maxc);
    int rc = pool ? gw_attempt_splice_body(req) : GD_ENOMEM;
    rc = rc ? rc : build_headers(req, p);
    rc = rc ? rc : build_url(req, p, &url);
    gd_timer_init(&req->up.fb_timer, on_fb_timeout, req);
    req->up.xf.pool = pool;
    if (rc == 0 && !(req->up.xf.easy = gw_pool_easy_get(pool)))
        rc = GD_ENOMEM;
    if (rc == 0) {
        set_options(req, req->up.xf.easy, p, url.data);
        req->up.xf.done = on_done;
        rc = gw_pool_add(pool, &req->up.xf);
    }
    gd_buf_free(&url);
    if (rc != 0) {
        gw_attempt_stop(req);
        return rc;
    }
    req->active = 1;
    req->attempt_start_ns = gd_mono_ns();
    /* Without the timer only the whole-request timeout bounds the wait: still safe. */
    (void)gd_timer_start(req->loop, &req->up.fb_timer, p->first_byte_timeout_ms);
    return 0;
}

void gw_attempt_init(struct gw_req *req)
{
    gw_local_init(req);
}

void gw_attempt_wipe_head(struct gw_req *req)
{
    if (req->hdr_text.len)
        memset(req->hdr_text.data, 0, req->hdr_text.len); /* the API key */
    gd_buf_free(&req->hdr_text);
}

void gw_attempt_stop(struct gw_req *req)
{
    gw_local_attempt_stop(req);
    if (req->own) {
        gd_hc_request_cancel(&req->up.hc);
    } else if (req->up.xf.pool) {
        gd_timer_stop(req->loop, &req->up.fb_timer);
        if (req->up.xf.easy && req->active)
            gw_pool_remove(&req->up.xf);
        if (req->up.xf.easy)
            gw_pool_easy_put(req->up.xf.pool, req->up.xf.easy);
    }
    /* neither client touches it after this (both say so of their callbacks) */
    memset(&req->up, 0, sizeof req->up);
    req->own = 0;
    gw_attempt_wipe_head(req);
    req->active = 0;
    req->paused = 0;
    req->client_blocked = 0;
}

void gw_attempt_resume(struct gw_req *req)
{
    if (req->own)
        gd_hc_request_resume(&req->up.hc);
    else
        gw_pool_unpause(&req->up.xf);
}

int gw_attempt_in_callback(const struct gw_req *req)
{
    if (req->own)
        return gd_hc_request_in_callback(&req->up.hc);
    return req->up.xf.easy && gw_pool_in_curl(req->up.xf.pool); /* a local attempt: never */
}
