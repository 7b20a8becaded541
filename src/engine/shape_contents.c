/* Contents of shape tensors at load time (shape_infer.h).
 *
 * Exporters compute Reshape targets from the input's own shape when an axis is open:
 * Shape(x) -> Gather(0) -> Unsqueeze -> Concat(.., 12, 64) -> Reshape. Following those
 * small integer tensors element by element (numbers and symbols) gives the Reshape its
 * target, so shapes stay known through a transformer whose batch axis is open. */
#include <string.h>

#include "engine/shape_infer.h"
#include "onnx.pb-c.h"

int gd__infer_contents(const struct gd_infer *I, int v, struct gd_shape_contents *c)
{
    if (v < 0)
        return 0;
    const struct gd_value *val = &I->m->values[v];
    if (val->kind == GD_VALUE_CONST) {
        if (val->konst->rank > 1)
            return 0;
        int64_t n = gd_tensor_to_i64s(val->konst, c->c, GD_TENSOR_MAX_RANK);
        if (n < 0)
            return 0;
        for (int64_t i = 0; i < n; i++)
            if (c->c[i] < -1) /* only -1 (Reshape's "infer") may be negative */
                return 0;
        c->n = (int)n;
        return 1;
    }
    if (I->cv[v].n < 0)
        return 0;
    *c = I->cv[v];
    return 1;
}

static int is(const struct gd_node *n, const char *op)
{
    return strcmp(n->op_type, op) == 0;
}

/* [s, e) as Shape and Slice read them: negatives count from n, then clamped to [0, n]. */
static void clamp_range(int64_t *s, int64_t *e, int64_t n)
{
    *s = *s < 0 ? *s + n : *s;
    *e = *e < 0 ? *e + n : *e;
    *s = *s < 0 ? 0 : *s > n ? n : *s;
    *e = *e < 0 ? 0 : *e > n ? n : *e;
}

/* Shape(x) with optional start / end (opset 15). */
static int shape_of(const struct gd_infer *I, const struct gd_node *n, struct gd_shape_contents *o)
{
    struct shp x;
    if (!gd__infer_known(I, n->in[0], &x))
        return 0;
    int64_t s = gd__infer_attr_i(n, "start", 0), e = gd__infer_attr_i(n, "end", x.rank);
    clamp_range(&s, &e, x.rank);
    o->n = 0;
    for (int64_t i = s; i < e; i++)
        o->c[o->n++] = x.d[i];
    return 1;
}

static int gather(const struct gd_infer *I, const struct gd_node *n, struct gd_shape_contents *o)
{
    struct gd_shape_contents x, idx;
    if (n->n_in != 2 || gd__infer_attr_i(n, "axis", 0) != 0 ||
        !gd__infer_contents(I, n->in[0], &x) || !gd__infer_contents(I, n->in[1], &idx))
        return 0;
    o->n = idx.n;
    for (int i = 0; i < idx.n; i++) {
        int64_t k = idx.c[i] < 0 ? idx.c[i] + x.n : idx.c[i];
        if (k < 0 || k >= x.n)
            return 0;
        o->c[i] = x.c[k];
    }
    return 1;
}

static int concat(const struct gd_infer *I, const struct gd_node *n, struct gd_shape_contents *o)
{
    o->n = 0;
    for (int i = 0; i < n->n_in; i++) {
        struct gd_shape_contents p;
        if (!gd__infer_contents(I, n->in[i], &p) || o->n + p.n > GD_TENSOR_MAX_RANK)
            return 0;
        memcpy(o->c + o->n, p.c, sizeof(int64_t) * (size_t)p.n);
        o->n += p.n;
    }
    return 1;
}

/* Slice of a 1-D contents with constant starts / ends / axes (0) / steps (1). */
static int slice(const struct gd_infer *I, const struct gd_node *n, struct gd_shape_contents *o)
{
    struct gd_shape_contents x, st, en, ax, sp;
    if (n->opset < 10 || n->n_in < 3 || !gd__infer_contents(I, n->in[0], &x) ||
        !gd__infer_contents(I, n->in[1], &st) || !gd__infer_contents(I, n->in[2], &en) ||
        st.n != 1 || en.n != 1)
        return 0;
    if (n->n_in > 3 && n->in[3] >= 0 &&
        (!gd__infer_contents(I, n->in[3], &ax) || ax.n != 1 || (ax.c[0] != 0 && ax.c[0] != -1)))
        return 0;
    if (n->n_in > 4 && n->in[4] >= 0 &&
        (!gd__infer_contents(I, n->in[4], &sp) || sp.n != 1 || sp.c[0] != 1))
        return 0;
    int64_t s = st.c[0], e = en.c[0];
    clamp_range(&s, &e, x.n);
    o->n = 0;
    for (int64_t i = s; i < e; i++)
        o->c[o->n++] = x.c[i];
    return 1;
}

/* Elementwise Add / Sub / Mul / Div of contents (a one-element side broadcasts). */
static int arith(struct gd_infer *I, const struct gd_node *n, char op, struct gd_shape_contents *o)
{
    struct gd_shape_contents a, b;
    if (n->n_in != 2 || !gd__infer_contents(I, n->in[0], &a) ||
        !gd__infer_contents(I, n->in[1], &b) || (a.n != b.n && a.n != 1 && b.n != 1))
        return 0;
    o->n = a.n > b.n ? a.n : b.n;
    for (int i = 0; i < o->n; i++) {
        int64_t x = a.c[a.n == 1 ? 0 : i], y = b.c[b.n == 1 ? 0 : i];
        if (x == -1 || y == -1 || (o->c[i] = gd__sym_arith(&I->sym, op, x, y)) == GD_SYM_NONE)
            return 0;
    }
    return 1;
}

void gd__infer_track_contents(struct gd_infer *I, const struct gd_node *n)
{
    struct gd_shape_contents o = {.n = -1};
    if (*n->domain || n->n_in < 1 || n->n_out < 1 || n->out[0] < 0)
        return;
    int v = n->out[0], ok = 0;
    if (is(n, "Shape"))
        ok = shape_of(I, n, &o);
    else if (is(n, "Gather"))
        ok = gather(I, n, &o);
    else if (is(n, "Concat"))
        ok = concat(I, n, &o);
    else if (is(n, "Slice"))
        ok = slice(I, n, &o);
    else if (is(n, "Add") || is(n, "Sub") || is(n, "Mul") || is(n, "Div"))
        ok = arith(I, n, is(n, "Add") ? '+' : is(n, "Sub") ? '-' : is(n, "Mul") ? '*' : '/', &o);
    else if (is(n, "Unsqueeze") || is(n, "Squeeze") || is(n, "Identity"))
        ok = gd__infer_contents(I, n->in[0], &o);
    else if (is(n, "Cast")) {
        int64_t to = gd__infer_attr_i(n, "to", 0);
        ok = (to == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ||
              to == ONNX__TENSOR_PROTO__DATA_TYPE__INT32) &&
             gd__infer_contents(I, n->in[0], &o);
    }
    if (ok)
        I->cv[v] = o;
}
