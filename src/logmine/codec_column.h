/* Typed column codec of the log archive.
 *
 * A column is the list of values one variable position takes (one template slot, or one
 * header field) in line order. The encoder infers a representation from the values and
 * writes it into three byte streams that are later compressed with zstd:
 *   META  kinds, counts and small parameters,
 *   NUM   integer payloads (varints or fixed-width little-endian bytes),
 *   STR   string bytes.
 * Keeping like with like gives zstd homogeneous data (numbers next to numbers).
 *
 * Representations (all lossless for arbitrary bytes):
 *   CONST  every value is the same string (stored once);
 *   DICT   distinct strings once + an index per value (low-cardinality values);
 *   RAW    lengths + concatenated bytes;
 *   SPLIT  every value has k digit runs (e.g. "blk_<n>", "<n>.<n>.<n>.<n>:<n>",
 *          "<n>:<n>:<n>,<n>", "Mon Jun <n> <n>:<n>:<n> <n>"): the k + 1 text pieces around
 *          them form the skeleton; a piece that is the same in every value is stored once,
 *          one that varies becomes a string sub-column. Each digit run becomes a
 *          sub-column: a signed integer (canonical decimal,
 *          optional '-' sign), a fixed-width zero-padded integer, or a string column;
 *          adjacent fixed-width runs are stored as one integer of their digits
 *          ("17:41:44,747" -> 174144747) so timestamps delta-code well.
 * Integer payloads pick the smallest of plain varint, delta+zigzag varint, fixed byte width,
 * or constant.
 *
 * Decoding is bounds-checked for untrusted input; decoded columns live in a caller arena and
 * may point into the (decompressed) input streams, which must outlive them.
 * Not thread-safe per object; no global state. */
#ifndef GD_LOGMINE_CODEC_COLUMN_H
#define GD_LOGMINE_CODEC_COLUMN_H

#include "core/arena.h"
#include "core/buf.h"
#include "logmine/codec_varint.h"

#include <stddef.h>
#include <stdint.h>

enum gd_codec_stream { GD_CODEC_META = 0, GD_CODEC_NUM, GD_CODEC_STR, GD_CODEC_NSTREAMS };

struct gd_codec_out {
    struct gd_buf s[GD_CODEC_NSTREAMS];
};
struct gd_codec_in {
    struct gd_codec_rd s[GD_CODEC_NSTREAMS];
};

/* One input value: bytes (not NUL-terminated) and length. */
struct gd_codec_str {
    const char *p;
    uint32_t len;
};

enum gd_codec_kind {
    GD_CODEC_KIND_CONST = 0,
    GD_CODEC_KIND_RAW = 1,
    GD_CODEC_KIND_DICT = 2,
    GD_CODEC_KIND_SPLIT = 3,
};
#define GD_CODEC_MAX_RUNS 12

/* A decoded string column (kind CONST, RAW or DICT). */
struct gd_codec_strcol {
    uint8_t kind;
    uint32_t n;       /* values */
    uint32_t d;       /* dictionary entries (DICT), 1 (CONST), n (RAW) */
    const char *base; /* entry i is base[off[i] .. off[i+1]) */
    uint32_t *off;    /* d + 1 offsets */
    uint32_t *idx;    /* DICT: n indices < d; NULL otherwise */
};

/* A decoded integer sub-column: SIGNED renders as canonical decimal, FIXED as exactly
 * `width` digits with leading zeros. */
enum gd_codec_int_kind {
    GD_CODEC_INT_SIGNED = 1,
    GD_CODEC_INT_FIXED = 2,
    GD_CODEC_INT_GROUP = 3, /* on disk only: adjacent FIXED runs stored as one integer */
};
struct gd_codec_sub {
    uint8_t int_kind; /* 0: string sub-column in sc */
    uint8_t width;
    uint64_t *v; /* n values (int64 bit patterns for SIGNED) */
    struct gd_codec_strcol sc;
};

struct gd_codec_column {
    uint8_t kind;
    uint32_t n;
    struct gd_codec_strcol sc; /* CONST / RAW / DICT */
    /* SPLIT: k digit runs, k + 1 skeleton pieces: constant piece[j] = pbase[poff[j] ..
     * poff[j+1]), or, when pvar[j].n != 0, a string sub-column */
    uint32_t k;
    const char *pbase;
    uint32_t *poff;
    struct gd_codec_strcol *pvar;
    struct gd_codec_sub *subs;
};

void gd_codec_out_init(struct gd_codec_out *o, size_t max_bytes);
void gd_codec_out_free(struct gd_codec_out *o);

/* Encodes n unsigned 64-bit integers (mode in META, payload in NUM). Errors: GD_ENOMEM,
 * GD_ELIMIT (stream cap). */
int gd_codec_ints_encode(struct gd_codec_out *o, const uint64_t *v, size_t n);
/* Decodes n integers into v (caller-allocated). Errors: GD_EPARSE (corrupt/truncated). */
int gd_codec_ints_decode(struct gd_codec_in *in, uint64_t *v, size_t n);

/* Encodes one column of n values (n >= 1), choosing the representation. Errors: GD_ENOMEM,
 * GD_ELIMIT. */
int gd_codec_column_encode(struct gd_codec_out *o, const struct gd_codec_str *v, size_t n);
/* Decodes a column of n values (n >= 1) written by gd_codec_column_encode. Memory comes from
 * arena a; the result may point into the input streams. Errors: GD_EPARSE, GD_ENOMEM. */
int gd_codec_column_decode(struct gd_codec_in *in, size_t n, struct gd_arena *a,
                           struct gd_codec_column *out);
/* Appends value i (< c->n) to out. Errors: those of gd_buf_append. */
int gd_codec_column_append(const struct gd_codec_column *c, size_t i, struct gd_buf *out);
/* Value i of a string column, zero-copy. */
static inline void gd_codec_strcol_get(const struct gd_codec_strcol *sc, size_t i, const char **p,
                                       size_t *len)
{
    uint32_t e = sc->kind == GD_CODEC_KIND_DICT  ? sc->idx[i]
                 : sc->kind == GD_CODEC_KIND_RAW ? (uint32_t)i
                                                 : 0;
    *p = sc->base + sc->off[e];
    *len = sc->off[e + 1] - sc->off[e];
}
/* Renders an integer sub-column value into dst (>= 21 bytes); returns its length. */
size_t gd_codec_int_render(const struct gd_codec_sub *s, uint64_t v, char *dst);

#endif
