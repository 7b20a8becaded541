/* Per-loop pools of upstream connections, their limits, and name resolution (see
 * http_client.h).
 *
 * Requests wait in a FIFO per pool; a deferred "dispatch" (end of the loop iteration) gives
 * each one an idle connection (most recently used first: warm, and the others time out) or
 * a new one while the pool is under max_connections. Idle connections stay watched for
 * reading: an event on one means the upstream closed it (or broke the protocol), and it is
 * closed at once, so a later request does not find it. Running the dispatch at the end of
 * the iteration also means every close event epoll reported with the request is handled
 * before a connection is chosen.
 *
 * DNS: getaddrinfo_a (glibc) with no notification; a loop timer polls gai_error with
 * backoff (1 ms doubling to 32 ms), so no thread ever touches the loop and a lookup left
 * running at shutdown is simply cancelled or waited for. Addresses are cached for
 * dns_ttl_ms; an expired entry is still used while a refresh runs. */
#include "net/http_client_internal.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const int slot_key;

void hc_wait_push(struct gd_hc_pool *p, struct gd_hc_req *r, int front)
{
    r->wprev = r->wnext = NULL;
    if (front) {
        r->wnext = p->wait_head;
        if (p->wait_head)
            p->wait_head->wprev = r;
        else
            p->wait_tail = r;
        p->wait_head = r;
    } else {
        r->wprev = p->wait_tail;
        if (p->wait_tail)
            p->wait_tail->wnext = r;
        else
            p->wait_head = r;
        p->wait_tail = r;
    }
    r->state = HC_REQ_WAITING;
}

void hc_wait_remove(struct gd_hc_pool *p, struct gd_hc_req *r)
{
    if (r->wprev)
        r->wprev->wnext = r->wnext;
    else
        p->wait_head = r->wnext;
    if (r->wnext)
        r->wnext->wprev = r->wprev;
    else
        p->wait_tail = r->wprev;
    r->wprev = r->wnext = NULL;
}

void hc_dispatch_soon(struct gd_hc_pool *p)
{
    if (p->wait_head)
        gd_loop_defer(p->loop, &p->dispatch);
}

char *hc_read_buf(struct gd_hc_pool *p)
{
    return p->st->rbuf;
}

int hc_conn_watch(struct hc_conn *c, unsigned events)
{
    if (c->io) {
        if (c->watch == events)
            return 0;
        int rc = gd_loop_io_modify(c->pool->loop, c->io, events);
        if (rc == 0)
            c->watch = events;
        return rc;
    }
    int rc = gd_loop_io_add(c->pool->loop, c->fd, events, hc_conn_on_io, c, &c->io);
    if (rc == 0)
        c->watch = events;
    return rc;
}

static void idle_unlink(struct gd_hc_pool *p, struct hc_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        p->idle = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    p->n_idle--;
}

void hc_conn_close(struct hc_conn *c)
{
    struct gd_hc_pool *p = c->pool;
    if (c->state == HC_IDLE)
        idle_unlink(p, c);
    gd_timer_stop(p->loop, &c->timer);
    gd_loop_io_del(p->loop, c->io);
    if (c->fd >= 0)
        close(c->fd);
    gd_buf_free(&c->carry);
    gd_free(c);
    p->n_conns--;
    hc_dispatch_soon(p); /* a slot under max_connections is free */
}

static int arm_connect_timer(struct hc_conn *c);

static void on_conn_timer(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)t;
    struct hc_conn *c = ud;
    const char *detail = NULL;
    if (c->state == HC_IDLE) {
        hc_conn_close(c);
    } else if (c->state == HC_CONNECTING && c->req) {
        /* this address's share of the connect timeout is over: the next one, if any */
        if (c->addr_i + 1 >= c->pool->n_addrs || gd_loop_now_ns(loop) >= c->connect_deadline_ns)
            hc_req_fail(c->req, GD_ETIMEDOUT, "connect timeout");
        else if (c->addr_i++, hc_conn_connect_next(c, &detail) != 0)
            hc_req_fail(c->req, GD_EIO, detail);
    }
}

/* Arms the connect timer for the address being tried: an equal share of what is left of
 * the connect timeout per address left (the last one gets all of it), so that a
 * blackholed first address cannot use up the time of the others. */
