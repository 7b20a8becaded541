/* ONNX loader: ModelProto bytes -> struct gd_engine_model.
 *
 * The protobuf is unpacked by protobuf-c (code generated at build time from Debian's
 * onnx.proto) with allocations routed through gd_malloc, then copied into the model's own
 * representation (arena strings/arrays, gd_malloc'd constant tensors) and freed, so a
 * loaded model never points into the protobuf. Every count and name reference is checked:
 * unknown dtypes, duplicate or undefined value names, missing opset imports and
 * non-tensor graph inputs are rejected with a message naming the culprit. graph.c then
 * orders the nodes (rejecting cycles), folds constants and computes liveness. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "engine/model.h"
#include "onnx.pb-c.h"

static void *pb_alloc(void *ud, size_t n)
{
    (void)ud;
    return gd_malloc(n ? n : 1);
}
static void pb_free(void *ud, void *p)
{
    (void)ud;
    gd_free(p);
}
ProtobufCAllocator gd__pb_allocator = {pb_alloc, pb_free, NULL};

/* Name -> value index, open addressing over the model arena. */
struct name_map {
    int *slots; /* value index or -1 */
    size_t mask;
    const struct gd_value *values;
};

static int map_init(struct name_map *nm, struct gd_arena *a, size_t n, const struct gd_value *v)
{
    size_t cap = 16;
    while (cap < n * 2)
        cap <<= 1;
    nm->slots = gd_arena_alloc(a, cap * sizeof(int));
    if (!nm->slots)
        return GD_ENOMEM;
    memset(nm->slots, 0xff, cap * sizeof(int));
    nm->mask = cap - 1;
    nm->values = v;
    return 0;
}

/* Returns the slot for name (holding -1 when absent). */
static int *map_slot(struct name_map *nm, const char *name)
{
    size_t i = gd_hash(name, strlen(name)) & nm->mask;
    while (nm->slots[i] >= 0 && strcmp(nm->values[nm->slots[i]].name, name) != 0)
        i = (i + 1) & nm->mask;
    return &nm->slots[i];
}

struct loader {
    struct loader *parent;       /* enclosing graph's loader (subgraphs) */
    struct gd_node *parent_node; /* the node in parent whose attribute this graph is */
    int depth;
    struct gd_engine_model *m;
    struct name_map names;
    const char *base_dir;
    char *err;
    size_t errlen;
    size_t max_values;
};

