/* JSON tensors of the Open Inference Protocol (see ms_tensor_json.h). */
#include "serve/ms_tensor_json.h"
#include "core/alloc.h"
#include "core/json_write.h"
#include "engine/tensor.h"
#include "girder/error.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    enum gd_dtype dt;
} types[] = {
    {"BOOL", GD_DTYPE_BOOL},     {"UINT8", GD_DTYPE_UINT8},   {"UINT16", GD_DTYPE_UINT16},
    {"UINT32", GD_DTYPE_UINT32}, {"UINT64", GD_DTYPE_UINT64}, {"INT8", GD_DTYPE_INT8},
    {"INT16", GD_DTYPE_INT16},   {"INT32", GD_DTYPE_INT32},   {"INT64", GD_DTYPE_INT64},
    {"FP16", GD_DTYPE_FLOAT16},  {"FP32", GD_DTYPE_FLOAT},    {"FP64", GD_DTYPE_DOUBLE},
    {"BYTES", GD_DTYPE_STRING},
};

const char *gd_ms_datatype_name(enum gd_dtype dt)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].dt == dt)
            return types[i].name;
    return NULL;
}

enum gd_dtype gd_ms_datatype_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i].name, name) == 0)
            return types[i].dt;
    return GD_DTYPE_UNDEFINED;
}

/* Range of exactly representable values per integer dtype (int64/uint64 limited to what a
 * JSON number parsed as double holds exactly: 2^53). */
static int int_range(enum gd_dtype dt, double *lo, double *hi)
{
    switch (dt) {
    case GD_DTYPE_UINT8:
        *lo = 0, *hi = 255;
        return 1;
    case GD_DTYPE_UINT16:
        *lo = 0, *hi = 65535;
        return 1;
    case GD_DTYPE_UINT32:
        *lo = 0, *hi = 4294967295.0;
        return 1;
    case GD_DTYPE_UINT64:
        *lo = 0, *hi = 9007199254740992.0;
        return 1;
    case GD_DTYPE_INT8:
        *lo = -128, *hi = 127;
        return 1;
    case GD_DTYPE_INT16:
        *lo = -32768, *hi = 32767;
        return 1;
    case GD_DTYPE_INT32:
        *lo = -2147483648.0, *hi = 2147483647.0;
        return 1;
    case GD_DTYPE_INT64:
        *lo = -9007199254740992.0, *hi = 9007199254740992.0;
        return 1;
    default:
        return 0;
    }
}

struct fill {
    struct gd_tensor *t;
    int64_t i;
    const char *name;
    char *err;
    size_t errlen;
};

/* A number the float type cannot hold (JSON has no Inf; cJSON reads 1e999 as one). FP16
 * rounds up to 65504 below 65520, the first value that rounds to infinity. */
static int float_out_of_range(enum gd_dtype dt, double d)
{
    double a = fabs(d);
    switch (dt) {
    case GD_DTYPE_FLOAT16:
        return !(a < 65520.0);
    case GD_DTYPE_FLOAT:
        return !(a <= FLT_MAX);
    case GD_DTYPE_DOUBLE:
        return !(a <= DBL_MAX);
    default:
        return 0;
    }
}

