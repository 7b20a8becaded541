/* Depthwise 3x3 register kernels (see dw3x3.h): AVX-512F and AVX2+FMA builds, compiled
 * with target attributes and picked at run time. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3") /* unrolled chunk loops in -O2 builds too */
#endif
#include "engine/kernels/dw3x3.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

int gd_dw3x3_takes(const struct gd_dw2d *g)
{
    return g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 && g->sh >= 1 && g->sh <= 2 &&
           g->sw >= 1 && g->sw <= 2 && g->oh >= 1 && g->ow >= 1;
}

/* Whether the activation is applied in registers (the others run gd_epilogue_f32 on the
 * row, after bias and residual were added: that function's (y + z) + bias order). */
static int act_inline(const struct gd_act_params *act)
{
    return act->act == GD_ACT_NONE || act->act == GD_ACT_RELU || act->act == GD_ACT_CLIP;
}

/* Lanes [lo, hi) clipped to [0, width) as a bit mask (width <= 32). */
static inline uint32_t span_bits(int64_t lo, int64_t hi, int64_t width)
{
    lo = lo < 0 ? 0 : lo;
    hi = hi > width ? width : hi;
    return hi <= lo ? 0 : (uint32_t)(((1ull << (hi - lo)) - 1) << lo);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* One 16-output chunk of a row: output lanes [c0, c0 + n), tap loads either plain (full:
 * every input column in the plane) or masked with m[v] (stride 1: lanes; stride 2: the 32
 * input floats from c0 * 2 - pl + v, of which the even ones are kept). */
struct chunk16 {
    int64_t c0;
    int n, full;
    uint32_t m[3];
};
enum { MAX_CHUNKS16 = 64 }; /* rows up to 1,024 outputs */

/* Row u's three taps (sw, full: constants in every instance, so this unrolls). */
__attribute__((target("avx512f"), always_inline)) static inline __m512
taps_avx512(const float *p, int sw, int full, const struct chunk16 *ch, const __m512 *wv)
{
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
#define TAP16(v)                                                                                   \
    (sw == 1 ? (full ? _mm512_loadu_ps(p + v) : _mm512_maskz_loadu_ps((__mmask16)ch->m[v], p + v)) \
     : full                                                                                        \
         ? _mm512_permutex2var_ps(_mm512_loadu_ps(p + v), even, _mm512_loadu_ps(p + v + 16))       \
         : _mm512_permutex2var_ps(_mm512_maskz_loadu_ps((__mmask16)ch->m[v], p + v), even,         \
                                  _mm512_maskz_loadu_ps((__mmask16)(ch->m[v] >> 16), p + v + 16)))
    __m512 acc = _mm512_mul_ps(wv[0], TAP16(0));
    acc = _mm512_fmadd_ps(wv[1], TAP16(1), acc);
    return _mm512_fmadd_ps(wv[2], TAP16(2), acc);
#undef TAP16
}

/* Parameters shared by a plane's chunks. */
struct epi16 {
    __m512 vb, lo, hi;
    int relu, clip;
};

/* One chunk of output row yr (residual zr or NULL) from input rows x0..x2. */
__attribute__((target("avx512f"), always_inline)) static inline void
chunk_avx512(const float *x0, const float *x1, const float *x2, int64_t pl, int sw, int full,
             const struct chunk16 *ch, const __m512 *wv, float *yr, const float *zr,
             const struct epi16 *e)
{
    int64_t at = ch->c0 * sw - pl;
    __m512 s = _mm512_add_ps(_mm512_add_ps(taps_avx512(x0 + at, sw, full, ch, wv),
                                           taps_avx512(x1 + at, sw, full, ch, wv + 3)),
                             taps_avx512(x2 + at, sw, full, ch, wv + 6));
    __mmask16 mo = (__mmask16)span_bits(0, ch->n, 16);
    if (zr)
        s = _mm512_add_ps(s, full ? _mm512_loadu_ps(zr + ch->c0)
                                  : _mm512_maskz_loadu_ps(mo, zr + ch->c0));
    s = _mm512_add_ps(s, e->vb);
    /* max/min return their second operand for NaN: ReLU maps it to 0, Clip keeps it */
    if (e->relu)
        s = _mm512_max_ps(s, _mm512_setzero_ps());
    else if (e->clip)
        s = _mm512_min_ps(e->hi, _mm512_max_ps(e->lo, s));
    if (full)
        _mm512_storeu_ps(yr + ch->c0, s);
    else
        _mm512_mask_storeu_ps(yr + ch->c0, mo, s);
}

/* Zeros standing in for input rows in the top / bottom padding (rows up to ZROW floats:
 * MAX_CHUNKS16 * 16 outputs at stride 2 and the taps past them). */
enum { ZROW = 2 * 16 * MAX_CHUNKS16 + 64 };
static const float zrow[ZROW];

__attribute__((target("avx512f"), always_inline)) static inline void
plane_avx512(const struct gd_dw2d *g, int sw, const struct chunk16 *chs, int nch, const float *x,
             const __m512 *wv, float *y, const float *z, const struct epi16 *e,
             const struct gd_act_params *act)
{
    for (int64_t r = 0; r < g->oh; r++) {
        float *yr = y + r * g->ow;
        const float *zr = z ? z + r * g->ow : NULL, *xr[3];
        for (int u = 0; u < 3; u++) {
            int64_t ih = r * g->sh - g->pt + u;
            xr[u] = ih >= 0 && ih < g->ih ? x + ih * g->iw : zrow + 16;
        }
        for (int c = 0; c < nch; c++)
            if (chs[c].full)
                chunk_avx512(xr[0], xr[1], xr[2], g->pl, sw, 1, chs + c, wv, yr, zr, e);
            else
                chunk_avx512(xr[0], xr[1], xr[2], g->pl, sw, 0, chs + c, wv, yr, zr, e);
        if (!act_inline(act))
            gd_epilogue_f32(act, yr, NULL, g->ow, 0.0f);
    }
}

/* Returns -1 for rows over MAX_CHUNKS16 chunks. */
__attribute__((target("avx512f"))) static int dw3_avx512(const struct gd_dw2d *g, const float *x,
                                                         const float *w, float *y, const float *z,
                                                         float bias,
                                                         const struct gd_act_params *act)
{
    struct chunk16 chs[MAX_CHUNKS16];
    int nch = (int)((g->ow + 15) / 16), sw = (int)g->sw;
    if (g->ow > 16 * MAX_CHUNKS16 || g->iw > ZROW - 32)
        return -1;
    for (int c = 0; c < nch; c++) {
        struct chunk16 *ch = chs + c;
        ch->c0 = 16 * (int64_t)c;
        ch->n = g->ow - ch->c0 < 16 ? (int)(g->ow - ch->c0) : 16;
        int64_t b = ch->c0 * sw - g->pl; /* tap 0's first input column */
        ch->full = ch->n == 16 && b >= 0 && b + 2 + (sw == 1 ? 16 : 32) <= g->iw;
        for (int v = 0; v < 3; v++)
            ch->m[v] = span_bits(-(b + v), g->iw - (b + v), sw == 1 ? ch->n : 2 * ch->n - 1);
    }
    __m512 wv[9];
    for (int k = 0; k < 9; k++)
        wv[k] = _mm512_set1_ps(w[k]);
    int clip = act->act == GD_ACT_CLIP;
    struct epi16 e = {_mm512_set1_ps(bias), _mm512_set1_ps(clip ? act->a : 0),
                      _mm512_set1_ps(clip ? act->b : 0), act->act == GD_ACT_RELU, clip};
    if (sw == 1)
        plane_avx512(g, 1, chs, nch, x, wv, y, z, &e, act);
    else
        plane_avx512(g, 2, chs, nch, x, wv, y, z, &e, act);
    return 0;
}

/* Lane mask of 8 for lanes [lo, hi) of lanes first .. first + 7. */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256i
mask_avx2(int64_t lo, int64_t hi, int first)
{
    __m256i idx =
        _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(first));
    lo = lo < -1 ? -1 : lo > 64 ? 64 : lo;
    hi = hi < 0 ? 0 : hi > 64 ? 64 : hi;
    return _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32((int)lo - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), idx));
}

