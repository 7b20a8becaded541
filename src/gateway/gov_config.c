/* Parsing of `governance:` (see gov_config.h). Tenants first (keys name them), then keys,
 * per-alias limits and prices; every problem is recorded at its node and parsing goes on
 * to report as many as possible. */
#include "gateway/gov_config.h"
#include "core/alloc.h"
#include "gateway/gw_config.h"
#include "girder/error.h"

#include <math.h>
#include <stdio.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static const char *const gov_keys[] = {"time_zone", "keys", "tenants",          "aliases",
                                       "prices",    "jwt",  "admin_key_sha256", "redis",
                                       "pii",       NULL};
static const char *const key_keys[] = {"id",     "key_sha256", "tenant",   "models",
                                       "limits", "budget",     "metadata", NULL};
static const char *const tenant_keys[] = {"id", "limits", "budget", "pii", NULL};
static const char *const alias_keys[] = {"alias", "limits", "budget", "pii", NULL};
static const char *const limit_keys[] = {"rpm", "tpm", "concurrent", NULL};
static const char *const budget_keys[] = {"usd", "period", NULL};
static const char *const price_keys[] = {"model", "input_per_1m", "output_per_1m",
                                         "cached_input_per_1m", NULL};
static const char *const periods[] = {"total", "daily", "weekly", "monthly", NULL};

static void free_scope(struct gd_gov_scope_cfg *s)
{
    gd_free(s->id);
}

void gd_gov_config_free(struct gd_gov_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_keys; i++) {
        free_scope(&c->keys[i].s);
        gd_free(c->keys[i].aliases);
        gd_free(c->keys[i].tags);
    }
    for (size_t i = 0; i < c->n_tenants; i++)
        free_scope(&c->tenants[i]);
    for (size_t i = 0; i < c->n_aliases; i++)
        free_scope(&c->aliases[i]);
    for (size_t i = 0; i < c->n_prices; i++)
        gd_free(c->prices[i].model);
    gd_free(c->keys);
    gd_free(c->tenants);
    gd_free(c->aliases);
    gd_free(c->prices);
    gd_free(c->key_index);
    gd_gov_jwt_config_free(c->jwt);
    gd_gov_redis_config_free(c->redis);
    gd_gov_tz_free(&c->tz);
    gd_free(c);
}

/* A non-negative decimal number (USD amounts, prices): "12", "0.15", "1e-3". */
static int get_amount(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                      double max, double *out)
{
    const char *s = NULL;
    if (gd_config_get_string(d, map, key, 64, &s, NULL) != 0)
        return GD_EINVAL;
    if (!s)
        return 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || v < 0 || v > max) {
        gd_config_diag_add(d, gd_yaml_map_get(map, key), NULL,
                           "expected a non-negative number up to %g", max);
        return GD_EINVAL;
    }
    *out = v;
    return 0;
}

/* "map.key is required ...": an error at map naming the missing key's full path. */
static void missing(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                    const char *msg)
{
    char path[128];
    snprintf(path, sizeof path, "%s%s%s", map->path, *map->path ? "." : "", key);
    gd_config_diag_add(d, map, path, "%s", msg);
}

static int get_id(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                  char **out)
{
    const char *s = NULL;
    if (gd_config_get_string(d, map, key, GD_GOV_MAX_ID, &s, NULL) != 0)
        return GD_EINVAL;
    if (!s || !*s) {
        missing(d, map, key, "required and must not be empty");
        return GD_EINVAL;
    }
    *out = gd_strdup(s);
    return *out ? 0 : GD_ENOMEM;
}

static int parse_limits(struct gd_config_diag *d, const struct gd_yaml_node *n,
                        struct gd_gov_limits *l)
{
    const struct gd_yaml_node *m = NULL;
    int rc = gd_config_get_map(d, n, "limits", &m);
    if (rc || !m)
        return rc;
    rc = gd_config_check_keys(d, m, limit_keys);
    rc |= gd_config_get_int(d, m, "rpm", 0, 100000000, &l->rpm);
    rc |= gd_config_get_int(d, m, "tpm", 0, INT64_C(1000000000000), &l->tpm);
    rc |= gd_config_get_int(d, m, "concurrent", 0, 1000000, &l->concurrent);
    return rc ? GD_EINVAL : 0;
}

