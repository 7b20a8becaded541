/* Protocol Buffers wire-format writers (see pb.h). */
#include "obs/pb.h"

#include <string.h>

int gd_pb_varint(struct gd_buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return gd_buf_append(b, t, n);
}

int gd_pb_tag(struct gd_buf *b, unsigned field, unsigned wire)
{
    return gd_pb_varint(b, (uint64_t)field << 3 | wire);
}

int gd_pb_bytes(struct gd_buf *b, unsigned field, const void *p, size_t n)
{
    int rc = gd_pb_tag(b, field, GD_PB_LEN);
    rc = rc ? rc : gd_pb_varint(b, n);
    return rc ? rc : gd_buf_append(b, p, n);
}

int gd_pb_fixed64(struct gd_buf *b, unsigned field, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    int rc = gd_pb_tag(b, field, GD_PB_I64);
    return rc ? rc : gd_buf_append(b, t, 8);
}

int gd_pb_double(struct gd_buf *b, unsigned field, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return gd_pb_fixed64(b, field, bits);
}

int gd_pb_uint(struct gd_buf *b, unsigned field, uint64_t v)
{
    int rc = gd_pb_tag(b, field, GD_PB_VARINT);
    return rc ? rc : gd_pb_varint(b, v);
}
