/* Pow (mixed base/exponent dtypes since opset 12, output has the base's dtype) and Where.
 * Same-dtype float Pow runs typed row kernels; any other combination converts through
 * double per element (exact for the integer ranges real models use). */
#include <math.h>

#include "engine/kernels/ew_gen.h"
#include "engine/op.h"
#include "engine/ops/binary.h"
#include "engine/ops/registry.h"

EW_ROW2(pow_f32, float, float, float, float, EW_ID, EW_ID, EW_ID, b == 2.0f ? a * a : powf(a, b))
EW_ROW2(pow_f64, double, double, double, double, EW_ID, EW_ID, EW_ID, pow(a, b))
EW_ROW2(pow_f16, gd_f16, gd_f16, gd_f16, float, EW_F16LD, EW_F16LD, EW_F16ST, powf(a, b))

struct pow_job {
    struct gd_ew_job j; /* first: row kernels cast ud to it */
    struct gd_tensor *y;
};

static void pow_any(void *ud, const int64_t *off, const int64_t *st, int64_t n)
{
    const struct pow_job *p = ud;
    for (int64_t i = 0; i < n; i++) {
        double a = gd_tensor_get_f64(p->j.ta, off[1] + i * st[1]);
        double b = gd_tensor_get_f64(p->j.tb, off[2] + i * st[2]);
        double r = pow(a, b);
        if (gd_dtype_is_int(p->y->dtype) && !isfinite(r))
            r = 0; /* converting inf/NaN to an integer is undefined */
        else if (gd_dtype_is_int(p->y->dtype) && fabs(r) >= 9.2e18)
            r = 0;
        gd_tensor_set_f64(p->y, off[0] + i, r);
    }
}

static int pow_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *a = gd_op_input(ctx, 0), *b = gd_op_input(ctx, 1);
    if (!a || !b)
        return gd_op_fail(ctx, GD_EINVAL, "missing input");
    struct gd_tensor view;
    if (gd_op_opset(ctx) < 7 && gd_op_attr_int(ctx, "broadcast", 0) &&
        gd_op_attr_has(ctx, "axis")) {
        int64_t axis = gd_op_attr_int(ctx, "axis", 0);
        b = gd__bin_legacy_view(ctx, a, b, axis < 0 ? axis + a->rank : axis, &view);
    }
    int ok_a = gd_dtype_is_float(a->dtype) || gd_dtype_is_int(a->dtype);
    int ok_b = gd_dtype_is_float(b->dtype) || gd_dtype_is_int(b->dtype);
    if (!ok_a || !ok_b)
        return gd_op_fail(ctx, GD_ENOTSUP, "dtypes %s, %s not supported", gd_dtype_name(a->dtype),
                          gd_dtype_name(b->dtype));
    const struct gd_tensor *ins[2] = {a, b};
    int rank, rc;
    int64_t dims[GD_TENSOR_MAX_RANK];
    if ((rc = gd_ew_bcast_shape(ctx, 2, ins, &rank, dims)))
        return rc;
    struct gd_tensor *y = gd_op_output(ctx, 0, a->dtype, rank, dims);
    if (!y)
        return GD_ENOMEM;
    struct pow_job p = {{.y = y->data, .a = a->data, .b = b->data, .ta = a, .tb = b}, y};
    gd_ew_row_fn row = pow_any;
    if (a->dtype == b->dtype && a->dtype == GD_DTYPE_FLOAT)
        row = pow_f32;
    else if (a->dtype == b->dtype && a->dtype == GD_DTYPE_DOUBLE)
        row = pow_f64;
    else if (a->dtype == b->dtype && a->dtype == GD_DTYPE_FLOAT16)
        row = pow_f16;
    return gd_ew_bcast_rows(ctx, y, 2, ins, row, &p);
}

/* Where(cond, x, y): element-size kernels, so every fixed-size dtype is covered. */
#define WHERE_ROW(T)                                                                               \
    static void where_##T(void *ud, const int64_t *off, const int64_t *st, int64_t n)              \
    {                                                                                              \
        const struct gd_ew_job *j = ud;                                                            \
        T *y = (T *)j->y + off[0];                                                                 \
        const gd_bool *c = (const gd_bool *)j->a + off[1];                                         \
        const T *x1 = (const T *)j->b + off[2], *x2 = (const T *)j->c + off[3];                    \
        for (int64_t i = 0; i < n; i++)                                                            \
            y[i] = c[i * st[1]] ? x1[i * st[2]] : x2[i * st[3]];                                   \
    }
WHERE_ROW(uint8_t)
WHERE_ROW(uint16_t)
WHERE_ROW(uint32_t)
WHERE_ROW(uint64_t)

static int where_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *c = gd_op_input(ctx, 0), *x = gd_op_input(ctx, 1),
                           *z = gd_op_input(ctx, 2);
    if (!c || !x || !z)
        return gd_op_fail(ctx, GD_EINVAL, "missing input");
    if (c->dtype != GD_DTYPE_BOOL || x->dtype != z->dtype)
        return gd_op_fail(ctx, GD_EINVAL, "needs a bool condition and equal X/Y dtypes");
    gd_ew_row_fn row = NULL;
    switch (x->dtype == GD_DTYPE_STRING ? 0 : gd_dtype_size(x->dtype)) {
    case 1:
        row = where_uint8_t;
        break;
    case 2:
        row = where_uint16_t;
        break;
    case 4:
        row = where_uint32_t;
        break;
    case 8:
        row = where_uint64_t;
        break;
    default:
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s not supported", gd_dtype_name(x->dtype));
    }
    const struct gd_tensor *ins[3] = {c, x, z};
    int rank, rc;
    int64_t dims[GD_TENSOR_MAX_RANK];
    if ((rc = gd_ew_bcast_shape(ctx, 3, ins, &rank, dims)))
        return rc;
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, rank, dims);
    if (!y)
        return GD_ENOMEM;
    struct gd_ew_job j = {.y = y->data, .a = c->data, .b = x->data, .c = z->data};
    return gd_ew_bcast_rows(ctx, y, 3, ins, row, &j);
}

const struct gd_op_def gd_ops_binary_pow[] = {
    {"", "Pow", 1, 0, pow_run, 0},
    {"", "Where", 9, 0, where_run, 0},
    {0},
};
