/* Quantized matrix products: MatMulInteger (int32 result of (A - a_zp) x (B - b_zp)) and
 * QLinearMatMul (the same, rescaled by a_scale * b_scale / y_scale, rounded half to even,
 * plus y_zp, saturated to the output's 8-bit type).
 *
 * Operands are widened to float64 with their zero points removed and multiplied by the
 * double GEMM: every int8/uint8 product sum is exact in double for K < 2^37, so results
 * match integer arithmetic. Zero points and scales are scalars, or 1-d per row of A
 * (length M) / per column of B (length N). */
#include <math.h>

#include "engine/op.h"
#include "engine/ops/matmul.h"
#include "engine/ops/registry.h"

/* Value of per-tensor / per-row(A) / per-column(B) parameter p at element i. */
static double param_at(const struct gd_tensor *p, const struct gd_tensor *t, int is_b, int64_t i)
{
    if (!p || p->numel == 0)
        return 0;
    if (p->numel == 1)
        return gd_tensor_get_f64(p, 0);
    int64_t cols = t->dims[t->rank - 1];
    if (is_b)
        return gd_tensor_get_f64(p, i % cols);
    int64_t rows = t->rank >= 2 ? t->dims[t->rank - 2] : 1;
    return gd_tensor_get_f64(p, (i / cols) % rows);
}

static int param_ok(struct gd_op_ctx *ctx, const struct gd_tensor *p, const struct gd_tensor *t,
                    int is_b, const char *what)
{
    if (!p || p->numel <= 1)
        return 0;
    int64_t want = is_b ? t->dims[t->rank - 1] : (t->rank >= 2 ? t->dims[t->rank - 2] : 1);
    if (p->rank != 1 || p->numel != want || p->dtype == GD_DTYPE_STRING)
        return gd_op_fail(ctx, GD_EINVAL, "%s must be a scalar or have %lld elements", what,
                          (long long)want);
    return 0;
}

/* Widened copy of t minus its zero point, as a float64 tensor header over scratch. */
static int widen(struct gd_op_ctx *ctx, const struct gd_tensor *t, const struct gd_tensor *zp,
                 int is_b, struct gd_tensor *out)
{
    int rc;
    if (t->dtype != GD_DTYPE_INT8 && t->dtype != GD_DTYPE_UINT8)
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s not supported", gd_dtype_name(t->dtype));
    if (t->rank < 1)
        return gd_op_fail(ctx, GD_EINVAL, "operands must have rank >= 1");
    if ((rc = param_ok(ctx, zp, t, is_b, "zero point")))
        return rc;
    *out = *t;
    out->dtype = GD_DTYPE_DOUBLE;
    out->nbytes = (size_t)t->numel * sizeof(double);
    out->owns_data = 0;
    double *d = gd_op_scratch(ctx, out->nbytes ? out->nbytes : 1);
    if (!(out->data = d))
        return GD_ENOMEM;
    for (int64_t i = 0; i < t->numel; i++)
        d[i] = gd_tensor_get_f64(t, i) - param_at(zp, t, is_b, i);
    return 0;
}

/* Runs the widened product; *prod receives scratch doubles of the output shape. */
static int int_product(struct gd_op_ctx *ctx, int ia, int iazp, int ib, int ibzp, int *rank,
                       int64_t *dims, double **prod, int64_t *numel)
{
    const struct gd_tensor *a = gd_op_input(ctx, ia), *b = gd_op_input(ctx, ib);
    struct gd_tensor wa, wb;
    int rc;
    if (!a || !b)
        return gd_op_fail(ctx, GD_EINVAL, "missing input");
    if ((rc = widen(ctx, a, gd_op_input(ctx, iazp), 0, &wa)) ||
        (rc = widen(ctx, b, gd_op_input(ctx, ibzp), 1, &wb)) ||
        (rc = gd__matmul_shape(ctx, &wa, &wb, rank, dims)) ||
        (rc = gd_shape_numel(*rank, dims, numel)))
        return rc < 0 ? rc : gd_op_fail(ctx, GD_EINVAL, "bad shape");
    if (!(*prod = gd_op_scratch(ctx, (size_t)(*numel ? *numel : 1) * sizeof(double))))
        return GD_ENOMEM;
    return gd__matmul_into(ctx, &wa, &wb, *prod);
}

