/* Writing archives: lines -> templates + slot values -> typed columns -> zstd.
 *
 * Per block the writer (1) cuts the input into lines, (2) splits each line into header-field
 * spans (--format) and content, (3) mines every content once (pass 1) and then asks the miner
 * for the tokens aligned with the *final* template (pass 2), so all lines of a template agree
 * on which tokens are variables, (4) turns each line into an archive template -- the exact
 * bytes between the slot values (header fields and variable tokens), whitespace included --
 * and appends the values to the columns, (5) encodes the columns (codec_column.h) and
 * compresses the body (LZMA at the default level, zstd below 19), (6) keeps the smallest of
 * that and plain codings of the block's bytes (choose_plain), verifies the choice by decoding
 * it and writes it. A line whose layout deviates from its miner
 * template simply gets its own archive template, so nothing is ever lost; a line matching no
 * format or template is one template whose variables come from the digit rule. */
#include "logmine/archive.h"
#include "logmine/archive_block.h"
#include "logmine/archive_coder.h"
#include "core/alloc.h"
#include "core/hash.h"
#include "girder/error.h"

#include <stdio.h>
#include <string.h>

#define MAX_SLOTS 4096 /* per line; further tokens stay constant text */
/* Levels from here on code bodies and plain blocks with LZMA (preset 9e): on log bodies it is
 * smaller than zstd at 19-22 and takes fewer instructions (docs/logs-archive.md). */
#define LEVEL_STRONG 19
/* Plain codings are always tried for blocks up to this size (cheap there, and small inputs
 * are where the column layout's fixed costs show); bigger blocks try them only when the
 * fast estimate says they might win. */
#define PLAIN_ALWAYS ((size_t)64 << 10)
/* The estimate is at most ~1.25x `zstd -19 --long` and ~1.4x LZMA 9e on the inputs we
 * measured; a column block smaller than estimate / 1.3 is taken without plain candidates. */
#define EST_NUM 13
#define EST_DEN 10

struct slot {
    uint32_t off, len, dest;
};

struct wtmpl {
    uint32_t key_off, meta_len, key_len; /* key = META part (meta_len bytes) + segment bytes */
    uint32_t n_slots, count;
};

struct gd_larc_writer {
    struct gd_larc_opts o;
    struct gd_logfmt *fmt;
    uint32_t n_fields;
    int content_field;
    gd_logmine *miner;
    gd_larc_sink_fn sink;
    void *ud;
    struct gd_buf in;
    struct gd_buf opts; /* recorded options, written into the first block */
    int started, failed;
    struct gd_larc_stats st;
    gd_larc_coder_ctx *cc;
    char err[256];
};

void gd_larc_opts_init(struct gd_larc_opts *o)
{
    memset(o, 0, sizeof *o);
    gd_logmine_opts_init(&o->mine);
    o->use_miner = 1;
    o->digit_vars = 1;
    o->level = 19;
    o->block_bytes = GD_LARC_BLOCK_DEFAULT;
    o->verify = 1;
}

const char *gd_larc_writer_error(const gd_larc_writer *w)
{
    return w->err;
}

static int record_opts(gd_larc_writer *w, const struct gd_larc_opts *o)
{
    int rc = 0;
    if (o->format)
        rc = gd_buf_printf(&w->opts, "format=%s\n", o->format);
    for (size_t i = 0; i < o->mine.n_masks && rc == 0; i++)
        rc = gd_buf_printf(&w->opts, "mask=%s\n", o->mine.masks[i]);
    if (rc == 0 && o->use_miner)
        rc = gd_buf_printf(&w->opts, "sim=%g\ndepth=%u\n", o->mine.sim, o->mine.depth);
    if (rc == 0 && !o->mine.default_masks)
        rc = gd_buf_puts(&w->opts, "default_masks=0\n");
    if (rc == 0 && !o->use_miner)
        rc = gd_buf_puts(&w->opts, "miner=0\n");
    return rc;
}

