/* Softmax, LogSoftmax, Hardmax.
 *
 * Axis semantics changed at opset 13: before, the input is coerced to 2-D
 * [prod(dims[:axis]), prod(dims[axis:])] (axis default 1) and the op runs over the whole
 * second dim; from 13 it runs along the single axis (default -1). Both become "lanes":
 * outer x inner independent vectors of length n with element stride `inner`.
 * Softmax subtracts the lane max first (no overflow); LogSoftmax is x - max - log(sum). */
#include <math.h>

#include "engine/kernels/ew_gen.h"
#include "engine/kernels/vmath.h"
#include "engine/op.h"
#include "engine/ops/registry.h"

enum sm_kind { SM_SOFT, SM_LOG, SM_HARD };

struct sm_job {
    const void *x;
    void *y;
    int64_t n, inner;
    enum sm_kind kind;
};

#define SM_KERNEL(S, T, CT, LD, ST, EXPF, LOGF, FAST)                                              \
    static void sm_##S(void *ud, int64_t lb, int64_t le)                                           \
    {                                                                                              \
        const struct sm_job *j = ud;                                                               \
        const T *X = j->x;                                                                         \
        T *Y = j->y;                                                                               \
        int64_t n = j->n, in = j->inner;                                                           \
        for (int64_t l = lb; l < le; l++) {                                                        \
            int64_t base = (l / in) * n * in + l % in, am = 0;                                     \
            CT mx = LD(X[base]);                                                                   \
            for (int64_t i = 1; i < n; i++) {                                                      \
                CT v = LD(X[base + i * in]);                                                       \
                if (v > mx || (mx != mx)) {                                                        \
                    mx = v;                                                                        \
                    am = i;                                                                        \
                }                                                                                  \
            }                                                                                      \
            if (j->kind == SM_HARD) {                                                              \
                for (int64_t i = 0; i < n; i++)                                                    \
                    Y[base + i * in] = ST((CT)(i == am));                                          \
                continue;                                                                          \
            }                                                                                      \
            CT sum = 0;                                                                            \
            if (j->kind == SM_SOFT && FAST) { /* keep exp in Y, scale after: one exp each */       \
                for (int64_t i = 0; i < n; i++) {                                                  \
                    CT ev = EXPF(LD(X[base + i * in]) - mx);                                       \
                    Y[base + i * in] = ST(ev);                                                     \
                    sum += ev;                                                                     \
                }                                                                                  \
                CT inv = 1 / sum;                                                                  \
                for (int64_t i = 0; i < n; i++)                                                    \
                    Y[base + i * in] = ST(LD(Y[base + i * in]) * inv);                             \
                continue;                                                                          \
            }                                                                                      \
            for (int64_t i = 0; i < n; i++)                                                        \
                sum += EXPF(LD(X[base + i * in]) - mx);                                            \
            if (j->kind == SM_LOG) {                                                               \
                CT ls = LOGF(sum);                                                                 \
                for (int64_t i = 0; i < n; i++)                                                    \
                    Y[base + i * in] = ST(LD(X[base + i * in]) - mx - ls);                         \
            } else {                                                                               \
                CT inv = 1 / sum;                                                                  \
                for (int64_t i = 0; i < n; i++)                                                    \
                    Y[base + i * in] = ST(EXPF(LD(X[base + i * in]) - mx) * inv);                  \
            }                                                                                      \
        }                                                                                          \
    }
SM_KERNEL(f32, float, float, EW_ID, EW_ID, expf, logf, 1)
SM_KERNEL(f64, double, double, EW_ID, EW_ID, exp, log, 1)
SM_KERNEL(f16, gd_f16, float, EW_F16LD, EW_F16ST, expf, logf, 0)

/* float32 Softmax over contiguous lanes (inner == 1, the attention case): vectorised rows. */
static void sm_rows_f32(void *ud, int64_t lb, int64_t le)
{
    const struct sm_job *j = ud;
    for (int64_t l = lb; l < le; l++)
        gd_softmax_row_f32((const float *)j->x + l * j->n, (float *)j->y + l * j->n, j->n);
}

static int sm_run(struct gd_op_ctx *ctx, enum sm_kind kind)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0);
    if (!x)
        return gd_op_fail(ctx, GD_EINVAL, "missing input 0");
    gd_op_range_fn fn = x->dtype == GD_DTYPE_FLOAT     ? sm_f32
                        : x->dtype == GD_DTYPE_DOUBLE  ? sm_f64
                        : x->dtype == GD_DTYPE_FLOAT16 ? sm_f16
                                                       : NULL;
    if (!fn)
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s not supported", gd_dtype_name(x->dtype));
    int v13 = gd_op_opset(ctx) >= 13, ax;
    int64_t axis = gd_op_attr_int(ctx, "axis", v13 ? -1 : 1);
    int rank = x->rank ? x->rank : 1;
    if (gd_axis_normalize(axis, rank, &ax) != 0)
        return gd_op_fail(ctx, GD_EINVAL, "axis %lld out of range for rank %d", (long long)axis,
                          x->rank);
    struct gd_tensor *y = gd_op_output_like(ctx, 0, x);
    if (!y)
        return GD_ENOMEM;
    int64_t outer = 1, n = 1, inner = 1;
    for (int d = 0; d < x->rank; d++) {
        if (d < ax)
            outer *= x->dims[d];
        else if (d == ax || !v13)
            n *= x->dims[d];
        else
            inner *= x->dims[d];
    }
    if (x->numel == 0)
        return 0;
    struct sm_job j = {x->data, y->data, n, inner, kind};
    if (fn == sm_f32 && kind == SM_SOFT && inner == 1)
        fn = sm_rows_f32;
    gd_op_parallel_for(ctx, outer * inner, 1 + 4096 / n, fn, &j);
    return 0;
}

static int softmax_run(struct gd_op_ctx *ctx)
{
    return sm_run(ctx, SM_SOFT);
}
static int logsoftmax_run(struct gd_op_ctx *ctx)
{
    return sm_run(ctx, SM_LOG);
}
static int hardmax_run(struct gd_op_ctx *ctx)
{
    return sm_run(ctx, SM_HARD);
}

const struct gd_op_def gd_ops_softmax[] = {
    {"", "Softmax", 1, 0, softmax_run, GD_OP_F_INPLACE0 | GD_OP_F_NOZERO},
    {"", "LogSoftmax", 1, 0, logsoftmax_run, 0},
    {"", "Hardmax", 1, 0, hardmax_run, 0},
    {0},
};
