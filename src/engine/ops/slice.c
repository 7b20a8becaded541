/* Slice: starts/ends/axes as attributes before opset 10, as inputs (with steps) after.
 * Bounds follow the ONNX/numpy clamping rules: negative values count from the end, then
 * starts/ends are clamped to [0, dim] for positive steps and [-1, dim-1] for negative
 * ones, so any int64 value (INT64_MAX as "to the end" included) is safe. The result is
 * one strided view of the input. */
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Fills start/step/len for one axis; returns 0 or GD_EINVAL (step 0). */
static int slice_axis(int64_t dim, int64_t s, int64_t e, int64_t step, int64_t *start, int64_t *len)
{
    if (step == 0)
        return GD_EINVAL;
    if (s < 0)
        s += dim; /* cannot overflow: dim >= 0 */
    if (e < 0)
        e += dim;
    if (step > 0) {
        s = clamp64(s, 0, dim);
        e = clamp64(e, 0, dim);
        *len = e > s ? (e - s - 1) / step + 1 : 0;
    } else {
        s = clamp64(s, -1, dim - 1);
        e = clamp64(e, -1, dim - 1);
        /* ceil((s - e) / -step) without negating step (INT64_MIN) */
        *len = s > e ? (int64_t)((uint64_t)(s - e - 1) / (0 - (uint64_t)step) + 1) : 0;
    }
    *start = s;
    return 0;
}

static int slice_run(struct gd_op_ctx *ctx)
{
    int rc = 0, old = gd_op_opset(ctx) < 10;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    int64_t st[GD_OT_MAX_LIST], en[GD_OT_MAX_LIST], axes[GD_OT_MAX_LIST], steps[GD_OT_MAX_LIST];
    int ax[GD_OT_MAX_LIST];
    int ns = gd__ot_int_list(ctx, old ? -1 : 1, old ? "starts" : NULL, st, GD_OT_MAX_LIST);
    int ne = gd__ot_int_list(ctx, old ? -1 : 2, old ? "ends" : NULL, en, GD_OT_MAX_LIST);
    int na = gd__ot_int_list(ctx, old ? -1 : 3, old ? "axes" : NULL, axes, GD_OT_MAX_LIST);
    int np = old ? -1 : gd__ot_int_list(ctx, 4, NULL, steps, GD_OT_MAX_LIST);
    if (ns < -1 || ne < -1 || na < -1 || np < -1)
        return GD_EINVAL;
    if (ns < 0 || ne != ns || (na >= 0 && na != ns) || (np >= 0 && np != ns))
        return gd_op_fail(ctx, GD_EINVAL, "starts/ends/axes/steps lengths differ or are missing");
    for (int i = 0; na < 0 && i < ns; i++)
        axes[i] = i;
    if ((rc = gd__ot_norm_axes(ctx, axes, ns, x->rank, ax)))
        return rc;
    int64_t xs[GD_TENSOR_MAX_RANK], d[GD_TENSOR_MAX_RANK], vs[GD_TENSOR_MAX_RANK], base = 0;
    gd_tensor_strides(x, xs);
    for (int i = 0; i < x->rank; i++)
        d[i] = x->dims[i], vs[i] = xs[i];
    for (int i = 0; i < ns; i++) {
        int64_t start, len, step = np >= 0 ? steps[i] : 1;
        if (slice_axis(x->dims[ax[i]], st[i], en[i], step, &start, &len))
            return gd_op_fail(ctx, GD_EINVAL, "step 0 on axis %d", ax[i]);
        d[ax[i]] = len;
        vs[ax[i]] = len > 1 ? xs[ax[i]] * step : xs[ax[i]]; /* |step| < dim when len > 1 */
        if (len)
            base += start * xs[ax[i]];
    }
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, x->rank, d);
    if (!y)
        return GD_ENOMEM;
    size_t es = gd_dtype_size(x->dtype);
    if (y->numel)
        gd__ot_strided_copy_par(ctx, y->data, (const char *)x->data + base * (int64_t)es, x->rank,
                                d, vs, es);
    return gd__ot_own_strings(ctx, y);
}

const struct gd_op_def gd_ops_slice[] = {
    {"", "Slice", 1, 0, slice_run, 0},
    {0},
};
