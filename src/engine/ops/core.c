/* Core ops the runtime itself relies on: Identity and Constant.
 * They also serve as the smallest example of the kernel interface (see docs/engine.md). */
#include <string.h>

#include "core/alloc.h"
#include "engine/op.h"
#include "engine/ops/registry.h"

/* Copies x into output 0 (strings are duplicated so each tensor owns its own). */
static int copy_to_output(struct gd_op_ctx *ctx, int out, const struct gd_tensor *x)
{
    struct gd_tensor *y = gd_op_output_like(ctx, out, x);
    if (!y)
        return GD_ENOMEM;
    if (y->data == x->data)
        return 0; /* in place */
    if (x->dtype == GD_DTYPE_SEQUENCE) {
        const struct gd_tensor *s = x->data;
        for (int64_t i = 0; i < x->numel; i++)
            if (gd_tensor_copy(&((struct gd_tensor *)y->data)[i], &s[i]))
                return gd_op_fail(ctx, GD_ENOMEM, "out of memory copying a sequence");
        return 0;
    }
    if (x->dtype != GD_DTYPE_STRING) {
        if (x->nbytes)
            memcpy(y->data, x->data, x->nbytes);
        return 0;
    }
    char **d = y->data, *const *s = x->data;
    for (int64_t i = 0; i < x->numel; i++)
        if (!(d[i] = gd_strdup(s[i] ? s[i] : "")))
            return gd_op_fail(ctx, GD_ENOMEM, "out of memory copying strings");
    return 0;
}

static int identity_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0);
    if (!x)
        return gd_op_fail(ctx, GD_EINVAL, "missing input");
    return copy_to_output(ctx, 0, x);
}

/* Constant: exactly one of value (tensor), value_float(s), value_int(s), value_string(s). */
static int constant_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *t = gd_op_attr_tensor(ctx, "value");
    if (t)
        return copy_to_output(ctx, 0, t);
    const int64_t *iv;
    const float *fv;
    const char *const *sv;
    int n;
    struct gd_tensor *y;
    int64_t dim;
    if (gd_op_attr_has(ctx, "value_float") || gd_op_attr_has(ctx, "value_int")) {
        int is_f = gd_op_attr_has(ctx, "value_float");
        if (!(y = gd_op_output(ctx, 0, is_f ? GD_DTYPE_FLOAT : GD_DTYPE_INT64, 0, NULL)))
            return GD_ENOMEM;
        if (is_f)
            *(float *)y->data = gd_op_attr_float(ctx, "value_float", 0);
        else
            *(int64_t *)y->data = gd_op_attr_int(ctx, "value_int", 0);
        return 0;
    }
    if ((n = gd_op_attr_floats(ctx, "value_floats", &fv)) >= 0) {
        dim = n;
        if (!(y = gd_op_output(ctx, 0, GD_DTYPE_FLOAT, 1, &dim)))
            return GD_ENOMEM;
        memcpy(y->data, fv, (size_t)n * sizeof *fv);
        return 0;
    }
    if ((n = gd_op_attr_ints(ctx, "value_ints", &iv)) >= 0) {
        dim = n;
        if (!(y = gd_op_output(ctx, 0, GD_DTYPE_INT64, 1, &dim)))
            return GD_ENOMEM;
        memcpy(y->data, iv, (size_t)n * sizeof *iv);
        return 0;
    }
    int is_list = (n = gd_op_attr_strings(ctx, "value_strings", &sv)) >= 0;
    const char *one = gd_op_attr_string(ctx, "value_string", NULL);
    if (!is_list && !one)
        return gd_op_fail(ctx, GD_ENOTSUP, "no supported value attribute (sparse_value?)");
    dim = is_list ? n : 1;
    if (!(y = gd_op_output(ctx, 0, GD_DTYPE_STRING, is_list ? 1 : 0, &dim)))
        return GD_ENOMEM;
    for (int64_t i = 0; i < y->numel; i++)
        if (!(((char **)y->data)[i] = gd_strdup(is_list ? sv[i] : one)))
            return gd_op_fail(ctx, GD_ENOMEM, "out of memory");
    return 0;
}

const struct gd_op_def gd_ops_core[] = {
    {"", "Identity", 1, 0, identity_run, GD_OP_F_INPLACE0 | GD_OP_F_SEQUENCE},
    {"", "Constant", 1, 0, constant_run, 0},
    {0},
};
