/* Signal ops (opset 17): DFT, STFT and MelWeightMatrix.
 *
 * DFT transforms along `axis` of a real ([..., 1]) or complex ([..., 2]) input, with an
 * optional dft_length (zero-pads or truncates), inverse (scaled by 1/n like numpy.ifft)
 * and onesided (keeps n/2 + 1 bins). STFT frames the signal [batch, len, 1|2] with
 * frame_step, multiplies by the window, and DFTs each frame. Power-of-two lengths use a
 * radix-2 FFT; other lengths a direct O(n^2) sum (refused with GD_ENOTSUP when the total
 * work would exceed ~4e9 multiply-adds). Computed in double. MelWeightMatrix builds the
 * triangular mel filter bank exactly as the ONNX reference implementation does. */
#include <math.h>
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

static const double PI = 3.14159265358979323846;

/* In-place radix-2 FFT of n (a power of two) complex values; tw as below. */
static void fft_pow2(double *a, int64_t n, const double *tw, double sgn)
{
    for (int64_t i = 1, j = 0; i < n; i++) { /* bit-reversal permutation */
        int64_t bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j)
            for (int c = 0; c < 2; c++) {
                double t = a[2 * i + c];
                a[2 * i + c] = a[2 * j + c], a[2 * j + c] = t;
            }
    }
    for (int64_t len = 2; len <= n; len <<= 1)
        for (int64_t i = 0; i < n; i += len)
            for (int64_t k = 0; k < len / 2; k++) {
                int64_t m = k * (n / len);
                double c = tw[2 * m], s = sgn * tw[2 * m + 1];
                double *u = a + 2 * (i + k), *v = a + 2 * (i + k + len / 2);
                double vr = v[0] * c - v[1] * s, vi = v[0] * s + v[1] * c;
                v[0] = u[0] - vr, v[1] = u[1] - vi;
                u[0] += vr, u[1] += vi;
            }
}

/* out[k] (k < nout) = sum_j in[j] * exp(-+2 pi i j k / n), in has nin <= n complex values
 * (the rest are zero); tw holds cos/sin of 2 pi m / n for m < n; work holds 2n doubles.
 * Power-of-two lengths use the FFT, others the direct sum. */
static void dft_1d(const double *in, int64_t nin, double *out, int64_t nout, int64_t n,
                   const double *tw, int inverse, double *work)
{
    double sgn = inverse ? 1 : -1, scale = inverse ? 1 / (double)n : 1;
    if ((n & (n - 1)) == 0) {
        memset(work, 0, (size_t)n * 2 * sizeof *work);
        memcpy(work, in, (size_t)nin * 2 * sizeof *in);
        fft_pow2(work, n, tw, sgn);
        for (int64_t k = 0; k < 2 * nout; k++)
            out[k] = work[k] * scale;
        return;
    }
    for (int64_t k = 0; k < nout; k++) {
        double re = 0, im = 0;
        for (int64_t j = 0, m = 0; j < nin; j++, m = (m + k) % n) {
            double c = tw[2 * m], s = sgn * tw[2 * m + 1];
            re += in[2 * j] * c - in[2 * j + 1] * s;
            im += in[2 * j] * s + in[2 * j + 1] * c;
        }
        out[2 * k] = re * scale;
        out[2 * k + 1] = im * scale;
    }
}

/* Direct transforms cost vectors * nin * nout: refuse what would run for minutes. */
static int check_work(struct gd_op_ctx *ctx, int64_t vectors, int64_t nin, int64_t nout, int64_t n)
{
    if ((n & (n - 1)) == 0)
        return 0;
    if ((double)vectors * (double)nin * (double)nout > 4e9)
        return gd_op_fail(ctx, GD_ENOTSUP,
                          "DFT length %lld is not a power of two and too large for the direct "
                          "transform",
                          (long long)n);
    return 0;
}

static double *twiddles(struct gd_op_ctx *ctx, int64_t n)
{
    double *tw = gd_op_scratch(ctx, (size_t)n * 2 * sizeof *tw);
    for (int64_t m = 0; tw && m < n; m++)
        tw[2 * m] = cos(2 * PI * (double)m / (double)n),
               tw[2 * m + 1] = sin(2 * PI * (double)m / (double)n);
    return tw;
}

