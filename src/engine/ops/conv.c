/* Conv: N-d convolution (1..GD_CONV_MAX_SP spatial dims) with groups, strides, dilations,
 * pads and auto_pad; and com.microsoft FusedConv, the same plus an epilogue.
 *
 * Paths, per (image, group):
 *  - depthwise (one input and one output channel per group): kernels/dwconv.h per plane
 *    for 1-d / 2-d (a direct window loop for more dims), planes in parallel;
 *  - 2-d float32 where it pays (kernels/convgemm.h): an implicit GEMM whose micro-kernel
 *    reads B straight from the (padded, phase-split) image, no column matrix, no packing;
 *  - pointwise (1x1 kernel, stride 1, no pads): the input plane block already is the
 *    column matrix, so it is one GEMM W_g [M/g, C/g] x X_g [C/g, HW] with no im2col;
 *  - otherwise im2col (channels in parallel) into scratch, then W_g x col.
 * The GEMM runs in tiles over the pool (plan_tiles); each tile is finished by the epilogue
 * (kernels/epilogue.h: bias, fused residual and activation) right after its GEMM, so Y is
 * written once and touched again only while cache-hot. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/kernels/convgemm.h"
#include "engine/kernels/dwconv.h"
#include "engine/kernels/epilogue.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/im2col.h"
#include "engine/kernels/widen.h"
#include "engine/model.h"
#include "engine/op.h"
#include "engine/ops/conv.h"
#include "engine/ops/registry.h"

void gd__conv_read_attrs(struct gd_op_ctx *ctx, struct gd_conv_attrs *a, int with_ceil)
{
    memset(a, 0, sizeof *a);
    a->auto_pad = gd_op_attr_string(ctx, "auto_pad", "NOTSET");
    a->nstrides = gd_op_attr_ints(ctx, "strides", &a->strides);
    a->ndilations = gd_op_attr_ints(ctx, "dilations", &a->dilations);
    a->npads = gd_op_attr_ints(ctx, "pads", &a->pads);
    if (with_ceil)
        a->ceil_mode = gd_op_attr_int(ctx, "ceil_mode", 0) != 0;
}

int gd__conv_check_kernel_shape(struct gd_op_ctx *ctx, int nsp, const int64_t *k)
{
    const int64_t *ks;
    int n = gd_op_attr_ints(ctx, "kernel_shape", &ks);
    if (n < 0)
        return 0;
    if (n != nsp)
        return gd_op_fail(ctx, GD_EINVAL, "kernel_shape has %d dims, weights have %d", n, nsp);
    for (int d = 0; d < n; d++)
        if (ks[d] != k[d])
            return gd_op_fail(ctx, GD_EINVAL, "kernel_shape mismatch on dim %d (%lld vs %lld)", d,
                              (long long)ks[d], (long long)k[d]);
    return 0;
}

void gd__conv_add_bias(struct gd_op_ctx *ctx, struct gd_tensor *y, const struct gd_tensor *bias)
{
    (void)ctx;
    int64_t m = y->dims[1], planes = y->dims[0] * m;
    int64_t plane = planes > 0 ? y->numel / planes : 0;
    for (int64_t p = 0; p < planes; p++) {
        double b = gd_tensor_get_f64(bias, p % m);
        if (y->dtype == GD_DTYPE_FLOAT)
            for (int64_t i = 0; i < plane; i++)
                ((float *)y->data)[p * plane + i] += (float)b;
        else
            for (int64_t i = 0; i < plane; i++)
                ((double *)y->data)[p * plane + i] += b;
    }
}

struct conv_job {
    const struct gd_conv_geom *g;
    const void *x, *w;
    void *out;           /* columns (im2col) or y (depthwise) */
    int64_t c_per_plane; /* depthwise: channels per image */
    int f64;
    const void *bias, *z;            /* depthwise: per-channel bias, residual (or NULL) */
    const struct gd_act_params *act; /* depthwise: epilogue */
    float *tmp;                      /* depthwise float32: tmp_floats per pool thread, or NULL */
    size_t tmp_floats;
};

