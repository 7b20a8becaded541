/* girder engine: a dependency-free ONNX inference engine.
 *
 *   gd_engine_model *m;  gd_engine_session *s;  char err[512];
 *   if (gd_engine_load_file("model.onnx", &m, err, sizeof err)) { ...err... }
 *   gd_engine_session_create(m, &(struct gd_engine_options){.threads = 4}, &s, err, sizeof err);
 *   gd_engine_run(s, 1, (const char *[]){"x"}, &x, err, sizeof err);
 *   const struct gd_tensor *y = gd_engine_output(s, 0);
 *   gd_engine_session_free(s);  gd_engine_model_free(m);
 *
 * Errors: every int function returns 0 or a negative GD_E* code (girder/error.h) and, when
 * err is not NULL, writes a NUL-terminated message, e.g.
 * "node 'conv_12' (Conv): kernel_shape mismatch ...". Nothing is ever printed.
 * Models are untrusted input: malformed ones are rejected with an error, never a crash.
 * Threading: a model is immutable after loading and may be shared by any number of
 * sessions on any threads; a session is used by one thread at a time. */
#ifndef GIRDER_ENGINE_H
#define GIRDER_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GD_TENSOR_MAX_RANK 8
/* Largest element count any tensor may have (a model asking for more is rejected). */
#define GD_TENSOR_MAX_NUMEL ((int64_t)1 << 36)

/* Values are ONNX TensorProto.DataType numbers. */
enum gd_dtype {
    GD_DTYPE_UNDEFINED = 0,
    GD_DTYPE_FLOAT = 1, /* float32 */
    GD_DTYPE_UINT8 = 2,
    GD_DTYPE_INT8 = 3,
    GD_DTYPE_UINT16 = 4,
    GD_DTYPE_INT16 = 5,
    GD_DTYPE_INT32 = 6,
    GD_DTYPE_INT64 = 7,
    GD_DTYPE_STRING = 8, /* elements are NUL-terminated char * owned by the tensor */
    GD_DTYPE_BOOL = 9,   /* one byte, 0 or 1 */
    GD_DTYPE_FLOAT16 = 10,
    GD_DTYPE_DOUBLE = 11,
    GD_DTYPE_UINT32 = 12,
    GD_DTYPE_UINT64 = 13,
    /* Engine-internal: a sequence of tensors (ONNX sequence type) flowing between sequence
     * ops. rank 1, dims[0] = length, data = struct gd_tensor[length], each owned. Graph
     * inputs and outputs are never sequences. */
    GD_DTYPE_SEQUENCE = 100,
};

/* A dense row-major tensor. Helpers live in the engine's tensor.h (gd_tensor_alloc,
 * gd_tensor_release, ...); a caller building an input may also fill it by hand with
 * owns_data = 0 (the engine then never frees data). */
struct gd_tensor {
    enum gd_dtype dtype;
    int rank;                         /* 0 = scalar */
    int64_t dims[GD_TENSOR_MAX_RANK]; /* each >= 0 */
    int64_t numel;                    /* product of dims (1 for a scalar) */
    size_t nbytes;                    /* numel * element size */
    void *data;                       /* NULL only when nbytes == 0 */
    int owns_data;                    /* 1: released with gd_tensor_release */
};

/* Tensor helpers for API users (also in the engine's internal tensor.h).
 * gd_tensor_alloc: zeroed, owned tensor of that shape (GD_EINVAL/GD_ERANGE on bad or
 * oversized shapes, GD_ENOMEM). gd_tensor_release frees owned data and zeroes t. */
int gd_tensor_alloc(struct gd_tensor *t, enum gd_dtype dt, int rank, const int64_t *dims);
void gd_tensor_release(struct gd_tensor *t);
size_t gd_dtype_size(enum gd_dtype dt);      /* 0 for unknown */
const char *gd_dtype_name(enum gd_dtype dt); /* "float32", ...; never NULL */

typedef struct gd_engine_model gd_engine_model;
typedef struct gd_engine_session gd_engine_session;

/* Loads an ONNX model file. External initializer data is read from files in the model's
 * directory only. On success *out is owned by the caller (gd_engine_model_free). */
int gd_engine_load_file(const char *path, gd_engine_model **out, char *err, size_t errlen);
/* Same from memory (copied as needed; data may be freed after return). base_dir is the
 * directory for external data (NULL: external data is rejected). */
int gd_engine_load_memory(const void *data, size_t len, const char *base_dir, gd_engine_model **out,
                          char *err, size_t errlen);
