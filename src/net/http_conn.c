/* One HTTP/1.1 connection: read buffer -> head -> body -> handler -> response, repeated.
 *
 * The read buffer holds the current request's head, its body (a chunked body is decoded
 * in place right after the head) and whatever the client pipelined after it. Only one
 * request is with a handler at a time; the next pipelined one is parsed once the response
 * is complete, so responses go out in request order with no reordering queue. Responses
 * produced while the request loop runs are flushed together at its end (one write for a
 * burst of pipelined requests).
 *
 * Failure inside an API call made by a handler never calls the handler back
 * synchronously: the connection is marked broken and closed from a zero-delay timer, so
 * on_close always arrives from the loop, never from inside gd_http_stream_write.
 *
 * One timer per connection, re-armed for the current phase: header, body, keep-alive
 * idle, write progress, lingering close. */
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "girder/error.h"
#include "net/http_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    HDRS_INITIAL = 4, /* then exactly what the connection's largest head carries */
    RBUF_INITIAL = 4096,
    RBUF_HANDLER_ROOM = 64,
    RBUF_SLACK = 65536,
    LINGER_MS = 2000,
    LINGER_MAX_BYTES = 1 << 20,
};
#define OUT_MAX ((size_t)1 << 30)

static void conn_io_cb(struct gd_loop *loop, struct gd_io *io, int fd, unsigned ev, void *ud);
static void conn_timer_cb(struct gd_loop *loop, struct gd_timer *t, void *ud);
static void process(struct gd_http_conn *c);

static const struct gd_http_settings *settings(const struct gd_http_conn *c)
{
    return &c->site->s;
}

static size_t pending(const struct gd_http_conn *c)
{
    return c->out.len - c->out_off;
}

static size_t rbuf_max(const struct gd_http_conn *c)
{
    const struct gd_http_limits *l = &settings(c)->limits;
    return l->max_header_bytes + l->max_body_bytes + RBUF_SLACK;
}

static void arm(struct gd_http_conn *c, enum gd_http_timer_kind kind)
{
    const struct gd_http_timeouts *t = &settings(c)->timeouts;
    uint64_t ms = kind == TK_KEEPALIVE ? t->keepalive_ms
                  : kind == TK_HEADER  ? t->header_ms
                  : kind == TK_BODY    ? t->body_ms
                  : kind == TK_WRITE   ? t->write_ms
                  : kind == TK_LINGER  ? LINGER_MS
                                       : 0;
    c->tk = kind;
    if (kind == TK_NONE) {
        gd_timer_stop(c->srv->loop, &c->timer);
        return;
    }
    if (gd_timer_start(c->srv->loop, &c->timer, ms) != 0)
        gd_logf(GD_LOG_WARN, "msg=\"cannot arm connection timer\" remote=%s", c->remote);
}

/* Marks the connection broken and closes it from the loop (never re-entrantly). */
static void conn_fail(struct gd_http_conn *c)
{
    if (c->broken)
        return;
    c->broken = 1;
    if (c->x)
        c->x->closed = 1;
    gd_loop_io_modify(c->srv->loop, c->io, 0);
    arm(c, TK_CLOSE);
}

static void update_interest(struct gd_http_conn *c)
{
    if (c->broken)
        return;
    unsigned ev = 0;
    size_t out = pending(c);
    /* While a handler runs, reading goes on into the buffer's free space (never growing it:
     * the request points into it). Well-behaved clients send nothing then, so no interest
     * change per request; a close is seen at once, pipelined bytes wait in the buffer. */
    int reading = c->state == CONN_HEAD || c->state == CONN_BODY || c->state == CONN_LINGER ||
                  (c->state == CONN_HANDLER && c->rlen < c->rcap);
    if (reading && out <= settings(c)->out_high_water && c->rlen < rbuf_max(c))
        ev |= GD_IO_READ;
    if (out || (c->x && c->x->want_drain)) /* a paused producer hears "drained" from the */
        ev |= GD_IO_WRITE;                 /* next writable event, never re-entrantly   */
    if (gd_loop_io_modify(c->srv->loop, c->io, ev) != 0)
        conn_fail(c);
}

