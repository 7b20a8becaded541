/* NumPy .npy files <-> tensors (format versions 1.0, 2.0 and 3.0; C order only).
 * Supported descr: <f2 <f4 <f8 |b1 |i1 |u1 <i2 <u2 <i4 <u4 <i8 <u8 ('=' and '|' accepted as
 * native little-endian). Untrusted input: header length, shape and data size are checked.
 * Thread-safe (no shared state). Errors: 0 or GD_E* with a message in err. */
#ifndef GD_ENGINE_NPY_H
#define GD_ENGINE_NPY_H

#include <stddef.h>

#include "engine/tensor.h"

/* Parses an .npy image into out (owns its data). */
int gd_npy_parse(const void *data, size_t len, struct gd_tensor *out, char *err, size_t errlen);
/* Reads a file (capped at 4 GiB) and parses it. */
int gd_npy_read_file(const char *path, struct gd_tensor *out, char *err, size_t errlen);
/* Writes t as a version 1.0 .npy file (strings are not supported: GD_ENOTSUP). */
int gd_npy_write_file(const char *path, const struct gd_tensor *t, char *err, size_t errlen);

#endif