int gd_larc_writer_new(const struct gd_larc_opts *o, gd_larc_sink_fn sink, void *ud,
                       gd_larc_writer **out, char *err, size_t err_len)
{
    if (o->level < 1 || o->level > 22 || o->block_bytes < 1 || o->block_bytes > GD_LARC_BLOCK_MAX) {
        if (err && err_len)
            snprintf(err, err_len, "level must be 1..22 and block size 1..%zu bytes",
                     GD_LARC_BLOCK_MAX);
        return GD_EINVAL;
    }
    gd_larc_writer *w = gd_calloc(1, sizeof *w);
    if (!w)
        return GD_ENOMEM;
    w->o = *o;
    w->sink = sink;
    w->ud = ud;
    w->content_field = -1;
    gd_buf_init(&w->in, o->block_bytes);
    gd_buf_init(&w->opts, 1 << 20);
    int rc = record_opts(w, o);
    if (rc == 0 && o->format) {
        rc = gd_logfmt_compile(o->format, &w->fmt, err, err_len);
        if (rc == 0) {
            w->n_fields = (uint32_t)gd_logfmt_nfields(w->fmt);
            w->content_field = gd_logfmt_content_field(w->fmt);
            if (w->n_fields > GD_LARC_MAX_FIELDS) {
                snprintf(err, err_len, "format has more than %d fields", GD_LARC_MAX_FIELDS);
                rc = GD_EINVAL;
            }
        }
    }
    if (rc == 0 && o->use_miner)
        rc = gd_logmine_new(&o->mine, &w->miner, err, err_len);
    w->cc = rc ? NULL : gd_larc_coder_new();
    if (rc == 0 && !w->cc)
        rc = GD_ENOMEM;
    if (rc) {
        gd_larc_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void gd_larc_writer_free(gd_larc_writer *w)
{
    if (!w)
        return;
    gd_logfmt_free(w->fmt);
    gd_logmine_free(w->miner);
    gd_larc_coder_free(w->cc);
    gd_buf_free(&w->in);
    gd_buf_free(&w->opts);
    gd_free(w);
}

/* ---- one block ------------------------------------------------------------------------ */

struct blk {
    const char *data;
    uint32_t n_lines;
    uint32_t *loff, *llen;  /* line spans (without newline) */
    uint32_t *coff, *clen;  /* content spans (line coordinates) */
    uint32_t *mid;          /* miner template id (0: none) */
    uint32_t *tid, *vstart; /* archive template and first value of each line */
    struct gd_codec_str *vals;
    size_t n_vals, cap_vals;
    struct wtmpl *tm;
    uint32_t n_tm, cap_tm;
    uint32_t *ht; /* template hash table: index + 1 */
    size_t ht_cap;
    struct gd_buf keys, key;
    struct slot slots[MAX_SLOTS];
};

static int has_digit(const char *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (p[i] >= '0' && p[i] <= '9')
            return 1;
    return 0;
}

static int is_delim(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == '=' || c == ',' ||
           c == ':' || c == ';' || c == '(' || c == ')' || c == '[' || c == ']' || c == '{' ||
           c == '}' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '|';
}

/* Fallback splitter: pieces between delimiters that contain a digit are variables. */
static uint32_t digit_slots(const char *p, uint32_t off, uint32_t len, struct slot *s, uint32_t n,
                            uint32_t cap)
{
    for (uint32_t i = 0; i < len && n < cap;) {
        if (is_delim(p[off + i])) {
            i++;
            continue;
        }
        uint32_t st = i;
        while (i < len && !is_delim(p[off + i]))
            i++;
        if (has_digit(p + off + st, i - st))
            s[n++] = (struct slot){off + st, i - st, GD_LARC_SLOT_VAR};
    }
    return n;
}

/* Variable slots of line i's content (line coordinates). */
static uint32_t content_slots(gd_larc_writer *w, struct blk *b, uint32_t i, struct slot *s,
                              uint32_t n)
{
    const char *line = b->data + b->loff[i];
    uint32_t co = b->coff[i], cl = b->clen[i];
    struct gd_logmine_match m;
    if (!w->miner || b->mid[i] == 0 ||
        gd_logmine_extract(w->miner, b->mid[i], line + co, cl, &m) != 0)
        return digit_slots(line, co, cl, s, n, MAX_SLOTS);
    for (uint32_t k = 0; k < m.n_tokens && n < MAX_SLOTS; k++) {
        const struct gd_logmine_token *t = &m.tokens[k];
        if (t->len == 0 || t->off + t->len > cl)
            continue;
        if (t->is_var || (w->o.digit_vars && has_digit(line + co + t->off, t->len)))
            s[n++] = (struct slot){co + t->off, t->len, GD_LARC_SLOT_VAR};
    }
    return n;
}

/* All slots of line i, sorted and non-overlapping, empty spans dropped. */
static uint32_t line_slots(gd_larc_writer *w, struct blk *b, uint32_t i,
                           const struct gd_logmine_span *fs, int matched)
{
    struct slot *s = b->slots;
    uint32_t n = 0;
    for (uint32_t f = 0; matched && f < w->n_fields && n < MAX_SLOTS; f++)
        if ((int)f != w->content_field && fs[f].off != GD_LOGMINE_ABSENT && fs[f].len > 0)
            s[n++] = (struct slot){fs[f].off, fs[f].len, f + 1};
    n = content_slots(w, b, i, s, n);
    for (uint32_t a = 1; a < n; a++) { /* insertion sort: fields are nearly in order */
        struct slot x = s[a];
        uint32_t j = a;
        for (; j > 0 && s[j - 1].off > x.off; j--)
            s[j] = s[j - 1];
        s[j] = x;
    }
    uint32_t m = 0, end = 0;
    for (uint32_t a = 0; a < n; a++)
        if (s[a].len > 0 && s[a].off >= end) {
            s[m++] = s[a];
            end = s[a].off + s[a].len;
        }
    return m;
}

/* Finds or adds the template of line i with slots s[0..n); returns its index or GD_E*. */
static long template_of(struct blk *b, const char *line, uint32_t len, const struct slot *s,
                        uint32_t n)
{
    struct gd_buf *k = &b->key;
    gd_buf_reset(k);
    int rc = gd_codec_put_uvar(k, n);
    for (uint32_t a = 0; a < n && rc == 0; a++)
        rc = gd_codec_put_uvar(k, s[a].dest);
    for (uint32_t a = 0, p = 0; a <= n && rc == 0; a++) {
        uint32_t e = a < n ? s[a].off : len;
        rc = gd_codec_put_uvar(k, e - p);
        p = a < n ? s[a].off + s[a].len : p;
    }
    size_t meta_len = k->len;
    for (uint32_t a = 0, p = 0; a <= n && rc == 0; a++) {
        uint32_t e = a < n ? s[a].off : len;
        rc = gd_buf_append(k, line + p, e - p);
        p = a < n ? s[a].off + s[a].len : p;
    }
    if (rc)
        return rc;
    if (2 * ((size_t)b->n_tm + 1) > b->ht_cap) { /* grow and rehash */
        size_t cap = b->ht_cap ? b->ht_cap * 2 : 1024;
        uint32_t *ht = gd_calloc(cap, sizeof *ht);
        if (!ht)
            return GD_ENOMEM;
        for (uint32_t t = 0; t < b->n_tm; t++) {
            size_t h = gd_hash(b->keys.data + b->tm[t].key_off, b->tm[t].key_len) & (cap - 1);
            while (ht[h])
                h = (h + 1) & (cap - 1);
            ht[h] = t + 1;
        }
        gd_free(b->ht);
        b->ht = ht;
        b->ht_cap = cap;
    }
    size_t h = gd_hash(k->data, k->len) & (b->ht_cap - 1);
    for (; b->ht[h]; h = (h + 1) & (b->ht_cap - 1)) {
        struct wtmpl *t = &b->tm[b->ht[h] - 1];
        if (t->key_len == k->len && memcmp(b->keys.data + t->key_off, k->data, k->len) == 0)
            return (long)b->ht[h] - 1;
    }
    if (b->n_tm == b->cap_tm) {
        uint32_t cap = b->cap_tm ? b->cap_tm * 2 : 256;
        struct wtmpl *tm = gd_realloc(b->tm, cap * sizeof *tm);
        if (!tm)
            return GD_ENOMEM;
        b->tm = tm;
        b->cap_tm = cap;
    }
    struct wtmpl *t = &b->tm[b->n_tm];
    *t = (struct wtmpl){(uint32_t)b->keys.len, (uint32_t)meta_len, (uint32_t)k->len, n, 0};
    rc = gd_buf_append(&b->keys, k->data, k->len);
    if (rc)
        return rc;
    b->ht[h] = ++b->n_tm;
    return (long)b->n_tm - 1;
}

static int push_vals(struct blk *b, const char *line, const struct slot *s, uint32_t n)
{
    if (b->n_vals + n > b->cap_vals) {
        size_t cap = b->cap_vals ? b->cap_vals : 4096;
        while (cap < b->n_vals + n)
            cap *= 2;
        struct gd_codec_str *v = gd_realloc(b->vals, cap * sizeof *v);
        if (!v)
            return GD_ENOMEM;
        b->vals = v;
        b->cap_vals = cap;
    }
    for (uint32_t a = 0; a < n; a++)
        b->vals[b->n_vals++] = (struct gd_codec_str){line + s[a].off, s[a].len};
    return 0;
}

/* Cuts data into lines; a final piece without '\n' is flagged by the caller. */
static int cut_lines(struct blk *b, const char *data, size_t len)
{
    uint32_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += data[i] == '\n';
    n += len > 0 && data[len - 1] != '\n';
    size_t sz = (size_t)n + 1;
    b->loff = gd_malloc(sz * sizeof(uint32_t));
    b->llen = gd_malloc(sz * sizeof(uint32_t));
    b->coff = gd_malloc(sz * sizeof(uint32_t));
    b->clen = gd_malloc(sz * sizeof(uint32_t));
    b->mid = gd_calloc(sz, sizeof(uint32_t));
    b->tid = gd_malloc(sz * sizeof(uint32_t));
    b->vstart = gd_malloc(sz * sizeof(uint32_t));
    if (!b->loff || !b->llen || !b->coff || !b->clen || !b->mid || !b->tid || !b->vstart)
        return GD_ENOMEM;
    size_t p = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *nl = memchr(data + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - data) : len;
        b->loff[i] = (uint32_t)p;
        b->llen[i] = (uint32_t)(e - p);
        p = e + 1;
    }
    b->data = data;
    b->n_lines = n;
    return 0;
}

static void blk_free(struct blk *b)
{
    gd_free(b->loff);
    gd_free(b->llen);
    gd_free(b->coff);
    gd_free(b->clen);
    gd_free(b->mid);
    gd_free(b->tid);
    gd_free(b->vstart);
    gd_free(b->vals);
    gd_free(b->tm);
    gd_free(b->ht);
    gd_buf_free(&b->keys);
    gd_buf_free(&b->key);
}

/* Pass 1 (format + miner) and pass 2 (slots, templates, values) over the block's lines. */
static int analyse(gd_larc_writer *w, struct blk *b)
{
    struct gd_logmine_span fs[GD_LARC_MAX_FIELDS];
    uint8_t *matched = gd_calloc((size_t)b->n_lines + 1, 1);
    if (!matched)
        return GD_ENOMEM;
    int rc = 0;
    for (uint32_t i = 0; i < b->n_lines && rc == 0; i++) {
        const char *line = b->data + b->loff[i];
        b->coff[i] = 0;
        b->clen[i] = b->llen[i];
        if (w->fmt && gd_logfmt_match(w->fmt, line, b->llen[i], fs) == 1) {
            int cf = w->content_field;
            matched[i] = 1;
            b->coff[i] = cf >= 0 && fs[cf].off != GD_LOGMINE_ABSENT ? fs[cf].off : 0;
            b->clen[i] = cf >= 0 && fs[cf].off != GD_LOGMINE_ABSENT ? fs[cf].len : 0;
        }
        struct gd_logmine_match m;
        if (w->miner && gd_logmine_add(w->miner, line + b->coff[i], b->clen[i], &m) == 0)
            b->mid[i] = m.template_id;
    }
    for (uint32_t i = 0; i < b->n_lines && rc == 0; i++) {
        const char *line = b->data + b->loff[i];
        if (matched[i] && gd_logfmt_match(w->fmt, line, b->llen[i], fs) != 1)
            matched[i] = 0; /* cannot happen (match is pure); stay safe */
        uint32_t n = line_slots(w, b, i, fs, matched[i]);
        long t = template_of(b, line, b->llen[i], b->slots, n);
        if (t < 0) {
            rc = (int)t;
            break;
        }
        b->tid[i] = (uint32_t)t;
        b->tm[t].count++;
        b->vstart[i] = (uint32_t)b->n_vals;
        rc = push_vals(b, line, b->slots, n);
    }
    gd_free(matched);
    return rc;
}

static int encode_templates(struct blk *b, struct gd_codec_out *o)
{
    int rc = gd_codec_put_uvar(&o->s[GD_CODEC_META], b->n_tm);
    for (uint32_t t = 0; t < b->n_tm && rc == 0; t++) {
        const struct wtmpl *T = &b->tm[t];
        rc = gd_buf_append(&o->s[GD_CODEC_META], b->keys.data + T->key_off, T->meta_len);
        if (rc == 0)
            rc = gd_buf_append(&o->s[GD_CODEC_STR], b->keys.data + T->key_off + T->meta_len,
                               T->key_len - T->meta_len);
    }
    return rc;
}

static int encode_lines(struct blk *b, struct gd_codec_out *o, int last_nonl)
{
    uint64_t *v = gd_malloc(((size_t)b->n_lines + 1) * sizeof *v);
    if (!v)
        return GD_ENOMEM;
    for (uint32_t i = 0; i < b->n_lines; i++)
        v[i] = b->tid[i];
    int rc = gd_codec_ints_encode(o, v, b->n_lines);
    if (rc == 0)
        rc = gd_codec_put_uvar(&o->s[GD_CODEC_META], last_nonl ? 1 : 0);
    v[0] = b->n_lines - 1;
    if (rc == 0 && last_nonl)
        rc = gd_codec_ints_encode(o, v, 1);
    gd_free(v);
    return rc;
}

/* Field columns in line order, then each template's variable columns. */
static int encode_columns(gd_larc_writer *w, struct blk *b, struct gd_codec_out *o)
{
    size_t nl = (size_t)b->n_lines + 1;
    struct gd_codec_str *col = gd_malloc(nl * sizeof *col);
    uint32_t *order = gd_malloc(nl * sizeof *order), *start = gd_calloc(b->n_tm + 1, 4);
    int rc = GD_ENOMEM;
    if (!col || !order || !start)
        goto fail;
    rc = 0;
    for (uint32_t f = 0; f < w->n_fields && rc == 0; f++) {
        size_t n = 0;
        for (uint32_t i = 0; i < b->n_lines; i++) {
            const uint8_t *k = (const uint8_t *)b->keys.data + b->tm[b->tid[i]].key_off;
            struct gd_codec_rd r; /* the META key: n_slots, then one dest per slot */
            gd_codec_rd_init(&r, k, b->tm[b->tid[i]].meta_len);
            uint32_t ns = (uint32_t)gd_codec_get_uvar(&r);
            for (uint32_t s = 0; s < ns; s++)
                if (gd_codec_get_uvar(&r) == f + 1)
                    col[n++] = b->vals[b->vstart[i] + s];
        }
        if (n)
            rc = gd_codec_column_encode(o, col, n);
    }
    for (uint32_t i = 0; i < b->n_lines; i++) /* counting sort of lines by template */
        start[b->tid[i] + 1]++;
    for (uint32_t t = 0; t < b->n_tm; t++)
        start[t + 1] += start[t];
    for (uint32_t i = 0; i < b->n_lines; i++)
        order[start[b->tid[i]]++] = i;
    for (uint32_t t = 0, first = 0; t < b->n_tm && rc == 0; first += b->tm[t++].count) {
        struct gd_codec_rd r;
        gd_codec_rd_init(&r, b->keys.data + b->tm[t].key_off, b->tm[t].meta_len);
        uint32_t ns = (uint32_t)gd_codec_get_uvar(&r);
        for (uint32_t s = 0; s < ns && rc == 0; s++) {
            if (gd_codec_get_uvar(&r) != GD_LARC_SLOT_VAR)
                continue;
            for (uint32_t j = 0; j < b->tm[t].count; j++)
                col[j] = b->vals[b->vstart[order[first + j]] + s];
            rc = gd_codec_column_encode(o, col, b->tm[t].count);
        }
    }
fail:
    gd_free(col);
    gd_free(order);
    gd_free(start);
    return rc;
}

static int encode_body(gd_larc_writer *w, struct blk *b, size_t raw, int last_nonl,
                       struct gd_buf *body)
{
    struct gd_codec_out o;
    gd_codec_out_init(&o, (size_t)1 << 31);
    struct gd_buf *meta = &o.s[GD_CODEC_META];
    int rc = gd_codec_put_uvar(meta, raw);
    if (rc == 0)
        rc = gd_codec_put_uvar(meta, b->n_lines);
    if (rc == 0)
        rc = gd_codec_put_uvar(meta, w->n_fields);
    if (rc == 0)
        rc = encode_templates(b, &o);
    if (rc == 0)
        rc = encode_lines(b, &o, last_nonl);
    if (rc == 0)
        rc = encode_columns(w, b, &o);
    for (int s = 0; s < GD_CODEC_NSTREAMS && rc == 0; s++)
        rc = gd_codec_put_uvar(body, o.s[s].len);
    for (int s = 0; s < GD_CODEC_NSTREAMS && rc == 0; s++)
        rc = gd_buf_append(body, o.s[s].data ? o.s[s].data : "", o.s[s].len);
    gd_codec_out_free(&o);
    return rc;
}

/* One coded candidate for a block. */
struct cand {
    int method;
    size_t size; /* what the payload decodes to: body bytes, or the block's bytes */
    struct gd_buf p;
};

/* Codes src[0..n) as method m into c->p when that is smaller than *best (or *best is NULL),
 * making c the best. */
static int try_cand(gd_larc_writer *w, struct cand *c, int m, int long_window, const void *src,
                    size_t n, struct cand **best)
{
    gd_buf_reset(&c->p);
    int rc = gd_larc_code(w->cc, GD_LARC_METHOD_CODER(m), w->o.level, long_window, src, n, &c->p);
    if (rc == GD_ELIMIT)
        return 0; /* bigger than the cap: not a candidate */
    c->method = m;
    c->size = n;
    if (rc == 0 && c->p.len > 0 && (!*best || c->p.len < (*best)->p.len))
        *best = c;
    return rc;
}

/* LZMA for bodies at the strong levels, except very repetitive ones (estimated ratio above
 * 8, e.g. a file that repeats itself): there zstd's long-match skipping makes it 3-10x
 * cheaper than LZMA's parser, for ~4% more bytes. */
static int body_coder(gd_larc_writer *w, const struct gd_buf *body)
{
    if (w->o.level < LEVEL_STRONG)
        return GD_LARC_ZSTD;
    if (body->len <= PLAIN_ALWAYS)
        return GD_LARC_LZMA;
    return gd_larc_estimate(w->cc, body->data, body->len) * 8 < body->len ? GD_LARC_ZSTD
                                                                          : GD_LARC_LZMA;
}

/* Adds the plain candidates worth trying to the column candidate *best. The estimate costs
 * a few percent of a block's time; the strong plain coders cost 3-6x the whole column path,
 * so they run only when the estimate says they might win (or the block is small). */
static int choose_plain(gd_larc_writer *w, const char *data, size_t len, struct cand *pl,
                        struct cand **best)
{
    int strong = w->o.level >= LEVEL_STRONG, small = len <= PLAIN_ALWAYS;
    size_t est = small ? 0 : gd_larc_estimate(w->cc, data, len);
#define MAY_WIN(c) (small || (c)->p.len * EST_NUM > est * EST_DEN)
    int rc = 0;
    if (!MAY_WIN(*best))
        return 0;
    if (strong)
        rc = try_cand(w, &pl[0], GD_LARC_PLAIN | GD_LARC_LZMA, 1, data, len, best);
    if (rc == 0 && (!strong || MAY_WIN(*best)))
        rc = try_cand(w, &pl[1], GD_LARC_PLAIN | GD_LARC_ZSTD, 1, data, len, best);
    if (rc == 0 && (*best)->p.len >= len)
        rc = try_cand(w, &pl[2], GD_LARC_PLAIN | GD_LARC_STORED, 0, data, len, best);
#undef MAY_WIN
    return rc;
}

/* Encodes data[0..len) (len > 0) as one block and hands it to the sink. */
static int write_block(gd_larc_writer *w, const char *data, size_t len)
{
    struct blk b;
    memset(&b, 0, sizeof b);
    gd_buf_init(&b.keys, (size_t)1 << 31);
    gd_buf_init(&b.key, (size_t)1 << 31);
    struct gd_buf body;
    gd_buf_init(&body, (size_t)1 << 31);
    struct cand cols, pl[3], *best = NULL;
    gd_buf_init(&cols.p, (size_t)1 << 31);
    for (int i = 0; i < 3; i++)
        gd_buf_init(&pl[i].p, (size_t)1 << 31);
    int last_nonl = len > 0 && data[len - 1] != '\n';
    int rc = cut_lines(&b, data, len);
    if (rc == 0)
        rc = analyse(w, &b);
    if (rc == 0)
        rc = encode_body(w, &b, len, last_nonl, &body);
    if (rc == 0)
        rc = try_cand(w, &cols, body_coder(w, &body), body.len > ((size_t)4 << 20),
                      body.data ? body.data : "", body.len, &best);
    if (rc == 0 && !best)
        rc = GD_EINVAL;
    if (rc == 0)
        rc = choose_plain(w, data, len, pl, &best);
    if (rc == 0 && w->o.verify &&
        gd_larc_block_check(best->method, best->p.data, best->p.len, best->size, data, len) != 0) {
        snprintf(w->err, sizeof w->err, "internal error: block failed verification");
        rc = GD_ESTATE;
    }
    struct gd_buf hdr;
    gd_buf_init(&hdr, 64);
    uint32_t ck = gd_larc_checksum(data, len);
    uint8_t c4[4] = {(uint8_t)ck, (uint8_t)(ck >> 8), (uint8_t)(ck >> 16), (uint8_t)(ck >> 24)};
    uint8_t m = best ? (uint8_t)best->method : 0;
    if (rc == 0)
        rc = gd_codec_put_uvar(&hdr, best->p.len);
    if (rc == 0)
        rc = gd_buf_append(&hdr, &m, 1);
    if (rc == 0)
        rc = gd_codec_put_uvar(&hdr, best->size);
    if (rc == 0)
        rc = gd_buf_append(&hdr, c4, 4);
    if (rc == 0)
        rc = w->sink(w->ud, hdr.data, hdr.len);
    if (rc == 0)
        rc = w->sink(w->ud, best->p.data, best->p.len);
    if (rc == 0) {
        w->st.in_bytes += len;
        w->st.out_bytes += hdr.len + best->p.len;
        w->st.lines += b.n_lines;
        w->st.blocks++;
        w->st.plain_blocks += (m & GD_LARC_PLAIN) != 0;
        w->st.templates += (m & GD_LARC_PLAIN) ? 0 : b.n_tm;
    }
    gd_buf_free(&hdr);
    gd_buf_free(&body);
    gd_buf_free(&cols.p);
    for (int i = 0; i < 3; i++)
        gd_buf_free(&pl[i].p);
    blk_free(&b);
    return rc;
}

/* Magic, version and the recorded options, once before the first block. */
static int write_header(gd_larc_writer *w)
{
    if (w->started)
        return 0;
    struct gd_buf h;
    gd_buf_init(&h, w->opts.len + 64);
    uint8_t v = GD_LARC_VERSION;
    int rc = gd_buf_append(&h, GD_LARC_MAGIC, GD_LARC_MAGIC_LEN);
    if (rc == 0)
        rc = gd_buf_append(&h, &v, 1);
    if (rc == 0)
        rc = gd_codec_put_bytes(&h, w->opts.data ? w->opts.data : "", w->opts.len);
    if (rc == 0)
        rc = w->sink(w->ud, h.data, h.len);
    if (rc == 0) {
        w->started = 1;
        w->st.out_bytes += h.len;
    }
    gd_buf_free(&h);
    return rc;
}

/* Emits the full input buffer as blocks of whole lines (or one piece of an over-long line). */
static int flush_full(gd_larc_writer *w)
{
    const char *nl = NULL;
    for (size_t i = w->in.len; i > 0 && !nl; i--)
        if (w->in.data[i - 1] == '\n')
            nl = w->in.data + i - 1;
    size_t n = nl ? (size_t)(nl - w->in.data) + 1 : w->in.len;
    int rc = write_header(w);
    if (rc == 0)
        rc = write_block(w, w->in.data, n);
    if (rc == 0)
        gd_buf_consume(&w->in, n);
    return rc;
}

int gd_larc_writer_write(gd_larc_writer *w, const void *p, size_t n)
{
    const char *s = p;
    int rc = w->failed;
    while (n > 0 && rc == 0) {
        size_t take = w->o.block_bytes - w->in.len;
        take = take < n ? take : n;
        rc = gd_buf_append(&w->in, s, take);
        s += take;
        n -= take;
        if (rc == 0 && w->in.len == w->o.block_bytes)
            rc = flush_full(w);
    }
    if (rc && !w->failed) {
        w->failed = rc;
        if (!w->err[0])
            snprintf(w->err, sizeof w->err, "%s", gd_strerror(rc));
    }
    return rc;
}

int gd_larc_writer_finish(gd_larc_writer *w, struct gd_larc_stats *st)
{
    int rc = w->failed;
    if (rc == 0)
        rc = write_header(w);
    if (rc == 0 && w->in.len > 0)
        rc = write_block(w, w->in.data, w->in.len);
    if (rc == 0) {
        gd_buf_reset(&w->in);
        rc = w->sink(w->ud, "", 1); /* end marker: a zero-length block */
        w->st.out_bytes++;
    }
    if (rc && !w->failed) {
        w->failed = rc;
        if (!w->err[0])
            snprintf(w->err, sizeof w->err, "%s", gd_strerror(rc));
    }
    if (st)
        *st = w->st;
    return rc;
}

int gd_larc_columns_body(const struct gd_larc_opts *o, const char *data, size_t len,
                         struct gd_buf *body, char *err, size_t err_len)
{
    gd_larc_writer *w = NULL;
    int rc = gd_larc_writer_new(o, NULL, NULL, &w, err, err_len);
    if (rc)
        return rc;
    struct blk b;
    memset(&b, 0, sizeof b);
    gd_buf_init(&b.keys, (size_t)1 << 31);
    gd_buf_init(&b.key, (size_t)1 << 31);
    rc = cut_lines(&b, data, len);
    if (rc == 0)
        rc = analyse(w, &b);
    if (rc == 0)
        rc = encode_body(w, &b, len, len > 0 && data[len - 1] != '\n', body);
    blk_free(&b);
    gd_larc_writer_free(w);
    return rc;
}
