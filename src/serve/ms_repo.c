/* Model repository scanning and polling (see ms_repo.h). */
#include "serve/ms_repo.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "girder/error.h"
#include "serve/ms_config.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* A version folder's number: decimal digits only, 1..INT32_MAX; 0 when it is not one. */
static int64_t version_number(const char *s)
{
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > INT32_MAX / 10)
            return 0;
        v = v * 10 + (*p - '0');
    }
    return *s && *s != '0' && v <= INT32_MAX ? v : 0;
}

static int is_file(const char *path, struct stat *st)
{
    return stat(path, st) == 0 && S_ISREG(st->st_mode);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_version(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_model(const void *a, const void *b)
{
    return strcmp(((const struct gd_ms_repo_model *)a)->name,
                  ((const struct gd_ms_repo_model *)b)->name);
}

/* The versions of model folder dir/name that hold a model.onnx; h (when not NULL) mixes in
 * what identifies each file's content. */
static int scan_versions(const char *path, struct gd_ms_repo_model *m, uint64_t *h)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        int64_t v = version_number(e->d_name);
        char file[4096];
        struct stat st;
        if (!v ||
            snprintf(file, sizeof file, "%s/%s/model.onnx", path, e->d_name) >= (int)sizeof file ||
            !is_file(file, &st))
            continue;
        if (m->n_versions == GD_MS_REPO_MAX_VERSIONS) {
            rc = GD_ELIMIT;
            break;
        }
        m->versions[m->n_versions++] = v;
        if (h) { /* FNV-1a over version, size, mtime: order-independent by summing */
            uint64_t x = 1469598103934665603ull;
            uint64_t parts[] = {(uint64_t)v, (uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec,
                                (uint64_t)st.st_mtim.tv_nsec, (uint64_t)st.st_ino};
            for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
                x = (x ^ parts[i]) * 1099511628211ull;
            *h += x;
        }
    }
    closedir(d);
    qsort(m->versions, m->n_versions, sizeof m->versions[0], cmp_version);
    return rc;
}

static int scan(const char *dir, struct gd_ms_repo_model **out, size_t *n, uint64_t *h, char *why,
                size_t whylen)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return snprintf(why, whylen, "cannot read the model repository '%s': %s", dir,
                        strerror(errno)),
               errno == ENOENT ? GD_ENOENT : GD_EIO;
    struct gd_ms_repo_model *ms = gd_calloc(GD_MS_REPO_MAX_MODELS, sizeof *ms);
    int rc = ms ? 0 : GD_ENOMEM;
    for (struct dirent *e; !rc && (e = readdir(d)) != NULL;) {
        char path[4096];
        if (!gd_ms_name_ok(e->d_name) || strlen(e->d_name) >= sizeof ms->name ||
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            !is_dir(path))
            continue;
        if (*n == GD_MS_REPO_MAX_MODELS) {
            rc = GD_ELIMIT;
            snprintf(why, whylen, "more than %d models in '%s'", GD_MS_REPO_MAX_MODELS, dir);
            break;
        }
        struct gd_ms_repo_model *m = &ms[*n];
        memset(m, 0, sizeof *m);
        snprintf(m->name, sizeof m->name, "%s", e->d_name);
        if ((rc = scan_versions(path, m, h)) != 0)
            snprintf(why, whylen, "more than %d versions of '%s'", GD_MS_REPO_MAX_VERSIONS,
                     m->name);
        else if (m->n_versions)
            (*n)++;
        if (h) {
            uint64_t x = 1469598103934665603ull;
            for (const char *p = m->name; *p; p++)
                x = (x ^ (unsigned char)*p) * 1099511628211ull;
            *h += x * (m->n_versions + 1);
        }
    }
    closedir(d);
    if (rc) {
        gd_free(ms);
        *n = 0;
        return rc;
    }
    qsort(ms, *n, sizeof *ms, cmp_model);
    *out = ms;
    return 0;
}

int gd_ms_repo_scan(const char *dir, struct gd_ms_repo_model **out, size_t *n, char *why,
                    size_t whylen)
{
    return scan(dir, out, n, NULL, why, whylen);
}

uint64_t gd_ms_repo_signature(const char *dir)
{
    struct gd_ms_repo_model *ms;
    size_t n;
    uint64_t h = 0;
    char why[8];
    int rc = scan(dir, &ms, &n, &h, why, sizeof why);
    gd_free(ms);
    return rc ? (uint64_t)rc : h;
}

/* ---- the poller ---- */

struct gd_ms_repo_poller {
    char *dir;
    uint64_t interval_ms, seen;
    void (*changed)(void *ud);
    void *ud;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    pthread_t thread;
};

static void *poll_main(void *arg)
{
    struct gd_ms_repo_poller *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        uint64_t until = gd_mono_ns() + p->interval_ms * 1000000ull;
        struct timespec ts = {(time_t)(until / 1000000000u), (long)(until % 1000000000u)};
        while (!p->stop && pthread_cond_timedwait(&p->cv, &p->mu, &ts) == 0)
            ;
        if (p->stop)
            break;
        pthread_mutex_unlock(&p->mu);
        uint64_t sig = gd_ms_repo_signature(p->dir);
        if (sig != p->seen) { /* once per change: a refused reload is not retried */
            p->seen = sig;
            p->changed(p->ud);
        }
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int gd_ms_repo_poller_new(const char *dir, uint64_t interval_ms, void (*changed)(void *ud),
                          void *ud, struct gd_ms_repo_poller **out)
{
    *out = NULL;
    struct gd_ms_repo_poller *p = gd_calloc(1, sizeof *p);
    if (!p || !(p->dir = gd_strdup(dir))) {
        gd_free(p);
        return GD_ENOMEM;
    }
    p->interval_ms = interval_ms;
    p->changed = changed;
    p->ud = ud;
    p->seen = gd_ms_repo_signature(dir);
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&p->thread, NULL, poll_main, p) != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        gd_free(p->dir);
        gd_free(p);
        return GD_EIO;
    }
    *out = p;
    return 0;
}

void gd_ms_repo_poller_free(struct gd_ms_repo_poller *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    gd_free(p->dir);
    gd_free(p);
}
