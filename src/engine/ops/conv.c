/* Conv: N-d convolution (1..GD_CONV_MAX_SP spatial dims) with groups, strides, dilations,
 * pads and auto_pad.
 *
 * Paths, per (image, group):
 *  - depthwise (one input and one output channel per group): a direct window loop per
 *    plane, planes in parallel;
 *  - pointwise (1x1 kernel, stride 1, no pads): the input plane block already is the
 *    column matrix, so it is one GEMM W_g [M/g, C/g] x X_g [C/g, HW];
 *  - otherwise im2col (channels in parallel) into scratch, then W_g x col with the GEMM
 *    split over the pool.
 * The bias is written into Y first and the GEMM accumulates onto it (beta = 1). */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/im2col.h"
#include "engine/kernels/widen.h"
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
};

static void im2col_range(void *ud, int64_t b, int64_t e)
{
    const struct conv_job *j = ud;
    if (j->f64)
        gd_im2col_f64(j->g, j->x, j->out, b, e);
    else
        gd_im2col_f32(j->g, j->x, j->out, b, e);
}

/* Direct depthwise window loop over planes [b, e) (plane p uses filter p % C). */
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
                y[o] += acc;                                                                       \
            }                                                                                      \
        }                                                                                          \
    }
DW_KERNEL(f32, float)
DW_KERNEL(f64, double)
/* First output index o in [0, out) whose input o * s + off is >= 0, and one past the last
 * whose input is < in: the taps of one kernel offset that land inside the input. */
static void valid_span(int64_t off, int64_t s, int64_t in, int64_t out, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = in - off <= 0 ? 0 : (in - off - 1) / s + 1;
    *lo = a < out ? a : out;
    *hi = b < out ? b : out;
    if (*hi < *lo)
        *hi = *lo;
}

/* 2-d depthwise: per (kernel row, kernel column) a scaled row-add over the output span
 * whose taps are inside the input, so the inner loop has no bounds checks. */
#define DW2D_KERNEL(S, T)                                                                          \
    static void dw2d_##S(const struct conv_job *j, int64_t b, int64_t e)                           \
    {                                                                                              \
        const struct gd_conv_geom *g = j->g;                                                       \
        int64_t ih = g->in[0], iw = g->in[1], oh = g->out[0], ow = g->out[1];                      \
        int64_t sh = g->stride[0], sw = g->stride[1];                                              \
        for (int64_t p = b; p < e; p++) {                                                          \
            const T *x = (const T *)j->x + p * g->in_size;                                         \
            const T *w = (const T *)j->w + (p % j->c_per_plane) * g->k_size;                       \
            T *y = (T *)j->out + p * g->out_size;                                                  \
            for (int64_t kh = 0; kh < g->k[0]; kh++) {                                             \
                int64_t offh = kh * g->dil[0] - g->pb[0], rlo, rhi;                                \
                valid_span(offh, sh, ih, oh, &rlo, &rhi);                                          \
                for (int64_t kw = 0; kw < g->k[1]; kw++) {                                         \
                    int64_t offw = kw * g->dil[1] - g->pb[1], clo, chi;                            \
                    valid_span(offw, sw, iw, ow, &clo, &chi);                                      \
                    T wv = w[kh * g->k[1] + kw];                                                   \
                    for (int64_t r = rlo; r < rhi; r++) {                                          \
                        const T *xr = x + (r * sh + offh) * iw + offw;                             \
                        T *yr = y + r * ow;                                                        \
                        if (sw == 1)                                                               \
                            for (int64_t c = clo; c < chi; c++)                                    \
                                yr[c] += wv * xr[c];                                               \
                        else                                                                       \
                            for (int64_t c = clo; c < chi; c++)                                    \
                                yr[c] += wv * xr[c * sw];                                          \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }
DW2D_KERNEL(f32, float)
DW2D_KERNEL(f64, double)

static void dw_range(void *ud, int64_t b, int64_t e)
{
    const struct conv_job *j = ud;
    if (j->g->nsp == 2)
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

/* im2col + GEMM over every (image, group). */
static int conv_gemm(struct gd_op_ctx *ctx, const struct gd_tensor *x, const struct gd_tensor *w,
                     struct gd_tensor *y, int64_t group, const struct gd_conv_geom *g)
{
    int64_t n = x->dims[0], c = x->dims[1], m = w->dims[0], cg = c / group, mg = m / group;
    int64_t kdim = cg * g->k_size;
    size_t es = gd_dtype_size(x->dtype), bytes = 0;
    int pw = is_pointwise(g);
    void *col = NULL;
    if (!pw &&
        (gd_size_mul((size_t)kdim, (size_t)g->out_size, &bytes) || gd_size_mul(bytes, es, &bytes)))
        return gd_op_fail(ctx, GD_ERANGE, "column buffer too large");
    if (!pw && bytes && !(col = gd_op_scratch(ctx, bytes)))
        return GD_ENOMEM;
    struct gd_gemm gm = {.dt = x->dtype,
                         .m = mg,
                         .n = g->out_size,
                         .k = kdim,
                         .alpha = 1,
                         .beta = 1,
                         .lda = kdim,
                         .ldb = g->out_size,
                         .ldc = g->out_size};
    int rc = gd_kern_gemm_check(&gm);
    if (rc)
        return gd_op_fail(ctx, rc, "convolution too large for GEMM");
    for (int64_t i = 0; i < n; i++)
        for (int64_t gi = 0; gi < group; gi++) {
            const char *xp = (const char *)x->data + (size_t)((i * c + gi * cg) * g->in_size) * es;
            if (!pw) {
                struct conv_job j = {g, xp, NULL, col, 0, x->dtype == GD_DTYPE_DOUBLE};
                gd_op_parallel_for(ctx, cg, 1, im2col_range, &j);
            }
            gm.a = (const char *)w->data + (size_t)(gi * mg * kdim) * es;
            gm.b = pw ? (const void *)xp : col;
            gm.c = (char *)y->data + (size_t)((i * m + gi * mg) * g->out_size) * es;
            if ((rc = gd_kern_gemm(ctx, &gm)))
                return gd_op_fail(ctx, rc, "GEMM failed");
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

int gd__conv_exec(struct gd_op_ctx *ctx, const struct gd_tensor *x, const struct gd_tensor *w,
                  const struct gd_tensor *bias, int64_t group, const struct gd_conv_geom *g,
                  struct gd_tensor *y)
{
    if (y->numel == 0)
        return 0;
    if (bias)
        gd__conv_add_bias(ctx, y, bias);
    if (x->dims[1] == group && w->dims[0] == group) {
        struct conv_job j = {g, x->data, w->data, y->data, x->dims[1], x->dtype == GD_DTYPE_DOUBLE};
        gd_op_parallel_for(ctx, x->dims[0] * x->dims[1], 1, dw_range, &j);
        return 0;
    }
    return conv_gemm(ctx, x, w, y, group, g);
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

const struct gd_op_def gd_ops_conv[] = {
    {"", "Conv", 1, 0, conv_run, 0},
    {0},
};
