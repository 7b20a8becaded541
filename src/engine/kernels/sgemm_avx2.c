/* AVX2+FMA micro-kernels for the packed SGEMM (see sgemm.h): 6x16 (12 ymm accumulators, two
 * B loads and six broadcasts per k), plus 4x16 and 2x16 for the last row panel, and the
 * same three reading B rows in place (implicit-GEMM convolution). Compiled
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

/* rows x cols (cols <= 16) with B row p at b + off[p] (see gd_sgemm_rows_fn): masked loads
 * and stores (vmaskmov), so nothing past a row's cols floats is touched. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
rows_avx2(int rows, int64_t kc, const float *a, int64_t ai, int64_t ap, const float *b,
          const int32_t *off, int cols, float *c, int64_t ldc, float beta,
          const struct gd_sgemm_rows_epi *e)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), lane);
    __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols - 8), lane);
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < rows; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t p = 0; p < kc; p++, a += ap) {
        const float *bp = b + off[p];
        __m256 b0 = _mm256_maskload_ps(bp, m0), b1 = _mm256_maskload_ps(bp + 8, m1);
#pragma GCC unroll 6
        for (int i = 0; i < rows; i++) {
            __m256 av = _mm256_broadcast_ss(a + i * ai);
            acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < rows; i++, c += ldc) {
        __m256 r0 = acc[i][0], r1 = acc[i][1];
        if (beta != 0.0f) {
            r0 = _mm256_add_ps(r0, _mm256_maskload_ps(c, m0));
            r1 = _mm256_add_ps(r1, _mm256_maskload_ps(c + 8, m1));
        }
        if (e) {
            __m256 lo = _mm256_set1_ps(e->lo), hi = _mm256_set1_ps(e->hi);
            if (e->bias) {
                __m256 bv = _mm256_set1_ps(e->bias[i]);
                r0 = _mm256_add_ps(r0, bv);
                r1 = _mm256_add_ps(r1, bv);
            }
            if (e->z) {
                r0 = _mm256_add_ps(r0, _mm256_maskload_ps(e->z + i * e->ldz, m0));
                r1 = _mm256_add_ps(r1, _mm256_maskload_ps(e->z + i * e->ldz + 8, m1));
            }
            /* max/min return their second operand for NaN: ReLU maps it to 0 */
            r0 = e->relu ? _mm256_max_ps(r0, lo) : _mm256_min_ps(hi, _mm256_max_ps(lo, r0));
            r1 = e->relu ? _mm256_max_ps(r1, lo) : _mm256_min_ps(hi, _mm256_max_ps(lo, r1));
        }
        _mm256_maskstore_ps(c, m0, r0);
        _mm256_maskstore_ps(c + 8, m1, r1);
    }
}

#define ROWS(R)                                                                                    \
    __attribute__((target("avx2,fma"))) static void rows_avx2_##R(                                 \
        int64_t kc, const float *a, int64_t ai, int64_t ap, const float *b, const int32_t *off,    \
        int cols, float *c, int64_t ldc, float beta, const struct gd_sgemm_rows_epi *e)            \
    {                                                                                              \
        rows_avx2(R, kc, a, ai, ap, b, off, cols, c, ldc, beta, e);                                \
    }
ROWS(2)
ROWS(4)
ROWS(6)

const struct gd_sgemm_ukr gd__sgemm_ukr_avx2 = {"avx2",
                                                MR,
                                                NR,
                                                2,
                                                {ukr_avx2_2, ukr_avx2_4, ukr_avx2_6},
                                                {NULL},
                                                {rows_avx2_2, rows_avx2_4, rows_avx2_6},
                                                {NULL}};
#endif
