/* Reading archives: header and block framing, decoding payloads (archive_coder.h), body
 * decoding and line reconstruction.
 *
 * Everything read here is untrusted. The body declares its original byte size (raw_size,
 * capped by GD_LARC_BLOCK_MAX) and every count is checked against it before anything is
 * allocated: lines <= raw_size + 1, and every slot value is non-empty (the writer guarantees
 * it), so the values of all templates together are <= raw_size. */
#include "logmine/archive.h"
#include "logmine/archive_block.h"
#include "logmine/archive_coder.h"
#include "core/alloc.h"
#include "core/hash.h"
#include "girder/error.h"

#include <stdio.h>
#include <string.h>

#define BODY_MAX (2 * GD_LARC_BLOCK_MAX + ((size_t)1 << 20))

uint32_t gd_larc_checksum(const void *p, size_t n)
{
    return (uint32_t)gd_hash(p ? p : "", n);
}

static int fail_msg(char *err, size_t err_len, int rc, const char *msg)
{
    if (err && err_len)
        snprintf(err, err_len, "%s", msg);
    return rc;
}

void gd_larc_block_free(struct gd_larc_block *b)
{
    gd_arena_free(&b->arena);
    gd_free(b->body);
    b->body = NULL;
}

/* Templates: slot count, destinations, segment lengths (META) and segment bytes (STR). */
static int decode_templates(struct gd_codec_in *in, struct gd_larc_block *b)
{
    struct gd_codec_rd *meta = &in->s[GD_CODEC_META], *str = &in->s[GD_CODEC_STR];
    b->n_tmpl = (uint32_t)gd_codec_get_count(meta, (uint64_t)b->n_lines);
    b->tmpl = gd_arena_calloc(&b->arena, b->n_tmpl ? b->n_tmpl : 1, sizeof *b->tmpl);
    if (meta->err || !b->tmpl)
        return meta->err ? GD_EPARSE : GD_ENOMEM;
    for (uint32_t t = 0; t < b->n_tmpl; t++) {
        struct gd_larc_tmpl *T = &b->tmpl[t];
        T->n_slots = (uint32_t)gd_codec_get_count(meta, gd_codec_rd_left(meta));
        if (meta->err)
            return GD_EPARSE;
        T->dest = gd_arena_alloc(&b->arena, (T->n_slots + 1) * sizeof *T->dest);
        T->var_col = gd_arena_alloc(&b->arena, (T->n_slots + 1) * sizeof *T->var_col);
        T->seg_off = gd_arena_alloc(&b->arena, (T->n_slots + 2) * sizeof *T->seg_off);
        if (!T->dest || !T->var_col || !T->seg_off)
            return GD_ENOMEM;
        for (uint32_t s = 0; s < T->n_slots; s++) {
            T->dest[s] = (uint32_t)gd_codec_get_count(meta, b->n_fields);
            T->var_col[s] = T->n_vars;
            T->n_vars += T->dest[s] == GD_LARC_SLOT_VAR;
        }
        uint64_t total = 0;
        for (uint32_t s = 0; s <= T->n_slots; s++) {
            T->seg_off[s] = (uint32_t)total;
            total += gd_codec_get_count(meta, b->raw_size);
        }
        if (meta->err || total > gd_codec_rd_left(str))
            return GD_EPARSE;
        T->seg_off[T->n_slots + 1] = (uint32_t)total;
        T->seg_base = (const char *)gd_codec_get_raw(str, (size_t)total);
    }
    return 0;
}

/* Template ids and newline exceptions; computes per-template counts and line ranks. */
static int decode_lines(struct gd_codec_in *in, struct gd_larc_block *b)
{
    size_t n = b->n_lines;
    uint64_t *tmp = gd_malloc((n ? n : 1) * sizeof *tmp);
    b->line_tmpl = gd_arena_alloc(&b->arena, (n ? n : 1) * sizeof *b->line_tmpl);
    b->line_rank = gd_arena_alloc(&b->arena, (n ? n : 1) * sizeof *b->line_rank);
    b->nonl = gd_arena_calloc(&b->arena, n ? n : 1, 1);
    int rc = GD_ENOMEM;
    if (!tmp || !b->line_tmpl || !b->line_rank || !b->nonl)
        goto fail;
    rc = gd_codec_ints_decode(in, tmp, n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (tmp[i] >= b->n_tmpl) {
            rc = GD_EPARSE;
            break;
        }
        b->line_tmpl[i] = (uint32_t)tmp[i];
        b->line_rank[i] = b->tmpl[tmp[i]].count++;
    }
    uint64_t nn = rc ? 0 : gd_codec_get_count(&in->s[GD_CODEC_META], n);
    if (rc == 0 && in->s[GD_CODEC_META].err)
        rc = GD_EPARSE;
    if (rc == 0)
        rc = gd_codec_ints_decode(in, tmp, (size_t)nn);
    for (uint64_t j = 0; j < nn && rc == 0; j++) {
        if (tmp[j] >= n || (j > 0 && tmp[j] <= tmp[j - 1]))
            rc = GD_EPARSE;
        else
            b->nonl[tmp[j]] = 1;
    }
fail:
    gd_free(tmp);
    return rc;
}

