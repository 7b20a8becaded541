/* Model runtime: bounded queues, worker threads, per-loop mailboxes (see ms_runtime.h). */
#include "serve/ms_runtime.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/json_write.h"
#include "engine/tensor.h"
#include "girder/error.h"
#include "serve/ms_tensor_json.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* One per loop thread, shared by every runtime: finished jobs wait in its list and one
 * posted drain delivers them all (one eventfd wake-up per batch, not per job). The loop's
 * slot holds one reference and each job in flight another. When the loop is freed, `dead`
 * is set and the waiting jobs are dropped: a post the freed loop discarded loses nothing. */
struct gd_ms__mailbox {
    pthread_mutex_t mu;
    struct gd_loop *loop;
    struct gd_ms_job *head, *tail; /* finished, not yet delivered */
    int kicked;                    /* a drain is posted */
    int dead;
    atomic_int refs;
};
static const char mailbox_key = 0;

static void drop(struct gd_ms_job *j);

static void mailbox_unref(struct gd_ms__mailbox *mb)
{
    if (mb && atomic_fetch_sub(&mb->refs, 1) == 1) {
        pthread_mutex_destroy(&mb->mu);
        gd_free(mb);
    }
}

static struct gd_ms_job *mailbox_take(struct gd_ms__mailbox *mb, int dead)
{
    pthread_mutex_lock(&mb->mu);
    struct gd_ms_job *list = mb->head;
    mb->head = mb->tail = NULL;
    mb->kicked = 0;
    mb->dead |= dead;
    pthread_mutex_unlock(&mb->mu);
    return list;
}

static void mailbox_loop_gone(void *p)
{
    struct gd_ms__mailbox *mb = p;
    for (struct gd_ms_job *j = mailbox_take(mb, 1), *next; j; j = next) {
        next = j->next;
        drop(j);
    }
    mailbox_unref(mb);
}

static struct gd_ms__mailbox *mailbox_of(struct gd_loop *loop)
{
    struct gd_ms__mailbox *mb = gd_loop_slot_get(loop, &mailbox_key);
    if (mb)
        return mb;
    if (!(mb = gd_calloc(1, sizeof *mb)))
        return NULL;
    pthread_mutex_init(&mb->mu, NULL);
    mb->loop = loop;
    atomic_init(&mb->refs, 1);
    if (gd_loop_slot_set(loop, &mailbox_key, mb, mailbox_loop_gone) != 0) {
        mailbox_unref(mb);
        return NULL;
    }
    return mb;
}

struct instance {
    struct gd_ms_model *model;
    gd_engine_session *session;
    pthread_t thread;
    int started;
};

struct gd_ms_model {
    const struct gd_ms_model_cfg *cfg;
    gd_engine_model *engine;
    struct instance *inst;
    uint32_t n_inst;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct gd_ms_job *head, *tail;
    size_t depth;
    int stop;
};

struct gd_ms_runtime {
    struct gd_ms_model *models;
    size_t n_models;
};

struct gd_ms_job *gd_ms_job_new(struct gd_ms_model *m, size_t max_body)
{
    struct gd_ms_job *j = gd_calloc(1, sizeof *j);
    if (j) {
        j->model = m;
        gd_buf_init(&j->body, max_body);
    }
    return j;
}

void gd_ms_job_free(struct gd_ms_job *j)
{
    if (!j)
        return;
    for (int i = 0; i < j->n_inputs; i++) {
        if (j->names)
            gd_free(j->names[i]);
        if (j->inputs)
            gd_tensor_release(&j->inputs[i]);
    }
    for (int i = 0; i < j->n_wanted; i++)
        gd_free(j->wanted[i]);
    gd_free(j->names);
    gd_free(j->inputs);
    gd_free(j->wanted);
    gd_free(j->id);
    gd_buf_free(&j->body);
    mailbox_unref(j->mailbox);
    gd_free(j);
}

static void set_error(struct gd_ms_job *j, int status, const char *msg)
{
    j->status = status;
    gd_buf_reset(&j->body);
    if (gd_buf_puts(&j->body, "{\"error\":") || gd_json_put_str(&j->body, msg, strlen(msg)) ||
        gd_buf_putc(&j->body, '}')) {
        gd_buf_reset(&j->body);
        gd_buf_puts(&j->body, "{\"error\":\"response too large\"}");
        j->status = 500;
    }
}

