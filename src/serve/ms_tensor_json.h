/* Open Inference Protocol tensors in JSON: datatype names and the conversions between a
 * request's `inputs[i]` object and a struct gd_tensor, and from an output tensor to JSON.
 * Pure functions, thread-safe. */
#ifndef GD_SERVE_MS_TENSOR_JSON_H
#define GD_SERVE_MS_TENSOR_JSON_H

#include "core/buf.h"
#include "girder/engine.h"

#include <cjson/cJSON.h>
#include <stddef.h>

/* Protocol datatype name ("FP32", "INT64", "BOOL", "BYTES", ...) of an engine dtype, or
 * NULL for types the protocol has no name for. */
const char *gd_ms_datatype_name(enum gd_dtype dt);
/* Engine dtype of a protocol name, GD_DTYPE_UNDEFINED when unknown. */
enum gd_dtype gd_ms_datatype_parse(const char *name);

/* The binary part of a request (binary tensor data extension): inputs with
 * parameters.binary_data_size take their bytes from it in order, pos advancing. */
struct gd_ms_bin {
    const char *data;
    size_t len, pos;
};

/* Builds an owned tensor (release with gd_tensor_release) from an input object
 * {"name","shape","datatype","data"}: data may be flat or nested in row-major order, its
 * element count must equal the shape's; numbers must fit the datatype (integers exact,
 * BOOL true/false), BYTES elements are UTF-8 strings. Instead of data, parameters.
 * binary_data_size takes that many bytes from bin (NULL: no binary part): raw little-endian
 * row-major elements, BYTES as 4-byte length + bytes each. max_numel caps the element
 * count. Errors: GD_EINVAL / GD_ELIMIT with a message in err naming the input; GD_ENOMEM. */
int gd_ms_tensor_from_json(const cJSON *in, int64_t max_numel, struct gd_ms_bin *bin,
                           struct gd_tensor *out, char *err, size_t errlen);

/* Appends {"name":..,"datatype":..,"shape":[..],"data":[..]} for t. Errors: gd_buf's
 * (GD_ELIMIT past the buffer's cap, GD_ENOMEM), GD_ENOTSUP for a dtype without a name. */
int gd_ms_tensor_to_json(struct gd_buf *b, const char *name, const struct gd_tensor *t);

/* The binary extension's encoding of t appended to b (raw little-endian bytes; BYTES as a
 * 4-byte length + bytes each), and the JSON entry that announces it:
 * {"name","datatype","shape","parameters":{"binary_data_size":binary_size}}. Errors: gd_buf's,
 * GD_ENOTSUP for a dtype without a name. */
int gd_ms_tensor_to_binary(struct gd_buf *b, const struct gd_tensor *t);
int gd_ms_tensor_to_json_binary(struct gd_buf *b, const char *name, const struct gd_tensor *t,
                                size_t binary_size);

#endif
