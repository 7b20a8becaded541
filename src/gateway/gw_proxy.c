/* The gateway's request lifecycle and route registration (see gateway.h, gw_req.h).
 *
 *   handler: scan body -> resolve alias -> plan -> start attempt
 *   attempt done: record outcome -> relay / retry / fall back / answer an error
 *   client gone: abort the transfer (deferred when inside curl), free when unreferenced */
#include "gateway/gateway.h"
#include "gateway/gw_cache_req.h"
#include "gateway/gw_local.h"
#include "gateway/gw_pii.h"
#include "gateway/gw_req.h"
#include "gateway/gw_trace.h"
#include "gateway/oai_error.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/json_write.h"
#include "core/log.h"
#include "obs/metrics.h"
#include "girder/error.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void req_unref(struct gw_req *req)
{
    if (--req->refs > 0)
        return;
    /* no usage was read: only a stream the client got part of is charged (its estimate) */
    gd_gov_settle(req->gov, NULL, -1, -1, req->streaming, (int64_t)req->sse.events);
    gw_attempt_stop(req);
    gd_gw_sse_free(&req->sse);
    gd_buf_free(&req->body);
    gd_buf_free(&req->hdr_text);
    gd_buf_free(&req->resp);
    gd_buf_free(&req->relay_hdrs);
    gd_buf_free(&req->xl_out);
    gw_attempt_stream_free(req);
    gd_free(req->xs);
    gd_buf_free(&req->inbody);
    gd_buf_free(&req->in_out);
    gd_free(req->ins);
    if (req->rins)
        gd_xl_in_resp_sse_free(req->rins);
    gd_free(req->rins);
    gw_cache_req_free(req);
    gw_pii_req_free(req);
    gd_gov_ticket_release(req->gov);
    gd_free(req->alias_own);
    gd_free(req->ctype_own);
    gd_free(req->cold);
    gd_free(req);
}

#define MODEL_NOT_FOUND "The model `%s` does not exist or you do not have access to it."