static void im2col_range(void *ud, int64_t b, int64_t e)
{
    const struct conv_job *j = ud;
    if (j->f64)
        gd_im2col_f64(j->g, j->x, j->out, b, e);
    else
        gd_im2col_f32(j->g, j->x, j->out, b, e);
}

/* N-d depthwise (3 or more spatial dims): a direct window loop per plane [b, e) (plane p
 * uses filter p % C), then the epilogue over the plane. */
#define DW_KERNEL(S, T)                                                                            \
    static void dw_##S(const struct conv_job *j, int64_t b, int64_t e)                             \
    {                                                                                              \
        const struct gd_conv_geom *g = j->g;                                                       \
        int64_t org[GD_CONV_MAX_SP], kk[GD_CONV_MAX_SP], istr[GD_CONV_MAX_SP], s = 1;              \
        for (int d = g->nsp - 1; d >= 0; d--) {                                                    \
            istr[d] = s;                                                                           \
            s *= g->in[d];                                                                         \
        }                                                                                          \
        for (int64_t p = b; p < e; p++) {                                                          \
            const T *x = (const T *)j->x + p * g->in_size;                                         \
            const T *w = (const T *)j->w + (p % j->c_per_plane) * g->k_size;                       \
            T *y = (T *)j->out + p * g->out_size;                                                  \
            for (int64_t o = 0; o < g->out_size; o++) {                                            \
                gd_conv_origin(g, o, org);                                                         \
                T acc = 0;                                                                         \
                for (int64_t q = 0; q < g->k_size; q++) {                                          \
                    int64_t r = q, off = 0, ok = 1;                                                \
                    for (int d = g->nsp - 1; d >= 0; d--) {                                        \
                        kk[d] = org[d] + (r % g->k[d]) * g->dil[d];                                \
                        r /= g->k[d];                                                              \
                        ok &= kk[d] >= 0 && kk[d] < g->in[d];                                      \
                        off += kk[d] * istr[d];                                                    \
                    }                                                                              \
                    if (ok)                                                                        \
                        acc += x[off] * w[q];                                                      \
                }                                                                                  \
                y[o] = acc;                                                                        \
            }                                                                                      \
            gd_epilogue_##S(j->act, y, j->z ? (const T *)j->z + p * g->out_size : NULL,            \
                            g->out_size, j->bias ? ((const T *)j->bias)[p % j->c_per_plane] : 0);  \
        }                                                                                          \
    }
DW_KERNEL(f32, float)
DW_KERNEL(f64, double)

/* 1-d and 2-d depthwise: the plane kernel of kernels/dwconv.h (1-d as one row); float32
 * planes get this thread's slice of j->tmp. */
static struct gd_dw2d dw2d_geom(const struct gd_conv_geom *g)
{
    int two = g->nsp == 2;
    return (struct gd_dw2d){
        two ? g->in[0] : 1,  g->in[two],  two ? g->out[0] : 1,    g->out[two],
        two ? g->k[0] : 1,   g->k[two],   two ? g->stride[0] : 1, g->stride[two],
        two ? g->dil[0] : 1, g->dil[two], two ? g->pb[0] : 0,     g->pb[two]};
}

static void dw2d_f64(const struct conv_job *j, int64_t b, int64_t e)
{
    const struct gd_conv_geom *g = j->g;
    struct gd_dw2d d = dw2d_geom(g);
    for (int64_t p = b; p < e; p++) {
        int64_t c = p % j->c_per_plane;
        gd_dw2d_f64(&d, (const double *)j->x + p * g->in_size, (const double *)j->w + c * g->k_size,
                    (double *)j->out + p * g->out_size,
                    j->z ? (const double *)j->z + p * g->out_size : NULL,
                    j->bias ? ((const double *)j->bias)[c] : 0, j->act);
    }
}

