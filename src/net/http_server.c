/* The per-thread HTTP server: accepting connections, sites (settings + router,
 * refcounted so a config reload never changes the rules under a running request),
 * graceful drain, and the cached Date header. */
#include "core/alloc.h"
#include "core/log.h"
#include "girder/error.h"
#include "net/http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ACCEPT_BATCH = 64, EMFILE_BACKOFF_MS = 100 };

void gd_http_settings_fill_defaults(struct gd_http_settings *s)
{
    gd_http_limits_fill_defaults(&s->limits);
    struct gd_http_timeouts *t = &s->timeouts;
    if (!t->header_ms)
        t->header_ms = GD_HTTP_DEFAULT_HEADER_MS;
    if (!t->body_ms)
        t->body_ms = GD_HTTP_DEFAULT_BODY_MS;
    if (!t->keepalive_ms)
        t->keepalive_ms = GD_HTTP_DEFAULT_KEEPALIVE_MS;
    if (!t->write_ms)
        t->write_ms = GD_HTTP_DEFAULT_WRITE_MS;
    if (!s->out_high_water)
        s->out_high_water = 256 * 1024;
}

/* ---- sites ---- */

int gd_http_site_new(const struct gd_http_settings *s, struct gd_http_router *router, void *owner,
                     void (*owner_free)(void *), struct gd_http_site **out)
{
    struct gd_http_site *site = gd_calloc(1, sizeof *site);
    if (!site)
        return GD_ENOMEM;
    atomic_init(&site->refs, 1);
    site->s = *s;
    gd_http_settings_fill_defaults(&site->s);
    site->router = router;
    site->owner = owner;
    site->owner_free = owner_free;
    *out = site;
    return 0;
}

void gd_http_site_ref(struct gd_http_site *site)
{
    atomic_fetch_add_explicit(&site->refs, 1, memory_order_relaxed);
}

void gd_http_site_unref(struct gd_http_site *site)
{
    if (!site || atomic_fetch_sub_explicit(&site->refs, 1, memory_order_acq_rel) != 1)
        return;
    gd_http_router_free(site->router);
    if (site->owner_free)
        site->owner_free(site->owner);
    gd_free(site);
}

void *gd_http_site_owner(const struct gd_http_site *site)
{
    return site->owner;
}

/* ---- accepting ---- */

static void format_remote(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
        snprintf(out, cap, "%s:%u", ip, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
        snprintf(out, cap, "[%s]:%u", ip, port);
    } else {
        snprintf(out, cap, "unix");
    }
}

static void listener_set(struct gd_http_server *srv, int on)
{
    if (srv->listen_io)
        gd_loop_io_modify(srv->loop, srv->listen_io, on ? GD_IO_READ : 0);
}

static int at_capacity(const struct gd_http_server *srv)
{
    size_t max = srv->site->s.max_connections;
    return max && srv->n_conns >= max;
}

static void accept_cb(struct gd_loop *loop, struct gd_io *io, int fd, unsigned ev, void *ud)
{
    (void)io, (void)ev;
    struct gd_http_server *srv = ud;
    for (int i = 0; i < ACCEPT_BATCH && !srv->draining; i++) {
        if (at_capacity(srv)) {
            listener_set(srv, 0); /* resumed when a connection closes */
            return;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                gd_logf(GD_LOG_WARN, "msg=\"accept failed, backing off\" errno=%d", errno);
                listener_set(srv, 0);
                gd_timer_start(loop, &srv->accept_timer, EMFILE_BACKOFF_MS);
            }
            return; /* EAGAIN, ECONNABORTED, EINTR: next event */
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char remote[64];
        format_remote(&ss, remote, sizeof remote);
        gd__http_conn_accepted(srv, cfd, remote);
    }
}

static void accept_timer_cb(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)loop, (void)t;
    struct gd_http_server *srv = ud;
    if (!srv->draining)
        listener_set(srv, 1);
}

int gd_http_server_new(struct gd_loop *loop, int listen_fd, struct gd_http_site *site,
                       struct gd_http_server **out)
{
    struct gd_http_server *srv = gd_calloc(1, sizeof *srv);
    if (!srv)
        return GD_ENOMEM;
    srv->loop = loop;
    srv->listen_fd = listen_fd;
    srv->site = site;
    gd_timer_init(&srv->accept_timer, accept_timer_cb, srv);
    if (getrandom(&srv->id_prefix, sizeof srv->id_prefix, 0) != sizeof srv->id_prefix)
        srv->id_prefix = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)srv;
    int rc = gd_loop_io_add(loop, listen_fd, GD_IO_READ, accept_cb, srv, &srv->listen_io);
    if (rc) {
        gd_free(srv);
        return rc;
    }
    gd_http_site_ref(site);
    *out = srv;
    return 0;
}

void gd_http_server_set_site(struct gd_http_server *srv, struct gd_http_site *site)
{
    gd_http_site_ref(site);
    gd_http_site_unref(srv->site);
    srv->site = site;
}

static void close_listener(struct gd_http_server *srv)
{
    if (srv->listen_io) {
        gd_loop_io_del(srv->loop, srv->listen_io);
        srv->listen_io = NULL;
    }
    if (srv->listen_fd >= 0) {
        close(srv->listen_fd);
        srv->listen_fd = -1;
    }
    gd_timer_stop(srv->loop, &srv->accept_timer);
}

void gd__http_server_conn_gone(struct gd_http_server *srv)
{
    if (srv->draining && srv->n_conns == 0 && srv->drain_done) {
        void (*done)(void *) = srv->drain_done;
        srv->drain_done = NULL;
        done(srv->drain_ud);
        return;
    }
    if (!srv->draining && srv->listen_io && !at_capacity(srv) &&
        !gd_timer_active(&srv->accept_timer))
        listener_set(srv, 1);
}

void gd_http_server_drain(struct gd_http_server *srv, void (*done)(void *ud), void *ud)
{
    srv->draining = 1;
    srv->drain_done = done;
    srv->drain_ud = ud;
    close_listener(srv);
    struct gd_http_conn *c = srv->conns;
    while (c) {
        struct gd_http_conn *next = c->next;
        gd__http_conn_drain(c);
        c = next;
    }
    if (srv->n_conns == 0 && srv->drain_done) {
        srv->drain_done = NULL;
        done(ud);
    }
}

size_t gd_http_server_connections(const struct gd_http_server *srv)
{
    return srv->n_conns;
}

void gd_http_server_free(struct gd_http_server *srv)
{
    if (!srv)
        return;
    srv->drain_done = NULL;
    srv->draining = 1;
    while (srv->conns)
        gd__http_conn_close(srv->conns);
    close_listener(srv);
    gd_http_site_unref(srv->site);
    gd_free(srv->hdr_scratch);
    gd_free(srv);
}

const char *gd__http_server_date(struct gd_http_server *srv)
{
    time_t now = time(NULL);
    if ((int64_t)now != srv->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(srv->date, sizeof srv->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        srv->date_sec = (int64_t)now;
    }
    return srv->date;
}

const char *gd_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 499:
        return "Client Closed Request";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
