/* Row normalisations: LayerNormalization, InstanceNormalization, GroupNormalization.
 *
 * Each is "normalise contiguous rows of D elements, then scale and shift": LayerNorm rows
 * are X's trailing dims from `axis`, InstanceNorm rows are (n, c) planes, GroupNorm rows
 * are (n, group) blocks. Mean and variance are accumulated in double, two passes (no
 * catastrophic cancellation). The affine parameters are expanded once into double arrays
 * and addressed as sc[(row % R) * Q + i / P] (see struct rn_job), which covers a per
 * element (LayerNorm), per row (InstanceNorm) or per channel inside a row (GroupNorm)
 * scale. BatchNormalization, LRN and MeanVarianceNormalization are in norm_batch.c. */
#include <math.h>
#include <string.h>

#include "engine/kernels/ew_gen.h"
#include "engine/kernels/vmath.h"
#include "engine/op.h"
#include "engine/ops/registry.h"

struct rn_job {
    const void *x;
    void *y;
    int64_t d;             /* row length */
    int64_t r, q, p;       /* affine index: (row % r) * q + i / p */
    const double *sc, *bi; /* bi may be NULL */
    double eps;
    struct gd_tensor *mean, *inv; /* optional per-row outputs */
    const float *fsc, *fbi;       /* float32 LayerNorm fast path: per-element scale, bias */
};

/* float32 LayerNormalization with per-element float32 scale / bias: vectorised rows. */
static void rn_fast_f32(void *ud, int64_t b, int64_t e)
{
    const struct rn_job *j = ud;
    for (int64_t row = b; row < e; row++) {
        float mean, inv;
        gd_layernorm_row_f32((const float *)j->x + row * j->d, (float *)j->y + row * j->d, j->d,
                             j->fsc, j->fbi, (float)j->eps, &mean, &inv);
        if (j->mean)
            gd_tensor_set_f64(j->mean, row, mean);
        if (j->inv)
            gd_tensor_set_f64(j->inv, row, inv);
    }
}

#define RN_KERNEL(S, T, LD, STO)                                                                   \
    static void rn_##S(void *ud, int64_t b, int64_t e)                                             \
    {                                                                                              \
        const struct rn_job *j = ud;                                                               \
        for (int64_t row = b; row < e; row++) {                                                    \
            const T *x = (const T *)j->x + row * j->d;                                             \
            T *y = (T *)j->y + row * j->d;                                                         \
            double s = 0, v = 0;                                                                   \
            for (int64_t i = 0; i < j->d; i++)                                                     \
                s += LD(x[i]);                                                                     \
            double mean = j->d ? s / (double)j->d : 0;                                             \
            for (int64_t i = 0; i < j->d; i++) {                                                   \
                double t = LD(x[i]) - mean;                                                        \
                v += t * t;                                                                        \
            }                                                                                      \
            double inv = 1.0 / sqrt((j->d ? v / (double)j->d : 0) + j->eps);                       \
            const double *sc = j->sc + (row % j->r) * j->q,                                        \
                         *bi = j->bi ? j->bi + (row % j->r) * j->q : NULL;                         \
            for (int64_t i = 0; i < j->d; i++) {                                                   \
                double t = (LD(x[i]) - mean) * inv * sc[i / j->p];                                 \
                y[i] = STO(bi ? t + bi[i / j->p] : t);                                             \
            }                                                                                      \
            if (j->mean)                                                                           \
                gd_tensor_set_f64(j->mean, row, mean);                                             \
            if (j->inv)                                                                            \
                gd_tensor_set_f64(j->inv, row, inv);                                               \
        }                                                                                          \
    }
#define F32ST(v) ((float)(v))
#define F16ST(v) gd_f32_to_f16((float)(v))
RN_KERNEL(f32, float, EW_ID, F32ST)
RN_KERNEL(f64, double, EW_ID, EW_ID)
RN_KERNEL(f16, gd_f16, EW_F16LD, F16ST)

static gd_op_range_fn rn_kernel(enum gd_dtype dt)
{
    return dt == GD_DTYPE_FLOAT     ? rn_f32
           : dt == GD_DTYPE_DOUBLE  ? rn_f64
           : dt == GD_DTYPE_FLOAT16 ? rn_f16
                                    : NULL;
}

/* Expands t (broadcastable to shape dims[0..rank)) into n doubles. */
static double *expand_param(struct gd_op_ctx *ctx, const struct gd_tensor *t, int rank,
                            const int64_t *dims, int64_t n, const char *what)
{
    struct gd_bcast it;
    const struct gd_tensor *ts[1] = {t};
    if (t->rank > rank || gd_bcast_init(&it, rank, dims, 1, ts) != 0) {
        gd_op_fail(ctx, GD_EINVAL, "%s does not broadcast to the normalised shape", what);
        return NULL;
    }
    double *out = gd_op_scratch(ctx, (size_t)(n ? n : 1) * sizeof(double));
    if (!out)
        return NULL;
    for (int64_t i = 0; i < n; i++, gd_bcast_next(&it))
        out[i] = gd_tensor_get_f64(t, it.off[0]);
    return out;
}

