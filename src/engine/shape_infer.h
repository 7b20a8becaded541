/* Engine-internal: the state shape inference (shape_infer.c) shares with the tracking of
 * shape-tensor contents (shape_contents.c). */
#ifndef GD_ENGINE_SHAPE_INFER_H
#define GD_ENGINE_SHAPE_INFER_H

#include "engine/model.h"
#include "engine/shape_sym.h"

/* A value's dtype and shape; dims are numbers or symbols (shape_sym.h). */
struct shp {
    enum gd_dtype dt;
    int rank;
    int64_t d[GD_TENSOR_MAX_RANK];
};

/* The contents of a small integer tensor (a shape being computed: Shape -> Gather ->
 * Concat -> Reshape), element by element: numbers or symbols. n < 0: not tracked. */
struct gd_shape_contents {
    int n;
    int64_t c[GD_TENSOR_MAX_RANK];
};

struct gd_infer {
    struct gd_engine_model *m;
    struct gd_symtab sym;
    struct gd_shape_contents *cv; /* per value */
};

/* v's dtype and shape (rank known; dims may be symbols), or 0. */
int gd__infer_known(const struct gd_infer *I, int v, struct shp *s);
/* The contents of v (constants: read from the tensor), or 0. */
int gd__infer_contents(const struct gd_infer *I, int v, struct gd_shape_contents *c);
/* Records the contents of node n's output where its op computes on shapes (Shape, Gather,
 * Unsqueeze, Squeeze, Cast, Concat, Slice, arithmetic). */
void gd__infer_track_contents(struct gd_infer *I, const struct gd_node *n);

const struct gd_attr *gd__infer_attr(const struct gd_node *n, const char *name, int type);
int64_t gd__infer_attr_i(const struct gd_node *n, const char *name, int64_t def);

#endif
