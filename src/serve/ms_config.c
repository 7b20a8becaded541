/* `serving:` section parser (see ms_config.h). */
#include "serve/ms_config.h"
#include "core/alloc.h"
#include "girder/error.h"
#include "serve/ms_repo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_MODELS 256
#define MAX_NAME 128

static const char *const section_keys[] = {"serving", NULL};
static const char *const serving_keys[] = {"models", "repository", "repository_poll_ms",
                                           "version_policy", NULL};
/* clang-format off */
static const char *const model_keys[] = {
    "name", "path", "version", "instances", "threads", "max_queue", "max_queue_bytes",
    "timeout_ms", "required",
    "allow_request_timeout", "max_batch_size", "dynamic_batching", "embedding", "warmup",
    "probe", "versions", "canary", "fallback", "version_policy", NULL};
static const char *const version_keys[] = {"version", "path", NULL};
static const char *const canary_keys[] = {"version", "percent", NULL};
static const char *const probe_keys[] = {
    "request", "expect", "atol", "rtol", "interval_ms", "timeout_ms", NULL};
static const char *const embed_keys[] = {
    "tokenizer", "lowercase", "pooling", "normalize", "max_tokens", "output", NULL};
/* clang-format on */
static const char *const batching_keys[] = {"max_queue_delay_us", "preferred_batch_sizes", NULL};

int gd_ms_name_ok(const char *s)
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

/* m->path from path as written; a required model's file must exist (an optional model
 * may be missing: serving starts without it, ms_runtime.h). */
static int set_path(struct gd_config_diag *d, struct gd_ms_model_cfg *m, const char *path,
                    const struct gd_yaml_node *at)
{
    if (!(m->path = resolve_path(d, path)))
        return GD_ENOMEM;
    if (m->required && !file_exists(m->path)) {
        gd_config_diag_add(d, at, NULL, "no model file at '%s'", m->path);
        return GD_EINVAL;
    }
    return 0;
}

/* What a model without settings gets (a repository model without an entry). */
static void model_defaults(struct gd_ms_model_cfg *m)
{
    memset(m, 0, sizeof *m);
    m->version = 1;
    m->instances = m->threads = 1;
    m->max_queue = 64;
    m->max_queue_bytes = (uint64_t)256 << 20;
    m->required = m->allow_request_timeout = true;
}

static int parse_model(struct gd_config_diag *d, const struct gd_yaml_node *n,
                       struct gd_ms_model_cfg *m, int from_repo)
{
    model_defaults(m);
    if (gd_config_expect_kind(d, n, GD_YAML_MAP) != 0)
        return GD_EINVAL;
    int rc = gd_config_check_keys(d, n, model_keys);
    const char *name = NULL, *path = NULL;
    int64_t version = m->version, inst = m->instances, thr = m->threads, q = m->max_queue;
    rc |= gd_config_get_string(d, n, "name", MAX_NAME, &name, NULL);
    rc |= gd_config_get_string(d, n, "path", 4096, &path, NULL);
    rc |= gd_config_get_int(d, n, "version", 1, INT32_MAX, &version);
    rc |= gd_config_get_int(d, n, "instances", 1, 64, &inst);
    rc |= gd_config_get_int(d, n, "threads", 1, 256, &thr);
    rc |= gd_config_get_int(d, n, "max_queue", 1, 1 << 20, &q);
    rc |= gd_config_get_size(d, n, "max_queue_bytes", 1, (uint64_t)1 << 40, &m->max_queue_bytes);
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
    if (!name || !gd_ms_name_ok(name)) {
        gd_config_diag_add(d, name ? gd_yaml_map_get(n, "name") : n, name ? NULL : "name",
                           name ? "model name may hold only letters, digits, '-', '_', '.'"
                                : "a model needs a name");
        rc = GD_EINVAL;
    } else if (!(m->name = gd_strdup(name))) {
        return GD_ENOMEM;
    }
    m->version = version;
    if (from_repo) { /* the repository has the files and versions */
        const char *k = path ? "path" : gd_yaml_map_get(n, "version") ? "version" : "versions";
        if (path || gd_yaml_map_get(n, k)) {
            gd_config_diag_add(d, gd_yaml_map_get(n, k), NULL,
                               "model '%s' is in the repository: its entry gives settings only "
                               "(no path, version or versions)",
                               name ? name : "");
            rc = GD_EINVAL;
        }
    } else if (gd_yaml_map_get(n, "version_policy")) {
        gd_config_diag_add(d, gd_yaml_map_get(n, "version_policy"), NULL,
                           "version_policy applies to models of the repository only");
        rc = GD_EINVAL;
    } else if (gd_yaml_map_get(n, "versions")) { /* the paths come with the versions */
        if (path || gd_yaml_map_get(n, "version")) {
            gd_config_diag_add(d, gd_yaml_map_get(n, path ? "path" : "version"), NULL,
                               "give either path (and version) or versions, not both");
            rc = GD_EINVAL;
        }
    } else if (!path || !*path) {
        gd_config_diag_add(d, n, "path", "a model needs a path to its .onnx file");
        return GD_EINVAL;
    } else {
        int frc = set_path(d, m, path, gd_yaml_map_get(n, "path"));
        if (frc == GD_ENOMEM)
            return frc;
        rc |= frc;
    }
    m->instances = (uint32_t)inst;
    m->threads = (uint32_t)thr;
    m->max_queue = (uint32_t)q;
    return rc ? GD_EINVAL : 0;
}

