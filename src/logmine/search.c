/* `logs grep` on the compressed form: fixed-string search that uses templates to avoid
 * rebuilding lines.
 *
 * A line is constant segments C0..Ck interleaved with slot values V1..Vk. For each template:
 *   ALL   the pattern occurs inside one constant segment: every line of it matches;
 *   LINES the pattern could straddle constant text and a value (a non-empty suffix of some Ci
 *         is a prefix of the pattern, a prefix of Ci is a suffix of it, or Ci lies inside
 *         it), or two values are adjacent: rebuild each line and search it;
 *   VARS  otherwise a match must lie inside a single value: only the value columns are
 *         searched, and each column is first tested as a whole (dictionary entries once,
 *         integer columns by their alphabet), so most templates are skipped outright.
 * Blocks are decompressed but lines are only rebuilt for output and for LINES templates.
 * A plain block (one the writer kept as plain bytes) is searched line by line as text. */
#include "logmine/archive.h"
#include "logmine/archive_block.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <stdio.h>
#include <string.h>

enum { MODE_SKIP = 0, MODE_ALL, MODE_LINES, MODE_VARS };
enum { COL_NEVER = 0, COL_PERVALUE, COL_DICT, COL_ALWAYS };

/* How one column is tested: NEVER/ALWAYS for the whole column, DICT by entry bitmap,
 * PERVALUE by rendering each value. */
struct colmatch {
    uint8_t how;
    uint8_t *hit; /* DICT: d flags */
};

struct grep_ctx {
    const char *pat;
    size_t plen;
    gd_larc_sink_fn sink;
    void *ud;
    struct gd_larc_grep_stats *st;
    struct gd_buf line, out;
};

static int contains(const char *h, size_t hn, const char *n, size_t nn)
{
    return nn == 0 || (hn >= nn && memmem(h, hn, n, nn) != NULL);
}

/* Can a match overlap segment c partially or contain it? */
static int touches(const char *c, size_t cn, const char *p, size_t pn)
{
    if (cn == 0)
        return 0;
    for (size_t k = 1; k < pn && k <= cn; k++)
        if (memcmp(c + cn - k, p, k) == 0 || memcmp(c, p + pn - k, k) == 0)
            return 1;
    return cn < pn && contains(p, pn, c, cn);
}

static int tmpl_mode(const struct gd_larc_tmpl *T, const char *p, size_t pn)
{
    int mode = MODE_VARS;
    for (uint32_t s = 0; s <= T->n_slots; s++) {
        const char *c = T->seg_base + T->seg_off[s];
        size_t cn = T->seg_off[s + 1] - T->seg_off[s];
        if (contains(c, cn, p, pn))
            return MODE_ALL;
        if (touches(c, cn, p, pn) || (cn == 0 && s > 0 && s < T->n_slots))
            mode = MODE_LINES;
    }
    return mode;
}

static int strcol_match(const struct gd_codec_strcol *sc, const char *p, size_t pn,
                        struct gd_arena *a, struct colmatch *m)
{
    if (sc->kind == GD_CODEC_KIND_RAW) {
        m->how = contains(sc->base, sc->off[sc->d], p, pn) ? COL_PERVALUE : COL_NEVER;
        return 0;
    }
    m->hit = gd_arena_alloc(a, sc->d);
    if (!m->hit)
        return GD_ENOMEM;
    int any = 0;
    for (uint32_t e = 0; e < sc->d; e++)
        any |= m->hit[e] =
            (uint8_t)contains(sc->base + sc->off[e], sc->off[e + 1] - sc->off[e], p, pn);
    m->how = !any ? COL_NEVER : sc->kind == GD_CODEC_KIND_CONST ? COL_ALWAYS : COL_DICT;
    return 0;
}

/* A SPLIT column can only match when every pattern byte can occur in its values. */
static void split_match(const struct gd_codec_column *c, const char *p, size_t pn,
                        struct colmatch *m)
{
    uint8_t ok[256] = {0};
    for (int d = '0'; d <= '9'; d++)
        ok[d] = 1;
    ok['-'] = 1;
    for (uint32_t i = 0; i < c->poff[c->k + 1]; i++)
        ok[(uint8_t)c->pbase[i]] = 1;
    m->how = COL_PERVALUE;
    for (uint32_t j = 0; j <= c->k; j++)
        if (c->pvar[j].n || (j < c->k && !c->subs[j].int_kind))
            return; /* a string piece or sub-column: any byte possible */
    for (size_t i = 0; i < pn; i++)
        if (!ok[(uint8_t)p[i]])
            m->how = COL_NEVER;
}

