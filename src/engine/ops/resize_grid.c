/* GridSample (opset 16): samples X [N, C, H, W] at the normalised (x, y) locations of
 * grid [N, Ho, Wo, 2] with nearest / bilinear / bicubic interpolation and zeros / border /
 * reflection padding, with PyTorch's grid_sample semantics (which the ONNX spec and its
 * test data follow): coordinates are unnormalised with or without align_corners; for
 * nearest and bilinear the padding mode is applied to the coordinate, for bicubic to each
 * of the 4x4 taps; taps that stay outside read 0. Computed in double. */
#include <math.h>
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

enum gpad { G_ZEROS, G_BORDER, G_REFLECT };

struct gs {
    const double *img; /* one [H, W] plane */
    int64_t H, W;
    int align, mode; /* mode: 0 nearest, 1 bilinear, 2 bicubic */
    enum gpad pad;
};

static double unnormalize(double c, int64_t size, int align)
{
    return align ? (c + 1) / 2 * (double)(size - 1) : ((c + 1) * (double)size - 1) / 2;
}

static double reflect(double c, double twice_lo, double twice_hi)
{
    if (twice_lo == twice_hi)
        return 0;
    double mn = twice_lo / 2, span = (twice_hi - twice_lo) / 2;
    c = fabs(c - mn);
    double extra = fmod(c, span), flips = floor(c / span);
    return fmod(flips, 2) == 0 ? extra + mn : span - extra + mn;
}

/* Applies border / reflection padding to a source coordinate. */
static double pad_coord(double c, int64_t size, enum gpad pad, int align)
{
    if (pad == G_ZEROS || c != c)
        return c;
    if (pad == G_REFLECT)
        c = align ? reflect(c, 0, 2 * (double)(size - 1)) : reflect(c, -1, 2 * (double)size - 1);
    return c < 0 ? 0 : c > (double)(size - 1) ? (double)(size - 1) : c;
}

/* Pixel at integer-valued coordinates given as doubles; outside (or NaN) reads 0, so
 * no out-of-range double is ever converted to an integer. */
static double pixel(const struct gs *g, double y, double x)
{
    if (!(y >= 0 && y <= (double)(g->H - 1) && x >= 0 && x <= (double)(g->W - 1)))
        return 0;
    return g->img[(int64_t)y * g->W + (int64_t)x];
}

static double cubic1(double x, double A)
{
    return ((A + 2) * x - (A + 3)) * x * x + 1;
}

static double cubic2(double x, double A)
{
    return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
}

static double sample(const struct gs *g, double gx, double gy)
{
    double x = unnormalize(gx, g->W, g->align), y = unnormalize(gy, g->H, g->align);
    if (!isfinite(x) || !isfinite(y)) /* NaN / infinite locations read 0 in every mode */
        return 0;
    if (g->mode == 2) { /* bicubic: padding per tap */
        double x0 = floor(x), y0 = floor(y), tx = x - x0, ty = y - y0, A = -0.75, v = 0;
        double wx[4] = {cubic2(tx + 1, A), cubic1(tx, A), cubic1(1 - tx, A), cubic2(2 - tx, A)};
        double wy[4] = {cubic2(ty + 1, A), cubic1(ty, A), cubic1(1 - ty, A), cubic2(2 - ty, A)};
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                double py = pad_coord(y0 - 1 + i, g->H, g->pad, g->align);
                double px = pad_coord(x0 - 1 + j, g->W, g->pad, g->align);
                v += wy[i] * wx[j] * pixel(g, floor(py), floor(px));
            }
        return v;
    }
    x = pad_coord(x, g->W, g->pad, g->align);
    y = pad_coord(y, g->H, g->pad, g->align);
    if (!(fabs(x) < 1e15 && fabs(y) < 1e15)) /* NaN or absurd coordinates read 0 */
        return 0;
    if (g->mode == 0)
        return pixel(g, (int64_t)nearbyint(y), (int64_t)nearbyint(x));
    double x0 = floor(x), y0 = floor(y), tx = x - x0, ty = y - y0;
    int64_t ix = (int64_t)x0, iy = (int64_t)y0;
    return (1 - ty) * ((1 - tx) * pixel(g, iy, ix) + tx * pixel(g, iy, ix + 1)) +
           ty * ((1 - tx) * pixel(g, iy + 1, ix) + tx * pixel(g, iy + 1, ix + 1));
}

static int gridsample_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc), *gr = x ? gd__ot_need(ctx, 1, &rc) : 0;
    if (!gr)
        return rc;
    if (x->rank != 4 || gr->rank != 4 || gr->dims[0] != x->dims[0] || gr->dims[3] != 2 ||
        !gd_dtype_is_float(x->dtype) || !gd_dtype_is_float(gr->dtype))
        return gd_op_fail(ctx, GD_EINVAL, "needs X [N,C,H,W] and grid [N,Ho,Wo,2] (float)");
    const char *m = gd_op_attr_string(ctx, "mode", "bilinear");
    const char *p = gd_op_attr_string(ctx, "padding_mode", "zeros");
    struct gs g = {.align = gd_op_attr_int(ctx, "align_corners", 0) != 0,
                   .mode = strcmp(m, "nearest") == 0   ? 0
                           : strcmp(m, "bicubic") == 0 ? 2
                                                       : 1,
                   .pad = strcmp(p, "border") == 0       ? G_BORDER
                          : strcmp(p, "reflection") == 0 ? G_REFLECT
                                                         : G_ZEROS,
                   .H = x->dims[2],
                   .W = x->dims[3]};
    if ((g.mode == 1 && strcmp(m, "bilinear")) || (g.pad == G_ZEROS && strcmp(p, "zeros")))
        return gd_op_fail(ctx, GD_EINVAL, "unknown mode '%s' or padding_mode '%s'", m, p);
    int64_t N = x->dims[0], C = x->dims[1], Ho = gr->dims[1], Wo = gr->dims[2];
    int64_t d[4] = {N, C, Ho, Wo}, plane = g.H * g.W, opl = Ho * Wo;
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, 4, d);
    double *xv = gd_op_scratch(ctx, (size_t)(x->numel ? x->numel : 1) * sizeof *xv);
    double *gv = gd_op_scratch(ctx, (size_t)(gr->numel ? gr->numel : 1) * sizeof *gv);
    double *yv = gd_op_scratch(ctx, (size_t)(y && y->numel ? y->numel : 1) * sizeof *yv);
    if (!y || !xv || !gv || !yv)
        return GD_ENOMEM;
    gd__ot_load_f64(x, 0, x->numel, xv);
    gd__ot_load_f64(gr, 0, gr->numel, gv);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            g.img = xv + (n * C + c) * plane;
            for (int64_t o = 0; o < opl; o++) {
                const double *q = gv + (n * opl + o) * 2;
                yv[(n * C + c) * opl + o] = plane ? sample(&g, q[0], q[1]) : 0;
            }
        }
    gd__ot_store_f64(y, 0, y->numel, yv);
    return 0;
}

const struct gd_op_def gd_ops_gridsample[] = {
    {"", "GridSample", 16, 0, gridsample_run, 0},
    {0},
};
