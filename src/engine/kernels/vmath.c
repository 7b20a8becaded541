/* Vectorised softmax / GELU / LayerNorm rows (see vmath.h). The row loops are written once
 * (VM_FUNCS) over a handful of vector macros (VL, VADD, ...) that are defined per ISA just
 * before each instantiation; the ragged end of a row (< one vector) runs the scalar code. */
#include "engine/kernels/vmath.h"

#include <math.h>

#define GELU_S(v) (0.5f * (v) * (1.0f + erff((v)*0.70710678118654752f)))

/* ---- baseline build (libm) ---- */

static void softmax_base(const float *x, float *y, int64_t n)
{
    float mx = x[0], sum = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > mx || mx != mx)
            mx = x[i];
    for (int64_t i = 0; i < n; i++)
        sum += (y[i] = expf(x[i] - mx));
    float inv = 1 / sum;
    for (int64_t i = 0; i < n; i++)
        y[i] *= inv;
}

static void gelu_base(float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = GELU_S(y[i]);
}

static void layernorm_base(const float *x, float *y, int64_t n, const float *sc, const float *bi,
                           float eps, float *mean_out, float *inv_out)
{
    double s = 0, v = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    float mean = (float)(s / (double)n);
    for (int64_t i = 0; i < n; i++)
        v += (double)(x[i] - mean) * (x[i] - mean);
    float inv = (float)(1.0 / sqrt(v / (double)n + eps));
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] - mean) * inv * sc[i] + (bi ? bi[i] : 0.0f);
    if (mean_out)
        *mean_out = mean;
    if (inv_out)
        *inv_out = inv;
}

#if defined(__x86_64__)
#include <immintrin.h>

