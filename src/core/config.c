/* Configuration loading: YAML text → node tree → validated, immutable struct gd_config.
 *
 * The loader keeps going after the first error so that `girder config check` can list every
 * problem in one run: the foundation keys are all checked, then every extension section's
 * parse is called, and only then does it decide. Nothing is half-applied: on any error the
 * partial config (and every section's data) is freed and the caller keeps what it had. */
#include "core/config.h"
#include "core/file.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct section_slot {
    const struct gd_config_section *sec;
    void *data;
    bool present; /* one of its keys appears in the document */
};

struct gd_config__sections {
    size_t n;
    struct section_slot slot[];
};

static const char *const foundation_keys[] = {
    "listen",   "threads",    "log_level", "limits",       "timeouts",
    "drain_timeout_ms", "access_log", "metrics", "debug_routes", NULL};

/* ---- Defaults ------------------------------------------------------------------------------ */

static int set_defaults(struct gd_config *c)
{
    gd_config_parse_listen("127.0.0.1:8080", &c->listen, NULL, 0);
    c->threads = 0;
    c->log_level = GD_LOG_INFO;
    c->limits.max_header_bytes = 16 << 10;
    c->limits.max_headers = 100;
    c->limits.max_target_bytes = 8 << 10;
    c->limits.max_body_bytes = 16 << 20;
    c->timeouts.header_ms = 10000;
    c->timeouts.body_ms = 30000;
    c->timeouts.keepalive_ms = 60000;
    c->timeouts.write_ms = 30000;
    c->drain_timeout_ms = 10000;
    c->access_log.enabled = true;
    c->access_log.format = GD_ACCESS_LOG_JSON;
    c->metrics.enabled = true;
    c->debug_routes = false;
    c->access_log.path = gd_strdup("-");
    c->metrics.path = gd_strdup("/metrics");
    return c->access_log.path && c->metrics.path ? 0 : GD_ENOMEM;
}

/* ---- Foundation keys ----------------------------------------------------------------------- */

static void parse_listen(struct gd_config *c, const struct gd_yaml_node *root,
                         struct gd_config_diag *d)
{
    const char *s = NULL;
    bool secret = false;
    if (gd_config_get_string(d, root, "listen", 300, &s, &secret) || !s)
        return;
    char why[128];
    if (gd_config_parse_listen(s, &c->listen, why, sizeof why) == 0) {
        if (secret)
            c->from_env |= GD_CONFIG_ENV_LISTEN;
        return;
    }
    const struct gd_yaml_node *n = gd_yaml_map_get(root, "listen");
    if (secret)
        gd_config_diag_add(d, n, NULL, "invalid address from the environment: %s", why);
    else
        gd_config_diag_add(d, n, NULL, "invalid address '%s': %s", s, why);
}

static void parse_limits(struct gd_config *c, const struct gd_yaml_node *root,
                         struct gd_config_diag *d)
{
    static const char *const keys[] = {"max_header_bytes", "max_headers", "max_target_bytes",
                                       "max_body_bytes", NULL};
    const struct gd_yaml_node *m;
    if (gd_config_get_map(d, root, "limits", &m) || !m)
        return;
    gd_config_check_keys(d, m, keys);
    uint64_t v = c->limits.max_header_bytes;
    if (gd_config_get_size(d, m, "max_header_bytes", 1024, 1 << 20, &v) == 0)
        c->limits.max_header_bytes = (size_t)v;
    int64_t i = (int64_t)c->limits.max_headers;
    if (gd_config_get_int(d, m, "max_headers", 1, 10000, &i) == 0)
        c->limits.max_headers = (size_t)i;
    v = c->limits.max_target_bytes;
    if (gd_config_get_size(d, m, "max_target_bytes", 64, 1 << 20, &v) == 0)
        c->limits.max_target_bytes = (size_t)v;
    v = c->limits.max_body_bytes;
    if (gd_config_get_size(d, m, "max_body_bytes", 0, 1ull << 30, &v) == 0)
        c->limits.max_body_bytes = (size_t)v;
}

