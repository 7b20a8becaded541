/* Linear quantization: QuantizeLinear, DequantizeLinear (per-tensor scale/zero point, or
 * per-axis 1-D ones since opset 13) and DynamicQuantizeLinear (uint8, scale from the
 * data's range including 0). Rounding is half to even (nearbyint), results saturate to the
 * target integer range, as the ONNX spec requires. */
#include <math.h>
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

/* Per-tensor or per-axis parameter layout: element e uses param index (e / inner) % n. */
struct qparam {
    int64_t n, inner;
};

static int qlayout(struct gd_op_ctx *ctx, const struct gd_tensor *x, const struct gd_tensor *s,
                   const struct gd_tensor *zp, struct qparam *q)
{
    int ax;
    q->n = 1, q->inner = 1;
    if (s->numel == 1 && (!zp || zp->numel == 1))
        return 0;
    if (s->rank != 1 || (zp && zp->numel != s->numel))
        return gd_op_fail(ctx, GD_EINVAL, "scale/zero point must be scalars or equal 1-D");
    if (gd_axis_normalize(gd_op_attr_int(ctx, "axis", 1), x->rank, &ax) || x->dims[ax] != s->numel)
        return gd_op_fail(ctx, GD_EINVAL, "per-axis scale does not match the axis dim");
    q->n = s->numel;
    q->inner = gd__ot_prod(x->dims, ax + 1, x->rank);
    return 0;
}

static double qmin_of(enum gd_dtype dt)
{
    return dt == GD_DTYPE_INT8 ? -128 : dt == GD_DTYPE_INT32 ? -2147483648.0 : 0;
}

static double qmax_of(enum gd_dtype dt)
{
    return dt == GD_DTYPE_INT8 ? 127 : dt == GD_DTYPE_INT32 ? 2147483647.0 : 255;
}

static int quantize_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc), *s = x ? gd__ot_need(ctx, 1, &rc) : 0;
    const struct gd_tensor *zp = gd_op_input(ctx, 2);
    struct qparam q;
    if (!s)
        return rc;
    enum gd_dtype dt = zp ? zp->dtype : GD_DTYPE_UINT8;
    if ((dt != GD_DTYPE_UINT8 && dt != GD_DTYPE_INT8) || x->dtype == GD_DTYPE_STRING ||
        !gd_dtype_is_float(s->dtype))
        return gd_op_fail(ctx, GD_ENOTSUP, "quantize to %s", gd_dtype_name(dt));
    if ((rc = qlayout(ctx, x, s, zp, &q)))
        return rc;
    struct gd_tensor *y = gd_op_output(ctx, 0, dt, x->rank, x->dims);
    double *v = gd_op_scratch(ctx, (size_t)(x->numel ? x->numel : 1) * sizeof *v);
    if (!y || !v)
        return GD_ENOMEM;
    gd__ot_load_f64(x, 0, x->numel, v);
    double lo = qmin_of(dt), hi = qmax_of(dt);
    for (int64_t e = 0; e < x->numel; e++) {
        int64_t p = (e / q.inner) % q.n;
        double sc = gd_tensor_get_f64(s, p), z = zp ? gd_tensor_get_f64(zp, p) : 0;
        double r = nearbyint(x->dtype == GD_DTYPE_DOUBLE ? v[e] / sc : (float)v[e] / (float)sc) + z;
        v[e] = r != r ? lo : r < lo ? lo : r > hi ? hi : r;
    }
    gd__ot_store_f64(y, 0, y->numel, v);
    return 0;
}

static int dequantize_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc), *s = x ? gd__ot_need(ctx, 1, &rc) : 0;
    const struct gd_tensor *zp = gd_op_input(ctx, 2);
    struct qparam q;
    if (!s)
        return rc;
    if (!gd_dtype_is_int(x->dtype) || !gd_dtype_is_float(s->dtype))
        return gd_op_fail(ctx, GD_ENOTSUP, "dequantize %s", gd_dtype_name(x->dtype));
    if ((rc = qlayout(ctx, x, s, zp, &q)))
        return rc;
    struct gd_tensor *y = gd_op_output(ctx, 0, s->dtype, x->rank, x->dims);
    if (!y)
        return GD_ENOMEM;
    for (int64_t e = 0; e < x->numel; e++) {
        int64_t p = (e / q.inner) % q.n;
        double z = zp ? gd_tensor_get_f64(zp, p) : 0;
        gd_tensor_set_f64(y, e, (gd_tensor_get_f64(x, e) - z) * gd_tensor_get_f64(s, p));
    }
    return 0;
}

static int dynamic_quantize_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    if (!gd_dtype_is_float(x->dtype))
        return gd_op_fail(ctx, GD_EINVAL, "input must be floating point");
    struct gd_tensor *y = gd_op_output(ctx, 0, GD_DTYPE_UINT8, x->rank, x->dims);
    struct gd_tensor *ys = y ? gd_op_output(ctx, 1, GD_DTYPE_FLOAT, 0, NULL) : NULL;
    struct gd_tensor *yz = ys ? gd_op_output(ctx, 2, GD_DTYPE_UINT8, 0, NULL) : NULL;
    double *v = gd_op_scratch(ctx, (size_t)(x->numel ? x->numel : 1) * sizeof *v);
    if (!yz || !v)
        return GD_ENOMEM;
    gd__ot_load_f64(x, 0, x->numel, v);
    double mn = 0, mx = 0;
    for (int64_t e = 0; e < x->numel; e++)
        mn = v[e] < mn ? v[e] : mn, mx = v[e] > mx ? v[e] : mx;
    float scale = (float)((mx - mn) / 255.0);
    double z = scale > 0 ? nearbyint(0 - (float)mn / scale) : 0; /* float32 like the spec */
    z = z != z ? 0 : z < 0 ? 0 : z > 255 ? 255 : z;              /* NaN with infinite inputs */
    *(float *)ys->data = scale;
    *(uint8_t *)yz->data = (uint8_t)z;
    for (int64_t e = 0; e < x->numel; e++) {
        double r = scale > 0 ? nearbyint((float)v[e] / scale) + z : z;
        v[e] = r != r ? 0 : r < 0 ? 0 : r > 255 ? 255 : r;
    }
    gd__ot_store_f64(y, 0, y->numel, v);
    return 0;
}

const struct gd_op_def gd_ops_quant[] = {
    {"", "QuantizeLinear", 10, 0, quantize_run, 0},
    {"", "DequantizeLinear", 10, 0, dequantize_run, 0},
    {"", "DynamicQuantizeLinear", 11, 0, dynamic_quantize_run, 0},
    {0},
};