/* VM_FUNCS(S, ATTR): exp_S / softmax_S / gelu_S / layernorm_S over the vector macros. */
#define VM_FUNCS(S, ATTR)                                                                          \
    ATTR static inline VT vexp_##S(VT x)                                                           \
    {                                                                                              \
        x = VMIN(VSET(88.0f), VMAX(VSET(-87.3f), x)); /* NaN stays NaN (second operand) */         \
        VT n = VRND(VMUL(x, VSET(1.44269504088896341f)));                                          \
        VT r = VFMA(n, VSET(-0.693359375f), x);                                                    \
        r = VFMA(n, VSET(2.12194440e-4f), r);                                                      \
        VT p = VSET(1.9875691500e-4f);                                                             \
        p = VFMA(p, r, VSET(1.3981999507e-3f));                                                    \
        p = VFMA(p, r, VSET(8.3334519073e-3f));                                                    \
        p = VFMA(p, r, VSET(4.1665795894e-2f));                                                    \
        p = VFMA(p, r, VSET(1.6666665459e-1f));                                                    \
        p = VFMA(p, r, VSET(5.0000001201e-1f));                                                    \
        VT e = VADD(VFMA(p, VMUL(r, r), r), VSET(1.0f));                                           \
        return VMUL(e, VPOW2(n));                                                                  \
    }                                                                                              \
    ATTR static void softmax_##S(const float *x, float *y, int64_t n)                              \
    {                                                                                              \
        int64_t i = 0, nv = n / VW * VW;                                                           \
        float mx = x[0], sum = 0;                                                                  \
        if (nv) {                                                                                  \
            VT m = VL(x);                                                                          \
            for (i = VW; i < nv; i += VW)                                                          \
                m = VMAX(m, VL(x + i));                                                            \
            mx = VHMAX(m);                                                                         \
        }                                                                                          \
        for (i = nv; i < n; i++)                                                                   \
            if (x[i] > mx || mx != mx)                                                             \
                mx = x[i];                                                                         \
        VT acc = VSET(0.0f), vm = VSET(mx);                                                        \
        for (i = 0; i < nv; i += VW) {                                                             \
            VT e = vexp_##S(VSUB(VL(x + i), vm));                                                  \
            VS(y + i, e);                                                                          \
            acc = VADD(acc, e);                                                                    \
        }                                                                                          \
        for (i = nv; i < n; i++)                                                                   \
            sum += (y[i] = expf(x[i] - mx));                                                       \
        sum += VHSUM(acc);                                                                         \
        float inv = 1 / sum;                                                                       \
        VT vi = VSET(inv);                                                                         \
        for (i = 0; i < nv; i += VW)                                                               \
            VS(y + i, VMUL(VL(y + i), vi));                                                        \
        for (i = nv; i < n; i++)                                                                   \
            y[i] *= inv;                                                                           \
    }                                                                                              \
    /* 0.5 x (1 + erf(z)), z = x / sqrt 2: with erfc(|z|) = t exp(-z^2 + P(t)),                    \
     * t = 1 / (1 + |z| / 2), 1 + erf(z) is 2 - erfc(|z|) for x >= 0 and erfc(|z|) below. */       \
    ATTR static void gelu_##S(float *y, int64_t n)                                                 \
    {                                                                                              \
        int64_t i = 0, nv = n / VW * VW;                                                           \
        const VT one = VSET(1.0f);                                                                 \
        for (; i < nv; i += VW) {                                                                  \
            VT x = VL(y + i), z = VABS(VMUL(x, VSET(0.70710678118654752f)));                       \
            VT t = VDIV(one, VFMA(z, VSET(0.5f), one));                                            \
            VT p = VSET(0.17087277f);                                                              \
            p = VFMA(p, t, VSET(-0.82215223f));                                                    \
            p = VFMA(p, t, VSET(1.48851587f));                                                     \
            p = VFMA(p, t, VSET(-1.13520398f));                                                    \
            p = VFMA(p, t, VSET(0.27886807f));                                                     \
            p = VFMA(p, t, VSET(-0.18628806f));                                                    \
            p = VFMA(p, t, VSET(0.09678418f));                                                     \
            p = VFMA(p, t, VSET(0.37409196f));                                                     \
            p = VFMA(p, t, VSET(1.00002368f));                                                     \
            p = VFMA(p, t, VSET(-1.26551223f));                                                    \
            VT ec = VMUL(t, vexp_##S(VSUB(p, VMUL(z, z))));                                        \
            VT h = VSELLT(x, VSUB(VSET(2.0f), ec), ec);                                            \
            VS(y + i, VMUL(VMUL(VSET(0.5f), x), h));                                               \
        }                                                                                          \
        for (; i < n; i++)                                                                         \
            y[i] = GELU_S(y[i]);                                                                   \
    }                                                                                              \
    /* Mean and variance accumulate in double lanes (like the reference kernel), two passes. */    \
    ATTR static void layernorm_##S(const float *x, float *y, int64_t n, const float *sc,           \
                                   const float *bi, float eps, float *mean_out, float *inv_out)    \
    {                                                                                              \
        int64_t i, nv = n / VW * VW;                                                               \
        VD a0 = VDZERO, a1 = VDZERO;                                                               \
        double s = 0, v = 0;                                                                       \
        for (i = 0; i < nv; i += VW) {                                                             \
            VT t = VL(x + i);                                                                      \
            a0 = VDADD(a0, VDADD(VDLO(t), VDHI(t)));                                               \
        }                                                                                          \
        for (i = nv; i < n; i++)                                                                   \
            s += x[i];                                                                             \
        double md = (VDHSUM(a0) + s) / (double)n;                                                  \
        float mean = (float)md;                                                                    \
        VT vm = VSET(mean);                                                                        \
        for (i = 0; i < nv; i += VW) {                                                             \
            VT d = VSUB(VL(x + i), vm);                                                            \
            VD lo = VDLO(d), hi = VDHI(d);                                                         \
            a1 = VDFMA(lo, lo, VDFMA(hi, hi, a1));                                                 \
        }                                                                                          \
        for (i = nv; i < n; i++)                                                                   \
            v += (double)(x[i] - mean) * (x[i] - mean);                                            \
        float inv = (float)(1.0 / sqrt((VDHSUM(a1) + v) / (double)n + eps));                       \
        VT vi = VSET(inv);                                                                         \
        for (i = 0; i < nv; i += VW) {                                                             \
            VT t = VMUL(VSUB(VL(x + i), vm), vi);                                                  \
            VS(y + i, bi ? VFMA(t, VL(sc + i), VL(bi + i)) : VMUL(t, VL(sc + i)));                 \
        }                                                                                          \
        for (i = nv; i < n; i++)                                                                   \
            y[i] = (x[i] - mean) * inv * sc[i] + (bi ? bi[i] : 0.0f);                              \
        if (mean_out)                                                                              \
            *mean_out = mean;                                                                      \
        if (inv_out)                                                                               \
            *inv_out = inv;                                                                        \
    }

/* AVX-512F */
#define A512 __attribute__((target("avx512f")))
#define VT __m512
#define VW 16
#define VL(p) _mm512_loadu_ps(p)
#define VS(p, v) _mm512_storeu_ps(p, v)
#define VSET(c) _mm512_set1_ps(c)
#define VADD _mm512_add_ps
#define VSUB _mm512_sub_ps
#define VMUL _mm512_mul_ps
#define VDIV _mm512_div_ps
#define VFMA _mm512_fmadd_ps
#define VMAX _mm512_max_ps
#define VMIN _mm512_min_ps
#define VABS _mm512_abs_ps
#define VRND(v) _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VPOW2(n)                                                                                   \
    _mm512_castsi512_ps(                                                                           \
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23))
#define VSELLT(x, ge, lt)                                                                          \
    _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), ge, lt)
