/* Scatter ops: ScatterElements (and the deprecated Scatter, opset 9-10), ScatterND.
 * The output starts as a copy of data; updates are written (or combined with the
 * `reduction` attribute: add/mul since 16, max/min since 18) at positions given by
 * indices, which are bounds-checked one by one. Duplicate indices with reduction "none"
 * are allowed by the reference implementation (last write wins); we do the same. */
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

enum red { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

#define APPLY_BODY(a, b)                                                                           \
    switch (red) {                                                                                 \
    case RED_ADD:                                                                                  \
        a = a + b;                                                                                 \
        break;                                                                                     \
    case RED_MUL:                                                                                  \
        a = a * b;                                                                                 \
        break;                                                                                     \
    case RED_MAX:                                                                                  \
        a = a > b ? a : b;                                                                         \
        break;                                                                                     \
    case RED_MIN:                                                                                  \
        a = a < b ? a : b;                                                                         \
        break;                                                                                     \
    default:                                                                                       \
        a = b;                                                                                     \
    }

/* dst[0..n) (op)= src[0..n) for one dtype. Integer arithmetic wraps (unsigned math). */
#define DEF_APPLY(E, T, S)                                                                         \
    static void apply_##S(void *dp, const void *sp, int64_t n, int red)                            \
    {                                                                                              \
        T *d = dp;                                                                                 \
        const T *s = sp;                                                                           \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T a = d[i], b = s[i];                                                                  \
            if (red == RED_ADD || red == RED_MUL) {                                                \
                if (gd_dtype_is_int(E)) {                                                          \
                    uint64_t ua = (uint64_t)a, ub = (uint64_t)b;                                   \
                    d[i] = (T)(red == RED_ADD ? ua + ub : ua * ub);                                \
                    continue;                                                                      \
                }                                                                                  \
            }                                                                                      \
            APPLY_BODY(a, b)                                                                       \
            d[i] = a;                                                                              \
        }                                                                                          \
    }
GD_DTYPE_FOREACH_NUMERIC(DEF_APPLY)

static void apply_f16(void *dp, const void *sp, int64_t n, int red)
{
    gd_f16 *d = dp;
    const gd_f16 *s = sp;
    for (int64_t i = 0; i < n; i++) {
        float a = gd_f16_to_f32(d[i]), b = gd_f16_to_f32(s[i]);
        APPLY_BODY(a, b)
        d[i] = gd_f32_to_f16(a);
    }
}

typedef void (*apply_fn)(void *d, const void *s, int64_t n, int red);

/* Picks the combine function for dtype dt and reduction; NULL when unsupported. */
static apply_fn pick_apply(struct gd_op_ctx *ctx, enum gd_dtype dt, int *red)
{
    const char *r = gd_op_attr_string(ctx, "reduction", "none");
    static const char *const names[] = {"none", "add", "mul", "max", "min"};
    *red = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(r, names[i]) == 0)
            *red = i;
    if (*red < 0) {
        gd_op_fail(ctx, GD_EINVAL, "unknown reduction '%s'", r);
        return NULL;
    }
#define PICK(E, T, S)                                                                              \
    case E:                                                                                        \
        return apply_##S;
    switch (dt) {
        GD_DTYPE_FOREACH_NUMERIC(PICK)
    case GD_DTYPE_FLOAT16:
        return apply_f16;
    default:
        break;
    }
#undef PICK
    if (*red != RED_NONE) {
        gd_op_fail(ctx, GD_ENOTSUP, "reduction on %s", gd_dtype_name(dt));
        return NULL;
    }
    return NULL; /* plain byte copy, handled by the caller */
}

/* Combines n elements of src into dst. */
static void put(void *dst, const void *src, int64_t n, size_t es, apply_fn fn, int red)
{
    if (red == RED_NONE || !fn)
        memcpy(dst, src, (size_t)n * es);
    else
        fn(dst, src, n, red);
}

static struct gd_tensor *copy_data(struct gd_op_ctx *ctx, const struct gd_tensor *x)
{
    struct gd_tensor *y = gd_op_output_like(ctx, 0, x);
    if (y && y->data != x->data && x->nbytes)
        memcpy(y->data, x->data, x->nbytes);
    return y;
}

