/* BatchNormalization, LRN and MeanVarianceNormalization.
 *
 * BatchNormalization folds the statistics into one multiply-add per channel:
 * y = x * a[c] + b[c], a = scale / sqrt(var + eps), b = bias - mean * a. In training mode
 * (opset 14+ attribute, also the opset 9- form with more than one output) the batch mean
 * and population variance over (N, spatial) replace the inputs, and the running
 * statistics are returned as mean * momentum + batch * (1 - momentum), as the ONNX
 * reference does. LRN sums squares over a channel window [c - (size-1)/2, c + size/2].
 * MVN normalises over `axes` (default N, H, W): (x - mean) / (sqrt(var) + 1e-9). */
#include <math.h>
#include <string.h>

#include "engine/kernels/ew_gen.h"
#include "engine/op.h"
#include "engine/ops/registry.h"

struct bn_job {
    const struct gd_tensor *x;
    struct gd_tensor *y;
    const double *a, *b;
    int64_t c, plane;
};

#define BN_KERNEL(S, T, LD, STO)                                                                   \
    static void bn_##S(const struct bn_job *j, int64_t pb, int64_t pe)                             \
    {                                                                                              \
        for (int64_t p = pb; p < pe; p++) {                                                        \
            const T *x = (const T *)j->x->data + p * j->plane;                                     \
            T *y = (T *)j->y->data + p * j->plane;                                                 \
            double a = j->a[p % j->c], b = j->b[p % j->c];                                         \
            for (int64_t i = 0; i < j->plane; i++)                                                 \
                y[i] = STO(LD(x[i]) * a + b);                                                      \
        }                                                                                          \
    }
#define F32ST(v) ((float)(v))
#define F16ST(v) gd_f32_to_f16((float)(v))
BN_KERNEL(f32, float, EW_ID, F32ST)
BN_KERNEL(f64, double, EW_ID, EW_ID)
BN_KERNEL(f16, gd_f16, EW_F16LD, F16ST)
static void bn_range(void *ud, int64_t b, int64_t e)
{
    const struct bn_job *j = ud;
    if (j->x->dtype == GD_DTYPE_FLOAT)
        bn_f32(j, b, e);
    else if (j->x->dtype == GD_DTYPE_DOUBLE)
        bn_f64(j, b, e);
    else
        bn_f16(j, b, e);
}

/* Batch mean / population variance per channel (training mode). */
static void bn_batch_stats(const struct gd_tensor *x, int64_t c, int64_t plane, double *mean,
                           double *var)
{
    int64_t n = x->dims[0], cnt = n * plane;
    for (int64_t ch = 0; ch < c; ch++) {
        double s = 0, v = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < plane; k++)
                s += gd_tensor_get_f64(x, (i * c + ch) * plane + k);
        double m = cnt ? s / (double)cnt : 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < plane; k++) {
                double t = gd_tensor_get_f64(x, (i * c + ch) * plane + k) - m;
                v += t * t;
            }
        mean[ch] = m;
        var[ch] = cnt ? v / (double)cnt : 0;
    }
}

/* Writes running statistics (outputs 1, 2) for training mode. */
static int bn_running(struct gd_op_ctx *ctx, const struct gd_tensor *in_mean,
                      const struct gd_tensor *in_var, const double *bm, const double *bv, int64_t c)
{
    double mom = gd_op_attr_float(ctx, "momentum", 0.9f);
    for (int k = 1; k <= 2 && k < gd_op_num_outputs(ctx); k++) {
        if (!gd_op_output_wanted(ctx, k))
            continue;
        const struct gd_tensor *src = k == 1 ? in_mean : in_var;
        struct gd_tensor *t = gd_op_output_like(ctx, k, src);
        if (!t)
            return GD_ENOMEM;
        for (int64_t i = 0; i < c; i++)
            gd_tensor_set_f64(
                t, i, gd_tensor_get_f64(src, i) * mom + (k == 1 ? bm[i] : bv[i]) * (1 - mom));
    }
    return 0;
}

static int batchnorm_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0), *t[4];
    for (int i = 0; i < 4; i++)
        if (!(t[i] = gd_op_input(ctx, i + 1)))
            return gd_op_fail(ctx, GD_EINVAL, "missing input %d", i + 1);
    if (!x || x->rank < 2)
        return gd_op_fail(ctx, GD_EINVAL, "X must have rank >= 2");
    if (x->dtype != GD_DTYPE_FLOAT && x->dtype != GD_DTYPE_DOUBLE && x->dtype != GD_DTYPE_FLOAT16)
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s not supported", gd_dtype_name(x->dtype));
    int64_t c = x->dims[1], nc = x->dims[0] * c, plane = nc > 0 ? x->numel / nc : 0;
    for (int i = 0; i < 4; i++)
        if (t[i]->numel != c || gd_dtype_size(t[i]->dtype) == 0 || t[i]->dtype == GD_DTYPE_STRING)
            return gd_op_fail(ctx, GD_EINVAL, "input %d must have %lld elements", i + 1,
                              (long long)c);
    int training = gd_op_opset(ctx) >= 14 ? gd_op_attr_int(ctx, "training_mode", 0) != 0
                                          : gd_op_num_outputs(ctx) > 1;
    double *a = gd_op_scratch(ctx, (size_t)(4 * c + 4) * sizeof(double));
    if (!a)
        return GD_ENOMEM;
    double *b = a + c + 1, *bm = b + c + 1, *bv = bm + c + 1;
    if (training)
        bn_batch_stats(x, c, plane, bm, bv);
    double eps = gd_op_attr_float(ctx, "epsilon", 1e-5f);
    for (int64_t i = 0; i < c; i++) {
        double mean = training ? bm[i] : gd_tensor_get_f64(t[2], i);
        double var = training ? bv[i] : gd_tensor_get_f64(t[3], i);
        a[i] = gd_tensor_get_f64(t[0], i) / sqrt(var + eps);
        b[i] = gd_tensor_get_f64(t[1], i) - mean * a[i];
    }
    struct gd_tensor *y = gd_op_output_like(ctx, 0, x);
    if (!y)
        return GD_ENOMEM;
    struct bn_job j = {x, y, a, b, c, plane};
    gd_op_parallel_for(ctx, x->dims[0] * c, 1, bn_range, &j);
    return training ? bn_running(ctx, t[2], t[3], bm, bv, c) : 0;
}

