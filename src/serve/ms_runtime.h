/* The model server's runtime: the models of one config, each with a bounded queue and its
 * worker threads (one engine session each), and the way results get back to loop threads.
 *
 * Models unloaded by request (ms_control.h) are kept as "not loaded" whatever their settings.
 *
 * A loop thread submits a job (inputs already decoded); a worker takes it, answers 504
 * without running it when its deadline passed while queued, otherwise runs the engine and
 * writes the response body, then posts the job back to the submitting loop, where `done`
 * runs. Posting goes through a per-loop mailbox that outlives neither side's use: when a
 * loop is freed before a worker finishes, the worker drops the result instead of touching
 * the freed loop. Event loops never block: the queue lock is held only to push/pop.
 *
 * Threading: gd_ms_runtime_new/free on one thread (router build/free); submit and the
 * accessors from any loop thread; done callbacks on the submitting loop thread. */
#ifndef GD_SERVE_MS_RUNTIME_H
#define GD_SERVE_MS_RUNTIME_H

#include "core/buf.h"
#include "girder/engine.h"
#include "net/loop.h"
#include "serve/ms_config.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A probe request file's size cap (also the warm-up's). */
#define GD_MS_MAX_PROBE_BYTES ((size_t)64 << 20)

struct gd_ms_runtime;
struct gd_ms_model;
struct gd_ms_job;

typedef void (*gd_ms_done_fn)(struct gd_ms_job *job, void *ud);
/* Writes job->body (and job->status when not 200) from the model's outputs for this job
 * (its rows of them when batched); worker thread. Returns 0 or a gd_buf error. */
typedef int (*gd_ms_encode_fn)(const struct gd_ms_model *m, struct gd_ms_job *job,
                               const struct gd_tensor *outs);

/* A request to run a model: filled by the submitter, completed by a worker. */
struct gd_ms_job {
    struct gd_ms_model *model;
    int n_inputs;
    char **names;             /* [n_inputs], owned */
    struct gd_tensor *inputs; /* [n_inputs], owned */
    char **wanted;            /* requested output names, [n_wanted] (0: all), owned */
    int n_wanted;
    uint8_t *wanted_binary; /* [n_wanted]: 1 = that output as binary data, owned, may be NULL */
    int binary_outputs;     /* every output as binary data (parameters.binary_data_output) */
    char *id;               /* request "id" echoed in the response, owned, may be NULL */
    uint64_t deadline_ns;   /* CLOCK_MONOTONIC, 0 = none */
    gd_ms_encode_fn encode; /* NULL: the Open Inference Protocol response */
    void *ext;              /* the submitter's per-request data, freed with ext_free */
    void (*ext_free)(void *ext);
    int openai_errors;    /* errors as {"error":{"message",..}} (OpenAI), not {"error":".."} */
    atomic_int cancelled; /* the client left: a worker answers 499 instead of running it */
    /* result, written by the worker */
    int status;               /* HTTP status */
    struct gd_buf body;       /* response JSON (or {"error":...}), binary outputs after it */
    size_t binary_header_len; /* > 0: body[0..this) is the JSON, binary data follows */
    uint64_t queue_ns, compute_ns;
    uint32_t batch; /* requests in the engine run that served it */
    /* delivery */
    gd_ms_done_fn done;
    void *ud;
    struct gd_ms__mailbox *mailbox;
    struct gd_ms_job *next;
};

/* Loads every model of c (engine model + `instances` sessions) and starts the workers. A
 * required model that fails to load fails the whole runtime; an optional one is kept as
 * "not loaded" with the reason (gd_ms_model_load_error). A model whose settings and file
 * (device, inode, size, mtime) equal those of one loaded by a runtime still alive (the
 * config being replaced by a reload) is shared instead of loaded again: its workers,
 * queue and warm buffers carry on, and it is stopped when its last runtime is freed. Errors: GD_E*
 * with a message naming the model (load or session failure) in err. */
int gd_ms_runtime_new(const struct gd_ms_config *c, struct gd_ms_runtime **out, char *err,
                      size_t errlen);
/* Releases the runtime's models: one no other runtime shares is stopped (its queued jobs
 * are dropped: their done runs with status 0; callers free the runtime only once no
 * exchange uses it). NULL is a no-op. */
void gd_ms_runtime_free(struct gd_ms_runtime *rt);

size_t gd_ms_runtime_num_models(const struct gd_ms_runtime *rt);
/* 1 when model i was shared from an earlier runtime rather than loaded. */
int gd_ms_runtime_kept(const struct gd_ms_runtime *rt, size_t i);
struct gd_ms_model *gd_ms_runtime_model_at(struct gd_ms_runtime *rt, size_t i);
const struct gd_ms_model_cfg *gd_ms_model_cfg(const struct gd_ms_model *m);
const gd_engine_model *gd_ms_model_engine(const struct gd_ms_model *m);
/* Why an optional model is not loaded, or NULL when it is (engine and submit need it). */
const char *gd_ms_model_load_error(const struct gd_ms_model *m);
/* 1 when the model is not loaded because it was unloaded by request (ms_control.h): it
 * then counts for nobody's readiness, required or not. */
int gd_ms_model_unloaded(const struct gd_ms_model *m);
/* Jobs waiting in the model's queue now. */
size_t gd_ms_model_queue_depth(struct gd_ms_model *m);
/* 1 when a submit would be refused with GD_EAGAIN now: callers check before decoding a
 * request so that an overloaded model costs no parsing. */
int gd_ms_model_queue_full(struct gd_ms_model *m);

/* A new zeroed job for model m (body capped at max_body bytes). NULL on ENOMEM. */
struct gd_ms_job *gd_ms_job_new(struct gd_ms_model *m, size_t max_body);
void gd_ms_job_free(struct gd_ms_job *job);

/* Queues job (ownership passes to the runtime, and back to done(job, ud) on this loop's
 * thread; done owns and frees it). With loop NULL (a caller that is not a loop thread,
 * such as the prober) done runs on the worker thread instead. done runs exactly once: when the job
 * can never be delivered (the runtime freed with it queued, or the loop gone) it runs on the
 * dropping thread with job->status == 0 and must only free the job and ud. Loop thread only.
 * Errors: GD_EAGAIN (queue full: nothing taken), GD_ENOMEM. */
int gd_ms_submit(struct gd_loop *loop, struct gd_ms_job *job, gd_ms_done_fn done, void *ud);
/* The submitter's client is gone: a job still queued is not run (done gets status 499).
 * Any thread, while the job is not yet done. */
void gd_ms_job_cancel(struct gd_ms_job *job);

#endif
