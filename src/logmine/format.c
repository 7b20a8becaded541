/* Header formats ("<Date> <Time> <Level> <Component>: <Content>").
 *
 * The notation comes from the loghub/logparser benchmark, where a format is turned into a
 * Python regex: each <Name> becomes a lazy group (.*?), each run of spaces becomes \s+, the
 * rest is regex text, anchored at both ends. Running a general regex engine per line is the
 * slowest part of a parser, and almost every real format only uses fields, whitespace,
 * escaped literals and "(...)?" optional parts. Those formats are compiled here into a tiny
 * program run by a backtracking matcher with the same semantics (lazy fields, greedy \s+,
 * greedy optional groups); the matcher skips ahead with memchr-style scans to the next
 * literal, so a typical line costs one pass. Any other regex syntax falls back to PCRE2 (JIT)
 * on the regex the reference implementation would build. A step budget bounds backtracking
 * on hostile input: a line that needs more steps is reported as not matching. */
#include "logmine/internal.h"

#include "core/alloc.h"
#include "girder/error.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

enum op { OP_FIELD, OP_WS, OP_LIT, OP_OPT, OP_END };

struct elem {
    enum op op;
    uint32_t arg; /* FIELD: field index; LIT: offset in lits; OPT: index after the group */
    uint32_t len; /* LIT: length */
};

#define MAX_FIELDS 64
#define MAX_ELEMS 256
#define MATCH_BUDGET 100000

struct gd_logfmt {
    size_t nfields;
    char *names[MAX_FIELDS];
    int content, level;
    size_t nelems;
    struct elem elems[MAX_ELEMS];
    char *lits;
    pcre2_code *re; /* fallback when the format uses general regex syntax */
    pcre2_match_data *md;
    uint32_t groups[MAX_FIELDS]; /* PCRE2 group number of each field */
};

static void set_err(char *err, size_t n, const char *msg, size_t at)
{
    if (err && n)
        snprintf(err, n, "%s at offset %zu", msg, at);
}

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int add_field(struct gd_logfmt *f, const char *name, size_t n)
{
    if (f->nfields >= MAX_FIELDS)
        return GD_ELIMIT;
    for (size_t i = 0; i < f->nfields; i++)
        if (strlen(f->names[i]) == n && memcmp(f->names[i], name, n) == 0)
            return GD_EINVAL;
    char *s = gd_strndup(name, n);
    if (!s)
        return GD_ENOMEM;
    if (n == 7 && memcmp(name, "Content", 7) == 0)
        f->content = (int)f->nfields;
    if ((n == 5 && strncasecmp(name, "Level", 5) == 0) ||
        (n == 8 && strncasecmp(name, "Severity", 8) == 0) ||
        (n == 3 && strncasecmp(name, "Lvl", 3) == 0))
        f->level = (int)f->nfields;
    f->names[f->nfields++] = s;
    return 0;
}

/* Scans the field names (both compilers need them). Returns the count or a GD_E*. */
static int scan_fields(struct gd_logfmt *f, const char *fmt, char *err, size_t errn)
{
    for (const char *p = fmt; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p != '<')
            continue;
        const char *e = p + 1;
        while (*e && *e != '>' && *e != '<')
            e++;
        if (*e != '>' || e == p + 1) {
            set_err(err, errn, "unterminated or empty <field>", (size_t)(p - fmt));
            return GD_EPARSE;
        }
        int rc = add_field(f, p + 1, (size_t)(e - p - 1));
        if (rc) {
            set_err(err, errn, rc == GD_EINVAL ? "duplicate field" : "too many fields",
                    (size_t)(p - fmt));
            return rc;
        }
        p = e;
    }
    if (f->nfields == 0) {
        set_err(err, errn, "format has no <field>", 0);
        return GD_EINVAL;
    }
    return 0;
}

static int push(struct gd_logfmt *f, enum op op, uint32_t arg, uint32_t len)
{
    if (f->nelems >= MAX_ELEMS)
        return GD_ELIMIT;
    f->elems[f->nelems++] = (struct elem){op, arg, len};
    return 0;
}