/* Every slot value is non-empty, so the total number of values is bounded by raw_size. */
static int check_value_budget(struct gd_larc_block *b)
{
    uint64_t total = 0;
    for (uint32_t t = 0; t < b->n_tmpl; t++)
        total += (uint64_t)b->tmpl[t].count * b->tmpl[t].n_slots;
    return total > b->raw_size ? GD_EPARSE : 0;
}

static int decode_columns(struct gd_codec_in *in, struct gd_larc_block *b)
{
    b->field_n = gd_arena_calloc(&b->arena, b->n_fields + 1, sizeof *b->field_n);
    b->fields = gd_arena_calloc(&b->arena, b->n_fields + 1, sizeof *b->fields);
    if (!b->field_n || !b->fields)
        return GD_ENOMEM;
    for (uint32_t t = 0; t < b->n_tmpl; t++)
        for (uint32_t s = 0; s < b->tmpl[t].n_slots; s++)
            if (b->tmpl[t].dest[s] != GD_LARC_SLOT_VAR)
                b->field_n[b->tmpl[t].dest[s] - 1] += b->tmpl[t].count;
    int rc = 0;
    for (uint32_t f = 0; f < b->n_fields && rc == 0; f++)
        if (b->field_n[f])
            rc = gd_codec_column_decode(in, b->field_n[f], &b->arena, &b->fields[f]);
    for (uint32_t t = 0; t < b->n_tmpl && rc == 0; t++) {
        struct gd_larc_tmpl *T = &b->tmpl[t];
        if (T->count == 0 || T->n_vars == 0)
            continue;
        T->vars = gd_arena_calloc(&b->arena, T->n_vars, sizeof *T->vars);
        if (!T->vars)
            return GD_ENOMEM;
        for (uint32_t v = 0; v < T->n_vars && rc == 0; v++)
            rc = gd_codec_column_decode(in, T->count, &b->arena, &T->vars[v]);
    }
    return rc;
}

int gd_larc_block_decode(void *body, size_t body_len, struct gd_larc_block *b, char *err,
                         size_t err_len)
{
    memset(b, 0, sizeof *b);
    b->body = body;
    gd_arena_init(&b->arena, 1 << 16, 0);
    struct gd_codec_rd hdr;
    gd_codec_rd_init(&hdr, body, body_len);
    uint64_t len[GD_CODEC_NSTREAMS];
    struct gd_codec_in in;
    for (int s = 0; s < GD_CODEC_NSTREAMS; s++)
        len[s] = gd_codec_get_count(&hdr, body_len);
    for (int s = 0; s < GD_CODEC_NSTREAMS; s++) {
        const uint8_t *p = gd_codec_get_raw(&hdr, (size_t)len[s]);
        gd_codec_rd_init(&in.s[s], p, p ? (size_t)len[s] : 0);
    }
    if (hdr.err)
        return fail_msg(err, err_len, GD_EPARSE, "corrupt block: bad stream lengths");
    struct gd_codec_rd *meta = &in.s[GD_CODEC_META];
    b->raw_size = gd_codec_get_count(meta, GD_LARC_BLOCK_MAX);
    b->n_lines = (uint32_t)gd_codec_get_count(meta, b->raw_size + 1);
    b->n_fields = (uint32_t)gd_codec_get_count(meta, GD_LARC_MAX_FIELDS);
    if (meta->err)
        return fail_msg(err, err_len, GD_EPARSE, "corrupt block header");
    int rc = decode_templates(&in, b);
    if (rc == 0)
        rc = decode_lines(&in, b);
    if (rc == 0)
        rc = check_value_budget(b);
    if (rc == 0)
        rc = decode_columns(&in, b);
    if (rc == 0 && (in.s[0].err || in.s[1].err || in.s[2].err))
        rc = GD_EPARSE;
    if (rc)
        return fail_msg(err, err_len, rc,
                        rc == GD_ENOMEM ? "out of memory"
                                        : "corrupt block: bad templates or columns");
    return 0;
}

