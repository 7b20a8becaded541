/* Internal: the entropy coders behind archive blocks (zstd, LZMA, stored) and the cheap
 * size estimate the writer uses to decide whether a plain candidate is worth computing.
 * See archive.h for the file format. Not thread-safe per context; no global state. */
#ifndef GD_LOGMINE_ARCHIVE_CODER_H
#define GD_LOGMINE_ARCHIVE_CODER_H

#include "core/buf.h"

#include <stddef.h>

/* Coder of a block payload (low 2 bits of the block's method byte). */
enum gd_larc_coder {
    GD_LARC_STORED = 0, /* the bytes as they are */
    GD_LARC_ZSTD = 1,   /* one zstd frame, no content size, no checksum */
    GD_LARC_LZMA = 2,   /* raw LZMA1 (lc3 lp0 pb2), no end marker: the size is in the header */
};

typedef struct gd_larc_coder_ctx gd_larc_coder_ctx;
gd_larc_coder_ctx *gd_larc_coder_new(void);
void gd_larc_coder_free(gd_larc_coder_ctx *c);

/* Appends src[0..n) coded with `coder` to out. zstd: `level`; `long_window` sizes the window to
 * the whole input and turns on long-distance matching (what `zstd --long` does); the block
 * splitter is forced on. LZMA: xz's preset 9e with the dictionary sized to the input.
 * Errors: GD_ENOMEM, GD_ELIMIT (out's cap), GD_EINVAL (coder failure). */
int gd_larc_code(gd_larc_coder_ctx *c, int coder, int level, int long_window, const void *src,
                 size_t n, struct gd_buf *out);

/* Decodes exactly n payload bytes into a fresh gd_malloc buffer of exactly sz bytes (*out; at
 * least one byte allocated). Untrusted input: sz must be <= max_sz; a payload that does not
 * decode to exactly sz bytes using all n bytes is GD_EPARSE. Errors: GD_EPARSE, GD_ENOMEM. */
int gd_larc_decode(int coder, const void *src, size_t n, size_t sz, size_t max_sz, void **out);

/* Size of src[0..n) under a fast zstd configuration (lazy matching, small tables, window
 * over the whole input). On logs it is 1.0-1.25x the size of `zstd -19 --long` and
 * 1.0-1.4x that of LZMA 9e (docs/logs-archive.md), at ~3% of their cost. */
size_t gd_larc_estimate(gd_larc_coder_ctx *c, const void *src, size_t n);

#endif
