/* Activations: Relu, LeakyRelu, PRelu, Elu, Selu, Celu, Sigmoid, HardSigmoid, HardSwish,
 * Softplus, Softsign, Tanh, ThresholdedRelu, Mish, Gelu, Shrink. Clip is in
 * activation_clip.c, Dropout in activation_dropout.c.
 *
 * Attribute defaults follow the ONNX operator specs; parameters travel to the generated
 * kernels as pa/pb/pc (kernels/ew_gen.h). Softplus uses the overflow-free form
 * max(x,0) + log1p(exp(-|x|)). */
#include <string.h>
#include <tgmath.h>

#include "engine/kernels/ew_gen.h"
#include "engine/op.h"
#include "engine/ops/binary.h"
#include "engine/ops/registry.h"

#define ACT(NAME, EXPR)                                                                            \
    EW_MAP_FLOATS(NAME, EW_SAME, EXPR)                                                             \
    static const gd_op_range_fn NAME##_tab[EW_NDT] = {EW_TAB_FLOATS(NAME)};

ACT(sigmoid, 1 / (1 + exp(-x)))
ACT(tanh_, tanh(x))
ACT(leaky, x >= 0 ? x : pa * x)
ACT(elu, x >= 0 ? x : pa * expm1(x))
ACT(selu, x > 0 ? pb * x : pb * (pa * exp(x) - pa))
ACT(celu, (x > 0 ? x : 0) + (x < 0 ? pa * expm1(x / pa) : 0))
ACT(hsig, fmax(c0, fmin(c1, pa *x + pb)))
ACT(hswish, x *fmax(c0, fmin(c1, pa *x + pb)))
ACT(softplus, fmax(x, c0) + log1p(exp(-fabs(x))))
ACT(softsign, x / (1 + fabs(x)))
ACT(thrrelu, x > pa ? x : 0)
ACT(mish, x *tanh(fmax(x, c0) + log1p(exp(-fabs(x)))))
ACT(gelu, x / 2 * (1 + erf(x * pa)))
ACT(gelu_tanh, x / 2 * (1 + tanh(pa * (x + pb * x * x * x))))
ACT(shrink, x<-pb ? x + pa : x> pb ? x - pa : 0)

/* Relu also takes signed integers (opset 14). */
EW_MAP_FLOATS(relu, EW_SAME, x > 0 ? x : 0)
EW_SINT(EW_MAP_SAME, relu, x > 0 ? x : 0)
static const gd_op_range_fn relu_tab[EW_NDT] = {EW_TAB_FLOATS(relu) EW_SINT(EW_TAB, relu)};

static int act_run(struct gd_op_ctx *ctx, const gd_op_range_fn *tab, double a, double b)
{
    struct gd_ew_args p = {a, b, 0};
    return gd_ew_unary_run(ctx, tab, 0, &p);
}

