/* The depthwise 3x3 register kernels (kernels/dw3x3.h), every ISA build the CPU has,
 * against a naive double-precision reference: random geometries (strides 1 / 2 per axis,
 * pads 0..3 per side, rows of 1..80 outputs: masked and whole 16-wide chunks), every
 * activation with and without bias and residual; planes placed against inaccessible
 * pages (a read outside the plane would crash); NaN through the in-register epilogue; the
 * geometries it declines. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/kernels/dw3x3.h"
#include "engine/kernels/epilogue.h"

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

static float frand(unsigned *s)
{
    return (float)(rnd(s) % 2001) / 1000.0f - 1.0f;
}

static double act_ref(const struct gd_act_params *a, double v)
{
    switch (a->act) {
    case GD_ACT_NONE:
        return v;
    case GD_ACT_RELU:
        return v > 0 ? v : 0; /* NaN -> 0, as gd_epilogue_f32 */
    case GD_ACT_CLIP:
        return v < a->a ? a->a : v > a->b ? a->b : v; /* NaN stays */
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

static const struct gd_act_params acts[] = {
    {GD_ACT_NONE, 0, 0},     {GD_ACT_RELU, 0, 0},
    {GD_ACT_CLIP, 0, 6},     {GD_ACT_CLIP, -0.5f, 0.5f},
    {GD_ACT_LEAKY, 0.1f, 0}, {GD_ACT_SIGMOID, 0, 0},
    {GD_ACT_TANH, 0, 0},     {GD_ACT_HARDSIGMOID, 0.2f, 0.5f},
    {GD_ACT_SILU, 0, 0},     {GD_ACT_GELU, 0, 0},
};
enum { NACTS = sizeof acts / sizeof acts[0] };

static void ref(const struct gd_dw2d *g, const float *x, const float *w, const float *z, float bias,
                const struct gd_act_params *a, double *y)
{
    for (int64_t r = 0; r < g->oh; r++)
        for (int64_t c = 0; c < g->ow; c++) {
            double s = 0;
            for (int u = 0; u < 3; u++)
                for (int v = 0; v < 3; v++) {
                    int64_t hi = r * g->sh - g->pt + u, wi = c * g->sw - g->pl + v;
                    if (hi >= 0 && hi < g->ih && wi >= 0 && wi < g->iw)
                        s += (double)x[hi * g->iw + wi] * w[u * 3 + v];
                }
            s += bias + (z ? z[r * g->ow + c] : 0);
            y[r * g->ow + c] = act_ref(a, s);
        }
}

static int64_t out_dim(int64_t in, int64_t s, int64_t pb, int64_t pe)
{
    int64_t span = in + pb + pe - 3;
    return span < 0 ? 0 : span / s + 1;
}

/* A buffer of n floats that ends (at_end) or starts right at an inaccessible page. */
struct guarded {
    void *map;
    size_t len;
    float *p;
};

static float *guarded_alloc(struct guarded *gb, int64_t n, int at_end)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = (size_t)n * sizeof(float);
    size_t data = (bytes + page - 1) / page * page;
    gb->len = data + 2 * page;
    gb->map = mmap(NULL, gb->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(gb->map, MAP_FAILED);
    char *base = gb->map;
    cr_assert_eq(mprotect(base, page, PROT_NONE), 0);
    cr_assert_eq(mprotect(base + page + data, page, PROT_NONE), 0);
    gb->p = (float *)(at_end ? base + page + data - bytes : base + page);
    return gb->p;
}

static void guarded_free(struct guarded *gb)
{
    munmap(gb->map, gb->len);
}

/* Runs g through every build the CPU has (x, y and z guarded on the side `at_end`);
 * returns how many ran. nan_at >= 0 puts a NaN into x there. */
static int check(const struct gd_dw2d *g, unsigned *seed, const struct gd_act_params *a, int with_z,
                 int at_end, int64_t nan_at)
{
    int64_t nx = g->ih * g->iw, ny = g->oh * g->ow;
    struct guarded gx, gy, gz;
    float *x = guarded_alloc(&gx, nx, at_end), *z = guarded_alloc(&gz, ny, at_end);
    float *y = guarded_alloc(&gy, ny, at_end), w[9];
    double *want = malloc(sizeof(double) * (size_t)ny);
    for (int64_t i = 0; i < nx; i++)
        x[i] = frand(seed);
    if (nan_at >= 0 && nan_at < nx)
        x[nan_at] = NAN;
    for (int k = 0; k < 9; k++)
        w[k] = frand(seed);
    for (int64_t i = 0; i < ny; i++)
        z[i] = frand(seed);
    float bias = frand(seed);
    ref(g, x, w, with_z ? z : NULL, bias, a, want);
    int ran = 0;
    for (int isa = GD_DW3_ISA_AVX2; isa <= GD_DW3_ISA_AVX512; isa++) {
        for (int64_t i = 0; i < ny; i++)
            y[i] = NAN; /* every output must be written */
        if (gd_dw3x3_f32(isa, g, x, w, y, with_z ? z : NULL, bias, a))
            continue;
        ran++;
        int64_t bad = -1;
        double worst = 0;
        for (int64_t i = 0; i < ny && bad < 0; i++) {
            if (isnan(want[i]) != isnan(y[i]))
                bad = i;
            else if (!isnan(want[i]) && fabs(y[i] - want[i]) > worst)
                worst = fabs(y[i] - want[i]);
        }
        cr_expect(bad < 0 && worst < 1e-4,
                  "isa %d in %lldx%lld s %lldx%lld p %lld,%lld -> %lldx%lld act %d (%g,%g) z %d "
                  "nan %lld: first NaN mismatch %lld, diff %g",
                  isa, (long long)g->ih, (long long)g->iw, (long long)g->sh, (long long)g->sw,
                  (long long)g->pt, (long long)g->pl, (long long)g->oh, (long long)g->ow,
                  (int)a->act, a->a, a->b, with_z, (long long)nan_at, (long long)bad, worst);
    }
    guarded_free(&gx);
    guarded_free(&gy);
    guarded_free(&gz);
    free(want);
    return ran;
}

