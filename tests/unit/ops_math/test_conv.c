/* Conv / ConvTranspose against a naive 2-d reference over many geometries (groups,
 * strides, dilations, asymmetric pads, auto_pad), plus 1-d/3-d, pointwise, depthwise and
 * implicit-GEMM paths (FusedConv's residual and activation included) and 1 vs 4 threads. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"

static void fill(float *p, int n, unsigned seed)
{
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (float)((seed >> 16) % 200) / 100.0f - 1.0f;
    }
}

struct cfg {
    int n, c, h, w, m, kh, kw, g, sh, sw, dh, dw, pt, pl, pb, pr;
};

/* Naive 2-d conv with explicit pads; y must hold n*m*oh*ow. */
static void conv_ref(const struct cfg *k, const float *x, const float *w, const float *b, float *y,
                     int oh, int ow)
{
    int cg = k->c / k->g, mg = k->m / k->g;
    for (int n = 0; n < k->n; n++)
        for (int m = 0; m < k->m; m++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    double s = b ? b[m] : 0;
                    int g = m / mg;
                    for (int c = 0; c < cg; c++)
                        for (int u = 0; u < k->kh; u++)
                            for (int v = 0; v < k->kw; v++) {
                                int hi = i * k->sh - k->pt + u * k->dh;
                                int wi = j * k->sw - k->pl + v * k->dw;
                                if (hi < 0 || hi >= k->h || wi < 0 || wi >= k->w)
                                    continue;
                                s += x[((n * k->c + g * cg + c) * k->h + hi) * k->w + wi] *
                                     w[((m * cg + c) * k->kh + u) * k->kw + v];
                            }
                    y[((n * k->m + m) * oh + i) * ow + j] = (float)s;
                }
}

/* Conv, or with fused (1: residual Z and Relu; 2: Z and Clip(-0.5, 0.5)) com.microsoft
 * FusedConv, against conv_ref. */
static void check_conv_fused(const struct cfg *k, int threads, int fused)
{
    int cg = k->c / k->g;
    int oh = (k->h + k->pt + k->pb - (k->kh - 1) * k->dh - 1) / k->sh + 1;
    int ow = (k->w + k->pl + k->pr - (k->kw - 1) * k->dw - 1) / k->sw + 1;
    int nx = k->n * k->c * k->h * k->w, nw = k->m * cg * k->kh * k->kw, ny = k->n * k->m * oh * ow;
    float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw);
    float *b = malloc(sizeof(float) * k->m), *z = malloc(sizeof(float) * ny);
    float *want = malloc(sizeof(float) * ny);
    fill(x, nx, 7);
    fill(w, nw, 8);
    fill(b, k->m, 9);
    fill(z, ny, 10);
    conv_ref(k, x, w, b, want, oh, ow);
    for (int i = 0; fused && i < ny; i++) {
        float v = want[i] + z[i];
        want[i] = fused == 1 ? (v > 0 ? v : 0) : v < -0.5f ? -0.5f : v > 0.5f ? 0.5f : v;
    }
    struct gd_tensor in[4] = {om_view(GD_DTYPE_FLOAT, 4, OM_SHAPE(k->n, k->c, k->h, k->w), x),
                              om_view(GD_DTYPE_FLOAT, 4, OM_SHAPE(k->m, cg, k->kh, k->kw), w),
                              om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(k->m), b),
                              om_view(GD_DTYPE_FLOAT, 4, OM_SHAPE(k->n, k->m, oh, ow), z)};
    static const float clip[2] = {-0.5f, 0.5f};
    struct om_attr a[6] = {OM_INT("group", k->g),
                           OM_INTS("strides", 2, k->sh, k->sw),
                           OM_INTS("dilations", 2, k->dh, k->dw),
                           OM_INTS("pads", 4, k->pt, k->pl, k->pb, k->pr),
                           OM_STR("activation", fused == 1 ? "Relu" : "Clip"),
                           {.name = "activation_params", .type = 'F', .floats = clip, .n = 2}};
    char err[256] = "";
    struct gd_tensor y = {0};
    struct om_node nd = {fused ? "FusedConv" : "Conv",
                         fused ? 1 : 11,
                         fused ? 4 : 3,
                         in,
                         fused == 2 ? 6
                         : fused    ? 5
                                    : 4,
                         a,
                         1,
                         threads};
    int rc = om_run_in(fused ? "com.microsoft" : NULL, &nd, &y, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(y.dims[2] == oh && y.dims[3] == ow, "shape %lld x %lld", (long long)y.dims[2],
              (long long)y.dims[3]);
    cr_expect_lt(om_maxdiff_f32(&y, want, ny), 1e-4, "cfg c%d m%d k%dx%d g%d s%d d%d", k->c, k->m,
                 k->kh, k->kw, k->g, k->sh, k->dh);
    gd_tensor_release(&y);
    free(x);
    free(w);
    free(b);
    free(z);
    free(want);
}

