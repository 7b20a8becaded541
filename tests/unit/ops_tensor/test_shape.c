/* Shape and layout ops: Reshape, Flatten, Squeeze, Unsqueeze, Shape, Transpose, Concat,
 * Split, Slice, Expand, Tile, Trilu, DepthToSpace, Pad, Cast, Range, EyeLike. */
#include <string.h>

#include "check.h"
#include "core/alloc.h"

static const float x24[24] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                              12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23};

Test(ops_tensor_shape, reshape_zero_and_minus_one)
{
    char err[256];
    struct gd_tensor in[2] = {ot_tensor(GD_DTYPE_FLOAT, 3, OT_DIMS(2, 3, 4), x24),
                              ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(0, -1))},
                     y;
    cr_assert_eq(ot_run("Reshape", 14, 2, in, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 2, OT_DIMS(2, 12));
    ot_expect_f32(&y, x24, 24);
    gd_tensor_release(&y);
}

Test(ops_tensor_shape, reshape_allowzero_and_errors)
{
    char err[256];
    struct gd_tensor y, e = ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(0, 3), NULL);
    struct gd_tensor in[2] = {e, ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(3, 0))};
    struct ot_attr az = OT_I("allowzero", 1);
    in[1] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(3, 0));
    cr_assert_eq(ot_run("Reshape", 14, 2, in, 1, &az, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 2, OT_DIMS(3, 0));
    gd_tensor_release(&y);
    /* two -1, a wrong element count and a huge product are rejected */
    in[0] = ot_tensor(GD_DTYPE_FLOAT, 3, OT_DIMS(2, 3, 4), x24);
    in[1] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(-1, -1));
    cr_expect_eq(ot_run("Reshape", 14, 2, in, 0, NULL, 1, &y, err, sizeof err), GD_EINVAL);
    in[1] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(5, 5));
    cr_expect_neq(ot_run("Reshape", 14, 2, in, 0, NULL, 1, &y, err, sizeof err), 0);
    in[1] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(3), OT_I64(INT64_MAX, INT64_MAX, -1));
    cr_expect_neq(ot_run("Reshape", 14, 2, in, 0, NULL, 1, &y, err, sizeof err), 0);
    cr_expect(strstr(err, "Reshape") != NULL, "error names the op: %s", err);
}

Test(ops_tensor_shape, squeeze_unsqueeze_attr_and_input)
{
    char err[256];
    struct gd_tensor y, x = ot_tensor(GD_DTYPE_FLOAT, 4, OT_DIMS(1, 3, 1, 8), x24);
    struct ot_attr ax = OT_INTS("axes", -2);
    cr_assert_eq(ot_run("Squeeze", 11, 1, &x, 1, &ax, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 3, OT_DIMS(1, 3, 8));
    gd_tensor_release(&y);
    cr_assert_eq(ot_run("Squeeze", 13, 1, &x, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 2, OT_DIMS(3, 8));
    gd_tensor_release(&y);
    struct gd_tensor in[2] = {x, ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(1), OT_I64(1))};
    cr_expect_eq(ot_run("Squeeze", 13, 2, in, 0, NULL, 1, &y, err, sizeof err), GD_EINVAL);
    in[1] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(-1, 0));
    cr_assert_eq(ot_run("Unsqueeze", 13, 2, in, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 6, OT_DIMS(1, 1, 3, 1, 8, 1));
    gd_tensor_release(&y);
    in[1] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(1, 1));
    cr_expect_eq(ot_run("Unsqueeze", 13, 2, in, 0, NULL, 1, &y, err, sizeof err), GD_EINVAL);
}

