/* Internal to the HTTP client: pools and connections (http_client_pool.c) shared with the
 * request state machine (http_client.c). Loop thread only. */
#ifndef GD_NET_HTTP_CLIENT_INTERNAL_H
#define GD_NET_HTTP_CLIENT_INTERNAL_H

#include "core/buf.h"
#include "net/http_client.h"

#include <netdb.h>
#include <sys/socket.h>

enum { HC_MAX_ADDRS = 8, HC_MAX_HEAD = 16384, HC_MAX_HEADERS = 100, HC_MAX_1XX = 16 };
#define HC_READ_BUF (64u << 10) /* one read; shared by the loop's connections */

enum hc_conn_state { HC_CONNECTING = 0, HC_WRITING, HC_READING, HC_IDLE };
enum hc_req_state { HC_REQ_NONE = 0, HC_REQ_WAITING, HC_REQ_ACTIVE };

struct hc_conn {
    struct gd_hc_pool *pool;
    int fd;
    struct gd_io *io; /* NULL while paused */
    unsigned watch;
    enum hc_conn_state state;
    struct gd_hc_req *req;
    struct hc_conn *prev, *next; /* in the pool's idle list while idle */
    struct gd_timer timer;       /* connect timeout, then idle timeout */
    size_t addr_i;
    uint64_t connect_deadline_ns; /* loop clock; 0: no connect timeout */
    uint32_t uses;                /* requests completed on it */
    int in_cb;                    /* a request callback is on the stack */
    int dead;                     /* close it when the callback returns */
    struct gd_buf carry;          /* unparsed bytes (partial head / chunk line); freed while idle */
    /* response state of the current request */
    int in_body, n_1xx;
    size_t scan;
    struct gd_hc_head head;
    uint64_t remaining;
    struct gd_http_chunked ch;
};

struct hc_loop_state;

struct gd_hc_pool {
    struct hc_loop_state *st;
    struct gd_loop *loop;
    char *key;
    char host[254], port_str[8];
    uint16_t port;
    uint32_t max_conns, max_idle, idle_timeout_ms, dns_ttl_ms;
    struct sockaddr_storage addrs[HC_MAX_ADDRS];
    socklen_t addr_len[HC_MAX_ADDRS];
    size_t n_addrs;
    int numeric;
    uint64_t addrs_expire_ms;
    /* lookup in flight */
    int resolving;
    struct gaicb gcb;
    struct addrinfo hints;
    struct gd_timer dns_timer;
    uint32_t dns_poll_ms;
    /* connections */
    struct hc_conn *idle; /* most recently used first */
    size_t n_idle, n_conns;
    struct gd_hc_req *wait_head, *wait_tail;
    struct gd_defer dispatch;
    struct gd_hc_pool *next;
};

struct hc_loop_state {
    struct gd_hc_pool *pools;
    char *rbuf; /* HC_READ_BUF bytes */
};

/* http_client_pool.c */
void hc_wait_push(struct gd_hc_pool *p, struct gd_hc_req *r, int front);
void hc_wait_remove(struct gd_hc_pool *p, struct gd_hc_req *r);
void hc_dispatch_soon(struct gd_hc_pool *p);
/* Closes and frees c (its request, if any, is not told). */
void hc_conn_close(struct hc_conn *c);
/* After a complete response: keeps c idle when reusable and room is left, else closes. */
void hc_conn_release(struct hc_conn *c, int reusable);
int hc_conn_watch(struct hc_conn *c, unsigned events);
/* Connects c to its next address (c->addr_i on): 0 when a connect is under way, else GD_EIO
 * with *detail saying why the last one failed (none left). */
int hc_conn_connect_next(struct hc_conn *c, const char **detail);

/* http_client.c */
void hc_conn_on_io(struct gd_loop *loop, struct gd_io *io, int fd, unsigned events, void *ud);
/* Starts r's exchange on c (connected or connecting). */
void hc_req_attach(struct gd_hc_req *r, struct hc_conn *c);
/* Ends r with an error (its connection, if any, closed); calls on_done. */
void hc_req_fail(struct gd_hc_req *r, int err, const char *detail);
char *hc_read_buf(struct gd_hc_pool *p);

#endif
