/* The `tracing:` config section (see trace.h and docs/observability.md):
 *
 *   tracing:
 *     endpoint: http://collector:4318/v1/traces   # OTLP/HTTP traces URL; absent: off
 *     service_name: girder
 *     sample_ratio: 1.0          # new traces; requests with a traceparent follow its flag
 *     resource_attributes: {deployment.environment: prod}
 *     headers: {authorization: "Bearer ${OTEL_TOKEN}"}
 *     batch_delay_ms: 1000
 *     max_batch: 512
 *     max_queue: 4096
 *     export_timeout_ms: 10000
 *     max_retries: 5
 *     compression: gzip          # or none (the default)
 *
 * Keys left out fall back to OpenTelemetry's standard variables, read when the config is
 * loaded: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full URL), OTEL_EXPORTER_OTLP_ENDPOINT (a
 * base URL: /v1/traces is appended), OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
 * (key=value,...), OTEL_TRACES_SAMPLER_ARG (the ratio), OTEL_EXPORTER_OTLP_TRACES_COMPRESSION
 * and OTEL_EXPORTER_OTLP_COMPRESSION (gzip or none). */
#include "core/alloc.h"
#include "core/log.h"
#include "girder/error.h"
#include "obs/export_http.h"
#include "obs/trace.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_KV = 64, MAX_VALUE = 4096 };

static const char *const section_keys[] = {"tracing", NULL};
static const char *const tracing_keys[] = {
    "endpoint",       "service_name", "sample_ratio", "resource_attributes",
    "headers",        "max_batch",    "max_queue",    "export_timeout_ms",
    "batch_delay_ms", "max_retries",  "compression",  NULL};

static void cfg_free(void *data)
{
    struct gd_trace_config *c = data;
    if (!c)
        return;
    gd_obs_kv_free(c->resource, c->n_resource);
    gd_obs_kv_free(c->headers, c->n_headers);
    gd_free(c->endpoint);
    gd_free(c->service_name);
    gd_free(c);
}

/* A map of scalars into kv pairs (trace.h). */
int gd_trace_config_kv_map(struct gd_config_diag *d, const struct gd_yaml_node *t, const char *key,
                           struct gd_trace_attr_kv **v, size_t *n)
{
    const struct gd_yaml_node *m;
    int rc = gd_config_get_map(d, t, key, &m);
    for (size_t i = 0; !rc && m && i < m->n; i++) {
        const struct gd_yaml_node *k = m->pairs[i].key, *val = m->pairs[i].value;
        if (*n == MAX_KV) {
            gd_config_diag_add(d, k, NULL, "at most %d entries", MAX_KV);
            return GD_EINVAL;
        }
        if (val->kind != GD_YAML_SCALAR || !k->len || memchr(k->str, 0, k->len) ||
            memchr(val->str, 0, val->len) || val->len > MAX_VALUE || strpbrk(k->str, "\r\n:") ||
            memchr(val->str, '\r', val->len) || memchr(val->str, '\n', val->len)) {
            gd_config_diag_add(d, val, NULL, "expected a single-line string value");
            return GD_EINVAL;
        }
        rc = gd_obs_kv_push(v, n, k->str, k->len, val->str, val->len);
    }
    return rc;
}

/* OTEL_RESOURCE_ATTRIBUTES: key=value pairs separated by commas (values may be
 * percent-encoded; kept as written). Malformed pairs are skipped, as the spec asks. */
static int env_resource(struct gd_trace_config *c)
{
    const char *s = getenv("OTEL_RESOURCE_ATTRIBUTES");
    while (s && *s && c->n_resource < MAX_KV) {
        const char *end = strchr(s, ','), *eq = strchr(s, '=');
        end = end ? end : s + strlen(s);
        if (eq && eq < end && eq > s) {
            int rc = gd_obs_kv_push(&c->resource, &c->n_resource, s, (size_t)(eq - s), eq + 1,
                                    (size_t)(end - eq - 1));
            if (rc)
                return rc;
        }
        s = *end ? end + 1 : end;
    }
    return 0;
}

/* The value node of key in map t (for an error's position), or NULL. */
static const struct gd_yaml_node *value_of(const struct gd_yaml_node *t, const char *key)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (!strcmp(t->pairs[i].key->str, key))
            return t->pairs[i].value;
    return NULL;
}

static int valid_url(const char *u)
{
    return !strncmp(u, "http://", 7) || !strncmp(u, "https://", 8);
}