static void update_timer(struct gd_http_conn *c)
{
    if (c->broken || c->state == CONN_LINGER)
        return;
    enum gd_http_timer_kind want;
    if (pending(c))
        want = TK_WRITE;
    else if (c->state == CONN_HEAD)
        want = c->rlen ? TK_HEADER : TK_KEEPALIVE;
    else if (c->state == CONN_BODY)
        want = TK_BODY;
    else
        want = TK_NONE;
    if (want != c->tk)
        arm(c, want);
}

static void start_linger(struct gd_http_conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->state = CONN_LINGER;
    c->rlen = 0;
    c->bytes_written = 0; /* reused as the discard counter */
    arm(c, TK_LINGER);
}

/* Writes as much pending output as the socket takes. */
static void flush(struct gd_http_conn *c)
{
    int progress = 0;
    while (pending(c) && !c->broken) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, pending(c), MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            progress = 1;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            conn_fail(c);
            return;
        }
    }
    if (c->out_off == c->out.len) {
        gd_buf_free(&c->out); /* an open stream or an idle connection holds no output room */
        c->out_off = 0;
    } else if (c->out_off > 65536 && c->out_off > c->out.len / 2) {
        gd_buf_consume(&c->out, c->out_off);
        c->out_off = 0;
    }
    if (progress && c->tk == TK_WRITE && pending(c))
        arm(c, TK_WRITE); /* the write timeout measures lack of progress */
}

/* Heads are parsed into the server's scratch array (max_headers slots, one per loop
 * thread); the fields found are then copied into the connection's own array, sized by what
 * its requests carry. Thousands of open connections then hold ~16 slots each, not
 * max_headers (3.2 KB at the default 100). */
static struct gd_http_header *hdr_scratch(struct gd_http_server *srv, size_t want)
{
    if (srv->hdr_scratch_cap < want) {
        struct gd_http_header *h = gd_realloc(srv->hdr_scratch, want * sizeof *h);
        if (!h)
            return NULL;
        srv->hdr_scratch = h;
        srv->hdr_scratch_cap = want;
    }
    return srv->hdr_scratch;
}

static int keep_hdrs(struct gd_http_conn *c, const struct gd_http_header *h, size_t n)
{
    if (c->hdrs_cap < n || !c->hdrs) {
        size_t cap = n > HDRS_INITIAL ? n : HDRS_INITIAL;
        struct gd_http_header *d = gd_realloc(c->hdrs, cap * sizeof *d);
        if (!d)
            return GD_ENOMEM;
        c->hdrs = d;
        c->hdrs_cap = cap;
    }
    if (n)
        memcpy(c->hdrs, h, n * sizeof *h);
    return 0;
}

/* ---- exchanges ---- */

/* 16 hex digits of a random per-server prefix + 8 of a counter: unique per process run
 * without coordination between threads. Formatted by hand: this runs for every request. */
static void gen_request_id(struct gd_http_conn *c, char *out)
{
    static const char hex[] = "0123456789abcdef";
    struct gd_http_server *s = c->srv;
    uint64_t p = s->id_prefix, n = ++s->id_counter & 0xffffffffu;
    for (int i = 15; i >= 0; i--, p >>= 4)
        out[i] = hex[p & 15];
    for (int i = 23; i >= 16; i--, n >>= 4)
        out[i] = hex[n & 15];
    out[24] = '\0';
}

static void fill_request(struct gd_http_exchange *x, struct gd_http_conn *c)
{
    struct gd_http_request *r = &x->req;
    const struct gd_http_head *h = &c->head;
    r->method = h->method;
    r->target = h->target;
    r->path = h->path;
    r->query = h->query;
    r->minor_version = h->minor_version;
    r->headers = c->hdrs;
    r->n_headers = h->n_headers;
    r->body = c->rbuf + c->head_len;
    r->body_len = c->body_len;
}

