/* Elementwise ops: broadcasting, dtype coverage, integer edge cases, NaN, opset forms. */
#include <criterion/criterion.h>
#include <math.h>

#include "node.h"

static struct gd_tensor run1(const char *op, int opset, int nin, const struct gd_tensor *in,
                             int nattr, const struct om_attr *attr, int expect_rc)
{
    char err[256] = "";
    struct gd_tensor y = {0};
    struct om_node nd = {op, opset, nin, in, nattr, attr, 1, 0};
    int rc = om_run(&nd, &y, err, sizeof err);
    cr_assert_eq(rc, expect_rc, "%s: rc %d: %s", op, rc, err);
    return y;
}

Test(ops_math_elementwise, add_broadcast_rows_and_scalars)
{
    struct gd_tensor in[2] = {
        om_view(GD_DTYPE_FLOAT, 3, OM_SHAPE(2, 1, 3), OM_F32(1, 2, 3, 4, 5, 6)),
        om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(2, 1), OM_F32(10, 20))};
    struct gd_tensor y = run1("Add", 14, 2, in, 0, NULL, 0);
    cr_assert_eq(y.rank, 3);
    cr_expect(y.dims[0] == 2 && y.dims[1] == 2 && y.dims[2] == 3);
    float want[] = {11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26};
    cr_expect_lt(om_maxdiff_f32(&y, want, 12), 1e-6);
    gd_tensor_release(&y);
    /* scalar on the left, per-channel [C,1,1] bias on a [1,C,H,W] tensor */
    float x[12], b[3] = {100, 200, 300}, w2[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)i, w2[i] = (float)i + b[i / 4];
    in[0] = om_view(GD_DTYPE_FLOAT, 4, OM_SHAPE(1, 3, 2, 2), x);
    in[1] = om_view(GD_DTYPE_FLOAT, 3, OM_SHAPE(3, 1, 1), b);
    y = run1("Add", 14, 2, in, 0, NULL, 0);
    cr_expect_lt(om_maxdiff_f32(&y, w2, 12), 1e-6);
    gd_tensor_release(&y);
    in[0] = om_view(GD_DTYPE_FLOAT, 0, NULL, OM_F32(1));
    in[1] = om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(3), OM_F32(1, 2, 3));
    y = run1("Sub", 14, 2, in, 0, NULL, 0);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(0, -1, -2), 3), 1e-6);
    gd_tensor_release(&y);
}

Test(ops_math_elementwise, broadcast_errors_and_empty)
{
    struct gd_tensor in[2] = {om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(3), OM_F32(1, 2, 3)),
                              om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(2), OM_F32(1, 2))};
    (void)run1("Mul", 14, 2, in, 0, NULL, GD_EINVAL);
    in[1] = om_view(GD_DTYPE_INT32, 1, OM_SHAPE(3), OM_I32(1, 2, 3));
    (void)run1("Mul", 14, 2, in, 0, NULL, GD_EINVAL); /* dtype mismatch */
    float none[1];
    in[0] = om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(0, 3), none);
    in[1] = om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(3), OM_F32(1, 2, 3));
    struct gd_tensor y = run1("Mul", 14, 2, in, 0, NULL, 0);
    cr_expect(y.rank == 2 && y.dims[0] == 0 && y.dims[1] == 3 && y.numel == 0);
    gd_tensor_release(&y);
}

