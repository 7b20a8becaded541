/* The packed SGEMM driver (see sgemm.h): micro-kernel selection, KC x NC / MC x KC blocking
 * and panel packing, edge tiles, and an unpacked fallback for when no buffer can be had.
 *
 * Loop order (Goto): for each NC-wide column block and KC-deep slice, op(B) is packed once
 * (KC x NC, 512 KiB: stays in L2); for each MC-tall row block op(A) is packed (MC x KC) and
 * every MR x KC panel of it (12 KiB at most: stays in L1) sweeps all NR-wide B panels. */
#include "engine/kernels/sgemm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"

enum { KC = 256, MC = 192, NC = 512, MAX_TILE = 12 * 32, ALIGN = 64 };
/* Up to this many columns A is read in place rather than packed (see gd__sgemm). */
enum { DIRECT_MAX_N = 256 };

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t buf_key; /* this thread's raw packing buffer, freed at thread exit */
static int have_key, use_blas;
static const struct gd_sgemm_ukr *dflt;

const struct gd_sgemm_ukr *gd__sgemm_ukr(enum gd_sgemm_isa isa)
{
    switch (isa) {
    case GD_SGEMM_ISA_GENERIC:
        return &gd__sgemm_ukr_generic;
#if defined(__x86_64__)
    case GD_SGEMM_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &gd__sgemm_ukr_avx2
                                                                               : NULL;
    case GD_SGEMM_ISA_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") ? &gd__sgemm_ukr_avx512 : NULL;
#endif
    default:
        return NULL;
    }
}

static void init(void)
{
    have_key = pthread_key_create(&buf_key, gd_free) == 0;
    for (int isa = GD_SGEMM_ISA_COUNT - 1; isa >= 0 && !dflt; isa--)
        dflt = gd__sgemm_ukr((enum gd_sgemm_isa)isa);
    const char *env = getenv("GD_GEMM");
    if (!env || !*env)
        return;
    if (!strcasecmp(env, "blas"))
        use_blas = 1;
    for (int isa = 0; isa < GD_SGEMM_ISA_COUNT; isa++) {
        const struct gd_sgemm_ukr *u = gd__sgemm_ukr((enum gd_sgemm_isa)isa);
        if (u && !strcasecmp(env, u->name))
            dflt = u;
    }
}

const struct gd_sgemm_ukr *gd__sgemm_ukr_default(void)
{
    pthread_once(&once, init);
    return dflt;
}

int gd__sgemm_use_blas(void)
{
    pthread_once(&once, init);
    return use_blas;
}

/* This thread's packing buffer (MC x KC for A, then KC x NC for B), 64-byte aligned. */
static float *pack_buffer(void)
{
    pthread_once(&once, init);
    if (!have_key)
        return NULL;
    void *raw = pthread_getspecific(buf_key);
    if (!raw) {
        if (!(raw = gd_malloc(((size_t)MC * KC + (size_t)KC * NC) * sizeof(float) + ALIGN)))
            return NULL;
        if (pthread_setspecific(buf_key, raw)) {
            gd_free(raw);
            return NULL;
        }
    }
    return (float *)(((uintptr_t)raw + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1));
}

/* op(A) rows [0, mc) x cols [0, kc) (element (i, p) at a[i * rs + p * cs]) into MR-tall
 * panels, pa[panel][p][i], rows past mc zeroed. */
static void pack_a(int mr, int64_t mc, int64_t kc, const float *a, int64_t rs, int64_t cs,
                   float *pa)
{
    for (int64_t i0 = 0; i0 < mc; i0 += mr, pa += (int64_t)mr * kc) {
        int h = mc - i0 < mr ? (int)(mc - i0) : mr;
        const float *src = a + i0 * rs;
        if (cs == 1) {
            for (int i = 0; i < h; i++)
                for (int64_t p = 0; p < kc; p++)
                    pa[p * mr + i] = src[i * rs + p];
        } else {
            for (int64_t p = 0; p < kc; p++)
                for (int i = 0; i < h; i++)
                    pa[p * mr + i] = src[i * rs + p * cs];
        }
        if (h < mr)
            for (int64_t p = 0; p < kc; p++)
                memset(pa + p * mr + h, 0, (size_t)(mr - h) * sizeof(float));
    }
}

/* op(B) rows [0, kc) x cols [0, nc) (element (p, j) at b[p * rs + j * cs]) into NR-wide
 * panels, pb[panel][p][j], columns past nc zeroed. */