int gd__model_own(struct gd_engine_model *m, struct gd_tensor *t)
{
    if (m->n_owned == m->cap_owned) {
        int cap = m->cap_owned ? m->cap_owned * 2 : 64;
        struct gd_tensor **o = gd_realloc(m->owned, (size_t)cap * sizeof *o);
        if (!o)
            return GD_ENOMEM;
        m->owned = o;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = t;
    return 0;
}

static char *astr(struct gd_engine_model *m, const char *s)
{
    return gd_arena_strndup(&m->arena, s ? s : "", strlen(s ? s : ""));
}

/* A heap tensor converted from a proto and owned by the model. */
static int own_tensor(struct loader *L, const Onnx__TensorProto *tp, const struct gd_tensor **out)
{
    struct gd_tensor *t = gd_calloc(1, sizeof *t);
    if (!t)
        return gd__errf(L->err, L->errlen, GD_ENOMEM, "out of memory");
    int rc = gd__tensor_from_proto(tp, L->base_dir, t, L->err, L->errlen);
    if (rc || (rc = gd__model_own(L->m, t))) {
        gd_tensor_release(t);
        gd_free(t);
        return rc == GD_ENOMEM ? gd__errf(L->err, L->errlen, rc, "out of memory") : rc;
    }
    *out = t;
    return 0;
}

static int new_value(struct loader *L, const char *name, enum gd_value_kind kind, int *out)
{
    struct gd_engine_model *m = L->m;
    if (!name || !*name)
        return gd__errf(L->err, L->errlen, GD_EINVAL, "a value has an empty name");
    int *slot = map_slot(&L->names, name);
    if (*slot >= 0)
        return gd__errf(L->err, L->errlen, GD_EINVAL, "value '%s' is defined twice", name);
    if ((size_t)m->n_values >= L->max_values)
        return gd__errf(L->err, L->errlen, GD_ELIMIT, "too many values");
    struct gd_value *v = &m->values[m->n_values];
    memset(v, 0, sizeof *v);
    if (!(v->name = astr(m, name)))
        return gd__errf(L->err, L->errlen, GD_ENOMEM, "out of memory");
    v->kind = kind;
    v->rank = -1;
    v->producer = -1;
    v->last_use = -1;
    *slot = m->n_values;
    *out = m->n_values++;
    return 0;
}

/* Declared type of a graph input/output: tensor types only. */
static int parse_type(struct loader *L, const Onnx__ValueInfoProto *vi, struct gd_value *v)
{
    const Onnx__TypeProto *tp = vi->type;
    if (!tp)
        return 0;
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return gd__errf(L->err, L->errlen, GD_ENOTSUP,
                        "value '%s': only tensor types are supported (not sequence/map/optional)",
                        v->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (tt->has_elem_type) {
        if (tt->elem_type <= 0 || tt->elem_type > GD_DTYPE_UINT64 ||
            gd_dtype_size((enum gd_dtype)tt->elem_type) == 0)
            return gd__errf(L->err, L->errlen, GD_ENOTSUP, "value '%s': unsupported dtype %d",
                            v->name, (int)tt->elem_type);
        v->dtype = (enum gd_dtype)tt->elem_type;
    }
    if (!tt->shape)
        return 0;
    if (tt->shape->n_dim > GD_TENSOR_MAX_RANK)
        return gd__errf(L->err, L->errlen, GD_ENOTSUP, "value '%s': rank %zu exceeds %d", v->name,
                        tt->shape->n_dim, GD_TENSOR_MAX_RANK);
    int r = (int)tt->shape->n_dim;
    v->dims = gd_arena_alloc(&L->m->arena, sizeof(int64_t) * (size_t)(r ? r : 1));
    v->syms = gd_arena_calloc(&L->m->arena, (size_t)(r ? r : 1), sizeof(char *));
    if (!v->dims || !v->syms)
        return gd__errf(L->err, L->errlen, GD_ENOMEM, "out of memory");
    for (int d = 0; d < r; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
        v->dims[d] = -1;
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            dim->dim_value >= 0)
            v->dims[d] = dim->dim_value;
        else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                 !(v->syms[d] = astr(L->m, dim->dim_param)))
            return gd__errf(L->err, L->errlen, GD_ENOMEM, "out of memory");
    }
    v->rank = r;
    return 0;
}