static int parse_budget(struct gd_config_diag *d, const struct gd_yaml_node *n,
                        struct gd_gov_budget_cfg *b)
{
    const struct gd_yaml_node *m = NULL;
    int rc = gd_config_get_map(d, n, "budget", &m), p = GD_GOV_PERIOD_MONTHLY;
    if (rc || !m)
        return rc;
    rc = gd_config_check_keys(d, m, budget_keys);
    rc |= get_amount(d, m, "usd", 1e12, &b->usd);
    rc |= gd_config_get_enum(d, m, "period", periods, &p);
    if (!gd_yaml_map_get(m, "usd")) {
        gd_config_diag_add(d, m, NULL, "a budget needs 'usd'");
        rc = GD_EINVAL;
    }
    b->period = (enum gd_gov_period)p;
    return rc ? GD_EINVAL : 0;
}

/* n's `pii:` map, when it has one (keys do not: check_keys refuses it there). */
static int parse_pii(struct gd_config_diag *d, const struct gd_yaml_node *n, int *has,
                     struct gd_gov_pii_cfg *out)
{
    const struct gd_yaml_node *m = NULL;
    int rc = gd_config_get_map(d, n, "pii", &m);
    if (rc || !m)
        return rc;
    *has = 1;
    return gd_gov_pii_config_parse(d, m, out);
}

