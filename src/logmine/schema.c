/* `logs schema`: the inferred type of every slot of every template.
 *
 * Types are decided from all values of a slot (over all blocks): the first of int, float,
 * hex, ip, uuid, timestamp, path that every value satisfies; otherwise enum when the slot
 * has few distinct values (<= 16, each seen more than once on average), else string.
 * Templates of different blocks with the same text are merged. Output: one JSON object per
 * template, in order of first appearance. */
#include "logmine/archive.h"
#include "logmine/archive_block.h"
#include "core/alloc.h"
#include "core/hash.h"
#include "core/json_write.h"
#include "girder/error.h"

#include <stdio.h>
#include <string.h>

enum { T_INT, T_FLOAT, T_HEX, T_IP, T_UUID, T_TIME, T_PATH, T_NTYPES };
static const char *const type_names[] = {"int", "float", "hex", "ip", "uuid", "timestamp", "path"};
#define ENUM_MAX 16

struct slot_info {
    uint32_t ok; /* bit per T_*: every value so far satisfies it */
    uint64_t n, distinct[ENUM_MAX];
    uint32_t nd; /* distinct hashes seen, ENUM_MAX + 1 = too many */
};

struct sch_tmpl {
    char *text; /* rendered: constants, <Field> names, <*> */
    size_t text_len;
    uint64_t count;
    uint32_t n_slots;
    uint32_t *dest;
    struct slot_info *slots;
};

struct sch_ctx {
    struct sch_tmpl *t;
    size_t n, cap;
    char **names; /* field names from the recorded format */
    size_t n_names;
    struct gd_buf tmp;
};

static int isd(char c)
{
    return c >= '0' && c <= '9';
}
static int isx(char c)
{
    return isd(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static size_t digits(const char *p, size_t n, size_t i)
{
    size_t s = i;
    while (i < n && isd(p[i]))
        i++;
    return i - s;
}

static int is_int(const char *p, size_t n)
{
    size_t i = n && (p[0] == '-' || p[0] == '+');
    return i < n && digits(p, n, i) == n - i;
}

static int is_float(const char *p, size_t n)
{
    size_t i = n && (p[0] == '-' || p[0] == '+'), a = digits(p, n, i);
    i += a;
    if (i >= n || p[i] != '.')
        return 0;
    size_t b = digits(p, n, ++i);
    i += b;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i += 1 + (i + 1 < n && (p[i + 1] == '-' || p[i + 1] == '+'));
        size_t e = digits(p, n, i);
        i += e ? e : n + 1;
    }
    return (a || b) && i == n;
}

static int is_hex(const char *p, size_t n)
{
    size_t i = n > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') ? 2 : 0;
    int letter = 0;
    for (size_t j = i; j < n; j++) {
        if (!isx(p[j]))
            return 0;
        letter |= !isd(p[j]);
    }
    return n > i && (i == 2 || (letter && n >= 6));
}

static int is_ip(const char *p, size_t n)
{
    size_t i = 0, parts = 0;
    if (i < n && p[i] == '/')
        i++;
    for (; parts < 4; parts++) {
        size_t d = digits(p, n, i);
        if (d == 0 || d > 3)
            break;
        i += d;
        if (parts < 3 && (i >= n || p[i++] != '.'))
            return 0;
    }
    if (parts == 4)
        return i == n || (p[i] == ':' && digits(p, n, i + 1) == n - i - 1 && i + 1 < n);
    size_t colons = 0; /* IPv6: hex groups and colons */
    for (i = 0; i < n; i++) {
        if (p[i] == ':')
            colons++;
        else if (!isx(p[i]))
            return 0;
    }
    return colons >= 2 && n >= 3;
}

static int is_uuid(const char *p, size_t n)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    size_t i = 0;
    for (int g = 0; g < 5; g++) {
        for (int k = 0; k < groups[g]; k++, i++)
            if (i >= n || !isx(p[i]))
                return 0;
        if (g < 4 && (i >= n || p[i++] != '-'))
            return 0;
    }
    return i == n;
}

