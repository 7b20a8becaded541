/* Recurrent layers: RNN, GRU, LSTM (ONNX opsets 7 and 14: layout, directions,
 * sequence_lens, initial states, peepholes, clip, linear_before_reset, input_forget,
 * custom activations).
 *
 * Gate order in W/R/B follows the spec: GRU z, r, h; LSTM i, o, f, c; peepholes i, o, f.
 * All inputs are widened to double once; each time step computes, per batch row, the gate
 * pre-activations Xt W^T + Ht-1 R^T + Wb + Rb with plain dot products (recurrent layers
 * in ONNX test and export sizes are small; the cost is dominated by the sequential
 * dependency, not the products). A batch row whose sequence_lens is reached stops: its
 * Y entries stay 0 and Y_h / Y_c keep its last state. Reverse directions walk each row's
 * valid prefix backwards. */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "engine/op.h"
#include "engine/ops/registry.h"

enum rnn_kind { K_RNN, K_GRU, K_LSTM };
enum act {
    A_SIGMOID,
    A_TANH,
    A_RELU,
    A_AFFINE,
    A_LEAKY,
    A_THRESH,
    A_SCALEDTANH,
    A_HARDSIG,
    A_ELU,
    A_SOFTSIGN,
    A_SOFTPLUS
};

struct actfn {
    enum act f;
    double a, b;
};

struct rnn {
    enum rnn_kind kind;
    int dirs, gates, layout, lbr, input_forget;
    int64_t s, n, in, h; /* seq, batch, input size, hidden size */
    double clip;         /* <= 0: none */
    struct actfn act[2][3];
    const double *x, *w, *r, *b, *h0, *c0, *p;
    const int64_t *lens;
};

static double act_apply(const struct actfn *f, double v)
{
    switch (f->f) {
    case A_SIGMOID:
        return 1 / (1 + exp(-v));
    case A_TANH:
        return tanh(v);
    case A_RELU:
        return v > 0 ? v : 0;
    case A_AFFINE:
        return f->a * v + f->b;
    case A_LEAKY:
        return v >= 0 ? v : f->a * v;
    case A_THRESH:
        return v > f->a ? v : 0;
    case A_SCALEDTANH:
        return f->a * tanh(f->b * v);
    case A_HARDSIG:
        return fmax(0, fmin(1, f->a * v + f->b));
    case A_ELU:
        return v >= 0 ? v : f->a * (exp(v) - 1);
    case A_SOFTSIGN:
        return v / (1 + fabs(v));
    default:
        return log1p(exp(-fabs(v))) + fmax(v, 0);
    }
}

static int act_parse(const char *s, struct actfn *f, double alpha, double beta, int has_a,
                     int has_b)
{
    static const struct {
        const char *name;
        enum act f;
        double a, b;
    } tab[] = {{"Sigmoid", A_SIGMOID, 0, 0},
               {"Tanh", A_TANH, 0, 0},
               {"Relu", A_RELU, 0, 0},
               {"Affine", A_AFFINE, 1, 0},
               {"LeakyRelu", A_LEAKY, 0.01, 0},
               {"ThresholdedRelu", A_THRESH, 1, 0},
               {"ScaledTanh", A_SCALEDTANH, 1, 1},
               {"HardSigmoid", A_HARDSIG, 0.2, 0.5},
               {"Elu", A_ELU, 1, 0},
               {"Softsign", A_SOFTSIGN, 0, 0},
               {"Softplus", A_SOFTPLUS, 0, 0}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcasecmp(s, tab[i].name) == 0) {
            f->f = tab[i].f;
            f->a = has_a ? alpha : tab[i].a;
            f->b = has_b ? beta : tab[i].b;
            return 0;
        }
    return GD_ENOTSUP;
}

