/* Shared gateway state and metrics (see gw_runtime.h).
 *
 * Metric families (registered idempotently in the default registry; docs/gateway.md maps
 * them to the OpenTelemetry GenAI conventions):
 *   girder_gateway_requests_total{alias,status}
 *   girder_gateway_attempts_total{alias,deployment,outcome}
 *   girder_gateway_retries_total{alias}, girder_gateway_fallbacks_total{alias}
 *   girder_gateway_upstream_duration_seconds{alias,deployment}          (histogram)
 *   girder_gateway_upstream_ttfb_seconds{alias,deployment}              (histogram)
 *   girder_gateway_tokens_total{alias,deployment,type=prompt|completion}
 *   girder_gateway_breaker_state{alias,deployment}  0 closed, 1 open, 2 half-open */
#include "gateway/gw_runtime.h"
#include "gateway/gw_adapter.h"
#include "gateway/gw_cache_req.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/json_write.h"
#include "gateway/gov.h"
#include "girder/error.h"
#include "obs/metrics.h"

#include <stdio.h>
#include <string.h>

static const char *const class_names[GW_AC_N] = {"ok",      "http_4xx", "http_429", "http_5xx",
                                                 "connect", "timeout",  "broken"};

uint64_t gw_now_ms(void)
{
    return gd_mono_ns() / 1000000u;
}

struct families {
    struct gd_counter_vec *attempts, *retries, *fallbacks, *tokens, *requests;
    struct gd_histogram_vec *duration, *ttfb;
    struct gd_gauge_vec *breaker;
};

static int register_families(struct gd_metrics *m, struct families *f)
{
    static const char *const l_a[] = {"alias"}, *const l_as[] = {"alias", "status"},
                             *const l_ad[] = {"alias", "deployment"},
                             *const l_ado[] = {"alias", "deployment", "outcome"},
                             *const l_adt[] = {"alias", "deployment", "type"};
#define OPTS(n, h, l)                                                                              \
    &(struct gd_metric_opts)                                                                       \
    {                                                                                              \
        n, h, l, sizeof l / sizeof l[0], 0                                                         \
    }
    int rc = gd_metrics_counter(
        m,
        OPTS("girder_gateway_requests_total", "Gateway client requests by alias and status", l_as),
        &f->requests);
    rc = rc ? rc
            : gd_metrics_counter(
                  m, OPTS("girder_gateway_attempts_total", "Upstream attempts by outcome", l_ado),
                  &f->attempts);
    rc = rc ? rc
            : gd_metrics_counter(m,
                                 OPTS("girder_gateway_retries_total",
                                      "Attempts after the first, per request alias", l_a),
                                 &f->retries);
    rc = rc ? rc
            : gd_metrics_counter(
                  m, OPTS("girder_gateway_fallbacks_total", "Moves to a fallback alias", l_a),
                  &f->fallbacks);
    rc =
        rc ? rc
           : gd_metrics_counter(
                 m, OPTS("girder_gateway_tokens_total", "Tokens reported by upstream usage", l_adt),
                 &f->tokens);
    rc = rc ? rc
            : gd_metrics_histogram(m,
                                   OPTS("girder_gateway_upstream_duration_seconds",
                                        "Upstream attempt duration", l_ad),
                                   gd_metrics_latency_buckets, gd_metrics_latency_buckets_n,
                                   &f->duration);
    rc = rc ? rc
            : gd_metrics_histogram(
                  m,
                  OPTS("girder_gateway_upstream_ttfb_seconds", "Upstream time to first byte", l_ad),
                  gd_metrics_latency_buckets, gd_metrics_latency_buckets_n, &f->ttfb);
    rc = rc ? rc
            : gd_metrics_gauge(m,
                               OPTS("girder_gateway_breaker_state",
                                    "Circuit breaker: 0 closed, 1 open, 2 half-open", l_ad),
                               &f->breaker);
#undef OPTS
    return rc;
}

