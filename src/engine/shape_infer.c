/* Static shape inference at load time.
 *
 * Walks the nodes in execution order and, where every input's dtype and shape are known
 * (declared graph inputs, constants, value_info, or inferred upstream), derives the outputs'
 * dtype and shape for the ops real models are made of: elementwise (same shape),
 * broadcasting binaries and comparisons, MatMul, Gemm, Conv/pooling, global pooling,
 * Flatten, Transpose, Reshape/Squeeze/Unsqueeze with constant shape/axes, Concat, Shape,
 * Gather, Cast and reductions. Anything else stays unknown and is simply shaped at run time
 * (dynamic shapes). Inferred shapes are advisory: they feed the static memory plan (a value
 * whose real size differs falls back to a dynamic buffer) and `girder run --info`, and never
 * override what a kernel produces. */
#include <string.h>

#include "core/alloc.h"
#include "engine/shape_infer.h"
#include "onnx.pb-c.h"

const struct gd_attr *gd__infer_attr(const struct gd_node *n, const char *name, int type)
{
    for (int i = 0; i < n->n_attr; i++)
        if (strcmp(n->attrs[i].name, name) == 0 && n->attrs[i].type == type)
            return &n->attrs[i];
    return NULL;
}
#define attr gd__infer_attr

int64_t gd__infer_attr_i(const struct gd_node *n, const char *name, int64_t def)
{
    const struct gd_attr *a = attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    return a ? a->i : def;
}
#define attr_i gd__infer_attr_i

static int attr_ints(const struct gd_node *n, const char *name, const int64_t **v)
{
    const struct gd_attr *a = attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    if (!a)
        return -1;
    *v = a->ints;
    return a->n;
}

int gd__infer_known(const struct gd_infer *I, int v, struct shp *s)
{
    if (v < 0)
        return 0;
    const struct gd_value *val = &I->m->values[v];
    if (val->kind == GD_VALUE_CONST) {
        s->dt = val->konst->dtype;
        s->rank = val->konst->rank;
        memcpy(s->d, val->konst->dims, sizeof s->d);
        return 1;
    }
    if (val->rank < 0 || !val->sdims || val->dtype == GD_DTYPE_UNDEFINED)
        return 0;
    s->dt = val->dtype;
    s->rank = val->rank;
    memcpy(s->d, val->sdims, sizeof(int64_t) * (size_t)val->rank);
    return 1;
}
#define known gd__infer_known

/* Integer contents of a constant input (axes, split sizes), or -1. */
static int const_ints(const struct gd_engine_model *m, int v, int64_t *out, int max)
{
    if (v < 0 || m->values[v].kind != GD_VALUE_CONST)
        return -1;
    int64_t n = gd_tensor_to_i64s(m->values[v].konst, out, max);
    return n < 0 ? -1 : (int)n;
}

static int in_list(const char *op, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(op, *list) == 0)
            return 1;
    return 0;
}

static const char *const same_shape_ops[] = {"Relu",
                                             "Sigmoid",
                                             "Tanh",
                                             "Abs",
                                             "Neg",
                                             "Exp",
                                             "Log",
                                             "Sqrt",
                                             "Erf",
                                             "LeakyRelu",
                                             "HardSigmoid",
                                             "HardSwish",
                                             "Clip",
                                             "Softmax",
                                             "LogSoftmax",
                                             "Identity",
                                             "Dropout",
                                             "BatchNormalization",
                                             "LayerNormalization",
                                             "InstanceNormalization",
                                             "Gelu",
                                             "Reciprocal",
                                             "Floor",
                                             "Ceil",
                                             "Round",
                                             "Sign",
                                             "Sin",
                                             "Cos",
                                             "Elu",
                                             "Selu",
                                             "Softplus",
                                             "Softsign",
                                             "Mish",
                                             "Celu",
                                             "ThresholdedRelu",
                                             "Not",
                                             "LRN",
                                             "Hardmax",
                                             "CumSum",
                                             NULL};
static const char *const bcast_ops[] = {"Add", "Sub", "Mul",  "Div",   "Pow", "Max",
                                        "Min", "Sum", "Mean", "PRelu", "Mod", NULL};
static const char *const cmp_ops[] = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
                                      "And",   "Or",   "Xor",     NULL};

