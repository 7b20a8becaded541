/* Sequence ops over the engine-internal GD_DTYPE_SEQUENCE values (a rank-1 tensor whose
 * elements are owned struct gd_tensor): SequenceEmpty, SequenceConstruct, SequenceInsert,
 * SequenceAt, SequenceErase, SequenceLength, ConcatFromSequence, SplitToSequence.
 * Sequences live only between ops: graph inputs/outputs of sequence type are rejected at
 * load. Every element is a deep copy, so sequences never alias other values. */
#include <string.h>

#include "core/alloc.h"
#include "engine/op.h"

#define SEQ_MAX_LEN (1 << 20)

static struct gd_tensor *seq_out(struct gd_op_ctx *ctx, int64_t n)
{
    if (n > SEQ_MAX_LEN) {
        gd_op_fail(ctx, GD_ELIMIT, "sequence longer than %d", SEQ_MAX_LEN);
        return NULL;
    }
    return gd_op_output(ctx, 0, GD_DTYPE_SEQUENCE, 1, &n);
}

static const struct gd_tensor *seq_in(struct gd_op_ctx *ctx, int i)
{
    const struct gd_tensor *s = gd_op_input(ctx, i);
    if (!s || s->dtype != GD_DTYPE_SEQUENCE) {
        gd_op_fail(ctx, GD_EINVAL, "input %d must be a sequence", i);
        return NULL;
    }
    return s;
}

static int copy_elem(struct gd_op_ctx *ctx, struct gd_tensor *dst, const struct gd_tensor *src)
{
    if (src->dtype == GD_DTYPE_SEQUENCE)
        return gd_op_fail(ctx, GD_ENOTSUP, "nested sequences");
    return gd_tensor_copy(dst, src) ? gd_op_fail(ctx, GD_ENOMEM, "out of memory") : 0;
}

/* Position input (scalar int) normalised into [0, limit]; def when absent. */
static int position(struct gd_op_ctx *ctx, int i, int64_t n, int64_t limit, int64_t def,
                    int64_t *out)
{
    const struct gd_tensor *p = gd_op_input(ctx, i);
    if (!p) {
        *out = def;
        return 0;
    }
    if (p->numel != 1 || !gd_dtype_is_int(p->dtype))
        return gd_op_fail(ctx, GD_EINVAL, "position must be an integer scalar");
    int64_t v = gd_tensor_get_i64(p, 0);
    if (v < -n || v > limit)
        return gd_op_fail(ctx, GD_EINVAL, "position %lld out of range", (long long)v);
    *out = v < 0 ? v + n : v;
    return 0;
}

static int empty_run(struct gd_op_ctx *ctx)
{
    return seq_out(ctx, 0) ? 0 : GD_ENOMEM;
}

static int construct_run(struct gd_op_ctx *ctx)
{
    int n = gd_op_num_inputs(ctx), rc = 0;
    struct gd_tensor *y = seq_out(ctx, n);
    if (!y)
        return GD_ENOMEM;
    for (int i = 0; i < n && !rc; i++) {
        const struct gd_tensor *x = gd_op_input(ctx, i);
        rc = x ? copy_elem(ctx, &((struct gd_tensor *)y->data)[i], x)
               : gd_op_fail(ctx, GD_EINVAL, "missing input %d", i);
    }
    return rc;
}

static int insert_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *s = seq_in(ctx, 0), *x = gd_op_input(ctx, 1);
    int64_t pos;
    if (!s || !x)
        return s ? gd_op_fail(ctx, GD_EINVAL, "missing tensor") : GD_EINVAL;
    int rc = position(ctx, 2, s->numel, s->numel, s->numel, &pos);
    struct gd_tensor *y = rc ? NULL : seq_out(ctx, s->numel + 1);
    if (!y)
        return rc ? rc : GD_ENOMEM;
    struct gd_tensor *d = y->data;
    const struct gd_tensor *e = s->data;
    for (int64_t i = 0, j = 0; i <= s->numel && !rc; i++)
        rc = copy_elem(ctx, &d[i], i == pos ? x : &e[j++]);
    return rc;
}