static int copy_attr(struct loader *L, const Onnx__AttributeProto *ap, struct gd_attr *a)
{
    struct gd_engine_model *m = L->m;
    memset(a, 0, sizeof *a);
    if (!(a->name = astr(m, ap->name)))
        goto nomem;
    a->type = ap->has_type ? (int)ap->type : 0;
    a->i = ap->i;
    a->f = ap->f;
    if (ap->has_s &&
        !(a->s = gd_arena_strndup(&m->arena, ap->s.len ? (const char *)ap->s.data : "", ap->s.len)))
        goto nomem;
    switch (a->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        a->n = (int)ap->n_ints;
        if (ap->n_ints > INT32_MAX / 8 ||
            !(a->ints = gd_arena_alloc(&m->arena, ap->n_ints * 8 + 8)))
            goto nomem;
        if (ap->n_ints)
            memcpy((void *)a->ints, ap->ints, ap->n_ints * 8);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        a->n = (int)ap->n_floats;
        if (ap->n_floats > INT32_MAX / 8 ||
            !(a->floats = gd_arena_alloc(&m->arena, ap->n_floats * 4 + 4)))
            goto nomem;
        if (ap->n_floats)
            memcpy((void *)a->floats, ap->floats, ap->n_floats * 4);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: {
        if (ap->n_strings > INT32_MAX / 8)
            goto nomem;
        const char **s = gd_arena_calloc(&m->arena, ap->n_strings + 1, sizeof(char *));
        if (!s)
            goto nomem;
        for (size_t i = 0; i < ap->n_strings; i++)
            if (!(s[i] = gd_arena_strndup(
                      &m->arena, ap->strings[i].len ? (const char *)ap->strings[i].data : "",
                      ap->strings[i].len)))
                goto nomem;
        a->n = (int)ap->n_strings;
        a->strings = s;
        break;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
        if (!ap->t)
            return gd__errf(L->err, L->errlen, GD_EINVAL, "attribute '%s' has no tensor", a->name);
        return own_tensor(L, ap->t, &a->t);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
        a->pending = ap->g; /* converted once every value of this graph is known */
        break;
    default: /* graph lists, sparse tensors, type protos: kept as typed, without data */
        break;
    }
    return 0;
nomem:
    return gd__errf(L->err, L->errlen, GD_ENOMEM, "out of memory copying attributes");
}

static int opset_for(struct gd_engine_model *m, const char *domain)
{
    if (!domain || strcmp(domain, "ai.onnx") == 0)
        domain = "";
    for (int i = 0; i < m->n_opsets; i++)
        if (strcmp(m->opset_domains[i], domain) == 0)
            return m->opset_versions[i] > INT32_MAX ? INT32_MAX : (int)m->opset_versions[i];
    return -1;
}

static const char *node_label(const Onnx__NodeProto *np)
{
    if (np->name && *np->name)
        return np->name;
    return np->n_output && np->output[0] ? np->output[0] : "";
}

static int add_node(struct loader *L, const Onnx__NodeProto *np, struct gd_node *n)
{
    struct gd_engine_model *m = L->m;
    const char *op = np->op_type ? np->op_type : "";
    if (np->n_input > GD_MODEL_MAX_NODE_IO || np->n_output > GD_MODEL_MAX_NODE_IO)
        return gd__errf(L->err, L->errlen, GD_ELIMIT, "node '%s' (%s): too many inputs/outputs",
                        node_label(np), op);
    if (!(n->name = astr(m, node_label(np))) || !(n->op_type = astr(m, op)) ||
        !(n->domain = astr(m, (np->domain && strcmp(np->domain, "ai.onnx")) ? np->domain : "")))
        return gd__errf(L->err, L->errlen, GD_ENOMEM, "out of memory");
    if (!*op)
        return gd__errf(L->err, L->errlen, GD_EINVAL, "node '%s' has no op_type", n->name);
    if ((n->opset = opset_for(m, n->domain)) < 0)
        return gd__errf(L->err, L->errlen, GD_EINVAL, "node '%s' (%s): domain '%s' not imported",
                        n->name, op, n->domain);
    n->n_in = (int)np->n_input;
    n->n_out = (int)np->n_output;
    n->in = gd_arena_alloc(&m->arena, sizeof(int) * (np->n_input + 1));
    n->out = gd_arena_alloc(&m->arena, sizeof(int) * (np->n_output + 1));
    n->attrs = gd_arena_calloc(&m->arena, np->n_attribute + 1, sizeof *n->attrs);
    if (!n->in || !n->out || !n->attrs)
        return gd__errf(L->err, L->errlen, GD_ENOMEM, "out of memory");
    for (size_t i = 0; i < np->n_attribute; i++) {
        int rc = copy_attr(L, np->attribute[i], &n->attrs[i]);
        if (rc)
            return rc;
        n->n_attr++;
    }
    for (int i = 0; i < n->n_out; i++) {
        n->out[i] = -1;
        if (np->output[i] && *np->output[i]) {
            int rc = new_value(L, np->output[i], GD_VALUE_INTERMEDIATE, &n->out[i]);
            if (rc)
                return rc;
        }
    }
    n->def = gd_op_lookup(n->domain, n->op_type, n->opset);
    return 0;
}

static int add_implicit(struct gd_engine_model *m, struct gd_node *n, int v)
{
    for (int i = 0; i < n->n_implicit; i++)
        if (n->implicit[i] == v)
            return 0;
    int *a = gd_arena_alloc(&m->arena, sizeof(int) * (size_t)(n->n_implicit + 1));
    if (!a)
        return GD_ENOMEM;
    if (n->n_implicit)
        memcpy(a, n->implicit, sizeof(int) * (size_t)n->n_implicit);
    a[n->n_implicit++] = v;
    n->implicit = a;
    return 0;
}

/* A name this (sub)graph does not define: look it up in the enclosing graphs. On success
 * *out is a local GD_VALUE_OUTER value and the owning node up there records the read. */
static int resolve_outer(struct loader *L, const char *name, int *out)
{
    int depth = 1;
    for (struct loader *cur = L; cur->parent; cur = cur->parent, depth++) {
        int pidx = *map_slot(&cur->parent->names, name);
        if (pidx < 0)
            continue;
        int rc = new_value(L, name, GD_VALUE_OUTER, out);
        if (rc)
            return rc;
        L->m->values[*out].outer_depth = depth;
        L->m->values[*out].outer_idx = pidx;
        if (add_implicit(cur->parent->m, cur->parent_node, pidx))
            return gd__errf(L->err, L->errlen, GD_ENOMEM, "out of memory");
        return 0;
    }
    return GD_ENOENT;
}

static int load_graph(struct loader *L, const Onnx__GraphProto *g);
static int build_io_info(struct gd_engine_model *m);

/* Converts a GRAPH attribute into a child model sharing the parent's opset imports. */
static int load_subgraph(struct loader *L, struct gd_node *n, struct gd_attr *a)
{
    const Onnx__GraphProto *g = a->pending;
    struct gd_engine_model *m = L->m, *c;
    a->pending = NULL;
    if (L->depth >= 16)
        return gd__errf(L->err, L->errlen, GD_ELIMIT, "node '%s' (%s): subgraphs nested too deep",
                        n->name, n->op_type);
    if (m->n_children == m->cap_children) {
        int cap = m->cap_children ? 2 * m->cap_children : 4;
        struct gd_engine_model **ch = gd_realloc(m->children, sizeof *ch * (size_t)cap);
        if (!ch)
            return gd__errf(L->err, L->errlen, GD_ENOMEM, "out of memory");
        m->children = ch;
        m->cap_children = cap;
    }
    if (!(c = gd_calloc(1, sizeof *c)))
        return gd__errf(L->err, L->errlen, GD_ENOMEM, "out of memory");
    m->children[m->n_children++] = c;
    gd_arena_init(&c->arena, 16 * 1024, (size_t)1 << 30);
    c->ir_version = m->ir_version;
    c->n_opsets = m->n_opsets;
    c->opset_domains = m->opset_domains;
    c->opset_versions = m->opset_versions;
    struct loader sub = {.parent = L,
                         .parent_node = n,
                         .depth = L->depth + 1,
                         .m = c,
                         .base_dir = L->base_dir,
                         .err = L->err,
                         .errlen = L->errlen};
    int rc = load_graph(&sub, g);
    if (!rc)
        rc = gd__graph_finish(c, L->err, L->errlen);
    if (!rc && build_io_info(c))
        rc = gd__errf(L->err, L->errlen, GD_ENOMEM, "out of memory");
    if (!rc)
        a->g = c;
    return rc;
}

/* Second pass over nodes, once every output exists: resolve input names. */
static int link_inputs(struct loader *L, const Onnx__NodeProto *np, struct gd_node *n)
{
    for (int i = 0; i < n->n_in; i++) {
        n->in[i] = -1;
        if (!np->input[i] || !*np->input[i])
            continue;
        int idx = *map_slot(&L->names, np->input[i]);
        if (idx < 0 && resolve_outer(L, np->input[i], &idx) == GD_ENOMEM)
            return GD_ENOMEM;
        if (idx < 0)
            return gd__errf(L->err, L->errlen, GD_EINVAL,
                            "node '%s' (%s): input '%s' is not defined by any node, input or "
                            "initializer",
                            n->name, n->op_type, np->input[i]);
        n->in[i] = idx;
    }
    for (int i = 0; i < n->n_attr; i++)
        if (n->attrs[i].pending) {
            int rc = load_subgraph(L, n, &n->attrs[i]);
            if (rc)
                return rc;
        }
    return 0;
}

static int load_io(struct loader *L, const Onnx__GraphProto *g)
{
    struct gd_engine_model *m = L->m;
    m->inputs = gd_arena_alloc(&m->arena, sizeof(int) * (g->n_input + 1));
    m->outputs = gd_arena_alloc(&m->arena, sizeof(int) * (g->n_output + 1));
    if (!m->inputs || !m->outputs)
        return gd__errf(L->err, L->errlen, GD_ENOMEM, "out of memory");
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *vi = g->input[i];
        const char *name = vi->name ? vi->name : "";
        int idx = *map_slot(&L->names, name), rc;
        if (idx >= 0 && m->values[idx].kind == GD_VALUE_CONST)
            continue; /* an initializer listed as input (IR < 4 style): stays constant */
        if ((rc = new_value(L, name, GD_VALUE_INPUT, &idx)) ||
            (rc = parse_type(L, vi, &m->values[idx])))
            return rc;
        m->inputs[m->n_inputs++] = idx;
    }
    return 0;
}

