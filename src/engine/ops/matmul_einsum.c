/* Einsum: a general tensor contraction by explicit index iteration.
 *
 * The equation's labels (a-z, A-Z, and one label per dim covered by "...") get ids; each
 * operand gets a stride per label (the sum of the strides of the dims carrying it, so a
 * repeated label walks a diagonal; 0 for a broadcast size-1 ellipsis dim). The output
 * is the explicit "->" part or, implicitly, the ellipsis dims followed by the labels seen
 * exactly once in alphabetical order. Every output element sums, over the remaining
 * labels, the product of the operands' elements, in double.
 *
 * That reference path costs the product of all label sizes and is bounded
 * (GD_EINSUM_MAX_WORK) so a hostile equation fails instead of spinning. Two float
 * operands without diagonals (the einsums transformers use: "bhqd,bhkd->bhqk", ...) run
 * as one batched MatMul instead (einsum_fast). */
#include <string.h>

#include "engine/op.h"
#include "engine/ops/matmul.h"
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

static int64_t lab_size(const struct ein *E, int l)
{
    return E->size[l] < 0 ? 0 : E->size[l];
}

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

/* ---- fast path: two float operands as one batched MatMul ----
 * Labels split into batch (A, B, out), contracted (A, B), M (A, out) and N (B, out).
 * A is gathered into [batch, M, K] order, B into [batch, K, N], one MatMul runs, and the
 * [batch, M, N] result is scattered into the output's label order. Equations with
 * diagonals, broadcast ellipsis dims or labels summed within one operand use the
 * reference path. */
enum { ROLE_NONE, ROLE_BATCH, ROLE_K, ROLE_M, ROLE_N };

/* Contiguous copy of the strided view (n labels in `order`, strides st[label]). */
static void gather(const struct ein *E, const int *order, int n, const int64_t *st, const void *src,
                   void *dst, size_t es, int to_view)
{
    int64_t idx[EIN_MAX_LABELS] = {0}, total = 1, off = 0;
    for (int i = 0; i < n; i++)
        total *= lab_size(E, order[i]);
    for (int64_t k = 0; k < total; k++) {
        if (to_view)
            memcpy((char *)dst + (size_t)off * es, (const char *)src + (size_t)k * es, es);
        else
            memcpy((char *)dst + (size_t)k * es, (const char *)src + (size_t)off * es, es);
        for (int i = n - 1; i >= 0; i--) {
            off += st[order[i]];
            if (++idx[i] < lab_size(E, order[i]))
                break;
            off -= st[order[i]] * lab_size(E, order[i]);
            idx[i] = 0;
        }
    }
}

/* Classifies labels; returns 0 when the fast path applies. */
static int fast_roles(const struct ein *E, const struct gd_tensor *const *in, int *role)
{
    if (E->nops != 2 || (in[0]->dtype != GD_DTYPE_FLOAT && in[0]->dtype != GD_DTYPE_DOUBLE))
        return -1;
    int in_out[EIN_MAX_LABELS] = {0}, cnt[2][EIN_MAX_LABELS] = {{0}};
    for (int i = 0; i < E->nlab_out; i++)
        in_out[E->out[i]] = 1;
    for (int k = 0; k < 2; k++)
        for (int d = 0; d < in[k]->rank; d++)
            if (++cnt[k][E->lab[k][d]] > 1 || in[k]->dims[d] != lab_size(E, E->lab[k][d]))
                return -1; /* diagonal or broadcast dim */
    for (int l = 0; l < EIN_MAX_LABELS; l++) {
        int a = cnt[0][l], b = cnt[1][l];
        role[l] = !a && !b    ? ROLE_NONE
                  : a && b    ? (in_out[l] ? ROLE_BATCH : ROLE_K)
                  : in_out[l] ? (a ? ROLE_M : ROLE_N)
                              : -1;
        if (role[l] < 0)
            return -1;
    }
    return 0;
}

