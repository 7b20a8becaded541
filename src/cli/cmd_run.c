/* girder run: run an ONNX model once (or --repeat times) from the shell.
 *
 *   girder run MODEL.onnx --input NAME=FILE.npy|FILE.pb [...] [--output-dir DIR]
 *              [--threads N] [--repeat K] [--profile]
 *   girder run MODEL.onnx --info
 *
 * Prints each output's name, dtype and shape; writes DIR/<name>.npy; with --repeat prints
 * min/median latency over K runs; --profile prints time per op type and the slowest nodes
 * (averaged over the runs after the first, a warm-up, when there are more). --info prints inputs,
 * outputs, opsets and the op histogram. A single-input model also accepts --input FILE without
 * NAME=. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "engine/npy.h"
#include "engine/tensor.h"
#include "girder/engine.h"

#define RUN_MAX_INPUTS 64

struct run_opts {
    const char *model, *out_dir;
    const char *in_spec[RUN_MAX_INPUTS];
    int n_in, threads, repeat, info, profile;
};

static void run_usage(FILE *f)
{
    fprintf(f, "usage: girder run MODEL.onnx [--input NAME=FILE.npy|FILE.pb]... "
               "[--output-dir DIR] [--threads N] [--repeat K] [--profile]\n"
               "       girder run MODEL.onnx --info\n");
}

static int parse_args(int argc, char **argv, struct run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 1;
    o->repeat = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--info") == 0 || strcmp(a, "--profile") == 0) {
            *(a[2] == 'i' ? &o->info : &o->profile) = 1;
            continue;
        }
        if (a[0] != '-') {
            if (o->model)
                return -1;
            o->model = a;
            continue;
        }
        if (!v)
            return -1;
        i++;
        if (strcmp(a, "--input") == 0 || strcmp(a, "-i") == 0) {
            if (o->n_in == RUN_MAX_INPUTS)
                return -1;
            o->in_spec[o->n_in++] = v;
        } else if (strcmp(a, "--output-dir") == 0 || strcmp(a, "-o") == 0) {
            o->out_dir = v;
        } else if (strcmp(a, "--threads") == 0) {
            o->threads = atoi(v);
        } else if (strcmp(a, "--repeat") == 0) {
            o->repeat = atoi(v);
        } else {
            return -1;
        }
    }
    if (!o->model || o->threads < 1 || o->threads > 256 || o->repeat < 1 || o->repeat > 1000000)
        return -1;
    return 0;
}

static void print_shape(const struct gd_engine_io *io)
{
    if (io->rank < 0) {
        printf("?");
        return;
    }
    printf("[");
    for (int d = 0; d < io->rank; d++) {
        if (io->syms && io->syms[d])
            printf("%s%s", d ? "," : "", io->syms[d]);
        else if (io->dims[d] < 0)
            printf("%s?", d ? "," : "");
        else
            printf("%s%lld", d ? "," : "", (long long)io->dims[d]);
    }
    printf("]");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void print_info(const gd_engine_model *m)
{
    struct gd_engine_io io;
    printf("ir_version: %lld\nopsets:", (long long)gd_engine_ir_version(m));
    for (int i = 0; i < gd_engine_num_opsets(m); i++) {
        const char *d;
        int64_t v;
        gd_engine_opset_at(m, i, &d, &v);
        printf(" %s=%lld", *d ? d : "ai.onnx", (long long)v);
    }
    printf("\ninputs:\n");
    for (int i = 0; gd_engine_input_info(m, i, &io) == 0; i++) {
        printf("  %s %s ", io.name, gd_dtype_name(io.dtype));
        print_shape(&io);
        printf("\n");
    }
    printf("outputs:\n");
    for (int i = 0; gd_engine_output_info(m, i, &io) == 0; i++) {
        printf("  %s %s ", io.name, gd_dtype_name(io.dtype));
        print_shape(&io);
        printf("\n");
    }
    int n = gd_engine_num_nodes(m);
    printf("nodes: %d (%d after constant folding)\nops:\n", n, gd_engine_num_exec_nodes(m));
    const char **ops = gd_calloc((size_t)n + 1, sizeof *ops);
    if (!ops)
        return;
    for (int i = 0; i < n; i++) {
        const char *d;
        gd_engine_node_op(m, i, &d, &ops[i]);
    }
    qsort(ops, (size_t)n, sizeof *ops, cmp_str);
    for (int i = 0, j; i < n; i = j) {
        for (j = i; j < n && strcmp(ops[j], ops[i]) == 0; j++)
            ;
        printf("  %-24s %d\n", ops[i], j - i);
    }
    gd_free(ops);
    char err[512];
    gd_engine_session *s = NULL;
    if (gd_engine_session_create(m, NULL, &s, err, sizeof err) == 0)
        printf("session: ok, static memory plan %zu bytes\n", gd_engine_session_planned_bytes(s));
    else
        printf("session: %s\n", err);
    gd_engine_session_free(s);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int load_input(const char *path, struct gd_tensor *t, char *err, size_t errlen)
{
    if (!ends_with(path, ".pb"))
        return gd_npy_read_file(path, t, err, errlen);
    FILE *f = fopen(path, "rb");
    if (!f)
        return snprintf(err, errlen, "%s: cannot open", path), GD_ENOENT;
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    int rc = GD_EIO;
    if (n >= 0 && n < (2L << 30) && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = gd_malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n)
        rc = gd_engine_tensor_from_pb(buf, (size_t)n, NULL, t, NULL, err, errlen);
    else
        snprintf(err, errlen, "%s: read failed", path);
    gd_free(buf);
    fclose(f);
    return rc;
}

/* Splits NAME=FILE (or FILE for a single-input model) and loads the tensor. */
static int load_inputs(const gd_engine_model *m, const struct run_opts *o, const char **names,
                       char **owned, struct gd_tensor *ts, char *err, size_t errlen)
{
    for (int i = 0; i < o->n_in; i++) {
        const char *spec = o->in_spec[i], *eq = strchr(spec, '='), *file = spec;
        struct gd_engine_io io;
        if (eq) {
            owned[i] = gd_strndup(spec, (size_t)(eq - spec));
            names[i] = owned[i];
            file = eq + 1;
        } else if (gd_engine_num_inputs(m) == 1 && o->n_in == 1 &&
                   gd_engine_input_info(m, 0, &io) == 0) {
            names[i] = io.name;
        } else {
            snprintf(err, errlen, "--input %s: expected NAME=FILE", spec);
            return GD_EINVAL;
        }
        if (!names[i])
            return GD_ENOMEM;
        int rc = load_input(file, &ts[i], err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int write_outputs(const gd_engine_model *m, const gd_engine_session *s, const char *dir)
{
    char err[512];
    if (dir)
        mkdir(dir, 0755);
    for (int i = 0; i < gd_engine_num_outputs(m); i++) {
        struct gd_engine_io io;
        const struct gd_tensor *t = gd_engine_output(s, i);
        char shape[256], path[4096], safe[256];
        gd_engine_output_info(m, i, &io);
        printf("%s %s %s\n", io.name, gd_dtype_name(t->dtype),
               gd_shape_str(t->rank, t->dims, shape, sizeof shape));
        if (!dir)
            continue;
        snprintf(safe, sizeof safe, "%s", io.name);
        for (char *p = safe; *p; p++)
            if (*p == '/' || *p == '\\' || (p == safe && *p == '.'))
                *p = '_';
        if (snprintf(path, sizeof path, "%s/%s.npy", dir, safe) >= (int)sizeof path ||
            gd_npy_write_file(path, t, err, sizeof err)) {
            fprintf(stderr, "girder run: output '%s': %s\n", io.name, err);
            return 1;
        }
    }
    return 0;
}

static int run_repeat(gd_engine_session *s, const struct run_opts *o, const char **names,
                      const struct gd_tensor *ts, char *err, size_t errlen)
{
    double *ms = gd_calloc((size_t)o->repeat, sizeof *ms);
    if (!ms)
        return GD_ENOMEM;
    int rc = 0;
    for (int r = 0; r < o->repeat && !rc; r++) {
        uint64_t t0 = gd_mono_ns();
        rc = gd_engine_run(s, o->n_in, names, ts, err, errlen);
        ms[r] = (double)(gd_mono_ns() - t0) / 1e6;
        if (r == 0 && o->repeat > 1)
            gd_engine_profile_reset(s); /* the warm-up run pays first-touch page faults */
    }
    if (!rc && o->repeat > 1) {
        qsort(ms, (size_t)o->repeat, sizeof *ms, cmp_dbl);
        printf("latency_ms runs=%d min=%.3f median=%.3f\n", o->repeat, ms[0], ms[o->repeat / 2]);
    }
    gd_free(ms);
    return rc;
}

int gd_cmd_run(int argc, char **argv)
{
    struct run_opts o;
    if (gd_cli_wants_help(argc, argv)) {
        run_usage(stdout);
        return 0;
    }
    if (parse_args(argc, argv, &o)) {
        run_usage(stderr);
        return 2;
    }
    char err[1024] = "";
    gd_engine_model *m = NULL;
    gd_engine_session *s = NULL;
    const char *names[RUN_MAX_INPUTS] = {0};
    char *owned[RUN_MAX_INPUTS] = {0};
    struct gd_tensor ts[RUN_MAX_INPUTS] = {0};
    int status = 1;
    if (gd_engine_load_file(o.model, &m, err, sizeof err))
        goto fail;
    if (o.info) {
        print_info(m);
        status = 0;
        goto done;
    }
    if (load_inputs(m, &o, names, owned, ts, err, sizeof err) ||
        gd_engine_session_create(
            m, &(struct gd_engine_options){.threads = o.threads, .profile = o.profile}, &s, err,
            sizeof err) ||
        run_repeat(s, &o, names, ts, err, sizeof err))
        goto fail;
    if (o.profile)
        gd_run_print_profile(m, s, o.repeat > 1 ? o.repeat - 1 : 1);
    status = write_outputs(m, s, o.out_dir);
    goto done;
fail:
    fprintf(stderr, "girder run: %s\n", err[0] ? err : "failed");
done:
    for (int i = 0; i < o.n_in; i++) {
        gd_tensor_release(&ts[i]);
        gd_free(owned[i]);
    }
    gd_engine_session_free(s);
    gd_engine_model_free(m);
    return status;
}