static int scatter_elements_run(struct gd_op_ctx *ctx)
{
    int rc = 0, ax, red;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc), *ind = x ? gd__ot_need(ctx, 1, &rc) : 0;
    const struct gd_tensor *upd = ind ? gd__ot_need(ctx, 2, &rc) : 0;
    if (!upd)
        return rc;
    if (ind->dtype != GD_DTYPE_INT32 && ind->dtype != GD_DTYPE_INT64)
        return gd_op_fail(ctx, GD_EINVAL, "indices must be int32 or int64");
    if (gd_axis_normalize(gd_op_attr_int(ctx, "axis", 0), x->rank, &ax))
        return gd_op_fail(ctx, GD_EINVAL, "axis out of range for rank %d", x->rank);
    if (!gd_tensor_same_shape(ind, upd) || ind->rank != x->rank || upd->dtype != x->dtype)
        return gd_op_fail(ctx, GD_EINVAL, "indices/updates must match in shape, data in rank");
    for (int i = 0; i < x->rank; i++)
        if (i != ax && ind->dims[i] > x->dims[i])
            return gd_op_fail(ctx, GD_EINVAL, "indices dim %d exceeds data dim", i);
    apply_fn fn = pick_apply(ctx, x->dtype, &red);
    if (red < 0 || (!fn && red != RED_NONE))
        return red < 0 ? GD_EINVAL : GD_ENOTSUP;
    struct gd_tensor *y = copy_data(ctx, x);
    if (!y)
        return GD_ENOMEM;
    size_t es = gd_dtype_size(x->dtype);
    int64_t xs[GD_TENSOR_MAX_RANK], idx[GD_TENSOR_MAX_RANK] = {0}, off = 0;
    gd_tensor_strides(x, xs);
    for (int64_t e = 0; e < ind->numel; e++) {
        int64_t k = gd_tensor_get_i64(ind, e), D = x->dims[ax];
        if (k < -D || k >= D)
            return gd_op_fail(ctx, GD_EINVAL, "index %lld out of range for dim %lld", (long long)k,
                              (long long)D);
        k = k < 0 ? k + D : k;
        put((char *)y->data + (off + k * xs[ax]) * (int64_t)es,
            (const char *)upd->data + e * (int64_t)es, 1, es, fn, red);
        gd__ot_step_except_axis(ind->rank, ind->dims, xs, ax, idx, &off);
    }
    return gd__ot_own_strings(ctx, y);
}

static int scatter_nd_run(struct gd_op_ctx *ctx)
{
    int rc = 0, red;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc), *ind = x ? gd__ot_need(ctx, 1, &rc) : 0;
    const struct gd_tensor *upd = ind ? gd__ot_need(ctx, 2, &rc) : 0;
    if (!upd)
        return rc;
    int q = ind->rank, r = x->rank;
    int64_t k = q ? ind->dims[q - 1] : 0;
    if (ind->dtype != GD_DTYPE_INT64 || q < 1 || k < 1 || k > r || upd->dtype != x->dtype)
        return gd_op_fail(ctx, GD_EINVAL, "indices must be int64 [..., k] with 1 <= k <= %d", r);
    /* updates shape = indices.shape[:-1] + data.shape[k:] */
    int ok = upd->rank == q - 1 + r - (int)k;
    for (int i = 0; ok && i < q - 1; i++)
        ok = upd->dims[i] == ind->dims[i];
    for (int i = (int)k; ok && i < r; i++)
        ok = upd->dims[q - 1 + i - (int)k] == x->dims[i];
    if (!ok)
        return gd_op_fail(ctx, GD_EINVAL, "updates shape does not match indices and data");
    apply_fn fn = pick_apply(ctx, x->dtype, &red);
    if (red < 0 || (!fn && red != RED_NONE))
        return red < 0 ? GD_EINVAL : GD_ENOTSUP;
    struct gd_tensor *y = copy_data(ctx, x);
    if (!y)
        return GD_ENOMEM;
    size_t es = gd_dtype_size(x->dtype);
    int64_t xs[GD_TENSOR_MAX_RANK], T = gd__ot_prod(ind->dims, 0, q - 1);
    int64_t S = gd__ot_prod(x->dims, (int)k, r);
    gd_tensor_strides(x, xs);
    for (int64_t t = 0; t < T; t++) {
        int64_t off = 0;
        for (int64_t j = 0; j < k; j++) {
            int64_t v = ((const int64_t *)ind->data)[t * k + j], D = x->dims[j];
            if (v < -D || v >= D)
                return gd_op_fail(ctx, GD_EINVAL, "index %lld out of range for dim %lld",
                                  (long long)v, (long long)D);
            off += (v < 0 ? v + D : v) * xs[j];
        }
        if (S)
            put((char *)y->data + off * (int64_t)es, (const char *)upd->data + t * S * (int64_t)es,
                S, es, fn, red);
    }
    return gd__ot_own_strings(ctx, y);
}

const struct gd_op_def gd_ops_scatter[] = {
    {"", "Scatter", 9, 10, scatter_elements_run, 0},
    {"", "ScatterElements", 11, 0, scatter_elements_run, 0},
    {"", "ScatterND", 11, 0, scatter_nd_run, 0},
    {0},
};
