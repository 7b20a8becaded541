/* Layout ops that move elements without changing them: Transpose, Expand, Tile,
 * DepthToSpace, SpaceToDepth (all expressed as one strided view of the input, copied
 * with gd__ot_strided_copy), Concat and Split (block copies along an axis), and Trilu.
 * Every dtype works (strings are re-owned at the end). */
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

/* Output 0 of (rank, dims) = the strided view (vdims, vstrides) of x. */
static int emit_view(struct gd_op_ctx *ctx, const struct gd_tensor *x, int rank,
                     const int64_t *dims, int vrank, const int64_t *vdims, const int64_t *vstrides)
{
    struct gd_tensor *y = gd_op_output(ctx, 0, x->dtype, rank, dims);
    if (!y)
        return GD_ENOMEM;
    if (y->numel)
        gd__ot_strided_copy_par(ctx, y->data, x->data, vrank, vdims, vstrides,
                                gd_dtype_size(x->dtype));
    return gd__ot_own_strings(ctx, y);
}

static int transpose_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    const int64_t *perm;
    int n = gd_op_attr_ints(ctx, "perm", &perm);
    int64_t st[GD_TENSOR_MAX_RANK], d[GD_TENSOR_MAX_RANK], s[GD_TENSOR_MAX_RANK];
    gd_tensor_strides(x, st);
    if (n >= 0 && n != x->rank)
        return gd_op_fail(ctx, GD_EINVAL, "perm has %d entries for rank %d", n, x->rank);
    unsigned seen = 0;
    for (int i = 0; i < x->rank; i++) {
        int64_t p = n < 0 ? x->rank - 1 - i : perm[i];
        if (p < 0 || p >= x->rank || (seen & (1u << p)))
            return gd_op_fail(ctx, GD_EINVAL, "perm is not a permutation of 0..%d", x->rank - 1);
        seen |= 1u << p;
        d[i] = x->dims[p];
        s[i] = st[p];
    }
    return emit_view(ctx, x, x->rank, d, x->rank, d, s);
}

/* Expand: bidirectional broadcast of x with the requested shape. */
static int expand_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    struct gd_tensor shp = {0};
    int n = gd__ot_int_list(ctx, 1, NULL, shp.dims, GD_TENSOR_MAX_RANK);
    if (n < 0)
        return n == -1 ? gd_op_fail(ctx, GD_EINVAL, "missing shape") : n;
    shp.rank = n;
    for (int i = 0; i < n; i++)
        if (shp.dims[i] < 0)
            return gd_op_fail(ctx, GD_EINVAL, "negative dim in shape");
    int64_t d[GD_TENSOR_MAX_RANK], s[GD_TENSOR_MAX_RANK];
    int rank;
    char err[256];
    const struct gd_tensor *ops[2] = {x, &shp};
    if (gd_broadcast_shape(2, ops, &rank, d, err, sizeof err))
        return gd_op_fail(ctx, GD_EINVAL, "%s", err);
    struct gd_bcast it;
    if (gd_bcast_init(&it, rank, d, 1, ops))
        return gd_op_fail(ctx, GD_EINVAL, "cannot broadcast input");
    for (int i = 0; i < rank; i++)
        s[i] = it.strides[0][i];
    return emit_view(ctx, x, rank, d, rank, d, s);
}

/* Tile: view x as [r0, d0, r1, d1, ...] with stride 0 on each repeat dim. */
static int tile_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    int64_t rep[GD_TENSOR_MAX_RANK], st[GD_TENSOR_MAX_RANK], d[GD_TENSOR_MAX_RANK];
    int64_t vd[GD_OT_MAX_DIMS], vs[GD_OT_MAX_DIMS];
    int n = gd__ot_int_list(ctx, 1, NULL, rep, GD_TENSOR_MAX_RANK);
    if (n < -1)
        return n;
    if (n != x->rank)
        return gd_op_fail(ctx, GD_EINVAL, "repeats must have %d values", x->rank);
    gd_tensor_strides(x, st);
    for (int i = 0; i < n; i++) {
        if (rep[i] < 0)
            return gd_op_fail(ctx, GD_EINVAL, "negative repeat %lld", (long long)rep[i]);
        if (rep[i] && x->dims[i] > GD_TENSOR_MAX_NUMEL / rep[i])
            return gd_op_fail(ctx, GD_ERANGE, "tiled dim too large");
        d[i] = x->dims[i] * rep[i];
        vd[2 * i] = rep[i];
        vs[2 * i] = 0;
        vd[2 * i + 1] = x->dims[i];
        vs[2 * i + 1] = st[i];
    }
    return emit_view(ctx, x, n, d, 2 * n, vd, vs);
}

/* DepthToSpace / SpaceToDepth on NCHW as a rank-6 transpose (see the ONNX spec's
 * reshape/transpose/reshape definition). */
