/* Model server routes: metadata, health and the repository index (ms_routes_internal.h). */
#include "core/json_write.h"
#include "girder/error.h"
#include "serve/ms_routes_internal.h"
#include "serve/ms_tensor_json.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- answers ---- */

void gd__ms_respond_json(struct gd_http_exchange *x, int status, const struct gd_buf *b)
{
    gd_http_respond(x, status, "application/json", b->data, b->len);
}

/* {"error": message} with status, the protocol's error object. */
void gd__ms_respond_error(struct gd_http_exchange *x, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void gd__ms_respond_error(struct gd_http_exchange *x, int status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct gd_buf b;
    gd_buf_init(&b, 4096);
    if (gd_buf_puts(&b, "{\"error\":") || gd_json_put_str(&b, msg, strlen(msg)) ||
        gd_buf_putc(&b, '}')) {
        gd_buf_free(&b);
        gd_http_respond(x, 500, "application/json", "{\"error\":\"out of memory\"}", 25);
        return;
    }
    gd__ms_respond_json(x, status, &b);
    gd_buf_free(&b);
}

static void respond_static(struct gd_http_exchange *x, int status, const char *body)
{
    gd_http_respond(x, status, "application/json", body, strlen(body));
}

/* ---- metadata ---- */

static int put_io(struct gd_buf *b, const struct gd_engine_io *io)
{
    const char *dt = gd_ms_datatype_name(io->dtype);
    int rc = gd_buf_puts(b, "{\"name\":");
    rc = rc ? rc : gd_json_put_str(b, io->name, strlen(io->name));
    rc = rc ? rc : gd_buf_puts(b, ",\"datatype\":");
    rc = rc ? rc : gd_json_put_str(b, dt ? dt : "UNKNOWN", strlen(dt ? dt : "UNKNOWN"));
    rc = rc ? rc : gd_buf_puts(b, ",\"shape\":[");
    for (int d = 0; !rc && d < io->rank; d++)
        rc = gd_buf_printf(b, "%s%lld", d ? "," : "", (long long)io->dims[d]);
    return rc ? rc : gd_buf_puts(b, "]}");
}

static int put_io_list(struct gd_buf *b, const gd_engine_model *em, int outputs)
{
    int n = outputs ? gd_engine_num_outputs(em) : gd_engine_num_inputs(em);
    int rc = gd_buf_putc(b, '[');
    for (int i = 0; !rc && i < n; i++) {
        struct gd_engine_io io;
        if (outputs)
            gd_engine_output_info(em, i, &io);
        else
            gd_engine_input_info(em, i, &io);
        rc = (i ? gd_buf_putc(b, ',') : 0);
        rc = rc ? rc : put_io(b, &io);
    }
    return rc ? rc : gd_buf_putc(b, ']');
}

/* {"name","versions":[v],"platform":"onnx","inputs":[..],"outputs":[..]} */
int gd__ms_build_model_meta(struct ms_model_view *v)
{
    const struct gd_ms_model_cfg *c = gd_ms_model_cfg(v->model);
    const gd_engine_model *em = gd_ms_model_engine(v->model);
    struct gd_buf *b = &v->meta;
    gd_buf_init(b, (size_t)1 << 20);
    int rc = gd_buf_puts(b, "{\"name\":");
    rc = rc ? rc : gd_json_put_str(b, c->name, strlen(c->name));
    rc = rc ? rc : gd_buf_puts(b, ",\"versions\":[");
    for (size_t i = 0; !rc && i < v->group->cfg->n; i++)
        rc = gd_buf_printf(b, "%s\"%s\"", i ? "," : "", v->group->views[i].version);
    rc = rc ? rc : gd_buf_printf(b, "],\"platform\":\"onnx\",\"inputs\":");
    const char *why = gd_ms_model_load_error(v->model);
    if (why) { /* an optional model that did not load: Triton's state/reason words */
        rc = rc ? rc : gd_buf_puts(b, "[],\"outputs\":[],\"state\":\"UNAVAILABLE\",\"reason\":");
        rc = rc ? rc : gd_json_put_str(b, why, strlen(why));
        return rc ? rc : gd_buf_putc(b, '}');
    }
    rc = rc ? rc : put_io_list(b, em, 0);
    rc = rc ? rc : gd_buf_puts(b, ",\"outputs\":");
    rc = rc ? rc : put_io_list(b, em, 1);
    return rc ? rc : gd_buf_putc(b, '}');
}

void gd__ms_on_server_meta(struct gd_http_exchange *x, void *ud)
{
    struct ms_routes *r = ud;
    gd__ms_respond_json(x, 200, &r->server_meta);
}

void gd__ms_on_live(struct gd_http_exchange *x, void *ud)
{
    (void)ud;
    respond_static(x, 200, "{\"live\":true}");
}

/* 1 when v's model can serve: loaded and passing its health probe; else why. */
int gd__ms_view_ready(const struct ms_routes *r, const struct ms_model_view *v, char *why,
                      size_t whylen)
{
    const char *name = gd_ms_model_cfg(v->model)->name;
    const char *load = gd_ms_model_load_error(v->model);
    char probe[200]; /* the probe's reason, cut to leave room for the model's name */
    if (load)
        return snprintf(why, whylen, "model '%s' is not loaded: %s", name, load), 0;
    if (!gd_ms_prober_ready(r->prober, (size_t)(v - r->views), probe, sizeof probe))
        return snprintf(why, whylen, "model '%s' failed its health probe: %s", name, probe), 0;
    return 1;
}

/* The router's readiness check: every required model loaded and passing its probe (one
 * unloaded by request excepted: the operator asked for it to be gone). */
int gd__ms_routes_ready(void *ud, char *why, size_t whylen)
{
    const struct ms_routes *r = ud;
    for (size_t i = 0; i < r->n_views; i++)
        if (gd_ms_model_cfg(r->views[i].model)->required &&
            !gd_ms_model_unloaded(r->views[i].model) &&
            !gd__ms_view_ready(r, &r->views[i], why, whylen))
            return 0;
    return 1;
}

/* Ready as /readyz is (the process not draining, every module's check passing). */
void gd__ms_on_ready(struct gd_http_exchange *x, void *ud)
{
    (void)ud;
    char why[400];
    if (gd_http_router_ready(gd_http_exchange_router(x), why, sizeof why))
        respond_static(x, 200, "{\"ready\":true}");
    else
        respond_static(x, 400, "{\"ready\":false}"); /* the protocol: 4xx means "not ready" */
}

void gd__ms_count(struct ms_routes *r, const struct ms_model_view *v, int status)
{
    char st[8];
    snprintf(st, sizeof st, "%d", status);
    const char *labels[] = {gd_ms_model_cfg(v->model)->name, v->version, st};
    gd_counter_inc(gd_counter_vec_get(r->metrics.requests, labels));
}

/* POST /v2/repository/index (Triton's repository extension): every served model version
 * with its state; {"ready": true} in the body lists only the ready ones. */
void gd__ms_on_repository_index(struct gd_http_exchange *x, void *ud)
{
    struct ms_routes *r = ud;
    const struct gd_http_request *req = gd_http_exchange_request(x);
    cJSON *body = req->body_len ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    if (req->body_len && !cJSON_IsObject(body)) {
        cJSON_Delete(body);
        gd__ms_respond_error(x, 400, "the body must be empty or a JSON object");
        return;
    }
    int only_ready = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "ready"));
    cJSON_Delete(body);
    struct gd_buf b;
    gd_buf_init(&b, (size_t)1 << 20);
    int rc = gd_buf_putc(&b, '[');
    for (size_t i = 0, first = 1; !rc && i < r->n_views; i++) {
        const struct ms_model_view *v = &r->views[i];
        const char *name = gd_ms_model_cfg(v->model)->name;
        char why[400];
        int ready = gd__ms_view_ready(r, v, why, sizeof why);
        if (only_ready && !ready)
            continue;
        rc = gd_buf_puts(&b, first ? "{\"name\":" : ",{\"name\":");
        first = 0;
        rc = rc ? rc : gd_json_put_str(&b, name, strlen(name));
        rc = rc ? rc
                : gd_buf_printf(&b, ",\"version\":\"%s\",\"state\":\"%s\"", v->version,
                                ready ? "READY" : "UNAVAILABLE");
        if (!rc && !ready) {
            rc = gd_buf_puts(&b, ",\"reason\":");
            rc = rc ? rc : gd_json_put_str(&b, why, strlen(why));
        }
        rc = rc ? rc : gd_buf_putc(&b, '}');
    }
    rc = rc ? rc : gd_buf_putc(&b, ']');
    if (rc)
        gd__ms_respond_error(x, 500, "out of memory");
    else
        gd__ms_respond_json(x, 200, &b);
    gd_buf_free(&b);
}
