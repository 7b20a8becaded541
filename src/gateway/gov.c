/* Gateway governance per request (see gov.h): keys -> parties -> limiter backend, plus
 * the errors, headers, metrics and access-log fields that go with it.
 *
 * Metric families (bounded: every label value comes from the config):
 *   girder_gateway_gov_refusals_total{kind,id,reason}  kind key|tenant|alias|auth
 *   girder_gateway_gov_spend_usd{kind,id}              USD since start (a gauge: float)
 *   girder_gateway_gov_tokens_total{kind,id}           prompt + completion tokens */
#include "gateway/gov.h"
#include "gateway/gov_internal.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/json_write.h"
#include "core/log.h"
#include "gateway/gov_keys.h"
#include "gateway/gov_rkey_cache.h"
#include "gateway/gw_adapter.h"
#include "gateway/gw_config.h"
#include "girder/error.h"
#include "obs/metrics.h"

#include <openssl/crypto.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

const char *const gd_gov__kind_names[GD_GOV_KIND_N] = {"key", "tenant", "alias"};
static const char *const reason_names[GD_GOV_REASON_N] = {"admitted",   "rpm",    "tpm",
                                                          "concurrent", "budget", "too_large"};
enum { MAX_SERIES = 50000 };
static atomic_uint_fast64_t gen_seq;

static int families(struct gd_counter_vec **refusals, struct gd_gauge_vec **spend,
                    struct gd_counter_vec **tokens)
{
    static const char *const l3[] = {"kind", "id", "reason"}, *const l2[] = {"kind", "id"};
    struct gd_metrics *m = gd_metrics_default();
    struct gd_metric_opts o1 = {"girder_gateway_gov_refusals_total",
                                "Requests refused by governance (auth, permission, limits)", l3, 3,
                                MAX_SERIES};
    struct gd_metric_opts o2 = {"girder_gateway_gov_spend_usd",
                                "USD spent since start, from the price table", l2, 2, MAX_SERIES};
    struct gd_metric_opts o3 = {"girder_gateway_gov_tokens_total",
                                "Prompt + completion tokens charged", l2, 2, MAX_SERIES};
    int rc = gd_metrics_counter(m, &o1, refusals);
    rc = rc ? rc : gd_metrics_gauge(m, &o2, spend);
    return rc ? rc : gd_metrics_counter(m, &o3, tokens);
}

