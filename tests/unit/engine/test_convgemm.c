/* The implicit-GEMM convolution (kernels/convgemm.h) with every micro-kernel build this CPU
 * has row-offset kernels for, against a double-precision naive convolution + epilogue:
 * random geometries (strides 1..3 as phase planes, dilations, asymmetric pads, odd sizes,
 * row counts leaving partial panels, K over one slice, 1x1 strided convs written in place),
 * bias, residual and activation, and the work split over several thread slots and tile
 * ranges as the op's parallel loop does. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/kernels/convgemm.h"

static uint64_t rng = 0x2545f4914f6cdd1du;

static int64_t irand(int64_t n)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (int64_t)((rng >> 20) % (uint64_t)n);
}

static void fill(float *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        p[i] = (float)irand(2001) / 1000.0f - 1.0f;
}

/* y = clip(conv(x, w) + bias + z, -1, 1), in double. */
static void conv_ref(const struct gd_conv_geom *g, int64_t mg, int64_t cg, const float *x,
                     const float *w, const float *bias, const float *z, double *y)
{
    for (int64_t m = 0; m < mg; m++)
        for (int64_t o = 0; o < g->out_size; o++) {
            int64_t oh = o / g->out[1], ow = o % g->out[1];
            double s = bias[m] + z[m * g->out_size + o];
            for (int64_t c = 0; c < cg; c++)
                for (int64_t u = 0; u < g->k[0]; u++)
                    for (int64_t v = 0; v < g->k[1]; v++) {
                        int64_t hi = oh * g->stride[0] - g->pb[0] + u * g->dil[0];
                        int64_t wi = ow * g->stride[1] - g->pb[1] + v * g->dil[1];
                        if (hi >= 0 && hi < g->in[0] && wi >= 0 && wi < g->in[1])
                            s += (double)x[(c * g->in[0] + hi) * g->in[1] + wi] *
                                 w[((m * cg + c) * g->k[0] + u) * g->k[1] + v];
                    }
            y[m * g->out_size + o] = s < -1 ? -1 : s > 1 ? 1 : s;
        }
}

/* One random geometry through u (strided: 1x1 stride 2 unpadded, where C is y and the
 * epilogue goes into the micro-kernel's stores); returns 1 when the plan took it. */
static int check_one(const struct gd_sgemm_ukr *u, int threads, int strided)
{
    int64_t in[2] = {1 + irand(20), 1 + irand(70)}, k[2] = {1 + irand(5), 1 + irand(5)};
    int64_t st[2] = {1 + irand(3), 1 + irand(3)}, dl[2] = {1 + irand(2), 1 + irand(2)};
    int64_t pads[4] = {irand(3), irand(3), irand(3), irand(3)};
    if (strided)
        k[0] = k[1] = 1, st[0] = st[1] = 2, pads[0] = pads[1] = pads[2] = pads[3] = 0;
    int64_t cg = 1 + irand(40), mg = 1 + irand(40);
    struct gd_conv_attrs a = {.auto_pad = "NOTSET",
                              .strides = st,
                              .dilations = dl,
                              .pads = pads,
                              .nstrides = 2,
                              .ndilations = 2,
                              .npads = 4};
    struct gd_conv_geom g;
    char err[128];
    if (gd_conv_geom_init(&g, 2, in, k, &a, err, sizeof err))
        return 0; /* kernel larger than the padded input */
    struct gd_act_params act = {GD_ACT_CLIP, -1, 1};
    struct gd_convgemm p;
    size_t bytes = gd__convgemm_plan_ukr(&p, &g, mg, cg, &act, threads, u);
    if (!bytes)
        return 0;
    int64_t nx = cg * g.in_size, nw = mg * cg * g.k_size, ny = mg * g.out_size;
    float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * (size_t)nw);
    float *bias = malloc(sizeof(float) * (size_t)mg), *z = malloc(sizeof(float) * (size_t)ny);
    float *y = malloc(sizeof(float) * (size_t)ny);
    double *want = malloc(sizeof(double) * (size_t)ny);
    void *scratch = aligned_alloc(64, (bytes + 63) / 64 * 64);
    cr_assert(x && w && bias && z && y && want && scratch);
    fill(x, nx);
    fill(w, nw);
    fill(bias, mg);
    fill(z, ny);
    conv_ref(&g, mg, cg, x, w, bias, z, want);
    gd_convgemm_bind(&p, scratch);
    p.x = x, p.w = w, p.bias = bias, p.z = z, p.y = y;
    gd_convgemm_pad(&p, 0, cg / 2); /* in two ranges, as the op's parallel loop may */
    gd_convgemm_pad(&p, cg / 2, cg);
    int64_t tiles = gd_convgemm_tile_count(&p);
    for (int64_t t = 0; t < tiles; t++) /* tiles spread over the slots */
        gd_convgemm_tiles(&p, (int)(t % threads), t, t + 1);
    double worst = 0;
    for (int64_t i = 0; i < ny; i++)
        worst = fmax(worst, fabs(y[i] - want[i]));
    cr_expect_lt(worst, 1e-4,
                 "%s: in %lldx%lld k %lldx%lld s %lldx%lld d %lldx%lld pads %lld %lld %lld %lld "
                 "cg %lld mg %lld threads %d: diff %g",
                 u->name, (long long)in[0], (long long)in[1], (long long)k[0], (long long)k[1],
                 (long long)st[0], (long long)st[1], (long long)dl[0], (long long)dl[1],
                 (long long)pads[0], (long long)pads[1], (long long)pads[2], (long long)pads[3],
                 (long long)cg, (long long)mg, threads, worst);
    free(x), free(w), free(bias), free(z), free(y), free(want), free(scratch);
    return 1;
}

