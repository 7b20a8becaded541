/* Parsing and validation of `providers:` / `models:` (see gw_config.h).
 *
 * Two passes: providers first (so deployments can name them), then aliases; references
 * between aliases (fallbacks) are resolved after every alias is known, then checked for
 * cycles and flattened into each alias's attempt chain. Every problem is recorded with the
 * position of the offending node; parsing continues to report as many as possible. */
#include "gateway/gw_config.h"
#include "gateway/gw_cache.h"
#include "gateway/gw_config_bedrock.h"
#include "gateway/gw_config_gemini.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <stdbool.h>
#include <string.h>

static const char *const section_keys[] = {"providers", "models", "governance", "cache", NULL};
static const char *const provider_keys[] = {"name",
                                            "type",
                                            "anthropic_version",
                                            "gemini",
                                            "base_url",
                                            "api_key",
                                            "api_version",
                                            "auth",
                                            "region",
                                            "aws_access_key_id",
                                            "aws_secret_access_key",
                                            "aws_session_token",
                                            "ca_file",
                                            "timeout_ms",
                                            "first_byte_timeout_ms",
                                            "max_connections",
                                            "max_idle_connections",
                                            "idle_timeout_ms",
                                            "client",
                                            "responses",
                                            "breaker",
                                            NULL};
static const char *const breaker_keys[] = {"consecutive_failures",
                                           "failure_ratio_percent",
                                           "min_requests",
                                           "window_ms",
                                           "cooldown_ms",
                                           "half_open_probes",
                                           NULL};
static const char *const model_keys[] = {"alias",   "strategy",  "deployments",
                                         "retries", "fallbacks", NULL};
static const char *const deployment_keys[] = {"provider", "model", "weight", NULL};
static const char *const strategies[] = {"weighted", "least-latency", "least-busy", NULL};

enum { MAX_PROVIDERS = 1024, MAX_ALIASES = 4096, MAX_NAME = 256, MAX_URL = 2048 };

void gd_gw_config_free(void *p)
{
    struct gd_gw_config *c = p;
    if (!c)
        return;
    for (size_t i = 0; i < c->n_providers; i++) {
        gd_free(c->providers[i].name);
        gd_free(c->providers[i].base_url);
        if (c->providers[i].api_key) /* scrub the secret before freeing */
            memset(c->providers[i].api_key, 0, strlen(c->providers[i].api_key));
        gd_free(c->providers[i].api_key);
        gd_free(c->providers[i].ca_file);
        gd_free(c->providers[i].api_version);
        gd_free(c->providers[i].anthropic_version);
        gd_gw_gemini_cfg_free(c->providers[i].gemini);
        gd_gw_bedrock_cfg_free(c->providers[i].bedrock);
    }
    for (size_t i = 0; i < c->n_aliases; i++) {
        struct gd_gw_alias_cfg *a = &c->aliases[i];
        for (size_t k = 0; k < a->n_deployments; k++)
            gd_free(a->deployments[k].model);
        gd_free(a->deployments);
        gd_free(a->alias);
        gd_free(a->fallbacks);
        gd_free(a->chain);
    }
    gd_free(c->providers);
    gd_free(c->aliases);
    gd_free(c->alias_retries);
    gd_gov_config_free(c->gov);
    gd_gw_cache_config_free(c->cache);
    gd_free(c);
}

/* A required, non-empty string key copied into *out. */
static int get_name(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                    size_t max, char **out)
{
    const char *s = NULL;
    if (gd_config_get_string(d, map, key, max, &s, NULL) != 0)
        return GD_EINVAL;
    if (!s || !*s) {
        gd_config_diag_add(d, map, key, "'%s' is required and must not be empty", key);
        return GD_EINVAL;
    }
    *out = gd_strdup(s);
    return *out ? 0 : GD_ENOMEM;
}