static int arm_connect_timer(struct hc_conn *c)
{
    struct gd_hc_pool *p = c->pool;
    if (!c->connect_deadline_ns)
        return 0;
    uint64_t now = gd_loop_now_ns(p->loop), left = p->n_addrs - c->addr_i;
    uint64_t rest = c->connect_deadline_ns > now ? c->connect_deadline_ns - now : 1;
    return gd_timer_start_ns(p->loop, &c->timer, left > 1 ? rest / left : rest);
}

void hc_conn_release(struct hc_conn *c, int reusable)
{
    struct gd_hc_pool *p = c->pool;
    c->req = NULL;
    c->uses++;
    if (!reusable || p->n_idle >= p->max_idle || hc_conn_watch(c, GD_IO_READ) != 0 ||
        gd_timer_start(p->loop, &c->timer, p->idle_timeout_ms) != 0) {
        hc_conn_close(c);
        return;
    }
    gd_buf_free(&c->carry); /* an idle connection holds no buffer */
    c->state = HC_IDLE;
    c->prev = NULL;
    c->next = p->idle;
    if (p->idle)
        p->idle->prev = c;
    p->idle = c;
    p->n_idle++;
    hc_dispatch_soon(p);
}

static const char *connect_error(int e)
{
    switch (e) {
    case ECONNREFUSED:
        return "connection refused";
    case ENETUNREACH:
    case EHOSTUNREACH:
        return "upstream unreachable";
    case ETIMEDOUT:
        return "connect timed out";
    case EMFILE:
    case ENFILE:
        return "out of file descriptors";
    default:
        return "connect failed";
    }
}

int hc_conn_connect_next(struct hc_conn *c, const char **detail)
{
    struct gd_hc_pool *p = c->pool;
    int err = ECONNREFUSED;
    for (; c->addr_i < p->n_addrs; c->addr_i++) {
        if (c->fd >= 0) {
            gd_loop_io_del(p->loop, c->io);
            c->io = NULL;
            close(c->fd);
        }
        const struct sockaddr *sa = (const struct sockaddr *)&p->addrs[c->addr_i];
        c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (c->fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c->fd, sa, p->addr_len[c->addr_i]) != 0 && errno != EINPROGRESS) {
            err = errno;
            continue;
        }
        if (hc_conn_watch(c, GD_IO_WRITE) == 0 && arm_connect_timer(c) == 0)
            return 0;
        err = ENOMEM;
    }
    *detail = connect_error(err);
    return GD_EIO;
}

static struct hc_conn *conn_new(struct gd_hc_pool *p)
{
    struct hc_conn *c = gd_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->pool = p;
    c->fd = -1;
    c->state = HC_CONNECTING;
    gd_timer_init(&c->timer, on_conn_timer, c);
    gd_buf_init(&c->carry, HC_MAX_HEAD + 8192);
    p->n_conns++;
    return c;
}

static struct hc_conn *take_idle(struct gd_hc_pool *p)
{
    struct hc_conn *c = p->idle;
    if (!c)
        return NULL;
    idle_unlink(p, c);
    gd_timer_stop(p->loop, &c->timer);
    c->state = HC_WRITING;
    return c;
}

/* ---- name resolution ---- */

static size_t copy_family(const struct addrinfo *ai, int fam, struct sockaddr_storage *out,
                          socklen_t *len, size_t max)
{
    size_t n = 0;
    for (; ai && n < max; ai = ai->ai_next) {
        if (ai->ai_family != fam || ai->ai_addrlen > sizeof *out)
            continue;
        memcpy(&out[n], ai->ai_addr, ai->ai_addrlen);
        len[n++] = ai->ai_addrlen;
    }
    return n;
}

/* Addresses interleaved by family, the resolver's first family first (RFC 8305 §4). */
static void store_addrs(struct gd_hc_pool *p, const struct addrinfo *res)
{
    struct sockaddr_storage a6[HC_MAX_ADDRS], a4[HC_MAX_ADDRS];
    socklen_t l6[HC_MAX_ADDRS], l4[HC_MAX_ADDRS];
    size_t n6 = copy_family(res, AF_INET6, a6, l6, HC_MAX_ADDRS);
    size_t n4 = copy_family(res, AF_INET, a4, l4, HC_MAX_ADDRS);
    int v6_first = res && res->ai_family == AF_INET6;
    size_t n = 0, i6 = 0, i4 = 0;
    while (n < HC_MAX_ADDRS && (i6 < n6 || i4 < n4)) {
        int take6 = i6 < n6 && (i4 >= n4 || (v6_first ? i6 <= i4 : i6 < i4));
        if (take6) {
            p->addrs[n] = a6[i6];
            p->addr_len[n++] = l6[i6++];
        } else {
            p->addrs[n] = a4[i4];
            p->addr_len[n++] = l4[i4++];
        }
    }
    p->n_addrs = n;
}