static struct gd_http_exchange *new_exchange(struct gd_http_conn *c)
{
    struct gd_http_exchange *x = gd_calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->c = c;
    x->loop = c->srv->loop;
    x->site = c->site;
    gd_arena_init(&x->arena, 4096, (size_t)64 << 20);
    gd_buf_init(&x->headers, 16384);
    const struct gd_http_head *h = &c->head;
    if (h->request_id.p && gd_http_request_id_ok(h->request_id.p, h->request_id.n)) {
        memcpy(x->request_id, h->request_id.p, h->request_id.n);
        x->request_id[h->request_id.n] = '\0';
    } else {
        gen_request_id(c, x->request_id);
    }
    if (h->traceparent.p)
        gd_traceparent_parse(h->traceparent.p, h->traceparent.n, &x->req.trace);
    x->req.request_id = x->request_id;
    x->req.start_ns = c->req_start_ns;
    x->req.remote_addr = c->remote;
    x->is_head = h->method.n == 4 && memcmp(h->method.p, "HEAD", 4) == 0;
    c->x = x;
    return x;
}

static void free_exchange(struct gd_http_exchange *x)
{
    gd_arena_free(&x->arena);
    gd_buf_free(&x->headers);
    gd_free(x);
}

static void report(struct gd_http_conn *c, struct gd_http_exchange *x, int completed)
{
    const struct gd_http_observer *o = &x->site->s.observer;
    if (!o->request_done)
        return;
    struct gd_http_completion cm = {
        .req = &x->req,
        .route = x->route_label ? x->route_label : "-",
        .status = x->status ? x->status : 499,
        .bytes_in = (uint64_t)c->head_len + c->body_raw,
        .bytes_out = x->bytes_out,
        .duration_ns = gd_mono_ns() - x->req.start_ns,
        .completed = completed,
        .fields = x->fields,
        .n_fields = x->n_fields,
        .trace = &x->trace_ctx,
    };
    o->request_done(o->ud, &cm);
}

/* The read buffer may have moved (grown) while a body arrived: re-point the request's
 * slices by parsing the (unchanged, already validated) head again. */
static void refresh_request(struct gd_http_conn *c)
{
    if (c->head_len > 0 && c->head_base != c->rbuf) {
        size_t scan = 0;
        gd_http_parse_head(c->rbuf, (size_t)c->head_len, &settings(c)->limits, &c->head, c->hdrs,
                           &scan);
        c->head_base = c->rbuf;
    }
    fill_request(c->x, c);
}

/* Answers a request the server itself rejects, then closes (framing may be lost). */
static void reject(struct gd_http_conn *c, int status, const char *message)
{
    struct gd_http_exchange *x = c->x ? c->x : new_exchange(c);
    if (!x) {
        conn_fail(c);
        return;
    }
    if (!c->x)
        fill_request(x, c);
    else
        refresh_request(c);
    c->keep_alive = 0;
    const char *type = status >= 500 ? "server_error" : "invalid_request_error";
    const char *code = status == 408   ? "request_timeout"
                       : status == 413 ? "payload_too_large"
                       : status == 414 ? "uri_too_long"
                       : status == 431 ? "header_fields_too_large"
                       : status == 417 ? "expectation_failed"
                       : status == 505 ? "http_version_not_supported"
                       : status == 501 ? "not_implemented"
                                       : "bad_request";
    c->state = CONN_HANDLER;
    gd_http_respond_json_error(x, status, type, code, message);
}

/* A handler may hold its request for minutes (a slow upstream), thousands at once: the
 * read buffer gives back its unused room first, keeping a little for a client's close or
 * pipelined bytes (read while the handler runs). The request is re-pointed if it moved. */
static void compact_rbuf(struct gd_http_conn *c)
{
    if (c->rcap - c->rlen <= 2 * RBUF_HANDLER_ROOM)
        return;
    char *p = gd_realloc(c->rbuf, c->rlen + RBUF_HANDLER_ROOM);
    if (p) {
        c->rbuf = p;
        c->rcap = c->rlen + RBUF_HANDLER_ROOM;
    }
}

static void dispatch(struct gd_http_conn *c)
{
    struct gd_http_exchange *x = c->x;
    compact_rbuf(c);
    refresh_request(c);
    c->state = CONN_HANDLER;
    x->handler(x, x->route_ud);
}

