/* ai.girder FusedMatMul: Y = act(alpha * A x B + bias + Z), what graph fusion (fuse.c)
 * turns MatMul -> [Div / Mul by a scalar] -> [Add(bias)] -> [Add(residual)] -> [activation]
 * chains into (transformer linear layers: the attention projections, the FFN with GELU;
 * the scaled Q x K^T of attention).
 *
 * Inputs: A [..., M, K] and B [K, N] (float32; B may also be batched [..., K, N], then the
 * product is MatMul's with alpha in its GEMMs and the epilogue runs after it), optional
 * bias (N elements, broadcast over rows) and optional Z (Y's shape). Attributes: alpha
 * (1), activation ("" = none, "Gelu" (erf form), "Relu", ... as FusedConv),
 * activation_params.
 *
 * A's batch dims fold into the rows of one GEMM, cut into tiles of rows x columns that run
 * on the pool; each tile is one serial GEMM (B from the load-time packed panels when the
 * node has them, prepack.c) followed at once by the epilogue over the tile's rows while
 * they are in cache. The column tiles are a multiple of the thread count, so one linear
 * layer splits evenly over the threads. */
#include <string.h>

#include "engine/kernels/epilogue.h"
#include "engine/kernels/gemm.h"
#include "engine/model.h"
#include "engine/op.h"
#include "engine/ops/matmul.h"
#include "engine/ops/registry.h"

struct fmm_tiles {
    struct gd_gemm gm; /* the whole product */
    const struct gd_prepack *pk;
    int64_t mb, nb, ntn; /* tile rows, tile columns, tiles along n */
    const float *bias, *z;
    const struct gd_act_params *act;
};

/* y[j] = act(y[j] + bias[j] + z[j]) over one row piece of n. */
static void row_epilogue(const struct gd_act_params *act, float *y, const float *bias,
                         const float *z, int64_t n)
{
    gd_epilogue_vbias_f32(act, y, z, n, bias);
}

static void fmm_tile_range(void *ud, int64_t b, int64_t e)
{
    const struct fmm_tiles *t = ud;
    for (int64_t i = b; i < e; i++) {
        int64_t r0 = i / t->ntn * t->mb, c0 = i % t->ntn * t->nb;
        int64_t r1 = r0 + t->mb < t->gm.m ? r0 + t->mb : t->gm.m;
        int64_t c1 = c0 + t->nb < t->gm.n ? c0 + t->nb : t->gm.n;
        struct gd_gemm g = t->gm;
        g.m = r1 - r0;
        g.n = c1 - c0;
        g.a = (const float *)g.a + r0 * g.lda;
        g.b = (const float *)g.b + c0;
        g.c = (float *)g.c + r0 * g.ldc + c0;
        (void)gd_kern_gemm_serial_pre(&g, t->pk, c0); /* the whole product was checked */
        for (int64_t r = r0; r < r1; r++)
            row_epilogue(t->act, (float *)t->gm.c + r * g.ldc + c0, t->bias ? t->bias + c0 : NULL,
                         t->z ? t->z + r * g.ldc + c0 : NULL, c1 - c0);
    }
}

/* About TILE_BYTES of Y per tile (at most MAX_ROWS rows), columns a multiple of
 * TILE_COLS (every micro-kernel's nr divides it); the column tiles are rounded up to a
 * multiple of the thread count so that a layer's work splits evenly. */
enum { TILE_BYTES = 128 << 10, TILE_COLS = 32, MAX_ROWS = 192 };

static void fmm_plan(struct fmm_tiles *t, int threads)
{
    int64_t m = t->gm.m, n = t->gm.n;
    t->mb = m <= MAX_ROWS + MAX_ROWS / 4 ? m : MAX_ROWS;
    int64_t nb = TILE_BYTES / (t->mb * (int64_t)sizeof(float)) / TILE_COLS * TILE_COLS;
    if (nb < 2 * TILE_COLS)
        nb = 2 * TILE_COLS;
    int64_t ntn = (n + nb - 1) / nb, ntm = (m + t->mb - 1) / t->mb;
    if (threads > 1 && ntm < threads)
        ntn = (ntn + threads - 1) / threads * threads;
    nb = ((n + ntn - 1) / ntn + TILE_COLS - 1) / TILE_COLS * TILE_COLS;
    t->nb = nb < n ? nb : n;
    t->ntn = (n + t->nb - 1) / t->nb;
}

struct fmm_rows {
    float *y;
    const float *bias, *z;
    const struct gd_act_params *act;
    int64_t n;
};

static void fmm_rows_range(void *ud, int64_t b, int64_t e)
{
    const struct fmm_rows *r = ud;
    for (int64_t i = b; i < e; i++)
        row_epilogue(r->act, r->y + i * r->n, r->bias, r->z ? r->z + i * r->n : NULL, r->n);
}

