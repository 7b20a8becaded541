/* Resize (opset 10+) and Upsample (7-9): nearest / linear / cubic interpolation, done as
 * one separable 1-D pass per axis whose size or sampling changes.
 *
 * For each axis we precompute, per output coordinate, up to four (source index, weight)
 * taps, following the ONNX reference implementation exactly (onnx/backend/test/case/node/
 * resize.py): the source coordinate x_ori comes from coordinate_transformation_mode (with
 * "output width" = scale * input length, a float, as the reference uses); the taps are the
 * 2 (nearest, linear) or 4 (cubic) neighbours with the ratio in (0, 1]; indices outside
 * the input are clamped (edge padding) or, with exclude_outside, dropped with the weights
 * renormalised; tf_crop_and_resize maps out-of-range coordinates to extrapolation_value.
 * Opset 10 and Upsample use asymmetric coordinates and floor for nearest.
 * Values are interpolated in double; integer outputs are rounded to nearest.
 * Not supported (GD_ENOTSUP): antialias, axes, keep_aspect_ratio_policy (opset 18). */
#include <math.h>
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

enum ctm { C_HALF, C_PYTORCH_HALF, C_ALIGN, C_ASYM, C_TF_NN, C_TF_CROP };
enum nmode { N_ROUND_FLOOR, N_ROUND_CEIL, N_FLOOR, N_CEIL };

struct rs_conf {
    int mode; /* taps per output: 1 nearest (as 2 with one weight), 2 linear, 4 cubic */
    enum ctm ctm;
    enum nmode nm;
    double a, extrap;
    int exclude;
};

struct rs_axis {
    int64_t in, out;
    double scale, roi0, roi1;
    int64_t *idx; /* out * taps */
    double *w;    /* out * taps; all zero and `ex` set for extrapolated coordinates */
    unsigned char *ex;
};

static double x_original(const struct rs_conf *c, const struct rs_axis *ax, double x)
{
    double in = (double)ax->in, ow = ax->scale * in;
    switch (c->ctm) {
    case C_ALIGN:
        return ow == 1 ? 0 : x * (in - 1) / (ow - 1);
    case C_ASYM:
        return x / ax->scale;
    case C_TF_NN:
        return (x + 0.5) / ax->scale;
    case C_TF_CROP:
        return (ow == 1 ? (ax->roi1 - ax->roi0) * (in - 1) / 2
                        : x * (ax->roi1 - ax->roi0) * (in - 1) / (ow - 1)) +
               ax->roi0 * (in - 1);
    case C_PYTORCH_HALF:
        return ow == 1 ? -0.5 : (x + 0.5) / ax->scale - 0.5;
    default:
        return (x + 0.5) / ax->scale - 0.5;
    }
}

