/* YAML → node tree, from libyaml's event stream.
 *
 * libyaml does the tokenising (and the YAML 1.1 corner cases); this file only builds the
 * tree, recursively, one event at a time. Every node and string lives in one arena whose
 * size is capped, so a hostile document (or a hostile environment variable substituted into
 * thousands of scalars) ends in GD_ELIMIT rather than in an out-of-memory kill. */
#include "core/yaml.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/config.h"
#include "girder/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define DEF_MAX_BYTES (1u << 20)
#define DEF_MAX_DEPTH 32
#define DEF_MAX_NODES 100000
#define DEF_MAX_SCALAR (64u << 10)
#define MAX_KEY_BYTES 1024
#define MAX_PATH_BYTES 255
#define ARENA_MAX (64u << 20)

struct gd_yaml_doc {
    struct gd_arena arena;
    struct gd_yaml_node *root;
};

struct ctx {
    yaml_parser_t parser;
    const char *data; /* the input, for hints about the character at an error */
    size_t len;
    struct gd_yaml_doc *doc;
    struct gd_config_diag *diag;
    struct gd_yaml_limits lim;
    gd_yaml_env_fn getenv_fn;
    void *getenv_ud;
    size_t nodes;
    size_t unset_vars; /* ${VAR} without default and without value: reported, parse goes on */
    int err; /* first error (GD_E*), 0 while fine */
};

static void fail(struct ctx *c, int err, int line, int col, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void fail(struct ctx *c, int err, int line, int col, const char *key, const char *fmt, ...)
{
    if (c->err)
        return;
    c->err = err;
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gd_config_diag_add_at(c->diag, line, col, key && *key ? key : NULL, "%s", msg);
}

static void fail_oom(struct ctx *c, int line, int col)
{
    if (c->doc->arena.max && c->doc->arena.used + 4096 >= c->doc->arena.max)
        fail(c, GD_ELIMIT, line, col, NULL, "document too large (over %u MiB in memory)",
             ARENA_MAX >> 20);
    else
        fail(c, GD_ENOMEM, line, col, NULL, "out of memory");
}

/* Next event into *ev; on a libyaml error records it with libyaml's own position. */
static int next_event(struct ctx *c, yaml_event_t *ev)
{
    if (yaml_parser_parse(&c->parser, ev))
        return 0;
    const yaml_parser_t *p = &c->parser;
    int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    if (p->error == YAML_MEMORY_ERROR)
        fail(c, GD_ENOMEM, line, col, NULL, "out of memory");
    else if (p->problem_mark.index < c->len && c->data[p->problem_mark.index] == '\t')
        fail(c, GD_EPARSE, line, col, NULL,
             "YAML syntax error: tab character (indent with spaces, not tabs)");
    else if (p->context)
        fail(c, GD_EPARSE, line, col, NULL, "YAML syntax error: %s %s",
             p->problem ? p->problem : "invalid input", p->context);
    else
        fail(c, GD_EPARSE, line, col, NULL, "YAML syntax error: %s",
             p->problem ? p->problem : "invalid input");
    return -1;
}

static struct gd_yaml_node *new_node(struct ctx *c, enum gd_yaml_kind kind, const yaml_event_t *ev,
                                     const char *path)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    if (++c->nodes > c->lim.max_nodes) {
        fail(c, GD_ELIMIT, line, col, path, "too many nodes (limit %zu)", c->lim.max_nodes);
        return NULL;
    }
    struct gd_yaml_node *n = gd_arena_calloc(&c->doc->arena, 1, sizeof *n);
    if (!n) {
        fail_oom(c, line, col);
        return NULL;
    }
    n->kind = kind;
    n->line = line;
    n->col = col;
    n->path = path;
    return n;
}

/* Child path "parent.key" / "parent[i]" (key only at the root), truncated to
 * MAX_PATH_BYTES so that long keys cannot multiply memory. */
