/* Open Inference Protocol REST routes (see model_server.h). */
#include "serve/model_server.h"
#include "serve/ms_routes_internal.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/json_write.h"
#include "core/log.h"
#include "girder/error.h"
#include "serve/ms_control.h"
#include "serve/ms_infer_req.h"
#include "serve/ms_tensor_json.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_RESPONSE_BYTES ((size_t)64 << 20)

static void on_model_get(struct gd_http_exchange *x, void *ud)
{
    struct ms_routes *r = ud;
    struct model_path mp;
    struct ms_model_view *v = gd__ms_resolve(x, r, &mp);
    if (!v)
        return;
    if (mp.act == ACT_INFER) {
        gd_http_set_header(x, "Allow", "POST");
        gd__ms_respond_error(x, 405, "infer takes POST");
    } else if (mp.act == ACT_READY) {
        struct gd_buf b;
        gd_buf_init(&b, 1024);
        const char *name = gd_ms_model_cfg(v->model)->name;
        char why[400];
        int ready = gd__ms_view_ready(r, v, why, sizeof why);
        if (gd_buf_puts(&b, "{\"name\":") || gd_json_put_str(&b, name, strlen(name)) ||
            gd_buf_puts(&b, ready ? ",\"ready\":true" : ",\"ready\":false,\"reason\":") ||
            (!ready && gd_json_put_str(&b, why, strlen(why))) || gd_buf_putc(&b, '}'))
            gd__ms_respond_error(x, 500, "out of memory");
        else
            gd__ms_respond_json(x, ready ? 200 : 400, &b); /* the protocol: 4xx means "not ready" */
        gd_buf_free(&b);
    } else {
        gd__ms_respond_json(x, 200, &v->meta);
    }
}

struct pending {
    struct gd_http_exchange *x; /* NULL once the client is gone */
    struct ms_routes *routes;
    struct ms_model_view *view;
    struct gd_ms_job *job; /* alive until on_done */
    int hops;              /* fallbacks taken so far */
};

static void infer_on(struct gd_http_exchange *x, struct ms_routes *r, struct ms_model_view *v,
                     int hops);

/* v could not answer (not ready, overloaded, deadline, engine failure): its model's
 * fallback takes the request, when it has one. 1 when it did. */
static int try_fallback(struct gd_http_exchange *x, struct ms_routes *r,
                        const struct ms_model_view *v, int status, int hops)
{
    struct ms_group *fb = v->group->fallback;
    if (!fb || hops >= (int)r->n_groups || (status != 500 && status != 503 && status != 504))
        return 0;
    gd_counter_inc(v->group->fallbacks);
    gd_http_log_field_str(x, "fallback_from", v->group->cfg->name);
    infer_on(x, r, gd__ms_pick_version(r, fb, 1), hops + 1);
    return 1;
}

void gd__ms_observe(struct ms_routes *r, struct ms_model_view *v, const struct gd_ms_job *job)
{
    gd_gauge_set(v->depth, (double)gd_ms_model_queue_depth(v->model));
    gd_histogram_observe(v->queue, (double)job->queue_ns / 1e9);
    if (job->batch) { /* it ran */
        gd_histogram_observe(v->compute, (double)job->compute_ns / 1e9);
        gd_histogram_observe(v->batch, job->batch);
    }
    gd__ms_count(r, v, job->status);
}

static void on_client_gone(struct gd_http_exchange *x, void *ud)
{
    (void)x;
    struct pending *p = ud;
    p->x = NULL;
    gd_ms_job_cancel(p->job); /* nobody waits for it: don't spend a worker on it */
}

/* Loop thread: the worker finished (or refused) the job. The routes outlive it: the
 * exchange holds the router while it is alive, and when it is gone (or the job was
 * dropped, on whatever thread) nothing but the job and p is touched. */
