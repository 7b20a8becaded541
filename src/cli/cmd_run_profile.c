/* girder run --profile: where a run's time goes, per op type and per node (the executed
 * graph, after constant folding and fusion), from the session's node timings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "engine/tensor.h"

enum { TOP_NODES = 15 };

static int by_ns(const void *a, const void *b)
{
    const struct gd_engine_node_profile *x = a, *y = b;
    return (x->ns < y->ns) - (x->ns > y->ns);
}

static int by_op(const void *a, const void *b)
{
    const struct gd_engine_node_profile *x = a, *y = b;
    int c = strcmp(x->domain, y->domain);
    return c ? c : strcmp(x->op, y->op);
}

void gd_run_print_profile(const gd_engine_model *m, const gd_engine_session *s, int runs)
{
    int n = gd_engine_num_exec_nodes(m);
    struct gd_engine_node_profile *p = gd_calloc((size_t)n + 1, sizeof *p);
    struct gd_engine_node_profile *ops = gd_calloc((size_t)n + 1, sizeof *ops);
    if (!p || !ops || runs < 1) {
        gd_free(p);
        gd_free(ops);
        return;
    }
    uint64_t total = 0;
    int k = 0, nops = 0;
    for (int i = 0; i < n; i++)
        if (gd_engine_node_profile(s, i, &p[k]) == 0)
            total += p[k++].ns;
    /* per op type: sum the nodes of each (domain, op) */
    memcpy(ops, p, sizeof *p * (size_t)k);
    qsort(ops, (size_t)k, sizeof *ops, by_op);
    for (int i = 0; i < k; i++)
        if (nops && !by_op(&ops[nops - 1], &ops[i])) {
            ops[nops - 1].ns += ops[i].ns;
            ops[nops - 1].runs++; /* reused as the node count */
        } else {
            ops[nops] = ops[i];
            ops[nops++].runs = 1;
        }
    qsort(ops, (size_t)nops, sizeof *ops, by_ns);
    double per = (double)runs * 1e6, all = total ? (double)total : 1;
    printf("profile: %d runs, %.3f ms per run in %d nodes\n", runs, (double)total / per, k);
    printf("  %-28s %6s %9s %6s\n", "op", "nodes", "ms/run", "%");
    for (int i = 0; i < nops; i++)
        printf("  %-28s %6llu %9.3f %6.1f\n", ops[i].op, (unsigned long long)ops[i].runs,
               (double)ops[i].ns / per, 100.0 * (double)ops[i].ns / all);
    qsort(p, (size_t)k, sizeof *p, by_ns);
    printf("  top nodes:\n  %9s %6s  %-20s %-24s %s\n", "ms/run", "%", "op", "output", "node");
    for (int i = 0; i < k && i < TOP_NODES; i++) {
        char shape[128] = "?";
        if (p[i].rank >= 0)
            gd_shape_str(p[i].rank, p[i].dims, shape, sizeof shape);
        printf("  %9.3f %6.1f  %-20s %-24s %s\n", (double)p[i].ns / per,
               100.0 * (double)p[i].ns / all, p[i].op, shape, p[i].name ? p[i].name : "");
    }
    gd_free(p);
    gd_free(ops);
}
