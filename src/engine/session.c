/* Sessions: per-caller execution state over a shared, immutable model — the value slots,
 * the buffer cache (memory planner) and the thread pool. A run binds the caller's inputs
 * (borrowed, checked against the declared dtype and static dims), executes the nodes in
 * order releasing each value after its last reader, and keeps the graph outputs until the
 * next run. */
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "engine/model.h"

struct gd_engine_session {
    const struct gd_engine_model *m;
    struct gd_tensor *slots;
    struct gd_tensor *outs; /* n_outputs, owned */
    struct gd_bufcache *cache;
    struct gd_pool *pool;
    size_t max_bytes;
    uint64_t max_node_runs;
    int64_t *plan_off; /* static memory plan (plan.c) */
    size_t *plan_size, plan_total;
    unsigned char *arena;
    int *release_at; /* CSR: values whose last use is node i */
    int *release_start;
    struct gd_engine_node_profile *prof; /* per node, with options.profile */
};

void gd_engine_session_free(gd_engine_session *s)
{
    if (!s)
        return;
    if (s->slots)
        for (int v = 0; v < s->m->n_values; v++)
            if (s->m->values[v].kind == GD_VALUE_INTERMEDIATE)
                gd__slot_release(NULL, &s->slots[v]);
    if (s->outs)
        for (int i = 0; i < s->m->n_outputs; i++)
            gd_tensor_release(&s->outs[i]);
    gd_free(s->slots);
    gd_free(s->outs);
    gd_free(s->release_at);
    gd_free(s->release_start);
    gd_free(s->prof);
    gd_free(s->plan_off);
    gd_free(s->plan_size);
    gd_free(s->arena);
    gd__bufcache_free(s->cache);
    gd__pool_free(s->pool);
    gd_free(s);
}

/* Lists, per node, the intermediate values to recycle right after it runs. */
static int plan_releases(gd_engine_session *s)
{
    const struct gd_engine_model *m = s->m;
    s->release_start = gd_calloc((size_t)m->n_nodes + 2, sizeof(int));
    s->release_at = gd_calloc((size_t)m->n_values + 1, sizeof(int));
    if (!s->release_start || !s->release_at)
        return GD_ENOMEM;
    for (int v = 0; v < m->n_values; v++) {
        const struct gd_value *val = &m->values[v];
        if (val->kind == GD_VALUE_INTERMEDIATE && !val->is_output && val->last_use >= 0 &&
            val->last_use < m->n_nodes)
            s->release_start[val->last_use + 1]++;
    }
    for (int i = 0; i < m->n_nodes; i++)
        s->release_start[i + 1] += s->release_start[i];
    int *fill = gd_calloc((size_t)m->n_nodes + 1, sizeof(int));
    if (!fill)
        return GD_ENOMEM;
    for (int v = 0; v < m->n_values; v++) {
        const struct gd_value *val = &m->values[v];
        if (val->kind == GD_VALUE_INTERMEDIATE && !val->is_output && val->last_use >= 0 &&
            val->last_use < m->n_nodes)
            s->release_at[s->release_start[val->last_use] + fill[val->last_use]++] = v;
    }
    gd_free(fill);
    return 0;
}

/* The first node (in subgraphs too) without a kernel, reported as GD_ENOTSUP. */
static int check_kernels(const struct gd_engine_model *m, char *err, size_t errlen)
{
    for (int i = 0; i < m->n_nodes; i++) {
        const struct gd_node *nd = &m->nodes[i];
        for (int a = 0; a < nd->n_attr; a++)
            if (nd->attrs[a].g) {
                int rc = check_kernels(nd->attrs[a].g, err, errlen);
                if (rc)
                    return rc;
            }
        if (nd->def)
            continue;
        if (gd_op_known(nd->domain, nd->op_type))
            return gd__errf(
                err, errlen, GD_ENOTSUP, "node '%s' (%s): unsupported op %s%s%s at opset %d",
                nd->name, nd->op_type, nd->domain, *nd->domain ? "." : "", nd->op_type, nd->opset);
        return gd__errf(err, errlen, GD_ENOTSUP, "node '%s' (%s): unsupported op %s%s%s", nd->name,
                        nd->op_type, nd->domain, *nd->domain ? "." : "", nd->op_type);
    }
    return 0;
}

