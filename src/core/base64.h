/* Base64 (RFC 4648, standard alphabet, with '=' padding) appended to a gd_buf. */
#ifndef GD_CORE_BASE64_H
#define GD_CORE_BASE64_H

#include "core/buf.h"

#include <stddef.h>

/* Appends the encoding of data[0..n). Errors: gd_buf's (GD_ELIMIT, GD_ENOMEM). */
int gd_base64_encode(struct gd_buf *b, const void *data, size_t n);

#endif