Test(engine_convgemm, random_geometries_every_isa)
{
    int builds = 0;
    for (int isa = 0; isa < GD_SGEMM_ISA_COUNT; isa++) {
        const struct gd_sgemm_ukr *u = gd__sgemm_ukr((enum gd_sgemm_isa)isa);
        if (!u || !u->rows[0])
            continue;
        builds++;
        int taken = 0;
        for (int i = 0; i < 300; i++)
            taken += check_one(u, 1 + i % 3, 0);
        cr_expect_gt(taken, 100, "%s: the plan took only %d of 300 geometries", u->name, taken);
        for (int i = 0; i < 60; i++)
            cr_expect(check_one(u, 1 + i % 3, 1), "%s: a strided 1x1 conv was not taken", u->name);
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        cr_expect_gt(builds, 0, "an AVX2 CPU has row-offset kernels");
#endif
}

/* Not taken: no row-offset kernels (the portable build), strides over 4, pointwise stride 1
 * unpadded (the packed GEMM's case), many output channels on a small image. */
Test(engine_convgemm, declines_what_it_cannot_do)
{
    int64_t in[2] = {16, 16}, k[2] = {3, 3}, st[2] = {5, 5};
    struct gd_conv_attrs a = {.auto_pad = "NOTSET", .nstrides = -1, .ndilations = -1, .npads = -1};
    struct gd_conv_geom g;
    char err[128];
    struct gd_act_params act = {GD_ACT_NONE, 0, 0};
    struct gd_convgemm p;
    cr_assert_eq(gd_conv_geom_init(&g, 2, in, k, &a, err, sizeof err), 0, "%s", err);
    cr_expect_eq(gd__convgemm_plan_ukr(&p, &g, 8, 4, &act, 1, gd__sgemm_ukr(GD_SGEMM_ISA_GENERIC)),
                 0);
    a.strides = st, a.nstrides = 2;
    cr_assert_eq(gd_conv_geom_init(&g, 2, in, k, &a, err, sizeof err), 0, "%s", err);
    for (int isa = 0; isa < GD_SGEMM_ISA_COUNT; isa++)
        cr_expect_eq(
            gd__convgemm_plan_ukr(&p, &g, 8, 4, &act, 1, gd__sgemm_ukr((enum gd_sgemm_isa)isa)), 0);
    int64_t one[2] = {1, 1}, small[2] = {7, 7}, pad1[4] = {1, 1, 1, 1};
    struct gd_conv_attrs plain = {
        .auto_pad = "NOTSET", .nstrides = -1, .ndilations = -1, .npads = -1};
    const struct gd_sgemm_ukr *best = gd__sgemm_ukr_default();
    cr_assert_eq(gd_conv_geom_init(&g, 2, in, one, &plain, err, sizeof err), 0, "%s", err);
    cr_expect_eq(gd__convgemm_plan_ukr(&p, &g, 8, 4, &act, 1, best), 0);
    plain.pads = pad1, plain.npads = 4;
    cr_assert_eq(gd_conv_geom_init(&g, 2, small, k, &plain, err, sizeof err), 0, "%s", err);
    cr_expect_eq(gd__convgemm_plan_ukr(&p, &g, 512, 512, &act, 1, best), 0);
}
