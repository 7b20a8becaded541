/* Event loop: epoll (level-triggered) + a timer min-heap + an eventfd-driven post queue.
 *
 * Level-triggered was chosen over edge-triggered because the HTTP server deliberately
 * stops reading a connection while its request is in flight (pipelining answered in
 * order, bounded buffers): with level triggering, re-enabling GD_IO_READ later is enough
 * to get the pending bytes reported, no "remember to drain until EAGAIN" bookkeeping.
 * Interest changes are cached per handle so an unchanged mask costs no syscall.
 *
 * Deleting a handle from inside a callback must not leave a dangling pointer in the batch
 * of events epoll_wait returned: deleted handles are marked dead and parked on a list that
 * is freed after the batch. */
#include "net/loop.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "girder/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define HEAP_NONE ((size_t)-1)
enum { MAX_EVENTS = 256 };

struct gd_io {
    int fd;
    unsigned events; /* current interest (GD_IO_*) */
    int dead;
    gd_io_fn cb;
    void *ud;
    struct gd_io *next_dead;
};

struct post_item {
    gd_loop_fn fn;
    void *ud;
    struct post_item *next;
};

struct slot {
    const void *key;
    void *value;
    void (*dtor)(void *);
};

struct gd_loop {
    int epfd;
    int evfd;
    atomic_int stop;
    int index;
    uint64_t now_ns;
    uint64_t timer_seq;
    struct gd_timer **heap;
    size_t heap_len, heap_cap;
    struct gd_io *dead; /* handles deleted during the current batch */
    struct gd_defer *defer_head, *defer_tail;
    struct gd_io *wake_io;
    pthread_mutex_t post_mu;
    struct post_item *post_head, *post_tail;
    int closing;
    struct slot slots[GD_LOOP_MAX_SLOTS];
    int n_slots;
};

static void wake_cb(struct gd_loop *loop, struct gd_io *io, int fd, unsigned ev, void *ud);

int gd_loop_new(struct gd_loop **out)
{
    struct gd_loop *loop = gd_calloc(1, sizeof *loop);
    if (!loop)
        return GD_ENOMEM;
    loop->evfd = -1;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        goto fail;
    loop->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->evfd < 0)
        goto fail;
    pthread_mutex_init(&loop->post_mu, NULL);
    loop->now_ns = gd_mono_ns();
    if (gd_loop_io_add(loop, loop->evfd, GD_IO_READ, wake_cb, NULL, &loop->wake_io) != 0) {
        pthread_mutex_destroy(&loop->post_mu);
        goto fail;
    }
    *out = loop;
    return 0;
fail:
    if (loop->evfd >= 0)
        close(loop->evfd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    gd_free(loop);
    return GD_EIO;
}

static void free_dead(struct gd_loop *loop)
{
    while (loop->dead) {
        struct gd_io *io = loop->dead;
        loop->dead = io->next_dead;
        gd_free(io);
    }
}

void gd_loop_free(struct gd_loop *loop)
{
    if (!loop)
        return;
    pthread_mutex_lock(&loop->post_mu);
    loop->closing = 1;
    struct post_item *p = loop->post_head;
    loop->post_head = loop->post_tail = NULL;
    pthread_mutex_unlock(&loop->post_mu);
    while (p) {
        struct post_item *n = p->next;
        gd_free(p);
        p = n;
    }
    for (int i = loop->n_slots - 1; i >= 0; i--)
        if (loop->slots[i].dtor)
            loop->slots[i].dtor(loop->slots[i].value);
    for (size_t i = 0; i < loop->heap_len; i++)
        loop->heap[i]->heap_idx = HEAP_NONE;
    gd_free(loop->heap);
    gd_loop_io_del(loop, loop->wake_io);
    free_dead(loop);
    close(loop->evfd);
    close(loop->epfd);
    pthread_mutex_destroy(&loop->post_mu);
    gd_free(loop);
}

/* ---- fd watches ---- */

static uint32_t to_epoll(unsigned events)
{
    uint32_t e = EPOLLRDHUP;
    if (events & GD_IO_READ)
        e |= EPOLLIN;
    if (events & GD_IO_WRITE)
        e |= EPOLLOUT;
    return e;
}

int gd_loop_io_add(struct gd_loop *loop, int fd, unsigned events, gd_io_fn cb, void *ud,
                   struct gd_io **out)
{
    if (fd < 0 || !cb || (events & ~(unsigned)(GD_IO_READ | GD_IO_WRITE)))
        return GD_EINVAL;
    struct gd_io *io = gd_calloc(1, sizeof *io);
    if (!io)
        return GD_ENOMEM;
    io->fd = fd;
    io->events = events;
    io->cb = cb;
    io->ud = ud;
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        gd_free(io);
        return GD_EIO;
    }
    *out = io;
    return 0;
}