static int wanted(const struct gd_ms_job *j, const char *name)
{
    if (j->n_wanted == 0)
        return 1;
    for (int i = 0; i < j->n_wanted; i++)
        if (strcmp(j->wanted[i], name) == 0)
            return 1;
    return 0;
}

/* {"model_name":..,"model_version":..,"id":..,"outputs":[..]} */
static int write_response(struct instance *in, struct gd_ms_job *j)
{
    const struct gd_ms_model *m = in->model;
    struct gd_buf *b = &j->body;
    int rc = gd_buf_puts(b, "{\"model_name\":");
    rc = rc ? rc : gd_json_put_str(b, m->cfg->name, strlen(m->cfg->name));
    rc = rc ? rc : gd_buf_printf(b, ",\"model_version\":\"%lld\"", (long long)m->cfg->version);
    if (!rc && j->id) {
        rc = gd_buf_puts(b, ",\"id\":");
        rc = rc ? rc : gd_json_put_str(b, j->id, strlen(j->id));
    }
    rc = rc ? rc : gd_buf_puts(b, ",\"outputs\":[");
    int first = 1;
    for (int i = 0; !rc && i < gd_engine_num_outputs(m->engine); i++) {
        struct gd_engine_io io;
        gd_engine_output_info(m->engine, i, &io);
        if (!wanted(j, io.name))
            continue;
        if (!first)
            rc = gd_buf_putc(b, ',');
        first = 0;
        rc = rc ? rc : gd_ms_tensor_to_json(b, io.name, gd_engine_output(in->session, i));
    }
    return rc ? rc : gd_buf_puts(b, "]}");
}

static void run_job(struct instance *in, struct gd_ms_job *j)
{
    uint64_t t0 = gd_mono_ns();
    char err[512];
    int rc = gd_engine_run(in->session, j->n_inputs, (const char *const *)j->names, j->inputs, err,
                           sizeof err);
    j->compute_ns = gd_mono_ns() - t0;
    if (rc) {
        set_error(j, rc == GD_EINVAL || rc == GD_ERANGE ? 400 : 500, err);
        return;
    }
    j->status = 200;
    rc = write_response(in, j);
    if (rc)
        set_error(j, 500,
                  rc == GD_ELIMIT ? "response larger than the configured body limit"
                                  : "could not encode the response");
}

/* A job that will never be delivered: done still runs once (status 0) to free its ud. */
static void drop(struct gd_ms_job *j)
{
    j->status = 0;
    j->done(j, j->ud);
}

/* Loop thread: delivers every finished job waiting in the mailbox. */
static void drain(struct gd_loop *loop, void *ud)
{
    (void)loop;
    for (struct gd_ms_job *j = mailbox_take(ud, 0), *next; j; j = next) {
        next = j->next;
        j->done(j, j->ud);
    }
}

/* Worker thread: hands the finished job to its loop, or drops it when the loop is gone.
 * Should posting the drain fail (out of memory), the job waits for the next one. */
static void post_back(struct gd_ms_job *j)
{
    struct gd_ms__mailbox *mb = j->mailbox;
    pthread_mutex_lock(&mb->mu);
    if (mb->dead) {
        pthread_mutex_unlock(&mb->mu);
        drop(j);
        return;
    }
    j->next = NULL;
    if (mb->tail)
        mb->tail->next = j;
    else
        mb->head = j;
    mb->tail = j;
    if (!mb->kicked)
        mb->kicked = gd_loop_post(mb->loop, drain, mb) == 0;
    pthread_mutex_unlock(&mb->mu);
}

static void *worker_main(void *arg)
{
    struct instance *in = arg;
    struct gd_ms_model *m = in->model;
    for (;;) {
        pthread_mutex_lock(&m->mu);
        while (!m->head && !m->stop)
            pthread_cond_wait(&m->cv, &m->mu);
        if (m->stop) {
            pthread_mutex_unlock(&m->mu);
            return NULL;
        }
        struct gd_ms_job *j = m->head;
        m->head = j->next;
        if (!m->head)
            m->tail = NULL;
        m->depth--;
        pthread_mutex_unlock(&m->mu);
        uint64_t now = gd_mono_ns();
        j->queue_ns = now - j->queue_ns;
        if (j->deadline_ns && now >= j->deadline_ns)
            set_error(j, 504, "deadline expired while queued");
        else
            run_job(in, j);
        post_back(j);
    }
}

