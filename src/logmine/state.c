/* Miner state on disk: the templates (id, count, tokens) and the options that shape mining.
 *
 * A small line-oriented text format, readable with `less`, with every byte string length-
 * prefixed so tokens may hold any byte:
 *   girder-logmine-state 1
 *   opts <sim %.17g> <depth> <default_masks> <word_vars> <word_limit> <n_masks>
 *   mask <len>:<bytes>                      (n_masks times)
 *   templates <n>
 *   t <count> <ntok> <alias> <family> <family_size> <family_pos>   (n times, ids 1..n)
 *   <is_var><space_before> <len>:<bytes>    (ntok times)
 *   end
 * Loading replays the templates into a fresh miner (ids, leaves and texts are rebuilt), so
 * mining continues exactly where the saved run left its templates. Loading treats the file
 * as untrusted: every count and length is bounds-checked against the remaining bytes. */
#include "logmine/miner.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/hash.h"
#include "girder/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "girder-logmine-state 1\n"
#define STATE_MAX ((size_t)1 << 34)

static int put_bytes(struct gd_buf *b, const char *s, size_t n)
{
    int rc = gd_buf_printf(b, "%zu:", n);
    rc = rc ? rc : gd_buf_append(b, s, n);
    return rc ? rc : gd_buf_putc(b, '\n');
}

static int save_buf(const struct gd_logmine *m, struct gd_buf *b)
{
    int rc = gd_buf_puts(b, MAGIC);
    rc = rc ? rc
            : gd_buf_printf(b, "opts %.17g %u %d %d %u %zu\n", m->opts.sim, m->opts.depth,
                            m->opts.default_masks ? 1 : 0, m->opts.word_vars ? 1 : 0,
                            m->opts.word_limit, m->opts.n_masks);
    for (size_t i = 0; rc == 0 && i < m->opts.n_masks; i++) {
        rc = gd_buf_puts(b, "mask ");
        rc = rc ? rc : put_bytes(b, m->masks[i], strlen(m->masks[i]));
    }
    rc = rc ? rc : gd_buf_printf(b, "templates %zu\n", m->ncl);
    for (size_t id = 0; rc == 0 && id < m->ncl; id++) {
        const struct lm_cluster *c = &m->clusters[id];
        rc = gd_buf_printf(b, "t %llu %u %u %u %u %u\n", (unsigned long long)c->count, c->ntok,
                           c->alias, c->fam, c->fam_n, c->fam_pos);
        for (uint32_t i = 0; rc == 0 && i < c->ntok; i++) {
            rc = gd_buf_printf(b, "%d%d ", c->tok[i].is_var, c->tok[i].space_before);
            rc = rc ? rc : put_bytes(b, c->tok[i].text, c->tok[i].is_var ? 0 : c->tok[i].len);
        }
    }
    return rc ? rc : gd_buf_puts(b, "end\n");
}

int gd_logmine_save_mem(const gd_logmine *m, char **out, size_t *len)
{
    struct gd_buf b;
    gd_buf_init(&b, STATE_MAX);
    int rc = save_buf(m, &b);
    if (rc) {
        gd_buf_free(&b);
        return rc;
    }
    *out = b.data;
    *len = b.len;
    return 0;
}

void gd_logmine_free_mem(void *p)
{
    gd_free(p);
}

int gd_logmine_save(const gd_logmine *m, const char *path)
{
    char *data = NULL;
    size_t len = 0;
    int rc = gd_logmine_save_mem(m, &data, &len);
    if (rc)
        return rc;
    size_t pl = strlen(path) + 8;
    char *tmp = gd_malloc(pl);
    FILE *f = NULL;
    rc = GD_EIO;
    if (!tmp)
        rc = GD_ENOMEM;
    else if (snprintf(tmp, pl, "%s.tmp", path) > 0 && (f = fopen(tmp, "wb")) != NULL) {
        int ok = fwrite(data, 1, len, f) == len;
        ok &= fclose(f) == 0;
        if (ok && rename(tmp, path) == 0)
            rc = 0;
        else
            unlink(tmp);
    }
    gd_free(tmp);
    gd_free(data);
    return rc;
}

/* ---- loading ---------------------------------------------------------------------------- */

struct rd {
    const char *p, *end;
};

static int expect(struct rd *r, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
        return GD_EPARSE;
    r->p += n;
    return 0;
}

/* Unsigned decimal followed by the separator sep. */
static int num(struct rd *r, char sep, unsigned long long max, unsigned long long *out)
{
    unsigned long long v = 0;
    const char *s = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9' && r->p - s < 20) {
        v = v * 10 + (unsigned long long)(*r->p - '0');
        r->p++;
    }
    if (r->p == s || r->p >= r->end || *r->p != sep || v > max)
        return GD_EPARSE;
    r->p++;
    *out = v;
    return 0;
}

static int bytes(struct rd *r, const char **s, size_t *n)
{
    unsigned long long len;
    int rc = num(r, ':', GD_LOGMINE_MAX_LINE, &len);
    if (rc || (unsigned long long)(r->end - r->p) < len + 1 || r->p[len] != '\n')
        return GD_EPARSE;
    *s = r->p;
    *n = (size_t)len;
    r->p += len + 1;
    return 0;
}

