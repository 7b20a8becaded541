/* Virtual keys in Redis: lookup and per-loop cache (see gov_rkey_cache.h). */
#include "gateway/gov_rkey_cache.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "gateway/gov_keys.h"
#include "gateway/gov_redis.h"
#include "gateway/gov_rkey.h"
#include "girder/error.h"
#include "net/loop.h"
#include "obs/metrics.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum res { R_HIT = 0, R_MISS, R_INVALID, R_CACHED, R_ERROR, R_N };
static const char *const res_names[R_N] = {"hit", "miss", "invalid", "cached", "error"};
static struct gd_counter *res_ctr[R_N];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static const int slot_key = 0;

static void init_once(void)
{
    static const char *const l[] = {"result"};
    struct gd_metric_opts o = {"girder_gateway_gov_key_lookups_total",
                               "Virtual keys looked up in Redis, by result", l, 1, R_N};
    struct gd_counter_vec *v = NULL;
    if (gd_metrics_counter(gd_metrics_default(), &o, &v) == 0)
        for (int i = 0; i < R_N; i++) {
            const char *val[] = {res_names[i]};
            res_ctr[i] = gd_counter_vec_get(v, val);
        }
}

static void count(enum res r)
{
    if (res_ctr[r])
        gd_counter_inc(res_ctr[r]);
}

static uint64_t now_ms(void)
{
    return gd_mono_ns() / 1000000u;
}

/* ---- entries ---- */

void gd_gov_rkey_put(struct gd_gov_rkey *k)
{
    if (!k || --k->refs > 0)
        return;
    if (k->rt.st)
        k->ops->state_put(k->rt.st);
    gd_gov_rkey_cfg_free(&k->cfg);
    gd_free(k);
}

/* ---- the cache: a chained hash over the digest plus an age list ---- */

struct cache {
    uint64_t gen;
    struct gd_gov_rkey **b;
    size_t nb, n;
    struct gd_gov_rkey *old, *young; /* age list: old is evicted first */
};

static size_t bucket(const struct cache *c, const unsigned char md[32])
{
    uint64_t h;
    memcpy(&h, md, sizeof h);
    return (size_t)h & (c->nb - 1);
}

static void unlink_entry(struct cache *c, struct gd_gov_rkey *k)
{
    struct gd_gov_rkey **pp = &c->b[bucket(c, k->md)];
    while (*pp != k)
        pp = &(*pp)->hnext;
    *pp = k->hnext;
    if (k->prev)
        k->prev->next = k->next;
    else
        c->old = k->next;
    if (k->next)
        k->next->prev = k->prev;
    else
        c->young = k->prev;
    c->n--;
    gd_gov_rkey_put(k);
}

static void cache_clear(struct cache *c)
{
    while (c->old)
        unlink_entry(c, c->old);
}

static void cache_free(void *p)
{
    struct cache *c = p;
    cache_clear(c);
    gd_free(c->b);
    gd_free(c);
}

/* This loop's cache for config generation gen; a cache of another generation is emptied
 * first when reset, else not used (NULL). */
static struct cache *cache_for(struct gd_loop *loop, uint64_t gen, int reset)
{
    struct cache *c = gd_loop_slot_get(loop, &slot_key);
    if (c && c->gen != gen && !reset)
        return NULL; /* a lookup of a config replaced meanwhile: not kept */
    if (!c) {
        if (!(c = gd_calloc(1, sizeof *c)) || !(c->b = gd_calloc(64, sizeof *c->b))) {
            gd_free(c);
            return NULL;
        }
        c->nb = 64;
        if (gd_loop_slot_set(loop, &slot_key, c, cache_free) != 0) {
            gd_free(c->b);
            gd_free(c);
            return NULL;
        }
    }
    if (c->gen != gen) { /* a reload: entries name the old config's tenants and aliases */
        cache_clear(c);
        c->gen = gen;
    }
    return c;
}

