/* ConvTranspose: the adjoint of Conv, by GEMM + col2im.
 *
 * X [N, C, in...], W [C, M/group, k...], Y [N, M, out...]. Per (image, group):
 * col [M/g * K, in] = W_g^T [M/g*K, C/g] x X_g [C/g, in], then col2im scatters every
 * column entry onto the output position (o * stride - pad_begin + k * dilation), which is
 * the forward-conv geometry with input and output swapped.
 *
 * Output shape (ONNX spec): out = stride * (in - 1) + output_padding + eff_k - pb - pe
 * from explicit pads; with output_shape (or auto_pad SAME_*, whose output is in * stride)
 * the total padding is derived and split: SAME_UPPER puts the odd unit at the end,
 * otherwise at the start (floor halves as the ONNX reference; a negative total, i.e. an
 * output_shape larger than the natural one, leaves the extra positions to the bias). */
#include <string.h>

#include "core/alloc.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/im2col.h"
#include "engine/op.h"
#include "engine/ops/conv.h"
#include "engine/ops/registry.h"

static int64_t attr_at(const int64_t *v, int n, int i, int64_t def)
{
    return (v && n > i) ? v[i] : def;
}

/* Fills g with in = output spatial dims, out = X spatial dims (the column grid). */
static int convt_geom(struct gd_op_ctx *ctx, const struct gd_tensor *x, const struct gd_tensor *w,
                      struct gd_conv_geom *g)
{
    int nsp = x->rank - 2;
    struct gd_conv_attrs a;
    gd__conv_read_attrs(ctx, &a, 0);
    const int64_t *osh, *opad;
    int nosh = gd_op_attr_ints(ctx, "output_shape", &osh);
    int nop = gd_op_attr_ints(ctx, "output_padding", &opad);
    if (nosh > nsp)
        osh += nosh - nsp, nosh = nsp; /* full [N, C, ...] shapes are accepted too */
    int same = strcmp(a.auto_pad, "SAME_UPPER") == 0 || strcmp(a.auto_pad, "SAME_LOWER") == 0;
    int upper = strcmp(a.auto_pad, "SAME_UPPER") == 0;
    if (a.npads >= 0 && a.npads != 2 * nsp)
        return gd_op_fail(ctx, GD_EINVAL, "pads has %d values, expected %d", a.npads, 2 * nsp);
    memset(g, 0, sizeof *g);
    g->nsp = nsp;
    g->in_size = g->k_size = g->out_size = 1;
    for (int d = 0; d < nsp; d++) {
        int64_t in = x->dims[2 + d], k = w->dims[2 + d];
        int64_t s = attr_at(a.strides, a.nstrides, d, 1),
                dl = attr_at(a.dilations, a.ndilations, d, 1);
        int64_t op = attr_at(opad, nop, d, 0);
        if (s < 1 || dl < 1 || op < 0 || s > (1 << 20) || dl > (1 << 20) || op > (1 << 20) ||
            k > (1 << 20))
            return gd_op_fail(ctx, GD_EINVAL, "bad stride/dilation/output_padding on dim %d", d);
        int64_t full = s * (in - 1) + op + (k - 1) * dl + 1, out, pb, pe;
        if (nosh == nsp || same) {
            out = nosh == nsp ? osh[d] : in * s;
            int64_t total = full - out, half = total >= 0 ? total / 2 : -((1 - total) / 2);
            pb = upper ? half : total - half; /* floor halves: total may be negative */
            pe = total - pb;
        } else {
            pb = attr_at(a.pads, a.npads, d, 0);
            pe = attr_at(a.pads, a.npads, d + nsp, 0);
            out = full - pb - pe;
        }
        if (out < 0 || (nosh != nsp && !same && (pb < 0 || pe < 0)))
            return gd_op_fail(ctx, GD_EINVAL, "output shape / pads inconsistent on dim %d", d);
        g->in[d] = out;
        g->out[d] = in;
        g->k[d] = k;
        g->stride[d] = s;
        g->dil[d] = dl;
        g->pb[d] = pb;
        g->pe[d] = pe;
        g->in_size *= out;
        g->out_size *= in;
        g->k_size *= k;
    }
    return 0;
}

struct ct_job {
    const struct gd_conv_geom *g;
    const void *col;
    void *y;
    int f64;
};

