/* onnx.TensorProto -> struct gd_tensor, for initializers, tensor attributes and the .pb
 * files of the ONNX test data. Everything is untrusted: the dtype must be one we support,
 * rank and dims are capped, the byte size is overflow-checked, and the data source (raw
 * bytes, a typed repeated field, or an external file) must hold exactly numel elements.
 * raw_data is little-endian and may be unaligned, so it is memcpy'd (this engine only
 * builds for little-endian hosts, checked below). External files must resolve inside the
 * model's directory (no absolute paths, no "..", symlinks resolved with realpath). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "engine/model.h"
#include "onnx.pb-c.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the engine reads raw_data as little-endian and needs a little-endian host"
#endif

int gd__errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return GD_EINVAL;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return GD_EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno)
        return GD_ERANGE;
    *out = v;
    return 0;
}

/* Opens location relative to base_dir, refusing anything that escapes it. */
static int open_confined(const char *base_dir, const char *loc, char *err, size_t errlen)
{
    if (!base_dir)
        return gd__errf(err, errlen, GD_EINVAL, "external data '%s' but no model directory", loc);
    if (!*loc || loc[0] == '/' || strstr(loc, ".."))
        return gd__errf(err, errlen, GD_EINVAL, "external data location '%s' not allowed", loc);
    char path[PATH_MAX], real[PATH_MAX], base[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", base_dir, loc) >= (int)sizeof path)
        return gd__errf(err, errlen, GD_EINVAL, "external data path too long");
    if (!realpath(base_dir, base) || !realpath(path, real))
        return gd__errf(err, errlen, GD_ENOENT, "external data '%s': %s", loc, strerror(errno));
    size_t bl = strlen(base);
    if (strncmp(real, base, bl) != 0 || (real[bl] != '/' && bl != 1))
        return gd__errf(err, errlen, GD_EINVAL, "external data '%s' escapes the model dir", loc);
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gd__errf(err, errlen, GD_EIO, "external data '%s': %s", loc, strerror(errno));
    return fd;
}

/* Opens and validates the external file range for nbytes; returns fd and sets *off. */
static int open_external(const Onnx__TensorProto *tp, const char *base_dir, size_t nbytes,
                         uint64_t *off_out, char *err, size_t errlen)
{
    const char *loc = NULL;
    uint64_t off = 0, len = nbytes;
    int have_len = 0;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *kv = tp->external_data[i];
        if (!kv->key || !kv->value)
            continue;
        if (strcmp(kv->key, "location") == 0)
            loc = kv->value;
        else if (strcmp(kv->key, "offset") == 0 && parse_u64(kv->value, &off))
            return gd__errf(err, errlen, GD_EINVAL, "bad external data offset '%s'", kv->value);
        else if (strcmp(kv->key, "length") == 0 && (have_len = 1) && parse_u64(kv->value, &len))
            return gd__errf(err, errlen, GD_EINVAL, "bad external data length '%s'", kv->value);
    }
    if (!loc)
        return gd__errf(err, errlen, GD_EINVAL, "external data without a location");
    if (have_len && len != nbytes)
        return gd__errf(err, errlen, GD_EINVAL, "external data length %llu != tensor size %zu",
                        (unsigned long long)len, nbytes);
    int fd = open_confined(base_dir, loc, err, errlen);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || off > (uint64_t)st.st_size ||
        nbytes > (uint64_t)st.st_size - off) {
        close(fd);
        return gd__errf(err, errlen, GD_EINVAL, "external data '%s': range past end of file", loc);
    }
    *off_out = off;
    return fd;
}

static int read_external(int fd, uint64_t off, void *dst, size_t nbytes, char *err, size_t errlen)
{
    for (size_t done = 0; done < nbytes;) {
        ssize_t r = pread(fd, (char *)dst + done, nbytes - done, (off_t)(off + done));
        if (r <= 0)
            return gd__errf(err, errlen, GD_EIO, "external data: short read");
        done += (size_t)r;
    }
    return 0;
}

