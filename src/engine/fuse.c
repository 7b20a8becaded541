/* Graph fusion at load time (after constant folding and shape inference): a Conv and the
 * chain of single-consumer nodes after it become one com.microsoft FusedConv node
 * (ops/conv.c), whose epilogue applies bias, residual and activation to each output tile
 * while it is still in cache instead of in separate passes over memory:
 *
 *   Conv -> [BatchNormalization] -> [Add(residual)] -> [activation]
 *
 * - BatchNormalization (inference form, constant scale/B/mean/var, one output) is folded
 *   into the Conv's constant weights and bias: W'[o] = W[o] * s, b' = (b - mean) * s + B
 *   with s = scale / sqrt(var + eps), computed in double like the BatchNormalization kernel.
 *   The weights (and the bias, or BatchNormalization's B that becomes the bias) are
 *   rewritten in place, so they must be constants read by this chain only.
 * - Add whose other operand has the same static dtype and shape as the Conv output (no
 *   broadcasting) becomes the residual input Z.
 * - Relu, Clip (constant bounds, e.g. ReLU6), LeakyRelu, Sigmoid, Tanh, HardSigmoid, and
 *   SiLU written as x * Sigmoid(x), become the activation.
 *
 * Every value fused away must be an intermediate read only by the next node of the chain
 * (never a graph output, never read by another node or a subgraph), so the graph computes
 * the same outputs. The fused node takes the place of the chain's last node in the
 * execution order, where all its inputs (the residual included) are ready.
 * GD_FUSE=0 in the environment turns fusion off (to compare fused and unfused results). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/model.h"
#include "onnx.pb-c.h"

struct fuser {
    struct gd_engine_model *m;
    int *nreads;        /* per value: reads by nodes (inputs and subgraph captures) */
    int *cstart, *cons; /* per value: the reading nodes, CSR */
    char *dead;         /* per node: absorbed into a fused node */
};

static const struct gd_attr *attr(const struct gd_node *n, const char *name, int type)
{
    for (int i = 0; i < n->n_attr; i++)
        if (!strcmp(n->attrs[i].name, name) && n->attrs[i].type == type)
            return &n->attrs[i];
    return NULL;
}

static int is_op(const struct gd_node *n, const char *op)
{
    return n->def && !*n->domain && !strcmp(n->op_type, op);
}

/* The node reading v when v is an intermediate with exactly one reader and not a graph
 * output (so it may disappear), else -1. */
static int sole_reader(const struct fuser *f, int v)
{
    if (v < 0)
        return -1;
    const struct gd_value *val = &f->m->values[v];
    if (val->kind != GD_VALUE_INTERMEDIATE || val->is_output || f->nreads[v] != 1)
        return -1;
    int j = f->cons[f->cstart[v]];
    return f->dead[j] ? -1 : j;
}

/* A constant only node j reads (once), with writable float data: safe to rewrite. */
static struct gd_tensor *own_const(const struct fuser *f, int v, enum gd_dtype dt, int64_t n)
{
    if (v < 0)
        return NULL;
    const struct gd_value *val = &f->m->values[v];
    if (val->kind != GD_VALUE_CONST || val->is_output || f->nreads[v] != 1 || !val->konst ||
        !val->konst->owns_data || val->konst->dtype != dt || val->konst->numel < n)
        return NULL;
    return (struct gd_tensor *)val->konst; /* the model owns it; nothing else reads it */
}

static int const_numel(const struct gd_engine_model *m, int v, int64_t n)
{
    return v >= 0 && m->values[v].kind == GD_VALUE_CONST && m->values[v].konst &&
           m->values[v].konst->numel == n && m->values[v].konst->data &&
           gd_dtype_is_float(m->values[v].konst->dtype);
}

/* Folds BatchNormalization node bn into Conv node c (weights w of dtype dt, m outputs).
 * Returns 1 when done, 0 when the pattern does not apply. */
