/* The vectorised transformer row kernels (kernels/vmath.h) against double-precision
 * references, through every float32 ISA build the CPU has: softmax rows (odd lengths,
 * large magnitudes, -inf entries, in place, NaN), GELU over the whole range where erf
 * saturates and near 0, and LayerNorm rows (odd lengths, with and without bias, a large
 * common offset); then the Softmax / LayerNormalization ops end to end on shapes that take
 * the vectorised paths. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ops_math/node.h"
#include "engine/kernels/vmath.h"

static unsigned seed = 4242;

static float frand(float lo, float hi)
{
    seed = seed * 1103515245u + 12345u;
    return lo + (hi - lo) * (float)((seed >> 8) & 0xffff) / 65535.0f;
}

static const int64_t lens[] = {1,  2,  3,  7,   8,   9,   15,  16,  17,
                               31, 33, 64, 100, 127, 128, 129, 384, 1001};
#define NLENS (sizeof lens / sizeof lens[0])

static void softmax_ref(const float *x, double *y, int64_t n)
{
    double mx = -INFINITY, s = 0;
    for (int64_t i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    for (int64_t i = 0; i < n; i++)
        s += (y[i] = exp((double)x[i] - mx));
    for (int64_t i = 0; i < n; i++)
        y[i] /= s;
}

Test(vmath, softmax_rows_every_isa)
{
    int ran = 0;
    for (int isa = 0; isa < 3; isa++)
        for (size_t t = 0; t < NLENS; t++) {
            int64_t n = lens[t];
            float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
            double *want = malloc(sizeof(double) * (size_t)n);
            float scale = t % 3 == 0 ? 30.0f : 4.0f; /* wide range: exp underflows to ~0 */
            for (int64_t i = 0; i < n; i++)
                x[i] = frand(-scale, scale) + (t % 2 ? 1000.0f : 0.0f);
            if (n > 4)
                x[n / 2] = -INFINITY; /* a masked position */
            softmax_ref(x, want, n);
            for (int64_t i = 0; i < n; i++)
                y[i] = NAN;
            if (gd__softmax_row_f32_isa(isa, x, y, n)) {
                free(x), free(y), free(want);
                continue;
            }
            ran++;
            for (int64_t i = 0; i < n; i++)
                cr_assert(fabs(y[i] - want[i]) <= 1e-7 + 2e-6 * want[i],
                          "isa %d n %lld: y[%lld] = %g, want %g", isa, (long long)n, (long long)i,
                          y[i], want[i]);
            /* in place gives the same */
            memcpy(y, x, sizeof(float) * (size_t)n);
            cr_assert_eq(gd__softmax_row_f32_isa(isa, y, y, n), 0);
            for (int64_t i = 0; i < n; i++)
                cr_assert(fabs(y[i] - want[i]) <= 1e-7 + 2e-6 * want[i]);
            if (n > 2) { /* NaN anywhere: NaN everywhere, as the scalar kernel */
                x[1] = NAN;
                cr_assert_eq(gd__softmax_row_f32_isa(isa, x, y, n), 0);
                for (int64_t i = 0; i < n; i++)
                    cr_assert(isnan(y[i]), "isa %d n %lld: y[%lld] = %g", isa, (long long)n,
                              (long long)i, y[i]);
            }
            free(x), free(y), free(want);
        }
    cr_assert_geq(ran, (int)NLENS);
}

Test(vmath, gelu_every_isa)
{
    int ran = 0;
    int64_t n = 4099;
    float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) /* -12..12 evenly, plus tiny values */
        x[i] = i % 7 == 0 ? frand(-1e-4f, 1e-4f) : -12.0f + 24.0f * (float)i / (float)(n - 1);
    x[5] = 0.0f, x[6] = -0.0f, x[8] = 80.0f, x[9] = -80.0f;
    for (int isa = 0; isa < 3; isa++) {
        memcpy(y, x, sizeof(float) * (size_t)n);
        if (gd__gelu_f32_isa(isa, y, n))
            continue;
        ran++;
        for (int64_t i = 0; i < n; i++) {
            double v = x[i], want = 0.5 * v * (1 + erf(v / sqrt(2.0)));
            cr_assert(fabs(y[i] - want) <= 1e-6 * fabs(v) + 1e-6 * fabs(want) + 1e-30,
                      "isa %d: gelu(%g) = %.9g, want %.9g", isa, v, y[i], want);
        }
        float nan1 = NAN;
        cr_assert_eq(gd__gelu_f32_isa(isa, &nan1, 1), 0);
        cr_assert(isnan(nan1));
        float v16[16];
        for (int i = 0; i < 16; i++)
            v16[i] = i == 3 ? NAN : 1.0f;
        cr_assert_eq(gd__gelu_f32_isa(isa, v16, 16), 0);
        cr_assert(isnan(v16[3]) && fabsf(v16[0] - 0.8413447f) < 1e-6f);
    }
    cr_assert_geq(ran, 1);
    free(x), free(y);
}