static int put_elem(struct fill *f, const cJSON *v)
{
    struct gd_tensor *t = f->t;
    if (f->i >= t->numel)
        return snprintf(f->err, f->errlen, "input '%s': more data elements than its shape holds",
                        f->name),
               GD_EINVAL;
    int64_t i = f->i++;
    if (t->dtype == GD_DTYPE_STRING) {
        if (!cJSON_IsString(v))
            return snprintf(f->err, f->errlen, "input '%s': BYTES data must be strings", f->name),
                   GD_EINVAL;
        if (!gd_utf8_valid(v->valuestring, strlen(v->valuestring)))
            return snprintf(f->err, f->errlen, "input '%s': BYTES element %lld is not valid UTF-8",
                            f->name, (long long)i),
                   GD_EINVAL;
        char *s = gd_strdup(v->valuestring);
        if (!s)
            return GD_ENOMEM;
        ((char **)t->data)[i] = s;
        return 0;
    }
    if (t->dtype == GD_DTYPE_BOOL) {
        if (!cJSON_IsBool(v))
            return snprintf(f->err, f->errlen, "input '%s': BOOL data must be true/false", f->name),
                   GD_EINVAL;
        ((uint8_t *)t->data)[i] = cJSON_IsTrue(v) ? 1 : 0;
        return 0;
    }
    if (!cJSON_IsNumber(v))
        return snprintf(f->err, f->errlen, "input '%s': data element %lld is not a number", f->name,
                        (long long)i),
               GD_EINVAL;
    double d = v->valuedouble, lo, hi;
    if (int_range(t->dtype, &lo, &hi) && (d != floor(d) || d < lo || d > hi))
        return snprintf(f->err, f->errlen, "input '%s': data element %lld (%g) is not a %s",
                        f->name, (long long)i, d, gd_ms_datatype_name(t->dtype)),
               GD_EINVAL;
    if (float_out_of_range(t->dtype, d))
        return snprintf(f->err, f->errlen, "input '%s': data element %lld (%g) is out of %s range",
                        f->name, (long long)i, d, gd_ms_datatype_name(t->dtype)),
               GD_EINVAL;
    switch (t->dtype) {
#define X(E, T, S)                                                                                 \
    case E:                                                                                        \
        ((T *)t->data)[i] = (T)d;                                                                  \
        break;
        GD_DTYPE_FOREACH_NUMERIC(X)
#undef X
    case GD_DTYPE_FLOAT16:
        ((gd_f16 *)t->data)[i] = gd_f32_to_f16((float)d);
        break;
    default:
        return GD_ENOTSUP;
    }
    return 0;
}

/* Nested arrays are walked depth-first: row-major order whatever the nesting. */
static int put_data(struct fill *f, const cJSON *v, int depth)
{
    if (!cJSON_IsArray(v))
        return put_elem(f, v);
    if (depth > GD_TENSOR_MAX_RANK)
        return snprintf(f->err, f->errlen, "input '%s': data nested deeper than %d", f->name,
                        GD_TENSOR_MAX_RANK),
               GD_EINVAL;
    for (const cJSON *c = v->child; c; c = c->next) {
        int rc = put_data(f, c, depth + 1);
        if (rc)
            return rc;
    }
    return 0;
}

/* BYTES in the binary extension: each element a 4-byte little-endian length, then the bytes. */
static int strings_from_binary(const unsigned char *p, size_t n, const char *name,
                               struct gd_tensor *t, char *err, size_t errlen)
{
    char **el = t->data;
    size_t at = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        if (n - at < 4)
            return snprintf(err, errlen, "input '%s': binary BYTES element %lld is cut short", name,
                            (long long)i),
                   GD_EINVAL;
        size_t len = (size_t)p[at] | (size_t)p[at + 1] << 8 | (size_t)p[at + 2] << 16 |
                     (size_t)p[at + 3] << 24;
        at += 4;
        if (len > n - at || memchr(p + at, 0, len))
            return snprintf(err, errlen,
                            "input '%s': binary BYTES element %lld is cut short or holds a NUL "
                            "byte",
                            name, (long long)i),
                   GD_EINVAL;
        if (!(el[i] = gd_malloc(len + 1)))
            return GD_ENOMEM;
        memcpy(el[i], p + at, len);
        el[i][len] = '\0';
        at += len;
    }
    if (at != n)
        return snprintf(err, errlen, "input '%s': binary_data_size %zu, its elements take %zu",
                        name, n, at),
               GD_EINVAL;
    return 0;
}

