/* float16 widening / narrowing through scratch memory (see widen.h). */
#include "engine/kernels/widen.h"

#include <string.h>

int gd_scratch_f32(struct gd_op_ctx *ctx, int rank, const int64_t *dims, struct gd_tensor *out)
{
    memset(out, 0, sizeof *out);
    if (gd_tensor_set_shape(out, GD_DTYPE_FLOAT, rank, dims))
        return gd_op_fail(ctx, GD_ERANGE, "tensor too large");
    if (!(out->data = gd_op_scratch(ctx, out->nbytes ? out->nbytes : 1)))
        return GD_ENOMEM;
    return 0;
}

int gd_widen_f16(struct gd_op_ctx *ctx, const struct gd_tensor *t, struct gd_tensor *out,
                 const struct gd_tensor **res)
{
    *res = NULL;
    if (!t)
        return 0;
    int rc = gd_scratch_f32(ctx, t->rank, t->dims, out);
    if (rc)
        return rc;
    const gd_f16 *s = t->data;
    float *d = out->data;
    for (int64_t i = 0; i < t->numel; i++)
        d[i] = gd_f16_to_f32(s[i]);
    *res = out;
    return 0;
}

void gd_narrow_f16(const struct gd_tensor *src, struct gd_tensor *y)
{
    const float *s = src->data;
    gd_f16 *d = y->data;
    for (int64_t i = 0; i < y->numel; i++)
        d[i] = gd_f32_to_f16(s[i]);
}