static void on_done(struct gd_ms_job *job, void *ud)
{
    struct pending *p = ud;
    struct gd_http_exchange *x = job->status ? p->x : NULL; /* status 0: dropped */
    if (x) {
        struct ms_model_view *v = p->view;
        gd_http_on_close(x, NULL, NULL);
        if (try_fallback(x, p->routes, v, job->status, p->hops)) {
            gd__ms_count(p->routes, v, job->status);
            gd_free(p);
            gd_ms_job_free(job);
            return;
        }
        gd__ms_observe(p->routes, v, job);
        gd_http_log_field_i64(x, "queue_us", (int64_t)(job->queue_ns / 1000));
        gd_http_log_field_i64(x, "compute_us", (int64_t)(job->compute_ns / 1000));
        if (job->batch)
            gd_http_log_field_i64(x, "batch", job->batch);
        gd_http_set_header(x, "X-Girder-Model", gd_ms_model_cfg(v->model)->name);
        gd_http_set_header(x, "X-Girder-Model-Version", v->version);
        if (job->binary_header_len) { /* JSON, then the binary outputs */
            char n[24];
            snprintf(n, sizeof n, "%zu", job->binary_header_len);
            gd_http_set_header(x, "Inference-Header-Content-Length", n);
            gd_http_respond(x, job->status, "application/octet-stream", job->body.data,
                            job->body.len);
        } else {
            gd__ms_respond_json(x, job->status, &job->body);
        }
    }
    gd_free(p);
    gd_ms_job_free(job);
}

/* Inference-Header-Content-Length (binary tensor data extension): where the JSON ends. */
static int binary_header_len(const struct gd_http_request *req, size_t *json_len, char *err,
                             size_t errlen)
{
    const struct gd_slice *h = gd_http_request_header(req, "Inference-Header-Content-Length");
    if (!h)
        return 0;
    size_t v = 0, i = 0;
    for (; i < h->n && h->p[i] >= '0' && h->p[i] <= '9' && v <= req->body_len; i++)
        v = v * 10 + (size_t)(h->p[i] - '0');
    if (i == 0 || i != h->n || v > req->body_len)
        return snprintf(err, errlen,
                        "Inference-Header-Content-Length must be a byte count within the body's "
                        "%zu bytes",
                        req->body_len),
               GD_EINVAL;
    *json_len = v;
    return 0;
}

/* A batched model's request: every input has the same dimension 0, within max_batch_size. */
static int check_batch(const struct gd_ms_model_cfg *c, const struct gd_ms_job *job, char *err,
                       size_t errlen)
{
    int64_t rows = job->inputs[0].dims[0];
    for (int i = 0; i < job->n_inputs; i++)
        if (job->inputs[i].dims[0] != rows)
            return snprintf(err, errlen, "input '%s': batch dimension is %lld, input '%s' has %lld",
                            job->names[i], (long long)job->inputs[i].dims[0], job->names[0],
                            (long long)rows),
                   GD_EINVAL;
    if (rows > c->max_batch_size)
        return snprintf(err, errlen, "batch of %lld exceeds the model's max_batch_size (%u)",
                        (long long)rows, c->max_batch_size),
               GD_EINVAL;
    return 0;
}

static uint64_t deadline_of(const struct gd_ms_model_cfg *c, const struct gd_ms_infer_req *ir,
                            uint64_t start_ns)
{
    uint64_t d = c->timeout_ms ? start_ns + c->timeout_ms * 1000000ull : 0;
    if (ir->timeout_us > 0 && c->allow_request_timeout) {
        uint64_t rd = start_ns + (uint64_t)ir->timeout_us * 1000ull;
        if (!d || rd < d)
            d = rd;
    }
    return d;
}

void gd__ms_refusal_of(struct ms_routes *r, struct ms_model_view *v, int rc, struct ms_refusal *f)
{
    const struct gd_ms_model_cfg *c = gd_ms_model_cfg(v->model);
    *f = (struct ms_refusal){rc == GD_EAGAIN ? 503 : 500, "server_error", NULL, rc == GD_EAGAIN,
                             "out of memory"};
    gd__ms_count(r, v, f->status);
    if (rc == GD_EAGAIN)
        snprintf(f->msg, sizeof f->msg,
                 "model '%s' is overloaded: its queue is full (at most %u requests and %llu "
                 "bytes of inputs)",
                 c->name, c->max_queue, (unsigned long long)c->max_queue_bytes);
}

