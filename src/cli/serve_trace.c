/* `girder serve`'s spans (obs/trace.h): one SERVER span per finished request, built from
 * what the server reports at completion (timings, route, status) and the fields the route
 * added for its access-log line, named after the OpenTelemetry HTTP and GenAI semantic
 * conventions:
 *
 *   every request    http.request.method, http.route, url.path, http.response.status_code,
 *                    http.request.header.x-request-id, client.address, error.type (5xx)
 *   gateway routes   gen_ai.operation.name, gen_ai.request.model, gen_ai.provider.name (the
 *                    deployment's provider), gen_ai.usage.input_tokens / output_tokens,
 *                    girder.attempts; governance and cache decisions: girder.key_id,
 *                    girder.tenant (never the key), girder.governance.refusal (the error
 *                    code of a 401/403/429/503 girder gave), girder.cache (hit, miss,
 *                    refresh, bypass), girder.pii.actions / girder.pii.categories (what
 *                    the PII policy did and found; names only, never a value)
 *   model serving    girder.model, girder.model_version, and two INTERNAL child spans,
 *                    "queue" and "compute" (girder.batch_size), laid out from the measured
 *                    queue_us / compute_us ending at the response
 *
 * A request with a traceparent joins that trace as a child of the caller's span (its
 * tracestate is kept); others start a trace sampled with the configured ratio. Prompt and
 * completion contents are never recorded. */
#include "cli/serve.h"
#include "obs/trace.h"

#include <stdio.h>
#include <string.h>

static const struct gd_http_log_field *field(const struct gd_http_completion *c, const char *key)
{
    for (size_t i = 0; i < c->n_fields; i++)
        if (!strcmp(c->fields[i].key, key))
            return &c->fields[i];
    return NULL;
}

static void attr_field_str(struct gd_span *s, const struct gd_http_completion *c,
                           const char *field_key, const char *attr)
{
    const struct gd_http_log_field *f = field(c, field_key);
    if (f && f->str && strcmp(f->str, "-"))
        gd_span_attr_str(s, attr, f->str, strlen(f->str));
}

static void attr_field_int(struct gd_span *s, const struct gd_http_completion *c,
                           const char *field_key, const char *attr)
{
    const struct gd_http_log_field *f = field(c, field_key);
    if (f && !f->str)
        gd_span_attr_int(s, attr, f->i64);
}

/* The gateway's operation for its route, or NULL when the route is not the gateway's. */
static const char *gen_ai_operation(const char *route)
{
    if (!strcmp(route, "/v1/chat/completions"))
        return "chat";
    if (!strcmp(route, "/v1/completions"))
        return "text_completion";
    if (!strcmp(route, "/v1/embeddings"))
        return "embeddings";
    return NULL;
}

static void gateway_attrs(struct gd_span *s, const struct gd_http_completion *c, const char *op)
{
    gd_span_attr_str(s, "gen_ai.operation.name", op, strlen(op));
    attr_field_str(s, c, "model", "gen_ai.request.model");
    const struct gd_http_log_field *dep = field(c, "deployment");
    if (dep && dep->str) { /* "provider/model": the provider's configured name */
        const char *slash = strchr(dep->str, '/');
        gd_span_attr_str(s, "gen_ai.provider.name", dep->str,
                         slash ? (size_t)(slash - dep->str) : strlen(dep->str));
    }
    attr_field_int(s, c, "prompt_tokens", "gen_ai.usage.input_tokens");
    attr_field_int(s, c, "completion_tokens", "gen_ai.usage.output_tokens");
    attr_field_int(s, c, "attempts", "girder.attempts");
    attr_field_str(s, c, "cache", "girder.cache");
    attr_field_str(s, c, "key_id", "girder.key_id");
    attr_field_str(s, c, "tenant", "girder.tenant");
    attr_field_str(s, c, "refusal", "girder.governance.refusal");
    attr_field_str(s, c, "pii", "girder.pii.actions");
    attr_field_str(s, c, "pii_categories", "girder.pii.categories");
}

