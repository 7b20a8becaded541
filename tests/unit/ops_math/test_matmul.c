/* MatMul / Gemm against a naive triple loop: batch broadcasting, 1-d promotion, transposes,
 * C broadcasting, integer dtypes, empty K, and 1 vs 4 threads giving the same result. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "node.h"

static void fill(float *p, int n, unsigned seed)
{
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (float)((seed >> 16) % 200) / 100.0f - 1.0f;
    }
}

static struct gd_tensor mm(const char *op, int opset, int nin, const struct gd_tensor *in,
                           int nattr, const struct om_attr *attr, int threads)
{
    char err[256] = "";
    struct gd_tensor y = {0};
    struct om_node nd = {op, opset, nin, in, nattr, attr, 1, threads};
    int rc = om_run(&nd, &y, err, sizeof err);
    cr_assert_eq(rc, 0, "%s: %s", op, err);
    return y;
}

Test(ops_math_matmul, batched_broadcast_against_reference)
{
    /* A [2, 1, 3, 4] x B [3, 4, 5] -> [2, 3, 3, 5] */
    float a[24], b[60], want[90];
    fill(a, 24, 1);
    fill(b, 60, 2);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 5; c++) {
                    double s = 0;
                    for (int k = 0; k < 4; k++)
                        s += a[i * 12 + r * 4 + k] * b[j * 20 + k * 5 + c];
                    want[((i * 3 + j) * 3 + r) * 5 + c] = (float)s;
                }
    struct gd_tensor in[2] = {om_view(GD_DTYPE_FLOAT, 4, OM_SHAPE(2, 1, 3, 4), a),
                              om_view(GD_DTYPE_FLOAT, 3, OM_SHAPE(3, 4, 5), b)};
    for (int th = 1; th <= 4; th += 3) {
        struct gd_tensor y = mm("MatMul", 13, 2, in, 0, NULL, th);
        cr_assert(y.rank == 4 && y.dims[0] == 2 && y.dims[1] == 3 && y.dims[2] == 3 &&
                  y.dims[3] == 5);
        cr_expect_lt(om_maxdiff_f32(&y, want, 90), 1e-5);
        gd_tensor_release(&y);
    }
}

Test(ops_math_matmul, one_d_promotion_and_large_split)
{
    struct gd_tensor in[2] = {om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(3), OM_F32(1, 2, 3)),
                              om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(3, 2), OM_F32(1, 0, 0, 1, 1, 1))};
    struct gd_tensor y = mm("MatMul", 13, 2, in, 0, NULL, 1);
    cr_assert(y.rank == 1 && y.dims[0] == 2);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(4, 5), 2), 1e-6);
    gd_tensor_release(&y);
    in[0] = om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(2, 3), OM_F32(1, 2, 3, 4, 5, 6));
    in[1] = om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(3), OM_F32(1, 1, 1));
    y = mm("MatMul", 13, 2, in, 0, NULL, 1);
    cr_assert(y.rank == 1 && y.dims[0] == 2);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(6, 15), 2), 1e-6);
    gd_tensor_release(&y);
    /* a GEMM big enough to be split over 4 threads must equal the 1-thread result */
    enum { M = 96, K = 80, N = 112 };
    float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N);
    fill(a, M * K, 3);
    fill(b, K * N, 4);
    in[0] = om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(M, K), a);
    in[1] = om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(K, N), b);
    struct gd_tensor y1 = mm("MatMul", 13, 2, in, 0, NULL, 1);
    struct gd_tensor y4 = mm("MatMul", 13, 2, in, 0, NULL, 4);
    cr_expect_lt(om_maxdiff_f32(&y4, y1.data, M * N), 1e-5);
    double s = 0;
    for (int k = 0; k < K; k++)
        s += a[5 * K + k] * b[k * N + 7];
    cr_expect_lt(fabs(((float *)y1.data)[5 * N + 7] - s), 1e-4);
    gd_tensor_release(&y1);
    gd_tensor_release(&y4);
    free(a);
    free(b);
}

Test(ops_math_matmul, integers_empty_and_errors)
{
    struct gd_tensor in[2] = {om_view(GD_DTYPE_INT64, 2, OM_SHAPE(1, 2), OM_I64(3, -4)),
                              om_view(GD_DTYPE_INT64, 2, OM_SHAPE(2, 1), OM_I64(5, 6))};
    struct gd_tensor y = mm("MatMul", 13, 2, in, 0, NULL, 1);
    cr_expect_eq(((int64_t *)y.data)[0], -9);
    gd_tensor_release(&y);
    float none[1];
    in[0] = om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(2, 0), none);
    in[1] = om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(0, 3), none);
    y = mm("MatMul", 13, 2, in, 0, NULL, 1); /* K = 0: zeros */
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(0, 0, 0, 0, 0, 0), 6), 1e-9);
    gd_tensor_release(&y);
    char err[256];
    in[1] = om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(3, 3), OM_F32(0, 0, 0, 0, 0, 0, 0, 0, 0));
    struct om_node nd = {"MatMul", 13, 2, in, 0, NULL, 1, 1};
    cr_expect_eq(om_run(&nd, &y, err, sizeof err), GD_EINVAL);
}

