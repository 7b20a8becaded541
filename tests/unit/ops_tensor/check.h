/* Assertion helpers shared by the ops_tensor tests. */
#ifndef GD_TEST_OPS_TENSOR_CHECK_H
#define GD_TEST_OPS_TENSOR_CHECK_H

#include <criterion/criterion.h>
#include <math.h>

#include "harness.h"

/* Expects y to have dtype dt and shape dims[rank]. */
static inline void ot_expect_shape(const struct gd_tensor *y, enum gd_dtype dt, int rank,
                                   const int64_t *dims)
{
    cr_assert_eq(y->dtype, dt, "dtype %d, expected %d", y->dtype, dt);
    cr_assert_eq(y->rank, rank, "rank %d, expected %d", y->rank, rank);
    for (int i = 0; i < rank; i++)
        cr_assert_eq(y->dims[i], dims[i], "dim %d is %lld, expected %lld", i, (long long)y->dims[i],
                     (long long)dims[i]);
}

static inline void ot_expect_f32(const struct gd_tensor *y, const float *want, int64_t n)
{
    cr_assert_eq(y->numel, n);
    for (int64_t i = 0; i < n; i++)
        cr_expect(fabsf(((const float *)y->data)[i] - want[i]) <= 1e-5f + 1e-4f * fabsf(want[i]),
                  "element %lld: got %g want %g", (long long)i, ((const float *)y->data)[i],
                  want[i]);
}

static inline void ot_expect_i64(const struct gd_tensor *y, const int64_t *want, int64_t n)
{
    cr_assert_eq(y->numel, n);
    for (int64_t i = 0; i < n; i++)
        cr_expect_eq(((const int64_t *)y->data)[i], want[i], "element %lld: got %lld want %lld",
                     (long long)i, (long long)((const int64_t *)y->data)[i], (long long)want[i]);
}

#define OT_F32(...) ((const float[]){__VA_ARGS__})
#define OT_I64(...) ((const int64_t[]){__VA_ARGS__})
#define OT_N(...) ((int64_t)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))

#endif