static const char *child_path(struct ctx *c, const char *parent, const char *key, size_t index)
{
    char tmp[MAX_PATH_BYTES + 1];
    if (key)
        snprintf(tmp, sizeof tmp, "%s%s%s", parent, *parent ? "." : "", key);
    else
        snprintf(tmp, sizeof tmp, "%s[%zu]", parent, index);
    char *p = gd_arena_strndup(&c->doc->arena, tmp, strlen(tmp));
    if (!p)
        fail_oom(c, 0, 0);
    return p;
}

/* ---- ${VAR} substitution ------------------------------------------------------------------ */

static int is_name_char(char ch, int first)
{
    return ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (!first && ch >= '0' && ch <= '9');
}

/* Appends the expansion of the reference starting at s[i] == '$' && s[i+1] == '{' to out and
 * returns the index after it, or 0 after recording an error. */
static size_t expand_ref(struct ctx *c, const struct gd_yaml_node *n, const char *s, size_t len,
                         size_t i, struct gd_buf *out, int *secret)
{
    size_t j = i + 2, name_start = j;
    while (j < len && is_name_char(s[j], j == name_start))
        j++;
    size_t name_len = j - name_start;
    const char *def = NULL;
    size_t def_len = 0;
    if (name_len > 0 && j + 1 < len && s[j] == ':' && s[j + 1] == '-') {
        def = s + j + 2;
        const char *close = memchr(def, '}', len - (j + 2));
        if (close) {
            def_len = (size_t)(close - def);
            j = (size_t)(close - s);
        } else {
            j = len;
        }
    }
    if (name_len == 0 || name_len > 128 || j >= len || s[j] != '}') {
        fail(c, GD_EPARSE, n->line, n->col, n->path,
             "malformed environment reference (expected ${NAME} or ${NAME:-default}; "
             "write $${ for a literal ${)");
        return 0;
    }
    char name[129];
    memcpy(name, s + name_start, name_len);
    name[name_len] = '\0';
    const char *val = c->getenv_fn ? c->getenv_fn(c->getenv_ud, name) : getenv(name);
    int rc;
    if (val) {
        *secret = 1;
        rc = gd_buf_puts(out, val);
    } else if (def) {
        rc = gd_buf_append(out, def, def_len);
    } else {
        /* Not fatal for the parse: every unset variable is reported in one run. */
        c->unset_vars++;
        gd_config_diag_add_at(c->diag, n->line, n->col, n->path,
                              "environment variable '%s' is not set (write ${%s:-default} to "
                              "give a default)",
                              name, name);
        rc = 0;
    }
    if (rc) {
        fail(c, GD_ELIMIT, n->line, n->col, n->path,
             "value longer than %zu bytes after substitution", c->lim.max_scalar_bytes);
        return 0;
    }
    return j + 1;
}

/* Sets n->str/len from the raw scalar, substituting references. */
static int set_scalar(struct ctx *c, struct gd_yaml_node *n, const char *s, size_t len, int subst)
{
    if (len > c->lim.max_scalar_bytes) {
        fail(c, GD_ELIMIT, n->line, n->col, n->path, "scalar longer than %zu bytes",
             c->lim.max_scalar_bytes);
        return -1;
    }
    if (!subst || !memchr(s, '$', len)) {
        n->str = gd_arena_strndup(&c->doc->arena, s, len);
        n->len = len;
        if (!n->str)
            fail_oom(c, n->line, n->col);
        return n->str ? 0 : -1;
    }
    struct gd_buf out;
    gd_buf_init(&out, c->lim.max_scalar_bytes);
    int secret = 0, rc = 0;
    size_t i = 0;
    while (i < len && rc == 0) {
        if (s[i] == '$' && i + 2 < len && s[i + 1] == '$' && s[i + 2] == '{') {
            rc = gd_buf_puts(&out, "${");
            i += 3;
        } else if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
            size_t next = expand_ref(c, n, s, len, i, &out, &secret);
            if (!next)
                goto fail;
            i = next;
        } else {
            rc = gd_buf_putc(&out, s[i++]);
        }
    }
    if (rc) {
        fail(c, rc == GD_ELIMIT ? GD_ELIMIT : GD_ENOMEM, n->line, n->col, n->path,
             "value longer than %zu bytes after substitution", c->lim.max_scalar_bytes);
        goto fail;
    }
    n->str = gd_arena_strndup(&c->doc->arena, out.data ? out.data : "", out.len);
    n->len = out.len;
    if (secret)
        n->flags |= GD_YAML_F_SECRET;
    gd_buf_free(&out);
    if (!n->str)
        fail_oom(c, n->line, n->col);
    return n->str ? 0 : -1;