Test(ops_math_matmul, gemm_transposes_alpha_beta_bias)
{
    /* A^T with A [3, 2], B^T with B [2, 3]: Y = 2 * A^T B^T + 0.5 * C, C [2] -> row bias */
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 1, 0, 1, 0}, want[4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            double s = 0;
            for (int k = 0; k < 3; k++)
                s += a[k * 2 + i] * b[j * 3 + k];
            want[i * 2 + j] = (float)(2 * s + 0.5 * (j ? 20 : 10));
        }
    struct gd_tensor in[3] = {om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(3, 2), a),
                              om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(2, 3), b),
                              om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(2), OM_F32(10, 20))};
    struct om_attr at[4] = {OM_INT("transA", 1), OM_INT("transB", 1), OM_FLOAT("alpha", 2),
                            OM_FLOAT("beta", 0.5f)};
    struct gd_tensor y = mm("Gemm", 13, 3, in, 4, at, 1);
    cr_expect_lt(om_maxdiff_f32(&y, want, 4), 1e-5);
    gd_tensor_release(&y);
    /* no C (optional since opset 11) */
    struct gd_tensor y2 = mm("Gemm", 13, 2, in, 2, at, 1);
    cr_expect_lt(fabs(((float *)y2.data)[0] - (want[0] - 5) / 2 * 1), 1e-5);
    gd_tensor_release(&y2);
}

Test(ops_math_matmul, rnn_steps_and_sequence_lens)
{
    /* X [seq 2, batch 2, input 1]; row 1 stops after one step */
    struct gd_tensor in[5] = {om_view(GD_DTYPE_FLOAT, 3, OM_SHAPE(2, 2, 1), OM_F32(1, 3, 2, 4)),
                              om_view(GD_DTYPE_FLOAT, 3, OM_SHAPE(1, 1, 1), OM_F32(1)),
                              om_view(GD_DTYPE_FLOAT, 3, OM_SHAPE(1, 1, 1), OM_F32(0.5f)),
                              {0},
                              om_view(GD_DTYPE_INT32, 1, OM_SHAPE(2), OM_I32(2, 1))};
    struct om_attr a = OM_INT("hidden_size", 1);
    char err[256] = "";
    struct gd_tensor y[2];
    struct om_node nd = {"RNN", 14, 5, in, 1, &a, 2, 1};
    cr_assert_eq(om_run(&nd, y, err, sizeof err), 0, "%s", err);
    float h1 = tanhf(1), h2 = tanhf(2 + 0.5f * h1), g1 = tanhf(3);
    cr_assert(y[0].rank == 4 && y[0].dims[0] == 2 && y[0].dims[2] == 2);
    cr_expect_lt(om_maxdiff_f32(&y[0], OM_F32(h1, g1, h2, 0), 4), 1e-6);
    cr_expect_lt(om_maxdiff_f32(&y[1], OM_F32(h2, g1), 2), 1e-6);
    gd_tensor_release(&y[0]), gd_tensor_release(&y[1]);
    in[4] = om_view(GD_DTYPE_INT32, 1, OM_SHAPE(2), OM_I32(3, 1)); /* longer than seq */
    cr_expect_eq(om_run(&nd, y, err, sizeof err), GD_EINVAL);
}

Test(ops_math_matmul, dft_impulse_and_inverse)
{
    /* real impulse [1, 0, 0, 0] -> flat spectrum; one-sided keeps 3 bins */
    struct gd_tensor x = om_view(GD_DTYPE_FLOAT, 3, OM_SHAPE(1, 4, 1), OM_F32(1, 0, 0, 0));
    struct om_attr one = OM_INT("onesided", 1);
    char err[256] = "";
    struct gd_tensor y;
    struct om_node nd = {"DFT", 17, 1, &x, 1, &one, 1, 1};
    cr_assert_eq(om_run(&nd, &y, err, sizeof err), 0, "%s", err);
    cr_assert(y.dims[1] == 3 && y.dims[2] == 2);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(1, 0, 1, 0, 1, 0), 6), 1e-6);
    gd_tensor_release(&y);
    /* complex [0, 1, 0, 0] forward is e^{-i pi k / 2}; the inverse brings it back */
    struct gd_tensor c =
        om_view(GD_DTYPE_FLOAT, 3, OM_SHAPE(1, 4, 2), OM_F32(0, 0, 1, 0, 0, 0, 0, 0));
    nd.in = &c, nd.nattr = 0;
    cr_assert_eq(om_run(&nd, &y, err, sizeof err), 0, "%s", err);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(1, 0, 0, -1, -1, 0, 0, 1), 8), 1e-6);
    struct om_attr inv = OM_INT("inverse", 1);
    struct gd_tensor back;
    struct om_node ni = {"DFT", 17, 1, &y, 1, &inv, 1, 1};
    cr_assert_eq(om_run(&ni, &back, err, sizeof err), 0, "%s", err);
    cr_expect_lt(om_maxdiff_f32(&back, c.data, 8), 1e-6);
    gd_tensor_release(&y), gd_tensor_release(&back);
}

