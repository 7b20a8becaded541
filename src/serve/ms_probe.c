/* Semantic health probes (see ms_probe.h). */
#include "serve/ms_probe.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/file.h"
#include "core/log.h"
#include "girder/error.h"
#include "serve/ms_infer_req.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_RESPONSE_BYTES ((size_t)64 << 20)
#define MAX_COMPARED_VALUES ((size_t)1 << 26)

/* ---- comparing responses ---- */

static int differ(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int differ(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return GD_EINVAL;
}

/* The leaves of a (possibly nested) JSON array, in order, into out[0..*k). */
static int flatten(const cJSON *a, const cJSON **out, size_t cap, size_t *k)
{
    for (const cJSON *e = a ? a->child : NULL; e; e = e->next) {
        if (cJSON_IsArray(e)) {
            if (flatten(e, out, cap, k))
                return GD_ELIMIT;
        } else if (*k == cap) {
            return GD_ELIMIT;
        } else {
            out[(*k)++] = e;
        }
    }
    return 0;
}

static size_t leaves(const cJSON *a)
{
    size_t n = 0;
    for (const cJSON *e = a ? a->child : NULL; e; e = e->next)
        n += cJSON_IsArray(e) ? leaves(e) : 1;
    return n;
}

static int same_value(const cJSON *g, const cJSON *w, double atol, double rtol)
{
    if (cJSON_IsNumber(w))
        return cJSON_IsNumber(g) &&
               fabs(g->valuedouble - w->valuedouble) <= atol + rtol * fabs(w->valuedouble);
    if (cJSON_IsString(w))
        return cJSON_IsString(g) && strcmp(g->valuestring, w->valuestring) == 0;
    if (cJSON_IsBool(w))
        return cJSON_IsBool(g) && cJSON_IsTrue(g) == cJSON_IsTrue(w);
    return 0;
}

static void describe(const cJSON *v, char *out, size_t n)
{
    char *s = v ? cJSON_PrintUnformatted(v) : NULL;
    snprintf(out, n, "%.60s", s ? s : "nothing");
    cJSON_free(s);
}

static const cJSON *output_named(const cJSON *outs, const char *name)
{
    const cJSON *o;
    cJSON_ArrayForEach(o, outs)
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (cJSON_IsString(nm) && strcmp(nm->valuestring, name) == 0)
            return o;
    }
    return NULL;
}

static int compare_output(const cJSON *g, const cJSON *w, const char *name, double atol,
                          double rtol, char *why, size_t n)
{
    const char *keys[] = {"shape", "datatype"};
    for (int i = 0; i < 2; i++) {
        const cJSON *wk = cJSON_GetObjectItemCaseSensitive(w, keys[i]);
        if (wk && !cJSON_Compare(wk, cJSON_GetObjectItemCaseSensitive(g, keys[i]), 1)) {
            char a[64], b[64];
            describe(cJSON_GetObjectItemCaseSensitive(g, keys[i]), a, sizeof a);
            describe(wk, b, sizeof b);
            return differ(why, n, "output '%s': %s is %s, expected %s", name, keys[i], a, b);
        }
    }
    const cJSON *gd = cJSON_GetObjectItemCaseSensitive(g, "data");
    const cJSON *wd = cJSON_GetObjectItemCaseSensitive(w, "data");
    if (!wd)
        return 0;
    size_t ng = leaves(gd), nw = leaves(wd);
    if (!cJSON_IsArray(gd) || ng != nw)
        return differ(why, n, "output '%s': %zu values, expected %zu%s", name, ng, nw,
                      cJSON_IsArray(gd) ? "" : " (no JSON data: was it asked for as binary?)");
    if (nw > MAX_COMPARED_VALUES)
        return differ(why, n, "output '%s': more than %zu values to compare", name,
                      MAX_COMPARED_VALUES);
    const cJSON **a = gd_malloc((2 * nw + 1) * sizeof *a), **b = a + nw;
    if (!a)
        return differ(why, n, "out of memory comparing output '%s'", name);
    size_t ka = 0, kb = 0;
    flatten(gd, a, nw, &ka);
    flatten(wd, b, nw, &kb);
    int rc = 0;
    for (size_t i = 0; i < nw && !rc; i++)
        if (!same_value(a[i], b[i], atol, rtol)) {
            char x[64], y[64];
            describe(a[i], x, sizeof x);
            describe(b[i], y, sizeof y);
            rc = differ(why, n, "output '%s'[%zu] is %s, expected %s (atol %g, rtol %g)", name, i,
                        x, y, atol, rtol);
        }
    gd_free(a);
    return rc;
}

