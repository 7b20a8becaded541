/* The Redis key entry parser (gov_rkey.c): every field, defaults, revocation, and each
 * malformed field refused with its name. */
#include "gateway/gov_rkey.h"
#include "gateway/gw_config.h"
#include "core/buf.h"
#include "core/config.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const struct gd_config_section *const sections[] = {&gd_gw_config_section};
static const struct gd_config_options opts = {sections, 1, {{0}, NULL, NULL}};
static const char *yaml = "providers: [{name: p, base_url: 'http://127.0.0.1:1/v1'}]\n"
                          "models:\n"
                          "  - {alias: a, deployments: [{provider: p, model: up-a}]}\n"
                          "  - {alias: b, deployments: [{provider: p, model: up-b}]}\n"
                          "governance:\n"
                          "  tenants: [{id: team, limits: {rpm: 100}}]\n"
                          "  redis: {url: 'redis://127.0.0.1:1', keys: true}\n";

static struct gd_config *cfg;
static const struct gd_gw_config *gc;

static void setup(void)
{
    struct gd_config_diag d;
    gd_config_diag_init(&d, "t.yaml");
    int rc = gd_config_load_mem(yaml, strlen(yaml), "t.yaml", &opts, &d, &cfg);
    gd_config_diag_free(&d);
    cr_assert_eq(rc, 0);
    gc = gd_gw_config_get(cfg);
}

static void teardown(void)
{
    gd_config_unref(cfg);
}

/* Parses "name=value" pairs (NULL-terminated, split at the first '='). */
static int parse(const char *const *kv, struct gd_gov_key_cfg *k, struct gd_gov_rkey_err *e)
{
    struct gd_gov_rkey_field f[40];
    size_t n = 0;
    for (; kv[n]; n++) {
        const char *eq = strchr(kv[n], '=');
        f[n].name = kv[n];
        f[n].name_n = (size_t)(eq - kv[n]);
        f[n].value = eq + 1;
        f[n].value_n = strlen(eq + 1);
    }
    return gd_gov_rkey_parse(gc->gov, gc, f, n, k, e);
}

TestSuite(gov_rkey, .init = setup, .fini = teardown);

Test(gov_rkey, every_field)
{
    const char *kv[] = {"id=ci-1",
                        "tenant=team",
                        "models=b, a",
                        "rpm=10",
                        "tpm=1000",
                        "concurrent=2",
                        "budget_usd=1.5",
                        "budget_period=weekly",
                        "metadata=owner=al,env=ci",
                        "revoked=0",
                        NULL};
    struct gd_gov_key_cfg k;
    struct gd_gov_rkey_err e;
    cr_assert_eq(parse(kv, &k, &e), 0, "%s: %s", e.field, e.why);
    cr_assert_str_eq(k.s.id, "ci-1");
    cr_assert_eq(k.tenant, 0);
    cr_assert_eq(k.n_aliases, 2);
    cr_assert_eq(k.aliases[0], 1);
    cr_assert_eq(k.aliases[1], 0);
    cr_assert_eq(k.s.limits.rpm, 10);
    cr_assert_eq(k.s.limits.tpm, 1000);
    cr_assert_eq(k.s.limits.concurrent, 2);
    cr_assert_float_eq(k.s.budget.usd, 1.5, 1e-12);
    cr_assert_eq(k.s.budget.period, GD_GOV_PERIOD_WEEKLY);
    cr_assert_str_eq(k.tags, "owner=al,env=ci");
    gd_gov_rkey_cfg_free(&k);
}

