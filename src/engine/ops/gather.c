/* Indexing ops that read data at positions given by another tensor: Gather,
 * GatherElements, GatherND, Compress, NonZero and OneHot.
 *
 * Index values come from the model or the caller, so every one is checked before any
 * element moves: a negative index counts from the end (opset 11+ semantics, which older
 * models never exercise with valid data), anything outside [-dim, dim) is rejected with
 * the offending value, never read. Elements move as bytes, so every dtype works. */
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

/* Index i of an index tensor normalised against dim, or GD_EINVAL with a message. */
static int index_at(struct gd_op_ctx *ctx, const struct gd_tensor *t, int64_t i, int64_t dim,
                    int64_t *out)
{
    int64_t v = gd_tensor_get_i64(t, i);
    if (v < -dim || v >= dim)
        return gd_op_fail(ctx, GD_EINVAL, "index %lld out of range for dim %lld", (long long)v,
                          (long long)dim);
    *out = v < 0 ? v + dim : v;
    return 0;
}

static int check_index_dtype(struct gd_op_ctx *ctx, const struct gd_tensor *t)
{
    if (t->dtype != GD_DTYPE_INT32 && t->dtype != GD_DTYPE_INT64)
        return gd_op_fail(ctx, GD_EINVAL, "indices must be int32 or int64, not %s",
                          gd_dtype_name(t->dtype));
    return 0;
}

static int gather_run(struct gd_op_ctx *ctx)
{
    int rc = 0, ax;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc), *ind = x ? gd__ot_need(ctx, 1, &rc) : 0;
    if (!x || !ind)
        return rc;
    if ((rc = check_index_dtype(ctx, ind)))
        return rc;
    if (gd_axis_normalize(gd_op_attr_int(ctx, "axis", 0), x->rank, &ax))
        return gd_op_fail(ctx, GD_EINVAL, "axis out of range for rank %d", x->rank);
    int rank = x->rank - 1 + ind->rank;
    if (rank > GD_TENSOR_MAX_RANK)
        return gd_op_fail(ctx, GD_ENOTSUP, "result rank %d exceeds %d", rank, GD_TENSOR_MAX_RANK);
    int64_t d[GD_TENSOR_MAX_RANK], N = x->dims[ax], k;
    for (int i = 0, j = 0; i < x->rank; i++) {
        if (i != ax)
            d[j++] = x->dims[i];
        else
            for (int q = 0; q < ind->rank; q++)
                d[j++] = ind->dims[q];
    }
    int64_t *iv = gd_op_scratch(ctx, (size_t)(ind->numel ? ind->numel : 1) * sizeof *iv);
    if (!iv)
        return GD_ENOMEM;
    for (int64_t j = 0; j < ind->numel; j++)
        if ((rc = index_at(ctx, ind, j, N, &iv[j])))
            return rc;
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, rank, d);
    if (!y)
        return GD_ENOMEM;
    size_t es = gd_dtype_size(x->dtype);
    int64_t outer = gd__ot_prod(x->dims, 0, ax), inner = gd__ot_prod(x->dims, ax + 1, x->rank);
    size_t blk = (size_t)inner * es;
    char *yp = y->data;
    for (int64_t o = 0; o < outer && blk; o++)
        for (int64_t j = 0; j < ind->numel; j++, yp += blk) {
            k = iv[j];
            memcpy(yp, (const char *)x->data + (o * N + k) * inner * (int64_t)es, blk);
        }
    return gd__ot_own_strings(ctx, y);
}

static int gather_elements_run(struct gd_op_ctx *ctx)
{
    int rc = 0, ax;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc), *ind = x ? gd__ot_need(ctx, 1, &rc) : 0;
    if (!x || !ind)
        return rc;
    if ((rc = check_index_dtype(ctx, ind)))
        return rc;
    if (gd_axis_normalize(gd_op_attr_int(ctx, "axis", 0), x->rank, &ax))
        return gd_op_fail(ctx, GD_EINVAL, "axis out of range for rank %d", x->rank);
    if (ind->rank != x->rank)
        return gd_op_fail(ctx, GD_EINVAL, "indices rank %d differs from data rank %d", ind->rank,
                          x->rank);
    for (int i = 0; i < x->rank; i++)
        if (i != ax && ind->dims[i] > x->dims[i])
            return gd_op_fail(ctx, GD_EINVAL, "indices dim %d (%lld) exceeds data dim (%lld)", i,
                              (long long)ind->dims[i], (long long)x->dims[i]);
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, ind->rank, ind->dims);
    if (!y)
        return GD_ENOMEM;
    size_t es = gd_dtype_size(x->dtype);
    int64_t xs[GD_TENSOR_MAX_RANK], idx[GD_TENSOR_MAX_RANK] = {0}, off = 0, k = 0;
    gd_tensor_strides(x, xs);
    for (int64_t e = 0; e < y->numel; e++) {
        if ((rc = index_at(ctx, ind, e, x->dims[ax], &k)))
            return rc;
        memcpy((char *)y->data + e * (int64_t)es,
               (const char *)x->data + (off + k * xs[ax]) * (int64_t)es, es);
        gd__ot_step_except_axis(ind->rank, ind->dims, xs, ax, idx, &off);
    }
    return gd__ot_own_strings(ctx, y);
}

