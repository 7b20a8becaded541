/* DFT and STFT (opset 17): the discrete Fourier transform as a product with the DFT
 * matrix, evaluated directly in double (O(n^2) per transform; exact-enough and simple for
 * the signal sizes models carry; an FFT would be the optimisation).
 *
 * Layout: the last dim holds 1 (real) or 2 (real, imaginary) components; outputs are
 * always complex. DFT runs along `axis` (default 1) with optional dft_length (zero pad or
 * truncate), `inverse` (conjugate kernel, scaled by 1/n) and `onesided` (real input: keep
 * bins 0..n/2). STFT frames [batch, length, 1|2] signals by frame_step and frame_length
 * (default: the window's length), multiplies each frame by the optional window and keeps
 * the one-sided spectrum by default. Twiddles come from a table indexed by (j * k) mod n,
 * so large products do not lose precision. */
#include <math.h>

#include "engine/op.h"
#include "engine/ops/registry.h"

#define DFT_MAX_LEN ((int64_t)1 << 24)

/* cos/sin table of n entries (scratch). */
static double *twiddles(struct gd_op_ctx *ctx, int64_t n)
{
    double *t = gd_op_scratch(ctx, (size_t)(2 * n + 2) * sizeof(double));
    for (int64_t j = 0; t && j < n; j++) {
        double a = 2 * M_PI * (double)j / (double)n;
        t[2 * j] = cos(a);
        t[2 * j + 1] = sin(a);
    }
    return t;
}

/* Direct transforms cost transforms * bins * taps; refuse what would run for minutes. */
#define DFT_MAX_WORK ((int64_t)1 << 34)
static int too_much(int64_t transforms, int64_t bins, int64_t taps)
{
    return transforms > 0 && bins > 0 && taps > DFT_MAX_WORK / transforms / bins;
}

struct dft_plan {
    int64_t outer, nin, inner, ch, len, nout;
    int inverse;
    const double *tw;
};

/* y[(o * nout + k) * inner + i][re, im] = sum_j x[(o * nin + j) * inner + i] * w(j) * W^(jk);
 * xoff/xstep address the input frame (STFT frames overlap), win may be NULL. */
static void dft_apply(const struct dft_plan *p, const struct gd_tensor *x, int64_t xoff,
                      int64_t xstep, const struct gd_tensor *win, struct gd_tensor *y, int64_t yoff)
{
    int64_t nuse = p->nin < p->len ? p->nin : p->len;
    double sgn = p->inverse ? 1 : -1, scale = p->inverse ? 1.0 / (double)p->len : 1;
    for (int64_t k = 0; k < p->nout; k++)
        for (int64_t i = 0; i < p->inner; i++) {
            double re = 0, im = 0;
            for (int64_t j = 0; j < nuse; j++) {
                int64_t xi = (xoff + j * xstep + i) * p->ch;
                double w = win ? gd_tensor_get_f64(win, j) : 1;
                double a = gd_tensor_get_f64(x, xi) * w;
                double b = p->ch == 2 ? gd_tensor_get_f64(x, xi + 1) * w : 0;
                int64_t t = (j * k) % p->len;
                double c = p->tw[2 * t], s = sgn * p->tw[2 * t + 1];
                re += a * c - b * s;
                im += a * s + b * c;
            }
            int64_t yi = (yoff + k * p->inner + i) * 2;
            gd_tensor_set_f64(y, yi, re * scale);
            gd_tensor_set_f64(y, yi + 1, im * scale);
        }
}

static int dft_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0), *dl = gd_op_input(ctx, 1);
    if (!x || x->rank < 2 || !gd_dtype_is_float(x->dtype))
        return gd_op_fail(ctx, GD_EINVAL, "input must be a float tensor of rank >= 2");
    struct dft_plan p = {.ch = x->dims[x->rank - 1],
                         .inverse = gd_op_attr_int(ctx, "inverse", 0) != 0};
    int onesided = gd_op_attr_int(ctx, "onesided", 0) != 0, ax;
    if (p.ch != 1 && p.ch != 2)
        return gd_op_fail(ctx, GD_EINVAL, "last dim must be 1 (real) or 2 (complex)");
    if (gd_axis_normalize(gd_op_attr_int(ctx, "axis", 1), x->rank - 1, &ax))
        return gd_op_fail(ctx, GD_EINVAL, "axis out of range");
    p.outer = p.inner = 1;
    for (int d = 0; d < x->rank - 1; d++) {
        if (d < ax)
            p.outer *= x->dims[d];
        else if (d > ax)
            p.inner *= x->dims[d];
    }
    p.nin = x->dims[ax];
    p.len = dl ? gd_tensor_get_i64(dl, 0) : p.nin;
    if (p.len < 1 || p.len > DFT_MAX_LEN || (dl && dl->numel != 1))
        return gd_op_fail(ctx, GD_EINVAL, "bad dft_length");
    p.nout = onesided ? p.len / 2 + 1 : p.len;
    if (too_much(p.outer * p.inner, p.nout, p.nin < p.len ? p.nin : p.len))
        return gd_op_fail(ctx, GD_ENOTSUP, "transform too large for the direct DFT");
    int64_t dims[GD_TENSOR_MAX_RANK];
    for (int d = 0; d < x->rank; d++)
        dims[d] = d == ax ? p.nout : x->dims[d];
    dims[x->rank - 1] = 2;
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, x->rank, dims);
    if (!y || !(p.tw = twiddles(ctx, p.len)))
        return GD_ENOMEM;
    for (int64_t o = 0; o < p.outer; o++)
        dft_apply(&p, x, o * p.nin * p.inner, p.inner, NULL, y, o * p.nout * p.inner);
    return 0;
}

static int stft_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0), *step = gd_op_input(ctx, 1),
                           *win = gd_op_input(ctx, 2), *fl = gd_op_input(ctx, 3);
    if (!x || x->rank != 3 || !gd_dtype_is_float(x->dtype) || !step || step->numel != 1)
        return gd_op_fail(ctx, GD_EINVAL, "needs a [batch, length, 1|2] signal and a frame_step");
    struct dft_plan p = {.ch = x->dims[2], .inner = 1};
    int64_t hop = gd_tensor_get_i64(step, 0), n = x->dims[1];
    p.len = fl ? gd_tensor_get_i64(fl, 0) : win ? win->numel : 0;
    if ((p.ch != 1 && p.ch != 2) || hop < 1 || p.len < 1 || p.len > n || p.len > DFT_MAX_LEN ||
        (win && win->numel != p.len))
        return gd_op_fail(ctx, GD_EINVAL, "bad frame_step / frame_length / window");
    p.nin = p.len;
    p.nout = gd_op_attr_int(ctx, "onesided", 1) ? p.len / 2 + 1 : p.len;
    int64_t frames = (n - p.len) / hop + 1;
    if (too_much(x->dims[0] * frames, p.nout, p.len))
        return gd_op_fail(ctx, GD_ENOTSUP, "transform too large for the direct DFT");
    int64_t dims[4] = {x->dims[0], frames, p.nout, 2};
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, 4, dims);
    if (!y || !(p.tw = twiddles(ctx, p.len)))
        return GD_ENOMEM;
    for (int64_t b = 0; b < x->dims[0]; b++)
        for (int64_t f = 0; f < frames; f++)
            dft_apply(&p, x, b * n + f * hop, 1, win, y, (b * frames + f) * p.nout);
    return 0;
}

const struct gd_op_def gd_ops_matmul_dft[] = {
    {"", "DFT", 17, 0, dft_run, 0},
    {"", "STFT", 17, 0, stft_run, 0},
    {0},
};