/* Dates and clock times: digits with - / : . , T Z + and space, and a date or time shape. */
static int is_time(const char *p, size_t n)
{
    int colon = 0, dash = 0, slash = 0, dig = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (isd(c))
            dig++;
        else if (c == ':')
            colon++;
        else if (c == '-')
            dash++;
        else if (c == '/')
            slash++;
        else if (c != '.' && c != ',' && c != 'T' && c != 'Z' && c != '+' && c != ' ')
            return 0;
    }
    return dig >= 4 && (colon >= 1 || dash == 2 || slash == 2);
}

static int is_path(const char *p, size_t n)
{
    int sep = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ' ' || p[i] == '\t')
            return 0;
        sep |= p[i] == '/' || p[i] == '\\';
    }
    return sep && n > 1;
}

static void observe(struct slot_info *s, const char *p, size_t n)
{
    int (*const test[T_NTYPES])(const char *, size_t) = {is_int,  is_float, is_hex, is_ip,
                                                         is_uuid, is_time,  is_path};
    for (int t = 0; t < T_NTYPES; t++)
        if ((s->ok >> t & 1) && !test[t](p, n))
            s->ok &= ~(1u << t);
    s->n++;
    if (s->nd > ENUM_MAX)
        return;
    uint64_t h = gd_hash(p, n);
    for (uint32_t k = 0; k < s->nd; k++)
        if (s->distinct[k] == h)
            return;
    if (s->nd < ENUM_MAX)
        s->distinct[s->nd] = h;
    s->nd++;
}

static const char *slot_type(const struct slot_info *s)
{
    for (int t = 0; t < T_NTYPES; t++)
        if (s->ok >> t & 1)
            return type_names[t];
    return s->nd <= ENUM_MAX && s->n > s->nd ? "enum" : "string";
}

static int load_names(struct sch_ctx *c, const struct gd_larc_block *b)
{
    const char *p = b->opts, *end = b->opts + b->opts_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n > 7 && memcmp(p, "format=", 7) == 0) {
            char *fmt = gd_strndup(p + 7, n - 7);
            struct gd_logfmt *f = NULL;
            if (!fmt)
                return GD_ENOMEM;
            if (gd_logfmt_compile(fmt, &f, NULL, 0) == 0) {
                c->n_names = gd_logfmt_nfields(f);
                c->names = gd_calloc(c->n_names + 1, sizeof *c->names);
                for (size_t i = 0; c->names && i < c->n_names; i++)
                    c->names[i] = gd_strdup(gd_logfmt_field_name(f, i));
                gd_logfmt_free(f);
            }
            gd_free(fmt);
            return c->n_names && !c->names ? GD_ENOMEM : 0;
        }
        p += n + 1;
    }
    return 0;
}

static int put_slot_name(struct sch_ctx *c, struct gd_buf *o, uint32_t dest, uint32_t var)
{
    if (dest == GD_LARC_SLOT_VAR)
        return gd_buf_printf(o, "var%u", var + 1);
    if (dest - 1 < c->n_names && c->names[dest - 1])
        return gd_buf_puts(o, c->names[dest - 1]);
    return gd_buf_printf(o, "field%u", dest);
}

static int render_text(struct sch_ctx *c, const struct gd_larc_tmpl *T, struct gd_buf *o)
{
    gd_buf_reset(o);
    int rc = 0;
    for (uint32_t s = 0; s <= T->n_slots && rc == 0; s++) {
        rc = gd_buf_append(o, T->seg_base + T->seg_off[s], T->seg_off[s + 1] - T->seg_off[s]);
        if (s == T->n_slots || rc)
            break;
        if (T->dest[s] == GD_LARC_SLOT_VAR)
            rc = gd_buf_puts(o, "<*>");
        else {
            rc = gd_buf_putc(o, '<');
            rc = rc ? rc : put_slot_name(c, o, T->dest[s], 0);
            rc = rc ? rc : gd_buf_putc(o, '>');
        }
    }
    return rc;
}

