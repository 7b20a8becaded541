/* Resize / Upsample: nearest modes, linear with coordinate transforms, cubic, sizes vs
 * scales, tf_crop_and_resize extrapolation, integer dtypes, bad arguments. */
#include "check.h"

static const float x4[4] = {1, 2, 3, 4}; /* [1,1,2,2] */

static int run_resize(int opset, const float *scales, const int64_t *sizes, int nattr,
                      const struct ot_attr *attrs, struct gd_tensor *y, char *err)
{
    struct gd_tensor in[4] = {ot_tensor(GD_DTYPE_FLOAT, 4, OT_DIMS(1, 1, 2, 2), x4), OT_ABSENT,
                              scales ? ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(4), scales) : OT_ABSENT,
                              sizes ? ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(4), sizes) : OT_ABSENT};
    return ot_run("Resize", opset, sizes ? 4 : 3, in, nattr, attrs, 1, y, err, 256);
}

Test(ops_tensor_resize, nearest_upsample)
{
    char err[256];
    struct gd_tensor y;
    cr_assert_eq(run_resize(13, OT_F32(1, 1, 2, 1.5f), NULL, 0, NULL, &y, err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 4, OT_DIMS(1, 1, 4, 3));
    /* half_pixel + round_prefer_floor: columns 0,0|1 ... x_ori = (x+.5)/1.5-.5 */
    ot_expect_f32(&y, OT_F32(1, 1, 2, 1, 1, 2, 3, 3, 4, 3, 3, 4), 12);
    gd_tensor_release(&y);
}

Test(ops_tensor_resize, linear_align_corners_and_half_pixel)
{
    char err[256];
    struct gd_tensor y;
    struct ot_attr ac[2] = {OT_S("mode", "linear"),
                            OT_S("coordinate_transformation_mode", "align_corners")};
    cr_assert_eq(run_resize(13, NULL, OT_I64(1, 1, 3, 3), 2, ac, &y, err), 0, "%s", err);
    ot_expect_f32(&y, OT_F32(1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4), 9);
    gd_tensor_release(&y);
    struct ot_attr hp = OT_S("mode", "linear");
    cr_assert_eq(run_resize(13, OT_F32(1, 1, 2, 2), NULL, 1, &hp, &y, err), 0, "%s", err);
    /* half_pixel, edge-clamped: fractions 0, .25, .75, 1 along both axes */
    ot_expect_f32(&y,
                  OT_F32(1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3,
                         3.25f, 3.75f, 4),
                  16);
    gd_tensor_release(&y);
}

Test(ops_tensor_resize, cubic_identity_and_crop)
{
    char err[256];
    struct gd_tensor y;
    struct ot_attr cu = OT_S("mode", "cubic");
    cr_assert_eq(run_resize(13, OT_F32(1, 1, 1, 1), NULL, 1, &cu, &y, err), 0, "%s", err);
    ot_expect_f32(&y, x4, 4);
    gd_tensor_release(&y);
    struct ot_attr cr[3] = {OT_S("coordinate_transformation_mode", "tf_crop_and_resize"),
                            OT_F("extrapolation_value", -7), OT_S("mode", "linear")};
    struct gd_tensor in[4] = {
        ot_tensor(GD_DTYPE_FLOAT, 4, OT_DIMS(1, 1, 2, 2), x4),
        ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(8), OT_F32(0, 0, 0, 0, 1, 1, 1, 2)), OT_ABSENT,
        ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(4), OT_I64(1, 1, 2, 3))};
    cr_assert_eq(ot_run("Resize", 13, 4, in, 3, cr, 1, &y, err, sizeof err), 0, "%s", err);
    /* columns map to x = 0, 1, 2: the last is outside the input -> extrapolation value */
    ot_expect_f32(&y, OT_F32(1, 2, -7, 3, 4, -7), 6);
    gd_tensor_release(&y);
}

Test(ops_tensor_resize, upsample_and_errors)
{
    char err[256];
    struct gd_tensor y,
        in[2] = {ot_tensor(GD_DTYPE_UINT8, 2, OT_DIMS(1, 2), (const uint8_t[]){7, 9}),
                 ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(2), OT_F32(1, 3))};
    cr_assert_eq(ot_run("Upsample", 9, 2, in, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_UINT8, 2, OT_DIMS(1, 6));
    const uint8_t *p = y.data;
    cr_expect(p[0] == 7 && p[2] == 7 && p[3] == 9 && p[5] == 9);
    gd_tensor_release(&y);
    cr_expect_neq(run_resize(13, OT_F32(1, 1, -2, 2), NULL, 0, NULL, &y, err), 0);
    cr_expect_neq(run_resize(13, OT_F32(1, 1, 1e30f, 1e30f), NULL, 0, NULL, &y, err), 0);
    struct ot_attr m = OT_S("mode", "bogus");
    cr_expect_eq(run_resize(13, OT_F32(1, 1, 2, 2), NULL, 1, &m, &y, err), GD_EINVAL);
}

Test(ops_tensor_resize, nan_roi_is_safe)
{
    char err[256];
    struct gd_tensor y;
    struct ot_attr cr[2] = {OT_S("coordinate_transformation_mode", "tf_crop_and_resize"),
                            OT_S("mode", "cubic")};
    struct gd_tensor in[4] = {
        ot_tensor(GD_DTYPE_FLOAT, 4, OT_DIMS(1, 1, 2, 2), x4),
        ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(8), OT_F32(0, 0, NAN, -INFINITY, 1, 1, 1, 1e30f)),
        OT_ABSENT, ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(4), OT_I64(1, 1, 3, 3))};
    cr_assert_eq(ot_run("Resize", 13, 4, in, 2, cr, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&y, GD_DTYPE_FLOAT, 4, OT_DIMS(1, 1, 3, 3));
    gd_tensor_release(&y);
}