static void fail_waiters(struct gd_hc_pool *p, int err, const char *detail)
{
    while (p->wait_head) {
        struct gd_hc_req *r = p->wait_head;
        hc_wait_remove(p, r);
        hc_req_fail(r, err, detail);
    }
}

static void on_dns_timer(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    struct gd_hc_pool *p = ud;
    int e = gai_error(&p->gcb);
    if (e == EAI_INPROGRESS) {
        p->dns_poll_ms = p->dns_poll_ms < 32 ? p->dns_poll_ms * 2 : 32;
        if (gd_timer_start(loop, t, p->dns_poll_ms) == 0)
            return;
        gai_cancel(&p->gcb); /* cannot poll any more: give up on this lookup */
        if ((e = gai_error(&p->gcb)) == EAI_INPROGRESS)
            return; /* still running: stays "resolving" (waiters end by their timeouts) */
    }
    p->resolving = 0;
    if (e == 0) {
        store_addrs(p, p->gcb.ar_result);
        freeaddrinfo(p->gcb.ar_result);
        p->gcb.ar_result = NULL;
        p->addrs_expire_ms = gd_loop_now_ms(loop) + p->dns_ttl_ms;
    }
    if (p->n_addrs == 0) {
        fail_waiters(p, GD_EIO, "DNS lookup of the upstream failed");
        return;
    }
    if (e != 0) /* keep serving the old addresses for a while */
        p->addrs_expire_ms = gd_loop_now_ms(loop) + p->dns_ttl_ms / 4;
    hc_dispatch_soon(p);
}

static int resolve_start(struct gd_hc_pool *p)
{
    if (p->resolving)
        return 0;
    memset(&p->gcb, 0, sizeof p->gcb);
    memset(&p->hints, 0, sizeof p->hints);
    p->hints.ai_family = AF_UNSPEC;
    p->hints.ai_socktype = SOCK_STREAM;
    p->hints.ai_flags = AI_NUMERICSERV; /* no AI_ADDRCONFIG: loopback-only hosts too */
    p->gcb.ar_name = p->host;
    p->gcb.ar_service = p->port_str;
    p->gcb.ar_request = &p->hints;
    struct gaicb *list[1] = {&p->gcb};
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_NONE;
    if (getaddrinfo_a(GAI_NOWAIT, list, 1, &sev) != 0)
        return GD_EIO;
    p->resolving = 1;
    p->dns_poll_ms = 1;
    if (gd_timer_start(p->loop, &p->dns_timer, 1) != 0) {
        gai_cancel(&p->gcb);
        return GD_ENOMEM; /* resolving stays set: freed (and waited for) with the pool */
    }
    return 0;
}

/* ---- dispatch ---- */

static void on_dispatch(struct gd_loop *loop, struct gd_defer *d, void *ud)
{
    (void)loop;
    (void)d;
    struct gd_hc_pool *p = ud;
    if (!p->numeric && (p->n_addrs == 0 || gd_loop_now_ms(p->loop) >= p->addrs_expire_ms) &&
        resolve_start(p) != 0 && p->n_addrs == 0) {
        fail_waiters(p, GD_EIO, "could not start the DNS lookup of the upstream");
        return;
    }
    if (p->n_addrs == 0)
        return; /* the lookup's end dispatches */
    while (p->wait_head) {
        struct gd_hc_req *r = p->wait_head;
        struct hc_conn *c = take_idle(p);
        if (!c && p->n_conns >= p->max_conns)
            return; /* a release or a close dispatches again */
        hc_wait_remove(p, r);
        if (!c && !(c = conn_new(p))) {
            hc_req_fail(r, GD_ENOMEM, "out of memory");
            continue;
        }
        hc_req_attach(r, c);
    }
}