void gd_ms_model_cfg_clear(struct gd_ms_model_cfg *m)
{
    gd_free(m->name);
    gd_free(m->path);
    if (m->embedding) {
        gd_free(m->embedding->tokenizer);
        gd_free(m->embedding->output);
        gd_free(m->embedding);
    }
    if (m->probe) {
        gd_free(m->probe->request);
        gd_free(m->probe->expect);
        gd_free(m->probe);
    }
    memset(m, 0, sizeof *m);
}

static char *dup_or_null(const char *s, int *oom)
{
    char *d = s ? gd_strdup(s) : NULL;
    *oom |= s && !d;
    return d;
}

int gd_ms_model_cfg_copy(const struct gd_ms_model_cfg *t, struct gd_ms_model_cfg *m)
{
    int oom = 0;
    *m = *t;
    m->name = dup_or_null(t->name, &oom);
    m->path = dup_or_null(t->path, &oom);
    m->embedding = NULL;
    m->probe = NULL;
    if (t->embedding && (m->embedding = gd_malloc(sizeof *m->embedding)) != NULL) {
        *m->embedding = *t->embedding;
        m->embedding->tokenizer = dup_or_null(t->embedding->tokenizer, &oom);
        m->embedding->output = dup_or_null(t->embedding->output, &oom);
    }
    if (t->probe && (m->probe = gd_malloc(sizeof *m->probe)) != NULL) {
        *m->probe = *t->probe;
        m->probe->request = dup_or_null(t->probe->request, &oom);
        m->probe->expect = dup_or_null(t->probe->expect, &oom);
    }
    oom |= (t->embedding && !m->embedding) || (t->probe && !m->probe);
    return oom ? GD_ENOMEM : 0;
}

static int str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

int gd_ms_model_cfg_equal(const struct gd_ms_model_cfg *a, const struct gd_ms_model_cfg *b)
{
    const struct gd_ms_embed_cfg *ea = a->embedding, *eb = b->embedding;
    const struct gd_ms_probe_cfg *pa = a->probe, *pb = b->probe;
    return str_eq(a->name, b->name) && str_eq(a->path, b->path) && a->version == b->version &&
           a->instances == b->instances && a->threads == b->threads &&
           a->max_queue == b->max_queue && a->max_queue_bytes == b->max_queue_bytes &&
           a->timeout_ms == b->timeout_ms && a->allow_request_timeout == b->allow_request_timeout &&
           a->required == b->required && a->max_batch_size == b->max_batch_size &&
           a->dynamic_batching == b->dynamic_batching &&
           a->max_queue_delay_us == b->max_queue_delay_us && a->n_preferred == b->n_preferred &&
           !memcmp(a->preferred, b->preferred, sizeof a->preferred) && a->warmup == b->warmup &&
           !ea == !eb &&
           (!ea || (str_eq(ea->tokenizer, eb->tokenizer) && ea->lowercase == eb->lowercase &&
                    ea->pooling == eb->pooling && ea->normalize == eb->normalize &&
                    ea->max_tokens == eb->max_tokens && str_eq(ea->output, eb->output))) &&
           !pa == !pb &&
           (!pa || (str_eq(pa->request, pb->request) && str_eq(pa->expect, pb->expect) &&
                    pa->atol == pb->atol && pa->rtol == pb->rtol &&
                    pa->interval_ms == pb->interval_ms && pa->timeout_ms == pb->timeout_ms));
}

