/* Declarations of op family tables. Registration is automatic (see registry.c): a family
 * file defines `const struct gd_op_def gd_ops_<family>[] = {` at the start of a line,
 * terminated by a zero entry. Declaring it here as well is optional. */
#ifndef GD_ENGINE_OPS_REGISTRY_H
#define GD_ENGINE_OPS_REGISTRY_H

#include "engine/op.h"

extern const struct gd_op_def gd_ops_core[]; /* core.c: Identity, Constant (engine) */
extern const struct gd_op_def gd_ops_shape[];  /* shape.c: Reshape, Flatten, Squeeze... */
extern const struct gd_op_def gd_ops_slice[];  /* slice.c: Slice */
extern const struct gd_op_def gd_ops_tensor[]; /* tensor.c: Transpose, Concat, Split... */

#endif