/* The tensor's bytes from the binary part of the request (the next binary_data_size bytes). */
static int from_binary(const cJSON *bsize, struct gd_ms_bin *bin, const char *name,
                       struct gd_tensor *t, char *err, size_t errlen)
{
    if (!bin)
        return snprintf(err, errlen,
                        "input '%s': binary_data_size without a binary part (send "
                        "Inference-Header-Content-Length)",
                        name),
               GD_EINVAL;
    double d = cJSON_IsNumber(bsize) ? bsize->valuedouble : -1;
    if (d < 0 || d != floor(d) || d > (double)(bin->len - bin->pos))
        return snprintf(err, errlen,
                        "input '%s': binary_data_size must be a whole number of bytes within the "
                        "%zu left in the body",
                        name, bin->len - bin->pos),
               GD_EINVAL;
    size_t n = (size_t)d;
    const unsigned char *p = (const unsigned char *)bin->data + bin->pos;
    bin->pos += n;
    if (t->dtype == GD_DTYPE_STRING)
        return strings_from_binary(p, n, name, t, err, errlen);
    if (n != t->nbytes)
        return snprintf(err, errlen, "input '%s': binary_data_size %zu, its shape takes %zu bytes",
                        name, n, t->nbytes),
               GD_EINVAL;
    if (n)
        memcpy(t->data, p, n); /* little-endian, row-major: the protocol's layout and ours */
    if (t->dtype == GD_DTYPE_BOOL)
        for (size_t i = 0; i < n; i++)
            ((uint8_t *)t->data)[i] = ((uint8_t *)t->data)[i] != 0;
    return 0;
}

int gd_ms_tensor_from_json(const cJSON *in, int64_t max_numel, struct gd_ms_bin *bin,
                           struct gd_tensor *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(in, "name");
    if (!cJSON_IsObject(in) || !cJSON_IsString(jn))
        return snprintf(err, errlen, "every input needs a string 'name'"), GD_EINVAL;
    const char *name = jn->valuestring;
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(in, "shape");
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(in, "datatype");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(in, "data");
    if (!cJSON_IsArray(js))
        return snprintf(err, errlen, "input '%s': 'shape' must be an array", name), GD_EINVAL;
    enum gd_dtype dt =
        cJSON_IsString(jd) ? gd_ms_datatype_parse(jd->valuestring) : GD_DTYPE_UNDEFINED;
    if (dt == GD_DTYPE_UNDEFINED)
        return snprintf(err, errlen, "input '%s': unknown or missing 'datatype'", name), GD_EINVAL;
    int rank = cJSON_GetArraySize(js);
    if (rank > GD_TENSOR_MAX_RANK)
        return snprintf(err, errlen, "input '%s': rank %d above %d", name, rank,
                        GD_TENSOR_MAX_RANK),
               GD_EINVAL;
    int64_t dims[GD_TENSOR_MAX_RANK], numel = 1;
    int r = 0;
    for (const cJSON *c = js->child; c; c = c->next, r++) {
        if (!cJSON_IsNumber(c) || c->valuedouble < 0 || c->valuedouble != floor(c->valuedouble) ||
            c->valuedouble > (double)max_numel)
            return snprintf(err, errlen, "input '%s': shape[%d] is not a dimension", name, r),
                   GD_EINVAL;
        dims[r] = (int64_t)c->valuedouble;
        numel *= dims[r] ? dims[r] : 0;
        if (numel > max_numel)
            return snprintf(err, errlen, "input '%s': more than %lld elements", name,
                            (long long)max_numel),
                   GD_ELIMIT;
    }
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(in, "parameters");
    const cJSON *bsize = cJSON_GetObjectItemCaseSensitive(params, "binary_data_size");
    if (!data && !bsize)
        return snprintf(err, errlen, "input '%s': 'data' is missing", name), GD_EINVAL;
    if (data && bsize)
        return snprintf(err, errlen, "input '%s': both 'data' and binary_data_size", name),
               GD_EINVAL;
    int rc = gd_tensor_alloc(out, dt, rank, dims);
    if (rc)
        return rc == GD_ENOMEM ? rc : (snprintf(err, errlen, "input '%s': bad shape", name), rc);
    if (bsize) {
        rc = from_binary(bsize, bin, name, out, err, errlen);
        if (rc)
            gd_tensor_release(out);
        return rc;
    }
    struct fill f = {out, 0, name, err, errlen};
    rc = put_data(&f, data, 0);
    if (!rc && f.i != out->numel) {
        snprintf(err, errlen, "input '%s': %lld data elements for a shape of %lld", name,
                 (long long)f.i, (long long)out->numel);
        rc = GD_EINVAL;
    }
    if (rc)
        gd_tensor_release(out);
    return rc;
}

