#include "gateway/gw_config.h"
#include "gateway/gw_adapter.h"
#include "gateway/gw_config_gemini.h"
#include "core/config.h"
#include "girder/error.h"
#include "gw_test_config.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define P "providers:\n  - {name: p, base_url: 'http://h/v1', api_key: '${GW_TEST_KEY}'}\n"

Test(gw_config, reference_errors_have_positions)
{
    setenv("GW_TEST_KEY", "sk-secret-123", 1);
    gw_test_expect_error(
        P "models:\n  - alias: a\n    deployments: [{provider: q, model: m}]\n",
        "t.yaml:5:30: key 'models[0].deployments[0].provider': unknown provider 'q'");
    gw_test_expect_error(P "models:\n  - alias: a\n    deployments: []\n", "empty group");
    gw_test_expect_error(P "models:\n  - alias: a\n", "no deployments");
    gw_test_expect_error(
        P "models:\n  - alias: a\n    deployments: [{provider: p, model: m, weight: 0}]\n",
        "weight");
    gw_test_expect_error(P
                         "models:\n  - {alias: a, deployments: [{provider: p, model: m}], "
                         "fallbacks: [b]}\n  - {alias: b, deployments: [{provider: p, model: m}], "
                         "fallbacks: [c]}\n  - {alias: c, deployments: [{provider: p, model: m}], "
                         "fallbacks: [a]}\n",
                         "fallback cycle: a -> b -> c -> a");
    gw_test_expect_error(P "models:\n  - {alias: a, deployments: [{provider: p, model: m}], "
                           "fallbacks: [zz]}\n",
                         "unknown model alias 'zz'");
    gw_test_expect_error(P "models:\n  - {alias: a, deployments: [{provider: p, model: m}]}\n"
                           "  - {alias: a, deployments: [{provider: p, model: m}]}\n",
                         "duplicate model alias 'a'");
    gw_test_expect_error(P "  - {name: p, base_url: 'http://x'}\n", "duplicate provider name 'p'");
    gw_test_expect_error("providers:\n  - {name: p, base_url: 'ftp://h'}\n", "http:// or https://");
    gw_test_expect_error(P "models:\n  - {alias: a, strategy: random, deployments: "
                           "[{provider: p, model: m}]}\n",
                         "strategy");
    gw_test_expect_error("providers:\n  - {name: p, base_url: 'http://h', timeout: 5}\n",
                         "unknown key");
}

Test(gw_config, absent_section_is_null)
{
    struct gd_config *cfg;
    struct gd_buf errs;
    gd_buf_init(&errs, 1 << 16);
    cr_assert_eq(gw_test_load("listen: 127.0.0.1:0\n", &cfg, &errs), 0, "%s", errs.data);
    cr_assert_null(gd_gw_config_get(cfg));
    gd_config_unref(cfg);
    gd_buf_free(&errs);
}

Test(gw_config, provider_types)
{
    struct gd_config *cfg;
    struct gd_buf errs;
    gd_buf_init(&errs, 1 << 16);
    const char *y = "providers:\n"
                    "  - {name: o, base_url: 'http://h/v1'}\n"
                    "  - {name: a, type: anthropic, base_url: 'https://api.anthropic.com/v1'}\n"
                    "  - {name: b, type: anthropic, anthropic_version: 2024-10-22, "
                    "base_url: 'http://h/v1'}\n"
                    "  - {name: c, type: openai, base_url: 'http://h/v1'}\n"
                    "models:\n  - {alias: m, deployments: [{provider: a, model: claude}]}\n";
    cr_assert_eq(gw_test_load(y, &cfg, &errs), 0, "%s", errs.data ? errs.data : "");
    const struct gd_gw_config *c = gd_gw_config_get(cfg);
    cr_assert_eq(c->providers[0].type, GD_GW_PROVIDER_OPENAI);
    cr_assert_null(c->providers[0].anthropic_version);
    cr_assert_eq(c->providers[1].type, GD_GW_PROVIDER_ANTHROPIC);
    cr_assert_str_eq(c->providers[1].anthropic_version, "2023-06-01");
    cr_assert_str_eq(c->providers[2].anthropic_version, "2024-10-22");
    cr_assert_eq(c->providers[3].type, GD_GW_PROVIDER_OPENAI);
    gd_config_unref(cfg);
    gd_buf_free(&errs);
    gw_test_expect_error(
        "providers:\n  - {name: p, type: bogus, base_url: 'http://h'}\n",
        "t.yaml:2:21: key 'type': expected openai, anthropic, local, azure, gemini or bedrock");
    gw_test_expect_error("providers:\n  - {name: p, type: local, api_key: k}\n",
                         "t.yaml:2:37: key 'api_key': a provider of type: local is this girder's "
                         "serving: section; it takes no api_key");
    const char *yl = "providers:\n  - {name: here, type: local, breaker: {cooldown_ms: 50}}\n"
                     "models:\n  - {alias: e, deployments: [{provider: here, model: minilm}]}\n";
    cr_assert_eq(gw_test_load(yl, &cfg, &errs), 0, "%s", errs.data ? errs.data : "");
    c = gd_gw_config_get(cfg);
    cr_assert_eq(c->providers[0].type, GD_GW_PROVIDER_LOCAL);
    cr_assert_null(c->providers[0].base_url);
    cr_assert_eq(c->providers[0].breaker.cooldown_ms, 50);
    gd_config_unref(cfg);
    gw_test_expect_error("providers:\n  - {name: p, anthropic_version: x, base_url: 'http://h'}\n",
                         "only for providers of type: anthropic");
    gw_test_expect_error("providers:\n  - {name: p, type: anthropic, anthropic_version: 'a b', "
                         "base_url: 'http://h'}\n",
                         "t.yaml:2:51: key 'anthropic_version': expected a version");
}

