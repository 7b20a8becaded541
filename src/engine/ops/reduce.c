/* Reductions: ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare, ArgMax,
 * ArgMin and CumSum.
 *
 * `axes` is an input for ReduceSum since opset 13 and for the others since 18 (an
 * attribute before); empty or absent axes reduce everything unless
 * noop_with_empty_axes = 1 (then the input passes through unchanged).
 * Values are accumulated in double (exact for float16/float32 inputs and for integers up
 * to 2^53) and stored back in the input's dtype. Each output element reads its elements in
 * chunks straight from the input: one strided run when the reduced axes are adjacent (the
 * usual case: last axis, or all axes), an odometer otherwise; outputs are spread over the
 * engine's threads. Reducing an empty set gives the identity of the
 * operation (0, 1, -inf for max/log-sum, +inf for min, NaN for mean). */
#include <math.h>
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

enum rkind { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQ };

struct red_job {
    const struct gd_tensor *t;                              /* the input */
    double *y;                                              /* one value per output element */
    int kr, rr;                                             /* kept / reduced dim counts */
    int64_t kd[GD_TENSOR_MAX_RANK], ks[GD_TENSOR_MAX_RANK]; /* kept dims and input strides */
    int64_t rd[GD_TENSOR_MAX_RANK], rs[GD_TENSOR_MAX_RANK]; /* reduced dims and strides */
    int64_t count;                                          /* elements per reduction */
    int64_t stride; /* > 0: the reduced elements are base + i * stride (one strided run) */
    enum rkind kind;
};

enum { CHUNK = 256 };

/* out[i] = x[off + i * stride] as doubles, for any numeric/bool/float16 dtype. */
#define LOAD_STRIDED(E, T, S)                                                                      \
    case E:                                                                                        \
        for (int64_t i = 0; i < n; i++)                                                            \
            out[i] = (double)((const T *)x->data)[off + i * stride];                               \
        return;
static void load_strided(const struct gd_tensor *x, int64_t off, int64_t stride, int64_t n,
                         double *out)
{
    if (stride == 1) {
        gd__ot_load_f64(x, off, n, out);
        return;
    }
    switch (x->dtype) {
        GD_DTYPE_FOREACH_NUMERIC(LOAD_STRIDED)
    default:
        for (int64_t i = 0; i < n; i++)
            out[i] = gd_tensor_get_f64(x, off + i * stride);
    }
}

/* Folds n values into the accumulator (m: the max, for log-sum-exp). */
static double fold(enum rkind k, const double *v, int64_t n, double acc, double m)
{
    switch (k) {
    case R_MAX:
        for (int64_t i = 0; i < n; i++)
            acc = (v[i] > acc || v[i] != v[i]) ? v[i] : acc;
        return acc;
    case R_MIN:
        for (int64_t i = 0; i < n; i++)
            acc = (v[i] < acc || v[i] != v[i]) ? v[i] : acc;
        return acc;
    case R_PROD:
        for (int64_t i = 0; i < n; i++)
            acc *= v[i];
        return acc;
    case R_L1:
        for (int64_t i = 0; i < n; i++)
            acc += fabs(v[i]);
        return acc;
    case R_L2:
    case R_SUMSQ:
        for (int64_t i = 0; i < n; i++)
            acc += v[i] * v[i];
        return acc;
    case R_LOGSUMEXP:
        for (int64_t i = 0; i < n; i++)
            acc += exp(v[i] - m);
        return acc;
    default:
        for (int64_t i = 0; i < n; i++)
            acc += v[i];
        return acc;
    }
}

/* Visits the reduced elements of one output in chunks: a strided run when the reduced
 * axes are adjacent (the common case), else an odometer over the reduced dims. */