void gd_engine_model_free(gd_engine_model *m); /* NULL is a no-op */

/* Description of a graph input or output. Pointers are owned by the model. */
struct gd_engine_io {
    const char *name;
    enum gd_dtype dtype;     /* GD_DTYPE_UNDEFINED if the model does not say */
    int rank;                /* -1 when unknown */
    const int64_t *dims;     /* rank entries; -1 for a symbolic or unknown dim */
    const char *const *syms; /* rank entries; symbolic name ("batch") or NULL */
};
int gd_engine_num_inputs(const gd_engine_model *m);
int gd_engine_num_outputs(const gd_engine_model *m);
/* i in range; returns 0 or GD_ERANGE. */
int gd_engine_input_info(const gd_engine_model *m, int i, struct gd_engine_io *out);
int gd_engine_output_info(const gd_engine_model *m, int i, struct gd_engine_io *out);
/* Model metadata: ir_version, opset of a domain ("" = ai.onnx; -1 if not imported). */
int64_t gd_engine_ir_version(const gd_engine_model *m);
int gd_engine_num_opsets(const gd_engine_model *m);
int gd_engine_opset_at(const gd_engine_model *m, int i, const char **domain, int64_t *version);
/* Nodes as in the file (topologically ordered); node i's domain and op type. */
int gd_engine_num_nodes(const gd_engine_model *m);
int gd_engine_node_op(const gd_engine_model *m, int i, const char **domain, const char **op);
/* Nodes left to execute after constant folding at load. */
int gd_engine_num_exec_nodes(const gd_engine_model *m);

struct gd_engine_options {
    int threads;             /* worker threads incl. the caller; 0 = 1 */
    size_t max_tensor_bytes; /* cap on any one output or scratch buffer; 0 = 16 GiB */
    /* cap on node executions in one run, those of If/Loop/Scan bodies included (nested
     * loops multiply); a run past it fails with GD_ELIMIT. 0 = GD_ENGINE_MAX_NODE_RUNS */
    uint64_t max_node_runs;
    /* time every node of every run (two clock reads per node): gd_engine_node_profile */
    int profile;
};
#define GD_ENGINE_MAX_NODE_RUNS ((uint64_t)1 << 26)
/* Creates a session (its own thread pool and buffers) over m, which must outlive it.
 * Fails with GD_ENOTSUP naming the first node whose op/opset has no kernel. */
int gd_engine_session_create(const gd_engine_model *m, const struct gd_engine_options *opts,
                             gd_engine_session **out, char *err, size_t errlen);
void gd_engine_session_free(gd_engine_session *s); /* NULL is a no-op */
/* Bytes of the session's static memory plan: one arena holding every intermediate whose
 * shape is known at load, placed by liveness (0 when nothing could be planned). */
size_t gd_engine_session_planned_bytes(const gd_engine_session *s);

/* Runs the graph. inputs[i] is bound to the graph input called names[i]; every graph
 * input without an initializer must be given, with the declared dtype and a shape
 * matching the declared static dims. Inputs are borrowed for the call only. */
int gd_engine_run(gd_engine_session *s, int n, const char *const *names,
                  const struct gd_tensor *inputs, char *err, size_t errlen);
/* Output i of the last successful run (graph output order), owned by the session and
 * valid until the next run or gd_engine_session_free; NULL if none. */
const struct gd_tensor *gd_engine_output(const gd_engine_session *s, int i);

/* With options.profile: node i (0 <= i < gd_engine_num_exec_nodes) of the executed graph,
 * its time summed over the runs so far and its output 0's shape in the last run. */
struct gd_engine_node_profile {
    const char *name, *domain, *op;
    uint64_t ns;   /* total over runs */
    uint64_t runs; /* runs that executed it */
    int rank;      /* output 0 in the last run; -1 if none */
    int64_t dims[GD_TENSOR_MAX_RANK];
};
int gd_engine_node_profile(const gd_engine_session *s, int i, struct gd_engine_node_profile *out);
void gd_engine_profile_reset(gd_engine_session *s); /* zeroes the times and run counts */

/* Decodes a serialized onnx.TensorProto (.pb test files) into out (owns its data; release
 * with gd_tensor_release). base_dir as for gd_engine_load_memory. If name is not NULL it
 * receives the tensor's name (gd_malloc'd, caller frees with gd_free) or NULL. */
int gd_engine_tensor_from_pb(const void *data, size_t len, const char *base_dir,
                             struct gd_tensor *out, char **name, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
