/* The depthwise kernel (kernels/dwconv.h: row kernels and phase planes) and the conv
 * epilogue (kernels/epilogue.h) against a naive double-precision reference: every float32
 * ISA build the CPU has, random
 * geometries (odd sizes, kernels 1..5, strides 1..3, dilations 1..2, asymmetric pads, the
 * 3x3 fast path and its borders) and every activation with bias and residual; then the
 * depthwise Conv op end to end (channel counts 1, 3, 17, 32, 1-d and 2-d, 1 and 2 threads). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels/dwconv.h"
#include "engine/kernels/epilogue.h"
#include "../ops_math/node.h"

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

static void fill(float *p, int64_t n, unsigned *s)
{
    for (int64_t i = 0; i < n; i++)
        p[i] = (float)(rnd(s) % 2001) / 1000.0f - 1.0f;
}

static double act_ref(const struct gd_act_params *a, double v)
{
    switch (a->act) {
    case GD_ACT_NONE:
        return v;
    case GD_ACT_RELU:
        return v > 0 ? v : 0;
    case GD_ACT_CLIP:
        return v < a->a ? a->a : v > a->b ? a->b : v;
    case GD_ACT_LEAKY:
        return v >= 0 ? v : a->a * v;
    case GD_ACT_SIGMOID:
        return 1 / (1 + exp(-v));
    case GD_ACT_TANH:
        return tanh(v);
    case GD_ACT_HARDSIGMOID:
        return fmax(0, fmin(1, a->a * v + a->b));
    case GD_ACT_SILU:
        return v / (1 + exp(-v));
    case GD_ACT_GELU:
        return 0.5 * v * (1 + erf(v / sqrt(2.0)));
    }
    return NAN;
}

/* Naive depthwise plane + epilogue; pads pt/pl at the start (the end ones are implied). */
static void dw_ref(const struct gd_dw2d *g, const float *x, const float *w, const float *z,
                   float bias, const struct gd_act_params *a, double *y)
{
    for (int64_t r = 0; r < g->oh; r++)
        for (int64_t c = 0; c < g->ow; c++) {
            double s = 0;
            for (int64_t u = 0; u < g->kh; u++)
                for (int64_t v = 0; v < g->kw; v++) {
                    int64_t hi = r * g->sh - g->pt + u * g->dh, wi = c * g->sw - g->pl + v * g->dw;
                    if (hi >= 0 && hi < g->ih && wi >= 0 && wi < g->iw)
                        s += (double)x[hi * g->iw + wi] * w[u * g->kw + v];
                }
            s += bias + (z ? z[r * g->ow + c] : 0);
            y[r * g->ow + c] = act_ref(a, s);
        }
}

static const struct gd_act_params acts[] = {
    {GD_ACT_NONE, 0, 0},
    {GD_ACT_RELU, 0, 0},
    {GD_ACT_CLIP, 0, 6},
    {GD_ACT_LEAKY, 0.1f, 0},
    {GD_ACT_SIGMOID, 0, 0},
    {GD_ACT_TANH, 0, 0},
    {GD_ACT_HARDSIGMOID, 0.2f, 0.5f},
    {GD_ACT_SILU, 0, 0},
    {GD_ACT_GELU, 0, 0},
};

/* One geometry through every ISA build, row kernels and phase planes; returns the builds
 * that ran. */
static int check_geom(const struct gd_dw2d *g, unsigned *seed, int ai, int with_z)
{
    int64_t nx = g->ih * g->iw, ny = g->oh * g->ow;
    float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * 25);
    float *z = malloc(sizeof(float) * (size_t)ny), *y = malloc(sizeof(float) * (size_t)ny);
    double *want = malloc(sizeof(double) * (size_t)ny);
    fill(x, nx, seed);
    fill(w, g->kh * g->kw, seed);
    fill(z, ny, seed);
    float bias = (float)(rnd(seed) % 200) / 100.0f - 1.0f;
    const struct gd_act_params *a = &acts[ai];
    dw_ref(g, x, w, with_z ? z : NULL, bias, a, want);
    size_t tn = gd_dw2d_tmp_floats(g);
    float *tmp = malloc(sizeof(float) * (tn ? tn : 1));
    for (size_t i = 0; i < tn; i++)
        tmp[i] = NAN; /* scratch is not zeroed: the kernel must write what it reads */
    int ran = 0;
    for (int run = 0; run < 6; run++) {
        int isa = run % 3, phase = run >= 3;
        for (int64_t i = 0; i < ny; i++)
            y[i] = NAN; /* the kernel must write every output */
        if ((phase && !tn) ||
            gd__dw2d_f32_isa(isa, g, x, w, y, with_z ? z : NULL, bias, a, phase ? tmp : NULL))
            continue;
        ran++;
        double worst = 0;
        for (int64_t i = 0; i < ny; i++) {
            double d = fabs(y[i] - want[i]);
            worst = d > worst || isnan(d) ? (isnan(d) ? INFINITY : d) : worst;
        }
        cr_expect_lt(worst, 1e-4,
                     "isa %d phase %d in %lldx%lld k %lldx%lld s %lldx%lld d %lldx%lld p %lld,%lld "
                     "-> %lldx%lld act %d z %d: diff %g",
                     isa, phase, (long long)g->ih, (long long)g->iw, (long long)g->kh,
                     (long long)g->kw, (long long)g->sh, (long long)g->sw, (long long)g->dh,
                     (long long)g->dw, (long long)g->pt, (long long)g->pl, (long long)g->oh,
                     (long long)g->ow, ai, with_z, worst);
    }
    free(x);
    free(w);
    free(z);
    free(y);
    free(want);
    free(tmp);
    return ran;
}

