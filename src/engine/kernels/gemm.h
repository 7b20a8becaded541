/* GEMM for the engine: row-major C = alpha * op(A) * op(B) + beta * C.
 *
 * float32 runs girder's own packed SGEMM with run-time CPU dispatch (kernels/sgemm.h;
 * GD_GEMM=blas switches it to CBLAS); float64 goes through CBLAS (OpenBLAS, pinned to one
 * thread by the engine's pool); integer dtypes use a plain triple loop with wrapping
 * arithmetic (MatMul over int32/64 and uint32/64 is rare and small in practice).
 * gd_kern_gemm splits the larger of M and N into blocks of whole micro-tiles run on the
 * engine's thread pool, one serial GEMM per block.
 *
 * Threading: gd_kern_gemm_serial is reentrant; gd_kern_gemm uses ctx's pool.
 * Errors: GD_ERANGE when a dimension or leading dimension exceeds the BLAS int range,
 * GD_ENOTSUP for a dtype without a kernel (no message recorded: callers report). */
#ifndef GD_ENGINE_KERNELS_GEMM_H
#define GD_ENGINE_KERNELS_GEMM_H

#include <stdint.h>

#include "engine/op.h"

struct gd_gemm {
    enum gd_dtype dt;
    int ta, tb; /* op(A) = A^T when ta */
    int64_t m, n, k;
    double alpha, beta;
    const void *a; /* m x k (k x m when ta), leading dimension lda */
    const void *b; /* k x n (n x k when tb), leading dimension ldb */
    void *c;       /* m x n, leading dimension ldc */
    int64_t lda, ldb, ldc;
};

/* 1 when dt has a GEMM kernel. */
int gd_kern_gemm_supported(enum gd_dtype dt);
/* 0 when g can run: supported dtype (else GD_ENOTSUP) and every dim / leading dim within
 * the BLAS int range (else GD_ERANGE). The runners below fail the same way. */
int gd_kern_gemm_check(const struct gd_gemm *g);
int gd_kern_gemm_serial(const struct gd_gemm *g);
int gd_kern_gemm(struct gd_op_ctx *ctx, const struct gd_gemm *g);
/* The same with op(B) from load-time packed panels when pk (may be NULL) fits g (float32,
 * same K x N, packed for the kernel in use); otherwise exactly gd_kern_gemm. g->b must stay
 * valid either way (fallbacks read it). */
struct gd_prepack;
/* The panel width nr that packed B operands of dtype dt must have to be read by
 * gd_kern_gemm_pre / gd_kern_gemm_serial_pre, or 0 when this process's GEMM for dt does not
 * read packed panels (not float32, GD_GEMM=blas). Fixed for the process. */
int gd_kern_gemm_pack_nr(enum gd_dtype dt);
int gd_kern_gemm_pre(struct gd_op_ctx *ctx, const struct gd_gemm *g, const struct gd_prepack *pk);
/* Serial: g's columns are columns [col0, col0 + g->n) of pk's matrix; when pk is NULL or
 * does not fit (other K or kernel, col0 not on a panel boundary) B is read unpacked. */
int gd_kern_gemm_serial_pre(const struct gd_gemm *g, const struct gd_prepack *pk, int64_t col0);

#endif
