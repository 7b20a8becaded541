/* The OpenAI-compatible LLM gateway: routes for `girder serve`.
 *
 * POST /v1/chat/completions, /v1/completions, /v1/embeddings and GET /v1/models, served
 * from the `providers:` / `models:` sections (gw_config.h). A request's top-level fields
 * are scanned without building a tree, its alias resolved to a deployment by the alias's
 * strategy (router.h) skipping open circuit breakers (breaker.h), the body forwarded with
 * only "model" spliced, and the answer relayed — SSE streams event by event with
 * backpressure — retrying and falling back per plan.h. docs/gateway.md has the details.
 *
 * Threading: the routes' state is shared by every loop thread (per-alias routing state
 * under a mutex); upstream transfers run on the loop thread of their client connection. */
#ifndef GD_GATEWAY_GATEWAY_H
#define GD_GATEWAY_GATEWAY_H

#include "core/config.h"
#include "net/http.h"

/* Registers the gateway routes on router for cfg (a reference to cfg is kept until the
 * router is freed). With no gateway section in cfg nothing is registered and 0 returned.
 * Call on the main thread before the router is handed to a site. Errors: GD_ENOMEM, GD_EIO
 * (libcurl initialisation), GD_EEXIST (routes already present). */
int gd_gw_routes_register(struct gd_http_router *router, const struct gd_config *cfg);

/* After every module registered its routes: connects the gateway to the model server's
 * local models behind the same router (provider `type: local`, gw_local.h). With no
 * gateway section, 0. Errors: GD_EINVAL (a local deployment names no local embedding
 * model: logged), GD_ENOMEM. */
int gd_gw_routes_link(struct gd_http_router *router, const struct gd_config *cfg);

#endif
