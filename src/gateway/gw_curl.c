/* curl multi <-> gd_loop glue (see gw_curl.h). */
#include "gateway/gw_curl.h"
#include "core/alloc.h"
#include "core/log.h"
#include "girder/error.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

/* A socket curl asked us to watch. curl says CURL_POLL_REMOVE whenever a transfer ends and
 * the next transfer on the kept-alive connection asks again: for connection sockets (seen
 * by sockopt_cb, closed through close_cb) the epoll registration stays while the
 * connection idles, saving two epoll_ctl calls per request. An idle socket that reports an
 * event (the upstream closed it) is unwatched then; curl finds the dead connection itself.
 * Other sockets (the resolver's) are unwatched at once: curl closes them directly. */
struct gw_sock {
    struct gd_io *io;
    unsigned char conn; /* a connection socket: close_cb runs before it is closed */
    unsigned char idle; /* no transfer watches it */
};

struct gw_pool {
    char *key;
    CURLM *multi;
    CURLSH *share; /* TLS sessions, shared by the pool's handles: resumed across transfers,
                      and not 5 cached sessions (~920 B) per handle */
    struct gd_loop *loop;
    struct gd_timer timer;
    struct gw_sock *socks; /* by fd */
    size_t n_socks;
    int depth;       /* > 0 while inside curl_multi_* / curl_easy_pause */
    CURL *spare[32]; /* recycled easy handles */
    int n_spare;
    struct gw_pool *next;
};

struct gw_loop_state {
    struct gw_pool *pools;
};

static const int slot_key; /* address identifies our loop slot */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init_once(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : GD_EIO;
}

int gw_curl_global_init(void)
{
    pthread_once(&global_once, global_init_once);
    return global_rc;
}

static void check_done(struct gw_pool *p)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(p->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct gw_xfer *xf = NULL;
        CURLcode res = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&xf);
        if (xf && xf->done)
            xf->done(xf, res);
    }
}

static void socket_action(struct gw_pool *p, curl_socket_t fd, int ev)
{
    int running;
    p->depth++;
    curl_multi_socket_action(p->multi, fd, ev, &running);
    p->depth--;
    if (p->depth == 0)
        check_done(p);
}

/* The slot for fd, grown on demand when grow is set; NULL when out of range or memory. */
static struct gw_sock *sock_slot(struct gw_pool *p, curl_socket_t fd, int grow)
{
    if (fd < 0)
        return NULL;
    size_t i = (size_t)fd;
    if (i >= p->n_socks) {
        if (!grow)
            return NULL;
        size_t n = p->n_socks ? p->n_socks : 64;
        while (n <= i)
            n *= 2;
        struct gw_sock *t = gd_realloc(p->socks, n * sizeof *t);
        if (!t)
            return NULL;
        memset(t + p->n_socks, 0, (n - p->n_socks) * sizeof *t);
        p->socks = t;
        p->n_socks = n;
    }
    return &p->socks[i];
}

static void unwatch(struct gw_pool *p, struct gw_sock *sk)
{
    gd_loop_io_del(p->loop, sk->io);
    sk->io = NULL;
    sk->idle = 0;
}

static void on_io(struct gd_loop *loop, struct gd_io *io, int fd, unsigned events, void *ud)
{
    (void)loop;
    (void)io;
    struct gw_sock *sk = sock_slot(ud, fd, 0);
    if (sk && sk->idle) {
        unwatch(ud, sk);
        return;
    }
    int ev = 0;
    if (events & GD_IO_READ)
        ev |= CURL_CSELECT_IN;
    if (events & GD_IO_WRITE)
        ev |= CURL_CSELECT_OUT;
    if (events & GD_IO_HUP)
        ev |= CURL_CSELECT_ERR | CURL_CSELECT_IN;
    socket_action(ud, fd, ev);
}

static void on_timer(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)loop;
    (void)t;
    socket_action(ud, CURL_SOCKET_TIMEOUT, 0);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    struct gw_pool *p = userp;
    struct gw_sock *sk = sock_slot(p, s, what != CURL_POLL_REMOVE);
    if (what == CURL_POLL_REMOVE) {
        if (sk && sk->io && sk->conn)
            sk->idle = 1;
        else if (sk && sk->io)
            unwatch(p, sk);
        return 0;
    }
    if (!sk)
        return -1;
    unsigned ev = (what & CURL_POLL_IN ? GD_IO_READ : 0) | (what & CURL_POLL_OUT ? GD_IO_WRITE : 0);
    sk->idle = 0;
    if (sk->io)
        return gd_loop_io_modify(p->loop, sk->io, ev) == 0 ? 0 : -1;
    return gd_loop_io_add(p->loop, s, ev, on_io, p, &sk->io) == 0 ? 0 : -1;
}

static int sockopt_cb(void *clientp, curl_socket_t s, curlsocktype purpose)
{
    struct gw_sock *sk = sock_slot(clientp, s, 1);
    if (!sk)
        return CURL_SOCKOPT_ERROR;
    sk->conn = purpose == CURLSOCKTYPE_IPCXN;
    return CURL_SOCKOPT_OK;
}