int gd_larc_line_render(const struct gd_larc_block *b, uint32_t i, const struct gd_larc_cursor *c,
                        struct gd_buf *out)
{
    const struct gd_larc_tmpl *T = &b->tmpl[b->line_tmpl[i]];
    uint32_t r = b->line_rank[i];
    int rc = 0;
    for (uint32_t s = 0; s <= T->n_slots && rc == 0; s++) {
        rc = gd_buf_append(out, T->seg_base + T->seg_off[s], T->seg_off[s + 1] - T->seg_off[s]);
        if (s == T->n_slots || rc)
            break;
        uint32_t d = T->dest[s];
        if (d == GD_LARC_SLOT_VAR)
            rc = gd_codec_column_append(&T->vars[T->var_col[s]], r, out);
        else
            rc = gd_codec_column_append(&b->fields[d - 1], c->field_pos[d - 1], out);
    }
    return rc;
}

void gd_larc_cursor_advance(const struct gd_larc_block *b, uint32_t i, struct gd_larc_cursor *c)
{
    const struct gd_larc_tmpl *T = &b->tmpl[b->line_tmpl[i]];
    for (uint32_t s = 0; s < T->n_slots; s++)
        if (T->dest[s] != GD_LARC_SLOT_VAR)
            c->field_pos[T->dest[s] - 1]++;
}

int gd_larc_block_render(const struct gd_larc_block *b, struct gd_buf *out)
{
    struct gd_larc_cursor c;
    memset(&c, 0, sizeof c);
    gd_buf_reset(out);
    int rc = 0;
    for (uint32_t i = 0; i < b->n_lines && rc == 0; i++) {
        rc = gd_larc_line_render(b, i, &c, out);
        if (rc == 0 && !b->nonl[i])
            rc = gd_buf_putc(out, '\n');
        gd_larc_cursor_advance(b, i, &c);
    }
    return rc;
}

/* A plain block: its bytes and line count (lines as the writer cuts them). */
static void plain_block(void *text, size_t len, struct gd_larc_block *b)
{
    memset(b, 0, sizeof *b);
    gd_arena_init(&b->arena, 1 << 10, 0);
    b->body = text;
    b->plain = 1;
    b->text = text;
    b->raw_size = len;
    for (const char *p = text, *e = p + len; p < e; b->n_lines++) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        p = nl ? nl + 1 : e;
    }
}

static size_t max_size(int method)
{
    return method & GD_LARC_PLAIN ? GD_LARC_BLOCK_MAX : BODY_MAX;
}

static int valid_method(int m)
{
    return m == GD_LARC_ZSTD || m == GD_LARC_LZMA || m == (GD_LARC_PLAIN | GD_LARC_STORED) ||
           m == (GD_LARC_PLAIN | GD_LARC_ZSTD) || m == (GD_LARC_PLAIN | GD_LARC_LZMA);
}

int gd_larc_block_check(int method, const void *payload, size_t n, size_t size, const void *orig,
                        size_t len)
{
    void *body = NULL;
    int rc =
        gd_larc_decode(GD_LARC_METHOD_CODER(method), payload, n, size, max_size(method), &body);
    if (rc)
        return rc;
    if (method & GD_LARC_PLAIN) {
        rc = size == len && (len == 0 || memcmp(body, orig, len) == 0) ? 0 : GD_EPARSE;
        gd_free(body);
        return rc;
    }
    struct gd_larc_block b;
    struct gd_buf out;
    gd_buf_init(&out, GD_LARC_BLOCK_MAX + 1);
    rc = gd_larc_block_decode(body, size, &b, NULL, 0);
    if (rc == 0)
        rc = gd_larc_block_render(&b, &out);
    if (rc == 0 && (out.len != len || (len && memcmp(out.data, orig, len) != 0)))
        rc = GD_EPARSE;
    gd_larc_block_free(&b);
    gd_buf_free(&out);
    return rc;
}

struct walk_hdr {
    const char *opts;
    size_t opts_len;
};