Test(ops_math_elementwise, integer_division_and_mod)
{
    struct gd_tensor in[2] = {
        om_view(GD_DTYPE_INT32, 1, OM_SHAPE(5), OM_I32(7, -7, 7, -2147483647 - 1, 5)),
        om_view(GD_DTYPE_INT32, 1, OM_SHAPE(5), OM_I32(2, 2, 0, -1, -3))};
    struct gd_tensor y = run1("Div", 14, 2, in, 0, NULL, 0);
    const int32_t *p = y.data;
    /* truncation toward zero; x/0 -> 0; INT_MIN/-1 wraps instead of trapping */
    cr_expect(p[0] == 3 && p[1] == -3 && p[2] == 0 && p[3] == (-2147483647 - 1) && p[4] == -1,
              "%d %d %d %d %d", p[0], p[1], p[2], p[3], p[4]);
    gd_tensor_release(&y);
    y = run1("Mod", 13, 2, in, 0, NULL, 0); /* Python semantics: sign of the divisor */
    p = y.data;
    cr_expect(p[0] == 1 && p[1] == 1 && p[2] == 0 && p[3] == 0 && p[4] == -1, "%d %d %d %d %d",
              p[0], p[1], p[2], p[3], p[4]);
    gd_tensor_release(&y);
    struct om_attr fm = OM_INT("fmod", 1);
    y = run1("Mod", 13, 2, in, 1, &fm, 0); /* C semantics: sign of the dividend */
    p = y.data;
    cr_expect(p[0] == 1 && p[1] == -1 && p[4] == 2, "%d %d %d", p[0], p[1], p[4]);
    gd_tensor_release(&y);
    struct gd_tensor f[2] = {om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(2), OM_F32(5.5f, -5.5f)),
                             om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(2), OM_F32(2, 2))};
    (void)run1("Mod", 13, 2, f, 0, NULL, GD_EINVAL); /* floats need fmod=1 */
    y = run1("Mod", 13, 2, f, 1, &fm, 0);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(1.5f, -1.5f), 2), 1e-6);
    gd_tensor_release(&y);
}

Test(ops_math_elementwise, pow_mixed_and_where)
{
    struct gd_tensor in[2] = {om_view(GD_DTYPE_INT32, 1, OM_SHAPE(3), OM_I32(2, 3, -2)),
                              om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(3), OM_F32(3, 2, 2))};
    struct gd_tensor y = run1("Pow", 15, 2, in, 0, NULL, 0);
    cr_assert_eq(y.dtype, GD_DTYPE_INT32);
    const int32_t *p = y.data;
    cr_expect(p[0] == 8 && p[1] == 9 && p[2] == 4);
    gd_tensor_release(&y);
    struct gd_tensor w[3] = {om_view(GD_DTYPE_BOOL, 2, OM_SHAPE(2, 1), OM_U8(1, 0)),
                             om_view(GD_DTYPE_INT64, 1, OM_SHAPE(2), OM_I64(1, 2)),
                             om_view(GD_DTYPE_INT64, 0, NULL, OM_I64(-1))};
    y = run1("Where", 16, 3, w, 0, NULL, 0);
    const int64_t *q = y.data;
    cr_assert_eq(y.numel, 4);
    cr_expect(q[0] == 1 && q[1] == 2 && q[2] == -1 && q[3] == -1);
    gd_tensor_release(&y);
}

Test(ops_math_elementwise, variadic_and_compare)
{
    struct gd_tensor in[3] = {om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(3), OM_F32(1, NAN, 3)),
                              om_view(GD_DTYPE_FLOAT, 0, NULL, OM_F32(2)),
                              om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(2, 1), OM_F32(0, 5))};
    struct gd_tensor y = run1("Max", 13, 3, in, 0, NULL, 0);
    float want[] = {2, NAN, 3, 5, NAN, 5};
    cr_expect_lt(om_maxdiff_f32(&y, want, 6), 1e-6);
    gd_tensor_release(&y);
    y = run1("Mean", 13, 3, in, 0, NULL, 0);
    float wm[] = {1, NAN, 5.0f / 3, 8.0f / 3, NAN, 10.0f / 3};
    cr_expect_lt(om_maxdiff_f32(&y, wm, 6), 1e-6);
    gd_tensor_release(&y);
    y = run1("Less", 13, 2, in, 0, NULL, 0);
    cr_assert_eq(y.dtype, GD_DTYPE_BOOL);
    const uint8_t *b = y.data;
    cr_expect(b[0] == 1 && b[1] == 0 && b[2] == 0); /* NaN compares false */
    gd_tensor_release(&y);
}