static int layernorm_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0), *s = gd_op_input(ctx, 1),
                           *b = gd_op_input(ctx, 2);
    if (!x || !s)
        return gd_op_fail(ctx, GD_EINVAL, "missing input");
    gd_op_range_fn fn = rn_kernel(x->dtype);
    if (!fn)
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s not supported", gd_dtype_name(x->dtype));
    int ax;
    int64_t axis = gd_op_attr_int(ctx, "axis", -1);
    if (gd_axis_normalize(axis, x->rank, &ax))
        return gd_op_fail(ctx, GD_EINVAL, "axis %lld out of range", (long long)axis);
    int64_t rows = 1, d = 1, mdims[GD_TENSOR_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        if (i < ax)
            rows *= x->dims[i];
        else
            d *= x->dims[i];
        mdims[i] = i < ax ? x->dims[i] : 1;
    }
    struct rn_job j = {
        .d = d, .r = 1, .q = 0, .p = 1, .eps = gd_op_attr_float(ctx, "epsilon", 1e-5f)};
    if (!(j.sc = expand_param(ctx, s, x->rank - ax, x->dims + ax, d, "Scale")))
        return GD_EINVAL;
    if (b && !(j.bi = expand_param(ctx, b, x->rank - ax, x->dims + ax, d, "B")))
        return GD_EINVAL;
    struct gd_tensor *y = gd_op_output_like(ctx, 0, x);
    if (!y)
        return GD_ENOMEM;
    enum gd_dtype st = (enum gd_dtype)gd_op_attr_int(ctx, "stash_type", GD_DTYPE_FLOAT);
    if (st != GD_DTYPE_FLOAT && st != GD_DTYPE_DOUBLE)
        st = GD_DTYPE_FLOAT;
    for (int k = 1; k <= 2; k++)
        if (gd_op_num_outputs(ctx) > k && gd_op_output_wanted(ctx, k)) {
            struct gd_tensor *t = gd_op_output(ctx, k, st, x->rank, mdims);
            if (!t)
                return GD_ENOMEM;
            *(k == 1 ? &j.mean : &j.inv) = t;
        }
    j.x = x->data;
    j.y = y->data;
    /* same element count as the normalised block and broadcastable to it: same layout */
    if (x->dtype == GD_DTYPE_FLOAT && d > 0 && s->dtype == GD_DTYPE_FLOAT && s->numel == d &&
        (!b || (b->dtype == GD_DTYPE_FLOAT && b->numel == d))) {
        j.fsc = s->data;
        j.fbi = b ? b->data : NULL;
        fn = rn_fast_f32;
    }
    gd_op_parallel_for(ctx, rows, 1 + 4096 / (d ? d : 1), fn, &j);
    return 0;
}

/* Reads a 1-d parameter of n elements into doubles. */
static double *read_vec(struct gd_op_ctx *ctx, const struct gd_tensor *t, int64_t n,
                        const char *what)
{
    if (!t || t->numel != n) {
        gd_op_fail(ctx, GD_EINVAL, "%s must have %lld elements", what, (long long)n);
        return NULL;
    }
    double *out = gd_op_scratch(ctx, (size_t)(n ? n : 1) * sizeof(double));
    for (int64_t i = 0; out && i < n; i++)
        out[i] = gd_tensor_get_f64(t, i);
    return out;
}

/* Shared by InstanceNorm (groups = C) and GroupNorm: rows are (n, group) blocks. */
static int group_rows(struct gd_op_ctx *ctx, int64_t groups, int per_channel)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0), *s = gd_op_input(ctx, 1),
                           *b = gd_op_input(ctx, 2);
    if (!x || !s || !b)
        return gd_op_fail(ctx, GD_EINVAL, "missing input");
    gd_op_range_fn fn = rn_kernel(x->dtype);
    if (!fn)
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s not supported", gd_dtype_name(x->dtype));
    if (x->rank < 2)
        return gd_op_fail(ctx, GD_EINVAL, "input rank %d < 2", x->rank);
    int64_t c = x->dims[1];
    if (groups < 1 || c % groups)
        return gd_op_fail(ctx, GD_EINVAL, "%lld channels do not split into %lld groups",
                          (long long)c, (long long)groups);
    int64_t spatial = 1;
    for (int i = 2; i < x->rank; i++)
        spatial *= x->dims[i];
    int64_t cg = c / groups, np = per_channel ? c : groups, blk = cg * spatial;
    struct rn_job j = {.d = blk,
                       .r = groups,
                       .q = per_channel ? cg : 1,
                       .p = per_channel ? (spatial > 0 ? spatial : 1) : (blk > 0 ? blk : 1),
                       .eps = gd_op_attr_float(ctx, "epsilon", 1e-5f)};
    if (!(j.sc = read_vec(ctx, s, np, "scale")) || !(j.bi = read_vec(ctx, b, np, "bias")))
        return GD_EINVAL;
    struct gd_tensor *y = gd_op_output_like(ctx, 0, x);
    if (!y)
        return GD_ENOMEM;
    j.x = x->data;
    j.y = y->data;
    gd_op_parallel_for(ctx, x->dims[0] * groups, 1, fn, &j);
    return 0;
}

static int instnorm_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0);
    return group_rows(ctx, x && x->rank >= 2 ? x->dims[1] : 1, 1);
}

/* GroupNormalization: scale/bias are per group at opset 18, per channel from 21. */
static int groupnorm_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0), *s = gd_op_input(ctx, 1);
    int64_t g = gd_op_attr_int(ctx, "num_groups", 0);
    int per_channel = gd_op_opset(ctx) >= 21 ||
                      (x && s && x->rank >= 2 && s->numel == x->dims[1] && s->numel != g);
    return group_rows(ctx, g, per_channel);
}

const struct gd_op_def gd_ops_norm[] = {
    {"", "LayerNormalization", 17, 0, layernorm_run, GD_OP_F_NOZERO},
    {"", "InstanceNormalization", 1, 0, instnorm_run, 0},
    {"", "GroupNormalization", 18, 0, groupnorm_run, 0},
    {0},
};
