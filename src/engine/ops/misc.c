/* TopK (K as attribute in opset 1, as input since 10; largest/sorted since 11) and
 * ReverseSequence. TopK sorts each slice with ties broken by the lower index (the ONNX
 * and numpy-stable convention), so results are deterministic; NaN compares as larger
 * than every number. */
#include <stdlib.h>
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

struct kv {
    double v;
    int64_t i;
};

/* a before b when larger (NaN largest), ties by index. */
static int cmp_desc(const void *pa, const void *pb)
{
    const struct kv *a = pa, *b = pb;
    int an = a->v != a->v, bn = b->v != b->v;
    if (an != bn)
        return an ? -1 : 1;
    if (!an && a->v != b->v)
        return a->v > b->v ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

static int cmp_asc(const void *pa, const void *pb)
{
    const struct kv *a = pa, *b = pb;
    int an = a->v != a->v, bn = b->v != b->v;
    if (an != bn)
        return an ? 1 : -1;
    if (!an && a->v != b->v)
        return a->v < b->v ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

static int topk_run(struct gd_op_ctx *ctx)
{
    int rc = 0, ax;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    if (x->dtype == GD_DTYPE_STRING)
        return gd_op_fail(ctx, GD_ENOTSUP, "string input");
    int64_t k;
    if (gd_op_opset(ctx) >= 10) {
        if ((rc = gd__ot_scalar_i64(ctx, gd_op_input(ctx, 1), "K", &k)))
            return rc;
    } else {
        k = gd_op_attr_int(ctx, "k", -1);
    }
    if (gd_axis_normalize(gd_op_attr_int(ctx, "axis", -1), x->rank, &ax))
        return gd_op_fail(ctx, GD_EINVAL, "axis out of range for rank %d", x->rank);
    int64_t N = x->dims[ax], d[GD_TENSOR_MAX_RANK];
    if (k < 0 || k > N)
        return gd_op_fail(ctx, GD_EINVAL, "K = %lld out of range [0, %lld]", (long long)k,
                          (long long)N);
    int largest = gd_op_attr_int(ctx, "largest", 1) != 0;
    memcpy(d, x->dims, sizeof d);
    d[ax] = k;
    struct gd_tensor *yv = gd_op_output(ctx, 0, x->dtype, x->rank, d);
    struct gd_tensor *yi = yv ? gd_op_output(ctx, 1, GD_DTYPE_INT64, x->rank, d) : NULL;
    struct kv *buf = gd_op_scratch(ctx, (size_t)(N ? N : 1) * sizeof *buf);
    double *vals = gd_op_scratch(ctx, (size_t)(N ? N : 1) * sizeof *vals);
    double *outv = gd_op_scratch(ctx, (size_t)(k ? k : 1) * sizeof *outv);
    if (!yi || !buf || !vals || !outv)
        return GD_ENOMEM;
    int64_t outer = gd__ot_prod(x->dims, 0, ax), inner = gd__ot_prod(x->dims, ax + 1, x->rank);
    for (int64_t o = 0; o < outer && k; o++)
        for (int64_t i = 0; i < inner; i++) {
            for (int64_t j = 0; j < N; j++) {
                gd__ot_load_f64(x, (o * N + j) * inner + i, 1, &vals[j]);
                buf[j].v = vals[j], buf[j].i = j;
            }
            qsort(buf, (size_t)N, sizeof *buf, largest ? cmp_desc : cmp_asc);
            for (int64_t j = 0; j < k; j++) {
                int64_t e = (o * k + j) * inner + i;
                ((int64_t *)yi->data)[e] = buf[j].i;
                /* copy the original element (exact for int64, float16...) */
                size_t es = gd_dtype_size(x->dtype);
                memcpy((char *)yv->data + e * (int64_t)es,
                       (const char *)x->data + ((o * N + buf[j].i) * inner + i) * (int64_t)es, es);
            }
        }
    return 0;
}

static int reverse_sequence_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc), *sl = x ? gd__ot_need(ctx, 1, &rc) : 0;
    if (!sl)
        return rc;
    int64_t ta = gd_op_attr_int(ctx, "time_axis", 0), ba = gd_op_attr_int(ctx, "batch_axis", 1);
    if (x->rank < 2 || ta < 0 || ta > 1 || ba < 0 || ba > 1 || ta == ba)
        return gd_op_fail(ctx, GD_EINVAL, "needs rank >= 2 and time/batch axes 0 and 1");
    int64_t T = x->dims[ta], B = x->dims[ba];
    if (sl->rank != 1 || sl->numel != B || !gd_dtype_is_int(sl->dtype))
        return gd_op_fail(ctx, GD_EINVAL, "sequence_lens must be an int tensor of %lld values",
                          (long long)B);
    struct gd_tensor *y = gd_op_output_like(ctx, 0, x);
    if (!y)
        return GD_ENOMEM;
    size_t es = gd_dtype_size(x->dtype);
    int64_t inner = gd__ot_prod(x->dims, 2, x->rank), xs[GD_TENSOR_MAX_RANK];
    gd_tensor_strides(x, xs);
    if (x->nbytes)
        memcpy(y->data, x->data, x->nbytes);
    for (int64_t b = 0; b < B; b++) {
        int64_t len = gd_tensor_get_i64(sl, b);
        if (len < 0 || len > T)
            return gd_op_fail(ctx, GD_EINVAL, "sequence length %lld out of range [0, %lld]",
                              (long long)len, (long long)T);
        for (int64_t t = 0; t < len && inner; t++)
            memcpy((char *)y->data + (t * xs[ta] + b * xs[ba]) * (int64_t)es,
                   (const char *)x->data + ((len - 1 - t) * xs[ta] + b * xs[ba]) * (int64_t)es,
                   (size_t)inner * es);
    }
    return gd__ot_own_strings(ctx, y);
}

const struct gd_op_def gd_ops_misc[] = {
    {"", "TopK", 1, 0, topk_run, 0},
    {"", "ReverseSequence", 10, 0, reverse_sequence_run, 0},
    {0},
};
