/* Ops that create tensors from a shape or scalars: ConstantOfShape, EyeLike, Range and the
 * Hann/Hamming/Blackman windows.
 * Sizes come from runtime values, so each is checked against the engine's caps by
 * gd_op_output before any memory is touched. */
#include <math.h>
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

static int constant_of_shape_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *s = gd__ot_need(ctx, 0, &rc);
    if (!s)
        return rc;
    int64_t d[GD_TENSOR_MAX_RANK];
    int n = gd__ot_int_list(ctx, 0, NULL, d, GD_TENSOR_MAX_RANK);
    if (n < 0)
        return n;
    for (int i = 0; i < n; i++)
        if (d[i] < 0)
            return gd_op_fail(ctx, GD_EINVAL, "negative dim %lld", (long long)d[i]);
    const struct gd_tensor *v = gd_op_attr_tensor(ctx, "value");
    if (v && v->numel != 1)
        return gd_op_fail(ctx, GD_EINVAL, "value must have exactly one element");
    struct gd_tensor *y = gd_op_output(ctx, 0, v ? v->dtype : GD_DTYPE_FLOAT, n, d);
    if (!y)
        return GD_ENOMEM;
    if (!v)
        return 0; /* float32 zeros */
    size_t es = gd_dtype_size(v->dtype);
    for (int64_t i = 0; i < y->numel; i++)
        memcpy((char *)y->data + i * (int64_t)es, v->data, es);
    return gd__ot_own_strings(ctx, y);
}

static int eyelike_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    if (x->rank != 2)
        return gd_op_fail(ctx, GD_EINVAL, "input must be 2-D");
    int64_t dt = gd_op_attr_int(ctx, "dtype", x->dtype), k = gd_op_attr_int(ctx, "k", 0);
    if (dt <= 0 || dt > GD_DTYPE_UINT64 || dt == GD_DTYPE_STRING || !gd_dtype_size(dt))
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %lld", (long long)dt);
    struct gd_tensor *y = gd_op_output(ctx, 0, (enum gd_dtype)dt, 2, x->dims);
    if (!y)
        return GD_ENOMEM;
    int64_t R = x->dims[0], C = x->dims[1];
    for (int64_t i = 0; i < R; i++) {
        if (k > C || k < -C) /* also keeps i + k from overflowing */
            break;
        int64_t j = i + k;
        if (j >= 0 && j < C)
            gd_tensor_set_f64(y, i * C + j, 1.0);
    }
    return 0;
}

/* Range: output[i] = start + i * delta, length max(ceil((limit - start) / delta), 0). */
static int range_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *a = gd__ot_need(ctx, 0, &rc), *b = a ? gd__ot_need(ctx, 1, &rc) : 0;
    const struct gd_tensor *c = b ? gd__ot_need(ctx, 2, &rc) : 0;
    if (!c)
        return rc;
    double start, limit, delta;
    if ((rc = gd__ot_scalar_f64(ctx, a, "start", &start)) ||
        (rc = gd__ot_scalar_f64(ctx, b, "limit", &limit)) ||
        (rc = gd__ot_scalar_f64(ctx, c, "delta", &delta)))
        return rc;
    if (delta == 0 || isnan(delta) || isnan(start) || isnan(limit))
        return gd_op_fail(ctx, GD_EINVAL, "delta must be non-zero and values not NaN");
    double nf = ceil((limit - start) / delta);
    if (nf > (double)GD_TENSOR_MAX_NUMEL)
        return gd_op_fail(ctx, GD_ERANGE, "range of %g elements too large", nf);
    int64_t n = nf > 0 ? (int64_t)nf : 0;
    struct gd_tensor *y = gd_op_output(ctx, 0, a->dtype, 1, &n);
    if (!y)
        return GD_ENOMEM;
    if (gd_dtype_is_int(a->dtype)) {
        uint64_t s = (uint64_t)gd_tensor_get_i64(a, 0), dl = (uint64_t)gd_tensor_get_i64(c, 0);
        for (int64_t i = 0; i < n; i++) /* exact integer steps (wrapping, never UB) */
            gd_tensor_set_f64(y, i, (double)(int64_t)(s + (uint64_t)i * dl));
        if (a->dtype == GD_DTYPE_INT64)
            for (int64_t i = 0; i < n; i++)
                ((int64_t *)y->data)[i] = (int64_t)(s + (uint64_t)i * dl);
        return 0;
    }
    for (int64_t i = 0; i < n; i++)
        gd_tensor_set_f64(y, i, start + (double)i * delta);
    return 0;
}

/* Hann / Hamming / Blackman windows (opset 17): generalised cosine windows
 * w[n] = a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N), N = size (periodic) or size - 1. */
static int window_run(struct gd_op_ctx *ctx, double a0, double a1, double a2)
{
    int rc = 0;
    int64_t size, dt = gd_op_attr_int(ctx, "output_datatype", GD_DTYPE_FLOAT);
    if ((rc = gd__ot_scalar_i64(ctx, gd_op_input(ctx, 0), "size", &size)))
        return rc;
    if (size < 0 || dt <= 0 || dt > GD_DTYPE_UINT64 || dt == GD_DTYPE_STRING || !gd_dtype_size(dt))
        return gd_op_fail(ctx, GD_EINVAL, "bad size %lld or output_datatype", (long long)size);
    struct gd_tensor *y = gd_op_output(ctx, 0, (enum gd_dtype)dt, 1, &size);
    if (!y)
        return GD_ENOMEM;
    double N = gd_op_attr_int(ctx, "periodic", 1) ? (double)size : (double)size - 1;
    const double pi = 3.14159265358979323846;
    for (int64_t n = 0; n < size; n++) {
        double t = N > 0 ? 2 * pi * (double)n / N : 0;
        gd_tensor_set_f64(y, n, a0 - a1 * cos(t) + a2 * cos(2 * t));
    }
    return 0;
}

static int hann_run(struct gd_op_ctx *ctx)
{
    return window_run(ctx, 0.5, 0.5, 0);
}

static int hamming_run(struct gd_op_ctx *ctx)
{
    return window_run(ctx, 25.0 / 46.0, 1 - 25.0 / 46.0, 0);
}

static int blackman_run(struct gd_op_ctx *ctx)
{
    return window_run(ctx, 0.42, 0.5, 0.08);
}

const struct gd_op_def gd_ops_tensor_create[] = {
    {"", "ConstantOfShape", 9, 0, constant_of_shape_run, 0},
    {"", "EyeLike", 9, 0, eyelike_run, 0},
    {"", "Range", 11, 0, range_run, 0},
    {"", "HannWindow", 17, 0, hann_run, 0},
    {"", "HammingWindow", 17, 0, hamming_run, 0},
    {"", "BlackmanWindow", 17, 0, blackman_run, 0},
    {0},
};