static int close_cb(void *clientp, curl_socket_t s)
{
    struct gw_sock *sk = sock_slot(clientp, s, 0);
    if (sk) {
        if (sk->io)
            unwatch(clientp, sk);
        sk->conn = 0;
    }
    return close(s);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct gw_pool *p = userp;
    if (timeout_ms < 0) {
        gd_timer_stop(p->loop, &p->timer);
        return 0;
    }
    /* Never call back into curl from here: a 0 ms timer runs on the next loop turn. */
    return gd_timer_start(p->loop, &p->timer, (uint64_t)timeout_ms) == 0 ? 0 : -1;
}

static void pool_free(struct gw_pool *p)
{
    gd_timer_stop(p->loop, &p->timer);
    while (p->n_spare > 0)
        curl_easy_cleanup(p->spare[--p->n_spare]);
    curl_multi_cleanup(p->multi); /* running transfers were removed by their owners */
    curl_share_cleanup(p->share);
    gd_free(p->socks);
    gd_free(p->key);
    gd_free(p);
}

static void state_free(void *ud)
{
    struct gw_loop_state *st = ud;
    while (st->pools) {
        struct gw_pool *p = st->pools;
        st->pools = p->next;
        pool_free(p);
    }
    gd_free(st);
}

static struct gw_pool *pool_new(struct gd_loop *loop, const char *key, long max_connections)
{
    struct gw_pool *p = gd_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->loop = loop;
    p->key = gd_strdup(key);
    p->multi = curl_multi_init();
    p->share = curl_share_init();
    if (!p->key || !p->multi || !p->share ||
        curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
        if (p->multi)
            curl_multi_cleanup(p->multi);
        curl_share_cleanup(p->share);
        gd_free(p->key);
        gd_free(p);
        return NULL;
    }
    gd_timer_init(&p->timer, on_timer, p);
    curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, p);
    curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, p);
    curl_multi_setopt(p->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_connections);
    curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, max_connections);
    return p;
}

struct gw_pool *gw_pool_get(struct gd_loop *loop, const char *key, long max_connections)
{
    struct gw_loop_state *st = gd_loop_slot_get(loop, &slot_key);
    if (!st) {
        st = gd_calloc(1, sizeof *st);
        if (!st || gd_loop_slot_set(loop, &slot_key, st, state_free) != 0) {
            gd_free(st);
            return NULL;
        }
    }
    for (struct gw_pool *p = st->pools; p; p = p->next)
        if (strcmp(p->key, key) == 0)
            return p;
    struct gw_pool *p = pool_new(loop, key, max_connections);
    if (p) {
        p->next = st->pools;
        st->pools = p;
    }
    return p;
}

int gw_pool_add(struct gw_pool *p, struct gw_xfer *xf)
{
    xf->pool = p;
    curl_easy_setopt(xf->easy, CURLOPT_PRIVATE, (char *)xf);
    curl_easy_setopt(xf->easy, CURLOPT_SOCKOPTFUNCTION, sockopt_cb);
    curl_easy_setopt(xf->easy, CURLOPT_SOCKOPTDATA, p);
    curl_easy_setopt(xf->easy, CURLOPT_CLOSESOCKETFUNCTION, close_cb);
    curl_easy_setopt(xf->easy, CURLOPT_CLOSESOCKETDATA, p);
    return curl_multi_add_handle(p->multi, xf->easy) == CURLM_OK ? 0 : GD_EIO;
}

void gw_pool_remove(struct gw_xfer *xf)
{
    if (xf->pool && xf->easy)
        curl_multi_remove_handle(xf->pool->multi, xf->easy);
}

void gw_pool_unpause(struct gw_xfer *xf)
{
    struct gw_pool *p = xf->pool;
    p->depth++;
    curl_easy_pause(xf->easy, CURLPAUSE_CONT);
    p->depth--;
    /* Completions found by the next socket_action, on a fresh loop turn: the caller (a
     * drain callback) must not see its request finish underneath it. */
    gd_timer_start(p->loop, &p->timer, 0);
}

int gw_pool_in_curl(const struct gw_pool *p)
{
    return p->depth > 0;
}

struct gd_loop *gw_pool_loop(const struct gw_pool *p)
{
    return p->loop;
}

CURL *gw_pool_easy_get(struct gw_pool *p)
{
    CURL *e = p->n_spare > 0 ? p->spare[--p->n_spare] : curl_easy_init();
    if (e)
        curl_easy_setopt(e, CURLOPT_SHARE, p->share); /* curl_easy_reset dropped it */
    return e;
}

void gw_pool_easy_put(struct gw_pool *p, CURL *easy)
{
    if (p->n_spare < (int)(sizeof p->spare / sizeof p->spare[0])) {
        curl_easy_reset(easy);
        p->spare[p->n_spare++] = easy;
    } else {
        curl_easy_cleanup(easy);
    }
}
