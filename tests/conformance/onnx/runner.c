/* ONNX backend-test conformance runner over Debian's libonnx-testdata.
 *
 * For every <suite>/<test>/ directory (model.onnx plus test_data_set_K directories of input_N.pb
 * and output_N.pb) a child process loads the model, feeds every data set and compares every output:
 * dtype and shape exactly, values like the ONNX backend tests (numpy assert_allclose with
 * rtol=1e-3, atol=1e-7: |got - want| <= atol + rtol * |want|, NaN matches NaN, infinities
 * must match), strings and integers exactly. The child reports one line through a pipe;
 * a child that dies, leaks (sanitizer exit status) or exceeds --timeout is reported as
 * CRASH/TIMEOUT instead of taking the runner down.
 *
 *   gd_conformance [--data DIR] [--suite node,simple,...] [--filter SUBSTR] [--jobs N]
 *                  [--timeout SEC] [--check-pass-list FILE] [--write-pass-list FILE] [-q]
 *
 * Exit status: 0 when nothing crashed or timed out and (with --check-pass-list) every listed
 * test passed; 1 otherwise; 2 on usage errors. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "engine/tensor.h"
#include "girder/engine.h"

#define MAX_IO 64
#define MSG 1024

enum verdict { V_PASS, V_FAIL, V_UNSUP, V_CRASH, V_TIMEOUT, V_N };
static const char *const verdict_name[V_N] = {"PASS", "FAIL", "UNSUP", "CRASH", "TIMEOUT"};

/* out = a/b; nonzero when it does not fit. */
static int pjoin(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s/%s", a, b);
    return n < 0 || (size_t)n >= cap;
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return GD_ENOENT;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = gd_malloc(n > 0 ? (size_t)n : 1);
    if (!b || (n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n)) {
        gd_free(b);
        fclose(f);
        return GD_EIO;
    }
    fclose(f);
    *out = b;
    *len = (size_t)n;
    return 0;
}

static int load_pb(const char *path, struct gd_tensor *t, char **name, char *msg)
{
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len))
        return 1;
    int rc = gd_engine_tensor_from_pb(buf, len, NULL, t, name, msg, MSG);
    gd_free(buf);
    return rc ? -1 : 0;
}

static int close_enough(double got, double want)
{
    if (isnan(want) || isnan(got))
        return isnan(want) && isnan(got);
    if (isinf(want) || isinf(got))
        return got == want;
    return fabs(got - want) <= 1e-7 + 1e-3 * fabs(want);
}

/* Returns 0 when equal, else writes why into msg. */
static int compare(const struct gd_tensor *got, const struct gd_tensor *want, int idx, char *msg)
{
    char a[128], b[128];
    if (got->dtype != want->dtype)
        return snprintf(msg, MSG, "output %d: dtype %s, expected %s", idx,
                        gd_dtype_name(got->dtype), gd_dtype_name(want->dtype)),
               1;
    if (!gd_tensor_same_shape(got, want))
        return snprintf(msg, MSG, "output %d: shape %s, expected %s", idx,
                        gd_shape_str(got->rank, got->dims, a, sizeof a),
                        gd_shape_str(want->rank, want->dims, b, sizeof b)),
               1;
    for (int64_t i = 0; i < want->numel; i++) {
        int ok;
        if (want->dtype == GD_DTYPE_STRING) {
            const char *g = ((char **)got->data)[i], *w = ((char **)want->data)[i];
            ok = strcmp(g ? g : "", w ? w : "") == 0;
        } else if (gd_dtype_is_float(want->dtype)) {
            ok = close_enough(gd_tensor_get_f64(got, i), gd_tensor_get_f64(want, i));
        } else {
            ok = gd_tensor_get_i64(got, i) == gd_tensor_get_i64(want, i);
        }
        if (!ok) {
            if (want->dtype == GD_DTYPE_STRING)
                return snprintf(msg, MSG, "output %d: element %lld differs", idx, (long long)i), 1;
            return snprintf(msg, MSG, "output %d: element %lld is %.9g, expected %.9g", idx,
                            (long long)i, gd_tensor_get_f64(got, i), gd_tensor_get_f64(want, i)),
                   1;
        }
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted test_data_set_* names in dir (caller frees). */
static int list_sets(const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0, cap = 0;
    char **v = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "test_data_set_", 14) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            char **nv = gd_realloc(v, sizeof *v * (size_t)cap);
            if (!nv)
                break;
            v = nv;
        }
        v[n++] = gd_strdup(de->d_name);
    }
    closedir(d);
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

struct set_io {
    struct gd_tensor in[MAX_IO], out[MAX_IO];
    char *in_name[MAX_IO];
    int n_in, n_out;
};

