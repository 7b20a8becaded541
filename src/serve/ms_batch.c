/* Joining and splitting batches (see ms_batch.h). */
#include "serve/ms_batch.h"
#include "girder/error.h"

#include <string.h>

int64_t gd_ms_batch_rows(const struct gd_ms_job *j)
{
    return j->n_inputs && j->inputs[0].rank ? j->inputs[0].dims[0] : 1;
}

int gd_ms_batch_compatible(const struct gd_ms_job *a, const struct gd_ms_job *b)
{
    if (a->n_inputs != b->n_inputs)
        return 0;
    for (int i = 0; i < a->n_inputs; i++) {
        const struct gd_tensor *x = &a->inputs[i], *y = &b->inputs[i];
        if (x->dtype != y->dtype || x->rank != y->rank || x->rank == 0)
            return 0;
        for (int d = 1; d < x->rank; d++)
            if (x->dims[d] != y->dims[d])
                return 0;
    }
    return 1;
}

int gd_ms_batch_concat(struct gd_ms_job *const *jobs, int k, int input, struct gd_tensor *out)
{
    const struct gd_tensor *t0 = &jobs[0]->inputs[input];
    int64_t dims[GD_TENSOR_MAX_RANK];
    memcpy(dims, t0->dims, sizeof dims);
    dims[0] = 0;
    for (int j = 0; j < k; j++)
        dims[0] += jobs[j]->inputs[input].dims[0];
    int rc = gd_tensor_alloc(out, t0->dtype, t0->rank, dims);
    if (rc)
        return rc;
    size_t off = 0;
    for (int j = 0; j < k; j++) {
        const struct gd_tensor *t = &jobs[j]->inputs[input];
        if (t->nbytes)
            memcpy((char *)out->data + off, t->data, t->nbytes);
        off += t->nbytes;
    }
    return 0;
}

void gd_ms_batch_release(struct gd_tensor *t)
{
    if (t->dtype == GD_DTYPE_STRING && t->data) /* the strings belong to the jobs */
        memset(t->data, 0, t->nbytes);
    gd_tensor_release(t);
}

void gd_ms_batch_view(const struct gd_tensor *t, int64_t row0, int64_t rows, struct gd_tensor *view)
{
    *view = *t;
    view->owns_data = 0;
    int64_t per_row = t->dims[0] ? t->numel / t->dims[0] : 0;
    size_t esize = t->numel ? t->nbytes / (size_t)t->numel : 0;
    view->dims[0] = rows;
    view->numel = per_row * rows;
    view->nbytes = (size_t)view->numel * esize;
    view->data = view->nbytes ? (char *)t->data + (size_t)(row0 * per_row) * esize : NULL;
}
