/* Control flow: If, Loop and Scan (opset 9+), which run subgraphs (GRAPH attributes loaded as child
 * models; names a body does not define resolve to the enclosing graphs' values, see loader.c). Loop
 * trip counts come from the model and so are untrusted: at most LOOP_MAX_ITERS iterations, then the
 * node fails with GD_ELIMIT instead of hanging. */
#include <string.h>

#include "core/alloc.h"
#include "engine/model.h"
#include "engine/op.h"

#define LOOP_MAX_ITERS (1 << 20)
#define CF_MAX_IO 64

static int if_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *c = gd_op_input(ctx, 0);
    if (!c || c->numel != 1 || c->dtype == GD_DTYPE_STRING)
        return gd_op_fail(ctx, GD_EINVAL, "cond must be a single boolean");
    int cond = gd_tensor_get_f64(c, 0) != 0;
    const struct gd_engine_model *g = gd__op_attr_graph(ctx, cond ? "then_branch" : "else_branch");
    if (!g)
        return gd_op_fail(ctx, GD_EINVAL, "missing %s", cond ? "then_branch" : "else_branch");
    int n = gd_engine_num_outputs(g);
    if (n != gd_op_num_outputs(ctx) || n > CF_MAX_IO)
        return gd_op_fail(ctx, GD_EINVAL, "branch has %d outputs, node %d", n,
                          gd_op_num_outputs(ctx));
    struct gd_tensor outs[CF_MAX_IO];
    memset(outs, 0, sizeof outs);
    int rc = gd__op_run_subgraph(ctx, g, 0, NULL, outs);
    for (int i = 0; !rc && i < n; i++)
        rc = gd__op_output_take(ctx, i, &outs[i]);
    for (int i = 0; i < n; i++)
        gd_tensor_release(&outs[i]);
    return rc;
}

/* Per-iteration values of one scan output, stacked along a new axis 0 at the end. */
struct stack {
    struct gd_tensor *items;
    int n, cap;
};

static int stack_push(struct stack *s, struct gd_tensor *t)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        struct gd_tensor *it = gd_realloc(s->items, sizeof *it * (size_t)cap);
        if (!it)
            return GD_ENOMEM;
        s->items = it;
        s->cap = cap;
    }
    s->items[s->n++] = *t;
    memset(t, 0, sizeof *t);
    return 0;
}

static void stack_free(struct stack *s)
{
    for (int i = 0; i < s->n; i++)
        gd_tensor_release(&s->items[i]);
    gd_free(s->items);
}

static int stack_emit(struct gd_op_ctx *ctx, int out, const struct stack *s)
{
    int64_t dims[GD_TENSOR_MAX_RANK] = {s->n};
    const struct gd_tensor *f = s->n ? &s->items[0] : NULL;
    if (f && f->rank + 1 > GD_TENSOR_MAX_RANK)
        return gd_op_fail(ctx, GD_ENOTSUP, "scan output rank too large");
    if (f)
        memcpy(dims + 1, f->dims, sizeof(int64_t) * (size_t)f->rank);
    if (f && f->dtype == GD_DTYPE_STRING)
        return gd_op_fail(ctx, GD_ENOTSUP, "string scan outputs");
    struct gd_tensor *y =
        gd_op_output(ctx, out, f ? f->dtype : GD_DTYPE_FLOAT, f ? f->rank + 1 : 1, dims);
    if (!y)
        return GD_ENOMEM;
    for (int i = 0; i < s->n; i++) {
        if (s->items[i].dtype != f->dtype || !gd_tensor_same_shape(&s->items[i], f))
            return gd_op_fail(ctx, GD_EINVAL, "scan output %d changes shape across iterations",
                              out);
        if (f->nbytes)
            memcpy((char *)y->data + (size_t)i * f->nbytes, s->items[i].data, f->nbytes);
    }
    return 0;
}

struct loop {
    int n_state, n_scan;
    struct gd_tensor state[CF_MAX_IO]; /* owned after the first iteration */
    struct stack scans[CF_MAX_IO];
};