static int parse_breaker(struct gd_config_diag *d, const struct gd_yaml_node *p,
                         struct gd_gw_breaker_cfg *b)
{
    const struct gd_yaml_node *m = NULL;
    int64_t v[6] = {b->consecutive_failures, (int64_t)(b->failure_ratio * 100),
                    b->min_requests,         b->window_ms,
                    b->cooldown_ms,          b->half_open_probes};
    static const int64_t lo[6] = {0, 0, 1, 10, 1, 1};
    static const int64_t hi[6] = {1000000, 100, 1000000, 3600000, 3600000, 1000};
    int rc = gd_config_get_map(d, p, "breaker", &m);
    if (rc || !m)
        return rc;
    rc = gd_config_check_keys(d, m, breaker_keys);
    for (int i = 0; i < 6; i++)
        rc |= gd_config_get_int(d, m, breaker_keys[i], lo[i], hi[i], &v[i]);
    b->consecutive_failures = (uint32_t)v[0];
    b->failure_ratio = (double)v[1] / 100.0;
    b->min_requests = (uint32_t)v[2];
    b->window_ms = (uint32_t)v[3];
    b->cooldown_ms = (uint32_t)v[4];
    b->half_open_probes = (uint32_t)v[5];
    return rc ? GD_EINVAL : 0;
}

static int check_url(struct gd_config_diag *d, const struct gd_yaml_node *p, char *url)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        gd_config_diag_add(d, gd_yaml_map_get(p, "base_url"), "base_url",
                           "expected an http:// or https:// URL");
        return GD_EINVAL;
    }
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        url[--n] = '\0';
    return 0;
}

/* client: auto (girder's own HTTP/1.1 client for http://, libcurl otherwise) | curl */
static int parse_client(struct gd_config_diag *d, const struct gd_yaml_node *p, int *use_curl)
{
    const char *v = NULL;
    int rc = gd_config_get_string(d, p, "client", 16, &v, NULL);
    *use_curl = v && strcmp(v, "curl") == 0;
    if (rc == 0 && v && !*use_curl && strcmp(v, "auto") != 0) {
        gd_config_diag_add(d, gd_yaml_map_get(p, "client"), "client", "expected auto or curl");
        return GD_EINVAL;
    }
    return rc;
}

/* type: openai (default) | anthropic | azure; anthropic_version only with type anthropic, a
 * header-safe token (letters, digits, '-', '_', '.'), default 2023-06-01. */
static int parse_type(struct gd_config_diag *d, const struct gd_yaml_node *p,
                      struct gd_gw_provider_cfg *out)
{
    const char *v = NULL, *ver = NULL;
    int rc = gd_config_get_string(d, p, "type", 32, &v, NULL);
    if (rc == 0 && v && strcmp(v, "anthropic") == 0)
        out->type = GD_GW_PROVIDER_ANTHROPIC;
    else if (rc == 0 && v && strcmp(v, "local") == 0)
        out->type = GD_GW_PROVIDER_LOCAL;
    else if (rc == 0 && v && strcmp(v, "azure") == 0)
        out->type = GD_GW_PROVIDER_AZURE;
    else if (rc == 0 && v && strcmp(v, "gemini") == 0)
        out->type = GD_GW_PROVIDER_GEMINI;
    else if (rc == 0 && v && strcmp(v, "bedrock") == 0)
        out->type = GD_GW_PROVIDER_BEDROCK;
    else if (rc == 0 && v && strcmp(v, "openai") != 0) {
        gd_config_diag_add(d, gd_yaml_map_get(p, "type"), "type",
                           "expected openai, anthropic, local, azure, gemini or bedrock");
        rc = GD_EINVAL;
    }
    if (out->type == GD_GW_PROVIDER_GEMINI) {
        int grc = gd_gw_gemini_cfg_parse(d, p, &out->gemini);
        rc = grc ? grc : rc;
    } else if (gd_yaml_map_get(p, "gemini")) {
        gd_config_diag_add(d, gd_yaml_map_get(p, "gemini"), "gemini",
                           "gemini is only for providers of type: gemini");
        rc = GD_EINVAL;
    }
    int vrc = gd_config_get_string(d, p, "anthropic_version", 64, &ver, NULL);
    if (vrc != 0)
        return GD_EINVAL;
    if (ver && out->type != GD_GW_PROVIDER_ANTHROPIC) {
        gd_config_diag_add(d, gd_yaml_map_get(p, "anthropic_version"), "anthropic_version",
                           "anthropic_version is only for providers of type: anthropic");
        return GD_EINVAL;
    }
    if (out->type != GD_GW_PROVIDER_ANTHROPIC)
        return rc;
    if (!ver)
        ver = "2023-06-01";
    size_t n = strlen(ver), ok = n > 0;
    for (size_t i = 0; i < n && ok; i++)
        ok = (ver[i] >= '0' && ver[i] <= '9') || (ver[i] >= 'a' && ver[i] <= 'z') ||
             (ver[i] >= 'A' && ver[i] <= 'Z') || ver[i] == '-' || ver[i] == '_' || ver[i] == '.';
    if (!ok) {
        gd_config_diag_add(d, gd_yaml_map_get(p, "anthropic_version"), "anthropic_version",
                           "expected a version such as 2023-06-01 (letters, digits, - _ .)");
        return GD_EINVAL;
    }
    if (!(out->anthropic_version = gd_strdup(ver)))
        return GD_ENOMEM;
    return rc;
}

