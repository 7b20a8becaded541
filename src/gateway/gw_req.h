/* Internal: one proxied client request and its current upstream attempt.
 *
 * Lifetime: created by the route handler, freed when both the client side is finished
 * (responded, or on_close ran: x == NULL) and nothing else holds a reference (a deferred
 * abort posted to the loop holds one). Loop thread only. */
#ifndef GD_GATEWAY_GW_REQ_H
#define GD_GATEWAY_GW_REQ_H

#include "core/buf.h"
#include "gateway/gw_adapter.h"
#include "gateway/gw_curl.h"
#include "gateway/gw_hc.h"
#include "gateway/gov.h"
#include "gateway/gov_config.h"
#include "gateway/pii_json.h"
#include "gateway/gw_runtime.h"
#include "gateway/json_scan.h"
#include "gateway/xl_anthropic_in.h"
#include "gateway/xl_responses_in.h"
#include "gateway/plan.h"
#include "gateway/sse.h"
#include "net/http.h"
#include "net/http_client.h"

enum gw_kind { GW_KIND_CHAT = 0, GW_KIND_COMPLETIONS, GW_KIND_EMBEDDINGS, GW_KIND_N };

struct gw_route {
    struct gw_runtime *rt;
    enum gw_kind kind;
    int inbound_anthropic; /* POST /v1/messages: Anthropic's API, routed as chat */
    int inbound_responses; /* POST /v1/responses: OpenAI's Responses API, routed as chat */
};

enum { GW_MAX_ALIAS_NAME = 256, GW_UPSTREAM_HEADERS = 8 };
#define GW_MAX_RESPONSE_BYTES (64u << 20) /* non-streamed upstream answers are buffered */
#define GW_MAX_SSE_EVENT (8u << 20)
#define GW_MAX_RELAY_HEADER_BYTES 2048u /* upstream headers relayed to the client, in all */

/* What few requests need, allocated on first use: thousands of pending requests stay small. */
struct gw_req_cold {
    struct gd_xl_err xl_err; /* why the request cannot go to the current deployment */
    struct gd_xl_err in_err; /* status != 0: untranslatable (cbody is orig): native only */
    char detail[128];        /* why the last attempt failed (for girder's own error) */
};

struct gw_req {
    struct gw_runtime *rt;
    enum gw_kind kind;
    struct gd_http_exchange *x; /* NULL once the client side is finished */
    /* the client's request in OpenAI form: the body as received, or (inbound_anthropic,
     * inbound_responses) its translation in inbody */
    const char *cbody;
    size_t cbody_len;
    int inbound_anthropic;
    int inbound_responses;
    struct gd_buf inbody;
    struct gd_xl_in_anth_sse *ins;  /* inbound stream state (allocated when streaming) */
    struct gd_xl_in_resp_sse *rins; /* the same for /v1/responses (owns buffers) */
    /* /v1/responses: the client's own body and its fields, for deployments with
     * `responses: native` (orig_ok: it scanned cleanly); native: the current attempt
     * passes it through (no translation either way) */
    const char *orig;
    size_t orig_len;
    struct gd_gw_req_fields f_orig;
    int orig_ok;
    int native;
    struct gd_buf in_out; /* inbound events of the current read */
    struct gd_loop *loop;
    int refs;     /* 1 for the lifecycle + 1 per deferred abort posted to the loop */
    int busy;     /* inside the handler or attempt-done processing */
    int finished; /* the lifecycle reference was dropped */
    struct gd_gw_req_fields f;
    /* the alias asked for: the config's name once resolved, else alias_own or "" */
    const char *alias_name;
    char *alias_own;
    struct gd_gw_plan plan;
    struct gd_buf body; /* the body sent upstream (model spliced) */

