/* Graph preparation after loading: topological order (Kahn's algorithm, stable with
 * respect to the file's order, so a well-formed model keeps its order and a cyclic one is
 * rejected naming a node on the cycle), constant folding (a node whose inputs are all
 * constants runs once at load and its outputs become constants), and liveness (the last
 * node reading each value, which lets the session recycle buffers as soon as a value dies
 * and lets ops run in place on dead inputs); then node fusion (fuse.c). */
#include <string.h>

#include "core/alloc.h"
#include "engine/model.h"

/* Values node n reads: its inputs, then the outer values its subgraphs capture. */
static int n_reads(const struct gd_node *n)
{
    return n->n_in + n->n_implicit;
}
static int read_at(const struct gd_node *n, int k)
{
    return k < n->n_in ? n->in[k] : n->implicit[k - n->n_in];
}

/* Min-heap of node indices: always emitting the lowest ready index keeps the file's order
 * for an already sorted graph and gives O((n + E) log n) for any graph. */
static void heap_push(int *h, int *n, int v)
{
    int i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > v) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

static int heap_pop(int *h, int *n)
{
    int top = h[0], v = h[--(*n)], i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && h[c + 1] < h[c])
            c++;
        if (h[c] >= v)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
    return top;
}

struct topo {
    int *indeg, *heap, *prod, *cstart, *cons;
    struct gd_node *sorted;
};

static void topo_free(struct topo *t)
{
    gd_free(t->indeg);
    gd_free(t->heap);
    gd_free(t->prod);
    gd_free(t->cstart);
    gd_free(t->cons);
    gd_free(t->sorted);
}

/* Consumers of each node's outputs in CSR form (cstart[i]..cstart[i+1] in cons). */
static int topo_edges(const struct gd_engine_model *m, struct topo *t)
{
    int n = m->n_nodes;
    size_t edges = 0;
    for (int v = 0; v < m->n_values; v++)
        t->prod[v] = -1;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < m->nodes[i].n_out; k++)
            if (m->nodes[i].out[k] >= 0)
                t->prod[m->nodes[i].out[k]] = i;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n_reads(&m->nodes[i]); k++)
            if (read_at(&m->nodes[i], k) >= 0 && t->prod[read_at(&m->nodes[i], k)] >= 0) {
                t->indeg[i]++;
                t->cstart[t->prod[read_at(&m->nodes[i], k)] + 1]++;
                edges++;
            }
    for (int i = 0; i < n; i++)
        t->cstart[i + 1] += t->cstart[i];
    if (!(t->cons = gd_malloc(sizeof(int) * (edges + 1))))
        return GD_ENOMEM;
    int *fill = t->heap; /* temporarily: per-node fill position */
    for (int i = 0; i < n; i++)
        fill[i] = t->cstart[i];
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n_reads(&m->nodes[i]); k++)
            if (read_at(&m->nodes[i], k) >= 0 && t->prod[read_at(&m->nodes[i], k)] >= 0)
                t->cons[fill[t->prod[read_at(&m->nodes[i], k)]]++] = i;
    return 0;
}