static int init_parties(struct gd_gov *g, enum gd_gov_kind k, size_t n,
                        const char *(*id_of)(const struct gd_gov *, size_t), int always,
                        struct gd_gauge_vec *spend, struct gd_counter_vec *tokens)
{
    if (!(g->p[k] = gd_calloc(n ? n : 1, sizeof *g->p[k])))
        return GD_ENOMEM;
    g->n[k] = n;
    for (size_t i = 0; i < n; i++) {
        const char *id = id_of(g, i);
        const char *v[] = {gd_gov__kind_names[k], id};
        g->p[k][i].spend = gd_gauge_vec_get(spend, v);
        g->p[k][i].tokens = gd_counter_vec_get(tokens, v);
        if (!always && k == GD_GOV_ALIAS && !g->c->aliases[i].id)
            continue; /* not limited: metrics only */
        int rc = g->ops->state_get(k, id, &g->p[k][i].st);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static const char *key_id(const struct gd_gov *g, size_t i)
{
    return g->c->keys[i].s.id;
}
static const char *tenant_id(const struct gd_gov *g, size_t i)
{
    return g->c->tenants[i].id;
}
static const char *alias_id(const struct gd_gov *g, size_t i)
{
    return g->gc->aliases[i].alias;
}

int gd_gov_new(const struct gd_gw_config *gc, struct gd_gov **out)
{
    *out = NULL;
    if (!gc->gov)
        return 0;
    struct gd_gov *g = gd_calloc(1, sizeof *g);
    if (!g)
        return GD_ENOMEM;
    g->gc = gc;
    g->c = gc->gov;
    g->ops = g->c->redis && !g->c->redis->local_limits ? &gd_gov_redis_ops : &gd_gov_local_ops;
    g->gen = atomic_fetch_add(&gen_seq, 1) + 1;
    struct gd_gauge_vec *spend = NULL;
    struct gd_counter_vec *tokens = NULL;
    int rc = families(&g->refusals, &spend, &tokens);
    g->spend_vec = spend;
    g->tokens_vec = tokens;
    rc = rc ? rc : init_parties(g, GD_GOV_KEY, g->c->n_keys, key_id, 1, spend, tokens);
    rc = rc ? rc : init_parties(g, GD_GOV_TENANT, g->c->n_tenants, tenant_id, 1, spend, tokens);
    rc = rc ? rc : init_parties(g, GD_GOV_ALIAS, gc->n_aliases, alias_id, 0, spend, tokens);
    if (rc != 0) {
        gd_gov_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void gd_gov_free(struct gd_gov *g)
{
    if (!g)
        return;
    for (int k = 0; k < GD_GOV_KIND_N; k++) {
        for (size_t i = 0; g->p[k] && i < g->n[k]; i++)
            g->ops->state_put(g->p[k][i].st);
        gd_free(g->p[k]);
    }
    gd_free(g);
}

void gd_gov_ticket_init(struct gd_gov_ticket *t, struct gd_gov *g)
{
    memset(t, 0, sizeof *t);
    t->g = g;
    t->key = GD_GOV_NONE;
    t->tenant = GD_GOV_NONE;
    t->cached_tokens = -1;
}

/* The ticket's governance; NULL (no-op) also for a NULL ticket: a request of a config
 * without governance carries none. */
static struct gd_gov *gov_of(const struct gd_gov_ticket *t)
{
    return t ? t->g : NULL;
}

void gd_gov_ticket_release(struct gd_gov_ticket *t)
{
    if (!t)
        return;
    gd_gov_rkey_put(t->rk);
    t->rk = NULL;
}

/* The caller's key: from the config or found in Redis; NULL for none (open, JWT). */
static const struct gd_gov_key_cfg *key_of(const struct gd_gov_ticket *t)
{
    return t->rk ? &t->rk->cfg : t->key != GD_GOV_NONE ? &t->g->c->keys[t->key] : NULL;
}

static const struct gov_party_rt *key_rt(const struct gd_gov_ticket *t)
{
    return t->rk ? &t->rk->rt : &t->g->p[GD_GOV_KEY][t->key];
}

void gd_gov_ticket_async(struct gd_gov_ticket *t, struct gd_loop *loop, gd_gov_verdict_fn fn,
                         void *ud)
{
    t->ask.loop = loop;
    t->on_verdict = fn;
    t->ud = ud;
}

static void count_refusal(struct gd_gov *g, const char *kind, const char *id, const char *reason)
{
    const char *v[] = {kind, id, reason};
    gd_counter_inc(gd_counter_vec_get(g->refusals, v));
}

/* The answer once the credential is checked: rc 0 with t->rk for a key found in Redis,
 * else the lookup's code (GD_ENOENT when there was none). 0 or -1 with r filled. */
static int identity_verdict(struct gd_gov_ticket *t, int rc, struct gd_gov_refusal *r)
{
    if (rc == 0 && t->rk)
        t->tenant = t->rk->cfg.tenant;
    if (t->key != GD_GOV_NONE || t->rk || t->jwt)
        return 0;
    memset(r, 0, sizeof *r);
    r->status = 401;
    if (rc == GD_ECLOSED) { /* fail-closed: unknown keys cannot be told from Redis keys */
        r->status = 503;
        r->type = "api_error";
        r->code = "key_store_unavailable";
        snprintf(r->message, sizeof r->message,
                 "The key store is unavailable; the request was not sent. Please retry.");
        count_refusal(t->g, "auth", "-", "key_store_unavailable");
        return -1;
    }
    if (rc == GD_ENOMEM) {
        r->status = 500;
        r->code = "governance_error";
        snprintf(r->message, sizeof r->message, "out of memory");
        return -1;
    }
    r->code = "invalid_api_key"; /* malformed, unknown, revoked, invalid read the same */
    snprintf(r->message, sizeof r->message, "Incorrect API key provided.");
    count_refusal(t->g, "auth", "-", "invalid_key");
    return -1;
}

static void on_rkey(void *ud, int rc, struct gd_gov_rkey *k)
{
    struct gd_gov_ticket *t = ud;
    struct gd_gov_refusal r;
    t->rk = k;
    int res = identity_verdict(t, rc, &r);
    t->on_verdict(t, res, &r, t->ud);
}

/* A JWT names a tenant (which must be configured); its limits then apply. */
static void authenticate_jwt(struct gd_gov_ticket *t, const char *tok, size_t n)
{
    char tenant[GD_GOV_MAX_ID + 1], why[128];
    const struct gd_gov_config *c = t->g->c;
    if (gd_gov_jwt_verify(c->jwt, tok, n, (int64_t)(gd_wall_ns() / 1000000000u), tenant,
                          sizeof tenant, why, sizeof why) != 0) {
        gd_logf(GD_LOG_INFO, "msg=\"jwt refused\" reason=\"%s\"", why);
        return;
    }
    uint32_t ti = gd_gov_config_find_tenant(c, tenant);
    if (ti == GD_GOV_NONE) {
        gd_logf(GD_LOG_INFO, "msg=\"jwt refused\" reason=\"tenant claim names no configured "
                             "tenant\"");
        return;
    }
    t->jwt = 1;
    t->tenant = ti;
}

int gd_gov_authenticate(struct gd_gov_ticket *t, const struct gd_http_request *hr,
                        struct gd_gov_refusal *r)
{
    struct gd_gov *g = gov_of(t);
    if (!g || !gd_gov_config_requires_auth(g->c))
        return 0; /* no keys configured: the gateway is open */
    const struct gd_slice *auth = gd_http_request_header(hr, "authorization");
    const struct gd_slice *xk = gd_http_request_header(hr, "x-api-key");
    const char *key;
    size_t n;
    int rc = gd_gov_credential(auth ? auth->p : NULL, auth ? auth->n : 0, xk ? xk->p : NULL,
                               xk ? xk->n : 0, &key, &n);
    memset(r, 0, sizeof *r);
    r->status = 401;
    if (rc == 0) {
        r->code = "missing_api_key";
        snprintf(r->message, sizeof r->message,
                 "You didn't provide an API key. Provide your virtual key in an Authorization "
                 "header using Bearer auth (Authorization: Bearer YOUR_KEY) or in x-api-key.");
        count_refusal(g, "auth", "-", "missing_key");
        return -1;
    }
    unsigned char md[32];
    int lrc = GD_ENOENT;
    if (rc == 1 && g->c->jwt && gd_gov_jwt_looks_like(key, n)) {
        authenticate_jwt(t, key, n);
    } else if (rc == 1) {
        gd_gov_sha256(key, n, md);
        t->key = gd_gov_config_find_key(g->c, md);
        if (t->key != GD_GOV_NONE)
            t->tenant = g->c->keys[t->key].tenant;
        else if (g->c->redis && g->c->redis->keys &&
                 !(g->c->has_admin_key && CRYPTO_memcmp(md, g->c->admin_sha256, 32) == 0))
            /* (the admin key is never a virtual key, not even from Redis) */
            lrc = gd_gov_rkey_find(g, t->ask.loop, md, t->on_verdict ? on_rkey : NULL, t, &t->rk);
        OPENSSL_cleanse(md, sizeof md);
    }
    if (lrc == GD_EINPROGRESS) {
        t->phase = GD_GOV_PHASE_IDENTIFY;
        return 1;
    }
    return identity_verdict(t, lrc, r);
}

int64_t gd_gov_estimate_tokens(const char *body, size_t len)
{
    (void)body;
    return (int64_t)((len + 3) / 4);
}

static const struct gd_gov_price *price_for(const struct gd_gov *g, uint32_t alias,
                                            const char *model)
{
    const struct gd_gw_alias_cfg *a = &g->gc->aliases[alias];
    return gd_gov_config_price(g->c, model ? model : a->deployments[0].model, a->alias);
}

/* Decimal digits of v at p; returns the end. No printf: these run on every response. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* A duration as OpenAI writes it: "250ms", "12.5s", "1m30.250s" (out >= 32 bytes). */
static void fmt_wait(char *out, uint64_t ms)
{
    char *p = out;
    if (ms < 1000) {
        p = put_u64(p, ms);
        *p++ = 'm';
    } else {
        if (ms >= 60000) {
            p = put_u64(p, ms / 60000);
            *p++ = 'm';
        }
        p = put_u64(p, ms / 1000 % (ms >= 60000 ? 60 : UINT64_MAX));
        if (ms % 1000) {
            *p++ = '.';
            *p++ = (char)('0' + ms % 1000 / 100);
            *p++ = (char)('0' + ms % 100 / 10);
            *p++ = (char)('0' + ms % 10);
        }
    }
    *p++ = 's';
    *p = '\0';
}

static const char *party_id(const struct gd_gov_ticket *t, enum gd_gov_kind k)
{
    const struct gd_gov_config *c = t->g->c;
    return k == GD_GOV_KEY      ? key_of(t)->s.id
           : k == GD_GOV_TENANT ? c->tenants[t->tenant].id
                                : t->g->gc->aliases[t->alias].alias;
}

static void limit_refusal(struct gd_gov_ticket *t, struct gd_gov_refusal *r)
{
    const struct gd_gov_verdict *v = &t->v;
    static const char *const what[GD_GOV_REASON_N] = {
        "", "requests per minute", "tokens per minute", "concurrent requests", "", ""};
    const char *kind = v->by == GD_GOV_ALIAS ? "model" : gd_gov__kind_names[v->by];
    const char *id = party_id(t, v->by);
    char wait[32];
    fmt_wait(wait, v->retry_after_ms);
    r->status = 429;
    r->retry_after_ms = v->retry_after_ms;
    r->retryable = 1;
    r->code = "rate_limit_exceeded";
    if (v->reason == GD_GOV_BUDGET) {
        r->type = r->code = "insufficient_quota";
        r->retryable = 0;
        snprintf(r->message, sizeof r->message,
                 "You exceeded the budget of %s '%s': %.4f of %.4f USD spent this period.", kind,
                 id, v->spent_usd, v->budget_usd);
    } else if (v->reason == GD_GOV_TOO_LARGE) {
        r->retryable = 0;
        r->retry_after_ms = 0;
        snprintf(r->message, sizeof r->message,
                 "Request too large for tokens per minute on %s '%s': limit %lld, requested "
                 "about %lld.",
                 kind, id, (long long)v->limit, (long long)v->used);
    } else {
        snprintf(r->message, sizeof r->message,
                 "Rate limit reached for %s on %s '%s': limit %lld, used %lld. Please try again "
                 "in %s.",
                 what[v->reason], kind, id, (long long)v->limit, (long long)v->used, wait);
    }
    count_refusal(t->g, gd_gov__kind_names[v->by], id, reason_names[v->reason]);
}

static void fill_party(struct gd_gov_ticket *t, enum gd_gov_kind k, uint32_t i,
                       const struct gd_gov_scope_cfg *cfg)
{
    t->ask.party[k].st = k == GD_GOV_KEY ? key_rt(t)->st : t->g->p[k][i].st;
    t->ask.party[k].cfg = cfg;
    t->ask.party[k].id = cfg->id;
}

/* The request's answer from the limiter's rc: 0 admitted, or -1 with r filled. */
static int verdict(struct gd_gov_ticket *t, int rc, struct gd_gov_refusal *r)
{
    t->verdict_ok = rc == 0 || rc == GD_EAGAIN;
    if (rc == 0) {
        t->held = 1;
        return 0;
    }
    if (rc == GD_EAGAIN) {
        limit_refusal(t, r);
        return -1;
    }
    if (rc == GD_ECLOSED) { /* fail-closed and the shared limiter is unreachable */
        r->status = 503;
        r->code = "rate_limiter_unavailable";
        r->type = "api_error";
        snprintf(r->message, sizeof r->message,
                 "The rate limiter is unavailable; the request was not sent. Please retry.");
        count_refusal(t->g, "limiter", "redis", "unavailable");
        return -1;
    }
    r->status = 500;
    r->code = "governance_error";
    snprintf(r->message, sizeof r->message, "rate limiter unavailable: %s", gd_strerror(rc));
    return -1;
}

static void on_done(struct gd_gov_ask *a, int rc)
{
    struct gd_gov_ticket *t =
        (struct gd_gov_ticket *)((char *)a - offsetof(struct gd_gov_ticket, ask));
    struct gd_gov_refusal r;
    memset(&r, 0, sizeof r);
    int res = verdict(t, rc, &r);
    t->on_verdict(t, res, &r, t->ud);
}

int gd_gov_admit(struct gd_gov_ticket *t, uint32_t alias, const char *body, size_t len,
                 struct gd_gov_refusal *r)
{
    struct gd_gov *g = gov_of(t);
    if (!g)
        return 0;
    memset(r, 0, sizeof *r);
    t->alias = alias;
    const struct gd_gov_key_cfg *key = key_of(t);
    t->phase = GD_GOV_PHASE_ADMIT;
    if (key && !gd_gov_key_allows(key, alias)) {
        r->status = 403;
        r->code = "model_not_allowed";
        snprintf(r->message, sizeof r->message, "This key is not allowed to use model '%s'.",
                 g->gc->aliases[alias].alias);
        count_refusal(g, "key", key->s.id, "model_not_allowed");
        return -1;
    }
    struct gd_loop *loop = t->ask.loop;
    memset(&t->ask, 0, sizeof t->ask);
    t->ask.loop = t->on_verdict ? loop : NULL;
    t->ask.done = on_done;
    t->ask.redis = g->c->redis;
    if (key)
        fill_party(t, GD_GOV_KEY, t->key, &key->s);
    if (t->tenant != GD_GOV_NONE)
        fill_party(t, GD_GOV_TENANT, t->tenant, &g->c->tenants[t->tenant]);
    if (g->c->aliases[alias].id)
        fill_party(t, GD_GOV_ALIAS, alias, &g->c->aliases[alias]);
    const struct gd_gov_price *pr = price_for(g, alias, NULL);
    t->prompt_est = gd_gov_estimate_tokens(body, len);
    t->ask.tokens = t->prompt_est;
    t->ask.cost_usd = pr ? (double)t->prompt_est * pr->input / 1e6 : 0;
    t->ask.now_ms = gd_mono_ns() / 1000000u;
    t->ask.now_s = (int64_t)(gd_wall_ns() / 1000000000u);
    t->ask.tz = &g->c->tz;
    int rc = g->ops->acquire(&t->ask, &t->v);
    return rc == GD_EINPROGRESS ? 1 : verdict(t, rc, r);
}

static void set_quota(struct gd_http_exchange *x, const char *const names[3],
                      const struct gd_gov_quota *q)
{
    char v[32];
    *put_u64(v, (uint64_t)q->limit) = '\0';
    gd_http_set_header(x, names[0], v);
    *put_u64(v, (uint64_t)q->remaining) = '\0';
    gd_http_set_header(x, names[1], v);
    fmt_wait(v, q->reset_ms);
    gd_http_set_header(x, names[2], v);
}

int gd_gov_headers(const struct gd_gov_ticket *t, struct gd_http_exchange *x)
{
    if (!gov_of(t) || !t->verdict_ok)
        return 0;
    static const char *const req[3] = {"x-ratelimit-limit-requests",
                                       "x-ratelimit-remaining-requests",
                                       "x-ratelimit-reset-requests"};
    static const char *const tok[3] = {"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens",
                                       "x-ratelimit-reset-tokens"};
    if (t->v.requests.limit)
        set_quota(x, req, &t->v.requests);
    if (t->v.tokens.limit)
        set_quota(x, tok, &t->v.tokens);
    return t->v.requests.limit || t->v.tokens.limit;
}

void gd_gov_note_usage_json(struct gd_gov_ticket *t, const char *json, size_t len)
{
    static const char pat[] = "\"cached_tokens\"";
    const size_t pn = sizeof pat - 1;
    if (!gov_of(t) || t->cached_seen || !json)
        return;
    t->cached_seen = 1;
    for (const char *p = json, *end = json + len; (size_t)(end - p) >= pn;) {
        const char *q = memchr(p, '"', (size_t)(end - p) - pn + 1);
        if (!q)
            return;
        p = q + 1;
        if (memcmp(q, pat, pn) != 0 || (q > json && q[-1] == '\\'))
            continue;
        q += pn;
        while (q < end && (*q == ' ' || *q == ':' || *q == '\t' || *q == '\n' || *q == '\r'))
            q++;
        int64_t v = 0;
        int digits = 0;
        for (; q < end && *q >= '0' && *q <= '9' && digits < 15; q++, digits++)
            v = v * 10 + (*q - '0');
        if (digits)
            t->cached_tokens = v;
        return;
    }
}

void gd_gov_settle(struct gd_gov_ticket *t, const char *model, int64_t prompt, int64_t completion,
                   int upstream_used, int64_t est_completion)
{
    if (!gov_of(t) || !t->held)
        return;
    struct gd_gov *g = t->g;
    t->held = 0;
    if (prompt < 0)
        prompt = upstream_used ? t->prompt_est : 0;
    if (completion < 0)
        completion = upstream_used && est_completion > 0 ? est_completion : 0;
    int64_t cached = t->cached_tokens > 0 && t->cached_tokens <= prompt ? t->cached_tokens : 0;
    const struct gd_gov_price *pr = price_for(g, t->alias, model);
    double cost = pr ? ((double)(prompt - cached) * pr->input + (double)cached * pr->cached_input +
                        (double)completion * pr->output) /
                           1e6
                     : 0;
    struct gd_gov_actual a = {prompt + completion, cost, gd_mono_ns() / 1000000u,
                              (int64_t)(gd_wall_ns() / 1000000000u)};
    g->ops->settle(&t->ask, &a);
    uint32_t idx[GD_GOV_KIND_N] = {t->key, t->tenant, t->alias};
    for (int k = 0; k < GD_GOV_KIND_N; k++) {
        if (idx[k] == GD_GOV_NONE && !(k == GD_GOV_KEY && t->rk))
            continue;
        const struct gov_party_rt *p = k == GD_GOV_KEY ? key_rt(t) : &g->p[k][idx[k]];
        gd_gauge_add(p->spend, cost);
        if (a.tokens > 0)
            gd_counter_add(p->tokens, (uint64_t)a.tokens);
    }
}

int gd_gov_alias_visible(const struct gd_gov_ticket *t, uint32_t alias)
{
    return !gov_of(t) || !key_of(t) || gd_gov_key_allows(key_of(t), alias);
}

int gd_gov_sees_all(const struct gd_gov_ticket *t)
{
    return !gov_of(t) || !key_of(t) || key_of(t)->n_aliases == 0;
}

int gd_gov_models_json(const struct gd_gov_ticket *t, struct gd_buf *out)
{
    if (gd_gov_sees_all(t))
        return 0;
    int rc = gd_buf_puts(out, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0, n = 0; rc == 0 && i < t->g->gc->n_aliases; i++) {
        const char *a = t->g->gc->aliases[i].alias;
        if (!gd_gov_alias_visible(t, (uint32_t)i))
            continue;
        rc = n++ ? gd_buf_putc(out, ',') : 0;
        rc = rc ? rc : gw_model_object(t->g->gc, (int)i, a, out);
    }
    rc = rc ? rc : gd_buf_puts(out, "]}");
    return rc ? GD_ENOMEM : 1;
}

void gd_gov_log_fields(const struct gd_gov_ticket *t, struct gd_http_exchange *x)
{
    if (!gov_of(t))
        return;
    if (t->jwt) {
        gd_http_log_field_str(x, "auth", "jwt");
        gd_http_log_field_str(x, "tenant", t->g->c->tenants[t->tenant].id);
        return;
    }
    const struct gd_gov_key_cfg *k = key_of(t);
    if (!k)
        return;
    gd_http_log_field_str(x, "key_id", k->s.id);
    if (k->tenant != GD_GOV_NONE)
        gd_http_log_field_str(x, "tenant", t->g->c->tenants[k->tenant].id);
    if (k->tags)
        gd_http_log_field_str(x, "key_tags", k->tags);
}