static int bcast(struct gd_infer *I, const struct gd_node *n, int first, struct shp *o)
{
    int k = 0;
    for (int i = first; i < n->n_in; i++, k++) {
        struct shp s;
        if (!known(I, n->in[i], &s))
            return 0;
        if (k == 0) {
            o->rank = s.rank;
            memcpy(o->d, s.d, sizeof s.d);
        } else if (gd__sym_bcast(&I->sym, o->rank, o->d, s.rank, s.d, &o->rank, o->d)) {
            return 0;
        }
    }
    return k > 0;
}

static int infer_matmul(struct gd_infer *I, const struct shp *a, const struct shp *b, struct shp *o)
{
    if (a->rank < 1 || b->rank < 1)
        return 0;
    struct shp A = *a, B = *b;
    int pa = A.rank == 1, pb = B.rank == 1;
    if (pa) {
        A.rank = 2, A.d[1] = A.d[0], A.d[0] = 1;
    }
    if (pb)
        B.rank = 2, B.d[1] = 1;
    int64_t ka = A.d[A.rank - 1], kb = B.d[B.rank - 2];
    if (ka != kb && !gd__sym_is(ka) && !gd__sym_is(kb))
        return 0;
    if (gd__sym_bcast(&I->sym, A.rank - 2, A.d, B.rank - 2, B.d, &o->rank, o->d) ||
        o->rank + 2 > GD_TENSOR_MAX_RANK)
        return 0;
    if (!pa)
        o->d[o->rank++] = A.d[A.rank - 2];
    if (!pb)
        o->d[o->rank++] = B.d[B.rank - 1];
    o->dt = a->dt;
    return 1;
}

/* Conv, MaxPool, AveragePool: NCHW... output spatial sizes (floor or ceil mode); an open
 * spatial size gives a new symbol. */