static int parse(const struct gd_yaml_node *root, struct gd_config_diag *d, void **out)
{
    *out = NULL;
    const struct gd_yaml_node *t = NULL;
    int rc = gd_config_get_map(d, root, "tracing", &t);
    rc = rc ? rc : gd_config_check_keys(d, t, tracing_keys);
    struct gd_trace_config *c = gd_calloc(1, sizeof *c);
    if (!c)
        return GD_ENOMEM;
    c->sample_ratio = 1.0;
    int64_t batch = 512, queue = 4096, timeout = 10000, delay = 1000, retries = 5;
    const char *endpoint = NULL, *svc = NULL, *ratio = NULL, *comp = NULL;
    bool secret = false;
    rc = rc ? rc : gd_config_get_string(d, t, "endpoint", 2048, &endpoint, &secret);
    c->endpoint_secret = secret;
    rc = rc ? rc : gd_config_get_string(d, t, "service_name", 256, &svc, NULL);
    rc = rc ? rc : gd_config_get_string(d, t, "sample_ratio", 64, &ratio, NULL);
    rc = rc ? rc : gd_config_get_int(d, t, "max_batch", 1, 8192, &batch);
    rc = rc ? rc : gd_config_get_int(d, t, "max_queue", 1, 1 << 20, &queue);
    rc = rc ? rc : gd_config_get_int(d, t, "export_timeout_ms", 10, 600000, &timeout);
    rc = rc ? rc : gd_config_get_int(d, t, "batch_delay_ms", 1, 600000, &delay);
    rc = rc ? rc : gd_config_get_int(d, t, "max_retries", 0, 100, &retries);
    rc = rc ? rc : gd_config_get_string(d, t, "compression", 16, &comp, NULL);
    rc =
        rc ? rc : gd_trace_config_kv_map(d, t, "resource_attributes", &c->resource, &c->n_resource);
    rc = rc ? rc : gd_trace_config_kv_map(d, t, "headers", &c->headers, &c->n_headers);
    if (rc) {
        cfg_free(c);
        return rc;
    }
    c->max_batch = (uint32_t)batch;
    c->max_queue = (uint32_t)queue;
    c->export_timeout_ms = (uint32_t)timeout;
    c->batch_delay_ms = (uint32_t)delay;
    c->max_retries = (uint32_t)retries;
    /* the standard variables as OpenTelemetry's SDKs read them: the signal's first */
    const char *env_comp = getenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION");
    if (!env_comp || !*env_comp)
        env_comp = getenv("OTEL_EXPORTER_OTLP_COMPRESSION");
    const char *cv = comp ? comp : env_comp;
    if (cv && strcmp(cv, "gzip") && strcmp(cv, "none")) {
        if (comp) {
            gd_config_diag_add(d, value_of(t, "compression"), "tracing.compression",
                               "expected gzip or none");
            cfg_free(c);
            return GD_EINVAL;
        }
        gd_logf(GD_LOG_WARN, "msg=\"ignoring OTEL_EXPORTER_OTLP_*COMPRESSION: expected gzip or "
                             "none\"");
        cv = NULL;
    }
    c->gzip = cv && !strcmp(cv, "gzip");
    const char *env_ratio = getenv("OTEL_TRACES_SAMPLER_ARG");
    if (ratio || env_ratio) {
        char *end;
        const char *r = ratio ? ratio : env_ratio;
        double v = strtod(r, &end);
        if (end == r || *end || !(v >= 0 && v <= 1)) {
            if (ratio) {
                gd_config_diag_add(d, value_of(t, "sample_ratio"), NULL,
                                   "expected a number from 0 to 1");
                cfg_free(c);
                return GD_EINVAL;
            }
        } else {
            c->sample_ratio = v;
        }
    }
    char url[2100];
    const char *base = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    if (!endpoint && (endpoint = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) == NULL && base &&
        *base) {
        size_t bl = strlen(base);
        snprintf(url, sizeof url, "%.*s/v1/traces", (int)(bl && base[bl - 1] == '/' ? bl - 1 : bl),
                 base);
        endpoint = url;
    }
    if (endpoint && *endpoint) {
        if (!valid_url(endpoint)) {
            gd_config_diag_add(d, value_of(t, "endpoint"), "tracing.endpoint",
                               "expected an http:// or https:// URL");
            cfg_free(c);
            return GD_EINVAL;
        }
        if (!(c->endpoint = gd_strdup(endpoint))) {
            cfg_free(c);
            return GD_ENOMEM;
        }
    }
    if (!svc)
        svc = getenv("OTEL_SERVICE_NAME");
    if (!(c->service_name = gd_strdup(svc && *svc ? svc : "girder")) || env_resource(c)) {
        cfg_free(c);
        return GD_ENOMEM;
    }
    *out = c;
    return 0;
}

static void summary(const void *data, struct gd_buf *out)
{
    const struct gd_trace_config *c = data;
    if (c && c->endpoint)
        gd_buf_printf(out, "tracing: OTLP/HTTP to %s, service %s, sample ratio %g%s",
                      c->endpoint_secret ? "(an endpoint from the environment)" : c->endpoint,
                      c->service_name, c->sample_ratio, c->gzip ? ", gzip" : "");
    else
        gd_buf_puts(out, "tracing: off");
}

const struct gd_config_section gd_trace_config_section = {
    .name = GD_TRACE_CONFIG_SECTION,
    .keys = section_keys,
    .parse = parse,
    .free = cfg_free,
    .summary = summary,
};

const struct gd_trace_config *gd_trace_config_get(const struct gd_config *cfg)
{
    return cfg ? gd_config_section_get(cfg, GD_TRACE_CONFIG_SECTION) : NULL;
}