int gd_loop_io_modify(struct gd_loop *loop, struct gd_io *io, unsigned events)
{
    if (io->dead || (events & ~(unsigned)(GD_IO_READ | GD_IO_WRITE)))
        return GD_EINVAL;
    if (io->events == events)
        return 0;
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) != 0)
        return GD_EIO;
    io->events = events;
    return 0;
}

void gd_loop_io_del(struct gd_loop *loop, struct gd_io *io)
{
    if (!io || io->dead)
        return;
    /* The fd may already be closed by a careless caller: ignore the error. */
    (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->dead = 1;
    io->next_dead = loop->dead;
    loop->dead = io;
}

/* ---- timers: binary min-heap ordered by (due_ns, seq), each timer knows its index ---- */

static int timer_less(const struct gd_timer *a, const struct gd_timer *b)
{
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void heap_set(struct gd_loop *loop, size_t i, struct gd_timer *t)
{
    loop->heap[i] = t;
    t->heap_idx = i;
}

static void heap_up(struct gd_loop *loop, size_t i)
{
    struct gd_timer *t = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_less(t, loop->heap[parent]))
            break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void heap_down(struct gd_loop *loop, size_t i)
{
    struct gd_timer *t = loop->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= loop->heap_len)
            break;
        if (c + 1 < loop->heap_len && timer_less(loop->heap[c + 1], loop->heap[c]))
            c++;
        if (!timer_less(loop->heap[c], t))
            break;
        heap_set(loop, i, loop->heap[c]);
        i = c;
    }
    heap_set(loop, i, t);
}

void gd_timer_init(struct gd_timer *t, gd_timer_fn cb, void *ud)
{
    t->due_ns = 0;
    t->seq = 0;
    t->heap_idx = HEAP_NONE;
    t->cb = cb;
    t->ud = ud;
}

void gd_timer_stop(struct gd_loop *loop, struct gd_timer *t)
{
    size_t i = t->heap_idx;
    if (i == HEAP_NONE)
        return;
    t->heap_idx = HEAP_NONE;
    struct gd_timer *last = loop->heap[--loop->heap_len];
    if (i == loop->heap_len)
        return;
    heap_set(loop, i, last);
    if (i > 0 && timer_less(last, loop->heap[(i - 1) / 2]))
        heap_up(loop, i);
    else
        heap_down(loop, i);
}

int gd_timer_start_ns(struct gd_loop *loop, struct gd_timer *t, uint64_t delay_ns)
{
    gd_timer_stop(loop, t);
    if (loop->heap_len == loop->heap_cap) {
        size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64, bytes;
        if (gd_size_mul(cap, sizeof *loop->heap, &bytes) != 0)
            return GD_ENOMEM;
        struct gd_timer **h = gd_realloc(loop->heap, bytes);
        if (!h)
            return GD_ENOMEM;
        loop->heap = h;
        loop->heap_cap = cap;
    }
    t->due_ns = delay_ns > UINT64_MAX - loop->now_ns ? UINT64_MAX : loop->now_ns + delay_ns;
    t->seq = loop->timer_seq++;
    loop->heap[loop->heap_len] = t;
    t->heap_idx = loop->heap_len++;
    heap_up(loop, t->heap_idx);
    return 0;
}

int gd_timer_start(struct gd_loop *loop, struct gd_timer *t, uint64_t delay_ms)
{
    uint64_t ns = delay_ms > UINT64_MAX / 1000000u ? UINT64_MAX : delay_ms * 1000000u;
    return gd_timer_start_ns(loop, t, ns);
}

/* Fires every timer due at the cached now. A callback that re-arms with delay 0 lands
 * after now only on the next iteration's refreshed clock, so this cannot spin. */
static void run_timers(struct gd_loop *loop)
{
    uint64_t now = loop->now_ns, seq0 = loop->timer_seq;
    while (loop->heap_len > 0 && loop->heap[0]->due_ns <= now) {
        struct gd_timer *t = loop->heap[0];
        if (t->seq >= seq0) /* armed during this pass (due == now): next iteration */
            break;
        gd_timer_stop(loop, t);
        t->cb(loop, t, t->ud);
    }
}

static int next_timeout_ms(const struct gd_loop *loop)
{
    if (loop->defer_head)
        return 0;
    if (loop->heap_len == 0)
        return -1;
    uint64_t due = loop->heap[0]->due_ns, now = gd_mono_ns();
    if (due <= now)
        return 0;
    uint64_t ms = (due - now + 999999u) / 1000000u;
    return ms > 3600000u ? 3600000 : (int)ms;
}

/* ---- posting from other threads ---- */

