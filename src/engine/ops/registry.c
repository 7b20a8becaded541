/* The op registry: every family table, searched by (domain, op_type, opset).
 * Tables are registered automatically: src/engine/CMakeLists.txt finds each line
 * `const struct gd_op_def gd_ops_<name>[] = {` in the src/engine/ops sources and lists it in the
 * generated ops_tables.h (GD_OPS_TABLES), so adding a family needs no edit here. */
#include <string.h>

#include "engine/op.h"
#include "engine/ops/registry.h"
#include "ops_tables.h"

static const struct gd_op_def *const tables[] = {GD_OPS_TABLES};
enum { N_TABLES = sizeof tables / sizeof tables[0] };

static int domain_eq(const char *a, const char *b)
{
    if (!a || strcmp(a, "ai.onnx") == 0)
        a = "";
    if (!b || strcmp(b, "ai.onnx") == 0)
        b = "";
    return strcmp(a, b) == 0;
}

const struct gd_op_def *gd_op_lookup(const char *domain, const char *op_type, int opset)
{
    const struct gd_op_def *best = NULL;
    for (int t = 0; t < N_TABLES; t++)
        for (const struct gd_op_def *d = tables[t]; d->op_type; d++) {
            if (strcmp(d->op_type, op_type) != 0 || !domain_eq(d->domain, domain))
                continue;
            if (opset < d->since_min || (d->since_max && opset > d->since_max))
                continue;
            if (!best || d->since_min > best->since_min)
                best = d;
        }
    return best;
}

int gd_op_known(const char *domain, const char *op_type)
{
    for (int t = 0; t < N_TABLES; t++)
        for (const struct gd_op_def *d = tables[t]; d->op_type; d++)
            if (strcmp(d->op_type, op_type) == 0 && domain_eq(d->domain, domain))
                return 1;
    return 0;
}
