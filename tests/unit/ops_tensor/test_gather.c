/* Indexing ops: Gather, GatherElements, GatherND, ScatterElements, ScatterND, OneHot,
 * NonZero, Compress, TopK, CumSum, ReverseSequence. Out-of-range indices must fail. */
#include "check.h"

static const float x6[6] = {0, 1, 2, 3, 4, 5};

Test(ops_tensor_gather, gather_negative_and_out_of_range)
{
    char err[256];
    struct gd_tensor y, in[2] = {ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(3, 2), x6),
                                 ot_tensor(GD_DTYPE_INT64, 2, OT_DIMS(1, 2), OT_I64(-1, 0))};
    cr_assert_eq(ot_run("Gather", 13, 2, in, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 3, OT_DIMS(1, 2, 2));
    ot_expect_f32(&y, OT_F32(4, 5, 0, 1), 4);
    gd_tensor_release(&y);
    in[1] = ot_tensor(GD_DTYPE_INT32, 1, OT_DIMS(1), (const int32_t[]){3});
    cr_expect_eq(ot_run("Gather", 13, 2, in, 0, NULL, 1, &y, err, sizeof err), GD_EINVAL);
    in[1] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(1), OT_I64(INT64_MIN));
    cr_expect_eq(ot_run("Gather", 13, 2, in, 0, NULL, 1, &y, err, sizeof err), GD_EINVAL);
}

Test(ops_tensor_gather, gather_elements_nd)
{
    char err[256];
    struct gd_tensor y, in[2] = {ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(3, 2), x6),
                                 ot_tensor(GD_DTYPE_INT64, 2, OT_DIMS(2, 2), OT_I64(2, 0, -3, 1))};
    cr_assert_eq(ot_run("GatherElements", 13, 2, in, 0, NULL, 1, &y, err, sizeof err), 0, "%s",
                 err);
    ot_expect_f32(&y, OT_F32(4, 1, 0, 3), 4);
    gd_tensor_release(&y);
    in[1] = ot_tensor(GD_DTYPE_INT64, 2, OT_DIMS(2, 2), OT_I64(3, 0, 0, 0));
    cr_expect_eq(ot_run("GatherElements", 13, 2, in, 0, NULL, 1, &y, err, sizeof err), GD_EINVAL);
    /* GatherND with batch_dims = 1: data [2,3], indices [2,1] */
    in[0] = ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(2, 3), x6);
    in[1] = ot_tensor(GD_DTYPE_INT64, 2, OT_DIMS(2, 1), OT_I64(2, -3));
    struct ot_attr b = OT_I("batch_dims", 1);
    cr_assert_eq(ot_run("GatherND", 13, 2, in, 1, &b, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 1, OT_DIMS(2));
    ot_expect_f32(&y, OT_F32(2, 3), 2);
    gd_tensor_release(&y);
}

Test(ops_tensor_gather, scatter_reductions)
{
    char err[256];
    struct gd_tensor y, in[3] = {ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(4), OT_F32(1, 1, 1, 1)),
                                 ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(3), OT_I64(1, 1, -1)),
                                 ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(3), OT_F32(2, 3, 4))};
    struct ot_attr r = OT_S("reduction", "add");
    cr_assert_eq(ot_run("ScatterElements", 16, 3, in, 1, &r, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&y, OT_F32(1, 6, 1, 5), 4);
    gd_tensor_release(&y);
    struct ot_attr mul = OT_S("reduction", "mul");
    cr_assert_eq(ot_run("ScatterND", 16, 3,
                        (struct gd_tensor[]){
                            in[0], ot_tensor(GD_DTYPE_INT64, 2, OT_DIMS(2, 1), OT_I64(0, 0)),
                            ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(2), OT_F32(3, 5))},
                        1, &mul, 1, &y, err, sizeof err),
                 0, "%s", err);
    ot_expect_f32(&y, OT_F32(15, 1, 1, 1), 4);
    gd_tensor_release(&y);
    in[1] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(3), OT_I64(1, 4, 0));
    cr_expect_eq(ot_run("ScatterElements", 16, 3, in, 0, NULL, 1, &y, err, sizeof err), GD_EINVAL);
}

