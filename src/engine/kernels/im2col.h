/* Convolution / pooling geometry and the im2col / col2im transforms (any number of
 * spatial dims up to GD_CONV_MAX_SP).
 *
 * Geometry follows the ONNX specs: explicit pads [b1..bk, e1..ek], or auto_pad
 * SAME_UPPER / SAME_LOWER (output = ceil(in / stride), the odd pad at the end resp. the
 * start) or VALID (no pads); output = floor or ceil((in + pb + pe - eff_k) / s) + 1 with
 * eff_k = (k - 1) * dilation + 1. With ceil_mode a last window that would start in the
 * end padding is dropped (as PyTorch and ONNX Runtime).
 *
 * Threading: pure functions. Errors: 0 or GD_EINVAL with a message in err. */
#ifndef GD_ENGINE_KERNELS_IM2COL_H
#define GD_ENGINE_KERNELS_IM2COL_H

#include <stddef.h>
#include <stdint.h>

#define GD_CONV_MAX_SP 6

struct gd_conv_geom {
    int nsp;                    /* spatial dims */
    int64_t in[GD_CONV_MAX_SP]; /* input spatial dims */
    int64_t k[GD_CONV_MAX_SP];  /* kernel dims */
    int64_t stride[GD_CONV_MAX_SP];
    int64_t dil[GD_CONV_MAX_SP];
    int64_t pb[GD_CONV_MAX_SP], pe[GD_CONV_MAX_SP]; /* pads at begin / end */
    int64_t out[GD_CONV_MAX_SP];                    /* output spatial dims */
    int64_t in_size, k_size, out_size;              /* products */
};

/* Attribute values as read from the node (NULL / n = -1 when absent). */
struct gd_conv_attrs {
    const char *auto_pad;
    const int64_t *strides, *dilations, *pads;
    int nstrides, ndilations, npads;
    int ceil_mode;
};

/* Fills g for a forward conv/pool window over in[nsp] with kernel k[nsp]. */
int gd_conv_geom_init(struct gd_conv_geom *g, int nsp, const int64_t *in, const int64_t *k,
                      const struct gd_conv_attrs *a, char *err, size_t errlen);

/* col[(c * k_size + kk) * out_size + o] = x[c][input position of (o, kk)] or 0 in padding,
 * for channels [c0, c1) of x (x holds `channels` planes of in_size). */
void gd_im2col_f32(const struct gd_conv_geom *g, const float *x, float *col, int64_t c0,
                   int64_t c1);
void gd_im2col_f64(const struct gd_conv_geom *g, const double *x, double *col, int64_t c0,
                   int64_t c1);
/* 2-d only: the columns [o0, o1) of gd_im2col_f32's matrix for all `channels` planes of x,
 * as a (channels * k_size) x (o1 - o0) panel (row stride o1 - o0): what one tile of a
 * convolution's GEMM reads, built where it stays in cache. */
void gd_im2col2d_cols_f32(const struct gd_conv_geom *g, const float *x, int64_t channels,
                          int64_t o0, int64_t o1, float *panel);
/* The adjoint: y[c][position] += col[...] (padding positions dropped). Here g->in is the
 * image being accumulated into and g->out the column grid. */
void gd_col2im_f32(const struct gd_conv_geom *g, const float *col, float *y, int64_t c0,
                   int64_t c1);
void gd_col2im_f64(const struct gd_conv_geom *g, const double *col, double *y, int64_t c0,
                   int64_t c1);

/* Plane x (ih x iw) zero-padded (pt rows, pl columns before it; zeros wherever the planes
 * reach past it) and split into s0 x s1 phase planes of hp x wp, stored one after another:
 * plane (a, b), at out + (a * s1 + b) * hp * wp, holds padded rows a, a + s0, ... and
 * columns b, b + s1, .... With s0 = s1 = 1 it is the padded plane. For the kernels that
 * read a strided window as contiguous runs (kernels/convgemm.h, kernels/dwconv.h). */
void gd_phase_planes_f32(const float *x, int64_t ih, int64_t iw, int64_t pt, int64_t pl, int64_t s0,
                         int64_t s1, int64_t hp, int64_t wp, float *out);

/* Input offset (relative to the plane) of output position o's window origin per dim:
 * writes origin[d] = o_d * stride - pb (may be negative). */
void gd_conv_origin(const struct gd_conv_geom *g, int64_t o, int64_t *origin);

#endif