static void pack_b(int nr, int64_t kc, int64_t nc, const float *b, int64_t rs, int64_t cs,
                   float *pb)
{
    for (int64_t j0 = 0; j0 < nc; j0 += nr, pb += (int64_t)nr * kc) {
        int w = nc - j0 < nr ? (int)(nc - j0) : nr;
        const float *src = b + j0 * cs;
        if (cs == 1 && w == 32) { /* constant sizes: inline vector copies, no memcpy call */
            for (int64_t p = 0; p < kc; p++)
                memcpy(pb + p * nr, src + p * rs, 32 * sizeof(float));
        } else if (cs == 1 && w == 16) {
            for (int64_t p = 0; p < kc; p++)
                memcpy(pb + p * nr, src + p * rs, 16 * sizeof(float));
        } else if (cs == 1) {
            for (int64_t p = 0; p < kc; p++)
                memcpy(pb + p * nr, src + p * rs, (size_t)w * sizeof(float));
        } else {
            for (int j = 0; j < w; j++)
                for (int64_t p = 0; p < kc; p++)
                    pb[p * nr + j] = src[j * cs + p * rs];
        }
        if (w < nr)
            for (int64_t p = 0; p < kc; p++)
                memset(pb + p * nr + w, 0, (size_t)(nr - w) * sizeof(float));
    }
}

/* One h x w (<= MR x NR) tile of C with the smallest kernel covering h rows; tiles that
 * kernel does not fit exactly go through a scratch tile. */
static void tile(const struct gd_sgemm_ukr *u, int64_t kc, const float *pa, int64_t ai, int64_t ap,
                 const float *pb, float *c, int64_t ldc, int h, int w, float alpha, float beta)
{
    int q = (h + u->step - 1) / u->step - 1, half = 2 * w <= u->nr && u->half[q];
    gd_sgemm_ukr_fn f = half ? u->half[q] : u->part[q];
    if (q * u->step + u->step == h && w == (half ? u->nr / 2 : u->nr)) {
        f(kc, pa, ai, ap, pb, c, ldc, alpha, beta);
        return;
    }
    _Alignas(ALIGN) float t[MAX_TILE];
    f(kc, pa, ai, ap, pb, t, u->nr, 1.0f, 0.0f);
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            float *cp = &c[i * ldc + j];
            *cp = beta == 0.0f ? alpha * t[i * u->nr + j] : alpha * t[i * u->nr + j] + beta * *cp;
        }
}

/* Splits len into equal blocks of at most cap (multiples of unit): the block size. */
static int64_t even_block(int64_t len, int64_t cap, int64_t unit)
{
    int64_t nb = (len + cap - 1) / cap, bs = (len + nb - 1) / nb;
    return (bs + unit - 1) / unit * unit;
}

/* Unpacked reference loop: used when no packing buffer can be allocated, and for k == 0. */
static void sgemm_plain(const struct gd_gemm *g, int64_t rsa, int64_t csa, int64_t rsb, int64_t csb)
{
    const float *A = g->a, *B = g->b;
    float *C = g->c, alpha = (float)g->alpha, beta = (float)g->beta;
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->n; j++) {
            float s = 0;
            for (int64_t p = 0; p < g->k; p++)
                s += A[i * rsa + p * csa] * B[p * rsb + j * csb];
            float *cp = &C[i * g->ldc + j];
            *cp = beta == 0.0f ? alpha * s : alpha * s + beta * *cp;
        }
}

/* x . y over k elements; 16 partial sums let the compiler vectorise without reassociating. */
static float dot(int64_t k, const float *restrict x, int64_t xs, const float *restrict y,
                 int64_t ys)
{
    float acc[16] = {0}, s = 0;
    int64_t p = 0;
    if (xs == 1 && ys == 1)
        for (; p + 16 <= k; p += 16)
            for (int l = 0; l < 16; l++)
                acc[l] += x[p + l] * y[p + l];
    for (; p < k; p++)
        s += x[p * xs] * y[p * ys];
    for (int l = 0; l < 16; l++)
        s += acc[l];
    return s;
}

/* y += s * x over n elements, in blocks of 16 (fixed-length loops vectorise at -O2). */
static void axpy(int64_t n, float s, const float *restrict x, float *restrict y)
{
    int64_t j = 0;
    for (; j + 16 <= n; j += 16)
        for (int l = 0; l < 16; l++)
            y[j + l] += s * x[j + l];
    for (; j < n; j++)
        y[j] += s * x[j];
}

