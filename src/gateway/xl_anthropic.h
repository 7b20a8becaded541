/* Translation between OpenAI chat completions and Anthropic's Messages API (provider
 * `type: anthropic`, see docs/gateway.md "Provider types").
 *
 *   request:  OpenAI chat request JSON      -> Messages request JSON   (xl_anthropic_req.c)
 *   response: Messages response JSON        -> chat.completion JSON    (xl_anthropic_resp.c)
 *   errors:   Anthropic error body          -> OpenAI error body       (xl_anthropic_resp.c)
 *   stream:   Messages SSE events, one by one -> chat.completion.chunk events (xl_anthropic_sse.c)
 *
 * Bodies are parsed with cJSON (untrusted: depth capped by cJSON, sizes by the caller).
 * A request that uses something the Messages API has no equivalent for is refused with a
 * 400 naming the parameter instead of being silently changed. Pure functions and per-stream
 * state; thread-safe as long as a state is used by one thread. */
#ifndef GD_GATEWAY_XL_ANTHROPIC_H
#define GD_GATEWAY_XL_ANTHROPIC_H

#include "core/buf.h"
#include "gateway/json_scan.h"
#include "gateway/xl_chunk.h"
#include "gateway/xl_json.h"

#include <stddef.h>
#include <stdint.h>

/* max_tokens sent when the client gave neither max_tokens nor max_completion_tokens (the
 * Messages API requires one). */
#define GD_XL_ANTH_DEFAULT_MAX_TOKENS 4096
/* Content blocks of one streamed message that the translator tracks. */
#define GD_XL_ANTH_MAX_BLOCKS 1024

/* OpenAI chat request body[0..len) -> Messages request with "model" = model, into out.
 * Returns 0, GD_EINVAL (err filled: the client's request is not translatable) or
 * GD_ENOMEM / GD_ELIMIT. */
int gd_xl_anth_request(const char *body, size_t len, const char *model, struct gd_buf *out,
                       struct gd_xl_err *err);

/* Messages response JSON -> chat.completion (created = unix seconds), into out; the usage
 * it carries goes to *u (prompt = input + cache read + cache creation tokens). Returns 0 or
 * GD_EPARSE (not a Messages response) / GD_ENOMEM. */
int gd_xl_anth_response(const char *body, size_t len, int64_t created, struct gd_buf *out,
                        struct gd_gw_usage *u);

/* Anthropic error answer (status, body) -> OpenAI error body, into out. A body that is not
 * Anthropic's error shape gets a generic message naming the status. 0 or GD_ENOMEM. */
int gd_xl_anth_error(int status, const char *body, size_t len, struct gd_buf *out);

/* Per-stream state of the SSE translator. */
struct gd_xl_anth_sse {
    struct gd_xl_chunks ck; /* id and model from message_start, head built there */
    int include_usage;      /* the client asked stream_options.include_usage */
    int started;            /* message_start seen */
    int finished;           /* message_stop or error seen: [DONE] was written */
    int n_tools;            /* tool_use blocks so far */
    int16_t tool_of_block[GD_XL_ANTH_MAX_BLOCKS]; /* block index -> tool index, -1: none */
    const char *finish_reason;                    /* from message_delta, NULL until then */
    int64_t input_tokens, output_tokens, cache_read, cache_creation; /* -1: not seen */
};

void gd_xl_anth_sse_init(struct gd_xl_anth_sse *s, int include_usage, int64_t created);

/* Translates one event's data (the JSON of its data field) and appends the OpenAI SSE
 * events it becomes ("data: {...}\n\n", possibly none, "data: [DONE]\n\n" after
 * message_stop or an error event) to out. Returns 0, GD_EPARSE (not JSON, or events out of
 * order), GD_ELIMIT (too many content blocks) or GD_ENOMEM. */
int gd_xl_anth_sse_event(struct gd_xl_anth_sse *s, const char *data, size_t dlen,
                         struct gd_buf *out);

/* The usage the stream reported so far; 1 when message_start's usage was seen. */
int gd_xl_anth_sse_usage(const struct gd_xl_anth_sse *s, struct gd_gw_usage *u);

/* Shared by the translators: stop_reason -> finish_reason (NULL for none); the OpenAI
 * "usage":{...} member (no leading comma) from Anthropic's counts (-1: absent), filling *u
 * when not NULL. */
const char *gd_xl_anth_finish_reason(const char *stop_reason);
int gd_xl_anth_put_usage(struct gd_buf *b, int64_t in, int64_t out, int64_t cread, int64_t ccreate,
                         struct gd_gw_usage *u);

#endif
