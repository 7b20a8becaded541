/* Cast and CastLike between every supported dtype.
 *
 * Numbers move in chunks through one of two intermediates so that each direction is
 * written once, not once per dtype pair: integer (and bool) sources go through int64
 * (uint64 bits for uint64, so 64-bit values stay exact), floating sources through double.
 * Float-to-integer follows C truncation but saturates out-of-range values and maps NaN
 * to 0 (ONNX leaves those undefined; C would make them UB). Strings parse with strtod /
 * strtoll ("NaN", "INF", "-INF" accepted) and numbers print as the shortest decimal that
 * reads back to the same value (what numpy's str() gives for the conformance data). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

enum { CHUNK = 1024 };

#define LOAD_I64(E, T, S)                                                                          \
    case E:                                                                                        \
        for (int64_t i = 0; i < n; i++)                                                            \
            out[i] = (int64_t)((const T *)x->data)[from + i];                                      \
        break;
static void load_i64(const struct gd_tensor *x, int64_t from, int64_t n, int64_t *out)
{
    switch (x->dtype) {
        GD_DTYPE_FOREACH_INT(LOAD_I64)
        LOAD_I64(GD_DTYPE_BOOL, gd_bool, b8)
    default:
        break;
    }
}

/* Integer (as int64, or uint64 bits when `uns`) to any non-string dtype. */
#define STORE_I64(E, T, S)                                                                         \
    case E:                                                                                        \
        for (int64_t i = 0; i < n; i++)                                                            \
            ((T *)y->data)[from + i] = (T)in[i];                                                   \
        break;
static void store_i64(struct gd_tensor *y, int64_t from, int64_t n, const int64_t *in, int uns,
                      double *tmp)
{
    switch (y->dtype) {
        GD_DTYPE_FOREACH_INT(STORE_I64)
    case GD_DTYPE_BOOL:
        for (int64_t i = 0; i < n; i++)
            ((gd_bool *)y->data)[from + i] = in[i] != 0;
        break;
    default: /* floating targets */
        for (int64_t i = 0; i < n; i++)
            tmp[i] = uns ? (double)(uint64_t)in[i] : (double)in[i];
        gd__ot_store_f64(y, from, n, tmp);
    }
}

static int is_intlike(enum gd_dtype dt)
{
    return gd_dtype_is_int(dt) || dt == GD_DTYPE_BOOL;
}

/* Shortest "%.*g" that reads back to the same float (or double). */
static void format_number(char *buf, size_t cap, double v, int is_float)
{
    if (isnan(v)) {
        snprintf(buf, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, v < 0 ? "-INF" : "INF");
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, v);
        double back = strtod(buf, NULL);
        if (is_float ? (float)back == (float)v : back == v)
            return;
    }
}

static int to_string(struct gd_op_ctx *ctx, const struct gd_tensor *x, struct gd_tensor *y)
{
    char buf[64];
    char **out = y->data;
    for (int64_t i = 0; i < x->numel; i++) {
        if (x->dtype == GD_DTYPE_UINT64)
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)((const uint64_t *)x->data)[i]);
        else if (is_intlike(x->dtype))
            snprintf(buf, sizeof buf, "%lld", (long long)gd_tensor_get_i64(x, i));
        else
            format_number(buf, sizeof buf, gd_tensor_get_f64(x, i), x->dtype != GD_DTYPE_DOUBLE);
        if (!(out[i] = gd_strdup(buf)))
            return gd_op_fail(ctx, GD_ENOMEM, "out of memory");
    }
    return 0;
}

static int from_string(struct gd_op_ctx *ctx, const struct gd_tensor *x, struct gd_tensor *y)
{
    char *const *s = x->data;
    for (int64_t i = 0; i < x->numel; i++) {
        const char *p = s[i] ? s[i] : "";
        char *end;
        double v;
        errno = 0;
        if (gd_dtype_is_int(y->dtype) && y->dtype != GD_DTYPE_UINT64) {
            long long l = strtoll(p, &end, 10);
            if (end != p && *end == 0 && !errno) {
                int64_t iv = l;
                store_i64(y, i, 1, &iv, 0, &v);
                continue;
            }
        }
        v = strtod(p, &end);
        if (end == p)
            return gd_op_fail(ctx, GD_EINVAL, "cannot parse '%.40s' as a number", p);
        gd__ot_store_f64(y, i, 1, &v);
    }
    return 0;
}

/* Converts x into y (same shape, any dtypes). */
static int cast_into(struct gd_op_ctx *ctx, const struct gd_tensor *x, struct gd_tensor *y)
{
    if (x->dtype == y->dtype) {
        if (x->nbytes && y->data != x->data)
            memcpy(y->data, x->data, x->nbytes);
        return gd__ot_own_strings(ctx, y);
    }
    if (y->dtype == GD_DTYPE_STRING)
        return to_string(ctx, x, y);
    if (x->dtype == GD_DTYPE_STRING)
        return from_string(ctx, x, y);
    double *dbuf = gd_op_scratch(ctx, CHUNK * sizeof(double));
    int64_t *ibuf = gd_op_scratch(ctx, CHUNK * sizeof(int64_t));
    if (!dbuf || !ibuf)
        return GD_ENOMEM;
    for (int64_t from = 0; from < x->numel; from += CHUNK) {
        int64_t n = x->numel - from < CHUNK ? x->numel - from : CHUNK;
        if (is_intlike(x->dtype)) {
            load_i64(x, from, n, ibuf);
            store_i64(y, from, n, ibuf, x->dtype == GD_DTYPE_UINT64, dbuf);
        } else {
            gd__ot_load_f64(x, from, n, dbuf);
            gd__ot_store_f64(y, from, n, dbuf);
        }
    }
    return 0;
}

static int cast_to(struct gd_op_ctx *ctx, const struct gd_tensor *x, int64_t to)
{
    if (to <= 0 || to > GD_DTYPE_UINT64 || gd_dtype_size((enum gd_dtype)to) == 0)
        return gd_op_fail(ctx, GD_ENOTSUP, "cast to dtype %lld", (long long)to);
    if (gd_dtype_size(x->dtype) == 0)
        return gd_op_fail(ctx, GD_ENOTSUP, "cast from dtype %d", (int)x->dtype);
    struct gd_tensor *y = gd_op_output(ctx, 0, (enum gd_dtype)to, x->rank, x->dims);
    if (!y)
        return GD_ENOMEM;
    return cast_into(ctx, x, y);
}

static int cast_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    if (!gd_op_attr_has(ctx, "to"))
        return gd_op_fail(ctx, GD_EINVAL, "missing attribute 'to'");
    /* Opsets 1-5 name the type as a string ("FLOAT"), later ones give the enum value. */
    static const char *const names[] = {"",        "FLOAT",  "UINT8",  "INT8",   "UINT16",
                                        "INT16",   "INT32",  "INT64",  "STRING", "BOOL",
                                        "FLOAT16", "DOUBLE", "UINT32", "UINT64"};
    const char *ts = gd_op_attr_string(ctx, "to", NULL);
    for (int i = 1; ts && i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(ts, names[i]) == 0)
            return cast_to(ctx, x, i);
    return cast_to(ctx, x, gd_op_attr_int(ctx, "to", 0));
}

static int castlike_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc), *t = x ? gd__ot_need(ctx, 1, &rc) : 0;
    if (!t)
        return rc;
    return cast_to(ctx, x, t->dtype);
}

const struct gd_op_def gd_ops_cast[] = {
    {"", "Cast", 1, 0, cast_run, 0},
    {"", "CastLike", 15, 0, castlike_run, 0},
    {0},
};