static void cubic_coeffs(double r, double A, double *c)
{
    double s = 1 - r;
    c[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
    c[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
    c[2] = ((A + 2) * s - (A + 3)) * s * s + 1;
    c[3] = ((A * (s + 1) - 5 * A) * (s + 1) + 8 * A) * (s + 1) - 4 * A;
}

/* Taps of one output coordinate; T = 2 or 4 entries written. */
static void taps_one(const struct rs_conf *c, const struct rs_axis *ax, int64_t o, int64_t *idx,
                     double *w, unsigned char *ex)
{
    int T = c->mode == 4 ? 4 : 2;
    double xo = x_original(c, ax, (double)o);
    *ex = 0;
    if (!isfinite(xo) && c->ctm != C_TF_CROP)
        xo = 0; /* only a NaN/inf roi or scale gets here: never index with it */
    if (c->ctm == C_TF_CROP && !(xo >= 0 && xo <= (double)(ax->in - 1))) {
        *ex = 1;
        for (int t = 0; t < T; t++)
            idx[t] = 0, w[t] = 0;
        return;
    }
    double f = floor(xo), r = xo - f, cf[4] = {0};
    if (r == 0) /* the reference takes the ratio in (0, 1]: left neighbour, ratio 1 */
        f -= 1, r = 1;
    if (c->mode == 1) {
        int up = c->nm == N_FLOOR        ? 0
                 : c->nm == N_CEIL       ? 1
                 : c->nm == N_ROUND_CEIL ? r >= 0.5
                                         : r > 0.5;
        if (r == 1)
            up = 1;
        cf[0] = !up, cf[1] = up;
    } else if (c->mode == 2) {
        cf[0] = 1 - r, cf[1] = r;
    } else {
        cubic_coeffs(r, c->a, cf);
    }
    int64_t first = (int64_t)f - (T == 4 ? 1 : 0);
    double sum = 0;
    for (int t = 0; t < T; t++) {
        int64_t i = first + t;
        int outside = i < 0 || i >= ax->in;
        if (c->exclude && outside)
            cf[t] = 0;
        sum += cf[t];
        idx[t] = i < 0 ? 0 : i >= ax->in ? ax->in - 1 : i;
    }
    for (int t = 0; t < T; t++)
        w[t] = (c->exclude && sum != 0) ? cf[t] / sum : cf[t];
}

/* Builds the taps of one axis in scratch; returns 1 when the axis maps identically. */
static int build_axis(struct gd_op_ctx *ctx, const struct rs_conf *c, struct rs_axis *ax, int *rc)
{
    int T = c->mode == 4 ? 4 : 2, ident = ax->in == ax->out;
    ax->idx = gd_op_scratch(ctx, (size_t)ax->out * T * sizeof(int64_t));
    ax->w = gd_op_scratch(ctx, (size_t)ax->out * T * sizeof(double));
    ax->ex = gd_op_scratch(ctx, (size_t)ax->out + 1);
    if (!ax->idx || !ax->w || !ax->ex) {
        *rc = GD_ENOMEM;
        return 0;
    }
    for (int64_t o = 0; o < ax->out; o++) {
        taps_one(c, ax, o, ax->idx + o * T, ax->w + o * T, ax->ex + o);
        double on = 0, off = 0;
        for (int t = 0; t < T; t++)
            *(ax->idx[o * T + t] == o ? &on : &off) += fabs(ax->w[o * T + t]);
        ident = ident && !ax->ex[o] && on == 1 && off == 0;
    }
    return ident;
}

/* One separable pass along one axis: src [outer, in, inner] -> dst [outer, out, inner]. */
struct rs_pass {
    const struct rs_conf *c;
    const struct rs_axis *ax;
    const double *src;
    double *dst;
    int64_t inner;
};

/* Outer blocks [begin, end) of one pass (run on the engine's threads). */
static void resize_pass_range(void *ud, int64_t begin, int64_t end)
{
    const struct rs_pass *r = ud;
    const struct rs_conf *c = r->c;
    const struct rs_axis *ax = r->ax;
    const double *src = r->src;
    double *dst = r->dst;
    int64_t inner = r->inner;
    int T = c->mode == 4 ? 4 : 2;
    for (int64_t p = begin; p < end; p++)
        for (int64_t o = 0; o < ax->out; o++) {
            double *d = dst + (p * ax->out + o) * inner;
            const int64_t *ix = ax->idx + o * T;
            const double *w = ax->w + o * T;
            if (ax->ex[o]) {
                for (int64_t i = 0; i < inner; i++)
                    d[i] = c->extrap;
                continue;
            }
            if (inner == 1) { /* last-axis pass: one value per output */
                double v = 0;
                for (int t = 0; t < T; t++)
                    if (w[t] != 0)
                        v += w[t] * src[p * ax->in + ix[t]];
                d[0] = v;
                continue;
            }
            for (int64_t i = 0; i < inner; i++) /* whole rows, tap by tap (vectorises) */
                d[i] = 0;
            for (int t = 0; t < T; t++) {
                const double *row = src + (p * ax->in + ix[t]) * inner;
                if (w[t] != 0)
                    for (int64_t i = 0; i < inner; i++)
                        d[i] += w[t] * row[i];
            }
        }
}

static void resize_pass(struct gd_op_ctx *ctx, const struct rs_conf *c, const struct rs_axis *ax,
                        const double *src, double *dst, int64_t outer, int64_t inner)
{
    struct rs_pass r = {c, ax, src, dst, inner};
    int64_t per = ax->out * inner; /* outputs per outer block */
    gd_op_parallel_for(ctx, outer, per >= 4096 ? 1 : 4096 / (per + 1) + 1, resize_pass_range, &r);
}

static int parse_conf(struct gd_op_ctx *ctx, struct rs_conf *c, int legacy)
{
    const char *m = gd_op_attr_string(ctx, "mode", "nearest");
    c->mode = strcmp(m, "nearest") == 0                                  ? 1
              : (strcmp(m, "linear") == 0 || strcmp(m, "bilinear") == 0) ? 2
              : strcmp(m, "cubic") == 0 && !legacy                       ? 4
                                                                         : 0;
    if (!c->mode)
        return gd_op_fail(ctx, GD_EINVAL, "unknown mode '%s'", m);
    static const char *const ctms[] = {"half_pixel", "pytorch_half_pixel",   "align_corners",
                                       "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    const char *ct = legacy
                         ? "asymmetric"
                         : gd_op_attr_string(ctx, "coordinate_transformation_mode", "half_pixel");
    const char *nm =
        legacy ? "floor" : gd_op_attr_string(ctx, "nearest_mode", "round_prefer_floor");
    int i;
    for (i = 0; i < 6 && strcmp(ct, ctms[i]); i++)
        ;
    if (i == 6)
        return gd_op_fail(ctx, GD_EINVAL, "unknown coordinate_transformation_mode '%s'", ct);
    c->ctm = (enum ctm)i;
    for (i = 0; i < 4 && strcmp(nm, nms[i]); i++)
        ;
    if (i == 4)
        return gd_op_fail(ctx, GD_EINVAL, "unknown nearest_mode '%s'", nm);
    c->nm = (enum nmode)i;
    c->a = gd_op_attr_float(ctx, "cubic_coeff_a", -0.75f);
    c->exclude = gd_op_attr_int(ctx, "exclude_outside", 0) != 0;
    c->extrap = gd_op_attr_float(ctx, "extrapolation_value", 0);
    if (gd_op_attr_int(ctx, "antialias", 0) || gd_op_attr_has(ctx, "axes") ||
        strcmp(gd_op_attr_string(ctx, "keep_aspect_ratio_policy", "stretch"), "stretch"))
        return gd_op_fail(ctx, GD_ENOTSUP, "antialias/axes/keep_aspect_ratio_policy");
    return 0;
}

/* Fills in/out/scale/roi of every axis from scales or sizes (and roi). */
static int parse_sizes(struct gd_op_ctx *ctx, const struct gd_tensor *x, struct rs_axis *ax,
                       int legacy)
{
    int op = gd_op_opset(ctx), r = x->rank;
    const struct gd_tensor *sc, *sz = NULL, *roi = NULL;
    const float *fs = NULL;
    if (legacy && op < 9 && strcmp(gd_op_type(ctx), "Upsample") == 0) {
        sc = NULL;
        if (gd_op_attr_floats(ctx, "scales", &fs) != r)
            return gd_op_fail(ctx, GD_EINVAL, "scales attribute must have %d values", r);
    } else {
        sc = gd_op_input(ctx, legacy ? 1 : 2);
        sz = legacy ? NULL : gd_op_input(ctx, 3);
        roi = legacy ? NULL : gd_op_input(ctx, 1);
        if (sc && sc->numel == 0)
            sc = NULL;
        if (sz && sz->numel == 0)
            sz = NULL;
        if (!sc == !sz)
            return gd_op_fail(ctx, GD_EINVAL, "exactly one of scales and sizes must be given");
        if ((sc && (sc->numel != r || !gd_dtype_is_float(sc->dtype))) ||
            (sz && (sz->numel != r || !gd_dtype_is_int(sz->dtype))))
            return gd_op_fail(ctx, GD_EINVAL, "scales/sizes must have %d float/int values", r);
    }
    for (int i = 0; i < r; i++) {
        struct rs_axis *a = &ax[i];
        a->in = x->dims[i];
        a->roi0 = 0, a->roi1 = 1;
        if (roi && roi->numel == 2 * r && roi->dtype != GD_DTYPE_STRING)
            a->roi0 = gd_tensor_get_f64(roi, i), a->roi1 = gd_tensor_get_f64(roi, r + i);
        if (sz) {
            a->out = gd_tensor_get_i64(sz, i);
            if (a->out < 0 || a->out > GD_TENSOR_MAX_NUMEL)
                return gd_op_fail(ctx, GD_EINVAL, "invalid size %lld", (long long)a->out);
            a->scale = a->in ? (double)a->out / (double)a->in : 1;
        } else {
            a->scale = fs ? fs[i] : (double)(float)gd_tensor_get_f64(sc, i);
            double o = floor(a->scale * (double)a->in);
            if (!(a->scale > 0) || !(o <= (double)GD_TENSOR_MAX_NUMEL))
                return gd_op_fail(ctx, GD_EINVAL, "invalid scale %g", a->scale);
            a->out = (int64_t)o;
        }
        if (a->in == 0 && a->out > 0)
            return gd_op_fail(ctx, GD_EINVAL, "cannot resize an empty axis");
    }
    return 0;
}

static int resize_common(struct gd_op_ctx *ctx, int legacy)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    if (x->dtype == GD_DTYPE_STRING || x->dtype == GD_DTYPE_BOOL)
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s", gd_dtype_name(x->dtype));
    struct rs_conf c = {0};
    struct rs_axis ax[GD_TENSOR_MAX_RANK] = {{0}};
    if ((rc = parse_conf(ctx, &c, legacy)) || (rc = parse_sizes(ctx, x, ax, legacy)))
        return rc;
    int64_t d[GD_TENSOR_MAX_RANK], cur[GD_TENSOR_MAX_RANK], maxn = x->numel;
    for (int i = 0; i < x->rank; i++)
        d[i] = ax[i].out, cur[i] = ax[i].in;
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, x->rank, d);
    if (!y)
        return GD_ENOMEM;
    if (y->numel == 0)
        return 0;
    for (int i = 0; i < x->rank; i++) { /* largest intermediate: grow axes in order */
        cur[i] = ax[i].out;
        int64_t n;
        if (gd_shape_numel(x->rank, cur, &n))
            return gd_op_fail(ctx, GD_ERANGE, "intermediate too large");
        maxn = n > maxn ? n : maxn;
    }
    double *a = gd_op_scratch(ctx, (size_t)maxn * sizeof(double));
    double *b = gd_op_scratch(ctx, (size_t)maxn * sizeof(double));
    if (!a || !b)
        return GD_ENOMEM;
    gd__ot_load_f64(x, 0, x->numel, a);
    for (int i = 0; i < x->rank; i++)
        cur[i] = ax[i].in;
    for (int i = 0; i < x->rank; i++) {
        if (build_axis(ctx, &c, &ax[i], &rc) || rc)
            continue; /* identity axis (or error, checked below) */
        resize_pass(ctx, &c, &ax[i], a, b, gd__ot_prod(cur, 0, i),
                    gd__ot_prod(cur, i + 1, x->rank));
        cur[i] = ax[i].out;
        double *t = a;
        a = b, b = t;
    }
    if (rc)
        return rc;
    if (gd_dtype_is_int(x->dtype))
        for (int64_t i = 0; i < y->numel; i++)
            a[i] = nearbyint(a[i]);
    gd__ot_store_f64(y, 0, y->numel, a);
    return 0;
}

static int resize_run(struct gd_op_ctx *ctx)
{
    return resize_common(ctx, gd_op_opset(ctx) < 11);
}

static int upsample_run(struct gd_op_ctx *ctx)
{
    return resize_common(ctx, 1);
}

const struct gd_op_def gd_ops_resize[] = {
    {"", "Resize", 10, 0, resize_run, 0},
    {"", "Upsample", 7, 9, upsample_run, 0},
    {0},
};
