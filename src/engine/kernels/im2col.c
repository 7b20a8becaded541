/* Conv/pool geometry and im2col/col2im (see im2col.h). The transforms walk output
 * positions row by row: the innermost spatial dim is a tight loop with a constant input
 * step, the outer dims are an odometer. */
#include "engine/kernels/im2col.h"

#include <stdio.h>
#include <string.h>

#include "girder/error.h"

#define MAX_DIM ((int64_t)1 << 40)

static int64_t attr_at(const int64_t *v, int n, int i, int64_t def)
{
    return (v && n > i) ? v[i] : def;
}

static int geom_pads(struct gd_conv_geom *g, const struct gd_conv_attrs *a, char *err,
                     size_t errlen)
{
    const char *ap = a->auto_pad ? a->auto_pad : "NOTSET";
    int same_u = strcmp(ap, "SAME_UPPER") == 0, same_l = strcmp(ap, "SAME_LOWER") == 0;
    if (!same_u && !same_l && strcmp(ap, "VALID") != 0 && strcmp(ap, "NOTSET") != 0) {
        snprintf(err, errlen, "unknown auto_pad '%s'", ap);
        return GD_EINVAL;
    }
    if (a->pads && a->npads != 2 * g->nsp && strcmp(ap, "NOTSET") == 0) {
        snprintf(err, errlen, "pads has %d values, expected %d", a->npads, 2 * g->nsp);
        return GD_EINVAL;
    }
    for (int d = 0; d < g->nsp; d++) {
        int64_t eff = (g->k[d] - 1) * g->dil[d] + 1;
        if (same_u || same_l) {
            int64_t out = (g->in[d] + g->stride[d] - 1) / g->stride[d];
            int64_t total = (out - 1) * g->stride[d] + eff - g->in[d];
            if (total < 0)
                total = 0;
            g->pb[d] = same_u ? total / 2 : total - total / 2;
            g->pe[d] = total - g->pb[d];
        } else if (strcmp(ap, "VALID") == 0) {
            g->pb[d] = g->pe[d] = 0;
        } else {
            g->pb[d] = attr_at(a->pads, a->npads, d, 0);
            g->pe[d] = attr_at(a->pads, a->npads, d + g->nsp, 0);
        }
        if (g->pb[d] < 0 || g->pe[d] < 0 || g->pb[d] > MAX_DIM || g->pe[d] > MAX_DIM) {
            snprintf(err, errlen, "bad pads on spatial dim %d", d);
            return GD_EINVAL;
        }
    }
    return 0;
}

int gd_conv_geom_init(struct gd_conv_geom *g, int nsp, const int64_t *in, const int64_t *k,
                      const struct gd_conv_attrs *a, char *err, size_t errlen)
{
    memset(g, 0, sizeof *g);
    if (nsp < 1 || nsp > GD_CONV_MAX_SP) {
        snprintf(err, errlen, "%d spatial dims not supported (1..%d)", nsp, GD_CONV_MAX_SP);
        return GD_EINVAL;
    }
    g->nsp = nsp;
    g->in_size = g->k_size = g->out_size = 1;
    for (int d = 0; d < nsp; d++) {
        g->in[d] = in[d];
        g->k[d] = k[d];
        g->stride[d] = attr_at(a->strides, a->nstrides, d, 1);
        g->dil[d] = attr_at(a->dilations, a->ndilations, d, 1);
        if (k[d] < 1 || k[d] > MAX_DIM || g->stride[d] < 1 || g->stride[d] > MAX_DIM ||
            g->dil[d] < 1 || g->dil[d] > MAX_DIM) {
            snprintf(err, errlen, "bad kernel/stride/dilation on spatial dim %d", d);
            return GD_EINVAL;
        }
    }
    int rc = geom_pads(g, a, err, errlen);
    if (rc)
        return rc;
    for (int d = 0; d < nsp; d++) {
        int64_t eff = (g->k[d] - 1) * g->dil[d] + 1, span = g->in[d] + g->pb[d] + g->pe[d] - eff;
        if (span < 0) {
            snprintf(err, errlen, "kernel larger than padded input on spatial dim %d", d);
            return GD_EINVAL;
        }
        int64_t out = (a->ceil_mode ? span + g->stride[d] - 1 : span) / g->stride[d] + 1;
        if (a->ceil_mode && (out - 1) * g->stride[d] >= g->in[d] + g->pb[d])
            out--;
        g->out[d] = out;
        g->in_size *= g->in[d];
        g->k_size *= g->k[d];
        g->out_size *= out;
    }
    return 0;
}

void gd_conv_origin(const struct gd_conv_geom *g, int64_t o, int64_t *origin)
{
    for (int d = g->nsp - 1; d >= 0; d--) {
        origin[d] = (o % g->out[d]) * g->stride[d] - g->pb[d];
        o /= g->out[d];
    }
}

