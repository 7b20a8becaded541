/* A module's request that the process reload its config, as SIGHUP does, with the outcome
 * reported back: how an HTTP route such as the model server's /v2/repository/models/{m}/load
 * answers only once the change has taken effect. `girder serve` installs the handler
 * (cmd_serve.c); without one (other commands, unit tests) requests fail with GD_ENOTSUP.
 *
 * Threading: gd_reload_request may be called from any thread; done runs exactly once, on the
 * thread that runs reloads (serve's main thread), after every loop thread serves new requests
 * with the new config (rc 0) or when the reload failed (rc < 0: the previous config stays).
 * It must not block. */
#ifndef GD_CORE_RELOAD_H
#define GD_CORE_RELOAD_H

typedef void (*gd_reload_done_fn)(void *ud, int rc);
/* Queues a reload; returns 0 (done will run) or an error (done will not run). */
typedef int (*gd_reload_handler_fn)(gd_reload_done_fn done, void *ud);

/* Installs (or with NULL removes) the process's handler. */
void gd_reload_set_handler(gd_reload_handler_fn fn);
/* Errors: GD_ENOTSUP (no handler), the handler's errors (GD_ENOMEM). */
int gd_reload_request(gd_reload_done_fn done, void *ud);

#endif
