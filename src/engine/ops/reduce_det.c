/* Det (opset 11): determinant of each trailing [M, M] matrix, by LU decomposition with
 * partial pivoting in double. Output shape is the batch shape (input dims minus the
 * last two). */
#include <math.h>
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

static double det_lu(double *a, int64_t M)
{
    double det = 1;
    for (int64_t k = 0; k < M; k++) {
        int64_t p = k;
        for (int64_t i = k + 1; i < M; i++)
            if (fabs(a[i * M + k]) > fabs(a[p * M + k]))
                p = i;
        if (a[p * M + k] == 0)
            return 0;
        if (p != k) {
            for (int64_t j = 0; j < M; j++) {
                double t = a[k * M + j];
                a[k * M + j] = a[p * M + j], a[p * M + j] = t;
            }
            det = -det;
        }
        det *= a[k * M + k];
        for (int64_t i = k + 1; i < M; i++) {
            double f = a[i * M + k] / a[k * M + k];
            for (int64_t j = k; j < M; j++)
                a[i * M + j] -= f * a[k * M + j];
        }
    }
    return det;
}

static int det_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2] || !gd_dtype_is_float(x->dtype))
        return gd_op_fail(ctx, GD_EINVAL, "input must be float [..., M, M]");
    int64_t M = x->dims[x->rank - 1], B = gd__ot_prod(x->dims, 0, x->rank - 2);
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, x->rank - 2, x->dims);
    double *a = gd_op_scratch(ctx, (size_t)(M > 0 ? M * M : 1) * sizeof *a);
    if (!y || !a)
        return GD_ENOMEM;
    for (int64_t b = 0; b < B; b++) {
        gd__ot_load_f64(x, b * M * M, M * M, a);
        double d = det_lu(a, M);
        gd__ot_store_f64(y, b, 1, &d);
    }
    return 0;
}

const struct gd_op_def gd_ops_det[] = {
    {"", "Det", 11, 0, det_run, 0},
    {0},
};