int gd_ms_probe_compare(const char *got, size_t got_len, const char *want, size_t want_len,
                        double atol, double rtol, char *why, size_t whylen)
{
    cJSON *g = cJSON_ParseWithLength(got, got_len), *w = cJSON_ParseWithLength(want, want_len);
    const cJSON *gouts = cJSON_GetObjectItemCaseSensitive(g, "outputs");
    const cJSON *wouts = cJSON_GetObjectItemCaseSensitive(w, "outputs");
    int rc = 0;
    if (!cJSON_IsArray(wouts))
        rc = differ(why, whylen, "the expected response has no \"outputs\" array");
    else if (!cJSON_IsArray(gouts))
        rc = differ(why, whylen, "the response has no \"outputs\" array");
    const cJSON *wo, *each = rc ? NULL : wouts;
    cJSON_ArrayForEach(wo, each)
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(wo, "name");
        if (!cJSON_IsString(nm)) {
            rc = differ(why, whylen, "an expected output has no \"name\"");
            break;
        }
        const cJSON *go = output_named(gouts, nm->valuestring);
        rc = go ? compare_output(go, wo, nm->valuestring, atol, rtol, why, whylen)
                : differ(why, whylen, "output '%s' is missing", nm->valuestring);
        if (rc)
            break;
    }
    cJSON_Delete(g);
    cJSON_Delete(w);
    return rc;
}

/* ---- running probes ---- */

/* One probe's answer, shared by the waiting prober and the worker that completes it (the
 * prober may give up waiting first: the last of the two frees it). */
struct answer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, status;
    struct gd_buf body;
    atomic_int refs;
};

static void answer_unref(struct answer *a)
{
    if (atomic_fetch_sub(&a->refs, 1) == 1) {
        gd_buf_free(&a->body);
        pthread_cond_destroy(&a->cv);
        pthread_mutex_destroy(&a->mu);
        gd_free(a);
    }
}

/* Worker thread (or the runtime dropping the job: status 0). */
static void on_answer(struct gd_ms_job *job, void *ud)
{
    struct answer *a = ud;
    pthread_mutex_lock(&a->mu);
    a->done = 1;
    a->status = job->status;
    struct gd_buf t = a->body;
    a->body = job->body;
    job->body = t;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    gd_ms_job_free(job);
    answer_unref(a);
}

struct probe {
    struct gd_ms_model *model;
    const struct gd_ms_probe_cfg *cfg;
    char *req, *want; /* file contents; want NULL without `expect` */
    size_t req_len, want_len;
    atomic_int ok;
    pthread_mutex_t mu; /* guards why */
    char why[400];
    uint64_t next_ns;
    struct gd_gauge *gauge;
};

struct gd_ms_prober {
    struct probe *probes;
    size_t n;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int stop;
    int started;
    pthread_t thread;
};

enum verdict { PASS, FAIL, BUSY };

static struct answer *answer_new(void)
{
    struct answer *a = gd_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    gd_buf_init(&a->body, MAX_RESPONSE_BYTES);
    atomic_init(&a->refs, 2);
    return a;
}

/* Sends p's request through the model's queue and judges the answer (why: a failure).
 * The wait ends early (BUSY: no verdict) when *stop is set. */