/* `responses: translate | native`; native only where the upstream speaks OpenAI's API as it
 * is (type openai). */
static int parse_responses(struct gd_config_diag *d, const struct gd_yaml_node *p,
                           struct gd_gw_provider_cfg *out)
{
    const char *v = NULL;
    int rc = gd_config_get_string(d, p, "responses", 16, &v, NULL);
    out->responses_native = v && strcmp(v, "native") == 0;
    if (rc == 0 && v && !out->responses_native && strcmp(v, "translate") != 0) {
        gd_config_diag_add(d, gd_yaml_map_get(p, "responses"), "responses",
                           "expected translate or native");
        return GD_EINVAL;
    }
    if (rc == 0 && out->responses_native && out->type != GD_GW_PROVIDER_OPENAI) {
        gd_config_diag_add(d, gd_yaml_map_get(p, "responses"), "responses",
                           "native needs a provider of type openai (the others are translated)");
        return GD_EINVAL;
    }
    return rc;
}

/* A provider of type local is answered in process: what configures a connection has no
 * meaning there, and a key set on it would look like it protects something. */
static int local_provider_keys(struct gd_config_diag *d, const struct gd_yaml_node *p)
{
    static const char *const remote_only[] = {
        "base_url",        "api_key",         "ca_file",
        "client",          "max_connections", "max_idle_connections",
        "idle_timeout_ms", "timeout_ms",      "first_byte_timeout_ms",
        "responses"};
    int rc = 0;
    for (size_t i = 0; i < sizeof remote_only / sizeof remote_only[0]; i++)
        if (gd_yaml_map_get(p, remote_only[i])) {
            gd_config_diag_add(d, gd_yaml_map_get(p, remote_only[i]), remote_only[i],
                               "a provider of type: local is this girder's serving: section; "
                               "it takes no %s",
                               remote_only[i]);
            rc = GD_EINVAL;
        }
    return rc;
}