static void dw2d_f32(const struct conv_job *j, int64_t b, int64_t e)
{
    const struct gd_conv_geom *g = j->g;
    struct gd_dw2d d = dw2d_geom(g);
    float *tmp = j->tmp ? j->tmp + (size_t)gd_op_thread_slot() * j->tmp_floats : NULL;
    for (int64_t p = b; p < e; p++) {
        int64_t c = p % j->c_per_plane;
        gd_dw2d_f32(&d, (const float *)j->x + p * g->in_size, (const float *)j->w + c * g->k_size,
                    (float *)j->out + p * g->out_size,
                    j->z ? (const float *)j->z + p * g->out_size : NULL,
                    j->bias ? ((const float *)j->bias)[c] : 0, j->act, tmp);
    }
}

static void dw_range(void *ud, int64_t b, int64_t e)
{
    const struct conv_job *j = ud;
    if (j->g->nsp <= 2)
        j->f64 ? dw2d_f64(j, b, e) : dw2d_f32(j, b, e);
    else if (j->f64)
        dw_f64(j, b, e);
    else
        dw_f32(j, b, e);
}

/* Validates X/W/B of a Conv and fills the geometry; returns 0 or the recorded error. */
static int conv_setup(struct gd_op_ctx *ctx, const struct gd_tensor *x, const struct gd_tensor *w,
                      const struct gd_tensor *bias, int64_t group, struct gd_conv_geom *g)
{
    if (x->dtype != w->dtype || (bias && bias->dtype != x->dtype))
        return gd_op_fail(ctx, GD_EINVAL, "input dtypes differ");
    if (x->dtype != GD_DTYPE_FLOAT && x->dtype != GD_DTYPE_DOUBLE)
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s not supported", gd_dtype_name(x->dtype));
    if (x->rank < 3 || w->rank != x->rank)
        return gd_op_fail(ctx, GD_EINVAL, "X rank %d and W rank %d must be equal and >= 3", x->rank,
                          w->rank);
    int64_t c = x->dims[1], m = w->dims[0];
    if (group < 1 || c % group || m % group || w->dims[1] != c / group)
        return gd_op_fail(ctx, GD_EINVAL, "channels (X %lld, W %lldx%lld) do not fit group %lld",
                          (long long)c, (long long)m, (long long)w->dims[1], (long long)group);
    if (bias && (bias->rank != 1 || bias->dims[0] != m))
        return gd_op_fail(ctx, GD_EINVAL, "bias must have %lld elements", (long long)m);
    int nsp = x->rank - 2, rc;
    if ((rc = gd__conv_check_kernel_shape(ctx, nsp, w->dims + 2)))
        return rc;
    struct gd_conv_attrs a;
    char err[160];
    gd__conv_read_attrs(ctx, &a, 0);
    if (gd_conv_geom_init(g, nsp, x->dims + 2, w->dims + 2, &a, err, sizeof err))
        return gd_op_fail(ctx, GD_EINVAL, "%s", err);
    return 0;
}

static int is_pointwise(const struct gd_conv_geom *g)
{
    for (int d = 0; d < g->nsp; d++)
        if (g->k[d] != 1 || g->stride[d] != 1 || g->pb[d] || g->pe[d])
            return 0;
    return 1;
}

/* One (image, group) GEMM W_g x col cut into tiles of rows [r0, r1) x columns [c0, c1)
 * of Y: each tile is one serial GEMM followed at once by the epilogue over the tile's rows,
 * while they are still in cache. */
struct conv_tiles {
    struct gd_gemm gm;    /* the whole block, beta 0 */
    int64_t mb, nb, ntn;  /* tile rows, tile columns, tiles along n */
    const void *bias, *z; /* this block's mg biases (or NULL); residual aligned with c */
    const struct gd_act_params *act;
    /* 2-d float32: each tile builds its own columns (kdim x nb per thread) instead of the
     * GEMM reading one full im2col matrix that does not fit in cache */
    float *panels;
    const struct gd_conv_geom *g;
    const float *x;
    int64_t channels;
};