/* One body call: inputs (iter, cond, state...), outputs (cond, state..., scans...). */
static int loop_step(struct gd_op_ctx *ctx, const struct gd_engine_model *g, struct loop *L,
                     int64_t iter, int *cond)
{
    struct gd_tensor it = {0}, c = {0}, outs[CF_MAX_IO];
    const struct gd_tensor *ins[CF_MAX_IO + 2];
    int64_t iv = iter;
    gd_bool cv = 1;
    gd_tensor_set_shape(&it, GD_DTYPE_INT64, 0, NULL);
    gd_tensor_set_shape(&c, GD_DTYPE_BOOL, 0, NULL);
    it.data = &iv;
    c.data = &cv;
    ins[0] = &it;
    ins[1] = &c;
    for (int k = 0; k < L->n_state; k++)
        ins[2 + k] = &L->state[k];
    memset(outs, 0, sizeof outs);
    int rc = gd__op_run_subgraph(ctx, g, 2 + L->n_state, ins, outs);
    if (rc)
        return rc;
    if (outs[0].numel != 1 || outs[0].dtype == GD_DTYPE_STRING)
        rc = gd_op_fail(ctx, GD_EINVAL, "body condition must be a single boolean");
    else
        *cond = gd_tensor_get_f64(&outs[0], 0) != 0;
    for (int k = 0; !rc && k < L->n_state; k++) {
        gd_tensor_release(&L->state[k]);
        L->state[k] = outs[1 + k];
        memset(&outs[1 + k], 0, sizeof outs[1 + k]);
    }
    for (int k = 0; !rc && k < L->n_scan; k++)
        if (stack_push(&L->scans[k], &outs[1 + L->n_state + k]))
            rc = gd_op_fail(ctx, GD_ENOMEM, "out of memory");
    for (int k = 0; k < 1 + L->n_state + L->n_scan; k++)
        gd_tensor_release(&outs[k]);
    return rc;
}

static int loop_run(struct gd_op_ctx *ctx)
{
    const struct gd_engine_model *g = gd__op_attr_graph(ctx, "body");
    const struct gd_tensor *M = gd_op_input(ctx, 0), *C = gd_op_input(ctx, 1);
    if (!g)
        return gd_op_fail(ctx, GD_EINVAL, "missing body");
    struct loop *L = gd_op_scratch(ctx, sizeof *L);
    if (!L)
        return GD_ENOMEM;
    L->n_state = gd_op_num_inputs(ctx) - 2;
    L->n_scan = gd_engine_num_outputs(g) - 1 - L->n_state;
    if (L->n_state < 0 || L->n_scan < 0 || L->n_state + L->n_scan != gd_op_num_outputs(ctx) ||
        gd_engine_num_outputs(g) > CF_MAX_IO)
        return gd_op_fail(ctx, GD_EINVAL, "body inputs/outputs do not match the node");
    if ((M && M->numel != 1) || (C && C->numel != 1))
        return gd_op_fail(ctx, GD_EINVAL, "M and cond must be scalars");
    int64_t max = M ? gd_tensor_get_i64(M, 0) : INT64_MAX;
    int cond = C ? gd_tensor_get_f64(C, 0) != 0 : 1, rc = 0;
    for (int k = 0; k < L->n_state && !rc; k++) {
        const struct gd_tensor *x = gd_op_input(ctx, 2 + k);
        if (!x || gd_tensor_copy(&L->state[k], x))
            rc = gd_op_fail(ctx, x ? GD_ENOMEM : GD_EINVAL, "loop-carried input %d", k);
    }
    for (int64_t i = 0; !rc && cond && i < max; i++) {
        if (i >= LOOP_MAX_ITERS)
            rc = gd_op_fail(ctx, GD_ELIMIT, "more than %d iterations", LOOP_MAX_ITERS);
        else
            rc = loop_step(ctx, g, L, i, &cond);
    }
    for (int k = 0; !rc && k < L->n_state; k++)
        rc = gd__op_output_take(ctx, k, &L->state[k]);
    for (int k = 0; !rc && k < L->n_scan; k++)
        rc = stack_emit(ctx, L->n_state + k, &L->scans[k]);
    for (int k = 0; k < L->n_state; k++)
        gd_tensor_release(&L->state[k]);
    for (int k = 0; k < L->n_scan; k++)
        stack_free(&L->scans[k]);
    return rc;
}