static double reduce_pass(const struct red_job *j, int64_t base, enum rkind k, double acc, double m)
{
    double buf[CHUNK];
    if (j->stride > 0) {
        for (int64_t p = 0; p < j->count; p += CHUNK) {
            int64_t n = j->count - p < CHUNK ? j->count - p : CHUNK;
            load_strided(j->t, base + p * j->stride, j->stride, n, buf);
            acc = fold(k, buf, n, acc, m);
        }
        return acc;
    }
    int64_t idx[GD_TENSOR_MAX_RANK] = {0}, off = base, n = 0;
    for (int64_t i = 0; i < j->count; i++) {
        buf[n++] = gd_tensor_get_f64(j->t, off);
        if (n == CHUNK || i + 1 == j->count)
            acc = fold(k, buf, n, acc, m), n = 0;
        for (int d = j->rr - 1; d >= 0; d--) {
            off += j->rs[d];
            if (++idx[d] < j->rd[d])
                break;
            off -= j->rs[d] * j->rd[d];
            idx[d] = 0;
        }
    }
    return acc;
}

/* Reduces the elements x[base + reduced offsets] into one value. */
static double reduce_one(const struct red_job *j, int64_t base)
{
    enum rkind k = j->kind;
    double m = 0;
    if (k == R_LOGSUMEXP) { /* pass 1: the max, for a stable log-sum-exp */
        m = reduce_pass(j, base, R_MAX, -INFINITY, 0);
        if (isinf(m) || m != m)
            return m;
    }
    double acc = reduce_pass(j, base, k,
                             k == R_PROD  ? 1
                             : k == R_MAX ? -INFINITY
                             : k == R_MIN ? INFINITY
                                          : 0,
                             m);
    switch (k) {
    case R_MEAN:
        return acc / (double)j->count;
    case R_L2:
        return sqrt(acc);
    case R_LOGSUM:
        return log(acc);
    case R_LOGSUMEXP:
        return m + log(acc);
    default:
        return acc;
    }
}

static void reduce_range(void *ud, int64_t begin, int64_t end)
{
    const struct red_job *j = ud;
    for (int64_t o = begin; o < end; o++) {
        int64_t rem = o, base = 0;
        for (int d = j->kr - 1; d >= 0; d--) {
            base += (rem % j->kd[d]) * j->ks[d];
            rem /= j->kd[d];
        }
        j->y[o] = reduce_one(j, base);
    }
}

/* Reads axes (input 1 from `axes_input_since`, else the attribute) into a bit mask. */
static int reduce_axes(struct gd_op_ctx *ctx, const struct gd_tensor *x, int since, unsigned *mask,
                       int *noop)
{
    int64_t axes[GD_OT_MAX_LIST];
    int ax[GD_OT_MAX_LIST], rc;
    int n = gd__ot_int_list(ctx, gd_op_opset(ctx) >= since ? 1 : -1, "axes", axes, GD_OT_MAX_LIST);
    if (n < -1)
        return n;
    *noop = 0;
    *mask = 0;
    if (n <= 0) {
        *noop = gd_op_attr_int(ctx, "noop_with_empty_axes", 0) != 0;
        *mask = x->rank ? (1u << x->rank) - 1 : 0;
        return 0;
    }
    if ((rc = gd__ot_norm_axes(ctx, axes, n, x->rank, ax)))
        return rc;
    for (int i = 0; i < n; i++)
        *mask |= 1u << ax[i];
    return 0;
}

