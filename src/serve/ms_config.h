/* The model server's configuration section: top-level `serving:` (docs/serving.md).
 *
 *   serving:
 *     repository: models/       # Triton layout: <name>/<version>/model.onnx (ms_repo.h)
 *     repository_poll_ms: 0     # > 0: rescan that often, reload on a change
 *     version_policy: latest    # latest | all | {latest: N} | {specific: [1, 3]}
 *     models:                   # inline models, and settings of repository models
 *       - name: resnet            # URL name: /v2/models/resnet
 *         path: models/resnet.onnx # relative to the config file's directory
 *         version: 1
 *         versions:               # instead of path/version: several versions at once
 *           - {version: 1, path: resnet-1.onnx}
 *           - {version: 2, path: resnet-2.onnx}
 *         canary: {version: 2, percent: 10}  # share of unversioned requests to version 2
 *         fallback: resnet-small  # answers when this model cannot (503, 504, 500)
 *         instances: 1            # worker threads, each with its own engine session
 *         threads: 1              # engine threads per instance
 *         max_queue: 64           # queued requests; past it: 503 with Retry-After
 *         max_queue_bytes: 256MiB # their decoded inputs, at most (also 503)
 *         timeout_ms: 0           # default queue deadline, 0 = none
 *         allow_request_timeout: true  # a request's parameters.timeout (µs) may shorten it
 *         required: true          # must load (else start/reload fails); false: optional
 *         max_batch_size: 0       # > 0: dim 0 of every input/output is the batch
 *         dynamic_batching:       # combine queued requests into one run
 *           max_queue_delay_us: 0 # how long the oldest may wait for more
 *           preferred_batch_sizes: [8, 16]
 *         warmup: 0               # runs per instance at load, before it serves
 *         probe:                  # semantic health check, at load and every interval
 *           request: probe.json   # a KServe v2 infer request body
 *           expect: expect.json   # its expected KServe v2 response (outputs compared)
 *           atol: 1e-5            # |got - want| <= atol + rtol * |want|
 *           rtol: 1e-4
 *           interval_ms: 30000    # 0: at load only
 *           timeout_ms: 10000     # a probe not answered by then fails
 *         embedding:              # also serve it on POST /v1/embeddings
 *           tokenizer: vocab.txt  # or tokenizer.json (WordPiece)
 *           pooling: mean         # mean | cls
 *           normalize: true
 *           max_tokens: 512
 *
 * Parsed once per config load into an immutable struct gd_ms_config (names unique, model
 * files must exist and be regular files). Threading: immutable, shared by every thread. */
#ifndef GD_SERVE_MS_CONFIG_H
#define GD_SERVE_MS_CONFIG_H

#include "core/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GD_MS_MAX_PREFERRED 16

enum gd_ms_pooling { GD_MS_POOL_MEAN = 0, GD_MS_POOL_CLS = 1 };

/* `embedding:` of a model served on /v1/embeddings (tokenizer -> model -> pooling). */
struct gd_ms_embed_cfg {
    char *tokenizer; /* vocab.txt or tokenizer.json (WordPiece), resolved path */
    bool lowercase;  /* vocab.txt only: tokenizer.json says it itself */
    enum gd_ms_pooling pooling;
    bool normalize;      /* L2 */
    uint32_t max_tokens; /* per input, [CLS] and [SEP] included: longer inputs truncate */
    char *output;        /* output to pool; NULL = the model's first */
};

/* `probe:`: a request whose answer must match (ms_probe.h). */
struct gd_ms_probe_cfg {
    char *request; /* resolved path of the request body (JSON) */
    char *expect;  /* resolved path of the expected response, NULL: it only has to succeed */
    double atol, rtol;
    uint64_t interval_ms, timeout_ms;
};

struct gd_ms_model_cfg {
    char *name;
    char *path; /* resolved against the config file's directory */
    int64_t version;
    uint32_t instances, threads, max_queue;
    uint64_t max_queue_bytes; /* input tensor bytes held by queued requests, at most */
    uint64_t timeout_ms;
    bool allow_request_timeout;
    bool required;
    uint32_t max_batch_size; /* 0: the model is not batched */
    bool dynamic_batching;
    uint32_t max_queue_delay_us;
    uint32_t preferred[GD_MS_MAX_PREFERRED];
    size_t n_preferred;
    struct gd_ms_embed_cfg *embedding; /* NULL: not an embedding model */
    uint32_t warmup;                   /* engine runs per instance at load */
    struct gd_ms_probe_cfg *probe;     /* NULL: no probe */
};

/* One served name: its versions (models[first .. first + n), ascending), the canary split
 * between them and the model that takes over when they cannot answer. */
struct gd_ms_group_cfg {
    char *name;
    size_t first, n;
    int64_t canary_version;  /* with canary_percent > 0: that share of unversioned requests */
    uint32_t canary_percent; /* 0..100 */
    char *fallback;          /* another group's name, NULL: none */
    size_t fallback_group;   /* its index (no cycles: checked at parse) */
};

struct gd_ms_config {
    struct gd_ms_model_cfg *models; /* every version of every model, grouped by name */
    size_t n_models;
    struct gd_ms_group_cfg *groups; /* config order, then repository models without entry */
    size_t n_groups;
    char *repository;            /* resolved model repository folder, NULL: none */
    uint64_t repository_poll_ms; /* 0: read at config load only */
};

/* A deep copy of src into dst (freed with gd_ms_model_cfg_clear). Errors: GD_ENOMEM (dst
 * may hold part of it: clear it). */
int gd_ms_model_cfg_copy(const struct gd_ms_model_cfg *src, struct gd_ms_model_cfg *dst);
void gd_ms_model_cfg_clear(struct gd_ms_model_cfg *m);
/* 1 when a and b describe the same served model version (every setting equal). */
int gd_ms_model_cfg_equal(const struct gd_ms_model_cfg *a, const struct gd_ms_model_cfg *b);

/* A URL-safe model name: letters, digits, '-', '_', '.' (not starting with '.'). */
int gd_ms_name_ok(const char *s);

#define GD_MS_CONFIG_SECTION "serving"
extern const struct gd_config_section gd_ms_config_section;

/* The serving config of a loaded config, or NULL when it serves no model. */
const struct gd_ms_config *gd_ms_config_get(const struct gd_config *cfg);

int gd_ms_config_parse(const struct gd_yaml_node *root, struct gd_config_diag *d, void **out);
void gd_ms_config_free(void *p);

#endif
