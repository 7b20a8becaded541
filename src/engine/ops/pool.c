/* Pooling: MaxPool (with Indices, ceil_mode, dilations, storage_order), AveragePool
 * (count_include_pad, ceil_mode, dilations), LpPool, and the Global* forms.
 *
 * Every output position visits only the kernel taps that land inside the input: per
 * spatial dim the valid tap range [lo, hi) is computed from the window origin, and an
 * odometer walks the box. AveragePool divides by the number of valid taps, or with
 * count_include_pad by the taps inside the padded input (so a ceil_mode window hanging
 * past the end padding is not over-counted, as ONNX Runtime and PyTorch do).
 * MaxPool indices are flat over the whole X (n, c included), row-major, or column-major
 * over the spatial dims when storage_order = 1. Planes run in parallel. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/kernels/ew_gen.h"
#include "engine/op.h"
#include "engine/ops/conv.h"
#include "engine/ops/registry.h"

enum pool_kind { POOL_MAX, POOL_AVG, POOL_LP };

struct pool_job {
    const struct gd_conv_geom *g;
    const struct gd_tensor *x;
    struct gd_tensor *y, *ind;
    enum pool_kind kind;
    int include_pad, col_major;
    double p;
    void *rows; /* 2-d fast path: one input row of x's dtype per pool thread */
};

/* Valid tap range of dim d for a window starting at org, inside [lo_b, hi_b). */
static void tap_range(const struct gd_conv_geom *g, int d, int64_t org, int64_t lo_b, int64_t hi_b,
                      int64_t *lo, int64_t *hi)
{
    int64_t dil = g->dil[d], a = 0, b = g->k[d];
    if (org < lo_b)
        a = (lo_b - org + dil - 1) / dil;
    if (org + (b - 1) * dil >= hi_b)
        b = hi_b - org <= 0 ? 0 : (hi_b - org - 1) / dil + 1;
    *lo = a;
    *hi = b > a ? b : a;
}

