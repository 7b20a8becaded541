/* `girder logs <subcommand>`: parse (here) and the archive subcommands compress, decompress,
 * grep and schema (src/cli/cmd_logs_archive.c).
 *
 * `logs parse` streams: it reads a line, mines it and prints one JSON object at once, so the
 * "template" printed for a line is its template at the moment the line was seen (a later
 * line may generalise it further); the --templates CSV written at the end has the final
 * templates. Memory grows with the number of templates, never with the number of lines. */
#include "cli/cli.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json_write.h"
#include "girder/error.h"
#include "girder/logmine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MASKS 64
#define MAX_LINE_BYTES ((size_t)64 << 20)
#define FLUSH_AT (1u << 16)
#define MAX_FINAL_LINES ((size_t)1 << 30)

static const char parse_usage[] =
    "usage: girder logs parse [--format FMT] [--mask REGEX ...] [--no-default-masks] "
    "[--word-vars]\n"
    "                         [--word-limit N] [--final]\n"
    "                         [--sim S] [--depth D] [--state FILE] [--templates OUT.csv]\n"
    "                         [IN|-]\n"
    "Mines log templates and prints one JSON object per input line (line, template_id,\n"
    "template, params, header fields, severity_number/severity_text). Streaming output\n"
    "adds \"change\": created|updated|merged; \"merged\":[ids] lists ids now meaning\n"
    "this line's template_id (remap earlier lines).\n"
    "  --format FMT        header format, e.g. '<Date> <Time> <Level> <Component>: <Content>'\n"
    "  --mask REGEX        PCRE2 pattern whose matches are variables (repeatable)\n"
    "  --no-default-masks  do not treat numbers, hex, IPs, UUIDs, paths, URLs as variables\n"
    "  --word-vars         let different plain words at a position merge into <*> at once\n"
    "  --word-limit N      sibling templates differing in plain words that make those\n"
    "                      words variables: the siblings merge (default 4; 0: never)\n"
    "  --final             two passes over IN (a file): print final template ids, texts and\n"
    "                      params instead of the ones current when each line was read\n"
    "  --sim S             similarity threshold in [0,1] (default 0.5)\n"
    "  --depth D           parse tree depth >= 3 (default 4)\n"
    "  --state FILE        load templates from FILE if it exists, save them there at the end\n"
    "  --templates OUT     write template_id,count,template CSV at the end\n";

struct parse_args {
    const char *format, *state, *templates, *in;
    int final;
    const char *masks[MAX_MASKS];
    struct gd_logmine_opts opts;
};

static int parse_argv(int argc, char **argv, struct parse_args *a)
{
    gd_logmine_opts_init(&a->opts);
    a->opts.masks = a->masks;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(o, "--format") == 0 && v)
            a->format = v;
        else if (strcmp(o, "--mask") == 0 && v && a->opts.n_masks < MAX_MASKS)
            a->masks[a->opts.n_masks++] = v;
        else if (strcmp(o, "--sim") == 0 && v)
            a->opts.sim = strtod(v, NULL);
        else if (strcmp(o, "--depth") == 0 && v)
            a->opts.depth = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(o, "--state") == 0 && v)
            a->state = v;
        else if (strcmp(o, "--templates") == 0 && v)
            a->templates = v;
        else if (strcmp(o, "--no-default-masks") == 0)
            a->opts.default_masks = 0, takes = 0;
        else if (strcmp(o, "--word-vars") == 0)
            a->opts.word_vars = 1, takes = 0;
        else if (strcmp(o, "--word-limit") == 0 && v)
            a->opts.word_limit = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(o, "--final") == 0)
            a->final = 1, takes = 0;
        else if (o[0] != '-' || strcmp(o, "-") == 0) {
            if (a->in)
                return -1;
            a->in = o;
            takes = 0;
        } else
            return -1;
        i += takes;
    }
    return 0;
}