int gd_engine_session_create(const gd_engine_model *m, const struct gd_engine_options *opts,
                             gd_engine_session **out, char *err, size_t errlen)
{
    *out = NULL;
    int rc = check_kernels(m, err, errlen);
    if (rc)
        return rc;
    gd_engine_session *s = gd_calloc(1, sizeof *s);
    if (!s)
        return gd__errf(err, errlen, GD_ENOMEM, "out of memory");
    s->m = m;
    s->max_bytes = (opts && opts->max_tensor_bytes) ? opts->max_tensor_bytes : (size_t)16 << 30;
    s->max_node_runs =
        (opts && opts->max_node_runs) ? opts->max_node_runs : GD_ENGINE_MAX_NODE_RUNS;
    s->slots = gd_calloc((size_t)m->n_values + 1, sizeof *s->slots);
    s->outs = gd_calloc((size_t)m->n_outputs + 1, sizeof *s->outs);
    s->cache = gd__bufcache_new();
    s->pool = gd__pool_new(opts && opts->threads > 0 ? opts->threads : 1);
    int planned = !gd__plan_memory(m, &s->plan_off, &s->plan_size, &s->plan_total);
    if (planned && s->plan_total > s->max_bytes)
        s->plan_total = 0; /* too big to reserve up front: everything dynamic */
    if (planned && s->plan_total && !(s->arena = gd_malloc(s->plan_total)))
        s->plan_total = 0;
    if (opts && opts->profile && (s->prof = gd_calloc((size_t)m->n_nodes + 1, sizeof *s->prof)))
        for (int i = 0; i < m->n_nodes; i++)
            s->prof[i] = (struct gd_engine_node_profile){.name = m->nodes[i].name,
                                                         .domain = m->nodes[i].domain,
                                                         .op = m->nodes[i].op_type,
                                                         .rank = -1};
    if (!s->slots || !s->outs || !s->cache || !s->pool || !planned || plan_releases(s) ||
        (opts && opts->profile && !s->prof)) {
        gd_engine_session_free(s);
        return gd__errf(err, errlen, GD_ENOMEM, "out of memory");
    }
    for (int v = 0; v < m->n_values; v++)
        if (m->values[v].kind == GD_VALUE_CONST) {
            s->slots[v] = *m->values[v].konst;
            s->slots[v].owns_data = 0;
        }
    *out = s;
    return 0;
}

static int find_input(const struct gd_engine_model *m, const char *name)
{
    for (int i = 0; i < m->n_inputs; i++)
        if (strcmp(m->values[m->inputs[i]].name, name) == 0)
            return i;
    return -1;
}

static int check_input(const struct gd_value *v, const struct gd_tensor *t, char *err,
                       size_t errlen)
{
    struct gd_tensor chk = {0};
    if (gd_tensor_set_shape(&chk, t->dtype, t->rank, t->dims) || chk.nbytes != t->nbytes ||
        (t->nbytes && !t->data))
        return gd__errf(err, errlen, GD_EINVAL, "input '%s': inconsistent tensor", v->name);
    if (v->dtype != GD_DTYPE_UNDEFINED && v->dtype != t->dtype)
        return gd__errf(err, errlen, GD_EINVAL, "input '%s': dtype %s, model expects %s", v->name,
                        gd_dtype_name(t->dtype), gd_dtype_name(v->dtype));
    if (v->rank >= 0 && v->rank != t->rank)
        return gd__errf(err, errlen, GD_EINVAL, "input '%s': rank %d, model expects %d", v->name,
                        t->rank, v->rank);
    for (int d = 0; v->rank >= 0 && d < v->rank; d++)
        if (v->dims[d] >= 0 && v->dims[d] != t->dims[d])
            return gd__errf(err, errlen, GD_EINVAL,
                            "input '%s': dim %d is %lld, model expects %lld", v->name, d,
                            (long long)t->dims[d], (long long)v->dims[d]);
    return 0;
}

/* Inputs that name the same dim_param ("batch") must agree on its size: load-time shape
 * inference and fusion treat the name as one size (shape_sym.h). */
static int check_named_dims(const gd_engine_session *s, char *err, size_t errlen)
{
    const struct gd_engine_model *m = s->m;
    for (int k = 0; k < m->n_inputs; k++) {
        const struct gd_value *a = &m->values[m->inputs[k]];
        for (int d = 0; a->syms && d < a->rank; d++)
            for (int j = k; a->syms[d] && *a->syms[d] && j < m->n_inputs; j++) {
                const struct gd_value *b = &m->values[m->inputs[j]];
                for (int e = j == k ? d + 1 : 0; b->syms && e < b->rank; e++)
                    if (b->syms[e] && !strcmp(a->syms[d], b->syms[e]) &&
                        s->slots[m->inputs[k]].dims[d] != s->slots[m->inputs[j]].dims[e])
                        return gd__errf(err, errlen, GD_EINVAL,
                                        "input '%s': dim %d (%s) is %lld, but input '%s' has "
                                        "%s = %lld",
                                        b->name, e, b->syms[e],
                                        (long long)s->slots[m->inputs[j]].dims[e], a->name,
                                        a->syms[d], (long long)s->slots[m->inputs[k]].dims[d]);
            }
    }
    return 0;
}

