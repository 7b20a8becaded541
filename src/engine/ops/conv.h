/* Shared pieces of the Conv / ConvTranspose / pooling families.
 * Threading: reentrant. Errors: 0 or negative GD_E* with the message recorded. */
#ifndef GD_ENGINE_OPS_CONV_H
#define GD_ENGINE_OPS_CONV_H

#include "engine/kernels/epilogue.h"
#include "engine/kernels/im2col.h"
#include "engine/op.h"

/* Reads auto_pad, strides, dilations, pads (and ceil_mode when with_ceil) from the node. */
void gd__conv_read_attrs(struct gd_op_ctx *ctx, struct gd_conv_attrs *a, int with_ceil);

/* Checks that kernel_shape (when present) equals k[nsp]. */
int gd__conv_check_kernel_shape(struct gd_op_ctx *ctx, int nsp, const int64_t *k);

/* Adds bias[m] to every element of plane m of y (n images x m channels x plane). */
void gd__conv_add_bias(struct gd_op_ctx *ctx, struct gd_tensor *y, const struct gd_tensor *bias);

/* Validates a Conv's X [N,C,...], W [M,C/group,k...], optional bias [M] (float32/64, same
 * dtype), fills the geometry from the node's attributes and the output dims [N,M,out...]. */
int gd__conv_prepare(struct gd_op_ctx *ctx, const struct gd_tensor *x, const struct gd_tensor *w,
                     const struct gd_tensor *bias, int64_t group, struct gd_conv_geom *g,
                     int64_t *dims);
/* Runs the convolution into y (zeroed, of the prepared dims and x's dtype). */
int gd__conv_exec(struct gd_op_ctx *ctx, const struct gd_tensor *x, const struct gd_tensor *w,
                  const struct gd_tensor *bias, int64_t group, const struct gd_conv_geom *g,
                  struct gd_tensor *y);

/* What a fused Conv does to its output: y = act(conv + bias + z). */
struct gd_conv_epi {
    struct gd_act_params act;
    const struct gd_tensor *z; /* residual of y's dtype and shape, or NULL */
};
/* gd__conv_exec with an epilogue (NULL = none), applied per output tile / row while it is
 * still in cache. */
int gd__conv_exec_fused(struct gd_op_ctx *ctx, const struct gd_tensor *x, const struct gd_tensor *w,
                        const struct gd_tensor *bias, int64_t group, const struct gd_conv_geom *g,
                        const struct gd_conv_epi *epi, struct gd_tensor *y);

#endif