static void route_error(struct gd_http_conn *c, struct gd_http_route_hit *hit)
{
    struct gd_http_exchange *x = c->x;
    if (c->head.body_kind != GD_HTTP_BODY_NONE)
        c->keep_alive = 0; /* answer without reading the body, then close */
    c->state = CONN_HANDLER;
    if (hit->status == 405) {
        gd_http_set_header(x, "Allow", hit->allow);
        gd_http_respond_json_error(x, 405, "invalid_request_error", "method_not_allowed",
                                   "method not allowed for this path");
    } else {
        gd_http_respond_json_error(x, 404, "invalid_request_error", "not_found",
                                   "no route for this path");
    }
}

/* A complete head was parsed: route, decide keep-alive and how to read the body. */
static void start_request(struct gd_http_conn *c)
{
    const struct gd_http_head *h = &c->head;
    struct gd_http_exchange *x = new_exchange(c);
    if (!x) {
        conn_fail(c);
        return;
    }
    fill_request(x, c);
    c->keep_alive =
        !c->srv->draining && (h->minor_version == 1 ? !(h->flags & GD_HTTP_F_CONN_CLOSE)
                                                    : !!(h->flags & GD_HTTP_F_CONN_KEEPALIVE));
    if (h->flags & GD_HTTP_F_EXPECT_OTHER) {
        reject(c, 417, "unsupported expectation");
        return;
    }
    struct gd_http_route_hit hit;
    gd__http_route(c->site->router, h->method, h->path, &hit);
    if (hit.status) {
        route_error(c, &hit);
        return;
    }
    x->handler = hit.handler;
    x->route_ud = hit.ud;
    x->next_handler = hit.next;
    x->next_ud = hit.next_ud;
    x->route_label = hit.label;
    c->body_raw = c->body_len = 0;
    if (h->body_kind == GD_HTTP_BODY_NONE) {
        dispatch(c);
        return;
    }
    if (h->body_kind == GD_HTTP_BODY_CHUNKED)
        gd_http_chunked_init(&c->chunked, settings(c)->limits.max_body_bytes,
                             settings(c)->limits.max_header_bytes);
    if ((h->flags & GD_HTTP_F_EXPECT_CONTINUE) && h->minor_version == 1 &&
        c->rlen == (size_t)c->head_len)
        gd_buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
    c->state = CONN_BODY;
}

static int step_head(struct gd_http_conn *c)
{
    if (c->rlen == 0)
        return 0;
    if (c->scan == 0) {
        if (c->site != c->srv->site) { /* config reloaded: new requests use the new site */
            gd_http_site_ref(c->srv->site);
            gd_http_site_unref(c->site);
            c->site = c->srv->site;
        }
        c->req_start_ns = gd_loop_now_ns(c->srv->loop);
        c->head_len = 0;
        c->body_raw = c->body_len = 0;
    }
    const struct gd_http_limits *lim = &settings(c)->limits;
    struct gd_http_header *scratch = hdr_scratch(c->srv, lim->max_headers);
    if (!scratch) {
        conn_fail(c);
        return 0;
    }
    long r = gd_http_parse_head(c->rbuf, c->rlen, lim, &c->head, scratch, &c->scan);
    if (r == 0)
        return 0;
    if (keep_hdrs(c, scratch, c->head.n_headers) != 0) {
        conn_fail(c);
        return 0;
    }
    if (r < 0) {
        reject(c, c->head.error_status, c->head.error);
        return 1;
    }
    c->head_len = r;
    c->head_base = c->rbuf;
    start_request(c);
    return 1;
}

static int step_body(struct gd_http_conn *c)
{
    size_t start = (size_t)c->head_len;
    if (c->head.body_kind == GD_HTTP_BODY_LENGTH) {
        if (c->rlen - start < c->head.content_length)
            return 0;
        c->body_raw = c->body_len = (size_t)c->head.content_length;
        dispatch(c);
        return 1;
    }
    size_t written, used;
    int rc = gd_http_chunked_decode(&c->chunked, c->rbuf + start + c->body_len,
                                    c->rbuf + start + c->body_raw, c->rlen - start - c->body_raw,
                                    &written, &used);
    c->body_len += written;
    c->body_raw += used;
    if (rc < 0) {
        reject(c, c->chunked.error_status, c->chunked.error);
        return 1;
    }
    if (rc == 0) { /* keep only the undecoded tail, right after the decoded bytes */
        size_t tail = c->rlen - start - c->body_raw;
        memmove(c->rbuf + start + c->body_len, c->rbuf + start + c->body_raw, tail);
        c->rlen = start + c->body_len + tail;
        c->body_raw = c->body_len;
        return 0;
    }
    dispatch(c);
    return 1;
}