    /* current attempt */
    int active; /* a transfer is running */
    int own;    /* it runs on girder's own client (hc), else on libcurl (xf) */
    /* its transfer, on one client or the other; zeroed by gw_attempt_stop */
    union {
        struct {
            struct gd_hc_req hc;
            struct iovec hc_iov[2]; /* request head (hdr_text), body */
        };
        struct {
            struct gw_xfer xf;                           /* xf.pool set: fb_timer is initialised */
            struct curl_slist hdrs[GW_UPSTREAM_HEADERS]; /* CURLOPT_HTTPHEADER, linked in place */
            struct gd_timer fb_timer;                    /* the own client has its own */
        };
    } up;
    struct gd_buf hdr_text; /* their lines, NUL-separated (holds the API key: wiped) */
    uint32_t alias, dep;
    const struct gw_adapter *ad; /* the deployment's protocol adapter; NULL: pass-through */
    union gw_adapter_stream *xs; /* its stream state (allocated for streamed requests) */
    struct gd_buf xl_out;        /* translated stream events of the current read */
    /* the adapter whose stream_init set xs up (gw_attempt_stream_free), NULL: none */
    const struct gw_adapter *xs_ad;
    int probe;
    int status;
    uint32_t retry_after_ms;
    int is_sse;
    int got_first_byte;
    int too_large;
    uint64_t attempt_start_ns, first_byte_ns;
    /* tracing (gw_trace.h): the current attempt's CLIENT span, when the request is sampled */
    int traced;
    struct gd_trace_ctx trace;
    uint8_t attempt_span[8];
    uint64_t attempt_unix_ns;
    void *local_call;            /* a local model's job (gw_local.h), NULL when none */
    struct gd_timer local_timer; /* answers a local model's refusal from the loop */
    struct gd_buf resp;          /* buffered non-streamed answer */
    const char *ctype;           /* the answer's content type, never NULL (gw_req_set_ctype) */
    char *ctype_own;             /* ctype, when it is not one of the common ones */
    struct gd_buf relay_hdrs;    /* rate-limit headers of the answer, "name\0value\0"... */
    struct gw_req_cold *cold;    /* NULL until one of its parts is needed */

    /* client stream */
    int streaming;
    int client_closed; /* a write saw GD_ECLOSED: on_close is coming, write nothing more */
    int client_blocked;
    int paused;
    struct gd_gw_sse sse;
    /* complete events of the current upstream read: the run of them inside the read's
     * bytes goes out as one write, without a copy */
    const char *read_p, *span;
    size_t read_n, span_n;

    /* governance: key, reservations (gov.h); allocated after the request when the config
     * has governance, else NULL (every gd_gov_* call is then a no-op) */
    struct gd_gov_ticket *gov;

    /* PII policy (gw_pii.h) */
    const struct gd_gov_pii_cfg *pii; /* the policy that applied, NULL: none */
    struct gd_pii_vault *pii_vault;   /* masked values, NULL until one is masked */
    struct gd_buf pii_body[2];        /* the body after masking, after redaction */
    uint32_t pii_found;               /* categories found (bit per gd_pii_cat) */
    uint8_t pii_acted;                /* actions taken on them (bit per gd_pii_action) */
    struct gw_pii_sse *pii_sse;       /* restore state of a streamed answer (gw_pii_sse.c) */
    struct gd_buf pii_sse_out;        /* the events as the client gets them */

    /* response cache (gw_cache_req.h) */
    const char *cache_result; /* x-girder-cache: hit, miss, refresh, bypass; NULL: not used */
    int cache_store;          /* keep this request's 200 answer under cache_key */
    uint8_t cache_key[32];
    struct gd_buf cache_sse; /* the streamed answer so far, while cache_store */

    /* accounting */
    uint64_t overhead_ns;
    uint64_t mark_ns;
    uint32_t last_fallbacks;
};

