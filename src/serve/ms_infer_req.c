/* Infer request decoding and checking (see ms_infer_req.h). */
#include "serve/ms_infer_req.h"
#include "core/alloc.h"
#include "girder/error.h"
#include "serve/ms_tensor_json.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), GD_EINVAL)

/* Index of the model input called name, or -1. */
static int input_index(const gd_engine_model *em, const char *name)
{
    for (int i = 0; i < gd_engine_num_inputs(em); i++) {
        struct gd_engine_io io;
        gd_engine_input_info(em, i, &io);
        if (strcmp(io.name, name) == 0)
            return i;
    }
    return -1;
}

static int output_exists(const gd_engine_model *em, const char *name)
{
    for (int i = 0; i < gd_engine_num_outputs(em); i++) {
        struct gd_engine_io io;
        gd_engine_output_info(em, i, &io);
        if (strcmp(io.name, name) == 0)
            return 1;
    }
    return 0;
}

/* The tensor's datatype and shape against what the model declares for the input. */
static int check_against_model(const struct gd_engine_io *io, const struct gd_tensor *t, char *err,
                               size_t errlen)
{
    if (io->dtype != GD_DTYPE_UNDEFINED && io->dtype != t->dtype) {
        const char *want = gd_ms_datatype_name(io->dtype);
        return FAIL("input '%s': datatype %s does not match the model's %s", io->name,
                    gd_ms_datatype_name(t->dtype), want ? want : gd_dtype_name(io->dtype));
    }
    if (io->rank < 0)
        return 0;
    if (io->rank != t->rank)
        return FAIL("input '%s': shape has %d dimensions, the model expects %d", io->name, t->rank,
                    io->rank);
    for (int d = 0; d < t->rank; d++)
        if (io->dims[d] >= 0 && io->dims[d] != t->dims[d])
            return FAIL("input '%s': dimension %d is %lld, the model expects %lld", io->name, d,
                        (long long)t->dims[d], (long long)io->dims[d]);
    return 0;
}

static int parse_inputs(const gd_engine_model *em, const cJSON *arr, struct gd_ms_bin *bin,
                        struct gd_ms_job *job, char *err, size_t errlen)
{
    int n_model = gd_engine_num_inputs(em);
    if (!cJSON_IsArray(arr))
        return FAIL("'inputs' must be an array of input tensors");
    int n = cJSON_GetArraySize(arr);
    if (n != n_model) {
        /* name the first model input that is missing, else say what is extra */
        for (int i = 0; i < n_model; i++) {
            struct gd_engine_io io;
            gd_engine_input_info(em, i, &io);
            int found = 0;
            const cJSON *in;
            cJSON_ArrayForEach(in, arr)
            {
                const cJSON *nm = cJSON_GetObjectItemCaseSensitive(in, "name");
                found |= cJSON_IsString(nm) && strcmp(nm->valuestring, io.name) == 0;
            }
            if (!found)
                return FAIL("missing input '%s'", io.name);
        }
        return FAIL("the model has %d inputs, the request gives %d", n_model, n);
    }
    if (!(job->names = gd_calloc((size_t)n + 1, sizeof *job->names)) ||
        !(job->inputs = gd_calloc((size_t)n + 1, sizeof *job->inputs)))
        return GD_ENOMEM;
    job->n_inputs = n; /* slots are zeroed: gd_ms_job_free copes with unfilled ones */
    int i = 0;
    const cJSON *in;
    cJSON_ArrayForEach(in, arr)
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(in, "name");
        if (!cJSON_IsObject(in) || !cJSON_IsString(nm))
            return FAIL("inputs[%d]: expected an object with a string 'name'", i);
        int k = input_index(em, nm->valuestring);
        if (k < 0)
            return FAIL("unknown input '%.200s'", nm->valuestring);
        if (job->names[k])
            return FAIL("input '%.200s' given twice", nm->valuestring);
        if (!(job->names[k] = gd_strdup(nm->valuestring)))
            return GD_ENOMEM;
        int rc =
            gd_ms_tensor_from_json(in, GD_MS_MAX_INPUT_ELEMENTS, bin, &job->inputs[k], err, errlen);
        if (rc)
            return rc == GD_ENOMEM ? rc : GD_EINVAL;
        struct gd_engine_io io;
        gd_engine_input_info(em, k, &io);
        if ((rc = check_against_model(&io, &job->inputs[k], err, errlen)))
            return rc;
        i++;
    }
    return 0;
}