static struct gd_gov_rkey *cache_get(struct cache *c, const unsigned char md[32], uint64_t now)
{
    for (struct gd_gov_rkey *k = c->b[bucket(c, md)]; k; k = k->hnext)
        if (CRYPTO_memcmp(k->md, md, 32) == 0) {
            if (k->expires_ms > now)
                return k;
            unlink_entry(c, k);
            return NULL;
        }
    return NULL;
}

static void grow(struct cache *c)
{
    struct gd_gov_rkey **nb = gd_calloc(c->nb * 2, sizeof *nb);
    if (!nb)
        return; /* longer chains, still correct */
    struct gd_gov_rkey **old = c->b;
    size_t on = c->nb;
    c->b = nb;
    c->nb *= 2;
    for (size_t i = 0; i < on; i++)
        for (struct gd_gov_rkey *k = old[i], *n; k; k = n) {
            n = k->hnext;
            size_t s = bucket(c, k->md);
            k->hnext = c->b[s];
            c->b[s] = k;
        }
    gd_free(old);
}

/* Keeps k (takes a reference) until ttl_ms from now. */
static void cache_put(struct cache *c, struct gd_gov_rkey *k, uint64_t ttl_ms, size_t cap)
{
    uint64_t now = now_ms();
    if (ttl_ms == 0)
        return;
    struct gd_gov_rkey *dup = cache_get(c, k->md, now);
    if (dup)
        unlink_entry(c, dup); /* two lookups raced: the newer answer stays */
    while (c->old && (c->n >= cap || c->old->expires_ms <= now))
        unlink_entry(c, c->old);
    if (c->n >= c->nb)
        grow(c);
    k->expires_ms = now + ttl_ms;
    k->refs++;
    size_t s = bucket(c, k->md);
    k->hnext = c->b[s];
    c->b[s] = k;
    k->next = NULL;
    k->prev = c->young;
    if (c->young)
        c->young->next = k;
    else
        c->old = k;
    c->young = k;
    c->n++;
}

/* ---- lookups ---- */

struct lookup {
    struct gd_gov *g;
    struct gd_loop *loop;
    unsigned char md[32];
    gd_gov_rkey_fn fn;
    void *ud;
};

static void log_refused(const unsigned char md[32], const struct gd_gov_rkey_err *e)
{
    char hex[65];
    gd_gov_hex(md, hex);
    gd_logf(GD_LOG_WARN,
            "msg=\"redis key refused\" key_id=\"%s\" key_sha256_prefix=%.12s field=\"%s\" "
            "reason=\"%s\"",
            e->id[0] ? e->id : "-", hex, e->field, e->why);
}

/* The entry for a HGETALL reply: found, or negative. rc: 0, GD_ENOENT, GD_ENOMEM. */
static int entry_from_reply(struct gd_gov *g, const unsigned char md[32], const redisReply *r,
                            struct gd_gov_rkey **out)
{
    struct gd_gov_rkey *k = gd_calloc(1, sizeof *k);
    if (!k)
        return GD_ENOMEM;
    k->refs = 1;
    k->gen = g->gen;
    k->ops = g->ops;
    k->cfg.tenant = GD_GOV_NONE;
    memcpy(k->md, md, 32);
    *out = k;
    size_t n = r->elements / 2;
    if (n == 0) {
        count(R_MISS);
        return GD_ENOENT;
    }
    struct gd_gov_rkey_field f[GD_GOV_RKEY_MAX_FIELDS + 1];
    struct gd_gov_rkey_err err;
    int rc;
    if (n > GD_GOV_RKEY_MAX_FIELDS) {
        memset(&err, 0, sizeof err);
        snprintf(err.field, sizeof err.field, "-");
        snprintf(err.why, sizeof err.why, "more than %d fields", GD_GOV_RKEY_MAX_FIELDS);
        rc = GD_EINVAL;
    } else {
        for (size_t i = 0; i < n; i++) {
            const redisReply *a = r->element[2 * i], *b = r->element[2 * i + 1];
            f[i].name = a->type == REDIS_REPLY_STRING ? a->str : "";
            f[i].name_n = a->type == REDIS_REPLY_STRING ? a->len : 0;
            f[i].value = b->type == REDIS_REPLY_STRING ? b->str : "";
            f[i].value_n = b->type == REDIS_REPLY_STRING ? b->len : 0;
        }
        rc = gd_gov_rkey_parse(g->c, g->gc, f, n, &k->cfg, &err);
    }
    if (rc == GD_ENOMEM)
        return rc;
    if (rc == 1) {
        count(R_MISS); /* revoked */
        return GD_ENOENT;
    }
    if (rc != 0) {
        count(R_INVALID);
        log_refused(md, &err);
        return GD_ENOENT;
    }
    const char *v[] = {"key", k->cfg.s.id};
    k->rt.spend = gd_gauge_vec_get(g->spend_vec, v);
    k->rt.tokens = gd_counter_vec_get(g->tokens_vec, v);
    if ((rc = g->ops->state_get(GD_GOV_KEY, k->cfg.s.id, &k->rt.st)) != 0)
        return rc;
    k->found = 1;
    count(R_HIT);
    return 0;
}