/* Compiles into the fast program. Returns 0, or 1 when the format needs PCRE2. */
static int compile_simple(struct gd_logfmt *f, const char *fmt)
{
    size_t n = strlen(fmt), nl = 0, field = 0, barrier = 0;
    size_t opt_stack[8], depth = 0;
    f->lits = gd_malloc(n + 1);
    if (!f->lits)
        return GD_ENOMEM;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)fmt[i];
        if (c == '<') {
            const char *e = strchr(fmt + i, '>');
            if (push(f, OP_FIELD, (uint32_t)field++, 0))
                return 1;
            i = (size_t)(e - fmt) + 1;
        } else if (c == ' ') {
            while (i < n && fmt[i] == ' ')
                i++;
            if (push(f, OP_WS, 0, 0))
                return 1;
        } else if (c == '(') {
            if (depth == 8 || push(f, OP_OPT, 0, 0))
                return 1;
            opt_stack[depth++] = f->nelems - 1;
            i++;
        } else if (c == ')') {
            if (depth == 0 || i + 1 >= n || fmt[i + 1] != '?')
                return 1;
            f->elems[opt_stack[--depth]].arg = (uint32_t)f->nelems;
            barrier = f->nelems; /* a literal after the group is not part of it */
            i += 2;
        } else if (strchr(".*+?[]{}|^$", c)) {
            return 1;
        } else {
            if (c == '\\') {
                if (i + 1 >= n || isalnum((unsigned char)fmt[i + 1]))
                    return 1; /* \s, \d, \b ... are regex classes */
                c = (unsigned char)fmt[++i];
            }
            struct elem *last = f->nelems ? &f->elems[f->nelems - 1] : NULL;
            if (last && f->nelems > barrier && last->op == OP_LIT && last->arg + last->len == nl)
                last->len++;
            else if (push(f, OP_LIT, (uint32_t)nl, 1))
                return 1;
            f->lits[nl++] = (char)c;
            i++;
        }
    }
    if (depth || push(f, OP_END, 0, 0))
        return 1;
    return 0;
}

/* Fallback: the regex the reference implementation builds, compiled with PCRE2 JIT. */
static int compile_pcre(struct gd_logfmt *f, const char *fmt, char *err, size_t errn)
{
    size_t n = strlen(fmt), cap = n * 4 + 16 * f->nfields + 8, o = 0, field = 0;
    char *re = gd_malloc(cap);
    if (!re)
        return GD_ENOMEM;
    re[o++] = '^';
    for (size_t i = 0; i < n;) {
        if (fmt[i] == '\\' && i + 1 < n) {
            re[o++] = fmt[i++];
            re[o++] = fmt[i++];
        } else if (fmt[i] == '<') {
            const char *e = strchr(fmt + i, '>');
            o += (size_t)snprintf(re + o, cap - o, "(?<f%zu>.*?)", field++);
            i = (size_t)(e - fmt) + 1;
        } else if (fmt[i] == ' ') {
            while (i < n && fmt[i] == ' ')
                i++;
            memcpy(re + o, "\\s+", 3);
            o += 3;
        } else {
            re[o++] = fmt[i++];
        }
    }
    re[o++] = '$';
    int ec;
    PCRE2_SIZE eo;
    f->re = pcre2_compile((PCRE2_SPTR)re, o, 0, &ec, &eo, NULL);
    gd_free(re);
    if (!f->re) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(ec, msg, sizeof msg);
        set_err(err, errn, (const char *)msg, (size_t)eo);
        return GD_EPARSE;
    }
    (void)pcre2_jit_compile(f->re, PCRE2_JIT_COMPLETE); /* interpreter if JIT unavailable */
    f->md = pcre2_match_data_create_from_pattern(f->re, NULL);
    if (!f->md)
        return GD_ENOMEM;
    for (size_t i = 0; i < f->nfields; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%zu", i);
        int g = pcre2_substring_number_from_name(f->re, (PCRE2_SPTR)name);
        if (g <= 0)
            return GD_EPARSE;
        f->groups[i] = (uint32_t)g;
    }
    return 0;
}

int gd_logfmt_compile(const char *fmt, struct gd_logfmt **out, char *err, size_t err_len)
{
    int rc = GD_ENOMEM;
    struct gd_logfmt *f = gd_calloc(1, sizeof *f);
    if (!f)
        goto fail;
    f->content = f->level = -1;
    if ((rc = scan_fields(f, fmt, err, err_len)) != 0)
        goto fail;
    rc = compile_simple(f, fmt);
    if (rc < 0)
        goto fail;
    if (rc == 1) {
        f->nelems = 0;
        if ((rc = compile_pcre(f, fmt, err, err_len)) != 0)
            goto fail;
    }
    *out = f;
    return 0;
fail:
    gd_logfmt_free(f);
    return rc;
}