static void parse_timeouts(struct gd_config *c, const struct gd_yaml_node *root,
                           struct gd_config_diag *d)
{
    static const char *const keys[] = {"header_ms", "body_ms", "keepalive_ms", "write_ms", NULL};
    uint32_t *dst[] = {&c->timeouts.header_ms, &c->timeouts.body_ms, &c->timeouts.keepalive_ms,
                       &c->timeouts.write_ms};
    const struct gd_yaml_node *m;
    if (gd_config_get_map(d, root, "timeouts", &m) || !m)
        return;
    gd_config_check_keys(d, m, keys);
    for (int i = 0; keys[i]; i++) {
        uint64_t v = *dst[i];
        if (gd_config_get_duration_ms(d, m, keys[i], 1, 86400000, &v) == 0)
            *dst[i] = (uint32_t)v;
    }
}

static void parse_access_log(struct gd_config *c, const struct gd_yaml_node *root,
                             struct gd_config_diag *d)
{
    static const char *const keys[] = {"enabled", "path", "format", NULL};
    static const char *const formats[] = {"json", "logfmt", NULL};
    const struct gd_yaml_node *m;
    if (gd_config_get_map(d, root, "access_log", &m) || !m)
        return;
    gd_config_check_keys(d, m, keys);
    gd_config_get_bool(d, m, "enabled", &c->access_log.enabled);
    int f = (int)c->access_log.format;
    if (gd_config_get_enum(d, m, "format", formats, &f) == 0)
        c->access_log.format = (enum gd_access_log_format)f;
    const char *p = NULL;
    bool secret = false;
    if (gd_config_get_string(d, m, "path", 4096, &p, &secret) || !p)
        return;
    if (!*p) {
        gd_config_diag_add(d, gd_yaml_map_get(m, "path"), NULL,
                           "must not be empty (use \"-\" for stdout)");
        return;
    }
    char *copy = gd_strdup(p);
    if (!copy) {
        gd_config_diag_add(d, NULL, NULL, "out of memory");
        return;
    }
    gd_free(c->access_log.path);
    c->access_log.path = copy;
    if (secret)
        c->from_env |= GD_CONFIG_ENV_ACCESS_LOG_PATH;
}

static void parse_metrics(struct gd_config *c, const struct gd_yaml_node *root,
                          struct gd_config_diag *d)
{
    /* remote_write is parsed by src/obs (remote_write_config.c) */
    static const char *const keys[] = {"enabled", "path", "remote_write", NULL};
    const struct gd_yaml_node *m;
    if (gd_config_get_map(d, root, "metrics", &m) || !m)
        return;
    gd_config_check_keys(d, m, keys);
    gd_config_get_bool(d, m, "enabled", &c->metrics.enabled);
    const char *p = NULL;
    bool secret = false;
    if (gd_config_get_string(d, m, "path", 1024, &p, &secret) || !p)
        return;
    if (p[0] != '/' || strpbrk(p, " ?#")) {
        gd_config_diag_add(d, gd_yaml_map_get(m, "path"), NULL,
                           "must be a URL path starting with '/' (no spaces, '?' or '#')");
        return;
    }
    char *copy = gd_strdup(p);
    if (!copy) {
        gd_config_diag_add(d, NULL, NULL, "out of memory");
        return;
    }
    gd_free(c->metrics.path);
    c->metrics.path = copy;
    if (secret)
        c->from_env |= GD_CONFIG_ENV_METRICS_PATH;
}

