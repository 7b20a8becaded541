/* girder's own float32 GEMM: C = alpha * op(A) * op(B) + beta * C, row-major C.
 *
 * A Goto/BLIS-style packed GEMM: op(B) is packed in KC x NC blocks into NR-wide panels,
 * op(A) in MC x KC blocks into MR-tall panels (zero-padded at the edges), and a register-
 * blocked micro-kernel computes one MR x NR tile of C per pair of panels. The micro-kernel
 * is chosen once per process from what the CPU supports (AVX-512F 12x32, AVX2+FMA 6x16,
 * portable C 4x16), so speed does not depend on any BLAS library or environment variable.
 * GD_GEMM=blas|generic|avx2|avx512 in the environment overrides the choice (read once;
 * a variant the CPU lacks falls back to the best one) for debugging and comparisons.
 *
 * Threading: reentrant. Each thread keeps its own packing buffers (allocated at its first
 * GEMM through gd_malloc, freed when the thread exits).
 * Errors: none; the caller validated sizes (gd_kern_gemm_check). When the packing buffers
 * cannot be allocated a slow unpacked loop computes the same result. */
#ifndef GD_ENGINE_KERNELS_SGEMM_H
#define GD_ENGINE_KERNELS_SGEMM_H

#include <stdint.h>

#include "engine/kernels/gemm.h"

enum gd_sgemm_isa {
    GD_SGEMM_ISA_GENERIC,
    GD_SGEMM_ISA_AVX2,   /* x86-64 AVX2 + FMA */
    GD_SGEMM_ISA_AVX512, /* x86-64 AVX-512F */
    GD_SGEMM_ISA_COUNT
};

/* One micro-kernel: c[i * ldc + j] (i < mr, j < nr) = alpha * sum_p a[i * ai + p * ap] *
 * b[p * nr + j] + beta * c[i * ldc + j]; c is not read when beta == 0 (so NaN garbage
 * there does not propagate). b is a packed panel, 64-byte aligned; a is either a packed
 * panel (ai = 1, ap = mr) or mr rows of a row-major A read in place (ai = lda, ap = 1). */
typedef void (*gd_sgemm_ukr_fn)(int64_t kc, const float *a, int64_t ai, int64_t ap, const float *b,
                                float *c, int64_t ldc, float alpha, float beta);
/* The same for the first cols (<= nr) columns only, with B unpacked: row p of the tile's B
 * is the cols floats at b + off[p] (any alignment; nothing past them is read, nor past
 * column cols of c); alpha is 1 and beta 0 (c not read) or 1 (c accumulated). What an
 * implicit-GEMM convolution (kernels/convgemm.h) reads straight from the image. */
struct gd_sgemm_rows_epi;
typedef void (*gd_sgemm_rows_fn)(int64_t kc, const float *a, int64_t ai, int64_t ap, const float *b,
                                 const int32_t *off, int cols, float *c, int64_t ldc, float beta,
                                 const struct gd_sgemm_rows_epi *epi);
/* What a rows kernel may do to the tile before storing it (epi NULL: nothing): row i gets
 * bias[i] (bias may be NULL), the residual z[i * ldz + j] (z may be NULL), then is clamped
 * to [lo, hi] (Clip: its bounds, NaN stays NaN; none: -inf, +inf) or with relu set to
 * [0, +inf] with NaN -> 0, as the conv epilogue does. */
struct gd_sgemm_rows_epi {
    const float *bias, *z;
    int64_t ldz;
    float lo, hi;
    int relu;
};
#define GD_SGEMM_MAX_PARTS 3
struct gd_sgemm_ukr {
    const char *name;
    int mr, nr; /* the full tile */
    int step;   /* part[q] computes (q + 1) * step rows; part[mr / step - 1] is the full tile */
    gd_sgemm_ukr_fn part[GD_SGEMM_MAX_PARTS];
    gd_sgemm_ukr_fn half[GD_SGEMM_MAX_PARTS];  /* nr / 2 columns of the same; may be NULL */
    gd_sgemm_rows_fn rows[GD_SGEMM_MAX_PARTS]; /* unpacked-B variants; NULL when absent */
    gd_sgemm_rows_fn rows_half[GD_SGEMM_MAX_PARTS];
};

/* The micro-kernel of isa, or NULL when this build or this CPU does not have it. */
const struct gd_sgemm_ukr *gd__sgemm_ukr(enum gd_sgemm_isa isa);
/* The micro-kernel gd__sgemm uses by default: the widest the CPU supports, or GD_GEMM's. */
const struct gd_sgemm_ukr *gd__sgemm_ukr_default(void);
/* 1 when GD_GEMM=blas asked for CBLAS instead of girder's kernels. */
int gd__sgemm_use_blas(void);

/* Runs float32 g (validated, m, n > 0) with micro-kernel u (NULL: the default one). */
void gd__sgemm(const struct gd_gemm *g, const struct gd_sgemm_ukr *u);

/* Pre-packed op(B) (K x N, for constant weights packed once at load): ceil(N / nr) panels
 * of K x nr floats, row p of a panel at p * nr, columns past N zero. b is op(B)'s storage
 * (K x N with leading dimension ldb, or N x K when tb); out holds
 * gd__sgemm_packed_b_floats(k, n, nr) floats, 64-byte aligned. */
size_t gd__sgemm_packed_b_floats(int64_t k, int64_t n, int nr);
void gd__sgemm_pack_b_full(const float *b, int64_t ldb, int tb, int64_t k, int64_t n, int nr,
                           float *out);
/* g (validated, m, n > 0) with op(B) taken from pre-packed panels: pb is the panel holding
 * g's column 0 (packed with K = g->k and nr = u->nr, u NULL: the default kernel); g->b and
 * g->tb are ignored. M == 1 reads each panel once (matrix-vector). Returns 0 (without a
 * packing buffer for A an unblocked loop over the panels gives the same result). */
int gd__sgemm_prepacked(const struct gd_gemm *g, const float *pb, const struct gd_sgemm_ukr *u);

/* Per-variant micro-kernels (kernels/sgemm_<isa>.c); the x86 ones exist on x86 builds. */
extern const struct gd_sgemm_ukr gd__sgemm_ukr_generic;
extern const struct gd_sgemm_ukr gd__sgemm_ukr_avx2;
extern const struct gd_sgemm_ukr gd__sgemm_ukr_avx512;

#endif
