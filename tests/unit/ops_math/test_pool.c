/* Pooling: MaxPool values and indices (row/column-major), ceil_mode, dilations, padding;
 * AveragePool with and without count_include_pad; LpPool and the Global forms. */
#include <criterion/criterion.h>
#include <math.h>

#include "node.h"

static const float X16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static int pool(const char *op, int nattr, const struct om_attr *a, int nout, struct gd_tensor *y)
{
    char err[256] = "";
    struct gd_tensor x = om_view(GD_DTYPE_FLOAT, 4, OM_SHAPE(1, 1, 4, 4), X16);
    struct om_node nd = {op, 12, 1, &x, nattr, a, nout, 1};
    int rc = om_run(&nd, y, err, sizeof err);
    cr_expect(rc == 0 || rc == GD_EINVAL, "%s", err);
    return rc;
}

Test(ops_math_pool, maxpool_indices_and_ceil)
{
    struct om_attr a[3] = {OM_INTS("kernel_shape", 2, 2, 2), OM_INTS("strides", 2, 2, 2),
                           OM_INT("storage_order", 1)};
    struct gd_tensor y[2];
    cr_assert_eq(pool("MaxPool", 2, a, 2, y), 0);
    cr_expect_lt(om_maxdiff_f32(&y[0], OM_F32(6, 8, 14, 16), 4), 1e-6);
    const int64_t *ix = y[1].data;
    cr_expect(ix[0] == 5 && ix[1] == 7 && ix[2] == 13 && ix[3] == 15);
    gd_tensor_release(&y[0]), gd_tensor_release(&y[1]);
    cr_assert_eq(pool("MaxPool", 3, a, 2, y), 0); /* column-major indices: h + w * H */
    ix = y[1].data;
    cr_expect(ix[0] == 1 + 1 * 4 && ix[1] == 1 + 3 * 4 && ix[3] == 3 + 3 * 4, "%lld",
              (long long)ix[0]);
    gd_tensor_release(&y[0]), gd_tensor_release(&y[1]);
    /* 3x3 stride 2 with ceil_mode: out 2x2 (last window clipped to the input) */
    struct om_attr c[3] = {OM_INTS("kernel_shape", 2, 3, 3), OM_INTS("strides", 2, 2, 2),
                           OM_INT("ceil_mode", 1)};
    cr_assert_eq(pool("MaxPool", 3, c, 1, y), 0);
    cr_expect_lt(om_maxdiff_f32(&y[0], OM_F32(11, 12, 15, 16), 4), 1e-6);
    gd_tensor_release(&y[0]);
    /* dilation 2: the 2x2 taps are 2 apart */
    struct om_attr d[2] = {OM_INTS("kernel_shape", 2, 2, 2), OM_INTS("dilations", 2, 2, 2)};
    cr_assert_eq(pool("MaxPool", 2, d, 1, y), 0);
    cr_expect_lt(om_maxdiff_f32(&y[0], OM_F32(11, 12, 15, 16), 4), 1e-6);
    gd_tensor_release(&y[0]);
    struct om_attr bad[1] = {OM_INTS("kernel_shape", 2, 5, 5)};
    cr_expect_eq(pool("MaxPool", 1, bad, 1, y), GD_EINVAL);
}

Test(ops_math_pool, averagepool_padding_modes)
{
    struct om_attr a[3] = {OM_INTS("kernel_shape", 2, 3, 3), OM_INTS("pads", 4, 1, 1, 1, 1),
                           OM_INT("count_include_pad", 0)};
    struct gd_tensor y;
    cr_assert_eq(pool("AveragePool", 3, a, 1, &y), 0);
    /* corner: (1 + 2 + 5 + 6) / 4 valid taps */
    cr_expect(fabsf(((float *)y.data)[0] - 3.5f) < 1e-6f);
    gd_tensor_release(&y);
    a[2] = OM_INT("count_include_pad", 1);
    cr_assert_eq(pool("AveragePool", 3, a, 1, &y), 0);
    cr_expect(fabsf(((float *)y.data)[0] - 14.0f / 9) < 1e-6f);
    cr_expect(fabsf(((float *)y.data)[5] - 6.0f * 9 / 9 - 0) < 1e-5f); /* interior: mean 6 */
    gd_tensor_release(&y);
}

Test(ops_math_pool, global_and_lp)
{
    struct gd_tensor y;
    cr_assert_eq(pool("GlobalAveragePool", 0, NULL, 1, &y), 0);
    cr_assert(y.rank == 4 && y.dims[2] == 1 && y.dims[3] == 1);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(8.5f), 1), 1e-6);
    gd_tensor_release(&y);
    cr_assert_eq(pool("GlobalMaxPool", 0, NULL, 1, &y), 0);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(16), 1), 1e-6);
    gd_tensor_release(&y);
    struct om_attr a[3] = {OM_INTS("kernel_shape", 2, 2, 2), OM_INTS("strides", 2, 2, 2),
                           OM_INT("p", 1)};
    cr_assert_eq(pool("LpPool", 3, a, 1, &y), 0);
    cr_expect_lt(om_maxdiff_f32(&y, OM_F32(14, 22, 46, 54), 4), 1e-5);
    gd_tensor_release(&y);
}

Test(ops_math_pool, maxunpool_inverts_maxpool_and_checks_indices)
{
    struct om_attr a[2] = {OM_INTS("kernel_shape", 2, 2, 2), OM_INTS("strides", 2, 2, 2)};
    struct gd_tensor p[2], y;
    cr_assert_eq(pool("MaxPool", 2, a, 2, p), 0);
    char err[256] = "";
    struct om_node nd = {"MaxUnpool", 11, 2, p, 2, a, 1, 1};
    cr_assert_eq(om_run(&nd, &y, err, sizeof err), 0, "%s", err);
    float want[16] = {0};
    want[5] = 6, want[7] = 8, want[13] = 14, want[15] = 16;
    cr_expect_lt(om_maxdiff_f32(&y, want, 16), 1e-6);
    gd_tensor_release(&y);
    ((int64_t *)p[1].data)[0] = 16; /* past the 4x4 output */
    cr_expect_eq(om_run(&nd, &y, err, sizeof err), GD_EINVAL);
    gd_tensor_release(&p[0]), gd_tensor_release(&p[1]);
}
