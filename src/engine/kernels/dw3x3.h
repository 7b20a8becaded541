/* Depthwise 3x3 convolution of one float32 plane with dilation 1 and stride 1 or 2 (each
 * axis), any padding: MobileNet's layers. A register kernel: each output row is computed
 * in vectors of 16 (AVX-512F) or 8 (AVX2+FMA) outputs, every tap one masked load straight
 * from an input row (lanes whose input column falls in the padding are masked off, so
 * nothing outside the plane is read and no padded copy is made; stride 2 loads twice as
 * many inputs and keeps the even ones), three accumulators (one per kernel row); then the
 * epilogue (kernels/epilogue.h) in registers for none / Relu / Clip, through
 * gd_epilogue_f32 on the finished row for the other activations. No per-row calls, border
 * points or scratch: the row kernels of dwconv.c spent most of their time there on
 * MobileNet's 14x14 and 7x7 planes.
 *
 * Threading: pure functions. Errors: none; the geometry must be valid (as dwconv.h). */
#ifndef GD_ENGINE_KERNELS_DW3X3_H
#define GD_ENGINE_KERNELS_DW3X3_H

#include "engine/kernels/dwconv.h"

enum { GD_DW3_ISA_AVX2 = 1, GD_DW3_ISA_AVX512 = 2 };

/* 1 when g is a geometry this kernel takes (3x3, dilation 1, strides 1..2). */
int gd_dw3x3_takes(const struct gd_dw2d *g);
/* The build to run g with: the widest this CPU has, except AVX2 for rows of at most 8
 * outputs on an AVX-512 CPU (GD_DW3X3=0 in the environment, read once: 0, none, for
 * comparisons): GD_DW3_ISA_*, or 0. */
int gd_dw3x3_isa(const struct gd_dw2d *g);
/* y[oh * ow] = epilogue(conv(x, w) , z, bias) with build isa. Returns 0, or -1 when g is not
 * taken or this binary / CPU lacks the build (nothing written). */
int gd_dw3x3_f32(int isa, const struct gd_dw2d *g, const float *x, const float *w, float *y,
                 const float *z, float bias, const struct gd_act_params *act);

#endif
