/* Engine tensors: dtypes, shapes, element access helpers, float16 conversion and
 * broadcasting, shared by the runtime and every op kernel.
 *
 * Dtype numbers are the ONNX TensorProto.DataType values, so a dtype read from a
 * model needs no translation table. A tensor is a dense, row-major (C order) block;
 * rank is at most GD_TENSOR_MAX_RANK. bool is stored as one byte (0/1), float16 as
 * its IEEE binary16 bits (uint16_t) and computed in float32, strings as an array of
 * NUL-terminated `char *` each allocated with gd_malloc and owned by the tensor.
 *
 * Threading: the helpers are pure functions; a tensor itself is not synchronised.
 * Errors: functions returning int give 0 or a negative GD_E* code. */
#ifndef GD_ENGINE_TENSOR_H
#define GD_ENGINE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "girder/engine.h" /* enum gd_dtype, struct gd_tensor, GD_TENSOR_MAX_RANK */
#include "girder/error.h"

typedef uint16_t gd_f16; /* IEEE binary16 bits */
typedef uint8_t gd_bool; /* 0 or 1 */
typedef char *gd_string; /* NUL-terminated, gd_malloc'd, owned by its tensor */

/* Per-dtype code generation: X(ENUM, c_type, short_name).
 * Kernels write one macro body and expand it over the dtypes they support, e.g.
 *   #define RELU(E, T, S) case E: relu_##S(x, y, n); break;
 *   switch (x->dtype) { GD_DTYPE_FOREACH_FLOAT(RELU) default: return gd_op_fail(...); } */
#define GD_DTYPE_FOREACH_FLOAT(X) X(GD_DTYPE_FLOAT, float, f32) X(GD_DTYPE_DOUBLE, double, f64)
#define GD_DTYPE_FOREACH_SINT(X)                                                                   \
    X(GD_DTYPE_INT8, int8_t, i8)                                                                   \
    X(GD_DTYPE_INT16, int16_t, i16)                                                                \
    X(GD_DTYPE_INT32, int32_t, i32)                                                                \
    X(GD_DTYPE_INT64, int64_t, i64)
#define GD_DTYPE_FOREACH_UINT(X)                                                                   \
    X(GD_DTYPE_UINT8, uint8_t, u8)                                                                 \
    X(GD_DTYPE_UINT16, uint16_t, u16)                                                              \
    X(GD_DTYPE_UINT32, uint32_t, u32)                                                              \
    X(GD_DTYPE_UINT64, uint64_t, u64)
#define GD_DTYPE_FOREACH_INT(X) GD_DTYPE_FOREACH_SINT(X) GD_DTYPE_FOREACH_UINT(X)
/* float32, float64 and all integers (not float16, bool, string). */
#define GD_DTYPE_FOREACH_NUMERIC(X) GD_DTYPE_FOREACH_FLOAT(X) GD_DTYPE_FOREACH_INT(X)
/* Every dtype whose elements are plain bytes (memcpy-able): numeric + bool + float16. */
#define GD_DTYPE_FOREACH_POD(X)                                                                    \
    GD_DTYPE_FOREACH_NUMERIC(X) X(GD_DTYPE_BOOL, gd_bool, b8) X(GD_DTYPE_FLOAT16, gd_f16, f16)

/* Element size in bytes (sizeof(char *) for strings); 0 for unknown dtypes. */
size_t gd_dtype_size(enum gd_dtype dt);
/* "float32", "int64", "bool", ...; "undefined" for unknown values. Never NULL. */
const char *gd_dtype_name(enum gd_dtype dt);
/* Inverse of gd_dtype_name (also accepts "float" and "double"); GD_DTYPE_UNDEFINED if none. */
enum gd_dtype gd_dtype_from_name(const char *name);
int gd_dtype_is_float(enum gd_dtype dt); /* float16/32/64 */
int gd_dtype_is_int(enum gd_dtype dt);   /* signed or unsigned integer */
int gd_dtype_is_signed_int(enum gd_dtype dt);

/* Product of dims with every dim checked >= 0 and the product checked against
 * GD_TENSOR_MAX_NUMEL. Returns 0, GD_EINVAL (negative dim / bad rank) or GD_ERANGE. */