/* The parse loop's state: miner, format, output buffer, per-template JSON cache. */
struct parser {
    gd_logmine *m;
    struct gd_logfmt *fmt;
    struct gd_logmine_span *spans;
    char **keys; /* escaped "name": per field */
    int content, level;
    struct gd_buf out;
    char **tjson; /* JSON-escaped template text by id - 1 */
    size_t tjson_cap;
    FILE *fo;
    char sev_key[32]; /* last level string and its JSON (put_severity) */
    size_t sev_len;
    char sev_json[80];
    int pass;      /* 0: streaming; 1, 2: the passes of --final */
    uint32_t *ids; /* --final: template id of each line from pass 1 */
    size_t nids, cap_ids, idx;
};

static int cache_template(struct parser *p, uint32_t id)
{
    if (id > p->tjson_cap) {
        size_t cap = p->tjson_cap ? p->tjson_cap * 2 : 256;
        while (cap < id)
            cap *= 2;
        char **n = gd_realloc(p->tjson, cap * sizeof *n);
        if (!n)
            return GD_ENOMEM;
        memset(n + p->tjson_cap, 0, (cap - p->tjson_cap) * sizeof *n);
        p->tjson = n;
        p->tjson_cap = cap;
    }
    struct gd_logmine_template t;
    int rc = gd_logmine_template(p->m, id, &t);
    struct gd_buf b;
    gd_buf_init(&b, MAX_LINE_BYTES * 6 + 16);
    if (rc || (rc = gd_json_put_str(&b, t.text, t.text_len)) != 0) {
        gd_buf_free(&b);
        return rc;
    }
    gd_free(p->tjson[id - 1]);
    p->tjson[id - 1] = b.data;
    return 0;
}

static int put_raw(struct gd_buf *b, const char *s)
{
    return gd_buf_append(b, s, strlen(s));
}

/* Appends "s" as a JSON string. Plain printable ASCII (the common case) is copied straight
 * into reserved space; anything else goes through gd_json_put_str. */
static int put_str(struct gd_buf *b, const char *s, size_t n)
{
    int rc = gd_buf_reserve(b, n + 2);
    if (rc)
        return rc;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            return gd_json_put_str(b, s, n);
        o[i] = (char)c;
    }
    o[n] = '"';
    b->len += n + 2;
    b->data[b->len] = '\0';
    return 0;
}

static int put_u64(struct gd_buf *b, unsigned long long v)
{
    char tmp[24];
    size_t n = 0;
    do
        tmp[sizeof tmp - ++n] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    return gd_buf_append(b, tmp + sizeof tmp - n, n);
}

/* ,"severity_number":N,"severity_text":"T" for a level string; the last answer is cached
 * (levels repeat from line to line). */
static int put_severity(struct parser *p, const char *lv, size_t n)
{
    if (n != p->sev_len || memcmp(lv, p->sev_key, n) != 0) {
        const char *txt;
        int sev = gd_logmine_severity(lv, n, &txt);
        p->sev_len = n < sizeof p->sev_key ? n : 0;
        memcpy(p->sev_key, lv, p->sev_len);
        p->sev_json[0] = '\0';
        if (sev)
            snprintf(p->sev_json, sizeof p->sev_json,
                     ",\"severity_number\":%d,\"severity_text\":\"%s\"", sev, txt);
        if (n >= sizeof p->sev_key) /* too long to cache: use once */
            return put_raw(&p->out, p->sev_json);
    }
    return put_raw(&p->out, p->sev_json);
}

/* Streaming only (--final prints final ids): what this line did to the templates, as Drain3
 * reports change types. "merged" lists the ids that now resolve to template_id, so a consumer
 * that keeps earlier lines' ids remaps them (the survivor is the family's oldest template). */
static int put_change(struct parser *p, const struct gd_logmine_match *mt)
{
    struct gd_buf *b = &p->out;
    if (mt->n_merged) {
        int rc = put_raw(b, ",\"change\":\"merged\",\"merged\":[");
        for (uint32_t i = 0; rc == 0 && i < mt->n_merged; i++) {
            rc = i ? gd_buf_putc(b, ',') : 0;
            rc = rc ? rc : put_u64(b, mt->merged[i]);
        }
        return rc ? rc : gd_buf_putc(b, ']');
    }
    if (mt->created && mt->template_id == gd_logmine_count(p->m))
        return put_raw(b, ",\"change\":\"created\"");
    if (mt->updated)
        return put_raw(b, ",\"change\":\"updated\"");
    return 0;
}