static int load_outputs(struct loader *L, const Onnx__GraphProto *g)
{
    struct gd_engine_model *m = L->m;
    for (size_t i = 0; i < g->n_output; i++) {
        const Onnx__ValueInfoProto *vi = g->output[i];
        int idx = *map_slot(&L->names, vi->name ? vi->name : "");
        if (idx < 0 && vi->name && *vi->name && resolve_outer(L, vi->name, &idx) == GD_ENOMEM)
            return GD_ENOMEM;
        if (idx < 0)
            return gd__errf(L->err, L->errlen, GD_EINVAL, "graph output '%s' is never produced",
                            vi->name ? vi->name : "");
        int rc = parse_type(L, vi, &m->values[idx]);
        if (rc)
            return rc;
        m->values[idx].is_output = 1;
        m->outputs[m->n_outputs++] = idx;
    }
    if (m->n_outputs == 0)
        return gd__errf(L->err, L->errlen, GD_EINVAL, "graph has no outputs");
    return 0;
}

static int load_opsets(struct loader *L, const Onnx__ModelProto *mp)
{
    struct gd_engine_model *m = L->m;
    if (!mp->has_ir_version || mp->ir_version < 3 || mp->ir_version > 11)
        return gd__errf(L->err, L->errlen, GD_ENOTSUP, "unsupported ir_version %lld (need 3..11)",
                        (long long)mp->ir_version);
    m->ir_version = mp->ir_version;
    if (mp->n_opset_import == 0 || mp->n_opset_import > 1024)
        return gd__errf(L->err, L->errlen, GD_EINVAL, "model has %zu opset imports",
                        mp->n_opset_import);
    m->opset_domains = gd_arena_calloc(&m->arena, mp->n_opset_import, sizeof(char *));
    m->opset_versions = gd_arena_calloc(&m->arena, mp->n_opset_import, sizeof(int64_t));
    if (!m->opset_domains || !m->opset_versions)
        return gd__errf(L->err, L->errlen, GD_ENOMEM, "out of memory");
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        const char *d = (o->domain && strcmp(o->domain, "ai.onnx")) ? o->domain : "";
        if (!o->has_version || o->version < 1)
            return gd__errf(L->err, L->errlen, GD_EINVAL, "opset import '%s' has no version", d);
        if (opset_for(m, d) >= 0)
            return gd__errf(L->err, L->errlen, GD_EINVAL, "domain '%s' imported twice", d);
        if (!(m->opset_domains[m->n_opsets] = astr(m, d)))
            return gd__errf(L->err, L->errlen, GD_ENOMEM, "out of memory");
        m->opset_versions[m->n_opsets++] = o->version;
    }
    return 0;
}