static void tile_range(void *ud, int64_t b, int64_t e)
{
    const struct conv_tiles *t = ud;
    size_t es = gd_dtype_size(t->gm.dt);
    for (int64_t i = b; i < e; i++) {
        int64_t r0 = i / t->ntn * t->mb, c0 = i % t->ntn * t->nb;
        int64_t r1 = r0 + t->mb < t->gm.m ? r0 + t->mb : t->gm.m;
        int64_t c1 = c0 + t->nb < t->gm.n ? c0 + t->nb : t->gm.n;
        struct gd_gemm g = t->gm;
        g.m = r1 - r0;
        g.n = c1 - c0;
        g.a = (const char *)g.a + (size_t)(r0 * g.lda) * es;
        if (t->panels) {
            float *panel = t->panels + (size_t)gd_op_thread_slot() * (size_t)(g.k * t->nb);
            gd_im2col2d_cols_f32(t->g, t->x, t->channels, c0, c1, panel);
            g.b = panel;
            g.ldb = c1 - c0;
        } else {
            g.b = (const char *)g.b + (size_t)c0 * es;
        }
        g.c = (char *)g.c + (size_t)(r0 * g.ldc + c0) * es;
        (void)gd_kern_gemm_serial(&g); /* the whole block passed gd_kern_gemm_check */
        for (int64_t r = r0; r < r1; r++) {
            size_t at = (size_t)(r * g.ldc + c0);
            if (g.dt == GD_DTYPE_DOUBLE)
                gd_epilogue_f64(t->act, (double *)t->gm.c + at,
                                t->z ? (const double *)t->z + at : NULL, c1 - c0,
                                t->bias ? ((const double *)t->bias)[r] : 0);
            else
                gd_epilogue_f32(t->act, (float *)t->gm.c + at,
                                t->z ? (const float *)t->z + at : NULL, c1 - c0,
                                t->bias ? ((const float *)t->bias)[r] : 0);
        }
    }
}

/* Tile sizes: about TILE_BYTES of Y per tile (columns a multiple of TILE_COLS, the
 * widest micro-tile), and when that leaves fewer than two tiles per thread, row blocks of
 * TILE_ROWS multiples (divisible by every micro-kernel height) to feed the threads. */
enum { TILE_BYTES = 128 << 10, TILE_COLS = 32, TILE_ROWS = 48, PANEL_MAX_BYTES = 512 << 10 };

static void plan_tiles(struct conv_tiles *t, int threads)
{
    int64_t m = t->gm.m, n = t->gm.n, es = (int64_t)gd_dtype_size(t->gm.dt);
    int64_t nb = TILE_BYTES / (m * es) / TILE_COLS * TILE_COLS;
    if (nb < 2 * TILE_COLS)
        nb = 2 * TILE_COLS;
    t->nb = nb < n ? nb : n;
    t->ntn = (n + t->nb - 1) / t->nb;
    t->mb = m;
    if (threads > 1 && t->ntn < 2 * threads) {
        int64_t want = (2 * threads + t->ntn - 1) / t->ntn;
        int64_t mb = ((m + want - 1) / want + TILE_ROWS - 1) / TILE_ROWS * TILE_ROWS;
        t->mb = mb < m ? mb : m;
    }
}

static void convgemm_pad_range(void *ud, int64_t b, int64_t e)
{
    gd_convgemm_pad(ud, b, e);
}

static void convgemm_tile_range(void *ud, int64_t b, int64_t e)
{
    gd_convgemm_tiles(ud, gd_op_thread_slot(), b, e);
}