static void respond_refusal(struct gd_http_exchange *x, const struct ms_refusal *f, int openai)
{
    if (f->retry_after)
        gd_http_set_header(x, "Retry-After", "1");
    if (openai)
        gd_http_respond_json_error(x, f->status, f->type, f->code, f->msg);
    else
        gd__ms_respond_error(x, f->status, "%s", f->msg);
}

/* Answers 503 with Retry-After (queue full) or 500 (out of memory) for v's model. */
static void respond_refused(struct gd_http_exchange *x, struct ms_routes *r,
                            struct ms_model_view *v, int rc, int openai)
{
    struct ms_refusal f;
    gd__ms_refusal_of(r, v, rc, &f);
    respond_refusal(x, &f, openai);
}

/* Queues job for v's model and answers when it is done (or at once: 503 when the queue is
 * full, with Retry-After). Takes job. */
static void submit(struct gd_http_exchange *x, struct ms_routes *r, struct ms_model_view *v,
                   struct gd_ms_job *job, int hops)
{
    int openai = job->openai_errors;
    struct pending *p = gd_malloc(sizeof *p);
    if (p)
        *p = (struct pending){x, r, v, job, hops};
    int rc = p ? gd_ms_submit(gd_http_exchange_loop(x), job, on_done, p) : GD_ENOMEM;
    if (rc) {
        gd_free(p);
        gd_ms_job_free(job);
        if (openai || !try_fallback(x, r, v, rc == GD_EAGAIN ? 503 : 500, hops))
            respond_refused(x, r, v, rc, openai);
        return;
    }
    gd_gauge_set(v->depth, (double)gd_ms_model_queue_depth(v->model));
    gd_http_on_close(x, on_client_gone, p);
}

static void on_model_post(struct gd_http_exchange *x, void *ud)
{
    struct ms_routes *r = ud;
    struct model_path mp;
    struct ms_model_view *v = gd__ms_resolve(x, r, &mp);
    if (!v)
        return;
    if (mp.act != ACT_INFER) {
        gd_http_set_header(x, "Allow", "GET, HEAD");
        gd__ms_respond_error(x, 405, "only .../infer takes POST");
        return;
    }
    infer_on(x, r, v, 0);
}

/* Decodes the request for v's model and queues it; a model that cannot take it (not
 * ready, queue full) hands it to its fallback, if any. */
static void infer_on(struct gd_http_exchange *x, struct ms_routes *r, struct ms_model_view *v,
                     int hops)
{
    const struct gd_http_request *req = gd_http_exchange_request(x);
    const struct gd_ms_model_cfg *c = gd_ms_model_cfg(v->model);
    char why[400];
    if (!gd__ms_view_ready(r, v, why, sizeof why)) {
        gd__ms_count(r, v, 503);
        if (!try_fallback(x, r, v, 503, hops))
            gd__ms_respond_error(x, 503, "%s", why);
        return;
    }
    if (gd_ms_model_queue_full(v->model)) { /* before paying for the body's decoding */
        if (!try_fallback(x, r, v, 503, hops))
            respond_refused(x, r, v, GD_EAGAIN, 0);
        else
            gd__ms_count(r, v, 503);
        return;
    }
    struct gd_ms_job *job = gd_ms_job_new(v->model, MAX_RESPONSE_BYTES);
    if (!job) {
        gd__ms_respond_error(x, 500, "out of memory");
        return;
    }
    char err[512];
    struct gd_ms_infer_req ir;
    size_t json_len = req->body_len;
    int rc = binary_header_len(req, &json_len, err, sizeof err);
    if (!rc)
        rc = gd_ms_infer_parse(gd_ms_model_engine(v->model), req->body, req->body_len, json_len,
                               job, &ir, err, sizeof err);
    if (!rc && c->max_batch_size)
        rc = check_batch(c, job, err, sizeof err);
    if (rc) {
        gd_ms_job_free(job);
        gd__ms_count(r, v, rc == GD_EINVAL ? 400 : 500);
        gd__ms_respond_error(x, rc == GD_EINVAL ? 400 : 500, "%s",
                             rc == GD_EINVAL ? err : "out of memory");
        return;
    }
    job->deadline_ns = deadline_of(c, &ir, req->start_ns);
    submit(x, r, v, job, hops);
}