static void set_free(struct set_io *s)
{
    for (int i = 0; i < s->n_in; i++) {
        gd_tensor_release(&s->in[i]);
        gd_free(s->in_name[i]);
    }
    for (int i = 0; i < s->n_out; i++)
        gd_tensor_release(&s->out[i]);
}

static int set_load(const char *dir, struct set_io *s, char *msg)
{
    char p[4096];
    memset(s, 0, sizeof *s);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < MAX_IO; i++) {
            char leaf[32];
            snprintf(leaf, sizeof leaf, "%s_%d.pb", k ? "output" : "input", i);
            if (pjoin(p, sizeof p, dir, leaf))
                return -1;
            int rc = load_pb(p, k ? &s->out[i] : &s->in[i], k ? NULL : &s->in_name[i], msg);
            if (rc > 0)
                break;
            if (rc < 0)
                return -1;
            if (k)
                s->n_out++;
            else
                s->n_in++;
        }
    return 0;
}

/* One data set: bind inputs by name when the .pb names match, else by position. */
static enum verdict run_set(const gd_engine_model *m, gd_engine_session *s, const char *dir,
                            char *msg)
{
    struct set_io io;
    if (set_load(dir, &io, msg)) {
        set_free(&io);
        return V_UNSUP; /* test data this runner cannot decode (e.g. sequences) */
    }
    const char *names[MAX_IO];
    int n = io.n_in < gd_engine_num_inputs(m) ? io.n_in : gd_engine_num_inputs(m);
    for (int i = 0; i < n; i++) {
        struct gd_engine_io info;
        gd_engine_input_info(m, i, &info);
        names[i] = info.name;
        for (int j = 0; io.in_name[i] && j < gd_engine_num_inputs(m); j++) {
            gd_engine_input_info(m, j, &info);
            if (strcmp(info.name, io.in_name[i]) == 0)
                names[i] = info.name;
        }
    }
    enum verdict v = V_PASS;
    int rc = gd_engine_run(s, n, names, io.in, msg, MSG);
    if (rc) {
        v = rc == GD_ENOTSUP ? V_UNSUP : V_FAIL;
        goto out;
    }
    if (io.n_out != gd_engine_num_outputs(m)) {
        snprintf(msg, MSG, "model has %d outputs, data set %d", gd_engine_num_outputs(m), io.n_out);
        v = V_FAIL;
        goto out;
    }
    for (int i = 0; i < io.n_out && v == V_PASS; i++)
        if (compare(gd_engine_output(s, i), &io.out[i], i, msg))
            v = V_FAIL;
out:
    set_free(&io);
    return v;
}

static enum verdict run_test(const char *dir, int threads, char *msg)
{
    char p[4096];
    gd_engine_model *m = NULL;
    gd_engine_session *s = NULL;
    char **sets = NULL;
    int n_sets = 0;
    enum verdict v;
    int rc = pjoin(p, sizeof p, dir, "model.onnx") ? GD_ERANGE : 0;
    if (!rc)
        rc = gd_engine_load_file(p, &m, msg, MSG);
    if (!rc)
        rc = gd_engine_session_create(m, &(struct gd_engine_options){.threads = threads}, &s, msg,
                                      MSG);
    if (rc) {
        v = rc == GD_ENOTSUP ? V_UNSUP : V_FAIL;
        goto out;
    }
    n_sets = list_sets(dir, &sets);
    v = n_sets ? V_PASS : V_FAIL;
    if (!n_sets)
        snprintf(msg, MSG, "no test_data_set_*");
    for (int i = 0; i < n_sets && v == V_PASS; i++) {
        v = pjoin(p, sizeof p, dir, sets[i]) ? V_FAIL : run_set(m, s, p, msg);
    }
out:
    for (int i = 0; i < n_sets; i++)
        gd_free(sets[i]);
    gd_free(sets);
    gd_engine_session_free(s);
    gd_engine_model_free(m);
    return v;
}

/* ---- parent: a small pool of child processes ---- */

struct job {
    pid_t pid;
    int fd;
    char name[1024];
    char buf[MSG + 16];
    size_t len;
    struct timespec start;
};

struct opts {
    const char *data, *suites, *filter, *check, *write;
    int jobs, timeout, quiet, threads;
};

struct results {
    char **names;
    enum verdict *v;
    int n, cap;
    int count[V_N];
};

