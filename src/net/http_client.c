/* The client's request state machine (see http_client.h): one exchange on a connection.
 *
 *   waiting -> (connecting) -> writing -> reading head [1xx skipped] -> body -> done
 *
 * Reads go into the loop's shared read buffer; bytes a read leaves unparsed (a partial head
 * or chunk-size line) are kept in the connection's small carry buffer and put in front of
 * the next read. Chunked bodies are decoded in place and each read's data goes to on_body
 * as one piece. A callback may cancel its own request: the connection is then only marked
 * and closed once the callback has returned. */
#include "net/http_client_internal.h"
#include "girder/error.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

static void finish(struct gd_hc_req *r, int err, const char *detail, uint32_t uses)
{
    struct gd_hc_pool *p = r->pool;
    gd_timer_stop(p->loop, &r->t_fb);
    gd_timer_stop(p->loop, &r->t_total);
    struct gd_hc_result res = {err, r->got_head, err ? detail : NULL, uses};
    r->state = HC_REQ_NONE;
    r->conn = NULL;
    r->cb->on_done(r->ud, &res); /* may restart or free r: not touched after */
}

/* Detaches r's connection: closed now, or once the callback on the stack returns. */
static void drop_conn(struct gd_hc_req *r)
{
    struct hc_conn *c = r->conn;
    if (!c)
        return;
    c->req = NULL;
    if (c->in_cb)
        c->dead = 1;
    else
        hc_conn_close(c);
}

void hc_req_fail(struct gd_hc_req *r, int err, const char *detail)
{
    if (r->state == HC_REQ_WAITING)
        hc_wait_remove(r->pool, r);
    uint32_t uses = r->conn ? r->conn->uses : 0;
    drop_conn(r);
    finish(r, err, detail, uses);
}

static void complete(struct hc_conn *c, int reusable)
{
    struct gd_hc_req *r = c->req;
    uint32_t uses = c->uses;
    r->conn = NULL;
    hc_conn_release(c, reusable); /* may close c */
    finish(r, 0, NULL, uses);
}

static void on_fb_timer(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)loop;
    (void)t;
    struct gd_hc_req *r = ud;
    if (!r->got_byte)
        hc_req_fail(r, GD_ETIMEDOUT, "first byte timeout");
}

static void on_total_timer(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)loop;
    (void)t;
    hc_req_fail(ud, GD_ETIMEDOUT, "timeout");
}

/* ---- writing ---- */

/* The kernel took none of the request on a connection that served others before: the
 * upstream had closed it. Re-sent once on another connection; nothing reached it. */
static int retry_elsewhere(struct gd_hc_req *r, int e)
{
    struct hc_conn *c = r->conn;
    if (r->retried || r->written != 0 || c->uses == 0 || (e != EPIPE && e != ECONNRESET))
        return 0;
    r->retried = 1;
    drop_conn(r);
    r->conn = NULL;
    hc_wait_push(r->pool, r, 1);
    hc_dispatch_soon(r->pool);
    return 1;
}

static void do_write(struct hc_conn *c)
{
    struct gd_hc_req *r = c->req;
    struct iovec v[4];
    int n = 0;
    size_t skip = r->written;
    for (int i = 0; i < r->iovcnt; i++) {
        const struct iovec *s = &r->iov[i];
        if (skip >= s->iov_len) {
            skip -= s->iov_len;
            continue;
        }
        v[n].iov_base = (char *)s->iov_base + skip;
        v[n++].iov_len = s->iov_len - skip;
        skip = 0;
    }
    /* sendmsg is writev with MSG_NOSIGNAL: a closed upstream must not raise SIGPIPE */
    struct msghdr mh = {.msg_iov = v, .msg_iovlen = (size_t)n};
    ssize_t k;
    do
        k = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
    while (k < 0 && errno == EINTR);
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (hc_conn_watch(c, GD_IO_WRITE) != 0)
            hc_req_fail(r, GD_ENOMEM, "out of memory");
        return;
    }
    if (k < 0) {
        if (!retry_elsewhere(r, errno))
            hc_req_fail(r, GD_EIO, "write to the upstream failed");
        return;
    }
    r->written += (size_t)k;
    if (r->written < r->total) {
        if (hc_conn_watch(c, GD_IO_WRITE) != 0)
            hc_req_fail(r, GD_ENOMEM, "out of memory");
        return;
    }
    if (r->cb->on_sent)
        r->cb->on_sent(r->ud);
    c->state = HC_READING;
    if (hc_conn_watch(c, GD_IO_READ) != 0)
        hc_req_fail(r, GD_ENOMEM, "out of memory");
}