static int reduce_run(struct gd_op_ctx *ctx, enum rkind kind, int since)
{
    int rc = 0, noop;
    unsigned mask;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    if (x->dtype == GD_DTYPE_STRING)
        return gd_op_fail(ctx, GD_ENOTSUP, "string input");
    if ((rc = reduce_axes(ctx, x, since, &mask, &noop)))
        return rc;
    if (noop) { /* empty axes with noop_with_empty_axes: the input unchanged */
        struct gd_tensor *c = gd_op_output_like(ctx, 0, x);
        if (!c)
            return GD_ENOMEM;
        if (c->data != x->data && x->nbytes)
            memcpy(c->data, x->data, x->nbytes);
        return 0;
    }
    int keep = gd_op_attr_int(ctx, "keepdims", 1) != 0, rank = 0, first = -1, last = -1;
    int64_t d[GD_TENSOR_MAX_RANK], xs[GD_TENSOR_MAX_RANK];
    struct red_job j = {.t = x, .kind = kind, .count = 1};
    gd_tensor_strides(x, xs);
    for (int i = 0; i < x->rank; i++) {
        if (!(mask & (1u << i))) {
            d[rank++] = x->dims[i];
            j.kd[j.kr] = x->dims[i], j.ks[j.kr++] = xs[i];
        } else {
            if (keep)
                d[rank++] = 1;
            j.rd[j.rr] = x->dims[i], j.rs[j.rr++] = xs[i];
            j.count *= x->dims[i];
            if (x->dims[i] != 1) /* span of the reduced axes that matter */
                first = first < 0 ? i : first, last = i;
        }
    }
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, rank, d);
    if (!y)
        return GD_ENOMEM;
    /* Reduced axes adjacent (kept axes between them all of size 1): one strided run. */
    j.stride = 1;
    for (int i = first; first >= 0 && i <= last; i++)
        if (!(mask & (1u << i)) && x->dims[i] != 1)
            j.stride = 0;
    if (j.stride && first >= 0)
        j.stride = xs[last];
    j.y = gd_op_scratch(ctx, (size_t)(y->numel ? y->numel : 1) * sizeof(double));
    if (!j.y)
        return GD_ENOMEM;
    if (j.count == 0) /* empty reduction: never index the input */
        j.rr = 0;
    gd_op_parallel_for(ctx, y->numel, j.count > 4096 ? 1 : 4096 / (j.count + 1) + 1, reduce_range,
                       &j);
    gd__ot_store_f64(y, 0, y->numel, j.y);
    return 0;
}

#define DEF_REDUCE(name, kind, since)                                                              \
    static int name##_run(struct gd_op_ctx *ctx)                                                   \
    {                                                                                              \
        return reduce_run(ctx, kind, since);                                                       \
    }
DEF_REDUCE(rsum, R_SUM, 13)
DEF_REDUCE(rmean, R_MEAN, 18)
DEF_REDUCE(rmax, R_MAX, 18)
DEF_REDUCE(rmin, R_MIN, 18)
DEF_REDUCE(rprod, R_PROD, 18)
DEF_REDUCE(rl1, R_L1, 18)
DEF_REDUCE(rl2, R_L2, 18)
DEF_REDUCE(rlogsum, R_LOGSUM, 18)
DEF_REDUCE(rlogsumexp, R_LOGSUMEXP, 18)
DEF_REDUCE(rsumsq, R_SUMSQ, 18)

/* ArgMax / ArgMin along axis: int64 indices, first (or last) extreme on ties. */
static int arg_run(struct gd_op_ctx *ctx, int is_max)
{
    int rc = 0, ax;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    if (x->dtype == GD_DTYPE_STRING)
        return gd_op_fail(ctx, GD_ENOTSUP, "string input");
    if (gd_axis_normalize(gd_op_attr_int(ctx, "axis", 0), x->rank, &ax))
        return gd_op_fail(ctx, GD_EINVAL, "axis out of range for rank %d", x->rank);
    int keep = gd_op_attr_int(ctx, "keepdims", 1) != 0;
    int last = gd_op_attr_int(ctx, "select_last_index", 0) != 0, rank = 0;
    int64_t d[GD_TENSOR_MAX_RANK], N = x->dims[ax];
    if (N == 0)
        return gd_op_fail(ctx, GD_EINVAL, "cannot take arg%s over an empty axis",
                          is_max ? "max" : "min");
    for (int i = 0; i < x->rank; i++)
        if (i != ax || keep)
            d[rank++] = i == ax ? 1 : x->dims[i];
    struct gd_tensor *y = gd_op_output(ctx, 0, GD_DTYPE_INT64, rank, d);
    if (!y)
        return GD_ENOMEM;
    int64_t outer = gd__ot_prod(x->dims, 0, ax), inner = gd__ot_prod(x->dims, ax + 1, x->rank);
    int64_t *Y = y->data;
    double buf[CHUNK];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t best = 0;
            double bv = 0;
            for (int64_t p = 0; p < N; p += CHUNK) { /* the slice, streamed in chunks */
                int64_t n = N - p < CHUNK ? N - p : CHUNK;
                load_strided(x, (o * N + p) * inner + i, inner, n, buf);
                for (int64_t k = 0; k < n; k++) {
                    double a = buf[k];
                    int better = p + k == 0 || (is_max ? (a > bv || (last && a == bv))
                                                       : (a < bv || (last && a == bv)));
                    if (better)
                        best = p + k, bv = a;
                }
            }
            Y[o * inner + i] = best;
        }
    return 0;
}