#define VHMAX _mm512_reduce_max_ps
#define VHSUM _mm512_reduce_add_ps
#define VD __m512d
#define VDZERO _mm512_setzero_pd()
#define VDLO(v) _mm512_cvtps_pd(_mm512_castps512_ps256(v))
#define VDHI(v) _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)))
#define VDADD _mm512_add_pd
#define VDFMA _mm512_fmadd_pd
#define VDHSUM _mm512_reduce_add_pd
VM_FUNCS(avx512, A512)
#undef VT
#undef VW
#undef VL
#undef VS
#undef VSET
#undef VADD
#undef VSUB
#undef VMUL
#undef VDIV
#undef VFMA
#undef VMAX
#undef VMIN
#undef VABS
#undef VRND
#undef VPOW2
#undef VSELLT
#undef VHMAX
#undef VHSUM
#undef VD
#undef VDZERO
#undef VDLO
#undef VDHI
#undef VDADD
#undef VDFMA
#undef VDHSUM

/* AVX2 + FMA */
#define A256 __attribute__((target("avx2,fma")))
A256 static inline float hmax256(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}
A256 static inline float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
#define VT __m256
#define VW 8
#define VL(p) _mm256_loadu_ps(p)
#define VS(p, v) _mm256_storeu_ps(p, v)
#define VSET(c) _mm256_set1_ps(c)
#define VADD _mm256_add_ps
#define VSUB _mm256_sub_ps
#define VMUL _mm256_mul_ps
#define VDIV _mm256_div_ps
#define VFMA _mm256_fmadd_ps
#define VMAX _mm256_max_ps
#define VMIN _mm256_min_ps
#define VABS(v) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v)
#define VRND(v) _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VPOW2(n)                                                                                   \
    _mm256_castsi256_ps(                                                                           \
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23))
#define VSELLT(x, ge, lt)                                                                          \
    _mm256_blendv_ps(ge, lt, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ))
#define VHMAX hmax256
#define VHSUM hsum256
A256 static inline double hsum256d(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
#define VD __m256d
#define VDZERO _mm256_setzero_pd()
#define VDLO(v) _mm256_cvtps_pd(_mm256_castps256_ps128(v))
#define VDHI(v) _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))
#define VDADD _mm256_add_pd
#define VDFMA _mm256_fmadd_pd
#define VDHSUM hsum256d
VM_FUNCS(avx2, A256)

#define HAVE_X86_VARIANTS 1
#endif

/* 0 baseline, 1 AVX2+FMA, 2 AVX-512F: the best this CPU runs. */
static int best_isa(void)
{
#ifdef HAVE_X86_VARIANTS
    if (__builtin_cpu_supports("avx512f"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return 1;
#endif
    return 0;
}

static int have_isa(int isa)
{
    if (isa == 0)
        return 1;
#ifdef HAVE_X86_VARIANTS
    if (isa == 1)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == 2)
        return __builtin_cpu_supports("avx512f");
#endif
    return 0;
}

int gd__softmax_row_f32_isa(int isa, const float *x, float *y, int64_t n)
{
    if (!have_isa(isa))
        return -1;
#ifdef HAVE_X86_VARIANTS
    if (isa == 2) {
        softmax_avx512(x, y, n);
        return 0;
    }
    if (isa == 1) {
        softmax_avx2(x, y, n);
        return 0;
    }
#endif
    softmax_base(x, y, n);
    return 0;
}

int gd__gelu_f32_isa(int isa, float *y, int64_t n)
{
    if (!have_isa(isa))
        return -1;
#ifdef HAVE_X86_VARIANTS
    if (isa == 2) {
        gelu_avx512(y, n);
        return 0;
    }
    if (isa == 1) {
        gelu_avx2(y, n);
        return 0;
    }
#endif
    gelu_base(y, n);
    return 0;
}

static int layernorm_isa(int isa, const float *x, float *y, int64_t n, const float *sc,
                         const float *bi, float eps, float *mean, float *inv)
{
    if (!have_isa(isa))
        return -1;
#ifdef HAVE_X86_VARIANTS
    if (isa == 2) {
        layernorm_avx512(x, y, n, sc, bi, eps, mean, inv);
        return 0;
    }
    if (isa == 1) {
        layernorm_avx2(x, y, n, sc, bi, eps, mean, inv);
        return 0;
    }
#endif
    layernorm_base(x, y, n, sc, bi, eps, mean, inv);
    return 0;
}

int gd__layernorm_row_f32_isa(int isa, const float *x, float *y, int64_t n, const float *scale,
                              const float *bias, float eps)
{
    return layernorm_isa(isa, x, y, n, scale, bias, eps, NULL, NULL);
}

void gd_softmax_row_f32(const float *x, float *y, int64_t n)
{
    (void)gd__softmax_row_f32_isa(best_isa(), x, y, n);
}

void gd_gelu_f32(float *y, int64_t n)
{
    (void)gd__gelu_f32_isa(best_isa(), y, n);
}

void gd_layernorm_row_f32(const float *x, float *y, int64_t n, const float *scale,
                          const float *bias, float eps, float *mean, float *inv)
{
    (void)layernorm_isa(best_isa(), x, y, n, scale, bias, eps, mean, inv);
}
