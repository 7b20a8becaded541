/* Internal structures shared by the HTTP server's files (not for other modules). */
#ifndef GD_NET_HTTP_INTERNAL_H
#define GD_NET_HTTP_INTERNAL_H

#include "core/arena.h"
#include "core/buf.h"
#include "net/http.h"

#include <stdatomic.h>

struct gd_http_site {
    atomic_int refs;
    struct gd_http_settings s;
    struct gd_http_router *router;
    void *owner;
    void (*owner_free)(void *);
};

/* Result of routing one request. */
struct gd_http_route_hit {
    gd_http_handler_fn handler;
    void *ud;
    gd_http_handler_fn next; /* the route's gd_http_pass handler, NULL: none */
    void *next_ud;
    const char *label;
    char allow[96]; /* for 405: "GET, HEAD, POST" */
    int status;     /* 0 = found, 404, 405 */
};
void gd__http_route(const struct gd_http_router *r, struct gd_slice method, struct gd_slice path,
                    struct gd_http_route_hit *hit);

enum { GD_HTTP_MAX_LOG_FIELDS = 16 };
enum gd_http_resp_state { RESP_NONE = 0, RESP_STREAMING, RESP_DONE };

struct gd_http_conn;

struct gd_http_exchange {
    struct gd_http_conn *c; /* NULL once the connection is closing */
    struct gd_loop *loop;
    struct gd_http_site *site;
    struct gd_arena arena;
    struct gd_http_request req;
    gd_http_handler_fn handler;
    void *route_ud;
    struct gd_trace_ctx trace_ctx;   /* decided by tracing on first use (gd_http_exchange_trace) */
    gd_http_handler_fn next_handler; /* gd_http_pass's, NULL: none (or already passed) */
    void *next_ud;
    const char *route_label;
    void *user;
    int is_head;
    int status;
    enum gd_http_resp_state resp;
    int closed; /* connection broke: on_close is pending */
    int want_drain;
    struct gd_buf headers;            /* extra "Name: value\r\n" lines */
    struct gd_http_log_field *fields; /* in the arena, from the first field on */
    size_t n_fields;
    uint64_t bytes_out;
    void (*on_close)(struct gd_http_exchange *, void *);
    void *on_close_ud;
    void (*on_drain)(struct gd_http_exchange *, void *);
    void *on_drain_ud;
    char request_id[136];
};

enum gd_http_conn_state {
    CONN_HEAD = 0, /* reading a request head (or idle when rlen == 0) */
    CONN_BODY,     /* reading the body */
    CONN_HANDLER,  /* an exchange is with its handler */
    CONN_CLOSING,  /* flushing a last response, then lingering close */
    CONN_LINGER,   /* write side shut, discarding input for a short while */
};
enum gd_http_timer_kind {
    TK_NONE = 0,
    TK_KEEPALIVE,
    TK_HEADER,
    TK_BODY,
    TK_WRITE,
    TK_LINGER,
    TK_CLOSE
};

struct gd_http_server {
    struct gd_loop *loop;
    int listen_fd;
    struct gd_io *listen_io;
    struct gd_timer accept_timer; /* re-enables accept after EMFILE */
    struct gd_http_site *site;
    struct gd_http_conn *conns; /* doubly linked */
    size_t n_conns;
    int draining;
    void (*drain_done)(void *);
    void *drain_ud;
    uint64_t id_prefix, id_counter;
    int64_t date_sec;
    char date[40];                      /* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" */
    struct gd_http_header *hdr_scratch; /* heads are parsed here (max_headers slots) */
    size_t hdr_scratch_cap;
};

struct gd_http_conn {
    struct gd_http_server *srv;
    struct gd_http_conn *prev, *next;
    int fd;
    struct gd_io *io;
    struct gd_timer timer;
    struct gd_defer flush_later; /* output written outside the request loop */
    enum gd_http_timer_kind tk;
    enum gd_http_conn_state state;
    struct gd_http_site *site; /* site of the current/last request (ref held) */
    char *rbuf;
    size_t rlen, rcap;
    size_t scan;
    struct gd_http_head head;
    struct gd_http_header *hdrs;
    size_t hdrs_cap;
    long head_len;
    const char *head_base; /* rbuf when the head was parsed (re-parse if it moved) */
    struct gd_http_chunked chunked;
    size_t body_raw; /* encoded body bytes consumed (from head_len) */
    size_t body_len; /* decoded body bytes (at rbuf + head_len) */
    uint64_t req_start_ns;
    struct gd_buf out;
    size_t out_off;
    uint64_t bytes_written;
    struct gd_http_exchange *x;
    int keep_alive; /* this response keeps the connection */
    int in_process; /* guards re-entry into the request loop */
    int broken;     /* I/O failed: closing soon */
    char remote[64];
};

void gd__http_conn_accepted(struct gd_http_server *srv, int fd, const char *remote);
void gd__http_conn_close(struct gd_http_conn *c);
/* Drain: closes c now when idle, else marks it to close after the current response. */
void gd__http_conn_drain(struct gd_http_conn *c);
void gd__http_server_conn_gone(struct gd_http_server *srv);
const char *gd__http_server_date(struct gd_http_server *srv);

/* Connection-side hooks used by the response API (http_conn.c). */
int gd__http_conn_write_head(struct gd_http_exchange *x, int status, const char *ctype,
                             int64_t content_length, int chunked);
int gd__http_conn_queue(struct gd_http_exchange *x, const void *p, size_t n);
int gd__http_conn_flush(struct gd_http_exchange *x);
size_t gd__http_conn_pending(const struct gd_http_exchange *x);
size_t gd__http_conn_high_water(const struct gd_http_exchange *x);
/* The handler is done with x (response complete or failed): log, free, resume the conn. */
void gd__http_conn_finish(struct gd_http_exchange *x);

#endif
