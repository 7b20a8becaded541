/* float16 support for the BLAS-backed ops (MatMul, Gemm, Conv, ConvTranspose): operands
 * are widened to float32 copies in node scratch memory, computed in float32 and the
 * result narrowed back (round to nearest even), as the engine does for every float16 op.
 * Threading: reentrant. Errors: GD_ENOMEM (message recorded by gd_op_scratch). */
#ifndef GD_ENGINE_KERNELS_WIDEN_H
#define GD_ENGINE_KERNELS_WIDEN_H

#include "engine/op.h"

/* out = float32 header over a scratch copy of t (float16); t == NULL gives NULL *res. */
int gd_widen_f16(struct gd_op_ctx *ctx, const struct gd_tensor *t, struct gd_tensor *out,
                 const struct gd_tensor **res);
/* A zeroed float32 scratch tensor of shape (rank, dims). */
int gd_scratch_f32(struct gd_op_ctx *ctx, int rank, const int64_t *dims, struct gd_tensor *out);
/* y (float16) = narrowed src (float32, same numel). */
void gd_narrow_f16(const struct gd_tensor *src, struct gd_tensor *y);

#endif
