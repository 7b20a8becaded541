/* libFuzzer driver for the ONNX loader and runtime: any byte string is loaded as a model;
 * when it loads, a session is created and, if every input has a small static shape, the
 * graph runs once on zero-filled inputs. Caps keep the fuzzer inside its memory and time
 * limits: tensors over 16 MiB and runs of more than 10,000 node executions (a Loop with a
 * trip count in the millions) are refused with GD_ELIMIT (an error, not a finding). */
#include <stdint.h>
#include <string.h>

#include "engine/tensor.h"
#include "girder/engine.h"

#define FUZZ_MAX_INPUTS 16
#define FUZZ_MAX_BYTES ((size_t)16 << 20)
#define FUZZ_MAX_NODE_RUNS 10000

static void run_once(gd_engine_model *m)
{
    struct gd_tensor in[FUZZ_MAX_INPUTS];
    const char *names[FUZZ_MAX_INPUTS];
    int n = gd_engine_num_inputs(m), made = 0;
    char err[256];
    gd_engine_session *s = NULL;
    if (n > FUZZ_MAX_INPUTS ||
        gd_engine_session_create(m,
                                 &(struct gd_engine_options){.threads = 1,
                                                             .max_tensor_bytes = FUZZ_MAX_BYTES,
                                                             .max_node_runs = FUZZ_MAX_NODE_RUNS},
                                 &s, err, sizeof err))
        goto out;
    for (; made < n; made++) {
        struct gd_engine_io io;
        gd_engine_input_info(m, made, &io);
        if (io.rank < 0 || io.dtype == GD_DTYPE_UNDEFINED || io.dtype == GD_DTYPE_STRING)
            goto out;
        int64_t dims[GD_TENSOR_MAX_RANK], numel = 1;
        for (int d = 0; d < io.rank; d++) {
            dims[d] = io.dims[d] < 0 ? 1 : io.dims[d];
            if (dims[d] > 4096 || (numel *= dims[d] ? dims[d] : 1) > 65536)
                goto out;
        }
        if (gd_tensor_alloc(&in[made], io.dtype, io.rank, dims))
            goto out;
        names[made] = io.name;
    }
    gd_engine_run(s, n, names, in, err, sizeof err);
out:
    for (int i = 0; i < made; i++)
        gd_tensor_release(&in[i]);
    gd_engine_session_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gd_engine_model *m = NULL;
    char err[256];
    if (gd_engine_load_memory(data, size, NULL, &m, err, sizeof err) == 0)
        run_once(m);
    gd_engine_model_free(m);
    return 0;
}