static void col2im_range(void *ud, int64_t b, int64_t e)
{
    const struct ct_job *j = ud;
    if (j->f64)
        gd_col2im_f64(j->g, j->col, j->y, b, e);
    else
        gd_col2im_f32(j->g, j->col, j->y, b, e);
}

static int convt_check(struct gd_op_ctx *ctx, const struct gd_tensor *x, const struct gd_tensor *w,
                       const struct gd_tensor *bias, int64_t group)
{
    if (x->dtype != w->dtype || (bias && bias->dtype != x->dtype))
        return gd_op_fail(ctx, GD_EINVAL, "input dtypes differ");
    if (x->dtype != GD_DTYPE_FLOAT && x->dtype != GD_DTYPE_DOUBLE)
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s not supported", gd_dtype_name(x->dtype));
    if (x->rank < 3 || w->rank != x->rank || x->rank - 2 > GD_CONV_MAX_SP)
        return gd_op_fail(ctx, GD_EINVAL, "X rank %d and W rank %d must be equal and >= 3", x->rank,
                          w->rank);
    if (group < 1 || x->dims[1] % group || w->dims[0] != x->dims[1])
        return gd_op_fail(ctx, GD_EINVAL, "W dim 0 (%lld) must equal C (%lld), divisible by group",
                          (long long)w->dims[0], (long long)x->dims[1]);
    if (bias && (bias->rank != 1 || bias->dims[0] != w->dims[1] * group))
        return gd_op_fail(ctx, GD_EINVAL, "bias must have M elements");
    return gd__conv_check_kernel_shape(ctx, x->rank - 2, w->dims + 2);
}

static int convt_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0), *w = gd_op_input(ctx, 1),
                           *bias = gd_op_input(ctx, 2);
    if (!x || !w)
        return gd_op_fail(ctx, GD_EINVAL, "missing input");
    int64_t group = gd_op_attr_int(ctx, "group", 1);
    struct gd_conv_geom g;
    int rc;
    if ((rc = convt_check(ctx, x, w, bias, group)) || (rc = convt_geom(ctx, x, w, &g)))
        return rc;
    int64_t n = x->dims[0], c = x->dims[1], cg = c / group, mg = w->dims[1], m = mg * group;
    int64_t dims[GD_TENSOR_MAX_RANK] = {n, m};
    for (int d = 0; d < g.nsp; d++)
        dims[2 + d] = g.in[d];
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, x->rank, dims);
    if (!y)
        return GD_ENOMEM;
    if (y->numel == 0)
        return 0;
    size_t es = gd_dtype_size(x->dtype), bytes;
    if (gd_size_mul((size_t)(mg * g.k_size), (size_t)g.out_size, &bytes) ||
        gd_size_mul(bytes, es, &bytes))
        return gd_op_fail(ctx, GD_ERANGE, "column buffer too large");
    void *col = gd_op_scratch(ctx, bytes ? bytes : 1);
    if (!col)
        return GD_ENOMEM;
    struct gd_gemm gm = {.dt = x->dtype,
                         .ta = 1,
                         .m = mg * g.k_size,
                         .n = g.out_size,
                         .k = cg,
                         .alpha = 1,
                         .beta = 0,
                         .lda = mg * g.k_size,
                         .ldb = g.out_size,
                         .ldc = g.out_size,
                         .c = col};
    if ((rc = gd_kern_gemm_check(&gm)))
        return gd_op_fail(ctx, rc, "convolution too large for GEMM");
    for (int64_t i = 0; i < n; i++)
        for (int64_t gi = 0; gi < group; gi++) {
            gm.a = (const char *)w->data + (size_t)(gi * cg * mg * g.k_size) * es;
            gm.b = (const char *)x->data + (size_t)((i * c + gi * cg) * g.out_size) * es;
            if (cg == 0)
                memset(col, 0, bytes);
            else if ((rc = gd_kern_gemm(ctx, &gm)))
                return gd_op_fail(ctx, rc, "GEMM failed");
            struct ct_job j = {&g, col,
                               (char *)y->data + (size_t)((i * m + gi * mg) * g.in_size) * es,
                               x->dtype == GD_DTYPE_DOUBLE};
            gd_op_parallel_for(ctx, mg, 1, col2im_range, &j);
        }
    if (bias)
        gd__conv_add_bias(ctx, y, bias);
    return 0;
}

const struct gd_op_def gd_ops_conv_transpose[] = {
    {"", "ConvTranspose", 1, 0, convt_run, 0},
    {0},
};