static void dep_metrics(const struct families *f, const char *alias, struct gw_dep_rt *d)
{
    const char *ad[] = {alias, d->label};
    for (int k = 0; k < GW_AC_N; k++) {
        const char *v[] = {alias, d->label, class_names[k]};
        d->attempts[k] = gd_counter_vec_get(f->attempts, v);
    }
    const char *vp[] = {alias, d->label, "prompt"}, *vc[] = {alias, d->label, "completion"};
    d->prompt_tokens = gd_counter_vec_get(f->tokens, vp);
    d->completion_tokens = gd_counter_vec_get(f->tokens, vc);
    d->duration = gd_histogram_vec_get(f->duration, ad);
    d->ttfb = gd_histogram_vec_get(f->ttfb, ad);
    d->breaker_state = gd_gauge_vec_get(f->breaker, ad);
}

static int init_alias(struct gw_runtime *rt, const struct families *f, size_t i)
{
    const struct gd_gw_alias_cfg *a = &rt->gc->aliases[i];
    struct gw_alias_rt *ar = &rt->aliases[i];
    ar->targets = gd_calloc(a->n_deployments, sizeof *ar->targets);
    ar->deps = gd_calloc(a->n_deployments, sizeof *ar->deps);
    if (!ar->targets || !ar->deps)
        return GD_ENOMEM;
    pthread_mutex_init(&ar->mu, NULL);
    for (size_t k = 0; k < a->n_deployments; k++) {
        const struct gd_gw_deployment_cfg *dc = &a->deployments[k];
        const struct gd_gw_provider_cfg *p = &rt->gc->providers[dc->provider];
        struct gw_dep_rt *d = &ar->deps[k];
        struct gd_buf b;
        gd_buf_init(&b, 8192);
        if (gd_buf_printf(&b, "%s/%s", p->name, dc->model) != 0)
            return GD_ENOMEM;
        d->label = b.data;
        gd_buf_init(&b, 8192);
        if (gd_buf_printf(&b, "%s\n%s\n%u\n%u\n%u\n%d", p->name, p->base_url ? p->base_url : "",
                          p->max_connections, p->max_idle_connections, p->idle_timeout_ms,
                          p->use_curl) != 0)
            return GD_ENOMEM;
        d->pool_key = b.data;
        d->hc = gw_hc_target_new(p);
        ar->targets[k].weight = dc->weight;
        gd_gw_breaker_init(&ar->targets[k].breaker, &p->breaker);
        dep_metrics(f, a->alias, d);
    }
    const char *v[] = {a->alias};
    ar->retries = gd_counter_vec_get(f->retries, v);
    ar->fallbacks = gd_counter_vec_get(f->fallbacks, v);
    return 0;
}

static int models_json(struct gw_runtime *rt)
{
    struct gd_buf *b = &rt->models_json;
    int rc = gd_buf_puts(b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; rc == 0 && i < rt->gc->n_aliases; i++) {
        rc = i ? gd_buf_putc(b, ',') : 0;
        rc = rc ? rc : gw_model_object(rt->gc, (int)i, NULL, b);
    }
    return rc ? rc : gd_buf_puts(b, "]}");
}

/* Live runtimes, newest first. A SIGHUP must neither flood an upstream whose breaker was
 * open nor forget what latency-based routing learnt, so a new runtime copies that state
 * from the newest live one. In-flight counts and half-open probe slots stay behind: the
 * requests holding them report to the runtime they started on. */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static struct gw_runtime *live_head;

static void carry_target(struct gd_gw_target *to, const struct gd_gw_target *from)
{
    struct gd_gw_breaker *b = &to->breaker;
    const struct gd_gw_breaker *ob = &from->breaker;
    to->current = from->current;
    to->ewma_ttfb_ms = from->ewma_ttfb_ms;
    to->have_ewma = from->have_ewma;
    to->not_before_ms = from->not_before_ms;
    b->state = ob->state;
    b->consecutive = ob->consecutive;
    b->opened_at_ms = ob->opened_at_ms;
    b->transitions = ob->transitions;
    if (b->cfg.window_ms == ob->cfg.window_ms) { /* buckets mean the same time slots */
        memcpy(b->bucket_epoch, ob->bucket_epoch, sizeof b->bucket_epoch);
        memcpy(b->ok, ob->ok, sizeof b->ok);
        memcpy(b->fail, ob->fail, sizeof b->fail);
    }
}