/* Appends a model (one version) to c, taking it. */
static int push_model(struct gd_ms_config *c, struct gd_ms_model_cfg *m, size_t *cap)
{
    if (c->n_models == *cap) {
        size_t nc = *cap ? 2 * *cap : 8;
        struct gd_ms_model_cfg *mm = gd_realloc(c->models, nc * sizeof *mm);
        if (!mm) {
            gd_ms_model_cfg_clear(m);
            return GD_ENOMEM;
        }
        c->models = mm;
        *cap = nc;
    }
    c->models[c->n_models++] = *m;
    return 0;
}

/* `versions: [{version, path}, ..]`: one model per version, settings copied from t. */
static int expand_versions(struct gd_config_diag *d, const struct gd_yaml_node *seq,
                           const struct gd_ms_model_cfg *t, struct gd_ms_config *c, size_t *cap)
{
    int rc = 0;
    size_t first = c->n_models;
    if (seq->n == 0 || seq->n > MAX_MODELS) {
        gd_config_diag_add(d, seq, NULL, "expected 1 to %d versions", MAX_MODELS);
        return GD_EINVAL;
    }
    for (size_t i = 0; i < seq->n; i++) {
        const struct gd_yaml_node *it = seq->items[i];
        const char *path = NULL;
        int64_t version = 0;
        if (gd_config_expect_kind(d, it, GD_YAML_MAP) != 0) {
            rc = GD_EINVAL;
            continue;
        }
        int vrc = gd_config_check_keys(d, it, version_keys);
        vrc |= gd_config_get_int(d, it, "version", 1, INT32_MAX, &version);
        vrc |= gd_config_get_string(d, it, "path", 4096, &path, NULL);
        if (!gd_yaml_map_get(it, "version") || !path) {
            gd_config_diag_add(d, it, !path ? "path" : "version", "each version needs %s",
                               !path ? "its path" : "its number");
            vrc = GD_EINVAL;
        }
        for (size_t j = first; j < c->n_models; j++)
            if (c->models[j].version == version) {
                gd_config_diag_add(d, gd_yaml_map_get(it, "version"), NULL,
                                   "duplicate version %lld", (long long)version);
                vrc = GD_EINVAL;
            }
        if (vrc) {
            rc = GD_EINVAL;
            continue;
        }
        struct gd_ms_model_cfg m;
        if (gd_ms_model_cfg_copy(t, &m) != 0) {
            gd_ms_model_cfg_clear(&m);
            return GD_ENOMEM;
        }
        gd_free(m.path);
        m.path = NULL;
        m.version = version;
        int prc = set_path(d, &m, path, gd_yaml_map_get(it, "path"));
        if (prc == GD_ENOMEM || push_model(c, &m, cap) != 0) {
            gd_ms_model_cfg_clear(&m);
            return GD_ENOMEM;
        }
        rc |= prc;
    }
    /* ascending versions: the newest is last */
    for (size_t i = first + 1; i < c->n_models; i++)
        for (size_t j = i; j > first && c->models[j - 1].version > c->models[j].version; j--) {
            struct gd_ms_model_cfg tmp = c->models[j];
            c->models[j] = c->models[j - 1];
            c->models[j - 1] = tmp;
        }
    return rc ? GD_EINVAL : 0;
}

/* `canary: {version, percent}` of group g (its versions already parsed). */
static int parse_canary(struct gd_config_diag *d, const struct gd_yaml_node *n,
                        struct gd_ms_config *c, struct gd_ms_group_cfg *g)
{
    const struct gd_yaml_node *cn = NULL;
    int rc = gd_config_get_map(d, n, "canary", &cn);
    if (rc || !cn)
        return rc;
    int64_t version = 0, percent = 0;
    rc = gd_config_check_keys(d, cn, canary_keys);
    rc |= gd_config_get_int(d, cn, "version", 1, INT32_MAX, &version);
    rc |= gd_config_get_int(d, cn, "percent", 0, 100, &percent);
    int known = 0;
    for (size_t i = g->first; i < g->first + g->n; i++)
        known |= c->models[i].version == version;
    if (!rc && (!known || g->n < 2)) {
        gd_config_diag_add(d, gd_yaml_map_get(cn, "version"), NULL,
                           g->n < 2 ? "a canary needs a second version of the model"
                                    : "the canary must be one of the model's versions");
        rc = GD_EINVAL;
    }
    g->canary_version = version;
    g->canary_percent = (uint32_t)percent;
    return rc ? GD_EINVAL : 0;
}