static int parse_scope(struct gd_config_diag *d, const struct gd_yaml_node *n, const char *idkey,
                       struct gd_gov_scope_cfg *s)
{
    int rc = get_id(d, n, idkey, &s->id);
    if (rc == GD_ENOMEM)
        return rc;
    rc |= parse_limits(d, n, &s->limits);
    rc |= parse_budget(d, n, &s->budget);
    rc |= parse_pii(d, n, &s->has_pii, &s->pii);
    return rc ? GD_EINVAL : 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int parse_digest(struct gd_config_diag *d, const struct gd_yaml_node *n, const char *key,
                        unsigned char *md)
{
    const char *s = NULL;
    if (gd_config_get_string(d, n, key, 128, &s, NULL) != 0)
        return GD_EINVAL;
    if (!s) {
        missing(d, n, key, "required: the key's SHA-256 (make one with `girder keys new`)");
        return GD_EINVAL;
    }
    if (strncmp(s, "sha256:", 7) == 0)
        s += 7;
    for (int i = 0; i < 32; i++) {
        int hi = strlen(s) == 64 ? hexval(s[2 * i]) : -1, lo = hi >= 0 ? hexval(s[2 * i + 1]) : -1;
        if (lo < 0) {
            gd_config_diag_add(d, gd_yaml_map_get(n, key), NULL,
                               "expected 64 hex digits (the SHA-256 of the key)");
            return GD_EINVAL;
        }
        md[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static int find_scope(const struct gd_gov_scope_cfg *s, size_t n, const char *id, size_t stride)
{
    for (size_t i = 0; i < n; i++) {
        const struct gd_gov_scope_cfg *x =
            (const struct gd_gov_scope_cfg *)((const char *)s + i * stride);
        if (x->id && strcmp(x->id, id) == 0)
            return (int)i;
    }
    return -1;
}

static int parse_key_models(struct gd_config_diag *d, const struct gd_yaml_node *n,
                            const struct gd_gw_config *gc, struct gd_gov_key_cfg *k)
{
    const struct gd_yaml_node *seq = NULL;
    if (gd_config_get_seq(d, n, "models", &seq) != 0)
        return GD_EINVAL;
    if (!seq)
        return 0;
    if (seq->n == 0 || seq->n > GD_GOV_MAX_KEY_ALIASES) {
        gd_config_diag_add(d, seq, NULL, "list 1 to %d model aliases (leave 'models' out for all)",
                           GD_GOV_MAX_KEY_ALIASES);
        return GD_EINVAL;
    }
    if (!(k->aliases = gd_calloc(seq->n, sizeof *k->aliases)))
        return GD_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < seq->n; i++) {
        const struct gd_yaml_node *it = seq->items[i];
        if (gd_config_expect_kind(d, it, GD_YAML_SCALAR) != 0) {
            rc = GD_EINVAL;
            continue;
        }
        int a = gd_gw_config_find_alias(gc, it->str, it->len);
        if (a < 0) {
            gd_config_diag_add(d, it, NULL, "unknown model alias '%s'", it->str);
            rc = GD_EINVAL;
            continue;
        }
        k->aliases[k->n_aliases++] = (uint32_t)a;
    }
    return rc;
}

/* metadata: a flat map of short strings, kept as "k=v,k=v" for the access log. */
static int parse_metadata(struct gd_config_diag *d, const struct gd_yaml_node *n,
                          struct gd_gov_key_cfg *k)
{
    const struct gd_yaml_node *m = NULL;
    if (gd_config_get_map(d, n, "metadata", &m) != 0)
        return GD_EINVAL;
    if (!m || m->n == 0)
        return 0;
    if (m->n > GD_GOV_MAX_META) {
        gd_config_diag_add(d, m, NULL, "at most %d metadata entries", GD_GOV_MAX_META);
        return GD_EINVAL;
    }
    struct gd_buf b;
    gd_buf_init(&b, 8192);
    int rc = 0;
    for (size_t i = 0; i < m->n && rc == 0; i++) {
        const struct gd_yaml_node *key = m->pairs[i].key, *v = m->pairs[i].value;
        if (gd_config_expect_kind(d, v, GD_YAML_SCALAR) != 0 || key->len > 64 || v->len > 256 ||
            strpbrk(key->str, ",=") || strchr(v->str, ',') || (v->flags & GD_YAML_F_SECRET)) {
            gd_config_diag_add(d, v, NULL,
                               "metadata values are short strings (key <= 64, value <= 256 "
                               "bytes, no ',' or '=' in keys, no ',' in values, not from the "
                               "environment)");
            rc = GD_EINVAL;
            break;
        }
        rc = gd_buf_printf(&b, "%s%s=%s", i ? "," : "", key->str, v->str);
    }
    if (rc == 0 && b.data)
        k->tags = b.data;
    else
        gd_buf_free(&b);
    return rc == GD_ENOMEM ? rc : (rc ? GD_EINVAL : 0);
}

static int parse_key(struct gd_config_diag *d, const struct gd_yaml_node *n,
                     const struct gd_gw_config *gc, struct gd_gov_config *c,
                     struct gd_gov_key_cfg *k)
{
    k->tenant = GD_GOV_NONE;
    if (gd_config_expect_kind(d, n, GD_YAML_MAP) != 0)
        return GD_EINVAL;
    int rc = gd_config_check_keys(d, n, key_keys);
    int src = parse_scope(d, n, "id", &k->s);
    if (src == GD_ENOMEM)
        return src;
    rc |= src | parse_digest(d, n, "key_sha256", k->sha256);
    const char *t = NULL;
    rc |= gd_config_get_string(d, n, "tenant", GD_GOV_MAX_ID, &t, NULL);
    if (t) {
        int ti = find_scope(c->tenants, c->n_tenants, t, sizeof *c->tenants);
        if (ti < 0) {
            gd_config_diag_add(d, gd_yaml_map_get(n, "tenant"), NULL,
                               "unknown tenant '%s' (define it under governance.tenants)", t);
            rc = GD_EINVAL;
        }
        k->tenant = ti < 0 ? GD_GOV_NONE : (uint32_t)ti;
    }
    int mrc = parse_key_models(d, n, gc, k);
    int trc = mrc == GD_ENOMEM ? mrc : parse_metadata(d, n, k);
    if (mrc == GD_ENOMEM || trc == GD_ENOMEM)
        return GD_ENOMEM;
    return rc || mrc || trc ? GD_EINVAL : 0;
}

static int build_index(struct gd_gov_config *c)
{
    size_t slots = 16;
    while (slots < c->n_keys * 2)
        slots <<= 1;
    if (!(c->key_index = gd_calloc(slots, sizeof *c->key_index)))
        return GD_ENOMEM;
    memset(c->key_index, 0xff, slots * sizeof *c->key_index);
    c->key_slots = slots;
    for (size_t i = 0; i < c->n_keys; i++) {
        uint64_t h;
        memcpy(&h, c->keys[i].sha256, sizeof h);
        size_t s = (size_t)h & (slots - 1);
        while (c->key_index[s] != GD_GOV_NONE)
            s = (s + 1) & (slots - 1);
        c->key_index[s] = (uint32_t)i;
    }
    return 0;
}

uint32_t gd_gov_config_find_key(const struct gd_gov_config *c, const unsigned char sha256[32])
{
    if (!c->key_slots)
        return GD_GOV_NONE;
    uint64_t h;
    memcpy(&h, sha256, sizeof h);
    for (size_t s = (size_t)h & (c->key_slots - 1);; s = (s + 1) & (c->key_slots - 1)) {
        uint32_t k = c->key_index[s];
        if (k == GD_GOV_NONE)
            return GD_GOV_NONE;
        if (CRYPTO_memcmp(c->keys[k].sha256, sha256, 32) == 0)
            return k;
    }
}

uint32_t gd_gov_config_find_tenant(const struct gd_gov_config *c, const char *id)
{
    int i = find_scope(c->tenants, c->n_tenants, id, sizeof *c->tenants);
    return i < 0 ? GD_GOV_NONE : (uint32_t)i;
}

int gd_gov_key_allows(const struct gd_gov_key_cfg *k, uint32_t alias)
{
    if (k->n_aliases == 0)
        return 1;
    for (size_t i = 0; i < k->n_aliases; i++)
        if (k->aliases[i] == alias)
            return 1;
    return 0;
}

static int parse_tenants(struct gd_config_diag *d, const struct gd_yaml_node *g,
                         struct gd_gov_config *c)
{
    const struct gd_yaml_node *seq = NULL;
    int rc = gd_config_get_seq(d, g, "tenants", &seq);
    if (rc || !seq)
        return rc;
    if (seq->n > GD_GOV_MAX_TENANTS) {
        gd_config_diag_add(d, seq, NULL, "at most %d tenants", GD_GOV_MAX_TENANTS);
        return GD_EINVAL;
    }
    if (!(c->tenants = gd_calloc(seq->n ? seq->n : 1, sizeof *c->tenants)))
        return GD_ENOMEM;
    for (size_t i = 0; i < seq->n; i++) {
        const struct gd_yaml_node *n = seq->items[i];
        struct gd_gov_scope_cfg *t = &c->tenants[i];
        int trc = gd_config_expect_kind(d, n, GD_YAML_MAP);
        trc = trc ? trc : gd_config_check_keys(d, n, tenant_keys) | parse_scope(d, n, "id", t);
        if (trc == GD_ENOMEM)
            return trc;
        c->n_tenants = i + 1;
        rc |= trc;
        if (t->id && find_scope(c->tenants, i, t->id, sizeof *t) >= 0) {
            gd_config_diag_add(d, gd_yaml_map_get(n, "id"), NULL, "duplicate tenant '%s'", t->id);
            rc = GD_EINVAL;
        }
    }
    return rc ? GD_EINVAL : 0;
}

static int parse_keys(struct gd_config_diag *d, const struct gd_yaml_node *g,
                      const struct gd_gw_config *gc, struct gd_gov_config *c)
{
    const struct gd_yaml_node *seq = NULL;
    int rc = gd_config_get_seq(d, g, "keys", &seq);
    if (rc || !seq)
        return rc;
    if (seq->n > GD_GOV_MAX_KEYS) {
        gd_config_diag_add(d, seq, NULL, "at most %d keys", GD_GOV_MAX_KEYS);
        return GD_EINVAL;
    }
    if (!(c->keys = gd_calloc(seq->n ? seq->n : 1, sizeof *c->keys)))
        return GD_ENOMEM;
    for (size_t i = 0; i < seq->n; i++) {
        struct gd_gov_key_cfg *k = &c->keys[i];
        int krc = parse_key(d, seq->items[i], gc, c, k);
        if (krc == GD_ENOMEM)
            return krc;
        c->n_keys = i + 1;
        rc |= krc;
        const struct gd_yaml_node *n = seq->items[i];
        if (k->s.id && find_scope(&c->keys->s, i, k->s.id, sizeof *k) >= 0) {
            gd_config_diag_add(d, gd_yaml_map_get(n, "id"), NULL, "duplicate key id '%s'", k->s.id);
            rc = GD_EINVAL;
        }
        for (size_t j = 0; krc == 0 && j < i; j++)
            if (memcmp(c->keys[j].sha256, k->sha256, 32) == 0) {
                gd_config_diag_add(d, gd_yaml_map_get(n, "key_sha256"), NULL,
                                   "same key hash as key '%s'", c->keys[j].s.id);
                rc = GD_EINVAL;
            }
    }
    return rc ? GD_EINVAL : 0;
}

static int parse_alias_limits(struct gd_config_diag *d, const struct gd_yaml_node *g,
                              const struct gd_gw_config *gc, struct gd_gov_config *c)
{
    const struct gd_yaml_node *seq = NULL;
    if (!(c->aliases = gd_calloc(gc->n_aliases + 1, sizeof *c->aliases)))
        return GD_ENOMEM;
    c->n_aliases = gc->n_aliases;
    int rc = gd_config_get_seq(d, g, "aliases", &seq);
    for (size_t i = 0; seq && i < seq->n; i++) {
        const struct gd_yaml_node *n = seq->items[i];
        struct gd_gov_scope_cfg s = {0};
        int arc = gd_config_expect_kind(d, n, GD_YAML_MAP);
        arc = arc ? arc : gd_config_check_keys(d, n, alias_keys) | parse_scope(d, n, "alias", &s);
        if (arc == GD_ENOMEM)
            return arc;
        int a = s.id ? gd_gw_config_find_alias(gc, s.id, strlen(s.id)) : -1;
        if (s.id && a < 0) {
            gd_config_diag_add(d, gd_yaml_map_get(n, "alias"), NULL, "unknown model alias '%s'",
                               s.id);
            arc = GD_EINVAL;
        } else if (a >= 0 && c->aliases[a].id) {
            gd_config_diag_add(d, gd_yaml_map_get(n, "alias"), NULL, "alias '%s' is listed twice",
                               s.id);
            arc = GD_EINVAL;
        }
        if (arc == 0)
            c->aliases[a] = s;
        else
            free_scope(&s);
        rc |= arc;
    }
    return rc ? GD_EINVAL : 0;
}

static int parse_prices(struct gd_config_diag *d, const struct gd_yaml_node *g,
                        struct gd_gov_config *c)
{
    const struct gd_yaml_node *seq = NULL;
    int rc = gd_config_get_seq(d, g, "prices", &seq);
    if (rc || !seq)
        return rc;
    if (seq->n > GD_GOV_MAX_PRICES) {
        gd_config_diag_add(d, seq, NULL, "at most %d prices", GD_GOV_MAX_PRICES);
        return GD_EINVAL;
    }
    if (!(c->prices = gd_calloc(seq->n ? seq->n : 1, sizeof *c->prices)))
        return GD_ENOMEM;
    for (size_t i = 0; i < seq->n; i++) {
        const struct gd_yaml_node *n = seq->items[i];
        struct gd_gov_price *p = &c->prices[i];
        if (gd_config_expect_kind(d, n, GD_YAML_MAP) != 0) {
            rc = GD_EINVAL;
            continue;
        }
        int prc = gd_config_check_keys(d, n, price_keys) | get_id(d, n, "model", &p->model);
        if (prc == GD_ENOMEM)
            return prc;
        c->n_prices = i + 1;
        p->cached_input = -1;
        prc |= get_amount(d, n, "input_per_1m", 1e6, &p->input);
        prc |= get_amount(d, n, "output_per_1m", 1e6, &p->output);
        prc |= get_amount(d, n, "cached_input_per_1m", 1e6, &p->cached_input);
        if (p->cached_input < 0)
            p->cached_input = p->input; /* no discount unless configured */
        for (size_t j = 0; p->model && j < i; j++)
            if (c->prices[j].model && strcmp(c->prices[j].model, p->model) == 0) {
                gd_config_diag_add(d, gd_yaml_map_get(n, "model"), NULL, "duplicate price for '%s'",
                                   p->model);
                prc = GD_EINVAL;
            }
        rc |= prc;
    }
    return rc ? GD_EINVAL : 0;
}

static int parse_tz(struct gd_config_diag *d, const struct gd_yaml_node *g, struct gd_gov_config *c)
{
    const char *s = "UTC";
    char err[256];
    if (gd_config_get_string(d, g, "time_zone", 63, &s, NULL) != 0)
        return GD_EINVAL;
    int rc = gd_gov_tz_load(s ? s : "UTC", &c->tz, err, sizeof err);
    if (rc == GD_ENOMEM)
        return rc;
    if (rc != 0) {
        gd_config_diag_add(d, gd_yaml_map_get(g, "time_zone"), NULL, "%s", err);
        return GD_EINVAL;
    }
    return 0;
}

int gd_gov_config_parse(const struct gd_yaml_node *root, struct gd_config_diag *d,
                        const struct gd_gw_config *gc, struct gd_gov_config **out)
{
    const struct gd_yaml_node *g = NULL;
    *out = NULL;
    int rc = gd_config_get_map(d, root, "governance", &g);
    if (rc || !g)
        return rc;
    struct gd_gov_config *c = gd_calloc(1, sizeof *c);
    if (!c)
        return GD_ENOMEM;
    int (*const steps[])(struct gd_config_diag *, const struct gd_yaml_node *,
                         struct gd_gov_config *) = {parse_tz, parse_tenants, parse_prices};
    rc = gd_config_check_keys(d, g, gov_keys);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0] && rc != GD_ENOMEM; i++) {
        int src = steps[i](d, g, c);
        rc = src == GD_ENOMEM ? src : rc | src;
    }
    if (rc != GD_ENOMEM) {
        int krc = parse_keys(d, g, gc, c);
        rc = krc == GD_ENOMEM ? krc : rc | krc;
    }
    if (rc != GD_ENOMEM) {
        int arc = parse_alias_limits(d, g, gc, c);
        rc = arc == GD_ENOMEM ? arc : rc | arc;
    }
    if (rc != GD_ENOMEM) {
        int jrc = gd_gov_jwt_config_parse(d, g, &c->jwt);
        rc = jrc == GD_ENOMEM ? jrc : rc | jrc;
    }
    if (rc != GD_ENOMEM) {
        int rrc = gd_gov_redis_config_parse(g, d, &c->redis);
        rc = rrc == GD_ENOMEM ? rrc : rc | rrc;
    }
    if (rc != GD_ENOMEM && c->redis && c->redis->local_limits && !c->redis->keys) {
        gd_config_diag_add(d, gd_yaml_map_get(gd_yaml_map_get(g, "redis"), "limits"), NULL,
                           "'limits: local' only makes sense with 'keys: true' (Redis would "
                           "hold nothing)");
        rc = GD_EINVAL;
    }
    if (rc != GD_ENOMEM)
        rc |= parse_pii(d, g, &c->has_pii, &c->pii);
    if (rc != GD_ENOMEM && gd_yaml_map_get(g, "admin_key_sha256")) {
        int drc = parse_digest(d, g, "admin_key_sha256", c->admin_sha256);
        c->has_admin_key = drc == 0;
        rc |= drc;
        for (size_t i = 0; drc == 0 && i < c->n_keys; i++)
            if (memcmp(c->keys[i].sha256, c->admin_sha256, 32) == 0) {
                gd_config_diag_add(d, gd_yaml_map_get(g, "admin_key_sha256"), NULL,
                                   "the admin key must not also be virtual key '%s'",
                                   c->keys[i].s.id);
                rc = GD_EINVAL;
            }
    }
    if (rc == 0)
        rc = build_index(c);
    if (rc != 0) {
        gd_gov_config_free(c);
        return rc == GD_ENOMEM ? rc : GD_EINVAL;
    }
    *out = c;
    return 0;
}

const struct gd_gov_price *gd_gov_config_price(const struct gd_gov_config *c, const char *model,
                                               const char *alias)
{
    for (int pass = 0; pass < 2; pass++) {
        const char *name = pass ? alias : model;
        for (size_t i = 0; name && i < c->n_prices; i++)
            if (strcmp(c->prices[i].model, name) == 0)
                return &c->prices[i];
    }
    return NULL;
}

void gd_gov_config_summary(const struct gd_gov_config *c, struct gd_buf *out)
{
    size_t limited = 0;
    for (size_t i = 0; i < c->n_aliases; i++)
        limited += c->aliases[i].id != NULL;
    gd_buf_printf(out,
                  "governance: %zu keys (%s), %zu tenants, %zu limited aliases, %zu prices, "
                  "time zone %s",
                  c->n_keys, gd_gov_config_requires_auth(c) ? "required" : "open gateway",
                  c->n_tenants, limited, c->n_prices, c->tz.name);
    if (c->jwt)
        gd_buf_printf(out, ", JWT: %zu keys, tenant claim '%s'", c->jwt->n_keys,
                      c->jwt->tenant_claim);
    if (c->redis)
        gd_buf_printf(out, ", %s%s in Redis at %s (failure %s)",
                      c->redis->local_limits ? "" : "limits",
                      c->redis->keys ? (c->redis->local_limits ? "keys" : " and keys") : "",
                      c->redis->where, c->redis->failure == GD_GOV_FAIL_OPEN ? "open" : "closed");
}
