/* MatMul (numpy matmul semantics) and Gemm.
 *
 * MatMul: 1-d operands are promoted ([K] -> [1,K] for A, [K,1] for B) and the added dim
 * is removed from the result; batch dims broadcast. When B has no batch (the usual
 * activations x weights case) and A is contiguous, A's batch is folded into M and one
 * large GEMM runs split over the pool; otherwise batches run in parallel, one serial
 * GEMM each. Gemm: Y = alpha * op(A) op(B) + beta * C with C broadcast to [M,N]. */
#include <string.h>

#include "engine/kernels/gemm.h"
#include "engine/kernels/widen.h"
#include "engine/model.h"
#include "engine/op.h"
#include "engine/ops/matmul.h"
#include "engine/ops/registry.h"

struct mm_batch {
    struct gd_gemm g; /* per-batch template (a, b, c are the base pointers) */
    int brank;
    int64_t bdims[GD_TENSOR_MAX_RANK], ast[GD_TENSOR_MAX_RANK], bst[GD_TENSOR_MAX_RANK];
    size_t es;
};

/* Runs batches [b, e): batch index -> offsets through the broadcast batch strides. */
static void mm_batches(void *ud, int64_t b, int64_t e)
{
    const struct mm_batch *mb = ud;
    for (int64_t i = b; i < e; i++) {
        int64_t r = i, ao = 0, bo = 0;
        for (int d = mb->brank - 1; d >= 0; d--) {
            int64_t ix = r % mb->bdims[d];
            r /= mb->bdims[d];
            ao += ix * mb->ast[d];
            bo += ix * mb->bst[d];
        }
        struct gd_gemm g = mb->g;
        g.a = (const char *)g.a + (size_t)(ao * g.m * g.k) * mb->es;
        g.b = (const char *)g.b + (size_t)(bo * g.k * g.n) * mb->es;
        g.c = (char *)g.c + (size_t)(i * g.m * g.n) * mb->es;
        (void)gd_kern_gemm_serial(&g); /* ranges validated by the caller */
    }
}

/* Batch broadcast strides (in matrices) of an operand with `r` batch dims. */
static void batch_strides(const int64_t *dims, int r, int brank, int64_t *st)
{
    int64_t s = 1;
    for (int d = brank - 1; d >= 0; d--) {
        int td = d - (brank - r);
        int64_t v = td >= 0 ? dims[td] : 1;
        st[d] = v == 1 ? 0 : s;
        s *= v;
    }
}

int gd__matmul_shape(struct gd_op_ctx *ctx, const struct gd_tensor *a, const struct gd_tensor *b,
                     int *rank, int64_t *dims)
{
    if (a->rank < 1 || b->rank < 1)
        return gd_op_fail(ctx, GD_EINVAL, "operands must have rank >= 1");
    int64_t k = a->dims[a->rank - 1], kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
    if (k != kb)
        return gd_op_fail(ctx, GD_EINVAL, "inner dims differ (%lld vs %lld)", (long long)k,
                          (long long)kb);
    int ar = a->rank > 2 ? a->rank - 2 : 0, br = b->rank > 2 ? b->rank - 2 : 0;
    int brank = ar > br ? ar : br;
    *rank = 0;
    for (int d = 0; d < brank; d++) {
        int da = d - (brank - ar), db = d - (brank - br);
        int64_t va = da >= 0 ? a->dims[da] : 1, vb = db >= 0 ? b->dims[db] : 1;
        if (va != vb && va != 1 && vb != 1)
            return gd_op_fail(ctx, GD_EINVAL, "batch dims %lld and %lld do not broadcast",
                              (long long)va, (long long)vb);
        dims[(*rank)++] = va == 1 ? vb : va;
    }
    if (a->rank > 1)
        dims[(*rank)++] = a->dims[a->rank - 2];
    if (b->rank > 1)
        dims[(*rank)++] = b->dims[b->rank - 1];
    return 0;
}

int gd__matmul_into(struct gd_op_ctx *ctx, const struct gd_tensor *a, const struct gd_tensor *b,
                    void *ydata)
{
    return gd__matmul_into_scaled(ctx, a, b, ydata, 1.0);
}

