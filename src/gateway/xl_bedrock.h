/* Translation between OpenAI chat completions and AWS Bedrock Runtime's Converse API
 * (provider `type: bedrock`; see docs/gateway.md "Provider type bedrock").
 *
 *   request:  OpenAI chat request JSON -> Converse / ConverseStream request JSON
 *             (xl_bedrock_req.c)
 *   response: Converse response        -> chat.completion JSON        (xl_bedrock_resp.c)
 *   errors:   Bedrock error body       -> OpenAI error body           (xl_bedrock_resp.c)
 *   stream:   ConverseStream event stream (aws_eventstream.h) -> chat.completion.chunk
 *             events                                              (xl_bedrock_sse.c)
 *
 * Bodies are parsed with cJSON (untrusted: depth capped by cJSON, sizes by the caller).
 * What Converse has no equivalent for (n > 1, logprobs, seed, penalties, JSON mode, ...)
 * is refused with a 400 naming the parameter. Pure functions. */
#ifndef GD_GATEWAY_XL_BEDROCK_H
#define GD_GATEWAY_XL_BEDROCK_H

#include "core/buf.h"
#include "gateway/aws_eventstream.h"
#include "gateway/json_scan.h"
#include "gateway/xl_chunk.h"
#include "gateway/xl_json.h"

#include <stddef.h>
#include <stdint.h>

/* OpenAI chat request body[0..len) -> Converse request (the model id goes in the URL, not
 * the body), into out. 0, GD_EINVAL (err filled) or GD_ENOMEM. */
int gd_xl_bedrock_request(const char *body, size_t len, const char *model, struct gd_buf *out,
                          struct gd_xl_err *err);

/* Converse response -> chat.completion (created = unix seconds), into out; usage into *u.
 * 0, GD_EPARSE (not a Converse response) or GD_ENOMEM. */
int gd_xl_bedrock_response(const char *body, size_t len, int64_t created, struct gd_buf *out,
                           struct gd_gw_usage *u);

/* Bedrock error answer ({"message": ...}, HTTP status) -> OpenAI error body, code the
 * Bedrock exception name the status stands for (ThrottlingException, ...). 0 or
 * GD_ENOMEM. */
int gd_xl_bedrock_error(int status, const char *body, size_t len, struct gd_buf *out);

/* Bedrock stopReason -> OpenAI finish_reason (NULL for NULL). */
const char *gd_xl_bedrock_finish_reason(const char *stop_reason);

/* The Bedrock exception name for an HTTP status (used when the body names none). */
const char *gd_xl_bedrock_exception_for(int status);

/* Tool uses of one streamed answer that the translator numbers. */
#define GD_XL_BR_MAX_TOOLS 1024

/* Per-stream state: the event stream decoder and the translator's. */
struct gd_xl_br_sse {
    struct gd_aws_es es;    /* owns a buffer: gd_xl_br_sse_free */
    char event[48];         /* :event-type / :exception-type of the message being translated */
    int exception;          /* it is an exception (or error) message */
    struct gd_xl_chunks ck; /* id made at init, model "" */
    int include_usage;
    int started;  /* the role chunk was written */
    int finished; /* metadata (or an exception) was seen: [DONE] was written */
    int stopped;  /* messageStop was seen: its finish chunk was written */
    int n_tools;  /* tool uses so far */
    int block;    /* contentBlockIndex of the tool use being streamed, -1: none */
    int64_t prompt, completion, total, cached; /* metadata.usage, -1: not seen */
};

void gd_xl_br_sse_init(struct gd_xl_br_sse *s, int include_usage, int64_t created);
void gd_xl_br_sse_free(struct gd_xl_br_sse *s);

/* Decodes the next n bytes of the upstream's event stream; for each complete message sets
 * s->event / s->exception and calls fn(ud, NULL, 0, payload, payload_len) (the SSE
 * framer's callback form: fn then calls gd_xl_br_sse_event with that payload). 0,
 * GD_EPARSE (bad framing: s->es.error says why), GD_ENOMEM or fn's non-zero return. */
int gd_xl_br_sse_feed(struct gd_xl_br_sse *s, const char *p, size_t n,
                      int (*fn)(void *ud, const char *raw, size_t raw_len, const char *data,
                                size_t data_len),
                      void *ud);

/* Translates the payload of the current message (s->event) and appends the OpenAI SSE
 * events it becomes to out:
 *   messageStart      -> chunk with delta {role: assistant, content: ""}
 *   contentBlockStart -> toolUse: tool_calls[k] {id, type, name, arguments ""}
 *   contentBlockDelta -> text: delta.content; toolUse.input: tool_calls[k].arguments piece
 *   messageStop       -> chunk with finish_reason
 *   metadata          -> usage chunk (include_usage), [DONE]
 *   an exception      -> event: error + OpenAI error (status by exception name), [DONE]
 * Returns 0, GD_EPARSE, GD_ELIMIT (too many tool uses) or GD_ENOMEM; a failed event
 * appends nothing and changes nothing. */
int gd_xl_br_sse_event(struct gd_xl_br_sse *s, const char *data, size_t dlen, struct gd_buf *out);

/* The usage the stream reported so far; 1 when metadata.usage was seen. */
int gd_xl_br_sse_usage(const struct gd_xl_br_sse *s, struct gd_gw_usage *u);

/* The HTTP status of a Bedrock exception name (throttlingException, ...: any case). */
int gd_xl_bedrock_exception_status(const char *name);

#endif