static int unavailable(const struct gd_gov *g)
{
    count(R_ERROR);
    return g->c->redis->failure == GD_GOV_FAIL_CLOSED ? GD_ECLOSED : GD_EIO;
}

static void on_reply(void *ud, const redisReply *r)
{
    struct lookup *l = ud;
    struct gd_gov *g = l->g;
    struct gd_gov_rkey *k = NULL;
    int rc;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        if (r && r->type == REDIS_REPLY_ERROR)
            gd_logf(GD_LOG_WARN, "msg=\"redis key lookup failed\" error=\"%.200s\"", r->str);
        rc = unavailable(g);
    } else {
        rc = entry_from_reply(g, l->md, r, &k);
        if (rc == GD_ENOMEM) {
            gd_gov_rkey_put(k);
            k = NULL;
        } else {
            struct cache *c = cache_for(l->loop, g->gen, 0);
            const struct gd_gov_redis_cfg *rc_ = g->c->redis;
            if (c)
                cache_put(c, k, k->found ? rc_->key_cache_ms : rc_->key_negative_cache_ms,
                          rc_->key_cache_size);
            if (rc != 0) {
                gd_gov_rkey_put(k);
                k = NULL;
            }
        }
    }
    gd_gov_rkey_fn fn = l->fn;
    void *fud = l->ud;
    OPENSSL_cleanse(l->md, sizeof l->md);
    gd_free(l);
    fn(fud, rc, k);
}

int gd_gov_rkey_find(struct gd_gov *g, struct gd_loop *loop, const unsigned char md[32],
                     gd_gov_rkey_fn fn, void *ud, struct gd_gov_rkey **out)
{
    pthread_once(&once, init_once);
    *out = NULL;
    if (!loop)
        return GD_ENOENT;
    struct cache *c = cache_for(loop, g->gen, 1);
    if (!c)
        return GD_ENOMEM;
    struct gd_gov_rkey *k = cache_get(c, md, now_ms());
    if (k) {
        count(R_CACHED);
        if (!k->found)
            return GD_ENOENT;
        k->refs++;
        *out = k;
        return 0;
    }
    if (!fn)
        return GD_ENOENT;
    struct lookup *l = gd_malloc(sizeof *l);
    if (!l)
        return GD_ENOMEM;
    l->g = g;
    l->loop = loop;
    memcpy(l->md, md, 32);
    l->fn = fn;
    l->ud = ud;
    const struct gd_gov_redis_cfg *rc = g->c->redis;
    char key[GD_GOV_REDIS_MAX_PREFIX + 80], hex[65];
    gd_gov_hex(md, hex);
    int kn = snprintf(key, sizeof key, "{%s}:key:%s", rc->key_prefix, hex);
    const char *argv[] = {"HGETALL", key};
    const size_t lens[] = {7, (size_t)kn};
    int r = gd_gov_redis_call(loop, rc, 2, argv, lens, on_reply, l);
    if (r == 0)
        return GD_EINPROGRESS;
    gd_free(l);
    return r == GD_ENOMEM ? r : unavailable(g);
}