int gd_shape_numel(int rank, const int64_t *dims, int64_t *out);
/* Fills dtype/rank/dims/numel/nbytes (data untouched) after the same checks. */
int gd_tensor_set_shape(struct gd_tensor *t, enum gd_dtype dt, int rank, const int64_t *dims);
/* Allocates a zeroed tensor of that shape (owns_data = 1). */
int gd_tensor_alloc(struct gd_tensor *t, enum gd_dtype dt, int rank, const int64_t *dims);
/* Deep copy into dst (dst owns its data; strings are duplicated). */
int gd_tensor_copy(struct gd_tensor *dst, const struct gd_tensor *src);
/* Frees data (and each string) if owned; leaves a zeroed tensor. NULL is a no-op. */
void gd_tensor_release(struct gd_tensor *t);
/* Row-major element strides of t (strides[rank-1] = 1). */
void gd_tensor_strides(const struct gd_tensor *t, int64_t *strides);
/* True when the two tensors have the same rank and dims. */
int gd_tensor_same_shape(const struct gd_tensor *a, const struct gd_tensor *b);
/* "[2,3,4]" into buf (truncated to cap); returns buf. */
char *gd_shape_str(int rank, const int64_t *dims, char *buf, size_t cap);

/* Element i of any numeric/bool/float16 tensor, converted. No bounds check (i < numel). */
double gd_tensor_get_f64(const struct gd_tensor *t, int64_t i);
int64_t gd_tensor_get_i64(const struct gd_tensor *t, int64_t i);
/* Stores v (converted with C casts, float16 rounded) into element i. */
void gd_tensor_set_f64(struct gd_tensor *t, int64_t i, double v);
/* Copies an integer tensor (int32/int64 etc.) of at most max elements into out;
 * returns its element count, or GD_EINVAL (not an integer tensor) / GD_ERANGE (too long). */
int64_t gd_tensor_to_i64s(const struct gd_tensor *t, int64_t *out, int64_t max);

/* IEEE binary16 <-> binary32 (round to nearest even; NaN/Inf preserved). */
float gd_f16_to_f32(gd_f16 h);
gd_f16 gd_f32_to_f16(float f);

/* Normalises an axis in [-rank, rank-1] to [0, rank-1]; GD_EINVAL when out of range. */
int gd_axis_normalize(int64_t axis, int rank, int *out);

/* ---- broadcasting (numpy / ONNX multidirectional rules) ---- */

#define GD_BCAST_MAX_OPERANDS 8

/* Output shape of broadcasting n shapes together. err (may be NULL) receives a message
 * such as "shapes [2,3] and [4] are not broadcastable". Returns 0 or GD_EINVAL. */
int gd_broadcast_shape(int n, const struct gd_tensor *const *ts, int *out_rank, int64_t *out_dims,
                       char *err, size_t errlen);

/* Walks an output of shape (rank, dims) in row-major order while maintaining, for each
 * operand, the element offset that broadcasts onto the current output element:
 *     struct gd_bcast it;
 *     gd_bcast_init(&it, y->rank, y->dims, 2, (const struct gd_tensor *[]){a, b});
 *     for (int64_t i = 0; i < y->numel; i++, gd_bcast_next(&it))
 *         Y[i] = A[it.off[0]] + B[it.off[1]];
 * gd_bcast_seek positions it on output element i (for parallel chunks). `same` is 1
 * when every operand has exactly the output shape (then off[k] == i: use a flat loop). */
struct gd_bcast {
    int rank, n, same;
    int64_t dims[GD_TENSOR_MAX_RANK];
    int64_t idx[GD_TENSOR_MAX_RANK];
    int64_t strides[GD_BCAST_MAX_OPERANDS][GD_TENSOR_MAX_RANK]; /* 0 on broadcast dims */
    int64_t off[GD_BCAST_MAX_OPERANDS];
};
/* Operands must be broadcastable to (rank, dims) (see gd_broadcast_shape); n <= 8.
 * Returns 0 or GD_EINVAL. */
int gd_bcast_init(struct gd_bcast *it, int rank, const int64_t *dims, int n,
                  const struct gd_tensor *const *ts);
void gd_bcast_seek(struct gd_bcast *it, int64_t i);
static inline void gd_bcast_next(struct gd_bcast *it)
{
    for (int d = it->rank - 1; d >= 0; d--) {
        for (int k = 0; k < it->n; k++)
            it->off[k] += it->strides[k][d];
        if (++it->idx[d] < it->dims[d])
            return;
        for (int k = 0; k < it->n; k++)
            it->off[k] -= it->strides[k][d] * it->dims[d];
        it->idx[d] = 0;
    }
}

#endif