static int gather_nd_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc), *ind = x ? gd__ot_need(ctx, 1, &rc) : 0;
    if (!x || !ind)
        return rc;
    if (ind->dtype != GD_DTYPE_INT64 && (rc = check_index_dtype(ctx, ind)))
        return rc;
    int64_t b = gd_op_attr_int(ctx, "batch_dims", 0), k;
    int q = ind->rank, r = x->rank;
    if (q < 1 || b < 0 || b >= q || b >= r)
        return gd_op_fail(ctx, GD_EINVAL, "bad batch_dims %lld for ranks %d/%d", (long long)b, r,
                          q);
    k = ind->dims[q - 1];
    if (k < 1 || k > r - b)
        return gd_op_fail(ctx, GD_EINVAL, "last indices dim %lld must be in [1, %lld]",
                          (long long)k, (long long)(r - b));
    int rank = q - 1 + r - (int)(b + k);
    int64_t d[GD_TENSOR_MAX_RANK + GD_TENSOR_MAX_RANK], xs[GD_TENSOR_MAX_RANK];
    if (rank > GD_TENSOR_MAX_RANK)
        return gd_op_fail(ctx, GD_ENOTSUP, "result rank %d exceeds %d", rank, GD_TENSOR_MAX_RANK);
    for (int i = 0; i < b; i++)
        if (ind->dims[i] != x->dims[i])
            return gd_op_fail(ctx, GD_EINVAL, "batch dim %d differs between data and indices", i);
    for (int i = 0; i < q - 1; i++)
        d[i] = ind->dims[i];
    for (int i = (int)(b + k); i < r; i++)
        d[q - 1 + i - (int)(b + k)] = x->dims[i];
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, rank, d);
    if (!y)
        return GD_ENOMEM;
    gd_tensor_strides(x, xs);
    size_t es = gd_dtype_size(x->dtype);
    int64_t B = gd__ot_prod(ind->dims, 0, (int)b), T = gd__ot_prod(ind->dims, (int)b, q - 1);
    int64_t S = gd__ot_prod(x->dims, (int)(b + k), r), bstride = b ? xs[b - 1] : 0, v = 0;
    for (int64_t bi = 0; bi < B; bi++)
        for (int64_t t = 0; t < T; t++) {
            int64_t off = bi * bstride, base = (bi * T + t) * k;
            for (int64_t j = 0; j < k; j++) {
                if ((rc = index_at(ctx, ind, base + j, x->dims[b + j], &v)))
                    return rc;
                off += v * xs[b + j];
            }
            if (S)
                memcpy((char *)y->data + (bi * T + t) * S * (int64_t)es,
                       (const char *)x->data + off * (int64_t)es, (size_t)S * es);
        }
    return gd__ot_own_strings(ctx, y);
}

/* Compress: keeps the slices along axis (or of the flattened input) whose condition is
 * true; a condition shorter than the dim drops the rest. */
static int compress_run(struct gd_op_ctx *ctx)
{
    int rc = 0, ax = -1;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc), *c = x ? gd__ot_need(ctx, 1, &rc) : 0;
    if (!x || !c)
        return rc;
    if (c->rank != 1 || c->dtype == GD_DTYPE_STRING)
        return gd_op_fail(ctx, GD_EINVAL, "condition must be a 1-D bool tensor");
    if (gd_op_attr_has(ctx, "axis") &&
        gd_axis_normalize(gd_op_attr_int(ctx, "axis", 0), x->rank, &ax))
        return gd_op_fail(ctx, GD_EINVAL, "axis out of range for rank %d", x->rank);
    int64_t N = ax < 0 ? x->numel : x->dims[ax], n = c->numel < N ? c->numel : N, cnt = 0;
    for (int64_t i = 0; i < n; i++)
        cnt += gd_tensor_get_f64(c, i) != 0;
    int64_t d[GD_TENSOR_MAX_RANK];
    int rank = ax < 0 ? 1 : x->rank;
    if (ax < 0)
        d[0] = cnt;
    else
        memcpy(d, x->dims, sizeof d), d[ax] = cnt;
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, rank, d);
    if (!y)
        return GD_ENOMEM;
    size_t es = gd_dtype_size(x->dtype);
    int64_t outer = ax < 0 ? 1 : gd__ot_prod(x->dims, 0, ax);
    int64_t inner = ax < 0 ? 1 : gd__ot_prod(x->dims, ax + 1, x->rank);
    char *yp = y->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < n; i++)
            if (gd_tensor_get_f64(c, i) != 0) {
                memcpy(yp, (const char *)x->data + (o * N + i) * inner * (int64_t)es,
                       (size_t)inner * es);
                yp += inner * (int64_t)es;
            }
    return gd__ot_own_strings(ctx, y);
}