/* The implicit GEMM over every (image, group), or GD_ENOTSUP when it does not apply. */
static int conv_implicit(struct gd_op_ctx *ctx, const struct gd_tensor *x,
                         const struct gd_tensor *w, const struct gd_tensor *bias,
                         const struct gd_conv_epi *epi, struct gd_tensor *y, int64_t group,
                         const struct gd_conv_geom *g)
{
    int64_t n = x->dims[0], c = x->dims[1], m = w->dims[0], cg = c / group, mg = m / group;
    struct gd_convgemm p;
    size_t bytes = x->dtype == GD_DTYPE_FLOAT
                       ? gd_convgemm_plan(&p, g, mg, cg, &epi->act, gd_op_num_threads(ctx))
                       : 0;
    if (!bytes)
        return GD_ENOTSUP;
    void *scratch = gd__op_scratch_reuse(ctx, bytes);
    if (!scratch)
        return GD_ENOMEM;
    gd_convgemm_bind(&p, scratch);
    int64_t tiles = gd_convgemm_tile_count(&p);
    int64_t grain = mg * g->out_size * p.kdim < (1 << 18) ? tiles : 1; /* small: one thread */
    for (int64_t i = 0; i < n; i++)
        for (int64_t gi = 0; gi < group; gi++) {
            size_t yoff = (size_t)((i * m + gi * mg) * g->out_size);
            p.x = (const float *)x->data + (size_t)((i * c + gi * cg) * g->in_size);
            p.w = (const float *)w->data + (size_t)(gi * mg * p.kdim);
            p.bias = bias ? (const float *)bias->data + gi * mg : NULL;
            p.z = epi->z ? (const float *)epi->z->data + yoff : NULL;
            p.y = (float *)y->data + yoff;
            gd_op_parallel_for(ctx, cg, grain == 1 ? 8 : cg, convgemm_pad_range, &p);
            gd_op_parallel_for(ctx, tiles, grain, convgemm_tile_range, &p);
        }
    return 0;
}

/* im2col (skipped for pointwise) + tiled GEMM + epilogue over every (image, group). 2-d
 * float32 convolutions whose tile panel fits in L2 build each tile's columns inside the
 * tile (a kdim x nb panel per thread) instead of one full column matrix written to and
 * read back from memory: ResNet's 7x7 stem has a 7.4 MB one (2.6x faster this way). */
static int conv_gemm(struct gd_op_ctx *ctx, const struct gd_tensor *x, const struct gd_tensor *w,
                     const struct gd_tensor *bias, const struct gd_conv_epi *epi,
                     struct gd_tensor *y, int64_t group, const struct gd_conv_geom *g)
{
    int64_t n = x->dims[0], c = x->dims[1], m = w->dims[0], cg = c / group, mg = m / group;
    int64_t kdim = cg * g->k_size;
    size_t es = gd_dtype_size(x->dtype), bytes = 0;
    int pw = is_pointwise(g), threads = gd_op_num_threads(ctx);
    int tiled = !pw && g->nsp == 2 && x->dtype == GD_DTYPE_FLOAT;
    struct conv_tiles t = {.gm = {.dt = x->dtype,
                                  .m = mg,
                                  .n = g->out_size,
                                  .k = kdim,
                                  .alpha = 1,
                                  .beta = 0,
                                  .lda = kdim,
                                  .ldb = g->out_size,
                                  .ldc = g->out_size},
                           .act = &epi->act,
                           .g = g,
                           .channels = cg};
    int rc = gd_kern_gemm_check(&t.gm);
    if (rc)
        return gd_op_fail(ctx, rc, "convolution too large for GEMM");
    plan_tiles(&t, threads);
    /* only where the panel stays in L2: the stems (few input channels, big images); deeper
     * layers' panels spill like the full matrix and building them per tile only adds work */
    tiled = tiled && kdim * t.nb * (int64_t)es <= PANEL_MAX_BYTES;
    void *col = NULL;
    if (!pw && (gd_size_mul((size_t)kdim, tiled ? (size_t)(threads * t.nb) : (size_t)g->out_size,
                            &bytes) ||
                gd_size_mul(bytes, es, &bytes)))
        return gd_op_fail(ctx, GD_ERANGE, "column buffer too large");
    if (!pw && bytes && !(col = gd__op_scratch_reuse(ctx, bytes)))
        return GD_ENOMEM;
    t.panels = tiled ? col : NULL;
    int64_t tiles = t.ntn * ((mg + t.mb - 1) / t.mb);
    int64_t grain = mg * g->out_size * kdim < (1 << 18) ? tiles : 1; /* small: one thread */
    for (int64_t i = 0; i < n; i++)
        for (int64_t gi = 0; gi < group; gi++) {
            const char *xp = (const char *)x->data + (size_t)((i * c + gi * cg) * g->in_size) * es;
            size_t yoff = (size_t)((i * m + gi * mg) * g->out_size) * es;
            if (!pw && !tiled) {
                struct conv_job j = {
                    .g = g, .x = xp, .out = col, .f64 = x->dtype == GD_DTYPE_DOUBLE};
                gd_op_parallel_for(ctx, cg, 1, im2col_range, &j);
            }
            t.x = (const float *)xp;
            t.gm.a = (const char *)w->data + (size_t)(gi * mg * kdim) * es;
            t.gm.b = pw ? (const void *)xp : col;
            t.gm.c = (char *)y->data + yoff;
            t.bias = bias ? (const char *)bias->data + (size_t)(gi * mg) * es : NULL;
            t.z = epi->z ? (const char *)epi->z->data + yoff : NULL;
            gd_op_parallel_for(ctx, tiles, grain, tile_range, &t);
        }
    return 0;
}

