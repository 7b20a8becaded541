/* RoiAlign (opset 10, 16): for each region of interest (x1, y1, x2, y2 in input
 * coordinates times spatial_scale) and channel, an output_height x output_width grid of
 * bins, each the average (or max) of sampling_ratio^2 bilinear samples (adaptive
 * ceil(roi / bins) when sampling_ratio is 0). coordinate_transformation_mode "half_pixel"
 * (the opset 16 default) shifts by half a pixel; "output_half_pixel" (opset 10's only
 * behaviour) keeps rois at least 1x1 pixel. Samples more than one pixel outside read 0.
 * Matches the ONNX reference / torchvision roi_align. Computed in double. */
#include <math.h>
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

/* Bilinear sample of plane p [H, W] at (y, x) with the roi_align edge rules; the four
 * weighted taps go to t[0..3] (for max mode). */
static void roi_taps(const double *p, int64_t H, int64_t W, double y, double x, double *t)
{
    t[0] = t[1] = t[2] = t[3] = 0;
    if (!(y >= -1.0 && y <= (double)H && x >= -1.0 && x <= (double)W)) /* also NaN */
        return;
    y = y <= 0 ? 0 : y;
    x = x <= 0 ? 0 : x;
    int64_t yl = (int64_t)y, xl = (int64_t)x, yh, xh;
    if (yl >= H - 1)
        yh = yl = H - 1, y = (double)yl;
    else
        yh = yl + 1;
    if (xl >= W - 1)
        xh = xl = W - 1, x = (double)xl;
    else
        xh = xl + 1;
    double ly = y - (double)yl, lx = x - (double)xl, hy = 1 - ly, hx = 1 - lx;
    t[0] = hy * hx * p[yl * W + xl], t[1] = hy * lx * p[yl * W + xh];
    t[2] = ly * hx * p[yh * W + xl], t[3] = ly * lx * p[yh * W + xh];
}

struct roi_conf {
    int64_t oh, ow, sr;
    double scale, off;
    int is_max, half;
};

/* Pools one roi of one channel plane into out[oh * ow]. */
static void roi_one(const struct roi_conf *c, const double *p, int64_t H, int64_t W,
                    const double *box, double *out)
{
    double sw = box[0] * c->scale - c->off, sh = box[1] * c->scale - c->off;
    double rw = box[2] * c->scale - c->off - sw, rh = box[3] * c->scale - c->off - sh;
    if (!c->half) {
        rw = rw > 1 ? rw : 1;
        rh = rh > 1 ? rh : 1;
    }
    double bh = rh / (double)c->oh, bw = rw / (double)c->ow;
    double fh = c->sr > 0 ? (double)c->sr : ceil(rh / (double)c->oh);
    double fw = c->sr > 0 ? (double)c->sr : ceil(rw / (double)c->ow);
    /* bounded work per bin; NaN rois give one sample */
    int64_t gh = !(fh >= 1) ? 1 : fh > 1024 ? 1024 : (int64_t)fh;
    int64_t gw = !(fw >= 1) ? 1 : fw > 1024 ? 1024 : (int64_t)fw;
    for (int64_t ph = 0; ph < c->oh; ph++)
        for (int64_t pw = 0; pw < c->ow; pw++) {
            double acc = 0, mx = -INFINITY, t[4];
            for (int64_t iy = 0; iy < gh; iy++) {
                double y = sh + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
                for (int64_t ix = 0; ix < gw; ix++) {
                    double x = sw + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw;
                    roi_taps(p, H, W, y, x, t);
                    acc += t[0] + t[1] + t[2] + t[3];
                    for (int k = 0; k < 4; k++)
                        mx = t[k] > mx ? t[k] : mx;
                }
            }
            out[ph * c->ow + pw] = c->is_max ? mx : acc / (double)(gh * gw);
        }
}

static int roialign_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc), *r = x ? gd__ot_need(ctx, 1, &rc) : 0;
    const struct gd_tensor *bi = r ? gd__ot_need(ctx, 2, &rc) : 0;
    if (!bi)
        return rc;
    if (x->rank != 4 || !gd_dtype_is_float(x->dtype) || r->rank != 2 || r->dims[1] != 4 ||
        bi->rank != 1 || bi->dims[0] != r->dims[0] || !gd_dtype_is_int(bi->dtype))
        return gd_op_fail(ctx, GD_EINVAL, "needs X [N,C,H,W], rois [R,4], batch_indices [R]");
    const char *ct = gd_op_attr_string(ctx, "coordinate_transformation_mode",
                                       gd_op_opset(ctx) >= 16 ? "half_pixel" : "output_half_pixel");
    struct roi_conf c = {.oh = gd_op_attr_int(ctx, "output_height", 1),
                         .ow = gd_op_attr_int(ctx, "output_width", 1),
                         .sr = gd_op_attr_int(ctx, "sampling_ratio", 0),
                         .scale = gd_op_attr_float(ctx, "spatial_scale", 1.0f),
                         .is_max = strcmp(gd_op_attr_string(ctx, "mode", "avg"), "max") == 0,
                         .half = strcmp(ct, "half_pixel") == 0};
    c.off = c.half ? 0.5 : 0;
    if (c.oh < 1 || c.ow < 1 || c.sr < 0)
        return gd_op_fail(ctx, GD_EINVAL, "output size and sampling_ratio must be positive");
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], R = r->dims[0];
    int64_t d[4] = {R, C, c.oh, c.ow}, plane = H * W, opl = c.oh * c.ow;
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, 4, d);
    double *xv = gd_op_scratch(ctx, (size_t)(x->numel ? x->numel : 1) * sizeof *xv);
    double *yv = gd_op_scratch(ctx, (size_t)(y && y->numel ? y->numel : 1) * sizeof *yv);
    if (!y || !xv || !yv)
        return GD_ENOMEM;
    gd__ot_load_f64(x, 0, x->numel, xv);
    for (int64_t k = 0; k < R; k++) {
        int64_t n = gd_tensor_get_i64(bi, k);
        double box[4];
        if (n < 0 || n >= N)
            return gd_op_fail(ctx, GD_EINVAL, "batch index %lld out of range", (long long)n);
        gd__ot_load_f64(r, k * 4, 4, box);
        for (int64_t ch = 0; ch < C && plane; ch++)
            roi_one(&c, xv + (n * C + ch) * plane, H, W, box, yv + (k * C + ch) * opl);
    }
    gd__ot_store_f64(y, 0, y->numel, yv);
    return 0;
}

const struct gd_op_def gd_ops_roialign[] = {
    {"", "RoiAlign", 10, 0, roialign_run, 0},
    {0},
};