static enum verdict probe_once(struct probe *p, const atomic_int *stop, char *why, size_t n)
{
    struct gd_ms_job *job = gd_ms_job_new(p->model, MAX_RESPONSE_BYTES);
    struct answer *a = job ? answer_new() : NULL;
    if (!a) {
        gd_ms_job_free(job);
        return snprintf(why, n, "out of memory"), FAIL;
    }
    struct gd_ms_infer_req ir;
    char err[300];
    int rc = gd_ms_infer_parse(gd_ms_model_engine(p->model), p->req, p->req_len, p->req_len, job,
                               &ir, err, sizeof err);
    if (rc) {
        gd_ms_job_free(job);
        answer_unref(a);
        answer_unref(a);
        return snprintf(why, n, "the probe request does not fit the model: %s", err), FAIL;
    }
    uint64_t deadline = gd_mono_ns() + p->cfg->timeout_ms * 1000000ull;
    job->deadline_ns = deadline; /* still queued by then: answered 504, a failure */
    if ((rc = gd_ms_submit(NULL, job, on_answer, a)) != 0) {
        gd_ms_job_free(job);
        answer_unref(a);
        answer_unref(a);
        if (rc == GD_EAGAIN)
            return BUSY;
        return snprintf(why, n, "out of memory"), FAIL;
    }
    pthread_mutex_lock(&a->mu);
    for (uint64_t now = gd_mono_ns(); !a->done && now < deadline && !atomic_load(stop);
         now = gd_mono_ns()) {
        uint64_t until = now + 50000000u < deadline ? now + 50000000u : deadline;
        struct timespec ts = {(time_t)(until / 1000000000u), (long)(until % 1000000000u)};
        pthread_cond_timedwait(&a->cv, &a->mu, &ts); /* slices: see *stop soon */
    }
    enum verdict v = PASS;
    if (!a->done && atomic_load(stop))
        v = BUSY;
    else if (!a->done)
        v = FAIL,
        snprintf(why, n, "no answer within %llu ms", (unsigned long long)p->cfg->timeout_ms);
    else if (a->status != 200)
        v = FAIL,
        snprintf(why, n, "answered %d: %.*s", a->status,
                 (int)(a->body.len < 200 ? a->body.len : 200), a->body.data ? a->body.data : "");
    else if (p->want && gd_ms_probe_compare(a->body.data, a->body.len, p->want, p->want_len,
                                            p->cfg->atol, p->cfg->rtol, why, n))
        v = FAIL;
    pthread_mutex_unlock(&a->mu);
    answer_unref(a);
    return v;
}

static void set_state(struct probe *p, int ok, const char *why)
{
    const char *name = gd_ms_model_cfg(p->model)->name;
    int was = atomic_exchange(&p->ok, ok);
    pthread_mutex_lock(&p->mu);
    snprintf(p->why, sizeof p->why, "%s", ok ? "" : why);
    pthread_mutex_unlock(&p->mu);
    if (p->gauge)
        gd_gauge_set(p->gauge, ok);
    if (was && !ok) {
        char e[400];
        snprintf(e, sizeof e, "%s", why);
        for (char *q = e; *q; q++)
            *q = *q == '"' ? '\'' : *q;
        gd_logf(GD_LOG_WARN,
                "msg=\"model failed its health probe: not ready\" model=%s error=\"%s\"", name, e);
    } else if (!was && ok) {
        gd_logf(GD_LOG_INFO, "msg=\"model passes its health probe: ready\" model=%s", name);
    }
}

static void probe_and_record(struct gd_ms_prober *pr, struct probe *p)
{
    char why[400] = "";
    enum verdict v = probe_once(p, &pr->stop, why, sizeof why);
    if (v != BUSY)
        set_state(p, v == PASS, why);
}

static void *prober_main(void *arg)
{
    struct gd_ms_prober *pr = arg;
    pthread_mutex_lock(&pr->mu);
    while (!atomic_load(&pr->stop)) {
        uint64_t now = gd_mono_ns(), next = UINT64_MAX;
        for (size_t i = 0; i < pr->n; i++) {
            struct probe *p = &pr->probes[i];
            if (!p->cfg || !p->cfg->interval_ms)
                continue;
            if (p->next_ns <= now) {
                pthread_mutex_unlock(&pr->mu);
                probe_and_record(pr, p);
                pthread_mutex_lock(&pr->mu);
                now = gd_mono_ns();
                p->next_ns = now + p->cfg->interval_ms * 1000000ull;
            }
            if (p->next_ns < next)
                next = p->next_ns;
        }
        if (atomic_load(&pr->stop) || next == UINT64_MAX)
            break;
        struct timespec ts = {(time_t)(next / 1000000000u), (long)(next % 1000000000u)};
        pthread_cond_timedwait(&pr->cv, &pr->mu, &ts);
    }
    pthread_mutex_unlock(&pr->mu);
    return NULL;
}