static int load_opts(const gd_logmine *m, struct rd *r)
{
    const char *e;
    if (expect(r, "opts ") || !(e = memchr(r->p, ' ', (size_t)(r->end - r->p))) || e - r->p > 40)
        return GD_EPARSE;
    char tmp[48];
    memcpy(tmp, r->p, (size_t)(e - r->p));
    tmp[e - r->p] = '\0';
    double sim = strtod(tmp, NULL);
    r->p = e + 1;
    unsigned long long depth, dm, wv, wl, nm;
    if (num(r, ' ', 64, &depth) || num(r, ' ', 1, &dm) || num(r, ' ', 1, &wv) ||
        num(r, ' ', UINT32_MAX, &wl) || num(r, '\n', 1 << 16, &nm))
        return GD_EPARSE;
    if (sim != m->opts.sim || depth != m->opts.depth || (int)dm != (m->opts.default_masks != 0) ||
        (int)wv != (m->opts.word_vars != 0) || wl != m->opts.word_limit || nm != m->opts.n_masks)
        return GD_EINVAL;
    for (size_t i = 0; i < nm; i++) {
        const char *s;
        size_t n;
        if (expect(r, "mask ") || bytes(r, &s, &n))
            return GD_EPARSE;
        if (strlen(m->masks[i]) != n || memcmp(m->masks[i], s, n) != 0)
            return GD_EINVAL;
    }
    return 0;
}

/* Rebuilds one template: tokens go into a scratch content so lm_cluster_create can copy
 * them like a mined line's tokens. */
static int load_template(gd_logmine *m, struct rd *r, struct gd_buf *scratch)
{
    unsigned long long count, ntok, alias, fam, fam_n, fam_pos, id = m->ncl + 1;
    if (expect(r, "t ") || num(r, ' ', UINT64_MAX, &count) ||
        num(r, ' ', m->opts.max_tokens, &ntok) || num(r, ' ', id - 1, &alias) ||
        num(r, ' ', id - 1, &fam) || num(r, ' ', m->opts.max_templates, &fam_n) || fam_n == 0 ||
        num(r, '\n', ntok, &fam_pos))
        return GD_EPARSE; /* alias and family point to older templates only */
    gd_buf_reset(scratch);
    for (size_t i = 0; i < ntok; i++) {
        if (r->end - r->p < 3 || (r->p[0] != '0' && r->p[0] != '1') ||
            (r->p[1] != '0' && r->p[1] != '1') || r->p[2] != ' ')
            return GD_EPARSE;
        struct lm_tok t = {0, 0, (uint8_t)(r->p[0] - '0'), (uint8_t)(r->p[1] - '0'), 0};
        r->p += 3;
        const char *s;
        size_t n;
        if (bytes(r, &s, &n) || (t.var && n != 0))
            return GD_EPARSE;
        t.off = (uint32_t)scratch->len;
        t.len = (uint32_t)n;
        t.h = t.var ? 0 : lm_hash(s, n);
        int rc = gd_buf_append(scratch, s, n);
        if (rc)
            return rc;
        m->toks[i] = t;
    }
    int rc = lm_cluster_create(m, (uint32_t)id, scratch->data ? scratch->data : "", m->toks,
                               (size_t)ntok, count, alias == 0);
    if (rc)
        return rc;
    struct lm_cluster *c = &m->clusters[id - 1];
    c->alias = (uint32_t)alias;
    c->fam = (uint32_t)fam;
    c->fam_n = (uint32_t)fam_n;
    c->fam_pos = (uint32_t)fam_pos;
    if (fam) { /* rebuild the family's member list */
        uint32_t root = (uint32_t)fam;
        while (m->clusters[root - 1].fam)
            root = m->clusters[root - 1].fam;
        c->next = m->clusters[root - 1].next;
        m->clusters[root - 1].next = (uint32_t)id;
    }
    return 0;
}

int gd_logmine_load_mem(gd_logmine *m, const char *data, size_t len)
{
    if (m->ncl != 0)
        return GD_ESTATE;
    struct rd r = {data, data + len};
    struct gd_buf scratch;
    gd_buf_init(&scratch, STATE_MAX);
    unsigned long long n;
    int rc = expect(&r, MAGIC);
    rc = rc ? rc : load_opts(m, &r);
    rc = rc ? rc : expect(&r, "templates ");
    rc = rc ? rc : num(&r, '\n', m->opts.max_templates, &n);
    for (unsigned long long i = 0; rc == 0 && i < n; i++)
        rc = load_template(m, &r, &scratch);
    rc = rc ? rc : expect(&r, "end\n");
    gd_buf_free(&scratch);
    return rc == GD_ELIMIT ? GD_EPARSE : rc;
}

int gd_logmine_load(gd_logmine *m, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? GD_ENOENT : GD_EIO;
    struct gd_buf b;
    gd_buf_init(&b, STATE_MAX);
    char chunk[1 << 16];
    size_t got;
    int rc = 0;
    while (rc == 0 && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = gd_buf_append(&b, chunk, got);
    if (rc == 0 && ferror(f))
        rc = GD_EIO;
    fclose(f);
    if (rc == 0)
        rc = gd_logmine_load_mem(m, b.data ? b.data : "", b.len);
    gd_buf_free(&b);
    return rc;
}