Test(ops_math_elementwise, bitshift_and_logic)
{
    struct om_attr left = OM_STR("direction", "LEFT");
    struct gd_tensor in[2] = {om_view(GD_DTYPE_UINT8, 1, OM_SHAPE(3), OM_U8(1, 255, 3)),
                              om_view(GD_DTYPE_UINT8, 1, OM_SHAPE(3), OM_U8(3, 1, 9))};
    struct gd_tensor y = run1("BitShift", 11, 2, in, 1, &left, 0);
    const uint8_t *p = y.data;
    cr_expect(p[0] == 8 && p[1] == 254 && p[2] == 0, "%d %d %d", p[0], p[1], p[2]);
    gd_tensor_release(&y);
    struct gd_tensor l[2] = {om_view(GD_DTYPE_BOOL, 1, OM_SHAPE(4), OM_U8(0, 0, 1, 1)),
                             om_view(GD_DTYPE_BOOL, 1, OM_SHAPE(4), OM_U8(0, 1, 0, 1))};
    y = run1("Xor", 7, 2, l, 0, NULL, 0);
    p = y.data;
    cr_expect(p[0] == 0 && p[1] == 1 && p[2] == 1 && p[3] == 0);
    gd_tensor_release(&y);
    y = run1("Not", 1, 1, l, 0, NULL, 0);
    p = y.data;
    cr_expect(p[0] == 1 && p[2] == 0);
    gd_tensor_release(&y);
}

Test(ops_math_elementwise, legacy_broadcast_axis)
{
    /* opset 6: B [2] aligned at axis 0 of A [2, 3] */
    struct om_attr a[2] = {OM_INT("broadcast", 1), OM_INT("axis", 0)};
    struct gd_tensor in[2] = {om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(2, 3), OM_F32(0, 0, 0, 1, 1, 1)),
                              om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(2), OM_F32(10, 20))};
    struct gd_tensor y = run1("Add", 6, 2, in, 2, a, 0);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(10, 10, 10, 21, 21, 21), 6), 1e-6);
    gd_tensor_release(&y);
}

Test(ops_math_elementwise, unary_math_and_types)
{
    struct gd_tensor x =
        om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(5), OM_F32(-2.5f, -0.5f, 0.5f, 1.5f, 2.5f));
    struct gd_tensor y = run1("Round", 11, 1, &x, 0, NULL, 0);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(-2, -0, 0, 2, 2), 5), 1e-6); /* half to even */
    gd_tensor_release(&y);
    y = run1("Erf", 13, 1, &x, 0, NULL, 0);
    float we[5];
    for (int i = 0; i < 5; i++)
        we[i] = erff(((const float *)x.data)[i]);
    cr_expect_lt(om_maxdiff_f32(&y, we, 5), 1e-6);
    gd_tensor_release(&y);
    struct gd_tensor xi = om_view(GD_DTYPE_INT64, 1, OM_SHAPE(3), OM_I64(-5, 0, INT64_MIN));
    y = run1("Abs", 13, 1, &xi, 0, NULL, 0);
    const int64_t *p = y.data;
    cr_expect(p[0] == 5 && p[1] == 0 && p[2] == INT64_MIN); /* wraps like numpy */
    gd_tensor_release(&y);
    y = run1("Sign", 13, 1, &xi, 0, NULL, 0);
    p = y.data;
    cr_expect(p[0] == -1 && p[1] == 0 && p[2] == -1);
    gd_tensor_release(&y);
    (void)run1("Exp", 13, 1, &xi, 0, NULL, GD_ENOTSUP); /* no integer Exp */
    struct gd_tensor xf = om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(3), OM_F32(INFINITY, -INFINITY, NAN));
    struct om_attr neg_only = OM_INT("detect_positive", 0);
    y = run1("IsInf", 10, 1, &xf, 1, &neg_only, 0);
    const uint8_t *b = y.data;
    cr_expect(b[0] == 0 && b[1] == 1 && b[2] == 0);
    gd_tensor_release(&y);
}