/* Copies slice `idx` of x along `axis` into y (rank-1), or (put) y into that slice of x. */
static void slice_copy(const struct gd_tensor *x, int axis, int64_t idx, void *y, int put)
{
    int64_t outer = 1, inner = (int64_t)gd_dtype_size(x->dtype);
    for (int d = 0; d < axis; d++)
        outer *= x->dims[d];
    for (int d = axis + 1; d < x->rank; d++)
        inner *= x->dims[d];
    for (int64_t o = 0; o < outer; o++) {
        char *xs = (char *)x->data + (size_t)((o * x->dims[axis] + idx) * inner);
        char *ys = (char *)y + (size_t)(o * inner);
        if (put)
            memcpy(xs, ys, (size_t)inner);
        else
            memcpy(ys, xs, (size_t)inner);
    }
}

struct scan {
    int n_state, n_in, n_out;
    int64_t len;
    int in_axis[CF_MAX_IO], in_rev[CF_MAX_IO], out_axis[CF_MAX_IO], out_rev[CF_MAX_IO];
    struct gd_tensor state[CF_MAX_IO], slice[CF_MAX_IO];
    struct stack outs[CF_MAX_IO];
};

static int scan_attrs(struct gd_op_ctx *ctx, struct scan *S)
{
    const int64_t *ia = NULL, *id = NULL, *oa = NULL, *od = NULL;
    int nia = gd_op_attr_ints(ctx, "scan_input_axes", &ia);
    int nid = gd_op_attr_ints(ctx, "scan_input_directions", &id);
    int noa = gd_op_attr_ints(ctx, "scan_output_axes", &oa);
    int nod = gd_op_attr_ints(ctx, "scan_output_directions", &od);
    for (int j = 0; j < S->n_in; j++) {
        const struct gd_tensor *x = gd_op_input(ctx, S->n_state + j);
        if (!x || x->rank < 1 || x->dtype == GD_DTYPE_STRING)
            return gd_op_fail(ctx, GD_EINVAL, "scan input %d must be a tensor of rank >= 1", j);
        if (gd_axis_normalize(nia == S->n_in ? ia[j] : 0, x->rank, &S->in_axis[j]))
            return gd_op_fail(ctx, GD_EINVAL, "scan_input_axes[%d] out of range", j);
        S->in_rev[j] = nid == S->n_in && id[j];
        int64_t l = x->dims[S->in_axis[j]];
        if (j > 0 && l != S->len)
            return gd_op_fail(ctx, GD_EINVAL, "scan inputs have different lengths");
        S->len = l;
        int64_t dims[GD_TENSOR_MAX_RANK];
        for (int d = 0, k = 0; d < x->rank; d++)
            if (d != S->in_axis[j])
                dims[k++] = x->dims[d];
        if (gd_tensor_alloc(&S->slice[j], x->dtype, x->rank - 1, dims))
            return gd_op_fail(ctx, GD_ENOMEM, "out of memory");
    }
    for (int k = 0; k < S->n_out; k++) {
        S->out_axis[k] = noa == S->n_out ? (int)oa[k] : 0;
        S->out_rev[k] = nod == S->n_out && od[k];
    }
    return 0;
}

static int scan_step(struct gd_op_ctx *ctx, const struct gd_engine_model *g, struct scan *S,
                     int64_t t)
{
    const struct gd_tensor *ins[2 * CF_MAX_IO];
    struct gd_tensor outs[CF_MAX_IO];
    for (int k = 0; k < S->n_state; k++)
        ins[k] = &S->state[k];
    for (int j = 0; j < S->n_in; j++) {
        const struct gd_tensor *x = gd_op_input(ctx, S->n_state + j);
        slice_copy(x, S->in_axis[j], S->in_rev[j] ? S->len - 1 - t : t, S->slice[j].data, 0);
        ins[S->n_state + j] = &S->slice[j];
    }
    memset(outs, 0, sizeof outs);
    int rc = gd__op_run_subgraph(ctx, g, S->n_state + S->n_in, ins, outs);
    for (int k = 0; !rc && k < S->n_state; k++) {
        gd_tensor_release(&S->state[k]);
        S->state[k] = outs[k];
        memset(&outs[k], 0, sizeof outs[k]);
    }
    for (int k = 0; !rc && k < S->n_out; k++)
        if (stack_push(&S->outs[k], &outs[S->n_state + k]))
            rc = gd_op_fail(ctx, GD_ENOMEM, "out of memory");
    for (int k = 0; k < S->n_state + S->n_out; k++)
        gd_tensor_release(&outs[k]);
    return rc;
}

