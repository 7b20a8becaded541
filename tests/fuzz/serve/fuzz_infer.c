/* libFuzzer driver for the infer request parser (serve/ms_infer_req.h) against three small
 * models (FP32/BOOL/INT64, FP16, BYTES), chosen by the first byte; the second says how many
 * trailing bytes are the binary part. A request that parses
 * must re-encode: every decoded input is written back as JSON, parsed again, and must come
 * back with the same datatype, shape and bytes (strings compared element by element). */
#include "core/buf.h"
#include "girder/engine.h"
#include "girder/error.h"
#include "serve/ms_infer_req.h"
#include "serve/ms_tensor_json.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static gd_engine_model *models[3];

static void load_models(void)
{
    static const char *const names[3] = {"mix", "half", "text"};
    char err[256];
    for (int i = 0; i < 3; i++) {
        if (models[i])
            continue;
        char path[1024];
        strcpy(path, GD_FUZZ_SERVE_MODELS "/");
        strcat(path, names[i]);
        strcat(path, ".onnx");
        if (gd_engine_load_file(path, &models[i], err, sizeof err) != 0)
            abort(); /* the build makes them: a missing model is a broken build */
    }
}

static int same_tensor(const struct gd_tensor *a, const struct gd_tensor *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank || a->numel != b->numel)
        return 0;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d])
            return 0;
    if (a->dtype != GD_DTYPE_STRING)
        return a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0;
    char *const *sa = a->data, *const *sb = b->data;
    for (int64_t i = 0; i < a->numel; i++)
        if (strcmp(sa[i], sb[i]) != 0)
            return 0;
    return 1;
}

static void check_round_trip(const char *name, const struct gd_tensor *t)
{
    struct gd_buf b;
    gd_buf_init(&b, (size_t)1 << 30);
    if (gd_ms_tensor_to_json(&b, name, t) != 0)
        abort();
    cJSON *in = cJSON_ParseWithLength(b.data, b.len);
    struct gd_tensor back;
    char err[256];
    if (!in || gd_ms_tensor_from_json(in, INT64_MAX, NULL, &back, err, sizeof err) != 0)
        abort();
    if (!same_tensor(t, &back))
        abort();
    gd_tensor_release(&back);
    cJSON_Delete(in);
    gd_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_models();
    if (size < 2)
        return 0;
    gd_engine_model *m = models[data[0] % 3];
    struct gd_ms_job *job = gd_ms_job_new(NULL, 1 << 20);
    struct gd_ms_infer_req req;
    char err[512] = "";
    if (!job)
        return 0;
    /* byte 1: how many of the last bytes are the binary part (binary tensor extension) */
    size_t body = size - 2, bin = size >= 2 ? data[1] : 0;
    bin = bin > body ? body : bin;
    int rc =
        gd_ms_infer_parse(m, (const char *)data + 2, body, body - bin, job, &req, err, sizeof err);
    if (rc == 0 && bin == 0) /* binary data may hold NaN or non-UTF-8: JSON cannot say it */
        for (int i = 0; i < job->n_inputs; i++)
            check_round_trip(job->names[i], &job->inputs[i]);
    else if (rc == GD_EINVAL && !err[0])
        abort(); /* every refusal names its reason */
    gd_ms_job_free(job);
    return 0;
}
