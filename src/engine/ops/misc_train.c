/* Optimizer update ops of the ai.onnx.preview.training domain (opset 1): Adagrad,
 * Momentum (standard and nesterov) and Adam, following the formulas of the ONNX spec.
 * Inputs are R (learning rate), T (update count), then n tensors each of X, G and the
 * optimizer state(s); outputs are the new X and new states. Computed in double, stored in
 * each tensor's dtype (float/double). */
#include <math.h>
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

enum { ADAGRAD, MOMENTUM, ADAM };

struct opt {
    int kind, nesterov;
    double r, t, decay, eps, norm, norm_post, alpha, beta;
};

/* One element update: x, g and states s[0..] in, new values out. */
static void step(const struct opt *o, double *x, double g, double *s)
{
    double gr = o->norm * *x + g;
    if (o->kind == ADAGRAD) {
        double r = o->r / (1 + o->t * o->decay);
        s[0] += gr * gr;
        *x -= r * gr / (sqrt(s[0]) + o->eps);
    } else if (o->kind == MOMENTUM) {
        double b = o->t > 0 ? o->beta : 1;
        s[0] = o->alpha * s[0] + b * gr;
        *x -= o->r * (o->nesterov ? gr + o->alpha * s[0] : s[0]);
    } else {
        s[0] = o->alpha * s[0] + (1 - o->alpha) * gr;
        s[1] = o->beta * s[1] + (1 - o->beta) * gr * gr;
        double ra =
            o->t > 0 ? o->r * sqrt(1 - pow(o->beta, o->t)) / (1 - pow(o->alpha, o->t)) : o->r;
        *x = (1 - o->norm_post) * (*x - ra * s[0] / (sqrt(s[1]) + o->eps));
    }
}

static int optimizer_run(struct gd_op_ctx *ctx, int kind)
{
    int rc = 0, ns = kind == ADAM ? 2 : 1, nin = gd_op_num_inputs(ctx) - 2;
    struct opt o = {.kind = kind};
    if (nin < 2 + ns || nin % (2 + ns))
        return gd_op_fail(ctx, GD_EINVAL, "expects R, T and %d groups of tensors", 2 + ns);
    if ((rc = gd__ot_scalar_f64(ctx, gd_op_input(ctx, 0), "R", &o.r)) ||
        (rc = gd__ot_scalar_f64(ctx, gd_op_input(ctx, 1), "T", &o.t)))
        return rc;
    int n = nin / (2 + ns);
    o.decay = gd_op_attr_float(ctx, "decay_factor", 0);
    o.eps = gd_op_attr_float(ctx, "epsilon", kind == ADAM ? 1e-6f : 1e-6f);
    o.norm = gd_op_attr_float(ctx, "norm_coefficient", 0);
    o.norm_post = gd_op_attr_float(ctx, "norm_coefficient_post", 0);
    o.alpha = gd_op_attr_float(ctx, "alpha", kind == ADAM ? 0.9f : 0);
    o.beta = gd_op_attr_float(ctx, "beta", kind == ADAM ? 0.999f : 0);
    o.nesterov = strcmp(gd_op_attr_string(ctx, "mode", "standard"), "nesterov") == 0;
    for (int k = 0; k < n; k++) {
        const struct gd_tensor *in[4] = {0};
        struct gd_tensor *out[3] = {0};
        for (int j = 0; j < 2 + ns; j++) {
            in[j] = gd_op_input(ctx, 2 + j * n + k);
            if (!in[j] || !gd_dtype_is_float(in[j]->dtype) || !gd_tensor_same_shape(in[j], in[0]))
                return gd_op_fail(ctx, GD_EINVAL, "tensor group %d: missing or shape mismatch", k);
        }
        for (int j = 0; j < 1 + ns; j++) /* outputs: X_new..., then each state's news */
            if (!(out[j] = gd_op_output_like(ctx, j * n + k, in[j == 0 ? 0 : 1 + j])))
                return GD_ENOMEM;
        for (int64_t e = 0; e < in[0]->numel; e++) {
            double x = gd_tensor_get_f64(in[0], e), s[2];
            for (int j = 0; j < ns; j++)
                s[j] = gd_tensor_get_f64(in[2 + j], e);
            step(&o, &x, gd_tensor_get_f64(in[1], e), s);
            gd_tensor_set_f64(out[0], e, x);
            for (int j = 0; j < ns; j++)
                gd_tensor_set_f64(out[1 + j], e, s[j]);
        }
    }
    return 0;
}

static int adagrad_run(struct gd_op_ctx *ctx)
{
    return optimizer_run(ctx, ADAGRAD);
}

static int momentum_run(struct gd_op_ctx *ctx)
{
    return optimizer_run(ctx, MOMENTUM);
}

static int adam_run(struct gd_op_ctx *ctx)
{
    return optimizer_run(ctx, ADAM);
}

const struct gd_op_def gd_ops_train[] = {
    {"ai.onnx.preview.training", "Adagrad", 1, 0, adagrad_run, 0},
    {"ai.onnx.preview.training", "Momentum", 1, 0, momentum_run, 0},
    {"ai.onnx.preview.training", "Adam", 1, 0, adam_run, 0},
    {0},
};