static int topo_sort(struct gd_engine_model *m, char *err, size_t errlen)
{
    int n = m->n_nodes, rc = 0, hn = 0, done = 0;
    if (n == 0)
        return 0;
    struct topo t = {0};
    t.indeg = gd_calloc((size_t)n, sizeof(int));
    t.heap = gd_calloc((size_t)n, sizeof(int));
    t.cstart = gd_calloc((size_t)n + 1, sizeof(int));
    t.prod = gd_malloc(sizeof(int) * (size_t)(m->n_values ? m->n_values : 1));
    t.sorted = gd_calloc((size_t)n, sizeof *t.sorted);
    if (!t.indeg || !t.heap || !t.cstart || !t.prod || !t.sorted || topo_edges(m, &t)) {
        rc = gd__errf(err, errlen, GD_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < n; i++)
        if (t.indeg[i] == 0)
            heap_push(t.heap, &hn, i);
    while (hn > 0) {
        int i = heap_pop(t.heap, &hn);
        t.sorted[done++] = m->nodes[i];
        for (int c = t.cstart[i]; c < t.cstart[i + 1]; c++)
            if (--t.indeg[t.cons[c]] == 0)
                heap_push(t.heap, &hn, t.cons[c]);
    }
    if (done < n) {
        for (int i = 0; i < n; i++)
            if (t.indeg[i] > 0) {
                rc = gd__errf(err, errlen, GD_EINVAL, "graph has a cycle through node '%s' (%s)",
                              m->nodes[i].name, m->nodes[i].op_type);
                goto fail;
            }
    }
    memcpy(m->nodes, t.sorted, sizeof *t.sorted * (size_t)n);
fail:
    topo_free(&t);
    return rc;
}

#define FOLD_MAX_BYTES ((size_t)64 << 20)
/* A Loop of constants with a long trip count is left to run time. */
#define FOLD_MAX_NODE_RUNS 4096

/* Ops whose result must not be computed once at load. */
static int foldable(const struct gd_node *nd)
{
    static const char *const never[] = {"RandomNormal",      "RandomUniform", "RandomNormalLike",
                                        "RandomUniformLike", "Multinomial",   "Bernoulli"};
    if (!nd->def || nd->n_out == 0)
        return 0;
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        if (strcmp(nd->op_type, never[i]) == 0)
            return 0;
    return 1;
}

/* Runs node i with constant inputs; on success its outputs become constants. */
static int fold_node(struct gd_engine_model *m, struct gd_tensor *slots, int i)
{
    const struct gd_node *nd = &m->nodes[i];
    for (int k = 0; k < n_reads(nd); k++)
        if (read_at(nd, k) >= 0 && m->values[read_at(nd, k)].kind != GD_VALUE_CONST)
            return 0;
    char msg[256];
    /* Outputs over FOLD_MAX_BYTES, and work over FOLD_MAX_NODE_RUNS, are left to run time
     * (bounded load, small models). */
    uint64_t runs_left = FOLD_MAX_NODE_RUNS;
    struct gd_exec e = {.m = m,
                        .slots = slots,
                        .err = msg,
                        .errlen = sizeof msg,
                        .max_bytes = FOLD_MAX_BYTES,
                        .runs_left = &runs_left};
    if (gd__exec_node(&e, nd, i)) {
        for (int k = 0; k < nd->n_out; k++)
            if (nd->out[k] >= 0)
                gd_tensor_release(&slots[nd->out[k]]);
        return 0; /* left for run time, which reports the error */
    }
    for (int k = 0; k < nd->n_out; k++) {
        int v = nd->out[k];
        if (v < 0)
            continue;
        struct gd_tensor *t = gd_malloc(sizeof *t);
        if (!t || gd__model_own(m, t)) {
            gd_free(t);
            return GD_ENOMEM;
        }
        *t = slots[v];
        memset(&slots[v], 0, sizeof slots[v]);
        m->values[v].kind = GD_VALUE_CONST;
        m->values[v].konst = t;
        slots[v] = *t;
        slots[v].owns_data = 0;
    }
    return 1;
}

static int fold_constants(struct gd_engine_model *m, char *err, size_t errlen)
{
    struct gd_tensor *slots = gd_calloc((size_t)m->n_values + 1, sizeof *slots);
    char *dead = gd_calloc((size_t)m->n_nodes + 1, 1);
    int rc = 0, kept = 0;
    if (!slots || !dead) {
        rc = gd__errf(err, errlen, GD_ENOMEM, "out of memory");
        goto fail;
    }
    for (int v = 0; v < m->n_values; v++)
        if (m->values[v].kind == GD_VALUE_CONST) {
            slots[v] = *m->values[v].konst;
            slots[v].owns_data = 0;
        }
    for (int i = 0; i < m->n_nodes; i++) {
        if (!foldable(&m->nodes[i]))
            continue;
        int r = fold_node(m, slots, i);
        if (r < 0) {
            rc = gd__errf(err, errlen, r, "out of memory folding constants");
            goto fail;
        }
        dead[i] = (char)r;
    }
    for (int i = 0; i < m->n_nodes; i++)
        if (!dead[i])
            m->nodes[kept++] = m->nodes[i];
    m->n_nodes = kept;
fail:
    gd_free(slots);
    gd_free(dead);
    return rc;
}

static void liveness(struct gd_engine_model *m)
{
    for (int v = 0; v < m->n_values; v++) {
        m->values[v].last_use = -1;
        m->values[v].producer = -1;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        const struct gd_node *nd = &m->nodes[i];
        for (int k = 0; k < nd->n_out; k++)
            if (nd->out[k] >= 0) {
                m->values[nd->out[k]].producer = i;
                m->values[nd->out[k]].last_use = i; /* dies right away if never read */
            }
        for (int k = 0; k < n_reads(nd); k++)
            if (read_at(nd, k) >= 0)
                m->values[read_at(nd, k)].last_use = i;
    }
    for (int o = 0; o < m->n_outputs; o++)
        m->values[m->outputs[o]].last_use = INT32_MAX;
}

/* Drops the data of constants nothing reads any more (inputs of folded nodes, e.g. the
 * weights behind a folded Identity or Transpose), so folding never doubles their memory. */
static void drop_dead_constants(struct gd_engine_model *m)
{
    char *used = gd_calloc((size_t)m->n_values + 1, 1);
    if (!used)
        return; /* keeping them is only a memory cost */
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < n_reads(&m->nodes[i]); k++)
            if (read_at(&m->nodes[i], k) >= 0)
                used[read_at(&m->nodes[i], k)] = 1;
    for (int v = 0; v < m->n_values; v++)
        if (m->values[v].kind == GD_VALUE_CONST && !used[v] && !m->values[v].is_output)
            gd_tensor_release((struct gd_tensor *)m->values[v].konst);
    gd_free(used);
}

int gd__graph_finish(struct gd_engine_model *m, char *err, size_t errlen)
{
    int rc = topo_sort(m, err, errlen);
    if (rc)
        return rc;
    m->n_model_nodes = m->n_nodes;
    m->model_ops = gd_arena_calloc(&m->arena, (size_t)m->n_nodes + 1, 2 * sizeof(char *));
    if (!m->model_ops)
        return gd__errf(err, errlen, GD_ENOMEM, "out of memory");
    for (int i = 0; i < m->n_nodes; i++) {
        m->model_ops[2 * i] = m->nodes[i].domain;
        m->model_ops[2 * i + 1] = m->nodes[i].op_type;
    }
    if ((rc = fold_constants(m, err, errlen)))
        return rc;
    drop_dead_constants(m);
    liveness(m);
    if (gd__shape_infer(m))
        return gd__errf(err, errlen, GD_ENOMEM, "out of memory inferring shapes");
    if ((rc = gd__graph_fuse(m)) < 0)
        return gd__errf(err, errlen, rc, "out of memory fusing nodes");
    if (rc > 0) { /* nodes were absorbed: constants (BatchNorm's) and lifetimes changed */
        drop_dead_constants(m);
        liveness(m);
    }
    if ((rc = gd__model_prepack(m)) < 0)
        return gd__errf(err, errlen, rc, "out of memory packing weights");
    return 0;
}
