/* girder's own non-blocking HTTP/1.1 client, on the event loop (for http:// upstreams).
 *
 * Model: each loop thread has, per upstream origin (a caller-chosen key), one pool of
 * keep-alive connections (struct gd_hc_pool) with limits: max_connections (connecting +
 * busy + idle; requests past it wait in FIFO order), max_idle (connections kept between
 * requests) and idle_timeout_ms. A request (struct gd_hc_req, storage embedded in the
 * caller's object) is a complete HTTP/1.1 message the caller formatted (head + body as an
 * iovec, written with one writev); the client takes a connection, writes it, parses the
 * response head strictly (http_client_parse.h; 1xx heads are skipped), and hands the body
 * to the caller as it arrives, de-chunked, straight out of the read buffer (no copy).
 *
 * Timeouts run on loop timers: connect (per connection), first byte (from the start of the
 * request to the first response byte) and the whole request. A pooled connection the
 * upstream closed while it idled is noticed (its watch reports the close, and a
 * non-blocking peek before reuse) and never used; a request is re-sent once on another
 * connection only when the kernel refused to send any of it on a reused connection (so no
 * byte of it can have reached the upstream). Names resolve asynchronously (getaddrinfo_a,
 * polled from a loop timer; results cached for dns_ttl_ms); numeric addresses need no
 * lookup. Connects go over the name's addresses in turn (IPv6 and IPv4 interleaved), the
 * next one after an error or once one has used its share of the connect timeout.
 *
 * Threading: a pool and its requests belong to one loop thread; call everything there.
 * Callbacks: on_head, on_body and on_done run on the loop thread from the client's event
 * handlers, never from inside gd_hc_request_start/cancel/resume. After on_done (or a
 * cancel) the client no longer touches the request; its storage may be reused at once
 * (on_done may start the next request with it). Pools are freed with their loop; a request
 * must be finished or cancelled before then. */
#ifndef GD_NET_HTTP_CLIENT_H
#define GD_NET_HTTP_CLIENT_H

#include "net/http_client_parse.h"
#include "net/loop.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct gd_hc_pool;
struct hc_conn;

struct gd_hc_pool_opts {
    const char *host; /* name or numeric address (an IPv6 one without brackets) */
    uint16_t port;
    uint32_t max_connections; /* 0 -> 256 */
    uint32_t max_idle;        /* at most max_connections; 0: none kept (no keep-alive) */
    uint32_t idle_timeout_ms; /* 0 -> 30000 */
    uint32_t dns_ttl_ms;      /* 0 -> 30000 */
};

/* The pool for key on loop, created with o on first use (later calls ignore o: a key must
 * name one origin and one set of limits). Returns NULL when out of memory, or when the
 * host is empty or longer than 253 bytes. Loop thread. */
struct gd_hc_pool *gd_hc_pool_get(struct gd_loop *loop, const char *key,
                                  const struct gd_hc_pool_opts *o);

/* Connections of the pool: all (connecting, busy, idle) and idle ones. For tests/metrics. */
size_t gd_hc_pool_connections(const struct gd_hc_pool *p);
size_t gd_hc_pool_idle(const struct gd_hc_pool *p);

/* The response head as on_head sees it (slices valid during the callback only). */
struct gd_hc_response {
    int status;
    int minor_version;
    const struct gd_http_header *headers;
    size_t n_headers;
};

/* How a request ended. err: 0, or GD_ETIMEDOUT (detail says which timeout), GD_EPARSE
 * (bad framing: head or chunk sizes), GD_ELIMIT (head too large), GD_EIO / GD_ECLOSED
 * (resolve, connect, write or read failure, or the upstream closed early), or the error a
 * callback returned. */
struct gd_hc_result {
    int err;
    int got_head;       /* the response head (status) was received */
    const char *detail; /* static text, NULL when err == 0 */
    uint32_t reused;    /* the connection had served requests before */
};

enum { GD_HC_PAUSE = 1 };

struct gd_hc_callbacks {
    /* The final (non-1xx) head. Return 0, or a GD_E* error to abort (on_done follows). */
    int (*on_head)(void *ud, const struct gd_hc_response *r);
    /* Body bytes (n > 0), taken by the callee whatever it returns: 0 to go on, GD_HC_PAUSE to
     * stop reading the upstream until gd_hc_request_resume, or a GD_E* error to abort. */
    int (*on_body)(void *ud, const char *p, size_t n);
    void (*on_done)(void *ud, const struct gd_hc_result *res);
    /* Optional: the whole request was written and is never re-sent, so the buffers iov
     * points to may go (a long wait for the answer then holds none). Must not cancel. */
    void (*on_sent)(void *ud);
};

struct gd_hc_req {
    /* set by the caller before gd_hc_request_start */
    const struct gd_hc_callbacks *cb;
    void *ud;
    /* the whole request message; caller-owned until on_sent, done or cancel */
    const struct iovec *iov;
    int iovcnt;                                                     /* 1..4 */
    uint32_t connect_timeout_ms, first_byte_timeout_ms, timeout_ms; /* 0: none */
    /* private */
    struct gd_hc_pool *pool;
    struct hc_conn *conn;
    struct gd_hc_req *wnext, *wprev;
    struct gd_timer t_fb, t_total;
    int state, retried, paused, in_cb, got_head, got_byte;
    size_t written, total;
};

/* Queues r on pool; the I/O starts at the end of the current loop iteration. Returns 0, or
 * GD_EINVAL (no callbacks / bad iovec) or GD_ENOMEM; on error no callback runs. */
int gd_hc_request_start(struct gd_hc_pool *pool, struct gd_hc_req *r);
/* Stops r without calling on_done (no-op when it is not running). A connection in the
 * middle of its exchange is closed. Safe inside r's own callbacks. */
void gd_hc_request_cancel(struct gd_hc_req *r);
/* Reading resumes after on_body returned GD_HC_PAUSE (no-op otherwise). */
void gd_hc_request_resume(struct gd_hc_req *r);
/* Whether r is running / one of its callbacks is on the stack right now. */
int gd_hc_request_active(const struct gd_hc_req *r);
int gd_hc_request_in_callback(const struct gd_hc_req *r);

#endif