static int parse_provider(struct gd_config_diag *d, const struct gd_yaml_node *p,
                          struct gd_gw_provider_cfg *out)
{
    int64_t maxc = 256, maxi = -1;
    uint64_t to = 60000, fbt = 10000, idle = 30000;
    const char *key = NULL;
    if (gd_config_expect_kind(d, p, GD_YAML_MAP) != 0)
        return GD_EINVAL;
    int rc = gd_config_check_keys(d, p, provider_keys);
    rc |= get_name(d, p, "name", MAX_NAME, &out->name);
    int trc = parse_type(d, p, out);
    if (trc == GD_ENOMEM)
        return trc;
    rc |= trc;
    gd_gw_breaker_cfg_default(&out->breaker);
    rc |= parse_breaker(d, p, &out->breaker);
    if (out->type == GD_GW_PROVIDER_LOCAL) /* this girder's serving: models */
        return rc | local_provider_keys(d, p) | gd__gw_config_azure(d, p, out) |
                       gd__gw_config_bedrock(d, p, out)
                   ? GD_EINVAL
                   : 0;
    if (out->type == GD_GW_PROVIDER_BEDROCK && !gd_yaml_map_get(p, "base_url"))
        ; /* default from the region (gw_config_bedrock.c) */
    else if (get_name(d, p, "base_url", MAX_URL, &out->base_url) == 0)
        rc |= check_url(d, p, out->base_url);
    else
        rc = GD_EINVAL;
    rc |= gd_config_get_string(d, p, "api_key", 4096, &key, NULL);
    if (key && *key && !(out->api_key = gd_strdup(key)))
        return GD_ENOMEM;
    const char *ca = NULL;
    rc |= gd_config_get_string(d, p, "ca_file", 4096, &ca, NULL);
    if (ca && *ca && !(out->ca_file = gd_strdup(ca)))
        return GD_ENOMEM;
    rc |= gd_config_get_duration_ms(d, p, "timeout_ms", 1, 3600000, &to);
    rc |= gd_config_get_duration_ms(d, p, "first_byte_timeout_ms", 1, 3600000, &fbt);
    rc |= gd_config_get_int(d, p, "max_connections", 1, 65536, &maxc);
    out->timeout_ms = (uint32_t)to;
    out->first_byte_timeout_ms = (uint32_t)(fbt < to ? fbt : to);
    out->max_connections = (uint32_t)maxc;
    rc |= gd_config_get_int(d, p, "max_idle_connections", 0, 65536, &maxi);
    rc |= gd_config_get_duration_ms(d, p, "idle_timeout_ms", 1, 3600000, &idle);
    out->max_idle_connections = maxi < 0 || maxi > maxc ? (uint32_t)maxc : (uint32_t)maxi;
    out->idle_timeout_ms = (uint32_t)idle;
    rc |= parse_client(d, p, &out->use_curl);
    rc |= parse_responses(d, p, out);
    if (trc == 0 && (trc = gd__gw_config_azure(d, p, out)) == GD_ENOMEM)
        return trc;
    rc |= trc;
    int brc = gd__gw_config_bedrock(d, p, out);
    if (brc == GD_ENOMEM)
        return brc;
    return rc | brc ? GD_EINVAL : 0;
}

