/* libFuzzer driver for the Anthropic translators (xl_anthropic.h), which read untrusted
 * bytes from the upstream (responses, error bodies, SSE streams) and from clients
 * (requests). The first input byte picks the translator; the rest is its input:
 *   'r' Messages response -> chat.completion      'e' error body -> OpenAI error
 *   'q' OpenAI request -> Messages request
 *   inbound /v1/messages: 'Q' Messages request -> OpenAI request, 'R' chat.completion ->
 *   Messages response, 'E' OpenAI error -> Anthropic error, 'S' OpenAI SSE stream ->
 *   Anthropic events (every event "event: T\ndata: <JSON object of type T>")
 *   else an Anthropic SSE stream, framed by the gateway's framer and translated event by
 *   event
 * Properties: no crash or leak (sanitizers); whatever is produced is valid JSON — each
 * translated SSE event is "data: <JSON object>" or "data: [DONE]" (after an "event: error"
 * line for errors) — and [DONE] comes last. Violations abort. */
#include "gateway/sse.h"
#include "gateway/xl_anthropic.h"
#include "gateway/xl_anthropic_in.h"
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

/* Checks the OpenAI SSE text b[0..n): events separated by a blank line. */
static void check_events(const char *b, size_t n, int *done)
{
    const char *end = b + n;
    while (b < end) {
        const char *sep = memmem(b, (size_t)(end - b), "\n\n", 2);
        if (!sep || *done)
            abort(); /* every event complete; nothing after [DONE] */
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

/* Checks Anthropic SSE text: "event: NAME\ndata: JSON\n\n" with the JSON's type = NAME. */
static void check_anth_events(const char *b, size_t n)
{
    const char *end = b + n;
    while (b < end) {
        const char *sep = memmem(b, (size_t)(end - b), "\n\n", 2);
        const char *nl = sep ? memchr(b, '\n', (size_t)(sep - b)) : NULL;
        if (!nl || (size_t)(nl - b) < 8 || memcmp(b, "event: ", 7) != 0 || (size_t)(sep - nl) < 7 ||
            memcmp(nl + 1, "data: ", 6) != 0)
            abort();
        cJSON *j = cJSON_ParseWithLength(nl + 7, (size_t)(sep - nl - 7));
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
        if (!cJSON_IsString(t) || strlen(t->valuestring) != (size_t)(nl - b - 7) ||
            memcmp(t->valuestring, b + 7, (size_t)(nl - b - 7)) != 0)
            abort();
        cJSON_Delete(j);
        b = sep + 2;
    }
}

struct in_ctx {
    struct gd_xl_in_anth_sse st;
    struct gd_buf out;
};

static int on_in_event(void *ud, const char *raw, size_t n, const char *data, size_t dlen)
{
    (void)raw;
    (void)n;
    struct in_ctx *c = ud;
    gd_buf_reset(&c->out);
    int rc = gd_xl_in_anth_sse_event(&c->st, data, dlen, &c->out);
    if (rc == 0)
        check_anth_events(c->out.data ? c->out.data : "", c->out.len);
    else if (c->out.len != 0)
        abort();
    return rc;
}

static void inbound(uint8_t mode, const char *in, size_t n, struct gd_buf *out)
{
    if (mode == 'Q') {
        struct gd_xl_err err;
        int rc = gd_xl_in_anth_request(in, n, out, &err);
        if (rc == 0)
            must_be_json(out->data, out->len);
        else if (rc == GD_EINVAL && (err.status != 400 || !err.message[0]))
            abort();
    } else if (mode == 'R') {
        if (gd_xl_in_anth_response(in, n, out) == 0)
            must_be_json(out->data, out->len);
        else if (out->len != 0)
            abort();
    } else if (mode == 'E') {
        if (gd_xl_in_anth_error(502, in, n, out) == 0)
            must_be_json(out->data, out->len);
    } else {
        struct in_ctx *c = malloc(sizeof *c);
        struct gd_gw_sse fr;
        if (!c)
            return;
        gd_xl_in_anth_sse_init(&c->st);
        gd_buf_init(&c->out, 1u << 24);
        gd_gw_sse_init(&fr, 1u << 20);
        if (gd_gw_sse_feed(&fr, in, n, on_in_event, c) == 0 && !c->st.finished) {
            gd_buf_reset(&c->out);
            if (gd_xl_in_anth_sse_error(&c->st, "cut", &c->out) == 0)
                check_anth_events(c->out.data, c->out.len);
        }
        gd_gw_sse_free(&fr);
        gd_buf_free(&c->out);
        free(c);
    }
}

struct sse_ctx {
    struct gd_xl_anth_sse st;
    struct gd_buf out;
    int done;
};

static int on_event(void *ud, const char *raw, size_t n, const char *data, size_t dlen)
{
    (void)raw;
    (void)n;
    struct sse_ctx *c = ud;
    gd_buf_reset(&c->out);
    int rc = gd_xl_anth_sse_event(&c->st, data, dlen, &c->out);
    if (rc == 0)
        check_events(c->out.data ? c->out.data : "", c->out.len, &c->done);
    else if (c->out.len != 0)
        abort(); /* a failed event appends nothing */
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    struct gd_buf out;
    gd_buf_init(&out, 1u << 24);
    if (data[0] == 'Q' || data[0] == 'R' || data[0] == 'E' || data[0] == 'S') {
        inbound(data[0], in, n, &out);
    } else if (data[0] == 'r') {
        struct gd_gw_usage u;
        if (gd_xl_anth_response(in, n, 1, &out, &u) == 0) {
            must_be_json(out.data, out.len);
            if (u.prompt_tokens < 0 || u.completion_tokens < 0)
                abort();
        } else if (out.len != 0) {
            abort();
        }
    } else if (data[0] == 'e') {
        if (gd_xl_anth_error(500, in, n, &out) == 0)
            must_be_json(out.data, out.len);
    } else if (data[0] == 'q') {
        struct gd_xl_err err;
        int rc = gd_xl_anth_request(in, n, "m", &out, &err);
        if (rc == 0)
            must_be_json(out.data, out.len);
        else if (rc == GD_EINVAL && (err.status != 400 || !err.message[0]))
            abort(); /* a refusal always says why */
    } else {
        struct sse_ctx *c = malloc(sizeof *c);
        struct gd_gw_sse fr;
        if (!c)
            return 0;
        gd_xl_anth_sse_init(&c->st, data[0] & 1, 1);
        gd_buf_init(&c->out, 1u << 24);
        c->done = 0;
        gd_gw_sse_init(&fr, 1u << 20);
        /* two reads, split at a byte taken from the input */
        size_t cut = n ? data[0] % (n + 1) : 0;
        if (gd_gw_sse_feed(&fr, in, cut, on_event, c) == 0)
            gd_gw_sse_feed(&fr, in + cut, n - cut, on_event, c);
        if (c->done != c->st.finished)
            abort();
        gd_gw_sse_free(&fr);
        gd_buf_free(&c->out);
        free(c);
    }
    gd_buf_free(&out);
    return 0;
}
