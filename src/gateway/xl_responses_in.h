/* The inbound OpenAI Responses surface (POST /v1/responses): a Responses request becomes
 * girder's internal chat form (an OpenAI chat request, routed like any other), and the
 * chat answer becomes a Response object again (see docs/gateway.md "POST /v1/responses").
 *
 *   request:  Responses request JSON -> OpenAI chat request JSON   (xl_responses_in.c)
 *   response: chat.completion JSON   -> Response object JSON       (xl_responses_in_resp.c)
 *   stream:   OpenAI chunk data, one by one -> Responses events    (xl_responses_in_sse.c)
 * Errors keep OpenAI's error form (the Responses API uses it too).
 *
 * girder keeps no state: previous_response_id, conversation and background are refused,
 * store is accepted but nothing is stored. Pure functions and per-stream state (one thread
 * per state). */
#ifndef GD_GATEWAY_XL_RESPONSES_IN_H
#define GD_GATEWAY_XL_RESPONSES_IN_H

#include "core/buf.h"
#include "gateway/xl_json.h"

#include <stddef.h>
#include <stdint.h>

/* Input items and tools one request may carry. */
#define GD_XL_RESP_MAX_ITEMS 4096
/* Output items (the message plus function calls) of one streamed answer. */
#define GD_XL_RESP_MAX_OUTPUT 256
/* Bytes of output text and arguments one streamed answer may accumulate (the final
 * events repeat them in full). */
#define GD_XL_RESP_MAX_STREAM_BYTES (64u << 20)

/* Responses request -> OpenAI chat request (model kept: it names the alias; a stream asks
 * for stream_options.include_usage). 0, GD_EINVAL (err filled: a 400 naming the
 * parameter) or GD_ENOMEM. */
int gd_xl_in_resp_request(const char *body, size_t len, struct gd_buf *out, struct gd_xl_err *err);

/* chat.completion -> Response object (created_at from its `created`, else now). 0,
 * GD_EPARSE (not a chat.completion) or GD_ENOMEM. */
int gd_xl_in_resp_response(const char *body, size_t len, int64_t now, struct gd_buf *out);

/* Per-stream state of the OpenAI chunks -> Responses events translator. Owns its buffers:
 * gd_xl_in_resp_sse_free releases them. */
struct gd_xl_in_resp_sse {
    char id[136]; /* resp_<chunk id> */
    char model[256];
    int64_t created; /* created_at */
    int64_t seq;     /* next sequence_number */
    int started;     /* response.created and .in_progress written */
    int finished;    /* response.completed / .incomplete / .failed written */
    int n_items;     /* output items opened so far */
    int open;        /* 0: none, 1: the message item, 2: a function call item */
    int open_tool;   /* chat tool call index of the open function call */
    char call_id[128], name[256];
    const char *finish_reason; /* NULL until seen */
    struct gd_buf acc;         /* text or arguments of the open item */
    struct gd_buf items;       /* finished items' JSON, comma-separated */
    int64_t prompt, completion, total, cached, reasoning; /* -1: not seen */
};

void gd_xl_in_resp_sse_init(struct gd_xl_in_resp_sse *s, int64_t now);
void gd_xl_in_resp_sse_free(struct gd_xl_in_resp_sse *s);

/* One OpenAI SSE data field (a chunk, an {"error":...} object, or "[DONE]") -> Responses
 * events appended to out ("event: TYPE\ndata: JSON\n\n" each). 0, GD_EPARSE, GD_ELIMIT or
 * GD_ENOMEM (out keeps nothing of a failed call). */
int gd_xl_in_resp_sse_event(struct gd_xl_in_resp_sse *s, const char *data, size_t dlen,
                            struct gd_buf *out);

/* A response.failed event (the stream broke: girder's own message). */
int gd_xl_in_resp_sse_error(struct gd_xl_in_resp_sse *s, const char *message, struct gd_buf *out);

/* Shared by the translators: the Response usage object from chat counts (-1: absent). */
int gd_xl_in_resp_put_usage(struct gd_buf *b, int64_t prompt, int64_t completion, int64_t total,
                            int64_t cached, int64_t reasoning);
struct gd_gw_usage;
/* A native (pass-through) Responses answer's usage: a Response object's top-level `usage`,
 * or the `response.usage` of a response.completed / response.incomplete event (input_tokens
 * -> prompt, output_tokens -> completion, total_tokens). 1 when found, else 0. */
int gd_xl_in_resp_native_usage(const char *json, size_t len, struct gd_gw_usage *u);

/* The JSON string prefix + id (id cut at 120 bytes). */
int gd_xl_in_resp_put_id(struct gd_buf *b, const char *prefix, const char *id);
/* A Response object's opening members up to `"output":[`: id ("resp_" + id), created_at,
 * status, error (NULL: null; else a server_error with that message), incomplete_details
 * (why NULL: null) and model. */
int gd_xl_in_resp_put_head(struct gd_buf *b, const char *id, int64_t created, const char *status,
                           const char *error, const char *why, const char *model);

#endif
