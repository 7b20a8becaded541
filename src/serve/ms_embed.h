/* Local embedding models behind the OpenAI embeddings API (POST /v1/embeddings): a
 * request's texts are tokenized (WordPiece, tok_wordpiece.h), padded into one batch of
 * input_ids / attention_mask / token_type_ids, run like any other job, and the model's
 * token states pooled (mean over real tokens, or [CLS]) and L2-normalised on the worker.
 *
 *   {"model": "minilm", "input": "text" | ["a", "b"], "encoding_format": "float"|"base64"}
 *   -> {"object":"list","data":[{"object":"embedding","index":0,"embedding":[..]|"b64"}],
 *       "model":"minilm","usage":{"prompt_tokens":N,"total_tokens":N}}
 *
 * Threading: an embedder is immutable once made; prepare runs on loop threads, the job's
 * encoder on a worker. */
#ifndef GD_SERVE_MS_EMBED_H
#define GD_SERVE_MS_EMBED_H

#include "serve/ms_runtime.h"

#include <cjson/cJSON.h>
#include <stddef.h>

#define GD_MS_EMBED_MAX_INPUTS 2048

struct gd_ms_embedder;

/* The embedder of model m (its cfg has `embedding:`): loads the tokenizer and checks the
 * model: inputs named input_ids (required), attention_mask, token_type_ids, all INT64
 * [batch, sequence]; the pooled output FP32 [batch, sequence, hidden] or [batch, hidden].
 * Errors: GD_EINVAL / GD_EIO with the reason in err, GD_ENOMEM. */
int gd_ms_embedder_new(struct gd_ms_model *m, struct gd_ms_embedder **out, char *err,
                       size_t errlen);
void gd_ms_embedder_free(struct gd_ms_embedder *e);
struct gd_ms_model *gd_ms_embedder_model(const struct gd_ms_embedder *e);

/* Fills a fresh job (gd_ms_job_new on the embedder's model) from the parsed request root.
 * Returns 0, or an HTTP status (400) with the message in err and the offending field's name
 * in *param (NULL when none); GD_ENOMEM as -1. */
int gd_ms_embed_prepare(const struct gd_ms_embedder *e, const cJSON *root, struct gd_ms_job *job,
                        char *err, size_t errlen, const char **param);

#endif
