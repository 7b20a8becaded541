/* OpenAI embeddings from a local model (see ms_embed.h). */
#include "serve/ms_embed.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/json_write.h"
#include "girder/error.h"
#include "serve/tok_wordpiece.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { IN_IDS, IN_MASK, IN_TYPES, IN_N };

struct gd_ms_embedder {
    struct gd_ms_model *model;
    const struct gd_ms_embed_cfg *cfg;
    struct gd_wordpiece *tok;
    int input_of[IN_N]; /* model input index of each role, -1 when the model lacks it */
    int output;         /* model output pooled */
};

/* Per request, owned by the job: what the encoder needs besides the outputs. */
struct embed_ext {
    const struct gd_ms_embedder *e;
    int base64;
    int n;
    uint32_t *lengths; /* real tokens of each input ([CLS] and [SEP] included) */
    int64_t prompt_tokens;
};

static void ext_free(void *p)
{
    struct embed_ext *x = p;
    if (x)
        gd_free(x->lengths);
    gd_free(x);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int find_roles(struct gd_ms_embedder *e, const gd_engine_model *em, char *err, size_t errlen)
{
    static const char *const names[IN_N] = {"input_ids", "attention_mask", "token_type_ids"};
    for (int r = 0; r < IN_N; r++)
        e->input_of[r] = -1;
    for (int i = 0; i < gd_engine_num_inputs(em); i++) {
        struct gd_engine_io io;
        gd_engine_input_info(em, i, &io);
        int r = 0;
        while (r < IN_N && strcmp(io.name, names[r]) != 0)
            r++;
        if (r == IN_N)
            return snprintf(err, errlen,
                            "embedding model input '%s' is not one of input_ids, "
                            "attention_mask, token_type_ids",
                            io.name),
                   GD_EINVAL;
        if ((io.dtype != GD_DTYPE_INT64 && io.dtype != GD_DTYPE_UNDEFINED) || io.rank != 2)
            return snprintf(err, errlen,
                            "embedding model input '%s' must be INT64 [batch, sequence]", io.name),
                   GD_EINVAL;
        e->input_of[r] = i;
    }
    if (e->input_of[IN_IDS] < 0)
        return snprintf(err, errlen, "embedding model has no input named input_ids"), GD_EINVAL;
    e->output = 0;
    if (e->cfg->output) {
        e->output = -1;
        for (int i = 0; i < gd_engine_num_outputs(em); i++) {
            struct gd_engine_io io;
            gd_engine_output_info(em, i, &io);
            if (strcmp(io.name, e->cfg->output) == 0)
                e->output = i;
        }
        if (e->output < 0)
            return snprintf(err, errlen, "embedding model has no output '%s'", e->cfg->output),
                   GD_EINVAL;
    }
    struct gd_engine_io io;
    gd_engine_output_info(em, e->output, &io);
    if ((io.dtype != GD_DTYPE_FLOAT && io.dtype != GD_DTYPE_UNDEFINED) ||
        (io.rank >= 0 && io.rank != 2 && io.rank != 3))
        return snprintf(err, errlen,
                        "embedding output '%s' must be FP32 [batch, sequence, hidden] or "
                        "[batch, hidden]",
                        io.name),
               GD_EINVAL;
    return 0;
}

int gd_ms_embedder_new(struct gd_ms_model *m, struct gd_ms_embedder **out, char *err, size_t errlen)
{
    *out = NULL;
    const struct gd_ms_model_cfg *mc = gd_ms_model_cfg(m);
    struct gd_ms_embedder *e = gd_calloc(1, sizeof *e);
    if (!e)
        return GD_ENOMEM;
    e->model = m;
    e->cfg = mc->embedding;
    char terr[400];
    int rc;
    if (ends_with(e->cfg->tokenizer, ".json")) {
        rc = gd_wordpiece_load_tokenizer_json(e->cfg->tokenizer, &e->tok, terr, sizeof terr);
    } else {
        struct gd_wordpiece_opts o = {.lowercase = e->cfg->lowercase, .strip_accents = -1};
        rc = gd_wordpiece_load_vocab(e->cfg->tokenizer, &o, &e->tok, terr, sizeof terr);
    }
    if (rc)
        snprintf(err, errlen, "model '%s': tokenizer %s: %s", mc->name, e->cfg->tokenizer, terr);
    else if ((rc = find_roles(e, gd_ms_model_engine(m), terr, sizeof terr)))
        snprintf(err, errlen, "model '%s': %s", mc->name, terr);
    if (rc) {
        gd_ms_embedder_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void gd_ms_embedder_free(struct gd_ms_embedder *e)
{
    if (e)
        gd_wordpiece_free(e->tok);
    gd_free(e);
}

struct gd_ms_model *gd_ms_embedder_model(const struct gd_ms_embedder *e)
{
    return e->model;
}

/* ---- the worker side: pooling and the response ---- */

/* Pools row i of out (rank 3: token states, rank 2: already pooled) into v[hidden]. */
static void pool_row(const struct gd_ms_embedder *e, const struct gd_tensor *out, int i,
                     uint32_t len, float *v, int64_t hidden)
{
    const float *d = out->data;
    if (out->rank == 2) {
        memcpy(v, d + (size_t)i * (size_t)hidden, (size_t)hidden * sizeof *v);
    } else {
        int64_t seq = out->dims[1];
        const float *row = d + (size_t)i * (size_t)(seq * hidden);
        int64_t n = e->cfg->pooling == GD_MS_POOL_CLS ? 1 : (len < seq ? len : seq);
        for (int64_t h = 0; h < hidden; h++) {
            double sum = 0;
            for (int64_t t = 0; t < n; t++)
                sum += row[t * hidden + h];
            v[h] = (float)(sum / (double)(n ? n : 1));
        }
    }
    if (e->cfg->normalize) {
        double ss = 0;
        for (int64_t h = 0; h < hidden; h++)
            ss += (double)v[h] * v[h];
        double inv = 1.0 / fmax(sqrt(ss), 1e-12);
        for (int64_t h = 0; h < hidden; h++)
            v[h] = (float)(v[h] * inv);
    }
}

static int put_vector(struct gd_buf *b, const float *v, int64_t hidden, int base64)
{
    if (base64) {
        int rc = gd_buf_putc(b, '"');
        rc = rc ? rc : gd_base64_encode(b, v, (size_t)hidden * sizeof *v); /* little-endian */
        return rc ? rc : gd_buf_putc(b, '"');
    }
    int rc = gd_buf_putc(b, '[');
    for (int64_t h = 0; !rc && h < hidden; h++)
        rc = gd_buf_printf(b, h ? ",%.9g" : "%.9g", (double)v[h]);
    return rc ? rc : gd_buf_putc(b, ']');
}

static int encode(const struct gd_ms_model *m, struct gd_ms_job *j, const struct gd_tensor *outs)
{
    (void)m;
    const struct embed_ext *x = j->ext;
    const struct gd_ms_embedder *e = x->e;
    const struct gd_tensor *out = &outs[e->output];
    if (out->dtype != GD_DTYPE_FLOAT || (out->rank != 2 && out->rank != 3) ||
        out->dims[0] != x->n) {
        j->status = 500;
        return gd_buf_puts(&j->body, "{\"error\":{\"message\":\"the embedding model's output is "
                                     "not FP32 [batch, sequence, hidden] or [batch, hidden]\","
                                     "\"type\":\"server_error\",\"param\":null,\"code\":null}}");
    }
    int64_t hidden = out->dims[out->rank - 1];
    float *v = gd_malloc((size_t)(hidden ? hidden : 1) * sizeof *v);
    if (!v)
        return GD_ENOMEM;
    const char *name = gd_ms_model_cfg(e->model)->name;
    struct gd_buf *b = &j->body;
    int rc = gd_buf_puts(b, "{\"object\":\"list\",\"data\":[");
    for (int i = 0; !rc && i < x->n; i++) {
        pool_row(e, out, i, x->lengths[i], v, hidden);
        rc = gd_buf_printf(
            b, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":", i ? "," : "", i);
        rc = rc ? rc : put_vector(b, v, hidden, x->base64);
        rc = rc ? rc : gd_buf_putc(b, '}');
    }
    gd_free(v);
    rc = rc ? rc : gd_buf_puts(b, "],\"model\":");
    rc = rc ? rc : gd_json_put_str(b, name, strlen(name));
    return rc ? rc
              : gd_buf_printf(b, ",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}}",
                              (long long)x->prompt_tokens, (long long)x->prompt_tokens);
}

/* ---- the loop side: the request into a job ---- */

#define BAD(p, ...) (*param = (p), snprintf(err, errlen, __VA_ARGS__), 400)

/* The texts of `input` (a string or a non-empty array of strings) into texts[0..*n). */
static int collect_texts(const cJSON *in, const cJSON **texts, int *n, char *err, size_t errlen,
                         const char **param)
{
    *n = 0;
    if (cJSON_IsString(in)) {
        texts[(*n)++] = in;
    } else if (cJSON_IsArray(in)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, in)
        {
            if (*n == GD_MS_EMBED_MAX_INPUTS)
                return BAD("input", "at most %d inputs per request", GD_MS_EMBED_MAX_INPUTS);
            if (!cJSON_IsString(it))
                return BAD("input",
                           cJSON_IsNumber(it) || cJSON_IsArray(it)
                               ? "input[%d]: token arrays are not accepted by a local model: "
                                 "send the text"
                               : "input[%d] must be a string",
                           *n);
            texts[(*n)++] = it;
        }
    } else {
        return BAD("input", "'input' must be a string or an array of strings");
    }
    if (*n == 0)
        return BAD("input", "'input' must not be empty");
    for (int i = 0; i < *n; i++)
        if (!texts[i]->valuestring[0])
            return BAD("input", "input[%d] is an empty string", i);
    return 0;
}

static int alloc_input(struct gd_ms_job *job, const struct gd_ms_embedder *e, int role, int n,
                       int64_t seq)
{
    int k = e->input_of[role];
    if (k < 0)
        return 0;
    struct gd_engine_io io;
    gd_engine_input_info(gd_ms_model_engine(e->model), k, &io);
    if (!(job->names[k] = gd_strdup(io.name)))
        return GD_ENOMEM;
    int64_t dims[2] = {n, seq};
    return gd_tensor_alloc(&job->inputs[k], GD_DTYPE_INT64, 2, dims);
}

int gd_ms_embed_prepare(const struct gd_ms_embedder *e, const cJSON *root, struct gd_ms_job *job,
                        char *err, size_t errlen, const char **param)
{
    *param = NULL;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "encoding_format");
    int base64 = 0;
    if (fmt && !cJSON_IsNull(fmt)) {
        if (!cJSON_IsString(fmt) ||
            (strcmp(fmt->valuestring, "float") && strcmp(fmt->valuestring, "base64")))
            return BAD("encoding_format", "'encoding_format' must be \"float\" or \"base64\"");
        base64 = fmt->valuestring[0] == 'b';
    }
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(root, "dimensions");
    if (dims && !cJSON_IsNull(dims))
        return BAD("dimensions", "model '%s' does not support 'dimensions'",
                   gd_ms_model_cfg(e->model)->name);
    const cJSON **texts = gd_calloc(GD_MS_EMBED_MAX_INPUTS, sizeof *texts);
    struct embed_ext *x = gd_calloc(1, sizeof *x);
    if (!texts || !x) {
        gd_free(texts);
        gd_free(x);
        return -1;
    }
    job->ext = x;
    job->ext_free = ext_free;
    job->encode = encode;
    x->e = e;
    x->base64 = base64;
    int n, rc = collect_texts(cJSON_GetObjectItemCaseSensitive(root, "input"), texts, &n, err,
                              errlen, param);
    size_t max = e->cfg->max_tokens;
    int64_t *ids = NULL;
    if (!rc && (!(x->lengths = gd_calloc((size_t)n, sizeof *x->lengths)) ||
                !(ids = gd_malloc((size_t)n * max * sizeof *ids))))
        rc = -1;
    /* tokenize every text, then pad to the longest */
    size_t seq = 0;
    for (int i = 0; !rc && i < n; i++) {
        size_t len = 0;
        const char *s = texts[i]->valuestring;
        if (gd_wordpiece_encode(e->tok, s, strlen(s), ids + (size_t)i * max, max, &len) != 0)
            rc = -1;
        x->lengths[i] = (uint32_t)len;
        x->prompt_tokens += (int64_t)len;
        seq = len > seq ? len : seq;
    }
    x->n = n;
    int n_in = gd_engine_num_inputs(gd_ms_model_engine(e->model));
    if (!rc && (!(job->names = gd_calloc((size_t)n_in, sizeof *job->names)) ||
                !(job->inputs = gd_calloc((size_t)n_in, sizeof *job->inputs))))
        rc = -1;
    if (!rc)
        job->n_inputs = n_in;
    for (int r = 0; !rc && r < IN_N; r++)
        if (alloc_input(job, e, r, n, (int64_t)seq) != 0)
            rc = -1;
    if (!rc) {
        int64_t pad = gd_wordpiece_pad_id(e->tok);
        int64_t *t_ids = job->inputs[e->input_of[IN_IDS]].data;
        int64_t *t_mask = e->input_of[IN_MASK] >= 0 ? job->inputs[e->input_of[IN_MASK]].data : NULL;
        for (int i = 0; i < n; i++)
            for (size_t t = 0; t < seq; t++) {
                int real = t < x->lengths[i];
                t_ids[(size_t)i * seq + t] = real ? ids[(size_t)i * max + t] : pad;
                if (t_mask)
                    t_mask[(size_t)i * seq + t] = real;
            }
    }
    gd_free(ids);
    gd_free(texts);
    return rc;
}
