/* The response cache on the request path (gw_cache_req.h). */
#include "gateway/gw_cache_req.h"
#include "gateway/gw_cache.h"
#include "gateway/gw_req.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "girder/error.h"
#include "obs/metrics.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct gw_cache_rt {
    const struct gd_gw_cache_config *cc;
    struct gd_gw_cache *store;
    struct gd_counter_vec *requests; /* girder_gateway_cache_requests_total{alias,result} */
    struct gd_gauge *entries, *bytes;
    struct gd_counter *evictions;
};

static int families(struct gw_cache_rt *c)
{
    static const char *const l_ar[] = {"alias", "result"};
    struct gd_metrics *m = gd_metrics_default();
    struct gd_gauge_vec *entries, *bytes;
    struct gd_counter_vec *evictions;
    int rc = gd_metrics_counter(
        m,
        &(struct gd_metric_opts){"girder_gateway_cache_requests_total",
                                 "Cacheable gateway requests by alias and result (hit, miss, "
                                 "refresh, bypass)",
                                 l_ar, 2, 0},
        &c->requests);
    rc =
        rc ? rc
           : gd_metrics_gauge(m,
                              &(struct gd_metric_opts){"girder_gateway_cache_entries",
                                                       "Answers in the response cache", NULL, 0, 0},
                              &entries);
    rc = rc ? rc
            : gd_metrics_gauge(m,
                               &(struct gd_metric_opts){"girder_gateway_cache_bytes",
                                                        "Bytes held by the response cache", NULL, 0,
                                                        0},
                               &bytes);
    rc = rc ? rc
            : gd_metrics_counter(m,
                                 &(struct gd_metric_opts){"girder_gateway_cache_evictions_total",
                                                          "Answers evicted to stay within "
                                                          "cache.max_bytes",
                                                          NULL, 0, 0},
                                 &evictions);
    if (rc)
        return rc;
    c->entries = gd_gauge_vec_get(entries, NULL);
    c->bytes = gd_gauge_vec_get(bytes, NULL);
    c->evictions = gd_counter_vec_get(evictions, NULL);
    return 0;
}

int gw_cache_attach(struct gw_runtime *rt)
{
    const struct gd_gw_cache_config *cc = rt->gc->cache;
    if (!cc)
        return 0;
    struct gw_cache_rt *c = gd_calloc(1, sizeof *c);
    if (!c)
        return GD_ENOMEM;
    c->cc = cc;
    int rc = families(c);
    if (rc == 0 && !(c->store = gd_gw_cache_new(cc)))
        rc = GD_ENOMEM;
    if (rc) {
        gd_free(c);
        return rc;
    }
    gd_gauge_set(c->entries, 0); /* a reload starts with an empty cache */
    gd_gauge_set(c->bytes, 0);
    rt->cache = c;
    return 0;
}

void gw_cache_detach(struct gw_runtime *rt)
{
    if (!rt->cache)
        return;
    gd_gw_cache_free(rt->cache->store);
    gd_free(rt->cache);
    rt->cache = NULL;
}

/* Whether the Cache-Control request header holds directive (case-insensitive token). */
static int directive(const struct gd_http_request *hr, const char *name)
{
    const struct gd_slice *h = gd_http_request_header(hr, "Cache-Control");
    size_t n = strlen(name);
    for (size_t i = 0; h && i + n <= h->n; i++)
        if (strncasecmp(h->p + i, name, n) == 0 &&
            (i == 0 || h->p[i - 1] == ' ' || h->p[i - 1] == ',') &&
            (i + n == h->n || h->p[i + n] == ',' || h->p[i + n] == ' '))
            return 1;
    return 0;
}

/* Who shares entries: everyone (shared), else the tenant, else the key, else the open
 * gateway's callers. Indexes are stable for the config generation the cache lives in. */
static void scope_of(const struct gw_req *req, char *out, size_t n)
{
    const struct gd_gov_ticket *t = req->gov;
    if (req->rt->cache->cc->shared)
        snprintf(out, n, "*");
    else if (t && t->tenant != GD_GOV_NONE)
        snprintf(out, n, "t%u", t->tenant);
    else if (t && t->key != GD_GOV_NONE)
        snprintf(out, n, "k%u", t->key);
    else
        snprintf(out, n, "-");
}

static void count(struct gw_req *req, const char *result)
{
    const char *v[] = {req->alias_name, result};
    req->cache_result = result;
    gd_counter_inc(gd_counter_vec_get(req->rt->cache->requests, v));
}

int gw_cache_lookup(struct gw_req *req, struct gd_buf *body, char *ctype, size_t ctype_len)
{
    struct gw_cache_rt *c = req->rt->cache;
    req->cache_result = NULL;
    req->cache_store = 0;
    if (!c || (c->cc->aliases && !c->cc->aliases[req->plan.chain[0]]))
        return 0;
    const struct gd_http_request *hr = gd_http_exchange_request(req->x);
    if (directive(hr, "no-store")) {
        count(req, "bypass");
        return 0;
    }
    char scope[24];
    scope_of(req, scope, sizeof scope);
    int kind = (int)req->kind + (req->inbound_anthropic   ? GW_KIND_N
                                 : req->inbound_responses ? 2 * GW_KIND_N
                                                          : 0);
    if (gd_gw_cache_key(kind, scope, req->cbody, req->cbody_len, req->cache_key) != 0)
        return 0; /* not JSON (the upstream will say so), or out of memory: no cache */
    req->cache_store = 1;
    if (directive(hr, "no-cache")) {
        count(req, "refresh");
        return 0;
    }
    int rc =
        gd_gw_cache_get(c->store, req->cache_key, gd_mono_ns() / 1000000u, body, ctype, ctype_len);
    count(req, rc == 1 ? "hit" : "miss");
    req->cache_store = rc != 1;
    return rc == 1;
}

void gw_cache_capture(struct gw_req *req, const char *p, size_t n)
{
    if (!req->cache_store || !req->streaming)
        return;
    if (req->cache_sse.len + n > req->rt->cache->cc->max_entry_bytes ||
        gd_buf_append(&req->cache_sse, p, n) != 0) {
        req->cache_store = 0; /* too big to keep: stop copying */
        gd_buf_free(&req->cache_sse);
    }
}

void gw_cache_store(struct gw_req *req, const char *ctype, const char *body, size_t len)
{
    struct gw_cache_rt *c = req->rt->cache;
    if (!req->cache_store)
        return;
    req->cache_store = 0;
    if (!body) {
        body = req->cache_sse.data ? req->cache_sse.data : "";
        len = req->cache_sse.len;
    }
    uint64_t evicted = 0;
    if (gd_gw_cache_put(c->store, req->cache_key, gd_mono_ns() / 1000000u, ctype, body, len,
                        &evicted) == 0) {
        struct gd_gw_cache_stats st;
        gd_gw_cache_stats(c->store, &st);
        gd_gauge_set(c->entries, (double)st.entries);
        gd_gauge_set(c->bytes, (double)st.bytes);
        gd_counter_add(c->evictions, evicted);
    }
    gd_buf_free(&req->cache_sse);
}

void gw_cache_req_free(struct gw_req *req)
{
    gd_buf_free(&req->cache_sse);
}