static int err_is_set(const struct loader *L)
{
    return L->err && L->errlen && L->err[0];
}

static int load_graph(struct loader *L, const Onnx__GraphProto *g)
{
    struct gd_engine_model *m = L->m;
    size_t nv = g->n_initializer + g->n_input + g->n_output; /* outputs: outer captures */
    if (g->n_node > GD_MODEL_MAX_NODES)
        return gd__errf(L->err, L->errlen, GD_ELIMIT, "too many nodes (%zu)", g->n_node);
    for (size_t i = 0; i < g->n_node; i++) /* inputs: at most one outer capture each */
        nv += g->node[i]->n_output + (L->parent ? g->node[i]->n_input : 0);
    if (nv > GD_MODEL_MAX_VALUES)
        return gd__errf(L->err, L->errlen, GD_ELIMIT, "too many values (%zu)", nv);
    L->max_values = nv;
    m->values = gd_arena_calloc(&m->arena, nv + 1, sizeof *m->values);
    m->nodes = gd_arena_calloc(&m->arena, g->n_node + 1, sizeof *m->nodes);
    if (!m->values || !m->nodes || map_init(&L->names, &m->arena, nv + 1, m->values))
        return gd__errf(L->err, L->errlen, GD_ENOMEM, "out of memory");
    if (g->n_sparse_initializer)
        return gd__errf(L->err, L->errlen, GD_ENOTSUP, "sparse initializers are not supported");
    for (size_t i = 0; i < g->n_initializer; i++) {
        int idx, rc = new_value(L, g->initializer[i]->name, GD_VALUE_CONST, &idx);
        if (rc || (rc = own_tensor(L, g->initializer[i], &m->values[idx].konst)))
            return rc;
        m->values[idx].dtype = m->values[idx].konst->dtype;
    }
    int rc = load_io(L, g);
    for (size_t i = 0; !rc && i < g->n_node; i++)
        if (!(rc = add_node(L, g->node[i], &m->nodes[i])))
            m->n_nodes++;
    for (size_t i = 0; !rc && i < g->n_node; i++)
        rc = link_inputs(L, g->node[i], &m->nodes[i]);
    if (!rc)
        rc = load_outputs(L, g);
    for (size_t i = 0; !rc && i < g->n_value_info; i++) { /* declared intermediate types */
        const Onnx__ValueInfoProto *vi = g->value_info[i];
        int idx = *map_slot(&L->names, vi->name ? vi->name : "");
        if (idx >= 0 && m->values[idx].kind == GD_VALUE_INTERMEDIATE && m->values[idx].rank < 0 &&
            parse_type(L, vi, &m->values[idx]))
            m->values[idx].rank = -1; /* non-tensor or odd value_info: ignore it */
    }
    if (!rc && err_is_set(L))
        L->err[0] = 0;
    return rc;
}

