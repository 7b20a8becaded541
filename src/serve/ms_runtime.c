/* Model runtime: bounded queues, worker threads, per-loop mailboxes (see ms_runtime.h). */
#include "serve/ms_runtime.h"
#include "serve/ms_control.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/file.h"
#include "core/json_write.h"
#include "engine/tensor.h"
#include "girder/error.h"
#include "serve/ms_batch.h"
#include "serve/ms_infer_req.h"
#include "serve/ms_tensor_json.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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
    const struct gd_ms_model_cfg *cfg; /* &own */
    struct gd_ms_model_cfg own;        /* a copy: the model may outlive its config */
    char *load_error; /* non-NULL: an optional model that did not load, or an unloaded one
                         (nothing else set) */
    int unloaded;     /* by request (ms_control.h) */
    gd_engine_model *engine;
    struct instance *inst;
    uint32_t n_inst;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct gd_ms_job *head, *tail;
    size_t depth;
    uint64_t queued_bytes; /* input bytes of the queued jobs */
    int stop;
    /* sharing across runtimes (a reload keeps what did not change) */
    atomic_int refs;
    struct stat file; /* the model file as loaded: dev, ino, size, mtime */
    struct gd_ms_model *next_loaded;
};

struct gd_ms_runtime {
    struct gd_ms_model **models;
    unsigned char *kept; /* [i]: models[i] came from an earlier runtime */
    size_t n_models;
};

/* Every loaded model of every runtime alive: a new runtime (a reload) takes a reference to
 * an entry whose settings and file are unchanged instead of loading it again. */
static pthread_mutex_t loaded_mu = PTHREAD_MUTEX_INITIALIZER;
static struct gd_ms_model *loaded;

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
    gd_free(j->wanted_binary);
    gd_free(j->id);
    if (j->ext_free)
        j->ext_free(j->ext);
    gd_buf_free(&j->body);
    mailbox_unref(j->mailbox);
    gd_free(j);
}

static void set_error(struct gd_ms_job *j, int status, const char *msg)
{
    j->status = status;
    j->binary_header_len = 0;
    gd_buf_reset(&j->body);
    int rc = gd_buf_puts(&j->body, j->openai_errors ? "{\"error\":{\"message\":" : "{\"error\":");
    rc = rc ? rc : gd_json_put_str(&j->body, msg, strlen(msg));
    if (!rc && j->openai_errors)
        rc = gd_buf_printf(&j->body, ",\"type\":\"%s\",\"param\":null,\"code\":null}",
                           status < 500 ? "invalid_request_error" : "server_error");
    if (rc || gd_buf_putc(&j->body, '}')) {
        gd_buf_reset(&j->body);
        gd_buf_puts(&j->body, "{\"error\":\"response too large\"}");
        j->status = 500;
    }
}

/* 0: not requested, 1: as JSON data, 2: as binary data (binary tensor extension). */
static int wanted(const struct gd_ms_job *j, const char *name)
{
    if (j->n_wanted == 0)
        return j->binary_outputs ? 2 : 1;
    for (int i = 0; i < j->n_wanted; i++)
        if (strcmp(j->wanted[i], name) == 0)
            return j->binary_outputs || (j->wanted_binary && j->wanted_binary[i]) ? 2 : 1;
    return 0;
}

/* {"model_name":..,"model_version":..,"id":..,"outputs":[..]} from the model's outputs;
 * binary outputs' bytes follow the JSON (job->binary_header_len says where it ends). */
static int write_response(const struct gd_ms_model *m, struct gd_ms_job *j,
                          const struct gd_tensor *outs)
{
    struct gd_buf *b = &j->body, bin;
    gd_buf_init(&bin, b->max);
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
        int how = wanted(j, io.name);
        if (!how)
            continue;
        if (!first)
            rc = gd_buf_putc(b, ',');
        first = 0;
        size_t before = bin.len;
        if (how == 2) {
            rc = rc ? rc : gd_ms_tensor_to_binary(&bin, &outs[i]);
            rc = rc ? rc : gd_ms_tensor_to_json_binary(b, io.name, &outs[i], bin.len - before);
        } else {
            rc = rc ? rc : gd_ms_tensor_to_json(b, io.name, &outs[i]);
        }
    }
    rc = rc ? rc : gd_buf_puts(b, "]}");
    if (!rc && bin.len) {
        j->binary_header_len = b->len;
        rc = gd_buf_append(b, bin.data, bin.len);
    }
    gd_buf_free(&bin);
    return rc;
}