#define POOL_KERNEL(S, T, CT, LD, STO)                                                             \
    static void pool_##S(const struct pool_job *j, int64_t pb_, int64_t pe_)                       \
    {                                                                                              \
        const struct gd_conv_geom *g = j->g;                                                       \
        int nsp = g->nsp;                                                                          \
        int64_t org[GD_CONV_MAX_SP], lo[GD_CONV_MAX_SP], hi[GD_CONV_MAX_SP], kk[GD_CONV_MAX_SP];   \
        int64_t istr[GD_CONV_MAX_SP], cstr[GD_CONV_MAX_SP], s = 1, cs = 1;                         \
        for (int d = nsp - 1; d >= 0; d--) {                                                       \
            istr[d] = s;                                                                           \
            s *= g->in[d];                                                                         \
        }                                                                                          \
        for (int d = 0; d < nsp; d++) {                                                            \
            cstr[d] = cs;                                                                          \
            cs *= g->in[d];                                                                        \
        }                                                                                          \
        for (int64_t p = pb_; p < pe_; p++) {                                                      \
            const T *x = (const T *)j->x->data + p * g->in_size;                                   \
            T *y = (T *)j->y->data + p * g->out_size;                                              \
            for (int64_t o = 0; o < g->out_size; o++) {                                            \
                gd_conv_origin(g, o, org);                                                         \
                int64_t cnt = 1, padcnt = 1;                                                       \
                for (int d = 0; d < nsp; d++) {                                                    \
                    int64_t plo, phi;                                                              \
                    tap_range(g, d, org[d], 0, g->in[d], &lo[d], &hi[d]);                          \
                    tap_range(g, d, org[d], -g->pb[d], g->in[d] + g->pe[d], &plo, &phi);           \
                    cnt *= hi[d] - lo[d];                                                          \
                    padcnt *= phi - plo;                                                           \
                    kk[d] = lo[d];                                                                 \
                }                                                                                  \
                CT best = -INFINITY, acc = 0;                                                      \
                int64_t arg = -1;                                                                  \
                while (cnt > 0) {                                                                  \
                    int64_t off = 0, coff = 0;                                                     \
                    for (int d = 0; d < nsp; d++) {                                                \
                        int64_t id = org[d] + kk[d] * g->dil[d];                                   \
                        off += id * istr[d];                                                       \
                        coff += id * cstr[d];                                                      \
                    }                                                                              \
                    CT v = LD(x[off]);                                                             \
                    if (j->kind == POOL_MAX) {                                                     \
                        if (v > best || arg < 0) {                                                 \
                            best = v;                                                              \
                            arg = j->col_major ? coff : off;                                       \
                        }                                                                          \
                    } else if (j->kind == POOL_AVG) {                                              \
                        acc += v;                                                                  \
                    } else {                                                                       \
                        acc += (CT)pow(fabs((double)v), j->p);                                     \
                    }                                                                              \
                    int d = nsp - 1;                                                               \
                    for (; d >= 0; d--) {                                                          \
                        if (++kk[d] < hi[d])                                                       \
                            break;                                                                 \
                        kk[d] = lo[d];                                                             \
                    }                                                                              \
                    if (d < 0)                                                                     \
                        break;                                                                     \
                }                                                                                  \
                if (j->kind == POOL_MAX) {                                                         \
                    y[o] = STO(arg < 0 ? 0 : best);                                                \
                    if (j->ind)                                                                    \
                        ((int64_t *)j->ind->data)[p * g->out_size + o] =                           \
                            arg < 0 ? -1 : p * g->in_size + arg;                                   \
                } else if (j->kind == POOL_AVG) {                                                  \
                    int64_t div = j->include_pad ? padcnt : cnt;                                   \
                    y[o] = STO(div > 0 ? acc / (CT)div : 0);                                       \
                } else {                                                                           \
                    y[o] = STO((CT)pow((double)acc, 1.0 / j->p));                                  \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }
POOL_KERNEL(f32, float, float, EW_ID, EW_ID)
POOL_KERNEL(f64, double, double, EW_ID, EW_ID)
POOL_KERNEL(f16, gd_f16, float, EW_F16LD, EW_F16ST)
POOL_KERNEL(i8, int8_t, float, EW_ID, (int8_t))
POOL_KERNEL(u8, uint8_t, float, EW_ID, (uint8_t))

/* row[i] = max(row[i], x[i]) as the general kernel's rule (x wins only when greater, so
 * NaN never does), or row[i] += x[i]; in blocks of 16 (fixed-length loops vectorise). */
#define POOL_FOLD(S, T)                                                                            \
    static void fold_##S(T *restrict row, const T *restrict x, int64_t n, int max)                 \
    {                                                                                              \
        int64_t i = 0;                                                                             \
        if (max) {                                                                                 \
            for (; i + 16 <= n; i += 16)                                                           \
                for (int l = 0; l < 16; l++)                                                       \
                    row[i + l] = x[i + l] > row[i + l] ? x[i + l] : row[i + l];                    \
            for (; i < n; i++)                                                                     \
                row[i] = x[i] > row[i] ? x[i] : row[i];                                            \
            return;                                                                                \
        }                                                                                          \
        for (; i + 16 <= n; i += 16)                                                               \
            for (int l = 0; l < 16; l++)                                                           \
                row[i + l] += x[i + l];                                                            \
        for (; i < n; i++)                                                                         \
            row[i] += x[i];                                                                        \
    }
POOL_FOLD(f32, float)
POOL_FOLD(f64, double)

/* 2-d Max/Average pooling without indices, separably: per output row the window's valid
 * input rows are folded column by column into a row buffer (the thread's slice of
 * j->rows), then each output folds its valid columns of that buffer. */
#define POOL2D_KERNEL(S, T)                                                                        \
    static void pool2d_##S(const struct pool_job *j, int64_t pb_, int64_t pe_)                     \
    {                                                                                              \
        const struct gd_conv_geom *g = j->g;                                                       \
        int64_t ih = g->in[0], iw = g->in[1], dh = g->dil[0], dw = g->dil[1];                      \
        int max = j->kind == POOL_MAX;                                                             \
        T *row = (T *)j->rows + (size_t)gd_op_thread_slot() * (size_t)iw;                          \
        for (int64_t p = pb_; p < pe_; p++) {                                                      \
            const T *x = (const T *)j->x->data + p * g->in_size;                                   \
            T *y = (T *)j->y->data + p * g->out_size;                                              \
            for (int64_t r = 0; r < g->out[0]; r++, y += g->out[1]) {                              \
                int64_t oh = r * g->stride[0] - g->pb[0], hlo, hhi, phlo, phhi;                    \
                tap_range(g, 0, oh, 0, ih, &hlo, &hhi);                                            \
                tap_range(g, 0, oh, -g->pb[0], ih + g->pe[0], &phlo, &phhi);                       \
                for (int64_t i = 0; i < iw; i++)                                                   \
                    row[i] = max ? (T)-INFINITY : 0;                                               \
                for (int64_t u = hlo; u < hhi; u++)                                                \
                    fold_##S(row, x + (oh + u * dh) * iw, iw, max);                                \
                for (int64_t c = 0; c < g->out[1]; c++) {                                          \
                    int64_t ow = c * g->stride[1] - g->pb[1], wlo, whi, pwlo, pwhi;                \
                    tap_range(g, 1, ow, 0, iw, &wlo, &whi);                                        \
                    tap_range(g, 1, ow, -g->pb[1], iw + g->pe[1], &pwlo, &pwhi);                   \
                    const T *rr = row + ow;                                                        \
                    T best = (T)-INFINITY, acc = 0;                                                \
                    for (int64_t v = wlo; v < whi; v++) {                                          \
                        T t = rr[v * dw];                                                          \
                        best = t > best ? t : best;                                                \
                        acc += t;                                                                  \
                    }                                                                              \
                    int64_t cnt = (hhi - hlo) * (whi - wlo);                                       \
                    int64_t div = j->include_pad ? (phhi - phlo) * (pwhi - pwlo) : cnt;            \
                    if (max)                                                                       \
                        y[c] = cnt ? best : 0;                                                     \
                    else                                                                           \
                        y[c] = div ? acc / (T)div : 0;                                             \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }
POOL2D_KERNEL(f32, float)
POOL2D_KERNEL(f64, double)

static void pool_range(void *ud, int64_t b, int64_t e)
{
    const struct pool_job *j = ud;
    if (j->rows && j->x->dtype == GD_DTYPE_FLOAT) {
        pool2d_f32(j, b, e);
        return;
    }
    if (j->rows) {
        pool2d_f64(j, b, e);
        return;
    }
    switch (j->x->dtype) {
    case GD_DTYPE_FLOAT:
        pool_f32(j, b, e);
        break;
    case GD_DTYPE_DOUBLE:
        pool_f64(j, b, e);
        break;
    case GD_DTYPE_FLOAT16:
        pool_f16(j, b, e);
        break;
    case GD_DTYPE_INT8:
        pool_i8(j, b, e);
        break;
    case GD_DTYPE_UINT8:
        pool_u8(j, b, e);
        break;
    default:
        break;
    }
}

static int pool_dtype_ok(enum gd_dtype dt, enum pool_kind kind)
{
    if (dt == GD_DTYPE_FLOAT || dt == GD_DTYPE_DOUBLE || dt == GD_DTYPE_FLOAT16)
        return 1;
    return kind == POOL_MAX && (dt == GD_DTYPE_INT8 || dt == GD_DTYPE_UINT8);
}

/* Shared driver: global pools use the whole spatial extent as the kernel. */
static int pool_run(struct gd_op_ctx *ctx, enum pool_kind kind, int global)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0);
    if (!x)
        return gd_op_fail(ctx, GD_EINVAL, "missing input 0");
    if (!pool_dtype_ok(x->dtype, kind))
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s not supported", gd_dtype_name(x->dtype));
    if (x->rank < 3)
        return gd_op_fail(ctx, GD_EINVAL, "input rank %d < 3", x->rank);
    int nsp = x->rank - 2;
    struct gd_conv_attrs a;
    const int64_t *k = x->dims + 2;
    if (global) {
        memset(&a, 0, sizeof a);
    } else {
        gd__conv_read_attrs(ctx, &a, 1);
        if (gd_op_attr_ints(ctx, "kernel_shape", &k) != nsp)
            return gd_op_fail(ctx, GD_EINVAL, "kernel_shape must have %d values", nsp);
    }
    struct gd_conv_geom g;
    char err[160];
    if (gd_conv_geom_init(&g, nsp, x->dims + 2, k, &a, err, sizeof err))
        return gd_op_fail(ctx, GD_EINVAL, "%s", err);
    int64_t dims[GD_TENSOR_MAX_RANK] = {x->dims[0], x->dims[1]};
    for (int d = 0; d < nsp; d++)
        dims[2 + d] = g.out[d];
    struct pool_job j = {&g, x, NULL, NULL, kind, 0, 0, 2, NULL};
    if (!(j.y = gd_op_output(ctx, 0, x->dtype, x->rank, dims)))
        return GD_ENOMEM;
    if (kind == POOL_MAX && gd_op_num_outputs(ctx) > 1 && gd_op_output_wanted(ctx, 1) &&
        !(j.ind = gd_op_output(ctx, 1, GD_DTYPE_INT64, x->rank, dims)))
        return GD_ENOMEM;
    if (!global) {
        j.include_pad = gd_op_attr_int(ctx, "count_include_pad", 0) != 0;
        j.col_major = gd_op_attr_int(ctx, "storage_order", 0) != 0;
    }
    if (kind == POOL_LP) {
        j.p = (double)gd_op_attr_int(ctx, "p", 2);
        if (j.p <= 0)
            return gd_op_fail(ctx, GD_EINVAL, "p must be positive");
    }
    if (nsp == 2 && !j.ind && kind != POOL_LP &&
        (x->dtype == GD_DTYPE_FLOAT || x->dtype == GD_DTYPE_DOUBLE) && j.y->numel) {
        size_t bytes;
        if (gd_size_mul((size_t)gd_op_num_threads(ctx) * gd_dtype_size(x->dtype), (size_t)g.in[1],
                        &bytes))
            return gd_op_fail(ctx, GD_ERANGE, "input rows too wide");
        if (!(j.rows = gd_op_scratch(ctx, bytes)))
            return GD_ENOMEM;
    }
    if (j.y->numel)
        gd_op_parallel_for(ctx, x->dims[0] * x->dims[1], 1, pool_range, &j);
    return 0;
}

static int maxpool_run(struct gd_op_ctx *ctx)
{
    return pool_run(ctx, POOL_MAX, 0);
}
static int avgpool_run(struct gd_op_ctx *ctx)
{
    return pool_run(ctx, POOL_AVG, 0);
}
static int lppool_run(struct gd_op_ctx *ctx)
{
    return pool_run(ctx, POOL_LP, 0);
}
static int gmaxpool_run(struct gd_op_ctx *ctx)
{
    return pool_run(ctx, POOL_MAX, 1);
}
static int gavgpool_run(struct gd_op_ctx *ctx)
{
    return pool_run(ctx, POOL_AVG, 1);
}
static int glppool_run(struct gd_op_ctx *ctx)
{
    return pool_run(ctx, POOL_LP, 1);
}

const struct gd_op_def gd_ops_pool[] = {
    {"", "MaxPool", 1, 0, maxpool_run, 0},
    {"", "AveragePool", 1, 0, avgpool_run, 0},
    {"", "LpPool", 1, 0, lppool_run, 0},
    {"", "GlobalMaxPool", 1, 0, gmaxpool_run, 0},
    {"", "GlobalAveragePool", 1, 0, gavgpool_run, 0},
    {"", "GlobalLpPool", 1, 0, glppool_run, 0},
    {0},
};