/* Stacks per-iteration outputs along out_axis (reversed for direction 1). */
static int scan_emit(struct gd_op_ctx *ctx, struct scan *S, int k)
{
    const struct stack *st = &S->outs[k];
    if (st->n == 0 || S->out_axis[k] == 0) {
        if (S->out_rev[k])
            for (int i = 0; i < st->n / 2; i++) {
                struct gd_tensor tmp = st->items[i];
                st->items[i] = st->items[st->n - 1 - i];
                st->items[st->n - 1 - i] = tmp;
            }
        return stack_emit(ctx, S->n_state + k, st);
    }
    const struct gd_tensor *f = &st->items[0];
    int ax;
    if (gd_axis_normalize(S->out_axis[k], f->rank + 1, &ax) || f->rank + 1 > GD_TENSOR_MAX_RANK ||
        f->dtype == GD_DTYPE_STRING)
        return gd_op_fail(ctx, GD_EINVAL, "scan_output_axes[%d] out of range", k);
    int64_t dims[GD_TENSOR_MAX_RANK];
    for (int d = 0, j = 0; d < f->rank + 1; d++)
        dims[d] = d == ax ? st->n : f->dims[j++];
    struct gd_tensor *y = gd_op_output(ctx, S->n_state + k, f->dtype, f->rank + 1, dims);
    if (!y)
        return GD_ENOMEM;
    for (int i = 0; i < st->n; i++) {
        if (!gd_tensor_same_shape(&st->items[i], f) || st->items[i].dtype != f->dtype)
            return gd_op_fail(ctx, GD_EINVAL, "scan output %d changes shape", k);
        slice_copy(y, ax, S->out_rev[k] ? st->n - 1 - i : i, st->items[i].data, 1);
    }
    return 0;
}

static int scan_run(struct gd_op_ctx *ctx)
{
    const struct gd_engine_model *g = gd__op_attr_graph(ctx, "body");
    if (!g)
        return gd_op_fail(ctx, GD_EINVAL, "missing body");
    struct scan *S = gd_op_scratch(ctx, sizeof *S);
    if (!S)
        return GD_ENOMEM;
    S->n_in = (int)gd_op_attr_int(ctx, "num_scan_inputs", -1);
    S->n_state = gd_op_num_inputs(ctx) - S->n_in;
    S->n_out = gd_op_num_outputs(ctx) - S->n_state;
    if (S->n_in < 1 || S->n_state < 0 || S->n_out < 0 || S->n_state + S->n_in > CF_MAX_IO ||
        gd_op_num_outputs(ctx) > CF_MAX_IO || gd_engine_num_outputs(g) != gd_op_num_outputs(ctx))
        return gd_op_fail(ctx, GD_EINVAL, "num_scan_inputs does not match the node and body");
    int rc = scan_attrs(ctx, S);
    for (int k = 0; !rc && k < S->n_state; k++) {
        const struct gd_tensor *x = gd_op_input(ctx, k);
        if (!x || gd_tensor_copy(&S->state[k], x))
            rc = gd_op_fail(ctx, x ? GD_ENOMEM : GD_EINVAL, "state input %d", k);
    }
    if (!rc && S->len > LOOP_MAX_ITERS)
        rc = gd_op_fail(ctx, GD_ELIMIT, "more than %d iterations", LOOP_MAX_ITERS);
    for (int64_t t = 0; !rc && t < S->len; t++)
        rc = scan_step(ctx, g, S, t);
    for (int k = 0; !rc && k < S->n_state; k++)
        rc = gd__op_output_take(ctx, k, &S->state[k]);
    for (int k = 0; !rc && k < S->n_out; k++)
        rc = scan_emit(ctx, S, k);
    for (int k = 0; k < CF_MAX_IO; k++) {
        gd_tensor_release(&S->state[k]);
        gd_tensor_release(&S->slice[k]);
        stack_free(&S->outs[k]);
    }
    return rc;
}

const struct gd_op_def gd_ops_control[] = {
    {"", "If", 1, 0, if_run, 0},
    {"", "Loop", 1, 0, loop_run, 0},
    {"", "Scan", 9, 0, scan_run, 0}, /* Scan-8 (batch axis, sequence_lens) is not supported */
    {0},
};
