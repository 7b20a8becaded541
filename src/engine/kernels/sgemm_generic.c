/* Portable C micro-kernel (4x16) for the packed SGEMM (see sgemm.h): the fallback on CPUs
 * without AVX2 and on other architectures; the compiler vectorises the j loops. */
#include "engine/kernels/sgemm.h"

#include <stddef.h>

#define MR 4
#define NR 16

static void ukr_generic(int64_t kc, const float *a, int64_t ai, int64_t ap, const float *b,
                        float *c, int64_t ldc, float alpha, float beta)
{
    float acc[MR][NR] = {{0}};
    for (int64_t p = 0; p < kc; p++, a += ap, b += NR) {
        float av[MR];
        for (int i = 0; i < MR; i++)
            av[i] = a[i * ai];
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                acc[i][j] += av[i] * b[j];
    }
    for (int i = 0; i < MR; i++, c += ldc)
        for (int j = 0; j < NR; j++)
            c[j] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c[j];
}

const struct gd_sgemm_ukr gd__sgemm_ukr_generic = {"generic",     MR,     NR,     MR,
                                                   {ukr_generic}, {NULL}, {NULL}, {NULL}};