/* Finds or adds the merged template with this text; returns its index or GD_E*. */
static long find_tmpl(struct sch_ctx *c, const struct gd_larc_tmpl *T)
{
    int rc = render_text(c, T, &c->tmp);
    if (rc)
        return rc;
    for (size_t i = 0; i < c->n; i++)
        if (c->t[i].text_len == c->tmp.len && c->t[i].n_slots == T->n_slots &&
            memcmp(c->t[i].text, c->tmp.data, c->tmp.len) == 0 &&
            memcmp(c->t[i].dest, T->dest, T->n_slots * sizeof *T->dest) == 0)
            return (long)i;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        struct sch_tmpl *t = gd_realloc(c->t, cap * sizeof *t);
        if (!t)
            return GD_ENOMEM;
        c->t = t;
        c->cap = cap;
    }
    struct sch_tmpl *s = &c->t[c->n];
    memset(s, 0, sizeof *s);
    s->text = gd_strndup(c->tmp.data, c->tmp.len);
    s->text_len = c->tmp.len;
    s->n_slots = T->n_slots;
    s->dest = gd_malloc((T->n_slots + 1) * sizeof *s->dest);
    s->slots = gd_calloc(T->n_slots + 1, sizeof *s->slots);
    if (!s->text || !s->dest || !s->slots) {
        gd_free(s->text);
        gd_free(s->dest);
        gd_free(s->slots);
        return GD_ENOMEM;
    }
    memcpy(s->dest, T->dest, T->n_slots * sizeof *T->dest);
    for (uint32_t k = 0; k < T->n_slots; k++)
        s->slots[k].ok = (1u << T_NTYPES) - 1;
    return (long)c->n++;
}

static int schema_block(void *ud, const struct gd_larc_block *b, const struct gd_buf *rendered);

/* A plain block has no templates stored: mine its lines with the recorded options (a fresh
 * miner per block), as the writer would have, and describe those. */
static int schema_plain(struct sch_ctx *c, const struct gd_larc_block *b)
{
    struct gd_larc_recorded r;
    int rc = gd_larc_recorded_parse(b->opts ? b->opts : "", b->opts_len, &r);
    if (rc)
        return rc;
    struct gd_buf body;
    gd_buf_init(&body, (size_t)1 << 31);
    rc = gd_larc_columns_body(r.o, b->text, b->raw_size, &body, NULL, 0);
    gd_larc_recorded_free(&r);
    if (rc) {
        gd_buf_free(&body);
        return rc == GD_ENOMEM ? rc : 0; /* options that no longer compile: nothing to add */
    }
    struct gd_larc_block cb;
    size_t len = body.len;
    void *data = body.data ? body.data : gd_malloc(1); /* ownership passes to cb */
    if (!data)
        return GD_ENOMEM;
    rc = gd_larc_block_decode(data, len, &cb, NULL, 0);
    cb.opts = b->opts;
    cb.opts_len = b->opts_len;
    if (rc == 0)
        rc = schema_block(c, &cb, NULL);
    gd_larc_block_free(&cb);
    return rc == GD_EPARSE ? GD_ESTATE : rc; /* our own body failing to decode is a bug */
}