Test(ops_tensor_shape, flatten_and_shape)
{
    char err[256];
    struct gd_tensor y, x = ot_tensor(GD_DTYPE_FLOAT, 3, OT_DIMS(2, 3, 4), x24);
    struct ot_attr a = OT_I("axis", -1);
    cr_assert_eq(ot_run("Flatten", 13, 1, &x, 1, &a, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 2, OT_DIMS(6, 4));
    gd_tensor_release(&y);
    struct ot_attr se[2] = {OT_I("start", -2), OT_I("end", 100)};
    cr_assert_eq(ot_run("Shape", 15, 1, &x, 2, se, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_i64(&y, OT_I64(3, 4), 2);
    gd_tensor_release(&y);
}

Test(ops_tensor_shape, transpose_concat_split)
{
    char err[256];
    struct gd_tensor y, x = ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(2, 3), x24);
    cr_assert_eq(ot_run("Transpose", 13, 1, &x, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 2, OT_DIMS(3, 2));
    ot_expect_f32(&y, OT_F32(0, 3, 1, 4, 2, 5), 6);
    gd_tensor_release(&y);
    struct ot_attr bad = OT_INTS("perm", 0, 0);
    cr_expect_eq(ot_run("Transpose", 13, 1, &x, 1, &bad, 1, &y, err, sizeof err), GD_EINVAL);
    struct gd_tensor in[3] = {x, ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(2, 0), NULL),
                              ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(2, 1), OT_F32(9, 8))};
    struct ot_attr ax = OT_I("axis", -1);
    cr_assert_eq(ot_run("Concat", 13, 3, in, 1, &ax, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&y, OT_F32(0, 1, 2, 9, 3, 4, 5, 8), 8);
    gd_tensor_release(&y);
    /* Split: sizes as attribute (opset 11) and as input (opset 13) */
    struct gd_tensor ys[2];
    struct ot_attr sp[2] = {OT_I("axis", 1), OT_INTS("split", 1, 2)};
    cr_assert_eq(ot_run("Split", 11, 1, &x, 2, sp, 2, ys, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&ys[0], OT_F32(0, 3), 2);
    ot_expect_f32(&ys[1], OT_F32(1, 2, 4, 5), 4);
    gd_tensor_release(&ys[0]), gd_tensor_release(&ys[1]);
    struct gd_tensor si[2] = {x, ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(2, 2))};
    cr_expect_eq(ot_run("Split", 13, 2, si, 1, sp, 2, ys, err, sizeof err), GD_EINVAL);
}

Test(ops_tensor_shape, slice_steps_and_clamping)
{
    char err[256];
    struct gd_tensor y,
        in[5] = {ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(4, 6), x24),
                 ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(-1, INT64_MIN)),
                 ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(INT64_MIN, INT64_MAX)),
                 ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(0, 1)),
                 ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(-2, 4))};
    cr_assert_eq(ot_run("Slice", 13, 5, in, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    /* rows 3, 1; columns 0, 4 */
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 2, OT_DIMS(2, 2));
    ot_expect_f32(&y, OT_F32(18, 22, 6, 10), 4);
    gd_tensor_release(&y);
    in[4] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(INT64_MIN, 0));
    cr_expect_eq(ot_run("Slice", 13, 5, in, 0, NULL, 1, &y, err, sizeof err), GD_EINVAL);
    /* opset 1: attributes; start beyond the end gives an empty result */
    struct ot_attr a[3] = {OT_INTS("starts", 10), OT_INTS("ends", 20), OT_INTS("axes", 1)};
    cr_assert_eq(ot_run("Slice", 1, 1, in, 3, a, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 2, OT_DIMS(4, 0));
    gd_tensor_release(&y);
}