/* The even floats of a0 then a1 (stride 2's inputs). */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 even8(__m256 a0, __m256 a1)
{
    /* [a0 0 2 | a1 0 2 | a0 4 6 | a1 4 6], then the 64-bit pairs in order */
    __m256 ev = _mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* An 8-output chunk as chunk16; a partial one's masks are part[mi]: the output lanes, then
 * per tap v the lanes (stride 1) or the two halves of the 16 input floats (stride 2). */
struct chunk8 {
    int64_t c0;
    int n, full, mi;
};
struct part8 {
    __m256i out, tap[3][2];
};
enum { MAX_CHUNKS8 = 128, MAX_PART8 = 8 };

__attribute__((target("avx2,fma"), always_inline)) static inline __m256
taps_avx2(const float *p, int sw, int full, const struct part8 *pm, const __m256 *wv)
{
#define TAP8(v)                                                                                    \
    (sw == 1 ? (full ? _mm256_loadu_ps(p + v) : _mm256_maskload_ps(p + v, pm->tap[v][0]))          \
             : even8(full ? _mm256_loadu_ps(p + v) : _mm256_maskload_ps(p + v, pm->tap[v][0]),     \
                     full ? _mm256_loadu_ps(p + v + 8)                                             \
                          : _mm256_maskload_ps(p + v + 8, pm->tap[v][1])))
    __m256 acc = _mm256_mul_ps(wv[0], TAP8(0));
    acc = _mm256_fmadd_ps(wv[1], TAP8(1), acc);
    return _mm256_fmadd_ps(wv[2], TAP8(2), acc);
#undef TAP8
}

struct epi8 {
    __m256 vb, lo, hi;
    int relu, clip;
};

__attribute__((target("avx2,fma"), always_inline)) static inline void
chunk_avx2(const float *x0, const float *x1, const float *x2, int64_t pl, int sw, int full,
           const struct chunk8 *ch, const struct part8 *pm, const __m256 *wv, float *yr,
           const float *zr, const struct epi8 *e)
{
    int64_t at = ch->c0 * sw - pl;
    __m256 s = _mm256_add_ps(_mm256_add_ps(taps_avx2(x0 + at, sw, full, pm, wv),
                                           taps_avx2(x1 + at, sw, full, pm, wv + 3)),
                             taps_avx2(x2 + at, sw, full, pm, wv + 6));
    if (zr)
        s = _mm256_add_ps(s, full ? _mm256_loadu_ps(zr + ch->c0)
                                  : _mm256_maskload_ps(zr + ch->c0, pm->out));
    s = _mm256_add_ps(s, e->vb);
    /* max/min return their second operand for NaN: ReLU maps it to 0, Clip keeps it */
    if (e->relu)
        s = _mm256_max_ps(s, _mm256_setzero_ps());
    else if (e->clip)
        s = _mm256_min_ps(e->hi, _mm256_max_ps(e->lo, s));
    if (full)
        _mm256_storeu_ps(yr + ch->c0, s);
    else
        _mm256_maskstore_ps(yr + ch->c0, pm->out, s);
}

__attribute__((target("avx2,fma"), always_inline)) static inline void
plane_avx2(const struct gd_dw2d *g, int sw, const struct chunk8 *chs, int nch,
           const struct part8 *parts, const float *x, const __m256 *wv, float *y, const float *z,
           const struct epi8 *e, const struct gd_act_params *act)
{
    for (int64_t r = 0; r < g->oh; r++) {
        float *yr = y + r * g->ow;
        const float *zr = z ? z + r * g->ow : NULL, *xr[3];
        for (int u = 0; u < 3; u++) {
            int64_t ih = r * g->sh - g->pt + u;
            xr[u] = ih >= 0 && ih < g->ih ? x + ih * g->iw : zrow + 16;
        }
        for (int c = 0; c < nch; c++)
            if (chs[c].full)
                chunk_avx2(xr[0], xr[1], xr[2], g->pl, sw, 1, chs + c, NULL, wv, yr, zr, e);
            else
                chunk_avx2(xr[0], xr[1], xr[2], g->pl, sw, 0, chs + c, parts + chs[c].mi, wv, yr,
                           zr, e);
        if (!act_inline(act))
            gd_epilogue_f32(act, yr, NULL, g->ow, 0.0f);
    }
}

/* Returns -1 for rows over MAX_CHUNKS8 chunks or more than MAX_PART8 partial ones. */
__attribute__((target("avx2,fma"))) static int dw3_avx2(const struct gd_dw2d *g, const float *x,
                                                        const float *w, float *y, const float *z,
                                                        float bias, const struct gd_act_params *act)
{
    struct chunk8 chs[MAX_CHUNKS8];
    struct part8 parts[MAX_PART8];
    int nch = (int)((g->ow + 7) / 8), sw = (int)g->sw, np = 0;
    if (g->ow > 8 * MAX_CHUNKS8 || g->iw > ZROW - 32)
        return -1;
    for (int c = 0; c < nch; c++) {
        struct chunk8 *ch = chs + c;
        ch->c0 = 8 * (int64_t)c;
        ch->n = g->ow - ch->c0 < 8 ? (int)(g->ow - ch->c0) : 8;
        int64_t b = ch->c0 * sw - g->pl; /* tap 0's first input column */
        ch->full = ch->n == 8 && b >= 0 && b + 2 + (sw == 1 ? 8 : 16) <= g->iw;
        ch->mi = -1;
        if (ch->full)
            continue;
        if (np == MAX_PART8)
            return -1;
        struct part8 *pm = parts + (ch->mi = np++);
        pm->out = mask_avx2(0, ch->n, 0);
        for (int v = 0; v < 3; v++) {
            int64_t lo = -(b + v), hi = g->iw - (b + v), lim = sw == 1 ? ch->n : 2 * ch->n - 1;
            hi = hi < lim ? hi : lim;
            pm->tap[v][0] = mask_avx2(lo, hi, 0);
            pm->tap[v][1] = mask_avx2(lo, hi, 8);
        }
    }
    __m256 wv[9];
    for (int k = 0; k < 9; k++)
        wv[k] = _mm256_set1_ps(w[k]);
    int clip = act->act == GD_ACT_CLIP;
    struct epi8 e = {_mm256_set1_ps(bias), _mm256_set1_ps(clip ? act->a : 0),
                     _mm256_set1_ps(clip ? act->b : 0), act->act == GD_ACT_RELU, clip};
    if (sw == 1)
        plane_avx2(g, 1, chs, nch, parts, x, wv, y, z, &e, act);
    else
        plane_avx2(g, 2, chs, nch, parts, x, wv, y, z, &e, act);
    return 0;
}
#define HAVE_X86 1
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int best;

static void pick(void)
{
    const char *e = getenv("GD_DW3X3");
    if (e && !strcmp(e, "0"))
        return;
#ifdef HAVE_X86
    if (__builtin_cpu_supports("avx512f"))
        best = GD_DW3_ISA_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        best = GD_DW3_ISA_AVX2;
#endif
}

int gd_dw3x3_isa(const struct gd_dw2d *g)
{
    pthread_once(&once, pick);
    /* rows of at most 8 outputs fill an AVX2 vector but not half an AVX-512 one: 960 planes
     * of 7x7 0.069 -> 0.049 ms (one thread, this CPU) */
    return best == GD_DW3_ISA_AVX512 && g->ow <= 8 ? GD_DW3_ISA_AVX2 : best;
}

int gd_dw3x3_f32(int isa, const struct gd_dw2d *g, const float *x, const float *w, float *y,
                 const float *z, float bias, const struct gd_act_params *act)
{
    if (!gd_dw3x3_takes(g))
        return -1;
#ifdef HAVE_X86
    if (isa == GD_DW3_ISA_AVX512 && __builtin_cpu_supports("avx512f"))
        return dw3_avx512(g, x, w, y, z, bias, act);
    if (isa == GD_DW3_ISA_AVX2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        dw3_avx2(g, x, w, y, z, bias, act);
        return 0;
    }
#endif
    (void)x, (void)w, (void)y, (void)z, (void)bias, (void)act;
    return -1;
}
