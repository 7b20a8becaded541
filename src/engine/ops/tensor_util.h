/* Shared helpers of the tensor/shape/indexing op families (shape.c, tensor.c, slice.c,
 * gather.c, scatter.c, reduce.c, cast.c, pad.c, resize.c, misc.c).
 *
 * Data movement ops treat every dtype as fixed-size elements (strings as `char *`):
 * they move bytes with gd__ot_strided_copy or memcpy and, when the dtype is string, finish
 * with gd__ot_own_strings, which replaces the borrowed pointers by private copies. That
 * keeps one code path per op for all dtypes.
 *
 * Threading: pure functions over caller-provided memory; reentrant.
 * Errors: int functions return 0 or a negative GD_E* after recording a message through
 * gd_op_fail (so callers just propagate the code). */
#ifndef GD_ENGINE_OPS_TENSOR_UTIL_H
#define GD_ENGINE_OPS_TENSOR_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "engine/op.h"

/* Most dims a strided copy may walk (Tile views a rank-r tensor as 2r dims). */
#define GD_OT_MAX_DIMS (2 * GD_TENSOR_MAX_RANK)
/* Longest axes / pads / repeats list an op accepts from an attribute or input. */
#define GD_OT_MAX_LIST (4 * GD_TENSOR_MAX_RANK)

/* Writes the row-major walk of a strided view into dst (contiguous):
 * dst[k] = src[sum_d idx_d * strides[d]] for the k-th index tuple of dims (element units,
 * strides may be 0 or negative). es is the element size. Adjacent dims that are
 * contiguous in src are merged first. The caller guarantees every read is in bounds. */
void gd__ot_strided_copy(void *dst, const void *src, int rank, const int64_t *dims,
                         const int64_t *strides, size_t es);
/* Same, split across the engine's threads along the outermost dim when the copy is large
 * (each chunk is an independent strided copy). */
void gd__ot_strided_copy_par(struct gd_op_ctx *ctx, void *dst, const void *src, int rank,
                             const int64_t *dims, const int64_t *strides, size_t es);

/* For a string tensor y whose elements are pointers borrowed from an input, replaces each
 * by a gd_strdup copy (NULL stays ""). On allocation failure, the not yet copied entries
 * are set to NULL so the runtime frees only what y owns. No-op for other dtypes. */
int gd__ot_own_strings(struct gd_op_ctx *ctx, struct gd_tensor *y);

/* Reads an int list either from input `in` (when in >= 0 and the input is present) or from
 * attribute `attr` (when attr != NULL). Returns the count (0..max) or -1 when neither is
 * given; a non-integer input or a list longer than max fails with GD_EINVAL. */
int gd__ot_int_list(struct gd_op_ctx *ctx, int in, const char *attr, int64_t *out, int max);

/* Normalises n axes against rank into out (0..rank-1); rejects out-of-range and duplicate
 * axes with a message. */
int gd__ot_norm_axes(struct gd_op_ctx *ctx, const int64_t *axes, int n, int rank, int *out);

/* Product of dims[from..to) (no overflow possible: the tensor's numel is already capped). */
int64_t gd__ot_prod(const int64_t *dims, int from, int to);

/* Advances the odometer idx over dims (rank entries) by one element and keeps off, an offset
 * into the data tensor with strides xs, in step on every axis except ax: the walk shared by
 * GatherElements and ScatterElements, whose index along ax comes from the indices tensor. */
void gd__ot_step_except_axis(int rank, const int64_t *dims, const int64_t *xs, int ax,
                             int64_t *idx, int64_t *off);

/* Reads a scalar (or one-element) input as int64 / double; fails when it is empty. */
int gd__ot_scalar_i64(struct gd_op_ctx *ctx, const struct gd_tensor *t, const char *what,
                      int64_t *out);
int gd__ot_scalar_f64(struct gd_op_ctx *ctx, const struct gd_tensor *t, const char *what,
                      double *out);

/* Requires input i; fails with "missing input <i>" otherwise. */
const struct gd_tensor *gd__ot_need(struct gd_op_ctx *ctx, int i, int *rc);

/* Bulk conversion between any numeric/bool/float16 tensor and doubles:
 * out[i] = element from+i of x; store writes y[from+i] = in[i] with integer targets
 * rounded toward zero and saturated (NaN -> 0), bool = (v != 0). Strings: not supported
 * (callers check). */
void gd__ot_load_f64(const struct gd_tensor *x, int64_t from, int64_t n, double *out);
void gd__ot_store_f64(struct gd_tensor *y, int64_t from, int64_t n, const double *in);

#endif
