/* Normalisations and softmax: LayerNorm (axis, Mean/InvStdDev outputs), BatchNorm
 * (inference and training outputs), InstanceNorm, GroupNorm, LRN, MVN, and Softmax /
 * LogSoftmax / Hardmax with both axis conventions (opset < 13 coerces to 2-D). */
#include <criterion/criterion.h>
#include <math.h>

#include "node.h"

static int run(const char *op, int opset, int nin, const struct gd_tensor *in, int nattr,
               const struct om_attr *a, int nout, struct gd_tensor *y)
{
    char err[256] = "";
    struct om_node nd = {op, opset, nin, in, nattr, a, nout, 2};
    int rc = om_run(&nd, y, err, sizeof err);
    cr_expect_eq(rc, 0, "%s: %s", op, err);
    return rc;
}

Test(ops_math_norm, layernorm_rows_and_stats)
{
    struct gd_tensor in[3] = {om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(2, 3), OM_F32(1, 2, 3, 2, 2, 2)),
                              om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(3), OM_F32(1, 2, 1)),
                              om_view(GD_DTYPE_FLOAT, 0, NULL, OM_F32(0.5f))};
    struct om_attr a[1] = {OM_FLOAT("epsilon", 0)};
    struct gd_tensor y[3];
    cr_assert_eq(run("LayerNormalization", 17, 3, in, 1, a, 3, y), 0);
    float s = sqrtf(2.0f / 3);
    cr_expect_lt(om_maxdiff_f32(&y[0], OM_F32(-1 / s + 0.5f, 0.5f, 1 / s + 0.5f, NAN, NAN, NAN), 6),
                 1e-5); /* constant row: 0/0 */
    cr_expect(y[1].rank == 2 && y[1].dims[0] == 2 && y[1].dims[1] == 1);
    cr_expect_lt(om_maxdiff_f32(&y[1], OM_F32(2, 2), 2), 1e-6);
    cr_expect(fabsf(((float *)y[2].data)[0] - 1 / s) < 1e-5f);
    for (int i = 0; i < 3; i++)
        gd_tensor_release(&y[i]);
}

Test(ops_math_norm, batchnorm_inference_and_training)
{
    struct gd_tensor in[5] = {om_view(GD_DTYPE_FLOAT, 3, OM_SHAPE(2, 2, 1), OM_F32(1, 10, 3, 20)),
                              om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(2), OM_F32(1, 2)),
                              om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(2), OM_F32(0, 1)),
                              om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(2), OM_F32(2, 15)),
                              om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(2), OM_F32(1, 25))};
    struct om_attr eps = OM_FLOAT("epsilon", 0);
    struct gd_tensor y[3];
    cr_assert_eq(run("BatchNormalization", 15, 5, in, 1, &eps, 1, y), 0);
    cr_expect_lt(om_maxdiff_f32(&y[0], OM_F32(-1, -1, 1, 3), 4), 1e-5);
    gd_tensor_release(&y[0]);
    struct om_attr tr[3] = {eps, OM_INT("training_mode", 1), OM_FLOAT("momentum", 0.5f)};
    cr_assert_eq(run("BatchNormalization", 15, 5, in, 3, tr, 3, y), 0);
    /* batch stats: ch0 mean 2 var 1, ch1 mean 15 var 25 */
    cr_expect_lt(om_maxdiff_f32(&y[0], OM_F32(-1, -1, 1, 3), 4), 1e-5);
    cr_expect_lt(om_maxdiff_f32(&y[1], OM_F32(2, 15), 2), 1e-5);
    cr_expect_lt(om_maxdiff_f32(&y[2], OM_F32(1, 25), 2), 1e-5);
    for (int i = 0; i < 3; i++)
        gd_tensor_release(&y[i]);
}

Test(ops_math_norm, instance_group_lrn_mvn)
{
    struct gd_tensor in[3] = {om_view(GD_DTYPE_FLOAT, 3, OM_SHAPE(1, 2, 2), OM_F32(1, 3, 10, 30)),
                              om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(2), OM_F32(1, 2)),
                              om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(2), OM_F32(0, 1))};
    struct om_attr eps = OM_FLOAT("epsilon", 0);
    struct gd_tensor y;
    cr_assert_eq(run("InstanceNormalization", 6, 3, in, 1, &eps, 1, &y), 0);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(-1, 1, -1, 3), 4), 1e-5);
    gd_tensor_release(&y);
    struct om_attr g[2] = {eps, OM_INT("num_groups", 1)};
    in[1] = om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(1), OM_F32(1));
    in[2] = om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(1), OM_F32(0));
    cr_assert_eq(run("GroupNormalization", 18, 3, in, 2, g, 1, &y), 0);
    double m = 11, sd = sqrt(((1 - m) * (1 - m) + (3 - m) * (3 - m) + 1 + 19 * 19) / 4);
    cr_expect(fabs(((float *)y.data)[3] - (30 - m) / sd) < 1e-5);
    gd_tensor_release(&y);
    struct om_attr l[3] = {OM_INT("size", 3), OM_FLOAT("alpha", 3), OM_FLOAT("beta", 1)};
    cr_assert_eq(run("LRN", 13, 1, in, 3, l, 1, &y), 0);
    /* channel 0 sees channels 0..1: 1 / (1 + 3/3 * (1 + 100)) */
    cr_expect(fabsf(((float *)y.data)[0] - 1.0f / 102) < 1e-6f);
    gd_tensor_release(&y);
    struct om_attr ax = OM_INTS("axes", 1, 2);
    cr_assert_eq(run("MeanVarianceNormalization", 13, 1, in, 1, &ax, 1, &y), 0);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(-1, 1, -1, 1), 4), 1e-6);
    gd_tensor_release(&y);
}

Test(ops_math_norm, softmax_axis_conventions)
{
    struct gd_tensor x = om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(2, 2), OM_F32(0, 0, 1000, 1000));
    struct om_attr ax0 = OM_INT("axis", 0);
    struct gd_tensor y;
    cr_assert_eq(run("Softmax", 13, 1, &x, 1, &ax0, 1, &y), 0);    /* along axis 0 only */
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(0, 0, 1, 1), 4), 1e-6); /* no overflow */
    gd_tensor_release(&y);
    cr_assert_eq(run("Softmax", 11, 1, &x, 1, &ax0, 1, &y), 0); /* whole tensor is one row */
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(0, 0, 0.5f, 0.5f), 4), 1e-6);
    gd_tensor_release(&y);
    cr_assert_eq(run("LogSoftmax", 13, 1, &x, 0, NULL, 1, &y), 0);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(-logf(2), -logf(2), -logf(2), -logf(2)), 4), 1e-6);
    gd_tensor_release(&y);
    cr_assert_eq(run("Hardmax", 13, 1, &x, 0, NULL, 1, &y), 0); /* first maximum wins */
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(1, 0, 1, 0), 4), 1e-6);
    gd_tensor_release(&y);
}