static int col_match(const struct gd_codec_column *c, const char *p, size_t pn, struct gd_arena *a,
                     struct colmatch *m)
{
    memset(m, 0, sizeof *m);
    if (c->kind == GD_CODEC_KIND_SPLIT) {
        split_match(c, p, pn, m);
        return 0;
    }
    return strcol_match(&c->sc, p, pn, a, m);
}

static int value_hit(struct grep_ctx *g, const struct gd_codec_column *c, const struct colmatch *m,
                     uint32_t i, int *hit)
{
    *hit = 0;
    if (m->how == COL_ALWAYS)
        *hit = 1;
    else if (m->how == COL_DICT)
        *hit = m->hit[c->sc.idx[i]];
    else if (m->how == COL_PERVALUE) {
        gd_buf_reset(&g->line);
        int rc = gd_codec_column_append(c, i, &g->line);
        if (rc)
            return rc;
        *hit = contains(g->line.data, g->line.len, g->pat, g->plen);
    }
    return 0;
}

struct block_plan {
    uint8_t *mode;        /* per template */
    struct colmatch *fm;  /* per field column */
    struct colmatch **vm; /* per template: per variable column */
};

static int plan_block(struct grep_ctx *g, const struct gd_larc_block *b, struct gd_arena *a,
                      struct block_plan *pl)
{
    pl->mode = gd_arena_alloc(a, b->n_tmpl + 1);
    pl->fm = gd_arena_calloc(a, b->n_fields + 1, sizeof *pl->fm);
    pl->vm = gd_arena_calloc(a, b->n_tmpl + 1, sizeof *pl->vm);
    if (!pl->mode || !pl->fm || !pl->vm)
        return GD_ENOMEM;
    int rc = 0;
    for (uint32_t f = 0; f < b->n_fields && rc == 0; f++)
        if (b->field_n[f])
            rc = col_match(&b->fields[f], g->pat, g->plen, a, &pl->fm[f]);
    for (uint32_t t = 0; t < b->n_tmpl && rc == 0; t++) {
        const struct gd_larc_tmpl *T = &b->tmpl[t];
        pl->mode[t] = T->count ? (uint8_t)tmpl_mode(T, g->pat, g->plen) : MODE_SKIP;
        if (pl->mode[t] != MODE_VARS)
            continue;
        pl->vm[t] = gd_arena_calloc(a, T->n_vars + 1, sizeof **pl->vm);
        if (!pl->vm[t])
            return GD_ENOMEM;
        int any = 0;
        for (uint32_t s = 0; s < T->n_slots && rc == 0; s++) {
            uint32_t d = T->dest[s];
            if (d != GD_LARC_SLOT_VAR) {
                any |= pl->fm[d - 1].how != COL_NEVER;
                continue;
            }
            struct colmatch *m = &pl->vm[t][T->var_col[s]];
            rc = col_match(&T->vars[T->var_col[s]], g->pat, g->plen, a, m);
            any |= m->how != COL_NEVER;
        }
        if (!any)
            pl->mode[t] = MODE_SKIP;
    }
    return rc;
}

/* Does line i (a VARS template) have a value containing the pattern? */
static int vars_hit(struct grep_ctx *g, const struct gd_larc_block *b, const struct block_plan *pl,
                    uint32_t i, const struct gd_larc_cursor *c, int *hit)
{
    uint32_t t = b->line_tmpl[i];
    const struct gd_larc_tmpl *T = &b->tmpl[t];
    int rc = 0;
    *hit = 0;
    for (uint32_t s = 0; s < T->n_slots && rc == 0 && !*hit; s++) {
        uint32_t d = T->dest[s];
        if (d == GD_LARC_SLOT_VAR)
            rc = value_hit(g, &T->vars[T->var_col[s]], &pl->vm[t][T->var_col[s]], b->line_rank[i],
                           hit);
        else
            rc = value_hit(g, &b->fields[d - 1], &pl->fm[d - 1], c->field_pos[d - 1], hit);
    }
    return rc;
}