static int put_num(struct gd_buf *b, const struct gd_tensor *t, int64_t i)
{
    char tmp[40];
    int n;
    switch (t->dtype) {
    case GD_DTYPE_FLOAT:
        n = snprintf(tmp, sizeof tmp, "%.9g", ((const float *)t->data)[i]);
        break;
    case GD_DTYPE_FLOAT16:
        n = snprintf(tmp, sizeof tmp, "%.5g", gd_f16_to_f32(((const gd_f16 *)t->data)[i]));
        break;
    case GD_DTYPE_DOUBLE:
        return gd_json_put_f64(b, ((const double *)t->data)[i]);
    case GD_DTYPE_BOOL:
        return gd_buf_puts(b, ((const uint8_t *)t->data)[i] ? "true" : "false");
    case GD_DTYPE_STRING: {
        const char *s = ((char *const *)t->data)[i];
        return gd_json_put_str(b, s ? s : "", s ? strlen(s) : 0);
    }
    case GD_DTYPE_UINT64:
        return gd_json_put_u64(b, ((const uint64_t *)t->data)[i]);
#define X(E, T, S)                                                                                 \
    case E:                                                                                        \
        return gd_json_put_i64(b, (int64_t)((const T *)t->data)[i]);
        GD_DTYPE_FOREACH_SINT(X)
        X(GD_DTYPE_UINT8, uint8_t, u8)
        X(GD_DTYPE_UINT16, uint16_t, u16)
        X(GD_DTYPE_UINT32, uint32_t, u32)
#undef X
    default:
        return GD_ENOTSUP;
    }
    /* JSON has no NaN/Inf: they become null, as gd_json_put_f64 writes them. */
    if (strchr(tmp, 'n') || strchr(tmp, 'N'))
        return gd_buf_puts(b, "null");
    return gd_buf_append(b, tmp, (size_t)n);
}

/* {"name":..,"datatype":..,"shape":[..] — the part every output entry starts with. */
static int put_head(struct gd_buf *b, const char *name, const struct gd_tensor *t)
{
    const char *dt = gd_ms_datatype_name(t->dtype);
    if (!dt)
        return GD_ENOTSUP;
    int rc = gd_buf_puts(b, "{\"name\":");
    rc = rc ? rc : gd_json_put_str(b, name, strlen(name));
    rc = rc ? rc : gd_buf_printf(b, ",\"datatype\":\"%s\",\"shape\":[", dt);
    for (int d = 0; !rc && d < t->rank; d++)
        rc = gd_buf_printf(b, "%s%lld", d ? "," : "", (long long)t->dims[d]);
    return rc ? rc : gd_buf_putc(b, ']');
}

int gd_ms_tensor_to_json(struct gd_buf *b, const char *name, const struct gd_tensor *t)
{
    int rc = put_head(b, name, t);
    rc = rc ? rc : gd_buf_puts(b, ",\"data\":[");
    for (int64_t i = 0; !rc && i < t->numel; i++) {
        if (i)
            rc = gd_buf_putc(b, ',');
        rc = rc ? rc : put_num(b, t, i);
    }
    return rc ? rc : gd_buf_puts(b, "]}");
}

int gd_ms_tensor_to_binary(struct gd_buf *b, const struct gd_tensor *t)
{
    if (t->dtype != GD_DTYPE_STRING)
        return gd_ms_datatype_name(t->dtype) ? gd_buf_append(b, t->data, t->nbytes) : GD_ENOTSUP;
    int rc = 0;
    for (int64_t i = 0; !rc && i < t->numel; i++) {
        const char *e = ((char *const *)t->data)[i];
        size_t n = e ? strlen(e) : 0;
        unsigned char len[4] = {(unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                                (unsigned char)(n >> 24)};
        rc = n > UINT32_MAX ? GD_ELIMIT : gd_buf_append(b, len, 4);
        rc = rc ? rc : gd_buf_append(b, e, n);
    }
    return rc;
}

int gd_ms_tensor_to_json_binary(struct gd_buf *b, const char *name, const struct gd_tensor *t,
                                size_t binary_size)
{
    int rc = put_head(b, name, t);
    return rc ? rc : gd_buf_printf(b, ",\"parameters\":{\"binary_data_size\":%zu}}", binary_size);
}