void hc_req_attach(struct gd_hc_req *r, struct hc_conn *c)
{
    r->conn = c;
    r->state = HC_REQ_ACTIVE;
    c->req = r;
    c->in_body = 0;
    c->n_1xx = 0;
    c->scan = 0;
    gd_buf_reset(&c->carry);
    if (c->state != HC_CONNECTING) {
        do_write(c);
        return;
    }
    const char *detail = NULL;
    c->connect_deadline_ns = r->connect_timeout_ms ? gd_loop_now_ns(c->pool->loop) +
                                                         (uint64_t)r->connect_timeout_ms * 1000000u
                                                   : 0;
    if (hc_conn_connect_next(c, &detail) != 0)
        hc_req_fail(r, GD_EIO, detail);
}

static void on_connected(struct hc_conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == 0) {
        gd_timer_stop(c->pool->loop, &c->timer);
        c->state = HC_WRITING;
        do_write(c);
        return;
    }
    const char *detail = NULL;
    c->addr_i++;
    if (hc_conn_connect_next(c, &detail) != 0)
        hc_req_fail(c->req, GD_EIO, detail);
}

/* ---- reading ---- */

/* Runs on_body; returns 1 when the exchange ended (failed or cancelled) meanwhile. */
static int deliver(struct hc_conn *c, const char *p, size_t n)
{
    struct gd_hc_req *r = c->req;
    r->in_cb++;
    c->in_cb++;
    int rc = r->cb->on_body(r->ud, p, n);
    c->in_cb--;
    if (c->dead) { /* r was cancelled: it may be gone */
        hc_conn_close(c);
        return 1;
    }
    r->in_cb--;
    if (rc < 0) {
        hc_req_fail(r, rc, "aborted by the receiver");
        return 1;
    }
    if (rc == GD_HC_PAUSE && !r->paused) {
        r->paused = 1;
        gd_loop_io_del(c->pool->loop, c->io); /* not even a close is heard while paused */
        c->io = NULL;
    }
    return 0;
}

static int keep(struct hc_conn *c, const char *p, size_t n)
{
    if (gd_buf_append(&c->carry, p, n) == 0)
        return 0;
    hc_req_fail(c->req, GD_ELIMIT, "response framing line too long");
    return 1;
}

static void body(struct hc_conn *c, char *p, size_t n)
{
    size_t w = 0, used = 0;
    int rc;
    switch (c->head.framing) {
    case GD_HC_BODY_LENGTH:
        w = n < c->remaining ? n : (size_t)c->remaining;
        if (w && deliver(c, p, w))
            return;
        c->remaining -= w;
        if (c->remaining == 0)
            complete(c, c->head.keep_alive && w == n);
        return;
    case GD_HC_BODY_CHUNKED:
        rc = gd_http_chunked_decode(&c->ch, p, p, n, &w, &used);
        if (rc < 0) {
            hc_req_fail(c->req, GD_EPARSE, c->ch.error);
            return;
        }
        if (w && deliver(c, p, w))
            return;
        if (rc == 1)
            complete(c, c->head.keep_alive && used == n);
        else if (used < n)
            (void)keep(c, p + used, n - used);
        return;
    case GD_HC_BODY_CLOSE:
        if (n)
            (void)deliver(c, p, n);
        return;
    default:
        complete(c, c->head.keep_alive && n == 0);
    }
}

static void head_done(struct hc_conn *c)
{
    struct gd_hc_req *r = c->req;
    const struct gd_hc_head *h = &c->head;
    c->in_body = 1;
    r->got_head = 1;
    if (h->framing == GD_HC_BODY_LENGTH)
        c->remaining = h->content_length;
    else if (h->framing == GD_HC_BODY_CHUNKED)
        gd_http_chunked_init(&c->ch, UINT64_MAX, HC_MAX_HEAD);
}

/* Parses heads (skipping 1xx) then hands the rest to body(). */
static void process(struct hc_conn *c, char *buf, size_t len)
{
    struct gd_http_header hdrs[HC_MAX_HEADERS];
    size_t off = 0;
    while (!c->in_body) {
        long h = gd_hc_parse_head(buf + off, len - off, HC_MAX_HEAD, hdrs, HC_MAX_HEADERS, &c->head,
                                  &c->scan);
        if (h == 0) {
            (void)keep(c, buf + off, len - off);
            return;
        }
        if (h < 0) {
            hc_req_fail(c->req, h == GD_ELIMIT ? GD_ELIMIT : GD_EPARSE, c->head.error);
            return;
        }
        off += (size_t)h;
        c->scan = 0;
        if (c->head.status >= 200)
            break;
        if (c->head.status == 101 || ++c->n_1xx > HC_MAX_1XX) {
            hc_req_fail(c->req, GD_EPARSE,
                        c->head.status == 101 ? "unexpected 101 response" : "too many 1xx");
            return;
        }
    }
    if (!c->in_body) {
        struct gd_hc_req *r = c->req;
        struct gd_hc_response resp = {c->head.status, c->head.minor_version, hdrs,
                                      c->head.n_headers};
        head_done(c);
        r->in_cb++;
        c->in_cb++;
        int rc = r->cb->on_head(r->ud, &resp);
        c->in_cb--;
        if (c->dead) {
            hc_conn_close(c);
            return;
        }
        r->in_cb--;
        if (rc != 0) {
            hc_req_fail(r, rc, "aborted by the receiver");
            return;
        }
    }
    body(c, buf + off, len - off);
}