static int grep_line(struct grep_ctx *g, const struct gd_larc_block *b, const struct block_plan *pl,
                     uint32_t i, const struct gd_larc_cursor *c)
{
    int mode = pl->mode[b->line_tmpl[i]], hit = mode == MODE_ALL, rc = 0;
    if (mode == MODE_VARS)
        rc = vars_hit(g, b, pl, i, c, &hit);
    if (rc || mode == MODE_SKIP || (mode == MODE_VARS && !hit))
        return rc;
    size_t start = g->out.len;
    rc = gd_larc_line_render(b, i, c, &g->out);
    g->st->lines_rendered++;
    if (rc == 0 && mode == MODE_LINES &&
        !contains(g->out.data + start, g->out.len - start, g->pat, g->plen)) {
        g->out.len = start;
        return 0;
    }
    g->st->matched++;
    return rc ? rc : gd_buf_putc(&g->out, '\n');
}

static int flush_out(struct grep_ctx *g)
{
    int rc = g->out.len ? g->sink(g->ud, g->out.data, g->out.len) : 0;
    gd_buf_reset(&g->out);
    return rc;
}

/* A plain block: its lines as the writer cuts them, each searched directly. */
static int grep_plain(struct grep_ctx *g, const struct gd_larc_block *b)
{
    g->st->blocks++;
    g->st->plain_blocks++;
    g->st->lines += b->n_lines;
    int rc = 0;
    for (const char *p = b->text, *e = p + b->raw_size; p < e && rc == 0;) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(e - p);
        if (contains(p, n, g->pat, g->plen)) {
            g->st->matched++;
            rc = gd_buf_append(&g->out, p, n);
            rc = rc ? rc : gd_buf_putc(&g->out, '\n');
        }
        p += n + 1;
        if (rc == 0 && g->out.len >= (1 << 16))
            rc = flush_out(g);
    }
    return rc ? rc : flush_out(g);
}

static int grep_block(void *ud, const struct gd_larc_block *b, const struct gd_buf *rendered)
{
    (void)rendered;
    struct grep_ctx *g = ud;
    if (b->plain)
        return grep_plain(g, b);
    struct gd_arena a;
    gd_arena_init(&a, 1 << 14, 0);
    struct block_plan pl;
    int rc = plan_block(g, b, &a, &pl);
    g->st->blocks++;
    g->st->lines += b->n_lines;
    for (uint32_t t = 0; t < b->n_tmpl && rc == 0; t++) {
        g->st->templates++;
        g->st->templates_all += pl.mode[t] == MODE_ALL;
        g->st->templates_skipped += pl.mode[t] == MODE_SKIP;
    }
    struct gd_larc_cursor c;
    memset(&c, 0, sizeof c);
    for (uint32_t i = 0; i < b->n_lines && rc == 0; i++) {
        rc = grep_line(g, b, &pl, i, &c);
        gd_larc_cursor_advance(b, i, &c);
        if (rc == 0 && g->out.len >= (1 << 16)) {
            rc = g->sink(g->ud, g->out.data, g->out.len);
            gd_buf_reset(&g->out);
        }
    }
    if (rc == 0 && g->out.len) {
        rc = g->sink(g->ud, g->out.data, g->out.len);
        gd_buf_reset(&g->out);
    }
    gd_arena_free(&a);
    return rc;
}

int gd_larc_grep_mem(const void *arc, size_t n, const char *pat, size_t plen, gd_larc_sink_fn sink,
                     void *ud, struct gd_larc_grep_stats *st, char *err, size_t err_len)
{
    struct gd_larc_grep_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    if (memchr(pat, '\n', plen)) {
        if (err && err_len)
            snprintf(err, err_len, "the pattern must not contain a newline");
        return GD_EINVAL;
    }
    struct grep_ctx g;
    memset(&g, 0, sizeof g);
    g.pat = pat;
    g.plen = plen;
    g.sink = sink;
    g.ud = ud;
    g.st = st;
    gd_buf_init(&g.line, GD_LARC_BLOCK_MAX + 1);
    gd_buf_init(&g.out, 2 * GD_LARC_BLOCK_MAX + 2);
    int rc = gd_larc_walk(arc, n, grep_block, &g, 0, err, err_len);
    gd_buf_free(&g.line);
    gd_buf_free(&g.out);
    return rc;
}