fail:
    gd_buf_free(&out);
    return -1;
}

/* ---- Tree building ------------------------------------------------------------------------ */

static struct gd_yaml_node *build(struct ctx *c, yaml_event_t *ev, unsigned depth,
                                  const char *path);

/* A temporary growable array of pointers (children while a collection is open). */
struct vec {
    void **v;
    size_t n, cap;
};

static int vec_push(struct vec *v, void *p)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8, bytes;
        if (gd_size_mul(cap, sizeof *v->v, &bytes))
            return GD_ENOMEM;
        void **nv = gd_realloc(v->v, bytes);
        if (!nv)
            return GD_ENOMEM;
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = p;
    return 0;
}

static int cmp_key(const void *a, const void *b)
{
    const struct gd_yaml_pair *x = *(const struct gd_yaml_pair *const *)a;
    const struct gd_yaml_pair *y = *(const struct gd_yaml_pair *const *)b;
    size_t n = x->key->len < y->key->len ? x->key->len : y->key->len;
    int r = memcmp(x->key->str, y->key->str, n);
    if (r)
        return r;
    if (x->key->len != y->key->len)
        return x->key->len < y->key->len ? -1 : 1;
    /* equal keys: the later one in the document sorts last, so it is the one reported */
    return x->key->line != y->key->line ? (x->key->line < y->key->line ? -1 : 1)
                                        : (x->key->col < y->key->col ? -1 : 1);
}

/* Duplicate keys are an error (YAML says so; libyaml does not check). O(n log n). */
static int check_duplicates(struct ctx *c, struct gd_yaml_pair **pairs, size_t n)
{
    if (n < 2)
        return 0;
    qsort(pairs, n, sizeof *pairs, cmp_key);
    for (size_t i = 1; i < n; i++) {
        const struct gd_yaml_node *a = pairs[i - 1]->key, *b = pairs[i]->key;
        if (a->len == b->len && memcmp(a->str, b->str, a->len) == 0) {
            fail(c, GD_EPARSE, b->line, b->col, b->path,
                 "duplicate key (first defined at line %d)", a->line);
            return -1;
        }
    }
    return 0;
}

static int build_map_entry(struct ctx *c, struct gd_yaml_node *map, unsigned depth,
                           yaml_event_t *ev, struct vec *kids)
{
    if (ev->type != YAML_SCALAR_EVENT) {
        fail(c, GD_EPARSE, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
             map->path, ev->type == YAML_ALIAS_EVENT ? "aliases are not supported"
                                                     : "map keys must be scalars");
        yaml_event_delete(ev);
        return -1;
    }
    size_t klen = ev->data.scalar.length;
    const char *kstr = (const char *)ev->data.scalar.value;
    const char *kpath =
        klen <= MAX_KEY_BYTES && !memchr(kstr, '\0', klen) ? child_path(c, map->path, kstr, 0) : NULL;
    if (!kpath && !c->err)
        fail(c, GD_EPARSE, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
             map->path, "map key too long or contains NUL");
    struct gd_yaml_node *key = kpath ? new_node(c, GD_YAML_SCALAR, ev, kpath) : NULL;
    int rc = key ? set_scalar(c, key, kstr, klen, 0) : -1;
    yaml_event_delete(ev);
    if (rc)
        return -1;
    struct gd_yaml_pair *pair = gd_arena_calloc(&c->doc->arena, 1, sizeof *pair);
    if (!pair || vec_push(kids, pair)) {
        fail_oom(c, key->line, key->col);
        return -1;
    }
    pair->key = key;
    if (next_event(c, ev))
        return -1;
    pair->value = build(c, ev, depth + 1, kpath);
    return pair->value ? 0 : -1;
}

