/* Static memory plan. When shape inference (shape_infer.c) knows the size of an
 * intermediate value, the value gets a fixed offset in one per-session arena, chosen so that
 * two values share bytes only if their lifetimes [producer, last reader] do not overlap
 * (greedy by size, largest first, lowest non-conflicting offset: the classic heuristic that
 * gets close to the peak of live bytes). Values of unknown size, graph outputs and strings
 * use the dynamic buffer cache instead (bufcache.c), as does any value whose real size turns
 * out larger than planned. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/model.h"

#define PLAN_MAX_VALUES 20000
#define PLAN_ALIGN 64

struct item {
    int v, start, end;
    size_t size;
    int64_t off;
};

static int by_size_desc(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return x->v - y->v;
}

/* Static byte size of value v, or 0 when unknown / not plannable. */
static size_t static_size(const struct gd_engine_model *m, int v)
{
    const struct gd_value *val = &m->values[v];
    struct gd_tensor t = {0};
    if (val->kind != GD_VALUE_INTERMEDIATE || val->is_output || val->producer < 0 ||
        val->rank < 0 || !val->dims || val->dtype == GD_DTYPE_STRING ||
        gd_dtype_size(val->dtype) == 0)
        return 0;
    for (int d = 0; d < val->rank; d++)
        if (val->dims[d] < 0)
            return 0;
    if (gd_tensor_set_shape(&t, val->dtype, val->rank, val->dims) || t.nbytes == 0 ||
        t.nbytes > ((size_t)1 << 40))
        return 0;
    return (t.nbytes + PLAN_ALIGN - 1) & ~(size_t)(PLAN_ALIGN - 1);
}

/* Lowest offset for it that avoids every placed item alive at the same time. */
static int64_t place(const struct item *placed, int n, const struct item *it)
{
    int64_t off = 0;
    for (int moved = 1; moved;) {
        moved = 0;
        for (int k = 0; k < n; k++) {
            const struct item *p = &placed[k];
            if (p->end < it->start || it->end < p->start)
                continue; /* lifetimes disjoint */
            if (off < p->off + (int64_t)p->size && p->off < off + (int64_t)it->size) {
                off = p->off + (int64_t)p->size;
                moved = 1;
            }
        }
    }
    return off;
}

int gd__plan_memory(const struct gd_engine_model *m, int64_t **off_out, size_t **size_out,
                    size_t *total_out)
{
    int64_t *off = gd_malloc(sizeof *off * ((size_t)m->n_values + 1));
    size_t *size = gd_calloc((size_t)m->n_values + 1, sizeof *size), total = 0;
    struct item *items = gd_calloc((size_t)m->n_values + 1, sizeof *items);
    int n = 0;
    if (!off || !size || !items) {
        gd_free(off);
        gd_free(size);
        gd_free(items);
        return GD_ENOMEM;
    }
    for (int v = 0; v < m->n_values; v++) {
        off[v] = -1;
        size_t s = static_size(m, v);
        if (s && n < PLAN_MAX_VALUES)
            items[n++] = (struct item){v, m->values[v].producer, m->values[v].last_use, s, 0};
    }
    qsort(items, (size_t)n, sizeof *items, by_size_desc);
    for (int i = 0; i < n; i++) {
        items[i].off = place(items, i, &items[i]);
        off[items[i].v] = items[i].off;
        size[items[i].v] = items[i].size;
        if ((size_t)items[i].off + items[i].size > total)
            total = (size_t)items[i].off + items[i].size;
    }
    gd_free(items);
    *off_out = off;
    *size_out = size;
    *total_out = total;
    return 0;
}