static int infer_window(struct gd_infer *I, const struct gd_node *n, const struct shp *x,
                        const struct shp *w, struct shp *o)
{
    int sp = x->rank - 2;
    const int64_t *ks = NULL, *st = NULL, *pads = NULL, *dil = NULL;
    int nk = attr_ints(n, "kernel_shape", &ks);
    if (nk < 0 && w && w->rank == x->rank)
        ks = w->d + 2, nk = sp;
    if (sp < 1 || nk != sp)
        return 0;
    int ns = attr_ints(n, "strides", &st), np = attr_ints(n, "pads", &pads);
    int nd = attr_ints(n, "dilations", &dil);
    const struct gd_attr *ap = attr(n, "auto_pad", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    const char *pad_mode = ap && ap->s ? ap->s : "NOTSET";
    int ceil_mode = (int)attr_i(n, "ceil_mode", 0);
    o->rank = x->rank;
    o->d[0] = x->d[0];
    o->d[1] = w ? w->d[0] : x->d[1];
    for (int i = 0; i < sp; i++) {
        int64_t s = ns == sp ? st[i] : 1, dl = nd == sp ? dil[i] : 1, in = x->d[i + 2];
        if (s < 1 || dl < 1 || ks[i] < 1 || gd__sym_is(ks[i]))
            return 0;
        int64_t ek = (ks[i] - 1) * dl + 1, p = np == 2 * sp ? pads[i] + pads[i + sp] : 0;
        if (gd__sym_is(in))
            o->d[i + 2] = s == 1 && (ek == p + 1 || !strncmp(pad_mode, "SAME", 4))
                              ? in
                              : gd__sym_fresh(&I->sym);
        else if (strcmp(pad_mode, "SAME_UPPER") == 0 || strcmp(pad_mode, "SAME_LOWER") == 0)
            o->d[i + 2] = (in + s - 1) / s;
        else if (strcmp(pad_mode, "VALID") == 0)
            o->d[i + 2] = in >= ek ? (in - ek) / s + 1 : 0;
        else if (in + p < ek)
            return 0;
        else
            o->d[i + 2] = (in + p - ek + (ceil_mode ? s - 1 : 0)) / s + 1;
    }
    o->dt = x->dt;
    return 1;
}

/* Reshape to a target whose contents are known (numbers and symbols): 0 copies the input's
 * dim, one -1 is solved from the element count. */
static int infer_reshape(struct gd_infer *I, const struct gd_node *n, const struct shp *x,
                         struct shp *o)
{
    struct gd_shape_contents sh;
    int neg = -1;
    if (n->n_in < 2 || !gd__infer_contents(I, n->in[1], &sh) || attr_i(n, "allowzero", 0))
        return 0;
    for (int i = 0; i < sh.n; i++) {
        if (sh.c[i] == 0 && i < x->rank)
            sh.c[i] = x->d[i];
        else if (sh.c[i] == 0)
            return 0;
        if (sh.c[i] == -1 && neg >= 0)
            return 0;
        if (sh.c[i] == -1)
            neg = i;
    }
    if (neg >= 0 && gd__sym_solve(&I->sym, x->rank, x->d, sh.n, sh.c, neg))
        return 0;
    int64_t from = gd__sym_prod(&I->sym, x->rank, x->d), to = gd__sym_prod(&I->sym, sh.n, sh.c);
    if (!gd__sym_is(from) && !gd__sym_is(to) && from != to)
        return 0; /* numbers that disagree: the model is wrong here, leave it to run time */
    o->dt = x->dt;
    o->rank = sh.n;
    memcpy(o->d, sh.c, sizeof(int64_t) * (size_t)sh.n);
    return 1;
}

/* Axes from the attribute (older opsets) or a constant input (newer ones). */
static int get_axes(const struct gd_engine_model *m, const struct gd_node *n, int input,
                    int64_t *axes)
{
    const int64_t *a;
    int na = attr_ints(n, "axes", &a);
    if (na >= 0) {
        if (na > GD_TENSOR_MAX_RANK)
            return -2;
        memcpy(axes, a, sizeof(int64_t) * (size_t)na);
        return na;
    }
    if (n->n_in > input && n->in[input] >= 0)
        return const_ints(m, n->in[input], axes, GD_TENSOR_MAX_RANK);
    return -1; /* absent */
}

/* Squeeze without axes drops the dims of size 1: an open dim might be 1, so no answer. A
 * symbol at a squeezed axis is taken to be 1 (the op fails at run time otherwise). */
static int infer_unsqueeze(const struct gd_engine_model *m, const struct gd_node *n,
                           const struct shp *x, struct shp *o, int squeeze)
{
    int64_t axes[GD_TENSOR_MAX_RANK];
    int na = get_axes(m, n, 1, axes), mark[GD_TENSOR_MAX_RANK] = {0};
    int orank = squeeze ? x->rank : x->rank + na;
    if (na < -1 || (!squeeze && na < 0) || orank > GD_TENSOR_MAX_RANK)
        return 0;
    for (int i = 0; i < na; i++) {
        int ax;
        if (gd_axis_normalize(axes[i], orank, &ax) || mark[ax])
            return 0;
        mark[ax] = 1;
    }
    o->dt = x->dt;
    o->rank = 0;
    if (squeeze) {
        for (int i = 0; i < x->rank; i++)
            if (na < 0 && gd__sym_is(x->d[i]))
                return 0;
            else if (na < 0 ? x->d[i] != 1 : !mark[i])
                o->d[o->rank++] = x->d[i];
            else if (x->d[i] != 1 && !gd__sym_is(x->d[i]))
                return 0;
        return 1;
    }
    for (int i = 0, j = 0; i < orank; i++)
        o->d[o->rank++] = mark[i] ? 1 : x->d[j++];
    return 1;
}

static int infer_reduce(const struct gd_engine_model *m, const struct gd_node *n,
                        const struct shp *x, struct shp *o)
{
    int64_t axes[GD_TENSOR_MAX_RANK];
    int na = get_axes(m, n, 1, axes), mark[GD_TENSOR_MAX_RANK] = {0};
    int keep = (int)attr_i(n, "keepdims", 1);
    if (na == -2 || (na < 0 && n->n_in > 1 && n->in[1] >= 0))
        return 0;
    if (na <= 0 && attr_i(n, "noop_with_empty_axes", 0))
        return *o = *x, 1;
    for (int i = 0; i < x->rank; i++)
        mark[i] = na <= 0;
    for (int i = 0; i < na; i++) {
        int ax;
        if (gd_axis_normalize(axes[i], x->rank, &ax))
            return 0;
        mark[ax] = 1;
    }
    o->dt = x->dt;
    o->rank = 0;
    for (int i = 0; i < x->rank; i++)
        if (!mark[i])
            o->d[o->rank++] = x->d[i];
        else if (keep)
            o->d[o->rank++] = 1;
    return 1;
}

static int infer_layout(struct gd_infer *I, const struct gd_node *n, const struct shp *x,
                        struct shp *o)
{
    const struct gd_engine_model *m = I->m;
    const char *op = n->op_type;
    int ax;
    *o = *x;
    if (strcmp(op, "Flatten") == 0) {
        int64_t a = attr_i(n, "axis", 1);
        if (a < 0)
            a += x->rank;
        if (a < 0 || a > x->rank)
            return 0;
        o->rank = 2;
        o->d[0] = gd__sym_prod(&I->sym, (int)a, x->d);
        o->d[1] = gd__sym_prod(&I->sym, x->rank - (int)a, x->d + a);
        return o->d[0] != GD_SYM_NONE && o->d[1] != GD_SYM_NONE;
    }
    if (strcmp(op, "Transpose") == 0) {
        const int64_t *p = NULL;
        int np = attr_ints(n, "perm", &p);
        for (int i = 0; i < x->rank; i++) {
            int64_t src = np == x->rank ? p[i] : x->rank - 1 - i;
            if (src < 0 || src >= x->rank)
                return 0;
            o->d[i] = x->d[src];
        }
        return 1;
    }
    if (strcmp(op, "Reshape") == 0)
        return infer_reshape(I, n, x, o);
    if (strcmp(op, "Unsqueeze") == 0 || strcmp(op, "Squeeze") == 0)
        return infer_unsqueeze(m, n, x, o, op[0] == 'S');
    if (strcmp(op, "Shape") == 0 && !attr(n, "start", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) &&
        !attr(n, "end", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT))
        return o->dt = GD_DTYPE_INT64, o->rank = 1, o->d[0] = x->rank, 1;
    if (strcmp(op, "Cast") == 0) {
        int64_t to = attr_i(n, "to", 0);
        if (to <= 0 || to > GD_DTYPE_UINT64 || gd_dtype_size((enum gd_dtype)to) == 0)
            return 0;
        return o->dt = (enum gd_dtype)to, 1;
    }
    if (strcmp(op, "GlobalAveragePool") == 0 || strcmp(op, "GlobalMaxPool") == 0) {
        for (int i = 2; i < x->rank; i++)
            o->d[i] = 1;
        return x->rank >= 3;
    }
    if (strcmp(op, "Concat") == 0) {
        if (gd_axis_normalize(attr_i(n, "axis", 0), x->rank, &ax))
            return 0;
        o->d[ax] = 0;
        for (int i = 0; i < n->n_in; i++) {
            struct shp s;
            if (!known(I, n->in[i], &s) || s.rank != x->rank)
                return 0;
            o->d[ax] = gd__sym_arith(&I->sym, '+', o->d[ax], s.d[ax]);
            if (o->d[ax] == GD_SYM_NONE)
                return 0;
        }
        return 1;
    }
    if (in_list(op, (const char *const[]){"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
                                          "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
                                          "ReduceLogSumExp", "ReduceSumSquare", NULL}))
        return infer_reduce(m, n, x, o);
    return 0;
}

/* Output 0 of node n from its inputs, for the ops above. */
static int infer_node(struct gd_infer *I, const struct gd_node *n, struct shp *o)
{
    struct shp x, w;
    struct gd_shape_contents c;
    const char *op = n->op_type;
    if (*n->domain || n->n_in < 1)
        return 0;
    if (strcmp(op, "ConstantOfShape") == 0 && gd__infer_contents(I, n->in[0], &c)) {
        const struct gd_attr *v = attr(n, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
        o->dt = v && v->t ? v->t->dtype : GD_DTYPE_FLOAT;
        o->rank = c.n;
        memcpy(o->d, c.c, sizeof(int64_t) * (size_t)c.n);
        for (int i = 0; i < c.n; i++)
            if (c.c[i] == -1)
                return 0;
        return 1;
    }
    if (!known(I, n->in[0], &x))
        return 0;
    if (strcmp(op, "Expand") == 0 && n->n_in == 2 && gd__infer_contents(I, n->in[1], &c)) {
        for (int i = 0; i < c.n; i++)
            if (c.c[i] == -1)
                return 0;
        o->dt = x.dt;
        return !gd__sym_bcast(&I->sym, x.rank, x.d, c.n, c.c, &o->rank, o->d);
    }
    if (in_list(op, same_shape_ops))
        return *o = x, 1;
    if (in_list(op, bcast_ops) || in_list(op, cmp_ops)) {
        o->dt = in_list(op, cmp_ops) ? GD_DTYPE_BOOL : x.dt;
        return bcast(I, n, 0, o);
    }
    if (strcmp(op, "Where") == 0 && n->n_in == 3 && known(I, n->in[1], &w))
        return o->dt = w.dt, bcast(I, n, 0, o);
    if (strcmp(op, "MatMul") == 0 && n->n_in == 2 && known(I, n->in[1], &w))
        return infer_matmul(I, &x, &w, o);
    if (strcmp(op, "Gemm") == 0 && n->n_in >= 2 && known(I, n->in[1], &w) && x.rank == 2 &&
        w.rank == 2) {
        int ta = attr_i(n, "transA", 0) != 0, tb = attr_i(n, "transB", 0) != 0;
        return o->dt = x.dt, o->rank = 2, o->d[0] = x.d[ta], o->d[1] = w.d[1 - tb], 1;
    }
    if (strcmp(op, "Conv") == 0 && n->n_in >= 2 && known(I, n->in[1], &w))
        return infer_window(I, n, &x, &w, o);
    if (strcmp(op, "MaxPool") == 0 || strcmp(op, "AveragePool") == 0)
        return n->n_out == 1 && infer_window(I, n, &x, NULL, o);
    if (strcmp(op, "Gather") == 0 && n->n_in == 2 && known(I, n->in[1], &w)) {
        int ax;
        if (gd_axis_normalize(attr_i(n, "axis", 0), x.rank, &ax) ||
            x.rank - 1 + w.rank > GD_TENSOR_MAX_RANK)
            return 0;
        o->dt = x.dt;
        o->rank = 0;
        for (int i = 0; i < ax; i++)
            o->d[o->rank++] = x.d[i];
        for (int i = 0; i < w.rank; i++)
            o->d[o->rank++] = w.d[i];
        for (int i = ax + 1; i < x.rank; i++)
            o->d[o->rank++] = x.d[i];
        return 1;
    }
    return infer_layout(I, n, &x, o);
}

/* Split: output k is x with dims[axis] = split[k] (the split input / attribute, else an
 * even split as the op defines it). Returns the output count filled, or 0. */
static int infer_split(struct gd_infer *I, const struct gd_node *n, struct shp *o)
{
    struct shp x;
    int ax, ns = -1;
    int64_t sp[GD_MODEL_MAX_NODE_IO];
    if (*n->domain || strcmp(n->op_type, "Split") || n->n_in < 1 || !known(I, n->in[0], &x) ||
        n->n_out > GD_MODEL_MAX_NODE_IO || gd_axis_normalize(attr_i(n, "axis", 0), x.rank, &ax) ||
        gd__sym_is(x.d[ax]))
        return 0;
    const int64_t *a;
    if (n->opset >= 13 && n->n_in >= 2 && n->in[1] >= 0)
        ns = const_ints(I->m, n->in[1], sp, GD_MODEL_MAX_NODE_IO);
    else if (n->opset < 13 && (ns = attr_ints(n, "split", &a)) >= 0 && ns <= n->n_out)
        memcpy(sp, a, sizeof(int64_t) * (size_t)ns);
    if (ns < 0) { /* even split (opset 18: the last part may be smaller) */
        int64_t per = (x.d[ax] + n->n_out - 1) / n->n_out;
        if (n->opset < 18 && x.d[ax] % n->n_out)
            return 0;
        for (ns = 0; ns < n->n_out; ns++)
            sp[ns] = x.d[ax] - ns * per < per ? x.d[ax] - ns * per : per;
    }
    int64_t total = 0;
    for (int k = 0; k < ns; k++)
        total += sp[k] >= 0 ? sp[k] : -1;
    if (ns != n->n_out || total != x.d[ax])
        return 0;
    for (int k = 0; k < ns; k++) {
        o[k] = x;
        o[k].d[ax] = sp[k];
    }
    return ns;
}

/* Records the inferred shape o for value vi: declared numbers win, the open dims take the
 * inferred number or symbol. dims keeps -1 for an open dim (the plan sizes only values
 * whose dims are all numbers); sdims holds the symbols. */
static int set_value(struct gd_infer *I, int vi, const struct shp *o)
{
    struct gd_engine_model *m = I->m;
    struct gd_value *v = &m->values[vi];
    if (v->kind != GD_VALUE_INTERMEDIATE || o->rank < 0 || o->rank > GD_TENSOR_MAX_RANK ||
        (v->rank >= 0 && v->dims && v->rank != o->rank))
        return 0;
    int64_t numel = 1;
    for (int d = 0; d < o->rank; d++)
        if (!gd__sym_is(o->d[d]) && (o->d[d] < 0 || __builtin_mul_overflow(numel, o->d[d], &numel)))
            return 0;
    size_t sz = sizeof(int64_t) * (size_t)(o->rank ? o->rank : 1);
    int64_t *sd = gd_arena_alloc(&m->arena, sz);
    if (!sd)
        return GD_ENOMEM;
    if (v->rank < 0 || !v->dims) {
        if (!(v->dims = gd_arena_alloc(&m->arena, sz)))
            return GD_ENOMEM;
        for (int d = 0; d < o->rank; d++)
            v->dims[d] = -1;
        v->rank = o->rank;
    }
    for (int d = 0; d < o->rank; d++) {
        if (v->dims[d] < 0 && !gd__sym_is(o->d[d]))
            v->dims[d] = o->d[d];
        sd[d] = v->dims[d] >= 0 ? v->dims[d] : o->d[d];
    }
    v->sdims = sd;
    if (v->dtype == GD_DTYPE_UNDEFINED)
        v->dtype = o->dt;
    return 0;
}

/* Symbolic dims for the declared shapes (graph inputs, value_info): dim_param names map to
 * symbols, unnamed open dims get a fresh one each. */
static int declare_symbols(struct gd_infer *I)
{
    struct gd_engine_model *m = I->m;
    for (int vi = 0; vi < m->n_values; vi++) {
        struct gd_value *v = &m->values[vi];
        I->cv[vi].n = -1;
        if (v->kind == GD_VALUE_CONST || v->rank < 0 || !v->dims)
            continue;
        int64_t *sd = gd_arena_alloc(&m->arena, sizeof(int64_t) * (size_t)(v->rank ? v->rank : 1));
        if (!sd)
            return GD_ENOMEM;
        for (int d = 0; d < v->rank; d++)
            sd[d] = v->dims[d] >= 0                        ? v->dims[d]
                    : v->syms && v->syms[d] && *v->syms[d] ? gd__sym_named(&I->sym, v->syms[d])
                                                           : gd__sym_fresh(&I->sym);
        v->sdims = sd;
    }
    return 0;
}

int gd__same_shape(const struct gd_value *a, const struct gd_value *b)
{
    return a->rank >= 0 && a->rank == b->rank && a->sdims && b->sdims && a->dtype == b->dtype &&
           !memcmp(a->sdims, b->sdims, sizeof(int64_t) * (size_t)a->rank);
}

int gd__shape_infer(struct gd_engine_model *m)
{
    struct gd_infer *I = gd_calloc(1, sizeof *I);
    struct shp *so = gd_malloc(sizeof *so * GD_MODEL_MAX_NODE_IO);
    int rc = I && so ? 0 : GD_ENOMEM;
    if (!rc) {
        I->m = m;
        gd__sym_init(&I->sym);
        I->cv = gd_malloc(sizeof *I->cv * (size_t)(m->n_values + 1));
        rc = I->cv ? declare_symbols(I) : GD_ENOMEM;
    }
    for (int i = 0; !rc && i < m->n_nodes; i++) {
        const struct gd_node *n = &m->nodes[i];
        int ns = infer_split(I, n, so);
        for (int k = 0; !rc && k < ns; k++)
            if (n->out[k] >= 0)
                rc = set_value(I, n->out[k], &so[k]);
        struct shp o;
        if (!rc && !ns && n->n_out >= 1 && n->out[0] >= 0 && infer_node(I, n, &o))
            rc = set_value(I, n->out[0], &o);
        if (!rc)
            gd__infer_track_contents(I, n);
    }
    if (I)
        gd_free(I->cv);
    gd_free(I);
    gd_free(so);
    return rc;
}