static int emit_line(struct parser *p, unsigned long long lineno, const char *line,
                     const char *content, int matched, const struct gd_logmine_match *mt)
{
    struct gd_buf *b = &p->out;
    int rc = put_raw(b, "{\"line\":");
    rc = rc ? rc : put_u64(b, lineno);
    rc = rc ? rc : put_raw(b, ",\"template_id\":");
    rc = rc ? rc : put_u64(b, mt->template_id);
    if (rc == 0 && p->pass == 0)
        rc = put_change(p, mt);
    rc = rc ? rc : put_raw(b, ",\"template\":");
    rc = rc ? rc : put_raw(b, p->tjson[mt->template_id - 1]);
    rc = rc ? rc : put_raw(b, ",\"params\":[");
    int first = 1;
    for (uint32_t i = 0; rc == 0 && i < mt->n_tokens; i++) {
        if (!mt->tokens[i].is_var)
            continue;
        if (!first)
            rc = gd_buf_putc(b, ',');
        first = 0;
        rc = rc ? rc : put_str(b, content + mt->tokens[i].off, mt->tokens[i].len);
    }
    rc = rc ? rc : gd_buf_putc(b, ']');
    size_t nf = p->fmt ? gd_logfmt_nfields(p->fmt) : 0;
    for (size_t i = 0; rc == 0 && matched && i < nf; i++) {
        if ((int)i == p->content || p->spans[i].off == GD_LOGMINE_ABSENT)
            continue;
        rc = put_raw(b, p->keys[i]);
        rc = rc ? rc : put_str(b, line + p->spans[i].off, p->spans[i].len);
    }
    if (rc == 0 && matched && p->level >= 0 && p->spans[p->level].off != GD_LOGMINE_ABSENT)
        rc = put_severity(p, line + p->spans[p->level].off, p->spans[p->level].len);
    if (rc == 0 && p->fmt && !matched)
        rc = put_raw(b, ",\"format_mismatch\":true");
    rc = rc ? rc : put_raw(b, "}\n");
    if (rc == 0 && b->len >= FLUSH_AT) {
        if (fwrite(b->data, 1, b->len, p->fo) != b->len)
            rc = GD_EIO;
        gd_buf_reset(b);
    }
    return rc;
}

/* --final, pass 1: remembers each line's template id (4 bytes a line). */
static int push_id(struct parser *p, uint32_t id)
{
    if (p->nids == p->cap_ids) {
        size_t cap = p->cap_ids ? p->cap_ids * 2 : 4096;
        uint32_t *n = cap <= MAX_FINAL_LINES ? gd_realloc(p->ids, cap * sizeof *n) : NULL;
        if (!n)
            return GD_ELIMIT;
        p->ids = n;
        p->cap_ids = cap;
    }
    p->ids[p->nids++] = id;
    return 0;
}

static int handle_line(struct parser *p, unsigned long long lineno, const char *line, size_t len)
{
    if (len && line[len - 1] == '\r')
        len--;
    const char *content = line;
    size_t clen = len;
    int matched = 0;
    if (p->fmt) {
        matched = gd_logfmt_match(p->fmt, line, len, p->spans);
        if (matched < 0)
            return matched;
        if (matched && p->content >= 0 && p->spans[p->content].off != GD_LOGMINE_ABSENT) {
            content = line + p->spans[p->content].off;
            clen = p->spans[p->content].len;
        }
    }
    struct gd_logmine_match mt;
    int rc;
    if (p->pass == 2) { /* --final: align with the final template of the pass-1 id */
        if (p->idx >= p->nids)
            return GD_ESTATE; /* the input changed between the passes */
        rc = gd_logmine_extract(p->m, p->ids[p->idx++], content, clen, &mt);
    } else {
        rc = gd_logmine_add(p->m, content, clen, &mt);
        if (rc == 0 && p->pass == 1)
            return push_id(p, mt.template_id);
    }
    if (rc == 0 && (mt.created || mt.updated || mt.template_id > p->tjson_cap ||
                    !p->tjson[mt.template_id - 1]))
        rc = cache_template(p, mt.template_id);
    return rc ? rc : emit_line(p, lineno, line, content, matched, &mt);
}

