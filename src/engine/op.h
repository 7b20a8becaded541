/* The op kernel interface: how an operator implementation sees one node at run time.
 *
 * An op family file (src/engine/ops/<family>.c) exports one table
 *     const struct gd_op_def gd_ops_<family>[] = { {"", "Relu", 6, 0, relu_run, 0}, ..., {0} };
 * listed in src/engine/ops/registry.c. The runtime picks, for a node of (domain, op_type)
 * in a model importing opset V for that domain, the entry with since_min <= V <= since_max.
 *
 * A kernel reads inputs and attributes through the context, asks the runtime for its
 * outputs with gd_op_output (the runtime's memory planner owns that memory), computes,
 * and returns 0 or a negative GD_E* code. On error it calls gd_op_fail, which records a
 * message naming the node: "node 'conv_12' (Conv): kernel_shape mismatch: ...".
 *
 * Threading: a context is used by one thread (the one running the node); the kernel may
 * fan work out with gd_op_parallel_for. Kernels must be reentrant (no mutable statics).
 * Untrusted input: every attribute and every shape-carrying input comes from the model
 * or the caller; kernels check ranges and never read or write out of bounds. */
#ifndef GD_ENGINE_OP_H
#define GD_ENGINE_OP_H

#include <stdarg.h>
#include <stdint.h>

#include "engine/tensor.h"

struct gd_op_ctx;
typedef int (*gd_op_run_fn)(struct gd_op_ctx *ctx);

enum gd_op_flags {
    /* Output 0 may share input 0's buffer when both have the same dtype and shape and the
     * runtime sees input 0 is not needed afterwards. The kernel must then tolerate
     * y == x (it reads element i before writing element i, as elementwise loops do). */
    GD_OP_F_INPLACE0 = 1u << 0,
    /* Engine-internal: the op may output GD_DTYPE_SEQUENCE values (sequence ops, Identity);
     * gd_op_output refuses that dtype to every other kernel. */
    GD_OP_F_SEQUENCE = 1u << 1,
    /* The kernel writes every element of every output it requests, so gd_op_output may
     * hand out memory that is not zero-filled (a reused buffer holds old values). */
    GD_OP_F_NOZERO = 1u << 2,
};

struct gd_op_def {
    const char *domain;  /* "" (== "ai.onnx") or e.g. "ai.onnx.ml", "com.microsoft" */
    const char *op_type; /* "Conv" */
    int since_min;       /* first opset version this entry implements */
    int since_max;       /* last one, inclusive; 0 = no upper bound */
    gd_op_run_fn run;
    unsigned flags; /* enum gd_op_flags */
};

/* ---- node identity ---- */
const char *gd_op_name(const struct gd_op_ctx *ctx); /* node name (may be "") */
const char *gd_op_type(const struct gd_op_ctx *ctx); /* op_type */
int gd_op_opset(const struct gd_op_ctx *ctx);        /* opset version of the node's domain */

/* ---- inputs ----
 * gd_op_num_inputs counts the node's declared inputs (including empty optional ones).
 * gd_op_input returns NULL for an absent optional input ("" name) and for i out of range.
 * Inputs are read-only and stay valid for the whole call. */
int gd_op_num_inputs(const struct gd_op_ctx *ctx);
const struct gd_tensor *gd_op_input(const struct gd_op_ctx *ctx, int i);

/* ---- outputs ----
 * gd_op_num_outputs counts declared outputs; gd_op_output_wanted(i) is 0 for an optional
 * output the graph left unnamed (computing it anyway is allowed, the runtime discards it).
 * gd_op_output allocates output i with that dtype and shape (zero-filled unless it reuses
 * an input in place or the op is flagged GD_OP_F_NOZERO), after checking the shape against the
 * engine's caps. Returns NULL on error with the message already recorded: the kernel then returns
 * GD_ENOMEM (or any negative code). Each output may be requested once. The tensor is owned by the
 * runtime. */
int gd_op_num_outputs(const struct gd_op_ctx *ctx);
int gd_op_output_wanted(const struct gd_op_ctx *ctx, int i);
struct gd_tensor *gd_op_output(struct gd_op_ctx *ctx, int i, enum gd_dtype dt, int rank,
                               const int64_t *dims);
/* Same as gd_op_output with the dtype and shape of `like`. */
struct gd_tensor *gd_op_output_like(struct gd_op_ctx *ctx, int i, const struct gd_tensor *like);

/* ---- attributes (with defaults) ----
 * Getters return the default when the attribute is absent. A present attribute of the
 * wrong type is treated as absent. Returned pointers stay valid for the whole call. */
int gd_op_attr_has(const struct gd_op_ctx *ctx, const char *name);
int64_t gd_op_attr_int(const struct gd_op_ctx *ctx, const char *name, int64_t def);
float gd_op_attr_float(const struct gd_op_ctx *ctx, const char *name, float def);
/* NUL-terminated; the attribute's byte length is strlen (embedded NULs are cut). */
const char *gd_op_attr_string(const struct gd_op_ctx *ctx, const char *name, const char *def);
/* List attributes: return the element count and set *vals, or -1 when absent. */
int gd_op_attr_ints(const struct gd_op_ctx *ctx, const char *name, const int64_t **vals);
int gd_op_attr_floats(const struct gd_op_ctx *ctx, const char *name, const float **vals);
int gd_op_attr_strings(const struct gd_op_ctx *ctx, const char *name, const char *const **vals);
/* Tensor attribute (e.g. Constant's value, ConstantOfShape's value) or NULL. */
const struct gd_tensor *gd_op_attr_tensor(const struct gd_op_ctx *ctx, const char *name);

/* ---- scratch memory and threads ----
 * gd_op_scratch returns zeroed, 64-byte aligned memory freed automatically after the
 * kernel returns; NULL on failure (message recorded, return GD_ENOMEM). */
void *gd_op_scratch(struct gd_op_ctx *ctx, size_t bytes);
/* Runs fn(ud, begin, end) over disjoint chunks covering [0, n) on the engine's thread
 * pool (the calling thread takes part) and returns when all are done. `grain` is the
 * smallest chunk worth a thread (0 = pick). fn must be thread-safe across chunks.
 * With one thread, or small n, fn(ud, 0, n) runs inline. Never fails. */
typedef void (*gd_op_range_fn)(void *ud, int64_t begin, int64_t end);
void gd_op_parallel_for(struct gd_op_ctx *ctx, int64_t n, int64_t grain, gd_op_range_fn fn,
                        void *ud);
int gd_op_num_threads(const struct gd_op_ctx *ctx);
/* The calling thread's index in the pool running the current job, in [0, threads): 0 for
 * the thread that runs the node. Lets a parallel_for body use a per-thread slice of one
 * scratch buffer. */
int gd_op_thread_slot(void);

/* ---- errors ----
 * Records "node '<name>' (<op>): <message>" for the caller and returns err, so a kernel
 * writes `return gd_op_fail(ctx, GD_EINVAL, "axis %lld out of range", (long long)axis);`.
 * Use GD_ENOTSUP for valid-but-unimplemented cases (dtype, mode), GD_EINVAL for
 * malformed input. */
int gd_op_fail(struct gd_op_ctx *ctx, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- registry ---- */
/* Finds the kernel for (domain, op_type) at `opset`; NULL if none. "ai.onnx" == "". */
const struct gd_op_def *gd_op_lookup(const char *domain, const char *op_type, int opset);
/* 1 when some entry exists for (domain, op_type) at any opset (for "unsupported opset"
 * versus "unknown op" messages). */
int gd_op_known(const char *domain, const char *op_type);

#endif
