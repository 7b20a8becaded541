/* Implicit-GEMM convolution: 2-d float32 convolutions as a GEMM whose B operand is read
 * straight from the (zero-padded) image, with no im2col matrix and no packed copy of B.
 *
 * With stride 1, output (oh, ow) and tap (c, u, v) read padded input (c, oh + u*dh,
 * ow + v*dw). Numbering outputs by "virtual" columns q = oh * wp + ow over the padded
 * width wp makes row (c, u, v) of the GEMM's B the run of the padded planes starting at
 * off = c * hp * wp + u * dh * wp + v * dw: contiguous, so the micro-kernel loads it in
 * place (gd_sgemm_rows_fn). Stride s reduces to stride 1 by splitting each padded plane
 * into s x s phase planes (every s-th row and column): tap (u, v) then reads phase
 * (u*dh mod s, v*dw mod s) shifted by (u*dh div s, v*dw div s). The wp - out_w columns
 * per row that fall into the padding are computed and dropped; gd_convgemm_plan only takes
 * convolutions where that waste costs less than the im2col traffic it saves (few output
 * channels, wide images). B is the padded (phase-split) copy, about one input's size.
 * Pointwise stride-1 unpadded convolutions are left to the packed GEMM (no im2col there).
 *
 * Threading: gd_convgemm_pad and gd_convgemm_tiles are called over disjoint ranges from
 * several threads; the plan is read-only meanwhile. Errors: none past gd_convgemm_plan. */
#ifndef GD_ENGINE_KERNELS_CONVGEMM_H
#define GD_ENGINE_KERNELS_CONVGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "engine/kernels/epilogue.h"
#include "engine/kernels/im2col.h"
#include "engine/kernels/sgemm.h"

struct gd_convgemm {
    /* set by the caller, per (image, group) */
    const float *x;    /* the group's cg input planes */
    const float *w;    /* mg x (cg * k_size) weights, row-major */
    const float *bias; /* mg values or NULL */
    const float *z;    /* residual laid out as y, or NULL */
    float *y;          /* mg output planes */
    /* the plan (gd_convgemm_plan) */
    const struct gd_conv_geom *g;
    const struct gd_act_params *act;
    const struct gd_sgemm_ukr *u;
    int64_t mg, cg, kdim, kc; /* kc: the K slice */
    int64_t hp, wp, q;        /* (phase) plane dims, virtual columns (out rows * wp) */
    int64_t mb, nb, ntn;      /* tile rows, tile columns, tiles per row block */
    int direct;               /* C is y itself (no padding columns, whole row panels) */
    int threads;              /* per-thread tile buffers in buf */
    float *buf;               /* padded planes, then per-thread tile buffers */
    int32_t *off;             /* kdim row offsets into B */
    size_t pad_floats, tile_floats;
};

/* Plans g (2-d, weights [mg, cg, kh, kw]) for `threads` threads. Returns the scratch bytes
 * gd_convgemm_bind needs, or 0 when the implicit GEMM does not apply (stride over 4, no
 * row-offset micro-kernel on this CPU, GD_CONVGEMM=0, or im2col is the cheaper path). */
size_t gd_convgemm_plan(struct gd_convgemm *p, const struct gd_conv_geom *g, int64_t mg, int64_t cg,
                        const struct gd_act_params *act, int threads);
/* The same with micro-kernel u (tests: every ISA build), ignoring GD_CONVGEMM / GD_GEMM. */
size_t gd__convgemm_plan_ukr(struct gd_convgemm *p, const struct gd_conv_geom *g, int64_t mg,
                             int64_t cg, const struct gd_act_params *act, int threads,
                             const struct gd_sgemm_ukr *u);
/* Points the plan at scratch of the planned size (any alignment) and fills the offsets. */
void gd_convgemm_bind(struct gd_convgemm *p, void *scratch);
/* Number of tiles (for the caller's parallel loop over gd_convgemm_tiles). */
int64_t gd_convgemm_tile_count(const struct gd_convgemm *p);
/* Copies input channels [c0, c1) of p->x into the padded (phase) planes. */
void gd_convgemm_pad(const struct gd_convgemm *p, int64_t c0, int64_t c1);
/* Computes tiles [t0, t1) of y, epilogue included, in thread slot's (< threads) buffers. */
void gd_convgemm_tiles(const struct gd_convgemm *p, int slot, int64_t t0, int64_t t1);

#endif