static int add_hdr(void *ud, const char *prefix, const char *v, size_t n)
{
    struct gd_buf *b = ud;
    int rc = gd_buf_puts(b, prefix);
    rc = rc ? rc : gd_buf_append(b, v, n);
    return rc ? rc : gd_buf_puts(b, "|");
}

Test(gw_config, gemini_studio_and_vertex)
{
    struct gd_config *cfg;
    struct gd_buf errs, b;
    gd_buf_init(&errs, 1 << 16);
    gd_buf_init(&b, 1 << 16);
    const char *y =
        "providers:\n"
        "  - {name: s, type: gemini, api_key: k1, "
        "base_url: 'https://generativelanguage.googleapis.com'}\n"
        "  - {name: v, type: gemini, api_key: tok, base_url: "
        "'https://us-central1-aiplatform.googleapis.com', gemini: {api: vertex, "
        "project: my-proj-1, location: us-central1}}\n"
        "models:\n  - {alias: m, deployments: [{provider: s, model: gemini-2.0-flash}]}\n";
    cr_assert_eq(gw_test_load(y, &cfg, &errs), 0, "%s", errs.data ? errs.data : "");
    const struct gd_gw_config *c = gd_gw_config_get(cfg);
    const struct gd_gw_provider_cfg *s = &c->providers[0], *v = &c->providers[1];
    cr_assert_eq(s->type, GD_GW_PROVIDER_GEMINI);
    cr_assert_eq(s->gemini->vertex, 0);
    cr_assert_eq(v->gemini->vertex, 1);
    const struct gw_adapter *ad = gw_adapter_for(GD_GW_PROVIDER_GEMINI);
    cr_assert_str_eq(ad->name, "gemini");
    cr_assert_eq(ad->path(s, 0, "gemini-2.0-flash", 0, &b), 0);
    cr_assert_str_eq(b.data, "/v1beta/models/gemini-2.0-flash:generateContent");
    gd_buf_reset(&b);
    cr_assert_eq(ad->path(s, 0, "odd name/x", 1, &b), 0);
    cr_assert_str_eq(b.data, "/v1beta/models/odd%20name%2Fx:streamGenerateContent?alt=sse");
    gd_buf_reset(&b);
    cr_assert_eq(ad->path(v, 0, "gemini-2.0-flash", 1, &b), 0);
    cr_assert_str_eq(b.data, "/v1/projects/my-proj-1/locations/us-central1/publishers/google/"
                             "models/gemini-2.0-flash:streamGenerateContent?alt=sse");
    gd_buf_reset(&b);
    cr_assert_eq(ad->path(s, 2, "text-embedding-004", 0, &b), 0);
    cr_assert_str_eq(b.data, "/v1beta/models/text-embedding-004:batchEmbedContents");
    cr_assert_eq(ad->path(v, 2, "m", 0, NULL), GD_ENOTSUP);
    cr_assert_eq(ad->path(s, 1, "m", 0, NULL), GD_ENOTSUP);
    gd_buf_reset(&b);
    cr_assert_eq(ad->headers(s, add_hdr, &b), 0);
    cr_assert_str_eq(b.data, "x-goog-api-key: k1|");
    gd_buf_reset(&b);
    cr_assert_eq(ad->headers(v, add_hdr, &b), 0);
    cr_assert_str_eq(b.data, "Authorization: Bearer tok|");
    gd_config_unref(cfg);
    gd_buf_free(&errs);
    gd_buf_free(&b);
    gw_test_expect_error(
        "providers:\n  - {name: p, type: gemini, base_url: 'http://h', gemini: {api: "
        "vertex, location: us-central1}}\n",
        "api: vertex needs project");
    gw_test_expect_error(
        "providers:\n  - {name: p, type: gemini, base_url: 'http://h', gemini: {api: "
        "vertex, project: p, location: 'us central'}}\n",
        "key 'location': expected lowercase letters");
    gw_test_expect_error("providers:\n  - {name: p, type: gemini, base_url: 'http://h', gemini: "
                         "{project: p}}\n",
                         "project is only for api: vertex");
    gw_test_expect_error("providers:\n  - {name: p, type: gemini, base_url: 'http://h', gemini: "
                         "{api: cloud}}\n",
                         "one of studio, vertex");
    gw_test_expect_error("providers:\n  - {name: p, type: gemini, base_url: 'http://h', gemini: "
                         "{region: x}}\n",
                         "unknown key");
    gw_test_expect_error("providers:\n  - {name: p, base_url: 'http://h', gemini: {api: vertex}}\n",
                         "gemini is only for providers of type: gemini");
}