static int matmulint_run(struct gd_op_ctx *ctx)
{
    int rank, rc;
    int64_t dims[GD_TENSOR_MAX_RANK], n;
    double *p;
    if ((rc = int_product(ctx, 0, 2, 1, 3, &rank, dims, &p, &n)))
        return rc;
    struct gd_tensor *y = gd_op_output(ctx, 0, GD_DTYPE_INT32, rank, dims);
    if (!y)
        return GD_ENOMEM;
    for (int64_t i = 0; i < n; i++)
        ((int32_t *)y->data)[i] = (int32_t)(int64_t)p[i];
    return 0;
}

static int qlinearmatmul_run(struct gd_op_ctx *ctx)
{
    int rank, rc;
    int64_t dims[GD_TENSOR_MAX_RANK], n;
    double *p;
    const struct gd_tensor *as = gd_op_input(ctx, 1), *bs = gd_op_input(ctx, 4),
                           *ys = gd_op_input(ctx, 6), *yz = gd_op_input(ctx, 7),
                           *a = gd_op_input(ctx, 0), *b = gd_op_input(ctx, 3);
    if (!as || !bs || !ys || !a || !b)
        return gd_op_fail(ctx, GD_EINVAL, "missing input");
    if ((rc = param_ok(ctx, as, a, 0, "a_scale")) || (rc = param_ok(ctx, bs, b, 1, "b_scale")) ||
        (rc = int_product(ctx, 0, 2, 3, 5, &rank, dims, &p, &n)))
        return rc;
    if (ys->numel != 1 || (yz && yz->numel != 1))
        return gd_op_fail(ctx, GD_EINVAL, "y_scale and y_zero_point must be scalars");
    enum gd_dtype dt = yz ? yz->dtype : GD_DTYPE_UINT8;
    if (dt != GD_DTYPE_UINT8 && dt != GD_DTYPE_INT8)
        return gd_op_fail(ctx, GD_ENOTSUP, "output dtype %s not supported", gd_dtype_name(dt));
    struct gd_tensor *y = gd_op_output(ctx, 0, dt, rank, dims);
    if (!y)
        return GD_ENOMEM;
    double lo = dt == GD_DTYPE_UINT8 ? 0 : -128, hi = dt == GD_DTYPE_UINT8 ? 255 : 127;
    double yscale = gd_tensor_get_f64(ys, 0), yzp = yz ? gd_tensor_get_f64(yz, 0) : 0;
    int64_t m = y->rank >= 2 ? y->dims[y->rank - 2] : 1, cols = y->rank ? y->dims[y->rank - 1] : 1;
    for (int64_t i = 0; i < n; i++) {
        /* per-row a_scale and per-column b_scale index the output the same way */
        double sa =
            as->numel == 1 ? gd_tensor_get_f64(as, 0) : gd_tensor_get_f64(as, (i / cols) % m);
        double sb = bs->numel == 1 ? gd_tensor_get_f64(bs, 0) : gd_tensor_get_f64(bs, i % cols);
        double v = nearbyint(p[i] * sa * sb / yscale) + yzp;
        v = v < lo ? lo : v > hi ? hi : v;
        gd_tensor_set_f64(y, i, isnan(v) ? yzp : v);
    }
    return 0;
}

const struct gd_op_def gd_ops_matmul_int[] = {
    {"", "MatMulInteger", 10, 0, matmulint_run, 0},
    {"", "QLinearMatMul", 10, 0, qlinearmatmul_run, 0},
    {0},
};
