/* Running one node: the kernel context behind op.h (inputs, attributes, output
 * allocation through the buffer cache, in-place reuse of dead inputs, scratch memory,
 * parallel_for, error messages naming the node). */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/model.h"
#include "onnx.pb-c.h"

#define CTX_INLINE_IO 16

struct scratch {
    struct scratch *next;
};

struct gd_op_ctx {
    struct gd_exec *e;
    const struct gd_node *node;
    int index;
    const struct gd_tensor **in; /* n_in pointers (NULL = absent) */
    struct gd_tensor *in_copy;   /* shallow copies of the input slots */
    struct gd_tensor **out;      /* where output i lands */
    struct gd_tensor *discard;   /* outputs the graph left unnamed */
    char *made;                  /* output i requested */
    struct scratch *scratch;
    void *reuse[2]; /* gd__op_scratch_reuse buffers, back to the cache at cleanup */
    size_t reuse_n[2];
    int n_reuse;
    int failed; /* gd_op_fail recorded a message */
    const struct gd_tensor *in_inline[CTX_INLINE_IO];
    struct gd_tensor copy_inline[CTX_INLINE_IO], *out_inline[CTX_INLINE_IO];
    struct gd_tensor discard_inline[CTX_INLINE_IO];
    char made_inline[CTX_INLINE_IO];
};

const char *gd_op_name(const struct gd_op_ctx *ctx)
{
    return ctx->node->name;
}
const char *gd_op_type(const struct gd_op_ctx *ctx)
{
    return ctx->node->op_type;
}
int gd_op_opset(const struct gd_op_ctx *ctx)
{
    return ctx->node->opset;
}
int gd_op_num_inputs(const struct gd_op_ctx *ctx)
{
    return ctx->node->n_in;
}
int gd_op_num_outputs(const struct gd_op_ctx *ctx)
{
    return ctx->node->n_out;
}

const struct gd_tensor *gd_op_input(const struct gd_op_ctx *ctx, int i)
{
    return (i >= 0 && i < ctx->node->n_in) ? ctx->in[i] : NULL;
}

const struct gd_prepack *gd__op_prepack(const struct gd_op_ctx *ctx)
{
    return ctx->node->pack;
}

int gd_op_output_wanted(const struct gd_op_ctx *ctx, int i)
{
    return i >= 0 && i < ctx->node->n_out && ctx->node->out[i] >= 0;
}

