/* hiredis on girder's loop (see gov_redis_loop.h). */
#include "gateway/gov_redis_loop.h"
#include "core/alloc.h"
#include "girder/error.h"
#include "net/loop.h"

struct rl_ev {
    struct gd_loop *loop;
    redisAsyncContext *ac;
    struct gd_io *io;
    unsigned events;
    int in_cb; /* inside on_io: cleanup must not free yet */
    int dead;  /* cleanup ran */
};

static void set_events(struct rl_ev *e, unsigned events)
{
    if (e->dead || events == e->events)
        return;
    e->events = events;
    if (e->io)
        (void)gd_loop_io_modify(e->loop, e->io, events); /* GD_EIO: the fd is gone */
}

static void rl_add_read(void *p)
{
    struct rl_ev *e = p;
    set_events(e, e->events | GD_IO_READ);
}
static void rl_del_read(void *p)
{
    struct rl_ev *e = p;
    set_events(e, e->events & ~(unsigned)GD_IO_READ);
}
static void rl_add_write(void *p)
{
    struct rl_ev *e = p;
    set_events(e, e->events | GD_IO_WRITE);
}
static void rl_del_write(void *p)
{
    struct rl_ev *e = p;
    set_events(e, e->events & ~(unsigned)GD_IO_WRITE);
}

static void rl_cleanup(void *p)
{
    struct rl_ev *e = p;
    if (e->dead)
        return;
    e->dead = 1;
    gd_loop_io_del(e->loop, e->io);
    e->io = NULL;
    if (!e->in_cb)
        gd_free(e);
}

static void on_io(struct gd_loop *loop, struct gd_io *io, int fd, unsigned events, void *ud)
{
    (void)loop;
    (void)io;
    (void)fd;
    struct rl_ev *e = ud;
    e->in_cb = 1;
    /* a hang-up is read: hiredis then sees the error or EOF and disconnects */
    if (events & (GD_IO_READ | GD_IO_HUP))
        redisAsyncHandleRead(e->ac);
    if (!e->dead && (events & GD_IO_WRITE))
        redisAsyncHandleWrite(e->ac);
    e->in_cb = 0;
    if (e->dead)
        gd_free(e);
}

int gd_redis_loop_attach(redisAsyncContext *ac, struct gd_loop *loop)
{
    if (ac->ev.data)
        return GD_EINVAL;
    struct rl_ev *e = gd_calloc(1, sizeof *e);
    if (!e)
        return GD_ENOMEM;
    e->loop = loop;
    e->ac = ac;
    int rc = gd_loop_io_add(loop, ac->c.fd, 0, on_io, e, &e->io);
    if (rc != 0) {
        gd_free(e);
        return rc;
    }
    ac->ev.addRead = rl_add_read;
    ac->ev.delRead = rl_del_read;
    ac->ev.addWrite = rl_add_write;
    ac->ev.delWrite = rl_del_write;
    ac->ev.cleanup = rl_cleanup;
    ac->ev.data = e;
    return 0;
}
