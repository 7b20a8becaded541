/* Load-time packing of constant GEMM operands (see gd__model_prepack in model.h).
 *
 * A MatMul, Gemm or ai.girder FusedMatMul whose B is a float32 2-d constant gets op(B)
 * packed once into the nr-wide panels the SGEMM micro-kernel reads (kernels/sgemm.h), so
 * runs skip packing B (the weights) for every block of every GEMM, and matrix-vector
 * products read the panels once, contiguously. The packed copy lives in the model (a
 * tensor in `owned`) next to the original, which stays for the paths that cannot use the
 * panels (GD_GEMM=blas, float16, a packing buffer that cannot be allocated). Small
 * operands are left alone: they fit in cache and pack in no time.
 * GD_PREPACK=0 in the environment at load time turns it off (for comparisons). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/sgemm.h"
#include "engine/model.h"
#include "onnx.pb-c.h"

enum { MIN_ELEMS = 4096 };

static int64_t node_int(const struct gd_node *n, const char *name, int64_t def)
{
    for (int i = 0; i < n->n_attr; i++)
        if (!strcmp(n->attrs[i].name, name) &&
            n->attrs[i].type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
            return n->attrs[i].i;
    return def;
}

/* The constant op(B) of node n when it can be packed: sets *tb. */
static const struct gd_tensor *packable(const struct gd_engine_model *m, const struct gd_node *n,
                                        int *tb)
{
    *tb = 0;
    if (!n->def || n->n_in < 2 || n->in[1] < 0)
        return NULL;
    int gemm = !*n->domain && !strcmp(n->op_type, "Gemm");
    if (!gemm && !(!*n->domain && !strcmp(n->op_type, "MatMul")) &&
        !(!strcmp(n->domain, "ai.girder") && !strcmp(n->op_type, "FusedMatMul")))
        return NULL;
    const struct gd_value *v = &m->values[n->in[1]];
    const struct gd_tensor *b = v->kind == GD_VALUE_CONST ? v->konst : NULL;
    if (!b || !b->data || b->dtype != GD_DTYPE_FLOAT || b->rank != 2 || b->numel < MIN_ELEMS)
        return NULL;
    if (gemm)
        *tb = node_int(n, "transB", 0) != 0;
    return b;
}

static int pack_node(struct gd_engine_model *m, struct gd_node *n, const struct gd_tensor *b,
                     int tb, int nr)
{
    int64_t k = b->dims[tb], cols = b->dims[!tb];
    size_t floats = gd__sgemm_packed_b_floats(k, cols, nr);
    struct gd_prepack *pk = gd_arena_calloc(&m->arena, 1, sizeof *pk);
    struct gd_tensor *t = gd_calloc(1, sizeof *t);
    int64_t dims[1] = {(int64_t)floats + 16}; /* + room to align to 64 bytes */
    if (!pk || !t || gd_tensor_alloc(t, GD_DTYPE_FLOAT, 1, dims) || gd__model_own(m, t)) {
        if (t)
            gd_tensor_release(t);
        gd_free(t);
        return GD_ENOMEM;
    }
    float *panels = (float *)(((uintptr_t)t->data + 63) & ~(uintptr_t)63);
    gd__sgemm_pack_b_full(b->data, b->dims[1], tb, k, cols, nr, panels);
    *pk = (struct gd_prepack){.nr = nr, .k = k, .n = cols, .panels = panels};
    n->pack = pk;
    return 0;
}

int gd__model_prepack(struct gd_engine_model *m)
{
    const char *env = getenv("GD_PREPACK");
    int nr = gd_kern_gemm_pack_nr(GD_DTYPE_FLOAT), packed = 0;
    if ((env && !strcmp(env, "0")) || !nr)
        return 0;
    for (int i = 0; i < m->n_nodes; i++) {
        int tb;
        const struct gd_tensor *b = packable(m, &m->nodes[i], &tb);
        if (!b)
            continue;
        int rc = pack_node(m, &m->nodes[i], b, tb, nr);
        if (rc)
            return rc;
        packed++;
    }
    return packed;
}