static void encode_result(const struct gd_ms_model *m, struct gd_ms_job *j,
                          const struct gd_tensor *outs)
{
    j->status = 200;
    int rc = j->encode ? j->encode(m, j, outs) : write_response(m, j, outs);
    if (rc)
        set_error(j, 500,
                  rc == GD_ELIMIT ? "response larger than the configured body limit"
                                  : "could not encode the response");
}

/* Runs jobs[0..k) as one engine run: alone when k == 1, else with their inputs joined
 * along dimension 0 and every output split back by rows. */
static void run_jobs(struct instance *in, struct gd_ms_job *const *jobs, int k)
{
    struct gd_ms_model *m = in->model;
    int n_in = jobs[0]->n_inputs, n_out = gd_engine_num_outputs(m->engine);
    struct gd_tensor *batch = k > 1 ? gd_calloc((size_t)n_in, sizeof *batch) : jobs[0]->inputs;
    /* outs[0..n_out): the session's outputs, views[..]: one job's rows of them */
    struct gd_tensor *outs = gd_calloc(2 * (size_t)n_out + 1, sizeof *outs), *views = outs + n_out;
    char err[512] = "out of memory";
    int rc = batch && outs ? 0 : GD_ENOMEM;
    for (int i = 0; !rc && k > 1 && i < n_in; i++)
        rc = gd_ms_batch_concat(jobs, k, i, &batch[i]);
    uint64_t t0 = gd_mono_ns();
    if (!rc)
        rc = gd_engine_run(in->session, n_in, (const char *const *)jobs[0]->names, batch, err,
                           sizeof err);
    uint64_t compute = gd_mono_ns() - t0;
    int64_t total = 0;
    for (int j = 0; j < k; j++)
        total += gd_ms_batch_rows(jobs[j]);
    for (int o = 0; !rc && o < n_out; o++) {
        outs[o] = *gd_engine_output(in->session, o);
        if (k > 1 && (outs[o].rank == 0 || outs[o].dims[0] != total)) {
            snprintf(err, sizeof err, "output %d has no batch dimension of %lld rows", o,
                     (long long)total);
            rc = GD_EINVAL;
        }
    }
    int64_t row = 0;
    for (int j = 0; j < k; j++) {
        struct gd_ms_job *job = jobs[j];
        job->compute_ns = compute;
        job->batch = (uint32_t)k;
        if (rc == GD_EINVAL && k > 1 && strncmp(err, "output", 6) == 0)
            set_error(job, 500, err); /* the model broke its batching promise */
        else if (rc)
            set_error(job, rc == GD_EINVAL || rc == GD_ERANGE ? 400 : 500, err);
        else if (k == 1)
            encode_result(m, job, outs);
        else {
            int64_t rows = gd_ms_batch_rows(job);
            for (int o = 0; o < n_out; o++)
                gd_ms_batch_view(&outs[o], row, rows, &views[o]);
            encode_result(m, job, views);
            row += rows;
        }
    }
    for (int i = 0; k > 1 && batch && i < n_in; i++)
        gd_ms_batch_release(&batch[i]);
    if (k > 1)
        gd_free(batch);
    gd_free(outs);
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
    if (!mb) { /* submitted without a loop (a probe): done runs here */
        j->done(j, j->ud);
        return;
    }
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

static uint64_t job_bytes(const struct gd_ms_job *j)
{
    uint64_t n = 0;
    for (int i = 0; i < j->n_inputs; i++)
        n += j->inputs[i].nbytes;
    return n;
}

static struct gd_ms_job *pop_head(struct gd_ms_model *m)
{
    struct gd_ms_job *j = m->head;
    m->head = j->next;
    if (!m->head)
        m->tail = NULL;
    m->depth--;
    m->queued_bytes -= job_bytes(j);
    return j;
}

static int is_preferred(const struct gd_ms_model_cfg *c, int64_t rows)
{
    for (size_t i = 0; i < c->n_preferred; i++)
        if (c->preferred[i] == rows)
            return 1;
    return 0;
}

/* With m->mu held and the queue not empty: how many jobs from the head form the next batch
 * (compatible, rows within max_batch_size), or 0 when it should wait for more until
 * *wait_until (the oldest job's delay is not over and the batch could still grow). */
static int batch_ready(struct gd_ms_model *m, uint64_t now, uint64_t *wait_until)
{
    const struct gd_ms_model_cfg *c = m->cfg;
    if (!c->dynamic_batching)
        return 1;
    int k = 0, blocked = 0;
    int64_t rows = 0;
    for (struct gd_ms_job *j = m->head; j; j = j->next) {
        int64_t r = gd_ms_batch_rows(j);
        if (k && (!gd_ms_batch_compatible(m->head, j) || rows + r > c->max_batch_size)) {
            blocked = 1; /* the batch cannot grow past this job */
            break;
        }
        rows += r;
        k++;
        if (rows >= c->max_batch_size) {
            blocked = 1;
            break;
        }
    }
    *wait_until = m->head->queue_ns + (uint64_t)c->max_queue_delay_us * 1000u;
    if (blocked || now >= *wait_until || is_preferred(c, rows))
        return k;
    return 0;
}

/* Takes the next batch off the queue into jobs[] (waiting for it to fill when dynamic
 * batching allows); returns its size, 0 when stopping. */
static int next_batch(struct gd_ms_model *m, struct gd_ms_job **jobs)
{
    pthread_mutex_lock(&m->mu);
    int k = 0;
    while (!m->stop) {
        if (!m->head) {
            pthread_cond_wait(&m->cv, &m->mu);
            continue;
        }
        uint64_t until;
        if ((k = batch_ready(m, gd_mono_ns(), &until)) > 0)
            break;
        struct timespec ts = {(time_t)(until / 1000000000u), (long)(until % 1000000000u)};
        pthread_cond_timedwait(&m->cv, &m->mu, &ts);
    }
    for (int i = 0; i < k && !m->stop; i++)
        jobs[i] = pop_head(m);
    if (m->stop)
        k = 0;
    if (m->head)
        pthread_cond_signal(&m->cv); /* another instance can start on the rest */
    pthread_mutex_unlock(&m->mu);
    return k;
}

static void *worker_main(void *arg)
{
    struct instance *in = arg;
    struct gd_ms_model *m = in->model;
    uint32_t cap = m->cfg->dynamic_batching ? m->cfg->max_batch_size : 1;
    struct gd_ms_job **jobs = gd_calloc(cap, sizeof *jobs);
    if (!jobs)
        return NULL; /* the other instances (or model_stop) take care of the queue */
    int k;
    while ((k = next_batch(m, jobs)) > 0) {
        uint64_t now = gd_mono_ns();
        int run = 0;
        for (int i = 0; i < k; i++) { /* expired ones are answered, the rest run together */
            struct gd_ms_job *j = jobs[i];
            j->queue_ns = now - j->queue_ns;
            if (atomic_load(&j->cancelled)) {
                set_error(j, 499, "the client closed the request while it was queued");
                post_back(j);
            } else if (j->deadline_ns && now >= j->deadline_ns) {
                set_error(j, 504, "deadline expired while queued");
                post_back(j);
            } else {
                jobs[run++] = j;
            }
        }
        if (run)
            run_jobs(in, jobs, run);
        for (int i = 0; i < run; i++)
            post_back(jobs[i]);
    }
    gd_free(jobs);
    return NULL;
}

void gd_ms_job_cancel(struct gd_ms_job *job)
{
    atomic_store(&job->cancelled, 1);
}

int gd_ms_submit(struct gd_loop *loop, struct gd_ms_job *j, gd_ms_done_fn done, void *ud)
{
    struct gd_ms_model *m = j->model;
    struct gd_ms__mailbox *mb = loop ? mailbox_of(loop) : NULL;
    if (loop && !mb)
        return GD_ENOMEM;
    pthread_mutex_lock(&m->mu);
    uint64_t bytes = job_bytes(j);
    if (m->depth >= m->cfg->max_queue ||
        (m->depth && m->queued_bytes + bytes > m->cfg->max_queue_bytes)) {
        pthread_mutex_unlock(&m->mu);
        return GD_EAGAIN; /* (one request alone may exceed the bytes: it is capped by the body) */
    }
    m->queued_bytes += bytes;
    if (mb)
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

/* Batching joins requests along dimension 0: every input and output must have one that
 * the model leaves open (symbolic or unknown). */
static int check_batch_dims(const gd_engine_model *em, char *err, size_t errlen)
{
    for (int out = 0; out < 2; out++) {
        int n = out ? gd_engine_num_outputs(em) : gd_engine_num_inputs(em);
        for (int i = 0; i < n; i++) {
            struct gd_engine_io io;
            (out ? gd_engine_output_info : gd_engine_input_info)(em, i, &io);
            if (io.rank == 0 || (io.rank > 0 && io.dims[0] >= 0))
                return snprintf(err, errlen,
                                "%s '%s' has no open batch dimension (dimension 0 is %s)",
                                out ? "output" : "input", io.name,
                                io.rank == 0 ? "absent: a scalar" : "fixed"),
                       GD_EINVAL;
        }
    }
    return 0;
}

/* Zero-filled inputs for a warm-up without a probe request: open dims are 1. */
static int zero_inputs(struct gd_ms_model *m, struct gd_ms_job *job, char *err, size_t errlen)
{
    int n = gd_engine_num_inputs(m->engine);
    job->n_inputs = n;
    job->names = gd_calloc((size_t)n + 1, sizeof *job->names);
    job->inputs = gd_calloc((size_t)n + 1, sizeof *job->inputs);
    if (!job->names || !job->inputs)
        return GD_ENOMEM;
    for (int i = 0; i < n; i++) {
        struct gd_engine_io io;
        gd_engine_input_info(m->engine, i, &io);
        if (io.dtype == GD_DTYPE_STRING || !gd_dtype_size(io.dtype) || io.rank < 0 ||
            io.rank > GD_TENSOR_MAX_RANK)
            return snprintf(err, errlen,
                            "input '%s' cannot be zero-filled (BYTES or unknown type/rank): "
                            "give probe.request",
                            io.name),
                   GD_EINVAL;
        int64_t dims[GD_TENSOR_MAX_RANK];
        for (int d = 0; d < io.rank; d++)
            dims[d] = io.dims[d] < 0 ? 1 : io.dims[d];
        if (!(job->names[i] = gd_strdup(io.name)))
            return GD_ENOMEM;
        int rc = gd_tensor_alloc(&job->inputs[i], io.dtype, io.rank, dims);
        if (rc)
            return snprintf(err, errlen, "input '%s': cannot allocate it", io.name), rc;
    }
    return 0;
}

/* `warmup` runs on every instance's session before its worker starts, so the first
 * requests find the buffer cache filled and the pages touched. The inputs are the probe's
 * request when there is one, else zeros. */
static int warm_up(struct gd_ms_model *m, char *err, size_t errlen)
{
    const struct gd_ms_model_cfg *c = m->cfg;
    struct gd_ms_job *job = gd_ms_job_new(m, 0);
    if (!job)
        return GD_ENOMEM;
    int rc;
    if (c->probe) {
        char *body = NULL;
        size_t len = 0;
        struct gd_ms_infer_req ir;
        char why[200];
        rc = gd_file_read(c->probe->request, GD_MS_MAX_PROBE_BYTES, &body, &len, why, sizeof why);
        if (rc)
            snprintf(err, errlen, "%s: %s", c->probe->request, why);
        else
            rc = gd_ms_infer_parse(m->engine, body, len, len, job, &ir, err, errlen);
        gd_free(body);
    } else {
        rc = zero_inputs(m, job, err, errlen);
    }
    for (uint32_t i = 0; !rc && i < m->n_inst; i++)
        for (uint32_t r = 0; !rc && r < c->warmup; r++)
            rc = gd_engine_run(m->inst[i].session, job->n_inputs, (const char *const *)job->names,
                               job->inputs, err, errlen);
    gd_ms_job_free(job);
    return rc;
}

static int model_start(struct gd_ms_model *m, const struct gd_ms_model_cfg *cfg, char *err,
                       size_t errlen)
{
    char e[400];
    pthread_mutex_init(&m->mu, NULL);
    pthread_condattr_t ca; /* timed waits on CLOCK_MONOTONIC, the clock of gd_mono_ns */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = gd_engine_load_file(cfg->path, &m->engine, e, sizeof e);
    if (rc)
        return snprintf(err, errlen, "model '%s': %s", cfg->name, e), rc;
    if (cfg->max_batch_size && (rc = check_batch_dims(m->engine, e, sizeof e)))
        return snprintf(err, errlen, "model '%s': max_batch_size is set but %s", cfg->name, e), rc;
    if (!(m->inst = gd_calloc(cfg->instances, sizeof *m->inst)))
        return GD_ENOMEM;
    struct gd_engine_options o = {.threads = (int)cfg->threads};
    for (uint32_t i = 0; i < cfg->instances; i++) {
        struct instance *in = &m->inst[i];
        in->model = m;
        m->n_inst = i + 1;
        if ((rc = gd_engine_session_create(m->engine, &o, &in->session, e, sizeof e)))
            return snprintf(err, errlen, "model '%s': %s", cfg->name, e), rc;
    }
    if (cfg->warmup && (rc = warm_up(m, e, sizeof e)))
        return snprintf(err, errlen, "model '%s': warm-up failed: %s", cfg->name, e), rc;
    for (uint32_t i = 0; i < cfg->instances; i++) {
        struct instance *in = &m->inst[i];
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

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* A loaded model with cfg's settings and file st, with a reference taken; NULL if none. */
static struct gd_ms_model *find_loaded(const struct gd_ms_model_cfg *cfg, const struct stat *st)
{
    pthread_mutex_lock(&loaded_mu);
    struct gd_ms_model *m = loaded;
    while (m && !(same_file(&m->file, st) && gd_ms_model_cfg_equal(m->cfg, cfg)))
        m = m->next_loaded;
    if (m)
        atomic_fetch_add(&m->refs, 1);
    pthread_mutex_unlock(&loaded_mu);
    return m;
}

static void model_free(struct gd_ms_model *m)
{
    if (!m->load_error)
        model_stop(m);
    gd_free(m->load_error);
    gd_ms_model_cfg_clear(&m->own);
    gd_free(m);
}

static void model_unref(struct gd_ms_model *m)
{
    if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    pthread_mutex_lock(&loaded_mu);
    for (struct gd_ms_model **pp = &loaded; *pp; pp = &(*pp)->next_loaded)
        if (*pp == m) {
            *pp = m->next_loaded;
            break;
        }
    pthread_mutex_unlock(&loaded_mu);
    model_free(m);
}

/* An unloaded model: its settings and the reason, nothing loaded. */
static int model_unloaded(const struct gd_ms_model_cfg *cfg, struct gd_ms_model **out)
{
    char why[400];
    snprintf(why, sizeof why,
             "unloaded by request (POST /v2/repository/models/%s/load loads it again)", cfg->name);
    struct gd_ms_model *m = gd_calloc(1, sizeof *m);
    if (!m || gd_ms_model_cfg_copy(cfg, &m->own) != 0 || !(m->load_error = gd_strdup(why))) {
        if (m)
            gd_ms_model_cfg_clear(&m->own);
        gd_free(m);
        return GD_ENOMEM;
    }
    m->cfg = &m->own;
    m->unloaded = 1;
    atomic_init(&m->refs, 1);
    *out = m;
    return 0;
}

/* The model for cfg: an unchanged loaded one (*kept = 1), else a new load. A required
 * model that fails is an error; an optional one is kept with its load_error. */
static int model_get(const struct gd_ms_model_cfg *cfg, struct gd_ms_model **out, int *kept,
                     char *err, size_t errlen)
{
    struct stat st;
    int have_file = stat(cfg->path, &st) == 0;
    *kept = 0;
    if (gd_ms_control_unloaded(cfg->name))
        return model_unloaded(cfg, out);
    if (have_file && (*out = find_loaded(cfg, &st)) != NULL)
        return *kept = 1, 0;
    struct gd_ms_model *m = gd_calloc(1, sizeof *m);
    if (!m || gd_ms_model_cfg_copy(cfg, &m->own) != 0) {
        if (m)
            gd_ms_model_cfg_clear(&m->own);
        gd_free(m);
        return GD_ENOMEM;
    }
    m->cfg = &m->own;
    atomic_init(&m->refs, 1);
    int rc = model_start(m, m->cfg, err, errlen);
    if (rc) {
        model_stop(m);
        struct gd_ms_model_cfg own = m->own;
        memset(m, 0, sizeof *m);
        m->own = own;
        m->cfg = &m->own;
        atomic_init(&m->refs, 1);
        if (cfg->required || !(m->load_error = gd_strdup(err))) {
            gd_ms_model_cfg_clear(&m->own);
            gd_free(m);
            return cfg->required ? rc : GD_ENOMEM;
        }
        *out = m; /* optional: served without it, the reason kept for its metadata */
        return 0;
    }
    if (have_file) {
        m->file = st;
        pthread_mutex_lock(&loaded_mu);
        m->next_loaded = loaded;
        loaded = m;
        pthread_mutex_unlock(&loaded_mu);
    }
    *out = m;
    return 0;
}

int gd_ms_runtime_new(const struct gd_ms_config *c, struct gd_ms_runtime **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    struct gd_ms_runtime *rt = gd_calloc(1, sizeof *rt);
    size_t n = c->n_models ? c->n_models : 1;
    if (!rt || !(rt->models = gd_calloc(n, sizeof *rt->models)) || !(rt->kept = gd_calloc(n, 1))) {
        if (rt)
            gd_free(rt->models);
        gd_free(rt);
        return GD_ENOMEM;
    }
    for (size_t i = 0; i < c->n_models; i++) {
        int kept = 0;
        int rc = model_get(&c->models[i], &rt->models[i], &kept, err, errlen);
        if (rc) {
            gd_ms_runtime_free(rt);
            return rc;
        }
        rt->kept[i] = (unsigned char)kept;
        rt->n_models = i + 1;
    }
    *out = rt;
    return 0;
}

void gd_ms_runtime_free(struct gd_ms_runtime *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->n_models; i++)
        model_unref(rt->models[i]);
    gd_free(rt->models);
    gd_free(rt->kept);
    gd_free(rt);
}

int gd_ms_runtime_kept(const struct gd_ms_runtime *rt, size_t i)
{
    return i < rt->n_models && rt->kept[i];
}

size_t gd_ms_runtime_num_models(const struct gd_ms_runtime *rt)
{
    return rt->n_models;
}

struct gd_ms_model *gd_ms_runtime_model_at(struct gd_ms_runtime *rt, size_t i)
{
    return i < rt->n_models ? rt->models[i] : NULL;
}

const struct gd_ms_model_cfg *gd_ms_model_cfg(const struct gd_ms_model *m)
{
    return m->cfg;
}

const gd_engine_model *gd_ms_model_engine(const struct gd_ms_model *m)
{
    return m->engine;
}

const char *gd_ms_model_load_error(const struct gd_ms_model *m)
{
    return m->load_error;
}

int gd_ms_model_unloaded(const struct gd_ms_model *m)
{
    return m->unloaded;
}

size_t gd_ms_model_queue_depth(struct gd_ms_model *m)
{
    if (m->load_error)
        return 0;
    pthread_mutex_lock(&m->mu);
    size_t d = m->depth;
    pthread_mutex_unlock(&m->mu);
    return d;
}

int gd_ms_model_queue_full(struct gd_ms_model *m)
{
    return !m->load_error && gd_ms_model_queue_depth(m) >= m->cfg->max_queue;
}