static void record(struct results *r, const char *name, enum verdict v, const char *msg, int quiet)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->names = gd_realloc(r->names, sizeof *r->names * (size_t)r->cap);
        r->v = gd_realloc(r->v, sizeof *r->v * (size_t)r->cap);
        if (!r->names || !r->v) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
    }
    r->names[r->n] = gd_strdup(name);
    r->v[r->n++] = v;
    r->count[v]++;
    if (!quiet || (v != V_PASS))
        printf("%-7s %s%s%s\n", verdict_name[v], name, msg && *msg ? ": " : "", msg ? msg : "");
    fflush(stdout);
}

static void start_job(struct job *j, const char *dir, const char *name, const struct opts *o)
{
    int pfd[2];
    if (pipe(pfd)) {
        perror("pipe");
        exit(2);
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        close(pfd[0]);
        char msg[MSG] = "";
        enum verdict v = run_test(dir, o->threads, msg);
        char line[MSG + 16];
        int n = snprintf(line, sizeof line, "%d %s", (int)v, msg);
        if (write(pfd[1], line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1)) < 0)
            _exit(3);
        close(pfd[1]);
        exit(0); /* normal exit so LeakSanitizer checks the child */
    }
    close(pfd[1]);
    j->pid = pid;
    j->fd = pfd[0];
    j->len = 0;
    snprintf(j->name, sizeof j->name, "%s", name);
    clock_gettime(CLOCK_MONOTONIC, &j->start);
}

static void finish_job(struct job *j, struct results *r, const struct opts *o, int timed_out)
{
    int st = 0;
    if (timed_out)
        kill(j->pid, SIGKILL);
    waitpid(j->pid, &st, 0);
    close(j->fd);
    j->buf[j->len] = 0;
    char msg[MSG + 64] = "";
    enum verdict v;
    if (timed_out) {
        v = V_TIMEOUT;
        snprintf(msg, sizeof msg, "no result after %d s", o->timeout);
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || j->len == 0) {
        v = V_CRASH;
        if (WIFSIGNALED(st))
            snprintf(msg, sizeof msg, "killed by signal %d", WTERMSIG(st));
        else
            snprintf(msg, sizeof msg, "exit status %d (sanitizer report above?)",
                     WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    } else {
        char *sp = strchr(j->buf, ' ');
        v = (enum verdict)atoi(j->buf);
        if ((int)v < 0 || v >= V_N)
            v = V_CRASH;
        snprintf(msg, sizeof msg, "%s", sp ? sp + 1 : "");
    }
    record(r, j->name, v, msg, o->quiet);
    j->pid = 0;
}

static double elapsed(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Waits for any running job to report or time out. */
static void reap_one(struct job *jobs, int nj, struct results *r, const struct opts *o)
{
    struct pollfd pf[64];
    for (;;) {
        int idx[64], n = 0;
        for (int i = 0; i < nj; i++) {
            if (!jobs[i].pid)
                continue;
            if (elapsed(&jobs[i].start) > o->timeout) {
                finish_job(&jobs[i], r, o, 1);
                return;
            }
            pf[n] = (struct pollfd){.fd = jobs[i].fd, .events = POLLIN};
            idx[n++] = i;
        }
        if (n == 0)
            return;
        if (poll(pf, (nfds_t)n, 200) <= 0)
            continue;
        for (int k = 0; k < n; k++) {
            if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            struct job *j = &jobs[idx[k]];
            ssize_t got = read(j->fd, j->buf + j->len, sizeof j->buf - 1 - j->len);
            if (got > 0) {
                j->len += (size_t)got;
                continue;
            }
            finish_job(j, r, o, 0);
            return;
        }
    }
}

static int suite_wanted(const char *suites, const char *s)
{
    if (!suites)
        return 1;
    size_t n = strlen(s);
    for (const char *p = suites; (p = strstr(p, s)); p += n)
        if ((p == suites || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
            return 1;
    return 0;
}

static void run_all(const struct opts *o, struct results *r)
{
    static const char *const suites[] = {"node", "simple", "pytorch-converted", "pytorch-operator"};
    struct job jobs[64] = {0};
    int nj = o->jobs < 1 ? 1 : o->jobs > 64 ? 64 : o->jobs;
    for (size_t si = 0; si < 4; si++) {
        if (!suite_wanted(o->suites, suites[si]))
            continue;
        char sdir[2048];
        if (pjoin(sdir, sizeof sdir, o->data, suites[si]))
            continue;
        DIR *d = opendir(sdir);
        if (!d)
            continue;
        char **names = NULL;
        int n = 0, cap = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                names = gd_realloc(names, sizeof *names * (size_t)cap);
            }
            names[n++] = gd_strdup(de->d_name);
        }
        closedir(d);
        qsort(names, (size_t)n, sizeof *names, cmp_str);
        for (int i = 0; i < n; i++) {
            char full[600], dir[4096];
            if (pjoin(full, sizeof full, suites[si], names[i]) ||
                pjoin(dir, sizeof dir, sdir, names[i]))
                continue;
            if (!o->filter || strstr(full, o->filter)) {
                int slot = -1;
                while (slot < 0) {
                    for (int k = 0; k < nj && slot < 0; k++)
                        if (!jobs[k].pid)
                            slot = k;
                    if (slot < 0)
                        reap_one(jobs, nj, r, o);
                }
                start_job(&jobs[slot], dir, full, o);
            }
            gd_free(names[i]);
        }
        gd_free(names);
    }
    for (int k = 0; k < nj; k++)
        while (jobs[k].pid)
            reap_one(jobs, nj, r, o);
}

static int check_list(const char *path, const struct results *r)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    char line[1024];
    int bad = 0, listed = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#')
            continue;
        listed++;
        int found = 0;
        for (int i = 0; i < r->n; i++)
            if (strcmp(r->names[i], line) == 0) {
                found = 1;
                if (r->v[i] != V_PASS) {
                    printf("REGRESSION %s (%s)\n", line, verdict_name[r->v[i]]);
                    bad++;
                }
            }
        if (!found) {
            printf("REGRESSION %s (not run: missing from the test data?)\n", line);
            bad++;
        }
    }
    fclose(f);
    printf("pass list: %d listed, %d regressed\n", listed, bad);
    return bad != 0;
}

