/* The process's reload handler (see reload.h). */
#include "core/reload.h"
#include "girder/error.h"

#include <stdatomic.h>

static _Atomic(gd_reload_handler_fn) handler;

void gd_reload_set_handler(gd_reload_handler_fn fn)
{
    atomic_store(&handler, fn);
}

int gd_reload_request(gd_reload_done_fn done, void *ud)
{
    gd_reload_handler_fn fn = atomic_load(&handler);
    return fn ? fn(done, ud) : GD_ENOTSUP;
}
