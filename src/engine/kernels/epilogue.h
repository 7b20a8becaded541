/* Conv epilogue: what a fused convolution does to each output row right after computing
 * it, while the row is still in cache: y[i] = act(y[i] + bias + z[i]) (z, the residual of a
 * fused Add, may be NULL). The activations are those ONNX Runtime's FusedConv names
 * (Relu, Clip, LeakyRelu, Sigmoid, Tanh, HardSigmoid) plus Silu (x * sigmoid(x)) and Gelu
 * (erf form, what fuse.c finds after a MatMul).
 *
 * Threading: pure functions. Errors: none (parameters were checked by the caller). */
#ifndef GD_ENGINE_KERNELS_EPILOGUE_H
#define GD_ENGINE_KERNELS_EPILOGUE_H

#include <stdint.h>

enum gd_act {
    GD_ACT_NONE,
    GD_ACT_RELU,
    GD_ACT_CLIP,  /* a = min, b = max */
    GD_ACT_LEAKY, /* a = alpha */
    GD_ACT_SIGMOID,
    GD_ACT_TANH,
    GD_ACT_HARDSIGMOID, /* max(0, min(1, a * x + b)) */
    GD_ACT_SILU,
    GD_ACT_GELU, /* 0.5 x (1 + erf(x / sqrt 2)); float32 through kernels/vmath.h */
};

struct gd_act_params {
    enum gd_act act;
    float a, b;
};

/* Maps an activation name ("Relu", ...; NULL or "" = none) to params->act, reading its
 * parameters from p[0..n) (LeakyRelu: alpha; Clip: min, max; HardSigmoid: alpha, beta)
 * with the ONNX defaults when absent. Returns 0, or -1 for an unknown name or bad params. */
int gd_act_parse(const char *name, const float *p, int n, struct gd_act_params *params);

void gd_epilogue_f32(const struct gd_act_params *p, float *y, const float *z, int64_t n,
                     float bias);
/* The same with a bias per element (bias[i], or none when NULL): FusedMatMul's rows. */
void gd_epilogue_vbias_f32(const struct gd_act_params *p, float *y, const float *z, int64_t n,
                           const float *bias);
void gd_epilogue_f64(const struct gd_act_params *p, double *y, const double *z, int64_t n,
                     double bias);

#endif