/* Output size for explicit pads (begin pt, end pb). */
static int64_t out_dim(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pt, int64_t pb)
{
    int64_t span = in + pt + pb - ((k - 1) * d + 1);
    return span < 0 ? 0 : span / s + 1;
}

Test(dwconv, kernel_matches_reference_on_random_geometries)
{
    unsigned seed = 12345;
    int checked = 0;
    for (int t = 0; t < 600; t++) {
        struct gd_dw2d g = {0};
        int three = t % 2 == 0; /* half of them on the 3x3 fast path */
        g.ih = 1 + rnd(&seed) % 23;
        g.iw = 1 + rnd(&seed) % 41;
        g.kh = three ? 3 : 1 + rnd(&seed) % 5;
        g.kw = three ? 3 : 1 + rnd(&seed) % 5;
        g.sh = 1 + rnd(&seed) % 3;
        g.sw = three ? 1 + rnd(&seed) % 2 : 1 + rnd(&seed) % 3;
        g.dh = three ? 1 : 1 + rnd(&seed) % 2;
        g.dw = three ? 1 : 1 + rnd(&seed) % 2;
        int64_t pb = rnd(&seed) % 3, pr = rnd(&seed) % 3;
        g.pt = rnd(&seed) % 3;
        g.pl = rnd(&seed) % 3;
        g.oh = out_dim(g.ih, g.kh, g.sh, g.dh, g.pt, pb);
        g.ow = out_dim(g.iw, g.kw, g.sw, g.dw, g.pl, pr);
        if (g.oh < 1 || g.ow < 1)
            continue;
        int ran = check_geom(&g, &seed, t % 9, t % 3 != 0);
        cr_assert_geq(ran, 1, "no ISA build ran");
        checked++;
    }
    cr_expect_gt(checked, 400, "only %d geometries were valid", checked);
}

Test(dwconv, typical_mobilenet_planes)
{
    unsigned seed = 99;
    /* 112x112 stride 1 / 2, pad 1 (the fast path with one border column each side) */
    struct gd_dw2d g1 = {112, 112, 112, 112, 3, 3, 1, 1, 1, 1, 1, 1};
    struct gd_dw2d g2 = {112, 112, 56, 56, 3, 3, 2, 2, 1, 1, 0, 0};
    struct gd_dw2d g3 = {7, 7, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1};
    cr_assert_geq(check_geom(&g1, &seed, 2, 0), 1);
    cr_assert_geq(check_geom(&g2, &seed, 1, 1), 1);
    cr_assert_geq(check_geom(&g3, &seed, 7, 1), 1);
}

Test(dwconv, act_parse)
{
    struct gd_act_params p;
    cr_assert_eq(gd_act_parse("Clip", (const float[]){0, 6}, 2, &p), 0);
    cr_expect(p.act == GD_ACT_CLIP && p.a == 0 && p.b == 6);
    cr_assert_eq(gd_act_parse("LeakyRelu", NULL, 0, &p), 0);
    cr_expect(p.act == GD_ACT_LEAKY && fabsf(p.a - 0.01f) < 1e-9f);
    cr_assert_eq(gd_act_parse("", NULL, 0, &p), 0);
    cr_expect(p.act == GD_ACT_NONE);
    cr_assert_eq(gd_act_parse("Gelu", NULL, 0, &p), 0);
    cr_expect(p.act == GD_ACT_GELU);
    cr_expect_eq(gd_act_parse("Swish", NULL, 0, &p), -1);
    cr_expect_eq(gd_act_parse("Clip", (const float[]){NAN, 1}, 2, &p), -1);
}

