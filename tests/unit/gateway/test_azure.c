/* Provider `type: azure`: its config keys (gw_config_azure.c) and its deployment URLs and
 * authentication header (gw_azure.c). */
#include "core/config.h"
#include "gateway/gw_azure.h"
#include "gateway/gw_config.h"
#include "girder/error.h"
#include "gw_test_config.h"

#include <criterion/criterion.h>
#include <string.h>

#define MODELS "models:\n  - {alias: m, deployments: [{provider: a, model: gpt-4o}]}\n"

Test(azure, config_keys)
{
    struct gd_config *cfg;
    struct gd_buf errs;
    gd_buf_init(&errs, 1 << 16);
    const char *y = "providers:\n"
                    "  - {name: a, type: azure, base_url: 'https://r.openai.azure.com/',\n"
                    "     api_version: 2024-10-21, api_key: sk-secret}\n"
                    "  - {name: b, type: azure, base_url: 'http://h', auth: entra,\n"
                    "     api_version: 2024-12-01-preview, api_key: tok}\n"
                    "  - {name: c, type: azure, auth: api-key, base_url: 'http://h',\n"
                    "     api_version: '2024-06-01'}\n"
                    "  - {name: o, base_url: 'http://h/v1'}\n" MODELS;
    cr_assert_eq(gw_test_load(y, &cfg, &errs), 0, "%s", errs.data ? errs.data : "");
    const struct gd_gw_config *c = gd_gw_config_get(cfg);
    cr_assert_eq(c->providers[0].type, GD_GW_PROVIDER_AZURE);
    cr_assert_str_eq(c->providers[0].base_url, "https://r.openai.azure.com");
    cr_assert_str_eq(c->providers[0].api_version, "2024-10-21");
    cr_assert_eq(c->providers[0].azure_entra, 0);
    cr_assert_eq(c->providers[1].azure_entra, 1);
    cr_assert_str_eq(c->providers[1].api_version, "2024-12-01-preview");
    cr_assert_eq(c->providers[2].azure_entra, 0);
    cr_assert_null(c->providers[2].api_key);
    cr_assert_null(c->providers[3].api_version);
    gd_config_unref(cfg);
    gd_buf_free(&errs);
}

Test(azure, config_errors_have_positions)
{
    gw_test_expect_error("providers:\n  - {name: a, type: azure, base_url: 'http://h'}\n" MODELS,
                         "t.yaml:2:5: key 'api_version': providers of type: azure need "
                         "api_version");
    gw_test_expect_error("providers:\n  - {name: a, type: azure, base_url: 'http://h', "
                         "api_version: '2024 10'}\n" MODELS,
                         "t.yaml:2:63: key 'api_version': expected a version");
    gw_test_expect_error(
        "providers:\n  - {name: a, base_url: 'http://h', api_version: 2024-10-21}\n",
        "t.yaml:2:50: key 'api_version': api_version is only for "
        "providers of type: azure");
    gw_test_expect_error(
        "providers:\n  - {name: a, type: anthropic, base_url: 'http://h', auth: entra}\n",
        "auth is only for providers of type: azure");
    gw_test_expect_error("providers:\n  - {name: l, type: local, api_version: v1}\n",
                         "api_version is only for providers of type: azure");
    gw_test_expect_error("providers:\n  - {name: a, type: azure, base_url: 'http://h', auth: oauth,"
                         " api_version: v1, api_key: sk-secret}\n" MODELS,
                         "t.yaml:2:56: key 'auth': expected api-key or entra");
    gw_test_expect_error("providers:\n  - {name: a, type: azure, base_url: 'http://h', auth: entra,"
                         " api_version: v1}\n" MODELS,
                         "auth: entra needs api_key");
    gw_test_expect_error("providers:\n  - {name: a, type: azure, base_url: 'http://h/openai/',"
                         " api_version: v1}\n" MODELS,
                         "t.yaml:2:38: key 'base_url': an azure base_url is the resource "
                         "endpoint");
}

static struct gd_gw_provider_cfg provider(const char *key, int entra)
{
    struct gd_gw_provider_cfg p;
    memset(&p, 0, sizeof p);
    p.type = GD_GW_PROVIDER_AZURE;
    p.api_version = (char *)"2024-10-21";
    p.api_key = (char *)key;
    p.azure_entra = entra;
    return p;
}

static void expect_path(int kind, const char *model, const char *want)
{
    struct gd_gw_provider_cfg p = provider(NULL, 0);
    struct gd_buf b;
    gd_buf_init(&b, 4096);
    cr_assert_eq(gd_gw_azure_path(&p, kind, model, 0, &b), 0);
    cr_assert_str_eq(b.data, want);
    gd_buf_free(&b);
}

Test(azure, deployment_paths)
{
    expect_path(0, "gpt-4o", "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21");
    expect_path(1, "inst.v1_2~x",
                "/openai/deployments/inst.v1_2~x/completions?api-version=2024-10-21");
    expect_path(2, "emb", "/openai/deployments/emb/embeddings?api-version=2024-10-21");
    /* anything but unreserved bytes is percent-encoded: no path or query injection */
    expect_path(0, "a b/../c?d#é",
                "/openai/deployments/a%20b%2F..%2Fc%3Fd%23%C3%A9/chat/completions?"
                "api-version=2024-10-21");
    struct gd_gw_provider_cfg p = provider(NULL, 0);
    cr_assert_eq(gd_gw_azure_path(&p, 3, "m", 0, NULL), GD_ENOTSUP);
    cr_assert_eq(gd_gw_azure_path(&p, 2, "m", 0, NULL), 0);
    struct gd_buf small;
    gd_buf_init(&small, 16);
    cr_assert_eq(gd_gw_azure_path(&p, 0, "gpt-4o", 0, &small), GD_ENOMEM);
    gd_buf_free(&small);
}

static int collect(void *ud, const char *prefix, const char *v, size_t n)
{
    struct gd_buf *b = ud;
    int rc = gd_buf_puts(b, prefix);
    rc = rc ? rc : gd_buf_append(b, v, n);
    return rc ? rc : gd_buf_puts(b, "\n");
}

Test(azure, auth_headers)
{
    struct gd_buf b;
    gd_buf_init(&b, 4096);
    struct gd_gw_provider_cfg p = provider("k1", 0);
    cr_assert_eq(gd_gw_azure_headers(&p, collect, &b), 0);
    cr_assert_str_eq(b.data, "api-key: k1\n");
    gd_buf_reset(&b);
    p = provider("tok", 1);
    cr_assert_eq(gd_gw_azure_headers(&p, collect, &b), 0);
    cr_assert_str_eq(b.data, "Authorization: Bearer tok\n");
    gd_buf_reset(&b);
    p = provider(NULL, 0);
    cr_assert_eq(gd_gw_azure_headers(&p, collect, &b), 0);
    cr_assert_eq(b.len, 0);
    gd_buf_free(&b);
}
