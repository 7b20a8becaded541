/* Variadic elementwise ops with broadcasting: Max, Min, Sum, Mean.
 * The output takes the broadcast shape of all inputs; input 0 is broadcast-copied into it
 * and each further input is folded in place (y = op(y, x_k)), so any number of inputs
 * costs one pass each and no temporaries. Max/Min propagate NaN like numpy. */
#include <string.h>

#include "engine/kernels/ew_gen.h"
#include "engine/op.h"
#include "engine/ops/registry.h"

#define MAXOP(a, b) (((a) != (a) || (a) > (b)) ? (a) : (b))
#define MINOP(a, b) (((a) != (a) || (a) < (b)) ? (a) : (b))
#define VAR_OPS(NAME, EXPR)                                                                        \
    EW_FLT(EW_ROW_SAME, NAME, EW_SAME, EXPR)                                                       \
    EW_INT(EW_ROW_SAME, NAME, EW_SAME, EXPR)                                                       \
    EW_ROW_F16(NAME, EW_SAME, EXPR)
VAR_OPS(vmax, MAXOP(a, b))
VAR_OPS(vmin, MINOP(a, b))
EW_FLT(EW_ROW_SAME, vsum, EW_SAME, a + b)
EW_ROW_F16(vsum, EW_SAME, a + b)

#define TAB_ALL(NAME) EW_FLT(EW_TAB, NAME) EW_INT(EW_TAB, NAME)[GD_DTYPE_FLOAT16] = NAME##_f16,
static const gd_ew_row_fn vmax_tab[EW_NDT] = {TAB_ALL(vmax)};
static const gd_ew_row_fn vmin_tab[EW_NDT] = {TAB_ALL(vmin)};
static const gd_ew_row_fn vsum_tab[EW_NDT] = {EW_FLT(EW_TAB, vsum)[GD_DTYPE_FLOAT16] = vsum_f16};

/* Broadcast copy of operand 1 into operand 0, by element size. */
#define COPY_ROW(T)                                                                                \
    static void copy_row_##T(void *ud, const int64_t *off, const int64_t *st, int64_t n)           \
    {                                                                                              \
        const struct gd_ew_job *j = ud;                                                            \
        T *y = (T *)j->y + off[0];                                                                 \
        const T *a = (const T *)j->a + off[1];                                                     \
        for (int64_t i = 0; i < n; i++)                                                            \
            y[i] = a[i * st[1]];                                                                   \
    }
COPY_ROW(uint8_t)
COPY_ROW(uint16_t)
COPY_ROW(uint32_t)
COPY_ROW(uint64_t)

static gd_ew_row_fn copy_row_for(size_t es)
{
    switch (es) {
    case 1:
        return copy_row_uint8_t;
    case 2:
        return copy_row_uint16_t;
    case 4:
        return copy_row_uint32_t;
    case 8:
        return copy_row_uint64_t;
    default:
        return NULL;
    }
}

static void mean_div(struct gd_tensor *y, int n)
{
    for (int64_t i = 0; i < y->numel; i++) {
        if (y->dtype == GD_DTYPE_FLOAT)
            ((float *)y->data)[i] /= (float)n;
        else if (y->dtype == GD_DTYPE_DOUBLE)
            ((double *)y->data)[i] /= n;
        else
            ((gd_f16 *)y->data)[i] = gd_f32_to_f16(gd_f16_to_f32(((gd_f16 *)y->data)[i]) / n);
    }
}

static int variadic_run(struct gd_op_ctx *ctx, const gd_ew_row_fn *tab, int mean)
{
    int n = gd_op_num_inputs(ctx), rank, rc;
    if (n < 1 || n > GD_BCAST_MAX_OPERANDS)
        return gd_op_fail(ctx, GD_EINVAL, "needs 1 to %d inputs, got %d", GD_BCAST_MAX_OPERANDS, n);
    const struct gd_tensor *ins[GD_BCAST_MAX_OPERANDS];
    for (int k = 0; k < n; k++) {
        if (!(ins[k] = gd_op_input(ctx, k)))
            return gd_op_fail(ctx, GD_EINVAL, "missing input %d", k);
        if (ins[k]->dtype != ins[0]->dtype)
            return gd_op_fail(ctx, GD_EINVAL, "input %d dtype differs", k);
    }
    enum gd_dtype dt = ins[0]->dtype;
    gd_ew_row_fn copy = copy_row_for(gd_dtype_size(dt));
    if ((unsigned)dt >= EW_NDT || !tab[dt] || !copy)
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s not supported", gd_dtype_name(dt));
    int64_t dims[GD_TENSOR_MAX_RANK];
    if ((rc = gd_ew_bcast_shape(ctx, n, ins, &rank, dims)))
        return rc;
    struct gd_tensor *y = gd_op_output(ctx, 0, dt, rank, dims);
    if (!y)
        return GD_ENOMEM;
    struct gd_ew_job j = {.y = y->data, .a = ins[0]->data};
    if (y->data != ins[0]->data && (rc = gd_ew_bcast_rows(ctx, y, 1, ins, copy, &j)))
        return rc;
    for (int k = 1; k < n; k++) {
        const struct gd_tensor *pair[2] = {y, ins[k]};
        j.a = y->data;
        j.b = ins[k]->data;
        if ((rc = gd_ew_bcast_rows(ctx, y, 2, pair, tab[dt], &j)))
            return rc;
    }
    if (mean)
        mean_div(y, n);
    return 0;
}

static int max_run(struct gd_op_ctx *ctx)
{
    return variadic_run(ctx, vmax_tab, 0);
}
static int min_run(struct gd_op_ctx *ctx)
{
    return variadic_run(ctx, vmin_tab, 0);
}
static int sum_run(struct gd_op_ctx *ctx)
{
    return variadic_run(ctx, vsum_tab, 0);
}
static int mean_run(struct gd_op_ctx *ctx)
{
    return variadic_run(ctx, vsum_tab, 1);
}

const struct gd_op_def gd_ops_binary_variadic[] = {
    {"", "Max", 1, 0, max_run, GD_OP_F_INPLACE0},
    {"", "Min", 1, 0, min_run, GD_OP_F_INPLACE0},
    {"", "Sum", 1, 0, sum_run, GD_OP_F_INPLACE0},
    {"", "Mean", 1, 0, mean_run, GD_OP_F_INPLACE0},
    {0},
};