Test(ops_tensor_shape, expand_tile_trilu_depth)
{
    char err[256];
    struct gd_tensor y, in[2] = {ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(2, 1), OT_F32(1, 2)),
                                 ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(3), OT_I64(2, 1, 3))};
    cr_assert_eq(ot_run("Expand", 13, 2, in, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 3, OT_DIMS(2, 2, 3));
    ot_expect_f32(&y, OT_F32(1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2), 12);
    gd_tensor_release(&y);
    in[1] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(3, 2));
    cr_expect_eq(ot_run("Expand", 13, 2, in, 0, NULL, 1, &y, err, sizeof err), GD_EINVAL);
    in[1] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(2, 2));
    cr_assert_eq(ot_run("Tile", 13, 2, in, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&y, OT_F32(1, 1, 2, 2, 1, 1, 2, 2), 8);
    gd_tensor_release(&y);
    struct gd_tensor t[2] = {ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(3, 3), x24),
                             ot_tensor(GD_DTYPE_INT64, 0, NULL, OT_I64(-1))};
    struct ot_attr lo = OT_I("upper", 0);
    cr_assert_eq(ot_run("Trilu", 14, 2, t, 1, &lo, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&y, OT_F32(0, 0, 0, 3, 0, 0, 6, 7, 0), 9);
    gd_tensor_release(&y);
    /* DepthToSpace DCR then SpaceToDepth gives the input back */
    struct gd_tensor d = ot_tensor(GD_DTYPE_FLOAT, 4, OT_DIMS(1, 8, 1, 3), x24), z;
    struct ot_attr bs = OT_I("blocksize", 2);
    cr_assert_eq(ot_run("DepthToSpace", 13, 1, &d, 1, &bs, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 4, OT_DIMS(1, 2, 2, 6));
    cr_assert_eq(ot_run("SpaceToDepth", 13, 1, &y, 1, &bs, 1, &z, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&z, x24, 24);
    gd_tensor_release(&y), gd_tensor_release(&z);
}

Test(ops_tensor_shape, pad_modes)
{
    char err[256];
    struct gd_tensor y, in[3] = {ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(3), OT_F32(1, 2, 3)),
                                 ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(4, 2)),
                                 ot_tensor(GD_DTYPE_FLOAT, 0, NULL, OT_F32(9))};
    static const char *modes[] = {"constant", "reflect", "edge", "wrap"};
    static const float want[4][9] = {{9, 9, 9, 9, 1, 2, 3, 9, 9},
                                     {1, 2, 3, 2, 1, 2, 3, 2, 1}, /* numpy.pad semantics */
                                     {1, 1, 1, 1, 1, 2, 3, 3, 3},
                                     {3, 1, 2, 3, 1, 2, 3, 1, 2}};
    for (int m = 0; m < 4; m++) {
        struct ot_attr a = OT_S("mode", modes[m]);
        cr_assert_eq(ot_run("Pad", 19, 3, in, 1, &a, 1, &y, err, sizeof err), 0, "%s", err);
        ot_expect_f32(&y, want[m], 9);
        gd_tensor_release(&y);
    }
    /* negative pads crop; opset 2 takes pads and value as attributes */
    struct ot_attr old[2] = {OT_INTS("pads", -1, 1), OT_F("value", 5)};
    cr_assert_eq(ot_run("Pad", 2, 1, in, 2, old, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&y, OT_F32(2, 3, 5), 3);
    gd_tensor_release(&y);
    in[1] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(-4, 0));
    cr_expect_eq(ot_run("Pad", 13, 2, in, 0, NULL, 1, &y, err, sizeof err), GD_EINVAL);
}

Test(ops_tensor_shape, cast_pairs)
{
    char err[256];
    struct gd_tensor y,
        x = ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(5), OT_F32(1.9f, -1.9f, NAN, 1e30f, 0.1f));
    struct ot_attr to = OT_I("to", GD_DTYPE_INT32);
    cr_assert_eq(ot_run("Cast", 13, 1, &x, 1, &to, 1, &y, err, sizeof err), 0, "%s", err);
    const int32_t *p = y.data;
    cr_expect(p[0] == 1 && p[1] == -1 && p[2] == 0 && p[3] == INT32_MAX);
    gd_tensor_release(&y);
    struct ot_attr ts = OT_I("to", GD_DTYPE_STRING);
    cr_assert_eq(ot_run("Cast", 13, 1, &x, 1, &ts, 1, &y, err, sizeof err), 0, "%s", err);
    char **s = y.data;
    cr_expect_str_eq(s[0], "1.9");
    cr_expect_str_eq(s[2], "NaN");
    cr_expect_str_eq(s[4], "0.1");
    struct ot_attr tf = OT_I("to", GD_DTYPE_FLOAT16), z;
    struct gd_tensor h, back;
    cr_assert_eq(ot_run("Cast", 13, 1, &y, 1, &tf, 1, &h, err, sizeof err), 0, "%s", err);
    cr_expect_eq(((uint16_t *)h.data)[0], 0x3f9a); /* 1.9 in binary16 */
    (void)z;
    struct ot_attr tu = OT_I("to", GD_DTYPE_UINT64);
    struct gd_tensor big = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(1), OT_I64(INT64_MAX));
    cr_assert_eq(ot_run("Cast", 13, 1, &big, 1, &tu, 1, &back, err, sizeof err), 0, "%s", err);
    cr_expect_eq(((uint64_t *)back.data)[0], (uint64_t)INT64_MAX); /* exact, not via double */
    gd_tensor_release(&y), gd_tensor_release(&h), gd_tensor_release(&back);
    struct ot_attr old = OT_S("to", "DOUBLE");
    cr_assert_eq(ot_run("Cast", 1, 1, &x, 1, &old, 1, &y, err, sizeof err), 0, "%s", err);
    cr_expect_eq(y.dtype, GD_DTYPE_DOUBLE);
    gd_tensor_release(&y);
}