/* Writes what it can, then updates interest and timers for what is left. */
static void settle(struct gd_http_conn *c)
{
    gd_loop_defer_cancel(c->srv->loop, &c->flush_later);
    flush(c);
    if (c->state == CONN_CLOSING && !pending(c) && !c->broken)
        start_linger(c);
    update_interest(c);
    update_timer(c);
}

static void on_flush_later(struct gd_loop *loop, struct gd_defer *d, void *ud)
{
    (void)loop, (void)d;
    settle(ud);
}

/* Runs the request loop until it needs more input, a handler is busy, or output is
 * backed up; then flushes and updates interest and timers. */
static void process(struct gd_http_conn *c)
{
    if (c->in_process)
        return;
    c->in_process = 1;
    while (!c->broken && pending(c) <= settings(c)->out_high_water) {
        if (c->state == CONN_HEAD) {
            if (!step_head(c))
                break;
        } else if (c->state == CONN_BODY) {
            if (!step_body(c))
                break;
        } else {
            break;
        }
    }
    c->in_process = 0;
    settle(c);
}

void gd__http_conn_finish(struct gd_http_exchange *x)
{
    struct gd_http_conn *c = x->c;
    if (!c) /* the connection is closing and frees x itself */
        return;
    report(c, x, 1);
    c->x = NULL;
    free_exchange(x);
    if (c->broken)
        return;
    if (!c->keep_alive || c->srv->draining) {
        c->state = CONN_CLOSING;
    } else {
        size_t used = (size_t)c->head_len + c->body_raw;
        memmove(c->rbuf, c->rbuf + used, c->rlen - used);
        c->rlen -= used;
        if (c->rlen == 0) { /* idle keep-alive connections hold no read buffer */
            gd_free(c->rbuf);
            c->rbuf = NULL;
            c->rcap = 0;
        }
        c->state = CONN_HEAD;
        c->scan = 0;
        c->head_len = 0;
        c->body_raw = c->body_len = 0;
        c->tk = TK_NONE; /* idle restarts now: force the keep-alive timer to re-arm */
    }
    if (!c->in_process)
        process(c);
}

/* ---- I/O ---- */

static void on_linger_read(struct gd_http_conn *c)
{
    char scratch[16384];
    ssize_t n = read(c->fd, scratch, sizeof scratch);
    if (n > 0) {
        c->bytes_written += (uint64_t)n;
        if (c->bytes_written > LINGER_MAX_BYTES)
            gd__http_conn_close(c);
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        gd__http_conn_close(c);
    }
}

static int grow_rbuf(struct gd_http_conn *c)
{
    size_t max = rbuf_max(c);
    if (c->rcap >= max)
        return GD_ELIMIT;
    size_t cap = c->rcap >= RBUF_INITIAL / 2 ? c->rcap * 2 : RBUF_INITIAL; /* see compact */
    if (cap > max)
        cap = max;
    char *p = gd_realloc(c->rbuf, cap);
    if (!p)
        return GD_ENOMEM;
    c->rbuf = p;
    c->rcap = cap;
    return 0;
}

static void on_readable(struct gd_http_conn *c)
{
    if (c->state == CONN_LINGER) {
        on_linger_read(c);
        return;
    }
    if (c->rlen == c->rcap && (c->state == CONN_HANDLER || grow_rbuf(c) != 0)) {
        update_interest(c);
        return;
    }
    ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        gd__http_conn_close(c);
        return;
    }
    if (n < 0)
        return;
    c->rlen += (size_t)n;
    process(c);
}