static void parse_foundation(struct gd_config *c, const struct gd_yaml_node *root,
                             struct gd_config_diag *d)
{
    static const char *const levels[] = {"debug", "info", "warn", "error", "off", NULL};
    parse_listen(c, root, d);
    int64_t t = c->threads;
    if (gd_config_get_int(d, root, "threads", 0, 1024, &t) == 0)
        c->threads = (unsigned)t;
    int lvl = (int)c->log_level;
    if (gd_config_get_enum(d, root, "log_level", levels, &lvl) == 0)
        c->log_level = (enum gd_log_level)lvl;
    parse_limits(c, root, d);
    parse_timeouts(c, root, d);
    uint64_t drain = c->drain_timeout_ms;
    if (gd_config_get_duration_ms(d, root, "drain_timeout_ms", 0, 3600000, &drain) == 0)
        c->drain_timeout_ms = (uint32_t)drain;
    parse_access_log(c, root, d);
    parse_metrics(c, root, d);
    gd_config_get_bool(d, root, "debug_routes", &c->debug_routes);
}

/* ---- Sections ----------------------------------------------------------------------------- */

/* Checks top-level keys against the foundation's and every section's. */
static int check_root_keys(const struct gd_yaml_node *root, const struct gd_config_options *o,
                           struct gd_config_diag *d)
{
    size_t n = sizeof foundation_keys / sizeof foundation_keys[0];
    for (size_t i = 0; o && i < o->n_sections; i++)
        for (size_t j = 0; o->sections[i]->keys && o->sections[i]->keys[j]; j++)
            n++;
    const char **all = gd_calloc(n, sizeof *all);
    if (!all)
        return GD_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; foundation_keys[i]; i++)
        all[k++] = foundation_keys[i];
    for (size_t i = 0; o && i < o->n_sections; i++)
        for (size_t j = 0; o->sections[i]->keys && o->sections[i]->keys[j]; j++)
            all[k++] = o->sections[i]->keys[j];
    all[k] = NULL;
    int rc = gd_config_check_keys(d, root, all);
    gd_free(all);
    return rc;
}

static void free_sections(struct gd_config__sections *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        if (s->slot[i].sec->free)
            s->slot[i].sec->free(s->slot[i].data);
    gd_free(s);
}

static int parse_sections(struct gd_config *c, const struct gd_yaml_node *root,
                          const struct gd_config_options *o, struct gd_config_diag *d)
{
    size_t n = o ? o->n_sections : 0, bytes;
    if (gd_size_mul(n, sizeof(struct section_slot), &bytes) ||
        gd_size_add(bytes, sizeof(struct gd_config__sections), &bytes))
        return GD_ENOMEM;
    struct gd_config__sections *s = gd_calloc(1, bytes);
    if (!s)
        return GD_ENOMEM;
    c->gd__sections = s;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const struct gd_config_section *sec = o->sections[i];
        s->slot[i].sec = sec;
        s->n = i + 1;
        for (size_t j = 0; sec->keys && sec->keys[j]; j++)
            if (gd_yaml_map_get(root, sec->keys[j]))
                s->slot[i].present = true;
        size_t before = d->n + d->dropped;
        int r = sec->parse(root, d, &s->slot[i].data);
        if (r && d->n + d->dropped == before)
            gd_config_diag_add(d, NULL, sec->name, "section failed to load: %s", gd_strerror(r));
        if (r && !rc)
            rc = r;
    }
    return rc;
}

/* ---- Loading ------------------------------------------------------------------------------ */

static void config_free(struct gd_config *c)
{
    free_sections(c->gd__sections);
    gd_free(c->access_log.path);
    gd_free(c->metrics.path);
    gd_free(c->source);
    gd_free(c);
}

