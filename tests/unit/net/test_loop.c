/* Event loop: timer ordering, cancel, re-arm, thousands of timers, fd watches, deferred calls,
 * posts from other threads. */
#include "girder/error.h"
#include "net/loop.h"
#include "core/clock.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rec {
    int order[64];
    int n;
    struct gd_loop *loop;
    int stop_after;
};

struct tmr {
    struct gd_timer t;
    struct rec *r;
    int id;
};

static void record_cb(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)t;
    struct tmr *m = ud;
    m->r->order[m->r->n++] = m->id;
    if (m->r->n == m->r->stop_after)
        gd_loop_stop(loop);
}

Test(loop, timers_fire_in_deadline_order)
{
    struct gd_loop *loop;
    cr_assert_eq(gd_loop_new(&loop), 0);
    struct rec r = {.stop_after = 4};
    struct tmr t[5];
    int delays[5] = {30, 10, 20, 10, 5};
    for (int i = 0; i < 5; i++) {
        t[i] = (struct tmr){.r = &r, .id = i};
        gd_timer_init(&t[i].t, record_cb, &t[i]);
        cr_assert_eq(gd_timer_start(loop, &t[i].t, (uint64_t)delays[i]), 0);
    }
    gd_timer_stop(loop, &t[2].t); /* cancelled: never fires */
    cr_assert_not(gd_timer_active(&t[2].t));
    cr_assert_eq(gd_loop_run(loop), 0);
    int want[4] = {4, 1, 3, 0}; /* equal deadlines keep start order */
    cr_assert_eq(r.n, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(r.order[i], want[i], "pos %d: %d", i, r.order[i]);
    gd_loop_free(loop);
}

Test(loop, rearm_moves_timer)
{
    struct gd_loop *loop;
    cr_assert_eq(gd_loop_new(&loop), 0);
    struct rec r = {.stop_after = 2};
    struct tmr a = {.r = &r, .id = 1}, b = {.r = &r, .id = 2};
    gd_timer_init(&a.t, record_cb, &a);
    gd_timer_init(&b.t, record_cb, &b);
    gd_timer_start(loop, &a.t, 5);
    gd_timer_start(loop, &b.t, 10);
    gd_timer_start(loop, &a.t, 20); /* re-armed later than b */
    gd_loop_run(loop);
    cr_assert_eq(r.order[0], 2);
    cr_assert_eq(r.order[1], 1);
    gd_loop_free(loop);
}

struct many {
    struct gd_timer t;
    uint64_t due;
    uint64_t *last;
    int *fired;
    int *bad;
    int total;
};

static void many_cb(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)t;
    struct many *m = ud;
    if (m->due < *m->last)
        (*m->bad)++;
    *m->last = m->due;
    if (++*m->fired == m->total)
        gd_loop_stop(loop);
}

Test(loop, thousands_of_timers_with_cancels)
{
    enum { N = 20000 };
    struct gd_loop *loop;
    cr_assert_eq(gd_loop_new(&loop), 0);
    struct many *m = calloc(N, sizeof *m);
    uint64_t last = 0;
    int fired = 0, bad = 0;
    srand(42);
    for (int i = 0; i < N; i++) {
        m[i].due = (uint64_t)(rand() % 200);
        m[i].last = &last;
        m[i].fired = &fired;
        m[i].bad = &bad;
        m[i].total = N / 2;
        gd_timer_init(&m[i].t, many_cb, &m[i]);
        cr_assert_eq(gd_timer_start(loop, &m[i].t, m[i].due), 0);
    }
    for (int i = 1; i < N; i += 2) /* cancel every other one, from the middle of the heap */
        gd_timer_stop(loop, &m[i].t);
    gd_loop_run(loop);
    cr_assert_eq(fired, N / 2);
    cr_assert_eq(bad, 0, "%d timers fired out of deadline order", bad);
    for (int i = 0; i < N; i++)
        cr_assert_not(gd_timer_active(&m[i].t));
    gd_loop_free(loop);
    free(m);
}

struct pipe_ctx {
    int got;
    char buf[16];
};

static void pipe_cb(struct gd_loop *loop, struct gd_io *io, int fd, unsigned ev, void *ud)
{
    struct pipe_ctx *p = ud;
    if (ev & GD_IO_READ) {
        ssize_t n = read(fd, p->buf, sizeof p->buf);
        p->got += (int)n;
    }
    gd_loop_io_del(loop, io); /* deleting itself inside the callback is allowed */
    gd_loop_stop(loop);
}

Test(loop, io_watch_reports_readable)
{
    struct gd_loop *loop;
    cr_assert_eq(gd_loop_new(&loop), 0);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    struct pipe_ctx p = {0};
    struct gd_io *io;
    cr_assert_eq(gd_loop_io_add(loop, fds[0], GD_IO_READ, pipe_cb, &p, &io), 0);
    cr_assert_eq(write(fds[1], "hey", 3), 3);
    gd_loop_run(loop);
    cr_assert_eq(p.got, 3);
    close(fds[0]);
    close(fds[1]);
    gd_loop_free(loop);
}