static void on_writable(struct gd_http_conn *c)
{
    flush(c);
    if (c->broken)
        return;
    struct gd_http_exchange *x = c->x;
    if (x && x->want_drain && pending(c) <= settings(c)->out_high_water / 2) {
        x->want_drain = 0;
        if (x->on_drain)
            x->on_drain(x, x->on_drain_ud); /* may finish x or break c: c stays valid */
    }
    process(c);
}

static void conn_io_cb(struct gd_loop *loop, struct gd_io *io, int fd, unsigned ev, void *ud)
{
    (void)loop, (void)io, (void)fd;
    struct gd_http_conn *c = ud;
    if (c->broken)
        return;
    if ((ev & GD_IO_HUP) && !(ev & GD_IO_READ)) {
        /* peer closed (or reset) while we were not reading: the client is gone */
        gd__http_conn_close(c);
        return;
    }
    if (ev & GD_IO_WRITE) {
        on_writable(c);
        if (c->broken)
            return;
    }
    if (ev & GD_IO_READ)
        on_readable(c);
}

static void conn_timer_cb(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)loop, (void)t;
    struct gd_http_conn *c = ud;
    enum gd_http_timer_kind k = c->tk;
    c->tk = TK_NONE;
    if ((k == TK_HEADER || k == TK_BODY) && !c->broken && !pending(c)) {
        gd_logf(GD_LOG_DEBUG, "msg=\"request read timeout\" remote=%s phase=%s", c->remote,
                k == TK_HEADER ? "header" : "body");
        c->in_process = 1;
        reject(c, 408, "request not received in time");
        c->in_process = 0;
        process(c);
        return;
    }
    gd__http_conn_close(c); /* keep-alive idle, write stalled, linger over, or broken */
}

/* ---- lifecycle ---- */

void gd__http_conn_accepted(struct gd_http_server *srv, int fd, const char *remote)
{
    struct gd_http_conn *c = gd_calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    snprintf(c->remote, sizeof c->remote, "%s", remote);
    c->site = srv->site;
    gd_http_site_ref(c->site);
    gd_buf_init(&c->out, OUT_MAX);
    gd_timer_init(&c->timer, conn_timer_cb, c);
    gd_defer_init(&c->flush_later, on_flush_later, c);
    if (gd_loop_io_add(srv->loop, fd, GD_IO_READ, conn_io_cb, c, &c->io) != 0) {
        gd_http_site_unref(c->site);
        gd_free(c);
        close(fd);
        return;
    }
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->n_conns++;
    if (c->site->s.observer.connections)
        c->site->s.observer.connections(c->site->s.observer.ud, +1);
    c->req_start_ns = gd_loop_now_ns(srv->loop);
    arm(c, TK_HEADER); /* a connection that never sends a byte gets the header timeout */
}

