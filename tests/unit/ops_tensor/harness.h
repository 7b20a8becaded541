/* Test harness for single ONNX ops: builds a one-node model in memory with protobuf-c,
 * loads it through the public engine API and runs it, so each op is tested exactly as a
 * real model would drive it (opset dispatch, optional inputs, attribute parsing). */
#ifndef GD_TEST_OPS_TENSOR_HARNESS_H
#define GD_TEST_OPS_TENSOR_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/tensor.h"

/* One attribute: kind 'i' int, 'f' float, 's' string, 'I' ints, 'F' floats, 'S' strings. */
struct ot_attr {
    const char *name;
    char kind;
    int64_t i;
    float f;
    const char *s;
    const int64_t *iv;
    const float *fv;
    const char *const *ss;
    int n;
};
#define OT_I(nm, v)                                                                                \
    {                                                                                              \
        .name = (nm), .kind = 'i', .i = (v)                                                        \
    }
#define OT_F(nm, v)                                                                                \
    {                                                                                              \
        .name = (nm), .kind = 'f', .f = (v)                                                        \
    }
#define OT_S(nm, v)                                                                                \
    {                                                                                              \
        .name = (nm), .kind = 's', .s = (v)                                                        \
    }
#define OT_INTS(nm, ...)                                                                           \
    {                                                                                              \
        .name = (nm), .kind = 'I', .iv = (const int64_t[]){__VA_ARGS__},                           \
        .n = (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))                             \
    }

/* A borrowed-data tensor view (owns_data = 0). dtype UNDEFINED = absent optional input. */
struct gd_tensor ot_tensor(enum gd_dtype dt, int rank, const int64_t *dims, const void *data);
#define OT_DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define OT_ABSENT ((struct gd_tensor){0})

/* Runs op_type at `opset` on nin inputs with nattr attributes; fills nout outputs (deep
 * copies the caller releases with gd_tensor_release). Returns 0 or the engine's GD_E*
 * (err holds the message). */
int ot_run(const char *op, int opset, int nin, const struct gd_tensor *ins, int nattr,
           const struct ot_attr *attrs, int nout, struct gd_tensor *outs, char *err, size_t errlen);

#endif
