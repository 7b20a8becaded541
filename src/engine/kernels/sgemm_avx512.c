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
/* rows x cols (cols <= 32) with B row p at b + off[p]: masked unaligned loads and stores
 * when the tile is partial, so nothing past a row's cols floats is touched; plain ones for
 * whole tiles (masked stores are slow on some cores). Alpha is 1. */
__attribute__((target("avx512f"), always_inline)) static inline void
rows_avx512(int rows, int wide, int masked, int64_t kc, const float *a, int64_t ai, int64_t ap,
            const float *b, const int32_t *off, int cols, float *c, int64_t ldc, float beta,
            const struct gd_sgemm_rows_epi *e)
{
    __mmask16 m0 = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1);
    __mmask16 m1 = cols >= 32   ? (__mmask16)0xFFFF
                   : cols <= 16 ? (__mmask16)0
                                : (__mmask16)((1u << (cols - 16)) - 1);
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < rows; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; p++, a += ap) {
        const float *bp = b + off[p];
        __m512 b0 = masked ? _mm512_maskz_loadu_ps(m0, bp) : _mm512_loadu_ps(bp), b1 = b0;
        if (wide)
            b1 = masked ? _mm512_maskz_loadu_ps(m1, bp + 16) : _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
            __m512 av = _mm512_set1_ps(a[i * ai]);
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            if (wide)
                acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
        }
    }
    __m512 lo = _mm512_set1_ps(e ? e->lo : 0), hi = _mm512_set1_ps(e ? e->hi : 0);
#pragma GCC unroll 12
    for (int i = 0; i < rows; i++, c += ldc)
        for (int h = 0; h < 1 + wide; h++) {
            __mmask16 m = h ? m1 : m0;
            __m512 r = acc[i][h];
            if (beta != 0.0f)
                r = _mm512_add_ps(r, masked ? _mm512_maskz_loadu_ps(m, c + 16 * h)
                                            : _mm512_loadu_ps(c + 16 * h));
            if (e) {
                const float *zp = e->z ? e->z + i * e->ldz + 16 * h : NULL;
                if (e->bias)
                    r = _mm512_add_ps(r, _mm512_set1_ps(e->bias[i]));
                if (zp)
                    r = _mm512_add_ps(r,
                                      masked ? _mm512_maskz_loadu_ps(m, zp) : _mm512_loadu_ps(zp));
                /* max/min return their second operand for NaN: ReLU maps it to 0 */
                r = e->relu ? _mm512_max_ps(r, lo) : _mm512_min_ps(hi, _mm512_max_ps(lo, r));
            }
            if (masked)
                _mm512_mask_storeu_ps(c + 16 * h, m, r);
            else
                _mm512_storeu_ps(c + 16 * h, r);
        }
}

#define ROWS(R, W)                                                                                 \
    __attribute__((target("avx512f"))) static void rows_avx512_##R##x##W(                          \
        int64_t kc, const float *a, int64_t ai, int64_t ap, const float *b, const int32_t *off,    \
        int cols, float *c, int64_t ldc, float beta, const struct gd_sgemm_rows_epi *e)            \
    {                                                                                              \
        if (cols == W)                                                                             \
            rows_avx512(R, W > 16, 0, kc, a, ai, ap, b, off, cols, c, ldc, beta, e);               \
        else                                                                                       \
            rows_avx512(R, W > 16, 1, kc, a, ai, ap, b, off, cols, c, ldc, beta, e);               \
    }
ROWS(4, 32)
ROWS(8, 32)
ROWS(12, 32)
ROWS(4, 16)
ROWS(8, 16)
ROWS(12, 16)

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
    {ukr_avx512_4x16, ukr_avx512_8x16, ukr_avx512_12x16},
    {rows_avx512_4x32, rows_avx512_8x32, rows_avx512_12x32},
    {rows_avx512_4x16, rows_avx512_8x16, rows_avx512_12x16}};
#endif