/* Element count of the typed repeated field that carries dtype dt (onnx.proto comments). */
static size_t typed_count(const Onnx__TensorProto *tp, enum gd_dtype dt)
{
    switch (dt) {
    case GD_DTYPE_FLOAT:
        return tp->n_float_data;
    case GD_DTYPE_DOUBLE:
        return tp->n_double_data;
    case GD_DTYPE_INT64:
        return tp->n_int64_data;
    case GD_DTYPE_UINT32:
    case GD_DTYPE_UINT64:
        return tp->n_uint64_data;
    case GD_DTYPE_STRING:
        return tp->n_string_data;
    default:
        return tp->n_int32_data;
    }
}

/* Typed repeated fields: which field carries which dtype (onnx.proto comments). */
static int from_typed(const Onnx__TensorProto *tp, struct gd_tensor *t, char *err, size_t errlen)
{
    size_t n = (size_t)t->numel, have;
    switch (t->dtype) {
    case GD_DTYPE_FLOAT:
        if ((have = tp->n_float_data) == n && n)
            memcpy(t->data, tp->float_data, n * 4);
        break;
    case GD_DTYPE_DOUBLE:
        if ((have = tp->n_double_data) == n && n)
            memcpy(t->data, tp->double_data, n * 8);
        break;
    case GD_DTYPE_INT64:
        if ((have = tp->n_int64_data) == n && n)
            memcpy(t->data, tp->int64_data, n * 8);
        break;
    case GD_DTYPE_UINT64:
        if ((have = tp->n_uint64_data) == n && n)
            memcpy(t->data, tp->uint64_data, n * 8);
        break;
    case GD_DTYPE_UINT32:
        if ((have = tp->n_uint64_data) == n)
            for (size_t i = 0; i < n; i++)
                ((uint32_t *)t->data)[i] = (uint32_t)tp->uint64_data[i];
        break;
    case GD_DTYPE_STRING:
        if ((have = tp->n_string_data) == n)
            for (size_t i = 0; i < n; i++) {
                const ProtobufCBinaryData *b = &tp->string_data[i];
                if (!(((char **)t->data)[i] =
                          gd_strndup(b->len ? (const char *)b->data : "", b->len)))
                    return gd__errf(err, errlen, GD_ENOMEM, "out of memory");
            }
        break;
    default: /* int32_data carries int32 and everything narrower, float16 as bits */
        if ((have = tp->n_int32_data) == n)
            for (size_t i = 0; i < n; i++) {
                int32_t v = tp->int32_data[i];
                switch (t->dtype) {
                case GD_DTYPE_INT32:
                    ((int32_t *)t->data)[i] = v;
                    break;
                case GD_DTYPE_INT16:
                    ((int16_t *)t->data)[i] = (int16_t)v;
                    break;
                case GD_DTYPE_INT8:
                    ((int8_t *)t->data)[i] = (int8_t)v;
                    break;
                case GD_DTYPE_UINT16:
                case GD_DTYPE_FLOAT16:
                    ((uint16_t *)t->data)[i] = (uint16_t)v;
                    break;
                case GD_DTYPE_UINT8:
                    ((uint8_t *)t->data)[i] = (uint8_t)v;
                    break;
                case GD_DTYPE_BOOL:
                    ((uint8_t *)t->data)[i] = v != 0;
                    break;
                default:
                    break;
                }
            }
        break;
    }
    if (have != n)
        return gd__errf(err, errlen, GD_EINVAL, "tensor '%s' has %zu values, shape needs %zu",
                        tp->name ? tp->name : "", have, n);
    return 0;
}