static int depth_space(struct gd_op_ctx *ctx, int to_space)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    int64_t b = gd_op_attr_int(ctx, "blocksize", 0);
    if (x->rank != 4 || b <= 0 || b > 1 << 20)
        return gd_op_fail(ctx, GD_EINVAL, "needs a 4-D input and blocksize > 0");
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], d[4], vd[6], vs[6];
    if (to_space) {
        if (C % (b * b))
            return gd_op_fail(ctx, GD_EINVAL, "channels %lld not divisible by blocksize^2",
                              (long long)C);
        int64_t c = C / (b * b);
        int crd = strcmp(gd_op_attr_string(ctx, "mode", "DCR"), "CRD") == 0;
        d[0] = N, d[1] = c, d[2] = H * b, d[3] = W * b;
        /* y[n][c][h][i][w][j] = x[n][DCR: (i*b+j)*c' + c | CRD: c*b*b + i*b + j][h][w] */
        int64_t sc = crd ? b * b * H * W : H * W, si = crd ? b * H * W : b * c * H * W;
        int64_t sj = crd ? H * W : c * H * W;
        int64_t v[6][2] = {{N, C * H * W}, {c, sc}, {H, W}, {b, si}, {W, 1}, {b, sj}};
        for (int i = 0; i < 6; i++)
            vd[i] = v[i][0], vs[i] = v[i][1];
    } else {
        if (H % b || W % b)
            return gd_op_fail(ctx, GD_EINVAL, "spatial dims not divisible by blocksize");
        int64_t h = H / b, w = W / b;
        d[0] = N, d[1] = C * b * b, d[2] = h, d[3] = w;
        /* y[n][i][j][c][h][w] = x[n][c][h*b+i][w*b+j] */
        int64_t v[6][2] = {{N, C * H * W}, {b, W}, {b, 1}, {C, H * W}, {h, b * W}, {w, b}};
        for (int i = 0; i < 6; i++)
            vd[i] = v[i][0], vs[i] = v[i][1];
    }
    return emit_view(ctx, x, 4, d, 6, vd, vs);
}

static int depthtospace_run(struct gd_op_ctx *ctx)
{
    return depth_space(ctx, 1);
}

static int spacetodepth_run(struct gd_op_ctx *ctx)
{
    return depth_space(ctx, 0);
}

static int concat_run(struct gd_op_ctx *ctx)
{
    int n = gd_op_num_inputs(ctx), ax;
    const struct gd_tensor *x0 = gd_op_input(ctx, 0);
    if (n < 1 || !x0)
        return gd_op_fail(ctx, GD_EINVAL, "needs at least one input");
    if (gd_axis_normalize(gd_op_attr_int(ctx, "axis", 0), x0->rank, &ax))
        return gd_op_fail(ctx, GD_EINVAL, "axis out of range for rank %d", x0->rank);
    int64_t d[GD_TENSOR_MAX_RANK];
    memcpy(d, x0->dims, sizeof d);
    d[ax] = 0;
    for (int k = 0; k < n; k++) {
        const struct gd_tensor *x = gd_op_input(ctx, k);
        if (!x || x->rank != x0->rank || x->dtype != x0->dtype)
            return gd_op_fail(ctx, GD_EINVAL, "input %d: rank or dtype differs from input 0", k);
        for (int i = 0; i < x->rank; i++)
            if (i != ax && x->dims[i] != x0->dims[i])
                return gd_op_fail(ctx, GD_EINVAL, "input %d: dim %d is %lld, expected %lld", k, i,
                                  (long long)x->dims[i], (long long)x0->dims[i]);
        if (x->dims[ax] > GD_TENSOR_MAX_NUMEL - d[ax])
            return gd_op_fail(ctx, GD_ERANGE, "concatenated dim too large");
        d[ax] += x->dims[ax];
    }
    struct gd_tensor *y = gd_op_output(ctx, 0, x0->dtype, x0->rank, d);
    if (!y)
        return GD_ENOMEM;
    size_t es = gd_dtype_size(x0->dtype);
    int64_t outer = gd__ot_prod(d, 0, ax), inner = gd__ot_prod(d, ax + 1, x0->rank), off = 0;
    for (int k = 0; k < n; k++) {
        const struct gd_tensor *x = gd_op_input(ctx, k);
        int64_t blk = x->dims[ax] * inner;
        for (int64_t o = 0; o < outer && blk; o++)
            memcpy((char *)y->data + (o * d[ax] * inner + off) * (int64_t)es,
                   (const char *)x->data + o * blk * (int64_t)es, (size_t)blk * es);
        off += blk;
    }
    return gd__ot_own_strings(ctx, y);
}

/* Split sizes: input 1 (13+) or attribute `split` (and input 1 in opset 1), else equal
 * parts (num_outputs in 18+: the last part may be smaller). */
