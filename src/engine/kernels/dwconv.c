/* Depthwise 2-d convolution (see dwconv.h). The loops are written once as macros and
 * instantiated per type and, for float32 on x86-64, per ISA (target attributes), with the
 * ISA picked per call from __builtin_cpu_supports. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3") /* the interior loops must vectorise in -O2 builds too */
#endif
#include "engine/kernels/dwconv.h"

#include <string.h>

#include "engine/kernels/dw3x3.h"
#include "engine/kernels/im2col.h"

/* [lo, hi): the output indices o in [0, out) whose tap o * s + off lies in [0, in). */
static inline void tap_span(int64_t off, int64_t s, int64_t in, int64_t out, int64_t *lo,
                            int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = in - off <= 0 ? 0 : (in - off - 1) / s + 1;
    *lo = a < out ? a : out;
    *hi = b < out ? b : out;
    if (*hi < *lo)
        *hi = *lo;
}

/* The phase-plane layout of g: sh x sw planes of hp x wp covering every window, the
 * virtual outputs q = oh * wp (rounded up to whole 16-wide steps), and the floats of
 * source (planes + the slack the last steps read) in tmp, followed by the outputs. */
enum { DW_PHASE_MAX_TAPS = 64, PHASE_BELOW_WIDTH = 64 };
struct dw_phase_geom {
    int64_t hp, wp, plane, q, src_floats, out_floats;
};

static void dw_phase_geom(const struct gd_dw2d *g, struct dw_phase_geom *pg)
{
    int64_t rows = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1;
    int64_t cols = (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1;
    pg->hp = (rows + g->sh - 1) / g->sh;
    pg->wp = (cols + g->sw - 1) / g->sw;
    pg->plane = pg->hp * pg->wp;
    pg->q = (g->oh * pg->wp + 15) / 16 * 16;
    pg->src_floats = g->sh * g->sw * pg->plane + (g->kw - 1) * g->dw / g->sw + 16;
    pg->out_floats = pg->q;
}

size_t gd_dw2d_tmp_floats(const struct gd_dw2d *g)
{
    if (g->kh * g->kw > DW_PHASE_MAX_TAPS || g->sh > 4 || g->sw > 4)
        return 0;
    struct dw_phase_geom pg;
    dw_phase_geom(g, &pg);
    return (size_t)(pg.src_floats + pg.out_floats);
}

/* DW_FUNCS(S, T, ATTR) defines dw_row_##S (the general per-tap loop over output columns
 * [c0, c1) of row r, accumulating into yr) and dw_plane_##S (one plane). */
#define DW_FUNCS(S, T, ATTR)                                                                       \
    ATTR static void dw_row_##S(const struct gd_dw2d *g, const T *x, const T *w, T *restrict yr,   \
                                int64_t r, int64_t c0, int64_t c1)                                 \
    {                                                                                              \
        for (int64_t kh = 0; kh < g->kh; kh++) {                                                   \
            int64_t ih = r * g->sh - g->pt + kh * g->dh;                                           \
            if (ih < 0 || ih >= g->ih)                                                             \
                continue;                                                                          \
            const T *restrict xr = x + ih * g->iw;                                                 \
            for (int64_t kw = 0; kw < g->kw; kw++) {                                               \
                int64_t off = kw * g->dw - g->pl, lo, hi;                                          \
                tap_span(off, g->sw, g->iw, g->ow, &lo, &hi);                                      \
                lo = lo > c0 ? lo : c0;                                                            \
                hi = hi < c1 ? hi : c1;                                                            \
                T wv = w[kh * g->kw + kw];                                                         \
                if (g->sw == 1)                                                                    \
                    for (int64_t c = lo; c < hi; c++)                                              \
                        yr[c] += wv * xr[c + off];                                                 \
                else                                                                               \
                    for (int64_t c = lo; c < hi; c++)                                              \
                        yr[c] += wv * xr[c * g->sw + off];                                         \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    /* One border point of a 3x3 dilation-1 kernel: the general point with constant trip           \
     * counts (unrolled; the taps in the same order). */                                           \
    ATTR static T dw3_point_##S(const struct gd_dw2d *g, const T *x, const T *w, int64_t r,        \
                                int64_t c)                                                         \
    {                                                                                              \
        int64_t ih0 = r * g->sh - g->pt, iw0 = c * g->sw - g->pl;                                  \
        T acc = 0;                                                                                 \
        for (int u = 0; u < 3; u++) {                                                              \
            int64_t ih = ih0 + u;                                                                  \
            if (ih < 0 || ih >= g->ih)                                                             \
                continue;                                                                          \
            for (int v = 0; v < 3; v++)                                                            \
                if (iw0 + v >= 0 && iw0 + v < g->iw)                                               \
                    acc += w[u * 3 + v] * x[ih * g->iw + iw0 + v];                                 \
        }                                                                                          \
        return acc;                                                                                \
    }                                                                                              \
    /* 3x3, dilation 1, stride SW: columns [c0, c1) of a row whose three input rows start at       \
     * x0 (column -pl), all taps inside the input. */                                              \
    ATTR static void dw3_##S(const T *restrict x0, int64_t iw, const T *w, T *restrict yr,         \
                             int64_t c0, int64_t c1, int64_t sw)                                   \
    {                                                                                              \
        const T *restrict x1 = x0 + iw, *restrict x2 = x1 + iw;                                    \
        T w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7],  \
          w8 = w[8];                                                                               \
        if (sw == 1)                                                                               \
            for (int64_t c = c0; c < c1; c++)                                                      \
                yr[c] = w0 * x0[c] + w1 * x0[c + 1] + w2 * x0[c + 2] + w3 * x1[c] +                \
                        w4 * x1[c + 1] + w5 * x1[c + 2] + w6 * x2[c] + w7 * x2[c + 1] +            \
                        w8 * x2[c + 2];                                                            \
        else                                                                                       \
            for (int64_t c = c0; c < c1; c++)                                                      \
                yr[c] = w0 * x0[2 * c] + w1 * x0[2 * c + 1] + w2 * x0[2 * c + 2] +                 \
                        w3 * x1[2 * c] + w4 * x1[2 * c + 1] + w5 * x1[2 * c + 2] +                 \
                        w6 * x2[2 * c] + w7 * x2[2 * c + 1] + w8 * x2[2 * c + 2];                  \
    }                                                                                              \
    ATTR static void dw_plane_##S(const struct gd_dw2d *g, const T *x, const T *w, T *y,           \
                                  const T *z, T bias, const struct gd_act_params *act)             \
    {                                                                                              \
        int fast =                                                                                 \
            g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 && (g->sw == 1 || g->sw == 2);    \
        int64_t rlo = 0, rhi = 0, clo = 0, chi = 0;                                                \
        if (fast) { /* rows / columns whose whole 3-tap window is inside the input */              \
            tap_span(-g->pt, g->sh, g->ih - 2, g->oh, &rlo, &rhi);                                 \
            tap_span(-g->pl, g->sw, g->iw - 2, g->ow, &clo, &chi);                                 \
            fast = chi > clo;                                                                      \
        }                                                                                          \
        for (int64_t r = 0; r < g->oh; r++) {                                                      \
            T *yr = y + r * g->ow;                                                                 \
            if (fast && r >= rlo && r < rhi) {                                                     \
                dw3_##S(x + (r * g->sh - g->pt) * g->iw - g->pl, g->iw, w, yr, clo, chi, g->sw);   \
                for (int64_t c = 0; c < clo; c++)                                                  \
                    yr[c] = dw3_point_##S(g, x, w, r, c);                                          \
                for (int64_t c = chi; c < g->ow; c++)                                              \
                    yr[c] = dw3_point_##S(g, x, w, r, c);                                          \
            } else {                                                                               \
                memset(yr, 0, sizeof(T) * (size_t)g->ow);                                          \
                dw_row_##S(g, x, w, yr, r, 0, g->ow);                                              \
            }                                                                                      \
            gd_epilogue_##S(act, yr, z ? z + r * g->ow : NULL, g->ow, bias);                       \
        }                                                                                          \
    }