/* Every fallback names another model, and following them never comes back. */
static int check_fallbacks(struct gd_config_diag *d, const struct gd_yaml_node *seq,
                           struct gd_ms_config *c)
{
    int rc = 0;
    for (size_t i = 0; i < c->n_groups; i++) {
        struct gd_ms_group_cfg *g = &c->groups[i];
        if (!g->fallback)
            continue;
        const struct gd_yaml_node *at = gd_yaml_map_get(seq->items[i], "fallback");
        size_t k = 0;
        while (k < c->n_groups && strcmp(c->groups[k].name, g->fallback) != 0)
            k++;
        if (k == c->n_groups) {
            gd_config_diag_add(d, at, NULL, "fallback '%s' is not a served model", g->fallback);
            rc = GD_EINVAL;
            continue;
        }
        g->fallback_group = k;
    }
    for (size_t i = 0; !rc && i < c->n_groups; i++) {
        size_t at = i, steps = 0;
        while (c->groups[at].fallback && steps++ <= c->n_groups &&
               (at = c->groups[at].fallback_group) != i)
            ;
        if (at == i && c->groups[i].fallback) {
            gd_config_diag_add(d, gd_yaml_map_get(seq->items[i], "fallback"), NULL,
                               "fallback cycle: following fallbacks from '%s' comes back to it",
                               c->groups[i].name);
            rc = GD_EINVAL;
        }
    }
    return rc;
}

/* One `models:` entry: a named model with one version (path) or several (versions). */
/* Which versions of a repository model are served (`version_policy`). */
struct policy {
    enum { POLICY_LATEST, POLICY_ALL, POLICY_SPECIFIC } kind;
    int64_t latest;
    int64_t specific[GD_MS_REPO_MAX_VERSIONS];
    size_t n_specific;
    const struct gd_yaml_node *at;
};

/* latest | all | {latest: N} | {specific: [v, ..]}; absent: def. */
static int parse_policy(struct gd_config_diag *d, const struct gd_yaml_node *map,
                        const struct policy *def, struct policy *p)
{
    const struct gd_yaml_node *n = gd_yaml_map_get(map, "version_policy");
    *p = *def;
    if (!n)
        return 0;
    memset(p, 0, sizeof *p);
    p->at = n;
    p->latest = 1;
    if (n->kind == GD_YAML_SCALAR && (!strcmp(n->str, "latest") || !strcmp(n->str, "all"))) {
        p->kind = strcmp(n->str, "all") ? POLICY_LATEST : POLICY_ALL;
        return 0;
    }
    static const char *const keys[] = {"latest", "specific", NULL};
    const struct gd_yaml_node *spec = NULL;
    if (n->kind != GD_YAML_MAP || n->n != 1 || gd_config_check_keys(d, n, keys) != 0) {
        if (n->kind != GD_YAML_MAP || n->n != 1)
            gd_config_diag_add(d, n, NULL,
                               "expected latest, all, {latest: N} or {specific: [versions]}");
        return GD_EINVAL;
    }
    if (gd_yaml_map_get(n, "latest"))
        return gd_config_get_int(d, n, "latest", 1, GD_MS_REPO_MAX_VERSIONS, &p->latest);
    p->kind = POLICY_SPECIFIC;
    if (gd_config_get_seq(d, n, "specific", &spec) != 0 || !spec || spec->n == 0 ||
        spec->n > GD_MS_REPO_MAX_VERSIONS) {
        if (spec)
            gd_config_diag_add(d, spec, NULL, "expected 1 to %d versions", GD_MS_REPO_MAX_VERSIONS);
        return GD_EINVAL;
    }
    for (size_t i = 0; i < spec->n; i++) {
        const struct gd_yaml_node *it = spec->items[i];
        char *end = NULL;
        long long v = it->kind == GD_YAML_SCALAR ? strtoll(it->str, &end, 10) : 0;
        if (!end || *end || v < 1 || v > INT32_MAX) {
            gd_config_diag_add(d, it, NULL, "expected a version number");
            return GD_EINVAL;
        }
        p->specific[p->n_specific++] = v;
    }
    return 0;
}

