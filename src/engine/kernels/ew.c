/* Elementwise drivers: chunked parallel maps and coalesced broadcast row walks (see ew.h). */
#include "engine/kernels/ew.h"
#include "engine/kernels/ew_gen.h"

#include <string.h>

#include "engine/tensor.h"

/* Elements below which a chunk is not worth handing to another thread. */
#define EW_GRAIN 16384

void gd_ew_parallel(struct gd_op_ctx *ctx, int64_t n, gd_op_range_fn fn, void *ud)
{
    if (n <= 0)
        return;
    gd_op_parallel_for(ctx, n, EW_GRAIN, fn, ud);
}

int gd_ew_bcast_shape(struct gd_op_ctx *ctx, int nin, const struct gd_tensor *const *ins, int *rank,
                      int64_t *dims)
{
    char msg[160];
    if (gd_broadcast_shape(nin, ins, rank, dims, msg, sizeof msg) != 0)
        return gd_op_fail(ctx, GD_EINVAL, "%s", msg);
    return 0;
}

/* A coalesced broadcast walk: rank dims (the last one is the row), strides per operand. */
struct walk {
    int rank, nops;
    int64_t dims[GD_TENSOR_MAX_RANK];
    int64_t st[GD_EW_MAX_OPS][GD_TENSOR_MAX_RANK];
    gd_ew_row_fn row;
    void *ud;
};

static void walk_rows(void *ud, int64_t rb, int64_t re)
{
    const struct walk *w = ud;
    int outer = w->rank - 1;
    int64_t len = w->dims[outer], idx[GD_TENSOR_MAX_RANK], off[GD_EW_MAX_OPS], st[GD_EW_MAX_OPS];
    for (int k = 0; k < w->nops; k++) {
        off[k] = 0;
        st[k] = w->st[k][outer];
    }
    int64_t r = rb;
    for (int d = outer - 1; d >= 0; d--) {
        idx[d] = r % w->dims[d];
        r /= w->dims[d];
        for (int k = 0; k < w->nops; k++)
            off[k] += idx[d] * w->st[k][d];
    }
    for (int64_t row = rb; row < re; row++) {
        w->row(w->ud, off, st, len);
        for (int d = outer - 1; d >= 0; d--) {
            for (int k = 0; k < w->nops; k++)
                off[k] += w->st[k][d];
            if (++idx[d] < w->dims[d])
                break;
            for (int k = 0; k < w->nops; k++)
                off[k] -= w->st[k][d] * w->dims[d];
            idx[d] = 0;
        }
    }
}

/* Strides of operand t over the output dims (0 where t is broadcast). */
static void bcast_strides(const struct gd_tensor *t, int rank, int64_t *st)
{
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        int td = d - (rank - t->rank);
        int64_t v = td >= 0 ? t->dims[td] : 1;
        st[d] = v == 1 ? 0 : s;
        s *= v;
    }
}

int gd_ew_bcast_rows(struct gd_op_ctx *ctx, const struct gd_tensor *y, int nin,
                     const struct gd_tensor *const *ins, gd_ew_row_fn row, void *ud)
{
    if (nin < 1 || nin >= GD_EW_MAX_OPS)
        return gd_op_fail(ctx, GD_EINVAL, "bad operand count %d", nin);
    if (y->numel == 0)
        return 0;
    int64_t full[GD_EW_MAX_OPS][GD_TENSOR_MAX_RANK];
    for (int k = 0; k < nin + 1; k++) {
        const struct gd_tensor *t = k ? ins[k - 1] : y;
        if (t->rank > y->rank)
            return gd_op_fail(ctx, GD_EINVAL, "operand rank above output rank");
        for (int d = 0; d < t->rank; d++) {
            int64_t od = y->dims[d + y->rank - t->rank];
            if (t->dims[d] != od && t->dims[d] != 1)
                return gd_op_fail(ctx, GD_EINVAL, "operand %d does not broadcast", k);
        }
        bcast_strides(t, y->rank, full[k]);
    }
    struct walk w = {.nops = nin + 1, .row = row, .ud = ud};
    for (int d = 0; d < y->rank; d++) {
        if (y->dims[d] == 1)
            continue;
        int merge = w.rank > 0;
        for (int k = 0; merge && k < w.nops; k++)
            merge = w.st[k][w.rank - 1] == full[k][d] * y->dims[d];
        if (merge) {
            w.dims[w.rank - 1] *= y->dims[d];
            for (int k = 0; k < w.nops; k++)
                w.st[k][w.rank - 1] = full[k][d];
            continue;
        }
        w.dims[w.rank] = y->dims[d];
        for (int k = 0; k < w.nops; k++)
            w.st[k][w.rank] = full[k][d];
        w.rank++;
    }
    if (w.rank == 0) {
        w.rank = 1;
        w.dims[0] = 1;
        for (int k = 0; k < w.nops; k++)
            w.st[k][0] = 0;
    }
    int64_t len = w.dims[w.rank - 1], rows = y->numel / len;
    int64_t grain = EW_GRAIN / len + 1;
    gd_op_parallel_for(ctx, rows, grain, walk_rows, &w);
    return 0;
}

int gd_ew_unary_run(struct gd_op_ctx *ctx, const gd_op_range_fn *tab, int to_bool,
                    const struct gd_ew_args *p)
{
    const struct gd_tensor *x = gd_op_input(ctx, 0);
    if (!x)
        return gd_op_fail(ctx, GD_EINVAL, "missing input 0");
    if ((unsigned)x->dtype >= EW_NDT || !tab[x->dtype])
        return gd_op_fail(ctx, GD_ENOTSUP, "dtype %s not supported", gd_dtype_name(x->dtype));
    struct gd_tensor *y =
        gd_op_output(ctx, 0, to_bool ? GD_DTYPE_BOOL : x->dtype, x->rank, x->dims);
    if (!y)
        return GD_ENOMEM;
    struct gd_ew_job j = {.y = y->data, .a = x->data};
    if (p)
        j.p = *p;
    gd_ew_parallel(ctx, x->numel, tab[x->dtype], &j);
    return 0;
}