static int bind_inputs(gd_engine_session *s, int n, const char *const *names,
                       const struct gd_tensor *inputs, char *err, size_t errlen)
{
    const struct gd_engine_model *m = s->m;
    for (int i = 0; i < n; i++) {
        int k = find_input(m, names[i]);
        if (k < 0)
            return gd__errf(err, errlen, GD_ENOENT, "model has no input '%s'", names[i]);
        int v = m->inputs[k];
        if (s->slots[v].dtype != GD_DTYPE_UNDEFINED)
            return gd__errf(err, errlen, GD_EINVAL, "input '%s' given twice", names[i]);
        int rc = check_input(&m->values[v], &inputs[i], err, errlen);
        if (rc)
            return rc;
        s->slots[v] = inputs[i];
        s->slots[v].owns_data = 0;
    }
    for (int k = 0; k < m->n_inputs; k++)
        if (s->slots[m->inputs[k]].dtype == GD_DTYPE_UNDEFINED)
            return gd__errf(err, errlen, GD_EINVAL, "input '%s' not provided",
                            m->values[m->inputs[k]].name);
    return check_named_dims(s, err, errlen);
}

/* Moves (or copies, for inputs/constants/duplicates) graph outputs into s->outs. */
static int collect_outputs(gd_engine_session *s, char *err, size_t errlen)
{
    const struct gd_engine_model *m = s->m;
    for (int i = 0; i < m->n_outputs; i++) {
        struct gd_tensor *src = &s->slots[m->outputs[i]];
        if (src->owns_data && m->values[m->outputs[i]].kind == GD_VALUE_INTERMEDIATE) {
            s->outs[i] = *src;
            memset(src, 0, sizeof *src);
            continue;
        }
        const struct gd_tensor *from = src;
        for (int j = 0; j < i; j++)
            if (m->outputs[j] == m->outputs[i])
                from = &s->outs[j];
        if (gd_tensor_copy(&s->outs[i], from))
            return gd__errf(err, errlen, GD_ENOMEM, "out of memory copying outputs");
    }
    return 0;
}

static void profile_node(gd_engine_session *s, int i, uint64_t ns)
{
    struct gd_engine_node_profile *p = &s->prof[i];
    const struct gd_node *nd = &s->m->nodes[i];
    p->ns += ns;
    p->runs++;
    p->rank = -1;
    if (nd->n_out > 0 && nd->out[0] >= 0 && s->slots[nd->out[0]].dtype != GD_DTYPE_UNDEFINED) {
        p->rank = s->slots[nd->out[0]].rank;
        memcpy(p->dims, s->slots[nd->out[0]].dims, sizeof p->dims);
    }
}

void gd_engine_profile_reset(gd_engine_session *s)
{
    for (int i = 0; s->prof && i < s->m->n_nodes; i++)
        s->prof[i].ns = s->prof[i].runs = 0;
}

int gd_engine_node_profile(const gd_engine_session *s, int i, struct gd_engine_node_profile *out)
{
    if (!s->prof || i < 0 || i >= s->m->n_nodes)
        return GD_ENOENT;
    *out = s->prof[i];
    return 0;
}

int gd_engine_run(gd_engine_session *s, int n, const char *const *names,
                  const struct gd_tensor *inputs, char *err, size_t errlen)
{
    const struct gd_engine_model *m = s->m;
    if (err && errlen)
        err[0] = 0;
    for (int i = 0; i < m->n_outputs; i++)
        gd_tensor_release(&s->outs[i]);
    int rc = bind_inputs(s, n, names, inputs, err, errlen);
    uint64_t runs_left = s->max_node_runs;
    struct gd_exec e = {.m = m,
                        .slots = s->slots,
                        .pool = s->pool,
                        .cache = s->cache,
                        .err = err,
                        .errlen = errlen,
                        .max_bytes = s->max_bytes,
                        .arena = s->arena,
                        .plan_off = s->arena ? s->plan_off : NULL,
                        .plan_size = s->plan_size,
                        .runs_left = &runs_left};
    for (int i = 0; !rc && i < m->n_nodes; i++) {
        uint64_t t0 = s->prof ? gd_mono_ns() : 0;
        rc = gd__exec_node(&e, &m->nodes[i], i);
        if (s->prof)
            profile_node(s, i, gd_mono_ns() - t0);
        for (int r = s->release_start[i]; r < s->release_start[i + 1]; r++)
            gd__slot_release(s->cache, &s->slots[s->release_at[r]]);
    }
    if (!rc)
        rc = collect_outputs(s, err, errlen);
    for (int v = 0; v < m->n_values; v++) { /* reset for the next run */
        if (m->values[v].kind == GD_VALUE_INTERMEDIATE)
            gd__slot_release(s->cache, &s->slots[v]);
        else if (m->values[v].kind == GD_VALUE_INPUT)
            memset(&s->slots[v], 0, sizeof s->slots[v]);
    }
    gd__bufcache_end_run(s->cache);
    if (rc)
        for (int i = 0; i < m->n_outputs; i++)
            gd_tensor_release(&s->outs[i]);
    return rc;
}

const struct gd_tensor *gd_engine_output(const gd_engine_session *s, int i)
{
    if (i < 0 || i >= s->m->n_outputs || s->outs[i].dtype == GD_DTYPE_UNDEFINED)
        return NULL;
    return &s->outs[i];
}

size_t gd_engine_session_planned_bytes(const gd_engine_session *s)
{
    return s->arena ? s->plan_total : 0;
}
