/* Local model serving: the Open Inference Protocol (KServe v2) REST routes of `girder serve`.
 *
 *   GET  /v2                                   server metadata
 *   GET  /v2/health/live, /v2/health/ready     200 or 400 (not ready)
 *   GET  /v2/models/{m}[/versions/{v}]         model metadata
 *   GET  /v2/models/{m}[/versions/{v}]/ready   model readiness
 *   POST /v2/models/{m}[/versions/{v}]/infer   inference (JSON tensors)
 *
 * served from the `serving:` section (ms_config.h); docs/serving.md has the details.
 * Inference runs on each model's worker threads (ms_runtime.h): loop threads only decode,
 * queue and answer, never wait.
 *
 * Threading: the routes' state is shared read-only by every loop thread. */
#ifndef GD_SERVE_MODEL_SERVER_H
#define GD_SERVE_MODEL_SERVER_H

#include "core/config.h"
#include "net/http.h"

/* Loads every model of cfg's serving section, starts their workers and registers the
 * routes (the models are freed with the router). With no serving section nothing is
 * registered and 0 returned. A model that fails to load is logged with the reason and the
 * registration fails (start-up or reload is refused). Call on the main thread. Errors:
 * the engine's (GD_EINVAL for a malformed model, GD_ENOTSUP, GD_EIO, ...), GD_ENOMEM. */
int gd_ms_routes_register(struct gd_http_router *router, const struct gd_config *cfg);

#endif
