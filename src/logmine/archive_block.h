/* Internal: the decoded form of one archive block, shared by decompress, grep and schema.
 * See archive.h for the file format. */
#ifndef GD_LOGMINE_ARCHIVE_BLOCK_H
#define GD_LOGMINE_ARCHIVE_BLOCK_H

#include "core/arena.h"
#include "core/buf.h"
#include "logmine/codec_column.h"

#include <stdint.h>

#define GD_LARC_MAGIC "GLA" /* then the format version byte */
#define GD_LARC_MAGIC_LEN 3
#define GD_LARC_VERSION 2
/* Block method byte: coder (archive_coder.h) in bits 0-1, layout in bit 2. */
#define GD_LARC_PLAIN 4 /* the payload decodes to the block's bytes, not to a column body */
#define GD_LARC_METHOD_CODER(m) ((m)&3)
#define GD_LARC_MAX_FIELDS 64
#define GD_LARC_SLOT_VAR 0 /* slot destination; f + 1 means header field f */

struct gd_larc_tmpl {
    uint32_t n_slots;
    uint32_t *dest;       /* n_slots destinations */
    uint32_t *var_col;    /* n_slots: index into vars for variable slots */
    const char *seg_base; /* segment j = seg_base[seg_off[j] .. seg_off[j+1]), j <= n_slots */
    uint32_t *seg_off;
    uint32_t count; /* lines using the template */
    uint32_t n_vars;
    struct gd_codec_column *vars; /* n_vars columns of `count` values */
};

struct gd_larc_block {
    const char *opts; /* recorded options, "key=value\n" lines (archive header) */
    size_t opts_len;
    /* A plain block (method with GD_LARC_PLAIN) has only text, raw_size and n_lines; its
     * template and column fields are empty. */
    int plain;
    const char *text;
    uint64_t raw_size;
    uint32_t n_lines;
    uint32_t n_fields;
    uint32_t n_tmpl;
    struct gd_larc_tmpl *tmpl;
    uint32_t *line_tmpl; /* n_lines template indices */
    uint32_t *line_rank; /* n_lines: index of the line among its template's lines */
    uint8_t *nonl;       /* n_lines: 1 when the line has no trailing newline */
    uint32_t *field_n;   /* n_fields: values in field column f */
    struct gd_codec_column *fields;
    struct gd_arena arena; /* everything above */
    void *body;            /* decompressed body (gd_malloc); columns point into it */
};

/* Per-field positions while walking lines in order. */
struct gd_larc_cursor {
    uint32_t field_pos[GD_LARC_MAX_FIELDS];
};

/* Decodes one block body (already decompressed; ownership of body passes to b, also on
 * error). Errors: GD_EPARSE with a message in err, GD_ENOMEM. */
int gd_larc_block_decode(void *body, size_t body_len, struct gd_larc_block *b, char *err,
                         size_t err_len);
void gd_larc_block_free(struct gd_larc_block *b);
/* Appends line i (without its newline) to out; cursor must be at line i. */
int gd_larc_line_render(const struct gd_larc_block *b, uint32_t i, const struct gd_larc_cursor *c,
                        struct gd_buf *out);
/* Moves the cursor past line i. */
void gd_larc_cursor_advance(const struct gd_larc_block *b, uint32_t i, struct gd_larc_cursor *c);

/* Walks the blocks of an archive in memory: checks magic, version, framing and end marker,
 * decompresses and decodes each block and calls fn; the block is freed after fn returns.
 * With verify, the rebuilt bytes of each block are checked against its checksum and passed
 * to fn (NULL otherwise; a plain block's bytes are always in b->text).
 * Errors: GD_EPARSE with message, GD_ENOMEM, or fn's error. */
typedef int (*gd_larc_block_fn)(void *ud, const struct gd_larc_block *b,
                                const struct gd_buf *rendered /* the block's bytes, or NULL */);
int gd_larc_walk(const void *arc, size_t n, gd_larc_block_fn fn, void *ud, int verify, char *err,
                 size_t err_len);
/* Rebuilds the whole block into out (cleared first). */
int gd_larc_block_render(const struct gd_larc_block *b, struct gd_buf *out);
/* Decodes one block payload of the given method and checks it rebuilds exactly orig[0..len):
 * the writer's verification by construction. Returns 0 or GD_EPARSE / GD_ENOMEM. */
int gd_larc_block_check(int method, const void *payload, size_t n, size_t size, const void *orig,
                        size_t len);
/* The column body the writer would build for data[0..len) with options o (a fresh miner):
 * how `schema` describes a plain block. Errors: those of gd_larc_writer_new, GD_ENOMEM. */
struct gd_larc_opts;
int gd_larc_columns_body(const struct gd_larc_opts *o, const char *data, size_t len,
                         struct gd_buf *body, char *err, size_t err_len);

/* Options as recorded in an archive header ("key=value\n" lines written by the writer),
 * parsed back; strings point into buf. Unknown or malformed lines are ignored. */
struct gd_larc_recorded {
    struct gd_larc_opts *o;
    char *buf;
    const char **masks;
};
int gd_larc_recorded_parse(const char *txt, size_t n, struct gd_larc_recorded *r);
void gd_larc_recorded_free(struct gd_larc_recorded *r);

/* Checksum stored per block: low 32 bits of gd_hash of the original bytes. */
uint32_t gd_larc_checksum(const void *p, size_t n);

#endif