/* Label orders for each role class, in first-seen order of the output then inputs. */
static int role_list(const struct ein *E, const int *role, int want, int *out)
{
    int n = 0, seen[EIN_MAX_LABELS] = {0};
    for (int i = 0; i < E->nlab_out; i++)
        if (role[E->out[i]] == want && !seen[E->out[i]])
            seen[E->out[i]] = 1, out[n++] = E->out[i];
    for (int l = 0; l < EIN_MAX_LABELS; l++)
        if (role[l] == want && !seen[l])
            seen[l] = 1, out[n++] = l;
    return n;
}

static int einsum_fast(struct gd_op_ctx *ctx, const struct ein *E,
                       const struct gd_tensor *const *in, struct gd_tensor *y)
{
    int role[EIN_MAX_LABELS], lb[EIN_MAX_LABELS], lk[EIN_MAX_LABELS], lm[EIN_MAX_LABELS],
        ln[EIN_MAX_LABELS], oa[EIN_MAX_LABELS], ob[EIN_MAX_LABELS], oc[EIN_MAX_LABELS];
    if (fast_roles(E, in, role))
        return 1;
    int nb = role_list(E, role, ROLE_BATCH, lb), nk = role_list(E, role, ROLE_K, lk);
    int nm = role_list(E, role, ROLE_M, lm), nn = role_list(E, role, ROLE_N, ln);
    int64_t B = 1, K = 1, M = 1, N = 1;
    for (int i = 0; i < nb; i++)
        B *= lab_size(E, lb[i]), oa[i] = ob[i] = oc[i] = lb[i];
    for (int i = 0; i < nm; i++)
        M *= lab_size(E, lm[i]), oa[nb + i] = oc[nb + i] = lm[i];
    for (int i = 0; i < nk; i++)
        K *= lab_size(E, lk[i]), oa[nb + nm + i] = ob[nb + i] = lk[i];
    for (int i = 0; i < nn; i++)
        N *= lab_size(E, ln[i]), ob[nb + nk + i] = oc[nb + nm + i] = ln[i];
    size_t es = gd_dtype_size(y->dtype);
    void *pa = gd_op_scratch(ctx, (size_t)(B * M * K + 1) * es);
    void *pb = gd_op_scratch(ctx, (size_t)(B * K * N + 1) * es);
    void *pc = gd_op_scratch(ctx, (size_t)(B * M * N + 1) * es);
    if (!pa || !pb || !pc)
        return GD_ENOMEM;
    gather(E, oa, nb + nm + nk, E->st[0], in[0]->data, pa, es, 0);
    gather(E, ob, nb + nk + nn, E->st[1], in[1]->data, pb, es, 0);
    struct gd_tensor ta = *in[0], tb = *in[1];
    ta.rank = tb.rank = 3;
    ta.dims[0] = tb.dims[0] = B;
    ta.dims[1] = M, ta.dims[2] = K, tb.dims[1] = K, tb.dims[2] = N;
    ta.data = pa, tb.data = pb;
    int rc = gd__matmul_into(ctx, &ta, &tb, pc);
    if (rc)
        return rc;
    /* output strides per label, then scatter [B, M, N] into them */
    int64_t ost[EIN_MAX_LABELS] = {0}, s = 1;
    for (int i = E->nlab_out - 1; i >= 0; i--) {
        ost[E->out[i]] = s;
        s *= lab_size(E, E->out[i]);
    }
    gather(E, oc, nb + nm + nn, ost, pc, y->data, es, 1);
    return 0;
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
    int rc2 = y->numel ? einsum_fast(ctx, &E, in, y) : 0;
    if (rc2 <= 0)
        return rc2;
    contract(&E, in, y);
    return 0;
}

const struct gd_op_def gd_ops_matmul_einsum[] = {
    {"", "Einsum", 12, 0, einsum_run, 0},
    {0},
};