static int find_provider(const struct gd_gw_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_providers; i++)
        if (c->providers[i].name && strcmp(c->providers[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int parse_providers(struct gd_config_diag *d, const struct gd_yaml_node *root,
                           struct gd_gw_config *c)
{
    const struct gd_yaml_node *seq = NULL;
    int rc = gd_config_get_seq(d, root, "providers", &seq);
    if (rc || !seq)
        return rc;
    if (seq->n > MAX_PROVIDERS) {
        gd_config_diag_add(d, seq, "providers", "at most %d providers", MAX_PROVIDERS);
        return GD_EINVAL;
    }
    c->providers = gd_calloc(seq->n ? seq->n : 1, sizeof *c->providers);
    if (!c->providers)
        return GD_ENOMEM;
    for (size_t i = 0; i < seq->n; i++) {
        struct gd_gw_provider_cfg *p = &c->providers[i];
        int prc = parse_provider(d, seq->items[i], p);
        if (prc == GD_ENOMEM)
            return prc;
        rc |= prc;
        c->n_providers = i + 1;
        if (p->name && find_provider(c, p->name) != (int)i) {
            gd_config_diag_add(d, gd_yaml_map_get(seq->items[i], "name"), NULL,
                               "duplicate provider name '%s'", p->name);
            rc = GD_EINVAL;
        }
    }
    return rc ? GD_EINVAL : 0;
}

static int parse_deployment(struct gd_config_diag *d, const struct gd_yaml_node *n,
                            const struct gd_gw_config *c, struct gd_gw_deployment_cfg *out)
{
    char *prov = NULL;
    int64_t w = 1;
    if (gd_config_expect_kind(d, n, GD_YAML_MAP) != 0)
        return GD_EINVAL;
    int rc = gd_config_check_keys(d, n, deployment_keys);
    rc |= get_name(d, n, "model", MAX_NAME, &out->model);
    rc |= gd_config_get_int(d, n, "weight", 1, 1000000, &w);
    out->weight = w;
    if (get_name(d, n, "provider", MAX_NAME, &prov) == 0) {
        int pi = find_provider(c, prov);
        if (pi < 0) {
            const char *names[MAX_PROVIDERS / 16 + 1];
            size_t k = 0;
            for (; k < c->n_providers && k < MAX_PROVIDERS / 16; k++)
                names[k] = c->providers[k].name ? c->providers[k].name : "";
            names[k] = NULL;
            const char *sug = gd_config_suggest(prov, names);
            gd_config_diag_add(d, gd_yaml_map_get(n, "provider"), NULL,
                               "unknown provider '%s'%s%s%s", prov, sug ? " (did you mean '" : "",
                               sug ? sug : "", sug ? "'?)" : "");
            rc = GD_EINVAL;
        }
        out->provider = pi < 0 ? 0 : (uint32_t)pi;
    } else {
        rc = GD_EINVAL;
    }
    gd_free(prov);
    return rc ? GD_EINVAL : 0;
}

static int parse_deployments(struct gd_config_diag *d, const struct gd_yaml_node *m,
                             const struct gd_gw_config *c, struct gd_gw_alias_cfg *a)
{
    const struct gd_yaml_node *seq = NULL;
    if (gd_config_get_seq(d, m, "deployments", &seq) != 0)
        return GD_EINVAL;
    if (!seq || seq->n == 0) {
        gd_config_diag_add(d, seq ? seq : m, a->alias ? "deployments" : NULL,
                           "model alias '%s' has no deployments (empty group)",
                           a->alias ? a->alias : "?");
        return GD_EINVAL;
    }
    if (seq->n > GD_GW_MAX_DEPLOYMENTS) {
        gd_config_diag_add(d, seq, NULL, "at most %d deployments per alias", GD_GW_MAX_DEPLOYMENTS);
        return GD_EINVAL;
    }
    a->deployments = gd_calloc(seq->n, sizeof *a->deployments);
    if (!a->deployments)
        return GD_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < seq->n; i++) {
        rc |= parse_deployment(d, seq->items[i], c, &a->deployments[i]);
        a->n_deployments = i + 1;
    }
    return rc ? GD_EINVAL : 0;
}

static int parse_alias(struct gd_config_diag *d, const struct gd_yaml_node *m,
                       const struct gd_gw_config *c, struct gd_gw_alias_cfg *a)
{
    int strategy = 0;
    int64_t retries = 1;
    if (gd_config_expect_kind(d, m, GD_YAML_MAP) != 0)
        return GD_EINVAL;
    int rc = gd_config_check_keys(d, m, model_keys);
    rc |= get_name(d, m, "alias", MAX_NAME, &a->alias);
    rc |= gd_config_get_enum(d, m, "strategy", strategies, &strategy);
    rc |= gd_config_get_int(d, m, "retries", 0, 16, &retries);
    a->strategy = (enum gd_gw_strategy)strategy;
    a->retries = (uint32_t)retries;
    int drc = parse_deployments(d, m, c, a);
    if (drc == GD_ENOMEM)
        return drc;
    return rc || drc ? GD_EINVAL : 0;
}

static int resolve_fallbacks(struct gd_config_diag *d, const struct gd_yaml_node *m,
                             struct gd_gw_config *c, struct gd_gw_alias_cfg *a)
{
    const struct gd_yaml_node *seq = NULL;
    if (gd_config_get_seq(d, m, "fallbacks", &seq) != 0)
        return GD_EINVAL;
    if (!seq || seq->n == 0)
        return 0;
    if (seq->n > 64) {
        gd_config_diag_add(d, seq, NULL, "at most 64 fallbacks");
        return GD_EINVAL;
    }
    a->fallbacks = gd_calloc(seq->n, sizeof *a->fallbacks);
    if (!a->fallbacks)
        return GD_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < seq->n; i++) {
        const struct gd_yaml_node *it = seq->items[i];
        if (gd_config_expect_kind(d, it, GD_YAML_SCALAR) != 0) {
            rc = GD_EINVAL;
            continue;
        }
        int k = gd_gw_config_find_alias(c, it->str, it->len);
        if (k < 0) {
            gd_config_diag_add(d, it, NULL, "unknown model alias '%s' in fallbacks", it->str);
            rc = GD_EINVAL;
        } else if (&c->aliases[k] == a) {
            gd_config_diag_add(d, it, NULL, "alias '%s' lists itself as a fallback", it->str);
            rc = GD_EINVAL;
        } else {
            a->fallbacks[a->n_fallbacks++] = (uint32_t)k;
        }
    }
    return rc;
}

/* Depth-first search for a fallback cycle from alias i: state 1 = on the stack, 2 = done.
 * Returns the alias closing the cycle, or -1. */
static int find_cycle(const struct gd_gw_config *c, uint32_t i, uint8_t *state, uint32_t *path,
                      size_t *depth)
{
    state[i] = 1;
    path[(*depth)++] = i;
    for (size_t k = 0; k < c->aliases[i].n_fallbacks; k++) {
        uint32_t f = c->aliases[i].fallbacks[k];
        if (state[f] == 1) {
            path[(*depth)++] = f;
            return (int)f;
        }
        if (state[f] == 0) {
            int r = find_cycle(c, f, state, path, depth);
            if (r >= 0)
                return r;
        }
    }
    state[i] = 2;
    (*depth)--;
    return -1;
}

static void report_cycle(struct gd_config_diag *d, const struct gd_yaml_node *models,
                         const struct gd_gw_config *c, const uint32_t *path, size_t depth)
{
    struct gd_buf b;
    gd_buf_init(&b, 1024);
    size_t start = 0;
    while (start < depth && path[start] != path[depth - 1])
        start++;
    for (size_t k = start; k < depth; k++)
        gd_buf_printf(&b, "%s%s", k > start ? " -> " : "", c->aliases[path[k]].alias);
    const struct gd_yaml_node *at = gd_yaml_map_get(models->items[path[depth - 2]], "fallbacks");
    gd_config_diag_add(d, at, NULL, "fallback cycle: %s", b.data ? b.data : "?");
    gd_buf_free(&b);
}

enum { MAX_CHAIN = 64 };

static void flatten(const struct gd_gw_config *c, uint32_t i, struct gd_gw_alias_cfg *a)
{
    for (size_t k = 0; k < c->aliases[i].n_fallbacks && a->chain_len < MAX_CHAIN; k++) {
        uint32_t f = c->aliases[i].fallbacks[k];
        bool seen = false;
        for (size_t j = 0; j < a->chain_len; j++)
            seen |= a->chain[j] == f;
        if (seen)
            continue;
        a->chain[a->chain_len++] = f;
        flatten(c, f, a);
    }
}

/* Cycle check over every alias, then the attempt chains. */
static int link_aliases(struct gd_config_diag *d, const struct gd_yaml_node *models,
                        struct gd_gw_config *c)
{
    uint8_t *state = gd_calloc(c->n_aliases, 1);
    uint32_t *path = gd_calloc(c->n_aliases + 1, sizeof *path);
    int rc = state && path ? 0 : GD_ENOMEM;
    for (size_t i = 0; rc == 0 && i < c->n_aliases; i++) {
        size_t depth = 0;
        if (state[i] == 0 && find_cycle(c, (uint32_t)i, state, path, &depth) >= 0) {
            report_cycle(d, models, c, path, depth);
            rc = GD_EINVAL;
        }
    }
    for (size_t i = 0; rc == 0 && i < c->n_aliases; i++) {
        struct gd_gw_alias_cfg *a = &c->aliases[i];
        a->chain = gd_calloc(MAX_CHAIN, sizeof *a->chain);
        if (!a->chain) {
            rc = GD_ENOMEM;
            break;
        }
        a->chain[a->chain_len++] = (uint32_t)i;
        flatten(c, (uint32_t)i, a);
        c->alias_retries[i] = a->retries;
    }
    gd_free(state);
    gd_free(path);
    return rc;
}

static int parse_models(struct gd_config_diag *d, const struct gd_yaml_node *root,
                        struct gd_gw_config *c)
{
    const struct gd_yaml_node *seq = NULL;
    int rc = gd_config_get_seq(d, root, "models", &seq);
    if (rc || !seq)
        return rc;
    if (seq->n > MAX_ALIASES) {
        gd_config_diag_add(d, seq, NULL, "at most %d model aliases", MAX_ALIASES);
        return GD_EINVAL;
    }
    c->aliases = gd_calloc(seq->n ? seq->n : 1, sizeof *c->aliases);
    c->alias_retries = gd_calloc(seq->n ? seq->n : 1, sizeof *c->alias_retries);
    if (!c->aliases || !c->alias_retries)
        return GD_ENOMEM;
    for (size_t i = 0; i < seq->n; i++) {
        struct gd_gw_alias_cfg *a = &c->aliases[i];
        int arc = parse_alias(d, seq->items[i], c, a);
        if (arc == GD_ENOMEM)
            return arc;
        rc |= arc;
        c->n_aliases = i + 1;
        if (a->alias && gd_gw_config_find_alias(c, a->alias, strlen(a->alias)) != (int)i) {
            gd_config_diag_add(d, gd_yaml_map_get(seq->items[i], "alias"), NULL,
                               "duplicate model alias '%s'", a->alias);
            rc = GD_EINVAL;
        }
    }
    for (size_t i = 0; i < seq->n; i++) {
        int frc = resolve_fallbacks(d, seq->items[i], c, &c->aliases[i]);
        if (frc == GD_ENOMEM)
            return frc;
        rc |= frc;
    }
    if (rc)
        return GD_EINVAL;
    return link_aliases(d, seq, c);
}

int gd_gw_config_find_alias(const struct gd_gw_config *c, const char *name, size_t n)
{
    for (size_t i = 0; i < c->n_aliases; i++) {
        const char *a = c->aliases[i].alias;
        if (a && strlen(a) == n && memcmp(a, name, n) == 0)
            return (int)i;
    }
    return -1;
}

int gd_gw_config_parse(const struct gd_yaml_node *root, struct gd_config_diag *d, void **out)
{
    *out = NULL;
    if (!gd_yaml_map_get(root, "providers") && !gd_yaml_map_get(root, "models")) {
        if (!gd_yaml_map_get(root, "governance"))
            return 0;
        gd_config_diag_add(d, gd_yaml_map_get(root, "governance"), NULL,
                           "governance needs the gateway's providers and models");
        return GD_EINVAL;
    }
    struct gd_gw_config *c = gd_calloc(1, sizeof *c);
    if (!c)
        return GD_ENOMEM;
    int rc = parse_providers(d, root, c);
    if (rc != GD_ENOMEM) {
        int mrc = parse_models(d, root, c);
        rc = mrc == GD_ENOMEM ? mrc : (rc | mrc ? GD_EINVAL : 0);
    }
    if (rc == 0 && c->n_aliases > 0 && c->n_providers == 0) {
        gd_config_diag_add(d, root, "providers", "models are configured but no providers");
        rc = GD_EINVAL;
    }
    if (rc == 0)
        rc = gd_gov_config_parse(root, d, c, &c->gov);
    if (rc == 0)
        rc = gd_gw_cache_config_parse(root, d, c, &c->cache);
    if (rc != 0) {
        gd_gw_config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void summary(const void *data, struct gd_buf *out)
{
    const struct gd_gw_config *c = data;
    if (!c) {
        gd_buf_puts(out, "gateway: off (no providers/models)");
        return;
    }
    size_t keys = 0, deps = 0;
    for (size_t i = 0; i < c->n_providers; i++)
        keys += c->providers[i].api_key != NULL;
    for (size_t i = 0; i < c->n_aliases; i++)
        deps += c->aliases[i].n_deployments;
    gd_buf_printf(out,
                  "gateway: %zu providers (%zu with api_key), %zu model aliases, %zu "
                  "deployments",
                  c->n_providers, keys, c->n_aliases, deps);
    if (c->gov) {
        gd_buf_puts(out, "\n");
        gd_gov_config_summary(c->gov, out);
    }
}

const struct gd_config_section gd_gw_config_section = {
    .name = GD_GW_CONFIG_SECTION,
    .keys = section_keys,
    .parse = gd_gw_config_parse,
    .free = gd_gw_config_free,
    .summary = summary,
};

const struct gd_gw_config *gd_gw_config_get(const struct gd_config *cfg)
{
    return cfg ? gd_config_section_get(cfg, GD_GW_CONFIG_SECTION) : NULL;
}
