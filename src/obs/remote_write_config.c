/* The `metrics.remote_write` config section (see remote_write.h, docs/observability.md):
 *
 *   metrics:
 *     remote_write:
 *       url: http://prometheus:9090/api/v1/write   # absent: off
 *       interval_ms: 15000        # a snapshot every interval
 *       timeout_ms: 10000         # one POST
 *       queue: 64                 # batches kept while the receiver is down
 *       headers: {Authorization: "Bearer ${RW_TOKEN}"}
 *       labels: {job: girder, instance: "web-1:8080"}   # external labels
 *
 * The core parses `metrics.enabled` and `metrics.path`; this section owns no top-level key
 * and reads only `remote_write` under `metrics`. */
#include "core/alloc.h"
#include "girder/error.h"
#include "obs/export_http.h"
#include "obs/remote_write.h"

#include <stdbool.h>
#include <string.h>

static const char *const rw_keys[] = {"url",     "interval_ms", "timeout_ms", "queue",
                                      "headers", "labels",      NULL};

static void cfg_free(void *data)
{
    struct gd_rw_config *c = data;
    if (!c)
        return;
    gd_obs_kv_free(c->headers, c->n_headers);
    gd_obs_kv_free(c->labels, c->n_labels);
    gd_free(c->url);
    gd_free(c);
}

static const struct gd_yaml_node *value_of(const struct gd_yaml_node *t, const char *key)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (!strcmp(t->pairs[i].key->str, key))
            return t->pairs[i].value;
    return NULL;
}

static const struct gd_yaml_node *key_of(const struct gd_yaml_node *t, const char *key,
                                         const char *name)
{
    const struct gd_yaml_node *m = value_of(t, key);
    for (size_t i = 0; m && i < m->n; i++)
        if (!strcmp(m->pairs[i].key->str, name))
            return m->pairs[i].key;
    return NULL;
}

/* Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]*, "__" reserved. */
static bool valid_label(const char *s)
{
    if (!*s || !strncmp(s, "__", 2) || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

static int parse(const struct gd_yaml_node *root, struct gd_config_diag *d, void **out)
{
    *out = NULL;
    const struct gd_yaml_node *m = NULL, *t = NULL;
    int rc = gd_config_get_map(d, root, "metrics", &m);
    rc = rc ? rc : gd_config_get_map(d, m, "remote_write", &t);
    rc = rc ? rc : gd_config_check_keys(d, t, rw_keys);
    struct gd_rw_config *c = gd_calloc(1, sizeof *c);
    if (!c)
        return GD_ENOMEM;
    int64_t interval = 15000, timeout = 10000, queue = 64;
    const char *url = NULL;
    bool secret = false;
    rc = rc ? rc : gd_config_get_string(d, t, "url", 2048, &url, &secret);
    rc = rc ? rc : gd_config_get_int(d, t, "interval_ms", 100, 3600000, &interval);
    rc = rc ? rc : gd_config_get_int(d, t, "timeout_ms", 10, 600000, &timeout);
    rc = rc ? rc : gd_config_get_int(d, t, "queue", 1, 100000, &queue);
    rc = rc ? rc : gd_trace_config_kv_map(d, t, "headers", &c->headers, &c->n_headers);
    rc = rc ? rc : gd_trace_config_kv_map(d, t, "labels", &c->labels, &c->n_labels);
    for (size_t i = 0; !rc && i < c->n_labels; i++)
        if (!valid_label(c->labels[i].key)) {
            gd_config_diag_add(d, key_of(t, "labels", c->labels[i].key), NULL,
                               "expected a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not "
                               "starting with __)");
            rc = GD_EINVAL;
        }
    if (!rc && c->n_labels + 1 > GD_RW_MAX_LABELS / 2) {
        gd_config_diag_add(d, value_of(t, "labels"), NULL, "at most %d labels",
                           GD_RW_MAX_LABELS / 2 - 1);
        rc = GD_EINVAL;
    }
    if (!rc && url && *url && strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        gd_config_diag_add(d, value_of(t, "url"), NULL, "expected an http:// or https:// URL");
        rc = GD_EINVAL;
    }
    if (!rc && url && *url && !(c->url = gd_strdup(url)))
        rc = GD_ENOMEM;
    if (rc) {
        cfg_free(c);
        return rc;
    }
    c->url_secret = secret;
    c->interval_ms = (uint32_t)interval;
    c->timeout_ms = (uint32_t)timeout;
    c->queue = (uint32_t)queue;
    *out = c;
    return 0;
}

static void summary(const void *data, struct gd_buf *out)
{
    const struct gd_rw_config *c = data;
    if (c && c->url)
        gd_buf_printf(out, "metrics remote write: to %s every %u ms, queue %u",
                      c->url_secret ? "(a URL from the environment)" : c->url, c->interval_ms,
                      c->queue);
    else
        gd_buf_puts(out, "metrics remote write: off");
}

const struct gd_config_section gd_rw_config_section = {
    .name = GD_RW_CONFIG_SECTION,
    .keys = NULL,
    .parse = parse,
    .free = cfg_free,
    .summary = summary,
};

const struct gd_rw_config *gd_rw_config_get(const struct gd_config *cfg)
{
    return cfg ? gd_config_section_get(cfg, GD_RW_CONFIG_SECTION) : NULL;
}
