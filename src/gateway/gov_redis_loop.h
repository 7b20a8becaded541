/* A hiredis async adapter for girder's event loop (net/loop.h): the context's socket is
 * watched through a gd_io, and hiredis' addRead/delRead/addWrite/delWrite/cleanup hooks
 * change what is watched. hiredis 0.14 has no timer hook: callers time commands out with
 * their own loop timers (gov_redis.c).
 *
 * Threading: the context and the loop belong to one loop thread.
 * Ownership: the adapter state is owned by the context (freed through cleanup when the
 * context is freed or disconnects). */
#ifndef GD_GATEWAY_GOV_REDIS_LOOP_H
#define GD_GATEWAY_GOV_REDIS_LOOP_H

#include <hiredis/async.h>

struct gd_loop;

/* Attaches ac (just created by redisAsyncConnect*) to loop. 0, GD_ENOMEM or GD_EIO. On
 * error the caller still owns ac (redisAsyncFree it). */
int gd_redis_loop_attach(redisAsyncContext *ac, struct gd_loop *loop);

#endif