Test(ops_tensor_shape, range_eyelike)
{
    char err[256];
    struct gd_tensor y, in[3] = {ot_tensor(GD_DTYPE_INT64, 0, NULL, OT_I64(10)),
                                 ot_tensor(GD_DTYPE_INT64, 0, NULL, OT_I64(1)),
                                 ot_tensor(GD_DTYPE_INT64, 0, NULL, OT_I64(-4))};
    cr_assert_eq(ot_run("Range", 11, 3, in, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_i64(&y, OT_I64(10, 6, 2), 3);
    gd_tensor_release(&y);
    in[2] = ot_tensor(GD_DTYPE_INT64, 0, NULL, OT_I64(0));
    cr_expect_eq(ot_run("Range", 11, 3, in, 0, NULL, 1, &y, err, sizeof err), GD_EINVAL);
    in[0] = ot_tensor(GD_DTYPE_INT64, 0, NULL, OT_I64(INT64_MIN));
    in[1] = ot_tensor(GD_DTYPE_INT64, 0, NULL, OT_I64(INT64_MAX));
    in[2] = ot_tensor(GD_DTYPE_INT64, 0, NULL, OT_I64(1));
    cr_expect_neq(ot_run("Range", 11, 3, in, 0, NULL, 1, &y, err, sizeof err), 0);
    struct gd_tensor e = ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(2, 3), x24);
    struct ot_attr k = OT_I("k", 1);
    cr_assert_eq(ot_run("EyeLike", 9, 1, &e, 1, &k, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&y, OT_F32(0, 1, 0, 0, 0, 1), 6);
    gd_tensor_release(&y);
}

/* Large enough to take the multi-threaded copy path (>= 65536 elements, 2 threads). */
Test(ops_tensor_shape, parallel_transpose_and_slice)
{
    char err[256];
    enum { A = 3, B = 160, C = 200 };
    float *x = gd_malloc(sizeof(float) * A * B * C);
    cr_assert(x);
    for (int i = 0; i < A * B * C; i++)
        x[i] = (float)i;
    struct gd_tensor y, t = ot_tensor(GD_DTYPE_FLOAT, 3, OT_DIMS(A, B, C), x);
    struct ot_attr perm = OT_INTS("perm", 2, 0, 1);
    cr_assert_eq(ot_run("Transpose", 13, 1, &t, 1, &perm, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 3, OT_DIMS(C, A, B));
    const float *p = y.data;
    int bad = 0;
    for (int c = 0; c < C; c++)
        for (int a = 0; a < A; a++)
            for (int b = 0; b < B; b++)
                bad += p[(c * A + a) * B + b] != x[(a * B + b) * C + c];
    cr_expect_eq(bad, 0);
    gd_tensor_release(&y);
    struct gd_tensor in[5] = {t, ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(1), OT_I64(-1)),
                              ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(1), OT_I64(INT64_MIN)),
                              ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(1), OT_I64(2)),
                              ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(1), OT_I64(-3))};
    cr_assert_eq(ot_run("Slice", 13, 5, in, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 3, OT_DIMS(A, B, 67)); /* 199, 196, ..., 1 */
    p = y.data;
    bad = 0;
    for (int a = 0; a < A; a++)
        for (int b = 0; b < B; b++)
            for (int k = 0; k < 67; k++)
                bad += p[(a * B + b) * 67 + k] != x[(a * B + b) * C + 199 - 3 * k];
    cr_expect_eq(bad, 0);
    gd_tensor_release(&y);
    gd_free(x);
}