Test(gw_config, model_capabilities)
{
    struct gd_config *cfg = NULL;
    struct gd_buf errs, out;
    gd_buf_init(&errs, 1 << 16);
    gd_buf_init(&out, 1 << 16);
    const char *y = "providers:\n"
                    "  - {name: o, base_url: 'http://h/v1'}\n"
                    "  - {name: a, type: anthropic, base_url: 'http://h/v1'}\n"
                    "  - {name: g, type: gemini, base_url: 'http://h'}\n"
                    "  - {name: v, type: gemini, base_url: 'http://h', "
                    "gemini: {api: vertex, project: p, location: l}}\n"
                    "  - {name: l, type: local}\n"
                    "models:\n"
                    "  - {alias: claude, deployments: [{provider: a, model: m}]}\n"
                    "  - {alias: gem, deployments: [{provider: g, model: m}]}\n"
                    "  - {alias: vert, deployments: [{provider: v, model: m}]}\n"
                    "  - {alias: mixed, deployments: [{provider: a, model: m}, "
                    "{provider: l, model: e}]}\n"
                    "  - {alias: open, deployments: [{provider: o, model: m}]}\n";
    cr_assert_eq(gw_test_load(y, &cfg, &errs), 0, "%s", errs.data ? errs.data : "");
    const struct gd_gw_config *c = gd_gw_config_get(cfg);
    static const char *const want[] = {"[\"chat\"]", "[\"chat\",\"embeddings\"]", "[\"chat\"]",
                                       "[\"chat\",\"embeddings\"]",
                                       "[\"chat\",\"completions\",\"embeddings\"]"};
    for (int i = 0; i < 5; i++) {
        gd_buf_reset(&out);
        cr_assert_eq(gw_model_object(c, i, NULL, &out), 0);
        cr_assert_not_null(strstr(out.data, want[i]), "%s: %s", c->aliases[i].alias, out.data);
    }
    gd_buf_reset(&out);
    cr_assert_eq(gw_model_object(c, -1, "minilm", &out), 0);
    cr_assert_str_eq(out.data, "{\"id\":\"minilm\",\"object\":\"model\",\"created\":0,"
                               "\"owned_by\":\"girder\",\"capabilities\":[\"embeddings\"]}");
    gd_config_unref(cfg);
    gd_buf_free(&errs);
    gd_buf_free(&out);
}

Test(gw_config, responses_mode)
{
    struct gd_config *cfg;
    struct gd_buf errs;
    gd_buf_init(&errs, 1 << 16);
    const char *y = "providers:\n"
                    "  - {name: o, base_url: 'http://h/v1'}\n"
                    "  - {name: n, base_url: 'http://h/v1', responses: native}\n"
                    "  - {name: t, base_url: 'http://h/v1', responses: translate}\n"
                    "models:\n  - {alias: m, deployments: [{provider: n, model: x}]}\n";
    cr_assert_eq(gw_test_load(y, &cfg, &errs), 0, "%s", errs.data ? errs.data : "");
    const struct gd_gw_config *c = gd_gw_config_get(cfg);
    cr_assert_eq(c->providers[0].responses_native, 0); /* the default: translate */
    cr_assert_eq(c->providers[1].responses_native, 1);
    cr_assert_eq(c->providers[2].responses_native, 0);
    gd_config_unref(cfg);
    gd_buf_free(&errs);
    gw_test_expect_error("providers:\n  - {name: p, base_url: 'http://h/v1', responses: yes}\n"
                         "models:\n  - {alias: m, deployments: [{provider: p, model: x}]}\n",
                         "expected translate or native");
    gw_test_expect_error("providers:\n  - {name: p, type: anthropic, base_url: 'http://h/v1', "
                         "responses: native}\n"
                         "models:\n  - {alias: m, deployments: [{provider: p, model: x}]}\n",
                         "native needs a provider of type openai");
}