static int write_list(const char *path, const struct results *r)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    fprintf(f, "# Conformance tests expected to pass (tests/conformance/runner.c "
               "--write-pass-list).\n");
    for (int i = 0; i < r->n; i++)
        if (r->v[i] == V_PASS)
            fprintf(f, "%s\n", r->names[i]);
    return fclose(f) != 0;
}

int main(int argc, char **argv)
{
    struct opts o = {
        .data = "/usr/share/libonnx-testdata/data", .jobs = 2, .timeout = 120, .threads = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int used = 1;
        if (strcmp(a, "--data") == 0 && v)
            o.data = v;
        else if (strcmp(a, "--suite") == 0 && v)
            o.suites = v;
        else if (strcmp(a, "--filter") == 0 && v)
            o.filter = v;
        else if (strcmp(a, "--jobs") == 0 && v)
            o.jobs = atoi(v);
        else if (strcmp(a, "--timeout") == 0 && v)
            o.timeout = atoi(v);
        else if (strcmp(a, "--threads") == 0 && v)
            o.threads = atoi(v);
        else if (strcmp(a, "--check-pass-list") == 0 && v)
            o.check = v;
        else if (strcmp(a, "--write-pass-list") == 0 && v)
            o.write = v;
        else if (strcmp(a, "-q") == 0)
            used = 0, o.quiet = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--data DIR] [--suite a,b] [--filter S] [--jobs N] "
                    "[--timeout S] [--threads N] [--check-pass-list F] "
                    "[--write-pass-list F] [-q]\n",
                    argv[0]);
            return 2;
        }
        i += used;
    }
    signal(SIGPIPE, SIG_IGN);
    struct results r = {0};
    run_all(&o, &r);
    static const char *const suite_names[] = {"node", "simple", "pytorch-converted",
                                              "pytorch-operator"};
    printf("\n");
    for (int si = 0; si < 4; si++) {
        int c[V_N] = {0}, n = 0;
        size_t len = strlen(suite_names[si]);
        for (int i = 0; i < r.n; i++)
            if (strncmp(r.names[i], suite_names[si], len) == 0 && r.names[i][len] == '/')
                c[r.v[i]]++, n++;
        if (n)
            printf("%-18s %4d: pass %d, fail %d, unsupported %d, crash %d, timeout %d\n",
                   suite_names[si], n, c[V_PASS], c[V_FAIL], c[V_UNSUP], c[V_CRASH], c[V_TIMEOUT]);
    }
    printf("total %d: pass %d, fail %d, unsupported %d, crash %d, timeout %d\n", r.n,
           r.count[V_PASS], r.count[V_FAIL], r.count[V_UNSUP], r.count[V_CRASH],
           r.count[V_TIMEOUT]);
    int rc = (r.count[V_CRASH] || r.count[V_TIMEOUT]) ? 1 : 0;
    if (o.check && check_list(o.check, &r))
        rc = 1;
    if (o.write && write_list(o.write, &r)) {
        fprintf(stderr, "cannot write %s\n", o.write);
        rc = 1;
    }
    for (int i = 0; i < r.n; i++)
        gd_free(r.names[i]);
    gd_free(r.names);
    gd_free(r.v);
    return rc;
}
