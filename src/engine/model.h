/* Internal representation of a loaded model: values, nodes in execution order, attributes,
 * constants. Built by loader.c from the protobuf, finished by graph.c (topological order,
 * liveness, constant folding), executed by exec.c. Immutable once loading returns, so any
 * number of sessions may share it. Strings and arrays live in the model's arena; constant
 * tensors are gd_malloc'd and listed in `owned` for release. */
#ifndef GD_ENGINE_MODEL_H
#define GD_ENGINE_MODEL_H

#include <stdint.h>

#include "core/arena.h"
#include "engine/op.h"
#include "engine/tensor.h"
#include "girder/engine.h"

/* Caps on what an untrusted model may declare. */
#define GD_MODEL_MAX_FILE ((size_t)2 << 30) /* protobuf's own 2 GiB limit */
#define GD_MODEL_MAX_NODES 1000000
#define GD_MODEL_MAX_VALUES 4000000
#define GD_MODEL_MAX_NODE_IO 4096
#define GD_MODEL_MAX_CONST_BYTES ((size_t)8 << 30)

struct gd_attr {
    const char *name;
    int type; /* onnx AttributeProto.AttributeType */
    int64_t i;
    float f;
    const char *s;
    int n; /* list length for ints / floats / strings */
    const int64_t *ints;
    const float *floats;
    const char *const *strings;
    const struct gd_tensor *t;
    const struct gd_engine_model *g; /* GRAPH attribute (If/Loop bodies), owned by the model */
    const void *pending;             /* loader only: the GraphProto still to convert */
};

/* Load-time state of a node (prepack.c): its constant float32 GEMM operand op(B), K x N,
 * packed once into the default SGEMM micro-kernel's nr-wide panels (kernels/sgemm.h).
 * Owned by the model, read-only after loading, shared by every session and thread. */
struct gd_prepack {
    int nr;
    int64_t k, n;
    const float *panels;
};

struct gd_node {
    const char *name, *op_type, *domain;
    int opset;
    int n_in, n_out;
    int *in, *out; /* value indices; -1 for an absent optional input/output */
    int n_implicit;
    int *implicit; /* values read by this node's subgraphs (outer scope): for order/liveness */
    int n_attr;
    struct gd_attr *attrs;
    const struct gd_op_def *def;   /* NULL: no kernel (the session refuses to start) */
    const struct gd_prepack *pack; /* NULL: none */
};

/* GD_VALUE_OUTER: a subgraph's reference to a value of an enclosing graph, outer_depth
 * levels up (1 = the graph of the node that owns this subgraph), index outer_idx there. */
enum gd_value_kind { GD_VALUE_INTERMEDIATE = 0, GD_VALUE_INPUT, GD_VALUE_CONST, GD_VALUE_OUTER };

struct gd_value {
    const char *name;
    enum gd_value_kind kind;
    int is_output;
    const struct gd_tensor *konst; /* GD_VALUE_CONST */
    /* declared type (from graph inputs/outputs/value_info) */
    enum gd_dtype dtype;
    int rank;      /* -1 unknown */
    int64_t *dims; /* -1 for symbolic/unknown */
    const char **syms;
    /* load-time shape with symbolic dims (shape_sym.h) where the rank is known, else NULL:
     * what graph fusion compares (two values with equal sdims have equal run-time shapes) */
    const int64_t *sdims;
    int producer;               /* node index, -1 for inputs/constants */
    int outer_depth, outer_idx; /* GD_VALUE_OUTER */
    int last_use;               /* last node index reading it; INT32_MAX for graph outputs */
};

struct gd_engine_model {
    struct gd_arena arena;
    int64_t ir_version;
    int n_opsets;
    const char **opset_domains;
    int64_t *opset_versions;
    int n_values;
    struct gd_value *values;
    int n_nodes;
    struct gd_node *nodes; /* execution (topological) order */
    int n_inputs, n_outputs;
    int *inputs, *outputs; /* value indices: inputs to feed, graph outputs */
    struct gd_engine_io *in_info, *out_info;
    int n_model_nodes;      /* nodes in the file, before constant folding */
    const char **model_ops; /* 2 per node: domain, op_type (for --info histograms) */
    struct gd_tensor **owned;
    int n_owned, cap_owned;
    struct gd_engine_model **children; /* subgraphs, freed with the model */
    int n_children, cap_children;
};

/* loader.c / tensor_pb.c */
struct Onnx__TensorProto;
/* Converts a TensorProto into t (owns its data). base_dir: external data root or NULL. */
int gd__tensor_from_proto(const struct Onnx__TensorProto *tp, const char *base_dir,
                          struct gd_tensor *t, char *err, size_t errlen);
/* Registers a heap tensor with the model (released by gd_engine_model_free). */
int gd__model_own(struct gd_engine_model *m, struct gd_tensor *t);

/* protobuf-c allocator over gd_malloc (loader.c). */
struct ProtobufCAllocator;
extern struct ProtobufCAllocator gd__pb_allocator;