static int at_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *s = seq_in(ctx, 0);
    int64_t pos;
    if (!s)
        return GD_EINVAL;
    if (!gd_op_input(ctx, 1))
        return gd_op_fail(ctx, GD_EINVAL, "missing position");
    int rc = position(ctx, 1, s->numel, s->numel - 1, 0, &pos);
    if (rc)
        return rc;
    const struct gd_tensor *e = &((const struct gd_tensor *)s->data)[pos];
    struct gd_tensor *y = gd_op_output_like(ctx, 0, e);
    if (!y)
        return GD_ENOMEM;
    if (e->dtype == GD_DTYPE_STRING) {
        for (int64_t i = 0; i < e->numel; i++)
            if (!(((char **)y->data)[i] = gd_strdup(((char **)e->data)[i])))
                return gd_op_fail(ctx, GD_ENOMEM, "out of memory");
    } else if (e->nbytes) {
        memcpy(y->data, e->data, e->nbytes);
    }
    return 0;
}

static int erase_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *s = seq_in(ctx, 0);
    int64_t pos;
    if (!s)
        return GD_EINVAL;
    if (s->numel == 0)
        return gd_op_fail(ctx, GD_EINVAL, "erase from an empty sequence");
    int rc = position(ctx, 1, s->numel, s->numel - 1, s->numel - 1, &pos);
    struct gd_tensor *y = rc ? NULL : seq_out(ctx, s->numel - 1);
    if (!y)
        return rc ? rc : GD_ENOMEM;
    const struct gd_tensor *e = s->data;
    for (int64_t i = 0, j = 0; i < s->numel && !rc; i++)
        if (i != pos)
            rc = copy_elem(ctx, &((struct gd_tensor *)y->data)[j++], &e[i]);
    return rc;
}

static int length_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *s = seq_in(ctx, 0);
    if (!s)
        return GD_EINVAL;
    struct gd_tensor *y = gd_op_output(ctx, 0, GD_DTYPE_INT64, 0, NULL);
    if (!y)
        return GD_ENOMEM;
    *(int64_t *)y->data = s->numel;
    return 0;
}

/* outer = prod(dims[:axis]), inner bytes = prod(dims[axis+1:]) * element size. */
static void split_dims(const struct gd_tensor *t, int axis, int64_t *outer, int64_t *inner)
{
    *outer = 1;
    *inner = (int64_t)gd_dtype_size(t->dtype);
    for (int d = 0; d < axis; d++)
        *outer *= t->dims[d];
    for (int d = axis + 1; d < t->rank; d++)
        *inner *= t->dims[d];
}

static int concat_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *s = seq_in(ctx, 0);
    if (!s)
        return GD_EINVAL;
    const struct gd_tensor *e = s->data;
    int new_axis = gd_op_attr_int(ctx, "new_axis", 0) != 0, ax;
    if (s->numel == 0)
        return gd_op_fail(ctx, GD_EINVAL, "empty sequence");
    int r = e[0].rank + new_axis;
    if (r > GD_TENSOR_MAX_RANK || r < 1 ||
        gd_axis_normalize(gd_op_attr_int(ctx, "axis", 0), r, &ax))
        return gd_op_fail(ctx, GD_EINVAL, "axis out of range");
    if (e[0].dtype == GD_DTYPE_STRING)
        return gd_op_fail(ctx, GD_ENOTSUP, "string sequences");
    int64_t dims[GD_TENSOR_MAX_RANK], total = 0;
    for (int64_t i = 0; i < s->numel; i++) {
        if (e[i].dtype != e[0].dtype || e[i].rank != e[0].rank)
            return gd_op_fail(ctx, GD_EINVAL, "elements differ in dtype or rank");
        for (int d = 0, k = 0; d < r; d++) {
            int64_t v = (new_axis && d == ax) ? 1 : e[i].dims[k++];
            if (d == ax)
                continue;
            if (i > 0 && v != dims[d])
                return gd_op_fail(ctx, GD_EINVAL, "elements differ in shape");
            dims[d] = v;
        }
        total += new_axis ? 1 : e[i].dims[ax];
    }
    dims[ax] = total;
    struct gd_tensor *y = gd_op_output(ctx, 0, e[0].dtype, r, dims);
    if (!y)
        return GD_ENOMEM;
    int64_t outer, inner, off = 0;
    split_dims(y, ax, &outer, &inner);
    for (int64_t i = 0; i < s->numel; i++) {
        int64_t len = new_axis ? 1 : e[i].dims[ax];
        for (int64_t o = 0; o < outer; o++)
            memcpy((char *)y->data + (size_t)((o * total + off) * inner),
                   (const char *)e[i].data + (size_t)(o * len * inner), (size_t)(len * inner));
        off += len;
    }
    return 0;
}