/* One (channel, kernel offset) row of the column matrix; ADD selects col2im. */
#define IM2COL(S, T, SC, NAME, ADD)                                                                \
    SC void NAME(const struct gd_conv_geom *g, const T *a, T *b, int64_t c0, int64_t c1)           \
    {                                                                                              \
        int nsp = g->nsp, last = nsp - 1;                                                          \
        int64_t kk[GD_CONV_MAX_SP], od[GD_CONV_MAX_SP], istr[GD_CONV_MAX_SP];                      \
        int64_t s = 1;                                                                             \
        for (int d = last; d >= 0; d--) {                                                          \
            istr[d] = s;                                                                           \
            s *= g->in[d];                                                                         \
        }                                                                                          \
        int64_t olast = g->out[last], rows_per_c = g->k_size;                                      \
        for (int64_t r = c0 * rows_per_c; r < c1 * rows_per_c; r++) {                              \
            int64_t c = r / rows_per_c, kr = r % rows_per_c;                                       \
            for (int d = last; d >= 0; d--) {                                                      \
                kk[d] = kr % g->k[d];                                                              \
                kr /= g->k[d];                                                                     \
                od[d] = 0;                                                                         \
            }                                                                                      \
            const int64_t plane = c * g->in_size, crow = r * g->out_size;                          \
            for (int64_t o = 0; o < g->out_size; o += olast) {                                     \
                int64_t base = plane, inside = 1;                                                  \
                for (int d = 0; d < last; d++) {                                                   \
                    int64_t id = od[d] * g->stride[d] - g->pb[d] + kk[d] * g->dil[d];              \
                    inside &= id >= 0 && id < g->in[d];                                            \
                    base += id * istr[d];                                                          \
                }                                                                                  \
                int64_t st = g->stride[last], i0 = kk[last] * g->dil[last] - g->pb[last];          \
                for (int64_t ol = 0; ol < olast; ol++) {                                           \
                    int64_t id = i0 + ol * st;                                                     \
                    int ok = inside && id >= 0 && id < g->in[last];                                \
                    ADD(S)                                                                         \
                }                                                                                  \
                for (int d = last - 1; d >= 0; d--) {                                              \
                    if (++od[d] < g->out[d])                                                       \
                        break;                                                                     \
                    od[d] = 0;                                                                     \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }
/* 2-d im2col: per (channel, kernel row, kernel column) row of the column matrix, each
 * output row is a strided copy over the span of columns whose taps are inside the input,
 * zeros elsewhere (no per-element bounds checks). */
static void span(int64_t off, int64_t s, int64_t in, int64_t out, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = in - off <= 0 ? 0 : (in - off - 1) / s + 1;
    *lo = a < out ? a : out;
    *hi = b < out ? b : out;
    if (*hi < *lo)
        *hi = *lo;
}

#define IM2COL_2D(S, T)                                                                            \
    static void im2col2d_##S(const struct gd_conv_geom *g, const T *x, T *col, int64_t c0,         \
                             int64_t c1)                                                           \
    {                                                                                              \
        int64_t ih = g->in[0], iw = g->in[1], oh = g->out[0], ow = g->out[1];                      \
        int64_t sh = g->stride[0], sw = g->stride[1];                                              \
        for (int64_t c = c0; c < c1; c++)                                                          \
            for (int64_t kh = 0; kh < g->k[0]; kh++)                                               \
                for (int64_t kw = 0; kw < g->k[1]; kw++) {                                         \
                    T *dst = col + ((c * g->k[0] + kh) * g->k[1] + kw) * g->out_size;              \
                    int64_t offh = kh * g->dil[0] - g->pb[0], offw = kw * g->dil[1] - g->pb[1];    \
                    int64_t rlo, rhi, clo, chi;                                                    \
                    span(offh, sh, ih, oh, &rlo, &rhi);                                            \
                    span(offw, sw, iw, ow, &clo, &chi);                                            \
                    for (int64_t r = 0; r < oh; r++, dst += ow) {                                  \
                        if (r < rlo || r >= rhi) {                                                 \
                            memset(dst, 0, (size_t)ow * sizeof(T));                                \
                            continue;                                                              \
                        }                                                                          \
                        const T *src = x + (c * ih + r * sh + offh) * iw + offw;                   \
                        for (int64_t q = 0; q < clo; q++)                                          \
                            dst[q] = 0;                                                            \
                        if (sw == 1)                                                               \
                            memcpy(dst + clo, src + clo, (size_t)(chi - clo) * sizeof(T));         \
                        else                                                                       \
                            for (int64_t q = clo; q < chi; q++)                                    \
                                dst[q] = src[q * sw];                                              \
                        for (int64_t q = chi; q < ow; q++)                                         \
                            dst[q] = 0;                                                            \
                    }                                                                              \
                }                                                                                  \
    }
IM2COL_2D(f32, float)
IM2COL_2D(f64, double)

void gd_im2col2d_cols_f32(const struct gd_conv_geom *g, const float *x, int64_t channels,
                          int64_t o0, int64_t o1, float *panel)
{
    int64_t ih = g->in[0], iw = g->in[1], oh = g->out[0], ow = g->out[1], n = o1 - o0;
    int64_t sh = g->stride[0], sw = g->stride[1];
    for (int64_t c = 0; c < channels; c++)
        for (int64_t kh = 0; kh < g->k[0]; kh++)
            for (int64_t kw = 0; kw < g->k[1]; kw++, panel += n) {
                int64_t offh = kh * g->dil[0] - g->pb[0], offw = kw * g->dil[1] - g->pb[1];
                int64_t rlo, rhi, clo, chi;
                span(offh, sh, ih, oh, &rlo, &rhi);
                span(offw, sw, iw, ow, &clo, &chi);
                for (int64_t o = o0; o < o1;) { /* one output row's piece [q0, q1) at a time */
                    int64_t r = o / ow, q0 = o % ow, q1 = q0 + (o1 - o) < ow ? q0 + (o1 - o) : ow;
                    float *dst = panel + (o - o0);
                    o += q1 - q0;
                    if (r < rlo || r >= rhi) {
                        memset(dst, 0, (size_t)(q1 - q0) * sizeof(float));
                        continue;
                    }
                    const float *src = x + (c * ih + r * sh + offh) * iw + offw;
                    int64_t a = clo > q0 ? clo : q0, b = chi < q1 ? chi : q1;
                    if (b < a)
                        b = a = q0; /* no tap inside: all zeros */
                    for (int64_t q = q0; q < a; q++)
                        dst[q - q0] = 0;
                    if (sw == 1)
                        memcpy(dst + (a - q0), src + a, (size_t)(b - a) * sizeof(float));
                    else
                        for (int64_t q = a; q < b; q++)
                            dst[q - q0] = src[q * sw];
                    for (int64_t q = b; q < q1; q++)
                        dst[q - q0] = 0;
                }
            }
}

/* im2col: a = image, b = columns; col2im: a = columns, b = image. */
#define GATHER(S) b[crow + o + ol] = ok ? a[base + id] : 0;
#define SCATTER(S)                                                                                 \
    if (ok)                                                                                        \
        b[base + id] += a[crow + o + ol];
IM2COL(f32, float, static, im2col_nd_f32, GATHER)
IM2COL(f64, double, static, im2col_nd_f64, GATHER)
IM2COL(f32, float, , gd_col2im_f32, SCATTER)
IM2COL(f64, double, , gd_col2im_f64, SCATTER)

void gd_im2col_f32(const struct gd_conv_geom *g, const float *x, float *col, int64_t c0, int64_t c1)
{
    if (g->nsp == 2)
        im2col2d_f32(g, x, col, c0, c1);
    else
        im2col_nd_f32(g, x, col, c0, c1);
}

void gd_im2col_f64(const struct gd_conv_geom *g, const double *x, double *col, int64_t c0,
                   int64_t c1)
{
    if (g->nsp == 2)
        im2col2d_f64(g, x, col, c0, c1);
    else
        im2col_nd_f64(g, x, col, c0, c1);
}

void gd_phase_planes_f32(const float *x, int64_t ih, int64_t iw, int64_t pt, int64_t pl, int64_t s0,
                         int64_t s1, int64_t hp, int64_t wp, float *out)
{
    for (int64_t a = 0; a < s0; a++)
        for (int64_t b = 0; b < s1; b++) {
            float *d = out + (a * s1 + b) * hp * wp;
            /* columns j with source column j * s1 + b - pl inside the row: [lo, hi) */
            int64_t lo = pl - b <= 0 ? 0 : (pl - b + s1 - 1) / s1;
            int64_t hi = iw + pl - b <= 0 ? 0 : (iw + pl - b + s1 - 1) / s1;
            lo = lo < wp ? lo : wp;
            hi = hi < wp ? hi : wp;
            hi = hi > lo ? hi : lo;
            for (int64_t r = 0; r < hp; r++, d += wp) {
                int64_t sr = r * s0 + a - pt;
                if (sr < 0 || sr >= ih) {
                    memset(d, 0, (size_t)wp * sizeof(float));
                    continue;
                }
                const float *src = x + sr * iw + lo * s1 + b - pl;
                memset(d, 0, (size_t)lo * sizeof(float));
                if (s1 == 1)
                    memcpy(d + lo, src, (size_t)(hi - lo) * sizeof(float));
                else if (s1 == 2)
                    for (int64_t j = 0; j < hi - lo; j++)
                        d[lo + j] = src[2 * j];
                else
                    for (int64_t j = 0; j < hi - lo; j++)
                        d[lo + j] = src[j * s1];
                memset(d + hi, 0, (size_t)(wp - hi) * sizeof(float));
            }
        }
}
