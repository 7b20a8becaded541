/* libFuzzer driver for the Gemini translators (xl_gemini.h), which read untrusted bytes from
 * the upstream (responses, error bodies, SSE streams) and from clients (requests). The first
 * input byte picks the translator; the rest is its input:
 *   'r' GenerateContentResponse -> chat.completion   'e' error body -> OpenAI error
 *   'q' OpenAI request -> GenerateContentRequest
 *   'p' OpenAI embeddings request -> batchEmbedContents request
 *   'm' / 'b' batchEmbedContents answer -> OpenAI embeddings (float / base64)
 *   else a streamGenerateContent SSE stream, framed by the gateway's framer in two reads
 *   (split at a byte taken from the input) and translated event by event
 * Properties: no crash or leak (sanitizers); whatever is produced is valid JSON; each
 * translated SSE event is "data: <JSON object>" or "data: [DONE]" (after an "event: error"
 * line for errors), nothing follows [DONE], and a failed event appends nothing; the stream
 * translator gives exactly what its general path alone gives (output, result, state), and so
 * does its fast path whenever it takes an event. */
#include "gateway/sse.h"
#include "gateway/xl_gemini.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void must_be_json(const char *p, size_t n)
{
    cJSON *j = cJSON_ParseWithLength(p, n);
    if (!cJSON_IsObject(j))
        abort();
    cJSON_Delete(j);
}

static void check_events(const char *b, size_t n, int *done)
{
    const char *end = b + n;
    while (b < end) {
        const char *sep = memmem(b, (size_t)(end - b), "\n\n", 2);
        if (!sep || *done)
            abort();
        if ((size_t)(sep - b) > 13 && memcmp(b, "event: error\n", 13) == 0)
            b += 13;
        if ((size_t)(sep - b) < 6 || memcmp(b, "data: ", 6) != 0)
            abort();
        b += 6;
        if (sep - b == 6 && memcmp(b, "[DONE]", 6) == 0)
            *done = 1;
        else
            must_be_json(b, (size_t)(sep - b));
        b = sep + 2;
    }
}

struct sse_ctx {
    struct gd_xl_gem_sse st, ref;
    struct gd_buf out, ref_out;
    int done;
};

static int same_state(const struct gd_xl_gem_sse *a, const struct gd_xl_gem_sse *b)
{
    return a->started == b->started && a->finished == b->finished && a->n_tools == b->n_tools &&
           a->prompt == b->prompt && a->completion == b->completion && a->total == b->total &&
           a->cached == b->cached && a->ck.head_len == b->ck.head_len;
}

/* The fast path on a copy of the state before the event: when it takes the event, the same
 * result, output and state as the general path's (rc, out, *after). */
static void fast_agrees(const struct gd_xl_gem_sse *before, const char *data, size_t dlen, int rc,
                        const struct gd_buf *out, const struct gd_xl_gem_sse *after)
{
    struct gd_xl_gem_sse *f = malloc(sizeof *f);
    struct gd_buf fb;
    int frc;
    if (!f)
        return;
    *f = *before;
    gd_buf_init(&fb, out->max);
    if (gd_xl_gem_sse_fast(f, data, dlen, &fb, &frc)) {
        if (frc != rc || fb.len != out->len || (fb.len && memcmp(fb.data, out->data, fb.len)) ||
            !same_state(f, after))
            abort();
    } else if (fb.len != 0 || !same_state(f, before)) {
        abort();
    }
    gd_buf_free(&fb);
    free(f);
}

/* st goes through gd_xl_gem_sse_event (the fast path with its memo of earlier events, else
 * the general path), ref through the general path alone: they must agree on every event, and
 * so must the fast path alone when it takes the event. */
static int on_event(void *ud, const char *raw, size_t n, const char *data, size_t dlen)
{
    (void)raw;
    (void)n;
    struct sse_ctx *c = ud;
    gd_buf_reset(&c->out);
    gd_buf_reset(&c->ref_out);
    int ref_rc = gd_xl_gem_sse_event_full(&c->ref, data, dlen, &c->ref_out);
    fast_agrees(&c->st, data, dlen, ref_rc, &c->ref_out, &c->ref);
    int rc = gd_xl_gem_sse_event(&c->st, data, dlen, &c->out);
    if (rc != ref_rc || c->out.len != c->ref_out.len ||
        (c->out.len && memcmp(c->out.data, c->ref_out.data, c->out.len)) ||
        !same_state(&c->st, &c->ref))
        abort();
    if (rc == 0)
        check_events(c->out.data ? c->out.data : "", c->out.len, &c->done);
    else if (c->out.len != 0)
        abort();
    return rc;
}

static void stream(uint8_t mode, const char *in, size_t n)
{
    struct sse_ctx *c = malloc(sizeof *c);
    struct gd_gw_sse fr;
    if (!c)
        return;
    gd_xl_gem_sse_init(&c->st, mode & 1, 1);
    gd_xl_gem_sse_init(&c->ref, mode & 1, 1);
    gd_buf_init(&c->out, 1u << 24);
    gd_buf_init(&c->ref_out, 1u << 24);
    c->done = 0;
    gd_gw_sse_init(&fr, 1u << 20);
    size_t cut = n ? mode % (n + 1) : 0;
    if (gd_gw_sse_feed(&fr, in, cut, on_event, c) == 0)
        gd_gw_sse_feed(&fr, in + cut, n - cut, on_event, c);
    if (c->done != c->st.finished)
        abort();
    struct gd_gw_usage u;
    if (gd_xl_gem_sse_usage(&c->st, &u) && (u.prompt_tokens < 0 || u.total_tokens < 0))
        abort();
    gd_gw_sse_free(&fr);
    gd_buf_free(&c->out);
    gd_buf_free(&c->ref_out);
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    struct gd_buf out;
    gd_buf_init(&out, 1u << 24);
    if (data[0] == 'r') {
        struct gd_gw_usage u;
        if (gd_xl_gem_response(in, n, 1, &out, &u) == 0) {
            must_be_json(out.data, out.len);
            if (u.prompt_tokens < 0 || u.completion_tokens < 0 ||
                u.total_tokens < u.prompt_tokens + u.completion_tokens)
                abort();
        } else if (out.len != 0) {
            abort();
        }
    } else if (data[0] == 'e') {
        if (gd_xl_gem_error(503, in, n, &out) == 0)
            must_be_json(out.data, out.len);
    } else if (data[0] == 'p') {
        struct gd_xl_err err;
        int rc = gd_xl_gem_embed_request(in, n, "m", &out, &err);
        if (rc == 0)
            must_be_json(out.data, out.len);
        else if (rc == GD_EINVAL && (err.status != 400 || !err.message[0]))
            abort();
    } else if (data[0] == 'm' || data[0] == 'b') {
        static const char fl[] = "{\"input\":\"x\"}";
        static const char b64[] = "{\"input\":\"x\",\"encoding_format\":\"base64\"}";
        const char *c = data[0] == 'm' ? fl : b64;
        struct gd_gw_usage u;
        if (gd_xl_gem_embed_response(c, strlen(c), in, n, "m", &out, &u) == 0)
            must_be_json(out.data, out.len);
        else if (out.len != 0)
            abort();
    } else if (data[0] == 'q') {
        struct gd_xl_err err;
        int rc = gd_xl_gem_request(in, n, "m", &out, &err);
        if (rc == 0)
            must_be_json(out.data, out.len);
        else if (rc == GD_EINVAL && (err.status != 400 || !err.message[0]))
            abort(); /* a refusal always says why */
    } else {
        stream(data[0], in, n);
    }
    gd_buf_free(&out);
    return 0;
}