int gd_op_fail(struct gd_op_ctx *ctx, int err, const char *fmt, ...)
{
    struct gd_exec *e = ctx->e;
    if (e->err && e->errlen && !ctx->failed) {
        int n =
            snprintf(e->err, e->errlen, "node '%s' (%s): ", ctx->node->name, ctx->node->op_type);
        if (n >= 0 && (size_t)n < e->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(e->err + n, e->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    ctx->failed = 1;
    return err < 0 ? err : GD_EINVAL;
}

/* Input 0 may be handed over to output 0 when nobody needs it afterwards. */
static int can_reuse_input0(const struct gd_op_ctx *ctx, enum gd_dtype dt, size_t nbytes)
{
    const struct gd_node *nd = ctx->node;
    if (!nd->def || !(nd->def->flags & GD_OP_F_INPLACE0) || nd->n_in < 1 || nd->in[0] < 0)
        return 0;
    const struct gd_value *v = &ctx->e->m->values[nd->in[0]];
    const struct gd_tensor *slot = &ctx->e->slots[nd->in[0]];
    if (v->kind != GD_VALUE_INTERMEDIATE || v->is_output || v->last_use != ctx->index)
        return 0;
    for (int k = 1; k < nd->n_in; k++) /* also read through another input slot */
        if (nd->in[k] == nd->in[0])
            return 0;
    return slot->owns_data && slot->data && slot->dtype == dt && slot->nbytes == nbytes &&
           dt != GD_DTYPE_STRING && dt != GD_DTYPE_SEQUENCE;
}

struct gd_tensor *gd_op_output(struct gd_op_ctx *ctx, int i, enum gd_dtype dt, int rank,
                               const int64_t *dims)
{
    if (i < 0 || i >= ctx->node->n_out) {
        gd_op_fail(ctx, GD_EINVAL, "output %d requested, node has %d", i, ctx->node->n_out);
        return NULL;
    }
    if (ctx->made[i]) {
        gd_op_fail(ctx, GD_EINVAL, "output %d requested twice", i);
        return NULL;
    }
    if (dt == GD_DTYPE_SEQUENCE && !(ctx->node->def->flags & GD_OP_F_SEQUENCE)) {
        gd_op_fail(ctx, GD_ENOTSUP, "output %d: sequence outputs are not supported here", i);
        return NULL;
    }
    struct gd_tensor t = {0};
    int rc = gd_tensor_set_shape(&t, dt, rank, dims);
    if (rc) {
        char s[128];
        gd_op_fail(ctx, rc, "output %d: invalid or oversized shape %s (%s)", i,
                   gd_shape_str(rank < 0                    ? 0
                                : rank > GD_TENSOR_MAX_RANK ? GD_TENSOR_MAX_RANK
                                                            : rank,
                                dims, s, sizeof s),
                   gd_dtype_name(dt));
        return NULL;
    }
    if (ctx->e->max_bytes && t.nbytes > ctx->e->max_bytes) {
        gd_op_fail(ctx, GD_ELIMIT, "output %d would take %zu bytes (limit %zu)", i, t.nbytes,
                   ctx->e->max_bytes);
        return NULL;
    }
    struct gd_tensor *dst = ctx->out[i];
    int v = ctx->node->out[i];
    const struct gd_exec *e = ctx->e;
    int nozero = ctx->node->def && (ctx->node->def->flags & GD_OP_F_NOZERO);
    if (v >= 0 && e->plan_off && e->plan_off[v] >= 0 && t.nbytes <= e->plan_size[v]) {
        t.data = e->arena + e->plan_off[v]; /* statically planned; arena owns it */
        if (!nozero)
            memset(t.data, 0, t.nbytes);
        gd__slot_release(e->cache, dst);
        *dst = t;
        ctx->made[i] = 1;
        return dst;
    }
    if (i == 0 && can_reuse_input0(ctx, dt, t.nbytes)) {
        struct gd_tensor *src = &ctx->e->slots[ctx->node->in[0]];
        t.data = src->data;
        src->owns_data = 0; /* ownership moves to the output; ctx->in_copy keeps a view */
        src->data = NULL;
    } else {
        int fresh;
        t.data = !ctx->e->cache ? gd_calloc(1, t.nbytes ? t.nbytes : 1)
                 : nozero       ? gd__bufcache_get_raw(ctx->e->cache, t.nbytes, &fresh)
                                : gd__bufcache_get(ctx->e->cache, t.nbytes);
        if (!t.data) {
            gd_op_fail(ctx, GD_ENOMEM, "out of memory for output %d (%zu bytes)", i, t.nbytes);
            return NULL;
        }
    }
    t.owns_data = 1;
    gd__slot_release(ctx->e->cache, dst);
    *dst = t;
    ctx->made[i] = 1;
    return dst;
}

struct gd_tensor *gd_op_output_like(struct gd_op_ctx *ctx, int i, const struct gd_tensor *like)
{
    return gd_op_output(ctx, i, like->dtype, like->rank, like->dims);
}

static const struct gd_attr *find_attr(const struct gd_op_ctx *ctx, const char *name, int type)
{
    const struct gd_node *nd = ctx->node;
    for (int i = 0; i < nd->n_attr; i++)
        if (strcmp(nd->attrs[i].name, name) == 0)
            return (type < 0 || nd->attrs[i].type == type) ? &nd->attrs[i] : NULL;
    return NULL;
}

int gd_op_attr_has(const struct gd_op_ctx *ctx, const char *name)
{
    return find_attr(ctx, name, -1) != NULL;
}

int64_t gd_op_attr_int(const struct gd_op_ctx *ctx, const char *name, int64_t def)
{
    const struct gd_attr *a = find_attr(ctx, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    return a ? a->i : def;
}

float gd_op_attr_float(const struct gd_op_ctx *ctx, const char *name, float def)
{
    const struct gd_attr *a = find_attr(ctx, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    return a ? a->f : def;
}

const char *gd_op_attr_string(const struct gd_op_ctx *ctx, const char *name, const char *def)
{
    const struct gd_attr *a = find_attr(ctx, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    return (a && a->s) ? a->s : def;
}

int gd_op_attr_ints(const struct gd_op_ctx *ctx, const char *name, const int64_t **vals)
{
    const struct gd_attr *a = find_attr(ctx, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    if (!a)
        return -1;
    *vals = a->ints;
    return a->n;
}

int gd_op_attr_floats(const struct gd_op_ctx *ctx, const char *name, const float **vals)
{
    const struct gd_attr *a = find_attr(ctx, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    if (!a)
        return -1;
    *vals = a->floats;
    return a->n;
}

int gd_op_attr_strings(const struct gd_op_ctx *ctx, const char *name, const char *const **vals)
{
    const struct gd_attr *a = find_attr(ctx, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
    if (!a)
        return -1;
    *vals = a->strings;
    return a->n;
}

const struct gd_tensor *gd_op_attr_tensor(const struct gd_op_ctx *ctx, const char *name)
{
    const struct gd_attr *a = find_attr(ctx, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    return a ? a->t : NULL;
}

void *gd_op_scratch(struct gd_op_ctx *ctx, size_t bytes)
{
    size_t total;
    if (gd_size_add(bytes, sizeof(struct scratch) + 64, &total) ||
        (ctx->e->max_bytes && bytes > ctx->e->max_bytes)) {
        gd_op_fail(ctx, GD_ENOMEM, "scratch request too large");
        return NULL;
    }
    struct scratch *s = gd_calloc(1, total);
    if (!s) {
        gd_op_fail(ctx, GD_ENOMEM, "out of memory for %zu scratch bytes", bytes);
        return NULL;
    }
    s->next = ctx->scratch;
    ctx->scratch = s;
    uintptr_t p = (uintptr_t)(s + 1);
    return (void *)((p + 63) & ~(uintptr_t)63);
}

void *gd__op_scratch_reuse(struct gd_op_ctx *ctx, size_t bytes)
{
    struct gd_exec *e = ctx->e;
    if (!e->cache || ctx->n_reuse == 2 || !bytes || (e->max_bytes && bytes > e->max_bytes))
        return gd_op_scratch(ctx, bytes);
    int fresh;
    void *p = gd__bufcache_get_raw(e->cache, bytes, &fresh);
    if (!p) {
        gd_op_fail(ctx, GD_ENOMEM, "out of memory for %zu scratch bytes", bytes);
        return NULL;
    }
    ctx->reuse[ctx->n_reuse] = p;
    ctx->reuse_n[ctx->n_reuse++] = bytes;
    return p;
}

void gd_op_parallel_for(struct gd_op_ctx *ctx, int64_t n, int64_t grain, gd_op_range_fn fn,
                        void *ud)
{
    if (n <= 0)
        return;
    if (!ctx->e->pool)
        fn(ud, 0, n);
    else
        gd__pool_run(ctx->e->pool, n, grain, fn, ud);
}

int gd_op_num_threads(const struct gd_op_ctx *ctx)
{
    return ctx->e->pool ? gd__pool_threads(ctx->e->pool) : 1;
}

static int ctx_init(struct gd_op_ctx *c, struct gd_exec *e, const struct gd_node *nd, int index)
{
    memset(c, 0, sizeof *c);
    c->e = e;
    c->node = nd;
    c->index = index;
    if (nd->n_in <= CTX_INLINE_IO && nd->n_out <= CTX_INLINE_IO) {
        c->in = c->in_inline;
        c->in_copy = c->copy_inline;
        c->out = c->out_inline;
        c->discard = c->discard_inline;
        c->made = c->made_inline;
    } else {
        c->in = gd_calloc((size_t)nd->n_in + 1, sizeof *c->in);
        c->in_copy = gd_calloc((size_t)nd->n_in + 1, sizeof *c->in_copy);
        c->out = gd_calloc((size_t)nd->n_out + 1, sizeof *c->out);
        c->discard = gd_calloc((size_t)nd->n_out + 1, sizeof *c->discard);
        c->made = gd_calloc((size_t)nd->n_out + 1, 1);
        if (!c->in || !c->in_copy || !c->out || !c->discard || !c->made)
            return GD_ENOMEM;
    }
    for (int k = 0; k < nd->n_in; k++) {
        if (nd->in[k] < 0)
            continue;
        c->in_copy[k] = e->slots[nd->in[k]];
        c->in_copy[k].owns_data = 0;
        c->in[k] = &c->in_copy[k];
    }
    for (int k = 0; k < nd->n_out; k++)
        c->out[k] = nd->out[k] >= 0 ? &e->slots[nd->out[k]] : &c->discard[k];
    return 0;
}

static void ctx_cleanup(struct gd_op_ctx *c)
{
    while (c->scratch) {
        struct scratch *s = c->scratch;
        c->scratch = s->next;
        gd_free(s);
    }
    for (int i = 0; i < c->n_reuse; i++)
        gd__bufcache_put(c->e->cache, c->reuse[i], c->reuse_n[i]);
    if (c->discard)
        for (int k = 0; k < c->node->n_out; k++)
            gd__slot_release(c->e->cache, &c->discard[k]);
    if (c->in != c->in_inline) {
        gd_free(c->in);
        gd_free(c->in_copy);
        gd_free(c->out);
        gd_free(c->discard);
        gd_free(c->made);
    }
}

int gd__exec_node(struct gd_exec *e, const struct gd_node *nd, int index)
{
    struct gd_op_ctx c;
    if (!nd->def)
        return gd__errf(e->err, e->errlen, GD_ENOTSUP, "node '%s' (%s): no kernel for opset %d",
                        nd->name, nd->op_type, nd->opset);
    if (*e->runs_left == 0) /* untrusted trip counts, nested loops: bounded work */
        return gd__errf(e->err, e->errlen, GD_ELIMIT,
                        "node '%s' (%s): the run reached its limit of node executions "
                        "(max_node_runs)",
                        nd->name, nd->op_type);
    --*e->runs_left;
    int rc = ctx_init(&c, e, nd, index);
    if (rc) {
        gd__errf(e->err, e->errlen, rc, "node '%s' (%s): out of memory", nd->name, nd->op_type);
        goto out;
    }
    for (int k = 0; k < nd->n_in; k++) /* a value a failed earlier node never produced */
        if (nd->in[k] >= 0 && !c.in[k]->data && c.in[k]->dtype == GD_DTYPE_UNDEFINED) {
            rc = gd_op_fail(&c, GD_ESTATE, "input %d ('%s') has no value", k,
                            e->m->values[nd->in[k]].name);
            goto out;
        }
    rc = nd->def->run(&c);
    if (rc > 0)
        rc = GD_EINVAL;
    if (rc && !c.failed)
        gd_op_fail(&c, rc, "%s", gd_strerror(rc));
    for (int k = 0; !rc && k < nd->n_out; k++)
        if (nd->out[k] >= 0 && !c.made[k])
            rc = gd_op_fail(&c, GD_ENOTSUP, "output %d was not produced", k);
out:
    ctx_cleanup(&c);
    return rc;
}

/* ---- subgraphs (If / Loop bodies) ---- */

const struct gd_engine_model *gd__op_attr_graph(const struct gd_op_ctx *ctx, const char *name)
{
    const struct gd_attr *a = find_attr(ctx, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
    return a ? a->g : NULL;
}

int gd__op_output_take(struct gd_op_ctx *ctx, int i, struct gd_tensor *t)
{
    if (i < 0 || i >= ctx->node->n_out || ctx->made[i])
        return gd_op_fail(ctx, GD_EINVAL, "output %d cannot be set", i);
    if (ctx->e->max_bytes && t->nbytes > ctx->e->max_bytes)
        return gd_op_fail(ctx, GD_ELIMIT, "output %d would take %zu bytes", i, t->nbytes);
    gd__slot_release(ctx->e->cache, ctx->out[i]);
    *ctx->out[i] = *t;
    memset(t, 0, sizeof *t);
    ctx->made[i] = 1;
    return 0;
}

/* Binds constants, outer-scope views and the inputs into g's slots. */
static int sub_bind(struct gd_op_ctx *ctx, const struct gd_engine_model *g, struct gd_tensor *slots,
                    int n, const struct gd_tensor *const *inputs)
{
    if (n != g->n_inputs)
        return gd_op_fail(ctx, GD_EINVAL, "subgraph takes %d inputs, got %d", g->n_inputs, n);
    for (int v = 0; v < g->n_values; v++) {
        const struct gd_value *val = &g->values[v];
        if (val->kind == GD_VALUE_CONST) {
            slots[v] = *val->konst;
        } else if (val->kind == GD_VALUE_OUTER) {
            const struct gd_exec *a = ctx->e;
            for (int d = 1; d < val->outer_depth && a; d++)
                a = a->parent;
            if (!a || val->outer_idx >= a->m->n_values)
                return gd_op_fail(ctx, GD_EINVAL, "outer value '%s' not reachable", val->name);
            slots[v] = a->slots[val->outer_idx];
        }
        slots[v].owns_data = 0;
    }
    for (int i = 0; i < n; i++) {
        slots[g->inputs[i]] = *inputs[i];
        slots[g->inputs[i]].owns_data = 0;
    }
    return 0;
}

/* Moves (or copies) the subgraph's outputs into outs. */
static int sub_collect(struct gd_op_ctx *ctx, const struct gd_engine_model *g,
                       struct gd_tensor *slots, struct gd_tensor *outs)
{
    for (int j = 0; j < g->n_outputs; j++) {
        struct gd_tensor *src = &slots[g->outputs[j]];
        if (src->dtype == GD_DTYPE_UNDEFINED)
            return gd_op_fail(ctx, GD_EINVAL, "subgraph output %d has no value", j);
        if (src->owns_data && g->values[g->outputs[j]].kind == GD_VALUE_INTERMEDIATE) {
            outs[j] = *src;
            memset(src, 0, sizeof *src);
        } else if (gd_tensor_copy(&outs[j], src)) {
            return gd_op_fail(ctx, GD_ENOMEM, "out of memory copying subgraph outputs");
        }
    }
    return 0;
}

int gd__op_run_subgraph(struct gd_op_ctx *ctx, const struct gd_engine_model *g, int n,
                        const struct gd_tensor *const *inputs, struct gd_tensor *outs)
{
    struct gd_tensor *slots = gd_calloc((size_t)g->n_values + 1, sizeof *slots);
    if (!slots)
        return gd_op_fail(ctx, GD_ENOMEM, "out of memory");
    struct gd_exec se = {.m = g,
                         .slots = slots,
                         .pool = ctx->e->pool,
                         .cache = ctx->e->cache,
                         .err = ctx->e->err,
                         .errlen = ctx->e->errlen,
                         .max_bytes = ctx->e->max_bytes,
                         .parent = ctx->e,
                         .runs_left = ctx->e->runs_left};
    int rc = sub_bind(ctx, g, slots, n, inputs);
    for (int i = 0; !rc && i < g->n_nodes; i++) {
        const struct gd_node *nd = &g->nodes[i];
        if ((rc = gd__exec_node(&se, nd, i)))
            ctx->failed = 1;                                  /* the inner node wrote the message */
        for (int k = 0; k < nd->n_in + nd->n_implicit; k++) { /* values dying here */
            int v = k < nd->n_in ? nd->in[k] : nd->implicit[k - nd->n_in];
            if (v >= 0 && g->values[v].kind == GD_VALUE_INTERMEDIATE && !g->values[v].is_output &&
                g->values[v].last_use == i)
                gd__slot_release(se.cache, &slots[v]);
        }
    }
    if (!rc)
        rc = sub_collect(ctx, g, slots, outs);
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == GD_VALUE_INTERMEDIATE)
            gd__slot_release(se.cache, &slots[v]);
    gd_free(slots);
    if (rc)
        for (int j = 0; j < g->n_outputs; j++)
            gd_tensor_release(&outs[j]);
    return rc;
}