static void carry_state(struct gw_runtime *rt, struct gw_runtime *old)
{
    for (size_t i = 0; i < rt->gc->n_aliases; i++) {
        const struct gd_gw_alias_cfg *a = &rt->gc->aliases[i];
        int j = gd_gw_config_find_alias(old->gc, a->alias, strlen(a->alias));
        if (j < 0)
            continue;
        struct gw_alias_rt *ar = &rt->aliases[i], *oar = &old->aliases[j];
        size_t on = old->gc->aliases[j].n_deployments;
        pthread_mutex_lock(&oar->mu);
        for (size_t k = 0; k < a->n_deployments; k++)
            for (size_t m = 0; m < on; m++)
                if (strcmp(ar->deps[k].label, oar->deps[m].label) == 0) {
                    carry_target(&ar->targets[k], &oar->targets[m]);
                    break;
                }
        pthread_mutex_unlock(&oar->mu);
    }
}

static void live_add(struct gw_runtime *rt)
{
    pthread_mutex_lock(&live_mu);
    if (live_head)
        carry_state(rt, live_head);
    rt->live_next = live_head;
    if (live_head)
        live_head->live_prev = rt;
    live_head = rt;
    pthread_mutex_unlock(&live_mu);
}

static void live_remove(struct gw_runtime *rt)
{
    pthread_mutex_lock(&live_mu);
    if (rt->live_prev)
        rt->live_prev->live_next = rt->live_next;
    else if (live_head == rt)
        live_head = rt->live_next;
    if (rt->live_next)
        rt->live_next->live_prev = rt->live_prev;
    rt->live_prev = rt->live_next = NULL;
    pthread_mutex_unlock(&live_mu);
}

int gw_runtime_new(const struct gd_config *cfg, struct gw_runtime **out)
{
    struct families f;
    struct gw_runtime *rt = gd_calloc(1, sizeof *rt);
    if (!rt)
        return GD_ENOMEM;
    rt->cfg = gd_config_ref((struct gd_config *)cfg);
    rt->gc = gd_gw_config_get(cfg);
    gd_buf_init(&rt->models_json, 16u << 20);
    int rc = register_families(gd_metrics_default(), &f);
    rt->requests = f.requests;
    if (rc == 0 && !(rt->aliases = gd_calloc(rt->gc->n_aliases + 1, sizeof *rt->aliases)))
        rc = GD_ENOMEM;
    for (size_t i = 0; rc == 0 && i < rt->gc->n_aliases; i++)
        rc = init_alias(rt, &f, i);
    if (rc == 0)
        rc = models_json(rt);
    if (rc == 0)
        rc = gd_gov_new(rt->gc, &rt->gov);
    if (rc == 0)
        rc = gw_cache_attach(rt);
    if (rc != 0) {
        gw_runtime_free(rt);
        return rc;
    }
    live_add(rt);
    *out = rt;
    return 0;
}

void gw_runtime_free(void *p)
{
    struct gw_runtime *rt = p;
    if (!rt)
        return;
    live_remove(rt);
    gw_cache_detach(rt);
    gd_gov_free(rt->gov);
    for (size_t i = 0; rt->aliases && i < rt->gc->n_aliases; i++) {
        struct gw_alias_rt *ar = &rt->aliases[i];
        if (!ar->targets || !ar->deps) {
            gd_free(ar->targets);
            gd_free(ar->deps);
            continue;
        }
        for (size_t k = 0; k < rt->gc->aliases[i].n_deployments; k++) {
            gd_free(ar->deps[k].label);
            gd_free(ar->deps[k].pool_key);
            gw_hc_target_free(ar->deps[k].hc);
        }
        gd_free(ar->targets);
        gd_free(ar->deps);
        pthread_mutex_destroy(&ar->mu);
    }
    gd_free(rt->aliases);
    gd_buf_free(&rt->models_json);
    gd_config_unref(rt->cfg);
    gd_free(rt);
}

static void publish_breaker(struct gw_alias_rt *ar, uint32_t dep, uint64_t now)
{
    enum gd_gw_breaker_state s = gd_gw_breaker_get_state(&ar->targets[dep].breaker, now);
    gd_gauge_set(ar->deps[dep].breaker_state, (double)s);
}

