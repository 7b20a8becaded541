/* A virtual key stored in Redis, parsed and checked (see gov_rkey.h). */
#include "gateway/gov_rkey.h"
#include "core/alloc.h"
#include "gateway/gw_config.h"
#include "girder/error.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum f_id {
    F_ID = 0,
    F_TENANT,
    F_MODELS,
    F_RPM,
    F_TPM,
    F_CONC,
    F_USD,
    F_PERIOD,
    F_META,
    F_REV,
    F_N
};
static const char *const names[F_N] = {"id",       "tenant",     "models",     "rpm",
                                       "tpm",      "concurrent", "budget_usd", "budget_period",
                                       "metadata", "revoked"};
static const char *const periods[] = {"total", "daily", "weekly", "monthly"};

static int refuse(struct gd_gov_rkey_err *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(struct gd_gov_rkey_err *e, const char *field, const char *fmt, ...)
{
    snprintf(e->field, sizeof e->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->why, sizeof e->why, fmt, ap);
    va_end(ap);
    return GD_EINVAL;
}

static int is_name(const char *p, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(p, s, n) == 0;
}

/* Printable ASCII without quotes, backslashes or braces (ids, tenant, metadata). */
static int plain(const char *p, size_t n, int spaces)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c >= 0x7f || (c == ' ' && !spaces) || c == '"' || c == '\\' || c == '{' ||
            c == '}')
            return 0;
    }
    return 1;
}

static int get_int(const struct gd_gov_rkey_field *f, int64_t max, int64_t *out)
{
    int64_t v = 0;
    if (f->value_n == 0 || f->value_n > 13)
        return GD_EINVAL;
    for (size_t i = 0; i < f->value_n; i++) {
        if (f->value[i] < '0' || f->value[i] > '9')
            return GD_EINVAL;
        v = v * 10 + (f->value[i] - '0');
    }
    if (v > max)
        return GD_EINVAL;
    *out = v;
    return 0;
}

static int parse_models(const struct gd_gw_config *gc, const char *p, size_t n,
                        struct gd_gov_key_cfg *k, struct gd_gov_rkey_err *e)
{
    if (!(k->aliases = gd_calloc(GD_GOV_MAX_KEY_ALIASES, sizeof *k->aliases)))
        return GD_ENOMEM;
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && p[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && p[a] == ' ')
            a++;
        while (b > a && p[b - 1] == ' ')
            b--;
        if (a == b)
            return refuse(e, "models", "empty alias in the list (leave 'models' out for all)");
        if (k->n_aliases == GD_GOV_MAX_KEY_ALIASES)
            return refuse(e, "models", "at most %d aliases", GD_GOV_MAX_KEY_ALIASES);
        int al = gd_gw_config_find_alias(gc, p + a, b - a);
        if (al < 0)
            return refuse(e, "models", "unknown model alias '%.*s'", (int)(b - a > 64 ? 64 : b - a),
                          p + a);
        k->aliases[k->n_aliases++] = (uint32_t)al;
        i = j + 1;
    }
    return 0;
}

/* "k=v,k=v" -> the access log's key_tags (the same form). */
static int parse_meta(const char *p, size_t n, struct gd_gov_key_cfg *k, struct gd_gov_rkey_err *e)
{
    if (n == 0)
        return 0;
    if (!plain(p, n, 1))
        return refuse(e, "metadata", "only printable ASCII without quotes, '\\', '{' or '}'");
    size_t entries = 0;
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && p[j] != ',')
            j++;
        const char *eq = memchr(p + i, '=', j - i);
        if (!eq || eq == p + i)
            return refuse(e, "metadata", "expected k=v entries separated by ','");
        size_t kn = (size_t)(eq - (p + i)), vn = j - i - kn - 1;
        if (kn > 64 || vn > 256 || memchr(eq + 1, '=', vn))
            return refuse(e, "metadata", "keys <= 64 bytes, values <= 256 bytes, one '=' each");
        if (++entries > GD_GOV_MAX_META)
            return refuse(e, "metadata", "at most %d entries", GD_GOV_MAX_META);
        i = j + 1;
    }
    if (!(k->tags = gd_malloc(n + 1)))
        return GD_ENOMEM;
    memcpy(k->tags, p, n);
    k->tags[n] = '\0';
    return 0;
}

static int parse_usd(const struct gd_gov_rkey_field *f, double *out)
{
    char b[64];
    if (f->value_n == 0 || f->value_n >= sizeof b)
        return GD_EINVAL;
    memcpy(b, f->value, f->value_n);
    b[f->value_n] = '\0';
    char *end;
    double v = strtod(b, &end);
    if (end == b || *end || !isfinite(v) || v < 0 || v > 1e12 || b[0] == ' ')
        return GD_EINVAL;
    *out = v;
    return 0;
}