int gd__matmul_into_scaled(struct gd_op_ctx *ctx, const struct gd_tensor *a,
                           const struct gd_tensor *b, void *ydata, double alpha)
{
    int rank, rc;
    int64_t dims[GD_TENSOR_MAX_RANK];
    if ((rc = gd__matmul_shape(ctx, a, b, &rank, dims)))
        return rc;
    int64_t m = a->rank == 1 ? 1 : a->dims[a->rank - 2], k = a->dims[a->rank - 1];
    int64_t n = b->rank == 1 ? 1 : b->dims[b->rank - 1], batch = 1, numel = m * n;
    int ar = a->rank > 2 ? a->rank - 2 : 0, br = b->rank > 2 ? b->rank - 2 : 0;
    struct mm_batch mb = {.brank = ar > br ? ar : br, .es = gd_dtype_size(a->dtype)};
    for (int d = 0; d < mb.brank; d++)
        batch *= (mb.bdims[d] = dims[d]);
    if (batch * numel == 0 || k == 0)
        return 0; /* empty result, or sums over nothing: zeros */
    mb.g = (struct gd_gemm){.dt = a->dtype,
                            .m = m,
                            .n = n,
                            .k = k,
                            .alpha = alpha,
                            .beta = 0,
                            .a = a->data,
                            .b = b->data,
                            .c = ydata,
                            .lda = k,
                            .ldb = n,
                            .ldc = n};
    batch_strides(a->dims, ar, mb.brank, mb.ast);
    batch_strides(b->dims, br, mb.brank, mb.bst);
    int b_single = 1;
    for (int d = 0; d < mb.brank; d++)
        b_single &= mb.bst[d] == 0;
    if (batch == 1 || b_single) {
        mb.g.m = m * batch; /* B shared: A's batches are contiguous rows of one GEMM */
        /* load-time panels of a constant B (prepack.c); only for this node's own B */
        const struct gd_prepack *pk = b == gd_op_input(ctx, 1) ? gd__op_prepack(ctx) : NULL;
        rc = gd_kern_gemm_pre(ctx, &mb.g, b->rank == 2 ? pk : NULL);
    } else if (!(rc = gd_kern_gemm_check(&mb.g))) {
        gd_op_parallel_for(ctx, batch, 1, mm_batches, &mb);
    }
    if (rc)
        return gd_op_fail(ctx, rc, "GEMM failed (%s)", gd_strerror(rc));
    return 0;
}

/* float16: widened float32 operands, float32 product, narrowed output. */
static int matmul_f16(struct gd_op_ctx *ctx, const struct gd_tensor *a, const struct gd_tensor *b)
{
    struct gd_tensor wa, wb, tmp;
    const struct gd_tensor *pa, *pb;
    int rank, rc;
    int64_t dims[GD_TENSOR_MAX_RANK];
    if ((rc = gd_widen_f16(ctx, a, &wa, &pa)) || (rc = gd_widen_f16(ctx, b, &wb, &pb)) ||
        (rc = gd__matmul_shape(ctx, pa, pb, &rank, dims)) ||
        (rc = gd_scratch_f32(ctx, rank, dims, &tmp)) ||
        (rc = gd__matmul_into(ctx, pa, pb, tmp.data)))
        return rc;
    struct gd_tensor *y = gd_op_output(ctx, 0, GD_DTYPE_FLOAT16, rank, dims);
    if (!y)
        return GD_ENOMEM;
    gd_narrow_f16(&tmp, y);
    return 0;
}

static int matmul_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *a = gd_op_input(ctx, 0), *b = gd_op_input(ctx, 1);
    if (!a || !b)
        return gd_op_fail(ctx, GD_EINVAL, "missing input");
    if (a->dtype == GD_DTYPE_FLOAT16 && b->dtype == GD_DTYPE_FLOAT16)
        return matmul_f16(ctx, a, b);
    if (a->dtype != b->dtype || !gd_kern_gemm_supported(a->dtype))
        return gd_op_fail(ctx, a->dtype != b->dtype ? GD_EINVAL : GD_ENOTSUP,
                          "dtypes %s x %s not supported", gd_dtype_name(a->dtype),
                          gd_dtype_name(b->dtype));
    int rank, rc;
    int64_t dims[GD_TENSOR_MAX_RANK];
    if ((rc = gd__matmul_shape(ctx, a, b, &rank, dims)))
        return rc;
    struct gd_tensor *y = gd_op_output(ctx, 0, a->dtype, rank, dims); /* not zeroed */
    if (!y)
        return GD_ENOMEM;
    if (a->dims[a->rank - 1] == 0)
        memset(y->data, 0, y->nbytes); /* sums over nothing (gd__matmul_into writes nothing) */
    return gd__matmul_into(ctx, a, b, y->data);
}

