/* Conv / ConvTranspose against a naive 2-d reference over many geometries (groups,
 * strides, dilations, asymmetric pads, auto_pad), plus 1-d/3-d, pointwise and depthwise
 * paths and 1 vs 4 threads. */
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

static void check_conv(const struct cfg *k, int threads)
{
    int cg = k->c / k->g;
    int oh = (k->h + k->pt + k->pb - (k->kh - 1) * k->dh - 1) / k->sh + 1;
    int ow = (k->w + k->pl + k->pr - (k->kw - 1) * k->dw - 1) / k->sw + 1;
    int nx = k->n * k->c * k->h * k->w, nw = k->m * cg * k->kh * k->kw, ny = k->n * k->m * oh * ow;
    float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw), b[64];
    float *want = malloc(sizeof(float) * ny);
    fill(x, nx, 7);
    fill(w, nw, 8);
    fill(b, k->m, 9);
    conv_ref(k, x, w, b, want, oh, ow);
    struct gd_tensor in[3] = {om_view(GD_DTYPE_FLOAT, 4, OM_SHAPE(k->n, k->c, k->h, k->w), x),
                              om_view(GD_DTYPE_FLOAT, 4, OM_SHAPE(k->m, cg, k->kh, k->kw), w),
                              om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(k->m), b)};
    struct om_attr a[4] = {OM_INT("group", k->g), OM_INTS("strides", 2, k->sh, k->sw),
                           OM_INTS("dilations", 2, k->dh, k->dw),
                           OM_INTS("pads", 4, k->pt, k->pl, k->pb, k->pr)};
    char err[256] = "";
    struct gd_tensor y = {0};
    struct om_node nd = {"Conv", 11, 3, in, 4, a, 1, threads};
    int rc = om_run(&nd, &y, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(y.dims[2] == oh && y.dims[3] == ow, "shape %lld x %lld", (long long)y.dims[2],
              (long long)y.dims[3]);
    cr_expect_lt(om_maxdiff_f32(&y, want, ny), 1e-4, "cfg c%d m%d k%dx%d g%d s%d d%d", k->c, k->m,
                 k->kh, k->kw, k->g, k->sh, k->dh);
    gd_tensor_release(&y);
    free(x);
    free(w);
    free(want);
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
