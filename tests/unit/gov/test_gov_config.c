#include "gateway/gov_config.h"
#include "gateway/gov_keys.h"
#include "gateway/gw_config.h"
#include "core/config.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const struct gd_config_section *const sections[] = {&gd_gw_config_section};
static const struct gd_config_options opts = {sections, 1, {{0}, NULL, NULL}};

static int load(const char *yaml, struct gd_config **cfg, struct gd_buf *errs)
{
    struct gd_config_diag d;
    gd_config_diag_init(&d, "t.yaml");
    int rc = gd_config_load_mem(yaml, strlen(yaml), "t.yaml", &opts, &d, cfg);
    gd_config_diag_format_all(&d, errs);
    gd_config_diag_free(&d);
    return rc;
}

static const char *yaml = "providers: [{name: p, base_url: 'http://127.0.0.1:1/v1'}]\n"
                          "models:\n"
                          "  - {alias: a, deployments: [{provider: p, model: up-a}]}\n"
                          "  - {alias: b, deployments: [{provider: p, model: up-b}]}\n"
                          "governance:\n"
                          "  time_zone: Europe/Berlin\n"
                          "  tenants: [{id: t, limits: {rpm: 100}, budget: {usd: 5}}]\n"
                          "  keys:\n"
                          "    - id: one\n"
                          "      key_sha256: '%s'\n"
                          "      tenant: t\n"
                          "      models: [b]\n"
                          "      limits: {rpm: 10, tpm: 1000, concurrent: 2}\n"
                          "      budget: {usd: 1.5, period: weekly}\n"
                          "      metadata: {team: ml, env: prod}\n"
                          "    - {id: two, key_sha256: 'sha256:%s'}\n"
                          "  aliases: [{alias: b, limits: {concurrent: 9}}]\n"
                          "  prices:\n"
                          "    - {model: up-a, input_per_1m: 2.5, output_per_1m: 10, "
                          "cached_input_per_1m: 1.25}\n"
                          "    - {model: b, input_per_1m: 1, output_per_1m: 2}\n";

static void hash_hex(const char *key, char hex[65])
{
    unsigned char md[32];
    gd_gov_sha256(key, strlen(key), md);
    gd_gov_hex(md, hex);
}

Test(gov_config, parses_every_field)
{
    char h1[65], h2[65], text[4096];
    hash_hex("gk-one", h1);
    hash_hex("gk-two", h2);
    snprintf(text, sizeof text, yaml, h1, h2);
    struct gd_config *cfg = NULL;
    struct gd_buf errs;
    gd_buf_init(&errs, 1 << 16);
    cr_assert_eq(load(text, &cfg, &errs), 0, "%s", errs.data ? errs.data : "");
    const struct gd_gov_config *g = gd_gw_config_get(cfg)->gov;
    cr_assert_not_null(g);
    cr_assert_eq(g->n_keys, 2);
    cr_assert_eq(g->n_tenants, 1);
    const struct gd_gov_key_cfg *k = &g->keys[0];
    cr_assert_str_eq(k->s.id, "one");
    cr_assert_eq(k->tenant, 0);
    cr_assert_eq(k->s.limits.rpm, 10);
    cr_assert_eq(k->s.limits.tpm, 1000);
    cr_assert_eq(k->s.limits.concurrent, 2);
    cr_assert_float_eq(k->s.budget.usd, 1.5, 1e-12);
    cr_assert_eq(k->s.budget.period, GD_GOV_PERIOD_WEEKLY);
    cr_assert_eq(g->tenants[0].budget.period, GD_GOV_PERIOD_MONTHLY); /* the default */
    cr_assert_str_eq(k->tags, "team=ml,env=prod");
    cr_assert(!gd_gov_key_allows(k, 0));
    cr_assert(gd_gov_key_allows(k, 1));
    cr_assert(gd_gov_key_allows(&g->keys[1], 0));
    cr_assert_null(g->aliases[0].id);
    cr_assert_eq(g->aliases[1].limits.concurrent, 9);
    unsigned char md[32];
    gd_gov_sha256("gk-two", 6, md);
    cr_assert_eq(gd_gov_config_find_key(g, md), 1);
    gd_gov_sha256("gk-three", 8, md);
    cr_assert_eq(gd_gov_config_find_key(g, md), GD_GOV_NONE);
    const struct gd_gov_price *p = gd_gov_config_price(g, "up-a", "a");
    cr_assert_float_eq(p->cached_input, 1.25, 1e-12);
    p = gd_gov_config_price(g, "up-b", "b"); /* by alias when the model has no price */
    cr_assert_float_eq(p->output, 2, 1e-12);
    cr_assert_float_eq(p->cached_input, 1, 1e-12); /* no discount unless configured */
    cr_assert_null(gd_gov_config_price(g, "zzz", "zz"));
    struct gd_buf sum;
    gd_buf_init(&sum, 1 << 16);
    gd_config_summary(cfg, &sum);
    cr_assert(strstr(sum.data, "governance: 2 keys (required), 1 tenants, 1 limited aliases"));
    cr_assert_null(strstr(sum.data, h1));
    gd_buf_free(&sum);
    gd_buf_free(&errs);
    gd_config_unref(cfg);
}

Test(gov_config, many_keys_are_all_found)
{
    struct gd_buf y;
    gd_buf_init(&y, 1 << 22);
    gd_buf_puts(&y, "providers: [{name: p, base_url: 'http://x/v1'}]\n"
                    "models: [{alias: a, deployments: [{provider: p, model: m}]}]\n"
                    "governance:\n  keys:\n");
    for (int i = 0; i < 3000; i++) {
        char key[32], hex[65];
        snprintf(key, sizeof key, "gk-%d", i);
        hash_hex(key, hex);
        gd_buf_printf(&y, "    - {id: k%d, key_sha256: %s}\n", i, hex);
    }
    struct gd_config *cfg = NULL;
    struct gd_buf errs;
    gd_buf_init(&errs, 1 << 16);
    struct gd_config_diag d;
    gd_config_diag_init(&d, "t.yaml");
    struct gd_config_options o = opts;
    o.yaml.limits.max_bytes = 4u << 20;
    int rc = gd_config_load_mem(y.data, y.len, "t.yaml", &o, &d, &cfg);
    gd_config_diag_format_all(&d, &errs);
    gd_config_diag_free(&d);
    cr_assert_eq(rc, 0, "%s", errs.data ? errs.data : "");
    const struct gd_gov_config *g = gd_gw_config_get(cfg)->gov;
    for (int i = 0; i < 3000; i++) {
        char key[32];
        unsigned char md[32];
        snprintf(key, sizeof key, "gk-%d", i);
        gd_gov_sha256(key, strlen(key), md);
        cr_assert_eq(gd_gov_config_find_key(g, md), (uint32_t)i);
    }
    gd_buf_free(&errs);
    gd_buf_free(&y);
    gd_config_unref(cfg);
}
