/* `girder logs compress|decompress|grep|schema`: the log archive commands (called by the
 * `logs` dispatcher in cmd_logs.c). The library (src/logmine/archive.h) does the work; this
 * file parses options, reads files and writes results. */
#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "girder/error.h"
#include "logmine/archive.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARCHIVE ((size_t)4 << 30)
#define MAX_MASKS 64

static int file_sink(void *ud, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, (FILE *)ud) == n ? 0 : GD_EIO;
}

static FILE *open_in(const char *path)
{
    return strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
}

static void close_file(FILE *f)
{
    if (f && f != stdin && f != stdout)
        fclose(f);
}

/* Reads a whole file (or stdin) into *out (gd_malloc'd). */
static int read_all(const char *path, char **out, size_t *len)
{
    FILE *f = open_in(path);
    if (!f)
        return GD_ENOENT;
    struct gd_buf b;
    gd_buf_init(&b, MAX_ARCHIVE);
    int rc = 0;
    char chunk[1 << 16];
    size_t n;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = gd_buf_append(&b, chunk, n);
    if (rc == 0 && ferror(f))
        rc = GD_EIO;
    close_file(f);
    if (rc) {
        gd_buf_free(&b);
        return rc;
    }
    *out = b.data ? b.data : gd_strdup("");
    *len = b.len;
    return *out ? 0 : GD_ENOMEM;
}

static void compress_usage(FILE *o)
{
    fprintf(o,
            "usage: girder logs compress [--format FMT] [--mask REGEX ...] [--no-default-masks]\n"
            "         [--sim S] [--depth D] [--no-miner] [--level 1..22] [--block-size BYTES]\n"
            "         [--no-verify] [--stats] IN|- -o OUT|-\n"
            "Lossless columnar compression of a log file (templates + typed columns + zstd).\n");
}

/* Parses compress options into o; returns the index of IN or -1 (message printed). */
static int compress_args(int argc, char **argv, struct gd_larc_opts *o, const char **masks,
                         const char **outp, int *stats)
{
    const char *in = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "--format") || !strcmp(a, "--mask") || !strcmp(a, "--sim") ||
                    !strcmp(a, "--depth") || !strcmp(a, "--level") || !strcmp(a, "--block-size") ||
                    !strcmp(a, "-o");
        if (takes && !v) {
            fprintf(stderr, "girder logs compress: %s needs a value\n", a);
            return -1;
        }
        if (!strcmp(a, "--format"))
            o->format = v;
        else if (!strcmp(a, "--mask") && o->mine.n_masks < MAX_MASKS)
            masks[o->mine.n_masks++] = v;
        else if (!strcmp(a, "--sim"))
            o->mine.sim = strtod(v, NULL);
        else if (!strcmp(a, "--depth"))
            o->mine.depth = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--level"))
            o->level = atoi(v);
        else if (!strcmp(a, "--block-size"))
            o->block_bytes = (size_t)strtoull(v, NULL, 10);
        else if (!strcmp(a, "-o"))
            *outp = v;
        else if (!strcmp(a, "--no-default-masks"))
            o->mine.default_masks = 0;
        else if (!strcmp(a, "--no-miner"))
            o->use_miner = 0;
        else if (!strcmp(a, "--no-verify"))
            o->verify = 0;
        else if (!strcmp(a, "--stats"))
            *stats = 1;
        else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "girder logs compress: unknown option %s\n", a);
            return -1;
        } else if (!in) {
            in = a;
            continue;
        } else {
            fprintf(stderr, "girder logs compress: more than one input\n");
            return -1;
        }
        i += takes;
    }
    o->mine.masks = masks;
    if (!in || !*outp) {
        compress_usage(stderr);
        return -1;
    }
    for (int i = 1; i < argc; i++)
        if (argv[i] == in)
            return i;
    return -1;
}

static FILE *open_out(const char *path)
{
    return strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
}

int gd_cmd_logs_compress(int argc, char **argv)
{
    if (gd_cli_wants_help(argc, argv)) {
        compress_usage(stdout);
        return 0;
    }
    struct gd_larc_opts o;
    gd_larc_opts_init(&o);
    const char *masks[MAX_MASKS], *outp = NULL;
    int stats = 0;
    int ii = compress_args(argc, argv, &o, masks, &outp, &stats);
    if (ii < 0)
        return 2;
    FILE *in = open_in(argv[ii]), *out = in ? open_out(outp) : NULL;
    if (!in || !out) {
        fprintf(stderr, "girder logs compress: %s: %s\n", in ? outp : argv[ii], strerror(errno));
        close_file(in);
        return 1;
    }
    char err[256] = "";
    gd_larc_writer *w = NULL;
    int rc = gd_larc_writer_new(&o, file_sink, out, &w, err, sizeof err);
    char chunk[1 << 16];
    size_t n;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, in)) > 0)
        rc = gd_larc_writer_write(w, chunk, n);
    if (rc == 0 && ferror(in))
        rc = GD_EIO;
    struct gd_larc_stats st;
    if (rc == 0)
        rc = gd_larc_writer_finish(w, &st);
    if (rc == 0 && fflush(out) != 0)
        rc = GD_EIO;
    if (rc)
        fprintf(stderr, "girder logs compress: %s\n",
                w && gd_larc_writer_error(w)[0] ? gd_larc_writer_error(w)
                : err[0]                        ? err
                                                : gd_strerror(rc));
    else if (stats)
        fprintf(stderr,
                "in=%llu out=%llu ratio=%.2f lines=%llu blocks=%llu plain_blocks=%llu "
                "templates=%llu\n",
                (unsigned long long)st.in_bytes, (unsigned long long)st.out_bytes,
                st.out_bytes ? (double)st.in_bytes / (double)st.out_bytes : 0.0,
                (unsigned long long)st.lines, (unsigned long long)st.blocks,
                (unsigned long long)st.plain_blocks, (unsigned long long)st.templates);
    gd_larc_writer_free(w);
    close_file(in);
    if (out && out != stdout && fclose(out) != 0 && rc == 0) {
        fprintf(stderr, "girder logs compress: %s: %s\n", outp, strerror(errno));
        rc = GD_EIO;
    }
    return rc ? 1 : 0;
}

