/* Shared entry points of the MatMul family (matmul*.c, conv_int.c).
 * Threading: reentrant; uses the node's pool. Errors: 0 or negative GD_E* (recorded). */
#ifndef GD_ENGINE_OPS_MATMUL_H
#define GD_ENGINE_OPS_MATMUL_H

#include "engine/op.h"

/* numpy matmul output shape of a x b (1-d promotion, batch broadcasting). */
int gd__matmul_shape(struct gd_op_ctx *ctx, const struct gd_tensor *a, const struct gd_tensor *b,
                     int *rank, int64_t *dims);
/* a x b (same GEMM-capable dtype) into zeroed ydata of that shape and dtype. */
int gd__matmul_into(struct gd_op_ctx *ctx, const struct gd_tensor *a, const struct gd_tensor *b,
                    void *ydata);
/* The same times alpha (the GEMMs' alpha: free). */
int gd__matmul_into_scaled(struct gd_op_ctx *ctx, const struct gd_tensor *a,
                           const struct gd_tensor *b, void *ydata, double alpha);

#endif
