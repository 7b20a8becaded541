/* Explicit model control, Triton's repository extension: POST /v2/repository/models/{m}/load
 * and .../unload, and the process-wide state they change.
 *
 * An unload marks the model name unloaded and reloads the config (core/reload.h, SIGHUP's
 * path): every build of the model server's runtime from then on keeps that model "not
 * loaded" (no engine, no workers, memory released when the last request on the old config
 * ends) until a load. A load clears the mark and reloads, which also re-reads the
 * repository (new versions, new model folders). Both answer once every loop serves the
 * new config: 200 with an empty body, or an error naming the model and the reason. The
 * marks outlive config reloads and repository polls; a restart forgets them.
 *
 * Threading: any thread (a mutex guards the state); the route handler on loop threads. */
#ifndef GD_SERVE_MS_CONTROL_H
#define GD_SERVE_MS_CONTROL_H

#include "net/http.h"

#include <stddef.h>

/* 1 when name was unloaded by request (and not loaded again since). */
int gd_ms_control_unloaded(const char *name);

/* Publishes what the newest runtime build serves: per model name, NULL when at least one
 * of its versions loaded, else why none did (copied). Called by each successful build. */
int gd_ms_control_publish(const char *const *names, const char *const *errors, size_t n);
/* Records a build that failed, with its error (copied), for the load request waiting on it. */
void gd_ms_control_build_failed(const char *err);

/* POST /v2/repository/models/{m}/load|unload (route ud unused). */
void gd_ms_control_on_request(struct gd_http_exchange *x, void *ud);

#endif