Test(ops_math_elementwise, float16_and_double)
{
    uint16_t h[3] = {gd_f32_to_f16(-1), gd_f32_to_f16(0), gd_f32_to_f16(2)};
    struct gd_tensor x = om_view(GD_DTYPE_FLOAT16, 1, OM_SHAPE(3), h);
    struct gd_tensor y = run1("Sigmoid", 13, 1, &x, 0, NULL, 0);
    cr_assert_eq(y.dtype, GD_DTYPE_FLOAT16);
    const uint16_t *p = y.data;
    cr_expect(fabsf(gd_f16_to_f32(p[0]) - 0.26894142f) < 1e-3f);
    cr_expect(fabsf(gd_f16_to_f32(p[2]) - 0.88079708f) < 1e-3f);
    gd_tensor_release(&y);
    struct gd_tensor d = om_view(GD_DTYPE_DOUBLE, 1, OM_SHAPE(2), OM_F64(-40, 40));
    y = run1("Softplus", 1, 1, &d, 0, NULL, 0);
    cr_expect_lt(om_maxdiff_f64(&y, OM_F64(log1p(exp(-40.0)), 40 + log1p(exp(-40.0))), 2), 1e-12);
    gd_tensor_release(&y);
}

Test(ops_math_elementwise, activations_with_attributes)
{
    struct gd_tensor x = om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(4), OM_F32(-2, -0.25f, 0.25f, 2));
    struct om_attr a = OM_FLOAT("alpha", 0.5f);
    struct gd_tensor y = run1("LeakyRelu", 16, 1, &x, 1, &a, 0);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(-1, -0.125f, 0.25f, 2), 4), 1e-6);
    gd_tensor_release(&y);
    y = run1("HardSwish", 14, 1, &x, 0, NULL, 0);
    cr_expect_lt(om_maxdiff_f32(&y,
                                OM_F32(-2 * (1.0f / 6), -0.25f * (0.5f - 0.25f / 6),
                                       0.25f * (0.5f + 0.25f / 6), 2 * (0.5f + 2.0f / 6)),
                                4),
                 1e-6);
    gd_tensor_release(&y);
    struct om_attr sh[2] = {OM_FLOAT("lambd", 1.0f), OM_FLOAT("bias", 0.5f)};
    y = run1("Shrink", 9, 1, &x, 2, sh, 0);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(-1.5f, 0, 0, 1.5f), 4), 1e-6);
    gd_tensor_release(&y);
    /* PRelu with a per-channel slope, and Clip in both opset forms */
    struct gd_tensor pr[2] = {om_view(GD_DTYPE_FLOAT, 2, OM_SHAPE(2, 2), OM_F32(-1, -1, 1, -1)),
                              om_view(GD_DTYPE_FLOAT, 1, OM_SHAPE(2), OM_F32(0.1f, 0.2f))};
    y = run1("PRelu", 16, 2, pr, 0, NULL, 0);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(-0.1f, -0.2f, 1, -0.2f), 4), 1e-6);
    gd_tensor_release(&y);
    struct om_attr mm[2] = {OM_FLOAT("min", -1), OM_FLOAT("max", 1)};
    y = run1("Clip", 6, 1, &x, 2, mm, 0);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(-1, -0.25f, 0.25f, 1), 4), 1e-6);
    gd_tensor_release(&y);
    struct gd_tensor ci[3] = {
        om_view(GD_DTYPE_INT8, 1, OM_SHAPE(3), (const int8_t[]){-100, 5, 100}),
        {0},
        om_view(GD_DTYPE_INT8, 0, NULL, (const int8_t[]){10})};
    y = run1("Clip", 13, 3, ci, 0, NULL, 0); /* min absent */
    const int8_t *q = y.data;
    cr_expect(q[0] == -100 && q[1] == 5 && q[2] == 10);
    gd_tensor_release(&y);
    /* before opset 12 Clip takes float types: an int8 input is refused, not clamped with
     * float bounds cast out of int8's range (-FLT_MAX by default; found by the fuzzer) */
    run1("Clip", 6, 1, ci, 0, NULL, GD_EINVAL);
    run1("Clip", 11, 1, ci, 0, NULL, GD_EINVAL);
}
