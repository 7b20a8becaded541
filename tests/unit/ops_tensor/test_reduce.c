/* Reductions: axes as attribute or input, keepdims, noop_with_empty_axes, empty inputs,
 * numerically stable log-sum-exp, ArgMax/ArgMin with select_last_index. */
#include <string.h>

#include "check.h"

static const float x6[6] = {1, 2, 3, 4, 5, 6};

Test(ops_tensor_reduce, sum_axes_input_and_attr)
{
    char err[256];
    struct gd_tensor y, in[2] = {ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(2, 3), x6),
                                 ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(1), OT_I64(-1))};
    cr_assert_eq(ot_run("ReduceSum", 13, 2, in, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 2, OT_DIMS(2, 1));
    ot_expect_f32(&y, OT_F32(6, 15), 2);
    gd_tensor_release(&y);
    struct ot_attr a[2] = {OT_INTS("axes", 0), OT_I("keepdims", 0)};
    cr_assert_eq(ot_run("ReduceSum", 11, 1, in, 2, a, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 1, OT_DIMS(3));
    ot_expect_f32(&y, OT_F32(5, 7, 9), 3);
    gd_tensor_release(&y);
    /* empty axes input: all axes, or the input unchanged with noop_with_empty_axes */
    in[1] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(0), NULL);
    cr_assert_eq(ot_run("ReduceSum", 13, 2, in, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&y, OT_F32(21), 1);
    gd_tensor_release(&y);
    struct ot_attr noop = OT_I("noop_with_empty_axes", 1);
    cr_assert_eq(ot_run("ReduceSum", 13, 2, in, 1, &noop, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&y, x6, 6);
    gd_tensor_release(&y);
    struct ot_attr dup = OT_INTS("axes", 1, -1);
    cr_expect_eq(ot_run("ReduceMean", 13, 1, in, 1, &dup, 1, &y, err, sizeof err), GD_EINVAL);
}

Test(ops_tensor_reduce, kinds)
{
    char err[256];
    struct gd_tensor y, x = ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(2, 3), x6);
    struct ot_attr a = OT_INTS("axes", 1);
    static const struct {
        const char *op;
        float a, b;
    } cases[] = {{"ReduceMean", 2, 5},
                 {"ReduceMax", 3, 6},
                 {"ReduceMin", 1, 4},
                 {"ReduceProd", 6, 120},
                 {"ReduceL1", 6, 15},
                 {"ReduceL2", 3.7416574f, 8.7749644f},
                 {"ReduceSumSquare", 14, 77},
                 {"ReduceLogSum", 1.7917595f, 2.7080503f},
                 {"ReduceLogSumExp", 3.4076059f, 6.4076059f}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(ot_run(cases[i].op, 13, 1, &x, 1, &a, 1, &y, err, sizeof err), 0, "%s", err);
        ot_expect_f32(&y, (const float[]){cases[i].a, cases[i].b}, 2);
        gd_tensor_release(&y);
    }
    struct gd_tensor big = ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(2), OT_F32(1000, 1000));
    cr_assert_eq(ot_run("ReduceLogSumExp", 13, 1, &big, 0, NULL, 1, &y, err, sizeof err), 0);
    ot_expect_f32(&y, OT_F32(1000.6931472f), 1);
    gd_tensor_release(&y);
    /* reducing an empty axis gives the identity */
    struct gd_tensor e = ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(2, 0), NULL);
    cr_assert_eq(ot_run("ReduceSum", 11, 1, &e, 1, &a, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&y, OT_F32(0, 0), 2);
    gd_tensor_release(&y);
    cr_assert_eq(ot_run("ReduceProd", 11, 1, &e, 1, &a, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&y, OT_F32(1, 1), 2);
    gd_tensor_release(&y);
}

Test(ops_tensor_reduce, argmax_argmin)
{
    char err[256];
    struct gd_tensor y,
        x = ot_tensor(GD_DTYPE_INT32, 2, OT_DIMS(2, 3), (const int32_t[]){5, 1, 5, 0, 0, -1});
    struct ot_attr a[2] = {OT_I("axis", 1), OT_I("keepdims", 0)};
    cr_assert_eq(ot_run("ArgMax", 13, 1, &x, 2, a, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_i64(&y, OT_I64(0, 0), 2);
    gd_tensor_release(&y);
    struct ot_attr l[3] = {OT_I("axis", -1), OT_I("keepdims", 1), OT_I("select_last_index", 1)};
    cr_assert_eq(ot_run("ArgMax", 13, 1, &x, 3, l, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_INT64, 2, OT_DIMS(2, 1));
    ot_expect_i64(&y, OT_I64(2, 1), 2);
    gd_tensor_release(&y);
    cr_assert_eq(ot_run("ArgMin", 13, 1, &x, 3, l, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_i64(&y, OT_I64(1, 2), 2);
    gd_tensor_release(&y);
}

/* Adjacent axes (one strided run), a middle axis and non-adjacent axes (odometer path)
 * against a direct sum. */
Test(ops_tensor_reduce, axis_layouts)
{
    char err[256];
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)(i * i % 7) - 2.5f;
    struct gd_tensor y, t = ot_tensor(GD_DTYPE_FLOAT, 3, OT_DIMS(2, 3, 4), x);
    struct ot_attr mid = OT_INTS("axes", 1), outer = OT_INTS("axes", 0, 2),
                   inner = OT_INTS("axes", 1, 2);
    float want[8] = {0};
    cr_assert_eq(ot_run("ReduceSum", 11, 1, &t, 1, &mid, 1, &y, err, sizeof err), 0, "%s", err);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 4; c++)
                want[a * 4 + c] += x[(a * 3 + b) * 4 + c];
    ot_expect_f32(&y, want, 8);
    gd_tensor_release(&y);
    memset(want, 0, sizeof want);
    cr_assert_eq(ot_run("ReduceMax", 11, 1, &t, 1, &outer, 1, &y, err, sizeof err), 0, "%s", err);
    for (int b = 0; b < 3; b++) {
        want[b] = -1e9f;
        for (int a = 0; a < 2; a++)
            for (int c = 0; c < 4; c++)
                want[b] = fmaxf(want[b], x[(a * 3 + b) * 4 + c]);
    }
    ot_expect_f32(&y, want, 3);
    gd_tensor_release(&y);
    memset(want, 0, sizeof want);
    cr_assert_eq(ot_run("ReduceSumSquare", 11, 1, &t, 1, &inner, 1, &y, err, sizeof err), 0, "%s",
                 err);
    for (int i = 0; i < 24; i++)
        want[i / 12] += x[i] * x[i];
    ot_expect_f32(&y, want, 2);
    gd_tensor_release(&y);
}
