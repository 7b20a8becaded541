/* Deployments on this girder's own models (provider `type: local`): the gateway's
 * embeddings requests answered by the model server in process (serve/ms_local.h), with
 * the alias's routing, retries, fallbacks, breakers and governance around them.
 *
 * Threading: attempts on their request's loop thread; gw_local_link on the main thread
 * before the router is handed to a site. */
#ifndef GD_GATEWAY_GW_LOCAL_H
#define GD_GATEWAY_GW_LOCAL_H

#include "gateway/gw_runtime.h"
#include "net/http.h"

struct gw_req;

/* Prepares req's local attempt state once. */
void gw_local_init(struct gw_req *req);
/* Starts req's attempt on its local deployment: 0, or GD_EINVAL with req->xl_err set (the
 * request is not an embeddings request), or GD_E*. The answer comes through
 * gw_req_attempt_done, never from inside this call. */
int gw_local_attempt_start(struct gw_req *req);
/* Cancels the running local attempt (its answer is dropped). */
void gw_local_attempt_stop(struct gw_req *req);

/* Connects rt to the model server behind router: every local deployment must name one of
 * its embedding models (else the reason is logged and GD_EINVAL returned), and the served
 * models join GET /v1/models. 0 or GD_E*. */
int gw_local_link(struct gw_runtime *rt, const struct gd_http_router *router);
/* 1 when name is one of the model server's models listed by /v1/models. */
int gw_local_model_listed(const struct gw_runtime *rt, const char *name);

#endif
