/* girder's packed SGEMM (kernels/sgemm.h): every micro-kernel this CPU supports against a
 * double-precision naive reference on many shapes (odd sizes, edge tiles, K slices, large
 * dims), both transposes, alpha/beta (beta == 0 over NaN garbage must not propagate),
 * leading dims wider than the rows (padding must stay untouched), and the serial entry
 * point with the default kernel; the same sweep with op(B) pre-packed into panels (the
 * load-time path of prepack.c), and column blocks of a pre-packed matrix. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/kernels/gemm.h"
#include "engine/kernels/sgemm.h"
#include "engine/model.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;

static float frand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 40) & 0xffff) / 32768.0f - 1.0f;
}

static int64_t irand(int64_t n)
{
    (void)frand();
    return (int64_t)((rng >> 20) % (uint64_t)n);
}

#define SENTINEL 12345.0f

static int use_pre; /* check(): take op(B) from pre-packed panels */

/* op(B) packed for u into fresh 64-byte aligned memory (free *raw). */
static float *packed(const struct gd_sgemm_ukr *u, const float *b, int64_t ldb, int tb, int64_t k,
                     int64_t n, void **raw)
{
    *raw = malloc(sizeof(float) * gd__sgemm_packed_b_floats(k, n, u->nr) + 64);
    cr_assert_not_null(*raw);
    float *pb = (float *)(((uintptr_t)*raw + 63) & ~(uintptr_t)63);
    gd__sgemm_pack_b_full(b, ldb, tb, k, n, u->nr, pb);
    return pb;
}

/* Runs one case through u (NULL: gd_kern_gemm_serial) and checks every element. */
static void check(const struct gd_sgemm_ukr *u, int64_t m, int64_t n, int64_t k, int ta, int tb,
                  float alpha, float beta)
{
    int64_t lda = (ta ? m : k) + irand(4), ldb = (tb ? k : n) + irand(4), ldc = n + irand(4);
    int64_t arows = ta ? k : m, brows = tb ? n : k;
    float *a = malloc(sizeof(float) * (size_t)(arows * lda + 1));
    float *b = malloc(sizeof(float) * (size_t)(brows * ldb + 1));
    float *c = malloc(sizeof(float) * (size_t)(m * ldc));
    float *c0 = malloc(sizeof(float) * (size_t)(m * ldc));
    cr_assert(a && b && c && c0);
    for (int64_t i = 0; i < arows * lda; i++)
        a[i] = frand();
    for (int64_t i = 0; i < brows * ldb; i++)
        b[i] = frand();
    for (int64_t i = 0; i < m * ldc; i++)
        c0[i] = c[i] = (i % ldc >= n) ? SENTINEL : beta == 0.0f ? NAN : frand();
    struct gd_gemm g = {.dt = GD_DTYPE_FLOAT,
                        .ta = ta,
                        .tb = tb,
                        .m = m,
                        .n = n,
                        .k = k,
                        .alpha = alpha,
                        .beta = beta,
                        .a = a,
                        .b = b,
                        .c = c,
                        .lda = lda,
                        .ldb = ldb,
                        .ldc = ldc};
    if (u && use_pre) {
        void *raw;
        float *pb = packed(u, b, ldb, tb, k, n, &raw);
        g.b = NULL; /* must not be read */
        cr_assert_eq(gd__sgemm_prepacked(&g, pb, u), 0);
        free(raw);
    } else if (u)
        gd__sgemm(&g, u);
    else
        cr_assert_eq(gd_kern_gemm_serial(&g), 0);
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double s = 0, mag = 0;
            for (int64_t p = 0; p < k; p++) {
                double x = ta ? a[p * lda + i] : a[i * lda + p];
                double y = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += x * y;
                mag += fabs(x * y);
            }
            double want = alpha * s + (beta == 0.0f ? 0 : beta * (double)c0[i * ldc + j]);
            double got = c[i * ldc + j], tol = 1e-5 + 2e-4 * (fabs(alpha) * mag + fabs(beta));
            if (!(fabs(got - want) <= tol))
                cr_assert_fail(
                    "%s m=%lld n=%lld k=%lld ta=%d tb=%d alpha=%g beta=%g: C[%lld,%lld] = "
                    "%g, want %g",
                    u ? u->name : "serial", (long long)m, (long long)n, (long long)k, ta, tb, alpha,
                    beta, (long long)i, (long long)j, got, want);
        }
        for (int64_t j = n; j < ldc; j++)
            cr_assert_eq(c[i * ldc + j], SENTINEL, "padding of row %lld overwritten", (long long)i);
    }
    free(a), free(b), free(c), free(c0);
}

static const float ab[][2] = {{1, 0}, {0.5f, 1}, {-1.5f, 0.25f}, {2, 0}, {1, 1}};
#define NAB (sizeof ab / sizeof ab[0])