Test(vmath, layernorm_rows_every_isa)
{
    int ran = 0;
    for (int isa = 0; isa < 3; isa++)
        for (size_t t = 0; t < NLENS; t++) {
            int64_t n = lens[t];
            float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
            float *sc = malloc(sizeof(float) * (size_t)n), *bi = malloc(sizeof(float) * (size_t)n);
            float off = t % 3 == 1 ? 50.0f : 0.0f;
            for (int64_t i = 0; i < n; i++) {
                x[i] = frand(-2, 2) + off;
                sc[i] = frand(0.5f, 1.5f);
                bi[i] = frand(-1, 1);
            }
            double mean = 0, var = 0;
            for (int64_t i = 0; i < n; i++)
                mean += x[i];
            mean /= (double)n;
            for (int64_t i = 0; i < n; i++)
                var += ((double)x[i] - mean) * ((double)x[i] - mean);
            double inv = 1 / sqrt(var / (double)n + 1e-5);
            for (int with_b = 0; with_b < 2; with_b++) {
                if (gd__layernorm_row_f32_isa(isa, x, y, n, sc, with_b ? bi : NULL, 1e-5f))
                    continue;
                ran++;
                for (int64_t i = 0; i < n; i++) {
                    double want = ((double)x[i] - mean) * inv * sc[i] + (with_b ? bi[i] : 0);
                    cr_assert(fabs(y[i] - want) <= 1e-5 + 1e-5 * fabs(want),
                              "isa %d n %lld bias %d: y[%lld] = %g, want %g", isa, (long long)n,
                              with_b, (long long)i, y[i], want);
                }
            }
            free(x), free(y), free(sc), free(bi);
        }
    cr_assert_geq(ran, 2 * (int)NLENS);
}

/* The ops on shapes that take the row kernels: Softmax over the last axis of [3, 5, 37]
 * (and in place), LayerNormalization over [.., 129] with its mean / inv-std outputs. */
Test(vmath, ops_end_to_end)
{
    enum { R = 15, N = 37, D = 129 };
    static float x[R * N], ln[4 * D], sc[D], bi[D];
    for (int i = 0; i < R * N; i++)
        x[i] = frand(-5, 5);
    struct gd_tensor in = om_view(GD_DTYPE_FLOAT, 3, OM_SHAPE(3, 5, N), x), out[3];
    char err[256];
    for (int threads = 1; threads <= 2; threads++) {
        struct om_node nd = {"Softmax", 13, 1, &in, 0, NULL, 1, threads};
        cr_assert_eq(om_run(&nd, out, err, sizeof err), 0, "%s", err);
        for (int r = 0; r < R; r++) {
            double want[N];
            softmax_ref(x + r * N, want, N);
            for (int i = 0; i < N; i++)
                cr_assert(fabs(((float *)out[0].data)[r * N + i] - want[i]) <=
                          1e-7 + 2e-6 * want[i]);
        }
        gd_tensor_release(&out[0]);
    }
    for (int i = 0; i < 4 * D; i++)
        ln[i] = frand(-3, 3);
    for (int i = 0; i < D; i++)
        sc[i] = frand(0.5f, 2), bi[i] = frand(-1, 1);
    struct gd_tensor lin[3] = {om_view(GD_DTYPE_FLOAT, 3, OM_SHAPE(2, 2, D), ln),
                               om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(D), sc),
                               om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(D), bi)};
    struct om_attr eps = OM_FLOAT("epsilon", 1e-3f);
    struct om_node nd = {"LayerNormalization", 17, 3, lin, 1, &eps, 3, 2};
    cr_assert_eq(om_run(&nd, out, err, sizeof err), 0, "%s", err);
    for (int r = 0; r < 4; r++) {
        double mean = 0, var = 0;
        for (int i = 0; i < D; i++)
            mean += ln[r * D + i];
        mean /= D;
        for (int i = 0; i < D; i++)
            var += (ln[r * D + i] - mean) * (ln[r * D + i] - mean);
        double inv = 1 / sqrt(var / D + 1e-3);
        cr_assert(fabs(((float *)out[1].data)[r] - mean) < 1e-5);
        cr_assert(fabs(((float *)out[2].data)[r] - inv) < 1e-4 * inv);
        for (int i = 0; i < D; i++) {
            double want = (ln[r * D + i] - mean) * inv * sc[i] + bi[i];
            cr_assert(fabs(((float *)out[0].data)[r * D + i] - want) < 1e-5 + 1e-5 * fabs(want));
        }
    }
    for (int k = 0; k < 3; k++)
        gd_tensor_release(&out[k]);
}