struct post_ctx {
    struct gd_loop *loop;
    int count;
};

static void post_fn(struct gd_loop *loop, void *ud)
{
    struct post_ctx *p = ud;
    if (++p->count == 1000)
        gd_loop_stop(loop);
}

static void *poster(void *ud)
{
    struct post_ctx *p = ud;
    for (int i = 0; i < 500; i++)
        gd_loop_post(p->loop, post_fn, p);
    return NULL;
}

Test(loop, post_from_threads)
{
    struct gd_loop *loop;
    cr_assert_eq(gd_loop_new(&loop), 0);
    struct post_ctx p = {.loop = loop};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, poster, &p);
    gd_loop_run(loop);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(p.count, 1000);
    gd_loop_free(loop);
}

static int dtor_calls;
static void slot_dtor(void *p)
{
    (void)p;
    dtor_calls++;
}

Test(loop, slots_and_index)
{
    static int key_a, key_b;
    struct gd_loop *loop;
    cr_assert_eq(gd_loop_new(&loop), 0);
    cr_assert_null(gd_loop_slot_get(loop, &key_a));
    cr_assert_eq(gd_loop_slot_set(loop, &key_a, &key_b, slot_dtor), 0);
    cr_assert_eq(gd_loop_slot_get(loop, &key_a), &key_b);
    gd_loop_set_index(loop, 3);
    cr_assert_eq(gd_loop_index(loop), 3);
    dtor_calls = 0;
    gd_loop_free(loop);
    cr_assert_eq(dtor_calls, 1);
}

/* ---- deferred calls ---- */
struct dfr {
    struct gd_defer d;
    struct rec *r;
    int id;
    struct dfr *chain; /* queued from inside this callback */
};

static void defer_cb(struct gd_loop *loop, struct gd_defer *d, void *ud)
{
    (void)d;
    struct dfr *f = ud;
    f->r->order[f->r->n++] = f->id;
    if (f->chain)
        gd_loop_defer(loop, &f->chain->d);
}

static void queue_defers_cb(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)t;
    struct dfr *f = ud;
    gd_loop_defer(loop, &f[0].d);
    gd_loop_defer(loop, &f[1].d);
    gd_loop_defer(loop, &f[0].d); /* already queued: runs once */
    gd_loop_defer(loop, &f[2].d);
    gd_loop_defer_cancel(loop, &f[1].d);
    f[0].r->order[f[0].r->n++] = 100; /* the timer itself runs first */
}

static void stop_cb(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)t, (void)ud;
    gd_loop_stop(loop);
}

Test(loop, deferred_calls_run_once_after_the_iteration)
{
    struct gd_loop *loop;
    cr_assert_eq(gd_loop_new(&loop), 0);
    struct rec r = {0};
    struct dfr f[4];
    for (int i = 0; i < 4; i++) {
        f[i] = (struct dfr){.r = &r, .id = i};
        gd_defer_init(&f[i].d, defer_cb, &f[i]);
    }
    f[2].chain = &f[3]; /* queued during the drain: same drain */
    struct gd_timer t, stop;
    gd_timer_init(&t, queue_defers_cb, f);
    gd_timer_init(&stop, stop_cb, NULL);
    cr_assert_eq(gd_timer_start(loop, &t, 1), 0);
    cr_assert_eq(gd_timer_start(loop, &stop, 30), 0);
    cr_assert_eq(gd_loop_run(loop), 0);
    int want[4] = {100, 0, 2, 3};
    cr_assert_eq(r.n, 4, "ran %d", r.n);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(r.order[i], want[i], "pos %d: %d", i, r.order[i]);
    cr_assert_not(f[1].d.queued);
    gd_loop_free(loop);
}

static void defer_stop_cb(struct gd_loop *loop, struct gd_defer *d, void *ud)
{
    (void)d, (void)ud;
    gd_loop_stop(loop);
}

Test(loop, deferred_call_queued_before_run_does_not_block)
{
    struct gd_loop *loop;
    cr_assert_eq(gd_loop_new(&loop), 0);
    struct gd_defer d;
    gd_defer_init(&d, defer_stop_cb, NULL);
    gd_loop_defer(loop, &d); /* nothing else would wake the loop for 10 s */
    struct gd_timer late;
    gd_timer_init(&late, stop_cb, NULL);
    cr_assert_eq(gd_timer_start(loop, &late, 10000), 0);
    uint64_t t0 = gd_mono_ns();
    cr_assert_eq(gd_loop_run(loop), 0);
    cr_assert_lt(gd_mono_ns() - t0, 2000000000ull, "the loop slept with a deferred call queued");
    gd_loop_free(loop);
}