/* Decimal digits of v, NUL-terminated, in buf (>= 21 bytes); returns the start. */
static const char *u64_str(uint64_t v, char *buf, size_t size)
{
    char *p = buf + size;
    *--p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

/* with_upstream: the response relays the upstream's answer, so it names the deployment and
 * carries the answer's rate-limit headers. */
static void set_gw_headers(struct gw_req *req, int with_upstream)
{
    char v[24];
    /* girder's own limits are what binds this client: they replace the upstream's */
    if (gd_gov_headers(req->gov, req->x))
        gd_buf_reset(&req->relay_hdrs);
    if (with_upstream && req->plan.attempts > 0) {
        gd_http_set_header(req->x, "x-girder-deployment",
                           req->rt->aliases[req->alias].deps[req->dep].label);
        for (size_t at = 0; at < req->relay_hdrs.len;) {
            const char *name = req->relay_hdrs.data + at, *value = name + strlen(name) + 1;
            gd_http_set_header(req->x, name, value); /* a bad name or value is refused there */
            at = (size_t)(value + strlen(value) + 1 - req->relay_hdrs.data);
        }
    }
    gd_http_set_header(req->x, "x-girder-attempts", u64_str(req->plan.attempts, v, sizeof v));
    if (req->cache_result)
        gd_http_set_header(req->x, "x-girder-cache", req->cache_result);
    gw_overhead_stop(req, gd_mono_ns());
    gd_http_set_header(req->x, "x-girder-overhead-us",
                       u64_str(req->overhead_ns / 1000u, v, sizeof v));
}

static void log_fields(struct gw_req *req, int64_t prompt, int64_t completion)
{
    gd_http_log_field_str(req->x, "model", req->alias_name[0] ? req->alias_name : "-");
    if (req->plan.attempts > 0)
        gd_http_log_field_str(req->x, "deployment",
                              req->rt->aliases[req->alias].deps[req->dep].label);
    gd_http_log_field_i64(req->x, "attempts", req->plan.attempts);
    if (prompt >= 0)
        gd_http_log_field_i64(req->x, "prompt_tokens", prompt);
    if (completion >= 0)
        gd_http_log_field_i64(req->x, "completion_tokens", completion);
    if (req->cache_result)
        gd_http_log_field_str(req->x, "cache", req->cache_result);
    gd_gov_log_fields(req->gov, req->x);
    gw_pii_log_fields(req);
}

/* Ends the client side with a complete response; the exchange is gone afterwards. */
static void respond(struct gw_req *req, int status, const char *ctype, const char *body, size_t len,
                    int with_upstream)
{
    set_gw_headers(req, with_upstream);
    gw_runtime_count_request(req->rt, req->alias_name[0] ? req->alias_name : "-", status);
    gd_http_respond(req->x, status, ctype, body, len);
    req->x = NULL;
}

/* girder's own error body, in the client's API format. */
static int write_error(struct gw_req *req, struct gd_buf *b, int status, const char *message,
                       const char *type, const char *param, const char *code)
{
    if (req->inbound_anthropic)
        return gd_xl_in_anth_error_write(b, status, message);
    return gd_gw_error_write(b, status, message, type, param, code);
}

static void respond_error(struct gw_req *req, int status, const char *message, const char *param,
                          const char *code)
{
    struct gd_buf b;
    gd_buf_init(&b, 65536);
    log_fields(req, -1, -1);
    if (write_error(req, &b, status, message, NULL, param, code) != 0)
        gd_buf_reset(&b);
    respond(req, status, "application/json", b.data ? b.data : "", b.len, 0);
    gd_buf_free(&b);
}

int gw_req_begin_stream(struct gw_req *req)
{
    set_gw_headers(req, 1);
    int rc =
        gd_http_stream_begin(req->x, req->status, req->ctype[0] ? req->ctype : "text/event-stream");
    if (rc == 0)
        req->streaming = 1;
    else if (rc == GD_ECLOSED)
        req->client_closed = 1;
    return rc;
}

static void on_drain(struct gd_http_exchange *x, void *ud)
{
    (void)x;
    struct gw_req *req = ud;
    req->client_blocked = 0;
    if (req->paused && req->active) {
        req->paused = 0;
        gw_attempt_resume(req);
    }
}

static int write_events(struct gw_req *req, const char *p, size_t n)
{
    if (!req->x || req->client_closed)
        return GD_ECLOSED;
    if (n == 0)
        return 0;
    gw_cache_capture(req, p, n); /* the cache keeps the placeholders */
    if (gw_pii_sse_active(req)) {
        int prc = gw_pii_restore_sse(req, p, n, &req->pii_sse_out);
        if (prc != 0)
            return prc;
        p = req->pii_sse_out.data ? req->pii_sse_out.data : "";
        if ((n = req->pii_sse_out.len) == 0)
            return 0; /* all of it held back for now */
    }
    int rc = gd_http_stream_write(req->x, p, n);
    if (rc == GD_ECLOSED)
        req->client_closed = 1;
    if (rc == GD_EAGAIN) {
        req->client_blocked = 1; /* queued; the next write callback pauses curl */
        gd_http_stream_on_drain(req->x, on_drain, req);
        return 0;
    }
    return rc;
}

/* Framer callback. Events inside the current read are contiguous and extend the span; the
 * one that began in an earlier read (joined from the framer's pending bytes) always comes
 * first and is written on its own. */
static int on_event(void *ud, const char *raw, size_t n, const char *data, size_t dlen)
{
    struct gw_req *req = ud;
    if (req->native && !req->sse.have_usage && dlen > 40 &&
        (memmem(data, 64 < dlen ? 64 : dlen, "\"response.completed\"", 20) ||
         memmem(data, 64 < dlen ? 64 : dlen, "\"response.incomplete\"", 21)))
        req->sse.have_usage = gd_xl_in_resp_native_usage(data, dlen, &req->sse.usage);
    if (req->sse.have_usage) /* this event carried the usage */
        gd_gov_note_usage_json(req->gov, data, dlen);
    uintptr_t at = (uintptr_t)raw, from = (uintptr_t)req->read_p;
    if (at >= from && at - from < req->read_n) {
        if (req->span_n == 0)
            req->span = raw;
        req->span_n += n;
        return 0;
    }
    int rc = write_events(req, req->span, req->span_n);
    req->span_n = 0;
    return rc ? rc : write_events(req, raw, n);
}

/* Framer callback of a stream through an adapter: each upstream event becomes zero or more
 * OpenAI events, collected in xl_out and written once per read. */
static int on_event_xl(void *ud, const char *raw, size_t n, const char *data, size_t dlen)
{
    (void)raw;
    (void)n;
    struct gw_req *req = ud;
    size_t mark = req->xl_out.len;
    if (req->ad->stream_feed)
        req->sse.events++; /* not SSE: counted here, as the framer counts its events */
    int rc = req->ad->stream_event(req->xs, data, dlen, &req->xl_out);
    /* An adapter writes the usage chunk with the stream's end (OpenAI's order: usage, then
     * [DONE]): only then is its output searched, not on every delta. */
    if (rc == 0 && req->xl_out.len > mark && req->ad->stream_finished(req->xs) &&
        memmem(req->xl_out.data + mark, req->xl_out.len - mark, "\"usage\"", 7))
        gd_gov_note_usage_json(req->gov, req->xl_out.data + mark, req->xl_out.len - mark);
    if (rc != 0)
        gw_req_set_detail(req, "invalid %s stream event", req->ad->name);
    return rc;
}

static int relay_sse_xl(struct gw_req *req, const char *p, size_t n)
{
    gd_buf_reset(&req->xl_out);
    int rc = req->ad->stream_feed ? req->ad->stream_feed(req->xs, p, n, on_event_xl, req)
                                  : gd_gw_sse_feed(&req->sse, p, n, on_event_xl, req);
    if (rc == 0 && req->xl_out.len)
        rc = write_events(req, req->xl_out.data, req->xl_out.len);
    return rc;
}

/* The inbound stream translator of req (Anthropic's or the Responses API's), if any. */
static int in_streaming(const struct gw_req *req)
{
    return (req->inbound_anthropic && req->ins) ||
           (req->inbound_responses && req->rins && !req->native);
}

static int in_finished(const struct gw_req *req)
{
    return req->ins ? req->ins->finished : req->rins ? req->rins->finished : 1;
}

static int in_event(struct gw_req *req, const char *data, size_t dlen)
{
    if (req->rins)
        return gd_xl_in_resp_sse_event(req->rins, data, dlen, &req->in_out);
    return gd_xl_in_anth_sse_event(req->ins, data, dlen, &req->in_out);
}

/* Feeds the OpenAI-form SSE text t[0..n) ("data: X\n\n" events, maybe after an
 * "event: error" line, as the adapters write them) to the inbound translator. */
static int feed_inbound_text(struct gw_req *req, const char *t, size_t n)
{
    const char *end = t + n;
    int rc = 0;
    while (rc == 0 && t < end) {
        const char *sep = memmem(t, (size_t)(end - t), "\n\n", 2);
        const char *e = sep ? sep : end;
        if ((size_t)(e - t) > 13 && memcmp(t, "event: error\n", 13) == 0)
            t += 13;
        if ((size_t)(e - t) >= 6 && memcmp(t, "data: ", 6) == 0)
            rc = in_event(req, t + 6, (size_t)(e - t - 6));
        t = sep ? sep + 2 : end;
    }
    return rc;
}

/* Framer callback of an inbound (Anthropic or Responses) stream: the upstream's event
 * (through the provider's adapter when it has one) becomes the client's events in in_out. */
static int on_event_in(void *ud, const char *raw, size_t n, const char *data, size_t dlen)
{
    struct gw_req *req = ud;
    int rc;
    if (req->ad && req->xs) {
        size_t mark = req->xl_out.len;
        rc = on_event_xl(ud, raw, n, data, dlen);
        rc = rc ? rc : feed_inbound_text(req, req->xl_out.data + mark, req->xl_out.len - mark);
    } else {
        if (req->sse.have_usage)
            gd_gov_note_usage_json(req->gov, data, dlen);
        rc = in_event(req, data, dlen);
    }
    if (rc != 0 && !gw_req_detail(req)[0])
        gw_req_set_detail(req, "invalid upstream stream event");
    return rc;
}

static int relay_sse_in(struct gw_req *req, const char *p, size_t n)
{
    gd_buf_reset(&req->xl_out);
    gd_buf_reset(&req->in_out);
    int rc = req->ad && req->xs && req->ad->stream_feed
                 ? req->ad->stream_feed(req->xs, p, n, on_event_in, req)
                 : gd_gw_sse_feed(&req->sse, p, n, on_event_in, req);
    if (rc == 0 && req->in_out.len)
        rc = write_events(req, req->in_out.data, req->in_out.len);
    return rc;
}

int gw_req_relay_sse(struct gw_req *req, const char *p, size_t n)
{
    if (in_streaming(req))
        return relay_sse_in(req, p, n);
    if (req->ad && req->xs)
        return relay_sse_xl(req, p, n);
    req->read_p = p;
    req->read_n = n;
    req->span_n = 0;
    int rc = gd_gw_sse_feed(&req->sse, p, n, on_event, req);
    if (rc == 0)
        rc = write_events(req, req->span, req->span_n);
    req->span_n = 0;
    return rc;
}

/* Drops the lifecycle reference once the client side is done and no transfer runs. */
static void req_settle(struct gw_req *req)
{
    if (req->busy || req->finished || req->x || req->active)
        return;
    req->finished = 1;
    req_unref(req);
}

static int log_relay(struct gw_req *req)
{
    log_fields(req, -1, -1);
    return 1;
}

static int pick_cb(void *ud, uint32_t alias, uint64_t tried)
{
    struct gw_req *req = ud;
    return gw_runtime_pick(req->rt, alias, tried, &req->probe);
}

static void stream_fail(struct gw_req *req, const char *detail)
{
    struct gd_buf b;
    char msg[256];
    gd_buf_init(&b, 65536);
    snprintf(msg, sizeof msg, "upstream stream broken: %s", detail ? detail : "error");
    int rc;
    if (req->inbound_anthropic && req->ins) { /* Anthropic's form: an error event */
        rc = gd_xl_in_anth_sse_error(req->ins, msg, &b);
    } else if (in_streaming(req)) { /* the Responses API's: response.failed */
        rc = gd_xl_in_resp_sse_error(req->rins, msg, &b);
    } else {
        rc = gd_buf_puts(&b, "event: error\ndata: ");
        rc = rc ? rc : gd_gw_error_write(&b, 502, msg, NULL, NULL, "upstream_stream_error");
        rc = rc ? rc : gd_buf_puts(&b, "\n\ndata: [DONE]\n\n");
    }
    if (rc == 0)
        gd_http_stream_write(req->x, b.data, b.len);
    gd_buf_free(&b);
    log_fields(req, -1, -1);
    gw_runtime_count_request(req->rt, req->alias_name, 502);
    if (req->x)
        gd_http_stream_end(req->x);
    req->x = NULL;
}

/* A 2xx JSON answer through an adapter: req->resp becomes OpenAI's answer. 0, or -1 when
 * it was not translatable (answered 502). */
static int translate_response(struct gw_req *req, struct gd_gw_usage *u)
{
    struct gd_buf out;
    gd_buf_init(&out, GW_MAX_RESPONSE_BYTES);
    const char *body = req->resp.data ? req->resp.data : "";
    const char *model = req->rt->gc->aliases[req->alias].deployments[req->dep].model;
    int rc = req->kind == GW_KIND_EMBEDDINGS && req->ad->embed_response
                 ? req->ad->embed_response(req->cbody, req->cbody_len, body, req->resp.len, model,
                                           &out, u)
                 : req->ad->response(body, req->resp.len, (int64_t)time(NULL), &out, u);
    if (rc != 0) {
        gd_buf_free(&out);
        gw_req_set_detail(req, "invalid %s response", req->ad->name);
        respond_error(req, 502, "upstream error: the provider's answer could not be translated",
                      NULL, "upstream_invalid_response");
        return -1;
    }
    gd_buf_free(&req->resp);
    req->resp = out;
    gw_req_set_ctype(req, "application/json", 16);
    return 0;
}

/* An adapter's stream that ended without its end event: the client gets a stream error. */
static int stream_cut_short(struct gw_req *req)
{
    if (req->streaming && in_streaming(req) && !in_finished(req))
        return 1; /* no [DONE] (or error) reached the inbound translator */
    return req->streaming && req->ad && req->xs && !req->ad->stream_finished(req->xs);
}

/* A non-streamed OpenAI-form answer -> Anthropic's for /v1/messages, a Response object for
 * /v1/responses. 0, or -1 (answered). */
static int translate_inbound(struct gw_req *req)
{
    struct gd_buf out;
    gd_buf_init(&out, GW_MAX_RESPONSE_BYTES);
    const char *body = req->resp.data ? req->resp.data : "";
    int rc = req->inbound_responses
                 ? gd_xl_in_resp_response(body, req->resp.len, (int64_t)time(NULL), &out)
                 : gd_xl_in_anth_response(body, req->resp.len, &out);
    if (rc != 0) {
        gd_buf_free(&out);
        respond_error(req, 502,
                      req->inbound_responses
                          ? "upstream error: the answer has no Responses API form"
                          : "upstream error: the answer has no Anthropic Messages form",
                      NULL, NULL);
        return -1;
    }
    gd_buf_free(&req->resp);
    req->resp = out;
    gw_req_set_ctype(req, "application/json", 16);
    return 0;
}

static void finish_ok(struct gw_req *req)
{
    struct gd_gw_usage u = {-1, -1, -1};
    if (stream_cut_short(req)) {
        stream_fail(req, "the upstream stream ended before its last event");
        return;
    }
    if (req->streaming && req->ad && req->xs) {
        req->ad->stream_usage(req->xs, &u);
    } else if (req->streaming) {
        if (req->sse.have_usage)
            u = req->sse.usage;
    } else if (req->ad && strstr(req->ctype, "json")) {
        if (translate_response(req, &u) != 0)
            return;
        gd_gov_note_usage_json(req->gov, req->resp.data, req->resp.len);
    } else if (strstr(req->ctype, "json") && req->native) { /* a Response object */
        gd_xl_in_resp_native_usage(req->resp.data ? req->resp.data : "", req->resp.len, &u);
        gd_gov_note_usage_json(req->gov, req->resp.data, req->resp.len);
    } else if (strstr(req->ctype, "json")) {
        gd_gw_scan_usage(req->resp.data ? req->resp.data : "", req->resp.len, &u);
        gd_gov_note_usage_json(req->gov, req->resp.data, req->resp.len);
    }
    if (!req->streaming && (req->inbound_anthropic || (req->inbound_responses && !req->native)) &&
        translate_inbound(req) != 0)
        return;
    gd_gov_settle(req->gov, req->rt->gc->aliases[req->alias].deployments[req->dep].model,
                  u.prompt_tokens, u.completion_tokens, 1, (int64_t)req->sse.events - 1);
    gw_runtime_add_tokens(req->rt, req->alias, req->dep, u.prompt_tokens, u.completion_tokens);
    log_fields(req, u.prompt_tokens, u.completion_tokens);
    if (!req->streaming) {
        const char *ct = req->ctype[0] ? req->ctype : "application/json";
        if (req->status == 200)
            gw_cache_store(req, ct, req->resp.data ? req->resp.data : "", req->resp.len);
        gw_pii_restore_json(req, &req->resp);
        respond(req, req->status, ct, req->resp.data ? req->resp.data : "", req->resp.len, 1);
        return;
    }
    if (!req->ad && !in_streaming(req) &&
        gd_gw_sse_pending(&req->sse)) /* a last event without its blank line */
    {
        gw_cache_capture(req, req->sse.pending.data, req->sse.pending.len);
        gd_http_stream_write(req->x, req->sse.pending.data, req->sse.pending.len);
    }
    if (req->status == 200)
        gw_cache_store(req, req->ctype[0] ? req->ctype : "text/event-stream", NULL, 0);
    gw_runtime_count_request(req->rt, req->alias_name, req->status);
    if (req->x)
        gd_http_stream_end(req->x);
    req->x = NULL;
}

static void exhausted(struct gw_req *req)
{
    int status;
    const char *code, *msg;
    char full[256];
    gd_gw_plan_error(&req->plan, &status, &code, &msg);
    if (status == 502 && gw_req_detail(req)[0]) { /* say what went wrong (refused, framing) */
        snprintf(full, sizeof full, "upstream error: %s", gw_req_detail(req));
        msg = full;
    }
    if (status == 503 && req->plan.retry_after_ms) {
        char v[32];
        snprintf(v, sizeof v, "%u", (req->plan.retry_after_ms + 999) / 1000);
        gd_http_set_header(req->x, "Retry-After", v);
    }
    respond_error(req, status, msg, NULL, code);
}

static void next_attempt(struct gw_req *req)
{
    uint32_t a, d;
    while (gd_gw_plan_next(&req->plan, pick_cb, req, &a, &d) == 0) {
        struct gw_alias_rt *first = &req->rt->aliases[req->plan.chain[0]];
        req->alias = a;
        req->dep = d;
        if (req->plan.attempts > 1)
            gd_counter_inc(first->retries);
        if (req->plan.fallbacks > req->last_fallbacks)
            gd_counter_inc(first->fallbacks);
        req->last_fallbacks = req->plan.fallbacks;
        if (gw_attempt_start(req) == 0)
            return;
        const struct gd_xl_err *e = gw_req_refusal(req);
        if (e) { /* the request itself cannot go to this deployment */
            gw_runtime_cancel(req->rt, a, d, req->probe);
            respond_error(req, e->status, e->message, e->param[0] ? e->param : NULL, NULL);
            return;
        }
        struct gd_gw_attempt_result r = {GD_GW_OUTCOME_CONNECT, 0, 0, 0};
        gw_runtime_record(req->rt, a, d, req->probe, &r, -1, 0);
        gd_gw_plan_record(&req->plan, &r);
    }
    exhausted(req);
}

/* An upstream error through an adapter: same status, OpenAI's error body. */
static void relay_error_xl(struct gw_req *req, int status)
{
    struct gd_buf b, in;
    gd_buf_init(&b, 65536);
    if (!req->ad) { /* an OpenAI-compatible upstream's error, for /v1/messages */
        if (gd_xl_in_anth_error(status, req->resp.data ? req->resp.data : "", req->resp.len, &b))
            gd_buf_reset(&b);
    } else if (req->ad->error(status, req->resp.data ? req->resp.data : "", req->resp.len, &b)) {
        gd_buf_reset(&b);
    } else if (req->inbound_anthropic) {
        gd_buf_init(&in, 65536);
        if (gd_xl_in_anth_error(status, b.data, b.len, &in) != 0)
            gd_buf_reset(&in);
        gd_buf_free(&b);
        b = in;
    }
    respond(req, status, "application/json", b.data ? b.data : "", b.len, 1);
    gd_buf_free(&b);
}

void gw_req_attempt_done(struct gw_req *req, const struct gd_gw_attempt_result *r,
                         const char *detail)
{
    uint64_t now = gd_mono_ns();
    gw_trace_attempt_end(req, r);
    double dur = (double)(now - req->attempt_start_ns) / 1e6;
    double ttfb =
        req->got_first_byte ? (double)(req->first_byte_ns - req->attempt_start_ns) / 1e6 : -1;
    req->busy++;
    gw_overhead_start(req, now);
    if (detail && *detail) /* kept in the cold part: most attempts say nothing */
        gw_req_set_detail(req, "%s", detail);
    else if (req->cold)
        req->cold->detail[0] = '\0';
    if (!req->x || req->client_closed) {
        /* The client left: no verdict on the deployment; with x still set, on_close is
         * on its way and settles the request. */
        gw_runtime_cancel(req->rt, req->alias, req->dep, req->probe);
    } else {
        gw_runtime_record(req->rt, req->alias, req->dep, req->probe, r, ttfb, dur);
        if (r->outcome == GD_GW_OUTCOME_OK)
            finish_ok(req);
        else if (gd_gw_plan_record(&req->plan, r))
            next_attempt(req);
        else if (req->streaming)
            stream_fail(req, detail);
        else if (r->outcome == GD_GW_OUTCOME_HTTP && (req->ad || req->inbound_anthropic) &&
                 log_relay(req))
            relay_error_xl(req, r->status);
        else if (r->outcome == GD_GW_OUTCOME_HTTP && log_relay(req))
            respond(req, r->status, req->ctype[0] ? req->ctype : "application/json",
                    req->resp.data ? req->resp.data : "", req->resp.len, 1);
        else
            exhausted(req);
    }
    req->busy--;
    req_settle(req);
}

static void abort_now(struct gw_req *req)
{
    if (req->active) {
        gw_attempt_stop(req);
        gw_runtime_cancel(req->rt, req->alias, req->dep, req->probe);
    }
    req_settle(req);
}

static void deferred_abort(struct gd_loop *loop, void *ud)
{
    (void)loop;
    struct gw_req *req = ud;
    if (!req->finished)
        abort_now(req);
    req_unref(req);
}

/* The client went away before its response was complete: stop the upstream transfer too
 * (the upstream sees the connection close), unless that must wait for curl to return. */
static void on_close(struct gd_http_exchange *x, void *ud)
{
    (void)x;
    struct gw_req *req = ud;
    req->x = NULL;
    if (req->busy || req->finished)
        return; /* the code running now settles the request */
    if (req->active && gw_attempt_in_callback(req)) {
        req->refs++;
        if (gd_loop_post(req->loop, deferred_abort, req) != 0)
            req->refs--; /* the write callback aborts on the next byte, timeouts bound it */
        return;
    }
    abort_now(req);
}

static void on_gov_verdict(struct gd_gov_ticket *t, int rc, const struct gd_gov_refusal *r,
                           void *ud);

static struct gw_req *req_new(struct gd_http_exchange *x, const struct gw_route *route)
{
    /* the governance ticket, when there is governance, in the same block */
    size_t gov = route->rt->gov ? sizeof(struct gd_gov_ticket) : 0;
    struct gw_req *req = gd_calloc(1, sizeof *req + gov);
    if (!req)
        return NULL;
    req->gov = gov ? (struct gd_gov_ticket *)(req + 1) : NULL;
    req->rt = route->rt;
    req->kind = route->kind;
    req->inbound_anthropic = route->inbound_anthropic;
    req->inbound_responses = route->inbound_responses;
    req->x = x;
    req->alias_name = "";
    req->ctype = "";
    const struct gd_http_request *hr = gd_http_exchange_request(x);
    req->cbody = hr->body ? hr->body : "";
    req->cbody_len = hr->body_len;
    gd_buf_init(&req->inbody, GD_GW_JSON_MAX_BYTES);
    gd_buf_init(&req->in_out, 8 * GW_MAX_SSE_EVENT);
    req->loop = gd_http_exchange_loop(x);
    req->refs = 1;
    gd_buf_init(&req->body, GD_GW_JSON_MAX_BYTES + 4096);
    gd_buf_init(&req->resp, GW_MAX_RESPONSE_BYTES);
    gd_buf_init(&req->hdr_text, 64u << 10);
    gd_buf_init(&req->relay_hdrs, GW_MAX_RELAY_HEADER_BYTES);
    gd_buf_init(&req->xl_out, 4 * GW_MAX_SSE_EVENT);
    gd_buf_init(&req->cache_sse, GW_MAX_RESPONSE_BYTES);
    gd_buf_init(&req->pii_sse_out, 2 * GW_MAX_RESPONSE_BYTES); /* restored values are longer */
    gd_gw_sse_init(&req->sse, GW_MAX_SSE_EVENT);
    if (req->gov) {
        gd_gov_ticket_init(req->gov, route->rt->gov);
        gd_gov_ticket_async(req->gov, req->loop, on_gov_verdict, req);
    }
    gw_attempt_init(req);
    return req;
}

/* Validates the body and resolves the alias; answers the error itself and returns -1. */
static int resolve(struct gw_req *req)
{
    char msg[GW_MAX_ALIAS_NAME + 128];
    int rc = gd_gw_scan_request(req->cbody, req->cbody_len, &req->f);
    if (rc == GD_ELIMIT) {
        respond_error(req, 413, "request body too large or too deeply structured", NULL, NULL);
        return -1;
    }
    if (rc != 0) {
        respond_error(req, 400,
                      "We could not parse the JSON body of your request: expected "
                      "one JSON object (duplicate \"model\" keys are refused).",
                      NULL, "invalid_json");
        return -1;
    }
    if (!req->f.model_is_string || req->f.model.len == 0) {
        respond_error(req, 400, "you must provide a model parameter", "model", NULL);
        return -1;
    }
    char name[GW_MAX_ALIAS_NAME];
    if (gd_gw_json_unescape(req->cbody + req->f.model.off, (size_t)req->f.model.len, name,
                            sizeof name) < 0) {
        respond_error(req, 400, "invalid model parameter", "model", NULL);
        return -1;
    }
    int a = gd_gw_config_find_alias(req->rt->gc, name, strlen(name));
    if (a < 0 && !req->inbound_anthropic && !req->inbound_responses &&
        gd_http_can_pass(req->x)) { /* maybe a local model (the model server) */
        struct gd_http_exchange *x = req->x;
        gd_http_on_close(x, NULL, NULL);
        gd_http_exchange_set_user(x, NULL);
        req->x = NULL; /* the request settles as answered; the next handler owns x */
        gd_http_pass(x);
        return -1;
    }
    if (a < 0) {
        req->alias_own = gd_strdup(name); /* for the access log and metrics */
        if (req->alias_own)
            req->alias_name = req->alias_own;
        snprintf(msg, sizeof msg, MODEL_NOT_FOUND, name);
        respond_error(req, 404, msg, "model", "model_not_found");
        return -1;
    }
    const struct gd_gw_alias_cfg *ac = &req->rt->gc->aliases[a];
    req->alias_name = ac->alias;
    gd_gw_plan_init(&req->plan, ac->chain, ac->chain_len, req->rt->gc->alias_retries);
    return 0;
}

/* Governance refusal: OpenAI-format error with Retry-After (seconds, rounded up) and
 * retry-after-ms for rate limits; x-should-retry: false where waiting cannot help. */
static void gov_refuse(struct gw_req *req, const struct gd_gov_refusal *r)
{
    char v[32];
    if (r->status == 429 && r->retryable) {
        snprintf(v, sizeof v, "%llu", (unsigned long long)(r->retry_after_ms + 999) / 1000);
        gd_http_set_header(req->x, "Retry-After", v);
        snprintf(v, sizeof v, "%llu", (unsigned long long)r->retry_after_ms);
        gd_http_set_header(req->x, "retry-after-ms", v);
    } else if (r->status == 429) {
        gd_http_set_header(req->x, "x-should-retry", "false");
    }
    struct gd_buf b;
    gd_buf_init(&b, 65536);
    gd_http_log_field_str(req->x, "refusal", r->code ? r->code : r->type);
    log_fields(req, -1, -1);
    if (write_error(req, &b, r->status, r->message, r->type, NULL, r->code) != 0)
        gd_buf_reset(&b);
    respond(req, r->status, "application/json", b.data ? b.data : "", b.len, 0);
    gd_buf_free(&b);
}

/* Who is calling (before the body is looked at), then whether they may, once the alias is
 * known. 0 to go on, -1 when the request was answered, 1 while a shared limiter decides
 * (the request stays busy until on_gov_verdict). */
static int govern(struct gw_req *req, int identify)
{
    struct gd_gov_refusal r;
    const struct gd_http_request *hr = gd_http_exchange_request(req->x);
    int rc = identify ? gd_gov_authenticate(req->gov, hr, &r)
                      : gd_gov_admit(req->gov, req->plan.chain[0], req->cbody, req->cbody_len, &r);
    if (rc == 1)
        req->busy++;
    else if (rc != 0)
        gov_refuse(req, &r);
    return rc;
}

static int any_native(const struct gd_gw_config *gc)
{
    for (size_t i = 0; i < gc->n_providers; i++)
        if (gc->providers[i].responses_native)
            return 1;
    return 0;
}

/* POST /v1/messages, /v1/responses: the request in OpenAI chat form (cbody). A Responses
 * request that cannot be translated keeps its own body when some provider takes it natively
 * (in_err says why the others cannot). 0, or -1 (answered). */
static int inbound(struct gw_req *req)
{
    if (!req->inbound_anthropic && !req->inbound_responses)
        return 0;
    struct gd_xl_err *e = gw_xl_scratch();
    int rc = req->inbound_responses
                 ? gd_xl_in_resp_request(req->cbody, req->cbody_len, &req->inbody, e)
                 : gd_xl_in_anth_request(req->cbody, req->cbody_len, &req->inbody, e);
    if (rc == 0 && req->inbody.len == 0)
        rc = GD_ENOMEM;
    if (req->inbound_responses && (rc == 0 || rc == GD_EINVAL)) { /* for native deployments */
        req->orig = req->cbody;
        req->orig_len = req->cbody_len;
        req->orig_ok = gd_gw_scan_request(req->orig, req->orig_len, &req->f_orig) == 0 &&
                       req->f_orig.model_is_string;
    }
    if (rc == GD_EINVAL && req->orig_ok && any_native(req->rt->gc) && gw_req_cold(req)) {
        /* untranslatable, but maybe not needed: decided per attempt (gw_attempt.c) */
        gw_req_keep_refusal(req, e, 1);
        return 0;
    }
    if (rc == GD_EINVAL) {
        respond_error(req, 400, e->message, e->param[0] ? e->param : NULL, NULL);
        return -1;
    }
    if (rc != 0) {
        respond_error(req, rc == GD_ELIMIT ? 413 : 500,
                      rc == GD_ELIMIT ? "request too large" : "out of memory", NULL, NULL);
        return -1;
    }
    req->cbody = req->inbody.data;
    req->cbody_len = req->inbody.len;
    return 0;
}

/* The inbound stream state, once the (translated) body is known to ask for a stream. */
static int inbound_stream(struct gw_req *req)
{
    if ((!req->inbound_anthropic && !req->inbound_responses) || !req->f.stream)
        return 0;
    if (req->inbound_responses) {
        if (!(req->rins = gd_malloc(sizeof *req->rins))) {
            respond_error(req, 500, "out of memory", NULL, NULL);
            return -1;
        }
        gd_xl_in_resp_sse_init(req->rins, (int64_t)time(NULL));
        return 0;
    }
    if (!(req->ins = gd_malloc(sizeof *req->ins))) {
        respond_error(req, 500, "out of memory", NULL, NULL);
        return -1;
    }
    gd_xl_in_anth_sse_init(req->ins);
    return 0;
}

/* Admitted: answered from the response cache (no upstream, nothing spent), or the first
 * attempt. */
static void proceed(struct gw_req *req)
{
    struct gd_buf b;
    char ctype[64], msg[256];
    const char *code;
    int st = gw_pii_request(req, msg, sizeof msg, &code);
    if (st) {
        respond_error(req, st, msg, NULL, code);
        return;
    }
    gd_buf_init(&b, GW_MAX_RESPONSE_BYTES);
    if (gw_cache_lookup(req, &b, ctype, sizeof ctype) == 1) {
        gd_gov_settle(req->gov, NULL, 0, 0, 0, 0);
        log_fields(req, -1, -1);
        const char *body = b.data ? b.data : "";
        size_t len = b.len;
        if (!strstr(ctype, "event-stream")) { /* the cache keeps answers with placeholders */
            gw_pii_restore_json(req, &b);
            body = b.data ? b.data : "", len = b.len;
        } else if (gw_pii_sse_active(req) &&
                   gw_pii_restore_sse(req, body, len, &req->pii_sse_out) == 0) {
            body = req->pii_sse_out.data ? req->pii_sse_out.data : "";
            len = req->pii_sse_out.len;
        }
        respond(req, 200, ctype, body, len, 0);
    } else {
        next_attempt(req);
    }
    gd_buf_free(&b);
}

/* Identified: the body, the alias, then admission. */
static void after_identity(struct gw_req *req)
{
    if (inbound(req) == 0 && resolve(req) == 0 && inbound_stream(req) == 0 && govern(req, 0) == 0)
        proceed(req);
}

static void on_gov_verdict(struct gd_gov_ticket *t, int rc, const struct gd_gov_refusal *r,
                           void *ud)
{
    struct gw_req *req = ud;
    req->busy--;
    if (req->x && rc == 0 && t->phase == GD_GOV_PHASE_IDENTIFY) { /* a key found in Redis */
        req->busy++;
        after_identity(req);
        req->busy--;
    } else if (req->x && rc == 0)
        proceed(req);
    else if (req->x)
        gov_refuse(req, r);
    req_settle(req); /* a client gone meanwhile: settle releases what was reserved */
}

static void on_post(struct gd_http_exchange *x, void *ud)
{
    uint64_t t0 = gd_mono_ns();
    struct gw_req *req = req_new(x, ud);
    if (!req) {
        gd_http_respond_json_error(x, 500, "api_error", NULL, "out of memory");
        return;
    }
    req->busy++;
    gw_overhead_start(req, t0);
    gd_http_exchange_set_user(x, req);
    gd_http_on_close(x, on_close, req);
    if (govern(req, 1) == 0)
        after_identity(req);
    gw_overhead_stop(req, gd_mono_ns());
    req->busy--;
    req_settle(req);
}

/* GET /v1/models and /v1/models/{alias} under governance: the caller must authenticate
 * (a key kept in Redis may take a lookup: the answer then waits without blocking the
 * loop), and sees only the aliases its key may use. */
typedef void (*models_answer_fn)(struct gd_http_exchange *x, const struct gw_route *route,
                                 const struct gd_gov_ticket *t);

struct models_wait {
    struct gd_gov_ticket t;
    struct gd_http_exchange *x; /* NULL once the client is gone */
    const struct gw_route *route;
    models_answer_fn answer;
};

static void models_refuse(struct gd_http_exchange *x, const struct gd_gov_refusal *r)
{
    struct gd_buf b;
    gd_buf_init(&b, 4096);
    if (gd_gw_error_write(&b, r->status, r->message, r->type, NULL, r->code) == 0)
        gd_http_respond(x, r->status, "application/json", b.data, b.len);
    else
        gd_http_respond_json_error(x, 500, "api_error", NULL, "out of memory");
    gd_buf_free(&b);
}

static void models_closed(struct gd_http_exchange *x, void *ud)
{
    (void)x;
    struct models_wait *w = ud;
    w->x = NULL;
}

static void models_done(struct models_wait *w, int rc, const struct gd_gov_refusal *r)
{
    if (w->x && rc == 0)
        w->answer(w->x, w->route, &w->t);
    else if (w->x)
        models_refuse(w->x, r);
    gd_gov_ticket_release(&w->t);
    gd_free(w);
}

static void models_verdict(struct gd_gov_ticket *t, int rc, const struct gd_gov_refusal *r,
                           void *ud)
{
    (void)t;
    struct models_wait *w = ud;
    if (w->x)
        gd_http_on_close(w->x, NULL, NULL);
    models_done(w, rc, r);
}

static void models_gate(struct gd_http_exchange *x, const struct gw_route *route,
                        models_answer_fn answer)
{
    struct models_wait *w = gd_calloc(1, sizeof *w);
    if (!w) {
        gd_http_respond_json_error(x, 500, "api_error", NULL, "out of memory");
        return;
    }
    w->x = x;
    w->route = route;
    w->answer = answer;
    gd_gov_ticket_init(&w->t, route->rt->gov);
    gd_gov_ticket_async(&w->t, gd_http_exchange_loop(x), models_verdict, w);
    struct gd_gov_refusal r;
    int rc = gd_gov_authenticate(&w->t, gd_http_exchange_request(x), &r);
    if (rc == 1)
        gd_http_on_close(x, models_closed, w);
    else
        models_done(w, rc, &r);
}

static void models_list(struct gd_http_exchange *x, const struct gw_route *route,
                        const struct gd_gov_ticket *t)
{
    const struct gd_buf *b = &route->rt->models_json;
    struct gd_buf f;
    gd_buf_init(&f, b->len + 64);
    int rc = gd_gov_models_json(t, &f); /* 1: only the aliases this key may use */
    if (rc == 0)
        gd_http_respond(x, 200, "application/json", b->data, b->len);
    else if (rc == 1)
        gd_http_respond(x, 200, "application/json", f.data, f.len);
    else
        gd_http_respond_json_error(x, 500, "api_error", NULL, "out of memory");
    gd_buf_free(&f);
}

static void on_models(struct gd_http_exchange *x, void *ud)
{
    models_gate(x, ud, models_list);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes src into dst (NUL-terminated); a '%' not followed by two hex digits stays
 * as it is. Returns the length, or -1 when it does not fit or decodes to a NUL. */
static int percent_decode(const char *src, size_t n, char *dst, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int hi = i + 2 < n && src[i] == '%' ? hex_digit(src[i + 1]) : -1;
        int lo = hi >= 0 ? hex_digit(src[i + 2]) : -1;
        char c = lo >= 0 ? (char)(hi << 4 | lo) : src[i];
        if (lo >= 0)
            i += 2;
        if (c == '\0' || k + 1 >= cap)
            return -1;
        dst[k++] = c;
    }
    dst[k] = '\0';
    return (int)k;
}

/* GET /v1/models/{alias} (the SDKs' models.retrieve): the alias as an OpenAI model object,
 * or 404 model_not_found. */
static void model_one(struct gd_http_exchange *x, const struct gw_route *route,
                      const struct gd_gov_ticket *t)
{
    static const char prefix[] = "/v1/models/";
    const struct gd_http_request *hr = gd_http_exchange_request(x);
    char name[GW_MAX_ALIAS_NAME], msg[GW_MAX_ALIAS_NAME + 96];
    int n = percent_decode(hr->path.p + sizeof prefix - 1, hr->path.n - (sizeof prefix - 1), name,
                           sizeof name);
    struct gd_buf b;
    gd_buf_init(&b, 4096);
    int rc, a = n > 0 ? gd_gw_config_find_alias(route->rt->gc, name, (size_t)n) : -1;
    if ((a >= 0 && gd_gov_alias_visible(t, (uint32_t)a)) ||
        (a < 0 && n > 0 && gd_gov_sees_all(t) && gw_local_model_listed(route->rt, name))) {
        rc = gw_model_object(route->rt->gc, a, name, &b);
        if (rc == 0)
            gd_http_respond(x, 200, "application/json", b.data, b.len);
    } else {
        snprintf(msg, sizeof msg, MODEL_NOT_FOUND, n > 0 ? name : "");
        rc = gd_gw_error_write(&b, 404, msg, NULL, "model", "model_not_found");
        if (rc == 0)
            gd_http_respond(x, 404, "application/json", b.data, b.len);
    }
    if (rc != 0)
        gd_http_respond_json_error(x, 500, "api_error", NULL, "out of memory");
    gd_buf_free(&b);
}

static void on_model(struct gd_http_exchange *x, void *ud)
{
    models_gate(x, ud, model_one);
}

#define GW_RUNTIME_SERVICE "gateway.runtime"

struct gw_routes {
    struct gw_runtime *rt;
    struct gw_route route[GW_KIND_N];
    struct gw_route messages;  /* POST /v1/messages (Anthropic-compatible) */
    struct gw_route responses; /* POST /v1/responses (OpenAI Responses API) */
};

static void routes_free(void *p)
{
    struct gw_routes *r = p;
    gw_runtime_free(r->rt);
    gd_free(r);
}

int gd_gw_routes_register(struct gd_http_router *router, const struct gd_config *cfg)
{
    static const char *const paths[GW_KIND_N] = {"/v1/chat/completions", "/v1/completions",
                                                 "/v1/embeddings"};
    if (!gd_gw_config_get(cfg))
        return 0;
    if (gw_curl_global_init() != 0)
        return GD_EIO;
    struct gw_routes *r = gd_calloc(1, sizeof *r);
    if (!r)
        return GD_ENOMEM;
    int rc = gw_runtime_new(cfg, &r->rt);
    if (rc != 0) {
        gd_free(r);
        return rc;
    }
    if ((rc = gd_http_router_add_cleanup(router, routes_free, r)) != 0) {
        routes_free(r);
        return rc;
    }
    rc = gd_http_router_provide(router, GW_RUNTIME_SERVICE, r->rt);
    for (int k = 0; rc == 0 && k < GW_KIND_N; k++) {
        r->route[k].rt = r->rt;
        r->route[k].kind = (enum gw_kind)k;
        rc = gd_http_router_add(router, "POST", paths[k], GD_HTTP_MATCH_EXACT, on_post,
                                &r->route[k]);
    }
    r->messages.rt = r->rt;
    r->messages.kind = GW_KIND_CHAT;
    r->messages.inbound_anthropic = 1;
    if (rc == 0)
        rc = gd_http_router_add(router, "POST", "/v1/messages", GD_HTTP_MATCH_EXACT, on_post,
                                &r->messages);
    r->responses.rt = r->rt;
    r->responses.kind = GW_KIND_CHAT;
    r->responses.inbound_responses = 1;
    if (rc == 0)
        rc = gd_http_router_add(router, "POST", "/v1/responses", GD_HTTP_MATCH_EXACT, on_post,
                                &r->responses);
    if (rc == 0)
        rc = gd_http_router_add(router, "GET", "/v1/models", GD_HTTP_MATCH_EXACT, on_models,
                                &r->route[0]);
    if (rc == 0)
        rc = gd_http_router_add(router, "GET", "/v1/models/", GD_HTTP_MATCH_PREFIX, on_model,
                                &r->route[0]);
    if (rc == 0 && gd_gov_has_admin(r->rt->gov))
        rc = gd_http_router_add(router, "GET", "/admin/governance", GD_HTTP_MATCH_EXACT,
                                gd_gov_admin_handler, r->rt->gov);
    return rc;
}

int gd_gw_routes_link(struct gd_http_router *router, const struct gd_config *cfg)
{
    (void)cfg;
    struct gw_runtime *rt = gd_http_router_service(router, GW_RUNTIME_SERVICE);
    return rt ? gw_local_link(rt, router) : 0;
}
