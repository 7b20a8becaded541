/* Einsum: a general tensor contraction by explicit index iteration.
 *
 * The equation's labels (a-z, A-Z, and one label per dim covered by "...") get ids; each
 * operand gets a stride per label (the sum of the strides of the dims carrying it, so a
 * repeated label walks a diagonal; 0 for a broadcast size-1 ellipsis dim). The output
 * is the explicit "->" part or, implicitly, the ellipsis dims followed by the labels seen
 * exactly once in alphabetical order. Every output element sums, over the remaining
 * labels, the product of the operands' elements, in double.
 *
 * This is the reference path: its cost is the product of all label sizes. It is bounded
 * (GD_EINSUM_MAX_WORK) so a hostile equation fails instead of spinning; typical model
 * einsums that are batched matmuls should be exported as MatMul. */
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"

#define EIN_MAX_LABELS (52 + GD_TENSOR_MAX_RANK)
#define EIN_MAX_OPS GD_BCAST_MAX_OPERANDS
#define GD_EINSUM_MAX_WORK ((int64_t)1 << 32)

struct ein {
    int nops, nlab_out, nsum, ell_rank;
    int lab[EIN_MAX_OPS][GD_TENSOR_MAX_RANK]; /* label id per dim of each operand */
    int64_t size[EIN_MAX_LABELS];             /* 0 = unused */
    int count[EIN_MAX_LABELS];
    int out[EIN_MAX_LABELS], sum[EIN_MAX_LABELS];
    int64_t st[EIN_MAX_OPS][EIN_MAX_LABELS];
};

static int label_id(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return 26 + c - 'A';
    return -1;
}

/* Parses one operand term [s, e) against tensor t. */
static int parse_term(struct gd_op_ctx *ctx, struct ein *E, int k, const char *s, const char *e,
                      const struct gd_tensor *t)
{
    int nl = 0, ell = -1, d = 0;
    for (const char *p = s; p < e; p++) {
        if (*p == '.') {
            if (ell >= 0 || e - p < 3 || strncmp(p, "...", 3) != 0)
                return gd_op_fail(ctx, GD_EINVAL, "bad ellipsis in equation");
            ell = nl, p += 2;
        } else if (label_id(*p) >= 0) {
            nl++;
        } else if (*p != ' ') {
            return gd_op_fail(ctx, GD_EINVAL, "bad character '%c' in equation", *p);
        }
    }
    int erank = t->rank - nl;
    if (erank < 0 || (ell < 0 && erank != 0))
        return gd_op_fail(ctx, GD_EINVAL, "term %d has %d labels for rank %d", k, nl, t->rank);
    if (erank > E->ell_rank)
        E->ell_rank = erank;
    for (const char *p = s; p < e; p++) {
        if (*p == '.') {
            for (int i = 0; i < erank; i++)
                E->lab[k][d++] = 52 + GD_TENSOR_MAX_RANK - erank + i; /* right-aligned */
            p += 2;
        } else if (label_id(*p) >= 0) {
            E->lab[k][d++] = label_id(*p);
        }
    }
    return 0;
}

/* Sizes and per-operand strides of every label; broadcasting only on ellipsis dims. */
static int bind_sizes(struct gd_op_ctx *ctx, struct ein *E, const struct gd_tensor *const *in)
{
    for (int k = 0; k < E->nops; k++) {
        int64_t s = 1;
        for (int d = in[k]->rank - 1; d >= 0; d--) {
            int l = E->lab[k][d];
            int64_t v = in[k]->dims[d];
            if (E->size[l] == 0 || (l >= 52 && E->size[l] == 1))
                E->size[l] = v ? v : -1; /* -1 marks an empty dim */
            else if (v != (E->size[l] < 0 ? 0 : E->size[l]) && !(l >= 52 && v == 1))
                return gd_op_fail(ctx, GD_EINVAL, "label size mismatch (%lld)", (long long)v);
            if (v != 1 || l < 52)
                E->st[k][l] += s;
            E->count[l]++;
            s *= v;
        }
    }
    /* an ellipsis dim that stayed 1 in one operand but is larger in another: stride 0 */
    return 0;
}

