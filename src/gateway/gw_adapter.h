/* Per-provider-type adapters: what changes when a deployment's provider does not speak
 * OpenAI's wire protocol (provider `type:`, gw_config.h). OpenAI-compatible providers have
 * no adapter: their bodies pass through with the model spliced (so do azure's, whose adapter
 * has only the path and header hooks). An adapter builds the
 * upstream path, headers and body from the client's OpenAI request and turns the upstream's
 * answer (JSON, SSE events, errors) back into OpenAI's form; gw_attempt.c, gw_hc.c and
 * gw_proxy.c call it through these hooks only.
 *
 * Adapters are immutable tables; their stream state is per request (loop thread). */
#ifndef GD_GATEWAY_GW_ADAPTER_H
#define GD_GATEWAY_GW_ADAPTER_H

#include "core/buf.h"
#include "gateway/gw_config.h"
#include "gateway/json_scan.h"
#include "gateway/sse.h"
#include "gateway/xl_anthropic.h"
#include "gateway/xl_bedrock.h"
#include "gateway/xl_gemini.h"

#include <stddef.h>
#include <stdint.h>

/* Adds one request header: line_prefix is "Name: ", value[0..n) follows. 0 or GD_E*. */
typedef int (*gw_header_fn)(void *ud, const char *line_prefix, const char *value, size_t n);

/* Stream state of any adapter (one member per adapter type). */
union gw_adapter_stream {
    struct gd_xl_anth_sse anth;
    struct gd_xl_gem_sse gem;
    struct gd_xl_br_sse br;
};

struct gw_adapter {
    const char *name;
    /* Appends the path after base_url for request kind (0 chat, 1 completions, 2
     * embeddings) of a deployment of `model` (streamed or not) to out. 0, GD_ENOMEM, or
     * GD_ENOTSUP when this provider type cannot serve that kind; out NULL: only asks. */
    int (*path)(const struct gd_gw_provider_cfg *p, int kind, const char *model, int stream,
                struct gd_buf *out);
    /* Authentication and protocol headers (instead of Authorization: Bearer). */
    int (*headers)(const struct gd_gw_provider_cfg *p, gw_header_fn add, void *ud);
    /* The hooks from here on are NULL for a provider type that speaks OpenAI's bodies and
     * differs only in path and headers (azure): its attempts have no adapter (gw_req.h's
     * ad is NULL), so everything else passes through as for OpenAI-compatible ones.
     * The upstream body for the client's body; GD_EINVAL with err filled when the request
     * cannot be translated (answered to the client as err says, no attempt made). */
    int (*request)(const char *body, size_t len, const char *model, struct gd_buf *out,
                   struct gd_xl_err *err);
    /* A 2xx JSON answer -> OpenAI's; usage into *u. 0, GD_EPARSE or GD_ENOMEM. */
    int (*response)(const char *body, size_t len, int64_t created, struct gd_buf *out,
                    struct gd_gw_usage *u);
    /* An error answer -> OpenAI's error body (same status). 0 or GD_ENOMEM. */
    int (*error)(int status, const char *body, size_t len, struct gd_buf *out);
    void (*stream_init)(union gw_adapter_stream *st, int include_usage, int64_t created);
    /* One upstream SSE event's data -> OpenAI SSE events appended to out. */
    int (*stream_event)(union gw_adapter_stream *st, const char *data, size_t n,
                        struct gd_buf *out);
    /* Whether the stream reached its end event (else it was cut short). */
    int (*stream_finished)(const union gw_adapter_stream *st);
    /* Usage seen so far; 1 when known. */
    int (*stream_usage)(const union gw_adapter_stream *st, struct gd_gw_usage *u);
    /* Embeddings (kind 2), NULL when the type has none: the upstream body for the client's
     * (as request does), and a 2xx answer -> OpenAI's given the client's body again (its
     * encoding_format) and the deployment's model (as response does). */
    int (*embed_request)(const char *body, size_t len, const char *model, struct gd_buf *out,
                         struct gd_xl_err *err);
    int (*embed_response)(const char *cbody, size_t clen, const char *body, size_t len,
                          const char *model, struct gd_buf *out, struct gd_gw_usage *u);
    /* Headers that depend on the request (a signature), NULL for most types; when set it
     * is called instead of headers with the wire path after the host (base_url's path and
     * the adapter's) and the upstream body. 0 or GD_E*. */
    int (*sign)(const struct gd_gw_provider_cfg *p, const char *path, const char *body, size_t len,
                gw_header_fn add, void *ud);
    /* A streamed answer that is not SSE (NULL: it is): its content type, and the framer
     * that takes its bytes instead of the SSE framer, calling fn once per upstream event
     * (fn then calls stream_event with that data); stream_free releases what
     * stream_init took (NULL: nothing). */
    const char *stream_ctype;
    int (*stream_feed)(union gw_adapter_stream *st, const char *p, size_t n, gd_gw_sse_event_fn fn,
                       void *ud);
    void (*stream_free)(union gw_adapter_stream *st);
};

/* type: gemini (gw_adapter_gemini.c) */
extern const struct gw_adapter gw_adapter_gemini;
/* type: bedrock (gw_adapter_bedrock.c) */
extern const struct gw_adapter gw_adapter_bedrock;

/* Appends the /v1/models object of alias `alias` of gc (or, alias < 0, of the served local
 * model `name`): id, object, created, owned_by, and "capabilities", the kinds of request at
 * least one of its deployments can serve ("chat" — also /v1/messages —, "completions",
 * "embeddings"). 0 or GD_ENOMEM / GD_ELIMIT. */
int gw_model_object(const struct gd_gw_config *gc, int alias, const char *name, struct gd_buf *out);

/* The adapter of a provider type; NULL for OpenAI-compatible (pass-through). */
const struct gw_adapter *gw_adapter_for(enum gd_gw_provider_type type);

#endif