int gd__tensor_from_proto(const Onnx__TensorProto *tp, const char *base_dir, struct gd_tensor *t,
                          char *err, size_t errlen)
{
    const char *name = tp->name ? tp->name : "";
    memset(t, 0, sizeof *t);
    if (!tp->has_data_type || gd_dtype_size((enum gd_dtype)tp->data_type) == 0 ||
        tp->data_type <= 0 || tp->data_type > GD_DTYPE_UINT64)
        return gd__errf(err, errlen, GD_ENOTSUP, "tensor '%s': unsupported data type %d", name,
                        tp->has_data_type ? (int)tp->data_type : 0);
    if (tp->n_dims > GD_TENSOR_MAX_RANK)
        return gd__errf(err, errlen, GD_ENOTSUP, "tensor '%s': rank %zu exceeds %d", name,
                        tp->n_dims, GD_TENSOR_MAX_RANK);
    if (tp->segment)
        return gd__errf(err, errlen, GD_ENOTSUP, "tensor '%s': segments unsupported", name);
    /* Validate the data source against the shape before allocating anything. */
    int rc = gd_tensor_set_shape(t, (enum gd_dtype)tp->data_type, (int)tp->n_dims, tp->dims);
    if (rc)
        return gd__errf(err, errlen, rc, "tensor '%s': invalid or oversized shape", name);
    int fd = -1, external = tp->has_data_location &&
                            tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    uint64_t off = 0;
    if (external && t->dtype == GD_DTYPE_STRING)
        return gd__errf(err, errlen, GD_ENOTSUP, "tensor '%s': external strings", name);
    if (external && (fd = open_external(tp, base_dir, t->nbytes, &off, err, errlen)) < 0)
        return fd;
    if (!external && tp->has_raw_data) {
        if (t->dtype == GD_DTYPE_STRING)
            return gd__errf(err, errlen, GD_EINVAL, "tensor '%s': raw_data for strings", name);
        if (tp->raw_data.len != t->nbytes)
            return gd__errf(err, errlen, GD_EINVAL, "tensor '%s': raw_data is %zu bytes, need %zu",
                            name, tp->raw_data.len, t->nbytes);
    } else if (!external && typed_count(tp, t->dtype) != (size_t)t->numel) {
        return gd__errf(err, errlen, GD_EINVAL, "tensor '%s' has %zu values, shape needs %lld",
                        name, typed_count(tp, t->dtype), (long long)t->numel);
    }
    int64_t dims[GD_TENSOR_MAX_RANK];
    memcpy(dims, t->dims, sizeof dims);
    if ((rc = gd_tensor_alloc(t, t->dtype, t->rank, dims))) {
        if (fd >= 0)
            close(fd);
        return gd__errf(err, errlen, rc, "tensor '%s': out of memory", name);
    }
    if (external) {
        rc = read_external(fd, off, t->data, t->nbytes, err, errlen);
        close(fd);
    } else if (tp->has_raw_data) {
        if (t->nbytes)
            memcpy(t->data, tp->raw_data.data, t->nbytes);
        if (t->dtype == GD_DTYPE_BOOL)
            for (size_t i = 0; i < t->nbytes; i++)
                ((uint8_t *)t->data)[i] = ((uint8_t *)t->data)[i] != 0;
    } else {
        rc = from_typed(tp, t, err, errlen);
    }
    if (rc)
        gd_tensor_release(t);
    return rc;
}

int gd_engine_tensor_from_pb(const void *data, size_t len, const char *base_dir,
                             struct gd_tensor *out, char **name, char *err, size_t errlen)
{
    if (name)
        *name = NULL;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(&gd__pb_allocator, len, data);
    if (!tp)
        return gd__errf(err, errlen, GD_EPARSE, "not a valid TensorProto");
    int rc = gd__tensor_from_proto(tp, base_dir, out, err, errlen);
    if (!rc && name && tp->name && !(*name = gd_strdup(tp->name))) {
        gd_tensor_release(out);
        rc = gd__errf(err, errlen, GD_ENOMEM, "out of memory");
    }
    onnx__tensor_proto__free_unpacked(tp, &gd__pb_allocator);
    return rc;
}
