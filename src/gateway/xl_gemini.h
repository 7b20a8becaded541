/* Translation between OpenAI chat completions and Google Gemini's generateContent API
 * (provider `type: gemini`, AI Studio and Vertex AI forms; see docs/gateway.md
 * "Provider type gemini").
 *
 *   request:  OpenAI chat request JSON -> GenerateContentRequest JSON    (xl_gemini_req.c)
 *   response: GenerateContentResponse  -> chat.completion JSON           (xl_gemini_resp.c)
 *   errors:   Google error body        -> OpenAI error body              (xl_gemini_resp.c)
 *   stream:   streamGenerateContent?alt=sse events -> chat.completion.chunk events
 *             (xl_gemini_sse.c)
 *
 * Bodies are parsed with cJSON (untrusted: depth capped by cJSON, sizes by the caller).
 * What Gemini has no equivalent for (n > 1, logprobs, logit_bias, ...) is refused with a 400
 * naming the parameter. Pure functions and per-stream state (one thread per state). */
#ifndef GD_GATEWAY_XL_GEMINI_H
#define GD_GATEWAY_XL_GEMINI_H

#include "core/buf.h"
#include "gateway/json_scan.h"
#include "gateway/xl_chunk.h"
#include "gateway/xl_json.h"

#include <stddef.h>
#include <stdint.h>

/* Function calls of one streamed answer that the translator numbers. */
#define GD_XL_GEM_MAX_TOOLS 1024

/* OpenAI chat request body[0..len) -> GenerateContentRequest (the model goes in the URL,
 * not the body), into out. Returns 0, GD_EINVAL (err filled) or GD_ENOMEM. */
int gd_xl_gem_request(const char *body, size_t len, const char *model, struct gd_buf *out,
                      struct gd_xl_err *err);

/* GenerateContentResponse -> chat.completion (created = unix seconds), into out; usage into
 * *u. Tool calls get ids "call_<k>" (k: their position in the answer) unless Gemini gave one.
 * Returns 0, GD_EPARSE (not a GenerateContentResponse) or GD_ENOMEM. */
int gd_xl_gem_response(const char *body, size_t len, int64_t created, struct gd_buf *out,
                       struct gd_gw_usage *u);

/* Google error answer {"error":{"code","message","status"}} -> OpenAI error body with the
 * same HTTP status (code = Google's status name); another body gets a generic message.
 * 0 or GD_ENOMEM. */
int gd_xl_gem_error(int status, const char *body, size_t len, struct gd_buf *out);

/* Strings one embeddings request may carry (batchEmbedContents takes at most 100). */
#define GD_XL_GEM_MAX_EMBED 100

/* OpenAI embeddings request -> batchEmbedContents request for `model` (AI Studio), into
 * out. Text input only (a string or up to GD_XL_GEM_MAX_EMBED strings); `dimensions` ->
 * outputDimensionality. 0, GD_EINVAL (err filled) or GD_ENOMEM. */
int gd_xl_gem_embed_request(const char *body, size_t len, const char *model, struct gd_buf *out,
                            struct gd_xl_err *err);

/* batchEmbedContents answer -> OpenAI embeddings list for the client's request cbody (its
 * encoding_format: float, or base64 of little-endian float32), model named `model`; usage
 * 0 (Gemini reports none). 0, GD_EPARSE or GD_ENOMEM. */
int gd_xl_gem_embed_response(const char *cbody, size_t clen, const char *body, size_t len,
                             const char *model, struct gd_buf *out, struct gd_gw_usage *u);

/* Gemini finishReason / promptFeedback.blockReason -> OpenAI finish_reason. */
const char *gd_xl_gem_finish_reason(const char *finish_reason);

/* Per-stream state of the SSE translator. */
struct gd_xl_gem_sse {
    struct gd_xl_chunks ck; /* id and model from the first event, head built there */
    int include_usage;      /* the client asked stream_options.include_usage */
    int started;            /* the role chunk was written */
    int finished;           /* a finishReason, a block or an error was seen: [DONE] was written */
    int n_tools;            /* function calls so far */
    int64_t prompt, completion, total, cached; /* usageMetadata, -1: not seen */
    /* The fast path's memo of the last text chunk it read in full: its bytes up to the text's
     * opening quote (memo_pre of them, 0: none) and from its closing quote (memo_suf), and
     * the usage counts they held (xl_gemini_sse_fast.c). */
    uint16_t memo_pre, memo_suf;
    int memo_has_usage;
    int64_t memo_usage[5];
    char memo[512];
};

void gd_xl_gem_sse_init(struct gd_xl_gem_sse *s, int include_usage, int64_t created);

/* Translates one event's data (a GenerateContentResponse JSON) and appends the OpenAI SSE
 * events it becomes to out; the event carrying a finishReason (or a prompt block) ends the
 * stream: finish chunk, usage chunk (include_usage), "data: [DONE]". An {"error":...} event
 * becomes "event: error" + an OpenAI error + [DONE]. Returns 0, GD_EPARSE, GD_ELIMIT (too
 * many function calls) or GD_ENOMEM; a failed event appends nothing. */
int gd_xl_gem_sse_event(struct gd_xl_gem_sse *s, const char *data, size_t dlen, struct gd_buf *out);

/* The two paths of gd_xl_gem_sse_event, apart for the tests and the fuzz driver (which
 * check that they agree). _full: the general path (a cJSON tree of the event), same contract
 * as gd_xl_gem_sse_event. _fast (xl_gemini_sse_fast.c): a scanner for the common text chunk
 * (one candidate, text parts, usageMetadata, finishReason) that writes the chunks directly;
 * returns 1 when it translated the event (*rc: 0, GD_ELIMIT or GD_ENOMEM from out; output and
 * state then exactly what _full gives), 0 when it leaves the event to _full (nothing written,
 * s unchanged). */
int gd_xl_gem_sse_event_full(struct gd_xl_gem_sse *s, const char *data, size_t dlen,
                             struct gd_buf *out);
int gd_xl_gem_sse_fast(struct gd_xl_gem_sse *s, const char *data, size_t dlen, struct gd_buf *out,
                       int *rc);

/* Writers shared by both paths (xl_gemini_sse.c). A text chunk of text[0..n): raw = 1 when
 * text is already the JSON string literal to write (quotes included), else it is escaped;
 * the usageMetadata counts (-1: absent) as the stream's usage; the finish chunk with
 * finish_reason fr, the usage chunk (include_usage) and [DONE]. 0, GD_ELIMIT or GD_ENOMEM. */
int gd_xl_gem_sse_text(const struct gd_xl_gem_sse *s, struct gd_buf *b, const char *text, size_t n,
                       int raw);
void gd_xl_gem_sse_set_usage(struct gd_xl_gem_sse *s, int64_t prompt, int64_t candidates,
                             int64_t thoughts, int64_t total, int64_t cached);
int gd_xl_gem_sse_finish(struct gd_xl_gem_sse *s, struct gd_buf *b, const char *fr);

/* The usage the stream reported so far; 1 when usageMetadata was seen. */
int gd_xl_gem_sse_usage(const struct gd_xl_gem_sse *s, struct gd_gw_usage *u);

/* Shared by the translators: the OpenAI "usage":{...} member (no leading comma) from
 * Gemini's counts (-1: absent), filling *u when not NULL. */
int gd_xl_gem_put_usage(struct gd_buf *b, int64_t prompt, int64_t completion, int64_t total,
                        int64_t cached, struct gd_gw_usage *u);

#endif
