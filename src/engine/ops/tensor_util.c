/* Shared helpers of the tensor/shape/indexing op families: strided copies, string
 * ownership, axes and list parsing (see tensor_util.h). */
#include "engine/ops/tensor_util.h"

#include <string.h>

#include "core/alloc.h"

/* Copies one contiguous-destination row of n elements read with stride s. */
#define ROW_COPY(T)                                                                                \
    do {                                                                                           \
        T *d_ = dst;                                                                               \
        const T *s_ = src;                                                                         \
        if (s == 1)                                                                                \
            memcpy(d_, s_, (size_t)n * sizeof(T));                                                 \
        else                                                                                       \
            for (int64_t i_ = 0; i_ < n; i_++)                                                     \
                d_[i_] = s_[i_ * s];                                                               \
    } while (0)

static void row_copy(void *dst, const void *src, int64_t n, int64_t s, size_t es)
{
    switch (es) {
    case 1:
        ROW_COPY(uint8_t);
        break;
    case 2:
        ROW_COPY(uint16_t);
        break;
    case 4:
        ROW_COPY(uint32_t);
        break;
    case 8:
        ROW_COPY(uint64_t);
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            memcpy((char *)dst + i * (int64_t)es, (const char *)src + i * s * (int64_t)es, es);
    }
}

void gd__ot_strided_copy(void *dst, const void *src, int rank, const int64_t *dims,
                         const int64_t *strides, size_t es)
{
    int64_t d[GD_OT_MAX_DIMS], s[GD_OT_MAX_DIMS], idx[GD_OT_MAX_DIMS];
    int r = 0;
    /* Drop size-1 dims, merge dim i into i-1 when it continues it contiguously. */
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 0)
            return;
        if (dims[i] == 1)
            continue;
        if (r > 0 && s[r - 1] == strides[i] * dims[i]) {
            d[r - 1] *= dims[i];
            s[r - 1] = strides[i];
            continue;
        }
        d[r] = dims[i];
        s[r] = strides[i];
        r++;
    }
    if (r == 0) {
        memcpy(dst, src, es);
        return;
    }
    int64_t n = d[r - 1], step = s[r - 1], off = 0;
    char *out = dst;
    for (int i = 0; i < r - 1; i++)
        idx[i] = 0;
    for (;;) {
        row_copy(out, (const char *)src + off * (int64_t)es, n, step, es);
        out += n * (int64_t)es;
        int i = r - 2;
        for (; i >= 0; i--) {
            off += s[i];
            if (++idx[i] < d[i])
                break;
            off -= s[i] * d[i];
            idx[i] = 0;
        }
        if (i < 0)
            return;
    }
}

struct par_copy {
    char *dst;
    const char *src;
    int rank;
    const int64_t *dims, *strides;
    size_t es;
    int64_t dst_step; /* elements of dst per index of dims[0] */
};

static void par_copy_range(void *ud, int64_t begin, int64_t end)
{
    const struct par_copy *p = ud;
    int64_t d[GD_OT_MAX_DIMS];
    memcpy(d, p->dims, (size_t)p->rank * sizeof *d);
    d[0] = end - begin;
    gd__ot_strided_copy(p->dst + begin * p->dst_step * (int64_t)p->es,
                        p->src + begin * p->strides[0] * (int64_t)p->es, p->rank, d, p->strides,
                        p->es);
}

void gd__ot_strided_copy_par(struct gd_op_ctx *ctx, void *dst, const void *src, int rank,
                             const int64_t *dims, const int64_t *strides, size_t es)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    while (rank > 1 && dims[0] == 1) /* leading unit dims do not move the offsets */
        dims++, strides++, rank--;
    if (rank < 1 || n < (1 << 16) || gd_op_num_threads(ctx) < 2 || dims[0] < 2) {
        gd__ot_strided_copy(dst, src, rank, dims, strides, es);
        return;
    }
    struct par_copy p = {dst, src, rank, dims, strides, es, n / dims[0]};
    gd_op_parallel_for(ctx, dims[0], 1, par_copy_range, &p);
}

int gd__ot_own_strings(struct gd_op_ctx *ctx, struct gd_tensor *y)
{
    if (y->dtype != GD_DTYPE_STRING)
        return 0;
    char **p = y->data;
    for (int64_t i = 0; i < y->numel; i++) {
        char *c = gd_strdup(p[i] ? p[i] : "");
        if (!c) {
            for (int64_t j = i; j < y->numel; j++)
                p[j] = NULL;
            return gd_op_fail(ctx, GD_ENOMEM, "out of memory copying strings");
        }
        p[i] = c;
    }
    return 0;
}

int gd__ot_int_list(struct gd_op_ctx *ctx, int in, const char *attr, int64_t *out, int max)
{
    const struct gd_tensor *t = in >= 0 ? gd_op_input(ctx, in) : NULL;
    if (t) {
        if (!gd_dtype_is_int(t->dtype))
            return gd_op_fail(ctx, GD_EINVAL, "input %d must be an integer tensor, not %s", in,
                              gd_dtype_name(t->dtype));
        if (t->rank > 1)
            return gd_op_fail(ctx, GD_EINVAL, "input %d must be 1-D", in);
        if (t->numel > max)
            return gd_op_fail(ctx, GD_EINVAL, "input %d has %lld values (at most %d)", in,
                              (long long)t->numel, max);
        for (int64_t i = 0; i < t->numel; i++)
            out[i] = gd_tensor_get_i64(t, i);
        return (int)t->numel;
    }
    if (!attr)
        return -1;
    const int64_t *v;
    int n = gd_op_attr_ints(ctx, attr, &v);
    if (n < 0)
        return -1;
    if (n > max)
        return gd_op_fail(ctx, GD_EINVAL, "attribute %s has %d values (at most %d)", attr, n, max);
    for (int i = 0; i < n; i++)
        out[i] = v[i];
    return n;
}

