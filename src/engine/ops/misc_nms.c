/* NonMaxSuppression (opset 10+): greedy per (batch, class) selection by descending score
 * (ties: lower box index first), dropping boxes whose IoU with an already selected box of
 * the same class exceeds iou_threshold; boxes scoring <= score_threshold never compete.
 * Boxes are corners [y1, x1, y2, x2] in any order (center_point_box = 0) or
 * [x_center, y_center, width, height] (= 1). A box of zero area never suppresses.
 * Output: int64 [selected, 3] rows of (batch, class, box), by batch, class, then rank. */
#include <stdlib.h>
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

struct cand {
    double s;
    int64_t i;
};

static int cand_cmp(const void *pa, const void *pb)
{
    const struct cand *a = pa, *b = pb;
    if (a->s != b->s)
        return a->s > b->s ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* Box b of batch n as normalised corners y1 <= y2, x1 <= x2. */
static void box_at(const struct gd_tensor *boxes, int64_t n, int64_t b, int center, double *c)
{
    double v[4];
    int64_t base = (n * boxes->dims[1] + b) * 4;
    for (int k = 0; k < 4; k++)
        v[k] = gd_tensor_get_f64(boxes, base + k);
    if (center) {
        c[0] = v[1] - v[3] / 2, c[2] = v[1] + v[3] / 2; /* y */
        c[1] = v[0] - v[2] / 2, c[3] = v[0] + v[2] / 2; /* x */
        return;
    }
    c[0] = v[0] < v[2] ? v[0] : v[2], c[2] = v[0] < v[2] ? v[2] : v[0];
    c[1] = v[1] < v[3] ? v[1] : v[3], c[3] = v[1] < v[3] ? v[3] : v[1];
}

static int suppressed(const double *a, const double *b, double thr)
{
    double aa = (a[2] - a[0]) * (a[3] - a[1]), ab = (b[2] - b[0]) * (b[3] - b[1]);
    if (aa <= 0 || ab <= 0)
        return 0;
    double ih = (a[2] < b[2] ? a[2] : b[2]) - (a[0] > b[0] ? a[0] : b[0]);
    double iw = (a[3] < b[3] ? a[3] : b[3]) - (a[1] > b[1] ? a[1] : b[1]);
    if (ih <= 0 || iw <= 0)
        return 0;
    double inter = ih * iw;
    return inter / (aa + ab - inter) > thr;
}

static int nms_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *bx = gd__ot_need(ctx, 0, &rc), *sc = bx ? gd__ot_need(ctx, 1, &rc) : 0;
    if (!sc)
        return rc;
    if (bx->rank != 3 || bx->dims[2] != 4 || sc->rank != 3 || sc->dims[0] != bx->dims[0] ||
        sc->dims[2] != bx->dims[1] || !gd_dtype_is_float(bx->dtype) ||
        !gd_dtype_is_float(sc->dtype))
        return gd_op_fail(ctx, GD_EINVAL, "boxes must be [B, S, 4] and scores [B, C, S]");
    int64_t maxo = 0;
    double iou = 0, sthr = 0;
    const struct gd_tensor *t2 = gd_op_input(ctx, 2), *t3 = gd_op_input(ctx, 3);
    const struct gd_tensor *t4 = gd_op_input(ctx, 4);
    if ((t2 && (rc = gd__ot_scalar_i64(ctx, t2, "max_output_boxes_per_class", &maxo))) ||
        (t3 && (rc = gd__ot_scalar_f64(ctx, t3, "iou_threshold", &iou))) ||
        (t4 && (rc = gd__ot_scalar_f64(ctx, t4, "score_threshold", &sthr))))
        return rc;
    int center = gd_op_attr_int(ctx, "center_point_box", 0) != 0;
    int64_t B = sc->dims[0], C = sc->dims[1], S = sc->dims[2];
    if (maxo < 0)
        maxo = 0;
    int64_t per = maxo < S ? maxo : S, cap = B * C * per, nsel = 0;
    struct cand *cd = gd_op_scratch(ctx, (size_t)(S ? S : 1) * sizeof *cd);
    double *sel = gd_op_scratch(ctx, (size_t)(per ? per : 1) * 4 * sizeof *sel);
    int64_t *rows = gd_op_scratch(ctx, (size_t)(cap ? cap : 1) * 3 * sizeof *rows);
    if (!cd || !sel || !rows)
        return GD_ENOMEM;
    for (int64_t n = 0; n < B; n++)
        for (int64_t c = 0; c < C && per; c++) {
            int64_t m = 0, k = 0;
            for (int64_t s = 0; s < S; s++) {
                double v = gd_tensor_get_f64(sc, (n * C + c) * S + s);
                if (!t4 || v > sthr)
                    cd[m].s = v, cd[m++].i = s;
            }
            qsort(cd, (size_t)m, sizeof *cd, cand_cmp);
            for (int64_t j = 0; j < m && k < per; j++) {
                double box[4];
                int drop = 0;
                box_at(bx, n, cd[j].i, center, box);
                for (int64_t q = 0; q < k && !drop; q++)
                    drop = suppressed(box, sel + q * 4, iou);
                if (drop)
                    continue;
                memcpy(sel + k * 4, box, sizeof box);
                k++;
                rows[nsel * 3] = n, rows[nsel * 3 + 1] = c, rows[nsel * 3 + 2] = cd[j].i;
                nsel++;
            }
        }
    int64_t d[2] = {nsel, 3};
    struct gd_tensor *y = gd_op_output(ctx, 0, GD_DTYPE_INT64, 2, d);
    if (!y)
        return GD_ENOMEM;
    if (nsel)
        memcpy(y->data, rows, (size_t)nsel * 3 * sizeof *rows);
    return 0;
}

const struct gd_op_def gd_ops_nms[] = {
    {"", "NonMaxSuppression", 10, 0, nms_run, 0},
    {0},
};