static int schema_block(void *ud, const struct gd_larc_block *b, const struct gd_buf *rendered)
{
    (void)rendered;
    struct sch_ctx *c = ud;
    if (b->plain)
        return schema_plain(c, b);
    int rc = c->names || !b->opts_len ? 0 : load_names(c, b);
    long *map = rc ? NULL : gd_malloc((b->n_tmpl + 1) * sizeof *map);
    if (!rc && !map)
        rc = GD_ENOMEM;
    for (uint32_t t = 0; t < b->n_tmpl && rc == 0; t++) {
        map[t] = b->tmpl[t].count ? find_tmpl(c, &b->tmpl[t]) : 0;
        rc = map[t] < 0 ? (int)map[t] : 0;
    }
    struct gd_larc_cursor cur;
    memset(&cur, 0, sizeof cur);
    for (uint32_t i = 0; i < b->n_lines && rc == 0; i++) {
        const struct gd_larc_tmpl *T = &b->tmpl[b->line_tmpl[i]];
        struct sch_tmpl *S = &c->t[map[b->line_tmpl[i]]];
        S->count++;
        for (uint32_t s = 0; s < T->n_slots && rc == 0; s++) {
            uint32_t d = T->dest[s];
            gd_buf_reset(&c->tmp);
            rc = d == GD_LARC_SLOT_VAR
                     ? gd_codec_column_append(&T->vars[T->var_col[s]], b->line_rank[i], &c->tmp)
                     : gd_codec_column_append(&b->fields[d - 1], cur.field_pos[d - 1], &c->tmp);
            observe(&S->slots[s], c->tmp.data ? c->tmp.data : "", c->tmp.len);
        }
        gd_larc_cursor_advance(b, i, &cur);
    }
    gd_free(map);
    return rc;
}

static int emit(struct sch_ctx *c, size_t i, struct gd_buf *o)
{
    const struct sch_tmpl *S = &c->t[i];
    int first = 1, rc = gd_buf_putc(o, '{');
    rc = rc ? rc : gd_json_put_key(o, "template_id", &first);
    rc = rc ? rc : gd_json_put_u64(o, i + 1);
    rc = rc ? rc : gd_json_put_key(o, "template", &first);
    rc = rc ? rc : gd_json_put_str(o, S->text, S->text_len);
    rc = rc ? rc : gd_json_put_key(o, "count", &first);
    rc = rc ? rc : gd_json_put_u64(o, S->count);
    rc = rc ? rc : gd_json_put_key(o, "slots", &first);
    rc = rc ? rc : gd_buf_putc(o, '[');
    for (uint32_t s = 0, var = 0; s < S->n_slots && rc == 0; s++) {
        struct gd_buf name;
        gd_buf_init(&name, 4096);
        int f2 = 1;
        rc = put_slot_name(c, &name, S->dest[s], var);
        var += S->dest[s] == GD_LARC_SLOT_VAR;
        rc = rc ? rc : gd_buf_puts(o, s ? ",{" : "{");
        rc = rc ? rc : gd_json_put_key(o, "name", &f2);
        rc = rc ? rc : gd_json_put_str(o, name.data ? name.data : "", name.len);
        rc = rc ? rc : gd_json_put_key(o, "type", &f2);
        rc = rc ? rc : gd_json_put_str(o, slot_type(&S->slots[s]), strlen(slot_type(&S->slots[s])));
        rc = rc ? rc : gd_buf_putc(o, '}');
        gd_buf_free(&name);
    }
    rc = rc ? rc : gd_buf_puts(o, "]}\n");
    return rc;
}

int gd_larc_schema_mem(const void *arc, size_t n, gd_larc_sink_fn sink, void *ud, char *err,
                       size_t err_len)
{
    struct sch_ctx c;
    memset(&c, 0, sizeof c);
    gd_buf_init(&c.tmp, GD_LARC_BLOCK_MAX + 1);
    int rc = gd_larc_walk(arc, n, schema_block, &c, 0, err, err_len);
    struct gd_buf o;
    gd_buf_init(&o, (size_t)1 << 30);
    for (size_t i = 0; i < c.n && rc == 0; i++) {
        gd_buf_reset(&o);
        rc = emit(&c, i, &o);
        if (rc == 0)
            rc = sink(ud, o.data, o.len);
    }
    gd_buf_free(&o);
    for (size_t i = 0; i < c.n; i++) {
        gd_free(c.t[i].text);
        gd_free(c.t[i].dest);
        gd_free(c.t[i].slots);
    }
    for (size_t i = 0; i < c.n_names && c.names; i++)
        gd_free(c.names[i]);
    gd_free(c.names);
    gd_free(c.t);
    gd_buf_free(&c.tmp);
    return rc;
}