int gd_cmd_logs_decompress(int argc, char **argv)
{
    const char *in = NULL, *outp = NULL;
    if (gd_cli_wants_help(argc, argv)) {
        printf("usage: girder logs decompress ARCHIVE|- -o OUT|-\n"
               "Restores the original bytes exactly (checksums verified per block).\n");
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc)
            outp = argv[++i];
        else if (!in)
            in = argv[i];
        else
            in = NULL, i = argc;
    }
    if (!in || !outp) {
        fprintf(stderr, "usage: girder logs decompress ARCHIVE|- -o OUT|-\n");
        return 2;
    }
    char *arc = NULL, err[256] = "";
    size_t n = 0;
    int rc = read_all(in, &arc, &n);
    if (rc) {
        fprintf(stderr, "girder logs decompress: %s: %s\n", in, gd_strerror(rc));
        return 1;
    }
    FILE *out = open_out(outp);
    if (!out) {
        fprintf(stderr, "girder logs decompress: %s: %s\n", outp, strerror(errno));
        gd_free(arc);
        return 1;
    }
    rc = gd_larc_decompress_mem(arc, n, file_sink, out, err, sizeof err);
    if (rc == 0 && fflush(out) != 0)
        rc = GD_EIO;
    if (rc)
        fprintf(stderr, "girder logs decompress: %s: %s\n", in, err[0] ? err : gd_strerror(rc));
    if (out != stdout && fclose(out) != 0 && rc == 0)
        rc = GD_EIO;
    gd_free(arc);
    return rc ? 1 : 0;
}

int gd_cmd_logs_grep(int argc, char **argv)
{
    if (gd_cli_wants_help(argc, argv)) {
        printf("usage: girder logs grep [--stats] PATTERN ARCHIVE\n"
               "Prints the original lines containing PATTERN (fixed string, like grep -F),\n"
               "skipping templates and columns that cannot match.\n");
        return 0;
    }
    const char *pos[2] = {NULL, NULL};
    int npos = 0, stats = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--stats"))
            stats = 1;
        else if (!strcmp(argv[i], "--") && i + 1 < argc && npos < 2)
            pos[npos++] = argv[++i];
        else if (npos < 2)
            pos[npos++] = argv[i];
        else
            npos = 3;
    }
    if (npos != 2) {
        fprintf(stderr, "usage: girder logs grep [--stats] PATTERN ARCHIVE\n");
        return 2;
    }
    char *arc = NULL, err[256] = "";
    size_t n = 0;
    int rc = read_all(pos[1], &arc, &n);
    if (rc) {
        fprintf(stderr, "girder logs grep: %s: %s\n", pos[1], gd_strerror(rc));
        return 2;
    }
    struct gd_larc_grep_stats st;
    rc = gd_larc_grep_mem(arc, n, pos[0], strlen(pos[0]), file_sink, stdout, &st, err, sizeof err);
    if (rc == 0 && fflush(stdout) != 0)
        rc = GD_EIO;
    gd_free(arc);
    if (rc) {
        fprintf(stderr, "girder logs grep: %s\n", err[0] ? err : gd_strerror(rc));
        return 2;
    }
    if (stats)
        fprintf(stderr,
                "lines=%llu matched=%llu rendered=%llu templates=%llu all=%llu skipped=%llu "
                "blocks=%llu plain_blocks=%llu\n",
                (unsigned long long)st.lines, (unsigned long long)st.matched,
                (unsigned long long)st.lines_rendered, (unsigned long long)st.templates,
                (unsigned long long)st.templates_all, (unsigned long long)st.templates_skipped,
                (unsigned long long)st.blocks, (unsigned long long)st.plain_blocks);
    return st.matched ? 0 : 1; /* grep's convention */
}

int gd_cmd_logs_schema(int argc, char **argv)
{
    if (gd_cli_wants_help(argc, argv) || argc != 2) {
        fprintf(argc == 2 ? stdout : stderr,
                "usage: girder logs schema ARCHIVE\n"
                "Prints per template the inferred type of every variable (JSON lines).\n");
        return argc == 2 ? 0 : 2;
    }
    char *arc = NULL, err[256] = "";
    size_t n = 0;
    int rc = read_all(argv[1], &arc, &n);
    if (rc == 0)
        rc = gd_larc_schema_mem(arc, n, file_sink, stdout, err, sizeof err);
    gd_free(arc);
    if (rc) {
        fprintf(stderr, "girder logs schema: %s: %s\n", argv[1], err[0] ? err : gd_strerror(rc));
        return 1;
    }
    return 0;
}
