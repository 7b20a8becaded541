/* Elementwise unary math: Abs, Neg, Sign, Exp, Log, Sqrt, Reciprocal, Floor, Ceil, Round,
 * Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh, Erf, Not, BitwiseNot,
 * IsNaN, IsInf.
 *
 * Kernels are generated per dtype by EW_MAP1 (kernels/ew_gen.h); <tgmath.h> makes the
 * libm calls type-generic, so float32 uses expf & co. and float64 uses exp. float16 is
 * computed in float32. Round is round-half-to-even (rint in the default rounding mode),
 * as ONNX specifies. Integer Abs/Neg wrap on the most negative value, like numpy. */
#include <tgmath.h>

#include "engine/kernels/ew_gen.h"
#include "engine/op.h"
#include "engine/ops/registry.h"

#define U64(x) ((uint64_t)(x))

#define FLOAT_OP(NAME, EXPR)                                                                       \
    EW_MAP_FLOATS(NAME, EW_SAME, EXPR)                                                             \
    static const gd_op_range_fn NAME##_tab[EW_NDT] = {EW_TAB_FLOATS(NAME)};                        \
    static int NAME##_run(struct gd_op_ctx *ctx)                                                   \
    {                                                                                              \
        return gd_ew_unary_run(ctx, NAME##_tab, 0, NULL);                                          \
    }

FLOAT_OP(exp_, exp(x))
FLOAT_OP(log_, log(x))
FLOAT_OP(sqrt_, sqrt(x))
FLOAT_OP(recip, 1 / x)
FLOAT_OP(floor_, floor(x))
FLOAT_OP(ceil_, ceil(x))
FLOAT_OP(round_, rint(x))
FLOAT_OP(sin_, sin(x))
FLOAT_OP(cos_, cos(x))
FLOAT_OP(tan_, tan(x))
FLOAT_OP(asin_, asin(x))
FLOAT_OP(acos_, acos(x))
FLOAT_OP(atan_, atan(x))
FLOAT_OP(sinh_, sinh(x))
FLOAT_OP(cosh_, cosh(x))
FLOAT_OP(asinh_, asinh(x))
FLOAT_OP(acosh_, acosh(x))
FLOAT_OP(atanh_, atanh(x))
FLOAT_OP(erf_, erf(x))

/* Abs, Neg, Sign over every numeric dtype. */
EW_MAP_FLOATS(abs_, EW_SAME, fabs(x))
EW_SINT(EW_MAP_SAME, abs_, x < 0 ? 0 - U64(x) : U64(x))
EW_UINT(EW_MAP_SAME, abs_, x)
EW_MAP_FLOATS(neg_, EW_SAME, -x)
EW_SINT(EW_MAP_SAME, neg_, 0 - U64(x))
EW_MAP_FLOATS(sign_, EW_SAME, x > 0 ? 1 : x < 0 ? -1 : x) /* keeps 0, -0 and NaN */
EW_SINT(EW_MAP_SAME, sign_, (x > 0) - (x < 0))
EW_UINT(EW_MAP_SAME, sign_, x > 0)
static const gd_op_range_fn abs__tab[EW_NDT] = {EW_TAB_FLOATS(abs_) EW_INT(EW_TAB, abs_)};
static const gd_op_range_fn neg__tab[EW_NDT] = {EW_TAB_FLOATS(neg_) EW_SINT(EW_TAB, neg_)};
static const gd_op_range_fn sign__tab[EW_NDT] = {EW_TAB_FLOATS(sign_) EW_INT(EW_TAB, sign_)};
static int abs__run(struct gd_op_ctx *ctx)
{
    return gd_ew_unary_run(ctx, abs__tab, 0, NULL);
}
static int neg__run(struct gd_op_ctx *ctx)
{
    return gd_ew_unary_run(ctx, neg__tab, 0, NULL);
}
static int sign__run(struct gd_op_ctx *ctx)
{
    return gd_ew_unary_run(ctx, sign__tab, 0, NULL);
}

/* Not (bool) and BitwiseNot (integers). */
EW_MAP1(not_b8, gd_bool, gd_bool, int, EW_ID, EW_TOBOOL, !x)
EW_INT(EW_MAP_SAME, bnot, ~U64(x))
static const gd_op_range_fn not_tab[EW_NDT] = {[GD_DTYPE_BOOL] = not_b8};
static const gd_op_range_fn bnot_tab[EW_NDT] = {EW_INT(EW_TAB, bnot)};
static int not_run(struct gd_op_ctx *ctx)
{
    return gd_ew_unary_run(ctx, not_tab, 0, NULL);
}
static int bnot_run(struct gd_op_ctx *ctx)
{
    return gd_ew_unary_run(ctx, bnot_tab, 0, NULL);
}

/* IsNaN; IsInf with detect_negative (pa) / detect_positive (pb). */
EW_MAP_FLOATS(isnan_, EW_BOOL, isnan(x))
EW_MAP_FLOATS(isinf_, EW_BOOL, isinf(x) && ((x < 0 && pa != 0) || (x > 0 && pb != 0)))
static const gd_op_range_fn isnan__tab[EW_NDT] = {EW_TAB_FLOATS(isnan_)};
static const gd_op_range_fn isinf__tab[EW_NDT] = {EW_TAB_FLOATS(isinf_)};
static int isnan_run(struct gd_op_ctx *ctx)
{
    return gd_ew_unary_run(ctx, isnan__tab, 1, NULL);
}
static int isinf_run(struct gd_op_ctx *ctx)
{
    struct gd_ew_args p = {(double)gd_op_attr_int(ctx, "detect_negative", 1),
                           (double)gd_op_attr_int(ctx, "detect_positive", 1), 0};
    return gd_ew_unary_run(ctx, isinf__tab, 1, &p);
}

#define F GD_OP_F_INPLACE0
const struct gd_op_def gd_ops_unary[] = {
    {"", "Abs", 1, 0, abs__run, F},
    {"", "Neg", 1, 0, neg__run, F},
    {"", "Sign", 9, 0, sign__run, F},
    {"", "Exp", 1, 0, exp__run, F},
    {"", "Log", 1, 0, log__run, F},
    {"", "Sqrt", 1, 0, sqrt__run, F},
    {"", "Reciprocal", 1, 0, recip_run, F},
    {"", "Floor", 1, 0, floor__run, F},
    {"", "Ceil", 1, 0, ceil__run, F},
    {"", "Round", 11, 0, round__run, F},
    {"", "Sin", 7, 0, sin__run, F},
    {"", "Cos", 7, 0, cos__run, F},
    {"", "Tan", 7, 0, tan__run, F},
    {"", "Asin", 7, 0, asin__run, F},
    {"", "Acos", 7, 0, acos__run, F},
    {"", "Atan", 7, 0, atan__run, F},
    {"", "Sinh", 9, 0, sinh__run, F},
    {"", "Cosh", 9, 0, cosh__run, F},
    {"", "Asinh", 9, 0, asinh__run, F},
    {"", "Acosh", 9, 0, acosh__run, F},
    {"", "Atanh", 9, 0, atanh__run, F},
    {"", "Erf", 9, 0, erf__run, F},
    {"", "Not", 1, 0, not_run, F},
    {"", "BitwiseNot", 18, 0, bnot_run, F},
    {"", "IsNaN", 9, 0, isnan_run, 0},
    {"", "IsInf", 10, 0, isinf_run, 0},
    {0},
};
