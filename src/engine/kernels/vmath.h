/* Vectorised float32 row kernels for transformer ops: softmax over a contiguous row, GELU
 * (erf form) and a LayerNorm row. AVX-512F and AVX2+FMA builds are picked at run time
 * (__builtin_cpu_supports); the baseline build is plain C over libm (expf, erff).
 *
 * exp in the vector builds: Cephes' expf range reduction (x = n ln2 + r, degree-5
 * polynomial, ~1 ulp) with x clamped to [-87.3, 88]: softmax only feeds it x - max <= 0, and
 * exp(-87.3) ~ 1e-38 stands in for smaller results. erf inside GELU: Numerical Recipes'
 * erfc Chebyshev fit (|relative error of erfc| < 1.2e-7), so erf's absolute error is
 * ~1.5e-7: negligible in 0.5 x (1 + erf(x / sqrt 2)); the Erf op itself keeps libm's erff,
 * whose relative accuracy near 0 conformance tests check. NaN propagates.
 *
 * Threading: pure functions. Errors: none. */
#ifndef GD_ENGINE_KERNELS_VMATH_H
#define GD_ENGINE_KERNELS_VMATH_H

#include <stdint.h>

/* y[i] = exp(x[i] - max) / sum_j exp(x[j] - max), n >= 1; y may equal x. */
void gd_softmax_row_f32(const float *x, float *y, int64_t n);
/* y[i] = 0.5 y[i] (1 + erf(y[i] / sqrt 2)) in place. */
void gd_gelu_f32(float *y, int64_t n);
/* y = (x - mean) / sqrt(var + eps) * scale + bias (bias may be NULL) over one row of n
 * (mean and variance accumulated in float lanes, two passes); y may equal x. Returns mean
 * and 1 / sqrt(var + eps) through *mean, *inv when not NULL. */
void gd_layernorm_row_f32(const float *x, float *y, int64_t n, const float *scale,
                          const float *bias, float eps, float *mean, float *inv);

/* Tests: the same through one build (0 baseline, 1 AVX2+FMA, 2 AVX-512F); -1 when this
 * binary or CPU lacks it. */
int gd__softmax_row_f32_isa(int isa, const float *x, float *y, int64_t n);
int gd__gelu_f32_isa(int isa, float *y, int64_t n);
int gd__layernorm_row_f32_isa(int isa, const float *x, float *y, int64_t n, const float *scale,
                              const float *bias, float eps);

#endif
