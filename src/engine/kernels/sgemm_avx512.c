/* AVX-512F micro-kernels for the packed SGEMM (see sgemm.h): 12x32 (24 zmm accumulators,
 * two B loads and twelve broadcasts per k, which leaves the FMA units the bottleneck), plus
 * 8x32 and 4x32 for the last row panel so that M = 64 or 128 wastes no FMAs on padding,
 * and 16-wide versions of all three for a last column panel at most 16 wide.
 * Compiled with a target attribute, so the rest of the binary keeps the baseline ISA; only
 * called after a run-time CPU check. */
#include "engine/kernels/sgemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define MR 12
#define NR 32

/* rows x cols tile (cols 16 or 32, b panels are 32 wide either way); both are constants in each
 * instance below, so the loops unroll and the accumulators stay in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void
tile_avx512(int rows, int cols, int64_t kc, const float *a, int64_t ai, int64_t ap, const float *b,
            float *c, int64_t ldc, float alpha, float beta)
{
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < rows; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; p++, a += ap, b += NR) {
        __m512 b0 = _mm512_load_ps(b), b1 = cols > 16 ? _mm512_load_ps(b + 16) : b0;
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
            __m512 av = _mm512_set1_ps(a[i * ai]);
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            if (cols > 16)
                acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
    for (int i = 0; i < rows; i++, c += ldc) {
        __m512 r0 = _mm512_mul_ps(va, acc[i][0]);
        if (beta != 0.0f)
            r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c), r0);
        _mm512_storeu_ps(c, r0);
        if (cols > 16) {
            __m512 r1 = _mm512_mul_ps(va, acc[i][1]);
            if (beta != 0.0f)
                r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + 16), r1);
            _mm512_storeu_ps(c + 16, r1);
        }
    }
}

#define UKR(R, C)                                                                                  \
    __attribute__((target("avx512f"))) static void ukr_avx512_##R##x##C(                           \
        int64_t kc, const float *a, int64_t ai, int64_t ap, const float *b, float *c, int64_t ldc, \
        float alpha, float beta)                                                                   \
    {                                                                                              \
        tile_avx512(R, C, kc, a, ai, ap, b, c, ldc, alpha, beta);                                  \
    }
UKR(4, 32)
UKR(8, 32)
UKR(12, 32)
UKR(4, 16)
UKR(8, 16)
UKR(12, 16)

const struct gd_sgemm_ukr gd__sgemm_ukr_avx512 = {
    "avx512",
    MR,
    NR,
    4,
    {ukr_avx512_4x32, ukr_avx512_8x32, ukr_avx512_12x32},
    {ukr_avx512_4x16, ukr_avx512_8x16, ukr_avx512_12x16}};
#endif
