/* Shape-only ops: Reshape, Flatten, Squeeze, Unsqueeze (the data is copied unchanged
 * under a new shape) and Shape, Size (which read only the shape).
 *
 * Opset history handled here: Reshape takes `shape` as an input since 5 (attribute
 * before) and `allowzero` since 14; Squeeze/Unsqueeze take `axes` as an input since 13;
 * Shape has start/end since 15. Every dim comes from the model: the new shape must have
 * exactly the input's element count, computed with overflow checks. */
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

/* Output 0 = x's data under (rank, dims); numel must match (checked by callers). */
static int emit_reshaped(struct gd_op_ctx *ctx, const struct gd_tensor *x, int rank,
                         const int64_t *dims)
{
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, rank, dims);
    if (!y)
        return GD_ENOMEM;
    if (y->numel != x->numel) {
        char a[128], b[128];
        return gd_op_fail(ctx, GD_EINVAL, "cannot reshape %s to %s",
                          gd_shape_str(x->rank, x->dims, a, sizeof a),
                          gd_shape_str(rank, dims, b, sizeof b));
    }
    if (y->data != x->data && x->nbytes)
        memcpy(y->data, x->data, x->nbytes);
    return gd__ot_own_strings(ctx, y);
}

/* Resolves Reshape's requested shape: 0 copies the input dim (unless allowzero), one -1
 * is inferred from the remaining element count. */
static int reshape_resolve(struct gd_op_ctx *ctx, const struct gd_tensor *x, int64_t *s, int n,
                           int allowzero)
{
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < n; i++) {
        if (s[i] == 0 && !allowzero) {
            if (i >= x->rank)
                return gd_op_fail(ctx, GD_EINVAL, "shape[%d] = 0 but input has rank %d", i,
                                  x->rank);
            s[i] = x->dims[i];
        }
        if (s[i] == -1) {
            if (infer >= 0)
                return gd_op_fail(ctx, GD_EINVAL, "more than one -1 in shape");
            infer = i;
            continue;
        }
        if (s[i] < 0)
            return gd_op_fail(ctx, GD_EINVAL, "invalid dim %lld in shape", (long long)s[i]);
        if (s[i] && known > GD_TENSOR_MAX_NUMEL / s[i])
            return gd_op_fail(ctx, GD_ERANGE, "shape too large");
        known *= s[i];
    }
    if (infer >= 0) {
        if (known == 0 || x->numel % known)
            return gd_op_fail(ctx, GD_EINVAL, "cannot infer -1: %lld elements into blocks of %lld",
                              (long long)x->numel, (long long)known);
        s[infer] = x->numel / known;
    }
    return 0;
}

static int reshape_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    int64_t s[GD_TENSOR_MAX_RANK];
    int n = gd__ot_int_list(ctx, gd_op_opset(ctx) >= 5 ? 1 : -1, "shape", s, GD_TENSOR_MAX_RANK);
    if (n < 0)
        return n == -1 ? gd_op_fail(ctx, GD_EINVAL, "missing shape") : n;
    if ((rc = reshape_resolve(ctx, x, s, n, (int)gd_op_attr_int(ctx, "allowzero", 0))))
        return rc;
    return emit_reshaped(ctx, x, n, s);
}

static int flatten_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    int64_t axis = gd_op_attr_int(ctx, "axis", 1);
    if (axis < -x->rank || axis > x->rank)
        return gd_op_fail(ctx, GD_EINVAL, "axis %lld out of range for rank %d", (long long)axis,
                          x->rank);
    if (axis < 0)
        axis += x->rank;
    int64_t d[2] = {gd__ot_prod(x->dims, 0, (int)axis), gd__ot_prod(x->dims, (int)axis, x->rank)};
    return emit_reshaped(ctx, x, 2, d);
}

static int squeeze_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    int64_t axes[GD_OT_MAX_LIST];
    int ax[GD_OT_MAX_LIST];
    int n = gd__ot_int_list(ctx, gd_op_opset(ctx) >= 13 ? 1 : -1, "axes", axes, GD_OT_MAX_LIST);
    if (n < -1)
        return n;
    unsigned drop = 0;
    if (n < 0) {
        for (int i = 0; i < x->rank; i++)
            if (x->dims[i] == 1)
                drop |= 1u << i;
    } else {
        if ((rc = gd__ot_norm_axes(ctx, axes, n, x->rank, ax)))
            return rc;
        for (int i = 0; i < n; i++) {
            if (x->dims[ax[i]] != 1)
                return gd_op_fail(ctx, GD_EINVAL, "cannot squeeze axis %d of size %lld", ax[i],
                                  (long long)x->dims[ax[i]]);
            drop |= 1u << ax[i];
        }
    }
    int64_t d[GD_TENSOR_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!(drop & (1u << i)))
            d[r++] = x->dims[i];
    return emit_reshaped(ctx, x, r, d);
}

static int unsqueeze_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    int64_t axes[GD_OT_MAX_LIST];
    int ax[GD_OT_MAX_LIST];
    int n = gd__ot_int_list(ctx, gd_op_opset(ctx) >= 13 ? 1 : -1, "axes", axes, GD_OT_MAX_LIST);
    if (n < -1)
        return n;
    if (n < 0)
        return gd_op_fail(ctx, GD_EINVAL, "missing axes");
    int rank = x->rank + n;
    if (rank > GD_TENSOR_MAX_RANK)
        return gd_op_fail(ctx, GD_ENOTSUP, "result rank %d exceeds %d", rank, GD_TENSOR_MAX_RANK);
    if ((rc = gd__ot_norm_axes(ctx, axes, n, rank, ax)))
        return rc;
    unsigned ins = 0;
    for (int i = 0; i < n; i++)
        ins |= 1u << ax[i];
    int64_t d[GD_TENSOR_MAX_RANK];
    for (int i = 0, j = 0; i < rank; i++)
        d[i] = (ins & (1u << i)) ? 1 : x->dims[j++];
    return emit_reshaped(ctx, x, rank, d);
}

/* Shape (start/end since 15: clamped like Python slicing, negative from the end). */
static int shape_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    int64_t r = x->rank, start = gd_op_attr_int(ctx, "start", 0),
            end = gd_op_attr_int(ctx, "end", r);
    if (start < 0)
        start += r;
    if (end < 0)
        end += r;
    start = start < 0 ? 0 : start > r ? r : start;
    end = end < 0 ? 0 : end > r ? r : end;
    int64_t n = end > start ? end - start : 0;
    struct gd_tensor *y = gd_op_output(ctx, 0, GD_DTYPE_INT64, 1, &n);
    if (!y)
        return GD_ENOMEM;
    for (int64_t i = 0; i < n; i++)
        ((int64_t *)y->data)[i] = x->dims[start + i];
    return 0;
}

static int size_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    struct gd_tensor *y = gd_op_output(ctx, 0, GD_DTYPE_INT64, 0, NULL);
    if (!y)
        return GD_ENOMEM;
    *(int64_t *)y->data = x->numel;
    return 0;
}

const struct gd_op_def gd_ops_shape[] = {
    {"", "Reshape", 1, 0, reshape_run, 0},
    {"", "Flatten", 1, 0, flatten_run, 0},
    {"", "Squeeze", 1, 0, squeeze_run, 0},
    {"", "Unsqueeze", 1, 0, unsqueeze_run, 0},
    {"", "Shape", 1, 0, shape_run, 0},
    {"", "Size", 1, 0, size_run, 0},
    {0},
};