int gd__ot_norm_axes(struct gd_op_ctx *ctx, const int64_t *axes, int n, int rank, int *out)
{
    unsigned seen = 0;
    for (int i = 0; i < n; i++) {
        if (gd_axis_normalize(axes[i], rank, &out[i]))
            return gd_op_fail(ctx, GD_EINVAL, "axis %lld out of range for rank %d",
                              (long long)axes[i], rank);
        if (seen & (1u << out[i]))
            return gd_op_fail(ctx, GD_EINVAL, "axis %lld repeated", (long long)axes[i]);
        seen |= 1u << out[i];
    }
    return 0;
}

int64_t gd__ot_prod(const int64_t *dims, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= dims[i];
    return p;
}

int gd__ot_scalar_i64(struct gd_op_ctx *ctx, const struct gd_tensor *t, const char *what,
                      int64_t *out)
{
    if (!t || t->numel != 1 || t->dtype == GD_DTYPE_STRING)
        return gd_op_fail(ctx, GD_EINVAL, "%s must be a one-element numeric tensor", what);
    *out = gd_tensor_get_i64(t, 0);
    return 0;
}

int gd__ot_scalar_f64(struct gd_op_ctx *ctx, const struct gd_tensor *t, const char *what,
                      double *out)
{
    if (!t || t->numel != 1 || t->dtype == GD_DTYPE_STRING)
        return gd_op_fail(ctx, GD_EINVAL, "%s must be a one-element numeric tensor", what);
    *out = gd_tensor_get_f64(t, 0);
    return 0;
}

const struct gd_tensor *gd__ot_need(struct gd_op_ctx *ctx, int i, int *rc)
{
    const struct gd_tensor *t = gd_op_input(ctx, i);
    if (!t)
        *rc = gd_op_fail(ctx, GD_EINVAL, "missing input %d", i);
    return t;
}

#define LOAD_F64(E, T, S)                                                                          \
    case E: {                                                                                      \
        const T *p = (const T *)x->data + from;                                                    \
        for (int64_t i = 0; i < n; i++)                                                            \
            out[i] = (double)p[i];                                                                 \
        break;                                                                                     \
    }
void gd__ot_load_f64(const struct gd_tensor *x, int64_t from, int64_t n, double *out)
{
    if (n <= 0)
        return; /* empty tensors may have data == NULL */
    switch (x->dtype) {
        GD_DTYPE_FOREACH_NUMERIC(LOAD_F64)
        LOAD_F64(GD_DTYPE_BOOL, gd_bool, b8)
    case GD_DTYPE_FLOAT16:
        for (int64_t i = 0; i < n; i++)
            out[i] = gd_f16_to_f32(((const gd_f16 *)x->data)[from + i]);
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            out[i] = 0;
    }
}

/* double -> integer without UB: NaN -> 0, saturate at the type's range. */
#define STORE_INT(E, T, S, LO, HI)                                                                 \
    case E: {                                                                                      \
        T *p = (T *)y->data + from;                                                                \
        for (int64_t i = 0; i < n; i++) {                                                          \
            double v = in[i];                                                                      \
            p[i] = v != v ? 0 : v <= (double)(LO) ? (T)(LO) : v >= (double)(HI) ? (T)(HI) : (T)v;  \
        }                                                                                          \
        break;                                                                                     \
    }
void gd__ot_store_f64(struct gd_tensor *y, int64_t from, int64_t n, const double *in)
{
    if (n <= 0)
        return;
    switch (y->dtype) {
    case GD_DTYPE_FLOAT:
        for (int64_t i = 0; i < n; i++)
            ((float *)y->data)[from + i] = (float)in[i];
        break;
    case GD_DTYPE_DOUBLE:
        memcpy((double *)y->data + from, in, (size_t)n * sizeof *in);
        break;
    case GD_DTYPE_FLOAT16:
        for (int64_t i = 0; i < n; i++)
            ((gd_f16 *)y->data)[from + i] = gd_f32_to_f16((float)in[i]);
        break;
    case GD_DTYPE_BOOL:
        for (int64_t i = 0; i < n; i++)
            ((gd_bool *)y->data)[from + i] = in[i] != 0;
        break;
        STORE_INT(GD_DTYPE_INT8, int8_t, i8, INT8_MIN, INT8_MAX)
        STORE_INT(GD_DTYPE_INT16, int16_t, i16, INT16_MIN, INT16_MAX)
        STORE_INT(GD_DTYPE_INT32, int32_t, i32, INT32_MIN, INT32_MAX)
        STORE_INT(GD_DTYPE_INT64, int64_t, i64, INT64_MIN, INT64_MAX)
        STORE_INT(GD_DTYPE_UINT8, uint8_t, u8, 0, UINT8_MAX)
        STORE_INT(GD_DTYPE_UINT16, uint16_t, u16, 0, UINT16_MAX)
        STORE_INT(GD_DTYPE_UINT32, uint32_t, u32, 0, UINT32_MAX)
        STORE_INT(GD_DTYPE_UINT64, uint64_t, u64, 0, UINT64_MAX)
    default:
        break;
    }
}

void gd__ot_step_except_axis(int rank, const int64_t *dims, const int64_t *xs, int ax,
                             int64_t *idx, int64_t *off)
{
    for (int d = rank - 1; d >= 0; d--) {
        if (d != ax)
            *off += xs[d];
        if (++idx[d] < dims[d])
            return;
        if (d != ax)
            *off -= xs[d] * dims[d];
        idx[d] = 0;
    }
}