static int dft_run(struct gd_op_ctx *ctx)
{
    int rc = 0, ax;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    int r = x->rank;
    if (r < 2 || (x->dims[r - 1] != 1 && x->dims[r - 1] != 2) || !gd_dtype_is_float(x->dtype))
        return gd_op_fail(ctx, GD_EINVAL, "input must be float [..., 1 or 2]");
    if (gd_axis_normalize(gd_op_attr_int(ctx, "axis", 1), r - 1, &ax))
        return gd_op_fail(ctx, GD_EINVAL, "axis out of range");
    int64_t n = x->dims[ax], cplx = x->dims[r - 1];
    const struct gd_tensor *lt = gd_op_input(ctx, 1);
    if (lt && (rc = gd__ot_scalar_i64(ctx, lt, "dft_length", &n)))
        return rc;
    if (n < 1 || n > (1 << 22))
        return gd_op_fail(ctx, GD_EINVAL, "dft_length %lld out of range", (long long)n);
    int inverse = gd_op_attr_int(ctx, "inverse", 0) != 0;
    int64_t nout = gd_op_attr_int(ctx, "onesided", 0) ? n / 2 + 1 : n;
    int64_t d[GD_TENSOR_MAX_RANK], nin = x->dims[ax] < n ? x->dims[ax] : n;
    memcpy(d, x->dims, sizeof d);
    d[ax] = nout, d[r - 1] = 2;
    int64_t outer = gd__ot_prod(x->dims, 0, ax), inner = gd__ot_prod(x->dims, ax + 1, r - 1);
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, r, d);
    double *tw = twiddles(ctx, n);
    double *in = gd_op_scratch(ctx, (size_t)(nin ? nin : 1) * 2 * sizeof *in);
    double *out = gd_op_scratch(ctx, (size_t)nout * 2 * sizeof *out);
    double *work = gd_op_scratch(ctx, (size_t)n * 2 * sizeof *work);
    if (!y || !tw || !in || !out || !work)
        return GD_ENOMEM;
    if ((rc = check_work(ctx, outer * inner, nin, nout, n)))
        return rc;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            for (int64_t j = 0; j < nin; j++) {
                int64_t e = ((o * x->dims[ax] + j) * inner + i) * cplx;
                in[2 * j] = gd_tensor_get_f64(x, e);
                in[2 * j + 1] = cplx == 2 ? gd_tensor_get_f64(x, e + 1) : 0;
            }
            dft_1d(in, nin, out, nout, n, tw, inverse, work);
            for (int64_t k = 0; k < nout; k++)
                gd__ot_store_f64(y, ((o * nout + k) * inner + i) * 2, 2, out + 2 * k);
        }
    return 0;
}

static int stft_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc), *win = gd_op_input(ctx, 2);
    const struct gd_tensor *fl = gd_op_input(ctx, 3);
    int64_t step, flen;
    if (!x || (rc = gd__ot_scalar_i64(ctx, gd_op_input(ctx, 1), "frame_step", &step)))
        return x ? rc : rc;
    if (x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2) || !gd_dtype_is_float(x->dtype))
        return gd_op_fail(ctx, GD_EINVAL, "signal must be float [batch, length, 1 or 2]");
    if (fl && (rc = gd__ot_scalar_i64(ctx, fl, "frame_length", &flen)))
        return rc;
    if (!fl && !win)
        return gd_op_fail(ctx, GD_EINVAL, "needs a window or a frame_length");
    if (!fl)
        flen = win->numel;
    if (win && (win->rank != 1 || win->numel != flen || win->dtype == GD_DTYPE_STRING))
        return gd_op_fail(ctx, GD_EINVAL, "window must be 1-D of frame_length values");
    int64_t B = x->dims[0], L = x->dims[1], C = x->dims[2];
    if (step < 1 || flen < 1 || flen > L || flen > (1 << 22))
        return gd_op_fail(ctx, GD_EINVAL, "bad frame_step/frame_length");
    int64_t frames = (L - flen) / step + 1;
    int64_t bins = gd_op_attr_int(ctx, "onesided", 1) ? flen / 2 + 1 : flen;
    int64_t d[4] = {B, frames, bins, 2};
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, 4, d);
    double *tw = twiddles(ctx, flen), *in = gd_op_scratch(ctx, (size_t)flen * 2 * sizeof *in);
    double *out = gd_op_scratch(ctx, (size_t)bins * 2 * sizeof *out);
    double *work = gd_op_scratch(ctx, (size_t)flen * 2 * sizeof *work);
    if (!y || !tw || !in || !out || !work)
        return GD_ENOMEM;
    if ((rc = check_work(ctx, B * frames, flen, bins, flen)))
        return rc;
    for (int64_t b = 0; b < B; b++)
        for (int64_t f = 0; f < frames; f++) {
            for (int64_t j = 0; j < flen; j++) {
                int64_t e = (b * L + f * step + j) * C;
                double w = win ? gd_tensor_get_f64(win, j) : 1;
                in[2 * j] = w * gd_tensor_get_f64(x, e);
                in[2 * j + 1] = C == 2 ? w * gd_tensor_get_f64(x, e + 1) : 0;
            }
            dft_1d(in, flen, out, bins, flen, tw, 0, work);
            gd__ot_store_f64(y, (b * frames + f) * bins * 2, bins * 2, out);
        }
    return 0;
}