int gw_runtime_pick(struct gw_runtime *rt, uint32_t alias, uint64_t tried, int *probe)
{
    const struct gd_gw_alias_cfg *a = &rt->gc->aliases[alias];
    struct gw_alias_rt *ar = &rt->aliases[alias];
    uint64_t now = gw_now_ms();
    pthread_mutex_lock(&ar->mu);
    int d = gd_gw_router_pick(ar->targets, a->n_deployments, a->strategy, now, tried);
    if (d >= 0) {
        int tok = gd_gw_breaker_acquire(&ar->targets[d].breaker, now);
        *probe = tok > 0;
        ar->targets[d].inflight++;
        publish_breaker(ar, (uint32_t)d, now);
    }
    pthread_mutex_unlock(&ar->mu);
    return d;
}

static enum gw_attempt_class classify(const struct gd_gw_attempt_result *r)
{
    switch (r->outcome) {
    case GD_GW_OUTCOME_OK:
        return GW_AC_OK;
    case GD_GW_OUTCOME_HTTP:
        return r->status == 429   ? GW_AC_HTTP_429
               : r->status >= 500 ? GW_AC_HTTP_5XX
                                  : GW_AC_HTTP_4XX;
    case GD_GW_OUTCOME_CONNECT:
        return GW_AC_CONNECT;
    case GD_GW_OUTCOME_BROKEN:
        return GW_AC_BROKEN;
    default:
        return GW_AC_TIMEOUT;
    }
}

void gw_runtime_record(struct gw_runtime *rt, uint32_t alias, uint32_t dep, int probe,
                       const struct gd_gw_attempt_result *r, double ttfb_ms, double duration_ms)
{
    struct gw_alias_rt *ar = &rt->aliases[alias];
    struct gw_dep_rt *d = &ar->deps[dep];
    uint64_t now = gw_now_ms();
    pthread_mutex_lock(&ar->mu);
    struct gd_gw_target *t = &ar->targets[dep];
    if (t->inflight)
        t->inflight--;
    gd_gw_breaker_record(&t->breaker, now, !gd_gw_outcome_is_failure(r), probe);
    if (r->retry_after_ms) {
        uint64_t ra = r->retry_after_ms > 60000 ? 60000 : r->retry_after_ms;
        if (now + ra > t->not_before_ms)
            t->not_before_ms = now + ra;
    }
    if (ttfb_ms >= 0 && r->outcome == GD_GW_OUTCOME_OK)
        gd_gw_router_observe_ttfb(t, ttfb_ms);
    publish_breaker(ar, dep, now);
    pthread_mutex_unlock(&ar->mu);
    gd_counter_inc(d->attempts[classify(r)]);
    gd_histogram_observe(d->duration, duration_ms / 1000.0);
    if (ttfb_ms >= 0)
        gd_histogram_observe(d->ttfb, ttfb_ms / 1000.0);
}

void gw_runtime_count_request(struct gw_runtime *rt, const char *alias, int status)
{
    char st[16];
    snprintf(st, sizeof st, "%d", status);
    const char *v[] = {alias, st};
    gd_counter_inc(gd_counter_vec_get(rt->requests, v));
}

void gw_runtime_cancel(struct gw_runtime *rt, uint32_t alias, uint32_t dep, int probe)
{
    struct gw_alias_rt *ar = &rt->aliases[alias];
    pthread_mutex_lock(&ar->mu);
    struct gd_gw_target *t = &ar->targets[dep];
    if (t->inflight)
        t->inflight--;
    gd_gw_breaker_cancel(&t->breaker, probe);
    pthread_mutex_unlock(&ar->mu);
}

void gw_runtime_add_tokens(struct gw_runtime *rt, uint32_t alias, uint32_t dep, int64_t prompt,
                           int64_t completion)
{
    struct gw_dep_rt *d = &rt->aliases[alias].deps[dep];
    if (prompt > 0)
        gd_counter_add(d->prompt_tokens, (uint64_t)prompt);
    if (completion > 0)
        gd_counter_add(d->completion_tokens, (uint64_t)completion);
}
