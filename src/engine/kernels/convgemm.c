/* Implicit-GEMM convolution (see convgemm.h): planning, the padded copy, and the tiled
 * loops over C with B read in place by the row-offset micro-kernels. */
#include "engine/kernels/convgemm.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* KC: the largest K slice (K is cut into equal ones): its A panel (mr x KC) stays in L1
 * across a tile's column panels.
 * TILE_BYTES of C per tile (columns a multiple of the widest nr), row blocks of TILE_ROWS
 * (a multiple of every micro-kernel height) when the threads need more tiles.
 * IM2COL_MACS: im2col writes, reads back and packs one float of B per output column and
 * tap, which costs about this many multiply-adds; ROWS_COST_PCT: the row kernels' unaligned
 * B loads and in-place A rows make a multiply-add about this much dearer than on packed
 * panels (see gd_convgemm_plan). */
enum {
    KC = 768,
    TILE_BYTES = 128 << 10,
    TILE_ROWS = 48,
    ALIGN_FLOATS = 16,
    IM2COL_MACS = 40,
    ROWS_COST_PCT = 120
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int disabled;

static void read_env(void)
{
    const char *e = getenv("GD_CONVGEMM");
    disabled = e && !strcmp(e, "0");
}

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

/* Columns the micro-kernels compute for n: whole nr panels, the last one half-wide when
 * that covers it. */
static int64_t computed_cols(int64_t n, int nr)
{
    int64_t r = n % nr;
    return n - r + (r == 0 ? 0 : r <= nr / 2 ? nr / 2 : nr);
}

size_t gd_convgemm_plan(struct gd_convgemm *p, const struct gd_conv_geom *g, int64_t mg, int64_t cg,
                        const struct gd_act_params *act, int threads)
{
    pthread_once(&once, read_env);
    if (disabled || gd__sgemm_use_blas())
        return 0;
    return gd__convgemm_plan_ukr(p, g, mg, cg, act, threads, gd__sgemm_ukr_default());
}

size_t gd__convgemm_plan_ukr(struct gd_convgemm *p, const struct gd_conv_geom *g, int64_t mg,
                             int64_t cg, const struct gd_act_params *act, int threads,
                             const struct gd_sgemm_ukr *u)
{
    if (!u || !u->rows[0] || g->nsp != 2 || mg <= 0 || cg <= 0 || threads < 1)
        return 0;
    memset(p, 0, sizeof *p);
    p->g = g;
    p->act = act;
    p->u = u;
    p->mg = mg;
    p->cg = cg;
    p->kdim = cg * g->k_size;
    int64_t slices = (p->kdim + KC - 1) / KC;
    p->kc = (p->kdim + slices - 1) / slices;
    int64_t s0 = g->stride[0], s1 = g->stride[1], wo = g->out[1];
    if (!g->pb[0] && !g->pb[1] && !g->pe[0] && !g->pe[1] && g->k_size == 1 && s0 == 1 && s1 == 1)
        return 0; /* pointwise: no im2col to save, and its packed GEMM loads B faster */
    p->hp = (g->in[0] + g->pb[0] + g->pe[0] + s0 - 1) / s0;
    p->wp = (g->in[1] + g->pb[1] + g->pe[1] + s1 - 1) / s1;
    int64_t slack = (g->k[1] - 1) * g->dil[1] / s1, planes = cg * s0 * s1;
    p->q = g->out[0] * p->wp;
    /* multiply-adds per tap: here mg per computed column (padding columns included) at the
     * row kernels' cost, with im2col mg per computed real column plus the column traffic.
     * Measured (AVX-512, one thread): ResNet-18's 64-channel 56x56 convs and 7x7 stem win
     * by 1.4-1.5x, its 128-channel 28x28 ones by ~1.1x; the 512-channel 7x7 ones would lose
     * 1.6x (im2col there is 5% of the work). */
    if (s0 > 4 || s1 > 4 || wo <= 0 || g->out[0] <= 0 ||
        mg * computed_cols(p->q, u->nr) * ROWS_COST_PCT >
            100 * (mg * computed_cols(g->out_size, u->nr) + IM2COL_MACS * g->out_size))
        return 0;
    /* every offset + column stays below this (int32 offsets, index arithmetic) */
    if (planes > (INT32_MAX - slack - ALIGN_FLOATS) / (p->hp * p->wp) || p->q > INT32_MAX)
        return 0;
    p->pad_floats = round_up((size_t)(planes * p->hp * p->wp + slack), ALIGN_FLOATS);

    int64_t nb = TILE_BYTES / (mg * 4) / u->nr * u->nr;
    if (nb < 2 * u->nr)
        nb = 2 * u->nr;
    p->nb = nb < p->q ? nb : p->q;
    p->ntn = (p->q + p->nb - 1) / p->nb;
    p->mb = mg;
    if (threads > 1 && p->ntn < 2 * threads) {
        int64_t want = (2 * threads + p->ntn - 1) / p->ntn;
        int64_t mb = ((mg + want - 1) / want + TILE_ROWS - 1) / TILE_ROWS * TILE_ROWS;
        p->mb = mb < mg ? mb : mg;
    }
    /* per thread: C tile (mb rows plus a partial panel's overhang) unless C is y itself
     * (no padding columns, whole panels), then an mr x KC packed A panel */
    p->direct = p->wp == wo && mg % u->step == 0;
    p->threads = threads;
    size_t tile = p->direct ? 0 : (size_t)((p->mb + u->mr) * p->nb);
    p->tile_floats = round_up(tile + (size_t)(u->mr * p->kc), ALIGN_FLOATS);
    size_t floats = p->pad_floats + (size_t)threads * p->tile_floats;
    return floats * sizeof(float) + round_up((size_t)p->kdim * sizeof(int32_t), 64);
}

/* Tap (c, u, v) reads phase plane (c, u*dh mod s0, v*dw mod s1) shifted by (u*dh div s0)
 * rows and (v*dw div s1) columns. */
void gd_convgemm_bind(struct gd_convgemm *p, void *scratch)
{
    const struct gd_conv_geom *g = p->g;
    int64_t s0 = g->stride[0], s1 = g->stride[1], plane = p->hp * p->wp, i = 0;
    p->buf = scratch;
    p->off = (int32_t *)(p->buf + p->pad_floats + (size_t)p->threads * p->tile_floats);
    for (int64_t c = 0; c < p->cg; c++)
        for (int64_t u = 0; u < g->k[0]; u++)
            for (int64_t v = 0; v < g->k[1]; v++) {
                int64_t du = u * g->dil[0], dv = v * g->dil[1];
                int64_t ph = (c * s0 + du % s0) * s1 + dv % s1;
                p->off[i++] = (int32_t)(ph * plane + du / s0 * p->wp + dv / s1);
            }
}

int64_t gd_convgemm_tile_count(const struct gd_convgemm *p)
{
    return p->ntn * ((p->mg + p->mb - 1) / p->mb);
}

void gd_convgemm_pad(const struct gd_convgemm *p, int64_t c0, int64_t c1)
{
    const struct gd_conv_geom *g = p->g;
    int64_t s0 = g->stride[0], s1 = g->stride[1], planes = s0 * s1 * p->hp * p->wp;
    for (int64_t c = c0; c < c1; c++)
        gd_phase_planes_f32(p->x + c * g->in_size, g->in[0], g->in[1], g->pb[0], g->pb[1], s0, s1,
                            p->hp, p->wp, p->buf + c * planes);
    if (c1 == p->cg) { /* the slack past the last plane (read only for dropped columns) */
        size_t used = (size_t)(p->cg * planes);
        memset(p->buf + used, 0, (p->pad_floats - used) * sizeof(float));
    }
}

/* e's clamp for act (none, ReLU, Clip), or 0 for other activations. */
static int clamp_of(const struct gd_act_params *act, struct gd_sgemm_rows_epi *e)
{
    switch (act->act) {
    case GD_ACT_NONE:
        return 1;
    case GD_ACT_RELU:
        e->lo = 0;
        e->relu = 1;
        return 1;
    case GD_ACT_CLIP:
        e->lo = act->a;
        e->hi = act->b;
        return 1;
    default:
        return 0;
    }
}

/* The MR x kc panel of A's rows [ir, ir + h), zero-padded to mr rows. */
static void pack_rows(const float *a, int64_t lda, int h, int mr, int64_t kc, float *pa)
{
    for (int64_t k = 0; k < kc; k++)
        for (int i = 0; i < mr; i++)
            pa[k * mr + i] = i < h ? a[i * lda + k] : 0.0f;
}

/* Output rows [r0, r1) x virtual columns [c0, c1) from the tile buffer t (row stride nb):
 * the columns that are real outputs, run by run, with the epilogue. */
static void scatter(const struct gd_convgemm *p, const float *t, int64_t r0, int64_t r1, int64_t c0,
                    int64_t c1)
{
    int64_t wo = p->g->out[1], osz = p->g->out_size;
    for (int64_t r = r0; r < r1; r++, t += p->nb)
        for (int64_t s = c0; s < c1;) {
            int64_t oh = s / p->wp, ow = s % p->wp;
            if (ow >= wo) {
                s = (oh + 1) * p->wp;
                continue;
            }
            int64_t e = oh * p->wp + wo < c1 ? oh * p->wp + wo : c1, o = r * osz + oh * wo + ow;
            memcpy(p->y + o, t + (s - c0), (size_t)(e - s) * sizeof(float));
            gd_epilogue_f32(p->act, p->y + o, p->z ? p->z + o : NULL, e - s,
                            p->bias ? p->bias[r] : 0.0f);
            s = e;
        }
}

void gd_convgemm_tiles(const struct gd_convgemm *p, int slot, int64_t t0, int64_t t1)
{
    const struct gd_sgemm_ukr *u = p->u;
    const float *src = p->buf;
    float *tbuf = p->buf + p->pad_floats + (size_t)slot * p->tile_floats;
    int direct = p->direct;
    float *apk = direct ? tbuf : tbuf + (size_t)((p->mb + u->mr) * p->nb);
    /* C is y: bias, residual and a clamping activation go into the last K slice's stores */
    struct gd_sgemm_rows_epi epi = {NULL, NULL, p->q, -INFINITY, INFINITY, 0};
    int fused = direct && clamp_of(p->act, &epi);
    for (int64_t t = t0; t < t1; t++) {
        int64_t r0 = t / p->ntn * p->mb, c0 = t % p->ntn * p->nb;
        int64_t r1 = r0 + p->mb < p->mg ? r0 + p->mb : p->mg;
        int64_t c1 = c0 + p->nb < p->q ? c0 + p->nb : p->q;
        float *c = direct ? p->y + r0 * p->q + c0 : tbuf;
        int64_t ldc = direct ? p->q : p->nb;
        for (int64_t pc = 0; pc < p->kdim; pc += p->kc) {
            int64_t kc = p->kdim - pc < p->kc ? p->kdim - pc : p->kc;
            float beta = pc ? 1.0f : 0.0f;
            int last = fused && pc + kc == p->kdim;
            for (int64_t ir = r0; ir < r1; ir += u->mr) {
                int h = r1 - ir < u->mr ? (int)(r1 - ir) : u->mr;
                int part = (h + u->step - 1) / u->step - 1;
                const float *a = p->w + ir * p->kdim + pc;
                int64_t ai = p->kdim, ap = 1;
                if ((part + 1) * u->step != h) { /* rows past mg: read a zero-padded copy */
                    pack_rows(a, p->kdim, h, u->mr, kc, apk);
                    a = apk;
                    ai = 1;
                    ap = u->mr;
                }
                for (int64_t jr = c0; jr < c1; jr += u->nr) {
                    int cols = c1 - jr < u->nr ? (int)(c1 - jr) : u->nr;
                    gd_sgemm_rows_fn f = 2 * cols <= u->nr && u->rows_half[part]
                                             ? u->rows_half[part]
                                             : u->rows[part];
                    epi.bias = p->bias ? p->bias + ir : NULL;
                    epi.z = p->z ? p->z + ir * p->q + jr : NULL;
                    f(kc, a, ai, ap, src + jr, p->off + pc, cols, c + (ir - r0) * ldc + (jr - c0),
                      ldc, beta, last ? &epi : NULL);
                }
            }
        }
        if (!direct) {
            scatter(p, tbuf, r0, r1, c0, c1);
            continue;
        }
        for (int64_t r = r0; r < r1 && !fused; r++) {
            int64_t o = r * p->q + c0;
            gd_epilogue_f32(p->act, p->y + o, p->z ? p->z + o : NULL, c1 - c0,
                            p->bias ? p->bias[r] : 0.0f);
        }
    }
}