/* Output labels: explicit after "->", or implicit (ellipsis, then once-seen labels). */
static int parse_output(struct gd_op_ctx *ctx, struct ein *E, const char *arrow)
{
    int used[EIN_MAX_LABELS] = {0};
    E->nlab_out = 0;
    if (!arrow || E->ell_rank) {
        if (!arrow || strstr(arrow, "..."))
            for (int i = 0; i < E->ell_rank; i++)
                E->out[E->nlab_out++] = 52 + GD_TENSOR_MAX_RANK - E->ell_rank + i;
    }
    if (arrow) {
        for (const char *p = arrow + 2; *p; p++) {
            int l = label_id(*p);
            if (*p == '.' || *p == ' ')
                continue;
            if (l < 0 || !E->count[l] || used[l])
                return gd_op_fail(ctx, GD_EINVAL, "bad output label '%c'", *p);
            used[l] = 1;
            E->out[E->nlab_out++] = l;
        }
    } else {
        for (int l = 0; l < 52; l++)
            if (E->count[l] == 1)
                E->out[E->nlab_out++] = l;
    }
    for (int i = 0; i < E->nlab_out; i++)
        used[E->out[i]] = 1;
    E->nsum = 0;
    for (int l = 0; l < EIN_MAX_LABELS; l++)
        if (E->count[l] && !used[l])
            E->sum[E->nsum++] = l;
    if (E->nlab_out > GD_TENSOR_MAX_RANK)
        return gd_op_fail(ctx, GD_EINVAL, "output rank too large");
    return 0;
}

static int64_t lab_size(const struct ein *E, int l) { return E->size[l] < 0 ? 0 : E->size[l]; }

static void contract(const struct ein *E, const struct gd_tensor *const *in, struct gd_tensor *y)
{
    int64_t nsum = 1, idx[EIN_MAX_LABELS] = {0};
    for (int i = 0; i < E->nsum; i++)
        nsum *= lab_size(E, E->sum[i]);
    for (int64_t o = 0; o < y->numel; o++) {
        int64_t r = o, base[EIN_MAX_OPS] = {0};
        for (int i = E->nlab_out - 1; i >= 0; i--) {
            int l = E->out[i];
            int64_t v = r % lab_size(E, l);
            r /= lab_size(E, l);
            for (int k = 0; k < E->nops; k++)
                base[k] += v * E->st[k][l];
        }
        double acc = 0;
        for (int64_t s = 0; s < nsum; s++) {
            int64_t q = s;
            double prod = 1;
            for (int i = E->nsum - 1; i >= 0; i--) {
                idx[i] = q % lab_size(E, E->sum[i]);
                q /= lab_size(E, E->sum[i]);
            }
            for (int k = 0; k < E->nops; k++) {
                int64_t off = base[k];
                for (int i = 0; i < E->nsum; i++)
                    off += idx[i] * E->st[k][E->sum[i]];
                prod *= gd_tensor_get_f64(in[k], off);
            }
            acc += prod;
        }
        gd_tensor_set_f64(y, o, acc);
    }
}

static int einsum_run(struct gd_op_ctx *ctx)
{
    const char *eq = gd_op_attr_string(ctx, "equation", NULL);
    int n = gd_op_num_inputs(ctx), rc;
    if (!eq || n < 1 || n > EIN_MAX_OPS)
        return gd_op_fail(ctx, GD_EINVAL, "needs an equation and 1..%d inputs", EIN_MAX_OPS);
    struct ein E;
    memset(&E, 0, sizeof E);
    const struct gd_tensor *in[EIN_MAX_OPS];
    const char *arrow = strstr(eq, "->"), *end = arrow ? arrow : eq + strlen(eq), *s = eq;
    E.nops = n;
    for (int k = 0; k < n; k++) {
        const char *c = memchr(s, ',', (size_t)(end - s));
        if (!(in[k] = gd_op_input(ctx, k)) || (k < n - 1) != (c != NULL))
            return gd_op_fail(ctx, GD_EINVAL, "equation terms do not match %d inputs", n);
        if (!gd_dtype_is_float(in[k]->dtype) && !gd_dtype_is_int(in[k]->dtype))
            return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s not supported",
                              gd_dtype_name(in[k]->dtype));
        if (in[k]->dtype != in[0]->dtype)
            return gd_op_fail(ctx, GD_EINVAL, "input dtypes differ");
        if ((rc = parse_term(ctx, &E, k, s, c ? c : end, in[k])))
            return rc;
        s = c ? c + 1 : end;
    }
    if ((rc = bind_sizes(ctx, &E, in)) || (rc = parse_output(ctx, &E, arrow)))
        return rc;
    int64_t dims[GD_TENSOR_MAX_RANK], work = 1;
    for (int i = 0; i < E.nlab_out; i++)
        dims[i] = lab_size(&E, E.out[i]);
    for (int l = 0; l < EIN_MAX_LABELS; l++)
        if (E.count[l] && (work *= lab_size(&E, l) ? lab_size(&E, l) : 1) > GD_EINSUM_MAX_WORK)
            return gd_op_fail(ctx, GD_ENOTSUP, "einsum too large for the reference path");
    struct gd_tensor *y = gd_op_output(ctx, 0, in[0]->dtype, E.nlab_out, dims);
    if (!y)
        return GD_ENOMEM;
    contract(&E, in, y);
    return 0;
}

const struct gd_op_def gd_ops_matmul_einsum[] = {
    {"", "Einsum", 12, 0, einsum_run, 0},
    {0},
};