static void check_conv(const struct cfg *k, int threads)
{
    check_conv_fused(k, threads, 0);
}

Test(ops_math_conv, geometries_against_reference)
{
    static const struct cfg cases[] = {
        /* n c  h  w  m kh kw g sh sw dh dw pt pl pb pr */
        {1, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* same-size padding */
        {2, 4, 9, 8, 6, 3, 2, 2, 2, 1, 1, 2, 0, 1, 2, 0},  /* groups, strides, dilations */
        {1, 6, 8, 8, 6, 3, 3, 6, 1, 1, 1, 1, 1, 1, 1, 1},  /* depthwise */
        {1, 6, 8, 8, 12, 3, 3, 6, 2, 2, 1, 1, 1, 0, 1, 0}, /* depth multiplier 2 */
        {2, 5, 4, 3, 7, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},  /* pointwise */
        {1, 4, 6, 6, 4, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0},  /* 1x1 strided (not pointwise path) */
        {1, 2, 5, 5, 3, 5, 5, 1, 1, 1, 1, 1, 0, 0, 0, 0},  /* kernel = input */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_conv(&cases[i], 1);
        check_conv(&cases[i], 4);
    }
}

/* Geometries the implicit GEMM (kernels/convgemm.h) takes on CPUs with its micro-kernels:
 * row counts that leave partial panels, K over one 256-deep slice, strides (phase planes),
 * dilations, asymmetric pads, 1x1 strided (written in place), groups, row-split tiles. */
Test(ops_math_conv, implicit_gemm_geometries)
{
    static const struct cfg cases[] = {
        /* n  c   h   w   m kh kw g sh sw dh dw pt pl pb pr */
        {1, 3, 20, 37, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},   /* 5 rows: a padded A panel */
        {2, 32, 9, 40, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* K = 288: two K slices */
        {1, 8, 11, 33, 16, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1},  /* stride 2 */
        {1, 4, 13, 29, 8, 5, 3, 1, 3, 2, 2, 1, 2, 1, 0, 2},   /* strides 3x2, dilation, pads */
        {1, 24, 15, 40, 48, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0}, /* 1x1 stride 2: C is y */
        {1, 6, 10, 30, 12, 3, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0},  /* kw 1 with pads: no waste */
        {1, 4, 9, 35, 8, 3, 3, 2, 1, 1, 2, 2, 2, 2, 2, 2},    /* groups, dilation 2 */
        {1, 3, 40, 44, 16, 7, 7, 1, 2, 2, 1, 1, 3, 3, 3, 3},  /* 7x7 stride-2 stem */
        {1, 16, 8, 64, 150, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, /* rows split across threads */
        {1, 5, 6, 70, 7, 2, 2, 1, 1, 1, 1, 1, 0, 0, 1, 1},    /* even kernel, end pads only */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int fused = 0; fused < 3; fused++) {
            check_conv_fused(&cases[i], 1, fused);
            check_conv_fused(&cases[i], 4, fused);
        }
}

Test(ops_math_conv, auto_pad_1d_3d_and_errors)
{
    /* 1-d SAME_UPPER, stride 2: in 5 -> out 3, total pad 2 split 1/1 */
    struct gd_tensor in[2] = {om_view(GD_DTYPE_FLOAT, 3, OM_SHAPE(1, 1, 5), OM_F32(1, 2, 3, 4, 5)),
                              om_view(GD_DTYPE_FLOAT, 3, OM_SHAPE(1, 1, 3), OM_F32(1, 1, 1))};
    struct om_attr a[2] = {OM_STR("auto_pad", "SAME_UPPER"), OM_INTS("strides", 1, 2)};
    char err[256] = "";
    struct gd_tensor y = {0};
    struct om_node nd = {"Conv", 11, 2, in, 2, a, 1, 1};
    cr_assert_eq(om_run(&nd, &y, err, sizeof err), 0, "%s", err);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(3, 9, 9), 3), 1e-6);
    gd_tensor_release(&y);
    /* 3-d: a 2x2x2 box sum over a 2x2x3 input */
    float x3[12];
    for (int i = 0; i < 12; i++)
        x3[i] = (float)i;
    in[0] = om_view(GD_DTYPE_FLOAT, 5, OM_SHAPE(1, 1, 2, 2, 3), x3);
    in[1] = om_view(GD_DTYPE_FLOAT, 5, OM_SHAPE(1, 1, 2, 2, 2), OM_F32(1, 1, 1, 1, 1, 1, 1, 1));
    nd.nattr = 0;
    cr_assert_eq(om_run(&nd, &y, err, sizeof err), 0, "%s", err);
    cr_expect_lt(
        om_maxdiff_f32(&y, OM_F32(0 + 1 + 3 + 4 + 6 + 7 + 9 + 10, 1 + 2 + 4 + 5 + 7 + 8 + 10 + 11),
                       2),
        1e-5);
    gd_tensor_release(&y);
    /* channel mismatch and a kernel larger than the input are errors, not crashes */
    in[1] = om_view(GD_DTYPE_FLOAT, 5, OM_SHAPE(1, 2, 1, 1, 1), OM_F32(1, 1));
    cr_expect_eq(om_run(&nd, &y, err, sizeof err), GD_EINVAL);
    in[1] = om_view(GD_DTYPE_FLOAT, 5, OM_SHAPE(1, 1, 3, 1, 1), OM_F32(1, 1, 1));
    cr_expect_eq(om_run(&nd, &y, err, sizeof err), GD_EINVAL);
}

/* ConvTranspose is the adjoint of Conv: <conv(x), y> == <x, convT(y)> for the same W. */
Test(ops_math_conv, transpose_is_adjoint_of_conv)
{
    enum { C = 3, M = 4, H = 7, W = 6, KH = 3, KW = 2 };
    float x[C * H * W], w[M * C * KH * KW];
    fill(x, C * H * W, 11);
    fill(w, M * C * KH * KW, 12);
    struct om_attr a[3] = {OM_INTS("strides", 2, 2, 1), OM_INTS("pads", 4, 1, 0, 1, 1),
                           OM_INTS("dilations", 2, 1, 2)};
    struct gd_tensor in[2] = {om_view(GD_DTYPE_FLOAT, 4, OM_SHAPE(1, C, H, W), x),
                              om_view(GD_DTYPE_FLOAT, 4, OM_SHAPE(M, C, KH, KW), w)};
    char err[256] = "";
    struct gd_tensor y = {0}, xt = {0};
    struct om_node nd = {"Conv", 11, 2, in, 3, a, 1, 1};
    cr_assert_eq(om_run(&nd, &y, err, sizeof err), 0, "%s", err);
    float *r = malloc(y.nbytes);
    fill(r, (int)y.numel, 13);
    /* output_padding makes the transposed output exactly H x W again */
    int64_t oph = H - ((y.dims[2] - 1) * 2 + (KH - 1) + 1 - 2);
    int64_t opw = W - ((y.dims[3] - 1) * 1 + (KW - 1) * 2 + 1 - 1);
    struct om_attr at[4] = {a[0], a[1], a[2], OM_INTS("output_padding", 2, oph, opw)};
    struct gd_tensor tin[2] = {om_view(GD_DTYPE_FLOAT, 4, y.dims, r), in[1]};
    struct om_node tn = {"ConvTranspose", 11, 2, tin, 4, at, 1, 2};
    cr_assert_eq(om_run(&tn, &xt, err, sizeof err), 0, "%s", err);
    cr_assert(xt.dims[1] == C && xt.dims[2] == H && xt.dims[3] == W, "%lld %lld %lld",
              (long long)xt.dims[1], (long long)xt.dims[2], (long long)xt.dims[3]);
    double lhs = 0, rhs = 0;
    for (int64_t i = 0; i < y.numel; i++)
        lhs += (double)((float *)y.data)[i] * r[i];
    for (int i = 0; i < C * H * W; i++)
        rhs += (double)x[i] * ((float *)xt.data)[i];
    cr_expect_lt(fabs(lhs - rhs), 1e-3 * (1 + fabs(lhs)), "%g vs %g", lhs, rhs);
    gd_tensor_release(&y);
    gd_tensor_release(&xt);
    free(r);
}
