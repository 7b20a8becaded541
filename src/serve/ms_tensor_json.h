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

/* Builds an owned tensor (release with gd_tensor_release) from an input object
 * {"name","shape","datatype","data"}: data may be flat or nested in row-major order, its
 * element count must equal the shape's; numbers must fit the datatype (integers exact,
 * BOOL true/false), BYTES elements are strings. max_numel caps the element count.
 * Errors: GD_EINVAL / GD_ELIMIT with a message in err naming the input; GD_ENOMEM. */
int gd_ms_tensor_from_json(const cJSON *in, int64_t max_numel, struct gd_tensor *out, char *err,
                           size_t errlen);

/* Appends {"name":..,"datatype":..,"shape":[..],"data":[..]} for t. Errors: gd_buf's
 * (GD_ELIMIT past the buffer's cap, GD_ENOMEM), GD_ENOTSUP for a dtype without a name. */
int gd_ms_tensor_to_json(struct gd_buf *b, const char *name, const struct gd_tensor *t);

#endif