static int build_io_info(struct gd_engine_model *m)
{
    m->in_info = gd_arena_calloc(&m->arena, (size_t)m->n_inputs + 1, sizeof *m->in_info);
    m->out_info = gd_arena_calloc(&m->arena, (size_t)m->n_outputs + 1, sizeof *m->out_info);
    if (!m->in_info || !m->out_info)
        return GD_ENOMEM;
    for (int k = 0; k < 2; k++) {
        int n = k ? m->n_outputs : m->n_inputs, *ids = k ? m->outputs : m->inputs;
        struct gd_engine_io *info = k ? m->out_info : m->in_info;
        for (int i = 0; i < n; i++) {
            const struct gd_value *v = &m->values[ids[i]];
            info[i] = (struct gd_engine_io){v->name, v->dtype, v->rank, v->dims, v->syms};
            if (v->kind == GD_VALUE_CONST && v->rank < 0) {
                info[i].rank = v->konst->rank;
                info[i].dims = v->konst->dims;
            }
        }
    }
    return 0;
}

void gd_engine_model_free(gd_engine_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_children; i++)
        gd_engine_model_free(m->children[i]);
    gd_free(m->children);
    for (int i = 0; i < m->n_owned; i++) {
        gd_tensor_release(m->owned[i]);
        gd_free(m->owned[i]);
    }
    gd_free(m->owned);
    gd_arena_free(&m->arena);
    gd_free(m);
}

/* Loads from data; when owned_buf is not NULL it is data and is freed as soon as the
 * protobuf is unpacked (protobuf-c copies bytes fields), lowering the load-time peak. */
static int load_memory(const void *data, size_t len, char *owned_buf, const char *base_dir,
                       gd_engine_model **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = 0;
    if (len > GD_MODEL_MAX_FILE) {
        gd_free(owned_buf);
        return gd__errf(err, errlen, GD_ELIMIT, "model larger than 2 GiB");
    }
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&gd__pb_allocator, len, data);
    gd_free(owned_buf);
    if (!mp)
        return gd__errf(err, errlen, GD_EPARSE, "not a valid ONNX model (protobuf parse failed)");
    struct gd_engine_model *m = gd_calloc(1, sizeof *m);
    int rc = GD_ENOMEM;
    if (!m)
        goto fail;
    gd_arena_init(&m->arena, 64 * 1024, (size_t)4 << 30);
    struct loader L = {.m = m, .base_dir = base_dir, .err = err, .errlen = errlen};
    if ((rc = load_opsets(&L, mp)))
        goto fail;
    if (!mp->graph) {
        rc = gd__errf(err, errlen, GD_EINVAL, "model has no graph");
        goto fail;
    }
    if ((rc = load_graph(&L, mp->graph)))
        goto fail;
    onnx__model_proto__free_unpacked(mp, &gd__pb_allocator);
    mp = NULL;
    if ((rc = gd__graph_finish(m, err, errlen)))
        goto fail;
    if ((rc = build_io_info(m))) {
        gd__errf(err, errlen, rc, "out of memory");
        goto fail;
    }
    *out = m;
    return 0;