static int parse_outputs(const gd_engine_model *em, const cJSON *arr, struct gd_ms_job *job,
                         char *err, size_t errlen)
{
    if (!arr)
        return 0;
    if (!cJSON_IsArray(arr))
        return FAIL("'outputs' must be an array of requested outputs");
    int n = cJSON_GetArraySize(arr);
    if (n > gd_engine_num_outputs(em))
        return FAIL("'outputs' names %d outputs, the model has %d", n, gd_engine_num_outputs(em));
    if (n && (!(job->wanted = gd_calloc((size_t)n, sizeof *job->wanted)) ||
              !(job->wanted_binary = gd_calloc((size_t)n, 1))))
        return GD_ENOMEM;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (!cJSON_IsObject(o) || !cJSON_IsString(nm))
            return FAIL("outputs[%d]: expected an object with a string 'name'", job->n_wanted);
        if (!output_exists(em, nm->valuestring))
            return FAIL("unknown output '%.200s'", nm->valuestring);
        if (!(job->wanted[job->n_wanted] = gd_strdup(nm->valuestring)))
            return GD_ENOMEM;
        const cJSON *bd = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(o, "parameters"), "binary_data");
        job->wanted_binary[job->n_wanted] = cJSON_IsTrue(bd);
        job->n_wanted++;
    }
    return 0;
}

static int parse_parameters(const cJSON *p, struct gd_ms_infer_req *req, char *err, size_t errlen)
{
    if (!p)
        return 0;
    if (!cJSON_IsObject(p))
        return FAIL("'parameters' must be an object");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "timeout");
    if (t) {
        /* µs, a whole number; an hour at most so that deadlines cannot overflow */
        if (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble > 3600e6 ||
            t->valuedouble != (double)(int64_t)t->valuedouble)
            return FAIL("parameters.timeout must be a whole number of microseconds, at most "
                        "3600000000");
        req->timeout_us = (int64_t)t->valuedouble;
    }
    req->binary_output = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "binary_data_output"));
    return 0;
}

static int parse_tree(const gd_engine_model *em, const cJSON *root, struct gd_ms_bin *bin,
                      struct gd_ms_job *job, struct gd_ms_infer_req *req, char *err, size_t errlen)
{
    if (!cJSON_IsObject(root))
        return FAIL("the request body must be a JSON object");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (id) {
        if (!cJSON_IsString(id) || strlen(id->valuestring) > GD_MS_MAX_ID_BYTES)
            return FAIL("'id' must be a string of at most %d bytes", GD_MS_MAX_ID_BYTES);
        if (!(job->id = gd_strdup(id->valuestring)))
            return GD_ENOMEM;
    }
    int rc =
        parse_parameters(cJSON_GetObjectItemCaseSensitive(root, "parameters"), req, err, errlen);
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (!rc && !inputs)
        return FAIL("missing 'inputs'");
    rc = rc ? rc : parse_inputs(em, inputs, bin, job, err, errlen);
    if (!rc && bin && bin->pos != bin->len)
        return FAIL("%zu bytes of binary data are not claimed by any input's binary_data_size",
                    bin->len - bin->pos);
    rc =
        rc ? rc
           : parse_outputs(em, cJSON_GetObjectItemCaseSensitive(root, "outputs"), job, err, errlen);
    job->binary_outputs = req->binary_output;
    return rc;
}

int gd_ms_infer_parse(const gd_engine_model *em, const char *body, size_t len, size_t json_len,
                      struct gd_ms_job *job, struct gd_ms_infer_req *req, char *err, size_t errlen)
{
    memset(req, 0, sizeof *req);
    if (json_len > len)
        return FAIL("Inference-Header-Content-Length %zu is past the body's %zu bytes", json_len,
                    len);
    struct gd_ms_bin bin = {body + json_len, len - json_len, 0};
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, json_len, &end, 0);
    if (!root) {
        size_t at = end && end >= body ? (size_t)(end - body) : 0;
        return FAIL("invalid JSON at byte %zu", at);
    }
    int rc = parse_tree(em, root, json_len < len ? &bin : NULL, job, req, err, errlen);
    cJSON_Delete(root);
    return rc;
}
