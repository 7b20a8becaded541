/* GEMM dispatch: girder's packed SGEMM for float32 (CBLAS with GD_GEMM=blas), CBLAS for
 * float64, generated loops for integers, and a row/column block split over the engine's
 * thread pool (see gemm.h). */
#include "engine/kernels/gemm.h"
#include "engine/kernels/blas.h"
#include "engine/kernels/sgemm.h"

#include <limits.h>
#include <string.h>

#include "engine/model.h"
#include "engine/tensor.h"

/* Integer GEMM: c = alpha*a*b + beta*c in uint64_t (wrapping), alpha/beta truncated. */
#define IGEMM(E, T, S)                                                                             \
    static void igemm_##S(const struct gd_gemm *g)                                                 \
    {                                                                                              \
        const T *A = g->a, *B = g->b;                                                              \
        T *C = g->c;                                                                               \
        uint64_t al = (uint64_t)(int64_t)g->alpha, be = (uint64_t)(int64_t)g->beta;                \
        for (int64_t i = 0; i < g->m; i++)                                                         \
            for (int64_t j = 0; j < g->n; j++) {                                                   \
                uint64_t s = 0;                                                                    \
                for (int64_t p = 0; p < g->k; p++) {                                               \
                    T x = g->ta ? A[p * g->lda + i] : A[i * g->lda + p];                           \
                    T y = g->tb ? B[j * g->ldb + p] : B[p * g->ldb + j];                           \
                    s += (uint64_t)x * (uint64_t)y;                                                \
                }                                                                                  \
                T *cp = &C[i * g->ldc + j];                                                        \
                *cp = (T)(al * s + (be ? be * (uint64_t)*cp : 0));                                 \
            }                                                                                      \
    }
GD_DTYPE_FOREACH_INT(IGEMM)

int gd_kern_gemm_supported(enum gd_dtype dt)
{
    return dt == GD_DTYPE_FLOAT || dt == GD_DTYPE_DOUBLE || gd_dtype_is_int(dt);
}

static int fits(int64_t v)
{
    return v >= 0 && v <= INT_MAX;
}

int gd_kern_gemm_check(const struct gd_gemm *g)
{
    if (!gd_kern_gemm_supported(g->dt))
        return GD_ENOTSUP;
    if (!fits(g->m) || !fits(g->n) || !fits(g->k) || !fits(g->lda) || !fits(g->ldb) ||
        !fits(g->ldc))
        return GD_ERANGE;
    return 0;
}

int gd_kern_gemm_serial(const struct gd_gemm *g)
{
    int rc = gd_kern_gemm_check(g);
    if (rc)
        return rc;
    if (g->m == 0 || g->n == 0)
        return 0;
    enum CBLAS_TRANSPOSE ta = g->ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = g->tb ? CblasTrans : CblasNoTrans;
    /* BLAS wants ld >= 1 even for empty operands. */
    int lda = g->lda ? (int)g->lda : 1, ldb = g->ldb ? (int)g->ldb : 1, ldc = (int)g->ldc;
    const struct gd_blas *blas = NULL;
    if (g->dt == GD_DTYPE_FLOAT && (!gd__sgemm_use_blas() || !(blas = gd_blas_get()))) {
        gd__sgemm(g, NULL);
        return 0;
    }
    if (g->dt == GD_DTYPE_DOUBLE && !(blas = gd_blas_get()))
        return GD_ENOTSUP; /* no CBLAS library could be loaded */
    switch (g->dt) {
    case GD_DTYPE_FLOAT:
        blas->sgemm(CblasRowMajor, ta, tb, (int)g->m, (int)g->n, (int)g->k, (float)g->alpha, g->a,
                    lda, g->b, ldb, (float)g->beta, g->c, ldc);
        return 0;
    case GD_DTYPE_DOUBLE:
        blas->dgemm(CblasRowMajor, ta, tb, (int)g->m, (int)g->n, (int)g->k, g->alpha, g->a, lda,
                    g->b, ldb, g->beta, g->c, ldc);
        return 0;
#define IGEMM_CASE(E, T, S)                                                                        \
    case E:                                                                                        \
        igemm_##S(g);                                                                              \
        return 0;
        GD_DTYPE_FOREACH_INT(IGEMM_CASE)
    default:
        return GD_ENOTSUP;
    }
}