fail:
    if (rc == GD_ENOMEM && err && !err[0])
        gd__errf(err, errlen, rc, "out of memory");
    if (mp)
        onnx__model_proto__free_unpacked(mp, &gd__pb_allocator);
    gd_engine_model_free(m);
    return rc;
}

int gd_engine_load_memory(const void *data, size_t len, const char *base_dir, gd_engine_model **out,
                          char *err, size_t errlen)
{
    return load_memory(data, len, NULL, base_dir, out, err, errlen);
}

int gd_engine_load_file(const char *path, gd_engine_model **out, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gd__errf(err, errlen, errno == ENOENT ? GD_ENOENT : GD_EIO, "%s: %s", path,
                        strerror(errno));
    struct stat st;
    char *buf = NULL, dir[PATH_MAX];
    int rc;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        rc = gd__errf(err, errlen, GD_EIO, "%s: not a regular file", path);
        goto fail;
    }
    if ((uint64_t)st.st_size > GD_MODEL_MAX_FILE) {
        rc = gd__errf(err, errlen, GD_ELIMIT, "%s: larger than 2 GiB", path);
        goto fail;
    }
    size_t n = (size_t)st.st_size, got = 0;
    if (!(buf = gd_malloc(n ? n : 1))) {
        rc = gd__errf(err, errlen, GD_ENOMEM, "out of memory reading %s", path);
        goto fail;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) {
            rc = gd__errf(err, errlen, GD_EIO, "%s: read failed", path);
            goto fail;
        }
        got += (size_t)r;
    }
    snprintf(dir, sizeof dir, "%s", path);
    rc = load_memory(buf, n, buf, dirname(dir), out, err, errlen);
    buf = NULL; /* freed by load_memory */
fail:
    gd_free(buf);
    close(fd);
    return rc;
}

/* ---- model queries ---- */
int gd_engine_num_inputs(const gd_engine_model *m)
{
    return m->n_inputs;
}
int gd_engine_num_outputs(const gd_engine_model *m)
{
    return m->n_outputs;
}
int gd_engine_input_info(const gd_engine_model *m, int i, struct gd_engine_io *out)
{
    if (i < 0 || i >= m->n_inputs)
        return GD_ERANGE;
    *out = m->in_info[i];
    return 0;
}
int gd_engine_output_info(const gd_engine_model *m, int i, struct gd_engine_io *out)
{
    if (i < 0 || i >= m->n_outputs)
        return GD_ERANGE;
    *out = m->out_info[i];
    return 0;
}
int64_t gd_engine_ir_version(const gd_engine_model *m)
{
    return m->ir_version;
}
int gd_engine_num_opsets(const gd_engine_model *m)
{
    return m->n_opsets;
}
int gd_engine_opset_at(const gd_engine_model *m, int i, const char **domain, int64_t *version)
{
    if (i < 0 || i >= m->n_opsets)
        return GD_ERANGE;
    *domain = m->opset_domains[i];
    *version = m->opset_versions[i];
    return 0;
}
int gd_engine_num_nodes(const gd_engine_model *m)
{
    return m->n_model_nodes;
}
int gd_engine_num_exec_nodes(const gd_engine_model *m)
{
    return m->n_nodes;
}
int gd_engine_node_op(const gd_engine_model *m, int i, const char **domain, const char **op)
{
    if (i < 0 || i >= m->n_model_nodes)
        return GD_ERANGE;
    *domain = m->model_ops[2 * i];
    *op = m->model_ops[2 * i + 1];
    return 0;
}
