/* AVX2+FMA micro-kernels for the packed SGEMM (see sgemm.h): 6x16 (12 ymm accumulators, two
 * B loads and six broadcasts per k), plus 4x16 and 2x16 for the last row panel. Compiled
 * with a target attribute, so the rest of the binary keeps the baseline ISA; only called
 * after a run-time CPU check. */
#include "engine/kernels/sgemm.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <stddef.h>

#define MR 6
#define NR 16

/* rows x 16 tile; rows is a constant in each instance below. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
tile_avx2(int rows, int64_t kc, const float *a, int64_t ai, int64_t ap, const float *b, float *c,
          int64_t ldc, float alpha, float beta)
{
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < rows; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t p = 0; p < kc; p++, a += ap, b += NR) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
        for (int i = 0; i < rows; i++) {
            __m256 av = _mm256_broadcast_ss(a + i * ai);
            acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
        }
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
    for (int i = 0; i < rows; i++, c += ldc) {
        __m256 r0 = _mm256_mul_ps(va, acc[i][0]), r1 = _mm256_mul_ps(va, acc[i][1]);
        if (beta != 0.0f) {
            r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), r0);
            r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), r1);
        }
        _mm256_storeu_ps(c, r0);
        _mm256_storeu_ps(c + 8, r1);
    }
}

#define UKR(R)                                                                                     \
    __attribute__((target("avx2,fma"))) static void ukr_avx2_##R(                                  \
        int64_t kc, const float *a, int64_t ai, int64_t ap, const float *b, float *c, int64_t ldc, \
        float alpha, float beta)                                                                   \
    {                                                                                              \
        tile_avx2(R, kc, a, ai, ap, b, c, ldc, alpha, beta);                                       \
    }
UKR(2)
UKR(4)
UKR(6)

const struct gd_sgemm_ukr gd__sgemm_ukr_avx2 = {
    "avx2", MR, NR, 2, {ukr_avx2_2, ukr_avx2_4, ukr_avx2_6}, {NULL}};
#endif