static int have_any(void)
{
    return __builtin_cpu_supports("avx512f") ||
           (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
}

Test(engine_dw3x3, random_geometries_every_isa)
{
    if (!have_any())
        cr_skip_test("no AVX2 or AVX-512 on this CPU");
    unsigned seed = 2026;
    int checked = 0;
    for (int t = 0; t < 500; t++) {
        struct gd_dw2d g = {0};
        g.kh = g.kw = 3;
        g.dh = g.dw = 1;
        g.sh = 1 + rnd(&seed) % 2;
        g.sw = 1 + rnd(&seed) % 2;
        g.ih = 1 + rnd(&seed) % 20;
        g.iw = 1 + rnd(&seed) % (t % 4 == 0 ? 170 : 40);
        g.pt = rnd(&seed) % 4;
        g.pl = rnd(&seed) % 4;
        int64_t pb = rnd(&seed) % 4, pr = rnd(&seed) % 4;
        g.oh = out_dim(g.ih, g.sh, g.pt, pb);
        g.ow = out_dim(g.iw, g.sw, g.pl, pr);
        if (g.oh < 1 || g.ow < 1) /* windows wholly in the padding stay: they give the bias */
            continue;
        int ran = check(&g, &seed, &acts[t % NACTS], t % 3 != 0, t % 2, -1);
        cr_assert_geq(ran, 1, "no build ran");
        checked++;
    }
    cr_expect_gt(checked, 300, "only %d geometries were valid", checked);
}

Test(engine_dw3x3, mobilenet_planes)
{
    if (!have_any())
        cr_skip_test("no AVX2 or AVX-512 on this CPU");
    unsigned seed = 7;
    static const int64_t sizes[] = {112, 56, 28, 14, 7};
    for (int i = 0; i < 5; i++)
        for (int64_t s = 1; s <= 2; s++) {
            int64_t n = sizes[i], o = (n - 1) / s + 1;
            struct gd_dw2d g = {n, n, o, o, 3, 3, s, s, 1, 1, 1, 1};
            cr_assert_geq(check(&g, &seed, &acts[2], i % 2, 1, -1), 1);
            cr_assert_geq(check(&g, &seed, &acts[1], 0, 0, -1), 1);
        }
}

Test(engine_dw3x3, nan_through_the_epilogue)
{
    if (!have_any())
        cr_skip_test("no AVX2 or AVX-512 on this CPU");
    unsigned seed = 11;
    /* NaN at a corner, an edge and the middle: Relu maps the outputs it reaches to 0, Clip
     * and none keep NaN, as the scalar epilogue does */
    struct gd_dw2d g1 = {14, 14, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1};
    struct gd_dw2d g2 = {37, 37, 19, 19, 3, 3, 2, 2, 1, 1, 1, 1};
    static const int ai[] = {0, 1, 2, 5};
    for (int k = 0; k < 4; k++) {
        const struct gd_act_params *a = &acts[ai[k]];
        cr_assert_geq(check(&g1, &seed, a, 1, 1, 0), 1);
        cr_assert_geq(check(&g1, &seed, a, 0, 0, 14 * 7 + 13), 1);
        cr_assert_geq(check(&g2, &seed, a, 1, 0, 37 * 18 + 18), 1);
        cr_assert_geq(check(&g2, &seed, a, 0, 1, 37 * 37 - 1), 1);
    }
}

Test(engine_dw3x3, declines_other_geometries)
{
    struct gd_dw2d ok = {8, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1};
    cr_expect(gd_dw3x3_takes(&ok));
    struct gd_dw2d k5 = ok, dil = ok, s3 = ok, wide = ok;
    k5.kh = k5.kw = 5;
    dil.dw = 2;
    s3.sh = 3;
    cr_expect(!gd_dw3x3_takes(&k5));
    cr_expect(!gd_dw3x3_takes(&dil));
    cr_expect(!gd_dw3x3_takes(&s3));
    float x[64] = {0}, w[9] = {0}, y[64];
    struct gd_act_params none = {GD_ACT_NONE, 0, 0};
    cr_expect_eq(gd_dw3x3_f32(GD_DW3_ISA_AVX512, &k5, x, w, y, NULL, 0, &none), -1);
    cr_expect_eq(gd_dw3x3_f32(GD_DW3_ISA_AVX2, &s3, x, w, y, NULL, 0, &none), -1);
    cr_expect_eq(gd_dw3x3_f32(99, &ok, x, w, y, NULL, 0, &none), -1);
    /* rows over 1,024 outputs are left to dwconv.c */
    wide.ih = 1;
    wide.iw = 4000;
    wide.oh = 1;
    wide.ow = 4000;
    float *xw = calloc(4000, sizeof(float)), *yw = calloc(4000, sizeof(float));
    cr_expect_eq(gd_dw3x3_f32(GD_DW3_ISA_AVX512, &wide, xw, w, yw, NULL, 0, &none), -1);
    free(xw);
    free(yw);
}