/* y[i * ys] = beta * y[i * ys] for i < n; y is not read when beta == 0. */
static void scale(int64_t n, float *y, int64_t ys, float beta)
{
    for (int64_t i = 0; i < n; i++)
        y[i * ys] = beta == 0.0f ? 0.0f : beta * y[i * ys];
}

/* m == 1 or n == 1 (classifier heads, matrix-vector products): packing a panel for one row
 * or column would cost more than the product, so these run as dot products or as row
 * updates (c += s * row, vectorised) over the operands in place. */
static void sgemv(const struct gd_gemm *g, int64_t rsa, int64_t csa, int64_t rsb, int64_t csb)
{
    const float *A = g->a, *B = g->b;
    float *C = g->c, alpha = (float)g->alpha, beta = (float)g->beta;
    int64_t m = g->m, n = g->n, k = g->k, ldc = g->ldc;
    int row = m == 1; /* C is one row (else one column) */
    int64_t len = row ? n : m, cs = row ? 1 : ldc;
    /* the vector operand (x), and the matrix viewed as len lines of k (line stride ls,
     * element stride es) */
    const float *x = row ? A : B, *mat = row ? B : A;
    int64_t xs = row ? csa : rsb, ls = row ? csb : rsa, es = row ? rsb : csa;
    if (ls == 1 && cs == 1) { /* lines are strided, elements contiguous across lines */
        scale(len, C, 1, beta);
        for (int64_t p = 0; p < k; p++)
            axpy(len, alpha * x[p * xs], mat + p * es, C);
        return;
    }
    for (int64_t j = 0; j < len; j++) {
        float v = alpha * dot(k, x, xs, mat + j * ls, es);
        C[j * cs] = beta == 0.0f ? v : v + beta * C[j * cs];
    }
}

/* The blocked loops over C. pre == NULL: op(B) is packed per KC x NC block into the
 * thread's buffer; else its panels come from pre (K x nr each, see gd__sgemm_pack_b_full). */
static void sgemm_blocked(const struct gd_gemm *g, const struct gd_sgemm_ukr *u, float *buf,
                          const float *pre)
{
    int64_t rsa = g->ta ? 1 : g->lda, csa = g->ta ? g->lda : 1;
    int64_t rsb = g->tb ? 1 : g->ldb, csb = g->tb ? g->ldb : 1;
    const float *A = g->a, *B = g->b;
    float *C = g->c, *pa = buf, *pb = buf + (size_t)MC * KC, alpha = (float)g->alpha;
    int64_t m = g->m, n = g->n, k = g->k, ldc = g->ldc;
    int64_t ncb = even_block(n, NC, u->nr), kcb = even_block(k, KC, 1);
    int64_t mcb = even_block(m, MC / u->mr * u->mr, u->mr);
    int direct = csa == 1 && n <= DIRECT_MAX_N;
    for (int64_t jc = 0; jc < n; jc += ncb) {
        int64_t nc = n - jc < ncb ? n - jc : ncb;
        for (int64_t pc = 0; pc < k; pc += kcb) {
            int64_t kc = k - pc < kcb ? k - pc : kcb, pstride = kc * u->nr;
            float beta = pc ? 1.0f : (float)g->beta; /* later K slices accumulate */
            const float *bp = pb;
            if (pre) {
                bp = pre + (jc / u->nr) * k * u->nr + pc * u->nr;
                pstride = k * u->nr;
            } else {
                pack_b(u->nr, kc, nc, B + pc * rsb + jc * csb, rsb, csb, pb);
            }
            for (int64_t ic = 0; ic < m; ic += mcb) {
                int64_t mc = m - ic < mcb ? m - ic : mcb;
                const float *ablk = A + ic * rsa + pc * csa;
                /* Few column panels reuse a packed A too little to pay for packing it: read
                 * row-major A in place then, packing only a partial last row panel. */
                int64_t full = direct ? mc / u->mr * u->mr : 0;
                if (full < mc)
                    pack_a(u->mr, mc - full, kc, ablk + full * rsa, rsa, csa, pa);
                for (int64_t ir = 0; ir < mc; ir += u->mr) {
                    int d = ir < full;
                    const float *ap = d ? ablk + ir * rsa : pa + (ir - full) * kc;
                    int h = mc - ir < u->mr ? (int)(mc - ir) : u->mr;
                    for (int64_t jr = 0; jr < nc; jr += u->nr)
                        tile(u, kc, ap, d ? rsa : 1, d ? 1 : u->mr, bp + jr / u->nr * pstride,
                             C + (ic + ir) * ldc + jc + jr, ldc, h,
                             nc - jr < u->nr ? (int)(nc - jr) : u->nr, alpha, beta);
                }
            }
        }
    }
}