struct gemm_split {
    const struct gd_gemm *g;
    int by_rows;
    int64_t unit;                /* rows or columns per range index: a multiple of the micro-tile */
    const struct gd_prepack *pk; /* op(B) pre-packed (float32), or NULL */
};

/* 1 when g's columns [col0, col0 + n) can come from pk (same K, packed for the kernel in
 * use, col0 on a panel boundary). */
static int pack_fits(const struct gd_gemm *g, const struct gd_prepack *pk, int64_t col0)
{
    const struct gd_sgemm_ukr *u;
    return pk && g->dt == GD_DTYPE_FLOAT && !gd__sgemm_use_blas() &&
           (u = gd__sgemm_ukr_default()) && u->nr == pk->nr && pk->k == g->k && col0 >= 0 &&
           col0 % pk->nr == 0 && col0 + g->n <= pk->n;
}

int gd_kern_gemm_pack_nr(enum gd_dtype dt)
{
    const struct gd_sgemm_ukr *u;
    if (dt != GD_DTYPE_FLOAT || gd__sgemm_use_blas() || !(u = gd__sgemm_ukr_default()))
        return 0;
    return u->nr;
}

int gd_kern_gemm_serial_pre(const struct gd_gemm *g, const struct gd_prepack *pk, int64_t col0)
{
    if (g->m == 0 || g->n == 0 || !pack_fits(g, pk, col0) || gd_kern_gemm_check(g) ||
        gd__sgemm_prepacked(g, pk->panels + col0 / pk->nr * pk->k * pk->nr, NULL))
        return gd_kern_gemm_serial(g);
    return 0;
}

static void gemm_block(void *ud, int64_t b, int64_t e)
{
    const struct gemm_split *s = ud;
    struct gd_gemm g = *s->g;
    size_t es = gd_dtype_size(g.dt);
    int64_t len = s->by_rows ? g.m : g.n;
    b *= s->unit;
    e = e * s->unit < len ? e * s->unit : len;
    int64_t col0 = 0;
    if (s->by_rows) {
        g.m = e - b;
        g.a = (const char *)g.a + (size_t)(g.ta ? b : b * g.lda) * es;
        g.c = (char *)g.c + (size_t)(b * g.ldc) * es;
    } else {
        g.n = e - b;
        g.b = (const char *)g.b + (size_t)(g.tb ? b * g.ldb : b) * es;
        g.c = (char *)g.c + (size_t)b * es;
        col0 = b;
    }
    /* sizes were validated on the whole problem */
    (void)(s->pk ? gd_kern_gemm_serial_pre(&g, s->pk, col0) : gd_kern_gemm_serial(&g));
}

/* Blocks are whole micro-tiles and big enough that re-packing the shared operand in each
 * (all of B for a row split, all of A for a column split) stays a few percent of the work:
 * at least MIN_ROWS rows or MIN_COLS columns, but never fewer blocks than threads. */
enum { MIN_ROWS = 96, MIN_COLS = 256 };

int gd_kern_gemm(struct gd_op_ctx *ctx, const struct gd_gemm *g)
{
    return gd_kern_gemm_pre(ctx, g, NULL);
}

int gd_kern_gemm_pre(struct gd_op_ctx *ctx, const struct gd_gemm *g, const struct gd_prepack *pk)
{
    int rc = gd_kern_gemm_check(g);
    if (rc)
        return rc;
    if (!pack_fits(g, pk, 0) || pk->n != g->n)
        pk = NULL;
    int64_t work = g->m * g->n * (g->k ? g->k : 1);
    int threads = gd_op_num_threads(ctx);
    if (threads <= 1 || work < (1 << 18))
        return pk ? gd_kern_gemm_serial_pre(g, pk, 0) : gd_kern_gemm_serial(g);
    struct gemm_split s = {g, g->m >= g->n, 1, pk};
    if (g->dt == GD_DTYPE_FLOAT && !gd__sgemm_use_blas()) {
        const struct gd_sgemm_ukr *u = gd__sgemm_ukr_default();
        s.unit = s.by_rows ? u->mr : u->nr;
    }
    int64_t len = s.by_rows ? g->m : g->n, units = (len + s.unit - 1) / s.unit;
    int64_t min = s.by_rows ? MIN_ROWS : MIN_COLS;
    int64_t grain = (min + s.unit - 1) / s.unit, fair = (units + threads - 1) / threads;
    gd_op_parallel_for(ctx, units, grain < fair ? grain : fair, gemm_block, &s);
    return 0;
}