/* Chunk sizes along the axis: from the split input (scalar size or list) or all 1s. */
static int split_sizes(struct gd_op_ctx *ctx, int64_t dim, int64_t **sizes, int64_t *n)
{
    const struct gd_tensor *sp = gd_op_input(ctx, 1);
    int64_t chunk = 1;
    if (sp && sp->rank == 1) {
        if (!gd_dtype_is_int(sp->dtype) || sp->numel > SEQ_MAX_LEN)
            return gd_op_fail(ctx, GD_EINVAL, "split must be an integer list");
        *n = sp->numel;
        if (!(*sizes = gd_op_scratch(ctx, sizeof(int64_t) * (size_t)(*n + 1))))
            return GD_ENOMEM;
        int64_t sum = 0;
        for (int64_t i = 0; i < *n; i++) {
            (*sizes)[i] = gd_tensor_get_i64(sp, i);
            if ((*sizes)[i] < 0 || ((sum += (*sizes)[i]) > dim))
                return gd_op_fail(ctx, GD_EINVAL, "split sizes do not add up to %lld",
                                  (long long)dim);
        }
        return sum == dim ? 0 : gd_op_fail(ctx, GD_EINVAL, "split sizes must sum to the axis");
    }
    if (sp && (sp->numel != 1 || (chunk = gd_tensor_get_i64(sp, 0)) < 1))
        return gd_op_fail(ctx, GD_EINVAL, "split must be a positive scalar or a list");
    *n = dim ? (dim + chunk - 1) / chunk : 0;
    if (*n > SEQ_MAX_LEN || !(*sizes = gd_op_scratch(ctx, sizeof(int64_t) * (size_t)(*n + 1))))
        return *n > SEQ_MAX_LEN ? gd_op_fail(ctx, GD_ELIMIT, "too many chunks") : GD_ENOMEM;
    for (int64_t i = 0; i < *n; i++)
        (*sizes)[i] = (i + 1) * chunk <= dim ? chunk : dim - i * chunk;
    return 0;
}

static int split_run(struct gd_op_ctx *ctx)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0);
    int ax;
    if (!x || x->dtype == GD_DTYPE_STRING || x->dtype == GD_DTYPE_SEQUENCE || x->rank < 1 ||
        gd_axis_normalize(gd_op_attr_int(ctx, "axis", 0), x->rank, &ax))
        return gd_op_fail(ctx, GD_EINVAL, "input must be a numeric tensor and axis in range");
    int squeeze = !gd_op_input(ctx, 1) && gd_op_attr_int(ctx, "keepdims", 1) == 0;
    int64_t *sizes = NULL, n = 0, outer, inner, off = 0;
    int rc = split_sizes(ctx, x->dims[ax], &sizes, &n);
    struct gd_tensor *y = rc ? NULL : seq_out(ctx, n);
    if (!y)
        return rc ? rc : GD_ENOMEM;
    split_dims(x, ax, &outer, &inner);
    for (int64_t i = 0; i < n; i++) {
        int64_t dims[GD_TENSOR_MAX_RANK];
        int r = 0;
        for (int d = 0; d < x->rank; d++)
            if (d != ax)
                dims[r++] = x->dims[d];
            else if (!squeeze)
                dims[r++] = sizes[i];
        struct gd_tensor *e = &((struct gd_tensor *)y->data)[i];
        if (gd_tensor_alloc(e, x->dtype, r, dims))
            return gd_op_fail(ctx, GD_ENOMEM, "out of memory");
        for (int64_t o = 0; o < outer; o++)
            memcpy((char *)e->data + (size_t)(o * sizes[i] * inner),
                   (const char *)x->data + (size_t)((o * x->dims[ax] + off) * inner),
                   (size_t)(sizes[i] * inner));
        off += sizes[i];
    }
    return 0;
}

const struct gd_op_def gd_ops_sequence[] = {
    {"", "SequenceEmpty", 11, 0, empty_run, GD_OP_F_SEQUENCE},
    {"", "SequenceConstruct", 11, 0, construct_run, GD_OP_F_SEQUENCE},
    {"", "SequenceInsert", 11, 0, insert_run, GD_OP_F_SEQUENCE},
    {"", "SequenceAt", 11, 0, at_run, 0},
    {"", "SequenceErase", 11, 0, erase_run, GD_OP_F_SEQUENCE},
    {"", "SequenceLength", 11, 0, length_run, 0},
    {"", "ConcatFromSequence", 11, 0, concat_run, 0},
    {"", "SplitToSequence", 11, 0, split_run, GD_OP_F_SEQUENCE},
    {0},
};