Test(gov_rkey, defaults_and_revoked)
{
    const char *kv[] = {"id=x", NULL};
    struct gd_gov_key_cfg k;
    struct gd_gov_rkey_err e;
    cr_assert_eq(parse(kv, &k, &e), 0);
    cr_assert_eq(k.tenant, GD_GOV_NONE);
    cr_assert_eq(k.n_aliases, 0); /* every alias */
    cr_assert(gd_gov_key_allows(&k, 1));
    cr_assert_eq(k.s.limits.rpm, 0);
    cr_assert_eq(k.s.budget.usd, 0);
    cr_assert_null(k.tags);
    gd_gov_rkey_cfg_free(&k);
    const char *kv2[] = {"id=x", "budget_usd=3", NULL};
    cr_assert_eq(parse(kv2, &k, &e), 0);
    cr_assert_eq(k.s.budget.period, GD_GOV_PERIOD_MONTHLY);
    gd_gov_rkey_cfg_free(&k);
    const char *rev[] = {"id=x", "rpm=5", "revoked=1", NULL};
    cr_assert_eq(parse(rev, &k, &e), 1);
    cr_assert_null(k.s.id);
}

static void refused(const char *const *kv, const char *field, const char *why)
{
    struct gd_gov_key_cfg k;
    struct gd_gov_rkey_err e;
    cr_assert_eq(parse(kv, &k, &e), GD_EINVAL, "accepted, expected %s refused", field);
    cr_assert_str_eq(e.field, field, "field %s, expected %s (%s)", e.field, field, e.why);
    cr_assert(strstr(e.why, why), "reason '%s' lacks '%s'", e.why, why);
    cr_assert_null(k.s.id);
    cr_assert_null(k.aliases);
    cr_assert_null(k.tags);
}

Test(gov_rkey, malformed_fields_named)
{
    refused((const char *[]){"rpm=5", NULL}, "id", "required");
    refused((const char *[]){"id=", NULL}, "id", "required");
    refused((const char *[]){"id=a b", NULL}, "id", "printable");
    refused((const char *[]){"id=a{b}", NULL}, "id", "printable");
    refused((const char *[]){"id=x", "tenant=nope", NULL}, "tenant", "unknown tenant 'nope'");
    refused((const char *[]){"id=x", "models=a,zz", NULL}, "models", "unknown model alias 'zz'");
    refused((const char *[]){"id=x", "models=", NULL}, "models", "empty alias");
    refused((const char *[]){"id=x", "models=a,,b", NULL}, "models", "empty alias");
    refused((const char *[]){"id=x", "rpm=ten", NULL}, "rpm", "integer");
    refused((const char *[]){"id=x", "rpm=-1", NULL}, "rpm", "integer");
    refused((const char *[]){"id=x", "rpm=100000001", NULL}, "rpm", "integer");
    refused((const char *[]){"id=x", "tpm=", NULL}, "tpm", "integer");
    refused((const char *[]){"id=x", "concurrent=1000001", NULL}, "concurrent", "integer");
    refused((const char *[]){"id=x", "budget_usd=abc", NULL}, "budget_usd", "number");
    refused((const char *[]){"id=x", "budget_usd=-2", NULL}, "budget_usd", "number");
    refused((const char *[]){"id=x", "budget_usd=nan", NULL}, "budget_usd", "number");
    refused((const char *[]){"id=x", "budget_usd=1", "budget_period=yearly", NULL}, "budget_period",
            "daily");
    refused((const char *[]){"id=x", "budget_period=daily", NULL}, "budget_period",
            "needs 'budget_usd'");
    refused((const char *[]){"id=x", "metadata=owner", NULL}, "metadata", "k=v");
    refused((const char *[]){"id=x", "metadata==v", NULL}, "metadata", "k=v");
    refused((const char *[]){"id=x", "metadata=a=b=c", NULL}, "metadata", "one '='");
    refused((const char *[]){"id=x", "metadata=a=\"q\"", NULL}, "metadata", "printable");
    refused((const char *[]){"id=x",
                             "metadata=a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9,j=10,k=11,"
                             "l=12,m=13,n=14,o=15,p=16,q=17",
                             NULL},
            "metadata", "at most 16");
    refused((const char *[]){"id=x", "revoked=yes", NULL}, "revoked", "0 or 1");
    refused((const char *[]){"id=x", "colour=red", NULL}, "colour", "unknown field");
    refused((const char *[]){"id=x", "id=y", NULL}, "id", "twice");
}