/* DW_PHASE(S, ATTR): the float32 plane through phase planes (see gd_dw2d_f32_tmp): every
 * output of the padded width as the sum of the kh*kw taps' contiguous runs, 16 outputs per
 * step with the taps in the row kernels' order, then the real columns copied out. */
#define DW_PHASE(S, ATTR)                                                                          \
    ATTR static void dw_phase_##S(const struct gd_dw2d *g, const float *x, const float *w,         \
                                  float *y, const float *z, float bias,                            \
                                  const struct gd_act_params *act, float *tmp)                     \
    {                                                                                              \
        struct dw_phase_geom pg;                                                                   \
        dw_phase_geom(g, &pg);                                                                     \
        int64_t off[DW_PHASE_MAX_TAPS], nt = g->kh * g->kw, t = 0;                                 \
        for (int64_t u = 0; u < g->kh; u++)                                                        \
            for (int64_t v = 0; v < g->kw; v++) {                                                  \
                int64_t du = u * g->dh, dv = v * g->dw;                                            \
                off[t++] = ((du % g->sh) * g->sw + dv % g->sw) * pg.plane + du / g->sh * pg.wp +   \
                           dv / g->sw;                                                             \
            }                                                                                      \
        float *src = tmp, *yv = tmp + pg.src_floats;                                               \
        gd_phase_planes_f32(x, g->ih, g->iw, g->pt, g->pl, g->sh, g->sw, pg.hp, pg.wp, src);       \
        memset(src + g->sh * g->sw * pg.plane, 0,                                                  \
               (size_t)(pg.src_floats - g->sh * g->sw * pg.plane) * sizeof(float));                \
        for (int64_t q0 = 0; q0 < pg.q; q0 += 16) {                                                \
            float acc[16] = {0};                                                                   \
            for (int64_t k = 0; k < nt; k++) {                                                     \
                const float *restrict sp = src + off[k] + q0;                                      \
                float wk = w[k];                                                                   \
                for (int l = 0; l < 16; l++)                                                       \
                    acc[l] += wk * sp[l];                                                          \
            }                                                                                      \
            memcpy(yv + q0, acc, sizeof acc);                                                      \
        }                                                                                          \
        for (int64_t r = 0; r < g->oh; r++)                                                        \
            memcpy(y + r * g->ow, yv + r * pg.wp, (size_t)g->ow * sizeof(float));                  \
        gd_epilogue_f32(act, y, z, g->oh * g->ow, bias);                                           \
    }

