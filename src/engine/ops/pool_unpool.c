/* MaxUnpool: scatters X into a zero tensor at the flat positions given by I (the Indices
 * output of MaxPool: flat over the whole output, n and c included). The output spatial
 * shape is (in - 1) * stride + kernel - pad_begin - pad_end, or the optional output_shape
 * input (full [N, C, ...] shape). Indices address the default layout (as MaxPool produced
 * them) and are re-addressed into output_shape, as the ONNX reference does. Every index
 * is range-checked. */
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"

static int unpool_shape(struct gd_op_ctx *ctx, const struct gd_tensor *x, int64_t *dims)
{
    int nsp = x->rank - 2;
    const int64_t *k, *s, *p;
    int nk = gd_op_attr_ints(ctx, "kernel_shape", &k), ns = gd_op_attr_ints(ctx, "strides", &s);
    int np = gd_op_attr_ints(ctx, "pads", &p);
    if (nk != nsp || (ns >= 0 && ns != nsp) || (np >= 0 && np != 2 * nsp))
        return gd_op_fail(ctx, GD_EINVAL, "kernel_shape/strides/pads do not match rank %d",
                          x->rank);
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int d = 0; d < nsp; d++) {
        int64_t st = ns > 0 ? s[d] : 1, pb = np > 0 ? p[d] : 0, pe = np > 0 ? p[d + nsp] : 0;
        if (st < 1 || st > (1 << 20) || k[d] < 1 || k[d] > (1 << 20) || pb < 0 || pe < 0)
            return gd_op_fail(ctx, GD_EINVAL, "bad kernel/stride/pads on dim %d", d);
        dims[2 + d] = (x->dims[2 + d] - 1) * st + k[d] - pb - pe;
        if (dims[2 + d] < 0)
            return gd_op_fail(ctx, GD_EINVAL, "negative output dim %d", d);
    }
    return 0;
}

static int maxunpool_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0), *ix = gd_op_input(ctx, 1),
                           *osh = gd_op_input(ctx, 2);
    if (!x || !ix || x->rank < 3 || !gd_tensor_same_shape(x, ix) || ix->dtype != GD_DTYPE_INT64)
        return gd_op_fail(ctx, GD_EINVAL, "X (rank >= 3) and int64 I of the same shape required");
    if (x->dtype == GD_DTYPE_STRING)
        return gd_op_fail(ctx, GD_ENOTSUP, "string input not supported");
    int64_t dims[GD_TENSOR_MAX_RANK], def[GD_TENSOR_MAX_RANK];
    int rc = unpool_shape(ctx, x, def);
    if (rc)
        return rc;
    if (!osh)
        memcpy(dims, def, sizeof def);
    else if (gd_tensor_to_i64s(osh, dims, GD_TENSOR_MAX_RANK) != x->rank)
        return gd_op_fail(ctx, GD_EINVAL, "output_shape must have %d values", x->rank);
    if (dims[0] != x->dims[0] || dims[1] != x->dims[1])
        return gd_op_fail(ctx, GD_EINVAL, "output_shape must keep N and C");
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, x->rank, dims);
    if (!y)
        return GD_ENOMEM;
    int64_t dnum = 1;
    for (int d = 0; d < x->rank; d++)
        dnum *= def[d];
    const int64_t *I = ix->data;
    size_t es = gd_dtype_size(x->dtype);
    for (int64_t i = 0; i < x->numel; i++) {
        /* indices address the default output layout; re-address them in `dims` */
        int64_t v = I[i], off = 0, mul = 1;
        if (v < 0 || v >= dnum)
            return gd_op_fail(ctx, GD_EINVAL, "index %lld out of range [0, %lld)", (long long)v,
                              (long long)dnum);
        for (int d = x->rank - 1; d >= 0; d--) {
            int64_t c = v % def[d];
            v /= def[d];
            if (c >= dims[d])
                return gd_op_fail(ctx, GD_EINVAL, "index %lld outside output_shape",
                                  (long long)I[i]);
            off += c * mul;
            mul *= dims[d];
        }
        memcpy((char *)y->data + (size_t)off * es, (const char *)x->data + (size_t)i * es, es);
    }
    return 0;
}

const struct gd_op_def gd_ops_pool_unpool[] = {
    {"", "MaxUnpool", 9, 0, maxunpool_run, 0},
    {0},
};