/* LRN over channels (dim 1) of an [N, C, ...] tensor, computed through double. */
static int lrn_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0);
    if (!x || x->rank < 2)
        return gd_op_fail(ctx, GD_EINVAL, "X must have rank >= 2");
    if (!gd_dtype_is_float(x->dtype))
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s not supported", gd_dtype_name(x->dtype));
    int64_t size = gd_op_attr_int(ctx, "size", 0);
    if (size < 1)
        return gd_op_fail(ctx, GD_EINVAL, "size must be >= 1");
    double alpha = gd_op_attr_float(ctx, "alpha", 1e-4f),
           beta = gd_op_attr_float(ctx, "beta", 0.75f);
    double bias = gd_op_attr_float(ctx, "bias", 1.0f);
    struct gd_tensor *y = gd_op_output_like(ctx, 0, x);
    if (!y)
        return GD_ENOMEM;
    int64_t c = x->dims[1], nc = x->dims[0] * c, plane = nc > 0 ? x->numel / nc : 0;
    int64_t lo = (size - 1) / 2, hi = size / 2; /* window [ch - lo, ch + hi] */
    for (int64_t p = 0; p < nc; p++) {
        int64_t ch = p % c, n0 = p - ch;
        int64_t c0 = ch - lo < 0 ? 0 : ch - lo, c1 = ch + hi >= c ? c - 1 : ch + hi;
        for (int64_t i = 0; i < plane; i++) {
            double sq = 0;
            for (int64_t k = c0; k <= c1; k++) {
                double v = gd_tensor_get_f64(x, (n0 + k) * plane + i);
                sq += v * v;
            }
            double v = gd_tensor_get_f64(x, p * plane + i);
            gd_tensor_set_f64(y, p * plane + i, v / pow(bias + alpha / (double)size * sq, beta));
        }
    }
    return 0;
}

/* MeanVarianceNormalization: statistics per index of the non-reduced dims. */
static int mvn_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0);
    if (!x)
        return gd_op_fail(ctx, GD_EINVAL, "missing input 0");
    if (!gd_dtype_is_float(x->dtype))
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s not supported", gd_dtype_name(x->dtype));
    static const int64_t def_axes[] = {0, 2, 3};
    const int64_t *axes = def_axes;
    int na = gd_op_attr_ints(ctx, "axes", &axes);
    if (na < 0) {
        axes = def_axes;
        na = 3;
    }
    int red[GD_TENSOR_MAX_RANK] = {0}, ax;
    for (int i = 0; i < na; i++) {
        if (gd_axis_normalize(axes[i], x->rank, &ax))
            return gd_op_fail(ctx, GD_EINVAL, "axis %lld out of range", (long long)axes[i]);
        red[ax] = 1;
    }
    int64_t groups = 1, gstr[GD_TENSOR_MAX_RANK], st[GD_TENSOR_MAX_RANK];
    for (int d = x->rank - 1; d >= 0; d--) {
        gstr[d] = red[d] ? 0 : groups;
        groups *= red[d] ? 1 : x->dims[d];
    }
    gd_tensor_strides(x, st);
    struct gd_tensor *y = gd_op_output_like(ctx, 0, x);
    double *acc = y ? gd_op_scratch(ctx, (size_t)(3 * groups + 1) * sizeof(double)) : NULL;
    if (!acc)
        return GD_ENOMEM;
    double *sq = acc + groups, *cnt = sq + groups;
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < x->numel; i++) {
            int64_t gi = 0;
            for (int d = 0; d < x->rank; d++)
                gi += (i / st[d] % x->dims[d]) * gstr[d];
            double v = gd_tensor_get_f64(x, i);
            if (pass == 0) {
                acc[gi] += v;
                sq[gi] += v * v;
                cnt[gi] += 1;
                continue;
            }
            double m = acc[gi] / cnt[gi], var = sq[gi] / cnt[gi] - m * m;
            gd_tensor_set_f64(y, i, (v - m) / (sqrt(var > 0 ? var : 0) + 1e-9));
        }
    return 0;
}

const struct gd_op_def gd_ops_norm_batch[] = {
    {"", "BatchNormalization", 1, 0, batchnorm_run, 0},
    {"", "LRN", 1, 0, lrn_run, 0},
    {"", "MeanVarianceNormalization", 9, 0, mvn_run, 0},
    {0},
};
