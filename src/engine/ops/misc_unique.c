/* Unique (opset 11): the distinct elements (no axis: of the flattened input) or distinct
 * slices along `axis`, sorted ascending (lexicographically for slices) or in order of
 * first occurrence, with the optional int64 outputs indices (first occurrence),
 * inverse_indices and counts. Slices are ordered by a stable merge sort, so within a run
 * of equal slices the first is the first occurrence. NaN never equals anything (numpy
 * semantics would merge NaNs; models do not rely on either). */
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

struct uq {
    const struct gd_tensor *x;
    int64_t outer, N, inner;
};

/* Lexicographic comparison of slices a and b. */
static int slice_cmp(const struct uq *u, int64_t a, int64_t b)
{
    for (int64_t o = 0; o < u->outer; o++)
        for (int64_t i = 0; i < u->inner; i++) {
            int64_t ea = (o * u->N + a) * u->inner + i, eb = (o * u->N + b) * u->inner + i;
            int c;
            if (u->x->dtype == GD_DTYPE_STRING) {
                const char *sa = ((char *const *)u->x->data)[ea];
                const char *sb = ((char *const *)u->x->data)[eb];
                c = strcmp(sa ? sa : "", sb ? sb : "");
            } else if (gd_dtype_is_int(u->x->dtype) && u->x->dtype != GD_DTYPE_UINT64) {
                int64_t va = gd_tensor_get_i64(u->x, ea), vb = gd_tensor_get_i64(u->x, eb);
                c = (va > vb) - (va < vb);
            } else {
                double va = gd_tensor_get_f64(u->x, ea), vb = gd_tensor_get_f64(u->x, eb);
                c = (va > vb) - (va < vb);
                if (va != va || vb != vb)
                    c = va != va ? (vb != vb ? 0 : 1) : -1;
            }
            if (c)
                return c;
        }
    return 0;
}

/* Stable bottom-up merge sort of idx[0..n) by slice_cmp. */
static void merge_sort(const struct uq *u, int64_t *idx, int64_t *tmp, int64_t n)
{
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = slice_cmp(u, idx[j], idx[i]) < 0 ? idx[j++] : idx[i++];
            while (i < mid)
                tmp[k++] = idx[i++];
            while (j < hi)
                tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, (size_t)n * sizeof *idx);
    }
}

/* Writes the int64 output `out` (1-D, n values) when the graph wants it. */
static int emit_i64(struct gd_op_ctx *ctx, int out, const int64_t *v, int64_t n)
{
    if (gd_op_num_outputs(ctx) <= out)
        return 0;
    struct gd_tensor *t = gd_op_output(ctx, out, GD_DTYPE_INT64, 1, &n);
    if (!t)
        return GD_ENOMEM;
    if (n)
        memcpy(t->data, v, (size_t)n * sizeof *v);
    return 0;
}

static int unique_run(struct gd_op_ctx *ctx)
{
    int rc = 0, ax = -1;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    if (gd_op_attr_has(ctx, "axis") &&
        gd_axis_normalize(gd_op_attr_int(ctx, "axis", 0), x->rank, &ax))
        return gd_op_fail(ctx, GD_EINVAL, "axis out of range for rank %d", x->rank);
    struct uq u = {x, ax < 0 ? 1 : gd__ot_prod(x->dims, 0, ax), ax < 0 ? x->numel : x->dims[ax],
                   ax < 0 ? 1 : gd__ot_prod(x->dims, ax + 1, x->rank)};
    size_t sz = (size_t)(u.N ? u.N : 1) * sizeof(int64_t);
    int64_t *ord = gd_op_scratch(ctx, sz), *tmp = gd_op_scratch(ctx, sz);
    int64_t *grp = gd_op_scratch(ctx, sz), *first = gd_op_scratch(ctx, sz);
    int64_t *cnt = gd_op_scratch(ctx, sz), *remap = gd_op_scratch(ctx, sz);
    if (!ord || !tmp || !grp || !first || !cnt || !remap)
        return GD_ENOMEM;
    for (int64_t j = 0; j < u.N; j++)
        ord[j] = j;
    merge_sort(&u, ord, tmp, u.N);
    int64_t U = 0; /* group ids in sorted order */
    for (int64_t s = 0; s < u.N; s++) {
        if (s == 0 || slice_cmp(&u, ord[s - 1], ord[s]) != 0)
            first[U] = ord[s], cnt[U] = 0, U++;
        grp[ord[s]] = U - 1;
        cnt[U - 1]++;
    }
    for (int64_t g = 0; g < U; g++)
        remap[g] = g;
    if (!gd_op_attr_int(ctx, "sorted", 1)) { /* renumber groups by first occurrence */
        int64_t next = 0;
        for (int64_t g = 0; g < U; g++)
            remap[g] = -1;
        for (int64_t j = 0; j < u.N; j++)
            if (remap[grp[j]] < 0) {
                remap[grp[j]] = next;
                tmp[next++] = grp[j];
            }
        for (int64_t g = 0; g < U; g++) /* tmp[new] = old group: reorder first/cnt */
            ord[g] = first[tmp[g]];
        memcpy(first, ord, (size_t)U * sizeof *first);
        for (int64_t g = 0; g < U; g++)
            ord[g] = cnt[tmp[g]];
        memcpy(cnt, ord, (size_t)U * sizeof *cnt);
    }
    int64_t d[GD_TENSOR_MAX_RANK];
    memcpy(d, x->dims, sizeof d);
    d[ax < 0 ? 0 : ax] = U;
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, ax < 0 ? 1 : x->rank, d);
    if (!y)
        return GD_ENOMEM;
    size_t es = gd_dtype_size(x->dtype), blk = (size_t)u.inner * es;
    for (int64_t o = 0; o < u.outer && blk; o++)
        for (int64_t g = 0; g < U; g++)
            memcpy((char *)y->data + (o * U + g) * (int64_t)blk,
                   (const char *)x->data + (o * u.N + first[g]) * (int64_t)blk, blk);
    if ((rc = gd__ot_own_strings(ctx, y)))
        return rc;
    for (int64_t j = 0; j < u.N; j++)
        tmp[j] = remap[grp[j]];
    if ((rc = emit_i64(ctx, 1, first, U)) || (rc = emit_i64(ctx, 2, tmp, u.N)) ||
        (rc = emit_i64(ctx, 3, cnt, U)))
        return rc;
    return 0;
}

const struct gd_op_def gd_ops_unique[] = {
    {"", "Unique", 11, 0, unique_run, 0},
    {0},
};
