/* Clip: min/max were attributes (float, default -/+FLT_MAX) up to opset 6 and became
 * optional scalar inputs at opset 11 (integer dtypes from 12: earlier, an integer input is
 * an error, not a float bound cast out of the dtype's range). An absent bound means
 * "no bound" (the dtype's limits). When min > max every element becomes max, as numpy. */
#include <float.h>

#include "engine/kernels/ew_gen.h"
#include "engine/op.h"
#include "engine/ops/registry.h"

/* The job's p.a/p.b hold the bounds; p.c bit 0 = has min, bit 1 = has max. Bounds of
 * integer dtypes come from same-typed inputs, so they convert back exactly. */
struct clip_job {
    struct gd_ew_job j;
    int has_min, has_max;
};
#define CLIP_KERNEL(UNUSED, E, T, S)                                                               \
    static void clip_##S(void *ud, int64_t b, int64_t e)                                           \
    {                                                                                              \
        const struct clip_job *c = ud;                                                             \
        const T *x = c->j.a;                                                                       \
        T *y = c->j.y;                                                                             \
        T lo = c->has_min ? (T)c->j.p.a : 0, hi = c->has_max ? (T)c->j.p.b : 0;                    \
        for (int64_t i = b; i < e; i++) {                                                          \
            T v = x[i];                                                                            \
            if (c->has_min && v < lo)                                                              \
                v = lo;                                                                            \
            if (c->has_max && v > hi)                                                              \
                v = hi;                                                                            \
            y[i] = v;                                                                              \
        }                                                                                          \
    }
EW_FLT(CLIP_KERNEL, 0)
EW_INT(CLIP_KERNEL, 0)
static void clip_f16(void *ud, int64_t b, int64_t e)
{
    const struct clip_job *c = ud;
    const gd_f16 *x = c->j.a;
    gd_f16 *y = c->j.y;
    for (int64_t i = b; i < e; i++) {
        float v = gd_f16_to_f32(x[i]);
        if (c->has_min && v < c->j.p.a)
            v = (float)c->j.p.a;
        if (c->has_max && v > c->j.p.b)
            v = (float)c->j.p.b;
        y[i] = gd_f32_to_f16(v);
    }
}
static const gd_op_range_fn clip_tab[EW_NDT] = {
    EW_FLT(EW_TAB, clip) EW_INT(EW_TAB, clip)[GD_DTYPE_FLOAT16] = clip_f16};

/* Reads optional bound input i into *v; *has = 0 when absent. */
static int clip_bound(struct gd_op_ctx *ctx, int i, const struct gd_tensor *x, double *v, int *has)
{
    const struct gd_tensor *t = gd_op_input(ctx, i);
    *has = 0;
    if (!t)
        return 0;
    if (t->dtype != x->dtype)
        return gd_op_fail(ctx, GD_EINVAL, "bound %d dtype %s differs from input's", i,
                          gd_dtype_name(t->dtype));
    if (t->numel != 1)
        return gd_op_fail(ctx, GD_EINVAL, "bound %d must be a scalar", i);
    *v = gd_tensor_get_f64(t, 0);
    *has = 1;
    return 0;
}

static int clip_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0);
    if (!x)
        return gd_op_fail(ctx, GD_EINVAL, "missing input 0");
    if ((unsigned)x->dtype >= EW_NDT || !clip_tab[x->dtype])
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s not supported", gd_dtype_name(x->dtype));
    if (gd_op_opset(ctx) < 12 && !gd_dtype_is_float(x->dtype)) /* float bounds would not fit */
        return gd_op_fail(ctx, GD_EINVAL, "dtype %s needs opset 12 (Clip-%d takes float types)",
                          gd_dtype_name(x->dtype), gd_op_opset(ctx) < 11 ? 6 : 11);
    struct clip_job c = {0};
    int rc;
    if (gd_op_opset(ctx) < 11) {
        c.j.p.a = gd_op_attr_float(ctx, "min", -FLT_MAX);
        c.j.p.b = gd_op_attr_float(ctx, "max", FLT_MAX);
        c.has_min = c.has_max = 1;
    } else if ((rc = clip_bound(ctx, 1, x, &c.j.p.a, &c.has_min)) ||
               (rc = clip_bound(ctx, 2, x, &c.j.p.b, &c.has_max))) {
        return rc;
    }
    struct gd_tensor *y = gd_op_output_like(ctx, 0, x);
    if (!y)
        return GD_ENOMEM;
    c.j.a = x->data;
    c.j.y = y->data;
    gd_ew_parallel(ctx, x->numel, clip_tab[x->dtype], &c);
    return 0;
}

const struct gd_op_def gd_ops_activation_clip[] = {
    {"", "Clip", 6, 0, clip_run, GD_OP_F_INPLACE0},
    {0},
};