/* Shapes around every tile and block edge, run with every transpose and alpha/beta. */
static void sweep(const struct gd_sgemm_ukr *u)
{
    static const int64_t dims[] = {1, 2, 3, 4, 5, 8, 12, 16, 17, 20, 33, 48, 63, 64, 97, 128};
    static const int64_t ks[] = {1, 2, 3, 17, 63, 255, 257, 600};
    int n_dims = sizeof dims / sizeof dims[0], n_ks = sizeof ks / sizeof ks[0], t = 0;
    for (int i = 0; i < n_dims; i++)
        for (int j = 0; j < n_dims; j++)
            for (int tr = 0; tr < 4; tr++, t++) {
                int64_t k = ks[(i * 3 + j + tr) % n_ks];
                check(u, dims[i], dims[j], k, tr & 1, tr >> 1, ab[t % NAB][0], ab[t % NAB][1]);
            }
    /* large dims: several MC / NC blocks and K slices, plus GEMV-like shapes */
    static const int64_t big[][3] = {{255, 1000, 63}, {1, 1000, 512},  {1000, 1, 300},
                                     {200, 530, 520}, {387, 65, 1030}, {2, 1500, 3},
                                     {129, 129, 1},   {1, 1, 2000}};
    for (size_t s = 0; s < sizeof big / sizeof big[0]; s++)
        for (int tr = 0; tr < 4; tr++)
            check(u, big[s][0], big[s][1], big[s][2], tr & 1, tr >> 1, ab[(s + tr) % NAB][0],
                  ab[(s + tr) % NAB][1]);
}

Test(sgemm, every_supported_kernel)
{
    int ran = 0;
    for (int isa = 0; isa < GD_SGEMM_ISA_COUNT; isa++) {
        const struct gd_sgemm_ukr *u = gd__sgemm_ukr((enum gd_sgemm_isa)isa);
        if (!u)
            continue;
        cr_log_info("sgemm kernel %s (%dx%d)", u->name, u->mr, u->nr);
        sweep(u);
        ran++;
    }
    cr_assert_geq(ran, 1);
    cr_assert_not_null(gd__sgemm_ukr(GD_SGEMM_ISA_GENERIC));
}

Test(sgemm, default_kernel_is_the_widest_supported)
{
    const struct gd_sgemm_ukr *d = gd__sgemm_ukr_default();
    cr_assert_not_null(d);
    if (getenv("GD_GEMM"))
        return; /* overridden on purpose */
    for (int isa = GD_SGEMM_ISA_COUNT - 1; isa >= 0; isa--)
        if (gd__sgemm_ukr((enum gd_sgemm_isa)isa)) {
            cr_assert_eq(d, gd__sgemm_ukr((enum gd_sgemm_isa)isa));
            break;
        }
}

Test(sgemm, serial_entry_point)
{
    check(NULL, 70, 45, 300, 0, 1, 1, 0);
    check(NULL, 1, 1000, 512, 0, 1, 1, 1); /* classifier head: Gemm transB with bias */
    /* k == 0: C = beta * C, and beta == 0 clears NaN garbage */
    check(NULL, 5, 7, 0, 0, 0, 1, 0.5f);
    check(NULL, 5, 7, 0, 1, 1, 1, 0);
}

Test(sgemm, prepacked_b_every_supported_kernel)
{
    use_pre = 1;
    for (int isa = 0; isa < GD_SGEMM_ISA_COUNT; isa++) {
        const struct gd_sgemm_ukr *u = gd__sgemm_ukr((enum gd_sgemm_isa)isa);
        if (u)
            sweep(u);
    }
    use_pre = 0;
}

/* Column blocks [c0, c0 + w) of a pre-packed K x N matrix through gd_kern_gemm_serial_pre
 * (what FusedMatMul tiles and the pool's column split do) equal the unpacked product; a c0
 * off a panel boundary or another K falls back to reading B. */
Test(sgemm, prepacked_column_blocks)
{
    const struct gd_sgemm_ukr *u = gd__sgemm_ukr_default();
    int64_t m = 37, k = 301, n = 203;
    float *a = malloc(sizeof(float) * (size_t)(m * k)),
          *b = malloc(sizeof(float) * (size_t)(k * n));
    float *c1 = malloc(sizeof(float) * (size_t)(m * n)),
          *c2 = malloc(sizeof(float) * (size_t)(m * n));
    cr_assert(a && b && c1 && c2);
    for (int64_t i = 0; i < m * k; i++)
        a[i] = frand();
    for (int64_t i = 0; i < k * n; i++)
        b[i] = frand();
    void *raw;
    struct gd_prepack pk = {.nr = u->nr, .k = k, .n = n};
    pk.panels = packed(u, b, n, 0, k, n, &raw);
    const int64_t blocks[][2] = {{0, n}, {0, 1}, {u->nr, 64}, {2 * u->nr, n - 2 * u->nr}, {5, 40}};
    for (size_t t = 0; t < sizeof blocks / sizeof blocks[0]; t++) {
        int64_t c0 = blocks[t][0], w = blocks[t][1];
        for (int64_t rows = 1; rows <= m; rows += 18) {
            struct gd_gemm g = {.dt = GD_DTYPE_FLOAT,
                                .m = rows,
                                .n = w,
                                .k = k,
                                .alpha = 1,
                                .a = a,
                                .b = b + c0,
                                .lda = k,
                                .ldb = n,
                                .ldc = n};
            g.c = c1 + c0;
            cr_assert_eq(gd_kern_gemm_serial(&g), 0);
            g.c = c2 + c0;
            cr_assert_eq(gd_kern_gemm_serial_pre(&g, &pk, c0), 0);
            for (int64_t i = 0; i < rows; i++)
                for (int64_t j = c0; j < c0 + w; j++)
                    cr_assert(fabsf(c1[i * n + j] - c2[i * n + j]) <= 1e-4f,
                              "block %lld+%lld rows %lld: C[%lld,%lld] %g vs %g", (long long)c0,
                              (long long)w, (long long)rows, (long long)i, (long long)j,
                              c2[i * n + j], c1[i * n + j]);
        }
    }
    free(raw), free(a), free(b), free(c1), free(c2);
}