void gd__sgemm(const struct gd_gemm *g, const struct gd_sgemm_ukr *u)
{
    int64_t rsa = g->ta ? 1 : g->lda, csa = g->ta ? g->lda : 1;
    int64_t rsb = g->tb ? 1 : g->ldb, csb = g->tb ? g->ldb : 1;
    if (g->k && (g->m == 1 || g->n == 1)) {
        sgemv(g, rsa, csa, rsb, csb);
        return;
    }
    float *buf = g->k ? pack_buffer() : NULL;
    if (!u)
        u = gd__sgemm_ukr_default();
    if (!buf || u->mr * u->nr > MAX_TILE || u->mr / u->step > GD_SGEMM_MAX_PARTS) {
        sgemm_plain(g, rsa, csa, rsb, csb);
        return;
    }
    sgemm_blocked(g, u, buf, NULL);
}

size_t gd__sgemm_packed_b_floats(int64_t k, int64_t n, int nr)
{
    return (size_t)((n + nr - 1) / nr) * (size_t)nr * (size_t)k;
}

void gd__sgemm_pack_b_full(const float *b, int64_t ldb, int tb, int64_t k, int64_t n, int nr,
                           float *out)
{
    pack_b(nr, k, n, b, tb ? 1 : ldb, tb ? ldb : 1, out);
}

/* One row of C from pre-packed panels: each panel is read once, contiguously, while nr
 * partial sums (fixed-length loops: vectorised) stay in registers. */
#define PGEMV(NR)                                                                                  \
    static void pgemv_##NR(const struct gd_gemm *g, const float *pb, int64_t csa)                  \
    {                                                                                              \
        const float *A = g->a;                                                                     \
        float *C = g->c, alpha = (float)g->alpha, beta = (float)g->beta;                           \
        for (int64_t j0 = 0; j0 < g->n; j0 += NR, pb += NR * g->k) {                               \
            float acc[NR] = {0};                                                                   \
            for (int64_t p = 0; p < g->k; p++) {                                                   \
                float av = A[p * csa];                                                             \
                for (int l = 0; l < NR; l++)                                                       \
                    acc[l] += av * pb[p * NR + l];                                                 \
            }                                                                                      \
            int w = g->n - j0 < NR ? (int)(g->n - j0) : NR;                                        \
            for (int l = 0; l < w; l++)                                                            \
                C[j0 + l] = beta == 0.0f ? alpha * acc[l] : alpha * acc[l] + beta * C[j0 + l];     \
        }                                                                                          \
    }
PGEMV(16)
PGEMV(32)

/* Unblocked loop over pre-packed panels (k == 0 included: C = beta * C). */
static void plain_prepacked(const struct gd_gemm *g, const float *pb, int nr)
{
    int64_t rsa = g->ta ? 1 : g->lda, csa = g->ta ? g->lda : 1;
    const float *A = g->a;
    float *C = g->c, alpha = (float)g->alpha, beta = (float)g->beta;
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->n; j++) {
            const float *col = pb + j / nr * g->k * nr + j % nr;
            float s = 0;
            for (int64_t p = 0; p < g->k; p++)
                s += A[i * rsa + p * csa] * col[p * nr];
            float *cp = &C[i * g->ldc + j];
            *cp = beta == 0.0f ? alpha * s : alpha * s + beta * *cp;
        }
}

int gd__sgemm_prepacked(const struct gd_gemm *g, const float *pb, const struct gd_sgemm_ukr *u)
{
    if (!u)
        u = gd__sgemm_ukr_default();
    if (g->m == 1 && g->k && (u->nr == 16 || u->nr == 32)) {
        int64_t csa = g->ta ? g->lda : 1;
        u->nr == 16 ? pgemv_16(g, pb, csa) : pgemv_32(g, pb, csa);
        return 0;
    }
    float *buf = g->k ? pack_buffer() : NULL;
    if (!buf || u->mr * u->nr > MAX_TILE || u->mr / u->step > GD_SGEMM_MAX_PARTS) {
        plain_prepacked(g, pb, u->nr); /* no buffer for A's panels: slow but exact */
        return 0;
    }
    sgemm_blocked(g, u, buf, pb);
    return 0;
}