Test(gov_rkey, bytes_and_sizes)
{
    struct gd_gov_rkey_field f[2] = {{"id", "x", 2, 1}, {"tenant", "te\0am", 6, 5}};
    struct gd_gov_key_cfg k;
    struct gd_gov_rkey_err e;
    cr_assert_eq(gd_gov_rkey_parse(gc->gov, gc, f, 2, &k, &e), GD_EINVAL);
    cr_assert_str_eq(e.field, "tenant");
    static char big[GD_GOV_RKEY_MAX_VALUE + 2];
    memset(big, 'a', sizeof big - 1);
    f[1] = (struct gd_gov_rkey_field){"metadata", big, 8, sizeof big - 1};
    cr_assert_eq(gd_gov_rkey_parse(gc->gov, gc, f, 2, &k, &e), GD_EINVAL);
    cr_assert_str_eq(e.field, "metadata");
    struct gd_gov_rkey_field many[GD_GOV_RKEY_MAX_FIELDS + 1];
    for (size_t i = 0; i < GD_GOV_RKEY_MAX_FIELDS + 1; i++)
        many[i] = (struct gd_gov_rkey_field){"id", "x", 2, 1};
    cr_assert_eq(gd_gov_rkey_parse(gc->gov, gc, many, GD_GOV_RKEY_MAX_FIELDS + 1, &k, &e),
                 GD_EINVAL);
    cr_assert_str_eq(e.field, "-");
    /* an id that is too long, and the unknown field name never echoed when odd */
    static char longid[GD_GOV_MAX_ID + 2];
    memset(longid, 'i', sizeof longid - 1);
    f[0] = (struct gd_gov_rkey_field){"id", longid, 2, sizeof longid - 1};
    cr_assert_eq(gd_gov_rkey_parse(gc->gov, gc, f, 1, &k, &e), GD_EINVAL);
    cr_assert_str_eq(e.field, "id");
    f[0] = (struct gd_gov_rkey_field){"i\nd", "x", 3, 1};
    cr_assert_eq(gd_gov_rkey_parse(gc->gov, gc, f, 1, &k, &e), GD_EINVAL);
    cr_assert_str_eq(e.field, "-");
}

Test(gov_rkey, config_options)
{
    const struct gd_gov_redis_cfg *r = gc->gov->redis;
    cr_assert(r->keys);
    cr_assert(!r->local_limits);
    cr_assert_eq(r->key_cache_ms, 5000);
    cr_assert_eq(r->key_negative_cache_ms, 1000);
    cr_assert_eq(r->key_cache_size, 10000);
    cr_assert(gd_gov_config_requires_auth(gc->gov)); /* no config keys, yet keys required */
}

static void config_refused(const char *redis, const char *want)
{
    char text[2048];
    snprintf(text, sizeof text,
             "providers: [{name: p, base_url: 'http://127.0.0.1:1/v1'}]\n"
             "models: [{alias: a, deployments: [{provider: p, model: up-a}]}]\n"
             "governance:\n  redis: {url: 'redis://127.0.0.1:1', %s}\n",
             redis);
    struct gd_config_diag d;
    struct gd_config *c = NULL;
    struct gd_buf errs;
    gd_buf_init(&errs, 1 << 16);
    gd_config_diag_init(&d, "t.yaml");
    int rc = gd_config_load_mem(text, strlen(text), "t.yaml", &opts, &d, &c);
    gd_config_diag_format_all(&d, &errs);
    gd_config_diag_free(&d);
    cr_assert_neq(rc, 0, "accepted: %s", redis);
    cr_assert(errs.data && strstr(errs.data, want), "%s: '%s' not in:\n%s", redis, want,
              errs.data ? errs.data : "");
    gd_buf_free(&errs);
}

Test(gov_rkey, config_errors)
{
    config_refused("keys: true, key_cache_ms: 100, key_negative_cache_ms: 500",
                   "must not exceed key_cache_ms");
    config_refused("limits: local", "only makes sense with 'keys: true'");
    config_refused("limits: shared", "limits");
    config_refused("keys: maybe", "keys");
    config_refused("keys: true, key_cache_size: 0", "key_cache_size");
    config_refused("keys: true, key_cache_ms: 2h", "key_cache_ms");
}