/* The versions of repository model rm that p selects, one model each (settings from t). */
static int expand_repo(struct gd_config_diag *d, const char *repo,
                       const struct gd_ms_repo_model *rm, const struct policy *p,
                       const struct gd_ms_model_cfg *t, struct gd_ms_config *c, size_t *cap)
{
    size_t from = 0;
    if (p->kind == POLICY_LATEST && (size_t)p->latest < rm->n_versions)
        from = rm->n_versions - (size_t)p->latest;
    for (size_t k = 0; k < p->n_specific; k++) {
        size_t i = 0;
        while (i < rm->n_versions && rm->versions[i] != p->specific[k])
            i++;
        if (i == rm->n_versions) {
            gd_config_diag_add(d, p->at, NULL, "version %lld of '%s' is not in the repository",
                               (long long)p->specific[k], rm->name);
            return GD_EINVAL;
        }
    }
    for (size_t i = from; i < rm->n_versions; i++) {
        int wanted = p->kind != POLICY_SPECIFIC;
        for (size_t k = 0; k < p->n_specific; k++)
            wanted |= p->specific[k] == rm->versions[i];
        if (!wanted)
            continue;
        struct gd_ms_model_cfg m;
        size_t len = strlen(repo) + strlen(rm->name) + 40;
        if (gd_ms_model_cfg_copy(t, &m) != 0 || (gd_free(m.path), !(m.path = gd_malloc(len)))) {
            gd_ms_model_cfg_clear(&m);
            return GD_ENOMEM;
        }
        snprintf(m.path, len, "%s/%s/%lld/model.onnx", repo, rm->name, (long long)rm->versions[i]);
        m.version = rm->versions[i];
        if (push_model(c, &m, cap) != 0)
            return GD_ENOMEM;
    }
    return 0;
}

/* The repository being parsed: its folder, models (taken by entries as they are parsed)
 * and the default version policy. */
struct repo_ctx {
    const char *dir;
    struct gd_ms_repo_model *models;
    size_t n;
    unsigned char *taken;
    struct policy policy;
};

static const struct gd_ms_repo_model *repo_find(const struct repo_ctx *r, const char *name,
                                                size_t *at)
{
    for (size_t i = 0; r && name && i < r->n; i++)
        if (!strcmp(r->models[i].name, name))
            return *at = i, &r->models[i];
    return NULL;
}