static int build_collection(struct ctx *c, struct gd_yaml_node *n, unsigned depth)
{
    struct vec kids = {0};
    yaml_event_type_t end = n->kind == GD_YAML_MAP ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
    yaml_event_t ev;
    int rc = -1;
    for (;;) {
        if (next_event(c, &ev))
            goto out;
        if (ev.type == end) {
            yaml_event_delete(&ev);
            break;
        }
        if (n->kind == GD_YAML_MAP) {
            if (build_map_entry(c, n, depth, &ev, &kids))
                goto out;
        } else {
            const char *p = child_path(c, n->path, NULL, kids.n);
            struct gd_yaml_node *item = p ? build(c, &ev, depth + 1, p) : NULL;
            if (!p)
                yaml_event_delete(&ev);
            if (!item)
                goto out;
            if (vec_push(&kids, item)) {
                fail_oom(c, item->line, item->col);
                goto out;
            }
        }
    }
    n->n = kids.n;
    if (kids.n && n->kind == GD_YAML_SEQ) {
        n->items = gd_arena_calloc(&c->doc->arena, kids.n, sizeof *n->items);
        if (!n->items) {
            fail_oom(c, n->line, n->col);
            goto out;
        }
        memcpy(n->items, kids.v, kids.n * sizeof *n->items);
    } else if (kids.n) {
        n->pairs = gd_arena_calloc(&c->doc->arena, kids.n, sizeof *n->pairs);
        if (!n->pairs) {
            fail_oom(c, n->line, n->col);
            goto out;
        }
        for (size_t i = 0; i < kids.n; i++)
            n->pairs[i] = *(struct gd_yaml_pair *)kids.v[i];
        if (check_duplicates(c, (struct gd_yaml_pair **)kids.v, kids.n))
            goto out;
    }
    rc = 0;
out:
    gd_free(kids.v);
    return rc;
}

/* Builds the node that starts with *ev (consumed) and, for collections, its children. */
static struct gd_yaml_node *build(struct ctx *c, yaml_event_t *ev, unsigned depth,
                                  const char *path)
{
    struct gd_yaml_node *n = NULL;
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        n = new_node(c, GD_YAML_SCALAR, ev, path);
        if (!n)
            break;
        const char *tag = (const char *)ev->data.scalar.tag;
        if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
            (tag && strcmp(tag, YAML_STR_TAG) == 0))
            n->flags |= GD_YAML_F_QUOTED;
        if (set_scalar(c, n, (const char *)ev->data.scalar.value, ev->data.scalar.length, 1))
            n = NULL;
        break;
    }
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT:
        if (depth >= c->lim.max_depth) {
            fail(c, GD_ELIMIT, line, col, path, "nesting deeper than %u levels", c->lim.max_depth);
            break;
        }
        n = new_node(c, ev->type == YAML_MAPPING_START_EVENT ? GD_YAML_MAP : GD_YAML_SEQ, ev, path);
        if (n) {
            yaml_event_delete(ev);
            return build_collection(c, n, depth) ? NULL : n;
        }
        break;
    case YAML_ALIAS_EVENT:
        fail(c, GD_EPARSE, line, col, path, "aliases (*name) are not supported");
        break;
    default:
        fail(c, GD_EPARSE, line, col, path, "unexpected YAML event");
        break;
    }
    yaml_event_delete(ev);
    return n;
}