int gd_loop_post(struct gd_loop *loop, gd_loop_fn fn, void *ud)
{
    struct post_item *p = gd_malloc(sizeof *p);
    if (!p)
        return GD_ENOMEM;
    p->fn = fn;
    p->ud = ud;
    p->next = NULL;
    pthread_mutex_lock(&loop->post_mu);
    if (loop->closing) {
        pthread_mutex_unlock(&loop->post_mu);
        gd_free(p);
        return GD_ECLOSED;
    }
    if (loop->post_tail)
        loop->post_tail->next = p;
    else
        loop->post_head = p;
    loop->post_tail = p;
    pthread_mutex_unlock(&loop->post_mu);
    uint64_t one = 1;
    ssize_t w = write(loop->evfd, &one, sizeof one); /* EAGAIN: counter saturated, fine */
    (void)w;
    return 0;
}

static void wake_cb(struct gd_loop *loop, struct gd_io *io, int fd, unsigned ev, void *ud)
{
    (void)io, (void)ev, (void)ud;
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r;
    pthread_mutex_lock(&loop->post_mu);
    struct post_item *p = loop->post_head;
    loop->post_head = loop->post_tail = NULL;
    pthread_mutex_unlock(&loop->post_mu);
    while (p) {
        struct post_item *n = p->next;
        p->fn(loop, p->ud);
        gd_free(p);
        p = n;
    }
}

void gd_loop_stop(struct gd_loop *loop)
{
    atomic_store(&loop->stop, 1);
    uint64_t one = 1;
    ssize_t w = write(loop->evfd, &one, sizeof one);
    (void)w;
}

/* ---- running ---- */

static void dispatch(struct gd_loop *loop, struct epoll_event *evs, int n)
{
    for (int i = 0; i < n; i++) {
        struct gd_io *io = evs[i].data.ptr;
        if (io->dead)
            continue;
        unsigned e = 0;
        if (evs[i].events & (EPOLLIN | EPOLLPRI))
            e |= GD_IO_READ;
        if (evs[i].events & EPOLLOUT)
            e |= GD_IO_WRITE;
        if (evs[i].events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))
            e |= GD_IO_HUP;
        io->cb(loop, io, io->fd, e, io->ud);
    }
}

void gd_defer_init(struct gd_defer *d, gd_defer_fn cb, void *ud)
{
    d->prev = d->next = NULL;
    d->queued = 0;
    d->cb = cb;
    d->ud = ud;
}

void gd_loop_defer(struct gd_loop *loop, struct gd_defer *d)
{
    if (d->queued)
        return;
    d->queued = 1;
    d->next = NULL;
    d->prev = loop->defer_tail;
    if (loop->defer_tail)
        loop->defer_tail->next = d;
    else
        loop->defer_head = d;
    loop->defer_tail = d;
}

void gd_loop_defer_cancel(struct gd_loop *loop, struct gd_defer *d)
{
    if (!d->queued)
        return;
    if (d->prev)
        d->prev->next = d->next;
    else
        loop->defer_head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        loop->defer_tail = d->prev;
    d->prev = d->next = NULL;
    d->queued = 0;
}

static void run_deferred(struct gd_loop *loop)
{
    struct gd_defer *d;
    while ((d = loop->defer_head)) {
        gd_loop_defer_cancel(loop, d);
        d->cb(loop, d, d->ud);
    }
}

int gd_loop_run(struct gd_loop *loop)
{
    struct epoll_event evs[MAX_EVENTS];
    atomic_store(&loop->stop, 0);
    while (!atomic_load(&loop->stop)) {
        int n = epoll_wait(loop->epfd, evs, MAX_EVENTS, next_timeout_ms(loop));
        if (n < 0 && errno != EINTR)
            return GD_EIO;
        loop->now_ns = gd_mono_ns();
        if (n > 0)
            dispatch(loop, evs, n);
        free_dead(loop);
        run_timers(loop);
        run_deferred(loop);
        free_dead(loop);
    }
    return 0;
}

uint64_t gd_loop_now_ns(const struct gd_loop *loop)
{
    return loop->now_ns;
}

uint64_t gd_loop_now_ms(const struct gd_loop *loop)
{
    return loop->now_ns / 1000000u;
}

void gd_loop_update_time(struct gd_loop *loop)
{
    loop->now_ns = gd_mono_ns();
}

int gd_loop_slot_set(struct gd_loop *loop, const void *key, void *value, void (*dtor)(void *))
{
    for (int i = 0; i < loop->n_slots; i++)
        if (loop->slots[i].key == key) {
            loop->slots[i].value = value;
            loop->slots[i].dtor = dtor;
            return 0;
        }
    if (loop->n_slots == GD_LOOP_MAX_SLOTS)
        return GD_ELIMIT;
    loop->slots[loop->n_slots++] = (struct slot){key, value, dtor};
    return 0;
}

void *gd_loop_slot_get(const struct gd_loop *loop, const void *key)
{
    for (int i = 0; i < loop->n_slots; i++)
        if (loop->slots[i].key == key)
            return loop->slots[i].value;
    return NULL;
}

void gd_loop_set_index(struct gd_loop *loop, int index)
{
    loop->index = index;
}

int gd_loop_index(const struct gd_loop *loop)
{
    return loop->index;
}
