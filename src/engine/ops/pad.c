/* Pad: constant / reflect / edge / wrap, with pads as an attribute ("paddings" in opset 1,
 * "pads" in 2-10, plus a float "value") or as inputs (pads, constant_value since 11, axes
 * since 18). Negative pads crop. Each output axis gets a table mapping output coordinate
 * to source coordinate (or -1 for the constant), so the copy loop is mode-independent. */
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

enum pmode { P_CONSTANT, P_REFLECT, P_EDGE, P_WRAP };

static int64_t map_coord(int64_t c, int64_t d, enum pmode m)
{
    if (c >= 0 && c < d)
        return c;
    if (m == P_CONSTANT || d == 0)
        return -1;
    if (m == P_EDGE)
        return c < 0 ? 0 : d - 1;
    if (m == P_WRAP)
        return ((c % d) + d) % d;
    if (d == 1)
        return 0;
    int64_t period = 2 * (d - 1); /* reflect without repeating the edge */
    c %= period;
    if (c < 0)
        c += period;
    return c < d ? c : period - c;
}

/* Reads the begin/end pads of every axis into b/e. */
static int read_pads(struct gd_op_ctx *ctx, const struct gd_tensor *x, int64_t *b, int64_t *e)
{
    int64_t p[GD_OT_MAX_LIST], axes[GD_OT_MAX_LIST];
    int ax[GD_OT_MAX_LIST], rc, op = gd_op_opset(ctx), r = x->rank;
    int n = gd__ot_int_list(ctx, op >= 11 ? 1 : -1,
                            op >= 11  ? NULL
                            : op >= 2 ? "pads"
                                      : "paddings",
                            p, GD_OT_MAX_LIST);
    int na = op >= 18 ? gd__ot_int_list(ctx, 3, NULL, axes, GD_OT_MAX_LIST) : -1;
    if (n < -1 || na < -1)
        return GD_EINVAL;
    if (n < 0)
        return gd_op_fail(ctx, GD_EINVAL, "missing pads");
    if (na < 0) {
        na = r;
        for (int i = 0; i < r; i++)
            axes[i] = i;
    }
    if (n != 2 * na)
        return gd_op_fail(ctx, GD_EINVAL, "pads has %d values, expected %d", n, 2 * na);
    if ((rc = gd__ot_norm_axes(ctx, axes, na, r, ax)))
        return rc;
    for (int i = 0; i < r; i++)
        b[i] = e[i] = 0;
    for (int i = 0; i < na; i++) {
        b[ax[i]] = p[i], e[ax[i]] = p[na + i];
        if (b[ax[i]] < -GD_TENSOR_MAX_NUMEL || b[ax[i]] > GD_TENSOR_MAX_NUMEL ||
            e[ax[i]] < -GD_TENSOR_MAX_NUMEL || e[ax[i]] > GD_TENSOR_MAX_NUMEL ||
            x->dims[ax[i]] + b[ax[i]] + e[ax[i]] < 0)
            return gd_op_fail(ctx, GD_EINVAL, "invalid pads for axis %d", ax[i]);
    }
    return 0;
}

/* The constant as one element of x's dtype, in val (at least 16 bytes). */
static int pad_value(struct gd_op_ctx *ctx, const struct gd_tensor *x, unsigned char *val)
{
    struct gd_tensor t = {.dtype = x->dtype, .numel = 1, .data = val};
    memset(val, 0, 16);
    if (x->dtype == GD_DTYPE_STRING)
        return 0; /* empty strings */
    double v = gd_op_attr_float(ctx, "value", 0);
    if (gd_op_opset(ctx) >= 11) {
        const struct gd_tensor *c = gd_op_input(ctx, 2);
        v = 0;
        if (c && c->numel >= 1 && c->dtype == x->dtype) {
            memcpy(val, c->data, gd_dtype_size(x->dtype));
            return 0;
        }
        if (c && c->numel >= 1 && c->dtype != GD_DTYPE_STRING)
            v = gd_tensor_get_f64(c, 0);
    }
    gd__ot_store_f64(&t, 0, 1, &v);
    return 0;
}

static int pad_run(struct gd_op_ctx *ctx)
{
    int rc = 0, r;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    const char *ms = gd_op_attr_string(ctx, "mode", "constant");
    enum pmode m = strcmp(ms, "reflect") == 0 ? P_REFLECT
                   : strcmp(ms, "edge") == 0  ? P_EDGE
                   : strcmp(ms, "wrap") == 0  ? P_WRAP
                                              : P_CONSTANT;
    if (m == P_CONSTANT && strcmp(ms, "constant") != 0)
        return gd_op_fail(ctx, GD_EINVAL, "unknown mode '%s'", ms);
    int64_t b[GD_TENSOR_MAX_RANK], e[GD_TENSOR_MAX_RANK], d[GD_TENSOR_MAX_RANK];
    int64_t xs[GD_TENSOR_MAX_RANK], idx[GD_TENSOR_MAX_RANK] = {0}, *map[GD_TENSOR_MAX_RANK];
    unsigned char val[16];
    if ((rc = read_pads(ctx, x, b, e)) || (rc = pad_value(ctx, x, val)))
        return rc;
    r = x->rank;
    for (int i = 0; i < r; i++) {
        d[i] = x->dims[i] + b[i] + e[i];
        if (m != P_CONSTANT && x->dims[i] == 0 && d[i] > 0)
            return gd_op_fail(ctx, GD_EINVAL, "cannot %s-pad an empty axis %d", ms, i);
    }
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, r, d);
    if (!y)
        return GD_ENOMEM;
    if (y->numel == 0)
        return 0;
    for (int i = 0; i < r; i++) {
        if (!(map[i] = gd_op_scratch(ctx, (size_t)d[i] * sizeof(int64_t))))
            return GD_ENOMEM;
        for (int64_t o = 0; o < d[i]; o++)
            map[i][o] = map_coord(o - b[i], x->dims[i], m);
    }
    gd_tensor_strides(x, xs);
    size_t es = gd_dtype_size(x->dtype);
    char *yp = y->data;
    for (int64_t k = 0; k < y->numel; k++, yp += es) {
        int64_t off = 0;
        int out = 0;
        for (int i = 0; i < r; i++) {
            int64_t s = map[i][idx[i]];
            out |= s < 0;
            off += s * xs[i];
        }
        memcpy(yp, out ? (const char *)val : (const char *)x->data + off * (int64_t)es, es);
        for (int i = r - 1; i >= 0; i--) {
            if (++idx[i] < d[i])
                break;
            idx[i] = 0;
        }
    }
    return gd__ot_own_strings(ctx, y);
}

const struct gd_op_def gd_ops_pad[] = {
    {"", "Pad", 1, 0, pad_run, 0},
    {0},
};