int gd__ms_embed_job(struct ms_routes *r, const char *body, size_t len, uint64_t start_ns,
                     struct ms_model_view **vout, struct gd_ms_job **jout, struct ms_refusal *f)
{
    *f = (struct ms_refusal){400, "invalid_request_error", NULL, 0, "out of memory"};
    *vout = NULL;
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(root) || !cJSON_IsString(jm)) {
        cJSON_Delete(root);
        snprintf(f->msg, sizeof f->msg, "%s",
                 root ? "the body must be a JSON object with a string 'model'"
                      : "the body is not valid JSON");
        return f->status;
    }
    struct ms_group *g = gd__ms_group_named(r, jm->valuestring, strlen(jm->valuestring));
    struct ms_model_view *v = g ? gd__ms_pick_version(r, g, 1) : NULL;
    if (!v || !v->embed) {
        *f = (struct ms_refusal){404, "invalid_request_error", "model_not_found", 0, ""};
        snprintf(f->msg, sizeof f->msg, "The model '%.200s' is not a local embedding model",
                 jm->valuestring);
        cJSON_Delete(root);
        return f->status;
    }
    *vout = v;
    char why[400];
    if (!gd__ms_view_ready(r, v, why, sizeof why)) {
        cJSON_Delete(root);
        *f = (struct ms_refusal){503, "server_error", NULL, 1, ""};
        snprintf(f->msg, sizeof f->msg, "%s", why);
        gd__ms_count(r, v, f->status);
        return f->status;
    }
    if (gd_ms_model_queue_full(v->model)) { /* before tokenizing */
        cJSON_Delete(root);
        gd__ms_refusal_of(r, v, GD_EAGAIN, f);
        return f->status;
    }
    struct gd_ms_job *job = gd_ms_job_new(v->model, MAX_RESPONSE_BYTES);
    const char *param = NULL;
    int rc = job ? gd_ms_embed_prepare(v->embed, root, job, f->msg, sizeof f->msg, &param) : -1;
    cJSON_Delete(root);
    if (rc) {
        gd_ms_job_free(job);
        if (rc < 0)
            *f = (struct ms_refusal){500, "server_error", NULL, 0, "out of memory"};
        else
            f->status = rc;
        gd__ms_count(r, v, f->status);
        return f->status;
    }
    const struct gd_ms_model_cfg *c = gd_ms_model_cfg(v->model);
    job->openai_errors = 1;
    job->deadline_ns = c->timeout_ms ? start_ns + c->timeout_ms * 1000000ull : 0;
    *jout = job;
    return 0;
}

/* POST /v1/embeddings: OpenAI's request and error shapes (ms_embed.h). */
static void on_embeddings(struct gd_http_exchange *x, void *ud)
{
    struct ms_routes *r = ud;
    const struct gd_http_request *req = gd_http_exchange_request(x);
    struct ms_model_view *v;
    struct gd_ms_job *job;
    struct ms_refusal f;
    int rc = gd__ms_embed_job(r, req->body, req->body_len, req->start_ns, &v, &job, &f);
    if (v) {
        gd_http_log_field_str(x, "model", gd_ms_model_cfg(v->model)->name);
        gd_http_log_field_str(x, "model_version", v->version);
    }
    if (rc)
        respond_refusal(x, &f, 1);
    else
        submit(x, r, v, job, 0);
}

/* The poller's thread: the repository changed; the reload (SIGHUP's path, on the main
 * thread) loads it next to the running models and swaps when everything passed. */
static void on_repository_changed(void *ud)
{
    (void)ud;
    gd_logf(GD_LOG_INFO, "msg=\"model repository changed, reloading\"");
    kill(getpid(), SIGHUP);
}

/* ---- registration ---- */