int gd__conv_prepare(struct gd_op_ctx *ctx, const struct gd_tensor *x, const struct gd_tensor *w,
                     const struct gd_tensor *bias, int64_t group, struct gd_conv_geom *g,
                     int64_t *dims)
{
    int rc = conv_setup(ctx, x, w, bias, group, g);
    if (rc)
        return rc;
    dims[0] = x->dims[0];
    dims[1] = w->dims[0];
    for (int d = 0; d < g->nsp; d++)
        dims[2 + d] = g->out[d];
    return 0;
}

int gd__conv_exec_fused(struct gd_op_ctx *ctx, const struct gd_tensor *x, const struct gd_tensor *w,
                        const struct gd_tensor *bias, int64_t group, const struct gd_conv_geom *g,
                        const struct gd_conv_epi *epi, struct gd_tensor *y)
{
    static const struct gd_conv_epi plain = {{GD_ACT_NONE, 0, 0}, NULL};
    if (!epi)
        epi = &plain;
    if (epi->z &&
        (epi->z->dtype != y->dtype || epi->z->numel != y->numel || epi->z->rank != y->rank ||
         memcmp(epi->z->dims, y->dims, sizeof(int64_t) * (size_t)y->rank)))
        return gd_op_fail(ctx, GD_EINVAL, "Z must have the output's dtype and shape");
    if (y->numel == 0)
        return 0;
    if (x->dims[1] == group && w->dims[0] == group) {
        struct conv_job j = {g,
                             x->data,
                             w->data,
                             y->data,
                             x->dims[1],
                             x->dtype == GD_DTYPE_DOUBLE,
                             bias ? bias->data : NULL,
                             epi->z ? epi->z->data : NULL,
                             &epi->act,
                             NULL,
                             0};
        if (x->dtype == GD_DTYPE_FLOAT && g->nsp <= 2) {
            struct gd_dw2d d = dw2d_geom(g);
            size_t bytes;
            j.tmp_floats = (gd_dw2d_tmp_floats(&d) + 15) / 16 * 16;
            if (j.tmp_floats &&
                !gd_size_mul(j.tmp_floats * sizeof(float), (size_t)gd_op_num_threads(ctx),
                             &bytes) &&
                !(j.tmp = gd__op_scratch_reuse(ctx, bytes)))
                return GD_ENOMEM;
        }
        gd_op_parallel_for(ctx, x->dims[0] * x->dims[1], 1, dw_range, &j);
        return 0;
    }
    int rc = conv_implicit(ctx, x, w, bias, epi, y, group, g);
    return rc == GD_ENOTSUP ? conv_gemm(ctx, x, w, bias, epi, y, group, g) : rc;
}

int gd__conv_exec(struct gd_op_ctx *ctx, const struct gd_tensor *x, const struct gd_tensor *w,
                  const struct gd_tensor *bias, int64_t group, const struct gd_conv_geom *g,
                  struct gd_tensor *y)
{
    return gd__conv_exec_fused(ctx, x, w, bias, group, g, NULL, y);
}