/* ---- pools ---- */

static void pool_free(struct gd_hc_pool *p)
{
    if (p->resolving && gai_cancel(&p->gcb) == EAI_NOTCANCELED) {
        const struct gaicb *list[1] = {&p->gcb};
        while (gai_error(&p->gcb) == EAI_INPROGRESS)
            gai_suspend(list, 1, NULL); /* at loop teardown only */
    }
    if (p->resolving && gai_error(&p->gcb) == 0 && p->gcb.ar_result)
        freeaddrinfo(p->gcb.ar_result);
    gd_timer_stop(p->loop, &p->dns_timer);
    gd_loop_defer_cancel(p->loop, &p->dispatch);
    while (p->idle)
        hc_conn_close(p->idle);
    gd_free(p->key);
    gd_free(p);
}

static void state_free(void *ud)
{
    struct hc_loop_state *st = ud;
    while (st->pools) {
        struct gd_hc_pool *p = st->pools;
        st->pools = p->next;
        pool_free(p);
    }
    gd_free(st->rbuf);
    gd_free(st);
}

static struct hc_loop_state *loop_state(struct gd_loop *loop)
{
    struct hc_loop_state *st = gd_loop_slot_get(loop, &slot_key);
    if (st)
        return st;
    st = gd_calloc(1, sizeof *st);
    if (st && !(st->rbuf = gd_malloc(HC_READ_BUF))) {
        gd_free(st);
        return NULL;
    }
    if (st && gd_loop_slot_set(loop, &slot_key, st, state_free) != 0) {
        gd_free(st->rbuf);
        gd_free(st);
        return NULL;
    }
    return st;
}

static void set_numeric(struct gd_hc_pool *p)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&p->addrs[0];
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&p->addrs[0];
    memset(&p->addrs[0], 0, sizeof p->addrs[0]);
    if (inet_pton(AF_INET, p->host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(p->port);
        p->addr_len[0] = sizeof *v4;
    } else if (inet_pton(AF_INET6, p->host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(p->port);
        p->addr_len[0] = sizeof *v6;
    } else {
        return;
    }
    p->numeric = 1;
    p->n_addrs = 1;
}

static struct gd_hc_pool *pool_new(struct hc_loop_state *st, struct gd_loop *loop, const char *key,
                                   const struct gd_hc_pool_opts *o)
{
    size_t hl = o->host ? strlen(o->host) : 0;
    if (hl == 0 || hl >= sizeof((struct gd_hc_pool *)0)->host)
        return NULL;
    struct gd_hc_pool *p = gd_calloc(1, sizeof *p);
    if (!p || !(p->key = gd_strdup(key))) {
        gd_free(p);
        return NULL;
    }
    p->st = st;
    p->loop = loop;
    memcpy(p->host, o->host, hl + 1);
    p->port = o->port;
    snprintf(p->port_str, sizeof p->port_str, "%u", (unsigned)o->port);
    p->max_conns = o->max_connections ? o->max_connections : 256;
    p->max_idle = o->max_idle < p->max_conns ? o->max_idle : p->max_conns;
    p->idle_timeout_ms = o->idle_timeout_ms ? o->idle_timeout_ms : 30000;
    p->dns_ttl_ms = o->dns_ttl_ms ? o->dns_ttl_ms : 30000;
    gd_timer_init(&p->dns_timer, on_dns_timer, p);
    gd_defer_init(&p->dispatch, on_dispatch, p);
    set_numeric(p);
    return p;
}

struct gd_hc_pool *gd_hc_pool_get(struct gd_loop *loop, const char *key,
                                  const struct gd_hc_pool_opts *o)
{
    struct hc_loop_state *st = loop_state(loop);
    if (!st)
        return NULL;
    for (struct gd_hc_pool *p = st->pools; p; p = p->next)
        if (strcmp(p->key, key) == 0)
            return p;
    struct gd_hc_pool *p = pool_new(st, loop, key, o);
    if (p) {
        p->next = st->pools;
        st->pools = p;
    }
    return p;
}

size_t gd_hc_pool_connections(const struct gd_hc_pool *p)
{
    return p->n_conns;
}

size_t gd_hc_pool_idle(const struct gd_hc_pool *p)
{
    return p->n_idle;
}
