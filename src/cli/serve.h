/* Shared between `girder serve` (cmd_serve.c), its built-in routes (routes_builtin.c) and
 * its metrics/access-log observer (serve_observe.c). Not a library API. */
#ifndef GD_CLI_SERVE_H
#define GD_CLI_SERVE_H

#include "core/config.h"
#include "net/http.h"

#include <stdatomic.h>

struct gd_access_log;
struct gd_loop;
struct gd_metrics;

/* Process-wide state of the running server, set up before loop threads start. */
struct gd_serve_state {
    atomic_int ready;    /* listeners up and config loaded: /readyz answers 200 */
    atomic_int draining; /* SIGTERM/SIGINT received: /readyz answers 503 */
    struct gd_metrics *metrics;
    struct gd_access_log *_Atomic access_log; /* NULL when disabled */
};
extern struct gd_serve_state gd_serve;

/* A module's route registration: called once per router built (startup and each SIGHUP
 * reload) with the config that router will serve. Handlers' ud must be thread-safe (every
 * loop thread shares the router); free per-router state with gd_http_router_add_cleanup. */
typedef int (*gd_serve_routes_fn)(struct gd_http_router *router, const struct gd_config *cfg);

/* /healthz, /readyz, metrics path, and the test-only /debug/... routes when
 * cfg->debug_routes is true (docs/server.md). */
int gd_serve_builtin_routes_register(struct gd_http_router *router, const struct gd_config *cfg);

/* Registers the HTTP metric families (idempotent). Returns 0 or GD_E*. */
int gd_serve_observe_init(struct gd_metrics *m);
/* The gd_http_observer callbacks feeding metrics and the access log. */
void gd_serve_request_done(void *ud, const struct gd_http_completion *c);
void gd_serve_connections(void *ud, int delta);
/* serve_trace.c: the finished request's span(s), when tracing samples it. */
void gd_serve_trace_request(const struct gd_http_completion *c);

/* serve_memory.c: a timer on the main loop that gives freed heap memory back to the kernel
 * after a load spike (malloc_trim when RSS is far above what malloc has in use). */
void gd_serve_memory_start(struct gd_loop *loop);
void gd_serve_memory_stop(struct gd_loop *loop);

#endif
