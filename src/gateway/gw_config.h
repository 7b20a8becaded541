/* The gateway's configuration section: top-level `providers:` and `models:` (see
 * docs/gateway.md for every key and default).
 *
 * Parsed once per config load by B's loader through gd_gw_config_section into an immutable
 * struct gd_gw_config, validated as a whole: unknown providers, duplicate names, empty
 * deployment groups, bad weights, unknown fallback aliases and fallback cycles are errors
 * with line/column. api_key values are never logged or printed (the summary shows only
 * whether a key is set).
 *
 * Threading: the parsed object is immutable and shared by every loop thread. */
#ifndef GD_GATEWAY_GW_CONFIG_H
#define GD_GATEWAY_GW_CONFIG_H

#include "core/config.h"
#include "gateway/breaker.h"
#include "gateway/gov_config.h"
#include "gateway/router.h"

#include <stddef.h>
#include <stdint.h>

/* The wire protocol a provider speaks (`type:`); see docs/gateway.md "Provider types". */
enum gd_gw_provider_type {
    GD_GW_PROVIDER_OPENAI = 0, /* OpenAI-compatible: bodies pass through (model spliced) */
    GD_GW_PROVIDER_ANTHROPIC,  /* Anthropic Messages API: chat translated both ways */
    GD_GW_PROVIDER_LOCAL,      /* this girder's serving: models, in process (embeddings) */
    GD_GW_PROVIDER_AZURE,      /* Azure OpenAI: OpenAI bodies, deployment URLs, api-key */
    GD_GW_PROVIDER_GEMINI,     /* Google Gemini generateContent (AI Studio or Vertex AI) */
    GD_GW_PROVIDER_BEDROCK,    /* AWS Bedrock Runtime Converse, SigV4-signed */
};

struct gd_gw_gemini_cfg; /* gw_config_gemini.h */
struct gd_gw_bedrock_cfg;

struct gd_gw_provider_cfg {
    char *name;
    enum gd_gw_provider_type type;
    char *anthropic_version; /* `anthropic-version` header (type anthropic), else NULL */
    char *base_url;          /* without trailing '/', e.g. "http://127.0.0.1:9001/v1"; NULL
                                for type local */
    char *api_key;           /* NULL when none; SECRET: never log */
    char *api_version;       /* `api-version` query (type azure, required), else NULL */
    int azure_entra;         /* type azure, `auth: entra`: api_key goes as a Bearer token */
    char *ca_file;           /* PEM CA bundle to verify the upstream with; NULL: system store */
    struct gd_gw_gemini_cfg *gemini; /* `gemini:` (type gemini, owned), else NULL */
    /* region and AWS credentials (type bedrock, owned; gw_config_bedrock.h), else NULL */
    struct gd_gw_bedrock_cfg *bedrock;
    uint32_t timeout_ms;
    uint32_t first_byte_timeout_ms;
    uint32_t max_connections;
    uint32_t max_idle_connections; /* kept-alive idle connections per thread (own client) */
    uint32_t idle_timeout_ms;      /* an idle connection is closed after this (own client) */
    int use_curl;                  /* `client: curl`: libcurl even for http:// */
    /* `responses: native` (type openai): POST /v1/responses goes upstream as it is, to
     * {base_url}/responses; 0 (`translate`, the default): translated to chat completions */
    int responses_native;
    struct gd_gw_breaker_cfg breaker;
};

struct gd_gw_deployment_cfg {
    uint32_t provider; /* index into providers */
    char *model;       /* upstream model name */
    int64_t weight;
};

struct gd_gw_alias_cfg {
    char *alias;
    enum gd_gw_strategy strategy;
    struct gd_gw_deployment_cfg *deployments;
    size_t n_deployments;
    uint32_t retries;
    uint32_t *fallbacks; /* alias indices, as written */
    size_t n_fallbacks;
    uint32_t *chain; /* this alias, then its fallbacks flattened depth-first, no repeats */
    size_t chain_len;
};

struct gd_gw_cache_config;

struct gd_gw_config {
    struct gd_gw_provider_cfg *providers;
    size_t n_providers;
    struct gd_gw_alias_cfg *aliases;
    size_t n_aliases;
    uint32_t *alias_retries;          /* [n_aliases], for the retry planner */
    struct gd_gov_config *gov;        /* `governance:` (gov_config.h), NULL when absent */
    struct gd_gw_cache_config *cache; /* `cache:` (gw_cache.h), NULL when absent */
};

/* Name under which the loader stores the section (gd_config_section_get). */
#define GD_GW_CONFIG_SECTION "gateway"
extern const struct gd_config_section gd_gw_config_section;

/* The gateway config of a loaded config, or NULL when it has no providers/models. */
const struct gd_gw_config *gd_gw_config_get(const struct gd_config *cfg);

/* Index of alias name[0..n) or -1. */
int gd_gw_config_find_alias(const struct gd_gw_config *c, const char *name, size_t n);

/* gw_config_azure.c: the keys of `type: azure` (api_version, auth), checked on every
 * provider (they are refused on other types). 0, GD_EINVAL (recorded in d) or GD_ENOMEM. */
int gd__gw_config_azure(struct gd_config_diag *d, const struct gd_yaml_node *p,
                        struct gd_gw_provider_cfg *out);

/* Direct use (tests, tools): parse the section from a YAML root / free it. */
int gd_gw_config_parse(const struct gd_yaml_node *root, struct gd_config_diag *d, void **out);
void gd_gw_config_free(void *p);

#endif