/* Reads lines (split at '\n', which is not part of the line) and hands them on. */
static int read_lines(struct parser *p, FILE *in)
{
    size_t cap = 1 << 20, len = 0, start = 0;
    char *buf = gd_malloc(cap);
    unsigned long long lineno = 0;
    int rc = buf ? 0 : GD_ENOMEM;
    while (rc == 0) {
        if (start > 0) { /* keep the partial line at the front */
            memmove(buf, buf + start, len - start);
            len -= start;
            start = 0;
        }
        if (len == cap) {
            char *nb = cap * 2 <= MAX_LINE_BYTES ? gd_realloc(buf, cap * 2) : NULL;
            if (!nb) {
                rc = GD_ELIMIT;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, in);
        if (got == 0) {
            if (ferror(in))
                rc = GD_EIO;
            else if (len > start)
                rc = handle_line(p, ++lineno, buf + start, len - start);
            break;
        }
        size_t scan = len;
        len += got;
        for (;;) {
            char *nl = memchr(buf + scan, '\n', len - scan);
            if (!nl)
                break;
            size_t e = (size_t)(nl - buf);
            if ((rc = handle_line(p, ++lineno, buf + start, e - start)) != 0)
                break;
            start = scan = e + 1;
        }
    }
    gd_free(buf);
    return rc;
}

/* RFC 4180: quote fields containing a comma, quote, CR or LF; double the quotes. */
static void csv_field(FILE *f, const char *s, size_t n)
{
    if (!memchr(s, ',', n) && !memchr(s, '"', n) && !memchr(s, '\n', n) && !memchr(s, '\r', n)) {
        fwrite(s, 1, n, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            fputc('"', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

static int write_templates_csv(gd_logmine *m, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return GD_EIO;
    fputs("template_id,count,template\r\n", f);
    for (uint32_t id = 1; id <= gd_logmine_count(m); id++) {
        struct gd_logmine_template t;
        if (gd_logmine_template(m, id, &t) != 0)
            continue;
        fprintf(f, "%u,%llu,", id, (unsigned long long)t.count);
        csv_field(f, t.text, t.text_len);
        fputs("\r\n", f);
    }
    return fclose(f) == 0 ? 0 : GD_EIO;
}

static int setup(struct parser *p, struct parse_args *a, char *err, size_t errn)
{
    int rc = gd_logmine_new(&a->opts, &p->m, err, errn);
    if (rc)
        return rc;
    if (a->state) {
        rc = gd_logmine_load(p->m, a->state);
        if (rc == GD_ENOENT)
            rc = 0; /* first run: the file is created at the end */
        else if (rc) {
            snprintf(err, errn, "cannot load state %s", a->state);
            return rc;
        }
    }
    p->content = p->level = -1;
    if (!a->format)
        return 0;
    if ((rc = gd_logfmt_compile(a->format, &p->fmt, err, errn)) != 0)
        return rc;
    size_t nf = gd_logfmt_nfields(p->fmt);
    p->content = gd_logfmt_content_field(p->fmt);
    p->level = gd_logfmt_level_field(p->fmt);
    p->spans = gd_calloc(nf, sizeof *p->spans);
    p->keys = gd_calloc(nf, sizeof *p->keys);
    if (!p->spans || !p->keys)
        return GD_ENOMEM;
    for (size_t i = 0; i < nf; i++) {
        struct gd_buf k;
        gd_buf_init(&k, 1 << 16);
        const char *name = gd_logfmt_field_name(p->fmt, i);
        if (gd_buf_putc(&k, ',') || gd_json_put_str(&k, name, strlen(name)) ||
            gd_buf_putc(&k, ':')) {
            gd_buf_free(&k);
            return GD_ENOMEM;
        }
        p->keys[i] = k.data;
    }
    return 0;
}

static void teardown(struct parser *p)
{
    size_t nf = p->fmt ? gd_logfmt_nfields(p->fmt) : 0;
    for (size_t i = 0; p->keys && i < nf; i++)
        gd_free(p->keys[i]);
    gd_free(p->keys);
    gd_free(p->spans);
    for (size_t i = 0; i < p->tjson_cap; i++)
        gd_free(p->tjson[i]);
    gd_free(p->tjson);
    gd_free(p->ids);
    gd_buf_free(&p->out);
    gd_logfmt_free(p->fmt);
    gd_logmine_free(p->m);
}

static int cmd_parse(int argc, char **argv)
{
    struct parse_args a;
    memset(&a, 0, sizeof a);
    if (gd_cli_wants_help(argc, argv)) {
        fputs(parse_usage, stdout);
        return 0;
    }
    if (parse_argv(argc, argv, &a) != 0) {
        fputs(parse_usage, stderr);
        return 2;
    }
    struct parser p;
    memset(&p, 0, sizeof p);
    gd_buf_init(&p.out, MAX_LINE_BYTES * 8);
    p.fo = stdout;
    char err[256] = "";
    FILE *in = stdin;
    int rc = setup(&p, &a, err, sizeof err);
    if (rc == 0 && a.in && strcmp(a.in, "-") != 0 && !(in = fopen(a.in, "rb"))) {
        snprintf(err, sizeof err, "%s: %s", a.in, strerror(errno));
        rc = GD_EIO;
    }
    if (rc == 0 && a.final && in == stdin) {
        snprintf(err, sizeof err, "--final needs an input file (it reads it twice)");
        rc = GD_EINVAL;
    }
    if (rc == 0 && a.final) {
        p.pass = 1;
        rc = read_lines(&p, in);
        if (rc == 0 && fseek(in, 0, SEEK_SET) != 0)
            rc = GD_EIO;
        for (size_t i = 0; rc == 0 && i < p.tjson_cap; i++) { /* texts may have changed */
            gd_free(p.tjson[i]);
            p.tjson[i] = NULL;
        }
        p.pass = 2;
    }
    rc = rc ? rc : read_lines(&p, in);
    if (rc == 0 && p.out.len && fwrite(p.out.data, 1, p.out.len, stdout) != p.out.len)
        rc = GD_EIO;
    if (rc == 0 && fflush(stdout) != 0)
        rc = GD_EIO;
    if (rc == 0 && a.templates && (rc = write_templates_csv(p.m, a.templates)) != 0)
        snprintf(err, sizeof err, "cannot write %s", a.templates);
    if (rc == 0 && a.state && (rc = gd_logmine_save(p.m, a.state)) != 0)
        snprintf(err, sizeof err, "cannot save state %s", a.state);
    if (in && in != stdin)
        fclose(in);
    teardown(&p);
    if (rc) {
        fprintf(stderr, "girder logs parse: %s%s%s\n", gd_strerror(rc), err[0] ? ": " : "", err);
        return 1;
    }
    return 0;
}

struct logs_sub {
    const char *name;
    const char *summary;
    int (*main)(int argc, char **argv);
};

int gd_cmd_logs(int argc, char **argv)
{
    const struct logs_sub subs[] = {
        {"parse", "mine templates, print JSON lines", cmd_parse},
        {"compress", "lossless compression into a girder log archive", gd_cmd_logs_compress},
        {"decompress", "restore the original bytes of an archive", gd_cmd_logs_decompress},
        {"grep", "print the original lines of an archive that match", gd_cmd_logs_grep},
        {"schema", "inferred variable types per template of an archive", gd_cmd_logs_schema},
    };
    size_t n = sizeof subs / sizeof subs[0];
    if (argc >= 2) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(argv[1], subs[i].name) != 0)
                continue;
            return subs[i].main(argc - 1, argv + 1);
        }
    }
    int help = argc >= 2 && gd_cli_wants_help(argc, argv);
    FILE *o = help ? stdout : stderr;
    fputs("usage: girder logs <subcommand> [options]\n\nsubcommands:\n", o);
    for (size_t i = 0; i < n; i++)
        if (subs[i].main)
            fprintf(o, "  %-11s %s\n", subs[i].name, subs[i].summary);
    return help ? 0 : 2;
}