static int split_sizes(struct gd_op_ctx *ctx, int64_t dim, int nout, int64_t *sz)
{
    int op = gd_op_opset(ctx);
    int n =
        gd__ot_int_list(ctx, (op >= 13 || op < 2) ? 1 : -1, op >= 13 ? NULL : "split", sz, nout);
    if (n < -1)
        return n;
    if (n >= 0) {
        int64_t t = 0;
        if (n != nout)
            return gd_op_fail(ctx, GD_EINVAL, "split has %d values for %d outputs", n, nout);
        for (int i = 0; i < n; i++) {
            if (sz[i] < 0 || sz[i] > dim)
                return gd_op_fail(ctx, GD_EINVAL, "invalid split size %lld", (long long)sz[i]);
            t += sz[i];
        }
        if (t != dim)
            return gd_op_fail(ctx, GD_EINVAL, "split sizes sum to %lld, dim is %lld", (long long)t,
                              (long long)dim);
        return 0;
    }
    int uneven = gd_op_attr_has(ctx, "num_outputs");
    int64_t part = uneven ? (dim + nout - 1) / nout : dim / nout;
    if (!uneven && dim % nout)
        return gd_op_fail(ctx, GD_EINVAL, "dim %lld not divisible into %d parts", (long long)dim,
                          nout);
    for (int i = 0; i < nout; i++) {
        int64_t left = dim - part * i;
        sz[i] = left < 0 ? 0 : left < part ? left : part;
    }
    return 0;
}

static int split_run(struct gd_op_ctx *ctx)
{
    int rc = 0, ax, nout = gd_op_num_outputs(ctx);
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    if (gd_axis_normalize(gd_op_attr_int(ctx, "axis", 0), x->rank, &ax))
        return gd_op_fail(ctx, GD_EINVAL, "axis out of range for rank %d", x->rank);
    if (nout < 1 || nout > 4096)
        return gd_op_fail(ctx, GD_EINVAL, "bad number of outputs %d", nout);
    int64_t *sz = gd_op_scratch(ctx, (size_t)nout * sizeof *sz);
    if (!sz)
        return GD_ENOMEM;
    if ((rc = split_sizes(ctx, x->dims[ax], nout, sz)))
        return rc;
    size_t es = gd_dtype_size(x->dtype);
    int64_t outer = gd__ot_prod(x->dims, 0, ax), inner = gd__ot_prod(x->dims, ax + 1, x->rank);
    int64_t d[GD_TENSOR_MAX_RANK], off = 0;
    memcpy(d, x->dims, sizeof d);
    for (int k = 0; k < nout; k++) {
        d[ax] = sz[k];
        struct gd_tensor *y = gd_op_output(ctx, k, x->dtype, x->rank, d);
        if (!y)
            return GD_ENOMEM;
        int64_t blk = sz[k] * inner;
        for (int64_t o = 0; o < outer && blk; o++)
            memcpy((char *)y->data + o * blk * (int64_t)es,
                   (const char *)x->data + (o * x->dims[ax] * inner + off) * (int64_t)es,
                   (size_t)blk * es);
        off += blk;
        if ((rc = gd__ot_own_strings(ctx, y)))
            return rc;
    }
    return 0;
}

/* Trilu: keeps j - i >= k (upper) or j - i <= k (lower) in the last two dims. */
static int trilu_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    if (x->rank < 2)
        return gd_op_fail(ctx, GD_EINVAL, "input rank must be >= 2");
    int64_t k = 0;
    const struct gd_tensor *kt = gd_op_input(ctx, 1);
    if (kt && (rc = gd__ot_scalar_i64(ctx, kt, "k", &k)))
        return rc;
    int upper = gd_op_attr_int(ctx, "upper", 1) != 0;
    struct gd_tensor *y = gd_op_output_like(ctx, 0, x);
    if (!y)
        return GD_ENOMEM;
    size_t es = gd_dtype_size(x->dtype);
    int64_t R = x->dims[x->rank - 2], C = x->dims[x->rank - 1], n = x->numel;
    for (int64_t e = 0; e < n; e++) {
        int64_t j = e % C, i = (e / C) % R;
        int keep = upper ? (j - i >= k) : (j - i <= k);
        if (keep)
            memcpy((char *)y->data + e * (int64_t)es, (const char *)x->data + e * (int64_t)es, es);
    }
    return gd__ot_own_strings(ctx, y);
}

const struct gd_op_def gd_ops_tensor[] = {
    {"", "Transpose", 1, 0, transpose_run, 0},
    {"", "Expand", 8, 0, expand_run, 0},
    {"", "Tile", 6, 0, tile_run, 0},
    {"", "DepthToSpace", 1, 0, depthtospace_run, 0},
    {"", "SpaceToDepth", 1, 0, spacetodepth_run, 0},
    {"", "Concat", 1, 0, concat_run, 0},
    {"", "Split", 1, 0, split_run, 0},
    {"", "Trilu", 14, 0, trilu_run, 0},
    {0},
};