void gd_logfmt_free(struct gd_logfmt *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nfields; i++)
        gd_free(f->names[i]);
    gd_free(f->lits);
    pcre2_match_data_free(f->md);
    pcre2_code_free(f->re);
    gd_free(f);
}

size_t gd_logfmt_nfields(const struct gd_logfmt *f)
{
    return f->nfields;
}
const char *gd_logfmt_field_name(const struct gd_logfmt *f, size_t i)
{
    return i < f->nfields ? f->names[i] : NULL;
}
int gd_logfmt_content_field(const struct gd_logfmt *f)
{
    return f->content;
}
int gd_logfmt_level_field(const struct gd_logfmt *f)
{
    return f->level;
}

struct mctx {
    const struct gd_logfmt *f;
    const unsigned char *s;
    size_t n;
    long budget;
    struct gd_logmine_span *spans;
};

static void mark_absent(struct mctx *c, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (c->f->elems[i].op == OP_FIELD)
            c->spans[c->f->elems[i].arg] = (struct gd_logmine_span){GD_LOGMINE_ABSENT, 0};
}

/* Can element i start at position p? A cheap filter for lazy field ends. */
static int may_start(struct mctx *c, size_t i, size_t p)
{
    const struct elem *e = &c->f->elems[i];
    switch (e->op) {
    case OP_WS:
        return p < c->n && is_ws(c->s[p]);
    case OP_LIT:
        return p < c->n && c->s[p] == (unsigned char)c->f->lits[e->arg];
    case OP_END:
        return p == c->n;
    default:
        return 1;
    }
}

static int run(struct mctx *c, size_t i, size_t p)
{
    if (--c->budget < 0)
        return 0;
    const struct elem *e = &c->f->elems[i];
    switch (e->op) {
    case OP_END:
        return p == c->n;
    case OP_LIT:
        if (c->n - p < e->len || memcmp(c->s + p, c->f->lits + e->arg, e->len) != 0)
            return 0;
        return run(c, i + 1, p + e->len);
    case OP_WS: {
        size_t q = p;
        while (q < c->n && is_ws(c->s[q]))
            q++;
        for (; q > p; q--) /* greedy \s+ */
            if (run(c, i + 1, q))
                return 1;
        return 0;
    }
    case OP_OPT:
        if (run(c, i + 1, p)) /* greedy (...)? */
            return 1;
        mark_absent(c, i + 1, e->arg);
        return run(c, e->arg, p);
    case OP_FIELD: {
        const struct elem *nx = &c->f->elems[i + 1];
        size_t q = nx->op == OP_END ? c->n : p; /* a trailing field takes the rest */
        for (; q <= c->n; q++) {
            if (nx->op == OP_WS) { /* skip to the next candidate end at once */
                while (q < c->n && !is_ws(c->s[q]))
                    q++;
            } else if (nx->op == OP_LIT && q < c->n) {
                const unsigned char *h = memchr(c->s + q, c->f->lits[nx->arg], c->n - q);
                q = h ? (size_t)(h - c->s) : c->n;
            }
            if (!may_start(c, i + 1, q))
                continue;
            c->spans[e->arg] = (struct gd_logmine_span){(uint32_t)p, (uint32_t)(q - p)};
            if (run(c, i + 1, q))
                return 1;
            if (c->budget < 0)
                return 0;
        }
        return 0;
    }
    }
    return 0;
}

static int match_pcre(const struct gd_logfmt *f, const char *line, size_t len,
                      struct gd_logmine_span *spans)
{
    int rc = pcre2_match(f->re, (PCRE2_SPTR)line, len, 0, 0, f->md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH || rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT)
        return 0;
    if (rc < 0)
        return GD_EINVAL;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(f->md);
    for (size_t i = 0; i < f->nfields; i++) {
        PCRE2_SIZE a = ov[2 * f->groups[i]], b = ov[2 * f->groups[i] + 1];
        if (a == PCRE2_UNSET)
            spans[i] = (struct gd_logmine_span){GD_LOGMINE_ABSENT, 0};
        else
            spans[i] = (struct gd_logmine_span){(uint32_t)a, (uint32_t)(b - a)};
    }
    return 1;
}

int gd_logfmt_match(const struct gd_logfmt *f, const char *line, size_t len,
                    struct gd_logmine_span *spans)
{
    if (len >= GD_LOGMINE_MAX_LINE)
        return 0;
    if (f->re)
        return match_pcre(f, line, len, spans);
    struct mctx c = {f, (const unsigned char *)line, len, MATCH_BUDGET, spans};
    return run(&c, 0, 0);
}