static int parse_group(struct gd_config_diag *d, const struct gd_yaml_node *n,
                       struct gd_ms_config *c, size_t *cap, struct gd_ms_group_cfg *g,
                       struct repo_ctx *repo)
{
    struct gd_ms_model_cfg t = {0};
    const struct gd_yaml_node *nn = gd_yaml_map_get(n, "name");
    size_t at = 0;
    const struct gd_ms_repo_model *rm =
        nn && nn->kind == GD_YAML_SCALAR ? repo_find(repo, nn->str, &at) : NULL;
    int rc = parse_model(d, n, &t, rm != NULL);
    if (rc == GD_ENOMEM) {
        gd_ms_model_cfg_clear(&t);
        return rc;
    }
    g->first = c->n_models;
    if (t.name && !(g->name = gd_strdup(t.name))) {
        gd_ms_model_cfg_clear(&t);
        return GD_ENOMEM;
    }
    const struct gd_yaml_node *vs = NULL;
    int vrc = rm ? 0 : gd_config_get_seq(d, n, "versions", &vs);
    struct policy pol;
    if (rm && t.name && !rc) {
        repo->taken[at] = 1;
        vrc = parse_policy(d, n, &repo->policy, &pol);
        vrc = vrc ? vrc : expand_repo(d, repo->dir, rm, &pol, &t, c, cap);
    } else if (vs && t.name)
        vrc |= expand_versions(d, vs, &t, c, cap);
    else if (!vrc && t.name && !rc && (vrc = push_model(c, &t, cap)) == 0)
        memset(&t, 0, sizeof t); /* taken */
    gd_ms_model_cfg_clear(&t);
    if (vrc == GD_ENOMEM)
        return vrc;
    g->n = c->n_models - g->first;
    const char *fb = NULL;
    int frc = gd_config_get_string(d, n, "fallback", MAX_NAME, &fb, NULL);
    if (fb && !(g->fallback = gd_strdup(fb)))
        return GD_ENOMEM;
    int crc = g->n ? parse_canary(d, n, c, g) : 0;
    return rc | vrc | frc | crc ? GD_EINVAL : 0;
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
    struct repo_ctx repo = {0};
    const char *rdir = NULL;
    rc |= gd_config_get_string(d, sec, "repository", 4096, &rdir, NULL);
    uint64_t poll_ms = 0;
    rc |= gd_config_get_duration_ms(d, sec, "repository_poll_ms", 0, 86400000, &poll_ms);
    struct policy latest1 = {.kind = POLICY_LATEST, .latest = 1};
    rc |= parse_policy(d, sec, &latest1, &repo.policy);
    if (rc || ((!seq || seq->n == 0) && !rdir))
        return rc;
    size_t n_entries = seq ? seq->n : 0;
    if (n_entries > MAX_MODELS) {
        gd_config_diag_add(d, seq, NULL, "at most %d models", MAX_MODELS);
        return GD_EINVAL;
    }
    struct gd_ms_config *c = gd_calloc(1, sizeof *c);
    if (!c || !(c->groups = gd_calloc(n_entries + GD_MS_REPO_MAX_MODELS, sizeof *c->groups))) {
        gd_free(c);
        return GD_ENOMEM;
    }
    c->repository_poll_ms = poll_ms;
    if (rdir) {
        char why[600];
        int src = (c->repository = resolve_path(d, rdir)) ? 0 : GD_ENOMEM;
        src = src ? src : gd_ms_repo_scan(c->repository, &repo.models, &repo.n, why, sizeof why);
        if (!src && !(repo.taken = gd_calloc(repo.n + 1, 1)))
            src = GD_ENOMEM;
        if (src && src != GD_ENOMEM)
            gd_config_diag_add(d, gd_yaml_map_get(sec, "repository"), NULL, "%s", why);
        if (src) {
            gd_ms_config_free(c);
            gd_free(repo.models);
            return src == GD_ENOMEM ? src : GD_EINVAL;
        }
        repo.dir = c->repository;
    }
    size_t cap = 0;
    for (size_t i = 0; i < n_entries; i++) {
        int grc = parse_group(d, seq->items[i], c, &cap, &c->groups[i], &repo);
        c->n_groups = i + 1;
        if (grc == GD_ENOMEM) {
            gd_ms_config_free(c);
            return grc;
        }
        rc |= grc;
        for (size_t j = 0; j < i && c->groups[i].name; j++)
            if (c->groups[j].name && strcmp(c->groups[j].name, c->groups[i].name) == 0) {
                gd_config_diag_add(d, gd_yaml_map_get(seq->items[i], "name"), NULL,
                                   "duplicate model name '%s'", c->groups[i].name);
                rc = GD_EINVAL;
            }
    }
    for (size_t i = 0; !rc && i < repo.n; i++) { /* repository models without an entry */
        if (repo.taken[i])
            continue;
        struct gd_ms_group_cfg *g = &c->groups[c->n_groups++];
        struct gd_ms_model_cfg t;
        model_defaults(&t);
        g->first = c->n_models;
        if (!(t.name = gd_strdup(repo.models[i].name)) || !(g->name = gd_strdup(t.name)))
            rc = GD_ENOMEM;
        else
            rc = expand_repo(d, repo.dir, &repo.models[i], &repo.policy, &t, c, &cap);
        gd_ms_model_cfg_clear(&t);
        g->n = c->n_models - g->first;
    }
    gd_free(repo.models);
    gd_free(repo.taken);
    if (rc == GD_ENOMEM) {
        gd_ms_config_free(c);
        return rc;
    }
    if (!rc && c->n_models > MAX_MODELS) {
        gd_config_diag_add(d, sec, NULL, "at most %d model versions in all", MAX_MODELS);
        rc = GD_EINVAL;
    }
    rc = rc ? rc : check_fallbacks(d, seq, c);
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
    for (size_t i = 0; i < c->n_models; i++)
        gd_ms_model_cfg_clear(&c->models[i]);
    for (size_t i = 0; i < c->n_groups; i++) {
        gd_free(c->groups[i].name);
        gd_free(c->groups[i].fallback);
    }
    gd_free(c->models);
    gd_free(c->groups);
    gd_free(c->repository);
    gd_free(c);
}

static void summary(const void *data, struct gd_buf *out)
{
    const struct gd_ms_config *c = data;
    gd_buf_printf(out, "serving: %zu model%s", c ? c->n_groups : 0,
                  c && c->n_groups == 1 ? "" : "s");
    for (size_t i = 0; c && i < c->n_groups; i++) {
        gd_buf_printf(out, "%s%s", i ? ", " : " (", c->groups[i].name);
        if (c->groups[i].n > 1)
            gd_buf_printf(out, " x%zu versions", c->groups[i].n);
    }
    if (c && c->n_groups)
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