/* gw_req.c: the cold part, allocated on first use (NULL: out of memory). */
struct gw_req_cold *gw_req_cold(struct gw_req *req);
/* The refusal recorded for the current deployment, NULL: none. */
static inline const struct gd_xl_err *gw_req_refusal(const struct gw_req *req)
{
    return req->cold && req->cold->xl_err.status ? &req->cold->xl_err : NULL;
}
/* A record for a translator to write its refusal into: the loop thread's scratch (reset).
 * Keep what it says with gw_req_keep_refusal before the next call. */
struct gd_xl_err *gw_xl_scratch(void);
/* Keeps e (if it holds a refusal) as req's refusal (in_err: as the inbound one). */
void gw_req_keep_refusal(struct gw_req *req, const struct gd_xl_err *e, int in_err);
/* Records a 400 refusal with a formatted message and no parameter. */
void gw_req_refuse(struct gw_req *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Why the last attempt failed, "" when nothing was said; gw_req_set_detail says it. */
static inline const char *gw_req_detail(const struct gw_req *req)
{
    return req->cold ? req->cold->detail : "";
}
void gw_req_set_detail(struct gw_req *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets req->ctype to v (n bytes, at most 127 kept; n 0: none): a common type points to a
 * static copy, another is copied (none on ENOMEM: the defaults apply). */
void gw_req_set_ctype(struct gw_req *req, const char *v, size_t n);

/* gw_attempt.c: prepares req's attempt state once (timers). */
void gw_attempt_init(struct gw_req *req);
/* gw_attempt.c: builds and starts the transfer for (req->alias, req->dep). 0 or GD_E*. */
int gw_attempt_start(struct gw_req *req);
/* Stops and frees the current transfer (no callbacks). */
void gw_attempt_stop(struct gw_req *req);
/* Wipes (it holds the API key) and frees the request head of the attempt. */
void gw_attempt_wipe_head(struct gw_req *req);
/* Resumes a transfer paused for a slow client. */
void gw_attempt_resume(struct gw_req *req);
/* True while the transfer's client code is on the stack (stop it from a posted call). */
int gw_attempt_in_callback(const struct gw_req *req);

/* gw_attempt.c, shared by both clients: one header of the final upstream answer; the
 * per-attempt reset; the body sent upstream (model spliced). */
void gw_attempt_header(struct gw_req *req, const char *name, size_t nl, const char *v, size_t vl);
void gw_attempt_reset(struct gw_req *req);
int gw_attempt_splice_body(struct gw_req *req);
/* Appends the upstream path (after base_url) of req's current attempt to out. 0 or GD_E*. */
int gw_attempt_path(const struct gw_req *req, struct gd_buf *out);
/* Releases what the adapter that set req->xs up holds in it (xs itself stays). */
void gw_attempt_stream_free(struct gw_req *req);
/* Adds the provider's authentication (and protocol) headers through add. */
int gw_attempt_auth_headers(const struct gw_req *req, const struct gd_gw_provider_cfg *p,
                            gw_header_fn add, void *ud);

/* gw_proxy.c: called when the current attempt ended (transfer done or first-byte timeout). */
void gw_req_attempt_done(struct gw_req *req, const struct gd_gw_attempt_result *r,
                         const char *detail);
/* gw_proxy.c: relays one upstream read of an SSE stream: frames it and writes its complete
 * events to the client. Returns 0 (GD_EAGAIN is handled: the next write callback pauses
 * the transfer) or a GD_E* error (GD_ECLOSED: the client is gone). */
int gw_req_relay_sse(struct gw_req *req, const char *p, size_t n);
/* gw_proxy.c: opens the client stream (headers with x-girder-*). 0 or GD_E*. */
int gw_req_begin_stream(struct gw_req *req);

static inline void gw_overhead_start(struct gw_req *req, uint64_t now_ns)
{
    req->mark_ns = now_ns;
}
static inline void gw_overhead_stop(struct gw_req *req, uint64_t now_ns)
{
    if (req->mark_ns && now_ns > req->mark_ns)
        req->overhead_ns += now_ns - req->mark_ns;
    req->mark_ns = 0;
}

#endif
