/* Tensor helpers: dtype table, checked shapes, element conversion, float16, broadcasting. */
#include "engine/tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

static const struct {
    const char *name;
    size_t size;
} dtype_info[] = {
    [GD_DTYPE_UNDEFINED] = {"undefined", 0},
    [GD_DTYPE_FLOAT] = {"float32", 4},
    [GD_DTYPE_UINT8] = {"uint8", 1},
    [GD_DTYPE_INT8] = {"int8", 1},
    [GD_DTYPE_UINT16] = {"uint16", 2},
    [GD_DTYPE_INT16] = {"int16", 2},
    [GD_DTYPE_INT32] = {"int32", 4},
    [GD_DTYPE_INT64] = {"int64", 8},
    [GD_DTYPE_STRING] = {"string", sizeof(char *)},
    [GD_DTYPE_BOOL] = {"bool", 1},
    [GD_DTYPE_FLOAT16] = {"float16", 2},
    [GD_DTYPE_DOUBLE] = {"float64", 8},
    [GD_DTYPE_UINT32] = {"uint32", 4},
    [GD_DTYPE_UINT64] = {"uint64", 8},
};
enum { N_DTYPES = sizeof dtype_info / sizeof dtype_info[0] };

size_t gd_dtype_size(enum gd_dtype dt)
{
    if (dt == GD_DTYPE_SEQUENCE)
        return sizeof(struct gd_tensor);
    return ((unsigned)dt < N_DTYPES) ? dtype_info[dt].size : 0;
}

const char *gd_dtype_name(enum gd_dtype dt)
{
    if (dt == GD_DTYPE_SEQUENCE)
        return "sequence";
    return ((unsigned)dt < N_DTYPES) ? dtype_info[dt].name : "undefined";
}

enum gd_dtype gd_dtype_from_name(const char *name)
{
    if (strcmp(name, "float") == 0)
        return GD_DTYPE_FLOAT;
    if (strcmp(name, "double") == 0)
        return GD_DTYPE_DOUBLE;
    for (int i = 1; i < N_DTYPES; i++)
        if (strcmp(name, dtype_info[i].name) == 0)
            return (enum gd_dtype)i;
    return GD_DTYPE_UNDEFINED;
}

int gd_dtype_is_float(enum gd_dtype dt)
{
    return dt == GD_DTYPE_FLOAT || dt == GD_DTYPE_DOUBLE || dt == GD_DTYPE_FLOAT16;
}

int gd_dtype_is_signed_int(enum gd_dtype dt)
{
    return dt == GD_DTYPE_INT8 || dt == GD_DTYPE_INT16 || dt == GD_DTYPE_INT32 ||
           dt == GD_DTYPE_INT64;
}

int gd_dtype_is_int(enum gd_dtype dt)
{
    return gd_dtype_is_signed_int(dt) || dt == GD_DTYPE_UINT8 || dt == GD_DTYPE_UINT16 ||
           dt == GD_DTYPE_UINT32 || dt == GD_DTYPE_UINT64;
}

int gd_shape_numel(int rank, const int64_t *dims, int64_t *out)
{
    if (rank < 0 || rank > GD_TENSOR_MAX_RANK)
        return GD_EINVAL;
    int64_t n = 1;
    int zero = 0;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return GD_EINVAL;
        if (dims[i] == 0) {
            zero = 1;
            continue;
        }
        if (dims[i] > GD_TENSOR_MAX_NUMEL || n > GD_TENSOR_MAX_NUMEL / dims[i])
            return GD_ERANGE;
        n *= dims[i];
    }
    *out = zero ? 0 : n;
    return 0;
}

int gd_tensor_set_shape(struct gd_tensor *t, enum gd_dtype dt, int rank, const int64_t *dims)
{
    int64_t n;
    size_t es = gd_dtype_size(dt);
    if (es == 0)
        return GD_ENOTSUP;
    int rc = gd_shape_numel(rank, dims, &n);
    if (rc)
        return rc;
    size_t bytes;
    if (gd_size_mul((size_t)n, es, &bytes))
        return GD_ERANGE;
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank; i++)
        t->dims[i] = dims[i];
    for (int i = rank; i < GD_TENSOR_MAX_RANK; i++)
        t->dims[i] = 0;
    t->numel = n;
    t->nbytes = bytes;
    return 0;
}

int gd_tensor_alloc(struct gd_tensor *t, enum gd_dtype dt, int rank, const int64_t *dims)
{
    memset(t, 0, sizeof *t);
    int rc = gd_tensor_set_shape(t, dt, rank, dims);
    if (rc)
        return rc;
    t->data = gd_calloc(1, t->nbytes ? t->nbytes : 1);
    if (!t->data)
        return GD_ENOMEM;
    t->owns_data = 1;
    return 0;
}