/* The fields, each at most once, by name. */
static int index_fields(const struct gd_gov_rkey_field *f, size_t n,
                        const struct gd_gov_rkey_field *by[F_N], struct gd_gov_rkey_err *e)
{
    if (n > GD_GOV_RKEY_MAX_FIELDS)
        return refuse(e, "-", "more than %d fields", GD_GOV_RKEY_MAX_FIELDS);
    for (size_t i = 0; i < n; i++) {
        int id = -1;
        for (int j = 0; j < F_N && id < 0; j++)
            if (is_name(f[i].name, f[i].name_n, names[j]))
                id = j;
        if (id < 0) {
            /* the field named as it is when short and printable, else "-" */
            int show = f[i].name_n < sizeof e->field && plain(f[i].name, f[i].name_n, 0);
            refuse(e, "-",
                   "unknown field (known: id, tenant, models, rpm, tpm, concurrent, "
                   "budget_usd, budget_period, metadata, revoked)");
            if (show)
                snprintf(e->field, sizeof e->field, "%.*s", (int)f[i].name_n, f[i].name);
            return GD_EINVAL;
        }
        if (by[id])
            return refuse(e, names[id], "given twice");
        if (f[i].value_n > GD_GOV_RKEY_MAX_VALUE || memchr(f[i].value, '\0', f[i].value_n))
            return refuse(e, names[id], "over %d bytes or holding a NUL byte",
                          GD_GOV_RKEY_MAX_VALUE);
        by[id] = &f[i];
    }
    return 0;
}

static int parse_fields(const struct gd_gov_config *c, const struct gd_gw_config *gc,
                        const struct gd_gov_rkey_field *by[F_N], struct gd_gov_key_cfg *k,
                        struct gd_gov_rkey_err *e)
{
    const struct gd_gov_rkey_field *f = by[F_ID];
    if (!f || f->value_n == 0 || f->value_n > GD_GOV_MAX_ID || !plain(f->value, f->value_n, 0))
        return refuse(e, "id",
                      "required: 1 to %d printable bytes without spaces, quotes, '\\', "
                      "'{' or '}'",
                      GD_GOV_MAX_ID);
    memcpy(e->id, f->value, f->value_n);
    e->id[f->value_n] = '\0';
    if (!(k->s.id = gd_strdup(e->id)))
        return GD_ENOMEM;
    if ((f = by[F_REV]) && !(f->value_n == 1 && (f->value[0] == '0' || f->value[0] == '1')))
        return refuse(e, "revoked", "expected 0 or 1");
    if (f && f->value[0] == '1')
        return 1;
    if ((f = by[F_TENANT])) {
        char t[GD_GOV_MAX_ID + 1];
        if (f->value_n == 0 || f->value_n > GD_GOV_MAX_ID || !plain(f->value, f->value_n, 1))
            return refuse(e, "tenant", "expected a tenant id");
        memcpy(t, f->value, f->value_n);
        t[f->value_n] = '\0';
        if ((k->tenant = gd_gov_config_find_tenant(c, t)) == GD_GOV_NONE)
            return refuse(e, "tenant", "unknown tenant '%s' (define it under governance.tenants)",
                          t);
    }
    static const int64_t max[3] = {100000000, INT64_C(1000000000000), 1000000};
    int64_t *lim[3] = {&k->s.limits.rpm, &k->s.limits.tpm, &k->s.limits.concurrent};
    for (int i = 0; i < 3; i++)
        if ((f = by[F_RPM + i]) && get_int(f, max[i], lim[i]) != 0)
            return refuse(e, names[F_RPM + i], "expected an integer from 0 to %lld",
                          (long long)max[i]);
    if ((f = by[F_USD]) && parse_usd(f, &k->s.budget.usd) != 0)
        return refuse(e, "budget_usd", "expected a non-negative number up to 1e12");
    k->s.budget.period = GD_GOV_PERIOD_MONTHLY;
    if ((f = by[F_PERIOD])) {
        int p = -1;
        for (int i = 0; i < 4; i++)
            if (is_name(f->value, f->value_n, periods[i]))
                p = i;
        if (p < 0)
            return refuse(e, "budget_period", "expected daily, weekly, monthly or total");
        if (!by[F_USD])
            return refuse(e, "budget_period", "a budget needs 'budget_usd'");
        k->s.budget.period = (enum gd_gov_period)p;
    }
    int rc = 0;
    if ((f = by[F_MODELS]))
        rc = parse_models(gc, f->value, f->value_n, k, e);
    if (rc == 0 && (f = by[F_META]))
        rc = parse_meta(f->value, f->value_n, k, e);
    return rc;
}

int gd_gov_rkey_parse(const struct gd_gov_config *c, const struct gd_gw_config *gc,
                      const struct gd_gov_rkey_field *f, size_t n, struct gd_gov_key_cfg *out,
                      struct gd_gov_rkey_err *err)
{
    const struct gd_gov_rkey_field *by[F_N] = {0};
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    out->tenant = GD_GOV_NONE;
    for (size_t i = 0; i < n && i < GD_GOV_RKEY_MAX_FIELDS; i++) /* to name it in any error */
        if (is_name(f[i].name, f[i].name_n, "id") && f[i].value_n > 0 &&
            f[i].value_n <= GD_GOV_MAX_ID && plain(f[i].value, f[i].value_n, 0)) {
            memcpy(err->id, f[i].value, f[i].value_n);
            err->id[f[i].value_n] = '\0';
        }
    int rc = index_fields(f, n, by, err);
    if (rc == 0)
        rc = parse_fields(c, gc, by, out, err);
    if (rc != 0)
        gd_gov_rkey_cfg_free(out);
    return rc;
}

void gd_gov_rkey_cfg_free(struct gd_gov_key_cfg *k)
{
    gd_free(k->s.id);
    gd_free(k->aliases);
    gd_free(k->tags);
    memset(k, 0, sizeof *k);
    k->tenant = GD_GOV_NONE;
}
