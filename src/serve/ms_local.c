/* The local-models service (ms_local.h) over the routes' embedding models. */
#include "serve/ms_local.h"
#include "serve/ms_routes_internal.h"
#include "core/alloc.h"
#include "girder/error.h"
#include "net/http.h"

#include <string.h>

struct local_call {
    struct ms_routes *routes; /* alive while the caller waits: its exchange holds the router */
    struct ms_model_view *view;
    struct gd_ms_job *job;
    gd_ms_local_done_fn done; /* NULL once cancelled */
    void *ud;
};

static int find(void *self, const char *name)
{
    struct ms_group *g = gd__ms_group_named(self, name, strlen(name));
    for (size_t i = 0; g && i < g->cfg->n; i++)
        if (g->views[i].embed)
            return 1;
    return 0;
}

static int each(void *self, int (*fn)(void *ud, const char *name, int embedding), void *ud)
{
    const struct ms_routes *r = self;
    for (size_t i = 0; i < r->n_groups; i++) {
        int embedding = 0;
        for (size_t k = 0; k < r->groups[i].cfg->n; k++)
            embedding |= r->groups[i].views[k].embed != NULL;
        int rc = fn(ud, r->groups[i].cfg->name, embedding);
        if (rc)
            return rc;
    }
    return 0;
}

/* The loop thread (or, for a dropped job, whichever thread dropped it: then the caller has
 * cancelled long before, see ms_local.h, and only c and the job are touched). */
static void on_done(struct gd_ms_job *job, void *ud)
{
    struct local_call *c = ud;
    if (job->status && c->done) {
        gd__ms_observe(c->routes, c->view, job);
        c->done(c->ud, job->status, job->body.data, job->body.len);
    }
    gd_ms_job_free(job);
    gd_free(c);
}

static int embed(void *self, struct gd_loop *loop, const char *body, size_t len, uint64_t start_ns,
                 gd_ms_local_done_fn done, void *ud, void **call, struct gd_buf *refusal)
{
    struct ms_routes *r = self;
    struct ms_model_view *v;
    struct gd_ms_job *job;
    struct ms_refusal f;
    int status = gd__ms_embed_job(r, body, len, start_ns, &v, &job, &f);
    struct local_call *c = status ? NULL : gd_malloc(sizeof *c);
    if (c) {
        *c = (struct local_call){r, v, job, done, ud};
        int rc = gd_ms_submit(loop, job, on_done, c);
        if (rc == 0) {
            *call = c;
            return 0;
        }
        gd_free(c);
        gd_ms_job_free(job);
        gd__ms_refusal_of(r, v, rc, &f);
        status = f.status;
    } else if (!status) {
        gd_ms_job_free(job);
        f = (struct ms_refusal){500, "server_error", NULL, 0, "out of memory"};
        status = 500;
    }
    if (gd_http_json_error_body(refusal, f.type, f.code, f.msg) != 0)
        gd_buf_reset(refusal);
    return status;
}

static void cancel(void *call)
{
    struct local_call *c = call;
    c->done = NULL;
    gd_ms_job_cancel(c->job);
}

int gd__ms_local_provide(struct gd_http_router *router, struct ms_routes *r,
                         struct gd_ms_local *svc)
{
    *svc = (struct gd_ms_local){r, find, each, embed, cancel};
    return gd_http_router_provide(router, GD_MS_LOCAL_SERVICE, svc);
}
