/* Shared entry of the binary op family (binary*.c, activation PRelu).
 * Threading: reentrant. Errors: 0 or negative GD_E* with the message recorded. */
#ifndef GD_ENGINE_OPS_BINARY_H
#define GD_ENGINE_OPS_BINARY_H

#include "engine/kernels/ew.h"

/* Broadcasts a and b (same dtype), allocates output 0 (a's dtype, or bool when to_bool)
 * and runs tab[dtype] over it; p (may be NULL) is copied into the job. Dtypes without a
 * kernel fail with GD_ENOTSUP. */
int gd__bin_apply(struct gd_op_ctx *ctx, const gd_ew_row_fn *tab, int to_bool,
                  const struct gd_tensor *a, const struct gd_tensor *b, const struct gd_ew_args *p);

/* Legacy (opset < 7) broadcast: returns a view of b (its data, dims placed at `axis` of
 * a's rank, 1 elsewhere) in *view, or b itself when the axis does not fit. */
const struct gd_tensor *gd__bin_legacy_view(struct gd_op_ctx *ctx, const struct gd_tensor *a,
                                            const struct gd_tensor *b, int64_t axis,
                                            struct gd_tensor *view);

#endif
