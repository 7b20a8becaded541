/* Loss ops: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12+).
 *
 * input/scores [N, C, d1..dk] (viewed as [N, C, D]), target/labels [N, d1..dk] integers,
 * optional weight [C]. Per element: loss = -weight[t] * x[n][t][d]; elements whose target
 * equals ignore_index contribute neither loss nor weight. reduction "none" keeps [N, d..],
 * "sum" adds, "mean" divides the sum by the total weight of the counted elements (the
 * ONNX reference definition). SoftmaxCrossEntropyLoss first takes log_softmax over C
 * (numerically stable) and can also output it. Targets outside [0, C) other than
 * ignore_index are an error. Computed in double, stored in the input dtype. */
#include <math.h>
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

enum { RED_NONE, RED_SUM, RED_MEAN };

/* log_softmax over axis 1 of x viewed as [N, C, D], in place. */
static void log_softmax_c(double *x, int64_t N, int64_t C, int64_t D)
{
    for (int64_t n = 0; n < N; n++)
        for (int64_t d = 0; d < D; d++) {
            double *p = x + n * C * D + d, m = -INFINITY, s = 0;
            for (int64_t c = 0; c < C; c++)
                m = p[c * D] > m ? p[c * D] : m;
            for (int64_t c = 0; c < C; c++)
                s += exp(p[c * D] - m);
            double l = m + log(s);
            for (int64_t c = 0; c < C; c++)
                p[c * D] -= l;
        }
}

static int loss_common(struct gd_op_ctx *ctx, int softmax)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc), *t = x ? gd__ot_need(ctx, 1, &rc) : 0;
    const struct gd_tensor *w = gd_op_input(ctx, 2);
    if (!t)
        return rc;
    if (!gd_dtype_is_float(x->dtype) || !gd_dtype_is_int(t->dtype) || x->rank < 2 ||
        t->rank != x->rank - 1 || t->dims[0] != x->dims[0])
        return gd_op_fail(ctx, GD_EINVAL, "needs float input [N, C, ...] and int target [N, ...]");
    for (int i = 1; i < t->rank; i++)
        if (t->dims[i] != x->dims[i + 1])
            return gd_op_fail(ctx, GD_EINVAL, "target dim %d does not match input", i);
    int64_t N = x->dims[0], C = x->dims[1], D = gd__ot_prod(x->dims, 2, x->rank);
    if (w && (w->rank != 1 || w->numel != C || w->dtype == GD_DTYPE_STRING))
        return gd_op_fail(ctx, GD_EINVAL, "weight must have shape [%lld]", (long long)C);
    const char *rs = gd_op_attr_string(ctx, "reduction", "mean");
    int red = strcmp(rs, "none") == 0 ? RED_NONE : strcmp(rs, "sum") == 0 ? RED_SUM : RED_MEAN;
    if (red == RED_MEAN && strcmp(rs, "mean") != 0)
        return gd_op_fail(ctx, GD_EINVAL, "unknown reduction '%s'", rs);
    int has_ign = gd_op_attr_has(ctx, "ignore_index");
    int64_t ign = gd_op_attr_int(ctx, "ignore_index", 0);
    double *v = gd_op_scratch(ctx, (size_t)(x->numel ? x->numel : 1) * sizeof *v);
    double *l = gd_op_scratch(ctx, (size_t)(t->numel ? t->numel : 1) * sizeof *l);
    if (!v || !l)
        return GD_ENOMEM;
    gd__ot_load_f64(x, 0, x->numel, v);
    if (softmax)
        log_softmax_c(v, N, C, D);
    double lsum = 0, wsum = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t d = 0; d < D; d++) {
            int64_t k = gd_tensor_get_i64(t, n * D + d);
            if (has_ign && k == ign) {
                l[n * D + d] = 0;
                continue;
            }
            if (k < 0 || k >= C)
                return gd_op_fail(ctx, GD_EINVAL, "target %lld out of range [0, %lld)",
                                  (long long)k, (long long)C);
            double wk = w ? gd_tensor_get_f64(w, k) : 1;
            l[n * D + d] = -v[(n * C + k) * D + d] * wk;
            lsum += l[n * D + d];
            wsum += wk;
        }
    struct gd_tensor *y = red == RED_NONE ? gd_op_output(ctx, 0, x->dtype, t->rank, t->dims)
                                          : gd_op_output(ctx, 0, x->dtype, 0, NULL);
    if (!y)
        return GD_ENOMEM;
    if (red == RED_NONE) {
        gd__ot_store_f64(y, 0, y->numel, l);
    } else {
        double r = red == RED_SUM ? lsum : lsum / wsum;
        gd__ot_store_f64(y, 0, 1, &r);
    }
    if (softmax && gd_op_num_outputs(ctx) > 1) {
        struct gd_tensor *lp = gd_op_output_like(ctx, 1, x);
        if (!lp)
            return GD_ENOMEM;
        gd__ot_store_f64(lp, 0, lp->numel, v);
    }
    return 0;
}

static int nll_run(struct gd_op_ctx *ctx)
{
    return loss_common(ctx, 0);
}

static int sce_run(struct gd_op_ctx *ctx)
{
    return loss_common(ctx, 1);
}

const struct gd_op_def gd_ops_loss[] = {
    {"", "NegativeLogLikelihoodLoss", 12, 0, nll_run, 0},
    {"", "SoftmaxCrossEntropyLoss", 12, 0, sce_run, 0},
    {0},
};