void gd__http_conn_close(struct gd_http_conn *c)
{
    struct gd_http_server *srv = c->srv;
    struct gd_http_exchange *x = c->x;
    if (x) {
        c->x = NULL;
        x->c = NULL;
        x->closed = 1;
        report(c, x, 0);
        if (x->on_close)
            x->on_close(x, x->on_close_ud);
        free_exchange(x);
    }
    gd_loop_io_del(srv->loop, c->io);
    close(c->fd);
    gd_timer_stop(srv->loop, &c->timer);
    gd_loop_defer_cancel(srv->loop, &c->flush_later);
    if (c->site->s.observer.connections)
        c->site->s.observer.connections(c->site->s.observer.ud, -1);
    gd_http_site_unref(c->site);
    gd_free(c->rbuf);
    gd_free(c->hdrs);
    gd_buf_free(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->n_conns--;
    gd_free(c);
    gd__http_server_conn_gone(srv);
}

void gd__http_conn_drain(struct gd_http_conn *c)
{
    if (c->state == CONN_HEAD && c->rlen == 0 && !pending(c) && !c->x)
        gd__http_conn_close(c);
    else
        c->keep_alive = 0;
}

/* ---- hooks for the response API ---- */

static struct gd_http_conn *live(const struct gd_http_exchange *x)
{
    return x->c && !x->closed && !x->c->broken ? x->c : NULL;
}

static int put(struct gd_buf *o, const char *s)
{
    return gd_buf_append(o, s, strlen(s));
}

static int put_u64(struct gd_buf *o, uint64_t v)
{
    char tmp[24];
    size_t n = sizeof tmp;
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return gd_buf_append(o, tmp + n, sizeof tmp - n);
}

/* The response head, assembled from pieces (no printf on the per-request path). */
static int format_head(struct gd_http_conn *c, struct gd_http_exchange *x, int status,
                       const char *ctype, int64_t content_length, int chunked)
{
    struct gd_buf *o = &c->out;
    char code[5] = {(char)('0' + status / 100), (char)('0' + status / 10 % 10),
                    (char)('0' + status % 10), ' ', '\0'};
    int rc = put(o, "HTTP/1.1 ");
    rc = rc ? rc : put(o, code);
    rc = rc ? rc : put(o, gd_http_reason(status));
    rc = rc ? rc : put(o, "\r\n");
    rc = rc ? rc : put(o, gd__http_server_date(c->srv));
    rc = rc ? rc : put(o, "Server: girder\r\nX-Request-Id: ");
    rc = rc ? rc : put(o, x->request_id);
    rc = rc ? rc : put(o, "\r\n");
    if (!rc && ctype) {
        rc = put(o, "Content-Type: ");
        rc = rc ? rc : put(o, ctype);
        rc = rc ? rc : put(o, "\r\n");
    }
    if (!rc && chunked) {
        rc = put(o, "Transfer-Encoding: chunked\r\n");
    } else if (!rc && content_length >= 0) {
        rc = put(o, "Content-Length: ");
        rc = rc ? rc : put_u64(o, (uint64_t)content_length);
        rc = rc ? rc : put(o, "\r\n");
    }
    if (!rc && x->headers.len)
        rc = gd_buf_append(o, x->headers.data, x->headers.len);
    if (!rc && !c->keep_alive)
        rc = put(o, "Connection: close\r\n");
    else if (!rc && x->req.minor_version == 0)
        rc = put(o, "Connection: keep-alive\r\n");
    return rc ? rc : put(o, "\r\n");
}

int gd__http_conn_write_head(struct gd_http_exchange *x, int status, const char *ctype,
                             int64_t content_length, int chunked)
{
    struct gd_http_conn *c = live(x);
    if (!c)
        return GD_ECLOSED;
    if (c->srv->draining)
        c->keep_alive = 0;
    if (!chunked && content_length < 0 && status != 204 && status != 304)
        c->keep_alive = 0; /* body ends when the connection does */
    size_t mark = c->out.len;
    if (format_head(c, x, status, ctype, content_length, chunked) != 0) {
        c->out.len = mark;
        conn_fail(c);
        return GD_ENOMEM;
    }
    x->bytes_out += c->out.len - mark;
    return 0;
}

int gd__http_conn_queue(struct gd_http_exchange *x, const void *p, size_t n)
{
    struct gd_http_conn *c = live(x);
    if (!c)
        return GD_ECLOSED;
    if (gd_buf_append(&c->out, p, n) != 0) {
        conn_fail(c);
        return GD_ENOMEM;
    }
    x->bytes_out += n;
    return 0;
}

int gd__http_conn_flush(struct gd_http_exchange *x)
{
    struct gd_http_conn *c = live(x);
    if (!c)
        return GD_ECLOSED;
    /* Small streamed writes leave at the end of the loop iteration: the head and the first
     * chunk, or the last chunk and the terminator, share one send. A full buffer leaves
     * now, so a fast producer keeps the socket buffer full as well. */
    if (c->in_process)
        return 0;
    if (pending(c) <= settings(c)->out_high_water) {
        gd_loop_defer(c->srv->loop, &c->flush_later);
        return 0;
    }
    settle(c);
    return live(x) ? 0 : GD_ECLOSED;
}

size_t gd__http_conn_pending(const struct gd_http_exchange *x)
{
    return x->c ? pending(x->c) : 0;
}

size_t gd__http_conn_high_water(const struct gd_http_exchange *x)
{
    return x->c ? settings(x->c)->out_high_water : 0;
}
