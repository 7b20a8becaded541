/* `serving:` section parser (see ms_config.h). */
#include "serve/ms_config.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_MODELS 256
#define MAX_NAME 128

static const char *const section_keys[] = {"serving", NULL};
static const char *const serving_keys[] = {"models", NULL};
/* clang-format off */
static const char *const model_keys[] = {
    "name", "path", "version", "instances", "threads", "max_queue", "timeout_ms", "required",
    "allow_request_timeout", "max_batch_size", "dynamic_batching", "embedding", "warmup",
    "probe", NULL};
static const char *const probe_keys[] = {
    "request", "expect", "atol", "rtol", "interval_ms", "timeout_ms", NULL};
static const char *const embed_keys[] = {
    "tokenizer", "lowercase", "pooling", "normalize", "max_tokens", "output", NULL};
/* clang-format on */
static const char *const batching_keys[] = {"max_queue_delay_us", "preferred_batch_sizes", NULL};

/* A URL-safe model name: letters, digits, '-', '_', '.'. */
static int name_ok(const char *s)
{
    if (!*s || *s == '.')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

/* path as written if absolute, else joined to the directory of the config file. */
static char *resolve_path(const struct gd_config_diag *d, const char *path)
{
    const char *file = d->file ? d->file : "";
    const char *slash = strrchr(file, '/');
    if (path[0] == '/' || !slash || file[0] == '<')
        return gd_strdup(path);
    size_t dl = (size_t)(slash - file), pl = strlen(path);
    char *out = gd_malloc(dl + 1 + pl + 1);
    if (out)
        snprintf(out, dl + 1 + pl + 1, "%.*s/%s", (int)dl, file, path);
    return out;
}

/* dynamic_batching: {max_queue_delay_us, preferred_batch_sizes: [increasing sizes]} */
static int parse_batching(struct gd_config_diag *d, const struct gd_yaml_node *n,
                          struct gd_ms_model_cfg *m)
{
    const struct gd_yaml_node *b = NULL, *pref = NULL;
    int rc = gd_config_get_map(d, n, "dynamic_batching", &b);
    if (rc || !b)
        return rc;
    if (m->max_batch_size == 0) {
        gd_config_diag_add(d, b, NULL, "dynamic batching needs max_batch_size > 0");
        return GD_EINVAL;
    }
    m->dynamic_batching = true;
    int64_t delay = 0;
    rc = gd_config_check_keys(d, b, batching_keys);
    rc |= gd_config_get_int(d, b, "max_queue_delay_us", 0, 1000000, &delay);
    rc |= gd_config_get_seq(d, b, "preferred_batch_sizes", &pref);
    m->max_queue_delay_us = (uint32_t)delay;
    for (size_t i = 0; pref && i < pref->n && i < GD_MS_MAX_PREFERRED; i++) {
        const struct gd_yaml_node *it = pref->items[i];
        char *end = NULL;
        long long v = it->kind == GD_YAML_SCALAR ? strtoll(it->str, &end, 10) : 0;
        if (!end || *end || v < 1 || v > m->max_batch_size ||
            (m->n_preferred && v <= m->preferred[m->n_preferred - 1])) {
            gd_config_diag_add(d, it, NULL,
                               "expected increasing batch sizes from 1 to max_batch_size (%u)",
                               m->max_batch_size);
            rc = GD_EINVAL;
            continue;
        }
        m->preferred[m->n_preferred++] = (uint32_t)v;
    }
    if (pref && pref->n > GD_MS_MAX_PREFERRED) {
        gd_config_diag_add(d, pref, NULL, "at most %d preferred batch sizes", GD_MS_MAX_PREFERRED);
        rc = GD_EINVAL;
    }
    return rc ? GD_EINVAL : 0;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int parse_embedding(struct gd_config_diag *d, const struct gd_yaml_node *n,
                           struct gd_ms_model_cfg *m)
{
    static const char *const poolings[] = {"mean", "cls", NULL};
    const struct gd_yaml_node *e = NULL;
    int rc = gd_config_get_map(d, n, "embedding", &e);
    if (rc || !e)
        return rc;
    struct gd_ms_embed_cfg *c = gd_calloc(1, sizeof *c);
    if (!c)
        return GD_ENOMEM;
    m->embedding = c;
    c->lowercase = c->normalize = true;
    c->max_tokens = 512;
    int pool = GD_MS_POOL_MEAN;
    int64_t max_tokens = c->max_tokens;
    const char *tok = NULL, *out = NULL;
    rc = gd_config_check_keys(d, e, embed_keys);
    rc |= gd_config_get_string(d, e, "tokenizer", 4096, &tok, NULL);
    rc |= gd_config_get_bool(d, e, "lowercase", &c->lowercase);
    rc |= gd_config_get_enum(d, e, "pooling", poolings, &pool);
    rc |= gd_config_get_bool(d, e, "normalize", &c->normalize);
    rc |= gd_config_get_int(d, e, "max_tokens", 2, 8192, &max_tokens);
    rc |= gd_config_get_string(d, e, "output", 256, &out, NULL);
    c->pooling = (enum gd_ms_pooling)pool;
    c->max_tokens = (uint32_t)max_tokens;
    if (out && !(c->output = gd_strdup(out)))
        return GD_ENOMEM;
    if (!tok || !*tok) {
        gd_config_diag_add(d, e, "tokenizer", "an embedding model needs its tokenizer file");
        return GD_EINVAL;
    }
    if (!(c->tokenizer = resolve_path(d, tok)))
        return GD_ENOMEM;
    if (!file_exists(c->tokenizer)) {
        gd_config_diag_add(d, gd_yaml_map_get(e, "tokenizer"), NULL, "no tokenizer file at '%s'",
                           c->tokenizer);
        rc = GD_EINVAL;
    }
    return rc ? GD_EINVAL : 0;
}

/* A tolerance: a finite number >= 0 (absent: def). */
static int get_tolerance(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                         double def, double *out)
{
    const struct gd_yaml_node *v = gd_yaml_map_get(map, key);
    *out = def;
    if (!v)
        return 0;
    char *end = NULL;
    double x = v->kind == GD_YAML_SCALAR ? strtod(v->str, &end) : -1;
    if (!end || end == v->str || *end || !(x >= 0 && x < 1e300)) {
        gd_config_diag_add(d, v, NULL, "expected a number >= 0");
        return GD_EINVAL;
    }
    *out = x;
    return 0;
}

/* A probe file: resolved against the config's directory, must exist. */
static int probe_file(struct gd_config_diag *d, const struct gd_yaml_node *p, const char *key,
                      char **out)
{
    const char *s = NULL;
    int rc = gd_config_get_string(d, p, key, 4096, &s, NULL);
    if (rc || !s)
        return rc;
    if (!(*out = resolve_path(d, s)))
        return GD_ENOMEM;
    if (!file_exists(*out)) {
        gd_config_diag_add(d, gd_yaml_map_get(p, key), NULL, "no probe file at '%s'", *out);
        return GD_EINVAL;
    }
    return 0;
}

static int parse_probe(struct gd_config_diag *d, const struct gd_yaml_node *n,
                       struct gd_ms_model_cfg *m)
{
    const struct gd_yaml_node *p = NULL;
    int rc = gd_config_get_map(d, n, "probe", &p);
    if (rc || !p)
        return rc;
    struct gd_ms_probe_cfg *c = gd_calloc(1, sizeof *c);
    if (!c)
        return GD_ENOMEM;
    m->probe = c;
    c->timeout_ms = 10000;
    rc = gd_config_check_keys(d, p, probe_keys);
    int frc = probe_file(d, p, "request", &c->request);
    int erc = probe_file(d, p, "expect", &c->expect);
    if (frc == GD_ENOMEM || erc == GD_ENOMEM)
        return GD_ENOMEM;
    rc |= frc | erc;
    rc |= get_tolerance(d, p, "atol", 1e-5, &c->atol);
    rc |= get_tolerance(d, p, "rtol", 1e-4, &c->rtol);
    rc |= gd_config_get_duration_ms(d, p, "interval_ms", 0, 86400000, &c->interval_ms);
    rc |= gd_config_get_duration_ms(d, p, "timeout_ms", 1, 3600000, &c->timeout_ms);
    if (!c->request && !gd_yaml_map_get(p, "request")) {
        gd_config_diag_add(d, p, "request", "a probe needs the request file it sends");
        rc = GD_EINVAL;
    }
    return rc ? GD_EINVAL : 0;
}

static int parse_model(struct gd_config_diag *d, const struct gd_yaml_node *n,
                       struct gd_ms_model_cfg *m)
{
    if (gd_config_expect_kind(d, n, GD_YAML_MAP) != 0)
        return GD_EINVAL;
    int rc = gd_config_check_keys(d, n, model_keys);
    const char *name = NULL, *path = NULL;
    int64_t version = 1, inst = 1, thr = 1, q = 64;
    m->timeout_ms = 0;
    m->required = true;
    m->allow_request_timeout = true;
    rc |= gd_config_get_string(d, n, "name", MAX_NAME, &name, NULL);
    rc |= gd_config_get_string(d, n, "path", 4096, &path, NULL);
    rc |= gd_config_get_int(d, n, "version", 1, INT32_MAX, &version);
    rc |= gd_config_get_int(d, n, "instances", 1, 64, &inst);
    rc |= gd_config_get_int(d, n, "threads", 1, 256, &thr);
    rc |= gd_config_get_int(d, n, "max_queue", 1, 1 << 20, &q);
    rc |= gd_config_get_duration_ms(d, n, "timeout_ms", 0, 3600000, &m->timeout_ms);
    rc |= gd_config_get_bool(d, n, "required", &m->required);
    rc |= gd_config_get_bool(d, n, "allow_request_timeout", &m->allow_request_timeout);
    int64_t mbs = 0;
    if (gd_config_get_int(d, n, "max_batch_size", 0, 65536, &mbs) == 0) {
        m->max_batch_size = (uint32_t)mbs;
        rc |= parse_batching(d, n, m);
    } else {
        rc = GD_EINVAL;
    }
    int erc = parse_embedding(d, n, m), prc = parse_probe(d, n, m);
    if (erc == GD_ENOMEM || prc == GD_ENOMEM)
        return GD_ENOMEM;
    rc |= erc | prc;
    int64_t warmup = 0;
    rc |= gd_config_get_int(d, n, "warmup", 0, 1000, &warmup);
    m->warmup = (uint32_t)warmup;
    if (!name || !name_ok(name)) {
        gd_config_diag_add(d, name ? gd_yaml_map_get(n, "name") : n, name ? NULL : "name",
                           name ? "model name may hold only letters, digits, '-', '_', '.'"
                                : "a model needs a name");
        rc = GD_EINVAL;
    } else if (!(m->name = gd_strdup(name))) {
        return GD_ENOMEM;
    }
    if (!path || !*path) {
        gd_config_diag_add(d, n, "path", "a model needs a path to its .onnx file");
        return GD_EINVAL;
    }
    if (!(m->path = resolve_path(d, path)))
        return GD_ENOMEM;
    /* an optional model may be missing: serving starts without it (ms_runtime.h) */
    if (m->required && !file_exists(m->path)) {
        gd_config_diag_add(d, gd_yaml_map_get(n, "path"), NULL, "no model file at '%s'", m->path);
        rc = GD_EINVAL;
    }
    m->version = version;
    m->instances = (uint32_t)inst;
    m->threads = (uint32_t)thr;
    m->max_queue = (uint32_t)q;
    return rc ? GD_EINVAL : 0;
}

int gd_ms_config_parse(const struct gd_yaml_node *root, struct gd_config_diag *d, void **out)
{
    *out = NULL;
    const struct gd_yaml_node *sec = NULL, *seq = NULL;
    int rc = gd_config_get_map(d, root, "serving", &sec);
    if (rc || !sec)
        return rc;
    rc = gd_config_check_keys(d, sec, serving_keys);
    rc |= gd_config_get_seq(d, sec, "models", &seq);
    if (rc || !seq || seq->n == 0)
        return rc;
    if (seq->n > MAX_MODELS) {
        gd_config_diag_add(d, seq, NULL, "at most %d models", MAX_MODELS);
        return GD_EINVAL;
    }
    struct gd_ms_config *c = gd_calloc(1, sizeof *c);
    if (!c || !(c->models = gd_calloc(seq->n, sizeof *c->models))) {
        gd_free(c);
        return GD_ENOMEM;
    }
    for (size_t i = 0; i < seq->n; i++) {
        int mrc = parse_model(d, seq->items[i], &c->models[i]);
        c->n_models = i + 1;
        if (mrc == GD_ENOMEM) {
            gd_ms_config_free(c);
            return mrc;
        }
        rc |= mrc;
        for (size_t j = 0; j < i && c->models[i].name; j++)
            if (c->models[j].name && strcmp(c->models[j].name, c->models[i].name) == 0) {
                gd_config_diag_add(d, gd_yaml_map_get(seq->items[i], "name"), NULL,
                                   "duplicate model name '%s'", c->models[i].name);
                rc = GD_EINVAL;
            }
    }
    if (rc) {
        gd_ms_config_free(c);
        return GD_EINVAL;
    }
    *out = c;
    return 0;
}

void gd_ms_config_free(void *p)
{
    struct gd_ms_config *c = p;
    if (!c)
        return;
    for (size_t i = 0; i < c->n_models; i++) {
        gd_free(c->models[i].name);
        gd_free(c->models[i].path);
        if (c->models[i].embedding) {
            gd_free(c->models[i].embedding->tokenizer);
            gd_free(c->models[i].embedding->output);
            gd_free(c->models[i].embedding);
        }
        if (c->models[i].probe) {
            gd_free(c->models[i].probe->request);
            gd_free(c->models[i].probe->expect);
            gd_free(c->models[i].probe);
        }
    }
    gd_free(c->models);
    gd_free(c);
}

static void summary(const void *data, struct gd_buf *out)
{
    const struct gd_ms_config *c = data;
    gd_buf_printf(out, "serving: %zu model%s", c ? c->n_models : 0,
                  c && c->n_models == 1 ? "" : "s");
    for (size_t i = 0; c && i < c->n_models; i++)
        gd_buf_printf(out, "%s%s", i ? ", " : " (", c->models[i].name);
    if (c && c->n_models)
        gd_buf_putc(out, ')');
}

const struct gd_config_section gd_ms_config_section = {
    .name = GD_MS_CONFIG_SECTION,
    .keys = section_keys,
    .parse = gd_ms_config_parse,
    .free = gd_ms_config_free,
    .summary = summary,
};

const struct gd_ms_config *gd_ms_config_get(const struct gd_config *cfg)
{
    return cfg ? gd_config_section_get(cfg, GD_MS_CONFIG_SECTION) : NULL;
}