/* queue and compute children of a model-serving request, ending where the span ends. */
static void serving_children(const struct gd_span *s, const struct gd_http_completion *c)
{
    const struct gd_http_log_field *q = field(c, "queue_us"), *k = field(c, "compute_us");
    const struct gd_http_log_field *b = field(c, "batch");
    if (!q || !k || q->str || k->str || q->i64 < 0 || k->i64 < 0)
        return;
    uint64_t compute = (uint64_t)k->i64 * 1000u, queue = (uint64_t)q->i64 * 1000u;
    uint64_t span = s->end_unix_ns - s->start_unix_ns;
    compute = compute < span ? compute : span;
    queue = queue < span - compute ? queue : span - compute;
    static _Thread_local struct gd_span child;
    gd_trace_child(&child, s);
    gd_span_set_name(&child, "queue", 5);
    child.end_unix_ns = s->end_unix_ns - compute;
    child.start_unix_ns = child.end_unix_ns - queue;
    gd_trace_submit(&child);
    gd_trace_child(&child, s);
    gd_span_set_name(&child, "compute", 7);
    child.start_unix_ns = s->end_unix_ns - compute;
    child.end_unix_ns = s->end_unix_ns;
    if (b && !b->str)
        gd_span_attr_int(&child, "girder.batch_size", b->i64);
    gd_trace_submit(&child);
}

void gd_serve_trace_request(const struct gd_http_completion *c)
{
    static _Thread_local struct gd_span s; /* ~2.5 KB: not on the loop's stack */
    const struct gd_http_request *r = c->req;
    const struct gd_traceparent *tp = &r->trace;
    if (!gd_trace_decide(c->trace, tp->valid ? tp->trace_id : NULL,
                         tp->valid ? tp->parent_id : NULL, tp->valid ? tp->flags : 0))
        return;
    gd_trace_begin(&s, c->trace);
    s.kind = GD_SPAN_SERVER;
    s.start_unix_ns = gd_trace_unix_ns(r->start_ns); /* when the request head started */
    s.end_unix_ns = s.start_unix_ns + c->duration_ns;
    char name[160];
    int n = strcmp(c->route, "-")
                ? snprintf(name, sizeof name, "%.*s %s", (int)r->method.n, r->method.p, c->route)
                : snprintf(name, sizeof name, "%.*s", (int)r->method.n, r->method.p);
    gd_span_set_name(&s, name, n > 0 && (size_t)n < sizeof name ? (size_t)n : strlen(name));
    const struct gd_slice *state = tp->valid ? gd_http_request_header(r, "tracestate") : NULL;
    if (state)
        gd_span_set_trace_state(&s, state->p, state->n);
    gd_span_attr_str(&s, "http.request.method", r->method.p, r->method.n);
    if (strcmp(c->route, "-"))
        gd_span_attr_str(&s, "http.route", c->route, strlen(c->route));
    gd_span_attr_str(&s, "url.path", r->path.p, r->path.n);
    gd_span_attr_int(&s, "http.response.status_code", c->status);
    gd_span_attr_str(&s, "http.request.header.x-request-id", r->request_id, strlen(r->request_id));
    const char *ra = r->remote_addr, *colon = strrchr(ra, ':'); /* "ip:port", "[v6]:port" */
    size_t host = colon ? (size_t)(colon - ra) : strlen(ra);
    int bracket = ra[0] == '[' && host >= 2 && ra[host - 1] == ']';
    gd_span_attr_str(&s, "client.address", ra + bracket, host - 2 * (size_t)bracket);
    if (c->status >= 500 || !c->completed) {
        s.status = GD_SPAN_ERROR;
        char et[16];
        int k = c->completed ? snprintf(et, sizeof et, "%d", c->status) : 0;
        gd_span_attr_str(&s, "error.type", c->completed ? et : "client_disconnected",
                         c->completed ? (size_t)k : strlen("client_disconnected"));
    }
    const char *op = gen_ai_operation(c->route);
    if (op && field(c, "attempts"))
        gateway_attrs(&s, c, op);
    attr_field_str(&s, c, "model_version", "girder.model_version");
    if (field(c, "model_version"))
        attr_field_str(&s, c, "model", "girder.model");
    gd_trace_submit(&s);
    serving_children(&s, c);
}
