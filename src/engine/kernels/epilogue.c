/* Conv epilogue loops (see epilogue.h). One loop per activation so that the cheap ones
 * (none, Relu, Clip, LeakyRelu) vectorise; the transcendental ones call libm per element. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3") /* vectorise these loops even in -O2 builds */
#endif
#include "engine/kernels/epilogue.h"
#include "engine/kernels/vmath.h"

#include <float.h>
#include <math.h>
#include <string.h>

int gd_act_parse(const char *name, const float *p, int n, struct gd_act_params *out)
{
    struct gd_act_params r = {GD_ACT_NONE, 0, 0};
    if (!name || !*name)
        ;
    else if (!strcmp(name, "Relu"))
        r.act = GD_ACT_RELU;
    else if (!strcmp(name, "Sigmoid"))
        r.act = GD_ACT_SIGMOID;
    else if (!strcmp(name, "Tanh"))
        r.act = GD_ACT_TANH;
    else if (!strcmp(name, "Silu"))
        r.act = GD_ACT_SILU;
    else if (!strcmp(name, "Gelu"))
        r.act = GD_ACT_GELU;
    else if (!strcmp(name, "LeakyRelu"))
        r = (struct gd_act_params){GD_ACT_LEAKY, n > 0 ? p[0] : 0.01f, 0};
    else if (!strcmp(name, "HardSigmoid"))
        r = (struct gd_act_params){GD_ACT_HARDSIGMOID, n > 0 ? p[0] : 0.2f, n > 1 ? p[1] : 0.5f};
    else if (!strcmp(name, "Clip"))
        r = (struct gd_act_params){GD_ACT_CLIP, n > 0 ? p[0] : -FLT_MAX, n > 1 ? p[1] : FLT_MAX};
    else
        return -1;
    if (r.act == GD_ACT_CLIP && (isnan(r.a) || isnan(r.b)))
        return -1;
    *out = r;
    return 0;
}

/* The same loops for both float types; v is y + bias + z, already computed. */
#define EPILOGUE(S, T, EXP, TANH, GELU, ATTR)                                                      \
    ATTR static void epi_##S(const struct gd_act_params *p, T *restrict y, const T *restrict z,    \
                             int64_t n, T bias)                                                    \
    {                                                                                              \
        T a = (T)p->a, b = (T)p->b;                                                                \
        if (z)                                                                                     \
            for (int64_t i = 0; i < n; i++)                                                        \
                y[i] += z[i];                                                                      \
        switch (p->act) {                                                                          \
        case GD_ACT_NONE:                                                                          \
            if (bias != 0)                                                                         \
                for (int64_t i = 0; i < n; i++)                                                    \
                    y[i] += bias;                                                                  \
            break;                                                                                 \
        case GD_ACT_RELU:                                                                          \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T v = y[i] + bias;                                                                 \
                y[i] = v > 0 ? v : 0;                                                              \
            }                                                                                      \
            break;                                                                                 \
        case GD_ACT_CLIP:                                                                          \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T v = y[i] + bias;                                                                 \
                v = v < a ? a : v;                                                                 \
                y[i] = v > b ? b : v;                                                              \
            }                                                                                      \
            break;                                                                                 \
        case GD_ACT_LEAKY:                                                                         \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T v = y[i] + bias;                                                                 \
                y[i] = v >= 0 ? v : a * v;                                                         \
            }                                                                                      \
            break;                                                                                 \
        case GD_ACT_HARDSIGMOID:                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T v = a * (y[i] + bias) + b;                                                       \
                v = v < 0 ? 0 : v;                                                                 \
                y[i] = v > 1 ? 1 : v;                                                              \
            }                                                                                      \
            break;                                                                                 \
        case GD_ACT_SIGMOID:                                                                       \
            for (int64_t i = 0; i < n; i++)                                                        \
                y[i] = 1 / (1 + EXP(-(y[i] + bias)));                                              \
            break;                                                                                 \
        case GD_ACT_TANH:                                                                          \
            for (int64_t i = 0; i < n; i++)                                                        \
                y[i] = TANH(y[i] + bias);                                                          \
            break;                                                                                 \
        case GD_ACT_SILU:                                                                          \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T v = y[i] + bias;                                                                 \
                y[i] = v / (1 + EXP(-v));                                                          \
            }                                                                                      \
            break;                                                                                 \
        case GD_ACT_GELU:                                                                          \
            if (bias != 0)                                                                         \
                for (int64_t i = 0; i < n; i++)                                                    \
                    y[i] += bias;                                                                  \
            GELU(y, n);                                                                            \
            break;                                                                                 \
        }                                                                                          \
    }
static void gelu_f64(double *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = 0.5 * y[i] * (1 + erf(y[i] * 0.70710678118654752));
}
/* float32 also in AVX2 and AVX-512 builds (picked per call): the epilogue runs over every
 * conv / FusedMatMul output element, and the baseline build is 4 lanes wide. */
EPILOGUE(f32, float, expf, tanhf, gd_gelu_f32, )
EPILOGUE(f64, double, exp, tanh, gelu_f64, )
#if defined(__x86_64__)
EPILOGUE(f32_avx2, float, expf, tanhf, gd_gelu_f32, __attribute__((target("avx2,fma"))))
EPILOGUE(f32_avx512, float, expf, tanhf, gd_gelu_f32, __attribute__((target("avx512f"))))
#endif

/* y[i] += b[i] (a per-column bias: FusedMatMul rows). */
#define ADDV(S, ATTR)                                                                              \
    ATTR static void addv_##S(float *restrict y, const float *restrict b, int64_t n)               \
    {                                                                                              \
        for (int64_t i = 0; i < n; i++)                                                            \
            y[i] += b[i];                                                                          \
    }
ADDV(f32, )
#if defined(__x86_64__)
ADDV(f32_avx2, __attribute__((target("avx2,fma"))))
ADDV(f32_avx512, __attribute__((target("avx512f"))))
#endif

void gd_epilogue_vbias_f32(const struct gd_act_params *p, float *y, const float *z, int64_t n,
                           const float *bias)
{
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) {
        if (bias)
            addv_f32_avx512(y, bias, n);
        epi_f32_avx512(p, y, z, n, 0.0f);
        return;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        if (bias)
            addv_f32_avx2(y, bias, n);
        epi_f32_avx2(p, y, z, n, 0.0f);
        return;
    }
#endif
    if (bias)
        addv_f32(y, bias, n);
    epi_f32(p, y, z, n, 0.0f);
}

void gd_epilogue_f32(const struct gd_act_params *p, float *y, const float *z, int64_t n, float bias)
{
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) {
        epi_f32_avx512(p, y, z, n, bias);
        return;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        epi_f32_avx2(p, y, z, n, bias);
        return;
    }
#endif
    epi_f32(p, y, z, n, bias);
}

void gd_epilogue_f64(const struct gd_act_params *p, double *y, const double *z, int64_t n,
                     double bias)
{
    epi_f64(p, y, z, n, bias);
}