int gd_ms_submit(struct gd_loop *loop, struct gd_ms_job *j, gd_ms_done_fn done, void *ud)
{
    struct gd_ms_model *m = j->model;
    struct gd_ms__mailbox *mb = mailbox_of(loop);
    if (!mb)
        return GD_ENOMEM;
    pthread_mutex_lock(&m->mu);
    if (m->depth >= m->cfg->max_queue) {
        pthread_mutex_unlock(&m->mu);
        return GD_EAGAIN;
    }
    atomic_fetch_add(&mb->refs, 1);
    j->mailbox = mb;
    j->done = done;
    j->ud = ud;
    j->queue_ns = gd_mono_ns();
    j->next = NULL;
    if (m->tail)
        m->tail->next = j;
    else
        m->head = j;
    m->tail = j;
    m->depth++;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    return 0;
}

static int model_start(struct gd_ms_model *m, const struct gd_ms_model_cfg *cfg, char *err,
                       size_t errlen)
{
    char e[400];
    m->cfg = cfg;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    int rc = gd_engine_load_file(cfg->path, &m->engine, e, sizeof e);
    if (rc)
        return snprintf(err, errlen, "model '%s': %s", cfg->name, e), rc;
    if (!(m->inst = gd_calloc(cfg->instances, sizeof *m->inst)))
        return GD_ENOMEM;
    struct gd_engine_options o = {.threads = (int)cfg->threads};
    for (uint32_t i = 0; i < cfg->instances; i++) {
        struct instance *in = &m->inst[i];
        in->model = m;
        m->n_inst = i + 1;
        if ((rc = gd_engine_session_create(m->engine, &o, &in->session, e, sizeof e)))
            return snprintf(err, errlen, "model '%s': %s", cfg->name, e), rc;
        if (pthread_create(&in->thread, NULL, worker_main, in) != 0)
            return snprintf(err, errlen, "model '%s': cannot start a worker", cfg->name), GD_EIO;
        in->started = 1;
    }
    return 0;
}

static void model_stop(struct gd_ms_model *m)
{
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    for (uint32_t i = 0; i < m->n_inst; i++) {
        if (m->inst[i].started)
            pthread_join(m->inst[i].thread, NULL);
        gd_engine_session_free(m->inst[i].session);
    }
    while (m->head) {
        struct gd_ms_job *j = m->head;
        m->head = j->next;
        drop(j);
    }
    gd_free(m->inst);
    gd_engine_model_free(m->engine);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
}

int gd_ms_runtime_new(const struct gd_ms_config *c, struct gd_ms_runtime **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    struct gd_ms_runtime *rt = gd_calloc(1, sizeof *rt);
    if (!rt || !(rt->models = gd_calloc(c->n_models ? c->n_models : 1, sizeof *rt->models))) {
        gd_free(rt);
        return GD_ENOMEM;
    }
    for (size_t i = 0; i < c->n_models; i++) {
        rt->n_models = i + 1;
        int rc = model_start(&rt->models[i], &c->models[i], err, errlen);
        if (rc) {
            gd_ms_runtime_free(rt);
            return rc;
        }
    }
    *out = rt;
    return 0;
}

void gd_ms_runtime_free(struct gd_ms_runtime *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->n_models; i++)
        model_stop(&rt->models[i]);
    gd_free(rt->models);
    gd_free(rt);
}

size_t gd_ms_runtime_num_models(const struct gd_ms_runtime *rt)
{
    return rt->n_models;
}

struct gd_ms_model *gd_ms_runtime_model_at(struct gd_ms_runtime *rt, size_t i)
{
    return i < rt->n_models ? &rt->models[i] : NULL;
}

struct gd_ms_model *gd_ms_runtime_find(struct gd_ms_runtime *rt, const char *name, size_t n)
{
    for (size_t i = 0; i < rt->n_models; i++)
        if (strlen(rt->models[i].cfg->name) == n && memcmp(rt->models[i].cfg->name, name, n) == 0)
            return &rt->models[i];
    return NULL;
}

const struct gd_ms_model_cfg *gd_ms_model_cfg(const struct gd_ms_model *m)
{
    return m->cfg;
}

const gd_engine_model *gd_ms_model_engine(const struct gd_ms_model *m)
{
    return m->engine;
}

size_t gd_ms_model_queue_depth(struct gd_ms_model *m)
{
    pthread_mutex_lock(&m->mu);
    size_t d = m->depth;
    pthread_mutex_unlock(&m->mu);
    return d;
}