static int argmax_run(struct gd_op_ctx *ctx)
{
    return arg_run(ctx, 1);
}

static int argmin_run(struct gd_op_ctx *ctx)
{
    return arg_run(ctx, 0);
}

/* CumSum in the element type (integers wrap through unsigned arithmetic). */
#define DEF_CUMSUM(E, T, S)                                                                        \
    static void cumsum_##S(const void *xp, void *yp, int64_t outer, int64_t N, int64_t inner,      \
                           int excl, int rev)                                                      \
    {                                                                                              \
        const T *x = xp;                                                                           \
        T *y = yp;                                                                                 \
        for (int64_t o = 0; o < outer; o++)                                                        \
            for (int64_t i = 0; i < inner; i++) {                                                  \
                T acc = 0;                                                                         \
                for (int64_t s = 0; s < N; s++) {                                                  \
                    int64_t k = rev ? N - 1 - s : s, e = (o * N + k) * inner + i;                  \
                    T v = x[e];                                                                    \
                    if (excl)                                                                      \
                        y[e] = acc;                                                                \
                    acc = gd_dtype_is_int(E) ? (T)((uint64_t)acc + (uint64_t)v) : (T)(acc + v);    \
                    if (!excl)                                                                     \
                        y[e] = acc;                                                                \
                }                                                                                  \
            }                                                                                      \
    }
GD_DTYPE_FOREACH_NUMERIC(DEF_CUMSUM)

static int cumsum_run(struct gd_op_ctx *ctx)
{
    int rc = 0, ax;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc), *at = x ? gd__ot_need(ctx, 1, &rc) : 0;
    if (!at)
        return rc;
    int64_t axis;
    if ((rc = gd__ot_scalar_i64(ctx, at, "axis", &axis)))
        return rc;
    if (gd_axis_normalize(axis, x->rank, &ax))
        return gd_op_fail(ctx, GD_EINVAL, "axis %lld out of range for rank %d", (long long)axis,
                          x->rank);
    struct gd_tensor *y = gd_op_output_like(ctx, 0, x);
    if (!y)
        return GD_ENOMEM;
    int excl = gd_op_attr_int(ctx, "exclusive", 0) != 0,
        rev = gd_op_attr_int(ctx, "reverse", 0) != 0;
    int64_t outer = gd__ot_prod(x->dims, 0, ax), inner = gd__ot_prod(x->dims, ax + 1, x->rank);
#define CALL_CUMSUM(E, T, S)                                                                       \
    case E:                                                                                        \
        cumsum_##S(x->data, y->data, outer, x->dims[ax], inner, excl, rev);                        \
        return 0;
    switch (x->dtype) {
        GD_DTYPE_FOREACH_NUMERIC(CALL_CUMSUM)
    default:
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s", gd_dtype_name(x->dtype));
    }
#undef CALL_CUMSUM
}

const struct gd_op_def gd_ops_reduce[] = {
    {"", "ReduceSum", 1, 0, rsum_run, 0},
    {"", "ReduceMean", 1, 0, rmean_run, 0},
    {"", "ReduceMax", 1, 0, rmax_run, 0},
    {"", "ReduceMin", 1, 0, rmin_run, 0},
    {"", "ReduceProd", 1, 0, rprod_run, 0},
    {"", "ReduceL1", 1, 0, rl1_run, 0},
    {"", "ReduceL2", 1, 0, rl2_run, 0},
    {"", "ReduceLogSum", 1, 0, rlogsum_run, 0},
    {"", "ReduceLogSumExp", 1, 0, rlogsumexp_run, 0},
    {"", "ReduceSumSquare", 1, 0, rsumsq_run, 0},
    {"", "ArgMax", 1, 0, argmax_run, 0},
    {"", "ArgMin", 1, 0, argmin_run, 0},
    {"", "CumSum", 11, 0, cumsum_run, 0},
    {0},
};