/* The Conv op with group == C on [n, c, h, w] (h = 0: 1-d), against dw_ref per plane. */
static void check_op(int n, int c, int h, int w, int k, int s, int d, int pt, int pl, int pb,
                     int pr, int threads)
{
    int one_d = h == 0, hh = one_d ? 1 : h, kh = one_d ? 1 : k;
    struct gd_dw2d g = {hh, w, 0, 0, kh, k, one_d ? 1 : s, s, one_d ? 1 : d, d, one_d ? 0 : pt, pl};
    g.oh = one_d ? 1 : out_dim(hh, kh, s, d, pt, pb);
    g.ow = out_dim(w, k, s, d, pl, pr);
    unsigned seed = (unsigned)(c * 31 + w);
    int64_t nx = (int64_t)n * c * hh * w, nw = (int64_t)c * kh * k, plane = g.oh * g.ow;
    float *x = malloc(sizeof(float) * (size_t)nx), *wt = malloc(sizeof(float) * (size_t)nw);
    float *b = malloc(sizeof(float) * (size_t)c),
          *want = malloc(sizeof(float) * (size_t)(n * c * plane));
    double *ref = malloc(sizeof(double) * (size_t)plane);
    fill(x, nx, &seed);
    fill(wt, nw, &seed);
    fill(b, c, &seed);
    for (int p = 0; p < n * c; p++) {
        dw_ref(&g, x + (int64_t)p * hh * w, wt + (int64_t)(p % c) * kh * k, NULL, b[p % c],
               &acts[0], ref);
        for (int64_t i = 0; i < plane; i++)
            want[p * plane + i] = (float)ref[i];
    }
    /* attribute lists live here: OM_INTS' compound literals would die with an inner block */
    int64_t st[2] = {s, s}, dl[2] = {d, d}, pads[4] = {pt, pl, pb, pr}, pads1[2] = {pl, pr};
    int r = one_d ? 3 : 4;
    struct gd_tensor in[3] = {one_d ? om_view(GD_DTYPE_FLOAT, 3, OM_SHAPE(n, c, w), x)
                                    : om_view(GD_DTYPE_FLOAT, 4, OM_SHAPE(n, c, h, w), x),
                              one_d ? om_view(GD_DTYPE_FLOAT, 3, OM_SHAPE(c, 1, k), wt)
                                    : om_view(GD_DTYPE_FLOAT, 4, OM_SHAPE(c, 1, k, k), wt)};
    struct om_attr a[4] = {
        OM_INT("group", c),
        {.name = "strides", .type = 'I', .ints = st, .n = r - 2},
        {.name = "dilations", .type = 'I', .ints = dl, .n = r - 2},
        {.name = "pads", .type = 'I', .ints = one_d ? pads1 : pads, .n = 2 * (r - 2)}};
    in[2] = om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(c), b);
    struct gd_tensor y = {0};
    char err[256] = "";
    struct om_node nd = {"Conv", 11, 3, in, 4, a, 1, threads};
    cr_assert_eq(om_run(&nd, &y, err, sizeof err), 0, "%s (c%d %dx%d k%d)", err, c, h, w, k);
    cr_expect_lt(om_maxdiff_f32(&y, want, n * c * plane), 1e-4,
                 "n%d c%d %dx%d k%d s%d d%d pads %d,%d,%d,%d threads %d", n, c, h, w, k, s, d, pt,
                 pl, pb, pr, threads);
    gd_tensor_release(&y);
    free(x);
    free(wt);
    free(b);
    free(want);
    free(ref);
}

Test(dwconv, conv_op_depthwise)
{
    static const int chans[] = {1, 3, 17, 32};
    for (int ci = 0; ci < 4; ci++)
        for (int threads = 1; threads <= 2; threads++) {
            check_op(2, chans[ci], 15, 13, 3, 1, 1, 1, 1, 1, 1, threads);
            check_op(1, chans[ci], 16, 17, 3, 2, 1, 0, 1, 1, 0, threads); /* asymmetric */
            check_op(1, chans[ci], 9, 11, 5, 3, 2, 2, 1, 0, 2, threads);  /* k5 s3 d2 */
            check_op(1, chans[ci], 0, 29, 3, 2, 1, 0, 1, 0, 1, threads);  /* 1-d */
        }
}