Test(ops_math_matmul, float16_matmul_gemm_conv)
{
    uint16_t a[4], b[4];
    const float av[4] = {1, 2, 3, 4}, bv[4] = {0.5f, -1, 2, 0.25f};
    for (int i = 0; i < 4; i++)
        a[i] = gd_f32_to_f16(av[i]), b[i] = gd_f32_to_f16(bv[i]);
    struct gd_tensor in[2] = {om_view(GD_DTYPE_FLOAT16, 2, OM_SHAPE(2, 2), a),
                              om_view(GD_DTYPE_FLOAT16, 2, OM_SHAPE(2, 2), b)};
    const float want[4] = {4.5f, -0.5f, 9.5f, -2};
    const char *ops[2] = {"MatMul", "Gemm"};
    for (int o = 0; o < 2; o++) {
        struct gd_tensor y = mm(ops[o], 13, 2, in, 0, NULL, 1);
        cr_assert_eq(y.dtype, GD_DTYPE_FLOAT16);
        for (int i = 0; i < 4; i++)
            cr_expect(fabsf(gd_f16_to_f32(((uint16_t *)y.data)[i]) - want[i]) < 1e-3f, "%s %d",
                      ops[o], i);
        gd_tensor_release(&y);
    }
    /* 1x1 conv over a [1, 2, 1, 2] image is the same product per pixel */
    struct gd_tensor cin[2] = {om_view(GD_DTYPE_FLOAT16, 4, OM_SHAPE(1, 2, 1, 2), a),
                               om_view(GD_DTYPE_FLOAT16, 4, OM_SHAPE(1, 2, 1, 1), b)};
    struct gd_tensor y = mm("Conv", 11, 2, cin, 0, NULL, 1);
    cr_assert_eq(y.dtype, GD_DTYPE_FLOAT16);
    cr_expect(fabsf(gd_f16_to_f32(((uint16_t *)y.data)[0]) - (1 * 0.5f - 1 * 3)) < 1e-3f);
    gd_tensor_release(&y);
}

/* The float fast path (batched MatMul) must agree with the reference path, which int32
 * operands take, on integer-valued data, for several label layouts. */
Test(ops_math_matmul, einsum_fast_path_matches_reference)
{
    static const struct {
        const char *eq;
        int ra, rb;
        int64_t da[4], db[4];
    } cases[] = {
        {"bhqd,bhkd->bhqk", 4, 4, {2, 3, 4, 5}, {2, 3, 6, 5}},
        {"ij,jk->ki", 2, 2, {3, 4}, {4, 5}},
        {"bij,jk->bik", 3, 2, {2, 3, 4}, {4, 2}},
        {"i,j->ij", 1, 1, {3}, {4}},
        {"ij,ij->", 2, 2, {3, 4}, {3, 4}},
        {"...ij,...jk", 3, 3, {2, 3, 4}, {2, 4, 3}},
    };
    float fa[256], fb[256];
    int32_t ia[256], ib[256];
    for (int i = 0; i < 256; i++) {
        ia[i] = (i * 7) % 5 - 2, ib[i] = (i * 3) % 7 - 3;
        fa[i] = (float)ia[i], fb[i] = (float)ib[i];
    }
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct om_attr eq = OM_STR("equation", cases[c].eq);
        struct gd_tensor f[2] = {om_view(GD_DTYPE_FLOAT, cases[c].ra, cases[c].da, fa),
                                 om_view(GD_DTYPE_FLOAT, cases[c].rb, cases[c].db, fb)};
        struct gd_tensor i32[2] = {om_view(GD_DTYPE_INT32, cases[c].ra, cases[c].da, ia),
                                   om_view(GD_DTYPE_INT32, cases[c].rb, cases[c].db, ib)};
        struct gd_tensor yf = mm("Einsum", 12, 2, f, 1, &eq, 1);
        struct gd_tensor yi = mm("Einsum", 12, 2, i32, 1, &eq, 1);
        cr_assert(yf.rank == yi.rank && yf.numel == yi.numel, "%s", cases[c].eq);
        for (int d = 0; d < yf.rank; d++)
            cr_expect_eq(yf.dims[d], yi.dims[d], "%s dim %d", cases[c].eq, d);
        for (int64_t k = 0; k < yf.numel; k++)
            cr_expect_eq((int32_t)((float *)yf.data)[k], ((int32_t *)yi.data)[k], "%s [%lld]",
                         cases[c].eq, (long long)k);
        gd_tensor_release(&yf), gd_tensor_release(&yi);
    }
    /* hand check: ij,jk->ki at (k=0, i=0) */
    struct om_attr eq = OM_STR("equation", "ij,jk->ki");
    struct gd_tensor f[2] = {om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(1, 2), OM_F32(1, 2)),
                             om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(2, 2), OM_F32(3, 4, 5, 6))};
    struct gd_tensor y = mm("Einsum", 12, 2, f, 1, &eq, 1);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(13, 16), 2), 1e-6);
    gd_tensor_release(&y);
}