/* STREAM_START, [DOCUMENT_START node DOCUMENT_END], STREAM_END. */
static int parse_stream(struct ctx *c)
{
    yaml_event_t ev;
    if (next_event(c, &ev))
        return -1;
    yaml_event_delete(&ev); /* STREAM_START */
    if (next_event(c, &ev))
        return -1;
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        return 0;
    }
    yaml_event_delete(&ev); /* DOCUMENT_START */
    if (next_event(c, &ev))
        return -1;
    c->doc->root = build(c, &ev, 0, "");
    if (!c->doc->root)
        return -1;
    if (next_event(c, &ev)) /* DOCUMENT_END */
        return -1;
    yaml_event_delete(&ev);
    if (next_event(c, &ev))
        return -1;
    int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
    int more = ev.type != YAML_STREAM_END_EVENT;
    yaml_event_delete(&ev);
    if (more) {
        fail(c, GD_EPARSE, line, col, NULL, "more than one YAML document (remove the '---')");
        return -1;
    }
    return 0;
}

int gd_yaml_parse(const char *data, size_t len, const struct gd_yaml_parse_opts *opts,
                  struct gd_config_diag *diag, struct gd_yaml_doc **out)
{
    struct ctx c;
    memset(&c, 0, sizeof c);
    c.diag = diag;
    c.data = data;
    c.len = len;
    if (opts) {
        c.lim = opts->limits;
        c.getenv_fn = opts->getenv;
        c.getenv_ud = opts->getenv_ud;
    }
    c.lim.max_bytes = c.lim.max_bytes ? c.lim.max_bytes : DEF_MAX_BYTES;
    c.lim.max_depth = c.lim.max_depth ? c.lim.max_depth : DEF_MAX_DEPTH;
    c.lim.max_nodes = c.lim.max_nodes ? c.lim.max_nodes : DEF_MAX_NODES;
    c.lim.max_scalar_bytes = c.lim.max_scalar_bytes ? c.lim.max_scalar_bytes : DEF_MAX_SCALAR;
    *out = NULL;
    if (len > c.lim.max_bytes) {
        gd_config_diag_add_at(diag, 0, 0, NULL, "file larger than %zu bytes", c.lim.max_bytes);
        return GD_ELIMIT;
    }
    c.doc = gd_calloc(1, sizeof *c.doc);
    if (!c.doc || !yaml_parser_initialize(&c.parser)) {
        gd_free(c.doc);
        gd_config_diag_add_at(diag, 0, 0, NULL, "out of memory");
        return GD_ENOMEM;
    }
    gd_arena_init(&c.doc->arena, 16384, ARENA_MAX);
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)(len ? data : ""), len);
    int rc = parse_stream(&c);
    yaml_parser_delete(&c.parser);
    if (rc || c.unset_vars) {
        gd_yaml_doc_free(c.doc);
        return c.err ? c.err : rc ? GD_EPARSE : GD_EINVAL;
    }
    *out = c.doc;
    return 0;
}

void gd_yaml_doc_free(struct gd_yaml_doc *doc)
{
    if (!doc)
        return;
    gd_arena_free(&doc->arena);
    gd_free(doc);
}

const struct gd_yaml_node *gd_yaml_doc_root(const struct gd_yaml_doc *doc)
{
    return doc ? doc->root : NULL;
}

const struct gd_yaml_node *gd_yaml_map_get(const struct gd_yaml_node *map, const char *key)
{
    if (!map || map->kind != GD_YAML_MAP)
        return NULL;
    size_t klen = strlen(key);
    for (size_t i = 0; i < map->n; i++) {
        const struct gd_yaml_node *k = map->pairs[i].key;
        if (k->len == klen && memcmp(k->str, key, klen) == 0)
            return map->pairs[i].value;
    }
    return NULL;
}

int gd_yaml_is_null(const struct gd_yaml_node *node)
{
    if (!node)
        return 1;
    if (node->kind != GD_YAML_SCALAR || (node->flags & (GD_YAML_F_QUOTED | GD_YAML_F_SECRET)))
        return 0;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        if (strcmp(node->str, nulls[i]) == 0 && strlen(node->str) == node->len)
            return 1;
    return 0;
}

const char *gd_yaml_kind_name(enum gd_yaml_kind kind)
{
    switch (kind) {
    case GD_YAML_MAP: return "a map";
    case GD_YAML_SEQ: return "a sequence";
    default: return "a scalar";
    }
}