static int metrics_init(struct ms_metrics *mm)
{
    struct gd_metrics *m = gd_metrics_default();
    static const char *const mvs[] = {"model", "version", "status"};
    static const char *const mv[] = {"model", "version"};
    static const char *const mo[] = {"model"};
    if (!m)
        return GD_ENOMEM;
    int rc = gd_metrics_counter(
        m,
        &(struct gd_metric_opts){"girder_inference_requests_total",
                                 "Inference requests by model, version and HTTP status", mvs, 3, 0},
        &mm->requests);
    static const char *const mt[] = {"model", "fallback"};
    rc = rc ? rc
            : gd_metrics_counter(m,
                                 &(struct gd_metric_opts){"girder_inference_fallbacks_total",
                                                          "Requests a model handed to its "
                                                          "fallback model",
                                                          mt, 2, 0},
                                 &mm->fallbacks);
    rc = rc ? rc
            : gd_metrics_histogram(
                  m,
                  &(struct gd_metric_opts){"girder_inference_queue_duration_seconds",
                                           "Time inference requests waited in "
                                           "the model's queue",
                                           mv, 2, 0},
                  gd_metrics_latency_buckets, gd_metrics_latency_buckets_n, &mm->queue);
    rc = rc ? rc
            : gd_metrics_histogram(
                  m,
                  &(struct gd_metric_opts){"girder_inference_compute_duration_seconds",
                                           "Time the engine spent running inference requests", mv,
                                           2, 0},
                  gd_metrics_latency_buckets, gd_metrics_latency_buckets_n, &mm->compute);
    static const double sizes[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
    rc = rc ? rc
            : gd_metrics_histogram(m,
                                   &(struct gd_metric_opts){"girder_inference_batch_size",
                                                            "Requests per engine run", mv, 2, 0},
                                   sizes, sizeof sizes / sizeof sizes[0], &mm->batch);
    rc = rc ? rc
            : gd_metrics_gauge(m,
                               &(struct gd_metric_opts){"girder_inference_queue_depth",
                                                        "Inference requests waiting in the "
                                                        "model's queue",
                                                        mo, 1, 0},
                               &mm->depth);
    return rc ? rc
              : gd_metrics_gauge(m,
                                 &(struct gd_metric_opts){"girder_inference_model_ready",
                                                          "1 while the model is loaded and "
                                                          "passes its health probe",
                                                          mv, 2, 0},
                                 &mm->ready);
}

static void routes_free(void *ptr)
{
    struct ms_routes *r = ptr;
    gd_ms_repo_poller_free(r->poll);
    gd_ms_prober_free(r->prober);
    gd_ms_runtime_free(r->rt);
    for (size_t i = 0; i < r->n_views; i++) {
        gd_buf_free(&r->views[i].meta);
        gd_ms_embedder_free(r->views[i].embed);
    }
    gd_free(r->views);
    gd_free(r->groups);
    gd_buf_free(&r->server_meta);
    gd_config_unref(r->cfg);
    gd_free(r);
}

/* err with its double quotes made single, so the log line's quoting stays intact */
static void log_quoted(enum gd_log_level lv, const char *msg, const char *model, const char *err)
{
    char e[600];
    snprintf(e, sizeof e, "%s", err);
    for (char *q = e; *q; q++)
        *q = *q == '"' ? '\'' : *q;
    if (model)
        gd_logf(lv, "msg=\"%s\" model=%s error=\"%s\"", msg, model, e);
    else
        gd_logf(lv, "msg=\"%s\" error=\"%s\"", msg, e);
}

static void log_not_loaded(const char *model, const char *err)
{
    log_quoted(GD_LOG_WARN, "optional model not loaded, serving without it", model, err);
}

/* Commands a new user can paste (logfmt: the \" inside the value are the log's escapes). */
static void log_examples(const char *addr, const char *name, int embedding)
{
    gd_logf(GD_LOG_INFO, "msg=\"try it\" cmd=\"curl -s http://%s/v2/models/%s\"", addr, name);
    if (embedding)
        gd_logf(GD_LOG_INFO,
                "msg=\"try it\" cmd=\"curl -s http://%s/v1/embeddings -d "
                "'{\\\"model\\\":\\\"%s\\\",\\\"input\\\":\\\"hello\\\"}'\"",
                addr, name);
}

static int build_views(struct ms_routes *r, char *err, size_t errlen)
{
    const struct gd_ms_config *sc = gd_ms_config_get(r->cfg);
    r->n_views = gd_ms_runtime_num_models(r->rt); /* sc->models, in order */
    r->n_groups = sc->n_groups;
    if (!(r->views = gd_calloc(r->n_views ? r->n_views : 1, sizeof *r->views)) ||
        !(r->groups = gd_calloc(r->n_groups ? r->n_groups : 1, sizeof *r->groups)))
        return GD_ENOMEM;
    for (size_t i = 0; i < r->n_views; i++) {
        r->views[i].model = gd_ms_runtime_model_at(r->rt, i);
        snprintf(r->views[i].version, sizeof r->views[i].version, "%lld",
                 (long long)gd_ms_model_cfg(r->views[i].model)->version);
    }
    for (size_t i = 0; i < r->n_groups; i++) {
        struct ms_group *g = &r->groups[i];
        g->cfg = &sc->groups[i];
        g->views = &r->views[g->cfg->first];
        g->fallback = g->cfg->fallback ? &r->groups[g->cfg->fallback_group] : NULL;
        const char *mf[] = {g->cfg->name, g->cfg->fallback ? g->cfg->fallback : ""};
        g->fallbacks = g->fallback ? gd_counter_vec_get(r->metrics.fallbacks, mf) : NULL;
        for (size_t k = 0; k < g->cfg->n; k++)
            g->views[k].group = g;
    }
    for (size_t i = 0; i < r->n_views; i++) {
        struct ms_model_view *v = &r->views[i];
        const struct gd_ms_model_cfg *c = gd_ms_model_cfg(v->model);
        int rc = gd__ms_build_model_meta(v);
        if (rc)
            return rc;
        const char *mv[] = {c->name, v->version};
        v->queue = gd_histogram_vec_get(r->metrics.queue, mv);
        v->compute = gd_histogram_vec_get(r->metrics.compute, mv);
        v->batch = gd_histogram_vec_get(r->metrics.batch, mv);
        v->depth = gd_gauge_vec_get(r->metrics.depth, mv); /* label: model only */
        v->ready = gd_gauge_vec_get(r->metrics.ready, mv);
        if (!gd_ms_model_load_error(v->model) && c->embedding) {
            if ((rc = gd_ms_embedder_new(v->model, &v->embed, err, errlen)) != 0) {
                log_quoted(GD_LOG_ERROR, "model load failed", NULL, err);
                return rc;
            }
            r->n_embed++;
        }
        if (gd_ms_model_unloaded(v->model)) {
            gd_logf(GD_LOG_INFO, "msg=\"model unloaded by request\" model=%s version=%s", c->name,
                    v->version);
            continue;
        }
        if (gd_ms_model_load_error(v->model)) {
            log_not_loaded(c->name, gd_ms_model_load_error(v->model));
            continue;
        }
        gd_logf(GD_LOG_INFO,
                "msg=\"%s\" model=%s version=%s inputs=%d outputs=%d instances=%u "
                "threads=%u embedding=%s",
                gd_ms_runtime_kept(r->rt, i) ? "model kept (unchanged)" : "model loaded", c->name,
                v->version, gd_engine_num_inputs(gd_ms_model_engine(v->model)),
                gd_engine_num_outputs(gd_ms_model_engine(v->model)), c->instances, c->threads,
                v->embed ? "yes" : "no");
        log_examples(r->cfg->listen.text, c->name, v->embed != NULL);
    }
    gd_buf_init(&r->server_meta, 4096);
    return gd_buf_puts(&r->server_meta, "{\"name\":\"girder\",\"version\":\"" GD_VERSION_STRING
                                        "\",\"extensions\":[\"binary_tensor_data\"]}");
}

/* Tells explicit model control what this build serves: per name, loaded or why not. */
static int publish(const struct ms_routes *r)
{
    size_t n = r->n_groups ? r->n_groups : 1;
    const char **names = gd_calloc(n, sizeof *names), **errors = gd_calloc(n, sizeof *errors);
    int rc = names && errors ? 0 : GD_ENOMEM;
    for (size_t i = 0; !rc && i < r->n_groups; i++) {
        const struct ms_group *g = &r->groups[i];
        names[i] = g->cfg->name;
        errors[i] = g->cfg->n ? gd_ms_model_load_error(g->views[0].model) : "no version";
        for (size_t k = 0; k < g->cfg->n && errors[i]; k++)
            errors[i] = gd_ms_model_load_error(g->views[k].model);
    }
    rc = rc ? rc : gd_ms_control_publish(names, errors, r->n_groups);
    gd_free(names);
    gd_free(errors);
    return rc;
}

/* Every model's first health probe (a required model failing it refuses the config),
 * then the periodic ones. */
static int start_probes(struct ms_routes *r, char *err, size_t errlen)
{
    struct gd_gauge **ready = gd_calloc(r->n_views ? r->n_views : 1, sizeof *ready);
    if (!ready)
        return GD_ENOMEM;
    for (size_t i = 0; i < r->n_views; i++)
        ready[i] = r->views[i].ready;
    int rc = gd_ms_prober_new(r->rt, ready, &r->prober, err, errlen);
    gd_free(ready);
    if (rc)
        log_quoted(GD_LOG_ERROR, "model load failed", NULL, err);
    return rc;
}

int gd_ms_routes_register(struct gd_http_router *router, const struct gd_config *cfg)
{
    const struct gd_ms_config *sc = gd_ms_config_get(cfg);
    if (!sc)
        return 0;
    struct ms_routes *r = gd_calloc(1, sizeof *r);
    if (!r)
        return GD_ENOMEM;
    r->cfg = gd_config_ref((struct gd_config *)cfg);
    char err[600] = "";
    int rc = metrics_init(&r->metrics);
    if (!rc && (rc = gd_ms_runtime_new(sc, &r->rt, err, sizeof err)) != 0)
        log_quoted(GD_LOG_ERROR, "model load failed", NULL, err);
    rc = rc ? rc : build_views(r, err, sizeof err);
    rc = rc ? rc : start_probes(r, err, sizeof err);
    if (!rc && sc->repository && sc->repository_poll_ms &&
        (rc = gd_ms_repo_poller_new(sc->repository, sc->repository_poll_ms, on_repository_changed,
                                    r, &r->poll)) != 0)
        log_quoted(GD_LOG_ERROR, "cannot poll the model repository", NULL, sc->repository);
    rc = rc ? rc : publish(r);
    if (rc || (rc = gd_http_router_add_cleanup(router, routes_free, r)) != 0) {
        gd_ms_control_build_failed(*err ? err : gd_strerror(rc));
        routes_free(r);
        return rc;
    }
    static const struct {
        const char *method, *path;
        enum gd_http_match match;
        gd_http_handler_fn fn;
    } routes[] = {
        {"GET", "/v2", GD_HTTP_MATCH_EXACT, gd__ms_on_server_meta},
        {"GET", "/v2/health/live", GD_HTTP_MATCH_EXACT, gd__ms_on_live},
        {"GET", "/v2/health/ready", GD_HTTP_MATCH_EXACT, gd__ms_on_ready},
        {"GET", "/v2/models/", GD_HTTP_MATCH_PREFIX, on_model_get},
        {"POST", "/v2/models/", GD_HTTP_MATCH_PREFIX, on_model_post},
        {"POST", "/v2/repository/index", GD_HTTP_MATCH_EXACT, gd__ms_on_repository_index},
        {"POST", "/v2/repository/models/", GD_HTTP_MATCH_PREFIX, gd_ms_control_on_request},
    };
    for (size_t i = 0; !rc && i < sizeof routes / sizeof routes[0]; i++)
        rc = gd_http_router_add(router, routes[i].method, routes[i].path, routes[i].match,
                                routes[i].fn, r);
    rc = rc ? rc : gd_http_router_add_ready_check(router, gd__ms_routes_ready, r);
    rc = rc ? rc : gd__ms_local_provide(router, r, &r->local);
    if (!rc && r->n_embed) {
        rc = gd_http_router_add(router, "POST", "/v1/embeddings", GD_HTTP_MATCH_EXACT,
                                on_embeddings, r);
        if (rc == GD_EEXIST) /* the gateway's: it passes the models it does not route here */
            rc = gd_http_router_add_next(router, "POST", "/v1/embeddings", GD_HTTP_MATCH_EXACT,
                                         on_embeddings, r);
    }
    return rc;
}