int gd_config_load_mem(const char *data, size_t len, const char *name,
                       const struct gd_config_options *opts, struct gd_config_diag *diag,
                       struct gd_config **out)
{
    *out = NULL;
    if (!diag->file)
        diag->file = name;
    size_t errors_before = diag->n + diag->dropped;
    struct gd_yaml_doc *doc = NULL;
    int rc = gd_yaml_parse(data, len, opts ? &opts->yaml : NULL, diag, &doc);
    if (rc)
        return rc;
    const struct gd_yaml_node *root = gd_yaml_doc_root(doc);
    if (gd_yaml_is_null(root)) /* "---" alone or "~": an empty configuration */
        root = NULL;
    struct gd_config *c = gd_calloc(1, sizeof *c);
    if (!c || !(c->source = gd_strdup(name ? name : "<config>")) || set_defaults(c)) {
        rc = GD_ENOMEM;
        gd_config_diag_add(diag, NULL, NULL, "out of memory");
        goto fail;
    }
    atomic_init(&c->gd__refs, 1);
    if (root && root->kind != GD_YAML_MAP) {
        gd_config_diag_add(diag, root, NULL, "the top level must be a map of settings");
        rc = GD_EINVAL;
        goto fail;
    }
    rc = check_root_keys(root, opts, diag);
    parse_foundation(c, root, diag);
    int src = parse_sections(c, root, opts, diag);
    if (rc == GD_ENOMEM || src == GD_ENOMEM) {
        rc = GD_ENOMEM;
        goto fail;
    }
    if (diag->n + diag->dropped != errors_before || src) {
        rc = GD_EINVAL;
        goto fail;
    }
    gd_yaml_doc_free(doc);
    *out = c;
    return 0;
fail:
    if (c)
        config_free(c);
    gd_yaml_doc_free(doc);
    return rc ? rc : GD_EINVAL;
}

int gd_config_load_file(const char *path, const struct gd_config_options *opts,
                        struct gd_config_diag *diag, struct gd_config **out)
{
    *out = NULL;
    if (!diag->file)
        diag->file = path;
    size_t max = opts && opts->yaml.limits.max_bytes ? opts->yaml.limits.max_bytes : 1u << 20;
    char *data = NULL, why[160];
    size_t len = 0;
    int rc = gd_file_read(path, max, &data, &len, why, sizeof why);
    if (rc) {
        gd_config_diag_add(diag, NULL, NULL, "%s", why);
        return rc;
    }
    rc = gd_config_load_mem(data, len, path, opts, diag, out);
    gd_free(data);
    return rc;
}

/* Generated at build time from src/cli/default_config.yaml (config_embed.cmake). */
extern const char gd__default_config_yaml[];
extern const unsigned long gd__default_config_yaml_len;

const char *gd_config_default_yaml(size_t *len)
{
    if (len)
        *len = gd__default_config_yaml_len;
    return gd__default_config_yaml;
}

int gd_config_load_default(const struct gd_config_options *opts, struct gd_config_diag *diag,
                           struct gd_config **out)
{
    return gd_config_load_mem(gd__default_config_yaml, gd__default_config_yaml_len, "<default>",
                              opts, diag, out);
}

/* ---- Sharing ------------------------------------------------------------------------------ */

struct gd_config *gd_config_ref(struct gd_config *cfg)
{
    if (cfg)
        atomic_fetch_add_explicit(&cfg->gd__refs, 1, memory_order_relaxed);
    return cfg;
}

void gd_config_unref(struct gd_config *cfg)
{
    if (cfg && atomic_fetch_sub_explicit(&cfg->gd__refs, 1, memory_order_acq_rel) == 1)
        config_free(cfg);
}

const void *gd_config_section_get(const struct gd_config *cfg, const char *name)
{
    const struct gd_config__sections *s = cfg ? cfg->gd__sections : NULL;
    for (size_t i = 0; s && i < s->n; i++)
        if (strcmp(s->slot[i].sec->name, name) == 0)
            return s->slot[i].data;
    return NULL;
}

