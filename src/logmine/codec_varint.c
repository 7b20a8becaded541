/* LEB128 varints and the bounds-checked reader (see codec_varint.h). */
#include "logmine/codec_varint.h"
#include "girder/error.h"

int gd_codec_put_uvar(struct gd_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    return gd_buf_append(b, tmp, n);
}

int gd_codec_put_bytes(struct gd_buf *b, const void *p, size_t n)
{
    int rc = gd_codec_put_uvar(b, n);
    return rc ? rc : gd_buf_append(b, p, n);
}

size_t gd_codec_uvar_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

void gd_codec_rd_init(struct gd_codec_rd *r, const void *p, size_t n)
{
    static const uint8_t empty[1];
    r->p = p ? (const uint8_t *)p : empty; /* NULL + 0 is undefined behaviour */
    r->end = r->p + (p ? n : 0);
    r->err = 0;
}

uint64_t gd_codec_get_uvar(struct gd_codec_rd *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            break;
        uint8_t c = *r->p++;
        if (shift == 63 && c > 1)
            break; /* more than 64 bits */
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    r->err = GD_EPARSE;
    r->p = r->end;
    return 0;
}

uint64_t gd_codec_get_count(struct gd_codec_rd *r, uint64_t max)
{
    uint64_t v = gd_codec_get_uvar(r);
    if (v > max) {
        r->err = GD_EPARSE;
        r->p = r->end;
        return 0;
    }
    return v;
}

const uint8_t *gd_codec_get_raw(struct gd_codec_rd *r, size_t n)
{
    if (r->err || (size_t)(r->end - r->p) < n) {
        r->err = GD_EPARSE;
        r->p = r->end;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}