Test(ops_tensor_gather, onehot_nonzero_compress)
{
    char err[256];
    struct gd_tensor y, in[3] = {ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(3), OT_I64(0, -1, 7)),
                                 ot_tensor(GD_DTYPE_FLOAT, 0, NULL, OT_F32(3)),
                                 ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(2), OT_F32(0, 1))};
    struct ot_attr ax = OT_I("axis", 0);
    cr_assert_eq(ot_run("OneHot", 11, 3, in, 1, &ax, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 2, OT_DIMS(3, 3));
    ot_expect_f32(&y, OT_F32(1, 0, 0, 0, 0, 0, 0, 1, 0), 9);
    gd_tensor_release(&y);
    struct gd_tensor nz = ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(2, 2), OT_F32(0, 2, 3, 0));
    cr_assert_eq(ot_run("NonZero", 13, 1, &nz, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_INT64, 2, OT_DIMS(2, 2));
    ot_expect_i64(&y, OT_I64(0, 1, 1, 0), 4);
    gd_tensor_release(&y);
    struct gd_tensor c[2] = {ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(3, 2), x6),
                             ot_tensor(GD_DTYPE_BOOL, 1, OT_DIMS(2), (const uint8_t[]){0, 1})};
    cr_assert_eq(ot_run("Compress", 11, 2, c, 1, &ax, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&y, OT_F32(2, 3), 2);
    gd_tensor_release(&y);
}

Test(ops_tensor_gather, topk_cumsum_reverse)
{
    char err[256];
    struct gd_tensor ys[2],
        in[2] = {ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(5), OT_F32(3, 1, 3, 2, 1)),
                 ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(1), OT_I64(3))};
    cr_assert_eq(ot_run("TopK", 11, 2, in, 0, NULL, 2, ys, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&ys[0], OT_F32(3, 3, 2), 3);
    ot_expect_i64(&ys[1], OT_I64(0, 2, 3), 3); /* ties: lower index first */
    gd_tensor_release(&ys[0]), gd_tensor_release(&ys[1]);
    struct ot_attr sm = OT_I("largest", 0);
    cr_assert_eq(ot_run("TopK", 11, 2, in, 1, &sm, 2, ys, err, sizeof err), 0, "%s", err);
    ot_expect_i64(&ys[1], OT_I64(1, 4, 3), 3);
    gd_tensor_release(&ys[0]), gd_tensor_release(&ys[1]);
    in[1] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(1), OT_I64(6));
    cr_expect_eq(ot_run("TopK", 11, 2, in, 0, NULL, 2, ys, err, sizeof err), GD_EINVAL);
    struct gd_tensor y, cs[2] = {ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(4), OT_I64(1, 2, 3, 4)),
                                 ot_tensor(GD_DTYPE_INT32, 0, NULL, (const int32_t[]){0})};
    struct ot_attr ex[2] = {OT_I("exclusive", 1), OT_I("reverse", 1)};
    cr_assert_eq(ot_run("CumSum", 14, 2, cs, 2, ex, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_i64(&y, OT_I64(9, 7, 4, 0), 4);
    gd_tensor_release(&y);
    struct gd_tensor rs[2] = {ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(3, 2), x6),
                              ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(3, 2))};
    cr_assert_eq(ot_run("ReverseSequence", 10, 2, rs, 0, NULL, 1, &y, err, sizeof err), 0, "%s",
                 err);
    ot_expect_f32(&y, OT_F32(4, 3, 2, 1, 0, 5), 6);
    gd_tensor_release(&y);
    rs[1] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(4, 2));
    cr_expect_eq(ot_run("ReverseSequence", 10, 2, rs, 0, NULL, 1, &y, err, sizeof err), GD_EINVAL);
}

Test(ops_tensor_gather, unique_unsorted_with_outputs)
{
    char err[256];
    struct gd_tensor ys[4], x = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(6), OT_I64(2, 1, 1, 3, 4, 3));
    struct ot_attr s = OT_I("sorted", 0);
    cr_assert_eq(ot_run("Unique", 11, 1, &x, 1, &s, 4, ys, err, sizeof err), 0, "%s", err);
    ot_expect_i64(&ys[0], OT_I64(2, 1, 3, 4), 4);
    ot_expect_i64(&ys[1], OT_I64(0, 1, 3, 4), 4);
    ot_expect_i64(&ys[2], OT_I64(0, 1, 1, 2, 3, 2), 6);
    ot_expect_i64(&ys[3], OT_I64(1, 2, 2, 1), 4);
    for (int i = 0; i < 4; i++)
        gd_tensor_release(&ys[i]);
    cr_assert_eq(ot_run("Unique", 11, 1, &x, 0, NULL, 4, ys, err, sizeof err), 0, "%s", err);
    ot_expect_i64(&ys[0], OT_I64(1, 2, 3, 4), 4);
    ot_expect_i64(&ys[1], OT_I64(1, 0, 3, 4), 4);
    ot_expect_i64(&ys[2], OT_I64(1, 0, 0, 2, 3, 2), 6);
    for (int i = 0; i < 4; i++)
        gd_tensor_release(&ys[i]);
}