#define NO_ATTR
DW_FUNCS(f64, double, NO_ATTR)
DW_FUNCS(f32, float, NO_ATTR)
DW_PHASE(f32, NO_ATTR)

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define gd_epilogue_f32_avx2 gd_epilogue_f32
#define gd_epilogue_f32_avx512 gd_epilogue_f32
DW_FUNCS(f32_avx2, float, __attribute__((target("avx2,fma"))))
DW_FUNCS(f32_avx512, float, __attribute__((target("avx512f"))))
DW_PHASE(f32_avx2, __attribute__((target("avx2,fma"))))
DW_PHASE(f32_avx512, __attribute__((target("avx512f"))))
#define HAVE_X86_VARIANTS 1
#endif

/* Phase planes where the row kernels are weak: narrow rows, whose vectors run mostly in
 * remainder loops while each row pays calls and border points (3x3 over 576 planes of
 * 14x14: 0.39 -> 0.23 ms; 960 of 7x7: 0.34 -> 0.19 ms; 56x56 the same; AVX-512, one
 * thread). Not strided rows: de-interleaving the input into phase planes costs more than
 * the row kernels' strided loads (112x112 stride 2: 0.38 -> 1.13 ms). */
static int use_phase(const struct gd_dw2d *g, const float *tmp)
{
    return tmp && g->sw == 1 && g->ow < PHASE_BELOW_WIDTH && gd_dw2d_tmp_floats(g);
}

void gd_dw2d_f64(const struct gd_dw2d *g, const double *x, const double *w, double *y,
                 const double *z, double bias, const struct gd_act_params *act)
{
    dw_plane_f64(g, x, w, y, z, bias, act);
}

int gd__dw2d_f32_isa(int isa, const struct gd_dw2d *g, const float *x, const float *w, float *y,
                     const float *z, float bias, const struct gd_act_params *act, float *tmp)
{
    int phase = tmp && gd_dw2d_tmp_floats(g);
    switch (isa) {
    case 0:
        phase ? dw_phase_f32(g, x, w, y, z, bias, act, tmp)
              : dw_plane_f32(g, x, w, y, z, bias, act);
        return 0;
#ifdef HAVE_X86_VARIANTS
    case 1:
        if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
            return -1;
        phase ? dw_phase_f32_avx2(g, x, w, y, z, bias, act, tmp)
              : dw_plane_f32_avx2(g, x, w, y, z, bias, act);
        return 0;
    case 2:
        if (!__builtin_cpu_supports("avx512f"))
            return -1;
        phase ? dw_phase_f32_avx512(g, x, w, y, z, bias, act, tmp)
              : dw_plane_f32_avx512(g, x, w, y, z, bias, act);
        return 0;
#endif
    default:
        return -1;
    }
}

void gd_dw2d_f32(const struct gd_dw2d *g, const float *x, const float *w, float *y, const float *z,
                 float bias, const struct gd_act_params *act, float *tmp)
{
    int dw3 = gd_dw3x3_isa(g); /* MobileNet's 3x3 planes: the register kernel (dw3x3.h) */
    if (dw3 && !gd_dw3x3_f32(dw3, g, x, w, y, z, bias, act))
        return;
    int phase = use_phase(g, tmp);
#ifdef HAVE_X86_VARIANTS
    if (__builtin_cpu_supports("avx512f")) {
        phase ? dw_phase_f32_avx512(g, x, w, y, z, bias, act, tmp)
              : dw_plane_f32_avx512(g, x, w, y, z, bias, act);
        return;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        phase ? dw_phase_f32_avx2(g, x, w, y, z, bias, act, tmp)
              : dw_plane_f32_avx2(g, x, w, y, z, bias, act);
        return;
    }
#endif
    phase ? dw_phase_f32(g, x, w, y, z, bias, act, tmp) : dw_plane_f32(g, x, w, y, z, bias, act);
}