/* shape_infer.c: static dtype/shape of intermediates where inputs are known. */
int gd__shape_infer(struct gd_engine_model *m);
/* shape_infer.c: a and b have the same dtype and rank and equal dims (numbers, or the same
 * symbol), so their run-time shapes are equal. */
int gd__same_shape(const struct gd_value *a, const struct gd_value *b);

/* graph.c: orders nodes, computes liveness, folds constants. */
int gd__graph_finish(struct gd_engine_model *m, char *err, size_t errlen);
/* fuse.c: Conv + BatchNorm / Add / activation chains into FusedConv nodes (GD_FUSE=0: off).
 * Returns the number of nodes absorbed, or GD_ENOMEM. */
int gd__graph_fuse(struct gd_engine_model *m);

/* prepack.c: packs the constant B operands of float32 MatMul / Gemm / FusedMatMul nodes
 * (GD_PREPACK=0 in the environment: off). Returns the number packed, or GD_ENOMEM. */
int gd__model_prepack(struct gd_engine_model *m);

/* exec.c: one node's execution over a slot array (slots[v] is value v's tensor). */
struct gd_pool;
struct gd_exec {
    const struct gd_engine_model *m;
    struct gd_tensor *slots;   /* n_values */
    struct gd_pool *pool;      /* may be NULL (single thread) */
    struct gd_bufcache *cache; /* may be NULL */
    char *err;
    size_t errlen;
    size_t max_bytes;             /* cap on one output / scratch allocation (0 = none) */
    const struct gd_exec *parent; /* exec of the enclosing graph when running a subgraph */
    uint64_t *runs_left; /* node executions the run may still make, shared with subgraphs */
    /* static memory plan (may be NULL): value v lives at arena + plan_off[v] when
     * plan_off[v] >= 0 and its runtime size fits plan_size[v] */
    unsigned char *arena;
    const int64_t *plan_off;
    const size_t *plan_size;
};
int gd__exec_node(struct gd_exec *e, const struct gd_node *node, int node_index);

/* plan.c: static offsets of fixed-size intermediates in one arena (-1 = dynamic). */
int gd__plan_memory(const struct gd_engine_model *m, int64_t **off, size_t **size, size_t *total);

/* Subgraphs (exec.c): the GRAPH attribute `name` of the running node, or NULL; run g with
 * n inputs bound by position; outs (g's n_outputs) receive owned results. */
const struct gd_engine_model *gd__op_attr_graph(const struct gd_op_ctx *ctx, const char *name);
int gd__op_run_subgraph(struct gd_op_ctx *ctx, const struct gd_engine_model *g, int n,
                        const struct gd_tensor *const *inputs, struct gd_tensor *outs);
/* Like gd_op_scratch (freed after the kernel returns) but taken from and returned to the
 * session's buffer cache, so a large buffer (im2col columns) is not page-faulted in again
 * on every run; NOT zeroed (the caller writes every byte it reads). 16-byte aligned. At
 * most two per kernel call (then gd_op_scratch). */
void *gd__op_scratch_reuse(struct gd_op_ctx *ctx, size_t bytes);
/* The running node's load-time packed operand, or NULL. */
const struct gd_prepack *gd__op_prepack(const struct gd_op_ctx *ctx);
/* Moves owned tensor t into output i (t is zeroed). Returns 0 or an error (recorded). */
int gd__op_output_take(struct gd_op_ctx *ctx, int i, struct gd_tensor *t);

/* Buffer cache (memory planner): buffers of dead values are kept for reuse. */
struct gd_bufcache;
struct gd_bufcache *gd__bufcache_new(void);
void gd__bufcache_free(struct gd_bufcache *c);
void *gd__bufcache_get(struct gd_bufcache *c, size_t bytes); /* zeroed */
/* The same without zeroing a reused buffer (*fresh = 1: newly allocated, zeroed). */
void *gd__bufcache_get_raw(struct gd_bufcache *c, size_t bytes, int *fresh);
void gd__bufcache_put(struct gd_bufcache *c, void *p, size_t bytes);
/* After a run: trims the cache to what the largest run needed (see bufcache.c). */
void gd__bufcache_end_run(struct gd_bufcache *c);
size_t gd__bufcache_bytes(const struct gd_bufcache *c); /* held for reuse now */
/* Releases a slot tensor into the cache (strings are freed). */
void gd__slot_release(struct gd_bufcache *c, struct gd_tensor *t);

/* pool.c: the engine thread pool. */
struct gd_pool *gd__pool_new(int threads);
void gd__pool_free(struct gd_pool *p);
int gd__pool_threads(const struct gd_pool *p);
void gd__pool_run(struct gd_pool *p, int64_t n, int64_t grain, gd_op_range_fn fn, void *ud);

/* Writes a formatted message into err (if not NULL) and returns rc. */
int gd__errf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
