/* Depthwise 2-d convolution of one plane (one input channel, one filter, one output
 * channel), the shape of MobileNet's 3x3 layers: zero padding at the top/left (pt, pl;
 * the bottom/right padding is implied by oh/ow), any kernel size, stride and dilation.
 *
 * Output rows are produced one at a time and finished at once by the conv epilogue
 * (kernels/epilogue.h), so the row is still in L1 when the bias, residual and activation
 * are applied. 3x3 kernels with dilation 1 and stride 1 or 2 take a vectorised interior
 * loop that reads the nine taps straight from the input rows; the borders and every other
 * geometry use a per-tap row loop over the span whose taps are inside the input (no bounds
 * checks in the inner loop). float32 picks an AVX-512 or AVX2+FMA build of the loops at
 * run time when the CPU has them, else the baseline build.
 *
 * Threading: pure functions (planes are independent; callers run them in parallel).
 * Errors: none; the geometry must be valid (oh, ow >= 1 and every window overlapping the
 * plane or its padding, as gd_conv_geom_init guarantees). */
#ifndef GD_ENGINE_KERNELS_DWCONV_H
#define GD_ENGINE_KERNELS_DWCONV_H

#include <stddef.h>
#include <stdint.h>

#include "engine/kernels/epilogue.h"

struct gd_dw2d {
    int64_t ih, iw, oh, ow; /* input and output plane */
    int64_t kh, kw, sh, sw, dh, dw;
    int64_t pt, pl; /* padding before the first row / column */
};

/* y[oh * ow] = epilogue(conv(x[ih * iw], w[kh * kw])), with z (oh * ow, or NULL) and bias
 * handed to the epilogue. y need not be zeroed. float32 with tmp (gd_dw2d_tmp_floats(g)
 * floats, or NULL) may take the phase-plane path for narrow stride-1 planes: the plane
 * copied zero-padded and split into sh x sw phase planes (im2col.h), where each tap's
 * inputs for all outputs of the padded width are one contiguous run, summed 16 outputs at
 * a time; the real columns are copied out and the epilogue runs once over the plane. */
void gd_dw2d_f32(const struct gd_dw2d *g, const float *x, const float *w, float *y, const float *z,
                 float bias, const struct gd_act_params *act, float *tmp);
/* Scratch floats of the phase-plane path for g, or 0 when it does not take g (more than 64
 * taps, strides over 4). */
size_t gd_dw2d_tmp_floats(const struct gd_dw2d *g);
void gd_dw2d_f64(const struct gd_dw2d *g, const double *x, const double *w, double *y,
                 const double *z, double bias, const struct gd_act_params *act);
/* Tests: runs one float32 build (0 baseline, 1 AVX2+FMA, 2 AVX-512F), the phase-plane path
 * whenever tmp is given and it takes g; -1 when this binary or CPU lacks the build. */
int gd__dw2d_f32_isa(int isa, const struct gd_dw2d *g, const float *x, const float *w, float *y,
                     const float *z, float bias, const struct gd_act_params *act, float *tmp);

#endif
