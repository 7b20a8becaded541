/* The event loop: one per thread, built on epoll (level-triggered; see docs/server.md).
 *
 * A loop watches file descriptors (struct gd_io), runs one-shot timers kept in a binary
 * min-heap with a back index (O(log n) start/stop, so thousands of connection timeouts cost
 * little), runs functions posted from other threads (an eventfd wakes it up), and runs
 * deferred calls once at the end of the iteration that queued them (output flushes: the
 * writes a batch of events produces leave in one syscall).
 *
 * Threading: everything here must be called from the loop's own thread, except
 * gd_loop_post() and gd_loop_stop(), which any thread may call. Callbacks run on the loop
 * thread. A callback is never called after the call that registered it failed, and never
 * after the watch/timer was removed (removal is safe from inside any callback).
 *
 * Ownership: the loop owns struct gd_io handles (freed by gd_loop_io_del or gd_loop_free);
 * struct gd_timer is caller-owned storage (embed it in your object), the loop only links it.
 */
#ifndef GD_NET_LOOP_H
#define GD_NET_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct gd_loop;
struct gd_io;

/* Event bits for gd_loop_io_add/modify, and reported to callbacks. GD_IO_HUP is only
 * reported (peer closed or socket error: EPOLLHUP/EPOLLERR/EPOLLRDHUP); watching for it is
 * implicit. */
enum gd_io_events { GD_IO_READ = 1, GD_IO_WRITE = 2, GD_IO_HUP = 4 };

typedef void (*gd_io_fn)(struct gd_loop *loop, struct gd_io *io, int fd, unsigned events, void *ud);

/* Creates a loop (epoll fd + eventfd). Errors: GD_EIO (errno kept), GD_ENOMEM. */
int gd_loop_new(struct gd_loop **out);
/* Frees the loop and every remaining io handle (fds are NOT closed: they belong to the
 * caller), runs slot destructors. Timers still armed are simply unlinked. Not from inside
 * gd_loop_run. NULL is a no-op. */
void gd_loop_free(struct gd_loop *loop);
/* Runs until gd_loop_stop(). Returns 0, or GD_EIO when epoll_wait fails (not EINTR). */
int gd_loop_run(struct gd_loop *loop);
/* Makes gd_loop_run return after the current iteration. Thread-safe. */
void gd_loop_stop(struct gd_loop *loop);

/* Watches fd for events (GD_IO_READ|GD_IO_WRITE, may be 0 to only hear GD_IO_HUP).
 * *out receives the handle. Errors: GD_EINVAL, GD_ENOMEM, GD_EIO (epoll_ctl failed). */
int gd_loop_io_add(struct gd_loop *loop, int fd, unsigned events, gd_io_fn cb, void *ud,
                   struct gd_io **out);
/* Changes the watched events (no syscall when unchanged). Errors: GD_EIO. */
int gd_loop_io_modify(struct gd_loop *loop, struct gd_io *io, unsigned events);
/* Stops watching and frees the handle; the fd stays open (close it after). Safe inside the
 * handle's own callback and others': a pending event for it is dropped. NULL is a no-op. */
void gd_loop_io_del(struct gd_loop *loop, struct gd_io *io);

/* ---- timers ---- */
struct gd_timer;
typedef void (*gd_timer_fn)(struct gd_loop *loop, struct gd_timer *t, void *ud);

struct gd_timer {
    uint64_t due_ns; /* absolute CLOCK_MONOTONIC deadline while armed */
    uint64_t seq;    /* tie-breaker: timers due at the same time fire in start order */
    size_t heap_idx; /* position in the loop's heap, SIZE_MAX when not armed */
    gd_timer_fn cb;
    void *ud;
};

/* Initialises caller-owned timer storage (not armed). */
void gd_timer_init(struct gd_timer *t, gd_timer_fn cb, void *ud);
/* Arms (or re-arms: an armed timer is moved) t to fire once, delay_ms from the loop's cached
 * now. The callback runs once; it may re-arm the timer. Errors: GD_ENOMEM (heap growth). */
int gd_timer_start(struct gd_loop *loop, struct gd_timer *t, uint64_t delay_ms);
/* Same with nanosecond precision. */
int gd_timer_start_ns(struct gd_loop *loop, struct gd_timer *t, uint64_t delay_ns);
/* Disarms t (no-op when not armed). The storage may be freed afterwards. */
void gd_timer_stop(struct gd_loop *loop, struct gd_timer *t);
static inline int gd_timer_active(const struct gd_timer *t)
{
    return t->heap_idx != (size_t)-1;
}

/* ---- deferred calls: run once, at the end of the current iteration ---- */
struct gd_defer;
typedef void (*gd_defer_fn)(struct gd_loop *loop, struct gd_defer *d, void *ud);

struct gd_defer {
    struct gd_defer *prev, *next; /* in the loop's queue while queued */
    int queued;
    gd_defer_fn cb;
    void *ud;
};

/* Initialises caller-owned storage (not queued). */
void gd_defer_init(struct gd_defer *d, gd_defer_fn cb, void *ud);
/* Queues d to run after this iteration's events and timers (no-op when already queued).
 * A call queued from a deferred callback runs in the same drain. Never fails. */
void gd_loop_defer(struct gd_loop *loop, struct gd_defer *d);
/* Unqueues d (no-op when not queued); the storage may be freed afterwards. */
void gd_loop_defer_cancel(struct gd_loop *loop, struct gd_defer *d);

/* ---- cross-thread calls ---- */
typedef void (*gd_loop_fn)(struct gd_loop *loop, void *ud);
/* Queues fn(loop, ud) to run on the loop thread soon (FIFO). Thread-safe; callable from
 * the loop thread too (runs on the next iteration, never re-entrantly). Errors: GD_ENOMEM
 * (fn will not run), GD_ECLOSED (loop is being freed). */
int gd_loop_post(struct gd_loop *loop, gd_loop_fn fn, void *ud);

/* Loop-cached clock, refreshed once per iteration (cheap; use for timestamps and timeouts). */
uint64_t gd_loop_now_ns(const struct gd_loop *loop);
uint64_t gd_loop_now_ms(const struct gd_loop *loop);
/* Refreshes the cached clock now (after long work inside a callback). */
void gd_loop_update_time(struct gd_loop *loop);

/* ---- per-loop slots: a module's per-thread state (e.g. a curl multi handle) ----
 * key is the address of any static object of the module (unique per process). At most
 * GD_LOOP_MAX_SLOTS keys per loop. set: Errors GD_ELIMIT. dtor (may be NULL) runs at
 * gd_loop_free, on the loop thread's caller, in reverse order of first set. */
enum { GD_LOOP_MAX_SLOTS = 16 };
int gd_loop_slot_set(struct gd_loop *loop, const void *key, void *value, void (*dtor)(void *));
void *gd_loop_slot_get(const struct gd_loop *loop, const void *key);

/* Index given by the creator (0..threads-1 in `girder serve`); default 0. */
void gd_loop_set_index(struct gd_loop *loop, int index);
int gd_loop_index(const struct gd_loop *loop);

#endif