static double hz_to_mel(double hz)
{
    return 2595 * log10(1 + hz / 700);
}

static double mel_to_hz(double mel)
{
    return 700 * (pow(10, mel / 2595) - 1);
}

static int mel_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    int64_t nmel, dftl, sr;
    double lo, hi;
    if ((rc = gd__ot_scalar_i64(ctx, gd_op_input(ctx, 0), "num_mel_bins", &nmel)) ||
        (rc = gd__ot_scalar_i64(ctx, gd_op_input(ctx, 1), "dft_length", &dftl)) ||
        (rc = gd__ot_scalar_i64(ctx, gd_op_input(ctx, 2), "sample_rate", &sr)) ||
        (rc = gd__ot_scalar_f64(ctx, gd_op_input(ctx, 3), "lower_edge_hertz", &lo)) ||
        (rc = gd__ot_scalar_f64(ctx, gd_op_input(ctx, 4), "upper_edge_hertz", &hi)))
        return rc;
    int64_t dt = gd_op_attr_int(ctx, "output_datatype", GD_DTYPE_FLOAT);
    if (nmel < 1 || nmel > (1 << 20) || dftl < 1 || dftl > (1 << 24) || sr < 1 ||
        !(lo >= 0 && hi >= lo && hi < 1e12) || dt <= 0 || dt > GD_DTYPE_UINT64 ||
        dt == GD_DTYPE_STRING || !gd_dtype_size(dt))
        return gd_op_fail(ctx, GD_EINVAL, "invalid mel filter bank parameters");
    int64_t nspec = dftl / 2 + 1, d[2] = {nspec, nmel};
    struct gd_tensor *y = gd_op_output(ctx, 0, (enum gd_dtype)dt, 2, d);
    int64_t *fb = gd_op_scratch(ctx, (size_t)(nmel + 2) * sizeof *fb);
    if (!y || !fb)
        return GD_ENOMEM;
    double mlo = hz_to_mel(lo), step = (hz_to_mel(hi) - mlo) / (double)(nmel + 2);
    for (int64_t i = 0; i < nmel + 2; i++) /* bin = floor((dft_length + 1) * hz / rate) */
        fb[i] = (int64_t)floor((double)(dftl + 1) * mel_to_hz((double)i * step + mlo) / (double)sr);
    for (int64_t i = 0; i < nmel; i++) {
        int64_t l = fb[i], c = fb[i + 1], h = fb[i + 2];
        if (c - l == 0 && c >= 0 && c < nspec)
            gd_tensor_set_f64(y, c * nmel + i, 1);
        for (int64_t j = l; c - l != 0 && j <= c; j++)
            if (j >= 0 && j < nspec)
                gd_tensor_set_f64(y, j * nmel + i, (double)(j - l) / (double)(c - l));
        for (int64_t j = c; h - c > 0 && j < h; j++)
            if (j >= 0 && j < nspec)
                gd_tensor_set_f64(y, j * nmel + i, (double)(h - j) / (double)(h - c));
    }
    return 0;
}

const struct gd_op_def gd_ops_signal[] = {
    {"", "DFT", 17, 0, dft_run, 0},
    {"", "STFT", 17, 0, stft_run, 0},
    {"", "MelWeightMatrix", 17, 0, mel_run, 0},
    {0},
};