/* float16 Conv: widened float32 operands and result, narrowed output. */
static int conv_f16(struct gd_op_ctx *ctx, const struct gd_tensor *x, const struct gd_tensor *w,
                    const struct gd_tensor *bias, int64_t group)
{
    struct gd_tensor wx, ww, wb, tmp;
    const struct gd_tensor *px, *pw, *pb;
    struct gd_conv_geom g;
    int64_t dims[GD_TENSOR_MAX_RANK];
    int rc;
    if (w->dtype != GD_DTYPE_FLOAT16 || (bias && bias->dtype != GD_DTYPE_FLOAT16))
        return gd_op_fail(ctx, GD_EINVAL, "input dtypes differ");
    if ((rc = gd_widen_f16(ctx, x, &wx, &px)) || (rc = gd_widen_f16(ctx, w, &ww, &pw)) ||
        (rc = gd_widen_f16(ctx, bias, &wb, &pb)) ||
        (rc = gd__conv_prepare(ctx, px, pw, pb, group, &g, dims)) ||
        (rc = gd_scratch_f32(ctx, x->rank, dims, &tmp)) ||
        (rc = gd__conv_exec(ctx, px, pw, pb, group, &g, &tmp)))
        return rc;
    struct gd_tensor *y = gd_op_output(ctx, 0, GD_DTYPE_FLOAT16, x->rank, dims);
    if (!y)
        return GD_ENOMEM;
    gd_narrow_f16(&tmp, y);
    return 0;
}

static int conv_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0), *w = gd_op_input(ctx, 1),
                           *bias = gd_op_input(ctx, 2);
    if (!x || !w)
        return gd_op_fail(ctx, GD_EINVAL, "missing input");
    if (x->dtype == GD_DTYPE_FLOAT16)
        return conv_f16(ctx, x, w, bias, gd_op_attr_int(ctx, "group", 1));
    int64_t group = gd_op_attr_int(ctx, "group", 1), dims[GD_TENSOR_MAX_RANK];
    struct gd_conv_geom g;
    int rc = gd__conv_prepare(ctx, x, w, bias, group, &g, dims);
    if (rc)
        return rc;
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, x->rank, dims);
    if (!y)
        return GD_ENOMEM;
    return gd__conv_exec(ctx, x, w, bias, group, &g, y);
}

/* com.microsoft FusedConv (ONNX Runtime's contrib op, also what graph fusion (fuse.c)
 * turns Conv + BatchNormalization + Add + activation into): Y = act(Conv(X, W, B) + Z), the
 * activation named by `activation` with `activation_params`. float32 / float64. */
static int fused_conv_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0), *w = gd_op_input(ctx, 1),
                           *bias = gd_op_input(ctx, 2);
    if (!x || !w)
        return gd_op_fail(ctx, GD_EINVAL, "missing input");
    const float *params = NULL;
    int np = gd_op_attr_floats(ctx, "activation_params", &params);
    struct gd_conv_epi epi = {.z = gd_op_input(ctx, 3)};
    const char *act = gd_op_attr_string(ctx, "activation", "");
    if (gd_act_parse(act, params, np < 0 ? 0 : np, &epi.act))
        return gd_op_fail(ctx, GD_ENOTSUP, "activation '%s' not supported", act);
    int64_t group = gd_op_attr_int(ctx, "group", 1), dims[GD_TENSOR_MAX_RANK];
    struct gd_conv_geom g;
    int rc = gd__conv_prepare(ctx, x, w, bias, group, &g, dims);
    if (rc)
        return rc;
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, x->rank, dims);
    if (!y)
        return GD_ENOMEM;
    return gd__conv_exec_fused(ctx, x, w, bias, group, &g, &epi, y);
}

const struct gd_op_def gd_ops_conv[] = {
    {"", "Conv", 1, 0, conv_run, GD_OP_F_NOZERO},
    {"com.microsoft", "FusedConv", 1, 0, fused_conv_run, GD_OP_F_NOZERO},
    {0},
};
