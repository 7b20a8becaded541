/* Internal to the model server's routes (model_server.h): the state the route files share.
 * ms_routes.c: inference, embeddings and registration; ms_routes_meta.c: metadata, health
 * and the repository index; ms_routes_select.c: which model version a request goes to. */
#ifndef GD_SERVE_MS_ROUTES_INTERNAL_H
#define GD_SERVE_MS_ROUTES_INTERNAL_H

#include "core/buf.h"
#include "core/config.h"
#include "net/http.h"
#include "obs/metrics.h"
#include "serve/ms_embed.h"
#include "serve/ms_local.h"
#include "serve/ms_probe.h"
#include "serve/ms_repo.h"
#include "serve/ms_runtime.h"

#include <stddef.h>

struct ms_metrics {
    struct gd_counter_vec *requests, *fallbacks;
    struct gd_histogram_vec *queue, *compute, *batch;
    struct gd_gauge_vec *depth, *ready;
};

struct ms_group;

/* Per model version: what the routes precompute (metadata body, version string, metric
 * children). */
struct ms_model_view {
    struct gd_ms_model *model;
    struct ms_group *group;
    char version[24];
    struct gd_buf meta; /* GET /v2/models/{m} body */
    struct gd_histogram *queue, *compute, *batch;
    struct gd_gauge *depth, *ready;
    struct gd_ms_embedder *embed; /* also on /v1/embeddings */
};

/* A served name: its versions (ascending), canary split and fallback (ms_config.h). */
struct ms_group {
    const struct gd_ms_group_cfg *cfg;
    struct ms_model_view *views; /* [cfg->n] */
    struct ms_group *fallback;   /* NULL: none */
    struct gd_counter *fallbacks;
};

struct ms_routes {
    struct gd_config *cfg; /* referenced: the runtime points into its serving section */
    struct ms_group *groups;
    size_t n_groups;
    struct gd_ms_runtime *rt;
    struct gd_ms_prober *prober;    /* the models' health probes */
    struct gd_ms_repo_poller *poll; /* NULL: the repository is not polled */
    struct ms_model_view *views;
    size_t n_views;
    struct ms_metrics metrics;
    struct gd_buf server_meta;
    size_t n_embed;           /* views with an embedder */
    struct gd_ms_local local; /* the gateway's way in (ms_local.c) */
};

enum action { ACT_META, ACT_READY, ACT_INFER };

struct model_path {
    struct gd_slice name, version; /* version.n == 0: not given */
    enum action act;
};

/* A request the model server will not queue: the answer to give, in OpenAI's shape
 * (type, code) or the protocol's ({"error": msg}). */
struct ms_refusal {
    int status;
    const char *type, *code; /* code NULL: none */
    int retry_after;         /* 1: answer Retry-After: 1 */
    char msg[512];
};

/* ---- the embeddings route (ms_routes.c) ---- */
/* The job for an OpenAI embeddings body, ready to submit, and its model version (*vout,
 * NULL when the body names no local embedding model): 0, or the HTTP status of the
 * refusal in f (counted in the model's metrics when *vout is set). */
int gd__ms_embed_job(struct ms_routes *r, const char *body, size_t len, uint64_t start_ns,
                     struct ms_model_view **vout, struct gd_ms_job **jout, struct ms_refusal *f);
/* The refusal of a request v's model cannot take (rc GD_EAGAIN: queue full, with
 * Retry-After; else out of memory), counted. */
void gd__ms_refusal_of(struct ms_routes *r, struct ms_model_view *v, int rc, struct ms_refusal *f);
/* A finished job in v's metrics: queue depth, queue/compute time, batch size, status. */
void gd__ms_observe(struct ms_routes *r, struct ms_model_view *v, const struct gd_ms_job *job);

/* Provides r's embedding models to the gateway (ms_local.c) as svc. 0 or GD_E*. */
int gd__ms_local_provide(struct gd_http_router *router, struct ms_routes *r,
                         struct gd_ms_local *svc);

/* ---- answers and state (ms_routes_meta.c) ---- */
void gd__ms_respond_json(struct gd_http_exchange *x, int status, const struct gd_buf *b);
void gd__ms_respond_error(struct gd_http_exchange *x, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Counts an answer in girder_inference_requests_total. */
void gd__ms_count(struct ms_routes *r, const struct ms_model_view *v, int status);
/* 1 when v's model can serve: loaded and passing its health probe; else why. */
int gd__ms_view_ready(const struct ms_routes *r, const struct ms_model_view *v, char *why,
                      size_t whylen);
/* The router's readiness check: every required model ready. */
int gd__ms_routes_ready(void *ud, char *why, size_t whylen);
/* v->meta: GET /v2/models/{m} body. */
int gd__ms_build_model_meta(struct ms_model_view *v);
void gd__ms_on_server_meta(struct gd_http_exchange *x, void *ud);
void gd__ms_on_live(struct gd_http_exchange *x, void *ud);
void gd__ms_on_ready(struct gd_http_exchange *x, void *ud);
void gd__ms_on_repository_index(struct gd_http_exchange *x, void *ud);

/* ---- version selection (ms_routes_select.c) ---- */
struct ms_group *gd__ms_group_named(struct ms_routes *r, const char *name, size_t n);
/* The version an unversioned request goes to (roll: let the canary have its share). */
struct ms_model_view *gd__ms_pick_version(const struct ms_routes *r, struct ms_group *g, int roll);
/* The model version a /v2/models/... path (and x-girder-model-version) names, or NULL
 * after answering 404. */
struct ms_model_view *gd__ms_resolve(struct gd_http_exchange *x, struct ms_routes *r,
                                     struct model_path *mp);

#endif
