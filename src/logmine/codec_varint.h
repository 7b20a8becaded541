/* Byte-level primitives of the log archive: LEB128 varints, zigzag, and a bounds-checked
 * reader for untrusted input. Every read goes through struct gd_codec_rd, which never reads
 * past `end`: a truncated or corrupt input sets `err` and later reads return zeros, so a
 * decoder can check the error once per section instead of after every call.
 * Not thread-safe per object; no global state. */
#ifndef GD_LOGMINE_CODEC_VARINT_H
#define GD_LOGMINE_CODEC_VARINT_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

struct gd_codec_rd {
    const uint8_t *p;
    const uint8_t *end;
    int err; /* 0, or GD_EPARSE once anything was out of bounds or malformed */
};

static inline uint64_t gd_codec_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t gd_codec_unzigzag(uint64_t u)
{
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

/* Appends an unsigned LEB128 varint (1..10 bytes). Errors: those of gd_buf_append. */
int gd_codec_put_uvar(struct gd_buf *b, uint64_t v);
/* Appends a length-prefixed byte string. */
int gd_codec_put_bytes(struct gd_buf *b, const void *p, size_t n);
/* Bytes a varint of v takes. */
size_t gd_codec_uvar_len(uint64_t v);

void gd_codec_rd_init(struct gd_codec_rd *r, const void *p, size_t n);
/* Reads a varint; on truncation or a varint longer than 64 bits sets r->err, returns 0. */
uint64_t gd_codec_get_uvar(struct gd_codec_rd *r);
/* Reads a varint and checks it is <= max (sets r->err otherwise, returns 0). */
uint64_t gd_codec_get_count(struct gd_codec_rd *r, uint64_t max);
/* Returns a pointer to the next n bytes and skips them, or NULL (sets err) when fewer remain. */
const uint8_t *gd_codec_get_raw(struct gd_codec_rd *r, size_t n);
static inline size_t gd_codec_rd_left(const struct gd_codec_rd *r)
{
    return (size_t)(r->end - r->p);
}

#endif