static int fold_bn(struct fuser *f, struct gd_node *c, const struct gd_node *bn, int64_t mo)
{
    struct gd_engine_model *m = f->m;
    if (bn->n_in < 5 || bn->in[0] != c->out[0])
        return 0;
    for (int k = 1; k < 5; k++)
        if (!const_numel(m, bn->in[k], mo))
            return 0;
    for (int k = 1; k < bn->n_out; k++)
        if (bn->opset < 14 || bn->out[k] >= 0)
            return 0; /* training form (more outputs) */
    const struct gd_attr *tm =
        attr(bn, "training_mode", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    const struct gd_attr *sp = attr(bn, "spatial", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if ((tm && tm->i != 0 && bn->opset >= 14) || (sp && sp->i == 0))
        return 0;
    const struct gd_tensor *wk = m->values[c->in[1]].konst;
    struct gd_tensor *w = own_const(f, c->in[1], wk->dtype, wk->numel);
    int has_b = c->n_in > 2 && c->in[2] >= 0;
    /* without a Conv bias, BatchNormalization's B (read by it only) becomes the bias */
    int bv = has_b ? c->in[2] : bn->in[2];
    struct gd_tensor *b = own_const(f, bv, wk->dtype, mo);
    if (!w || !b || b->numel != mo || w->dims[0] != mo)
        return 0;
    double eps = 1e-5;
    const struct gd_attr *ea = attr(bn, "epsilon", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (ea)
        eps = ea->f;
    const struct gd_tensor *scale = m->values[bn->in[1]].konst, *beta = m->values[bn->in[2]].konst,
                           *mean = m->values[bn->in[3]].konst, *var = m->values[bn->in[4]].konst;
    int64_t per = w->numel / mo;
    for (int64_t o = 0; o < mo; o++) {
        double s = gd_tensor_get_f64(scale, o) / sqrt(gd_tensor_get_f64(var, o) + eps);
        double b0 = has_b ? gd_tensor_get_f64(b, o) : 0;
        for (int64_t i = 0; i < per; i++)
            gd_tensor_set_f64(w, o * per + i, gd_tensor_get_f64(w, o * per + i) * s);
        gd_tensor_set_f64(b, o, (b0 - gd_tensor_get_f64(mean, o)) * s + gd_tensor_get_f64(beta, o));
    }
    if (!has_b) {
        int *in = gd_arena_alloc(&m->arena, sizeof(int) * 3);
        if (!in)
            return GD_ENOMEM;
        in[0] = c->in[0];
        in[1] = c->in[1];
        in[2] = bv;
        c->in = in;
        c->n_in = 3;
    }
    c->out = bn->out; /* the Conv now writes the normalised value */
    return 1;
}

/* Activation node n applied to value v: its FusedConv name and parameters, or NULL. */
static const char *activation(const struct fuser *f, const struct gd_node *n, int v, float *p,
                              int *np)
{
    const struct gd_engine_model *m = f->m;
    *np = 0;
    if (n->n_in < 1 || n->in[0] != v || n->n_out != 1)
        return NULL;
    if (is_op(n, "Relu") || is_op(n, "Sigmoid") || is_op(n, "Tanh"))
        return n->op_type;
    if (is_op(n, "LeakyRelu") || is_op(n, "HardSigmoid")) {
        const struct gd_attr *a = attr(n, "alpha", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
        const struct gd_attr *b = attr(n, "beta", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
        int hs = n->op_type[0] == 'H';
        p[0] = a ? a->f : hs ? 0.2f : 0.01f;
        p[1] = b ? b->f : 0.5f;
        *np = hs ? 2 : 1;
        return n->op_type;
    }
    if (!is_op(n, "Clip"))
        return NULL;
    double b[2] = {-INFINITY, INFINITY}; /* opset 11+: an absent bound does not clamp */
    *np = 2;
    if (n->opset < 11) {
        const struct gd_attr *lo = attr(n, "min", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
        const struct gd_attr *hi = attr(n, "max", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
        b[0] = lo ? lo->f : -FLT_MAX;
        b[1] = hi ? hi->f : FLT_MAX;
    }
    for (int k = 1; n->opset >= 11 && k < n->n_in && k < 3; k++) {
        if (n->in[k] < 0)
            continue;
        if (!const_numel(m, n->in[k], 1))
            return NULL;
        b[k - 1] = gd_tensor_get_f64(m->values[n->in[k]].konst, 0);
    }
    for (int k = 0; k < 2; k++) { /* the epilogue holds float bounds: exact ones only */
        p[k] = (float)b[k];
        if (isnan(b[k]) || (!isinf(b[k]) && (double)p[k] != b[k]))
            return NULL;
    }
    return "Clip";
}

/* SiLU on v: v's two readers are Sigmoid(v) -> s and Mul(v, s) (either order), s read by
 * the Mul only. Returns the Mul's index and sets *sig, else -1. */
static int silu(const struct fuser *f, int v, int *sig)
{
    const struct gd_engine_model *m = f->m;
    const struct gd_value *val = &m->values[v];
    if (val->kind != GD_VALUE_INTERMEDIATE || val->is_output || f->nreads[v] != 2)
        return -1;
    const int *r = &f->cons[f->cstart[v]];
    for (int t = 0; t < 2; t++) {
        int a = r[t], b = r[1 - t];
        const struct gd_node *s = &m->nodes[a], *mu = &m->nodes[b];
        if (f->dead[a] || f->dead[b] || !is_op(s, "Sigmoid") || !is_op(mu, "Mul") ||
            s->in[0] != v || s->n_out != 1 || mu->n_in != 2 || mu->n_out != 1 ||
            sole_reader(f, s->out[0]) != b)
            continue;
        if ((mu->in[0] == v && mu->in[1] == s->out[0]) ||
            (mu->in[1] == v && mu->in[0] == s->out[0])) {
            *sig = a;
            return b;
        }
    }
    return -1;
}

/* The fused node's attributes: the Conv's plus activation / activation_params. */
static int set_attrs(struct gd_engine_model *m, struct gd_node *fn, const char *act, const float *p,
                     int np)
{
    struct gd_attr *at = gd_arena_calloc(&m->arena, (size_t)fn->n_attr + 2, sizeof *at);
    float *pp = gd_arena_alloc(&m->arena, sizeof(float) * 2);
    if (!at || !pp)
        return GD_ENOMEM;
    memcpy(at, fn->attrs, sizeof *at * (size_t)fn->n_attr);
    memcpy(pp, p, sizeof(float) * (size_t)np);
    at[fn->n_attr++] = (struct gd_attr){.name = "activation",
                                        .type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING,
                                        .s = act ? act : ""};
    at[fn->n_attr++] = (struct gd_attr){.name = "activation_params",
                                        .type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS,
                                        .n = np,
                                        .floats = pp};
    fn->attrs = at;
    return 0;
}

/* Fuses the chain that starts at Conv node ci. Returns the nodes absorbed (>= 0) or an error. */
static int fuse_conv(struct fuser *f, int ci)
{
    struct gd_engine_model *m = f->m;
    struct gd_node c = m->nodes[ci]; /* the fused node, built on a copy */
    const struct gd_op_def *def = gd_op_lookup("com.microsoft", "FusedConv", 1);
    if (!def || c.n_out != 1 || c.out[0] < 0 || c.n_in < 2 || c.in[1] < 0 || c.n_implicit)
        return 0;
    const struct gd_value *wv = &m->values[c.in[1]], *yv = &m->values[c.out[0]];
    enum gd_dtype dt = wv->kind == GD_VALUE_CONST ? wv->konst->dtype : yv->dtype;
    if ((dt != GD_DTYPE_FLOAT && dt != GD_DTYPE_DOUBLE) || yv->dtype != dt)
        return 0;
    int last = ci, absorbed = 0, z = -1, j, np = 0, sig;
    const char *act = NULL;
    float p[2] = {0, 0};
    if ((j = sole_reader(f, c.out[0])) >= 0 && is_op(&m->nodes[j], "BatchNormalization") &&
        wv->kind == GD_VALUE_CONST && wv->konst->rank >= 1) {
        int r = fold_bn(f, &c, &m->nodes[j], wv->konst->dims[0]);
        if (r < 0)
            return r;
        if (r) {
            f->dead[j] = 1;
            last = j;
            absorbed++;
        }
    }
    int v = c.out[0];
    if ((j = sole_reader(f, v)) >= 0 && is_op(&m->nodes[j], "Add") && m->nodes[j].opset >= 7 &&
        m->nodes[j].n_in == 2 && m->nodes[j].in[0] != m->nodes[j].in[1]) {
        const struct gd_node *a = &m->nodes[j];
        int other = a->in[0] == v ? a->in[1] : a->in[0];
        if (other >= 0 && gd__same_shape(&m->values[v], &m->values[other]) &&
            gd__same_shape(&m->values[v], &m->values[a->out[0]])) {
            z = other;
            v = a->out[0];
            f->dead[j] = 1;
            last = j > last ? j : last;
            absorbed++;
        }
    }
    if ((j = sole_reader(f, v)) >= 0 && (act = activation(f, &m->nodes[j], v, p, &np))) {
        v = m->nodes[j].out[0];
        f->dead[j] = 1;
        last = j > last ? j : last;
        absorbed++;
    } else if ((j = silu(f, v, &sig)) >= 0) {
        act = "Silu";
        v = m->nodes[j].out[0];
        f->dead[j] = f->dead[sig] = 1;
        last = j > last ? j : last;
        absorbed += 2;
    }
    if (!absorbed)
        return 0;
    int *in = gd_arena_alloc(&m->arena, sizeof(int) * 4),
        *out = gd_arena_alloc(&m->arena, sizeof(int));
    if (!in || !out || set_attrs(m, &c, act, p, np))
        return GD_ENOMEM;
    in[0] = c.in[0];
    in[1] = c.in[1];
    in[2] = c.n_in > 2 ? c.in[2] : -1;
    in[3] = z;
    out[0] = v;
    c.in = in;
    c.n_in = 4;
    c.out = out;
    c.domain = "com.microsoft";
    c.op_type = "FusedConv";
    c.opset = 1;
    c.def = def;
    f->dead[ci] = 1;
    f->dead[last] = 0;
    m->nodes[last] = c;
    return absorbed;
}

/* ---- MatMul chains: MatMul -> Add(bias) -> [Add(residual)] -> [activation / GELU] ---- */

/* v is a float32 constant with one element (rank <= rank): sets *val. */
static int scalar_const(const struct gd_engine_model *m, int v, int rank, float *val)
{
    if (v < 0 || m->values[v].kind != GD_VALUE_CONST || !m->values[v].konst)
        return 0;
    const struct gd_tensor *t = m->values[v].konst;
    if (t->dtype != GD_DTYPE_FLOAT || t->numel != 1 || t->rank > rank || !t->data)
        return 0;
    *val = *(const float *)t->data;
    return 1;
}

/* Node j is the binary op `op` reading x and a scalar constant of rank <= rank (either
 * order; the constant second for Div): returns the constant through *c. */
static int bin_scalar(const struct fuser *f, int j, const char *op, int x, int rank, float *c)
{
    if (j < 0)
        return 0;
    const struct gd_node *n = &f->m->nodes[j];
    if (!is_op(n, op) || n->n_in != 2 || n->n_out != 1 || n->out[0] < 0)
        return 0;
    if (n->in[0] == x && scalar_const(f->m, n->in[1], rank, c))
        return 1;
    return strcmp(op, "Div") && n->in[1] == x && scalar_const(f->m, n->in[0], rank, c);
}

/* Node j is Mul(x, y) in either order. */
static int mul_of(const struct fuser *f, int j, int x, int y)
{
    if (j < 0)
        return 0;
    const struct gd_node *n = &f->m->nodes[j];
    return is_op(n, "Mul") && n->n_in == 2 && n->n_out == 1 && n->out[0] >= 0 &&
           ((n->in[0] == x && n->in[1] == y) || (n->in[0] == y && n->in[1] == x));
}

/* GELU written out on h: 0.5 * h * (1 + Erf(h / sqrt 2)) as torch (Div, Erf, Add,
 * Mul(h, .), Mul(., 0.5)) and Hugging Face (Mul(h, 0.5) first) export it; h / sqrt 2 may
 * also be h * (1 / sqrt 2). Marks the nodes in nodes[0..5) and returns the last one's
 * index, else -1. */
static int gelu(const struct fuser *f, int h, int *nodes)
{
    const struct gd_engine_model *m = f->m;
    const struct gd_value *val = &m->values[h];
    int rk = val->rank; /* every value of the chain has h's shape: constants' rank <= rk */
    if (val->kind != GD_VALUE_INTERMEDIATE || val->is_output || f->nreads[h] != 2 || rk < 0)
        return -1;
    const int *r = &f->cons[f->cstart[h]];
    for (int t = 0; t < 2; t++) {
        int s = r[t], o = r[1 - t], e, a, fin;
        float c, one, half;
        if (f->dead[s] || f->dead[o])
            continue;
        int div = bin_scalar(f, s, "Div", h, rk, &c) && fabsf(c - 1.41421356f) < 1e-6f;
        int mul = !div && bin_scalar(f, s, "Mul", h, rk, &c) && fabsf(c - 0.70710678f) < 1e-6f;
        if (!div && !mul)
            continue;
        int d = m->nodes[s].out[0];
        if ((e = sole_reader(f, d)) < 0 || !is_op(&m->nodes[e], "Erf") || m->nodes[e].in[0] != d ||
            m->nodes[e].n_out != 1 || (a = sole_reader(f, m->nodes[e].out[0])) < 0 ||
            !bin_scalar(f, a, "Add", m->nodes[e].out[0], rk, &one) || one != 1.0f)
            continue;
        int av = m->nodes[a].out[0], ov = m->nodes[o].out[0];
        if (mul_of(f, o, h, av)) { /* h * (1 + erf), then * 0.5 */
            if ((fin = sole_reader(f, ov)) < 0 || !bin_scalar(f, fin, "Mul", ov, rk, &half) ||
                half != 0.5f)
                continue;
        } else if (bin_scalar(f, o, "Mul", h, rk, &half) && half == 0.5f) { /* (h * 0.5) * (...) */
            if ((fin = sole_reader(f, ov)) < 0 || !mul_of(f, fin, ov, av) ||
                sole_reader(f, av) != fin)
                continue;
        } else {
            continue;
        }
        if (m->nodes[fin].out[0] < 0)
            continue;
        nodes[0] = s, nodes[1] = e, nodes[2] = a, nodes[3] = o, nodes[4] = fin;
        return fin;
    }
    return -1;
}

/* Add node j reading v and a float32 constant of n elements broadcast along v's last axis
 * (all other dims 1, rank <= v's): returns the constant's value index, else -1. */
static int bias_add(const struct fuser *f, int j, int v, int64_t n)
{
    const struct gd_engine_model *m = f->m;
    const struct gd_node *a = &m->nodes[j];
    if (!is_op(a, "Add") || a->opset < 7 || a->n_in != 2 || a->n_out != 1 || a->out[0] < 0 ||
        a->in[0] == a->in[1])
        return -1;
    int o = a->in[0] == v ? a->in[1] : a->in[0];
    const struct gd_tensor *t =
        o >= 0 && m->values[o].kind == GD_VALUE_CONST ? m->values[o].konst : NULL;
    if (!t || !t->data || t->dtype != GD_DTYPE_FLOAT || t->numel != n || t->rank < 1 ||
        t->rank > m->values[v].rank || t->dims[t->rank - 1] != n ||
        !gd__same_shape(&m->values[v], &m->values[a->out[0]]))
        return -1;
    return o;
}

/* Adds the FLOAT attribute name = val to fn (arena copy of its attribute list). */
static int add_float_attr(struct gd_engine_model *m, struct gd_node *fn, const char *name,
                          float val)
{
    struct gd_attr *at = gd_arena_calloc(&m->arena, (size_t)fn->n_attr + 1, sizeof *at);
    if (!at)
        return GD_ENOMEM;
    memcpy(at, fn->attrs, sizeof *at * (size_t)fn->n_attr);
    at[fn->n_attr++] = (struct gd_attr){
        .name = name, .type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, .f = val};
    fn->attrs = at;
    return 0;
}

/* Fuses the chain that starts at MatMul node mi (float32 A and B of static rank >= 2) into
 * an ai.girder FusedMatMul (ops/matmul_fused.c). Returns the nodes absorbed or an error. */
static int fuse_matmul(struct fuser *f, int mi)
{
    struct gd_engine_model *m = f->m;
    struct gd_node c = m->nodes[mi];
    const struct gd_op_def *def = gd_op_lookup("ai.girder", "FusedMatMul", 1);
    if (!def || c.n_in != 2 || c.n_out != 1 || c.out[0] < 0 || c.in[0] < 0 || c.in[1] < 0 ||
        c.n_implicit)
        return 0;
    const struct gd_value *av = &m->values[c.in[0]], *bv = &m->values[c.in[1]];
    const struct gd_value *yv = &m->values[c.out[0]];
    const struct gd_tensor *bk = bv->kind == GD_VALUE_CONST ? bv->konst : NULL;
    int brank = bk ? bk->rank : bv->rank;
    int64_t n = brank < 2 ? -1 : bk ? bk->dims[brank - 1] : bv->dims ? bv->dims[brank - 1] : -1;
    if ((bk ? bk->dtype : bv->dtype) != GD_DTYPE_FLOAT || av->dtype != GD_DTYPE_FLOAT ||
        yv->dtype != GD_DTYPE_FLOAT || brank < 2 || av->rank < 2 || yv->rank < 2)
        return 0;
    int v = c.out[0], last = mi, absorbed = 0, bias = -1, z = -1, j, np = 0, g[5];
    const char *act = NULL;
    float p[2] = {0, 0}, alpha = 1, sc;
    /* a scalar scale (attention's Q x K^T / sqrt(d)) becomes the GEMMs' alpha */
    if ((j = sole_reader(f, v)) >= 0 &&
        ((bin_scalar(f, j, "Div", v, yv->rank, &sc) && sc != 0 && isfinite(1.0f / sc)) ||
         bin_scalar(f, j, "Mul", v, yv->rank, &sc)) &&
        isfinite(sc)) {
        alpha = is_op(&m->nodes[j], "Div") ? 1.0f / sc : sc;
        v = m->nodes[j].out[0];
        f->dead[j] = 1;
        last = j > last ? j : last;
        absorbed++;
    }
    if (n >= 0 && (j = sole_reader(f, v)) >= 0 && (bias = bias_add(f, j, v, n)) >= 0) {
        v = m->nodes[j].out[0];
        f->dead[j] = 1;
        last = j > last ? j : last;
        absorbed++;
    }
    if ((j = sole_reader(f, v)) >= 0 && is_op(&m->nodes[j], "Add") && m->nodes[j].opset >= 7 &&
        m->nodes[j].n_in == 2 && m->nodes[j].in[0] != m->nodes[j].in[1]) {
        const struct gd_node *a = &m->nodes[j];
        int other = a->in[0] == v ? a->in[1] : a->in[0];
        if (other >= 0 && gd__same_shape(&m->values[v], &m->values[other]) &&
            gd__same_shape(&m->values[v], &m->values[a->out[0]])) {
            z = other;
            v = a->out[0];
            f->dead[j] = 1;
            last = j > last ? j : last;
            absorbed++;
        }
    }
    if ((j = sole_reader(f, v)) >= 0 && (act = activation(f, &m->nodes[j], v, p, &np))) {
        v = m->nodes[j].out[0];
        f->dead[j] = 1;
        last = j > last ? j : last;
        absorbed++;
    } else if ((j = gelu(f, v, g)) >= 0) {
        act = "Gelu";
        v = m->nodes[j].out[0];
        for (int q = 0; q < 5; q++) {
            f->dead[g[q]] = 1;
            last = g[q] > last ? g[q] : last;
        }
        absorbed += 5;
    }
    if (!absorbed)
        return 0;
    int *in = gd_arena_alloc(&m->arena, sizeof(int) * 4),
        *out = gd_arena_alloc(&m->arena, sizeof(int));
    if (!in || !out || set_attrs(m, &c, act, p, np) ||
        (alpha != 1.0f && add_float_attr(m, &c, "alpha", alpha)))
        return GD_ENOMEM;
    in[0] = c.in[0];
    in[1] = c.in[1];
    in[2] = bias;
    in[3] = z;
    out[0] = v;
    c.in = in;
    c.n_in = 4;
    c.out = out;
    c.domain = "ai.girder";
    c.op_type = "FusedMatMul";
    c.opset = 1;
    c.def = def;
    f->dead[mi] = 1;
    f->dead[last] = 0;
    m->nodes[last] = c;
    return absorbed;
}

static int build_readers(struct fuser *f)
{
    struct gd_engine_model *m = f->m;
    size_t nv = (size_t)m->n_values + 1, reads = 0;
    f->nreads = gd_calloc(nv, sizeof(int));
    f->cstart = gd_calloc(nv + 1, sizeof(int));
    f->dead = gd_calloc((size_t)m->n_nodes + 1, 1);
    if (!f->nreads || !f->cstart || !f->dead)
        return GD_ENOMEM;
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in + m->nodes[i].n_implicit; k++) {
            const struct gd_node *n = &m->nodes[i];
            int v = k < n->n_in ? n->in[k] : n->implicit[k - n->n_in];
            if (v >= 0) {
                f->nreads[v]++;
                reads++;
            }
        }
    for (int v = 0; v < m->n_values; v++)
        f->cstart[v + 1] = f->cstart[v] + f->nreads[v];
    if (!(f->cons = gd_malloc(sizeof(int) * (reads + 1))))
        return GD_ENOMEM;
    int *fill = gd_calloc(nv, sizeof(int));
    if (!fill)
        return GD_ENOMEM;
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in + m->nodes[i].n_implicit; k++) {
            const struct gd_node *n = &m->nodes[i];
            int v = k < n->n_in ? n->in[k] : n->implicit[k - n->n_in];
            if (v >= 0)
                f->cons[f->cstart[v] + fill[v]++] = i;
        }
    gd_free(fill);
    return 0;
}

int gd__graph_fuse(struct gd_engine_model *m)
{
    const char *env = getenv("GD_FUSE");
    if (env && !strcmp(env, "0"))
        return 0;
    struct fuser f = {.m = m};
    int rc = build_readers(&f), fused = 0;
    for (int i = 0; !rc && i < m->n_nodes; i++)
        if (!f.dead[i] && (is_op(&m->nodes[i], "Conv") || is_op(&m->nodes[i], "MatMul"))) {
            int r = is_op(&m->nodes[i], "Conv") ? fuse_conv(&f, i) : fuse_matmul(&f, i);
            rc = r < 0 ? r : 0;
            fused += r > 0 ? r : 0;
        }
    if (!rc && fused) {
        int kept = 0;
        for (int i = 0; i < m->n_nodes; i++)
            if (!f.dead[i])
                m->nodes[kept++] = m->nodes[i];
        m->n_nodes = kept;
    }
    gd_free(f.nreads);
    gd_free(f.cstart);
    gd_free(f.cons);
    gd_free(f.dead);
    return rc ? rc : fused;
}
