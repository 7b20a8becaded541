/* Dropout at inference: y = x, and the optional mask output is all true (bool since
 * opset 10; before that it has x's dtype, all ones). Training mode (opset 12+: the
 * training_mode input) with a non-zero ratio drops elements at random, which no
 * reference output can check; the engine refuses it with GD_ENOTSUP. With ratio 0 it
 * is the identity, as in inference. */
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"

static int dropout_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0);
    if (!x)
        return gd_op_fail(ctx, GD_EINVAL, "missing input 0");
    if (x->dtype == GD_DTYPE_STRING)
        return gd_op_fail(ctx, GD_ENOTSUP, "string input not supported");
    const struct gd_tensor *ratio = gd_op_input(ctx, 1), *train = gd_op_input(ctx, 2);
    if (gd_op_opset(ctx) >= 12 && train && train->numel >= 1 && gd_tensor_get_i64(train, 0)) {
        double r = ratio && ratio->numel >= 1 ? gd_tensor_get_f64(ratio, 0) : 0.5;
        if (r != 0)
            return gd_op_fail(ctx, GD_ENOTSUP, "training mode with ratio %g is random", r);
    }
    struct gd_tensor *y = gd_op_output_like(ctx, 0, x);
    if (!y)
        return GD_ENOMEM;
    if (y->data != x->data && x->nbytes)
        memcpy(y->data, x->data, x->nbytes);
    if (gd_op_num_outputs(ctx) < 2 || !gd_op_output_wanted(ctx, 1))
        return 0;
    enum gd_dtype mdt = gd_op_opset(ctx) >= 10 ? GD_DTYPE_BOOL : x->dtype;
    struct gd_tensor *m = gd_op_output(ctx, 1, mdt, x->rank, x->dims);
    if (!m)
        return GD_ENOMEM;
    for (int64_t i = 0; i < m->numel; i++)
        gd_tensor_set_f64(m, i, 1.0);
    return 0;
}

const struct gd_op_def gd_ops_activation_dropout[] = {
    {"", "Dropout", 1, 0, dropout_run, GD_OP_F_INPLACE0},
    {0},
};
