/* Elementwise drivers shared by the math op families (unary, activation, binary, norm).
 *
 * Two shapes of work cover every elementwise op:
 *  - a map: y[i] = f(x[i]) over a flat range, parallelised in chunks;
 *  - a broadcast walk: the output is split into rows along its innermost (coalesced)
 *    dimension, and a row kernel gets each operand's starting offset and its element
 *    stride inside the row (0 when the operand is broadcast along it, else 1 or more).
 * Dims that every operand walks the same way are merged first, so equal shapes become
 * one long row and a per-channel bias over [N,C,H,W] becomes rows of H*W.
 *
 * float16 is stored as binary16 and computed in float32 (see ew_gen.h).
 *
 * Threading: the drivers call gd_op_parallel_for; row and map kernels must only touch
 * the elements they are given. Errors: 0 or a negative GD_E* (message recorded). */
#ifndef GD_ENGINE_KERNELS_EW_H
#define GD_ENGINE_KERNELS_EW_H

#include <stdint.h>

#include "engine/op.h"

/* Parameters of a parametrised elementwise op (alpha, beta, gamma, bias, lambd...). */
struct gd_ew_args {
    double a, b, c;
};

/* Generic parallel map over [0, n): fn(ud, begin, end). */
void gd_ew_parallel(struct gd_op_ctx *ctx, int64_t n, gd_op_range_fn fn, void *ud);

#define GD_EW_MAX_OPS 4 /* output + up to 3 inputs (Where) */

/* Row kernel: operand k (0 = output, then inputs in order) starts at element off[k] and
 * advances by st[k] elements per step for len steps. */
typedef void (*gd_ew_row_fn)(void *ud, const int64_t *off, const int64_t *st, int64_t len);

/* Broadcast walk of output y over inputs ins[0..nin-1] (nin <= 3): every input must be
 * broadcastable to y's shape (y contiguous). Calls row(ud, ...) over all rows, in
 * parallel. */
int gd_ew_bcast_rows(struct gd_op_ctx *ctx, const struct gd_tensor *y, int nin,
                     const struct gd_tensor *const *ins, gd_ew_row_fn row, void *ud);

/* Output shape of broadcasting nin inputs (records "shapes ... are not broadcastable"). */
int gd_ew_bcast_shape(struct gd_op_ctx *ctx, int nin, const struct gd_tensor *const *ins, int *rank,
                      int64_t *dims);

#endif