#define A(name, def) ((double)gd_op_attr_float(ctx, name, def))
static int relu_run(struct gd_op_ctx *ctx)
{
    return act_run(ctx, relu_tab, 0, 0);
}
static int sigmoid_run(struct gd_op_ctx *ctx)
{
    return act_run(ctx, sigmoid_tab, 0, 0);
}
static int tanh_run(struct gd_op_ctx *ctx)
{
    return act_run(ctx, tanh__tab, 0, 0);
}
static int leaky_run(struct gd_op_ctx *ctx)
{
    return act_run(ctx, leaky_tab, A("alpha", 0.01f), 0);
}
static int elu_run(struct gd_op_ctx *ctx)
{
    return act_run(ctx, elu_tab, A("alpha", 1.0f), 0);
}
static int selu_run(struct gd_op_ctx *ctx)
{
    return act_run(ctx, selu_tab, A("alpha", 1.67326319217681884765625f),
                   A("gamma", 1.05070102214813232421875f));
}
static int celu_run(struct gd_op_ctx *ctx)
{
    return act_run(ctx, celu_tab, A("alpha", 1.0f), 0);
}
static int hsig_run(struct gd_op_ctx *ctx)
{
    return act_run(ctx, hsig_tab, A("alpha", 0.2f), A("beta", 0.5f));
}
static int hswish_run(struct gd_op_ctx *ctx)
{
    return act_run(ctx, hswish_tab, 1.0 / 6, 0.5);
}
static int softplus_run(struct gd_op_ctx *ctx)
{
    return act_run(ctx, softplus_tab, 0, 0);
}
static int softsign_run(struct gd_op_ctx *ctx)
{
    return act_run(ctx, softsign_tab, 0, 0);
}
static int thrrelu_run(struct gd_op_ctx *ctx)
{
    return act_run(ctx, thrrelu_tab, A("alpha", 1.0f), 0);
}
static int mish_run(struct gd_op_ctx *ctx)
{
    return act_run(ctx, mish_tab, 0, 0);
}
static int shrink_run(struct gd_op_ctx *ctx)
{
    return act_run(ctx, shrink_tab, A("bias", 0.0f), A("lambd", 0.5f));
}
static int gelu_run(struct gd_op_ctx *ctx)
{
    const char *approx = gd_op_attr_string(ctx, "approximate", "none");
    if (strcmp(approx, "tanh") == 0)
        return act_run(ctx, gelu_tanh_tab, 0.79788456080286535588 /* sqrt(2/pi) */, 0.044715);
    if (strcmp(approx, "none") != 0)
        return gd_op_fail(ctx, GD_EINVAL, "approximate must be none or tanh, not '%s'", approx);
    return act_run(ctx, gelu_tab, 0.70710678118654752440 /* 1/sqrt(2) */, 0);
}

/* PRelu: y = x < 0 ? slope * x : x, slope broadcast onto x (unidirectional). */
EW_FLT(EW_ROW_SAME, prelu, EW_SAME, a < 0 ? b * a : a)
EW_SINT(EW_ROW_SAME, prelu, EW_SAME, a < 0 ? b * a : a)
EW_ROW_F16(prelu, EW_SAME, a < 0 ? b * a : a)
static const gd_ew_row_fn prelu_tab[EW_NDT] = {
    EW_FLT(EW_TAB, prelu) EW_SINT(EW_TAB, prelu)[GD_DTYPE_FLOAT16] = prelu_f16};
/* Before opset 7 a 1-d slope of C elements applies per channel (axis 1), as PyTorch. */
static int prelu_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0), *slope = gd_op_input(ctx, 1);
    struct gd_tensor view;
    if (gd_op_opset(ctx) < 7 && x && slope && slope->rank == 1 && x->rank >= 2 &&
        slope->dims[0] == x->dims[1])
        slope = gd__bin_legacy_view(ctx, x, slope, 1, &view);
    return gd__bin_apply(ctx, prelu_tab, 0, x, slope, NULL);
}

#define F GD_OP_F_INPLACE0
const struct gd_op_def gd_ops_activation[] = {
    {"", "Relu", 1, 0, relu_run, F},
    {"", "Sigmoid", 1, 0, sigmoid_run, F},
    {"", "Tanh", 1, 0, tanh_run, F},
    {"", "LeakyRelu", 1, 0, leaky_run, F},
    {"", "Elu", 1, 0, elu_run, F},
    {"", "Selu", 1, 0, selu_run, F},
    {"", "Celu", 12, 0, celu_run, F},
    {"", "HardSigmoid", 1, 0, hsig_run, F},
    {"", "HardSwish", 14, 0, hswish_run, F},
    {"", "Softplus", 1, 0, softplus_run, F},
    {"", "Softsign", 1, 0, softsign_run, F},
    {"", "ThresholdedRelu", 10, 0, thrrelu_run, F},
    {"", "Mish", 18, 0, mish_run, F},
    {"", "Gelu", 20, 0, gelu_run, F},
    {"", "Shrink", 9, 0, shrink_run, F},
    {"", "PRelu", 6, 0, prelu_run, F},
    {0},
};