/* Batched B: MatMul's product (alpha in its GEMMs), then the epilogue, if any, over rows. */
static int batched(struct gd_op_ctx *ctx, const struct gd_tensor *a, const struct gd_tensor *b,
                   const struct gd_tensor *bias, const struct gd_tensor *z,
                   const struct gd_act_params *act, float alpha, struct gd_tensor *y, int64_t n)
{
    if (a->dims[a->rank - 1] == 0)
        memset(y->data, 0, y->nbytes); /* sums over nothing */
    int rc = gd__matmul_into_scaled(ctx, a, b, y->data, alpha);
    if (rc || (!bias && !z && act->act == GD_ACT_NONE))
        return rc;
    struct fmm_rows r = {y->data, bias ? bias->data : NULL, z ? z->data : NULL, act, n};
    gd_op_parallel_for(ctx, y->numel / n, 1 + 4096 / n, fmm_rows_range, &r);
    return 0;
}

static int fused_matmul_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *a = gd_op_input(ctx, 0), *b = gd_op_input(ctx, 1),
                           *bias = gd_op_input(ctx, 2), *z = gd_op_input(ctx, 3);
    if (!a || !b)
        return gd_op_fail(ctx, GD_EINVAL, "missing input");
    if (a->dtype != GD_DTYPE_FLOAT || b->dtype != GD_DTYPE_FLOAT || b->rank < 2 || a->rank < 1)
        return gd_op_fail(ctx, GD_ENOTSUP, "needs float32 A and float32 B of rank >= 2");
    float alpha = gd_op_attr_float(ctx, "alpha", 1.0f);
    const float *params = NULL;
    int np = gd_op_attr_floats(ctx, "activation_params", &params);
    struct gd_act_params act;
    const char *an = gd_op_attr_string(ctx, "activation", "");
    if (gd_act_parse(an, params, np < 0 ? 0 : np, &act))
        return gd_op_fail(ctx, GD_ENOTSUP, "activation '%s' not supported", an);
    int rank, rc;
    int64_t dims[GD_TENSOR_MAX_RANK];
    if ((rc = gd__matmul_shape(ctx, a, b, &rank, dims)))
        return rc;
    int64_t k = b->dims[b->rank - 2], n = b->dims[b->rank - 1];
    if (bias && (bias->dtype != GD_DTYPE_FLOAT || bias->numel != n ||
                 (bias->rank && bias->dims[bias->rank - 1] != n)))
        return gd_op_fail(ctx, GD_EINVAL, "bias must be float32 with %lld elements", (long long)n);
    struct gd_tensor *y = gd_op_output(ctx, 0, GD_DTYPE_FLOAT, rank, dims); /* not zeroed */
    if (!y)
        return GD_ENOMEM;
    if (z && (z->dtype != y->dtype || z->numel != y->numel || z->rank != y->rank ||
              memcmp(z->dims, y->dims, sizeof(int64_t) * (size_t)y->rank)))
        return gd_op_fail(ctx, GD_EINVAL, "Z must have the output's dtype and shape");
    if (y->numel == 0)
        return 0;
    if (b->rank > 2)
        return batched(ctx, a, b, bias, z, &act, alpha, y, n);
    struct fmm_tiles t = {.gm = {.dt = GD_DTYPE_FLOAT,
                                 .m = y->numel / n,
                                 .n = n,
                                 .k = k,
                                 .alpha = alpha,
                                 .beta = 0,
                                 .a = a->data,
                                 .b = b->data,
                                 .c = y->data,
                                 .lda = k,
                                 .ldb = n,
                                 .ldc = n},
                          .pk = gd__op_prepack(ctx),
                          .bias = bias ? bias->data : NULL,
                          .z = z ? z->data : NULL,
                          .act = &act};
    if (k == 0)
        memset(y->data, 0, y->nbytes);
    else if ((rc = gd_kern_gemm_check(&t.gm)))
        return gd_op_fail(ctx, rc, "GEMM failed (%s)", gd_strerror(rc));
    int threads = gd_op_num_threads(ctx);
    fmm_plan(&t, threads);
    int64_t tiles = t.ntn * ((t.gm.m + t.mb - 1) / t.mb);
    if (k == 0) { /* epilogue only */
        t.gm.k = 0;
        t.pk = NULL;
    }
    int64_t grain = t.gm.m * n * (k ? k : 1) < (1 << 18) ? tiles : 1; /* small: one thread */
    gd_op_parallel_for(ctx, tiles, grain, fmm_tile_range, &t);
    return 0;
}

const struct gd_op_def gd_ops_matmul_fused[] = {
    {"ai.girder", "FusedMatMul", 1, 0, fused_matmul_run, GD_OP_F_NOZERO},
    {0},
};
