/* Local-model deployments (gw_local.h). */
#include "gateway/gw_local.h"
#include "gateway/gw_req.h"
#include "core/clock.h"
#include "core/json_write.h"
#include "core/log.h"
#include "girder/error.h"
#include "serve/ms_local.h"

#include <stdio.h>
#include <string.h>

/* The model server's answer: the attempt ends as an upstream's would. A 503 (not ready,
 * queue full) keeps the deployment aside for a second, as an upstream's Retry-After. */
static void deliver(struct gw_req *req)
{
    struct gd_gw_attempt_result r = {req->status >= 400 ? GD_GW_OUTCOME_HTTP : GD_GW_OUTCOME_OK,
                                     req->status, req->status == 503 ? 1000u : 0u, 0};
    req->got_first_byte = 1;
    req->first_byte_ns = gd_mono_ns();
    gw_req_set_ctype(req, "application/json", 16);
    gw_attempt_stop(req);
    gw_req_attempt_done(req, &r, req->too_large ? "answer too large" : NULL);
}

static void on_done(void *ud, int status, const char *body, size_t len)
{
    struct gw_req *req = ud;
    req->local_call = NULL;
    req->status = status;
    gd_buf_reset(&req->resp);
    if (gd_buf_append(&req->resp, body, len) != 0) {
        req->too_large = 1;
        req->status = 500;
    }
    deliver(req);
}

/* A refusal (req->resp holds its error body) is answered from the loop, not from inside
 * gw_attempt_start, like any upstream's. */
static void on_refused(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)loop;
    (void)t;
    deliver(ud);
}

void gw_local_init(struct gw_req *req)
{
    gd_timer_init(&req->local_timer, on_refused, req);
}

int gw_local_attempt_start(struct gw_req *req)
{
    const struct gd_gw_deployment_cfg *dc = &req->rt->gc->aliases[req->alias].deployments[req->dep];
    const struct gd_ms_local *svc = req->rt->local;
    if (req->kind != GW_KIND_EMBEDDINGS) {
        gw_req_refuse(req,
                      "model `%.120s` is served by the local model `%.120s`, which answers "
                      "embeddings only",
                      req->alias_name, dc->model);
        return GD_EINVAL;
    }
    if (!svc) /* gw_local_link refused such a config: unreachable */
        return GD_ENOENT;
    int rc = gw_attempt_splice_body(req);
    if (rc)
        return rc;
    req->attempt_start_ns = gd_mono_ns();
    req->status = svc->embed(svc->self, req->loop, req->body.data, req->body.len,
                             req->attempt_start_ns, on_done, req, &req->local_call, &req->resp);
    if (req->status && (rc = gd_timer_start(req->loop, &req->local_timer, 0)) != 0)
        return rc;
    req->active = 1;
    return 0;
}

void gw_local_attempt_stop(struct gw_req *req)
{
    gd_timer_stop(req->loop, &req->local_timer);
    if (req->local_call)
        req->rt->local->cancel(req->local_call);
    req->local_call = NULL;
}

static int check_deployments(const struct gw_runtime *rt, const struct gd_ms_local *svc)
{
    int rc = 0;
    for (size_t i = 0; i < rt->gc->n_aliases; i++)
        for (size_t k = 0; k < rt->gc->aliases[i].n_deployments; k++) {
            const struct gd_gw_deployment_cfg *dc = &rt->gc->aliases[i].deployments[k];
            if (rt->gc->providers[dc->provider].type != GD_GW_PROVIDER_LOCAL ||
                (svc && svc->find(svc->self, dc->model)))
                continue;
            gd_logf(GD_LOG_ERROR,
                    "msg=\"a local deployment names no local embedding model\" alias=\"%s\" "
                    "model=\"%s\" hint=\"serve it in the serving: section, with embedding:\"",
                    rt->gc->aliases[i].alias, dc->model);
            rc = GD_EINVAL;
        }
    return rc;
}

/* Appends one served model, unless an alias of the same name hides it. */
static int list_model(void *ud, const char *name, int embedding)
{
    (void)embedding;
    struct gw_runtime *rt = ud;
    if (gd_gw_config_find_alias(rt->gc, name, strlen(name)) >= 0)
        return 0;
    struct gd_buf *b = &rt->models_json;
    int rc = b->data[b->len - 1] == '[' ? 0 : gd_buf_putc(b, ',');
    return rc ? rc : gw_model_object(rt->gc, -1, name, b);
}

int gw_local_link(struct gw_runtime *rt, const struct gd_http_router *router)
{
    const struct gd_ms_local *svc = gd_http_router_service(router, GD_MS_LOCAL_SERVICE);
    int rc = check_deployments(rt, svc);
    if (rc || !svc)
        return rc;
    rt->local = svc;
    struct gd_buf *b = &rt->models_json; /* {"object":"list","data":[...]} */
    b->len -= 2;
    rc = svc->each(svc->self, list_model, rt);
    return rc ? rc : gd_buf_puts(b, "]}");
}

static int is_named(void *ud, const char *name, int embedding)
{
    (void)embedding;
    return strcmp(ud, name) == 0;
}

int gw_local_model_listed(const struct gw_runtime *rt, const char *name)
{
    return rt->local && gd_gw_config_find_alias(rt->gc, name, strlen(name)) < 0 &&
           rt->local->each(rt->local->self, is_named, (void *)name);
}