void gd_tensor_release(struct gd_tensor *t)
{
    if (!t)
        return;
    if (t->owns_data && t->data) {
        if (t->dtype == GD_DTYPE_STRING) {
            char **s = t->data;
            for (int64_t i = 0; i < t->numel; i++)
                gd_free(s[i]);
        } else if (t->dtype == GD_DTYPE_SEQUENCE) {
            struct gd_tensor *e = t->data;
            for (int64_t i = 0; i < t->numel; i++)
                gd_tensor_release(&e[i]);
        }
        gd_free(t->data);
    }
    memset(t, 0, sizeof *t);
}

int gd_tensor_copy(struct gd_tensor *dst, const struct gd_tensor *src)
{
    int rc = gd_tensor_alloc(dst, src->dtype, src->rank, src->dims);
    if (rc)
        return rc;
    if (src->dtype == GD_DTYPE_SEQUENCE) {
        struct gd_tensor *d = dst->data;
        const struct gd_tensor *s = src->data;
        for (int64_t i = 0; i < src->numel; i++)
            if (gd_tensor_copy(&d[i], &s[i])) {
                gd_tensor_release(dst);
                return GD_ENOMEM;
            }
        return 0;
    }
    if (src->dtype != GD_DTYPE_STRING) {
        if (src->nbytes)
            memcpy(dst->data, src->data, src->nbytes);
        return 0;
    }
    char **d = dst->data, *const *s = src->data;
    for (int64_t i = 0; i < src->numel; i++) {
        d[i] = gd_strdup(s[i] ? s[i] : "");
        if (!d[i]) {
            gd_tensor_release(dst);
            return GD_ENOMEM;
        }
    }
    return 0;
}

void gd_tensor_strides(const struct gd_tensor *t, int64_t *strides)
{
    int64_t s = 1;
    for (int i = t->rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= t->dims[i] ? t->dims[i] : 1;
    }
}

int gd_tensor_same_shape(const struct gd_tensor *a, const struct gd_tensor *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return 1;
}

char *gd_shape_str(int rank, const int64_t *dims, char *buf, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return buf;
    buf[0] = 0;
    n += (size_t)snprintf(buf + n, cap - n, "[");
    for (int i = 0; i < rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
    return buf;
}

#define GET_F64(E, T, S)                                                                           \
    case E:                                                                                        \
        return (double)((const T *)t->data)[i];
double gd_tensor_get_f64(const struct gd_tensor *t, int64_t i)
{
    switch (t->dtype) {
        GD_DTYPE_FOREACH_NUMERIC(GET_F64)
    case GD_DTYPE_BOOL:
        return ((const gd_bool *)t->data)[i] ? 1.0 : 0.0;
    case GD_DTYPE_FLOAT16:
        return gd_f16_to_f32(((const gd_f16 *)t->data)[i]);
    default:
        return 0.0;
    }
}

/* Float to int64 without UB for NaN or out-of-range values (saturating). */
static int64_t f64_to_i64(double v)
{
    if (isnan(v))
        return 0;
    if (v >= 9.2233720368547758e18)
        return INT64_MAX;
    if (v <= -9.2233720368547758e18)
        return INT64_MIN;
    return (int64_t)v;
}

#define GET_I64(E, T, S)                                                                           \
    case E:                                                                                        \
        return (int64_t)((const T *)t->data)[i];
int64_t gd_tensor_get_i64(const struct gd_tensor *t, int64_t i)
{
    switch (t->dtype) {
        GD_DTYPE_FOREACH_INT(GET_I64)
    case GD_DTYPE_BOOL:
        return ((const gd_bool *)t->data)[i] ? 1 : 0;
    case GD_DTYPE_FLOAT:
    case GD_DTYPE_DOUBLE:
    case GD_DTYPE_FLOAT16:
        return f64_to_i64(gd_tensor_get_f64(t, i));
    default:
        return 0;
    }
}

/* C casts from double to an integer type are UB when out of range: clamp via int64. */
#define SET_F64_INT(E, T, S)                                                                       \
    case E:                                                                                        \
        ((T *)t->data)[i] = (T)f64_to_i64(v);                                                      \
        break;
void gd_tensor_set_f64(struct gd_tensor *t, int64_t i, double v)
{
    switch (t->dtype) {
    case GD_DTYPE_FLOAT:
        ((float *)t->data)[i] = (float)v;
        break;
    case GD_DTYPE_DOUBLE:
        ((double *)t->data)[i] = v;
        break;
    case GD_DTYPE_FLOAT16:
        ((gd_f16 *)t->data)[i] = gd_f32_to_f16((float)v);
        break;
    case GD_DTYPE_BOOL:
        ((gd_bool *)t->data)[i] = v != 0.0;
        break;
        GD_DTYPE_FOREACH_INT(SET_F64_INT)
    default:
        break;
    }
}

int64_t gd_tensor_to_i64s(const struct gd_tensor *t, int64_t *out, int64_t max)
{
    if (!gd_dtype_is_int(t->dtype))
        return GD_EINVAL;
    if (t->numel > max)
        return GD_ERANGE;
    for (int64_t i = 0; i < t->numel; i++)
        out[i] = gd_tensor_get_i64(t, i);
    return t->numel;
}

float gd_f16_to_f32(gd_f16 h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ffu, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do {
                man <<= 1;
                e++;
            } while (!(man & 0x400u));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

gd_f16 gd_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
    if (exp == 0xff) /* Inf / NaN (keep NaN quiet and non-zero) */
        return (gd_f16)(sign | 0x7c00u | (man ? 0x200u | (man >> 13) : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 0x1f)
        return (gd_f16)(sign | 0x7c00u);
    if (e <= 0) { /* subnormal or zero */
        if (e < -10)
            return (gd_f16)sign;
        man |= 0x800000u;
        int shift = 14 - e;
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return (gd_f16)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1)))
        half++; /* may carry into the exponent: that is the correct rounding */
    return (gd_f16)half;
}