/* NonZero: [rank, nnz] int64 coordinates in row-major order (a scalar counts as 1-D). */
static int nonzero_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    if (x->dtype == GD_DTYPE_STRING)
        return gd_op_fail(ctx, GD_ENOTSUP, "string input");
    int64_t nnz = 0, r = x->rank ? x->rank : 1;
    for (int64_t i = 0; i < x->numel; i++)
        nnz += gd_tensor_get_f64(x, i) != 0;
    int64_t d[2] = {r, nnz}, xs[GD_TENSOR_MAX_RANK] = {1};
    struct gd_tensor *y = gd_op_output(ctx, 0, GD_DTYPE_INT64, 2, d);
    if (!y)
        return GD_ENOMEM;
    gd_tensor_strides(x, xs);
    int64_t *Y = y->data, j = 0;
    for (int64_t i = 0; i < x->numel; i++) {
        if (gd_tensor_get_f64(x, i) == 0)
            continue;
        for (int a = 0; a < x->rank; a++)
            Y[a * nnz + j] = (i / xs[a]) % x->dims[a];
        j++;
    }
    return 0;
}

static int onehot_run(struct gd_op_ctx *ctx)
{
    int rc = 0, ax;
    const struct gd_tensor *ind = gd__ot_need(ctx, 0, &rc);
    const struct gd_tensor *dep = ind ? gd__ot_need(ctx, 1, &rc) : 0;
    const struct gd_tensor *val = dep ? gd__ot_need(ctx, 2, &rc) : 0;
    if (!val)
        return rc;
    double depf;
    if ((rc = gd__ot_scalar_f64(ctx, dep, "depth", &depf)))
        return rc;
    if (!(depf >= 1 && depf <= (double)GD_TENSOR_MAX_NUMEL))
        return gd_op_fail(ctx, GD_EINVAL, "depth %g out of range", depf);
    if (val->numel != 2 || ind->dtype == GD_DTYPE_STRING)
        return gd_op_fail(ctx, GD_EINVAL, "values must have 2 elements, indices be numeric");
    int64_t depth = (int64_t)depf;
    int rank = ind->rank + 1;
    if (rank > GD_TENSOR_MAX_RANK)
        return gd_op_fail(ctx, GD_ENOTSUP, "result rank %d exceeds %d", rank, GD_TENSOR_MAX_RANK);
    if (gd_axis_normalize(gd_op_attr_int(ctx, "axis", -1), rank, &ax))
        return gd_op_fail(ctx, GD_EINVAL, "axis out of range for rank %d", rank);
    int64_t d[GD_TENSOR_MAX_RANK];
    for (int i = 0, j = 0; i < rank; i++)
        d[i] = i == ax ? depth : ind->dims[j++];
    struct gd_tensor *y = gd_op_output(ctx, 0, val->dtype, rank, d);
    if (!y)
        return GD_ENOMEM;
    size_t es = gd_dtype_size(val->dtype);
    const char *off = val->data, *on = (const char *)val->data + es;
    for (int64_t e = 0; e < y->numel; e++)
        memcpy((char *)y->data + e * (int64_t)es, off, es);
    int64_t inner = gd__ot_prod(ind->dims, ax, ind->rank), outer = gd__ot_prod(ind->dims, 0, ax);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double v = gd_tensor_get_f64(ind, o * inner + i);
            if (v < 0)
                v += (double)depth;
            if (!(v >= 0 && v < (double)depth))
                continue; /* out of range: the whole row stays off */
            int64_t k = (int64_t)v;
            memcpy((char *)y->data + ((o * depth + k) * inner + i) * (int64_t)es, on, es);
        }
    return gd__ot_own_strings(ctx, y);
}

const struct gd_op_def gd_ops_gather[] = {
    {"", "Gather", 1, 0, gather_run, 0},
    {"", "GatherElements", 11, 0, gather_elements_run, 0},
    {"", "GatherND", 11, 0, gather_nd_run, 0},
    {"", "Compress", 9, 0, compress_run, 0},
    {"", "NonZero", 9, 0, nonzero_run, 0},
    {"", "OneHot", 9, 0, onehot_run, 0},
    {0},
};