/* Reads the activations attribute (defaults per kind) for every direction. */
static int rnn_acts(struct gd_op_ctx *ctx, struct rnn *R)
{
    static const char *const defs[3][3] = {
        {"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
    int per = R->kind == K_RNN ? 1 : R->kind == K_GRU ? 2 : 3;
    const char *const *names;
    const float *al, *be;
    int nn = gd_op_attr_strings(ctx, "activations", &names);
    int na = gd_op_attr_floats(ctx, "activation_alpha", &al);
    int nb = gd_op_attr_floats(ctx, "activation_beta", &be);
    if (nn >= 0 && nn != per * R->dirs && !(nn == per && R->dirs == 2))
        return gd_op_fail(ctx, GD_EINVAL, "expected %d activations, got %d", per * R->dirs, nn);
    for (int d = 0; d < R->dirs; d++)
        for (int i = 0; i < per; i++) {
            int k = nn == per ? i : d * per + i;
            const char *s = nn >= 0 ? names[k] : defs[R->kind][i];
            if (act_parse(s, &R->act[d][i], k < na ? al[k] : 0, k < nb ? be[k] : 0, k < na, k < nb))
                return gd_op_fail(ctx, GD_ENOTSUP, "activation '%s' not supported", s);
        }
    return 0;
}

static double dot(const double *a, const double *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double clipv(const struct rnn *R, double v)
{
    return R->clip > 0 ? fmax(-R->clip, fmin(R->clip, v)) : v;
}

/* One step of direction d for one batch row: h (and c) updated in place; tmp holds
 * 2 * gates * H doubles. */
static void rnn_step(const struct rnn *R, int d, const double *x, double *h, double *c, double *tmp)
{
    int64_t H = R->h, G = R->gates * H;
    const double *W = R->w + d * G * R->in, *Rm = R->r + d * G * H;
    const double *wb = R->b ? R->b + d * 2 * G : NULL, *rb = wb ? wb + G : NULL;
    double *xw = tmp, *rh = tmp + G;
    for (int64_t j = 0; j < G; j++) {
        xw[j] = dot(x, W + j * R->in, R->in) + (wb ? wb[j] : 0);
        rh[j] = dot(h, Rm + j * H, H) + (rb ? rb[j] : 0);
    }
    const struct actfn *f = R->act[d];
    if (R->kind == K_RNN) {
        for (int64_t j = 0; j < H; j++)
            h[j] = act_apply(&f[0], clipv(R, xw[j] + rh[j]));
        return;
    }
    if (R->kind == K_GRU) {
        /* z in [0,H), r in [H,2H), h in [2H,3H); rh of the h gate is recomputed below
         * when the reset gate applies before the product. */
        double *z = xw, *hh = xw + 2 * H;
        for (int64_t j = 0; j < 2 * H; j++)
            xw[j] = act_apply(&f[0], clipv(R, xw[j] + rh[j]));
        for (int64_t j = 0; j < H; j++) {
            double rj = xw[H + j], hj;
            if (R->lbr) {
                hj = hh[j] + rj * rh[2 * H + j];
            } else {
                double s = rb ? rb[2 * H + j] : 0;
                for (int64_t i = 0; i < H; i++)
                    s += xw[H + i] * h[i] * Rm[(2 * H + j) * H + i];
                hj = hh[j] + s;
            }
            rh[j] = act_apply(&f[1], clipv(R, hj)); /* rh[0..H) reused as the candidate */
        }
        for (int64_t j = 0; j < H; j++)
            h[j] = (1 - z[j]) * rh[j] + z[j] * h[j];
        return;
    }
    const double *p = R->p ? R->p + d * 3 * H : NULL;
    for (int64_t j = 0; j < H; j++) {
        double pi = xw[j] + rh[j] + (p ? p[j] * c[j] : 0);
        double pf = xw[2 * H + j] + rh[2 * H + j] + (p ? p[2 * H + j] * c[j] : 0);
        double it = act_apply(&f[0], clipv(R, pi));
        double ft = R->input_forget ? 1 - it : act_apply(&f[0], clipv(R, pf));
        double ct = act_apply(&f[1], clipv(R, xw[3 * H + j] + rh[3 * H + j]));
        c[j] = ft * c[j] + it * ct;
        double ot = act_apply(&f[0], clipv(R, xw[H + j] + rh[H + j] + (p ? p[H + j] * c[j] : 0)));
        h[j] = ot * act_apply(&f[2], c[j]);
    }
}

/* Widened copy of an input (NULL when absent); checks its element count. */
static int widen(struct gd_op_ctx *ctx, int i, int64_t want, const double **out)
{
    const struct gd_tensor *t = gd_op_input(ctx, i);
    *out = NULL;
    if (!t)
        return 0;
    if (!gd_dtype_is_float(t->dtype))
        return gd_op_fail(ctx, GD_ENOTSUP, "input %d dtype %s not supported", i,
                          gd_dtype_name(t->dtype));
    if (t->numel != want)
        return gd_op_fail(ctx, GD_EINVAL, "input %d has %lld elements, expected %lld", i,
                          (long long)t->numel, (long long)want);
    double *d = gd_op_scratch(ctx, (size_t)(want ? want : 1) * sizeof(double));
    if (!d)
        return GD_ENOMEM;
    for (int64_t k = 0; k < want; k++)
        d[k] = gd_tensor_get_f64(t, k);
    *out = d;
    return 0;
}

/* Reads shapes, attributes and inputs of the node into R. */
static int rnn_setup(struct gd_op_ctx *ctx, struct rnn *R)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0), *w = gd_op_input(ctx, 1);
    if (!x || !w || x->rank != 3 || w->rank != 3)
        return gd_op_fail(ctx, GD_EINVAL, "X and W must be 3-d");
    const char *dir = gd_op_attr_string(ctx, "direction", "forward");
    R->dirs = strcmp(dir, "bidirectional") == 0 ? 2 : 1;
    if (R->dirs == 1 && strcmp(dir, "forward") && strcmp(dir, "reverse"))
        return gd_op_fail(ctx, GD_EINVAL, "bad direction '%s'", dir);
    R->layout = gd_op_opset(ctx) >= 14 ? (int)gd_op_attr_int(ctx, "layout", 0) : 0;
    R->s = x->dims[R->layout ? 1 : 0];
    R->n = x->dims[R->layout ? 0 : 1];
    R->in = x->dims[2];
    R->h = gd_op_attr_int(ctx, "hidden_size", w->dims[1] / R->gates);
    R->clip = gd_op_attr_has(ctx, "clip") ? gd_op_attr_float(ctx, "clip", 0) : 0;
    R->lbr = gd_op_attr_int(ctx, "linear_before_reset", 0) != 0;
    R->input_forget = gd_op_attr_int(ctx, "input_forget", 0) != 0;
    int64_t G = R->gates * R->h, D = R->dirs, N = R->n, H = R->h;
    if (H < 1 || H > (1 << 20) || w->dims[0] != D || w->dims[1] != G || w->dims[2] != R->in)
        return gd_op_fail(ctx, GD_EINVAL, "W shape does not match hidden_size/direction");
    int rc;
    if ((rc = widen(ctx, 0, x->numel, &R->x)) || (rc = widen(ctx, 1, D * G * R->in, &R->w)) ||
        (rc = widen(ctx, 2, D * G * H, &R->r)) || (rc = widen(ctx, 3, D * 2 * G, &R->b)) ||
        (rc = widen(ctx, 5, D * N * H, &R->h0)) ||
        (R->kind == K_LSTM &&
         ((rc = widen(ctx, 6, D * N * H, &R->c0)) || (rc = widen(ctx, 7, D * 3 * H, &R->p)))))
        return rc;
    if (!R->r)
        return gd_op_fail(ctx, GD_EINVAL, "missing R");
    const struct gd_tensor *sl = gd_op_input(ctx, 4);
    if (sl) {
        int64_t *l = gd_op_scratch(ctx, (size_t)(N ? N : 1) * sizeof(int64_t));
        if (!l)
            return GD_ENOMEM;
        if (gd_tensor_to_i64s(sl, l, N) != N)
            return gd_op_fail(ctx, GD_EINVAL, "sequence_lens must have %lld values", (long long)N);
        for (int64_t i = 0; i < N; i++)
            if (l[i] < 0 || l[i] > R->s)
                return gd_op_fail(ctx, GD_EINVAL, "sequence_lens[%lld] out of range", (long long)i);
        R->lens = l;
    }
    return rnn_acts(ctx, R);
}

/* Allocates output k (if wanted) with dims built for the layout; NULL when not wanted. */
static int rnn_out(struct gd_op_ctx *ctx, int k, const struct rnn *R, enum gd_dtype dt,
                   struct gd_tensor **out)
{
    *out = NULL;
    if (k >= gd_op_num_outputs(ctx) || !gd_op_output_wanted(ctx, k))
        return 0;
    int64_t dims[4];
    int rank = k == 0 ? 4 : 3;
    if (k == 0 && !R->layout)
        dims[0] = R->s, dims[1] = R->dirs, dims[2] = R->n, dims[3] = R->h;
    else if (k == 0)
        dims[0] = R->n, dims[1] = R->s, dims[2] = R->dirs, dims[3] = R->h;
    else if (!R->layout)
        dims[0] = R->dirs, dims[1] = R->n, dims[2] = R->h;
    else
        dims[0] = R->n, dims[1] = R->dirs, dims[2] = R->h;
    return (*out = gd_op_output(ctx, k, dt, rank, dims)) ? 0 : GD_ENOMEM;
}

static int rnn_run(struct gd_op_ctx *ctx, enum rnn_kind kind)
{
    struct rnn R = {.kind = kind, .gates = kind == K_RNN ? 1 : kind == K_GRU ? 3 : 4};
    struct gd_tensor *y, *yh, *yc = NULL;
    int rc;
    if ((rc = rnn_setup(ctx, &R)))
        return rc;
    enum gd_dtype dt = gd_op_input(ctx, 0)->dtype;
    if ((rc = rnn_out(ctx, 0, &R, dt, &y)) || (rc = rnn_out(ctx, 1, &R, dt, &yh)) ||
        (kind == K_LSTM && (rc = rnn_out(ctx, 2, &R, dt, &yc))))
        return rc;
    int64_t H = R.h, N = R.n, S = R.s;
    double *st = gd_op_scratch(ctx, (size_t)(2 * H + 2 * R.gates * H) * sizeof(double));
    if (!st)
        return GD_ENOMEM;
    double *h = st, *c = st + H, *tmp = st + 2 * H;
    for (int d = 0; d < R.dirs; d++) {
        int rev = d == 1 || strcmp(gd_op_attr_string(ctx, "direction", ""), "reverse") == 0;
        for (int64_t b = 0; b < N; b++) {
            int64_t sidx = R.layout ? (b * R.dirs + d) * H : (d * N + b) * H,
                    len = R.lens ? R.lens[b] : S;
            for (int64_t j = 0; j < H; j++) {
                h[j] = R.h0 ? R.h0[sidx + j] : 0;
                c[j] = R.c0 ? R.c0[sidx + j] : 0;
            }
            for (int64_t k = 0; k < len; k++) {
                int64_t t = rev ? len - 1 - k : k;
                const double *x = R.x + (R.layout ? (b * S + t) : (t * N + b)) * R.in;
                rnn_step(&R, d, x, h, c, tmp);
                for (int64_t j = 0; y && j < H; j++)
                    gd_tensor_set_f64(y,
                                      (R.layout ? ((b * S + t) * R.dirs + d) * H
                                                : ((t * R.dirs + d) * N + b) * H) +
                                          j,
                                      h[j]);
            }
            for (int64_t j = 0; j < H; j++) {
                if (yh)
                    gd_tensor_set_f64(yh, sidx + j, h[j]);
                if (yc)
                    gd_tensor_set_f64(yc, sidx + j, c[j]);
            }
        }
    }
    return 0;
}

static int rnn_op(struct gd_op_ctx *ctx)
{
    return rnn_run(ctx, K_RNN);
}
static int gru_op(struct gd_op_ctx *ctx)
{
    return rnn_run(ctx, K_GRU);
}
static int lstm_op(struct gd_op_ctx *ctx)
{
    return rnn_run(ctx, K_LSTM);
}

const struct gd_op_def gd_ops_matmul_rnn[] = {
    {"", "RNN", 7, 0, rnn_op, 0},
    {"", "GRU", 7, 0, gru_op, 0},
    {"", "LSTM", 7, 0, lstm_op, 0},
    {0},
};
