/* girder log archive: lossless, columnar compression of log files, with search and schema.
 *
 * File format (all integers LEB128 varints unless said otherwise; docs/logs-archive.md):
 *   "GLA" 0x02                      magic + format version (other versions: a clear error)
 *   n, n bytes                      the recorded options ("key=value\n" lines)
 *   block*                          each: comp_len (> 0), 1 method byte, size, 4-byte
 *                                   little-endian checksum of the block's original bytes,
 *                                   then comp_len bytes of payload. The method (see
 *                                   archive_block.h) names the coder (stored, zstd, LZMA) and
 *                                   the layout: a column body of `size` bytes, or "plain",
 *                                   the block's `size` original bytes
 *   0x00                            end marker (a file without it is truncated)
 * The writer keeps, per block, the smaller of the column layout and plain codings of the
 * same bytes, so an archive is never much bigger than a general-purpose codec's output.
 * A block covers whole input lines (a line longer than the block size is cut into pieces
 * flagged "no newline"), is self-contained, and a column block decodes to a body of three
 * streams (META, NUM, STR; see codec_column.h) holding: the line count and byte size, the block's
 * templates (constant text segments around slots; a slot is a header field or a variable), one
 * template id per line, the lines without a trailing newline, then one column per header field and
 * one per template variable (codec_column.h). Lines are rebuilt by interleaving segments and slot
 * values, so every input is reproduced byte for byte (invalid UTF-8, NUL, CR, empty lines, no final
 * newline, lines matching no template). The compressor decodes each block again and compares before
 * writing it.
 *
 * Untrusted archives: every count and length is bounds-checked against the bytes present
 * and the block's declared size; corruption gives GD_EPARSE with a message, never a crash.
 * Threading: the objects here are not thread-safe; separate objects are independent. */
#ifndef GD_LOGMINE_ARCHIVE_H
#define GD_LOGMINE_ARCHIVE_H

#include "girder/logmine.h"

#include <stddef.h>
#include <stdint.h>

#define GD_LARC_BLOCK_DEFAULT ((size_t)16 << 20)
#define GD_LARC_BLOCK_MAX ((size_t)16 << 20)

struct gd_larc_opts {
    const char *format;          /* header format (gd_logfmt notation) or NULL */
    struct gd_logmine_opts mine; /* masks, sim, depth for the miner (copied by writer_new) */
    int use_miner;               /* 1 (default): variables from the miner's templates;
                                    0: tokens containing a digit are the variables */
    int digit_vars;              /* 1 (default): with the miner, also make tokens that
                                    contain a digit variables (better columns) */
    int level;                   /* 1..22 (default 19): zstd level; >= 19 codes with LZMA
                                    (preset 9e) where it is smaller, see archive_write.c */
    size_t block_bytes;          /* input bytes per block (default and max 16 MiB) */
    int verify;                  /* 1 (default): decode every block before writing it */
};
/* Fills defaults (no format, miner on with its defaults). */
void gd_larc_opts_init(struct gd_larc_opts *o);

/* Receives archive bytes; returns 0 or a negative GD_E* (which aborts the writer). */
typedef int (*gd_larc_sink_fn)(void *ud, const void *p, size_t n);

struct gd_larc_stats {
    uint64_t in_bytes, out_bytes, lines, blocks, templates; /* templates summed over blocks */
    uint64_t plain_blocks; /* blocks stored as plain bytes (the column layout did not pay) */
};

typedef struct gd_larc_writer gd_larc_writer;
/* Creates a streaming compressor writing to sink (the magic is written at finish or with the
 * first block). Caller owns *out (gd_larc_writer_free). Errors: GD_EINVAL (bad options),
 * GD_EPARSE (format or mask does not compile; message in err), GD_ENOMEM. */
int gd_larc_writer_new(const struct gd_larc_opts *o, gd_larc_sink_fn sink, void *ud,
                       gd_larc_writer **out, char *err, size_t err_len);
/* Feeds input bytes (any split). Errors: GD_ENOMEM, GD_ELIMIT, GD_ESTATE (verify failed:
 * a bug, reported rather than writing a bad archive), the sink's error. */
int gd_larc_writer_write(gd_larc_writer *w, const void *p, size_t n);
/* Flushes the last block and the end marker. Fills *st when not NULL. */
int gd_larc_writer_finish(gd_larc_writer *w, struct gd_larc_stats *st);
/* Message for the last error (never NULL; owned by w). */
const char *gd_larc_writer_error(const gd_larc_writer *w);
void gd_larc_writer_free(gd_larc_writer *w);

/* Decompresses a whole archive held in memory, writing the original bytes to sink.
 * Errors: GD_EPARSE (corrupt, truncated, checksum mismatch; message in err), GD_ENOMEM,
 * the sink's error. */
int gd_larc_decompress_mem(const void *arc, size_t n, gd_larc_sink_fn sink, void *ud, char *err,
                           size_t err_len);

struct gd_larc_grep_stats {
    uint64_t lines, matched, lines_rendered; /* rendered: lines rebuilt to be checked */
    uint64_t blocks, templates, templates_all, templates_skipped;
    uint64_t plain_blocks; /* blocks searched as plain text */
};
/* Writes every original line containing pat[0..plen) (fixed string; plen 0 matches all),
 * each followed by '\n', in input order (like `grep -F -a`). Templates whose constant text
 * contains the pattern match without looking at values; templates where the pattern cannot
 * touch the constant text are decided from their variable columns alone (dictionary entries
 * and integer columns are checked once, not per line). Errors: as decompress; GD_EINVAL
 * when pat contains a newline. */
int gd_larc_grep_mem(const void *arc, size_t n, const char *pat, size_t plen, gd_larc_sink_fn sink,
                     void *ud, struct gd_larc_grep_stats *st, char *err, size_t err_len);

/* Writes the inferred schema as JSON lines: one object per template with its text, line
 * count and per slot {"name", "type"}; types are int, float, hex, ip, uuid, timestamp,
 * path, enum, string. Errors: as decompress. */
int gd_larc_schema_mem(const void *arc, size_t n, gd_larc_sink_fn sink, void *ud, char *err,
                       size_t err_len);

#endif