static int walk_block(struct gd_codec_rd *r, uint64_t clen, const struct walk_hdr *h,
                      gd_larc_block_fn fn, void *ud, int verify, struct gd_buf *scratch, char *err,
                      size_t err_len)
{
    const uint8_t *m = gd_codec_get_raw(r, 1);
    size_t body_len = (size_t)gd_codec_get_count(r, BODY_MAX);
    const uint8_t *ck = gd_codec_get_raw(r, 4);
    const uint8_t *frame = gd_codec_get_raw(r, (size_t)clen);
    if (r->err || !m || !ck || !frame)
        return fail_msg(err, err_len, GD_EPARSE, "truncated archive: block cut short");
    if (!valid_method(*m))
        return fail_msg(err, err_len, GD_EPARSE, "corrupt archive: unknown block method");
    void *body = NULL;
    int rc = gd_larc_decode(GD_LARC_METHOD_CODER(*m), frame, (size_t)clen, body_len, max_size(*m),
                            &body);
    if (rc)
        return fail_msg(err, err_len, rc,
                        rc == GD_ENOMEM ? "out of memory" : "corrupt archive: bad block payload");
    struct gd_larc_block b;
    if (*m & GD_LARC_PLAIN)
        plain_block(body, body_len, &b);
    else
        rc = gd_larc_block_decode(body, body_len, &b, err, err_len);
    b.opts = h->opts;
    b.opts_len = h->opts_len;
    struct gd_buf view = {(char *)b.text, b.raw_size, b.raw_size, b.raw_size};
    const struct gd_buf *bytes = b.plain ? &view : scratch;
    if (rc == 0 && verify && !b.plain)
        rc = gd_larc_block_render(&b, scratch);
    if (rc == 0 && verify) {
        uint32_t want =
            (uint32_t)ck[0] | (uint32_t)ck[1] << 8 | (uint32_t)ck[2] << 16 | (uint32_t)ck[3] << 24;
        if (rc == 0 &&
            (bytes->len != b.raw_size || gd_larc_checksum(bytes->data, bytes->len) != want))
            rc = fail_msg(err, err_len, GD_EPARSE, "corrupt archive: checksum mismatch");
    }
    if (rc == 0)
        rc = fn(ud, &b, verify ? bytes : NULL);
    gd_larc_block_free(&b);
    return rc;
}

int gd_larc_walk(const void *arc, size_t n, gd_larc_block_fn fn, void *ud, int verify, char *err,
                 size_t err_len)
{
    if (err && err_len)
        err[0] = '\0';
    if (n < GD_LARC_MAGIC_LEN + 1 || memcmp(arc, GD_LARC_MAGIC, GD_LARC_MAGIC_LEN) != 0)
        return fail_msg(err, err_len, GD_EPARSE, "not a girder log archive (bad magic)");
    unsigned version = ((const uint8_t *)arc)[GD_LARC_MAGIC_LEN];
    if (version != GD_LARC_VERSION) {
        if (err && err_len)
            snprintf(err, err_len,
                     "unsupported girder log archive format version %u (this girder reads "
                     "version %d; recompress the original with it)",
                     version, GD_LARC_VERSION);
        return GD_EPARSE;
    }
    struct gd_codec_rd r;
    gd_codec_rd_init(&r, (const uint8_t *)arc + GD_LARC_MAGIC_LEN + 1, n - GD_LARC_MAGIC_LEN - 1);
    struct walk_hdr h;
    h.opts_len = (size_t)gd_codec_get_count(&r, gd_codec_rd_left(&r));
    h.opts = (const char *)gd_codec_get_raw(&r, h.opts_len);
    if (r.err)
        return fail_msg(err, err_len, GD_EPARSE, "truncated archive: header cut short");
    struct gd_buf scratch;
    gd_buf_init(&scratch, GD_LARC_BLOCK_MAX + 1);
    int rc = 0;
    for (;;) {
        uint64_t clen = gd_codec_get_count(&r, BODY_MAX);
        if (r.err) {
            rc = fail_msg(err, err_len, GD_EPARSE, "truncated archive: no end marker");
            break;
        }
        if (clen == 0) {
            if (gd_codec_rd_left(&r) != 0)
                rc = fail_msg(err, err_len, GD_EPARSE, "trailing bytes after the end marker");
            break;
        }
        rc = walk_block(&r, clen, &h, fn, ud, verify, &scratch, err, err_len);
        if (rc)
            break;
    }
    gd_buf_free(&scratch);
    return rc;
}

struct decomp_ctx {
    gd_larc_sink_fn sink;
    void *ud;
};

static int decomp_block(void *ud, const struct gd_larc_block *b, const struct gd_buf *rendered)
{
    (void)b;
    struct decomp_ctx *c = ud;
    return c->sink(c->ud, rendered->data ? rendered->data : "", rendered->len);
}

int gd_larc_decompress_mem(const void *arc, size_t n, gd_larc_sink_fn sink, void *ud, char *err,
                           size_t err_len)
{
    struct decomp_ctx c = {sink, ud};
    return gd_larc_walk(arc, n, decomp_block, &c, 1, err, err_len);
}
