/* Protocol Buffers wire-format writers shared by girder's hand-written encoders (OTLP traces in
 * otlp_encode.c, Prometheus remote write in remote_write_encode.c). Each appends one field
 * (tag + payload) to a gd_buf and returns 0 or the buffer's error (GD_ELIMIT/GD_ENOMEM).
 * Nested messages are encoded into their own buffer first, then added with gd_pb_bytes. */
#ifndef GD_OBS_PB_H
#define GD_OBS_PB_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

enum { GD_PB_VARINT = 0, GD_PB_I64 = 1, GD_PB_LEN = 2 };

int gd_pb_varint(struct gd_buf *b, uint64_t v);                             /* a bare varint */
int gd_pb_tag(struct gd_buf *b, unsigned field, unsigned wire);             /* field << 3 | wire */
int gd_pb_bytes(struct gd_buf *b, unsigned field, const void *p, size_t n); /* LEN field */
int gd_pb_fixed64(struct gd_buf *b, unsigned field, uint64_t v);            /* I64 field */
int gd_pb_double(struct gd_buf *b, unsigned field, double v);               /* I64 field */
int gd_pb_uint(struct gd_buf *b, unsigned field, uint64_t v); /* VARINT (int64 as two's c.) */

#endif
