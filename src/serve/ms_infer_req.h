/* Open Inference Protocol infer requests (JSON): the body of POST .../infer decoded into a
 * job for a model, checked against the model's inputs and outputs so that every mistake is
 * answered 400 with a message naming the input, output or field.
 *
 *   {"id": "..", "parameters": {"timeout": µs, "binary_data_output": bool}, "inputs":
 *    [{"name","shape","datatype","data" | "parameters": {"binary_data_size": n}}],
 *    "outputs": [{"name": "..", "parameters": {"binary_data": bool}}]}
 *   then the inputs' binary data when Inference-Header-Content-Length says where JSON ends
 *
 * Pure (no I/O), thread-safe; the fuzz driver tests/fuzz/serve/fuzz_infer.c calls it. */
#ifndef GD_SERVE_MS_INFER_REQ_H
#define GD_SERVE_MS_INFER_REQ_H

#include "girder/engine.h"
#include "serve/ms_runtime.h"

#include <stddef.h>
#include <stdint.h>

/* Caps a request is held to (the body itself is capped by the server's limits). */
#define GD_MS_MAX_INPUT_ELEMENTS ((int64_t)1 << 26) /* per input tensor */
#define GD_MS_MAX_ID_BYTES 256

struct gd_ms_infer_req {
    int64_t timeout_us; /* parameters.timeout, 0 when absent */
    int binary_output;  /* parameters.binary_data_output */
};

/* Parses body (len bytes, need not be NUL-terminated) for engine model em into job (its
 * names, inputs, wanted outputs and id; job must be fresh from gd_ms_job_new). The JSON is
 * body[0..json_len) (json_len == len without the binary extension); the bytes after it are
 * the binary data of inputs with parameters.binary_data_size, in input order, and must all
 * be claimed. Outputs may ask for binary data (parameters.binary_data, or the request's
 * parameters.binary_data_output). Every model input must be given once, with the model's
 * datatype and a shape that fits its dims; job->inputs[k] is the model's input k whatever
 * the request's order. Errors: GD_EINVAL with the reason in err (the caller answers 400),
 * GD_ENOMEM. On error job may hold part of the request: gd_ms_job_free releases it. */
int gd_ms_infer_parse(const gd_engine_model *em, const char *body, size_t len, size_t json_len,
                      struct gd_ms_job *job, struct gd_ms_infer_req *req, char *err, size_t errlen);

#endif