/* Writes beta * C broadcast to [m, n] into y (C of rank 0..2, unidirectional). */
static int gemm_fill_c(struct gd_op_ctx *ctx, const struct gd_tensor *c, struct gd_tensor *y,
                       double beta)
{
    int64_t m = y->dims[0], n = y->dims[1];
    int64_t cm = c->rank == 2 ? c->dims[0] : 1, cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
    if (c->rank > 2 || (cm != 1 && cm != m) || (cn != 1 && cn != n))
        return gd_op_fail(ctx, GD_EINVAL, "C does not broadcast to [%lld,%lld]", (long long)m,
                          (long long)n);
    int64_t si = cm == 1 ? 0 : cn, sj = cn == 1 ? 0 : 1;
    if (y->dtype == GD_DTYPE_FLOAT && c->dtype == GD_DTYPE_FLOAT) {
        float *Y = y->data, fb = (float)beta;
        const float *C = c->data;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                Y[i * n + j] = fb * C[i * si + j * sj];
        return 0;
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            gd_tensor_set_f64(y, i * n + j, beta * gd_tensor_get_f64(c, i * si + j * sj));
    return 0;
}

/* Y = alpha * op(A) op(B) + beta * C for same-dtype a, b, c (c may be NULL) into output 0;
 * with f16 the operands are widened float32 copies and the result is narrowed to it. */
static int gemm_core(struct gd_op_ctx *ctx, const struct gd_tensor *a, const struct gd_tensor *b,
                     const struct gd_tensor *c, int f16)
{
    if (a->dtype != b->dtype || (c && c->dtype != a->dtype))
        return gd_op_fail(ctx, GD_EINVAL, "input dtypes differ");
    if (a->rank != 2 || b->rank != 2)
        return gd_op_fail(ctx, GD_EINVAL, "A and B must be 2-d");
    int ta = gd_op_attr_int(ctx, "transA", 0) != 0, tb = gd_op_attr_int(ctx, "transB", 0) != 0;
    double alpha = gd_op_attr_float(ctx, "alpha", 1.0f), beta = gd_op_attr_float(ctx, "beta", 1.0f);
    int64_t m = a->dims[ta], k = a->dims[!ta], kb = b->dims[tb], n = b->dims[!tb];
    if (k != kb)
        return gd_op_fail(ctx, GD_EINVAL, "inner dims differ (%lld vs %lld)", (long long)k,
                          (long long)kb);
    struct gd_gemm g = {.dt = a->dtype,
                        .ta = ta,
                        .tb = tb,
                        .m = m,
                        .n = n,
                        .k = k,
                        .alpha = alpha,
                        .beta = c ? 1 : 0,
                        .a = a->data,
                        .b = b->data,
                        .lda = a->dims[1],
                        .ldb = b->dims[1],
                        .ldc = n};
    int rc = gd_kern_gemm_check(&g);
    if (rc)
        return gd_op_fail(ctx, rc, "%s for GEMM (dtype %s)", gd_strerror(rc),
                          gd_dtype_name(a->dtype));
    int64_t dims[2] = {m, n};
    struct gd_tensor tmp, *y = &tmp;
    if (f16 ? (rc = gd_scratch_f32(ctx, 2, dims, &tmp))
            : !(y = gd_op_output(ctx, 0, a->dtype, 2, dims)))
        return f16 ? rc : GD_ENOMEM;
    g.c = y->data;
    if (c && (rc = gemm_fill_c(ctx, c, y, beta)))
        return rc;
    if (!c && !k)
        memset(y->data, 0, y->nbytes); /* not zeroed (GD_OP_F_NOZERO); no GEMM runs */
    const struct gd_prepack *pk = b == gd_op_input(ctx, 1) ? gd__op_prepack(ctx) : NULL;
    if (y->numel && k && (rc = gd_kern_gemm_pre(ctx, &g, pk)))
        return gd_op_fail(ctx, rc, "GEMM failed (%s)", gd_strerror(rc));
    if (f16) {
        struct gd_tensor *out = gd_op_output(ctx, 0, GD_DTYPE_FLOAT16, 2, dims);
        if (!out)
            return GD_ENOMEM;
        gd_narrow_f16(y, out);
    }
    return 0;
}

static int gemm_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *a = gd_op_input(ctx, 0), *b = gd_op_input(ctx, 1),
                           *c = gd_op_input(ctx, 2);
    if (!a || !b)
        return gd_op_fail(ctx, GD_EINVAL, "missing input");
    if (a->dtype != GD_DTYPE_FLOAT16)
        return gemm_core(ctx, a, b, c, 0);
    struct gd_tensor w[3];
    const struct gd_tensor *p[3];
    int rc;
    if (b->dtype != GD_DTYPE_FLOAT16 || (c && c->dtype != GD_DTYPE_FLOAT16))
        return gd_op_fail(ctx, GD_EINVAL, "input dtypes differ");
    if ((rc = gd_widen_f16(ctx, a, &w[0], &p[0])) || (rc = gd_widen_f16(ctx, b, &w[1], &p[1])) ||
        (rc = gd_widen_f16(ctx, c, &w[2], &p[2])))
        return rc;
    return gemm_core(ctx, p[0], p[1], p[2], 1);
}

const struct gd_op_def gd_ops_matmul[] = {
    {"", "MatMul", 1, 0, matmul_run, GD_OP_F_NOZERO},
    {"", "Gemm", 6, 0, gemm_run, GD_OP_F_NOZERO},
    {0},
};