unsigned gd_config_threads(const struct gd_config *cfg)
{
    if (cfg->threads)
        return cfg->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

void gd_config_holder_init(struct gd_config_holder *h, struct gd_config *cfg)
{
    pthread_mutex_init(&h->mu, NULL);
    h->cur = cfg;
}

struct gd_config *gd_config_holder_get(struct gd_config_holder *h)
{
    pthread_mutex_lock(&h->mu);
    struct gd_config *c = gd_config_ref(h->cur);
    pthread_mutex_unlock(&h->mu);
    return c;
}

void gd_config_holder_set(struct gd_config_holder *h, struct gd_config *cfg)
{
    pthread_mutex_lock(&h->mu);
    struct gd_config *old = h->cur;
    h->cur = cfg;
    pthread_mutex_unlock(&h->mu);
    gd_config_unref(old);
}

void gd_config_holder_destroy(struct gd_config_holder *h)
{
    gd_config_unref(h->cur);
    h->cur = NULL;
    pthread_mutex_destroy(&h->mu);
}

/* ---- Summary for `girder config check` ------------------------------------------------------ */

static int summary_foundation(const struct gd_config *c, struct gd_buf *o)
{
    static const char *const levels[] = {"debug", "info", "warn", "error", "off"};
    static const char *const formats[] = {"json", "logfmt"};
    const char *hidden = "(from environment)";
    int rc = gd_buf_printf(o, "listen: %s\n",
                           c->from_env & GD_CONFIG_ENV_LISTEN ? hidden : c->listen.text);
    if (rc == 0 && c->threads)
        rc = gd_buf_printf(o, "threads: %u\n", c->threads);
    else if (rc == 0)
        rc = gd_buf_printf(o, "threads: 0 (one per CPU: %u)\n", gd_config_threads(c));
    if (rc == 0)
        rc = gd_buf_printf(o, "log_level: %s\n", levels[c->log_level]);
    if (rc == 0)
        rc = gd_buf_printf(o,
                           "limits: max_header_bytes=%zu max_headers=%zu max_target_bytes=%zu "
                           "max_body_bytes=%zu\n",
                           c->limits.max_header_bytes, c->limits.max_headers,
                           c->limits.max_target_bytes, c->limits.max_body_bytes);
    if (rc == 0)
        rc = gd_buf_printf(o, "timeouts: header_ms=%u body_ms=%u keepalive_ms=%u write_ms=%u\n",
                           c->timeouts.header_ms, c->timeouts.body_ms, c->timeouts.keepalive_ms,
                           c->timeouts.write_ms);
    if (rc == 0)
        rc = gd_buf_printf(o, "drain_timeout_ms: %u\n", c->drain_timeout_ms);
    if (rc == 0 && !c->access_log.enabled)
        rc = gd_buf_puts(o, "access_log: off\n");
    else if (rc == 0)
        rc = gd_buf_printf(o, "access_log: %s (%s)\n",
                           c->from_env & GD_CONFIG_ENV_ACCESS_LOG_PATH ? hidden
                           : strcmp(c->access_log.path, "-") == 0      ? "stdout"
                                                                       : c->access_log.path,
                           formats[c->access_log.format]);
    if (rc == 0)
        rc = gd_buf_printf(o, "metrics: %s\n",
                           !c->metrics.enabled                      ? "off"
                           : c->from_env & GD_CONFIG_ENV_METRICS_PATH ? hidden
                                                                      : c->metrics.path);
    if (rc == 0 && c->debug_routes)
        rc = gd_buf_puts(o, "debug_routes: true (test-only routes enabled)\n");
    return rc;
}

int gd_config_summary(const struct gd_config *cfg, struct gd_buf *out)
{
    int rc = summary_foundation(cfg, out);
    const struct gd_config__sections *s = cfg->gd__sections;
    size_t present = 0;
    for (size_t i = 0; s && i < s->n; i++)
        present += s->slot[i].present;
    if (rc == 0)
        rc = gd_buf_puts(out, "sections:");
    for (size_t i = 0; s && i < s->n && rc == 0; i++)
        if (s->slot[i].present)
            rc = gd_buf_printf(out, " %s", s->slot[i].sec->name);
    if (rc == 0)
        rc = gd_buf_puts(out, present ? "\n" : " (none)\n");
    for (size_t i = 0; s && i < s->n && rc == 0; i++) {
        if (!s->slot[i].present || !s->slot[i].sec->summary)
            continue;
        s->slot[i].sec->summary(s->slot[i].data, out);
        rc = gd_buf_putc(out, '\n');
    }
    return rc;
}
