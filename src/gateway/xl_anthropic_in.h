/* The inbound Anthropic-compatible surface (POST /v1/messages): an Anthropic Messages
 * request becomes girder's internal chat form (an OpenAI chat request, routed like any
 * other), and the OpenAI-form answer becomes Anthropic's again (see docs/gateway.md
 * "POST /v1/messages").
 *
 *   request:  Messages request JSON -> OpenAI chat request JSON  (xl_anthropic_in.c)
 *   response: chat.completion JSON  -> Messages response JSON    (xl_anthropic_in.c)
 *   errors:   OpenAI error / girder's own -> Anthropic error body (xl_anthropic_in.c)
 *   stream:   OpenAI chunk data, one by one -> Anthropic's event sequence (xl_anthropic_in_sse.c)
 *
 * Pure functions and per-stream state (one thread per state). */
#ifndef GD_GATEWAY_XL_ANTHROPIC_IN_H
#define GD_GATEWAY_XL_ANTHROPIC_IN_H

#include "core/buf.h"
#include "gateway/xl_anthropic.h"

#include <stddef.h>
#include <stdint.h>

/* Messages request -> OpenAI chat request (model kept: it names the alias; a stream asks
 * for stream_options.include_usage so the final usage is known). 0, GD_EINVAL (err filled)
 * or GD_ENOMEM. */
int gd_xl_in_anth_request(const char *body, size_t len, struct gd_buf *out, struct gd_xl_err *err);

/* chat.completion -> Messages response. 0, GD_EPARSE (not a chat.completion, or tool-call
 * arguments that are not a JSON object) or GD_ENOMEM. */
int gd_xl_in_anth_response(const char *body, size_t len, struct gd_buf *out);

/* Anthropic's error type for an HTTP status (invalid_request_error, authentication_error,
 * permission_error, not_found_error, request_too_large, rate_limit_error, api_error,
 * overloaded_error). */
const char *gd_xl_in_anth_error_type(int status);

/* {"type":"error","error":{"type":...,"message":...}} for status and message. */
int gd_xl_in_anth_error_write(struct gd_buf *out, int status, const char *message);

/* An OpenAI error body (status) -> Anthropic's; a body without an error message gets a
 * generic one. 0 or GD_ENOMEM. */
int gd_xl_in_anth_error(int status, const char *body, size_t len, struct gd_buf *out);

/* Per-stream state of the OpenAI chunks -> Anthropic events translator. */
struct gd_xl_in_anth_sse {
    char id[128];
    char model[256];
    int started;  /* message_start written */
    int finished; /* message_stop or error written */
    int block;    /* index of the open content block, -1 when none */
    int n_blocks; /* content blocks opened so far */
    int open_is_text;
    int open_tool;           /* tool call index of the open tool_use block */
    const char *stop_reason; /* Anthropic's, from finish_reason; NULL until seen */
    int64_t prompt, completion, cached, cache_creation; /* -1: not seen */
};

void gd_xl_in_anth_sse_init(struct gd_xl_in_anth_sse *s);

/* One OpenAI SSE data field (a chunk, an {"error":...} object, or "[DONE]") -> Anthropic
 * events appended to out ("event: NAME\ndata: JSON\n\n" each). 0, GD_EPARSE or
 * GD_ENOMEM. */
int gd_xl_in_anth_sse_event(struct gd_xl_in_anth_sse *s, const char *data, size_t dlen,
                            struct gd_buf *out);

/* An Anthropic `error` event (the stream broke: girder's own message). */
int gd_xl_in_anth_sse_error(struct gd_xl_in_anth_sse *s, const char *message, struct gd_buf *out);

/* Shared by the translators: finish_reason -> stop_reason (NULL for none); Anthropic's usage
 * object from OpenAI's counts (-1: absent; input = prompt - cache reads - cache writes). */
const char *gd_xl_in_anth_stop_reason(const char *finish_reason);
int gd_xl_in_anth_put_usage(struct gd_buf *b, int64_t prompt, int64_t completion, int64_t cached,
                            int64_t creation);

#endif