static int read_probe_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
    char why[200];
    int rc = gd_file_read(path, GD_MS_MAX_PROBE_BYTES, data, len, why, sizeof why);
    if (rc)
        snprintf(err, errlen, "probe file %s: %s", path, why);
    return rc;
}

int gd_ms_prober_new(struct gd_ms_runtime *rt, struct gd_gauge *const *ready,
                     struct gd_ms_prober **out, char *err, size_t errlen)
{
    *out = NULL;
    struct gd_ms_prober *pr = gd_calloc(1, sizeof *pr);
    size_t n = gd_ms_runtime_num_models(rt);
    if (!pr || !(pr->probes = gd_calloc(n ? n : 1, sizeof *pr->probes))) {
        gd_free(pr);
        return GD_ENOMEM;
    }
    pthread_mutex_init(&pr->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pr->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = 0, periodic = 0;
    for (size_t i = 0; i < n; i++) {
        struct probe *p = &pr->probes[i];
        pr->n = i + 1;
        p->model = gd_ms_runtime_model_at(rt, i);
        pthread_mutex_init(&p->mu, NULL);
        atomic_init(&p->ok, 1);
        p->gauge = ready ? ready[i] : NULL;
        const struct gd_ms_model_cfg *c = gd_ms_model_cfg(p->model);
        if (gd_ms_model_load_error(p->model) || !c->probe) {
            if (p->gauge)
                gd_gauge_set(p->gauge, !gd_ms_model_load_error(p->model));
            continue;
        }
        p->cfg = c->probe;
        if ((rc = read_probe_file(c->probe->request, &p->req, &p->req_len, err, errlen)) ||
            (c->probe->expect &&
             (rc = read_probe_file(c->probe->expect, &p->want, &p->want_len, err, errlen))))
            break;
        char why[400] = "";
        enum verdict v = probe_once(p, &pr->stop, why, sizeof why);
        for (int tries = 0; v == BUSY && tries < 100; tries++) { /* a reload under load */
            struct timespec d = {0, 10000000};
            nanosleep(&d, NULL);
            v = probe_once(p, &pr->stop, why, sizeof why);
        }
        if (v == BUSY)
            snprintf(why, sizeof why, "the queue stayed full");
        if (v != PASS && c->required) {
            snprintf(err, errlen, "model '%s' failed its health probe: %s", c->name, why);
            rc = GD_EINVAL;
            break;
        }
        set_state(p, v == PASS, why);
        p->next_ns = gd_mono_ns() + c->probe->interval_ms * 1000000ull;
        periodic |= c->probe->interval_ms > 0;
    }
    if (!rc && periodic) {
        if (pthread_create(&pr->thread, NULL, prober_main, pr) != 0) {
            snprintf(err, errlen, "cannot start the prober thread");
            rc = GD_EIO;
        } else {
            pr->started = 1;
        }
    }
    if (rc) {
        gd_ms_prober_free(pr);
        return rc;
    }
    *out = pr;
    return 0;
}

void gd_ms_prober_free(struct gd_ms_prober *pr)
{
    if (!pr)
        return;
    pthread_mutex_lock(&pr->mu);
    atomic_store(&pr->stop, 1);
    pthread_cond_broadcast(&pr->cv);
    pthread_mutex_unlock(&pr->mu);
    if (pr->started)
        pthread_join(pr->thread, NULL);
    for (size_t i = 0; i < pr->n; i++) {
        gd_free(pr->probes[i].req);
        gd_free(pr->probes[i].want);
        pthread_mutex_destroy(&pr->probes[i].mu);
    }
    gd_free(pr->probes);
    pthread_cond_destroy(&pr->cv);
    pthread_mutex_destroy(&pr->mu);
    gd_free(pr);
}

int gd_ms_prober_ready(struct gd_ms_prober *pr, size_t i, char *why, size_t whylen)
{
    if (!pr || i >= pr->n)
        return 1;
    struct probe *p = &pr->probes[i];
    if (atomic_load(&p->ok))
        return 1;
    pthread_mutex_lock(&p->mu);
    snprintf(why, whylen, "%s", p->why);
    pthread_mutex_unlock(&p->mu);
    return 0;
}
