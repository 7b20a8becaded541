/* Upstream attempts as CLIENT spans (see gw_trace.h), named "{gen_ai.operation.name}
 * {gen_ai.request.model}" with the GenAI and HTTP client conventions. */
#include "gateway/gw_trace.h"
#include "obs/trace.h"

#include <stdio.h>
#include <string.h>

static const char *const operation[GW_KIND_N] = {"chat", "text_completion", "embeddings"};

int gw_trace_attempt_begin(struct gw_req *req)
{
    req->traced = 0;
    if (!req->x)
        return 0;
    const struct gd_traceparent *tp = &gd_http_exchange_request(req->x)->trace;
    struct gd_trace_ctx *ctx = gd_http_exchange_trace(req->x);
    if (!gd_trace_decide(ctx, tp->valid ? tp->trace_id : NULL, tp->valid ? tp->parent_id : NULL,
                         tp->valid ? tp->flags : 0))
        return 0;
    req->trace = *ctx; /* the span is recorded even if the client leaves meanwhile */
    gd_trace_new_span_id(req->attempt_span);
    req->attempt_unix_ns = gd_trace_unix_now_ns();
    req->traced = 1;
    return 1;
}

const char *gw_trace_upstream_parent(const struct gw_req *req, char buf[56], size_t *n)
{
    if (req->traced) {
        gd_trace_format_traceparent(&req->trace, req->attempt_span, buf);
        *n = 55;
        return buf;
    }
    const struct gd_http_request *hr = gd_http_exchange_request(req->x);
    const struct gd_slice *tp = gd_http_request_header(hr, "traceparent");
    if (!tp || !hr->trace.valid)
        return NULL;
    *n = tp->n;
    return tp->p;
}

/* host and port of an http(s):// URL, for server.address / server.port. */
static void server_attrs(struct gd_span *s, const char *url)
{
    int tls = !strncmp(url, "https://", 8);
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    size_t n = strcspn(h, "/?#");
    const char *at = memchr(h, '@', n); /* never the user info */
    if (at) {
        n -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    const char *colon = h[0] == '[' ? memchr(h, ']', n) : h;
    colon = colon ? memchr(colon, ':', n - (size_t)(colon - h)) : NULL;
    size_t hl = colon ? (size_t)(colon - h) : n;
    int64_t port = tls ? 443 : 80;
    if (colon) {
        port = 0;
        for (const char *p = colon + 1; p < h + n && *p >= '0' && *p <= '9'; p++)
            port = port * 10 + (*p - '0');
    }
    gd_span_attr_str(s, "server.address", h, hl);
    gd_span_attr_int(s, "server.port", port);
}

void gw_trace_attempt_end(struct gw_req *req, const struct gd_gw_attempt_result *r)
{
    if (!req->traced)
        return;
    req->traced = 0;
    const struct gd_gw_config *gc = req->rt->gc;
    const struct gd_gw_deployment_cfg *dc = &gc->aliases[req->alias].deployments[req->dep];
    const struct gd_gw_provider_cfg *p = &gc->providers[dc->provider];
    static _Thread_local struct gd_span s;
    gd_trace_child_of(&s, &req->trace, req->attempt_span);
    s.kind = GD_SPAN_CLIENT;
    s.start_unix_ns = req->attempt_unix_ns;
    s.end_unix_ns = gd_trace_unix_now_ns();
    const char *op = operation[req->kind];
    char name[192];
    size_t ol = strlen(op), ml = strnlen(dc->model, sizeof name - ol - 2);
    memcpy(name, op, ol);
    name[ol] = ' ';
    memcpy(name + ol + 1, dc->model, ml);
    gd_span_set_name(&s, name, ol + 1 + ml);
    gd_span_attr_str(&s, "gen_ai.operation.name", op, ol);
    gd_span_attr_str(&s, "gen_ai.request.model", dc->model, strlen(dc->model));
    gd_span_attr_str(&s, "gen_ai.provider.name", p->name, strlen(p->name));
    gd_span_attr_str(&s, "girder.alias", req->alias_name, strlen(req->alias_name));
    gd_span_attr_int(&s, "girder.attempt", req->plan.attempts);
    if (p->base_url) /* NULL: a local model, no server */
        server_attrs(&s, p->base_url);
    if (r->status > 0)
        gd_span_attr_int(&s, "http.response.status_code", r->status);
    static const char *const errors[] = {[GD_GW_OUTCOME_CONNECT] = "connect",
                                         [GD_GW_OUTCOME_FIRST_BYTE_TIMEOUT] = "timeout",
                                         [GD_GW_OUTCOME_TIMEOUT] = "timeout",
                                         [GD_GW_OUTCOME_BROKEN] = "broken"};
    char st[16];
    const char *err = NULL;
    if (r->outcome == GD_GW_OUTCOME_HTTP) {
        snprintf(st, sizeof st, "%d", r->status);
        err = st;
    } else if (r->outcome != GD_GW_OUTCOME_OK &&
               (size_t)r->outcome < sizeof errors / sizeof *errors) {
        err = errors[r->outcome];
    }
    if (err) {
        s.status = GD_SPAN_ERROR;
        gd_span_attr_str(&s, "error.type", err, strlen(err));
    }
    gd_trace_submit(&s);
}