static void on_eof(struct hc_conn *c, int reset)
{
    struct gd_hc_req *r = c->req;
    if (!c->in_body) {
        if (c->carry.len == 0)
            hc_req_fail(r, GD_ECLOSED,
                        reset ? "upstream reset the connection before answering"
                              : "upstream closed the connection before answering");
        else
            hc_req_fail(r, GD_EPARSE, "upstream closed the connection inside the response head");
    } else if (c->head.framing == GD_HC_BODY_CLOSE && !reset) {
        complete(c, 0);
    } else {
        hc_req_fail(r, GD_ECLOSED,
                    reset ? "upstream reset the connection during the body"
                          : "upstream closed the connection before the end of the body");
    }
}

static void do_read(struct hc_conn *c)
{
    struct gd_hc_req *r = c->req;
    char *buf = hc_read_buf(c->pool);
    size_t have = c->carry.len;
    if (have)
        memcpy(buf, c->carry.data, have);
    ssize_t n;
    do
        n = recv(c->fd, buf + have, HC_READ_BUF - have, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        on_eof(c, n < 0);
        return;
    }
    if (!r->got_byte) {
        r->got_byte = 1;
        gd_timer_stop(c->pool->loop, &r->t_fb);
    }
    gd_buf_reset(&c->carry);
    process(c, buf, have + (size_t)n);
}

void hc_conn_on_io(struct gd_loop *loop, struct gd_io *io, int fd, unsigned events, void *ud)
{
    (void)loop;
    (void)io;
    (void)fd;
    struct hc_conn *c = ud;
    switch (c->state) {
    case HC_IDLE: /* the upstream closed it, or spoke out of turn */
        hc_conn_close(c);
        return;
    case HC_CONNECTING:
        if (events & (GD_IO_WRITE | GD_IO_HUP))
            on_connected(c);
        return;
    case HC_WRITING:
        do_write(c);
        return;
    case HC_READING:
        do_read(c);
        return;
    }
}

/* ---- API ---- */

int gd_hc_request_start(struct gd_hc_pool *pool, struct gd_hc_req *r)
{
    if (!pool || !r->cb || !r->cb->on_head || !r->cb->on_body || !r->cb->on_done || !r->iov ||
        r->iovcnt < 1 || r->iovcnt > 4)
        return GD_EINVAL;
    r->pool = pool;
    r->conn = NULL;
    r->retried = r->paused = r->in_cb = r->got_head = r->got_byte = 0;
    r->written = r->total = 0;
    for (int i = 0; i < r->iovcnt; i++)
        r->total += r->iov[i].iov_len;
    gd_timer_init(&r->t_fb, on_fb_timer, r);
    gd_timer_init(&r->t_total, on_total_timer, r);
    if ((r->first_byte_timeout_ms &&
         gd_timer_start(pool->loop, &r->t_fb, r->first_byte_timeout_ms) != 0) ||
        (r->timeout_ms && gd_timer_start(pool->loop, &r->t_total, r->timeout_ms) != 0)) {
        gd_timer_stop(pool->loop, &r->t_fb);
        return GD_ENOMEM;
    }
    hc_wait_push(pool, r, 0);
    hc_dispatch_soon(pool);
    return 0;
}

void gd_hc_request_cancel(struct gd_hc_req *r)
{
    if (r->state == HC_REQ_NONE)
        return;
    if (r->state == HC_REQ_WAITING)
        hc_wait_remove(r->pool, r);
    drop_conn(r);
    gd_timer_stop(r->pool->loop, &r->t_fb);
    gd_timer_stop(r->pool->loop, &r->t_total);
    r->conn = NULL;
    r->state = HC_REQ_NONE;
}

void gd_hc_request_resume(struct gd_hc_req *r)
{
    if (r->state != HC_REQ_ACTIVE || !r->paused)
        return;
    r->paused = 0;
    /* On failure the request ends by its timeout (callbacks never run from here). */
    (void)hc_conn_watch(r->conn, GD_IO_READ);
}

int gd_hc_request_active(const struct gd_hc_req *r)
{
    return r->state != HC_REQ_NONE;
}

int gd_hc_request_in_callback(const struct gd_hc_req *r)
{
    return r->in_cb > 0;
}
