/* Quantized convolutions: ConvInteger (int32 result of conv(X - x_zp, W - w_zp)) and
 * QLinearConv (the same rescaled by x_scale * w_scale / y_scale, plus an int32 bias in
 * that scale, rounded half to even, plus y_zp, saturated to 8 bits).
 *
 * X and W are widened to float64 with zero points removed and run through the float Conv
 * paths (exact: 8-bit products summed in double). Padding therefore contributes the zero
 * point, i.e. 0 after subtraction, as the spec requires. w_zp / w_scale are scalars or per
 * output channel. */
#include <math.h>
#include <string.h>

#include "engine/op.h"
#include "engine/ops/conv.h"
#include "engine/ops/registry.h"

/* Float64 copy of t minus zero point zp (scalar, or per dim-0 slice when per_m). */
static int widen(struct gd_op_ctx *ctx, const struct gd_tensor *t, const struct gd_tensor *zp,
                 int per_m, struct gd_tensor *out)
{
    if (t->dtype != GD_DTYPE_INT8 && t->dtype != GD_DTYPE_UINT8)
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s not supported", gd_dtype_name(t->dtype));
    int64_t m = t->rank ? t->dims[0] : 1, per = m ? t->numel / m : 0;
    if (zp && zp->numel != 1 && (!per_m || zp->numel != m))
        return gd_op_fail(ctx, GD_EINVAL, "zero point must be a scalar%s",
                          per_m ? " or have one value per output channel" : "");
    *out = *t;
    out->dtype = GD_DTYPE_DOUBLE;
    out->nbytes = (size_t)t->numel * sizeof(double);
    out->owns_data = 0;
    double *d = gd_op_scratch(ctx, out->nbytes ? out->nbytes : 1);
    if (!(out->data = d))
        return GD_ENOMEM;
    for (int64_t i = 0; i < t->numel; i++) {
        double z = !zp              ? 0
                   : zp->numel == 1 ? gd_tensor_get_f64(zp, 0)
                                    : gd_tensor_get_f64(zp, per ? i / per : 0);
        d[i] = gd_tensor_get_f64(t, i) - z;
    }
    return 0;
}

/* conv(widen(x), widen(w)) into a float64 tensor header over scratch. */
static int int_conv(struct gd_op_ctx *ctx, int ix, int ixz, int iw, int iwz, struct gd_tensor *y)
{
    const struct gd_tensor *x = gd_op_input(ctx, ix), *w = gd_op_input(ctx, iw);
    struct gd_tensor wx, ww;
    struct gd_conv_geom g;
    int64_t dims[GD_TENSOR_MAX_RANK], group = gd_op_attr_int(ctx, "group", 1);
    int rc;
    if (!x || !w)
        return gd_op_fail(ctx, GD_EINVAL, "missing input");
    if ((rc = widen(ctx, x, gd_op_input(ctx, ixz), 0, &wx)) ||
        (rc = widen(ctx, w, gd_op_input(ctx, iwz), 1, &ww)) ||
        (rc = gd__conv_prepare(ctx, &wx, &ww, NULL, group, &g, dims)))
        return rc;
    memset(y, 0, sizeof *y);
    if (gd_tensor_set_shape(y, GD_DTYPE_DOUBLE, x->rank, dims))
        return gd_op_fail(ctx, GD_ERANGE, "output too large");
    if (!(y->data = gd_op_scratch(ctx, y->nbytes ? y->nbytes : 1)))
        return GD_ENOMEM;
    return gd__conv_exec(ctx, &wx, &ww, NULL, group, &g, y);
}

static int convint_run(struct gd_op_ctx *ctx)
{
    struct gd_tensor acc;
    int rc = int_conv(ctx, 0, 2, 1, 3, &acc);
    if (rc)
        return rc;
    struct gd_tensor *y = gd_op_output(ctx, 0, GD_DTYPE_INT32, acc.rank, acc.dims);
    if (!y)
        return GD_ENOMEM;
    for (int64_t i = 0; i < y->numel; i++)
        ((int32_t *)y->data)[i] = (int32_t)(int64_t)((double *)acc.data)[i];
    return 0;
}

static int qlinearconv_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *xs = gd_op_input(ctx, 1), *ws = gd_op_input(ctx, 4),
                           *ys = gd_op_input(ctx, 6), *yz = gd_op_input(ctx, 7),
                           *b = gd_op_input(ctx, 8);
    if (!xs || !ws || !ys || xs->numel != 1 || ys->numel != 1 || (yz && yz->numel != 1))
        return gd_op_fail(ctx, GD_EINVAL, "x_scale, y_scale, y_zero_point must be scalars");
    struct gd_tensor acc;
    int rc = int_conv(ctx, 0, 2, 3, 5, &acc);
    if (rc)
        return rc;
    int64_t m = acc.dims[1], nm = acc.dims[0] * m, plane = nm > 0 ? acc.numel / nm : 0;
    if ((ws->numel != 1 && ws->numel != m) || (b && b->numel != m))
        return gd_op_fail(ctx, GD_EINVAL, "w_scale / bias must have 1 or %lld values",
                          (long long)m);
    enum gd_dtype dt = yz ? yz->dtype : GD_DTYPE_UINT8;
    if (dt != GD_DTYPE_UINT8 && dt != GD_DTYPE_INT8)
        return gd_op_fail(ctx, GD_ENOTSUP, "output dtype %s not supported", gd_dtype_name(dt));
    struct gd_tensor *y = gd_op_output(ctx, 0, dt, acc.rank, acc.dims);
    if (!y)
        return GD_ENOMEM;
    double lo = dt == GD_DTYPE_UINT8 ? 0 : -128, hi = dt == GD_DTYPE_UINT8 ? 255 : 127;
    double sx = gd_tensor_get_f64(xs, 0), sy = gd_tensor_get_f64(ys, 0);
    double zy = yz ? gd_tensor_get_f64(yz, 0) : 0;
    for (int64_t i = 0; i < y->numel; i++) {
        int64_t c = plane ? (i / plane) % m : 0;
        double sw = gd_tensor_get_f64(ws, ws->numel == 1 ? 0 : c);
        double v = ((double *)acc.data)[i] + (b ? gd_tensor_get_f64(b, c) : 0);
        v = nearbyint(v * sx * sw / sy) + zy;
        v = v < lo ? lo : v > hi ? hi : v;
        gd_tensor_set_f64(y, i, isnan(v) ? zy : v);
    }
    return 0;
}

const struct gd_op_def gd_ops_conv_int[] = {
    {"", "ConvInteger", 10, 0, convint_run, 0},
    {"", "QLinearConv", 10, 0, qlinearconv_run, 0},
    {0},
};
