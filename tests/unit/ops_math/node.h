/* Single-node test driver for the math op kernels: builds a one-node ONNX model in memory
 * (protobuf-c), loads it with gd_engine_load_memory and runs it through the public API, so
 * a test exercises the real opset dispatch, attribute parsing and output allocation.
 * Also small reference helpers for comparing results. */
#ifndef GD_TEST_OPS_MATH_NODE_H
#define GD_TEST_OPS_MATH_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/tensor.h"

/* Attribute: type 'i' int, 'f' float, 's' string, 'I' ints, 'F' floats. */
struct om_attr {
    const char *name;
    char type;
    int64_t i;
    float f;
    const char *s;
    const int64_t *ints;
    const float *floats;
    int n;
};
#define OM_INT(k, v) ((struct om_attr){.name = (k), .type = 'i', .i = (v)})
#define OM_FLOAT(k, v) ((struct om_attr){.name = (k), .type = 'f', .f = (v)})
#define OM_STR(k, v) ((struct om_attr){.name = (k), .type = 's', .s = (v)})
#define OM_INTS(k, n_, ...)                                                                        \
    ((struct om_attr){.name = (k), .type = 'I', .ints = (const int64_t[]){__VA_ARGS__}, .n = (n_)})

/* A tensor view over caller memory (owns_data = 0); dtype UNDEFINED marks an absent
 * optional input (its name in the node is ""). */
struct gd_tensor om_view(enum gd_dtype dt, int rank, const int64_t *dims, const void *data);
#define OM_SHAPE(...) ((const int64_t[]){__VA_ARGS__})
#define OM_F32(...) ((const float[]){__VA_ARGS__})
#define OM_F64(...) ((const double[]){__VA_ARGS__})
#define OM_I64(...) ((const int64_t[]){__VA_ARGS__})
#define OM_I32(...) ((const int32_t[]){__VA_ARGS__})
#define OM_U8(...) ((const uint8_t[]){__VA_ARGS__})

struct om_node {
    const char *op;
    int opset;
    int nin;
    const struct gd_tensor *in;
    int nattr;
    const struct om_attr *attr;
    int nout; /* outputs requested (named y0..) */
    int threads;
};

/* Runs the node; out[0..nout) receive deep copies (release with gd_tensor_release).
 * Returns 0 or the engine's error code, with the message in err. */
int om_run(const struct om_node *nd, struct gd_tensor *out, char *err, size_t errlen);
/* The same for an op of another domain (e.g. "com.microsoft", at version nd->opset). */
int om_run_in(const char *domain, const struct om_node *nd, struct gd_tensor *out, char *err,
              size_t errlen);

/* Largest |got - want| over n float32 elements after checking numel == n (else +inf). */
double om_maxdiff_f32(const struct gd_tensor *got, const float *want, int64_t n);
double om_maxdiff_f64(const struct gd_tensor *got, const double *want, int64_t n);

#endif