int gd_axis_normalize(int64_t axis, int rank, int *out)
{
    int64_t r = rank ? rank : 0;
    if (axis < -r || axis >= r)
        return GD_EINVAL;
    *out = (int)(axis < 0 ? axis + r : axis);
    return 0;
}

int gd_broadcast_shape(int n, const struct gd_tensor *const *ts, int *out_rank, int64_t *out_dims,
                       char *err, size_t errlen)
{
    int rank = 0;
    for (int k = 0; k < n; k++)
        if (ts[k]->rank > rank)
            rank = ts[k]->rank;
    for (int d = 0; d < rank; d++)
        out_dims[d] = 1;
    for (int k = 0; k < n; k++) {
        const struct gd_tensor *t = ts[k];
        for (int d = 0; d < t->rank; d++) {
            int64_t *o = &out_dims[rank - t->rank + d], v = t->dims[d];
            if (v == *o || v == 1)
                continue;
            if (*o == 1) {
                *o = v;
                continue;
            }
            if (err) {
                char a[96], b[96];
                snprintf(err, errlen, "shapes %s and %s are not broadcastable",
                         gd_shape_str(rank, out_dims, a, sizeof a),
                         gd_shape_str(t->rank, t->dims, b, sizeof b));
            }
            return GD_EINVAL;
        }
    }
    *out_rank = rank;
    return 0;
}

int gd_bcast_init(struct gd_bcast *it, int rank, const int64_t *dims, int n,
                  const struct gd_tensor *const *ts)
{
    memset(it, 0, sizeof *it);
    if (n > GD_BCAST_MAX_OPERANDS || rank > GD_TENSOR_MAX_RANK || rank < 0)
        return GD_EINVAL;
    it->rank = rank;
    it->n = n;
    it->same = 1;
    for (int d = 0; d < rank; d++)
        it->dims[d] = dims[d];
    for (int k = 0; k < n; k++) {
        const struct gd_tensor *t = ts[k];
        if (t->rank > rank)
            return GD_EINVAL;
        if (t->rank != rank)
            it->same = 0;
        int64_t s = 1;
        for (int d = rank - 1; d >= 0; d--) {
            int td = d - (rank - t->rank);
            int64_t v = td >= 0 ? t->dims[td] : 1;
            if (v != dims[d] && v != 1)
                return GD_EINVAL;
            if (v != dims[d])
                it->same = 0;
            it->strides[k][d] = (v == 1) ? 0 : s;
            s *= v;
        }
    }
    return 0;
}

void gd_bcast_seek(struct gd_bcast *it, int64_t i)
{
    for (int k = 0; k < it->n; k++)
        it->off[k] = 0;
    for (int d = it->rank - 1; d >= 0; d--) {
        int64_t dim = it->dims[d] ? it->dims[d] : 1;
        it->idx[d] = i % dim;
        i /= dim;
        for (int k = 0; k < it->n; k++)
            it->off[k] += it->idx[d] * it->strides[k][d];
    }
}
